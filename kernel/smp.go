package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/abi"
)

// SMP: every vCPU schedules threads.
//
// Design (also in docs/architecture.md, "SMP"):
//   - One kernel lock (klock) still guards all kernel state; a CPU holds it
//     from kernel entry to the return to user mode, across switchto (the
//     lock is handed to the thread switched to), so a thread's kernel
//     stack is never used by two CPUs: a CPU can only pick a thread from
//     the run queue once the CPU that queued it is off its stack.
//   - One run queue, shared (the Go runtime schedules goroutines itself; the
//     kernel sees a few threads, most of them blocked in futexes).
//   - Each CPU has an idle thread, with its own kernel stack: a CPU with
//     nothing to run switches to it, and it sleeps in HcIdle with the lock
//     released. (With one CPU the blocking thread idles on its own stack,
//     which is cheaper; with several that stack could be picked up by
//     another CPU, so it must be left.)
//   - Wake-ups: a thread made runnable while another CPU sleeps kicks that
//     CPU (HcWake: one exit, paid only when a CPU is idle); busy CPUs take
//     the thread at their next scheduling point or timer tick, without an
//     exit. A new earliest timer also kicks a sleeping CPU, whose idle
//     deadline it shortens.
//   - TLBs: a CPU that unmaps pages (or write-protects them) flushes its
//     own TLB entries; the other CPUs may hold stale ones until they flush
//     their whole TLB, which they do at their next kernel entry after the
//     TLB generation moved (tlbCatchUp). So the frames of unmapped pages
//     are freed only once every CPU that runs user code has flushed
//     (deferred frees); a sleeping CPU flushes before it runs user code
//     again. Until then another CPU may still write to a page the program
//     unmapped (as a use after munmap) or write-protected, for at most one
//     timer tick.

var (
	smp         bool   // more than one CPU schedules
	kernelReady uint32 // the boot CPU has initialised the kernel

	tlbGen uint64 // bumped when mappings are removed or write-protected
)

// smpInit runs on the boot CPU at the end of kernel initialisation.
func smpInit() {
	if numCPUs <= 1 {
		return
	}
	smp = true
	c := thisCPU()
	c.idleThread = newIdleThread()
	atomic.StoreUint32(&kernelReady, 1)
	for i := 1; i < numCPUs; i++ {
		hypercall(abi.HcWake, uint64(i))
	}
}

// apMain runs an application processor once the kernel is ready; it never
// returns.
func apMain() {
	for atomic.LoadUint32(&kernelReady) == 0 {
		hypercall(abi.HcIdle, ^uint64(0)) // the boot CPU wakes us (HcWake)
	}
	klock()
	c := thisCPU()
	c.idleThread = newIdleThread()
	c.tlbSeen = tlbGen
	startIdle(c.idleThread)
}

// newIdleThread makes a CPU's idle thread: a kernel stack whose first
// switch lands in idleMain. It is not one of the program's threads (not on
// allThreads, no tid), never queued and never in user mode.
func newIdleThread() uint64 {
	p := kallocPages(threadPages + kstackSize/pageSize)
	if p == 0 {
		kpanic("mote: out of memory starting a CPU")
	}
	t := threadAt(p)
	initKernelStack(t, idleStartPC())
	t.state = tsRunning
	return p
}

// idleMain is a CPU's idle loop, on its idle thread, with the kernel lock
// held except while it sleeps.
func idleMain() {
	c := thisCPU()
	for {
		reapZombie()
		tlbCatchUp(c)
		expireTimers()
		devPoll()
		if next := runqGet(); next != nil {
			next.state = tsRunning
			c.runs++
			traceEv(evSwitch, uint64(next.tid), 0)
			switchto(c.cur, threadAddr(next))
			continue
		}
		idleSleep(c)
	}
}

// othersAwake reports whether no other CPU sleeps in HcIdle.
func othersAwake(c *cpu) bool {
	for i := 0; i < numCPUs; i++ {
		if o := cpuAt(abi.PerCPUBase + uint64(i)*abi.PerCPUSize); o != c && o.idling != 0 {
			return false
		}
	}
	return true
}

// scheduleSMP is schedule with several CPUs: the next runnable thread, or
// this CPU's idle thread.
func scheduleSMP(c *cpu) {
	expireTimers()
	devPoll()
	next := runqGet()
	if next != nil {
		next.state = tsRunning
	} else {
		next = threadAt(c.idleThread)
	}
	if p := threadAddr(next); p != c.cur {
		c.runs++
		traceEv(evSwitch, uint64(next.tid), 0)
		switchto(c.cur, p)
	}
	reapZombie()
}

// kickIdle wakes one sleeping CPU other than this one: work arrived (a
// runnable thread, an earlier timer) that it should look at.
func kickIdle() {
	if !smp {
		return
	}
	me := thisCPU()
	for i := 0; i < numCPUs; i++ {
		o := cpuAt(abi.PerCPUBase + uint64(i)*abi.PerCPUSize)
		if o != me && o.idling != 0 {
			o.idling = 0 // kicked once; it clears the flag itself when it runs
			hypercall(abi.HcWake, uint64(i))
			return
		}
	}
}

// reapZombie frees the thread that exited last, once no CPU runs on its
// stack (the caller holds the lock and is on another stack).
func reapZombie() {
	if zombie != 0 && zombie != thisCPU().cur {
		freeThread(threadAt(zombie))
		zombie = 0
	}
}

// tlbShootdown records that mappings changed: the other CPUs flush their
// TLBs at their next kernel entry.
func tlbShootdown() {
	if smp {
		tlbGen++
		// The caller flushed the entries it changed; it is up to date if
		// it was before (kernel entries catch up, and nobody else changes
		// mappings while it holds the lock).
		if c := thisCPU(); c.tlbSeen == tlbGen-1 {
			c.tlbSeen = tlbGen
		}
		pendingOpen = 0 // later frames belong to the next generation
	}
}

// Frames waiting for the TLB flushes are kept in chunks (a frame each,
// kernel memory: never in a page the program might still write through a
// stale entry): word 0 links the next chunk, word 1 is the generation every
// CPU must have flushed past, word 2 the count, then the frames.
const chunkFrames = pageSize/8 - 3

var (
	pendingHead, pendingTail uint64 // chunks, oldest first
	pendingOpen              uint64 // the chunk taking frames, 0 if none
)

func chunkWord(c uint64, i uint64) *uint64 { return (*uint64)(unsafe.Pointer(uintptr(c + i*8))) }

// deferFree frees frame f once every CPU has flushed its TLB past the
// current generation (with one CPU, at once).
func deferFree(f uint64) {
	if !smp {
		freeFrame(f)
		return
	}
	c := pendingOpen
	if c == 0 || *chunkWord(c, 2) == chunkFrames {
		if c = allocFrame(); c == 0 {
			freeFrame(f) // no memory to wait with (rare): free now
			return
		}
		*chunkWord(c, 1) = tlbGen + 1
		if pendingTail == 0 {
			pendingHead = c
		} else {
			*chunkWord(pendingTail, 0) = c
		}
		pendingTail, pendingOpen = c, c
	}
	n := *chunkWord(c, 2)
	*chunkWord(c, 3+n) = f
	*chunkWord(c, 2) = n + 1
}

// tlbCatchUp flushes this CPU's TLB if mappings changed since it last did,
// and frees the frames every CPU is done with.
func tlbCatchUp(c *cpu) {
	if !smp {
		return
	}
	if c.tlbSeen != tlbGen {
		c.r0req = 2 // reload CR3: every non-global entry goes
		ring0Service()
		c.r0n = 0
		c.tlbSeen = tlbGen
	}
	if pendingHead == 0 {
		return
	}
	// The oldest generation a CPU may still hold entries of; a sleeping
	// CPU flushes before it runs user code again.
	min := tlbGen
	for i := 0; i < numCPUs; i++ {
		o := cpuAt(abi.PerCPUBase + uint64(i)*abi.PerCPUSize)
		if o.idling == 0 && o.tlbSeen < min {
			min = o.tlbSeen
		}
	}
	for pendingHead != 0 && pendingHead != pendingOpen && *chunkWord(pendingHead, 1) <= min {
		ch := pendingHead
		for i := uint64(0); i < *chunkWord(ch, 2); i++ {
			freeFrame(*chunkWord(ch, 3+i))
		}
		pendingHead = *chunkWord(ch, 0)
		if pendingHead == 0 {
			pendingTail = 0
		}
		freeFrame(ch)
	}
}

// idleSpinNs bounds idleSpin.
var idleSpinNs int64 = 20_000

// idleSpin watches the run queue, without the lock, for idleSpinNs; it
// reports whether a thread became runnable.
func idleSpin(c *cpu) bool {
	end := uptime() + idleSpinNs
	for uptime() < end {
		if atomic.LoadUint64(&runqHead) != 0 {
			return true
		}
		cpuPause()
	}
	return false
}
