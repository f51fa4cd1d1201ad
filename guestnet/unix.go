package guestnet

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/waiter"

	"github.com/motevm/mote/abi"
)

// AF_UNIX sockets: SOCK_STREAM, SOCK_DGRAM and SOCK_SEQPACKET, served here
// in the program as Linux's net/unix/af_unix.c serves them. The unikernel
// runs one process, so both ends of every connection are in this package:
// a socket is a uxSock behind a kernel descriptor (abi.SysSockFd) like the
// netstack sockets, data moves between the two ends' receive queues, and
// readiness is pushed to the kernel for epoll.
//
// Names: a socket bound to a path makes a socket file there (mknodat with
// S_IFSOCK, which the kernel creates in its tmpfs), and connect finds the
// socket bound to the inode the path names (st_dev, st_ino), so a file
// renamed keeps its socket and one removed loses it, as on Linux. Names
// starting with a NUL byte are Linux's abstract namespace, kept here only.
//
// Descriptors passed with SCM_RIGHTS are duplicated when sent (the
// duplicate, "in flight", holds the file as Linux's reference does) and
// moved to the lowest free descriptor when received.
//
// One lock (ux.mu) guards every socket's state: the two ends of a
// connection change together, and the critical sections are short (a copy
// of at most one buffer's worth of data). Readiness updates and wake-ups
// are made after it is released (uxWork), since computing a socket's
// readiness takes it.

const (
	uxDefaultBuf          = 212992 // net.core.wmem_default and rmem_default
	uxMaxBuf              = 212992 // net.core.wmem_max and rmem_max
	uxMinSndbuf           = 4608   // SOCK_MIN_SNDBUF
	uxMinRcvbuf           = 2304   // SOCK_MIN_RCVBUF
	uxMaxDgramQlen        = 10     // net.unix.max_dgram_qlen
	uxMaxFds              = 253    // SCM_MAX_FD
	uxSomaxconn           = 4096   // net.core.somaxconn
	uxChunk               = 64 << 10
	sizeofSunPath         = 108
	sizeofSockaddrUnix    = 2 + sizeofSunPath
	sizeofSockaddrStorage = 128
	sizeofCmsghdr         = 16
	sizeofUcred           = 12
	flightBase            = 3072 // descriptors in flight are kept from here up

	atFdcwd           = ^uintptr(99) // AT_FDCWD (-100)
	atSymlinkNofollow = 0x100

	shutRcv  = 1 // RCV_SHUTDOWN
	shutSnd  = 2 // SEND_SHUTDOWN
	shutMask = 3

	soPassCred = syscall.SO_PASSCRED
	soPeerCred = syscall.SO_PEERCRED
)

type uxState uint8

const (
	uxClose       uxState = iota // TCP_CLOSE: not connected (or closed)
	uxListen                     // TCP_LISTEN
	uxEstablished                // TCP_ESTABLISHED
)

// ucred is struct ucred (SO_PEERCRED, SCM_CREDENTIALS).
type ucred struct {
	pid      int32
	uid, gid uint32
}

// uxMsg is one buffer in a receive queue: a datagram, or a piece of a
// stream (off bytes of it read already).
type uxMsg struct {
	b      []byte
	buf    *[uxChunk]byte // b's storage when it comes from uxBufs
	off    int
	fds    []int32 // descriptors in flight
	cred   ucred
	snd    *uxSock // the sender, charged for the bytes (its wmem)
	charge int
}

// uxSock is an AF_UNIX socket's state, guarded by ux.mu.
type uxSock struct {
	s        *socket // nil while a connection waits to be accepted
	typ      int
	state    uxState
	addr     []byte // the bound address (sockaddr_un, as long as Linux reports it); nil: unbound
	pathKey  uxKey  // where it is in ux.paths (bound to a path)
	absKey   string // where it is in ux.abstract (an abstract name)
	peer     *uxSock
	q        []*uxMsg // receive queue
	qBytes   int
	accq     []*uxSock // a listener's connections not accepted yet
	backlog  int
	shut     uint8
	err      syscall.Errno // pending error (sk_err)
	wmem     int           // bytes sent and not read yet
	sndbuf   int
	rcvbuf   int
	passcred bool
	dead     bool
	peerCred ucred
	hasCred  bool
	waiters  []*uxSock // sockets waiting for room in q or accq (peer_wait)
}

type uxKey struct{ dev, ino uint64 }

// uxBufs recycles the storage of buffers in flight: a stream moving
// gigabytes a second would otherwise make garbage faster than the
// collector frees it.
var uxBufs = sync.Pool{New: func() any { return new([uxChunk]byte) }}

// newMsg makes a buffer of n bytes, filled from r.
func newMsg(r *iovReader, n int) *uxMsg {
	m := &uxMsg{}
	if n >= 1024 && n <= uxChunk {
		m.buf = uxBufs.Get().(*[uxChunk]byte)
		m.b = m.buf[:n]
	} else {
		m.b = make([]byte, n)
	}
	r.Read(m.b)
	return m
}

// free gives m's storage back once m left its queue (nothing refers to
// it any more).
func (m *uxMsg) free() {
	if m.buf != nil {
		uxBufs.Put(m.buf)
		m.buf, m.b = nil, nil
	}
}

var ux struct {
	mu       sync.Mutex
	paths    map[uxKey]*uxSock
	abstract map[string]*uxSock
	rover    uint32
}

var (
	credOnce sync.Once
	myCred   ucred
)

func ownCred() ucred {
	credOnce.Do(func() {
		pid, _ := rawSyscall(syscall.SYS_GETPID, 0, 0, 0)
		uid, _ := rawSyscall(syscall.SYS_GETUID, 0, 0, 0)
		gid, _ := rawSyscall(syscall.SYS_GETGID, 0, 0, 0)
		myCred = ucred{int32(pid), uint32(uid), uint32(gid)}
	})
	return myCred
}

func newUxSock(typ int) *uxSock {
	return &uxSock{typ: typ, sndbuf: uxDefaultBuf, rcvbuf: uxDefaultBuf}
}

// uxWork is what to do once ux.mu is released: wake sockets and close
// descriptors in flight that nobody will receive.
type uxWork struct {
	wake  []*socket // state changed: readiness event, waiters woken
	poke  []*socket // room to send: readiness refreshed, waiters woken
	close []int32
}

func (w *uxWork) wakeUp(u *uxSock) {
	if u != nil && u.s != nil {
		w.wake = append(w.wake, u.s)
	}
}

func (w *uxWork) pokeUp(u *uxSock) {
	if u != nil && u.s != nil {
		w.poke = append(w.poke, u.s)
	}
}

// pokeWaiters wakes the sockets waiting for room at u.
func (w *uxWork) pokeWaiters(u *uxSock) {
	for _, x := range u.waiters {
		w.pokeUp(x)
	}
	u.waiters = u.waiters[:0]
}

func (w *uxWork) run() {
	for _, fd := range w.close {
		closeFd(fd)
	}
	for _, s := range w.wake {
		s.wq.Notify(allEvents)
		s.sync(true)
	}
	for _, s := range w.poke {
		s.wq.Notify(allEvents)
		s.refresh()
	}
}

// closeFd closes a descriptor this package made (in flight, or one that
// could not be handed out), socket or not.
func closeFd(fd int32) {
	if lookup(uintptr(fd)) != nil {
		release(fd)
	}
	rawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

// dupFd duplicates fd at the lowest free descriptor from min on; a socket
// gets the new descriptor too.
func dupFd(fd int32, min int, cloexec bool) (int32, syscall.Errno) {
	cmd := uintptr(syscall.F_DUPFD)
	if cloexec {
		cmd = syscall.F_DUPFD_CLOEXEC
	}
	r, e := rawSyscall(syscall.SYS_FCNTL, uintptr(fd), cmd, uintptr(min))
	if e != 0 {
		return -1, e
	}
	if s := lookup(uintptr(fd)); s != nil && r < fdMax {
		s.install(int32(r))
	}
	return int32(r), 0
}

// flight duplicates a descriptor being sent.
func flight(fd int32) (int32, syscall.Errno) {
	if fd < 0 {
		return -1, syscall.EBADF
	}
	r, e := dupFd(fd, flightBase, true)
	if e == syscall.EMFILE || e == syscall.EINVAL {
		r, e = dupFd(fd, 0, true)
	}
	return r, e
}

func (u *uxSock) addWaiter(x *uxSock) {
	for _, y := range u.waiters {
		if y == x {
			return
		}
	}
	u.waiters = append(u.waiters, x)
}

// uncharge gives the sender of m back n bytes of its send buffer.
func (w *uxWork) uncharge(m *uxMsg, n int) {
	n = min(n, m.charge)
	if m.snd != nil && n > 0 {
		m.snd.wmem -= n
		m.charge -= n
		w.pokeUp(m.snd)
	}
}

// purge drops u's receive queue.
func (w *uxWork) purge(u *uxSock) {
	for i, m := range u.q {
		w.uncharge(m, m.charge)
		w.close = append(w.close, m.fds...)
		u.q[i] = nil
		m.free()
	}
	u.q, u.qBytes = nil, 0
	w.pokeWaiters(u)
}

// sysUnixSocket implements socket(AF_UNIX, typ, proto) (unix_create).
func sysUnixSocket(typ, proto, flags int) (int32, syscall.Errno) {
	if proto != 0 && proto != syscall.AF_UNIX {
		return -1, syscall.EPROTONOSUPPORT
	}
	switch typ {
	case syscall.SOCK_STREAM, syscall.SOCK_DGRAM, syscall.SOCK_SEQPACKET:
	case syscall.SOCK_RAW:
		typ = syscall.SOCK_DGRAM // as Linux: "BSD has AF_UNIX, SOCK_RAW though nothing uses it"
	default:
		return -1, syscall.ESOCKTNOSUPPORT
	}
	return newUxSocket(newUxSock(typ), flags)
}

// newUxSocket gives u a descriptor.
func newUxSocket(u *uxSock, flags int) (int32, syscall.Errno) {
	kflags := uintptr(flags & (syscall.O_NONBLOCK | syscall.O_CLOEXEC))
	r, e := rawSyscall(abi.SysSockFd, kflags, 0, 0)
	if e != 0 {
		return -1, e
	}
	fd := int32(r)
	s := &socket{fam: syscall.AF_UNIX, typ: u.typ, wq: new(waiter.Queue), ux: u}
	s.fd.Store(-1)
	s.nonblock.Store(flags&syscall.O_NONBLOCK != 0)
	ux.mu.Lock()
	u.s = s
	ux.mu.Unlock()
	s.install(fd)
	s.recordIno(fd)
	s.refresh()
	return fd, 0
}

// sysSocketpair implements socketpair(2); sv is the user's int[2].
func sysSocketpair(domain, typ, proto int, sv unsafe.Pointer) syscall.Errno {
	flags := typ &^ 0xf
	if flags&^(syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC) != 0 {
		return syscall.EINVAL
	}
	typ &= 0xf
	if sv == nil {
		return syscall.EFAULT
	}
	switch domain {
	case syscall.AF_UNIX, syscall.AF_INET, syscall.AF_INET6:
	default:
		return syscall.EAFNOSUPPORT
	}
	if typ > syscall.SOCK_PACKET {
		return syscall.EINVAL
	}
	if domain != syscall.AF_UNIX {
		return syscall.EOPNOTSUPP // sock_no_socketpair
	}
	if proto != 0 && proto != syscall.AF_UNIX {
		return syscall.EPROTONOSUPPORT
	}
	switch typ {
	case syscall.SOCK_STREAM, syscall.SOCK_DGRAM, syscall.SOCK_SEQPACKET:
	case syscall.SOCK_RAW:
		typ = syscall.SOCK_DGRAM
	default:
		return syscall.ESOCKTNOSUPPORT
	}
	a, b := newUxSock(typ), newUxSock(typ)
	a.peer, b.peer = b, a
	a.state, b.state = uxEstablished, uxEstablished
	a.peerCred, b.peerCred = ownCred(), ownCred()
	a.hasCred, b.hasCred = true, true
	fa, e := newUxSocket(a, flags)
	if e != 0 {
		return e
	}
	fb, e := newUxSocket(b, flags)
	if e != 0 {
		closeFd(fa)
		return e
	}
	fds := (*[2]int32)(sv)
	fds[0], fds[1] = fa, fb
	return 0
}

// uxClose releases the socket when its last descriptor closes.
func (s *socket) uxClose() {
	var w uxWork
	ux.mu.Lock()
	w.release(s.ux, false)
	ux.mu.Unlock()
	w.run()
}

// release is unix_release_sock: the peer of a connection sees EOF (and
// ECONNRESET if this end had data unread), a listener's connections not
// accepted yet are reset.
func (w *uxWork) release(u *uxSock, embryo bool) {
	if u.dead {
		return
	}
	u.dead = true
	u.unbind()
	state := u.state
	u.state = uxClose
	pair := u.peer
	u.peer = nil
	u.shut = shutMask
	if pair != nil {
		if u.typ != syscall.SOCK_DGRAM {
			pair.shut = shutMask
			if len(u.q) > 0 || embryo {
				pair.err = syscall.ECONNRESET
			}
		}
		w.wakeUp(pair)
		w.pokeWaiters(pair)
	}
	w.purge(u)
	if state == uxListen {
		for _, c := range u.accq {
			w.release(c, true)
		}
		u.accq = nil
	}
}

func (u *uxSock) unbind() {
	if u.absKey != "" && ux.abstract[u.absKey] == u {
		delete(ux.abstract, u.absKey)
	}
	if u.pathKey != (uxKey{}) && ux.paths[u.pathKey] == u {
		delete(ux.paths, u.pathKey)
	}
}

// uxReadiness is unix_poll (streams) or unix_dgram_poll.
func (s *socket) uxReadiness() uint32 {
	ux.mu.Lock()
	defer ux.mu.Unlock()
	u := s.ux
	var m waiter.EventMask
	if u.err != 0 {
		m |= waiter.EventErr
	}
	if u.shut == shutMask {
		m |= waiter.EventHUp
	}
	if u.shut&shutRcv != 0 {
		m |= waiter.EventRdHUp | waiter.EventIn
	}
	if len(u.q) > 0 || len(u.accq) > 0 {
		m |= waiter.EventIn
	}
	if u.typ != syscall.SOCK_DGRAM && u.state == uxClose {
		m |= waiter.EventHUp
	}
	writable := u.state != uxListen && u.wmem*4 <= u.sndbuf
	if writable && u.typ != syscall.SOCK_STREAM {
		if o := u.peer; o != nil && o.peer != u && len(o.q) > uxMaxDgramQlen {
			o.addWaiter(u) // unix_dgram_peer_wake_me
			writable = false
		}
	}
	if writable {
		m |= waiter.EventOut
	}
	return uint32(m)
}

// waitUx blocks until ready (checked under ux.mu) or the timeout passes.
func (s *socket) waitUx(timeout int64, ready func(u *uxSock) bool) bool {
	return s.wait(allEvents, timeout, func() bool {
		ux.mu.Lock()
		defer ux.mu.Unlock()
		return ready(s.ux)
	})
}

// Addresses.

// uxAddrArg copies a sockaddr argument as move_addr_to_kernel does; a
// zero length yields an empty address.
func uxAddrArg(p unsafe.Pointer, n uintptr) ([]byte, syscall.Errno) {
	l := int32(n)
	if l < 0 || l > sizeofSockaddrStorage {
		return nil, syscall.EINVAL
	}
	if l == 0 {
		return []byte{}, 0
	}
	if p == nil {
		return nil, syscall.EFAULT
	}
	b := make([]byte, l)
	copy(b, unsafe.Slice((*byte)(p), l))
	return b, 0
}

// uxValid is unix_validate_addr.
func uxValid(b []byte) syscall.Errno {
	if len(b) <= 2 || len(b) > sizeofSockaddrUnix || binary.NativeEndian.Uint16(b) != syscall.AF_UNIX {
		return syscall.EINVAL
	}
	return 0
}

// uxPath returns the path of a sockaddr_un naming a file: sun_path up to
// its first NUL, NUL-terminated.
func uxPath(b []byte) []byte {
	p := b[2:]
	for i, c := range p {
		if c == 0 {
			p = p[:i]
			break
		}
	}
	return append(append([]byte(nil), p...), 0)
}

func uxAbstractKey(typ int, name []byte) string {
	return string(rune('0'+typ)) + string(name)
}

// putUxAddr stores addr (nil: none, length 0) at the user's (p, *lenp) as
// move_addr_to_user does.
func putUxAddr(addr []byte, p, lenp unsafe.Pointer) syscall.Errno {
	if lenp == nil {
		return syscall.EFAULT
	}
	l := int32(*(*uint32)(lenp))
	n := min(int(l), len(addr))
	if n < 0 {
		return syscall.EINVAL
	}
	if n > 0 {
		if p == nil {
			return syscall.EFAULT
		}
		copy(unsafe.Slice((*byte)(p), n), addr)
	}
	*(*uint32)(lenp) = uint32(len(addr))
	return 0
}

// uxName is what getsockname reports for u: its address, or the family
// alone when unbound.
func uxName(u *uxSock) []byte {
	if u.addr != nil {
		return u.addr
	}
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], syscall.AF_UNIX)
	return b[:]
}

func statPath(path []byte, flags int) (syscall.Stat_t, syscall.Errno) {
	var st syscall.Stat_t
	_, _, e := rawSyscall6(syscall.SYS_NEWFSTATAT, atFdcwd, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&st)), uintptr(flags), 0, 0)
	return st, e
}

// bind implements bind(2) (unix_bind).
func (s *socket) uxBind(b []byte) syscall.Errno {
	u := s.ux
	if len(b) == 2 && binary.NativeEndian.Uint16(b) == syscall.AF_UNIX {
		ux.mu.Lock()
		defer ux.mu.Unlock()
		return u.autobind()
	}
	if e := uxValid(b); e != 0 {
		return e
	}
	if b[2] == 0 {
		ux.mu.Lock()
		defer ux.mu.Unlock()
		if u.addr != nil || u.dead {
			return syscall.EINVAL
		}
		key := uxAbstractKey(u.typ, b[2:])
		if ux.abstract[key] != nil {
			return syscall.EADDRINUSE
		}
		u.register(append([]byte(nil), b...), key)
		return 0
	}
	// A file: made first, then the socket checked, as unix_bind_bsd.
	path := uxPath(b)
	_, _, e := rawSyscall6(syscall.SYS_MKNODAT, atFdcwd, uintptr(unsafe.Pointer(&path[0])),
		syscall.S_IFSOCK|0o777, 0, 0, 0)
	if e == syscall.EEXIST {
		return syscall.EADDRINUSE
	}
	if e != 0 {
		return e
	}
	st, e := statPath(path, atSymlinkNofollow)
	ux.mu.Lock()
	if e != 0 || u.addr != nil || u.dead {
		ux.mu.Unlock()
		rawSyscall(syscall.SYS_UNLINKAT, atFdcwd, uintptr(unsafe.Pointer(&path[0])), 0)
		if e != 0 {
			return e
		}
		return syscall.EINVAL
	}
	defer ux.mu.Unlock()
	addr := make([]byte, 2+len(path))
	binary.NativeEndian.PutUint16(addr, syscall.AF_UNIX)
	copy(addr[2:], path)
	key := uxKey{st.Dev, st.Ino}
	if ux.paths == nil {
		ux.paths = make(map[uxKey]*uxSock)
	}
	ux.paths[key] = u // a socket whose file was removed loses its inode
	u.addr, u.pathKey = addr, key
	return 0
}

// register gives u the abstract address addr (under ux.mu).
func (u *uxSock) register(addr []byte, key string) {
	if ux.abstract == nil {
		ux.abstract = make(map[string]*uxSock)
	}
	ux.abstract[key] = u
	u.addr, u.absKey = addr, key
}

// autobind gives an unbound socket an abstract name of five hex digits
// (unix_autobind), under ux.mu.
func (u *uxSock) autobind() syscall.Errno {
	if u.addr != nil {
		return 0
	}
	if ux.rover == 0 {
		ux.rover = rand.Uint32()&0xfffff | 1<<31
	}
	const hex = "0123456789abcdef"
	for range 0x100000 {
		ux.rover = (ux.rover+1)&0xfffff | 1<<31
		n := ux.rover & 0xfffff
		addr := make([]byte, 8)
		binary.NativeEndian.PutUint16(addr, syscall.AF_UNIX)
		for i := 0; i < 5; i++ {
			addr[7-i] = hex[n>>(4*i)&0xf]
		}
		key := uxAbstractKey(u.typ, addr[2:])
		if ux.abstract[key] == nil {
			u.register(addr, key)
			return 0
		}
	}
	return syscall.ENOSPC
}

// find is unix_find_other: the socket bound to address b, for a socket of
// type typ.
func uxFind(b []byte, typ int) (*uxSock, syscall.Errno) {
	if b[2] == 0 {
		ux.mu.Lock()
		defer ux.mu.Unlock()
		o := ux.abstract[uxAbstractKey(typ, b[2:])]
		if o == nil {
			return nil, syscall.ECONNREFUSED
		}
		return o, 0
	}
	path := uxPath(b)
	st, e := statPath(path, 0)
	if e != 0 {
		return nil, e
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		// Linux asks for write permission first: EROFS for a file or
		// directory on the read-only root.
		if _, _, e := rawSyscall6(syscall.SYS_FACCESSAT, atFdcwd, uintptr(unsafe.Pointer(&path[0])), 2, 0, 0, 0); e != 0 {
			return nil, e
		}
		return nil, syscall.ECONNREFUSED
	}
	ux.mu.Lock()
	defer ux.mu.Unlock()
	o := ux.paths[uxKey{st.Dev, st.Ino}]
	if o == nil {
		return nil, syscall.ECONNREFUSED
	}
	if o.typ != typ {
		return nil, syscall.EPROTOTYPE
	}
	return o, 0
}

// Connections.

// uxConnect implements connect(2).
func (s *socket) uxConnect(b []byte) syscall.Errno {
	u := s.ux
	if u.typ == syscall.SOCK_DGRAM {
		return s.uxDgramConnect(b)
	}
	if e := uxValid(b); e != 0 {
		return e
	}
	if e := s.uxPasscredBind(); e != 0 {
		return e
	}
	for {
		o, e := uxFind(b, u.typ)
		if e != 0 {
			return e
		}
		var w uxWork
		ux.mu.Lock()
		if o.dead {
			ux.mu.Unlock()
			continue // closed meanwhile: look again
		}
		if o.state != uxListen || o.shut&shutRcv != 0 {
			ux.mu.Unlock()
			return syscall.ECONNREFUSED
		}
		if len(o.accq) > o.backlog {
			o.addWaiter(u)
			ux.mu.Unlock()
			if s.nonblock.Load() {
				return syscall.EAGAIN
			}
			if !s.waitUx(s.sndTimeo.Load(), func(*uxSock) bool {
				return o.dead || len(o.accq) <= o.backlog || o.state != uxListen
			}) {
				return syscall.EAGAIN
			}
			continue
		}
		if u.state != uxClose || u.dead {
			ux.mu.Unlock()
			if u.state == uxEstablished {
				return syscall.EISCONN
			}
			return syscall.EINVAL
		}
		c := newUxSock(u.typ)
		c.state, c.peer, c.addr = uxEstablished, u, o.addr
		c.peerCred, c.hasCred = ownCred(), true
		u.peerCred, u.hasCred = o.peerCred, o.hasCred
		u.state, u.peer = uxEstablished, c
		o.accq = append(o.accq, c)
		w.wakeUp(o)
		w.wakeUp(u)
		ux.mu.Unlock()
		w.run()
		return 0
	}
}

// uxPasscredBind autobinds a socket with SO_PASSCRED set that connects or
// sends unbound, as Linux does.
func (s *socket) uxPasscredBind() syscall.Errno {
	ux.mu.Lock()
	defer ux.mu.Unlock()
	if s.ux.passcred && s.ux.addr == nil {
		return s.ux.autobind()
	}
	return 0
}

// uxDgramConnect is unix_dgram_connect: sets (or, with AF_UNSPEC, clears)
// the default destination.
func (s *socket) uxDgramConnect(b []byte) syscall.Errno {
	u := s.ux
	if len(b) < 2 {
		return syscall.EINVAL
	}
	var o *uxSock
	if binary.NativeEndian.Uint16(b) != syscall.AF_UNSPEC {
		if e := uxValid(b); e != 0 {
			return e
		}
		if e := s.uxPasscredBind(); e != 0 {
			return e
		}
		for {
			var e syscall.Errno
			if o, e = uxFind(b, u.typ); e != 0 {
				return e
			}
			ux.mu.Lock()
			if !o.dead {
				break
			}
			ux.mu.Unlock()
		}
		if o.peer != nil && o.peer != u {
			ux.mu.Unlock()
			return syscall.EPERM
		}
		u.state = uxEstablished
		o.state = uxEstablished
	} else {
		ux.mu.Lock()
	}
	var w uxWork
	if old := u.peer; old != nil {
		u.peer = o
		if o == nil {
			u.state = uxClose
		}
		if o != old {
			w.disconnected(u, old)
			if old.peer == nil {
				old.state = uxClose
			}
		}
	} else {
		u.peer = o
	}
	w.wakeUp(u)
	ux.mu.Unlock()
	w.run()
	return 0
}

// disconnected is unix_dgram_disconnected: a socket that leaves its peer
// drops what it received; a peer connected back learns of it (ECONNRESET).
func (w *uxWork) disconnected(u, old *uxSock) {
	if len(u.q) == 0 {
		return
	}
	w.purge(u)
	if !old.dead && old.peer == u {
		old.err = syscall.ECONNRESET
		w.wakeUp(old)
	}
}

func (s *socket) uxListen(backlog int) syscall.Errno {
	u := s.ux
	if u.typ == syscall.SOCK_DGRAM {
		return syscall.EOPNOTSUPP
	}
	if uint(backlog) > uxSomaxconn {
		backlog = uxSomaxconn
	}
	var w uxWork
	ux.mu.Lock()
	if u.addr == nil || u.state != uxClose && u.state != uxListen {
		ux.mu.Unlock()
		return syscall.EINVAL
	}
	if backlog > u.backlog {
		w.pokeWaiters(u)
	}
	u.backlog = backlog
	u.state = uxListen
	u.peerCred, u.hasCred = ownCred(), true
	w.wakeUp(u)
	ux.mu.Unlock()
	w.run()
	return 0
}

// uxAccept implements accept4(2); it returns the new descriptor and the
// peer's address.
func (s *socket) uxAccept(flags int) (int32, []byte, syscall.Errno) {
	u := s.ux
	if u.typ == syscall.SOCK_DGRAM {
		return -1, nil, syscall.EOPNOTSUPP
	}
	for {
		var w uxWork
		ux.mu.Lock()
		if u.state != uxListen {
			ux.mu.Unlock()
			return -1, nil, syscall.EINVAL
		}
		if len(u.accq) > 0 {
			c := u.accq[0]
			u.accq[0] = nil
			u.accq = u.accq[1:]
			w.pokeWaiters(u)
			ux.mu.Unlock()
			w.run()
			s.refresh()
			fd, e := newUxSocket(c, flags)
			ux.mu.Lock()
			if e != 0 {
				if u.state == uxListen && !u.dead {
					u.accq = append([]*uxSock{c}, u.accq...)
				} else {
					w = uxWork{}
					w.release(c, true)
				}
				ux.mu.Unlock()
				w.run()
				s.refresh()
				return -1, nil, e
			}
			var peer []byte
			if c.peer != nil {
				peer = uxName(c.peer)
			} else {
				peer = uxName(&uxSock{})
			}
			ux.mu.Unlock()
			return fd, peer, 0
		}
		if u.err != 0 {
			e := u.err
			u.err = 0
			ux.mu.Unlock()
			s.refresh()
			return -1, nil, e
		}
		if u.shut&shutRcv != 0 {
			ux.mu.Unlock()
			return -1, nil, syscall.EINVAL
		}
		ux.mu.Unlock()
		if s.nonblock.Load() {
			return -1, nil, syscall.EAGAIN
		}
		if !s.waitUx(s.rcvTimeo.Load(), func(u *uxSock) bool {
			return len(u.accq) > 0 || u.err != 0 || u.shut&shutRcv != 0 || u.state != uxListen
		}) {
			return -1, nil, syscall.EAGAIN
		}
	}
}

func (s *socket) uxShutdown(how int) syscall.Errno {
	if how < syscall.SHUT_RD || how > syscall.SHUT_RDWR {
		return syscall.EINVAL
	}
	mode := uint8(how + 1)
	u := s.ux
	var w uxWork
	ux.mu.Lock()
	u.shut |= mode
	if o := u.peer; o != nil && u.typ != syscall.SOCK_DGRAM {
		var pm uint8
		if mode&shutRcv != 0 {
			pm |= shutSnd
		}
		if mode&shutSnd != 0 {
			pm |= shutRcv
		}
		o.shut |= pm
		w.wakeUp(o)
	}
	w.wakeUp(u)
	ux.mu.Unlock()
	w.run()
	return 0
}

// Data.

// uxOut is what a send carries besides the data: descriptors (already in
// flight) and credentials (SCM_CREDENTIALS).
type uxOut struct {
	fds  []int32
	cred *ucred
}

func (o *uxOut) drop() {
	for _, fd := range o.fds {
		closeFd(fd)
	}
	o.fds = nil
}

func (s *socket) credFor(out *uxOut) ucred {
	if out != nil && out.cred != nil {
		return *out.cred
	}
	return ownCred()
}

// uxSend sends bufs; to is the destination address (nil: none given).
func (s *socket) uxSend(bufs [][]byte, flags int, to []byte, out *uxOut) (int, syscall.Errno) {
	if out == nil {
		out = &uxOut{}
	}
	defer out.drop() // what was not sent
	if flags&syscall.MSG_OOB != 0 {
		return 0, syscall.EOPNOTSUPP
	}
	if s.typ == syscall.SOCK_STREAM {
		return s.uxStreamSend(bufs, flags, to, out)
	}
	return s.uxDgramSend(bufs, flags, to, out)
}

// sendWait is sock_alloc_send_pskb's wait for send buffer space; it
// returns with ux.mu held when there is room.
func (s *socket) sendWait(nonblock bool) syscall.Errno {
	for {
		ux.mu.Lock()
		u := s.ux
		if u.err != 0 {
			e := u.err
			u.err = 0
			ux.mu.Unlock()
			s.refresh()
			return e
		}
		if u.shut&shutSnd != 0 {
			ux.mu.Unlock()
			return syscall.EPIPE
		}
		if u.wmem < u.sndbuf {
			return 0
		}
		ux.mu.Unlock()
		if nonblock {
			return syscall.EAGAIN
		}
		if !s.waitUx(s.sndTimeo.Load(), func(u *uxSock) bool {
			return u.err != 0 || u.shut&shutSnd != 0 || u.wmem < u.sndbuf
		}) {
			return syscall.EAGAIN
		}
	}
}

// uxStreamSend is unix_stream_sendmsg.
func (s *socket) uxStreamSend(bufs [][]byte, flags int, to []byte, out *uxOut) (int, syscall.Errno) {
	u := s.ux
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	ux.mu.Lock()
	switch {
	case len(to) > 0:
		e := syscall.EOPNOTSUPP
		if u.state == uxEstablished {
			e = syscall.EISCONN
		}
		ux.mu.Unlock()
		return 0, e
	case u.peer == nil:
		ux.mu.Unlock()
		return 0, syscall.ENOTCONN
	case u.shut&shutSnd != 0:
		ux.mu.Unlock()
		return 0, syscall.EPIPE
	}
	ux.mu.Unlock()
	r := iovReader{bufs: bufs}
	total := r.Len()
	cred := s.credFor(out)
	sent := 0
	for sent < total {
		if e := s.sendWait(nonblock); e != 0 {
			if sent > 0 {
				return sent, 0
			}
			return 0, e
		}
		o := u.peer
		if o == nil || o.dead || o.shut&shutRcv != 0 {
			ux.mu.Unlock()
			if sent > 0 {
				return sent, 0
			}
			return 0, syscall.EPIPE
		}
		size := min(total-sent, max(u.sndbuf/2-64, 1), uxChunk)
		m := newMsg(&r, size)
		m.fds, m.cred, m.snd, m.charge = out.fds, cred, u, size
		out.fds = nil // only in the first buffer
		o.q = append(o.q, m)
		o.qBytes += size
		u.wmem += size
		var w uxWork
		w.wakeUp(o)
		ux.mu.Unlock()
		w.run()
		sent += size
	}
	if sent > 0 {
		s.refresh()
	}
	return sent, 0
}

// uxDgramSend is unix_dgram_sendmsg (and unix_seqpacket_sendmsg).
func (s *socket) uxDgramSend(bufs [][]byte, flags int, to []byte, out *uxOut) (int, syscall.Errno) {
	u := s.ux
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	if s.typ == syscall.SOCK_SEQPACKET {
		ux.mu.Lock()
		st := u.state
		ux.mu.Unlock()
		if st != uxEstablished {
			return 0, syscall.ENOTCONN
		}
		to = nil // the address is ignored
	}
	if len(to) > 0 {
		if e := uxValid(to); e != 0 {
			return 0, e
		}
	} else {
		to = nil
		ux.mu.Lock()
		p := u.peer
		ux.mu.Unlock()
		if p == nil {
			return 0, syscall.ENOTCONN
		}
	}
	if e := s.uxPasscredBind(); e != 0 {
		return 0, e
	}
	r := iovReader{bufs: bufs}
	total := r.Len()
	ux.mu.Lock()
	sndbuf := u.sndbuf
	ux.mu.Unlock()
	if total > sndbuf-32 {
		return 0, syscall.EMSGSIZE
	}
	if e := s.sendWait(nonblock); e != 0 {
		return 0, e
	}
	ux.mu.Unlock()
	m := newMsg(&r, total)
	m.cred, m.snd, m.charge = s.credFor(out), u, total
	for {
		var o *uxSock
		if to != nil {
			var e syscall.Errno
			if o, e = uxFind(to, s.typ); e != 0 {
				return 0, e
			}
		}
		var w uxWork
		ux.mu.Lock()
		if to == nil {
			if o = u.peer; o == nil {
				ux.mu.Unlock()
				return 0, syscall.ECONNRESET
			}
		}
		if o.peer != nil && o.peer != u {
			ux.mu.Unlock()
			return 0, syscall.EPERM
		}
		if o.dead {
			if s.typ == syscall.SOCK_SEQPACKET {
				ux.mu.Unlock()
				return 0, syscall.EPIPE
			}
			if u.peer == o {
				u.peer = nil
				u.state = uxClose
				w.disconnected(u, o)
				w.wakeUp(u)
				ux.mu.Unlock()
				w.run()
				return 0, syscall.ECONNREFUSED
			}
			ux.mu.Unlock()
			continue // found dead: look the address up again
		}
		if o.shut&shutRcv != 0 {
			ux.mu.Unlock()
			return 0, syscall.EPIPE
		}
		if o != u && o.peer != u && len(o.q) > uxMaxDgramQlen {
			o.addWaiter(u)
			ux.mu.Unlock()
			if nonblock {
				m.free()
				return 0, syscall.EAGAIN
			}
			if !s.waitUx(s.sndTimeo.Load(), func(u *uxSock) bool {
				return o.dead || len(o.q) <= uxMaxDgramQlen || o.peer == u
			}) {
				return 0, syscall.EAGAIN
			}
			continue
		}
		m.fds = out.fds
		out.fds = nil
		o.q = append(o.q, m)
		o.qBytes += total
		u.wmem += total
		w.wakeUp(o)
		ux.mu.Unlock()
		w.run()
		s.refresh()
		return total, 0
	}
}

// uxIn is what a receive returns besides the data.
type uxIn struct {
	from []byte  // the sender's address (nil: unbound)
	fds  []int32 // descriptors in flight, now the receiver's to install
	cred ucred
	got  bool // a buffer was read (cred and from are set)
}

// uxRecv receives into bufs: n bytes copied of total (a datagram's size).
func (s *socket) uxRecv(bufs [][]byte, flags int, in *uxIn) (n, total int, e syscall.Errno) {
	if s.typ == syscall.SOCK_STREAM {
		if flags&syscall.MSG_OOB != 0 {
			return 0, 0, syscall.EINVAL // no out-of-band byte waiting
		}
		return s.uxStreamRecv(bufs, flags, in)
	}
	if flags&syscall.MSG_OOB != 0 {
		return 0, 0, syscall.EOPNOTSUPP
	}
	return s.uxDgramRecv(bufs, flags, in)
}

// peekFds duplicates descriptors in flight for a MSG_PEEK (unix_peek_fds).
func peekFds(fds []int32) []int32 {
	var r []int32
	for _, fd := range fds {
		if d, e := dupFd(fd, flightBase, true); e == 0 {
			r = append(r, d)
		}
	}
	return r
}

// uxDgramRecv is unix_dgram_recvmsg (and unix_seqpacket_recvmsg).
func (s *socket) uxDgramRecv(bufs [][]byte, flags int, in *uxIn) (int, int, syscall.Errno) {
	u := s.ux
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	peek := flags&syscall.MSG_PEEK != 0
	seq := s.typ == syscall.SOCK_SEQPACKET
	if seq {
		ux.mu.Lock()
		st := u.state
		ux.mu.Unlock()
		if st != uxEstablished {
			return 0, 0, syscall.ENOTCONN
		}
	}
	for {
		var w uxWork
		ux.mu.Lock()
		if u.err != 0 {
			e := u.err
			u.err = 0
			ux.mu.Unlock()
			s.refresh()
			return 0, 0, e
		}
		if len(u.q) > 0 {
			m := u.q[0]
			if peek {
				in.fds = peekFds(m.fds)
			} else {
				u.q[0] = nil
				u.q = u.q[1:]
				u.qBytes -= len(m.b)
				w.uncharge(m, m.charge)
				w.pokeWaiters(u)
				in.fds, m.fds = m.fds, nil
			}
			if m.snd != nil {
				in.from = m.snd.addr
			}
			in.cred, in.got = m.cred, true
			iw := iovWriter{bufs: bufs}
			iw.Write(m.b)
			size := len(m.b)
			if !peek {
				m.free()
			}
			ux.mu.Unlock()
			w.run()
			s.refresh()
			return iw.n, size, 0
		}
		if u.shut&shutRcv != 0 && (!nonblock || seq) {
			ux.mu.Unlock()
			return 0, 0, 0
		}
		ux.mu.Unlock()
		if nonblock {
			return 0, 0, syscall.EAGAIN
		}
		if !s.waitUx(s.rcvTimeo.Load(), func(u *uxSock) bool {
			return len(u.q) > 0 || u.err != 0 || u.shut&shutRcv != 0
		}) {
			return 0, 0, syscall.EAGAIN
		}
	}
}

// uxStreamRecv is unix_stream_read_generic.
func (s *socket) uxStreamRecv(bufs [][]byte, flags int, in *uxIn) (int, int, syscall.Errno) {
	u := s.ux
	nonblock := s.nonblock.Load() || flags&syscall.MSG_DONTWAIT != 0
	peek := flags&syscall.MSG_PEEK != 0
	iw := iovWriter{bufs: bufs}
	size := iw.size()
	target := 1
	if flags&syscall.MSG_WAITALL != 0 {
		target = size
	} else if v, ok := s.keptOpts.Load(syscall.SO_RCVLOWAT); ok {
		target = min(v.(int), size)
	}
	target = max(target, 1)
	ux.mu.Lock()
	st := u.state
	ux.mu.Unlock()
	if st != uxEstablished {
		return 0, 0, syscall.EINVAL
	}
	copied, skip := 0, 0
	for {
		var w uxWork
		ux.mu.Lock()
		done := false
		sk := skip
		for i := 0; size > 0 && i < len(u.q); {
			m := u.q[i]
			data := m.b[m.off:]
			if sk >= len(data) {
				sk -= len(data)
				i++
				continue
			}
			data = data[sk:]
			sk = 0
			if !in.got {
				if m.snd != nil {
					in.from = m.snd.addr
				}
				in.cred, in.got = m.cred, true
			}
			c := min(len(data), size)
			iw.Write(data[:c])
			copied += c
			size -= c
			if peek {
				skip += c
				if m.fds != nil {
					in.fds = peekFds(m.fds)
					done = true
					break
				}
				if c < len(data) {
					break
				}
				i++
				continue
			}
			m.off += c
			u.qBytes -= c
			w.uncharge(m, c)
			if m.fds != nil {
				in.fds, m.fds = m.fds, nil
			}
			if m.off < len(m.b) {
				break
			}
			u.q[0] = nil
			u.q = u.q[1:]
			m.free()
			if in.fds != nil {
				done = true // a read stops after the buffer that carried descriptors
				break
			}
		}
		if done || copied >= target || size == 0 && (copied > 0 || u.qBytes > skip) {
			ux.mu.Unlock()
			w.run()
			s.refresh()
			return copied, copied, 0
		}
		if u.err != 0 {
			e := u.err
			u.err = 0
			ux.mu.Unlock()
			w.run()
			s.refresh()
			if copied > 0 {
				return copied, copied, 0
			}
			return 0, 0, e
		}
		if u.shut&shutRcv != 0 {
			ux.mu.Unlock()
			w.run()
			s.refresh()
			return copied, copied, 0
		}
		ux.mu.Unlock()
		w.run()
		if nonblock {
			if copied > 0 {
				s.refresh()
				return copied, copied, 0
			}
			return 0, 0, syscall.EAGAIN
		}
		if !s.waitUx(s.rcvTimeo.Load(), func(u *uxSock) bool {
			return u.qBytes > skip || u.err != 0 || u.shut&shutRcv != 0
		}) {
			if copied > 0 {
				s.refresh()
				return copied, copied, 0
			}
			return 0, 0, syscall.EAGAIN
		}
	}
}

// Control messages.

func cmsgAlign(n int) int { return (n + 7) &^ 7 }

// uxParseCmsgs reads sendmsg's control messages (__scm_send): descriptors
// go in flight, credentials are checked.
func uxParseCmsgs(m *syscall.Msghdr) (*uxOut, syscall.Errno) {
	out := &uxOut{}
	clen := m.Controllen
	if clen == 0 {
		return out, 0
	}
	if clen > 1<<31-1 {
		return nil, syscall.ENOBUFS
	}
	if m.Control == nil {
		return nil, syscall.EFAULT
	}
	ctl := append([]byte(nil), unsafe.Slice(m.Control, clen)...)
	for off := 0; off+sizeofCmsghdr <= len(ctl); {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&ctl[off]))
		l := h.Len
		if l < sizeofCmsghdr || l > uint64(len(ctl)-off) {
			out.drop()
			return nil, syscall.EINVAL
		}
		data := ctl[off+sizeofCmsghdr : off+int(l)]
		if h.Level == syscall.SOL_SOCKET {
			switch h.Type {
			case syscall.SCM_RIGHTS:
				n := len(data) / 4
				if len(out.fds)+n > uxMaxFds {
					out.drop()
					return nil, syscall.EINVAL
				}
				for i := 0; i < n; i++ {
					fd := int32(binary.NativeEndian.Uint32(data[4*i:]))
					d, e := flight(fd)
					if e != 0 {
						out.drop()
						if e == syscall.EMFILE {
							return nil, e
						}
						return nil, syscall.EBADF
					}
					out.fds = append(out.fds, d)
				}
			case syscall.SCM_CREDENTIALS:
				if l != sizeofCmsghdr+sizeofUcred {
					out.drop()
					return nil, syscall.EINVAL
				}
				c := ucred{int32(binary.NativeEndian.Uint32(data)), binary.NativeEndian.Uint32(data[4:]), binary.NativeEndian.Uint32(data[8:])}
				if c.pid != ownCred().pid {
					out.drop()
					return nil, syscall.ESRCH // no such process
				}
				out.cred = &c
			default:
				out.drop()
				return nil, syscall.EINVAL
			}
		}
		off += cmsgAlign(int(l))
	}
	return out, 0
}

// cmsgWriter fills recvmsg's control buffer as put_cmsg and
// scm_detach_fds do.
type cmsgWriter struct {
	buf   []byte
	used  int
	trunc bool
}

func (c *cmsgWriter) put(typ int32, data []byte) {
	rest := len(c.buf) - c.used
	if c.buf == nil || rest < sizeofCmsghdr {
		c.trunc = true
		return
	}
	cmlen := sizeofCmsghdr + len(data)
	if rest < cmlen {
		c.trunc = true
		cmlen = rest
	}
	p := c.buf[c.used:]
	binary.NativeEndian.PutUint64(p, uint64(cmlen))
	binary.NativeEndian.PutUint32(p[8:], syscall.SOL_SOCKET)
	binary.NativeEndian.PutUint32(p[12:], uint32(typ))
	copy(p[sizeofCmsghdr:cmlen], data)
	c.used += min(cmsgAlign(sizeofCmsghdr+len(data)), rest)
}

// putFds installs the descriptors in flight as the receiver's, as many
// as the buffer has room for; the others are closed.
func (c *cmsgWriter) putFds(fds []int32, cloexec bool) {
	rest := len(c.buf) - c.used
	fdmax := 0
	if c.buf != nil && rest > sizeofCmsghdr {
		fdmax = min((rest-sizeofCmsghdr)/4, len(fds))
	}
	i := 0
	for ; i < fdmax; i++ {
		nfd, e := dupFd(fds[i], 0, cloexec)
		if e != 0 {
			break
		}
		closeFd(fds[i])
		binary.NativeEndian.PutUint32(c.buf[c.used+sizeofCmsghdr+4*i:], uint32(nfd))
	}
	if i > 0 {
		p := c.buf[c.used:]
		binary.NativeEndian.PutUint64(p, uint64(sizeofCmsghdr+4*i))
		binary.NativeEndian.PutUint32(p[8:], syscall.SOL_SOCKET)
		binary.NativeEndian.PutUint32(p[12:], syscall.SCM_RIGHTS)
		c.used += min(cmsgAlign(sizeofCmsghdr+4*i), rest)
	}
	if i < len(fds) || len(fds) > 0 && fdmax <= 0 {
		c.trunc = true
	}
	for _, fd := range fds[i:] {
		closeFd(fd)
	}
}

// uxCall serves the socket calls on an AF_UNIX socket; handled is false
// for those hook serves the same way for every socket (close, dup, fcntl,
// pread, ...).
func (s *socket) uxCall(trap uintptr, a [6]uintptr, p [3]unsafe.Pointer) (r1, r2 uintptr, e syscall.Errno, handled bool) {
	r := func(v int, e syscall.Errno) (uintptr, uintptr, syscall.Errno, bool) {
		r1, r2, e := ret(v, e)
		return r1, r2, e, true
	}
	u := s.ux
	switch trap {
	case syscall.SYS_IOCTL:
		switch a[1] {
		case fionread, siocoutq:
			if p[0] == nil {
				return r(0, syscall.EFAULT)
			}
			ux.mu.Lock()
			v := u.wmem
			if a[1] == fionread {
				if u.state == uxListen {
					ux.mu.Unlock()
					return r(0, syscall.EINVAL)
				}
				v = u.qBytes
				if u.typ == syscall.SOCK_DGRAM {
					v = 0
					if len(u.q) > 0 {
						v = len(u.q[0].b)
					}
				}
			}
			ux.mu.Unlock()
			*(*int32)(p[0]) = int32(v)
			return r(0, 0)
		}
		return 0, 0, 0, false
	case syscall.SYS_READ, syscall.SYS_READV, syscall.SYS_RECVFROM:
		var bufs [][]byte
		var bounced bool
		var orig [][]byte
		var one []byte
		flags := 0
		if trap == syscall.SYS_READV {
			var e syscall.Errno
			if bufs, bounced, e = iovecs(p[0], a[2], false); e != 0 {
				return r(0, e)
			}
			if len(bufs) == 0 {
				return r(0, 0)
			}
			orig = keepBufs(bufs, bounced)
		} else {
			b, ok := userBuf(p[0], a[2])
			if !ok {
				return r(0, syscall.EFAULT)
			}
			if len(b) == 0 && trap == syscall.SYS_READ {
				return r(0, 0)
			}
			one, bounced = offStack(b, false)
			bufs = [][]byte{one}
			if trap == syscall.SYS_RECVFROM {
				flags = int(a[3])
			}
		}
		var in uxIn
		n, total, e := s.uxRecv(bufs, flags&^syscall.MSG_CMSG_CLOEXEC, &in)
		for _, fd := range in.fds {
			closeFd(fd) // no control buffer: MSG_CTRUNC, the descriptors are lost
		}
		if e != 0 {
			return r(0, e)
		}
		if bounced && n > 0 {
			if trap == syscall.SYS_READV {
				copyBackIov(p[0], a[2], orig, n)
			} else {
				copy(unsafe.Slice((*byte)(p[0]), a[2]), one[:n])
			}
		}
		if trap == syscall.SYS_RECVFROM && p[1] != nil {
			if e := putUxAddr(in.from, p[1], p[2]); e != 0 {
				return r(0, e)
			}
		}
		if flags&syscall.MSG_TRUNC != 0 && s.typ != syscall.SOCK_STREAM {
			n = total
		}
		return r(n, 0)
	case syscall.SYS_WRITE, syscall.SYS_WRITEV, syscall.SYS_SENDTO:
		var bufs [][]byte
		flags := 0
		var to []byte
		if trap == syscall.SYS_WRITEV {
			var e syscall.Errno
			if bufs, _, e = iovecs(p[0], a[2], true); e != 0 {
				return r(0, e)
			}
		} else {
			b, ok := userBuf(p[0], a[2])
			if !ok {
				return r(0, syscall.EFAULT)
			}
			b, _ = offStack(b, true)
			bufs = [][]byte{b}
		}
		if trap == syscall.SYS_SENDTO {
			flags = int(a[3])
			if p[1] != nil || a[4] != 0 {
				var e syscall.Errno
				if to, e = uxAddrArg(p[1], a[5]); e != 0 {
					return r(0, e)
				}
			}
		}
		return r(s.uxSend(bufs, flags, to, nil))
	case syscall.SYS_SENDMSG:
		m := (*syscall.Msghdr)(p[0])
		if m == nil {
			return r(0, syscall.EFAULT)
		}
		var to []byte
		if int32(m.Namelen) < 0 {
			return r(0, syscall.EINVAL)
		}
		if m.Name != nil && m.Namelen > 0 {
			var e syscall.Errno
			if to, e = uxAddrArg(unsafe.Pointer(m.Name), uintptr(min(m.Namelen, sizeofSockaddrStorage))); e != 0 {
				return r(0, e)
			}
		}
		bufs, _, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), true)
		if e != 0 {
			return r(0, e)
		}
		out, e := uxParseCmsgs(m)
		if e != 0 {
			return r(0, e)
		}
		return r(s.uxSend(bufs, int(a[2]), to, out))
	case syscall.SYS_RECVMSG:
		m := (*syscall.Msghdr)(p[0])
		if m == nil {
			return r(0, syscall.EFAULT)
		}
		flags := int(a[2])
		bufs, bounced, e := iovecs(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), false)
		if e != 0 {
			return r(0, e)
		}
		orig := keepBufs(bufs, bounced)
		var in uxIn
		n, total, e := s.uxRecv(bufs, flags&^syscall.MSG_CMSG_CLOEXEC, &in)
		if e != 0 {
			for _, fd := range in.fds {
				closeFd(fd)
			}
			return r(0, e)
		}
		if bounced {
			copyBackIov(unsafe.Pointer(m.Iov), uintptr(m.Iovlen), orig, n)
		}
		mflags := int32(flags & syscall.MSG_CMSG_CLOEXEC)
		if m.Name != nil {
			l := m.Namelen
			if e := putUxAddr(in.from, unsafe.Pointer(m.Name), unsafe.Pointer(&l)); e != 0 {
				for _, fd := range in.fds {
					closeFd(fd)
				}
				return r(0, e)
			}
			m.Namelen = l
		}
		var cw cmsgWriter
		if m.Control != nil && m.Controllen > 0 {
			cw.buf = unsafe.Slice(m.Control, min(m.Controllen, 1<<31-1))
		}
		ux.mu.Lock()
		passcred := u.passcred
		ux.mu.Unlock()
		if passcred && in.got {
			var b [sizeofUcred]byte
			binary.NativeEndian.PutUint32(b[0:], uint32(in.cred.pid))
			binary.NativeEndian.PutUint32(b[4:], in.cred.uid)
			binary.NativeEndian.PutUint32(b[8:], in.cred.gid)
			cw.put(syscall.SCM_CREDENTIALS, b[:])
		}
		if len(in.fds) > 0 {
			cw.putFds(in.fds, flags&syscall.MSG_CMSG_CLOEXEC != 0)
		}
		if cw.trunc {
			mflags |= syscall.MSG_CTRUNC
		}
		m.Controllen = uint64(cw.used)
		if total > n && s.typ != syscall.SOCK_STREAM {
			mflags |= syscall.MSG_TRUNC
			if flags&syscall.MSG_TRUNC != 0 {
				n = total
			}
		}
		m.Flags = mflags
		return r(n, 0)
	case syscall.SYS_BIND:
		b, e := uxAddrArg(p[0], a[2])
		if e != 0 {
			return r(0, e)
		}
		return r(0, s.uxBind(b))
	case syscall.SYS_CONNECT:
		b, e := uxAddrArg(p[0], a[2])
		if e != 0 {
			return r(0, e)
		}
		return r(0, s.uxConnect(b))
	case syscall.SYS_LISTEN:
		return r(0, s.uxListen(int(int32(a[1]))))
	case syscall.SYS_ACCEPT, syscall.SYS_ACCEPT4:
		flags := 0
		if trap == syscall.SYS_ACCEPT4 {
			flags = int(a[3])
		}
		if flags&^(syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC) != 0 {
			return r(0, syscall.EINVAL)
		}
		nfd, peer, e := s.uxAccept(flags)
		if e != 0 {
			return r(0, e)
		}
		if p[0] != nil || p[1] != nil {
			putUxAddr(peer, p[0], p[1]) // the connection is returned even so, as for inet sockets
		}
		return r(int(nfd), 0)
	case syscall.SYS_GETSOCKNAME:
		ux.mu.Lock()
		addr := uxName(u)
		ux.mu.Unlock()
		return r(0, putUxAddr(addr, p[0], p[1]))
	case syscall.SYS_GETPEERNAME:
		ux.mu.Lock()
		o := u.peer
		var addr []byte
		if o != nil {
			addr = uxName(o)
		}
		ux.mu.Unlock()
		if o == nil {
			return r(0, syscall.ENOTCONN)
		}
		return r(0, putUxAddr(addr, p[0], p[1]))
	case syscall.SYS_SHUTDOWN:
		return r(0, s.uxShutdown(int(int32(a[1]))))
	case syscall.SYS_SETSOCKOPT:
		return r(0, s.uxSetsockopt(int(a[1]), int(a[2]), p[0], a[4]))
	case syscall.SYS_GETSOCKOPT:
		return r(0, s.uxGetsockopt(int(a[1]), int(a[2]), p[0], p[1]))
	}
	return 0, 0, 0, false
}

// Options: SOL_SOCKET's (sock_setsockopt); AF_UNIX has no others.

func (s *socket) uxSetsockopt(level, name int, p unsafe.Pointer, n uintptr) syscall.Errno {
	if level != syscall.SOL_SOCKET {
		return syscall.EOPNOTSUPP
	}
	u := s.ux
	switch name {
	case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
		return s.setTimeout(name, p, n)
	case syscall.SO_BINDTODEVICE:
		return 0
	}
	if int32(n) < 4 {
		return syscall.EINVAL
	}
	v, e := optInt(p, n)
	if e != 0 {
		return e
	}
	switch name {
	case syscall.SO_SNDBUF, syscall.SO_RCVBUF, syscall.SO_SNDBUFFORCE, syscall.SO_RCVBUFFORCE:
		var val int
		if name == syscall.SO_SNDBUF || name == syscall.SO_RCVBUF {
			val = int(min(uint32(v), uxMaxBuf)) // a negative value is a large one
		} else {
			val = max(v, 0)
		}
		b := min(val, (1<<31-1)/2) * 2
		var w uxWork
		ux.mu.Lock()
		if name == syscall.SO_SNDBUF || name == syscall.SO_SNDBUFFORCE {
			u.sndbuf = max(b, uxMinSndbuf)
		} else {
			u.rcvbuf = max(b, uxMinRcvbuf)
		}
		w.pokeUp(u)
		ux.mu.Unlock()
		w.run()
	case soPassCred:
		ux.mu.Lock()
		u.passcred = v != 0
		ux.mu.Unlock()
	case syscall.SO_REUSEADDR, soReusePort, syscall.SO_KEEPALIVE, syscall.SO_BROADCAST,
		syscall.SO_OOBINLINE, syscall.SO_DONTROUTE, syscall.SO_TIMESTAMP:
		s.keptOpts.Store(name, boolInt(v != 0))
	case syscall.SO_PRIORITY:
		s.keptOpts.Store(name, v)
	case syscall.SO_RCVLOWAT:
		if v < 0 {
			v = 1<<31 - 1
		}
		s.keptOpts.Store(name, max(v, 1))
	case syscall.SO_LINGER:
		if n < 8 {
			return syscall.EINVAL
		}
		l := *(*syscall.Linger)(p)
		s.keptOpts.Store(name, l)
	default:
		return syscall.ENOPROTOOPT
	}
	return 0
}

func (s *socket) uxGetsockopt(level, name int, p, lenp unsafe.Pointer) syscall.Errno {
	if level != syscall.SOL_SOCKET {
		return syscall.EOPNOTSUPP
	}
	if lenp == nil {
		return syscall.EFAULT
	}
	if int32(*(*uint32)(lenp)) < 0 {
		return syscall.EINVAL
	}
	u := s.ux
	switch name {
	case syscall.SO_ERROR:
		ux.mu.Lock()
		e := u.err
		u.err = 0
		ux.mu.Unlock()
		s.refresh()
		return putOptInt(p, lenp, int(e))
	case syscall.SO_TYPE:
		return putOptInt(p, lenp, s.typ)
	case soDomain:
		return putOptInt(p, lenp, syscall.AF_UNIX)
	case soProtocol:
		return putOptInt(p, lenp, 0)
	case soAcceptConn:
		ux.mu.Lock()
		l := u.state == uxListen
		ux.mu.Unlock()
		return putOptInt(p, lenp, boolInt(l))
	case syscall.SO_SNDBUF, syscall.SO_RCVBUF:
		ux.mu.Lock()
		v := u.sndbuf
		if name == syscall.SO_RCVBUF {
			v = u.rcvbuf
		}
		ux.mu.Unlock()
		return putOptInt(p, lenp, v)
	case soPassCred:
		ux.mu.Lock()
		v := u.passcred
		ux.mu.Unlock()
		return putOptInt(p, lenp, boolInt(v))
	case soPeerCred:
		ux.mu.Lock()
		c, ok := u.peerCred, u.hasCred
		ux.mu.Unlock()
		if !ok {
			c = ucred{0, ^uint32(0), ^uint32(0)}
		}
		var b [sizeofUcred]byte
		binary.NativeEndian.PutUint32(b[0:], uint32(c.pid))
		binary.NativeEndian.PutUint32(b[4:], c.uid)
		binary.NativeEndian.PutUint32(b[8:], c.gid)
		return putOpt(p, lenp, b[:])
	case syscall.SO_RCVTIMEO, syscall.SO_SNDTIMEO:
		return s.getTimeout(name, p, lenp)
	case syscall.SO_LINGER:
		var l syscall.Linger
		if k, ok := s.keptOpts.Load(name); ok {
			l = k.(syscall.Linger)
		}
		if l.Onoff != 0 {
			l.Onoff = 1
		}
		var b [8]byte
		binary.NativeEndian.PutUint32(b[0:], uint32(l.Onoff))
		binary.NativeEndian.PutUint32(b[4:], uint32(l.Linger))
		return putOpt(p, lenp, b[:])
	case syscall.SO_REUSEADDR, soReusePort, syscall.SO_KEEPALIVE, syscall.SO_BROADCAST,
		syscall.SO_OOBINLINE, syscall.SO_DONTROUTE, syscall.SO_TIMESTAMP, syscall.SO_PRIORITY,
		syscall.SO_RCVLOWAT:
		v := 0
		if name == syscall.SO_RCVLOWAT {
			v = 1
		}
		if k, ok := s.keptOpts.Load(name); ok {
			v = k.(int)
		}
		return putOptInt(p, lenp, v)
	}
	return syscall.ENOPROTOOPT
}
