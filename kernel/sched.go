package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Threads and scheduling. The kernel is not preemptible: it runs with
// cpu.masked set, and a thread leaves the CPU only by blocking inside a system
// call (a voluntary switchto between kernel stacks) or, in user mode, when the
// timer tick's upcall finds other runnable threads (round robin, one tick =
// one time slice). With nothing runnable the CPU sleeps in the monitor's idle
// hypercall until the next timer deadline or an event: idle never spins.
//
// SMP: per-CPU state is in cpu; the shared structures (run queue, timer list,
// thread list, futex queues, memory) are protected by the kernel lock klock,
// taken on every kernel entry. With several vCPUs every one schedules, each
// with an idle thread of its own (smp.go).

var (
	runqHead, runqTail uint64
	timerHead          uint64 // threads with a deadline, sorted by wakeAt
	allThreads         uint64
	nthreads           int
	nextTid            int32  = 1
	zombie             uint64 // a dead thread whose stack is still in use
	threadFreeList     uint64
	numCPUs            int
)

// Reasons block returns.
const (
	wakeNormal  = 0
	wakeTimeout = 1
	wakeSignal  = 2
)

// newThread allocates a thread with its kernel stack.
func newThread() *thread {
	var p uint64
	if threadFreeList != 0 {
		p = threadFreeList
		threadFreeList = threadAt(p).next
		clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), threadPages*pageSize))
	} else {
		p = kallocPages(threadPages + kstackSize/pageSize)
		if p == 0 {
			return nil
		}
	}
	t := threadAt(p)
	initKernelStack(t, threadStartPC())
	t.tid = nextTid
	nextTid++
	t.allNext = allThreads
	allThreads = p
	nthreads++
	// Callers copy the creator's extended state into fx; until then keep an
	// XRSTOR-able image (all components in their initial state, sane MXCSR).
	*(*uint32)(unsafe.Pointer(&t.fx[24])) = 0x1f80
	return t
}

// initKernelStack sets up the kernel stack that follows thread t (at its
// page-aligned address) and its fake g, so that the first switch to t
// lands at pc (BP = 0, then the PC).
func initKernelStack(t *thread, pc uint64) {
	t.kstackLo = threadAddr(t) + threadPages*pageSize
	t.kstackHi = t.kstackLo + kstackSize
	t.kg.stackLo = t.kstackLo
	t.kg.stackHi = t.kstackHi
	t.kg.stackguard0 = t.kstackLo + 2048
	t.kg.stackguard1 = t.kg.stackguard0
	t.ktlsG = uint64(uintptr(unsafe.Pointer(&t.kg)))
	sp := t.kstackHi - 16
	*userU64(sp) = 0
	*userU64(sp + 8) = pc
	t.ksp = sp
}

func threadAddr(t *thread) uint64 { return uint64(uintptr(unsafe.Pointer(t))) }

func findThread(tid int32) *thread {
	for p := allThreads; p != 0; p = threadAt(p).allNext {
		if t := threadAt(p); t.tid == tid && t.state != tsDead {
			return t
		}
	}
	return nil
}

func freeThread(t *thread) {
	p := threadAddr(t)
	// unlink from allThreads
	if allThreads == p {
		allThreads = t.allNext
	} else {
		for q := allThreads; q != 0; q = threadAt(q).allNext {
			if threadAt(q).allNext == p {
				threadAt(q).allNext = t.allNext
				break
			}
		}
	}
	nthreads--
	t.state = tsFree
	t.next = threadFreeList
	threadFreeList = p
}

func runqPut(t *thread) {
	t.state = tsRunnable
	t.next = 0
	p := threadAddr(t)
	if runqTail == 0 {
		runqHead = p
	} else {
		threadAt(runqTail).next = p
	}
	runqTail = p
	kickIdle()
}

func runqGet() *thread {
	p := runqHead
	if p == 0 {
		return nil
	}
	t := threadAt(p)
	runqHead = t.next
	if runqHead == 0 {
		runqTail = 0
	}
	t.next = 0
	return t
}

func timerAdd(t *thread) {
	p := threadAddr(t)
	t.onTimers = 1
	if timerHead == 0 || threadAt(timerHead).wakeAt > t.wakeAt {
		t.tnext = timerHead
		timerHead = p
		kickIdle() // a sleeping CPU's deadline is now too late
		return
	}
	q := timerHead
	for threadAt(q).tnext != 0 && threadAt(threadAt(q).tnext).wakeAt <= t.wakeAt {
		q = threadAt(q).tnext
	}
	t.tnext = threadAt(q).tnext
	threadAt(q).tnext = p
}

func timerDel(t *thread) {
	if t.onTimers == 0 {
		return
	}
	t.onTimers = 0
	p := threadAddr(t)
	if timerHead == p {
		timerHead = t.tnext
		return
	}
	for q := timerHead; q != 0; q = threadAt(q).tnext {
		if threadAt(q).tnext == p {
			threadAt(q).tnext = t.tnext
			return
		}
	}
}

// expireTimers wakes every thread whose deadline has passed.
func expireTimers() {
	if timerHead == 0 {
		return
	}
	now := uptime()
	for timerHead != 0 {
		t := threadAt(timerHead)
		if t.wakeAt > now {
			return
		}
		wake(t, wakeTimeout)
	}
}

// wake makes a blocked thread runnable; block returns code. A thread whose
// deadline passed goes to the front of the run queue: it is already late.
func wake(t *thread, code int32) {
	if t.state != tsBlocked {
		return
	}
	timerDel(t)
	waitRemove(t)
	t.wakeCode = code
	runqPut(t)
	if code == wakeTimeout && runqHead != threadAddr(t) {
		// move from the tail to the head
		p := threadAddr(t)
		q := runqHead
		for threadAt(q).next != p {
			q = threadAt(q).next
		}
		threadAt(q).next = 0
		runqTail = q
		t.next = runqHead
		runqHead = p
	}
}

// block puts the running thread to sleep until wake or, if deadline > 0,
// until uptime deadline. With intr set a signal interrupts the sleep.
func block(deadline int64, intr bool) int32 {
	t := curThread()
	if intr && t.sigpending&^t.sigmask != 0 {
		waitRemove(t)
		return wakeSignal
	}
	t.state = tsBlocked
	t.wakeCode = wakeNormal
	t.intrOK = 0
	if intr {
		t.intrOK = 1
	}
	t.wakeAt = deadline
	if deadline > 0 {
		timerAdd(t)
	}
	schedule()
	return t.wakeCode
}

// schedule switches to the next runnable thread. The caller has set the
// current thread's state (runnable and queued, blocked, or dead). It returns
// when the current thread runs again.
func schedule() {
	c := thisCPU()
	if c.idleThread != 0 {
		scheduleSMP(c)
		return
	}
	cur := threadAt(c.cur)
	for {
		expireTimers()
		devPoll()
		next := runqGet()
		if next != nil {
			next.state = tsRunning
			if next != cur {
				traceEv(evSwitch, uint64(next.tid), 0)
				switchto(c.cur, threadAddr(next))
			}
			break
		}
		idleSleep(c)
	}
	reapZombie()
}

// idleSleep sleeps in the monitor until the next timer deadline or an
// event (device, input; with SMP also a kick), then does what the wake-up
// brought. With SMP the kernel lock is released meanwhile, and the CPU
// first watches the run queue briefly (idleSpin).
func idleSleep(c *cpu) {
	deadline := ^uint64(0)
	if timerHead != 0 {
		deadline = uint64(threadAt(timerHead).wakeAt)
	}
	c.pending = 0
	consoleFlush()
	if !netIdleBegin() {
		netIdleEnd()
		return // frames arrived: devPoll wakes their reader
	}
	if smp {
		kunlock()
		// Work often comes back within microseconds (a thread this CPU
		// just ran is woken again): look at the run queue for a short
		// while before paying the exits of a sleep and of a kick.
		spun := idleSpin(c)
		klock()
		if spun || runqHead != 0 {
			if othersAwake(c) {
				netIdleEnd()
			}
			return
		}
		c.idling = 1
		kunlock()
		hypercall(abi.HcIdle, deadline)
		klock()
		c.idling = 0
		if othersAwake(c) {
			netIdleEnd() // the last CPU to sleep keeps device notifications on
		}
	} else {
		hypercall(abi.HcIdle, deadline)
		netIdleEnd()
	}
	if profiling && c.pending != 0 {
		// The tick came while idle; the caller's loop does its work.
		profile.Idle++
		c.pending = 0
	}
	// The idle may have ended because input arrived.
	wakeWaiters(waitStdin, 0, -1)
}

// yield gives the CPU to other runnable threads, if any.
func yield() {
	if runqHead == 0 {
		return
	}
	runqPut(curThread())
	schedule()
}

// exitThread ends the running thread.
func exitThread(code int) {
	t := curThread()
	if t.clearTid != 0 && userOK(t.clearTid, 4, true) {
		*userU32(t.clearTid) = 0
		futexWake(t.clearTid, 1)
	}
	t.state = tsDead
	t.exitCode = int32(code)
	if nthreads-countDead() <= 0 {
		fmapSyncAll()
		exitGuest(code)
	}
	if zombie != 0 {
		freeThread(threadAt(zombie))
	}
	zombie = threadAddr(t)
	schedule()
	kpanic("mote: dead thread scheduled")
}

func countDead() int {
	n := 0
	for p := allThreads; p != 0; p = threadAt(p).allNext {
		if threadAt(p).state == tsDead {
			n++
		}
	}
	return n
}
