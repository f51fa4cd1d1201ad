// Command cpuprof profiles itself with runtime/pprof while it hashes for
// a second, and writes the profile to stdout, hex encoded (the test reads
// it with go tool pprof). It also prints its CPU time from getrusage.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"time"
)

//go:noinline
func hashLoop(d time.Duration) int {
	b := make([]byte, 64<<10)
	n := 0
	for t0 := time.Now(); time.Since(t0) < d; n++ {
		sum := sha256.Sum256(b)
		b[0] = sum[0]
	}
	return n
}

func main() {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	hashLoop(time.Second)
	pprof.StopCPUProfile()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("cpu %d\n", time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Milliseconds())
	fmt.Println(hex.EncodeToString(buf.Bytes()))
}
