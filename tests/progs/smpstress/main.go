// Command smpstress runs many goroutines across all CPUs for a while and
// checks their results: channel ping-pong between goroutine pairs, a
// contended mutex guarding a counter and a map, timers created, reset and
// stopped in a loop, parallel CPU-bound hashing, and memory churn that makes
// the runtime return pages (madvise) while other CPUs run. It prints "ok"
// and a summary, or the first violated invariant, and exits 1 on failure.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	d := flag.Duration("d", 30*time.Second, "how long to run")
	pairs := flag.Int("pairs", 4250, "ping-pong goroutine pairs (with the others: over 10,000 goroutines)")
	flag.Parse()
	// Every goroutine starts, then waits for start: the run begins once
	// all exist (goroutines made while others already run would queue
	// behind thousands of runnable ones).
	start := make(chan struct{})
	var deadline time.Time
	fail := func(format string, args ...any) {
		fmt.Printf("FAIL "+format+"\n", args...)
		os.Exit(1)
	}
	var wg sync.WaitGroup

	// Ping-pong: each pair passes a counter back and forth; both sides
	// check it arrives incremented by exactly one.
	var rounds atomic.Int64
	for i := 0; i < *pairs; i++ {
		a, b := make(chan int), make(chan int)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			n := 0
			for time.Now().Before(deadline) {
				a <- n
				m := <-b
				if m != n+1 {
					fail("ping-pong: sent %d, got back %d", n, m)
				}
				n = m + 1
				if rounds.Add(1)%100 == 0 {
					runtime.Gosched() // let the other kinds of work in
				}
			}
			close(a)
		}()
		go func() {
			defer wg.Done()
			for n := range a {
				b <- n + 1
			}
		}()
	}

	// Mutex contention: 1000 goroutines increment a shared counter and a
	// map entry under one lock; the totals must match.
	var mu sync.Mutex
	counter := 0
	perKey := map[int]int{}
	var incs atomic.Int64
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for time.Now().Before(deadline) {
				mu.Lock()
				counter++
				perKey[i%16]++
				mu.Unlock()
				incs.Add(1)
				if incs.Load()%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}

	// Timer churn: timers created, reset and stopped; the ones that fire
	// must not fire early.
	var fired, early atomic.Int64
	for i := 0; i < 500; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for time.Now().Before(deadline) {
				d := time.Duration(1+i%5) * time.Millisecond
				t0 := time.Now()
				t := time.NewTimer(d)
				if i%3 == 0 {
					t.Reset(2 * d)
					d *= 2
				}
				if i%7 == 0 {
					t.Stop()
					continue
				}
				<-t.C
				if time.Since(t0) < d {
					early.Add(1)
				}
				fired.Add(1)
			}
		}()
	}

	// CPU-bound work, and garbage that makes the runtime scavenge.
	var hashes atomic.Int64
	for i := 0; i < runtime.NumCPU(); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			buf := make([]byte, 1<<20)
			buf[0] = byte(i)
			want := sha256.Sum256(buf)
			for time.Now().Before(deadline) {
				if sha256.Sum256(buf) != want {
					fail("sha256 of the same buffer changed")
				}
				hashes.Add(1)
				junk := make([]byte, 4<<20)
				junk[len(junk)-1] = 1
				if hashes.Load()%16 == 0 {
					debug.FreeOSMemory()
				}
			}
		}()
	}
	deadline = time.Now().Add(*d)
	close(start)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	if int64(counter) != incs.Load() {
		fail("mutex: counter %d, increments %d", counter, incs.Load())
	}
	sum := 0
	for _, v := range perKey {
		sum += v
	}
	if sum != counter {
		fail("mutex: map entries sum to %d, counter %d", sum, counter)
	}
	if early.Load() != 0 {
		fail("%d timers fired early", early.Load())
	}
	fmt.Printf("ok: %d CPUs, %d goroutines, %d ping-pong rounds, %d locked increments, %d timers fired, %d hashes\n",
		runtime.NumCPU(), 2**pairs+1000+500+runtime.NumCPU(), rounds.Load(), incs.Load(), fired.Load(), hashes.Load())
}
