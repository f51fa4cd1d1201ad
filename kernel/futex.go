package kernel

import "sync/atomic"

// Wait queue: blocked threads waiting for a futex word or an epoll instance,
// linked through thread.next (a blocked thread is never on the run queue).
// Go programs have tens of threads, so a list is the right size.
var waitHead uint64

const (
	waitNone = iota
	waitFutex
	waitEpoll
	waitEventfd
	waitStdin
	waitPipe
	waitP9     // a 9P reply (ninep.go): addr is the device base + slot
	waitP9Slot // a free 9P slot: addr is the device base
	waitVFS    // the file tree's lock (ninefs.go)
)

func waitAdd(t *thread, kind int32, addr uint64) {
	t.waitKind = kind
	t.waitAddr = addr
	t.next = waitHead
	waitHead = threadAddr(t)
}

func waitRemove(t *thread) {
	if t.waitKind == waitNone {
		return
	}
	t.waitKind = waitNone
	p := threadAddr(t)
	if waitHead == p {
		waitHead = t.next
	} else {
		for q := waitHead; q != 0; q = threadAt(q).next {
			if threadAt(q).next == p {
				threadAt(q).next = t.next
				break
			}
		}
	}
	t.next = 0
}

// wakeWaiters wakes up to n threads waiting on (kind, addr); n < 0 wakes all.
func wakeWaiters(kind int32, addr uint64, n int) int {
	woken := 0
	for q := waitHead; q != 0 && (n < 0 || woken < n); {
		t := threadAt(q)
		q = t.next
		if t.waitKind == kind && t.waitAddr == addr {
			wake(t, wakeNormal)
			woken++
		}
	}
	return woken
}

const (
	futexWait        = 0
	futexWakeOp      = 5
	futexRequeue     = 3
	futexCmpRequeue  = 4
	futexWaitBitset  = 9
	futexWakeBitset  = 10
	futexPrivateFlag = 128
	futexClockRT     = 256
)

func futexWake(addr uint64, n int) int { return wakeWaiters(waitFutex, addr, n) }

func sysFutex(addr, op, val, timeout, addr2, val3 uint64) int64 {
	cmd := op &^ (futexPrivateFlag | futexClockRT)
	switch cmd {
	case futexWait, futexWaitBitset:
		if addr&3 != 0 {
			return -eINVAL
		}
		if !userOK(addr, 4, false) {
			return -eFAULT
		}
		var deadline int64
		if timeout != 0 {
			if !userOK(timeout, 16, false) {
				return -eFAULT
			}
			sec, nsec := int64(*userU64(timeout)), int64(*userU64(timeout + 8))
			if sec < 0 || nsec < 0 || nsec >= 1e9 {
				return -eINVAL
			}
			ns := sec*1e9 + nsec
			if cmd == futexWait {
				deadline = uptime() + ns
			} else {
				clk := clockMonotonic
				if op&futexClockRT != 0 {
					clk = clockRealtime
				}
				deadline = clockToUptime(clk, ns)
			}
			if deadline <= 0 {
				deadline = 1
			}
		}
		if atomic.LoadUint32(userU32(addr)) != uint32(val) {
			return -eAGAIN
		}
		t := curThread()
		waitAdd(t, waitFutex, addr)
		switch block(deadline, true) {
		case wakeTimeout:
			return -eTIMEDOUT
		case wakeSignal:
			return -eINTR
		}
		return 0
	case futexWakeOp, futexWakeBitset:
		if cmd == futexWakeOp {
			return -eNOSYS
		}
		fallthrough
	case 1: // FUTEX_WAKE
		n := int(int32(val))
		if n <= 0 {
			return 0
		}
		return int64(futexWake(addr, n))
	case futexRequeue, futexCmpRequeue:
		if cmd == futexCmpRequeue {
			if !userOK(addr, 4, false) {
				return -eFAULT
			}
			if atomic.LoadUint32(userU32(addr)) != uint32(val3) {
				return -eAGAIN
			}
		}
		woken := futexWake(addr, int(int32(val)))
		moved := 0
		limit := int(int32(timeout)) // val2 is passed in the timeout slot
		for q := waitHead; q != 0 && moved < limit; q = threadAt(q).next {
			t := threadAt(q)
			if t.waitKind == waitFutex && t.waitAddr == addr {
				t.waitAddr = addr2
				moved++
			}
		}
		return int64(woken + moved)
	}
	return -eNOSYS
}
