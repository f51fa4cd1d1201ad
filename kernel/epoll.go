package kernel

import "unsafe"

// epoll and eventfd, as the Go runtime's netpoller uses them: edge- and
// level-triggered registrations, EPOLLONESHOT, blocking waits with timeouts
// and signal interruption. File kinds that Linux cannot poll (regular files)
// refuse registration with EPERM, so os falls back to blocking I/O.

const (
	epollIn      = 0x1
	epollPri     = 0x2
	epollOut     = 0x4
	epollErr     = 0x8
	epollHup     = 0x10
	epollRdhup   = 0x2000
	epollOneshot = 1 << 30
	epollEt      = 1 << 31

	maxEpolls = 64
	maxWatch  = 4096
)

type watch struct {
	used   bool
	ep     int32
	fd     int32
	fi     int32
	events uint32
	data   uint64
	armed  bool // ET: state changed since last report
	dead   bool // ONESHOT fired
}

var (
	epollUsed [maxEpolls]bool
	watches   [maxWatch]watch
)

func sysEpollCreate1(flags uint64) int64 {
	if flags&^oCloexec != 0 {
		return -eINVAL
	}
	ep := int32(-1)
	for i := range epollUsed {
		if !epollUsed[i] {
			ep = int32(i)
			break
		}
	}
	if ep < 0 {
		return -eMFILE
	}
	fi := allocFile(fkEpoll, oRdwr)
	if fi < 0 {
		return -eMFILE
	}
	files[fi].ep = ep
	epollUsed[ep] = true
	fd := installFd(fi, 0, flags&oCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
}

func epollFree(ep int32) {
	epollUsed[ep] = false
	for i := range watches {
		if watches[i].used && watches[i].ep == ep {
			watches[i].used = false
		}
	}
}

// epollForget drops registrations of fd when it is closed.
func epollForget(fd, fi int32) {
	for i := range watches {
		if watches[i].used && watches[i].fd == fd && watches[i].fi == fi {
			watches[i].used = false
		}
	}
}

// pollable reports whether a file kind can be registered.
func pollable(f *file) bool {
	return f.kind == fkEventfd || f.kind == fkNetdev || f.kind == fkSock
}

// readiness returns the current events of a file.
func readiness(f *file) uint32 {
	switch f.kind {
	case fkEventfd:
		ev := uint32(0)
		if f.count > 0 {
			ev |= epollIn
		}
		if f.count < ^uint64(0)-1 {
			ev |= epollOut
		}
		return ev
	case fkNetdev:
		return netReadiness()
	case fkSock:
		return f.ready
	}
	return 0
}

// notifyFile marks registrations of file fi as changed and wakes waiters.
func notifyFile(fi int32) {
	for i := range watches {
		w := &watches[i]
		if w.used && w.fi == fi {
			w.armed = true
			wakeWaiters(waitEpoll, uint64(w.ep), -1)
		}
	}
}

func sysEpollCtl(epfd, op, fd, evp uint64) int64 {
	e := fdGet(int(int32(epfd)))
	if e == nil {
		return -eBADF
	}
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if e.kind != fkEpoll || epfd == fd {
		return -eINVAL
	}
	if !pollable(f) {
		return -ePERM
	}
	fi := fdTable[fd] - 1
	idx := -1
	for i := range watches {
		if watches[i].used && watches[i].ep == e.ep && watches[i].fd == int32(fd) {
			idx = i
			break
		}
	}
	var events uint32
	var data uint64
	if op != 2 {
		if !userOK(evp, 12, false) {
			return -eFAULT
		}
		events = *userU32(evp)
		data = *(*uint64)(unsafe.Pointer(uintptr(evp + 4)))
	}
	switch op {
	case 1: // ADD
		if idx >= 0 {
			return -eEXIST
		}
		for i := range watches {
			if !watches[i].used {
				watches[i] = watch{used: true, ep: e.ep, fd: int32(fd), fi: fi, events: events, data: data, armed: true}
				if readiness(f)&events != 0 {
					wakeWaiters(waitEpoll, uint64(e.ep), -1)
				}
				return 0
			}
		}
		return -eNOMEM
	case 2: // DEL
		if idx < 0 {
			return -eNOENT
		}
		watches[idx].used = false
		return 0
	case 3: // MOD
		if idx < 0 {
			return -eNOENT
		}
		w := &watches[idx]
		w.events, w.data, w.armed, w.dead = events, data, true, false
		return 0
	}
	return -eINVAL
}

// epollCollect fills up to max events; it returns how many.
func epollCollect(ep int32, evs uint64, max int) int {
	n := 0
	for i := range watches {
		if n >= max {
			break
		}
		w := &watches[i]
		if !w.used || w.ep != ep || w.dead {
			continue
		}
		ready := readiness(&files[w.fi]) & (w.events | epollErr | epollHup)
		if ready == 0 {
			continue
		}
		if w.events&epollEt != 0 {
			if !w.armed {
				continue
			}
			w.armed = false
		}
		if w.events&epollOneshot != 0 {
			w.dead = true
		}
		p := evs + uint64(n)*12
		*userU32(p) = ready
		*(*uint64)(unsafe.Pointer(uintptr(p + 4))) = w.data
		n++
	}
	return n
}

func epollWait(epfd, evs, max uint64, deadline int64, nonblock bool) int64 {
	e := fdGet(int(int32(epfd)))
	if e == nil {
		return -eBADF
	}
	if e.kind != fkEpoll || int32(max) <= 0 || max > 1<<20 {
		return -eINVAL
	}
	if !userOK(evs, max*12, true) {
		return -eFAULT
	}
	for {
		devPoll()
		n := epollCollect(e.ep, evs, int(max))
		if n > 0 || nonblock {
			return int64(n)
		}
		if deadline > 0 && uptime() >= deadline {
			return 0
		}
		waitAdd(curThread(), waitEpoll, uint64(e.ep))
		switch block(deadline, true) {
		case wakeSignal:
			return -eINTR
		case wakeTimeout:
			return 0
		}
		// The epoll fd may have been closed meanwhile.
		if fdGet(int(int32(epfd))) != e {
			return -eBADF
		}
	}
}

func sysEpollPwait(epfd, evs, max, timeoutMs uint64) int64 {
	to := int64(int32(timeoutMs))
	var deadline int64
	if to > 0 {
		deadline = uptime() + to*1_000_000
	}
	return epollWait(epfd, evs, max, deadline, to == 0)
}

func sysEpollPwait2(epfd, evs, max, ts uint64) int64 {
	if ts == 0 {
		return epollWait(epfd, evs, max, 0, false)
	}
	if !userOK(ts, 16, false) {
		return -eFAULT
	}
	ns := int64(*userU64(ts))*1e9 + int64(*userU64(ts + 8))
	if ns <= 0 {
		return epollWait(epfd, evs, max, 0, true)
	}
	return epollWait(epfd, evs, max, uptime()+ns, false)
}

const (
	efdSemaphore = 1
	efdNonblock  = oNonblock
	efdCloexec   = oCloexec
)

func sysEventfd2(initval, flags uint64) int64 {
	if flags&^(efdSemaphore|efdNonblock|efdCloexec) != 0 {
		return -eINVAL
	}
	fi := allocFile(fkEventfd, int32(oRdwr|flags&efdNonblock))
	if fi < 0 {
		return -eMFILE
	}
	files[fi].count = uint64(uint32(initval))
	if flags&efdSemaphore != 0 {
		files[fi].efdSem = 1
	}
	fd := installFd(fi, 0, flags&efdCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
}

func fileIndex(f *file) int32 {
	return int32((uintptr(unsafe.Pointer(f)) - uintptr(unsafe.Pointer(&files[0]))) / unsafe.Sizeof(file{}))
}

func eventfdRead(f *file, p, n uint64) int64 {
	if n < 8 {
		return -eINVAL
	}
	for f.count == 0 {
		if f.flags&oNonblock != 0 {
			return -eAGAIN
		}
		waitAdd(curThread(), waitEventfd, uint64(fileIndex(f)))
		if block(0, true) == wakeSignal {
			return -eINTR
		}
	}
	v := f.count
	if f.efdSem != 0 {
		v = 1
	}
	f.count -= v
	*userU64(p) = v
	notifyFile(fileIndex(f)) // now writable
	return 8
}

func eventfdWrite(f *file, p, n uint64) int64 {
	if n < 8 {
		return -eINVAL
	}
	v := *userU64(p)
	if v == ^uint64(0) {
		return -eINVAL
	}
	if f.count+v < f.count || f.count+v == ^uint64(0) {
		return -eAGAIN
	}
	f.count += v
	if v > 0 {
		fi := fileIndex(f)
		notifyFile(fi)
		wakeWaiters(waitEventfd, uint64(fi), -1)
	}
	return 8
}
