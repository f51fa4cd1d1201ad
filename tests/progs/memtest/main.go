// Command memtest checks the library OS's memory semantics with raw system
// calls: MADV_DONTNEED zeroes, freed frames are not visible through old
// mappings (TLB invalidation), partial munmap splits mappings, mprotect.
package main

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

var failed bool

var sinkb byte

func fail(format string, args ...any) {
	failed = true
	fmt.Printf("FAIL "+format+"\n", args...)
}

func mmap(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		panic(err)
	}
	return b
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func allIs(b []byte, v byte) bool {
	for _, x := range b {
		if x != v {
			return false
		}
	}
	return true
}

func xmmAcrossFault(p *byte) (x1, x8 uint64)
func xmmAcrossSpin(n int) uint64
func copyMOVSB(dst, src *byte, n int)
func copyMOVSQ(dst, src *byte, n int)
func copyMOVOU(dst, src *byte, n int)

func main() {
	const page = 4096
	// 0. Vector registers survive a page fault and timer interrupts.
	for i := 0; i < 50; i++ {
		m := mmap(page)
		x1, x8 := xmmAcrossFault(&m[0])
		if x1 != 0x1122334455667788 || x8 != 0x0102030405060708 {
			fail("XMM lost across a page fault: X1=%#x X8=%#x", x1, x8)
			break
		}
		syscall.Munmap(m)
	}
	if x := xmmAcrossSpin(300_000_000); x != 0x1122334455667788 {
		fail("XMM lost across timer interrupts: X1=%#x", x)
	}
	// 1. DONTNEED zeroes, and the freed frames reused elsewhere are not
	// reachable through the old addresses.
	for round := 0; round < 200; round++ {
		n := []int{1, 3, 16, 31, 33, 64}[round%6] * page
		a := mmap(n)
		fill(a, 0xAA)
		if err := syscall.Madvise(a, syscall.MADV_DONTNEED); err != nil {
			fail("madvise: %v", err)
		}
		b := mmap(n)
		fill(b, 0x55) // likely reuses a's frames
		if !allIs(a, 0) {
			fail("round %d: memory not zero after MADV_DONTNEED (stale mapping?)", round)
			break
		}
		fill(a, 0x11)
		if !allIs(b, 0x55) {
			fail("round %d: writes through one mapping appeared in another", round)
			break
		}
		syscall.Munmap(a)
		syscall.Munmap(b)
	}
	// 0b. String copies interrupted by timer interrupts (no page faults),
	// while another thread competes for the CPU.
	if os.Getenv("MEMTEST_COMPETE") != "" {
		runtime.GOMAXPROCS(2)
		go func() {
			for {
				syscall.Getpid()
			}
		}()
	}
	{
		src := make([]byte, 1<<20)
		for i := range src {
			src[i] = byte(i*13+i>>9) | 1
		}
		dst := make([]byte, 1<<20)
		copy(dst, src)
		for iter := 0; iter < 1500 && !failed; iter++ {
			for _, k := range []func(dst, src *byte, n int){copyMOVSQ, copyMOVSB} {
				clear(dst)
				k(&dst[0], &src[0], len(src))
				for i := range dst {
					if dst[i] != src[i] {
						fail("string copy interrupted: iter %d wrong at %d", iter, i)
						break
					}
				}
			}
		}
	}
	// 0c. String copies into fresh memory while signals (SIGURG, ignored
	// by Go unless it wants to preempt) keep arriving.
	stress := os.Getenv("MEMTEST_STRESS") != ""
	if stress {
		runtime.GOMAXPROCS(2)
		runtime.LockOSThread()
		tid := syscall.Gettid()
		stop := make(chan bool)
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				syscall.Tgkill(syscall.Getpid(), tid, syscall.SIGURG)
			}
		}()
		src := make([]byte, 64*page)
		for i := range src {
			src[i] = byte(i*7+i>>8) | 1
		}
		for round := 0; round < 300 && !failed; round++ {
			d := mmap(64 * page)
			k := []func(dst, src *byte, n int){copyMOVSQ, copyMOVSB, copyMOVOU}[round%3]
			k(&d[0], &src[0], len(src))
			for i := range d {
				if d[i] != src[i] {
					fail("copy with signals: round %d wrong at %d", round, i)
					break
				}
			}
			syscall.Munmap(d)
		}
		close(stop)
		runtime.UnlockOSThread()
	}
	// 1a. Each copy instruction kind into fresh memory.
	if stress {
		src := make([]byte, 64*page)
		for i := range src {
			src[i] = byte(i*7+i>>8) | 1
		}
		for _, k := range []struct {
			name string
			f    func(dst, src *byte, n int)
		}{{"movsb", copyMOVSB}, {"movsq", copyMOVSQ}, {"movou", copyMOVOU}} {
			for round := 0; round < 30; round++ {
				d := mmap(64 * page)
				k.f(&d[0], &src[0], len(src))
				nbad := 0
				for i := range d {
					if d[i] != src[i] {
						nbad++
					}
				}
				if nbad > 0 {
					fail("%s round %d: %d wrong bytes", k.name, round, nbad)
					break
				}
				syscall.Munmap(d)
			}
		}
	}
	// 1b. Copies into never-touched memory (each store may fault) arrive intact.
	src := make([]byte, 64*page)
	for i := range src {
		src[i] = byte(i*7 + i>>8)
	}
	rounds := 0
	if stress {
		rounds = 100
	}
	for round := 0; round < rounds; round++ {
		d := mmap(64 * page)
		switch os.Getenv("PRETOUCH") {
		case "write":
			for i := 0; i < len(d); i += page {
				d[i] = 0
			}
		case "read":
			for i := 0; i < len(d); i += page {
				sinkb += d[i]
			}
		}
		copy(d[round:], src[:len(src)-round])
		nbad, first, last := 0, -1, -1
		for i := round; i < len(d); i++ {
			if d[i] != src[i-round] {
				if nbad < 40 {
					fmt.Printf("  bad %d (page %d off %d) got %#x want %#x\n", i, i/page, i%page, d[i], src[i-round])
				}
				if first < 0 {
					first = i
				}
				last = i
				nbad++
			}
		}
		if nbad > 0 {
			fail("round %d: copy into fresh memory: %d wrong bytes in [%d, %d] (d=%p)", round, nbad, first, last, &d[0])
		}
		syscall.Munmap(d)
		if failed {
			break
		}
	}
	// 2. Partial munmap: the middle goes, both ends stay intact.
	c := mmap(16 * page)
	fill(c, 7)
	if _, _, errno := syscall.Syscall(syscall.SYS_MUNMAP, uintptr(unsafe.Pointer(&c[4*page])), 4*page, 0); errno != 0 {
		fail("partial munmap: %v", errno)
	}
	if !allIs(c[:4*page], 7) || !allIs(c[8*page:], 7) {
		fail("partial munmap damaged the rest")
	}
	// Touching the hole must fault: re-map it with MAP_FIXED and check it reads zero.
	p, _, errno := syscall.Syscall6(syscall.SYS_MMAP, uintptr(unsafe.Pointer(&c[4*page])), 4*page,
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_FIXED, ^uintptr(0), 0)
	if errno != 0 || p != uintptr(unsafe.Pointer(&c[4*page])) {
		fail("MAP_FIXED into the hole: %v", errno)
	} else if !allIs(c[4*page:8*page], 0) {
		fail("re-mapped hole not zero")
	}
	// 3. mprotect to read-only keeps the data.
	if err := syscall.Mprotect(c, syscall.PROT_READ); err != nil {
		fail("mprotect: %v", err)
	}
	if c[0] != 7 || c[15*page] != 7 {
		fail("data lost by mprotect")
	}
	syscall.Mprotect(c, syscall.PROT_READ|syscall.PROT_WRITE)
	c[0] = 9
	// 4. Many mappings.
	keep := make([][]byte, 0, 2000)
	for i := 0; i < 2000; i++ {
		m := mmap(page)
		m[0] = byte(i)
		keep = append(keep, m)
	}
	for i, m := range keep {
		if m[0] != byte(i) {
			fail("mapping %d lost its data", i)
			break
		}
		syscall.Munmap(m)
	}
	// 5. Many distinct mappings (alternating protections do not merge): the
	// kernel's mapping table grows.
	var distinct [][]byte
	for i := 0; i < 1500; i++ {
		m := mmap(page)
		m[0] = byte(i)
		if i%2 == 1 {
			syscall.Mprotect(m, syscall.PROT_READ)
		}
		distinct = append(distinct, m)
	}
	for i, m := range distinct {
		if m[0] != byte(i) {
			fail("distinct mapping %d lost its data", i)
			break
		}
	}
	for _, m := range distinct {
		syscall.Munmap(m)
	}
	if failed {
		os.Exit(1)
	}
	fmt.Println("memtest ok")
}
