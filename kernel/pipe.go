package kernel

import "unsafe"

// Pipes (pipe, pipe2): a 64 KiB ring per pipe, as Linux's default
// capacity, taken from kernel memory on first use and reused. Reads block
// while the pipe is empty and has writers, and return 0 once it has none;
// writes block while it is full and fail with EPIPE once it has no reader
// (no SIGPIPE: the Go runtime ignores it for descriptors other than 1 and
// 2 anyway). epoll sees IN/HUP on the read end and OUT/ERR on the write end.

const (
	maxPipes = 256
	pipeSize = 64 << 10
	pipeBuf  = 4096 // PIPE_BUF: writes up to this size are atomic
)

type pipe struct {
	used             bool
	buf              uint64 // kernel pages, kept when the pipe is freed
	head, n          uint32 // ring: data is [head, head+n) mod pipeSize
	readers, writers int32
	rfi, wfi         int32 // file indexes of the two ends
}

var pipes [maxPipes]pipe

func sysPipe2(fds, flags uint64) int64 {
	if flags&^(oNonblock|oCloexec|0x4000 /* O_DIRECT */) != 0 {
		return -eINVAL
	}
	if !userOK(fds, 8, true) {
		return -eFAULT
	}
	pi := -1
	for i := range pipes {
		if !pipes[i].used {
			pi = i
			break
		}
	}
	if pi < 0 {
		return -eMFILE
	}
	p := &pipes[pi]
	if p.buf == 0 {
		p.buf = kallocPages(pipeSize / pageSize)
		if p.buf == 0 {
			return -eNOMEM
		}
	}
	rfi := allocFile(fkPipeR, int32(oRdonly|flags&oNonblock))
	if rfi < 0 {
		return -eMFILE
	}
	wfi := allocFile(fkPipeW, int32(oWronly|flags&oNonblock))
	if wfi < 0 {
		releaseFile(rfi)
		return -eMFILE
	}
	files[rfi].pipe, files[wfi].pipe = int32(pi), int32(pi)
	*p = pipe{used: true, buf: p.buf, readers: 1, writers: 1, rfi: rfi, wfi: wfi}
	cloexec := flags&oCloexec != 0
	rfd := installFd(rfi, 0, cloexec)
	if rfd < 0 {
		releaseFile(rfi)
		releaseFile(wfi)
		return rfd
	}
	wfd := installFd(wfi, 0, cloexec)
	if wfd < 0 {
		fdTable[rfd] = 0
		releaseFile(rfi)
		releaseFile(wfi)
		return wfd
	}
	*userU32(fds) = uint32(rfd)
	*userU32(fds + 4) = uint32(wfd)
	return 0
}

// pipeRelease is called when an end's last reference goes.
func pipeRelease(f *file) {
	p := &pipes[f.pipe]
	if f.kind == fkPipeR {
		p.readers--
		notifyFile(p.wfi) // writers see ERR
	} else {
		p.writers--
		notifyFile(p.rfi) // readers see HUP
	}
	wakeWaiters(waitPipe, uint64(f.pipe), -1)
	if p.readers <= 0 && p.writers <= 0 {
		p.used = false
	}
}

func pipeReadiness(f *file) uint32 {
	p := &pipes[f.pipe]
	if f.kind == fkPipeR {
		ev := uint32(0)
		if p.n > 0 {
			ev |= epollIn
		}
		if p.writers <= 0 {
			ev |= epollHup
		}
		return ev
	}
	if p.readers <= 0 {
		return epollOut | epollErr
	}
	if p.n < pipeSize {
		return epollOut
	}
	return 0
}

func pipeRead(f *file, dst, n uint64) int64 {
	p := &pipes[f.pipe]
	for p.n == 0 {
		if p.writers <= 0 || n == 0 {
			return 0
		}
		if f.flags&oNonblock != 0 {
			return -eAGAIN
		}
		waitAdd(curThread(), waitPipe, uint64(f.pipe))
		if block(0, true) == wakeSignal {
			return -eINTR
		}
	}
	m := uint32(min(n, uint64(p.n)))
	ring := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p.buf))), pipeSize)
	out := userBytes(dst, uint64(m))
	c := copy(out, ring[p.head:min(p.head+m, pipeSize)])
	copy(out[c:], ring[:int(m)-c])
	p.head = (p.head + m) % pipeSize
	p.n -= m
	wakeWaiters(waitPipe, uint64(f.pipe), -1)
	notifyFile(p.wfi) // writable again
	return int64(m)
}

func pipeWrite(f *file, src, n uint64) int64 {
	p := &pipes[f.pipe]
	written := uint64(0)
	for written < n {
		if p.readers <= 0 {
			if written > 0 {
				return int64(written)
			}
			return -ePIPE
		}
		room := uint64(pipeSize - p.n)
		// Up to PIPE_BUF bytes go in one piece or not at all.
		if room == 0 || (n <= pipeBuf && room < n) {
			if f.flags&oNonblock != 0 {
				if written > 0 {
					return int64(written)
				}
				return -eAGAIN
			}
			waitAdd(curThread(), waitPipe, uint64(f.pipe))
			if block(0, true) == wakeSignal {
				if written > 0 {
					return int64(written)
				}
				return -eINTR
			}
			continue
		}
		m := min(room, n-written)
		ring := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p.buf))), pipeSize)
		in := userBytes(src+written, m)
		tail := (p.head + p.n) % pipeSize
		c := copy(ring[tail:], in)
		copy(ring[:], in[c:])
		p.n += uint32(m)
		written += m
		wakeWaiters(waitPipe, uint64(f.pipe), -1)
		notifyFile(p.rfi) // readable
	}
	return int64(written)
}
