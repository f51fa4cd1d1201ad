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
	rfi, wfi         int32 // file indexes of the two ends (of a pipe2 pair)
	fifo             int32 // the FIFO's inode, for a named pipe
}

var pipes [maxPipes]pipe

func sysPipe2(fds, flags uint64) int64 {
	if flags&^(oNonblock|oCloexec|0x4000 /* O_DIRECT */) != 0 {
		return -eINVAL
	}
	if !userOK(fds, 8, true) {
		return -eFAULT
	}
	pi := newPipe()
	if pi < 0 {
		return -eMFILE
	}
	p := &pipes[pi]
	rfi := allocFile(fkPipeR, int32(oRdonly|flags&oNonblock))
	if rfi < 0 {
		p.used = false
		return -eMFILE
	}
	wfi := allocFile(fkPipeW, int32(oWronly|flags&oNonblock))
	if wfi < 0 {
		files[rfi].kind, files[rfi].refs = fkFree, 0
		p.used = false
		return -eMFILE
	}
	files[rfi].pipe, files[wfi].pipe = int32(pi), int32(pi)
	p.readers, p.writers, p.rfi, p.wfi = 1, 1, rfi, wfi
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
		pipeNotify(f.pipe, fkPipeW) // writers see ERR
	} else {
		p.writers--
		pipeNotify(f.pipe, fkPipeR) // readers see HUP
	}
	wakeWaiters(waitPipe, uint64(f.pipe), -1)
	if p.readers <= 0 && p.writers <= 0 {
		p.used = false
		if p.fifo != 0 {
			ind(p.fifo).data = 0
		}
	}
}

// pipeNotify tells epoll that the ends of kind (fkPipeR, fkPipeW) of pipe
// pi changed: the one of a pipe2 pair, or every open end of a FIFO.
func pipeNotify(pi int32, kind int32) {
	p := &pipes[pi]
	if p.fifo == 0 {
		if kind == fkPipeR {
			notifyFile(p.rfi)
		} else {
			notifyFile(p.wfi)
		}
		return
	}
	for i := range files {
		if files[i].kind == kind && files[i].pipe == pi && files[i].refs > 0 {
			notifyFile(int32(i))
		}
	}
}

// newPipe takes a free pipe with its ring, or returns -1.
func newPipe() int {
	for i := range pipes {
		p := &pipes[i]
		if p.used {
			continue
		}
		if p.buf == 0 {
			if p.buf = kallocPages(pipeSize / pageSize); p.buf == 0 {
				return -1
			}
		}
		*p = pipe{used: true, buf: p.buf, rfi: -1, wfi: -1}
		return i
	}
	return -1
}

// fifoOpen opens a named pipe (FIFO inode ino) as Linux does: the first
// opener creates the pipe; a blocking open for reading waits for a writer
// and one for writing waits for a reader; a non-blocking open for writing
// without a reader fails with ENXIO. O_RDWR (which Linux allows) is not
// supported.
func fifoOpen(ino int32, flags uint64) int64 {
	acc := flags & oAccmode
	if acc == oRdwr {
		return -eINVAL
	}
	nd := ind(ino)
	if nd.data == 0 {
		pi := newPipe()
		if pi < 0 {
			return -eMFILE
		}
		pipes[pi].fifo = ino
		nd.data = uint64(pi) + 1
	}
	pi := int32(nd.data - 1)
	p := &pipes[pi]
	nonblock := flags&oNonblock != 0
	kind := int32(fkPipeR)
	if acc == oWronly {
		if p.readers <= 0 && nonblock {
			if p.writers <= 0 {
				p.used = false
				nd.data = 0
			}
			return -eNXIO
		}
		kind = fkPipeW
	}
	fi := allocFile(kind, int32(flags&(oAccmode|oNonblock|oAppend)))
	if fi < 0 {
		return -eNFILE
	}
	f := &files[fi]
	f.pipe, f.node = pi, ino
	nd.opens++
	if kind == fkPipeR {
		p.readers++
	} else {
		p.writers++
	}
	wakeWaiters(waitPipe, uint64(pi), -1)
	// Wait for the other end.
	for !nonblock && (kind == fkPipeR && p.writers <= 0 || kind == fkPipeW && p.readers <= 0) {
		waitAdd(curThread(), waitPipe, uint64(pi))
		if block(0, true) == wakeSignal {
			releaseFile(fi)
			return -eINTR
		}
	}
	fd := installFd(fi, 0, flags&oCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
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
	pipeNotify(f.pipe, fkPipeW) // writable again
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
		pipeNotify(f.pipe, fkPipeR) // readable
	}
	return int64(written)
}
