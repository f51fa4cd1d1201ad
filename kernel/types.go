package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// cpu is the per-CPU area. It lives at abi.PerCPUBase + i*abi.PerCPUSize and
// is addressed through GS by assembly (offsets from go_asm.h). The first three
// fields are defined by the ABI and initialised by the monitor.
type cpu struct {
	self   uint64 // abi.PerCPUSelf
	index  uint64 // abi.PerCPUIndex
	masked uint64 // abi.PerCPUMasked: nonzero while this CPU runs kernel code

	pending    uint64 // a timer tick arrived while masked
	pendingRIP uint64 // where it arrived (for --profile)
	cur        uint64 // the running thread

	// Written by the ring-0 stubs before they redirect to mote_upcall.
	trapVector uint64
	trapErr    uint64
	trapCR2    uint64
	trapRIP    uint64
	trapRFLAGS uint64
	scratch    uint64

	// Ring-0 service requests (see tlbFlush): r0req 1 = INVLPG r0list[:r0n], 2 = reload CR3.
	r0req  uint64
	r0n    uint64
	r0list [r0ListLen]uint64

	ticks uint64

	// Return-to-user targets used by resumeuser's final indirect jump.
	resumeRIP uint64
	resumeRSP uint64

	// Boot-time TLS and fake g for the boot stack (see mote_start).
	bootTLSG uint64
	bootTLS  uint64
	bootG    [8]uint64

	fatal abi.FatalReport

	// SMP (smp.go).
	idleThread uint64 // this CPU's idle thread, 0 with one CPU
	idling     uint64 // nonzero while this CPU sleeps in HcIdle (a wake-up must kick it)
	tlbSeen    uint64 // the TLB generation this CPU has flushed up to
	runs       uint64 // threads switched to on this CPU (reported with --debug)
}

const r0ListLen = 32

// fakeG mirrors the first words of runtime.g: compiled Go code reads only
// stack bounds (stackguard0 in function prologues) from it. Kernel code runs
// with R14 pointing at one, which the ABI0 wrappers load from -8(FS).
type fakeG struct {
	stackLo     uint64
	stackHi     uint64
	stackguard0 uint64
	stackguard1 uint64
	rest        [28]uint64 // never read by kernel code; zero
}

// thread is a kernel thread: one Linux thread (an M of the Go runtime).
// Threads live in kernel memory (kallocPages), page aligned, followed by their
// kernel stack. Fields used by assembly come first.
type thread struct {
	// XSAVE image of the user's extended state (x87, SSE and, where the CPU
	// has them, AVX and AVX-512: on PVM the guest runs on the host CPU, and
	// Go uses AVX when the CPU reports it). 64-byte aligned (the thread is
	// page aligned); the first 512 bytes are in FXSAVE format.
	fx [xsaveMax]byte

	// User register context, valid while the thread is out of user mode
	// because of a trap, and for new threads and signal delivery.
	rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp uint64
	r8, r9, r10, r11, r12, r13, r14, r15   uint64
	rip, rflags                            uint64

	fsbase uint64 // user FS base (arch_prctl / CLONE_SETTLS)
	ktlsG  uint64 // at -8(FS) in the kernel: &kg
	ktls   uint64 // kernel FS base points here
	full   uint64 // nonzero: return to user through the full context above

	ksp      uint64 // saved kernel SP while switched out
	kstackLo uint64
	kstackHi uint64

	kg fakeG

	// Scheduling and blocking.
	tid      int32
	state    int32
	next     uint64 // run queue / wait queue link
	tnext    uint64 // timer list link
	allNext  uint64 // list of all threads
	wakeAt   int64  // uptime ns deadline of a timed block, 0 if none
	wakeCode int32  // why block returned
	waitKind int32
	waitAddr uint64 // futex address or epoll instance
	intrOK   int32  // block may be interrupted by a signal
	onTimers int32
	clearTid uint64 // CLONE_CHILD_CLEARTID
	exitCode int32
	_        int32

	// Signals.
	sigmask    uint64
	sigpending uint64
	sigInfo    [65]siginfoShort
	altSP      uint64
	altSize    uint64
	altFlags   uint64

	g0Top uint64 // debugging: top of the thread's initial (g0) stack

	// CPU time charged by ticks (cputimer.go), in user mode and in the
	// kernel.
	utimeNs, stimeNs int64
}

// siginfoShort is what we remember of a pending signal.
type siginfoShort struct {
	code int32
	_    int32
	addr uint64
	pid  int32
	_    int32
}

// Thread states.
const (
	tsFree = iota
	tsRunnable
	tsRunning
	tsBlocked
	tsDead
)

const (
	kstackSize  = 64 << 10
	threadPages = 4 // thread struct area; the stack follows
	xsaveMax    = 8192
)

func threadAt(p uint64) *thread { return (*thread)(unsafe.Pointer(uintptr(p))) }
func cpuAt(p uint64) *cpu       { return (*cpu)(unsafe.Pointer(uintptr(p))) }

// thisCPU returns the per-CPU area of the running CPU.
func thisCPU() *cpu { return cpuAt(getGS()) }

// curThread returns the running thread.
func curThread() *thread { return threadAt(thisCPU().cur) }

// sysframe is the register save area mote_syscall builds on the kernel stack
// (lowest address first). Its layout is shared with entry_amd64.s.
type sysframe struct {
	xmm [16][2]uint64
	ax  uint64 // system call number in, result out
	bx  uint64
	bp  uint64
	dx  uint64
	si  uint64
	di  uint64
	r8  uint64
	r9  uint64
	r10 uint64
	r12 uint64
	r13 uint64
	r14 uint64
	r15 uint64
	usp uint64 // user SP after the CALL: points at the return address
}
