package guestnet

import (
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

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
	ep              tcpip.Endpoint // nil for netlink sockets
	wq              *waiter.Queue
	nl              *nlSock // a netlink socket's state (see netlink.go)
	ux              *uxSock // an AF_UNIX socket's state (see unix.go)
	entry           waiter.Entry

	fd       atomic.Int32 // a descriptor of the socket, for readiness updates
	nonblock atomic.Bool
	shutRd   atomic.Bool             // shutdown(SHUT_RD) called
	shutWr   atomic.Bool             // shutdown(SHUT_WR) called
	errTaken atomic.Bool             // a TCP connection's error was reported (no more EPOLLERR)
	kept     atomic.Pointer[keptErr] // an error for the next call (keepError)
	failed   atomic.Bool             // connect failed and said so: Linux disconnects the socket

	rcvTimeo atomic.Int64 // SO_RCVTIMEO, ns; 0 = none, negative = calls do not wait
	sndTimeo atomic.Int64 // SO_SNDTIMEO
	keptOpts sync.Map     // SOL_SOCKET options accepted and reported but not acted on

	kino uint64 // the kernel file's inode number (see adopt)

	rmu   sync.Mutex // orders readiness updates (see sync)
	shown uint32     // the readiness the kernel has

	mu  sync.Mutex
	fds []int32 // descriptors referring to the socket
	// orphan: the descriptors the stack knew are closed, but the kernel
	// file has others, made behind the hook's back (the runtime's fcntl):
	// the socket lives on until one of them is adopted and closed.
	orphan bool
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

// sockInos maps the inode numbers fstat reports for the kernel's socket
// files (one per socket, shared by its duplicates) to the sockets.
var sockInos sync.Map

// recordIno notes the inode number of the socket's kernel file, which
// descriptor fd refers to.
func (s *socket) recordIno(fd int32) {
	var st syscall.Stat_t
	if _, _, e := rawSyscall6(syscall.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(&st)), 0, 0, 0, 0); e == 0 {
		s.kino = st.Ino
		sockInos.Store(st.Ino, s)
	}
}

// adopt returns the socket descriptor fd refers to when it is a duplicate
// made behind the hook's back (the runtime's fcntl, which poll's
// DupCloseOnExec uses), and installs it; nil when fd is no socket of ours.
func adopt(fd uintptr) *socket {
	if fd >= fdMax {
		return nil
	}
	var st syscall.Stat_t
	if _, _, e := rawSyscall6(syscall.SYS_FSTAT, fd, uintptr(unsafe.Pointer(&st)), 0, 0, 0, 0); e != 0 || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return nil
	}
	v, ok := sockInos.Load(st.Ino)
	if !ok {
		return nil
	}
	s := v.(*socket)
	s.mu.Lock()
	alive := len(s.fds) > 0 || s.orphan
	s.orphan = false
	s.mu.Unlock()
	if !alive {
		return nil
	}
	// O_NONBLOCK belongs to the file: it may have been set through the
	// duplicate, which the hook did not see either.
	if fl, e := rawSyscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0); e == 0 {
		s.nonblock.Store(fl&syscall.O_NONBLOCK != 0)
	}
	s.install(int32(fd))
	return s
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
	next := int32(-1)
	if !last {
		next = s.fds[0]
	}
	if last {
		// Other descriptors of the kernel file (duplicates the stack has
		// not seen yet) keep the socket.
		if r, e := rawSyscall(abi.SysSockRefs, uintptr(fd), 0, 0); e == 0 && r > 1 {
			last, s.orphan = false, true
		}
	}
	s.mu.Unlock()
	if last {
		sockInos.CompareAndDelete(s.kino, s)
	}
	if last && s.ep != nil {
		// After EventUnregister returns no callback runs.
		s.wq.EventUnregister(&s.entry)
	}
	// The kernel may give fd to a new file as soon as the caller closes
	// it, so no SysSockReady may name it after this returns: a sync in
	// progress (a refresh on another goroutine, a netstack callback, a
	// netlink peer queueing) holds rmu from reading s.fd to its last
	// SysSockReady, and later ones read the new value.
	s.rmu.Lock()
	if last || s.fd.Load() == fd {
		s.fd.Store(next)
	}
	s.rmu.Unlock()
	if last && s.nl != nil {
		s.nlClose()
		return
	}
	if last && s.ux != nil {
		s.uxClose()
		return
	}
	if last {
		s.ep.Close()
	}
}

// allEvents are the events netstack reports and Linux's poll shows for
// sockets (EPOLLPRI only means urgent data, which netstack does not keep).
const allEvents = waiter.EventIn | waiter.EventOut | waiter.EventErr | waiter.EventHUp | waiter.EventRdHUp

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
	s.recordIno(fd)
	s.refresh()
	return fd, 0
}

// event runs in netstack when the endpoint's state changes: it gives the
// kernel the new readiness and wakes epoll watchers. netstack notifies
// after releasing the endpoint's queue locks, which Readiness takes, so
// it may look at the endpoint here.
func (s *socket) event(waiter.EventMask) {
	s.sync(true)
}

// refresh brings the kernel's copy of the readiness up to date after a
// call that may have changed it (read, accept, SO_ERROR, ...). New bits
// wake epoll watchers, as an event would.
func (s *socket) refresh() {
	s.sync(false)
}

// sync sets the kernel's view of the readiness to the socket's, under
// s.rmu so that the last value computed is the last one stored: a state
// change after the computation has its event wait for the lock and store
// again.
func (s *socket) sync(notify bool) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	fd := s.fd.Load()
	if fd < 0 {
		return
	}
	r := s.readiness()
	old := s.shown
	s.shown = r
	if r&^old != 0 || notify {
		if old&^r != 0 {
			rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(r), 0)
		}
		rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(r), 1)
	} else if r != old {
		rawSyscall(abi.SysSockReady, uintptr(fd), uintptr(r), 0)
	}
}

// readiness is the socket's poll mask as Linux computes it (tcp_poll,
// datagram_poll).
func (s *socket) readiness() uint32 {
	if s.nl != nil {
		return s.nlReadiness()
	}
	if s.ux != nil {
		return s.uxReadiness()
	}
	r := s.ep.Readiness(allEvents)
	if !s.isStream() {
		if s.shutRd.Load() {
			r |= waiter.EventIn | waiter.EventRdHUp
			if s.shutWr.Load() {
				r |= waiter.EventHUp
			}
		}
		return uint32(r & allEvents)
	}
	st := tcp.EndpointState(s.ep.State())
	switch st {
	case tcp.StateInitial, tcp.StateBound:
		return uint32(waiter.EventOut | waiter.EventHUp)
	case tcp.StateListen:
		return uint32(r & waiter.EventIn)
	case tcp.StateConnecting, tcp.StateSynSent, tcp.StateSynRecv:
		return 0
	case tcp.StateError:
		if s.failed.Load() {
			// Linux disconnects a socket whose connect failed.
			return uint32(waiter.EventOut | waiter.EventHUp)
		}
	}
	// netstack notifies a FIN before it changes state, but has closed
	// the receive side then (EventRdHUp while the send side is open).
	peerFin := r&waiter.EventRdHUp != 0
	sentFin := false
	switch st {
	case tcp.StateCloseWait:
		peerFin = true
	case tcp.StateFinWait1, tcp.StateFinWait2:
		sentFin = true
	case tcp.StateLastAck, tcp.StateClosing, tcp.StateTimeWait, tcp.StateClose, tcp.StateError:
		peerFin, sentFin = true, true
	}
	rcvShut := peerFin || s.shutRd.Load()
	sndShut := sentFin || s.shutWr.Load()
	m := r & (waiter.EventIn | waiter.EventOut)
	if rcvShut {
		m |= waiter.EventIn | waiter.EventRdHUp
	}
	if sndShut {
		m |= waiter.EventOut
	}
	if rcvShut && sndShut {
		m |= waiter.EventHUp
	}
	if s.hasError(st) {
		m |= waiter.EventErr
	}
	return uint32(m)
}

// wait blocks the goroutine until one of mask happens or the timeout (ns,
// 0 = none, negative = no time at all) passes; it reports false on
// timeout.
func (s *socket) wait(mask waiter.EventMask, timeout int64, ready func() bool) bool {
	e, ch := waiter.NewChannelEntry(mask)
	s.wq.EventRegister(&e)
	defer s.wq.EventUnregister(&e)
	if ready() {
		return true
	}
	if timeout < 0 {
		return false
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

// ipprotoMax is the last protocol number Linux accepts (IPPROTO_MPTCP).
const ipprotoMax = 262

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
	case syscall.AF_NETLINK, syscall.AF_UNIX:
	default:
		return -1, syscall.EAFNOSUPPORT
	}
	if typ < 0 || typ > syscall.SOCK_PACKET {
		return -1, syscall.EINVAL // not a socket type, as __sock_create says
	}
	if domain == syscall.AF_UNIX {
		return sysUnixSocket(typ, proto, flags)
	}
	if domain == syscall.AF_NETLINK {
		return sysNetlink(typ, proto, flags)
	}
	if proto < 0 || proto > ipprotoMax {
		return -1, syscall.EINVAL
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
		// A socket type AF_INET/AF_INET6 has no protocol for.
		return -1, syscall.ESOCKTNOSUPPORT
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

// bind implements bind(2); n is the address length.
func (s *socket) bind(fa tcpip.FullAddress, af uint16, n uintptr) syscall.Errno {
	if s.fam == syscall.AF_INET6 {
		if n < sizeofSockaddrInet6Min {
			return syscall.EINVAL
		}
		if af != syscall.AF_INET6 {
			return syscall.EAFNOSUPPORT
		}
		if isV4Mapped(fa.Addr) && s.ep.SocketOptions().GetV6Only() {
			return syscall.EINVAL // inet6_bind: makes no sense on a v6-only socket
		}
	} else if af == syscall.AF_UNSPEC {
		// Linux accepts AF_UNSPEC with INADDR_ANY for IPv4 sockets.
		if fa.Addr.BitLen() != 0 {
			return syscall.EAFNOSUPPORT
		}
	}
	err := s.ep.Bind(fa)
	return errno(err)
}

// connectCheck is Linux's address checks for connect(2) that netstack
// does not make (n is the address length).
func (s *socket) connectCheck(fa tcpip.FullAddress, af uint16, n uintptr) syscall.Errno {
	if s.fam != syscall.AF_INET6 {
		return 0
	}
	if s.isStream() {
		// tcp_v6_connect.
		if n < sizeofSockaddrInet6Min {
			return syscall.EINVAL
		}
		if af != syscall.AF_INET6 {
			return syscall.EAFNOSUPPORT
		}
	} else if af == syscall.AF_INET && s.ep.SocketOptions().GetV6Only() {
		return syscall.EAFNOSUPPORT // ip6_datagram_connect
	}
	if isV4Mapped(fa.Addr) && s.ep.SocketOptions().GetV6Only() {
		return syscall.ENETUNREACH
	}
	return 0
}

func isV4Mapped(a tcpip.Address) bool {
	if a.Len() != 16 {
		return false
	}
	b := a.As16()
	return b == [16]byte{10: 0xff, 11: 0xff, 12: b[12], 13: b[13], 14: b[14], 15: b[15]}
}

func (s *socket) connect(fa tcpip.FullAddress, af uint16, n uintptr) syscall.Errno {
	if af == syscall.AF_UNSPEC {
		if !s.isStream() {
			s.ep.Disconnect()
			s.refresh()
			return 0
		}
		// Linux's tcp_disconnect: a no-op on an unconnected socket, an
		// abort (reset) on a connection. (Linux then lets the socket
		// connect again; netstack's endpoint stays closed.)
		switch tcp.EndpointState(s.ep.State()) {
		case tcp.StateInitial, tcp.StateBound:
		case tcp.StateListen:
			return syscall.EISCONN
		default:
			s.ep.Abort()
			s.refresh()
		}
		return 0
	}
	if s.isStream() && tcp.EndpointState(s.ep.State()) == tcp.StateListen {
		return syscall.EISCONN // Linux: the socket is not SS_UNCONNECTED
	}
	if e := s.connectCheck(fa, af, n); e != 0 {
		return e
	}
	err := s.ep.Connect(fa)
	defer s.refresh()
	if _, ok := err.(*tcpip.ErrConnectStarted); !ok {
		if err != nil {
			s.connectFailed()
		}
		return errno(err)
	}
	if s.nonblock.Load() {
		return syscall.EINPROGRESS
	}
	if !s.wait(waiter.WritableEvents|waiter.EventErr|waiter.EventHUp, s.sndTimeo.Load(), func() bool {
		return s.ep.Readiness(waiter.WritableEvents|waiter.EventErr|waiter.EventHUp) != 0
	}) {
		return syscall.EINPROGRESS // SO_SNDTIMEO passed, as on Linux
	}
	// netstack reports the outcome to a second Connect, which also
	// consumes the error (Linux's connect clears sk_err too).
	err = s.ep.Connect(fa)
	if err != nil {
		s.connectFailed()
	}
	return errno(err)
}

// connectFailed notes that connect reported an error: the error is
// consumed, and a failed connection leaves the socket as Linux's
// tcp_disconnect does, unconnected (netstack's cannot connect again).
func (s *socket) connectFailed() {
	s.dropDupError()
	if s.isStream() && tcp.EndpointState(s.ep.State()) == tcp.StateError {
		s.failed.Store(true)
	}
}

// keepError keeps err, a connection's error that netstack handed to a
// call which returns success because it transferred data first: Linux
// leaves sk_err set then, for the next call (or SO_ERROR) to report.
func (s *socket) keepError(err tcpip.Error) {
	if s.isStream() {
		s.kept.Store(&keptErr{err})
	}
}

// keptError reports and clears the error keepError kept, if any.
func (s *socket) keptError() syscall.Errno {
	k := s.kept.Swap(nil)
	if k == nil {
		return 0
	}
	s.tookError()
	return errno(k.err)
}

type keptErr struct{ err tcpip.Error }

// takeError reads and clears the pending error (SO_ERROR).
func (s *socket) takeError() tcpip.Error {
	err := s.ep.LastError()
	if k := s.kept.Swap(nil); k != nil && err == nil {
		err = k.err
	}
	if err != nil {
		s.dropDupError()
		s.tookError()
	}
	return err
}

// dropDupError clears the copy of a consumed error: netstack keeps a
// failed connection's error both as its hard and as its last error, which
// LastError returns in turn; Linux has one sk_err.
func (s *socket) dropDupError() {
	if s.isStream() {
		s.ep.LastError()
	}
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
			s.refresh() // the queue may be empty now
			// Linux clones the listener: accepted sockets inherit
			// SO_KEEPALIVE too (netstack copies only some options).
			nep.SocketOptions().SetKeepAlive(s.ep.SocketOptions().GetKeepAlive())
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

// recv reads into bufs.
func (s *socket) recv(bufs [][]byte, flags int, needAddr bool) (n, total int, from tcpip.FullAddress, e syscall.Errno) {
	opts := tcpip.ReadOptions{Peek: flags&syscall.MSG_PEEK != 0, NeedRemoteAddr: needAddr}
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	waitall := flags&syscall.MSG_WAITALL != 0 && s.isStream() && !opts.Peek
	sc := getScratch()
	defer putScratch(sc)
	w := &sc.w
	*w = iovWriter{bufs: bufs}
	want := w.size()
	// A datagram read into no buffer takes the datagram and returns 0, as
	// on Linux (netstack refuses an empty buffer): read into a byte of
	// scratch and report none of it.
	zero := want == 0 && !s.isStream()
	if zero {
		*w = iovWriter{bufs: [][]byte{make([]byte, 1)}}
	}
	got := 0
	for {
		res, err := s.ep.Read(w, opts)
		if err == nil && zero {
			res.Count = 0
		}
		if err == nil {
			got += res.Count
			if waitall && got < want && res.Count > 0 {
				continue // keep reading until full, like Linux
			}
			s.refresh()
			if !s.isStream() {
				return res.Count, res.Total, res.RemoteAddr, 0
			}
			return got, got, res.RemoteAddr, 0
		}
		_, wouldBlock := err.(*tcpip.ErrWouldBlock)
		_, eof := err.(*tcpip.ErrClosedForReceive)
		if got > 0 && !wouldBlock {
			// MSG_WAITALL: what came before EOF or an error.
			if !eof {
				s.keepError(err)
			}
			s.refresh()
			return got, got, from, 0
		}
		if !wouldBlock {
			if e := s.keptError(); e != 0 {
				return 0, 0, from, e
			}
			if eof {
				return 0, 0, from, 0
			}
			s.tookError()
			return 0, 0, from, errno(err)
		}
		s.refresh()
		if nonblock {
			if got > 0 {
				return got, got, from, 0
			}
			return 0, 0, from, syscall.EAGAIN
		}
		if !s.wait(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr, s.rcvTimeo.Load(), func() bool {
			return s.ep.Readiness(waiter.ReadableEvents|waiter.EventHUp|waiter.EventErr) != 0
		}) {
			if got > 0 {
				return got, got, from, 0
			}
			return 0, 0, from, syscall.EAGAIN
		}
	}
}

// hasError reports whether a TCP connection in state st has an error
// pending (Linux's sk_err). netstack keeps it where only LastError, which
// clears it, can see: a connection is in error when it failed (StateError)
// or closed without our FIN (a reset in CLOSE-WAIT), until a call
// reported the error.
func (s *socket) hasError(st tcp.EndpointState) bool {
	return (st == tcp.StateError || st == tcp.StateClose && !s.shutWr.Load()) && !s.errTaken.Load()
}

// tookError notes that a call reported a failed connection's error, which
// Linux then clears (no more EPOLLERR).
func (s *socket) tookError() {
	if s.isStream() && s.hasError(tcp.EndpointState(s.ep.State())) {
		s.errTaken.Store(true)
	}
	s.refresh()
}

// send writes bufs; a blocking stream socket sends all of it.
func (s *socket) send(bufs [][]byte, flags int, to *tcpip.FullAddress) (int, syscall.Errno) {
	if s.ux != nil {
		return s.uxSend(bufs, flags, nil, nil) // sendfile
	}
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	if e := s.keptError(); e != 0 {
		return 0, e // as tcp_sendmsg reports sk_err first
	}
	sc := getScratch()
	defer putScratch(sc)
	r := &sc.r
	*r = iovReader{bufs: bufs}
	total := r.Len()
	sent := 0
	for {
		n, err := s.ep.Write(r, tcpip.WriteOptions{To: to, More: flags&syscall.MSG_MORE != 0, Atomic: !s.isStream()})
		sent += int(n)
		if err == nil {
			if !s.isStream() || sent >= total || nonblock {
				s.refresh() // the send buffer may be full now
				return sent, 0
			}
			continue
		}
		if _, ok := err.(*tcpip.ErrWouldBlock); !ok {
			if sent > 0 {
				s.keepError(err)
				return sent, 0
			}
			s.tookError()
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
	if err == nil {
		if f&tcpip.ShutdownRead != 0 {
			s.shutRd.Store(true)
		}
		if f&tcpip.ShutdownWrite != 0 {
			s.shutWr.Store(true)
		}
	}
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
// ioScratch holds what a read or write needs on the heap (netstack takes
// the io.Reader and io.Writer as interfaces, and a one-buffer list for a
// plain read or write), reused through a pool so that a socket read or
// write allocates nothing of its own.
type ioScratch struct {
	one [1][]byte
	w   iovWriter
	r   iovReader
}

var scratchPool = sync.Pool{New: func() any { return new(ioScratch) }}

func getScratch() *ioScratch { return scratchPool.Get().(*ioScratch) }

// putScratch drops the references to the caller's buffers and gives sc
// back.
func putScratch(sc *ioScratch) {
	*sc = ioScratch{}
	scratchPool.Put(sc)
}

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
