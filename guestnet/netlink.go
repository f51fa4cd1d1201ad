package guestnet

import (
	"encoding/binary"
	"sync"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/motevm/mote/abi"
)

// A minimal NETLINK_ROUTE: enough for Go's net.Interfaces and
// net.InterfaceAddrs (syscall.NetlinkRIB) and for programs that list links
// and addresses the same way. The "kernel" side answers RTM_GETLINK (dump,
// or one link by index or name) and RTM_GETADDR dumps from the netstack's
// NICs; every other request answers NLMSG_ERROR with EOPNOTSUPP, and no
// notifications are ever sent to multicast groups. A netlink socket is not
// a netstack endpoint: it is a socket whose nl field is set (ep is nil),
// behind a kernel descriptor like the others, readable while a reply is
// queued.

const (
	sizeofNlMsghdr       = 16
	sizeofSockaddrNl     = 12
	sizeofIfInfomsg      = 16
	sizeofIfAddrmsg      = 8
	nlMaxLinks           = 32     // MAX_LINKS: netlink protocols 0..31
	nlGroups             = 64     // multicast groups a socket may join
	nlDefaultBuf         = 212992 // net.core.rmem_default / wmem_default
	nlGoodSize           = 4096 - 320
	nlMaxDgram           = 32768 - 320
	solNetlink           = 270
	nlmFCapped           = 0x100
	nlmFAckTLVs          = 0x200
	netlinkListGroups    = 9 // NETLINK_LIST_MEMBERSHIPS
	netlinkRxRing        = 6
	netlinkTxRing        = 7
	ifOperUnknown        = 0
	ifOperUp             = 6
	ifaFPermanent        = 0x80
	iffLowerUp           = 0x10000
	arphrdLoopback       = 772
	rtScopeUniverse      = 0
	rtScopeLink          = 253
	rtScopeHost          = 254
	iflaTxqlen           = 13
	iflaOperstate        = 16
	iflaLinkmode         = 17
	iflaGroup            = 27
	iflaPromiscuity      = 30
	iflaNumTxQueues      = 31
	iflaNumRxQueues      = 32
	iflaCarrier          = 33
	iflaAltIfname        = 53
	ifaFlags             = 8
	rtmMax               = 123
	netlinkListenAllNsid = 8
	netlinkCapAck        = 10
	netlinkExtAck        = 11
	netlinkGetStrictChk  = 12
)

var ne = binary.NativeEndian

// nlSock is a netlink socket's state.
type nlSock struct {
	mu       sync.Mutex
	portid   uint32 // 0 until bound (bind, or autobind on send/connect)
	groups   uint64 // joined multicast groups (bit g-1 for group g)
	dstPid   uint32 // connect's peer
	dstGroup uint32
	q        []nlDgram // datagrams waiting to be read
	qBytes   int
	err      syscall.Errno // pending error (ENOBUFS after an overrun)
	rcvbuf   int
	sndbuf   int
	opts     uint32 // NETLINK_* boolean options set, bit per option
	maxRecv  int    // the largest read so far: dumps fill datagrams that big
}

// nlDgram is one queued datagram and the port that sent it (0: kernel).
type nlDgram struct {
	b    []byte
	from uint32
}

// The bound netlink sockets, by port ID.
var nlPorts struct {
	sync.Mutex
	m     map[uint32]*socket
	rover int32
}

// sysNetlink implements socket(AF_NETLINK, typ, proto) (netlink_create).
func sysNetlink(typ, proto, flags int) (int32, syscall.Errno) {
	if typ != syscall.SOCK_RAW && typ != syscall.SOCK_DGRAM {
		return -1, syscall.ESOCKTNOSUPPORT
	}
	if proto < 0 || proto >= nlMaxLinks || proto != syscall.NETLINK_ROUTE {
		// Other netlink families: as Linux without them.
		return -1, syscall.EPROTONOSUPPORT
	}
	kflags := uintptr(flags & (syscall.O_NONBLOCK | syscall.O_CLOEXEC))
	r, e := rawSyscall(abi.SysSockFd, kflags, 0, 0)
	if e != 0 {
		return -1, e
	}
	fd := int32(r)
	s := &socket{fam: syscall.AF_NETLINK, typ: typ, proto: proto, wq: new(waiter.Queue),
		nl: &nlSock{rcvbuf: nlDefaultBuf, sndbuf: nlDefaultBuf}}
	s.fd.Store(-1)
	s.nonblock.Store(flags&syscall.O_NONBLOCK != 0)
	s.install(fd)
	s.recordIno(fd)
	s.refresh()
	return fd, 0
}

// nlClose drops the socket's port ID when its last descriptor closes.
func (s *socket) nlClose() {
	nl := s.nl
	nl.mu.Lock()
	pid := nl.portid
	nl.q, nl.qBytes = nil, 0
	nl.mu.Unlock()
	if pid != 0 {
		nlPorts.Lock()
		if nlPorts.m[pid] == s {
			delete(nlPorts.m, pid)
		}
		nlPorts.Unlock()
	}
}

// nlReadiness is the poll mask (datagram_poll): always writable, readable
// while a datagram is queued, an error while one is pending.
func (s *socket) nlReadiness() uint32 {
	nl := s.nl
	nl.mu.Lock()
	defer nl.mu.Unlock()
	r := waiter.EventOut
	if len(nl.q) > 0 {
		r |= waiter.EventIn
	}
	if nl.err != 0 {
		r |= waiter.EventErr
	}
	return uint32(r)
}

// nlBind gives the socket port ID pid, or the next free one when pid is 0
// (netlink_autobind: the process ID first, then negative numbers).
func (s *socket) nlBind(pid uint32) syscall.Errno {
	nl := s.nl
	nl.mu.Lock()
	defer nl.mu.Unlock()
	if nl.portid != 0 {
		if pid != 0 && pid != nl.portid {
			return syscall.EINVAL
		}
		return 0
	}
	nlPorts.Lock()
	defer nlPorts.Unlock()
	if nlPorts.m == nil {
		nlPorts.m = make(map[uint32]*socket)
		nlPorts.rover = -4096
	}
	if pid != 0 {
		if nlPorts.m[pid] != nil {
			return syscall.EADDRINUSE
		}
	} else {
		r, _ := rawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		pid = uint32(r)
		for pid == 0 || nlPorts.m[pid] != nil {
			pid = uint32(nlPorts.rover)
			nlPorts.rover--
			if nlPorts.rover > -4096 {
				nlPorts.rover = -4096
			}
		}
	}
	nlPorts.m[pid] = s
	nl.portid = pid
	return 0
}

func (s *socket) nlPortID() uint32 {
	s.nl.mu.Lock()
	defer s.nl.mu.Unlock()
	return s.nl.portid
}

// parseNlSockaddr reads a sockaddr_nl (n bytes at p): port ID and groups.
func parseNlSockaddr(p unsafe.Pointer, n uintptr) (fam uint16, pid, groups uint32, e syscall.Errno) {
	if p == nil {
		return 0, 0, 0, syscall.EFAULT
	}
	if n < 2 {
		return 0, 0, 0, syscall.EINVAL
	}
	b := unsafe.Slice((*byte)(p), n)
	fam = ne.Uint16(b)
	if fam == syscall.AF_UNSPEC {
		return fam, 0, 0, 0 // connect's disconnect
	}
	if n < sizeofSockaddrNl || fam != syscall.AF_NETLINK {
		return fam, 0, 0, syscall.EINVAL
	}
	return fam, ne.Uint32(b[4:]), ne.Uint32(b[8:]), 0
}

// putNlSockaddr stores a sockaddr_nl as putSockaddr does an inet one.
func putNlSockaddr(pid, groups uint32, addr, lenp unsafe.Pointer) syscall.Errno {
	if addr == nil || lenp == nil {
		if addr != nil || lenp != nil {
			return syscall.EFAULT
		}
		return 0
	}
	var b [sizeofSockaddrNl]byte
	ne.PutUint16(b[0:], syscall.AF_NETLINK)
	ne.PutUint32(b[4:], pid)
	ne.PutUint32(b[8:], groups)
	l := (*uint32)(lenp)
	if int32(*l) < 0 {
		return syscall.EINVAL
	}
	copy(unsafe.Slice((*byte)(addr), *l), b[:])
	*l = sizeofSockaddrNl
	return 0
}

// nlCall serves the socket calls on a netlink socket; handled is false
// for those hook serves the same way for every socket (close, dup, fcntl,
// pread, ...).
func (s *socket) nlCall(trap uintptr, a [6]uintptr, p [3]unsafe.Pointer) (r1, r2 uintptr, e syscall.Errno, handled bool) {
	r := func(v int, e syscall.Errno) (uintptr, uintptr, syscall.Errno, bool) {
		r1, r2, e := ret(v, e)
		return r1, r2, e, true
	}
	nl := s.nl
	switch trap {
	case syscall.SYS_IOCTL:
		if a[1] == fionread || a[1] == siocoutq {
			return r(0, syscall.ENOTTY) // netlink has no ioctls
		}
		return 0, 0, 0, false
	case syscall.SYS_READ:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return r(0, syscall.EFAULT)
		}
		if len(b) == 0 {
			return r(0, 0)
		}
		rb, bounced := offStack(b, false)
		n, _, _, e := s.nlRecv([][]byte{rb}, 0)
		if bounced && n > 0 {
			copy(b, rb[:n])
		}
		return r(n, e)
	case syscall.SYS_READV:
		bufs, bounced, e := iovecs(p[0], a[2], false)
		if e != 0 {
			return r(0, e)
		}
		if len(bufs) == 0 {
			return r(0, 0)
		}
		orig := keepBufs(bufs, bounced)
		n, _, _, e := s.nlRecv(bufs, 0)
		if bounced {
			copyBackIov(p[0], a[2], orig, n)
		}
		return r(n, e)
	case syscall.SYS_WRITE:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return r(0, syscall.EFAULT)
		}
		b, _ = offStack(b, true)
		return r(s.nlSend([][]byte{b}, 0, nil))
	case syscall.SYS_WRITEV:
		bufs, _, e := iovecs(p[0], a[2], true)
		if e != 0 {
			return r(0, e)
		}
		return r(s.nlSend(bufs, 0, nil))
	case syscall.SYS_RECVFROM:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return r(0, syscall.EFAULT)
		}
		flags := int(a[3])
		rb, bounced := offStack(b, false)
		n, total, from, e := s.nlRecv([][]byte{rb}, flags)
		if e != 0 {
			return r(0, e)
		}
		if bounced && n > 0 {
			copy(b, rb[:n])
		}
		if p[1] != nil {
			if e := putNlSockaddr(from, 0, p[1], p[2]); e != 0 {
				return r(0, e)
			}
		}
		if flags&syscall.MSG_TRUNC != 0 {
			n = total
		}
		return r(n, 0)
	case syscall.SYS_SENDTO:
		b, ok := userBuf(p[0], a[2])
		if !ok {
			return r(0, syscall.EFAULT)
		}
		var to *[2]uint32
		if p[1] != nil {
			_, pid, groups, e := parseNlSockaddr(p[1], a[5])
			if e != 0 {
				return r(0, e)
			}
			to = &[2]uint32{pid, groups}
		}
		b, _ = offStack(b, true)
		return r(s.nlSend([][]byte{b}, int(a[3]), to))
	case syscall.SYS_RECVMSG:
		m := (*syscall.Msghdr)(p[0])
		if m == nil {
			return r(0, syscall.EFAULT)
		}
		bufs, bounced, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), false)
		if e != 0 {
			return r(0, e)
		}
		flags := int(a[2])
		orig := keepBufs(bufs, bounced)
		n, total, from, e := s.nlRecv(bufs, flags)
		if e != 0 {
			return r(0, e)
		}
		if bounced {
			copyBackIov(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), orig, n)
		}
		m.Flags = 0
		if m.Name != nil {
			l := m.Namelen
			if e := putNlSockaddr(from, 0, unsafe.Pointer(m.Name), unsafe.Pointer(&l)); e != 0 {
				return r(0, e)
			}
			m.Namelen = l
		} else {
			m.Namelen = 0
		}
		m.Controllen = 0
		if total > n {
			m.Flags |= syscall.MSG_TRUNC
		}
		if flags&syscall.MSG_TRUNC != 0 {
			n = total
		}
		return r(n, 0)
	case syscall.SYS_SENDMSG:
		m := (*syscall.Msghdr)(p[0])
		if m == nil {
			return r(0, syscall.EFAULT)
		}
		bufs, _, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), true)
		if e != 0 {
			return r(0, e)
		}
		var to *[2]uint32
		if m.Name != nil && m.Namelen > 0 {
			_, pid, groups, e := parseNlSockaddr(unsafe.Pointer(m.Name), uintptr(m.Namelen))
			if e != 0 {
				return r(0, e)
			}
			to = &[2]uint32{pid, groups}
		}
		return r(s.nlSend(bufs, int(a[2]), to))
	case syscall.SYS_BIND:
		fam, pid, groups, e := parseNlSockaddr(p[0], a[2])
		if e != 0 {
			return r(0, e)
		}
		if fam != syscall.AF_NETLINK {
			return r(0, syscall.EINVAL)
		}
		if e := s.nlBind(pid); e != 0 {
			return r(0, e)
		}
		nl.mu.Lock()
		nl.groups = nl.groups&^0xffffffff | uint64(groups)
		nl.mu.Unlock()
		return r(0, 0)
	case syscall.SYS_CONNECT:
		fam, pid, groups, e := parseNlSockaddr(p[0], a[2])
		if e != 0 {
			return r(0, e)
		}
		if fam == syscall.AF_UNSPEC {
			nl.mu.Lock()
			nl.dstPid, nl.dstGroup = 0, 0
			nl.mu.Unlock()
			return r(0, 0)
		}
		if e := s.nlBind(0); e != 0 {
			return r(0, e)
		}
		nl.mu.Lock()
		nl.dstPid, nl.dstGroup = pid, uint32(ffs(groups))
		nl.mu.Unlock()
		return r(0, 0)
	case syscall.SYS_GETSOCKNAME:
		nl.mu.Lock()
		pid, groups := nl.portid, uint32(nl.groups)
		nl.mu.Unlock()
		return r(0, putNlSockaddr(pid, groups, p[0], p[1]))
	case syscall.SYS_GETPEERNAME:
		nl.mu.Lock()
		pid, group := nl.dstPid, nl.dstGroup
		nl.mu.Unlock()
		var groups uint32
		if group != 0 {
			groups = 1 << (group - 1)
		}
		return r(0, putNlSockaddr(pid, groups, p[0], p[1]))
	case syscall.SYS_LISTEN, syscall.SYS_ACCEPT, syscall.SYS_ACCEPT4, syscall.SYS_SHUTDOWN:
		return r(0, syscall.EOPNOTSUPP)
	case syscall.SYS_SETSOCKOPT:
		return r(0, s.nlSetsockopt(int(a[1]), int(a[2]), p[0], a[4]))
	case syscall.SYS_GETSOCKOPT:
		return r(0, s.nlGetsockopt(int(a[1]), int(a[2]), p[0], p[1]))
	}
	return 0, 0, 0, false
}

// ffs is the 1-based index of x's lowest set bit, 0 if none.
func ffs(x uint32) int {
	for i := 0; i < 32; i++ {
		if x&(1<<i) != 0 {
			return i + 1
		}
	}
	return 0
}

// nlRecv reads one datagram into bufs (netlink_recvmsg): n bytes copied
// of total, sent by port from.
func (s *socket) nlRecv(bufs [][]byte, flags int) (n, total int, from uint32, e syscall.Errno) {
	if flags&syscall.MSG_OOB != 0 {
		return 0, 0, 0, syscall.EOPNOTSUPP
	}
	nl := s.nl
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	w := iovWriter{bufs: bufs}
	want := w.size()
	for {
		nl.mu.Lock()
		nl.maxRecv = max(nl.maxRecv, min(want, nlMaxDgram))
		if nl.err != 0 {
			e := nl.err
			nl.err = 0
			nl.mu.Unlock()
			s.refresh()
			return 0, 0, 0, e
		}
		if len(nl.q) > 0 {
			d := nl.q[0]
			if flags&syscall.MSG_PEEK == 0 {
				nl.q[0] = nlDgram{}
				nl.q = nl.q[1:]
				nl.qBytes -= len(d.b)
			}
			nl.mu.Unlock()
			w.Write(d.b) // a short buffer truncates the datagram
			s.refresh()
			return w.n, len(d.b), d.from, 0
		}
		nl.mu.Unlock()
		if nonblock {
			return 0, 0, 0, syscall.EAGAIN
		}
		if !s.wait(waiter.ReadableEvents|waiter.EventErr, s.rcvTimeo.Load(), func() bool {
			return s.nlReadiness()&uint32(waiter.ReadableEvents|waiter.EventErr) != 0
		}) {
			return 0, 0, 0, syscall.EAGAIN
		}
	}
}

// nlQueue adds a datagram to the socket's receive queue. A reply the
// queue has no room for is dropped and the socket reports ENOBUFS
// (netlink_overrun); dump replies always go in (Linux paces them with
// the reads instead).
func (s *socket) nlQueue(d nlDgram, force bool) bool {
	nl := s.nl
	nl.mu.Lock()
	if !force && nl.qBytes+len(d.b) > nl.rcvbuf {
		if nl.opts&(1<<syscall.NETLINK_NO_ENOBUFS) == 0 {
			nl.err = syscall.ENOBUFS
		}
		nl.mu.Unlock()
		s.refresh()
		s.wq.Notify(waiter.EventErr)
		return false
	}
	nl.q = append(nl.q, d)
	nl.qBytes += len(d.b)
	nl.mu.Unlock()
	s.refresh()
	s.wq.Notify(waiter.ReadableEvents)
	return true
}

// nlSend implements sendmsg on a netlink socket; to is the destination
// address's port ID and groups (nil: the connected peer, by default the
// kernel).
func (s *socket) nlSend(bufs [][]byte, flags int, to *[2]uint32) (int, syscall.Errno) {
	if flags&syscall.MSG_OOB != 0 {
		return 0, syscall.EOPNOTSUPP
	}
	nl := s.nl
	r := iovReader{bufs: bufs}
	total := r.Len()
	nl.mu.Lock()
	sndbuf := nl.sndbuf
	dst, group := nl.dstPid, nl.dstGroup
	nl.mu.Unlock()
	if to != nil {
		dst, group = to[0], uint32(ffs(to[1]))
	}
	if total > sndbuf-32 {
		return 0, syscall.EMSGSIZE
	}
	if e := s.nlBind(0); e != 0 {
		return 0, e
	}
	b := make([]byte, total)
	r.Read(b)
	me := s.nlPortID()
	_ = group // no other socket listens to a group: nothing to deliver
	if dst != 0 {
		nlPorts.Lock()
		peer := nlPorts.m[dst]
		nlPorts.Unlock()
		if peer == nil {
			return 0, syscall.ECONNREFUSED
		}
		peer.nlQueue(nlDgram{b: b, from: me}, false)
		return total, 0
	}
	s.nlKernel(b, me)
	return total, 0
}

// nlKernel is the kernel's side of NETLINK_ROUTE: it serves the messages
// of b, sent by port pid (netlink_rcv_skb, rtnetlink_rcv_msg).
func (s *socket) nlKernel(b []byte, pid uint32) {
	for len(b) >= sizeofNlMsghdr {
		l := int(ne.Uint32(b))
		if l < sizeofNlMsghdr || l > len(b) {
			return
		}
		msg := b[:l]
		typ := ne.Uint16(msg[4:])
		flags := ne.Uint16(msg[6:])
		var err syscall.Errno
		dumped := false
		if flags&syscall.NLM_F_REQUEST != 0 && typ >= syscall.NLMSG_MIN_TYPE {
			err, dumped = s.rtnl(msg, pid)
		}
		if !dumped && (flags&syscall.NLM_F_ACK != 0 || err != 0) {
			s.nlAck(msg, pid, err)
		}
		n := (l + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
}

// nlAck queues NLMSG_ERROR for msg: an acknowledgement when err is 0
// (netlink_ack).
func (s *socket) nlAck(msg []byte, pid uint32, err syscall.Errno) {
	s.nl.mu.Lock()
	capAck := s.nl.opts&(1<<netlinkCapAck) != 0
	s.nl.mu.Unlock()
	var w nlWriter
	echo := msg[:sizeofNlMsghdr]
	var flags uint16
	if err != 0 && !capAck {
		echo = msg
	} else {
		flags |= nlmFCapped
	}
	st := w.begin(syscall.NLMSG_ERROR, flags, ne.Uint32(msg[8:]), pid)
	w.u32(uint32(-int32(err)))
	w.b = append(w.b, echo...)
	w.end(st)
	s.nlQueue(nlDgram{b: w.b}, false)
}

// rtnl serves one NETLINK_ROUTE request; dumped reports that a dump's
// replies were queued (no acknowledgement then).
func (s *socket) rtnl(msg []byte, pid uint32) (err syscall.Errno, dumped bool) {
	typ := ne.Uint16(msg[4:])
	flags := ne.Uint16(msg[6:])
	seq := ne.Uint32(msg[8:])
	if typ > rtmMax {
		return syscall.EOPNOTSUPP, false
	}
	body := msg[sizeofNlMsghdr:]
	if len(body) < 1 {
		return 0, false // rtnetlink ignores a message without its family byte
	}
	family := body[0]
	get := (typ-syscall.RTM_BASE)&3 == 2
	if !get {
		return syscall.EOPNOTSUPP, false // no changes to the configuration
	}
	if flags&syscall.NLM_F_DUMP != 0 {
		var msgs [][]byte
		switch typ {
		case syscall.RTM_GETLINK:
			for _, n := range nics() {
				msgs = append(msgs, linkMsg(n, syscall.NLM_F_MULTI, seq, pid))
			}
		case syscall.RTM_GETADDR:
			for _, fam := range []uint8{syscall.AF_INET, syscall.AF_INET6} {
				if family != syscall.AF_INET && family != syscall.AF_INET6 || family == fam {
					for _, n := range nics() {
						msgs = append(msgs, addrMsgs(n, fam, seq, pid)...)
					}
				}
			}
		default:
			return syscall.EOPNOTSUPP, false
		}
		s.nlDump(msgs, seq, pid)
		return 0, true
	}
	if typ != syscall.RTM_GETLINK {
		return syscall.EOPNOTSUPP, false
	}
	// One link, by index or name (rtnl_getlink).
	if len(body) < sizeofIfInfomsg {
		return syscall.EINVAL, false
	}
	index := int32(ne.Uint32(body[4:]))
	var name string
	for _, at := range parseAttrs(body[sizeofIfInfomsg:]) {
		if (at.typ == syscall.IFLA_IFNAME || at.typ == iflaAltIfname) && len(at.v) > 0 {
			name = cstring(at.v)
		}
	}
	if index <= 0 && name == "" {
		return syscall.EINVAL, false
	}
	for _, n := range nics() {
		if index > 0 && int32(n.id) == index || index <= 0 && n.Name == name {
			s.nlQueue(nlDgram{b: linkMsg(n, 0, seq, pid)}, false)
			return 0, false
		}
	}
	return syscall.ENODEV, false
}

// nlDump queues a dump's messages in datagrams as large as the reads
// have been (netlink_dump), NLMSG_DONE last.
func (s *socket) nlDump(msgs [][]byte, seq, pid uint32) {
	s.nl.mu.Lock()
	limit := max(nlGoodSize, s.nl.maxRecv)
	s.nl.mu.Unlock()
	var done nlWriter
	st := done.begin(syscall.NLMSG_DONE, syscall.NLM_F_MULTI, seq, pid)
	done.u32(0)
	done.end(st)
	var cur []byte
	for _, m := range msgs {
		if len(cur) > 0 && len(cur)+len(m) > limit {
			s.nlQueue(nlDgram{b: cur}, true)
			cur = nil
		}
		cur = append(cur, m...)
	}
	if len(cur) > 0 && len(cur)+len(done.b) > limit {
		s.nlQueue(nlDgram{b: cur}, true)
		cur = nil
	}
	s.nlQueue(nlDgram{b: append(cur, done.b...)}, true)
}

// nic is one interface as netlink shows it.
type nic struct {
	id tcpip.NICID
	stack.NICInfo
}

// nics lists the stack's interfaces by index.
func nics() []nic {
	info := theStack().NICInfo()
	var l []nic
	for id, n := range info {
		l = append(l, nic{id, n})
	}
	for i := 1; i < len(l); i++ {
		for j := i; j > 0 && l[j].id < l[j-1].id; j-- {
			l[j], l[j-1] = l[j-1], l[j]
		}
	}
	return l
}

// linkMsg is n's RTM_NEWLINK message (rtnl_fill_ifinfo).
func linkMsg(n nic, flags uint16, seq, pid uint32) []byte {
	var w nlWriter
	st := w.begin(syscall.RTM_NEWLINK, flags, seq, pid)
	var iff uint32
	typ := uint16(syscall.ARPHRD_ETHER)
	if n.Flags.Up {
		iff |= syscall.IFF_UP
		if n.Flags.Running {
			iff |= syscall.IFF_RUNNING | iffLowerUp
		}
	}
	if n.Flags.Loopback {
		iff |= syscall.IFF_LOOPBACK
		typ = arphrdLoopback
	} else {
		iff |= syscall.IFF_BROADCAST | syscall.IFF_MULTICAST
	}
	if n.Flags.Promiscuous {
		iff |= syscall.IFF_PROMISC
	}
	// struct ifinfomsg
	w.b = append(w.b, syscall.AF_UNSPEC, 0)
	w.u16(typ)
	w.u32(uint32(n.id))
	w.u32(iff)
	w.u32(0) // ifi_change
	w.attr(syscall.IFLA_IFNAME, append([]byte(n.Name), 0))
	w.attrU32(iflaTxqlen, 1000)
	oper := uint8(ifOperUp)
	if n.Flags.Loopback {
		oper = ifOperUnknown // as Linux's lo
	} else if iff&syscall.IFF_RUNNING == 0 {
		oper = 2 // IF_OPER_DOWN
	}
	w.attr(iflaOperstate, []byte{oper})
	w.attr(iflaLinkmode, []byte{0})
	w.attrU32(syscall.IFLA_MTU, n.MTU)
	w.attrU32(iflaGroup, 0)
	w.attrU32(iflaPromiscuity, uint32(boolInt(n.Flags.Promiscuous)))
	w.attrU32(iflaNumTxQueues, 1)
	w.attrU32(iflaNumRxQueues, 1)
	w.attr(iflaCarrier, []byte{uint8(boolInt(iff&syscall.IFF_RUNNING != 0))})
	hw := []byte(n.LinkAddress)
	if len(hw) == 0 {
		hw = make([]byte, 6) // lo: 00:00:00:00:00:00
	}
	brd := make([]byte, len(hw))
	if !n.Flags.Loopback {
		for i := range brd {
			brd[i] = 0xff
		}
	}
	w.attr(syscall.IFLA_ADDRESS, hw)
	w.attr(syscall.IFLA_BROADCAST, brd)
	w.end(st)
	return w.b
}

// addrMsgs are the RTM_NEWADDR messages of n's addresses of family fam
// (inet_fill_ifaddr, inet6_fill_ifaddr).
func addrMsgs(n nic, fam uint8, seq, pid uint32) [][]byte {
	proto := ipv4.ProtocolNumber
	if fam == syscall.AF_INET6 {
		proto = ipv6.ProtocolNumber
	}
	var msgs [][]byte
	for _, pa := range n.ProtocolAddresses {
		if pa.Protocol != proto {
			continue
		}
		a := pa.AddressWithPrefix
		scope := uint8(rtScopeUniverse)
		switch {
		case n.Flags.Loopback:
			scope = rtScopeHost
		case fam == syscall.AF_INET6 && isLinkLocal6(a.Address):
			scope = rtScopeLink
		}
		var w nlWriter
		st := w.begin(syscall.RTM_NEWADDR, syscall.NLM_F_MULTI, seq, pid)
		// struct ifaddrmsg
		w.b = append(w.b, fam, uint8(a.PrefixLen), ifaFPermanent, scope)
		w.u32(uint32(n.id))
		addr := a.Address.AsSlice()
		w.attr(syscall.IFA_ADDRESS, addr)
		if fam == syscall.AF_INET {
			w.attr(syscall.IFA_LOCAL, addr)
			if !n.Flags.Loopback && a.PrefixLen < 31 {
				sub := a.Subnet()
				bc := sub.Broadcast()
				brd := bc.AsSlice()
				w.attr(syscall.IFA_BROADCAST, brd)
			}
			w.attr(syscall.IFA_LABEL, append([]byte(n.Name), 0))
		}
		w.attrU32(ifaFlags, ifaFPermanent)
		var ci [16]byte // struct ifa_cacheinfo: forever
		ne.PutUint32(ci[0:], 0xffffffff)
		ne.PutUint32(ci[4:], 0xffffffff)
		w.attr(syscall.IFA_CACHEINFO, ci[:])
		w.end(st)
		msgs = append(msgs, w.b)
	}
	return msgs
}

// nlWriter builds netlink messages.
type nlWriter struct{ b []byte }

func (w *nlWriter) u16(v uint16) { w.b = ne.AppendUint16(w.b, v) }
func (w *nlWriter) u32(v uint32) { w.b = ne.AppendUint32(w.b, v) }

// begin starts a message; end, given begin's result, sets its length.
func (w *nlWriter) begin(typ, flags uint16, seq, pid uint32) int {
	st := len(w.b)
	w.u32(0)
	w.u16(typ)
	w.u16(flags)
	w.u32(seq)
	w.u32(pid)
	return st
}

func (w *nlWriter) end(st int) {
	ne.PutUint32(w.b[st:], uint32(len(w.b)-st))
	w.pad()
}

func (w *nlWriter) pad() {
	for len(w.b)%4 != 0 {
		w.b = append(w.b, 0)
	}
}

func (w *nlWriter) attr(typ uint16, v []byte) {
	w.u16(uint16(4 + len(v)))
	w.u16(typ)
	w.b = append(w.b, v...)
	w.pad()
}

func (w *nlWriter) attrU32(typ uint16, v uint32) {
	w.attr(typ, ne.AppendUint32(nil, v))
}

type nlAttr struct {
	typ uint16
	v   []byte
}

// parseAttrs splits a run of rtattrs, stopping at a malformed one.
func parseAttrs(b []byte) []nlAttr {
	var l []nlAttr
	for len(b) >= 4 {
		n := int(ne.Uint16(b))
		if n < 4 || n > len(b) {
			break
		}
		l = append(l, nlAttr{ne.Uint16(b[2:]) &^ 0xc000, b[4:n]})
		n = (n + 3) &^ 3
		if n > len(b) {
			n = len(b)
		}
		b = b[n:]
	}
	return l
}

func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// nlSetsockopt: SOL_SOCKET's generic options and SOL_NETLINK's
// (netlink_setsockopt).
func (s *socket) nlSetsockopt(level, name int, p unsafe.Pointer, n uintptr) syscall.Errno {
	nl := s.nl
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
			return s.setTimeout(name, p, n)
		}
		v, e := optInt(p, n)
		if e != 0 {
			return e
		}
		switch name {
		case syscall.SO_RCVBUF, syscall.SO_SNDBUF, syscall.SO_RCVBUFFORCE, syscall.SO_SNDBUFFORCE:
			v = max(min(v, 1<<30), 0) * 2 // Linux doubles it
			nl.mu.Lock()
			if name == syscall.SO_RCVBUF || name == syscall.SO_RCVBUFFORCE {
				nl.rcvbuf = max(v, 2304)
			} else {
				nl.sndbuf = max(v, 4608)
			}
			nl.mu.Unlock()
		case syscall.SO_REUSEADDR, soReusePort, syscall.SO_KEEPALIVE, syscall.SO_BROADCAST,
			syscall.SO_PASSCRED, syscall.SO_OOBINLINE, syscall.SO_DONTROUTE, syscall.SO_TIMESTAMP:
			s.keptOpts.Store(name, boolInt(v != 0))
		case syscall.SO_PRIORITY:
			s.keptOpts.Store(name, v)
		default:
			return syscall.ENOPROTOOPT
		}
		return 0
	case solNetlink:
	default:
		return syscall.ENOPROTOOPT
	}
	v := 0
	if n >= 4 {
		if p == nil {
			return syscall.EFAULT
		}
		v = int(*(*int32)(p))
	}
	switch name {
	case syscall.NETLINK_ADD_MEMBERSHIP, syscall.NETLINK_DROP_MEMBERSHIP:
		if v <= 0 || v > nlGroups {
			return syscall.EINVAL
		}
		if e := s.nlBind(0); e != 0 {
			return e
		}
		nl.mu.Lock()
		if name == syscall.NETLINK_ADD_MEMBERSHIP {
			nl.groups |= 1 << (v - 1)
		} else {
			nl.groups &^= 1 << (v - 1)
		}
		nl.mu.Unlock()
	case syscall.NETLINK_PKTINFO, syscall.NETLINK_BROADCAST_ERROR, syscall.NETLINK_NO_ENOBUFS,
		netlinkListenAllNsid, netlinkCapAck, netlinkExtAck,
		netlinkGetStrictChk:
		nl.mu.Lock()
		if v != 0 {
			nl.opts |= 1 << name
		} else {
			nl.opts &^= 1 << name
		}
		nl.mu.Unlock()
	default:
		return syscall.ENOPROTOOPT
	}
	return 0
}

func (s *socket) nlGetsockopt(level, name int, p, lenp unsafe.Pointer) syscall.Errno {
	nl := s.nl
	switch level {
	case syscall.SOL_SOCKET:
		switch name {
		case syscall.SO_ERROR:
			nl.mu.Lock()
			e := nl.err
			nl.err = 0
			nl.mu.Unlock()
			s.refresh()
			return putOptInt(p, lenp, int(e))
		case syscall.SO_TYPE:
			return putOptInt(p, lenp, s.typ)
		case soDomain:
			return putOptInt(p, lenp, s.fam)
		case soProtocol:
			return putOptInt(p, lenp, s.proto)
		case soAcceptConn:
			return putOptInt(p, lenp, 0)
		case syscall.SO_RCVBUF, syscall.SO_SNDBUF:
			nl.mu.Lock()
			v := nl.rcvbuf
			if name == syscall.SO_SNDBUF {
				v = nl.sndbuf
			}
			nl.mu.Unlock()
			return putOptInt(p, lenp, v)
		case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
			return s.getTimeout(name, p, lenp)
		case syscall.SO_REUSEADDR, soReusePort, syscall.SO_KEEPALIVE, syscall.SO_BROADCAST,
			syscall.SO_PASSCRED, syscall.SO_OOBINLINE, syscall.SO_DONTROUTE, syscall.SO_TIMESTAMP,
			syscall.SO_PRIORITY:
			v := 0
			if k, ok := s.keptOpts.Load(name); ok {
				v = k.(int)
			}
			return putOptInt(p, lenp, v)
		}
		return syscall.ENOPROTOOPT
	case solNetlink:
	default:
		return syscall.ENOPROTOOPT
	}
	if lenp == nil {
		return syscall.EFAULT
	}
	l := int32(*(*uint32)(lenp))
	switch name {
	case netlinkListGroups:
		if l < 0 {
			return syscall.EINVAL
		}
		nl.mu.Lock()
		g := nl.groups
		nl.mu.Unlock()
		b := ne.AppendUint64(nil, g)
		if l > 0 && p == nil {
			return syscall.EFAULT
		}
		copy(unsafe.Slice((*byte)(p), min(int(l), len(b))), b)
		*(*uint32)(lenp) = uint32(len(b))
		return 0
	case syscall.NETLINK_PKTINFO, syscall.NETLINK_BROADCAST_ERROR, syscall.NETLINK_NO_ENOBUFS,
		netlinkListenAllNsid, netlinkCapAck, netlinkExtAck,
		netlinkGetStrictChk:
		if l < 4 {
			return syscall.EINVAL
		}
		nl.mu.Lock()
		v := nl.opts&(1<<name) != 0
		nl.mu.Unlock()
		return putOptInt(p, lenp, boolInt(v))
	}
	return syscall.ENOPROTOOPT
}
