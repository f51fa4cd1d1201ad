// Command sysbench measures the cost of a few system-call-shaped operations
// of the Go runtime and prints one "name value" line each, in nanoseconds
// per call (the median of several repetitions):
//
//	getpid_ns          syscall.Getpid: a raw system call (no entersyscall)
//	gettid_ns          syscall.Gettid: a raw system call
//	syscall_getpid_ns  syscall.Syscall(SYS_GETPID): the full entersyscall/exitsyscall path
//	time_now_ns        time.Now(): wall and monotonic clocks (vDSO on Linux)
//	clock_mono_ns      time.Since(start): the monotonic clock (nanotime) only
//
// It is an ordinary Go program: run it natively (go run) or in mote
// (mote run) and compare. tools/bench does both.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"syscall"
	"time"
)

var sink int64

func main() {
	n := flag.Int("n", 2_000_000, "iterations per repetition")
	reps := flag.Int("reps", 5, "repetitions (the median is printed)")
	flag.Parse()
	if *n <= 0 || *reps <= 0 {
		fmt.Fprintln(os.Stderr, "sysbench: -n and -reps must be positive")
		os.Exit(2)
	}
	start := time.Now()
	benches := []struct {
		name string
		f    func(n int)
	}{
		{"getpid_ns", func(n int) {
			s := 0
			for i := 0; i < n; i++ {
				s += syscall.Getpid()
			}
			sink += int64(s)
		}},
		{"gettid_ns", func(n int) {
			s := 0
			for i := 0; i < n; i++ {
				s += syscall.Gettid()
			}
			sink += int64(s)
		}},
		{"syscall_getpid_ns", func(n int) {
			var s uintptr
			for i := 0; i < n; i++ {
				r, _, _ := syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
				s += r
			}
			sink += int64(s)
		}},
		{"time_now_ns", func(n int) {
			var s int64
			for i := 0; i < n; i++ {
				s += time.Now().UnixNano()
			}
			sink += s
		}},
		{"clock_mono_ns", func(n int) {
			var s time.Duration
			for i := 0; i < n; i++ {
				s += time.Since(start)
			}
			sink += int64(s)
		}},
	}
	for _, b := range benches {
		b.f(*n / 10) // warm up
		per := make([]float64, *reps)
		for r := range per {
			t0 := time.Now()
			b.f(*n)
			per[r] = float64(time.Since(t0).Nanoseconds()) / float64(*n)
		}
		sort.Float64s(per)
		fmt.Printf("%s %.2f\n", b.name, per[len(per)/2])
	}
	if sink == 42 {
		fmt.Println() // keep sink alive
	}
}
