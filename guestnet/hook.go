package guestnet

import (
	"github.com/motevm/mote/abi"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func init() {
	sockFds = syscallRegister(hook)
	// The kernel marks the duplicates of sockets it makes for the
	// runtime's own fcntl, which does not pass the hook.
	rawSyscall(abi.SysSockShare, uintptr(unsafe.Pointer(sockFds)), 0, 0)
}

func ret(v int, e syscall.Errno) (uintptr, uintptr, syscall.Errno) {
	if e != 0 {
		return ^uintptr(0), 0, e
	}
	return uintptr(v), 0, 0
}

// hook serves the system calls package syscall hands over (see
// build/sockhook): socket creation, and calls on socket descriptors. a
// holds the arguments, p the pointer arguments in order.
func hook(trap uintptr, a [6]uintptr, p [3]unsafe.Pointer) (uintptr, uintptr, syscall.Errno) {
	switch trap {
	case syscall.SYS_SOCKET:
		fd, e := sysSocket(int(a[0]), int(a[1]), int(a[2]))
		return ret(int(fd), e)
	case syscall.SYS_SOCKETPAIR:
		return ret(0, sysSocketpair(int(int32(a[0])), int(int32(a[1])), int(int32(a[2])), p[0]))
	}
	if trap == syscall.SYS_DUP2 || trap == syscall.SYS_DUP3 {
		return dup2(trap, a) // either descriptor may be the socket
	}
	fd := int32(a[0])
	s := lookup(a[0])
	if s == nil {
		// Not a descriptor of ours (the hook hands over socket-only
		// calls whatever the descriptor), or one closed meanwhile: a
		// duplicate of a socket made behind the hook's back is adopted,
		// other calls go to the kernel.
		if s = adopt(a[0]); s == nil {
			return passThrough(trap, a, p)
		}
	}
	if s.nl != nil {
		if r1, r2, e, ok := s.nlCall(trap, a, p); ok {
			return r1, r2, e
		}
	}
	if s.ux != nil {
		if r1, r2, e, ok := s.uxCall(trap, a, p); ok {
			return r1, r2, e
		}
	}
	switch trap {
	case syscall.SYS_CLOSE:
		release(fd)
		r, e := rawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
		return ret(int(r), e)
	case syscall.SYS_DUP:
		r, e := rawSyscall(syscall.SYS_DUP, uintptr(fd), 0, 0)
		if e == 0 {
			s.install(int32(r))
		}
		return ret(int(r), e)
	case syscall.SYS_FCNTL:
		switch a[1] {
		case syscall.F_DUPFD, syscall.F_DUPFD_CLOEXEC:
			r, e := rawSyscall(trap, a[0], a[1], a[2])
			if e == 0 && r < fdMax {
				s.install(int32(r))
			}
			return ret(int(r), e)
		case syscall.F_SETFL:
			r, e := rawSyscall(trap, a[0], a[1], a[2])
			if e == 0 {
				s.nonblock.Store(a[2]&syscall.O_NONBLOCK != 0)
			}
			return ret(int(r), e)
		}
		r, e := rawSyscall(trap, a[0], a[1], a[2])
		return ret(int(r), e)
	case syscall.SYS_IOCTL:
		return s.ioctl(a[0], a[1], p[0])
	case syscall.SYS_PREAD64, syscall.SYS_PWRITE64:
		return ret(0, syscall.ESPIPE)
	case syscall.SYS_SENDFILE:
		n, e := s.sendfile(a[1], p[0], a[3])
		return ret(n, e)
	case sysSendmmsg, sysRecvmmsg:
		return ret(0, syscall.ENOSYS)

	case syscall.SYS_READ:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return ret(0, syscall.EFAULT)
		}
		if len(b) == 0 {
			return ret(0, 0) // Linux's sock_read_iter: nothing asked, nothing waited for
		}
		rb, bounced := offStack(b, false)
		sc := getScratch()
		sc.one[0] = rb
		n, _, _, e := s.recv(sc.one[:], 0, false)
		putScratch(sc)
		if bounced && n > 0 {
			copy(b, rb[:n])
		}
		return ret(n, e)
	case syscall.SYS_WRITE:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return ret(0, syscall.EFAULT)
		}
		b, _ = offStack(b, true)
		sc := getScratch()
		sc.one[0] = b
		n, e := s.send(sc.one[:], 0, nil)
		putScratch(sc)
		return ret(n, e)
	case syscall.SYS_READV:
		bufs, bounced, e := iovecs(p[0], a[2], false)
		if e != 0 {
			return ret(0, e)
		}
		if len(bufs) == 0 {
			return ret(0, 0)
		}
		orig := keepBufs(bufs, bounced)
		n, _, _, e := s.recv(bufs, 0, false)
		if bounced {
			copyBackIov(p[0], a[2], orig, n)
		}
		return ret(n, e)
	case syscall.SYS_WRITEV:
		bufs, _, e := iovecs(p[0], a[2], true)
		if e != 0 {
			return ret(0, e)
		}
		n, e := s.send(bufs, 0, nil)
		return ret(n, e)
	case syscall.SYS_RECVFROM:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return ret(0, syscall.EFAULT)
		}
		flags := int(a[3])
		rb, bounced := offStack(b, false)
		n, total, from, e := s.recv([][]byte{rb}, flags, p[1] != nil)
		if bounced && n > 0 {
			copy(b, rb[:n])
		}
		if e == 0 && p[1] != nil && !s.isStream() {
			if e := putSockaddr(s.fam, from, p[1], p[2]); e != 0 {
				return ret(0, e)
			}
		} else if e == 0 && p[1] != nil && p[2] != nil {
			*(*uint32)(p[2]) = 0 // streams report no address, as on Linux
		}
		if flags&syscall.MSG_TRUNC != 0 && !s.isStream() {
			n = total
		}
		return ret(n, e)
	case syscall.SYS_SENDTO:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return ret(0, syscall.EFAULT)
		}
		var to *tcpip.FullAddress
		if p[1] != nil && !s.isStream() {
			fa, _, e := parseSockaddr(s.fam, p[1], a[5])
			if e != 0 {
				return ret(0, e)
			}
			to = &fa
		}
		b, _ = offStack(b, true)
		n, e := s.send([][]byte{b}, int(a[3]), to)
		return ret(n, e)
	case syscall.SYS_RECVMSG:
		return s.recvmsg((*syscall.Msghdr)(p[0]), int(a[2]))
	case syscall.SYS_SENDMSG:
		return s.sendmsg((*syscall.Msghdr)(p[0]), int(a[2]))

	case syscall.SYS_BIND:
		fa, af, e := parseSockaddr(s.fam, p[0], a[2])
		if e != 0 {
			return ret(0, e)
		}
		return ret(0, s.bind(fa, af, a[2]))
	case syscall.SYS_CONNECT:
		fa, af, e := parseSockaddr(s.fam, p[0], a[2])
		if e != 0 {
			return ret(0, e)
		}
		return ret(0, s.connect(fa, af, a[2]))
	case syscall.SYS_LISTEN:
		return ret(0, s.listen(int(int32(a[1]))))
	case syscall.SYS_ACCEPT, syscall.SYS_ACCEPT4:
		flags := 0
		if trap == syscall.SYS_ACCEPT4 {
			flags = int(a[3])
		}
		nfd, peer, e := s.accept(flags)
		if e != 0 {
			return ret(0, e)
		}
		if e := putSockaddr(s.fam, peer, p[0], p[1]); e != 0 {
			return ret(int(nfd), 0) // Linux too returns the connection
		}
		return ret(int(nfd), 0)
	case syscall.SYS_GETSOCKNAME:
		fa, err := s.ep.GetLocalAddress()
		if err != nil {
			return ret(0, errno(err))
		}
		return ret(0, putSockaddr(s.fam, fa, p[0], p[1]))
	case syscall.SYS_GETPEERNAME:
		fa, err := s.ep.GetRemoteAddress()
		if err != nil {
			return ret(0, errno(err))
		}
		return ret(0, putSockaddr(s.fam, fa, p[0], p[1]))
	case syscall.SYS_SHUTDOWN:
		return ret(0, s.shutdown(int(a[1])))
	case syscall.SYS_SETSOCKOPT:
		return ret(0, s.setsockopt(int(a[1]), int(a[2]), p[0], a[4]))
	case syscall.SYS_GETSOCKOPT:
		return ret(0, s.getsockopt(int(a[1]), int(a[2]), p[0], p[1]))
	}
	return ret(0, syscall.ENOSYS)
}

// passThrough makes the call in the kernel, with its pointer arguments
// back in place (no stack growth can happen between the conversion and
// the call: rawSyscall6 is nosplit).
func passThrough(trap uintptr, a [6]uintptr, p [3]unsafe.Pointer) (uintptr, uintptr, syscall.Errno) {
	mask := sockPtrs(trap)
	n := 0
	for i := 0; i < 6 && n < 3; i++ {
		if mask&(1<<i) == 0 {
			continue
		}
		if p[n] != nil {
			a[i] = uintptr(p[n])
		}
		n++
	}
	return rawSyscall6(trap, a[0], a[1], a[2], a[3], a[4], a[5])
}

// dup2 implements dup2 and dup3 when the old descriptor, the new one or
// both are sockets. A socket the new descriptor referred to is released
// only once the call cannot fail any more: a failed dup2 leaves it open.
func dup2(trap uintptr, a [6]uintptr) (uintptr, uintptr, syscall.Errno) {
	old, nfd := a[0], a[1]
	s := lookup(old) // nil: a file over a socket
	if nfd != old && nfd < fdMax && lookup(nfd) != nil {
		if trap == syscall.SYS_DUP3 && a[2]&^syscall.O_CLOEXEC != 0 {
			return ret(0, syscall.EINVAL)
		}
		if _, e := rawSyscall(syscall.SYS_FCNTL, old, syscall.F_GETFD, 0); e != 0 {
			return ret(0, e) // EBADF
		}
		release(int32(nfd))
	}
	r, _, e := rawSyscall6(trap, a[0], a[1], a[2], 0, 0, 0)
	if e == 0 && s != nil && nfd != old && r < fdMax {
		s.install(int32(r))
	}
	return ret(int(r), e)
}

// userBuf views n bytes at p.
func userBuf(p unsafe.Pointer, n uintptr) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	if p == nil || int(n) < 0 {
		return nil, false
	}
	return unsafe.Slice((*byte)(p), n), true
}

// iovecs views an iovec array. Buffers on the goroutine's stack are
// replaced by heap copies (see stackbuf.go), holding their contents when
// contents is set; bounced reports whether any was.
func iovecs(p unsafe.Pointer, n uintptr, contents bool) (bufs [][]byte, bounced bool, e syscall.Errno) {
	if n > 1024 {
		return nil, false, syscall.EINVAL
	}
	if n == 0 {
		return nil, false, 0
	}
	if p == nil {
		return nil, false, syscall.EFAULT
	}
	iov := unsafe.Slice((*syscall.Iovec)(p), n)
	bufs = make([][]byte, 0, n)
	for _, v := range iov {
		if v.Len == 0 {
			continue
		}
		if v.Base == nil || int64(v.Len) < 0 {
			return nil, false, syscall.EFAULT
		}
		b, moved := offStack(unsafe.Slice(v.Base, v.Len), contents)
		bounced = bounced || moved
		bufs = append(bufs, b)
	}
	return bufs, bounced, 0
}

// keepBufs returns a copy of the buffer list if a buffer was bounced: the
// reads consume the list (iovWriter), and copyBackIov needs it whole.
func keepBufs(bufs [][]byte, bounced bool) [][]byte {
	if !bounced {
		return nil
	}
	return append([][]byte(nil), bufs...)
}

func (s *socket) recvmsg(m *syscall.Msghdr, flags int) (uintptr, uintptr, syscall.Errno) {
	if m == nil {
		return ret(0, syscall.EFAULT)
	}
	bufs, bounced, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), false)
	if e != 0 {
		return ret(0, e)
	}
	want := m.Name != nil && !s.isStream()
	orig := keepBufs(bufs, bounced)
	n, total, from, e := s.recv(bufs, flags, want)
	if e != 0 {
		return ret(0, e)
	}
	if bounced {
		copyBackIov(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), orig, n)
	}
	m.Flags = 0
	if want {
		l := m.Namelen
		if e := putSockaddr(s.fam, from, unsafe.Pointer(m.Name), unsafe.Pointer(&l)); e != 0 {
			return ret(0, e)
		}
		m.Namelen = l
	} else {
		m.Namelen = 0
	}
	m.Controllen = 0
	if total > n && !s.isStream() {
		m.Flags |= syscall.MSG_TRUNC
		if flags&syscall.MSG_TRUNC != 0 {
			n = total
		}
	}
	return ret(n, 0)
}

func (s *socket) sendmsg(m *syscall.Msghdr, flags int) (uintptr, uintptr, syscall.Errno) {
	if m == nil {
		return ret(0, syscall.EFAULT)
	}
	bufs, _, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), true)
	if e != 0 {
		return ret(0, e)
	}
	var to *tcpip.FullAddress
	if m.Name != nil && m.Namelen > 0 && !s.isStream() {
		fa, _, e := parseSockaddr(s.fam, unsafe.Pointer(m.Name), uintptr(m.Namelen))
		if e != 0 {
			return ret(0, e)
		}
		to = &fa
	}
	n, e := s.send(bufs, flags, to)
	return ret(n, e)
}

const (
	sysSendmmsg = 307
	sysRecvmmsg = 299

	fionread = 0x541B
	fionbio  = 0x5421
	siocoutq = 0x5411
)

func (s *socket) ioctl(fd, req uintptr, arg unsafe.Pointer) (uintptr, uintptr, syscall.Errno) {
	switch req {
	case fionread, siocoutq:
		if arg == nil {
			return ret(0, syscall.EFAULT)
		}
		opt := tcpip.ReceiveQueueSizeOption
		if req == siocoutq {
			opt = tcpip.SendQueueSizeOption
		}
		v, err := s.ep.GetSockOptInt(opt)
		if err != nil {
			return ret(0, errno(err))
		}
		*(*int32)(arg) = int32(v)
		return ret(0, 0)
	case fionbio:
		if arg == nil {
			return ret(0, syscall.EFAULT)
		}
		r, e := rawSyscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		if e == 0 {
			s.nonblock.Store(*(*int32)(arg) != 0)
		}
		return ret(int(r), e)
	}
	r, e := rawSyscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
	return ret(int(r), e)
}
