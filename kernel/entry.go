package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/abi"
)

// pageFaults counts user page faults (reported with --debug at exit).
var pageFaults uint64

// The kernel lock: taken on every kernel entry, held across switches between
// kernel threads on a CPU, released only when the CPU idles in the monitor.
var klockWord uint32

func klock() {
	for !atomic.CompareAndSwapUint32(&klockWord, 0, 1) {
		cpuPause()
	}
}

func kunlock() { atomic.StoreUint32(&klockWord, 0) }

// syscallGo is called by mote_syscall on the thread's kernel stack with the
// caller's registers in f. It stores the result in f.ax.
func syscallGo(f *sysframe) {
	klock()
	if smp {
		tlbCatchUp(thisCPU())
	}
	t := curThread()
	traceEv(evSyscall, f.ax, f.di)
	r := dispatch(t, f)
	if t.full == 0 {
		f.ax = uint64(r)
	}
	c := thisCPU()
	if c.pending != 0 {
		chargeTick(t, false)
		if profiling {
			profile.Kernel++
			profile.PCs[profile.N%abi.ProfileSlots] = c.pendingRIP
			profile.N++
		}
		c.pending = 0
		consoleFlush()
		expireTimers()
		devPoll()
		yield()
	}
	if t.full == 0 && t.sigpending&^t.sigmask != 0 {
		frameToContext(t, f)
		if deliverSignals(t) {
			t.full = 1
		}
	}
	if t.full != 0 {
		prepareResume(t)
	}
	kunlock()
}

// frameToContext copies the state of a thread inside a system call into its
// full user context, as if the call had just returned.
func frameToContext(t *thread, f *sysframe) {
	t.rax, t.rbx, t.rbp, t.rdx = f.ax, f.bx, f.bp, f.dx
	t.rsi, t.rdi = f.si, f.di
	t.r8, t.r9, t.r10 = f.r8, f.r9, f.r10
	t.r12, t.r13, t.r14, t.r15 = f.r12, f.r13, f.r14, f.r15
	t.rip = *userU64(f.usp)
	t.rsp = f.usp + 8
	t.rcx = t.rip // as SYSCALL leaves them
	t.rflags = 0x202
	t.r11 = t.rflags
	fxsave(threadAddr(t))
	for i := 0; i < 16; i++ {
		x := (*[2]uint64)(unsafe.Pointer(&t.fx[160+16*i]))
		*x = f.xmm[i]
	}
}

// fixResumeJump handles an interrupt that hit the last instruction of
// resumeuser (JMP *cpu.resumeRIP(GS), the only one that runs unmasked): the
// thread's real user RIP is the jump's target, still in the per-CPU slot.
func fixResumeJump(t *thread, c *cpu) {
	start := resumeuserPC()
	if t.rip < start || t.rip >= start+512 {
		return
	}
	code := (*[3]byte)(unsafe.Pointer(uintptr(t.rip)))
	if code[0] == 0x65 && code[1] == 0xff && code[2] == 0x24 {
		t.rip = c.resumeRIP
	}
}

// prepareResume checks that the 24 bytes resumeuser writes below the user
// SP are mapped; a thread whose stack is gone dies as on Linux.
func prepareResume(t *thread) {
	if debugSyscalls {
		checkSP(t)
	}
	if !userOK(t.rsp-24, 24, true) {
		kprint("mote: thread stack not mapped at resume: rsp ")
		kprintNum(int64(t.rsp))
		kprint(" rip ")
		kprintNum(int64(t.rip))
		kprint(" tid ")
		kprintNum(int64(t.tid))
		kprint("\n")
		killedBy(sigSEGV)
	}
}

// trapGo handles an exception or timer interrupt taken in user mode; t's
// full context has been saved by mote_upcall.
func trapGo(tp uint64) {
	klock()
	t := threadAt(tp)
	c := thisCPU()
	if smp {
		tlbCatchUp(c)
	}
	vec, errCode, cr2 := c.trapVector, c.trapErr, c.trapCR2
	outOfMemory = false
	fmapBus = false
	if vec == 14 {
		pageFaults++
	}
	fixResumeJump(t, c)
	traceEv(evTrap, t.rip|vec<<56, cr2)
	switch {
	case vec == 32:
		chargeTick(t, true)
		if profiling {
			profile.PCs[profile.N%abi.ProfileSlots] = t.rip
			profile.N++
		}
		c.pending = 0
		consoleFlush()
		expireTimers()
		devPoll()
		yield()
	case vec == 14 && handlePageFault(cr2, errCode):
	case vec == 14 && outOfMemory:
		oomKill()
	default:
		faultSignal(t, vec, errCode, cr2)
	}
	deliverSignals(t)
	prepareResume(t)
	kunlock()
}

// checkSP records (debug builds of the boot flag only) a resume whose stack
// pointer lies outside every stack the thread may legitimately run on: the
// current goroutine's (g from the thread's TLS), the signal stack, its g0
// stack, or the main thread's initial stack.
func checkSP(t *thread) {
	sp := t.rsp
	if t.altSize != 0 && sp >= t.altSP && sp <= t.altSP+t.altSize {
		return
	}
	if t.g0Top != 0 && sp <= t.g0Top && sp >= t.g0Top-128<<10 {
		return
	}
	if sp >= mmapTop-userStackSize && sp <= mmapTop {
		return
	}
	if t.fsbase >= pageSize+8 && userOK(t.fsbase-8, 8, false) {
		g := *userU64(t.fsbase - 8)
		if g != 0 && userOK(g, 16, false) {
			lo, hi := *userU64(g), *userU64(g + 8)
			if sp >= lo && sp <= hi {
				return
			}
		}
	}
	traceEv(evStale, sp, t.rip)
}
