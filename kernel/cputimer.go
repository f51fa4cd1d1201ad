package kernel

// CPU-time timers: what Go's CPU profiler arms (timer_create on
// CLOCK_THREAD_CPUTIME_ID with SIGEV_THREAD_ID, one per thread, and
// setitimer(ITIMER_PROF) as the fallback), plus timers on the process CPU
// clock. CPU time is accounted by the LAPIC tick: each tick charges its
// period to the thread it interrupted (running user code, or the kernel in
// one of its system calls; not an idle CPU), so these timers have the tick's
// resolution (10 ms by default, the period of Go's 100 Hz profiler).
// Timers on other clocks are not supported (EINVAL): Go uses its own.

const maxCPUTimers = 256

type cpuTimer struct {
	used      bool
	clock     int32 // clockThreadCPU or clockProcessCPU
	sig       int32
	tid       int32 // thread to signal (SIGEV_THREAD_ID), 0: the running one
	interval  int64 // ns
	remaining int64 // ns of CPU time until it fires; 0: disarmed
}

var (
	tickNs     int64 // the tick's period (BootInfo.TickNs)
	cpuTimers  [maxCPUTimers]cpuTimer
	armedTimer int // timers with remaining > 0
	itimerProf struct{ interval, remaining int64 }

	procUtimeNs, procStimeNs int64 // CPU time of every thread, dead ones too
)

const (
	siTimer       = -2 // SI_TIMER
	sigevSignal   = 0
	sigevNone     = 1
	sigevThreadID = 4
	itimerProfID  = 2
)

// chargeTick gives the tick's period of CPU time to t, which it
// interrupted in user mode or (user false) in the kernel, and fires the
// timers that are due.
func chargeTick(t *thread, user bool) {
	if user {
		t.utimeNs += tickNs
		procUtimeNs += tickNs
	} else {
		t.stimeNs += tickNs
		procStimeNs += tickNs
	}
	if tickNs == 0 || armedTimer == 0 && itimerProf.remaining == 0 {
		return
	}
	for i := range cpuTimers {
		tm := &cpuTimers[i]
		if !tm.used || tm.remaining == 0 || tm.clock == clockThreadCPU && tm.tid != t.tid {
			continue
		}
		if tm.remaining -= tickNs; tm.remaining > 0 {
			continue
		}
		target := t
		if tm.tid != 0 {
			target = findThread(tm.tid)
		}
		if target != nil && tm.sig != 0 {
			sendSignal(target, int(tm.sig), siTimer, 0)
		}
		tm.remaining = rearm(tm.remaining, tm.interval)
		if tm.remaining == 0 {
			armedTimer--
		}
	}
	if itimerProf.remaining > 0 {
		if itimerProf.remaining -= tickNs; itimerProf.remaining <= 0 {
			sendSignal(t, sigPROF, siKernel, 0)
			itimerProf.remaining = rearm(itimerProf.remaining, itimerProf.interval)
		}
	}
}

// rearm returns the time left after a timer that fired with left (<= 0)
// ns to spare: one more interval (at least a little), or 0 for a one-shot.
func rearm(left, interval int64) int64 {
	if interval <= 0 {
		return 0
	}
	return max(left+interval, 1)
}

func readTimespec(p uint64) (int64, bool) {
	sec, nsec := int64(*userU64(p)), int64(*userU64(p + 8))
	if sec < 0 || nsec < 0 || nsec >= 1e9 {
		return 0, false
	}
	return sec*1e9 + nsec, true
}

func writeTimespec(p uint64, ns int64) {
	*userU64(p) = uint64(ns / 1e9)
	*userU64(p + 8) = uint64(ns % 1e9)
}

func sysTimerCreate(clock, sevp, idp uint64) int64 {
	c := int32(clock)
	if c != clockThreadCPU && c != clockProcessCPU {
		return -eINVAL
	}
	if !userOK(idp, 4, true) {
		return -eFAULT
	}
	tm := cpuTimer{used: true, clock: c, sig: sigPROF}
	if c == clockThreadCPU {
		tm.tid = curThread().tid
	}
	if sevp != 0 {
		if !userOK(sevp, 64, false) {
			return -eFAULT
		}
		// struct sigevent: value (8), signo (4), notify (4), thread id (4).
		signo, notify := int32(*userU32(sevp + 8)), int32(*userU32(sevp + 12))
		switch notify {
		case sigevNone:
			signo = 0
		case sigevSignal:
		case sigevThreadID:
			tid := int32(*userU32(sevp + 16))
			if findThread(tid) == nil {
				return -eINVAL
			}
			tm.tid = tid
		default:
			return -eINVAL
		}
		if signo < 0 || signo > nsig {
			return -eINVAL
		}
		tm.sig = signo
	}
	for i := range cpuTimers {
		if !cpuTimers[i].used {
			cpuTimers[i] = tm
			*userU32(idp) = uint32(i)
			return 0
		}
	}
	return -eAGAIN
}

func timerAt(id uint64) *cpuTimer {
	if id >= maxCPUTimers || !cpuTimers[id].used {
		return nil
	}
	return &cpuTimers[id]
}

// sysTimerSettime arms timer id with the itimerspec at nv (interval, then
// value); an absolute time (TIMER_ABSTIME) counts from the clock's zero,
// taken here as now.
func sysTimerSettime(id, flags, nv, ov uint64) int64 {
	tm := timerAt(id)
	if tm == nil {
		return -eINVAL
	}
	if !userOK(nv, 32, false) || ov != 0 && !userOK(ov, 32, true) {
		return -eFAULT
	}
	interval, ok1 := readTimespec(nv)
	value, ok2 := readTimespec(nv + 16)
	if !ok1 || !ok2 {
		return -eINVAL
	}
	if ov != 0 {
		writeTimespec(ov, tm.interval)
		writeTimespec(ov+16, tm.remaining)
	}
	if tm.remaining > 0 {
		armedTimer--
	}
	tm.interval, tm.remaining = interval, value
	if value > 0 {
		armedTimer++
	}
	return 0
}

func sysTimerGettime(id, cur uint64) int64 {
	tm := timerAt(id)
	if tm == nil {
		return -eINVAL
	}
	if !userOK(cur, 32, true) {
		return -eFAULT
	}
	writeTimespec(cur, tm.interval)
	writeTimespec(cur+16, tm.remaining)
	return 0
}

func sysTimerDelete(id uint64) int64 {
	tm := timerAt(id)
	if tm == nil {
		return -eINVAL
	}
	if tm.remaining > 0 {
		armedTimer--
	}
	*tm = cpuTimer{}
	return 0
}

// sysSetitimer supports ITIMER_PROF (struct itimerval: interval, value,
// as timevals); ITIMER_REAL and ITIMER_VIRTUAL are EINVAL.
func sysSetitimer(which, nv, ov uint64) int64 {
	if which != itimerProfID {
		return -eINVAL
	}
	if nv != 0 && !userOK(nv, 32, false) || ov != 0 && !userOK(ov, 32, true) {
		return -eFAULT
	}
	if ov != 0 {
		*userU64(ov) = uint64(itimerProf.interval / 1e9)
		*userU64(ov + 8) = uint64(itimerProf.interval % 1e9 / 1000)
		*userU64(ov + 16) = uint64(itimerProf.remaining / 1e9)
		*userU64(ov + 24) = uint64(itimerProf.remaining % 1e9 / 1000)
	}
	if nv == 0 {
		return 0
	}
	tv := func(p uint64) (int64, bool) {
		sec, usec := int64(*userU64(p)), int64(*userU64(p + 8))
		if sec < 0 || usec < 0 || usec >= 1e6 {
			return 0, false
		}
		return sec*1e9 + usec*1e3, true
	}
	interval, ok1 := tv(nv)
	value, ok2 := tv(nv + 16)
	if !ok1 || !ok2 {
		return -eINVAL
	}
	itimerProf.interval, itimerProf.remaining = interval, value
	return 0
}

// sysGetrusage reports the tick-accounted CPU times of the process
// (RUSAGE_SELF) or the calling thread (RUSAGE_THREAD), and the memory in
// use as the maximum resident set; there are no children.
func sysGetrusage(who, p uint64) int64 {
	if !userOK(p, 144, true) {
		return -eFAULT
	}
	var u, s int64
	switch int32(who) {
	case 0: // RUSAGE_SELF
		u, s = procUtimeNs, procStimeNs
	case 1: // RUSAGE_THREAD
		t := curThread()
		u, s = t.utimeNs, t.stimeNs
	case -1: // RUSAGE_CHILDREN
	default:
		return -eINVAL
	}
	clear(userBytes(p, 144))
	*userU64(p) = uint64(u / 1e9)
	*userU64(p + 8) = uint64(u % 1e9 / 1e3)
	*userU64(p + 16) = uint64(s / 1e9)
	*userU64(p + 24) = uint64(s % 1e9 / 1e3)
	if int32(who) != -1 {
		*userU64(p + 32) = (usedFrames + kernelPages) * pageSize / 1024 // ru_maxrss, KiB
	}
	return 0
}
