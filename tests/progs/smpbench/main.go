// Command smpbench is the workload of tools/smpbench, run natively and in
// mote with the same arguments; it prints one figure.
//
//	smpbench hash N      N goroutines each hash their own 64 MiB buffer
//	                     (SHA-256, 4 passes); prints the wall time in ms
//	smpbench pingpong N  two goroutines, each locked to its own OS thread,
//	                     pass a token back and forth N times: every pass
//	                     wakes the other thread (a futex wait/wake); prints
//	                     ns per round trip
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: smpbench hash|pingpong N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "bad N")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "hash":
		bufs := make([][]byte, n)
		for i := range bufs {
			bufs[i] = make([]byte, 64<<20)
			for j := 0; j < len(bufs[i]); j += 4096 {
				bufs[i][j] = byte(i + j)
			}
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range bufs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 4; k++ {
					sha256.Sum256(bufs[i])
				}
			}()
		}
		wg.Wait()
		fmt.Println(time.Since(t0).Milliseconds())
	case "pingpong":
		a, b := make(chan int), make(chan int)
		go func() {
			runtime.LockOSThread()
			for v := range a {
				b <- v
			}
		}()
		runtime.LockOSThread()
		for i := 0; i < 1000; i++ { // warm up
			a <- i
			<-b
		}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			a <- i
			<-b
		}
		fmt.Println(time.Since(t0).Nanoseconds() / int64(n))
	default:
		fmt.Fprintln(os.Stderr, "unknown mode")
		os.Exit(2)
	}
}
