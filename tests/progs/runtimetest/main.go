// Command runtimetest exercises the Go runtime inside a mote unikernel. Each
// check prints "ok NAME" or "FAIL NAME: reason"; the exit status is 1 if any
// check failed. Modes (first argument): all, panic, rand, numcpu, spin.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

var failed bool

func check(name string, f func() error) {
	if err := f(); err != nil {
		failed = true
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	fmt.Printf("ok %s\n", name)
}

func main() {
	mode := "all"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	switch mode {
	case "panic":
		var m map[string]int
		_ = m
		panic("deliberate unrecovered panic")
	case "rand":
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			fmt.Println("FAIL rand:", err)
			os.Exit(1)
		}
		fmt.Println(hex.EncodeToString(b))
		return
	case "sysinfo":
		// What the program learns about its machine: its memory, and
		// whether its standard streams are terminals.
		var si syscall.Sysinfo_t
		if err := syscall.Sysinfo(&si); err != nil {
			fmt.Println("FAIL sysinfo:", err)
			os.Exit(1)
		}
		meminfo, err := os.ReadFile("/proc/meminfo")
		if err != nil {
			fmt.Println("FAIL /proc/meminfo:", err)
			os.Exit(1)
		}
		total := ""
		for _, l := range strings.Split(string(meminfo), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				total = strings.Join(strings.Fields(l)[1:], " ")
			}
		}
		fmt.Printf("sysinfo total %d MiB, free>0 %v, unit %d; meminfo total %s\n", si.Totalram*uint64(si.Unit)>>20, si.Freeram > 0, si.Unit, total)
		for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
			fi, err := f.Stat()
			if err != nil {
				fmt.Println("FAIL stat:", err)
				os.Exit(1)
			}
			fmt.Printf("%s chardev %v fifo %v\n", f.Name(), fi.Mode()&os.ModeCharDevice != 0, fi.Mode()&os.ModeNamedPipe != 0)
		}
		// The process's /proc files, as monitoring libraries read them.
		self, _ := os.Readlink("/proc/self")
		stat, _ := os.ReadFile("/proc/self/stat")
		f := strings.Fields(string(stat))
		cmdline, _ := os.ReadFile("/proc/self/cmdline")
		limits, _ := os.ReadFile("/proc/self/limits")
		sys, _ := os.ReadFile("/proc/stat")
		btime := ""
		for _, l := range strings.Split(string(sys), "\n") {
			if strings.HasPrefix(l, "btime ") {
				btime = "ok"
			}
		}
		fmt.Printf("/proc/self -> %s; stat fields %d pid %s comm %s; cmdline %q; limits %v; btime %s\n",
			self, len(f), f[0], f[1], cmdline, strings.Contains(string(limits), "Max open files            4096"), btime)
		before, err := os.ReadDir("/proc/self/fd")
		r, w, _ := os.Pipe()
		after, _ := os.ReadDir("/proc/self/fd")
		r.Close()
		w.Close()
		fmt.Printf("fd dir %v: %d more after a pipe; first %s %v\n", err, len(after)-len(before), before[0].Name(), before[0].Type())
		return
	case "numcpu":
		fmt.Println("numcpu", runtime.NumCPU(), "gomaxprocs", runtime.GOMAXPROCS(0))
		return
	case "goroutines":
		for i := 0; i < 20; i++ {
			if err := goroutines(); err != nil {
				fmt.Println("FAIL", err)
				os.Exit(1)
			}
		}
		fmt.Println("ok")
		return
	case "copies":
		copies()
		return
	case "stress":
		stress()
		return
	case "xmm":
		xmmStress()
		return
	case "all":
	default:
		fmt.Println("unknown mode", mode)
		os.Exit(2)
	}
	check("goroutines", goroutines)
	check("sleep", sleep)
	check("clock", clock)
	check("gc", gc)
	check("recover", recovers)
	check("recursion", recursion)
	check("preempt", preempt)
	check("env", func() error {
		if os.Getenv("RT_ENV") != "yes" {
			return fmt.Errorf("RT_ENV=%q", os.Getenv("RT_ENV"))
		}
		return nil
	})
	if failed {
		os.Exit(1)
	}
	fmt.Println("all ok")
}

// 10,000 goroutines passing tokens over channels, with select and a WaitGroup.
func goroutines() error {
	const n = 10000
	var wg sync.WaitGroup
	in := make(chan int)
	out := make(chan int, n)
	quit := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case v := <-in:
					out <- v * 2
				case <-quit:
					return
				}
			}
		}()
	}
	sum := 0
	go func() {
		for i := 1; i <= n; i++ {
			in <- i
		}
	}()
	for i := 0; i < n; i++ {
		sum += <-out
	}
	close(quit)
	wg.Wait()
	if want := n * (n + 1); sum != want {
		return fmt.Errorf("sum %d, want %d", sum, want)
	}
	return nil
}

func sleep() error {
	// The shortest of several sleeps must be close to what was asked:
	// that catches sleeps rounded up to the next timer tick (20 ms), while
	// one slow wake-up on a busy host (the worst) does not fail the test.
	var worst, best time.Duration
	for i := 0; i < 5; i++ {
		t0 := time.Now()
		time.Sleep(10 * time.Millisecond)
		d := time.Since(t0)
		if d < 10*time.Millisecond {
			return fmt.Errorf("slept %v < 10ms", d)
		}
		worst = max(worst, d)
		if best == 0 || d < best {
			best = d
		}
	}
	fmt.Printf("sleep10ms best %v worst %v\n", best, worst)
	if best > 15*time.Millisecond {
		return fmt.Errorf("time.Sleep(10ms) took at least %v", best)
	}
	return nil
}

// HOST_NOW (unix ns, set by the test when it starts the guest) bounds the
// wall clock.
func clock() error {
	now := time.Now()
	if s := os.Getenv("HOST_NOW"); s != "" {
		host, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		d := now.Sub(time.Unix(0, host))
		if d < -time.Second || d > 5*time.Second {
			return fmt.Errorf("guest clock %v off host by %v", now, d)
		}
	}
	prev := time.Now()
	for i := 0; i < 100000; i++ {
		t := time.Now()
		if t.Before(prev) {
			return errors.New("monotonic clock went backwards")
		}
		prev = t
	}
	return nil
}

var sink []byte

// Allocate and drop 1 GiB in total; the guest has far less memory.
func gc() error {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < 1024; i++ {
		sink = make([]byte, 1<<20)
		sink[len(sink)-1] = byte(i)
	}
	sink = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	cycles := after.NumGC - before.NumGC
	fmt.Printf("gc cycles %d, heap %d KiB, sys %d KiB\n", cycles, after.HeapAlloc>>10, after.Sys>>10)
	if cycles < 2 {
		return fmt.Errorf("only %d GC cycles", cycles)
	}
	return nil
}

func try(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

var zero = 0

type T struct{ x int }

var nilT *T

func recovers() error {
	if r := try(func() {
		var m map[string]int
		m["a"] = 1
	}); r == nil {
		return errors.New("nil map write did not panic")
	}
	if r := try(func() { fmt.Println(10 / zero) }); r == nil {
		return errors.New("divide by zero did not panic")
	} else if e, ok := r.(runtime.Error); !ok || e.Error() != "runtime error: integer divide by zero" {
		return fmt.Errorf("divide by zero: %v", r)
	}
	if r := try(func() { fmt.Println(nilT.x) }); r == nil {
		return errors.New("nil dereference did not panic")
	} else if e, ok := r.(runtime.Error); !ok || e.Error() != "runtime error: invalid memory address or nil pointer dereference" {
		return fmt.Errorf("nil dereference: %v", r)
	}
	return nil
}

func depth(n int) int {
	if n == 0 {
		return 0
	}
	var pad [8]byte
	pad[n%8] = byte(n)
	return depth(n-1) + 1 + int(pad[0]&0)
}

func recursion() error {
	if d := depth(100000); d != 100000 {
		return fmt.Errorf("depth %d", d)
	}
	return nil
}

// With one P, a goroutine spinning without calls must not stop a sleeper.
func preempt() error {
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	stop := make(chan struct{})
	var spins uint64
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for i := 0; i < 1e9; i++ {
				spins++
			}
		}
	}()
	runtime.Gosched()
	done := make(chan time.Duration)
	go func() {
		t0 := time.Now()
		time.Sleep(5 * time.Millisecond)
		done <- time.Since(t0)
	}()
	select {
	case d := <-done:
		close(stop)
		fmt.Printf("sleeper woke after %v while another goroutine spun\n", d)
		return nil
	case <-time.After(5 * time.Second):
		close(stop)
		return errors.New("sleeper did not wake within 5s")
	}
}

// stress checks invariants that break if a thread switch loses state:
// a mutex-protected pair of counters, and float math, across preemptions.
func stress() {
	runtime.GOMAXPROCS(4)
	var mu sync.Mutex
	a, b := 0, 0
	var wg sync.WaitGroup
	bad := 0
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			f := float64(w)
			for i := 0; i < 300000; i++ {
				mu.Lock()
				a++
				if a != b+1 {
					bad++
				}
				b++
				mu.Unlock()
				f = f*1.0000001 + 1
				if i%1000 == 0 {
					x := make([]byte, 4096)
					x[0] = 1
				}
			}
			if f < float64(w) {
				bad++
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("stress a", a, "b", b, "bad", bad)
	if a != 8*300000 || bad != 0 {
		os.Exit(1)
	}
}

type node struct{ v int }

var manualCopy = os.Getenv("COPIES_MANUAL") != ""

var asmCopy = os.Getenv("COPIES_ASM")

func copyMOVSQ(dst, src unsafe.Pointer, n int)
func copyMOVOU(dst, src unsafe.Pointer, n int)

// copies moves pointer slices around (memmove with SSE registers) while the
// GC runs and preempts goroutines asynchronously; a lost register shows up as
// a nil or wrong pointer.
func copies() {
	procs := 2
	if s := os.Getenv("COPIES_PROCS"); s != "" {
		procs, _ = strconv.Atoi(s)
	}
	runtime.GOMAXPROCS(procs)
	var wg sync.WaitGroup
	bad := make(chan string, 16)
	workers := 4
	if s := os.Getenv("COPIES_WORKERS"); s != "" {
		workers, _ = strconv.Atoi(s)
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			src := make([]*node, 4096)
			for i := range src {
				src[i] = &node{i}
			}
			for iter := 0; iter < 400; iter++ {
				dst := make([]*node, len(src), len(src)+iter)
				if asmCopy == "movsq" {
					copyMOVSQ(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), len(src)*8)
				} else if asmCopy == "movou" {
					copyMOVOU(unsafe.Pointer(&dst[0]), unsafe.Pointer(&src[0]), len(src)*8)
				} else if manualCopy {
					for i := range src {
						dst[i] = src[i]
					}
				} else {
					copy(dst, src)
				}
				for i, p := range dst {
					if p == nil || p.v != i {
						var badIdx []int
						for j, q := range dst {
							if q == nil || q.v != j {
								badIdx = append(badIdx, j)
							}
						}
						fmt.Println("bad indices:", badIdx)
						// With mote run --debug, the library OS prints its recent
						// events touching dst (mote_trace_dump).
						lo := uintptr(unsafe.Pointer(&dst[0]))
						syscall.Syscall(0x4d4f5445, lo, lo+uintptr(cap(dst))*8, 0)
						for _, j := range badIdx {
							fmt.Printf("  [%d] = %#x (want %p)\n", j, *(*uintptr)(unsafe.Pointer(&dst[j])), src[j])
						}
						select {
						case bad <- fmt.Sprintf("worker %d iter %d index %d: %v (dst %p src %p src[i]=%v len %d) raw %#x %#x %#x %#x %#x", w, iter, i, p, &dst[0], &src[0], src[i], len(src),
							*(*uintptr)(unsafe.Pointer(&dst[i])), *(*uintptr)(unsafe.Pointer(&dst[i+1])), *(*uintptr)(unsafe.Pointer(&dst[i+2])), *(*uintptr)(unsafe.Pointer(&dst[i+3])), *(*uintptr)(unsafe.Pointer(&dst[i+4]))):
						default:
						}
						return
					}
				}
				src = dst
				junk := make([]byte, 64<<10)
				junk[0] = 1
			}
		}(w)
	}
	wg.Wait()
	close(bad)
	n := 0
	for m := range bad {
		fmt.Println("FAIL", m)
		n++
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("numgc", ms.NumGC, "heapsys MiB", ms.HeapSys>>20)
	if n > 0 {
		os.Exit(1)
	}
	fmt.Println("copies ok")
}

type pair struct{ a, b uint64 }

// xmmStress copies 16-byte values (the compiler moves them through SSE
// registers) in long loops that the runtime preempts asynchronously, and
// checks every copy: a vector register lost across a preemption shows up
// as a wrong pair.
func xmmStress() {
	runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var x, y [4096]pair
			for i := range x {
				x[i] = pair{uint64(w)<<32 | uint64(i), ^uint64(i)}
			}
			for round := 0; round < 3000; round++ {
				for i := range x {
					y[(i+round)%len(y)] = x[i]
				}
				for i := range x {
					p := y[(i+round)%len(y)]
					if p.a != uint64(w)<<32|uint64(i) || p.b != ^uint64(i) {
						bad.Add(1)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	fmt.Println("xmm bad", bad.Load())
	if bad.Load() != 0 {
		os.Exit(1)
	}
}
