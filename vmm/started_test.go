package vmm

import (
	"bytes"
	"testing"
)

// TestStarted: Config.Started is called once, before the guest's first
// output, and not at all when the guest cannot start (mote run -d relies
// on both to tell the user whether the instance started).
func TestStarted(t *testing.T) {
	needKVM(t)
	p := writeGuest(1, gBuf, 6).write(t, "started.img")
	var out bytes.Buffer
	calls, outAtStart := 0, -1
	status, err := Run(Config{ImagePath: p, MemoryBytes: 8 << 20, Stdout: &out, Started: func() {
		calls++
		outAtStart = out.Len()
	}})
	if err != nil || status != 7 || out.String() != "hello\n" {
		t.Fatalf("Run: %d, %v, stdout %q", status, err, out.String())
	}
	if calls != 1 || outAtStart != 0 {
		t.Errorf("Started called %d times, with %d bytes of output before it; want once, before any", calls, outAtStart)
	}
	calls = 0
	if _, err := Run(Config{ImagePath: p, MemoryBytes: 4 << 20, Started: func() { calls++ }}); err == nil || calls != 0 {
		t.Errorf("a guest that cannot start: err %v, Started called %d times", err, calls)
	}
}
