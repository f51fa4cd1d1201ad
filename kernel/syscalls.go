package kernel

import (
	"syscall"
	"unsafe"

	"github.com/motevm/mote/abi"
)

// dispatch runs system call f.ax for thread t. Calls the library OS does not
// provide answer ENOSYS (logged once each with the debug boot flag).
func dispatch(t *thread, f *sysframe) int64 {
	a0, a1, a2, a3, a4, a5 := f.di, f.si, f.dx, f.r10, f.r8, f.r9
	switch f.ax {
	case 0:
		return sysRead(a0, a1, a2)
	case 1:
		return sysWrite(a0, a1, a2)
	case 3:
		return sysClose(a0)
	case 9:
		return sysMmap(a0, a1, a2, a3, a4, a5)
	case 10:
		return sysMprotect(a0, a1, a2)
	case 11:
		return sysMunmap(a0, a1)
	case 26:
		return sysMsync(a0, a1, a2)
	case 99:
		return sysSysinfo(a0)
	case 12: // brk: no program break; report it unmovable
		return userMin
	case 13:
		return sysRtSigaction(a0, a1, a2, a3)
	case 14:
		return sysRtSigprocmask(a0, a1, a2, a3)
	case 15: // rt_sigreturn
		if traceSig {
			kprint("sigreturn usp ")
			kprintNum(int64(f.usp))
			kprint("\n")
		}
		if !sigreturn(t, f.usp) {
			killedBy(sigSEGV)
		}
		t.full = 1
		return 0
	case 16:
		return sysIoctl(a0, a1, a2)
	case 24:
		yield()
		return 0
	case 27:
		return sysMincore(a0, a1, a2)
	case 222:
		return sysTimerCreate(a0, a1, a2)
	case 223:
		return sysTimerSettime(a0, a1, a2, a3)
	case 224:
		return sysTimerGettime(a0, a1)
	case 225: // timer_getoverrun: signals of a tick are never merged
		if timerAt(a0) == nil {
			return -eINVAL
		}
		return 0
	case 226:
		return sysTimerDelete(a0)
	case 36: // getitimer
		return sysSetitimer(a0, 0, a1)
	case 38:
		return sysSetitimer(a0, a1, a2)
	case 28:
		return sysMadvise(a0, a1, a2)
	case 32:
		return sysDup(a0)
	case 33:
		return sysDup3(a0, a1, 0, true)
	case 35:
		return sysNanosleep(clockMonotonic, 0, a0, a1)
	case 39: // getpid
		return 1
	case 56:
		return sysClone(t, f, a0, a1, a2, a3, a4)
	case 57, 58: // fork, vfork: a unikernel has one process
		return -eNOSYS
	case 60:
		exitThread(int(int32(a0)))
		return 0
	case 61: // wait4
		return -eCHILD
	case 62:
		return sysKill(a0, a1)
	case 63:
		return sysUname(a0)
	case 72:
		return sysFcntl(a0, a1, a2)
	case 96:
		return sysGettimeofday(a0)
	case 97:
		return sysPrlimit(0, a0, 0, a1)
	case 98:
		return sysGetrusage(a0, a1)
	case 102, 104, 107, 108: // getuid getgid geteuid getegid
		return 0
	case 110: // getppid
		return 0
	case 111, 121, 124: // getpgrp, getpgid, getsid
		return 1
	case 127: // rt_sigpending
		if !userOK(a0, 8, true) {
			return -eFAULT
		}
		*userU64(a0) = t.sigpending & t.sigmask
		return 0
	case 131:
		return sysSigaltstack(a0, a1)
	case 157:
		return sysPrctl(a0, a1)
	case 158:
		return sysArchPrctl(t, a0, a1)
	case 160: // setrlimit
		return 0
	case 186:
		return int64(t.tid)
	case 200:
		return sysTkill(a0, a1)
	case 201: // time
		s := clockNow(clockRealtime) / 1e9
		if a0 != 0 {
			if !userOK(a0, 8, true) {
				return -eFAULT
			}
			*userU64(a0) = uint64(s)
		}
		return s
	case 202:
		return sysFutex(a0, a1, a2, a3, a4, a5)
	case 203: // sched_setaffinity
		return 0
	case 204:
		return sysSchedGetaffinity(a0, a1, a2)
	case 213: // epoll_create
		if int32(a0) <= 0 {
			return -eINVAL
		}
		return sysEpollCreate1(0)
	case 218:
		t.clearTid = a0
		return int64(t.tid)
	case 228:
		return sysClockGettime(a0, a1)
	case 229: // clock_getres
		if clockNow(int(int32(a0))) < 0 {
			return -eINVAL
		}
		if a1 != 0 {
			if !userOK(a1, 16, true) {
				return -eFAULT
			}
			*userU64(a1) = 0
			*userU64(a1 + 8) = 1
		}
		return 0
	case 230:
		return sysNanosleep(int(int32(a0)), a1, a2, a3)
	case 231:
		fmapSyncAll() // what the program wrote through shared file mappings
		exitGuest(int(int32(a0)))
		return 0
	case 232: // epoll_wait
		return sysEpollPwait(a0, a1, a2, a3)
	case 233:
		return sysEpollCtl(a0, a1, a2, a3)
	case 234:
		return sysTgkill(a0, a1, a2)
	case 273: // set_robust_list
		return 0
	case 281:
		return sysEpollPwait(a0, a1, a2, a3)
	case 284:
		return sysEventfd2(a0, 0)
	case 290:
		return sysEventfd2(a0, a1)
	case 291:
		return sysEpollCreate1(a0)
	case 292:
		return sysDup3(a0, a1, a2, false)
	case 302:
		return sysPrlimit(a0, a1, a2, a3)
	case 318:
		return sysGetrandom(a0, a1, a2)
	case 441:
		return sysEpollPwait2(a0, a1, a2, a3)
	case 22: // pipe
		return sysPipe2(a0, 0)
	case 275, 276: // splice, tee: not for these files; callers (Go's
		// TCPConn.ReadFrom) fall back to read and write on EINVAL
		return -eINVAL
	case 293:
		return sysPipe2(a0, a1)
	case 41, 53: // socket, socketpair: the program has no network stack
		return -eAFNOSUPPORT // (guestnet serves them in programs that use net)
	case 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55, 288, 299, 307:
		// Socket calls on a descriptor that is not a socket (sockets are
		// served above the kernel, by guestnet).
		if fdGet(int(int32(a0))) == nil {
			return -eBADF
		}
		return -eNOTSOCK
	case abi.SysNetOpen:
		return sysNetOpen(a0)
	case abi.SysSockFd:
		return sysSockFd(a0)
	case abi.SysSockReady:
		return sysSockReady(a0, a1, a2)
	case abi.SysSockShare:
		return sysSockShare(a0)
	case abi.SysSockRefs:
		return sysSockRefs(a0)
	case sysTraceDump:
		traceDump(a0, a1, a2)
		return 0
	}
	if r, ok := dispatchFS(f.ax, a0, a1, a2, a3, a4); ok {
		return r
	}
	logUnimplemented(f.ax)
	return -eNOSYS
}

var (
	debugSyscalls bool
	loggedNr      [512]bool
)

func logUnimplemented(nr uint64) {
	if !debugSyscalls || nr >= uint64(len(loggedNr)) || loggedNr[nr] {
		return
	}
	loggedNr[nr] = true
	kprint("mote: unimplemented system call ")
	kprintNum(int64(nr))
	kprint(" (ENOSYS)\n")
}

func sysClockGettime(clk, ts uint64) int64 {
	ns := clockNow(int(int32(clk)))
	if ns < 0 {
		return -eINVAL
	}
	if !userOK(ts, 16, true) {
		return -eFAULT
	}
	*userU64(ts) = uint64(ns / 1e9)
	*userU64(ts + 8) = uint64(ns % 1e9)
	return 0
}

func sysGettimeofday(tv uint64) int64 {
	if tv != 0 {
		if !userOK(tv, 16, true) {
			return -eFAULT
		}
		ns := clockNow(clockRealtime)
		*userU64(tv) = uint64(ns / 1e9)
		*userU64(tv + 8) = uint64(ns % 1e9 / 1000)
	}
	return 0
}

func sysNanosleep(clk int, flags, req, rem uint64) int64 {
	if clockNow(clk) < 0 {
		return -eINVAL
	}
	if !userOK(req, 16, false) {
		return -eFAULT
	}
	sec, nsec := int64(*userU64(req)), int64(*userU64(req + 8))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return -eINVAL
	}
	ns := sec*1e9 + nsec
	var deadline int64
	if flags&1 != 0 { // TIMER_ABSTIME
		deadline = clockToUptime(clk, ns)
	} else {
		deadline = uptime() + ns
	}
	if deadline <= uptime() {
		return 0
	}
	if block(deadline, true) == wakeSignal {
		if rem != 0 && flags&1 == 0 && userOK(rem, 16, true) {
			left := deadline - uptime()
			if left < 0 {
				left = 0
			}
			*userU64(rem) = uint64(left / 1e9)
			*userU64(rem + 8) = uint64(left % 1e9)
		}
		return -eINTR
	}
	return 0
}

func sysSchedGetaffinity(pid, size, mask uint64) int64 {
	if size < 8 || size&7 != 0 {
		return -eINVAL
	}
	if !userOK(mask, 8, true) {
		return -eFAULT
	}
	n := numCPUs
	if n < 1 {
		n = 1
	}
	*userU64(mask) = 1<<uint(n) - 1
	return 8
}

func sysArchPrctl(t *thread, code, addr uint64) int64 {
	switch code {
	case 0x1002: // ARCH_SET_FS
		if addr >= 1<<47 {
			return -ePERM
		}
		t.fsbase = addr
		return 0
	case 0x1003: // ARCH_GET_FS
		if !userOK(addr, 8, true) {
			return -eFAULT
		}
		*userU64(addr) = t.fsbase
		return 0
	}
	return -eINVAL
}

func sysPrctl(option, arg uint64) int64 {
	switch option {
	case 15, 16: // PR_SET_NAME, PR_GET_NAME
		return 0
	}
	return -eINVAL
}

func sysPrlimit(pid, resource, newp, oldp uint64) int64 {
	if pid != 0 && pid != 1 {
		return -eSRCH
	}
	if resource >= 16 {
		return -eINVAL
	}
	if oldp != 0 {
		if !userOK(oldp, 16, true) {
			return -eFAULT
		}
		cur, max := ^uint64(0), ^uint64(0)
		switch resource {
		case 7: // RLIMIT_NOFILE
			cur, max = maxFds, maxFds
		case 3: // RLIMIT_STACK
			cur = 8 << 20
		}
		*userU64(oldp) = cur
		*userU64(oldp + 8) = max
	}
	return 0
}

func sysGetrandom(buf, n, flags uint64) int64 {
	if flags&^7 != 0 {
		return -eINVAL
	}
	if n > 32<<20 {
		n = 32 << 20
	}
	if !userOK(buf, n, true) {
		return -eFAULT
	}
	randomFill(buf, n)
	return int64(n)
}

func setField(dst *[65]int8, s string) {
	for i := 0; i < len(dst)-1 && i < len(s); i++ {
		dst[i] = int8(s[i])
	}
}

func sysUname(p uint64) int64 {
	if !userOK(p, uint64(unsafe.Sizeof(syscall.Utsname{})), true) {
		return -eFAULT
	}
	u := (*syscall.Utsname)(unsafe.Pointer(uintptr(p)))
	*u = syscall.Utsname{}
	setField(&u.Sysname, "Linux")
	setField(&u.Nodename, unsafe.String(&hostname[0], hostnameLen))
	setField(&u.Release, "6.1.0-mote")
	setField(&u.Version, "#1 SMP mote")
	setField(&u.Machine, "x86_64")
	setField(&u.Domainname, "(none)")
	return 0
}

// Clone flags.
const (
	cloneVM            = 0x100
	cloneFS            = 0x200
	cloneFiles         = 0x400
	cloneSighand       = 0x800
	cloneThread        = 0x10000
	cloneSettls        = 0x80000
	cloneParentSettid  = 0x100000
	cloneChildCleartid = 0x200000
	cloneChildSettid   = 0x1000000
)

// sysClone creates a thread. Only threads of this one process exist: a
// request for a new process (fork, vfork) fails with ENOSYS.
func sysClone(t *thread, f *sysframe, flags, newsp, ptid, ctid, tls uint64) int64 {
	const need = cloneVM | cloneSighand | cloneThread
	if flags&need != need {
		return -eNOSYS
	}
	if newsp == 0 {
		return -eINVAL
	}
	c := newThread()
	if c == nil {
		return -eAGAIN
	}
	// The child returns from the same call site with RAX = 0 on its stack.
	c.rbx, c.rbp, c.rdx = f.bx, f.bp, f.dx
	c.rsi, c.rdi = f.si, f.di
	c.r8, c.r9, c.r10 = f.r8, f.r9, f.r10
	c.r12, c.r13, c.r14, c.r15 = f.r12, f.r13, f.r14, f.r15
	c.rax = 0
	c.rip = *userU64(f.usp)
	c.rsp = newsp
	c.g0Top = newsp
	c.rcx = c.rip
	c.rflags = 0x202
	c.r11 = c.rflags
	fxsave(threadAddr(c))
	for i := 0; i < 16; i++ {
		*(*[2]uint64)(unsafe.Pointer(&c.fx[160+16*i])) = f.xmm[i]
	}
	c.fsbase = t.fsbase
	if flags&cloneSettls != 0 {
		c.fsbase = tls
	}
	c.sigmask = t.sigmask
	if flags&cloneParentSettid != 0 && userOK(ptid, 4, true) {
		*userU32(ptid) = uint32(c.tid)
	}
	if flags&cloneChildSettid != 0 && userOK(ctid, 4, true) {
		*userU32(ctid) = uint32(c.tid)
	}
	if flags&cloneChildCleartid != 0 {
		c.clearTid = ctid
	}
	if !userOK(newsp-24, 24, true) {
		freeThread(c)
		return -eFAULT
	}
	runqPut(c)
	return int64(c.tid)
}

const traceSig = false
