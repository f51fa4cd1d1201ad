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

// A registration. Watches of one file are linked through fileNext (from
// fileWatch[fi]); watches that may have events are linked through
// readyNext into their instance's ready list, so notifying a file and
// collecting events cost what is ready, not what is registered. Links are
// index+1, 0 ending a list.
type watch struct {
	used      bool
	armed     bool // ET: state changed since last report
	dead      bool // ONESHOT fired
	queued    bool // on its instance's ready list (even when no longer used)
	ep        int32
	fd        int32
	fi        int32
	events    uint32
	data      uint64
	fileNext  int32
	readyNext int32
}

var (
	epollUsed [maxEpolls]bool
	watches   [maxWatch]watch
	fileWatch [maxFiles]int32  // first watch of each file, index+1
	readyHead [maxEpolls]int32 // ready list of each instance, index+1
	readyTail [maxEpolls]int32
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

// watchUnlink removes watch i from its file's list and frees it. A queued
// watch stays on its ready list until collected (the slot is not reused
// before).
func watchUnlink(i int32) {
	w := &watches[i]
	link := &fileWatch[w.fi]
	for *link != 0 {
		if *link-1 == i {
			*link = w.fileNext
			break
		}
		link = &watches[*link-1].fileNext
	}
	w.used = false
	w.fileNext = 0
}

func epollFree(ep int32) {
	epollUsed[ep] = false
	for i := range watches {
		w := &watches[i]
		if w.ep != ep {
			continue
		}
		if w.used {
			watchUnlink(int32(i))
		}
		w.queued = false
		w.readyNext = 0
	}
	readyHead[ep], readyTail[ep] = 0, 0
}

// epollForget drops registrations of fd when it is closed.
func epollForget(fd, fi int32) {
	for l := fileWatch[fi]; l != 0; {
		i := l - 1
		l = watches[i].fileNext
		if watches[i].fd == fd {
			watchUnlink(i)
		}
	}
}

// pollable reports whether a file kind can be registered.
func pollable(f *file) bool {
	return f.kind == fkEventfd || f.kind == fkNetdev || f.kind == fkSock || f.kind == fkPipeR || f.kind == fkPipeW
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
	case fkPipeR, fkPipeW:
		return pipeReadiness(f)
	}
	return 0
}

// enqueue puts watch i on its instance's ready list.
func enqueue(i int32) {
	w := &watches[i]
	if w.queued {
		return
	}
	w.queued = true
	w.readyNext = 0
	if readyTail[w.ep] == 0 {
		readyHead[w.ep] = i + 1
	} else {
		watches[readyTail[w.ep]-1].readyNext = i + 1
	}
	readyTail[w.ep] = i + 1
}

// notifyFile marks registrations of file fi as changed and wakes waiters.
func notifyFile(fi int32) {
	for l := fileWatch[fi]; l != 0; l = watches[l-1].fileNext {
		w := &watches[l-1]
		w.armed = true
		if !w.dead {
			enqueue(l - 1)
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
	idx := int32(-1)
	for l := fileWatch[fi]; l != 0; l = watches[l-1].fileNext {
		if watches[l-1].ep == e.ep && watches[l-1].fd == int32(fd) {
			idx = l - 1
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
			w := &watches[i]
			if w.used || w.queued {
				continue
			}
			*w = watch{used: true, ep: e.ep, fd: int32(fd), fi: fi, events: events, data: data, armed: true}
			w.fileNext = fileWatch[fi]
			fileWatch[fi] = int32(i) + 1
			if readiness(f)&(events|epollErr|epollHup) != 0 {
				enqueue(int32(i))
				wakeWaiters(waitEpoll, uint64(e.ep), -1)
			}
			return 0
		}
		return -eNOMEM
	case 2: // DEL
		if idx < 0 {
			return -eNOENT
		}
		watchUnlink(idx)
		return 0
	case 3: // MOD
		if idx < 0 {
			return -eNOENT
		}
		w := &watches[idx]
		w.events, w.data, w.armed, w.dead = events, data, true, false
		if readiness(f)&(events|epollErr|epollHup) != 0 {
			enqueue(idx)
			wakeWaiters(waitEpoll, uint64(e.ep), -1)
		}
		return 0
	}
	return -eINVAL
}

// epollCollect fills up to max events from the ready list; it returns how
// many. Level-triggered watches that are still ready stay on the list.
func epollCollect(ep int32, evs uint64, max int) int {
	n := 0
	// Walk the list once: entries kept go to a new list.
	l := readyHead[ep]
	readyHead[ep], readyTail[ep] = 0, 0
	for l != 0 {
		i := l - 1
		w := &watches[i]
		l = w.readyNext
		w.queued = false
		if n >= max {
			enqueue(i)
			continue
		}
		if !w.used || w.dead {
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
		} else if w.events&epollEt == 0 {
			enqueue(i) // level-triggered: look again next time
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
