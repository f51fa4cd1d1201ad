package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Signals with Linux semantics, enough for the Go runtime: faults become
// SIGSEGV/SIGFPE/SIGILL/SIGTRAP delivered to its handlers (so they turn into
// recoverable panics), tgkill(SIGURG) drives asynchronous preemption, and
// handlers return through rt_sigreturn. Frames are Linux rt_sigframes.

const (
	sigHUP   = 1
	sigINT   = 2
	sigILL   = 4
	sigTRAP  = 5
	sigABRT  = 6
	sigBUS   = 7
	sigFPE   = 8
	sigKILL  = 9
	sigSEGV  = 11
	sigPIPE  = 13
	sigTERM  = 15
	sigCHLD  = 17
	sigCONT  = 18
	sigSTOP  = 19
	sigURG   = 23
	sigPROF  = 27
	sigWINCH = 28
	nsig     = 64

	saSiginfo   = 0x4
	saOnstack   = 0x08000000
	saRestart   = 0x10000000
	saNodefer   = 0x40000000
	saResethand = 0x80000000
	saRestorer  = 0x04000000

	ssOnstack = 1
	ssDisable = 2

	siUser   = 0
	siKernel = 0x80
	siTkill  = -6
)

type sigaction struct {
	handler  uint64
	flags    uint64
	restorer uint64
	mask     uint64
}

var sigactions [nsig + 1]sigaction

func sigbit(sig int) uint64 { return 1 << uint(sig-1) }

const unblockable = 1<<(sigKILL-1) | 1<<(sigSTOP-1)

func sysRtSigaction(sig, act, oact, size uint64) int64 {
	if size != 8 {
		return -eINVAL
	}
	if sig < 1 || sig > nsig {
		return -eINVAL
	}
	if oact != 0 {
		if !userOK(oact, 32, true) {
			return -eFAULT
		}
		*(*sigaction)(unsafe.Pointer(uintptr(oact))) = sigactions[sig]
	}
	if act != 0 {
		if sig == sigKILL || sig == sigSTOP {
			return -eINVAL
		}
		if !userOK(act, 32, false) {
			return -eFAULT
		}
		a := *(*sigaction)(unsafe.Pointer(uintptr(act)))
		a.mask &^= unblockable
		sigactions[sig] = a
	}
	return 0
}

func sysRtSigprocmask(how, set, oset, size uint64) int64 {
	if size != 8 {
		return -eINVAL
	}
	t := curThread()
	old := t.sigmask
	if set != 0 {
		if !userOK(set, 8, false) {
			return -eFAULT
		}
		s := *userU64(set) &^ unblockable
		switch how {
		case 0: // SIG_BLOCK
			t.sigmask |= s
		case 1: // SIG_UNBLOCK
			t.sigmask &^= s
		case 2: // SIG_SETMASK
			t.sigmask = s
		default:
			return -eINVAL
		}
	}
	if oset != 0 {
		if !userOK(oset, 8, true) {
			return -eFAULT
		}
		*userU64(oset) = old
	}
	return 0
}

func onAltStack(t *thread, sp uint64) bool {
	return t.altSize != 0 && sp > t.altSP && sp <= t.altSP+t.altSize
}

func sysSigaltstack(ss, oss uint64) int64 {
	t := curThread()
	if oss != 0 {
		if !userOK(oss, 24, true) {
			return -eFAULT
		}
		flags := t.altFlags
		if t.altSize == 0 {
			flags = ssDisable
		}
		// Linux reports SS_ONSTACK when called on the alternate stack; the
		// caller's SP is not known here, so report the configured state.
		*userU64(oss) = t.altSP
		*userU64(oss + 8) = flags
		*userU64(oss + 16) = t.altSize
	}
	if ss != 0 {
		if !userOK(ss, 24, false) {
			return -eFAULT
		}
		sp, flags, size := *userU64(ss), uint64(*userU32(ss + 8)), *userU64(ss + 16)
		if flags&ssDisable != 0 {
			t.altSP, t.altSize, t.altFlags = 0, 0, ssDisable
			return 0
		}
		if flags&^uint64(ssOnstack|0x80000000) != 0 {
			return -eINVAL
		}
		if size < 2048 {
			return -eNOMEM
		}
		t.altSP, t.altSize, t.altFlags = sp, size, 0
	}
	return 0
}

// sendSignal makes sig pending on thread t and interrupts an interruptible
// sleep if t does not block it.
func sendSignal(t *thread, sig int, code int32, addr uint64) {
	// A signal already pending stays as it was, with its first siginfo
	// (Linux queues no second instance of a standard signal): a SIGPROF of
	// setitimer must not turn the per-thread timer's one into a kind the
	// runtime ignores.
	if t.sigpending&sigbit(sig) != 0 {
		return
	}
	t.sigpending |= sigbit(sig)
	t.sigInfo[sig] = siginfoShort{code: code, addr: addr, pid: 1}
	if t.state == tsBlocked && t.intrOK != 0 && t.sigmask&sigbit(sig) == 0 {
		wake(t, wakeSignal)
	}
}

func sysTgkill(tgid, tid, sig uint64) int64 {
	if int32(tgid) != 1 && int64(tgid) != -1 {
		return -eSRCH
	}
	return sysTkill(tid, sig)
}

func sysTkill(tid, sig uint64) int64 {
	if sig > nsig {
		return -eINVAL
	}
	t := findThread(int32(tid))
	if t == nil {
		return -eSRCH
	}
	if sig != 0 {
		sendSignal(t, int(sig), siTkill, 0)
	}
	return 0
}

func sysKill(pid, sig uint64) int64 {
	if int32(pid) != 1 && int32(pid) != 0 && int32(pid) != -1 {
		return -eSRCH
	}
	if sig > nsig {
		return -eINVAL
	}
	if sig == 0 {
		return 0
	}
	signalProcess(int(sig))
	return 0
}

// signalProcess sends a process-directed signal: to the first thread that
// does not block it (else to the running one).
func signalProcess(sig int) {
	target := curThread()
	for p := allThreads; p != 0; p = threadAt(p).allNext {
		t := threadAt(p)
		if t.state != tsDead && t.sigmask&sigbit(sig) == 0 {
			target = t
			break
		}
	}
	sendSignal(target, sig, siUser, 0)
}

// hostSignals delivers the signals the monitor posted (abi.BootInfo
// HostSignals); devPoll calls it when the word is not zero.
func hostSignals() {
	bi := (*abi.BootInfo)(unsafe.Pointer(uintptr(abi.BootInfoBase)))
	set := atomic.SwapUint64(&bi.HostSignals, 0)
	for sig := 1; sig <= nsig && set != 0; sig++ {
		if set&sigbit(sig) != 0 {
			set &^= sigbit(sig)
			signalProcess(sig)
		}
	}
}

// Default dispositions that ignore the signal.
func ignoredByDefault(sig int) bool {
	return sig == sigCHLD || sig == sigURG || sig == sigWINCH || sig == sigCONT
}

// Frame layout (Linux x86-64 rt_sigframe): pretcode, ucontext, siginfo.
const (
	ucOff       = 8
	ucStack     = 16
	ucMcontext  = 40
	ucSigmask   = 40 + 256
	ucSize      = 304
	siOff       = ucOff + ucSize
	siSize      = 128
	frameSize   = siOff + siSize
	fpstateSize = 512
)

// deliverSignals sets up the frame for one pending, unblocked signal of t,
// whose user context is in t's register fields. It reports whether the
// context changed.
func deliverSignals(t *thread) bool {
	pend := t.sigpending &^ t.sigmask
	if pend == 0 {
		return false
	}
	for sig := 1; sig <= nsig; sig++ {
		if pend&sigbit(sig) == 0 {
			continue
		}
		t.sigpending &^= sigbit(sig)
		act := sigactions[sig]

		switch act.handler {
		case 1: // SIG_IGN
			continue
		case 0: // SIG_DFL
			if ignoredByDefault(sig) {
				continue
			}
			killedBy(sig)
		}
		if !setupFrame(t, sig, &act) {
			killedBy(sigSEGV)
		}
		return true
	}
	return false
}

// killedBy ends the guest as Linux ends a process killed by sig.
func killedBy(sig int) {
	fmapSyncAll() // what the program wrote through shared file mappings, as Linux's page cache would keep it
	kprint("mote: program killed by signal ")
	kprintNum(int64(sig))
	kprint("\n")
	exitGuest(128 + sig)
}

func setupFrame(t *thread, sig int, act *sigaction) bool {
	sp := t.rsp
	onAlt := onAltStack(t, sp)
	if act.flags&saOnstack != 0 && t.altSize != 0 && t.altFlags&ssDisable == 0 && !onAlt {
		sp = t.altSP + t.altSize
	} else {
		sp -= 128 // red zone
	}
	sp -= fpstateSize
	sp &^= 63
	fp := sp
	sp -= frameSize
	sp = sp&^15 - 8
	if !userOK(sp, t.rsp-sp, true) && !userOK(sp, fp+fpstateSize-sp, true) {
		return false
	}
	b := userBytes(sp, fp+fpstateSize-sp)
	clear(b)
	*userU64(sp) = sigrestorerPC() // see mote_sigrestorer
	uc := sp + ucOff
	*userU64(uc + ucStack) = t.altSP
	ssFlags := uint64(0)
	if t.altSize == 0 || t.altFlags&ssDisable != 0 {
		ssFlags = ssDisable
	} else if onAltStack(t, sp) {
		ssFlags = ssOnstack
	}
	*userU64(uc + ucStack + 8) = ssFlags
	*userU64(uc + ucStack + 16) = t.altSize
	mc := uc + ucMcontext
	regs := [...]uint64{t.r8, t.r9, t.r10, t.r11, t.r12, t.r13, t.r14, t.r15,
		t.rdi, t.rsi, t.rbp, t.rbx, t.rdx, t.rax, t.rcx, t.rsp, t.rip, t.rflags}
	for i, r := range regs {
		*userU64(mc + uint64(i)*8) = r
	}
	*userU64(mc + 144) = 0x2b_0000_0000_0033 // cs 0x33, ss 0x2b as Linux shows them
	info := t.sigInfo[sig]
	if sig == sigSEGV || sig == sigFPE || sig == sigILL || sig == sigTRAP || sig == sigBUS {
		*userU64(mc + 160) = uint64(thisCPU().trapVector) // trapno
		*userU64(mc + 152) = thisCPU().trapErr
		*userU64(mc + 176) = info.addr // cr2
	}
	*userU64(mc + 184) = fp // fpstate
	*userU64(uc + ucSigmask) = t.sigmask
	copy(userBytes(fp, fpstateSize), t.fx[:])
	si := sp + siOff
	*userU32(si) = uint32(sig)
	*userU32(si + 8) = uint32(info.code)
	if info.code == siTkill || info.code == siUser {
		*userU32(si + 16) = uint32(info.pid)
	} else {
		*userU64(si + 16) = info.addr
	}
	if traceSig {
		kprint("deliver sig ")
		kprintNum(int64(sig))
		kprint(" tid ")
		kprintNum(int64(t.tid))
		kprint(" frame ")
		kprintNum(int64(sp))
		kprint(" rip ")
		kprintNum(int64(t.rip))
		kprint(" rsp ")
		kprintNum(int64(t.rsp))
		kprint("\n")
	}
	traceEv(evSignal, t.rip, uint64(sig))
	t.rsp = sp
	t.rip = act.handler
	t.rdi = uint64(sig)
	t.rsi = si
	t.rdx = uc
	t.rax = 0
	t.rflags &^= 1<<10 | 1<<8 // DF, TF
	if act.flags&saNodefer == 0 {
		t.sigmask |= sigbit(sig)
	}
	t.sigmask |= act.mask
	if act.flags&saResethand != 0 {
		sigactions[sig] = sigaction{}
	}
	return true
}

// sigreturn restores the context saved by setupFrame. frame is the address
// of the rt_sigframe (the SP at the rt_sigreturn call minus 8).
func sigreturn(t *thread, frame uint64) bool {
	uc := frame + ucOff
	if !userOK(uc, ucSize, false) {
		return false
	}
	mc := uc + ucMcontext
	r := func(i int) uint64 { return *userU64(mc + uint64(i)*8) }
	t.r8, t.r9, t.r10, t.r11 = r(0), r(1), r(2), r(3)
	t.r12, t.r13, t.r14, t.r15 = r(4), r(5), r(6), r(7)
	t.rdi, t.rsi, t.rbp, t.rbx = r(8), r(9), r(10), r(11)
	t.rdx, t.rax, t.rcx, t.rsp = r(12), r(13), r(14), r(15)
	t.rip = r(16)
	const userFlags = 0xcd5 | 1<<10 | 1<<8 | 1<<18 | 1<<21 // CF PF AF ZF SF OF DF TF AC ID
	t.rflags = t.rflags&^userFlags | r(17)&userFlags | 0x202
	fp := r(23)
	if fp != 0 {
		if !userOK(fp, fpstateSize, false) {
			return false
		}
		copy(t.fx[:], userBytes(fp, fpstateSize))
		// MXCSR reserved bits set would fault in FXRSTOR.
		m := (*uint32)(unsafe.Pointer(&t.fx[24]))
		*m &= 0xffff
	}
	t.sigmask = *userU64(uc + ucSigmask) &^ unblockable
	return true
}

// faultSignal turns a user-mode exception into a signal for t.
func faultSignal(t *thread, vector, errCode, cr2 uint64) {
	switch vector {
	case 14: // #PF
		if fmapBus { // a file mapping's page the file cannot give
			sendSignal(t, sigBUS, 2, cr2) // BUS_ADRERR
		} else {
			sendSignal(t, sigSEGV, segvCode(cr2), cr2)
		}
	case 0: // #DE
		sendSignal(t, sigFPE, 1, t.rip) // FPE_INTDIV
	case 16, 19: // #MF, #XM
		sendSignal(t, sigFPE, 0, t.rip)
	case 6: // #UD
		sendSignal(t, sigILL, 2, t.rip) // ILL_ILLOPN
	case 1, 3: // #DB, #BP
		sendSignal(t, sigTRAP, siKernel, 0)
	case 17: // #AC
		sendSignal(t, sigBUS, 1, t.rip)
	default: // #GP, #SS, #NP, ...
		sendSignal(t, sigSEGV, siKernel, 0)
	}
	// A synchronous fault must be handled now, even if blocked (Linux
	// forces it: a blocked or ignored fault signal kills the process).
	sig := sigSEGV
	switch vector {
	case 14:
		if fmapBus {
			sig = sigBUS
		}
	case 0, 16, 19:
		sig = sigFPE
	case 6:
		sig = sigILL
	case 1, 3:
		sig = sigTRAP
	case 17:
		sig = sigBUS
	}
	if t.sigmask&sigbit(sig) != 0 || sigactions[sig].handler <= 1 {
		if sigactions[sig].handler == 0 || t.sigmask&sigbit(sig) != 0 {
			kprint("mote: fatal fault, vector ")
			kprintNum(int64(vector))
			kprint(" at rip ")
			kprintNum(int64(t.rip))
			kprint(" addr ")
			kprintNum(int64(cr2))
			kprint("\n")
			killedBy(sig)
		}
	}
}
