// Command lazybss checks the image's demand-zero ranges: a large zeroed
// global costs the program only the pages it touches, reads as zero, is
// charged when touched (getrusage's maxrss grows), and works as a system
// call's buffer before it was touched, for reads and writes.
//
// Usage: lazybss MiB — touch that many MiB of the 96 MiB array.
package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

var big [96 << 20]byte

func maxrss() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return ru.Maxrss // KiB
}

func main() {
	mib, err := strconv.Atoi(os.Args[1])
	if err != nil || mib < 0 || mib > 64 {
		fmt.Println("usage: lazybss MiB (at most 64)")
		os.Exit(2)
	}
	failed := false
	fail := func(format string, args ...any) {
		failed = true
		fmt.Printf("FAIL "+format+"\n", args...)
	}
	before := maxrss()
	for i := 0; i < mib<<20; i += 4096 {
		if big[i] != 0 || big[i+4095] != 0 {
			fail("page at %d not zero", i)
			break
		}
		big[i] = byte(i >> 12)
	}
	after := maxrss()
	fmt.Printf("touched %d MiB: maxrss %d -> %d KiB\n", mib, before, after)
	if grew := after - before; grew < int64(mib)<<10 {
		fail("maxrss grew %d KiB for %d MiB touched", grew, mib)
	}
	// A system call's buffers in pages not touched yet: the pipe's write
	// reads from the last MiB (zeros), its read writes into the one before.
	r, w, err := os.Pipe()
	if err != nil {
		panic(err)
	}
	src := big[95<<20 : 95<<20+100000]
	dst := big[94<<20 : 94<<20+100000]
	go func() {
		w.Write([]byte("lazy"))
		w.Write(src)
		w.Close()
	}()
	n := 0
	for n < len(dst) {
		k, err := r.Read(dst[n:])
		if err != nil {
			fail("read: %v", err)
			break
		}
		n += k
	}
	if !bytes.Equal(dst[:4], []byte("lazy")) || !bytes.Equal(dst[4:], make([]byte, len(dst)-4)) {
		fail("data read into untouched pages is wrong")
	}
	for i := 0; i < mib<<20; i += 4096 {
		if big[i] != byte(i>>12) {
			fail("page at %d lost its contents", i)
			break
		}
	}
	if failed {
		os.Exit(1)
	}
	fmt.Println("lazybss ok")
}
