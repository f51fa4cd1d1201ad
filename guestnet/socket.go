package guestnet

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/motevm/mote/abi"
)

// socket is one netstack endpoint behind one or more descriptors (dup).
type socket struct {
	fam, typ, proto int
	ep              tcpip.Endpoint
	wq              *waiter.Queue
	entry           waiter.Entry

	fd       atomic.Int32 // a descriptor of the socket, for readiness updates
	nonblock atomic.Bool
	rcvTimeo atomic.Int64 // SO_RCVTIMEO, ns; 0 = none
	sndTimeo atomic.Int64 // SO_SNDTIMEO

	mu  sync.Mutex
	fds []int32 // descriptors referring to the socket
}

// The socket table, indexed by descriptor.
var (
	sockTab [64 * 64]atomic.Pointer[socket]
	sockFds *[64]uint64 // package syscall's bit set
)

const fdMax = 64 * 64

func lookup(fd uintptr) *socket {
	if fd >= fdMax {
		return nil
	}
	return sockTab[fd].Load()
}

func setBit(fd int32, on bool) {
	w := &sockFds[fd>>6]
	bit := uint64(1) << (fd & 63)
	if on {
		atomic.OrUint64(w, bit)
	} else {
		atomic.AndUint64(w, ^bit)
	}
}

// install makes descriptor fd refer to s.
func (s *socket) install(fd int32) {
	s.mu.Lock()
	s.fds = append(s.fds, fd)
	s.mu.Unlock()
	if s.fd.Load() < 0 {
		s.fd.Store(fd)
	}
	sockTab[fd].Store(s)
	setBit(fd, true)
}

// release drops descriptor fd; the endpoint closes with the last one. The
// kernel's descriptor is closed by the caller.
func release(fd int32) {
	s := sockTab[fd].Load()
	if s == nil {
		return
	}
	setBit(fd, false)
	sockTab[fd].Store(nil)
	s.mu.Lock()
	for i, f := range s.fds {
		if f == fd {
			s.fds = append(s.fds[:i], s.fds[i+1:]...)
			break
		}
	}
	last := len(s.fds) == 0
	if !last && s.fd.Load() == fd {
		s.fd.Store(s.fds[0])
	}
	s.mu.Unlock()
	if last {
		// After EventUnregister returns no callback runs, so none can
		// touch the descriptor number the kernel is about to reuse.
		s.wq.EventUnregister(&s.entry)
		s.fd.Store(-1)
		s.ep.Close()
	}
}

const allEvents = waiter.EventIn | waiter.EventPri | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdHUp

// newSocket wraps ep in a kernel descriptor.
func newSocket(fam, typ, proto int, ep tcpip.Endpoint, wq *waiter.Queue, flags int) (int32, syscall.Errno) {
	kflags := uintptr(flags & (syscall.O_NONBLOCK | syscall.O_CLOEXEC))
	r, e := rawSyscall(abi.SysSockFd, kflags, 0, 0)
	if e != 0 {
		ep.Close()
		return -1, e
	}
	fd := int32(r)
	s := &socket{fam: fam, typ: typ, proto: proto, ep: ep, wq: wq}
	s.fd.Store(-1)
	s.nonblock.Store(flags&syscall.O_NONBLOCK != 0)
	s.entry = waiter.NewFunctionEntry(allEvents, s.event)
	wq.EventRegister(&s.entry)
	s.install(fd)
	s.refresh()
	return fd, 0
}

// event runs in netstack when the endpoint's state changes: it tells the
// kernel, which fires epoll watches. It must not take endpoint locks.
func (s *socket) event(m waiter.EventMask) {
	if fd := s.fd.Load(); fd >= 0 {
		rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(m&allEvents), 1)
	}
}

// refresh sets the kernel's view of the readiness to the endpoint's. The
// second look closes the race with an event that arrives while the first
// value is on its way (it would otherwise overwrite the event's bits).
func (s *socket) refresh() {
	fd := s.fd.Load()
	if fd < 0 {
		return
	}
	r1 := s.ep.Readiness(allEvents)
	rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(r1), 0)
	if r2 := s.ep.Readiness(allEvents); r2&^r1 != 0 {
		rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(r2), 1)
	}
}

// wait blocks the goroutine until one of mask happens or the timeout (ns,
// 0 = none) passes; it reports false on timeout.
func (s *socket) wait(mask waiter.EventMask, timeout int64, ready func() bool) bool {
	e, ch := waiter.NewChannelEntry(mask)
	s.wq.EventRegister(&e)
	defer s.wq.EventUnregister(&e)
	if ready() {
		return true
	}
	if timeout <= 0 {
		<-ch
		return true
	}
	t := time.NewTimer(time.Duration(timeout))
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// sysSocket implements socket(2).
func sysSocket(domain, typ, proto int) (int32, syscall.Errno) {
	flags := typ & (syscall.SOCK_NONBLOCK | syscall.SOCK_CLOEXEC)
	typ &^= flags
	var netProto tcpip.NetworkProtocolNumber
	switch domain {
	case syscall.AF_INET:
		netProto = ipv4.ProtocolNumber
	case syscall.AF_INET6:
		netProto = ipv6.ProtocolNumber
	default:
		return -1, syscall.EAFNOSUPPORT
	}
	var tp tcpip.TransportProtocolNumber
	switch typ {
	case syscall.SOCK_STREAM:
		if proto != 0 && proto != syscall.IPPROTO_TCP {
			// IPPROTO_MPTCP included: Linux without MPTCP says so.
			return -1, syscall.EPROTONOSUPPORT
		}
		tp, proto = tcp.ProtocolNumber, syscall.IPPROTO_TCP
	case syscall.SOCK_DGRAM:
		switch {
		case proto == 0 || proto == syscall.IPPROTO_UDP:
			tp, proto = udp.ProtocolNumber, syscall.IPPROTO_UDP
		case proto == syscall.IPPROTO_ICMP && domain == syscall.AF_INET:
			tp = icmp.ProtocolNumber4
		case proto == syscall.IPPROTO_ICMPV6 && domain == syscall.AF_INET6:
			tp = icmp.ProtocolNumber6
		default:
			return -1, syscall.EPROTONOSUPPORT
		}
	case syscall.SOCK_RAW:
		return -1, syscall.EPERM
	default:
		return -1, syscall.EINVAL
	}
	wq := new(waiter.Queue)
	ep, err := theStack().NewEndpoint(tp, netProto, wq)
	if err != nil {
		return -1, errno(err)
	}
	if tp == tcp.ProtocolNumber {
		// Nagle on, as on Linux (Go turns it off with TCP_NODELAY).
		ep.SocketOptions().SetDelayOption(true)
	}
	return newSocket(domain, typ, proto, ep, wq, flags)
}

func (s *socket) isStream() bool { return s.typ == syscall.SOCK_STREAM }

func (s *socket) bind(fa tcpip.FullAddress, af uint16) syscall.Errno {
	if s.fam == syscall.AF_INET6 && af == syscall.AF_INET {
		return syscall.EINVAL
	}
	if af == syscall.AF_UNSPEC && s.fam == syscall.AF_INET {
		// Linux accepts AF_UNSPEC with INADDR_ANY for IPv4 sockets.
		fa = tcpip.FullAddress{Port: fa.Port}
	}
	return errno(s.ep.Bind(fa))
}

func (s *socket) connect(fa tcpip.FullAddress, af uint16) syscall.Errno {
	if af == syscall.AF_UNSPEC {
		if s.isStream() {
			return errno(s.ep.Disconnect())
		}
		s.ep.Disconnect()
		return 0
	}
	err := s.ep.Connect(fa)
	defer s.refresh()
	if _, ok := err.(*tcpip.ErrConnectStarted); !ok {
		return errno(err)
	}
	if s.nonblock.Load() {
		return syscall.EINPROGRESS
	}
	s.wait(waiter.WritableEvents|waiter.EventErr|waiter.EventHUp, s.sndTimeo.Load(), func() bool {
		return s.ep.Readiness(waiter.WritableEvents|waiter.EventErr|waiter.EventHUp) != 0
	})
	return errno(s.ep.LastError())
}

func (s *socket) listen(backlog int) syscall.Errno {
	if !s.isStream() {
		return syscall.EOPNOTSUPP
	}
	if backlog < 0 || backlog > 4096 {
		backlog = 4096
	}
	err := s.ep.Listen(backlog)
	s.refresh()
	return errno(err)
}

func (s *socket) accept(flags int) (int32, tcpip.FullAddress, syscall.Errno) {
	if !s.isStream() {
		return -1, tcpip.FullAddress{}, syscall.EOPNOTSUPP
	}
	if flags&^(syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC) != 0 {
		return -1, tcpip.FullAddress{}, syscall.EINVAL
	}
	for {
		var peer tcpip.FullAddress
		nep, nwq, err := s.ep.Accept(&peer)
		if err == nil {
			fd, e := newSocket(s.fam, s.typ, s.proto, nep, nwq, flags)
			return fd, peer, e
		}
		if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
			return -1, tcpip.FullAddress{}, errno(err)
		}
		s.refresh()
		if s.nonblock.Load() {
			return -1, tcpip.FullAddress{}, syscall.EAGAIN
		}
		if !s.wait(waiter.ReadableEvents, s.rcvTimeo.Load(), func() bool {
			return s.ep.Readiness(waiter.ReadableEvents) != 0
		}) {
			return -1, tcpip.FullAddress{}, syscall.EAGAIN
		}
	}
}

// recv reads into w (at most size bytes).
func (s *socket) recv(bufs [][]byte, flags int, needAddr bool) (n, total int, from tcpip.FullAddress, e syscall.Errno) {
	opts := tcpip.ReadOptions{Peek: flags&syscall.MSG_PEEK != 0, NeedRemoteAddr: needAddr}
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	for {
		w := iovWriter{bufs: bufs}
		res, err := s.ep.Read(&w, opts)
		if err == nil {
			if flags&syscall.MSG_WAITALL != 0 && s.isStream() && res.Count < w.size() && res.Count > 0 && !opts.Peek {
				// Keep reading until full, like Linux.
				got := res.Count
				for got < w.size() {
					rest := advance(bufs, got)
					m, _, _, e := s.recv(rest, flags&^syscall.MSG_WAITALL, false)
					if e != 0 || m == 0 {
						break
					}
					got += m
				}
				return got, got, res.RemoteAddr, 0
			}
			return res.Count, res.Total, res.RemoteAddr, 0
		}
		switch err.(type) {
		case *tcpip.ErrClosedForReceive:
			return 0, 0, from, 0
		case *tcpip.ErrWouldBlock:
		default:
			return 0, 0, from, errno(err)
		}
		s.refresh()
		if nonblock {
			return 0, 0, from, syscall.EAGAIN
		}
		if !s.wait(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, s.rcvTimeo.Load(), func() bool {
			return s.ep.Readiness(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr) != 0
		}) {
			return 0, 0, from, syscall.EAGAIN
		}
	}
}

// send writes bufs; a blocking stream socket sends all of it.
func (s *socket) send(bufs [][]byte, flags int, to *tcpip.FullAddress) (int, syscall.Errno) {
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	r := iovReader{bufs: bufs}
	total := r.Len()
	sent := 0
	for {
		n, err := s.ep.Write(&r, tcpip.WriteOptions{To: to, More: flags&syscall.MSG_MORE != 0, Atomic: !s.isStream()})
		sent += int(n)
		if err == nil {
			if !s.isStream() || sent >= total || nonblock {
				return sent, 0
			}
			continue
		}
		if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
			if sent > 0 {
				return sent, 0
			}
			return 0, errno(err)
		}
		s.refresh()
		if nonblock {
			if sent > 0 {
				return sent, 0
			}
			return 0, syscall.EAGAIN
		}
		if !s.wait(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr, s.sndTimeo.Load(), func() bool {
			return s.ep.Readiness(waiter.WritableEvents|waiter.EventHUp|waiter.EventErr) != 0
		}) {
			if sent > 0 {
				return sent, 0
			}
			return 0, syscall.EAGAIN
		}
	}
}

func (s *socket) shutdown(how int) syscall.Errno {
	var f tcpip.ShutdownFlags
	switch how {
	case syscall.SHUT_RD:
		f = tcpip.ShutdownRead
	case syscall.SHUT_WR:
		f = tcpip.ShutdownWrite
	case syscall.SHUT_RDWR:
		f = tcpip.ShutdownRead | tcpip.ShutdownWrite
	default:
		return syscall.EINVAL
	}
	err := s.ep.Shutdown(f)
	s.refresh()
	return errno(err)
}

// iovWriter writes into a list of buffers in turn.
type iovWriter struct {
	bufs [][]byte
	n    int
}

func (w *iovWriter) size() int {
	t := 0
	for _, b := range w.bufs {
		t += len(b)
	}
	return t
}

func (w *iovWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 && len(w.bufs) > 0 {
		c := copy(w.bufs[0], p)
		w.bufs[0] = w.bufs[0][c:]
		if len(w.bufs[0]) == 0 {
			w.bufs = w.bufs[1:]
		}
		p = p[c:]
		written += c
	}
	w.n += written
	if len(p) > 0 {
		return written, errShortWrite
	}
	return written, nil
}

var errShortWrite = io.ErrShortWrite

// iovReader reads from a list of buffers in turn (a tcpip.Payloader).
type iovReader struct {
	bufs [][]byte
}

func (r *iovReader) Len() int {
	t := 0
	for _, b := range r.bufs {
		t += len(b)
	}
	return t
}

func (r *iovReader) Read(p []byte) (int, error) {
	n := 0
	for len(p) > 0 && len(r.bufs) > 0 {
		c := copy(p, r.bufs[0])
		r.bufs[0] = r.bufs[0][c:]
		if len(r.bufs[0]) == 0 {
			r.bufs = r.bufs[1:]
		}
		p = p[c:]
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, eof
	}
	return n, nil
}

var eof = io.EOF

// advance returns bufs without its first n bytes.
func advance(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if len(bufs) > 0 && n > 0 {
		out := append([][]byte{bufs[0][n:]}, bufs[1:]...)
		return out
	}
	return bufs
}
