package vmm

import (
	"io"
	"testing"
	"time"
)

// consoleIn never blocks: -EAGAIN until input arrives, then the bytes, then 0.
func TestConsoleIn(t *testing.T) {
	pr, pw := io.Pipe()
	woken := make(chan bool, 8)
	in := newConsoleIn(pr, func() { woken <- true })
	buf := make([]byte, 4)
	if n := in.read(buf); n != -eAGAIN {
		t.Fatalf("empty: %d, want -EAGAIN", n)
	}
	go pw.Write([]byte("hello"))
	select {
	case <-woken:
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up after input")
	}
	if n := in.read(buf); n != 4 || string(buf) != "hell" {
		t.Fatalf("read %d %q", n, buf)
	}
	if n := in.read(buf); n != 1 || buf[0] != 'o' {
		t.Fatalf("read %d %q", n, buf[:1])
	}
	pw.Close()
	<-woken
	if n := in.read(buf); n != 0 {
		t.Fatalf("at end of input: %d", n)
	}
	if n := newConsoleIn(nil, func() {}).read(buf); n != 0 {
		t.Fatalf("no stdin: %d", n)
	}
}
