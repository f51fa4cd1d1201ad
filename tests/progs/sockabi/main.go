// Command sockabi exercises the Linux socket ABI directly through system
// calls, on loopback only, and prints one deterministic line per check:
// "NAME: RESULT", where RESULT is OK, an errno name or a value (never a
// port or an address that varies). The end-to-end test runs it natively
// and inside mote and compares the lines.
package main

import (
	"bufio"
	"errors"
	"fmt"
	_ "net" // mote links its network stack into programs that use package net
	"os"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var out = bufio.NewWriter(os.Stdout)

// p prints one check.
func p(name string, v any) {
	fmt.Fprintf(out, "%s: %v\n", name, v)
}

// en names an error: OK, an errno name, or the text.
func en(err error) string {
	if err == nil {
		return "OK"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return fmt.Sprintf("errno%d", int(e))
	}
	return err.Error()
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "sockabi: %s: %v\n", what, err)
		out.Flush()
		os.Exit(1)
	}
}

// fam is an address family under test.
type fam struct {
	name     string // "4" or "6"
	domain   int
	loop     unix.Sockaddr // loopback, port 0
	any      unix.Sockaddr // wildcard, port 0
	nonlocal unix.Sockaddr // an address no interface has
}

var fams = []fam{
	{"4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, &unix.SockaddrInet4{},
		&unix.SockaddrInet4{Addr: [4]byte{192, 0, 2, 1}}},
	{"6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, &unix.SockaddrInet6{},
		&unix.SockaddrInet6{Addr: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}},
}

func withPort(sa unix.Sockaddr, port int) unix.Sockaddr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		c := *a
		c.Port = port
		return &c
	case *unix.SockaddrInet6:
		c := *a
		c.Port = port
		return &c
	}
	panic("family")
}

func portOf(sa unix.Sockaddr) int {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return a.Port
	case *unix.SockaddrInet6:
		return a.Port
	}
	return -1
}

// sas formats an address without its port: family, address, and whether
// the port is zero.
func sas(sa unix.Sockaddr) string {
	port := "port=0"
	if portOf(sa) > 0 {
		port = "port>0"
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return fmt.Sprintf("inet %d.%d.%d.%d %s", a.Addr[0], a.Addr[1], a.Addr[2], a.Addr[3], port)
	case *unix.SockaddrInet6:
		return fmt.Sprintf("inet6 %s %s scope=%d", ip6(a.Addr), port, a.ZoneId)
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T", sa)
}

func ip6(a [16]byte) string {
	if a == [16]byte{} {
		return "::"
	}
	if a == [16]byte{15: 1} {
		return "::1"
	}
	var z [10]byte
	if [10]byte(a[:10]) == z && a[10] == 0xff && a[11] == 0xff {
		return fmt.Sprintf("::ffff:%d.%d.%d.%d", a[12], a[13], a[14], a[15])
	}
	return fmt.Sprintf("%x", a[:])
}

func sock(f fam, typ int) int {
	fd, err := unix.Socket(f.domain, typ|unix.SOCK_CLOEXEC, 0)
	must(err, "socket")
	return fd
}

func name(fd int) unix.Sockaddr {
	sa, err := unix.Getsockname(fd)
	must(err, "getsockname")
	return sa
}

// listener returns a TCP socket listening on loopback and its port.
func listener(f fam) (int, int) {
	fd := sock(f, unix.SOCK_STREAM)
	must(unix.Bind(fd, f.loop), "bind")
	must(unix.Listen(fd, 16), "listen")
	return fd, portOf(name(fd))
}

// closedPort returns a TCP socket bound to loopback but not listening
// (keep it open: it holds the port) and the port, which refuses
// connections.
func closedPort(f fam) (int, int) {
	fd := sock(f, unix.SOCK_STREAM)
	must(unix.Bind(fd, f.loop), "bind")
	return fd, portOf(name(fd))
}

// pair returns a connected TCP pair over loopback.
func pair(f fam) (cli, srv int) {
	l, port := listener(f)
	cli = sock(f, unix.SOCK_STREAM)
	must(unix.Connect(cli, withPort(f.loop, port)), "connect")
	srv, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	must(err, "accept")
	unix.Close(l)
	return cli, srv
}

// udpSock returns a UDP socket bound to loopback and its port.
func udpSock(f fam) (int, int) {
	fd := sock(f, unix.SOCK_DGRAM)
	must(unix.Bind(fd, f.loop), "bind")
	return fd, portOf(name(fd))
}

// Epoll readiness.

const pollMask = unix.EPOLLIN | unix.EPOLLPRI | unix.EPOLLOUT | unix.EPOLLERR | unix.EPOLLHUP | unix.EPOLLRDHUP

func maskStr(m uint32) string {
	m &= pollMask
	if m == 0 {
		return "none"
	}
	var s []string
	for _, b := range []struct {
		bit  uint32
		name string
	}{{unix.EPOLLIN, "IN"}, {unix.EPOLLPRI, "PRI"}, {unix.EPOLLOUT, "OUT"}, {unix.EPOLLERR, "ERR"}, {unix.EPOLLHUP, "HUP"}, {unix.EPOLLRDHUP, "RDHUP"}} {
		if m&b.bit != 0 {
			s = append(s, b.name)
		}
	}
	return strings.Join(s, "|")
}

// epollWait returns the events epoll reports for its one watch within ms.
func epollWait(ep, ms int) (uint32, int) {
	var evs [4]unix.EpollEvent
	for {
		n, err := unix.EpollWait(ep, evs[:], ms)
		if err == unix.EINTR {
			continue
		}
		must(err, "epoll_wait")
		if n == 0 {
			return 0, 0
		}
		return evs[0].Events, n
	}
}

func newEpoll(fd int, events uint32) int {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	must(err, "epoll_create1")
	must(unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}), "epoll_ctl")
	return ep
}

// readiness reports fd's level-triggered readiness once it includes want
// (and after a bounded wait otherwise): the state, not when it was reached.
func readiness(fd int, want uint32) string {
	ep := newEpoll(fd, unix.EPOLLIN|unix.EPOLLPRI|unix.EPOLLOUT|unix.EPOLLRDHUP)
	defer unix.Close(ep)
	deadline := time.Now().Add(3 * time.Second)
	for {
		m, _ := epollWait(ep, 100)
		if m&want == want || time.Now().After(deadline) {
			if want == 0 {
				// Give pending events the chance to arrive.
				time.Sleep(20 * time.Millisecond)
				m, _ = epollWait(ep, 0)
			}
			return maskStr(m)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIn waits until fd is readable (or errs).
func waitIn(fd int) { readiness(fd, unix.EPOLLIN) }

func main() {
	sockets()
	for _, f := range fams {
		binds(f)
		connects(f)
		listens(f)
		streams(f)
		datagrams(f)
		options(f)
		epolls(f)
	}
	dualStack()
	descriptors()
	unixes()
	out.Flush()
}

// sockets: socket(2) with odd arguments.
func sockets() {
	try := func(n string, d, t, pr int) {
		fd, err := unix.Socket(d, t, pr)
		if err == nil {
			unix.Close(fd)
		}
		p("socket."+n, en(err))
	}
	try("unix_stream", unix.AF_UNIX, unix.SOCK_STREAM, 0)
	try("netlink", unix.AF_NETLINK, unix.SOCK_RAW, 0)
	try("domain_12345", 12345, unix.SOCK_STREAM, 0)
	try("domain_negative", -1, unix.SOCK_STREAM, 0)
	for _, f := range fams {
		d := f.domain
		try("inet"+f.name+"_stream", d, unix.SOCK_STREAM, 0)
		try("inet"+f.name+"_stream_tcp", d, unix.SOCK_STREAM, unix.IPPROTO_TCP)
		try("inet"+f.name+"_stream_udp", d, unix.SOCK_STREAM, unix.IPPROTO_UDP)
		try("inet"+f.name+"_stream_mptcp", d, unix.SOCK_STREAM, 262)
		try("inet"+f.name+"_stream_proto300", d, unix.SOCK_STREAM, 300)
		try("inet"+f.name+"_stream_proto_negative", d, unix.SOCK_STREAM, -1)
		try("inet"+f.name+"_dgram", d, unix.SOCK_DGRAM, 0)
		try("inet"+f.name+"_dgram_tcp", d, unix.SOCK_DGRAM, unix.IPPROTO_TCP)
		try("inet"+f.name+"_seqpacket", d, unix.SOCK_SEQPACKET, 0)
		try("inet"+f.name+"_rdm", d, unix.SOCK_RDM, 0)
		try("inet"+f.name+"_type0", d, 0, 0)
		try("inet"+f.name+"_type7", d, 7, 0)
		try("inet"+f.name+"_type11", d, 11, 0)
		try("inet"+f.name+"_type99", d, 99, 0)
		try("inet"+f.name+"_type_flag_bits", d, unix.SOCK_STREAM|0x10000, 0)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	must(err, "socket")
	fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	p("socket.nonblock_cloexec", fmt.Sprintf("nonblock=%v cloexec=%v rdwr=%v", fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0, fl&unix.O_ACCMODE == unix.O_RDWR))
	var st unix.Stat_t
	must(unix.Fstat(fd, &st), "fstat")
	p("socket.fstat_mode", fmt.Sprintf("%#o", st.Mode&unix.S_IFMT))
	unix.Close(fd)
	_, _, e := unix.RawSyscall6(unix.SYS_SOCKETPAIR, unix.AF_INET, unix.SOCK_STREAM, 0, uintptr(unsafe.Pointer(&[2]int32{})), 0, 0)
	p("socketpair.inet", en(errnoErr(e)))
}

func second(_ int, _ unix.Sockaddr, err error) error { return err }

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// rawBind binds with an explicit address buffer and length.
func rawBind(fd int, b []byte, n int) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(n))
	return errnoErr(e)
}

func rawConnect(fd int, b []byte, n int) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(n))
	return errnoErr(e)
}

// sockaddr4 encodes a sockaddr_in (16 bytes, padded to 28).
func sockaddr4(family uint16, port int, a [4]byte) []byte {
	b := make([]byte, 28)
	b[0], b[1] = byte(family), byte(family>>8)
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[4:], a[:])
	return b
}

func sockaddr6(port int, a [16]byte) []byte {
	b := make([]byte, 28)
	b[0], b[1] = unix.AF_INET6, 0
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[8:], a[:])
	return b
}

// nameLen calls getsockname/getpeername with a buffer of n bytes and
// reports the length returned and the family.
func nameLen(trap uintptr, fd, n int) string {
	var buf [128]byte
	l := uint32(n)
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return en(e)
	}
	fam := -1
	if n >= 2 {
		fam = int(buf[0]) | int(buf[1])<<8
	}
	return fmt.Sprintf("len=%d family=%d", l, fam)
}

func binds(f fam) {
	pre := "bind" + f.name + "."
	a := sock(f, unix.SOCK_STREAM)
	p(pre+"unbound_name", sas(name(a)))
	p(pre+"unbound_namelen", nameLen(unix.SYS_GETSOCKNAME, a, 128))
	p(pre+"unbound_peer", nameLen(unix.SYS_GETPEERNAME, a, 128))
	p(pre+"loopback", en(unix.Bind(a, f.loop)))
	p(pre+"loopback_name", sas(name(a)))
	p(pre+"twice", en(unix.Bind(a, f.loop)))
	port := portOf(name(a))
	b := sock(f, unix.SOCK_STREAM)
	p(pre+"in_use", en(unix.Bind(b, withPort(f.loop, port))))
	p(pre+"in_use_wildcard", en(unix.Bind(b, withPort(f.any, port))))
	unix.Close(b)
	// SO_REUSEADDR on both, neither listening: Linux allows it.
	c := sock(f, unix.SOCK_STREAM)
	unix.SetsockoptInt(c, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	must(unix.Bind(c, f.loop), "bind")
	d := sock(f, unix.SOCK_STREAM)
	unix.SetsockoptInt(d, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	p(pre+"reuseaddr_both_bound", en(unix.Bind(d, withPort(f.loop, portOf(name(c))))))
	unix.Close(d)
	must(unix.Listen(c, 1), "listen")
	d = sock(f, unix.SOCK_STREAM)
	unix.SetsockoptInt(d, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	p(pre+"reuseaddr_listening", en(unix.Bind(d, withPort(f.loop, portOf(name(c))))))
	unix.Close(d)
	unix.Close(c)
	// UDP and TCP ports are separate.
	u := sock(f, unix.SOCK_DGRAM)
	p(pre+"udp_same_port_as_tcp", en(unix.Bind(u, withPort(f.loop, port))))
	unix.Close(u)
	unix.Close(a)

	e := sock(f, unix.SOCK_STREAM)
	p(pre+"nonlocal", en(unix.Bind(e, f.nonlocal)))
	p(pre+"after_failed_bind", en(unix.Bind(e, f.loop)))
	unix.Close(e)
	e = sock(f, unix.SOCK_STREAM)
	must(unix.Bind(e, f.any), "bind any")
	p(pre+"wildcard_name", sas(name(e)))
	unix.Close(e)
	e = sock(f, unix.SOCK_DGRAM)
	p(pre+"udp_nonlocal", en(unix.Bind(e, f.nonlocal)))
	unix.Close(e)

	// Raw address buffers.
	e = sock(f, unix.SOCK_STREAM)
	if f.domain == unix.AF_INET {
		lo := [4]byte{127, 0, 0, 1}
		p(pre+"short_len", en(rawBind(e, sockaddr4(unix.AF_INET, 0, lo), 8)))
		p(pre+"zero_len", en(rawBind(e, sockaddr4(unix.AF_INET, 0, lo), 0)))
		p(pre+"inet6_addr", en(rawBind(e, sockaddr6(0, [16]byte{15: 1}), 28)))
		p(pre+"unspec_loopback", en(rawBind(e, sockaddr4(unix.AF_UNSPEC, 0, lo), 16)))
		p(pre+"family_99", en(rawBind(e, sockaddr4(99, 0, lo), 16)))
		p(pre+"unspec_any", en(rawBind(e, sockaddr4(unix.AF_UNSPEC, 0, [4]byte{}), 16)))
		p(pre+"unspec_any_name", sas(name(e)))
		unix.Close(e)
		e = sock(f, unix.SOCK_STREAM)
		p(pre+"broadcast", en(rawBind(e, sockaddr4(unix.AF_INET, 0, [4]byte{255, 255, 255, 255}), 16)))
		unix.Close(e)
		e = sock(f, unix.SOCK_STREAM)
		p(pre+"loopback_net_other", en(rawBind(e, sockaddr4(unix.AF_INET, 0, [4]byte{127, 0, 0, 2}), 16)))
	} else {
		p(pre+"short_len", en(rawBind(e, sockaddr6(0, [16]byte{15: 1}), 20)))
		p(pre+"inet_addr_len16", en(rawBind(e, sockaddr4(unix.AF_INET, 0, [4]byte{127, 0, 0, 1}), 16)))
		p(pre+"inet_addr_len28", en(rawBind(e, sockaddr4(unix.AF_INET, 0, [4]byte{127, 0, 0, 1}), 28)))
		p(pre+"unspec", en(rawBind(e, sockaddr4(unix.AF_UNSPEC, 0, [4]byte{}), 28)))
		unix.Close(e)
		e = sock(f, unix.SOCK_STREAM)
		p(pre+"mapped", en(rawBind(e, sockaddr6(0, [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}), 28)))
		p(pre+"mapped_name", sas(name(e)))
		unix.Close(e)
		e = sock(f, unix.SOCK_STREAM)
		unix.SetsockoptInt(e, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		p(pre+"mapped_v6only", en(rawBind(e, sockaddr6(0, [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}), 28)))
	}
	unix.Close(e)
}

func connects(f fam) {
	pre := "connect" + f.name + "."
	hold, closed := closedPort(f)
	defer unix.Close(hold)

	a := sock(f, unix.SOCK_STREAM)
	p(pre+"refused", en(unix.Connect(a, withPort(f.loop, closed))))
	p(pre+"refused_so_error", soError(a))
	p(pre+"refused_readiness", readiness(a, 0))
	unix.Close(a)

	a = sock(f, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
	p(pre+"nonblock_refused", en(unix.Connect(a, withPort(f.loop, closed))))
	p(pre+"nonblock_refused_wait", readiness(a, unix.EPOLLERR))
	p(pre+"nonblock_refused_so_error", soError(a))
	p(pre+"nonblock_refused_so_error_again", soError(a))
	p(pre+"nonblock_refused_again", en(unix.Connect(a, withPort(f.loop, closed))))
	unix.Close(a)

	// SO_ERROR not read: the second connect reports the error.
	a = sock(f, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
	p(pre+"nonblock_refused2", en(unix.Connect(a, withPort(f.loop, closed))))
	readiness(a, unix.EPOLLERR)
	p(pre+"nonblock_refused2_again", en(unix.Connect(a, withPort(f.loop, closed))))
	p(pre+"nonblock_refused2_so_error", soError(a))
	unix.Close(a)

	l, port := listener(f)
	a = sock(f, unix.SOCK_STREAM|unix.SOCK_NONBLOCK)
	p(pre+"nonblock", en(unix.Connect(a, withPort(f.loop, port))))
	p(pre+"nonblock_wait", readiness(a, unix.EPOLLOUT))
	p(pre+"nonblock_so_error", soError(a))
	p(pre+"nonblock_again", en(unix.Connect(a, withPort(f.loop, port))))
	p(pre+"connected_name", sas(name(a)))
	p(pre+"connected_namelen", nameLen(unix.SYS_GETSOCKNAME, a, 128))
	p(pre+"connected_namelen_short", nameLen(unix.SYS_GETSOCKNAME, a, 4))
	peer, err := unix.Getpeername(a)
	p(pre+"peername", en(err)+" "+sas(peer))
	p(pre+"peernamelen", nameLen(unix.SYS_GETPEERNAME, a, 128))
	p(pre+"listener_peer", nameLen(unix.SYS_GETPEERNAME, l, 128))
	p(pre+"disconnect_tcp", en(rawConnect(a, sockaddr4(unix.AF_UNSPEC, 0, [4]byte{}), 16)))
	unix.Close(a)

	b := sock(f, unix.SOCK_STREAM)
	p(pre+"blocking", en(unix.Connect(b, withPort(f.loop, port))))
	p(pre+"blocking_again", en(unix.Connect(b, withPort(f.loop, port))))
	p(pre+"blocking_other", en(unix.Connect(b, withPort(f.loop, closed))))
	unix.Close(b)

	b = sock(f, unix.SOCK_STREAM)
	p(pre+"wildcard_addr", en(unix.Connect(b, withPort(f.any, port))))
	if peer, err := unix.Getpeername(b); err == nil {
		p(pre+"wildcard_addr_peer", sas(peer))
	}
	unix.Close(b)

	b = sock(f, unix.SOCK_STREAM)
	p(pre+"unspec_unconnected", en(rawConnect(b, sockaddr4(unix.AF_UNSPEC, 0, [4]byte{}), 16)))
	if f.domain == unix.AF_INET {
		p(pre+"inet6_addr", en(rawConnect(b, sockaddr6(port, [16]byte{15: 1}), 28)))
		p(pre+"short_len", en(rawConnect(b, sockaddr4(unix.AF_INET, port, [4]byte{127, 0, 0, 1}), 8)))
	} else {
		p(pre+"short_len", en(rawConnect(b, sockaddr6(port, [16]byte{15: 1}), 20)))
	}
	p(pre+"port0", en(unix.Connect(b, f.loop)))
	unix.Close(b)
	b = sock(f, unix.SOCK_STREAM)
	p(pre+"connect_listener", en(unix.Connect(l, withPort(f.loop, port))))
	unix.Close(b)
	unix.Close(l)
	// Drain nothing: the accept queue dies with the listener.

	b = sock(f, unix.SOCK_DGRAM)
	p(pre+"udp_unconnected_peer", nameLen(unix.SYS_GETPEERNAME, b, 128))
	p(pre+"udp", en(unix.Connect(b, withPort(f.loop, closed))))
	peer, err = unix.Getpeername(b)
	p(pre+"udp_peer", en(err)+" "+sas(peer))
	p(pre+"udp_name", sas(name(b)))
	p(pre+"udp_unspec", en(rawConnect(b, sockaddr4(unix.AF_UNSPEC, 0, [4]byte{}), 16)))
	p(pre+"udp_unspec_peer", nameLen(unix.SYS_GETPEERNAME, b, 128))
	p(pre+"udp_unspec_name", sas(name(b)))
	p(pre+"udp_port0", en(unix.Connect(b, f.loop)))
	unix.Close(b)
}

func soError(fd int) string {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return en(err)
	}
	if v == 0 {
		return "0"
	}
	return en(syscall.Errno(v))
}

func listens(f fam) {
	pre := "listen" + f.name + "."
	u := sock(f, unix.SOCK_DGRAM)
	p(pre+"udp", en(unix.Listen(u, 1)))
	_, _, err := unix.Accept4(u, 0)
	p(pre+"udp_accept", en(err))
	unix.Close(u)

	a := sock(f, unix.SOCK_STREAM)
	_, _, err = unix.Accept4(a, 0)
	p(pre+"accept_unbound", en(err))
	must(unix.Bind(a, f.loop), "bind")
	_, _, err = unix.Accept4(a, 0)
	p(pre+"accept_bound", en(err))
	p(pre+"acceptconn_before", sockoptInt(a, unix.SOL_SOCKET, unix.SO_ACCEPTCONN))
	p(pre+"listen", en(unix.Listen(a, 4)))
	p(pre+"acceptconn", sockoptInt(a, unix.SOL_SOCKET, unix.SO_ACCEPTCONN))
	p(pre+"listen_again", en(unix.Listen(a, 8)))
	p(pre+"listen_negative_backlog", en(unix.Listen(a, -1)))
	p(pre+"bind_listening", en(unix.Bind(a, f.loop)))
	p(pre+"listener_readiness", readiness(a, 0))
	port := portOf(name(a))

	unix.SetNonblock(a, true)
	_, _, err = unix.Accept4(a, 0)
	p(pre+"accept_empty_nonblock", en(err))
	unix.SetNonblock(a, false)

	c := sock(f, unix.SOCK_STREAM)
	must(unix.Connect(c, withPort(f.loop, port)), "connect")
	p(pre+"listener_pending_readiness", readiness(a, unix.EPOLLIN))
	_, _, err = unix.Accept4(a, 0x40000000)
	p(pre+"accept4_bad_flags", en(err))
	var buf [128]byte
	l := uint32(128)
	r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(a), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	p(pre+"accept4", en(errnoErr(e)))
	if e == 0 {
		s := int(r)
		fl, _ := unix.FcntlInt(uintptr(s), unix.F_GETFL, 0)
		fdfl, _ := unix.FcntlInt(uintptr(s), unix.F_GETFD, 0)
		p(pre+"accept4_flags", fmt.Sprintf("nonblock=%v cloexec=%v", fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0))
		p(pre+"accept4_addr", fmt.Sprintf("len=%d family=%d", l, int(buf[0])|int(buf[1])<<8))
		p(pre+"accepted_acceptconn", sockoptInt(s, unix.SOL_SOCKET, unix.SO_ACCEPTCONN))
		p(pre+"accepted_name", sas(name(s)))
		p(pre+"accepted_listen", en(unix.Listen(s, 1)))
		unix.Close(s)
	}
	unix.Close(c)

	// accept with a short address buffer and with none.
	c = sock(f, unix.SOCK_STREAM)
	must(unix.Connect(c, withPort(f.loop, port)), "connect")
	l = 4
	r, _, e = unix.Syscall6(unix.SYS_ACCEPT4, uintptr(a), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), unix.SOCK_CLOEXEC, 0, 0)
	p(pre+"accept_short_addr", fmt.Sprintf("%s len=%d", en(errnoErr(e)), l))
	if e == 0 {
		fl, _ := unix.FcntlInt(r, unix.F_GETFL, 0)
		p(pre+"accept_plain_nonblock", fl&unix.O_NONBLOCK != 0)
		unix.Close(int(r))
	}
	unix.Close(c)
	c = sock(f, unix.SOCK_STREAM)
	must(unix.Connect(c, withPort(f.loop, port)), "connect")
	r, _, e = unix.Syscall(unix.SYS_ACCEPT, uintptr(a), 0, 0)
	p(pre+"accept_no_addr", en(errnoErr(e)))
	if e == 0 {
		unix.Close(int(r))
	}
	unix.Close(c)
	unix.Close(a)

	// listen on an unbound socket binds a port on the wildcard address.
	b := sock(f, unix.SOCK_STREAM)
	p(pre+"unbound", en(unix.Listen(b, 1)))
	p(pre+"unbound_name", sas(name(b)))
	unix.Close(b)

	// listen on a connected socket.
	cli, srv := pair(f)
	p(pre+"connected", en(unix.Listen(cli, 1)))
	unix.Close(cli)
	unix.Close(srv)
}

func sockoptInt(fd, level, opt int) string {
	v, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return en(err)
	}
	return fmt.Sprint(v)
}

func streams(f fam) {
	pre := "tcp" + f.name + "."
	cli, srv := pair(f)
	n, err := unix.Write(cli, []byte("hello"))
	p(pre+"write", fmt.Sprint(n, " ", en(err)))
	waitIn(srv)
	v, err := unix.IoctlGetInt(srv, unix.SIOCINQ)
	p(pre+"fionread", fmt.Sprint(v, " ", en(err)))
	buf := make([]byte, 16)
	n, err = unix.Read(srv, buf[:3])
	p(pre+"read3", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	n, _, err = unix.Recvfrom(srv, buf, unix.MSG_PEEK)
	p(pre+"peek", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	var rsa [128]byte
	rl := uint32(128)
	r, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(srv), uintptr(unsafe.Pointer(&buf[0])), 16, 0, uintptr(unsafe.Pointer(&rsa[0])), uintptr(unsafe.Pointer(&rl)))
	p(pre+"recvfrom_addr", fmt.Sprintf("%d %s addrlen=%d", int(r), en(errnoErr(e)), rl))
	_, _, err = unix.Recvfrom(srv, buf, unix.MSG_DONTWAIT)
	p(pre+"dontwait_empty", en(err))
	v, err = unix.IoctlGetInt(srv, unix.SIOCINQ)
	p(pre+"fionread_empty", fmt.Sprint(v, " ", en(err)))
	v, err = unix.IoctlGetInt(cli, unix.SIOCOUTQ)
	p(pre+"siocoutq_settled", fmt.Sprint(v == 0, " ", en(err)))

	// writev / readv.
	n, err = unix.Writev(cli, [][]byte{[]byte("ab"), nil, []byte("cde"), []byte("f")})
	p(pre+"writev", fmt.Sprint(n, " ", en(err)))
	waitIn(srv)
	for i := 0; i < 100; i++ { // the six bytes may come in more than one segment
		if v, _ := unix.IoctlGetInt(srv, unix.SIOCINQ); v >= 6 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	b1, b2 := make([]byte, 4), make([]byte, 4)
	n, err = unix.Readv(srv, [][]byte{b1, b2})
	p(pre+"readv", fmt.Sprintf("%d %s %q %q", n, en(err), b1, b2[:max(n-4, 0)]))

	// Non-blocking by fcntl and FIONBIO.
	must(unix.SetNonblock(srv, true), "setnonblock")
	_, err = unix.Read(srv, buf)
	p(pre+"fcntl_nonblock_read", en(err))
	must(unix.SetNonblock(srv, false), "setnonblock")
	must(unix.IoctlSetPointerInt(srv, fionbio, 1), "fionbio")
	fl, _ := unix.FcntlInt(uintptr(srv), unix.F_GETFL, 0)
	p(pre+"fionbio_flag", fl&unix.O_NONBLOCK != 0)
	_, err = unix.Read(srv, buf)
	p(pre+"fionbio_read", en(err))
	must(unix.IoctlSetPointerInt(srv, fionbio, 0), "fionbio")
	fl, _ = unix.FcntlInt(uintptr(srv), unix.F_GETFL, 0)
	p(pre+"fionbio_off_flag", fl&unix.O_NONBLOCK != 0)

	// pread/pwrite and lseek on a socket.
	_, err = unix.Pread(srv, buf, 0)
	p(pre+"pread", en(err))
	_, err = unix.Pwrite(srv, buf[:1], 0)
	p(pre+"pwrite", en(err))
	_, err = unix.Seek(srv, 0, 0)
	p(pre+"lseek", en(err))

	// send with flags.
	err = unix.Sendto(cli, []byte("x"), unix.MSG_NOSIGNAL|unix.MSG_DONTWAIT, nil)
	p(pre+"send_flags", en(err))
	err = unix.Sendto(cli, []byte("y"), 0, withPort(f.loop, 9))
	p(pre+"sendto_addr_connected", en(err))
	waitIn(srv)
	time.Sleep(10 * time.Millisecond)
	n, err = unix.Read(srv, buf)
	p(pre+"read_after_sendto", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))

	// Zero-length I/O.
	n, err = unix.Write(cli, nil)
	p(pre+"write0", fmt.Sprint(n, " ", en(err)))
	n, err = unix.Read(srv, nil)
	p(pre+"read0", fmt.Sprint(n, " ", en(err)))

	// shutdown(SHUT_WR): the peer reads EOF, we may still read.
	p(pre+"shutdown_wr", en(unix.Shutdown(cli, unix.SHUT_WR)))
	p(pre+"peer_after_shutdown_readiness", readiness(srv, unix.EPOLLRDHUP))
	n, err = unix.Read(srv, buf)
	p(pre+"peer_read_eof", fmt.Sprint(n, " ", en(err)))
	n, err = unix.Read(srv, buf)
	p(pre+"peer_read_eof_again", fmt.Sprint(n, " ", en(err)))
	n, err = unix.Write(cli, []byte("z"))
	p(pre+"write_after_shutdown", fmt.Sprint(n, " ", en(err)))
	err = unix.Sendto(cli, []byte("z"), unix.MSG_NOSIGNAL, nil)
	p(pre+"send_after_shutdown", en(err))
	n, err = unix.Write(srv, []byte("back"))
	p(pre+"peer_write_after_shutdown", fmt.Sprint(n, " ", en(err)))
	waitIn(cli)
	n, err = unix.Read(cli, buf)
	p(pre+"read_after_own_shutdown", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	p(pre+"shutdown_wr_again", en(unix.Shutdown(cli, unix.SHUT_WR)))
	p(pre+"shutdown_bad_how", en(unix.Shutdown(cli, 7)))
	p(pre+"shutdown_readiness", readiness(cli, unix.EPOLLOUT))
	// Peer closes: we read EOF; writing gets a reset, then EPIPE.
	unix.Close(srv)
	p(pre+"peer_closed_readiness", readiness(cli, unix.EPOLLRDHUP))
	n, err = unix.Read(cli, buf)
	p(pre+"read_after_peer_close", fmt.Sprint(n, " ", en(err)))
	unix.Close(cli)

	cli, srv = pair(f)
	unix.Close(srv)
	p(pre+"closed_peer_readiness", readiness(cli, unix.EPOLLRDHUP))
	n, err = unix.Write(cli, []byte("1"))
	p(pre+"write_to_closed_peer", fmt.Sprint(n, " ", en(err)))
	p(pre+"reset_readiness", readiness(cli, unix.EPOLLERR|unix.EPOLLHUP))
	p(pre+"reset_so_error", soError(cli))
	err = unix.Sendto(cli, []byte("2"), unix.MSG_NOSIGNAL, nil)
	p(pre+"send_after_reset", en(err))
	n, err = unix.Read(cli, buf)
	p(pre+"read_after_reset", fmt.Sprint(n, " ", en(err)))
	p(pre+"reset_peername", nameLen(unix.SYS_GETPEERNAME, cli, 128))
	p(pre+"shutdown_after_reset", en(unix.Shutdown(cli, unix.SHUT_RDWR)))
	unix.Close(cli)

	// Close with unread data resets the connection.
	cli, srv = pair(f)
	unix.Write(cli, []byte("unread"))
	waitIn(srv)
	unix.Close(srv)
	p(pre+"reset_by_unread_readiness", readiness(cli, unix.EPOLLERR|unix.EPOLLHUP))
	n, err = unix.Read(cli, buf)
	p(pre+"read_reset_by_unread", fmt.Sprint(n, " ", en(err)))
	n, err = unix.Read(cli, buf)
	p(pre+"read_reset_by_unread_again", fmt.Sprint(n, " ", en(err)))
	unix.Close(cli)

	// A blocking write that had sent part of its data when the peer
	// reset the connection returns that part; the reset is still
	// pending, for the next call or SO_ERROR.
	big := make([]byte, 32<<20)
	for _, next := range []string{"write", "so_error"} {
		cli, srv = pair(f)
		go func(srv int) {
			time.Sleep(200 * time.Millisecond)
			unix.Close(srv) // with unread data: a reset
		}(srv)
		n, err = unix.Write(cli, big)
		p(pre+"partial_write_reset_"+next, fmt.Sprint(n > 0 && n < len(big), " ", en(err)))
		if next == "so_error" {
			p(pre+"partial_write_reset_so_error_after", soError(cli))
		}
		n, err = unix.Write(cli, big)
		p(pre+"partial_write_reset_"+next+"_write", fmt.Sprint(n, " ", en(err)))
		unix.Close(cli)
	}

	// SO_LINGER 0: close sends a reset.
	cli, srv = pair(f)
	must(unix.SetsockoptLinger(srv, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0}), "linger")
	unix.Close(srv)
	p(pre+"linger0_readiness", readiness(cli, unix.EPOLLERR|unix.EPOLLHUP))
	p(pre+"linger0_so_error", soError(cli))
	n, err = unix.Read(cli, buf)
	p(pre+"linger0_read", fmt.Sprint(n, " ", en(err)))
	unix.Close(cli)

	// shutdown(SHUT_RD): reads return EOF.
	cli, srv = pair(f)
	p(pre+"shutdown_rd", en(unix.Shutdown(cli, unix.SHUT_RD)))
	n, err = unix.Read(cli, buf)
	p(pre+"read_after_shutdown_rd", fmt.Sprint(n, " ", en(err)))
	p(pre+"shutdown_rd_readiness", readiness(cli, unix.EPOLLIN))
	p(pre+"shutdown_rdwr", en(unix.Shutdown(cli, unix.SHUT_RDWR)))
	p(pre+"shutdown_rdwr_readiness", readiness(cli, unix.EPOLLHUP))
	p(pre+"shutdown_rdwr_peer_readiness", readiness(srv, unix.EPOLLRDHUP))
	unix.Close(cli)
	unix.Close(srv)

	// MSG_WAITALL.
	cli, srv = pair(f)
	go func() {
		time.Sleep(20 * time.Millisecond)
		unix.Write(cli, []byte("12"))
		time.Sleep(20 * time.Millisecond)
		unix.Write(cli, []byte("345"))
	}()
	n, _, err = unix.Recvfrom(srv, buf[:5], unix.MSG_WAITALL)
	p(pre+"waitall", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	unix.Close(cli)
	unix.Close(srv)

	u := sock(f, unix.SOCK_STREAM)
	p(pre+"shutdown_unconnected", en(unix.Shutdown(u, unix.SHUT_WR)))
	_, err = unix.Read(u, buf)
	p(pre+"read_unconnected", en(err))
	_, err = unix.Write(u, buf[:1])
	p(pre+"write_unconnected", en(err))
	err = unix.Sendto(u, buf[:1], unix.MSG_NOSIGNAL, nil)
	p(pre+"send_unconnected", en(err))
	p(pre+"unconnected_readiness", readiness(u, 0))
	unix.Close(u)
}

func datagrams(f fam) {
	pre := "udp" + f.name + "."
	a, aport := udpSock(f)
	b, bport := udpSock(f)
	u := sock(f, unix.SOCK_DGRAM)
	p(pre+"send_no_addr", en(unix.Sendto(u, []byte("x"), 0, nil)))
	n, err := unix.Write(u, []byte("x"))
	p(pre+"write_no_addr", fmt.Sprint(n, " ", en(err)))
	p(pre+"unbound_readiness", readiness(u, 0))
	p(pre+"sendto_autobind", en(unix.Sendto(u, []byte("auto"), 0, withPort(f.loop, aport))))
	p(pre+"autobind_name", sas(name(u)))
	unix.Close(u)

	buf := make([]byte, 64)
	waitIn(a)
	n, from, err := unix.Recvfrom(a, buf, 0)
	p(pre+"recvfrom", fmt.Sprintf("%d %s %q %s", n, en(err), buf[:max(n, 0)], sas(from)))

	must(unix.Sendto(b, []byte("0123456789"), 0, withPort(f.loop, aport)), "sendto")
	must(unix.Sendto(b, []byte("abc"), 0, withPort(f.loop, aport)), "sendto")
	waitIn(a)
	v, err := unix.IoctlGetInt(a, unix.SIOCINQ)
	p(pre+"fionread_first", fmt.Sprint(v, " ", en(err)))
	n, _, err = unix.Recvfrom(a, buf[:4], unix.MSG_PEEK)
	p(pre+"peek_short", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	n, _, err = unix.Recvfrom(a, buf[:4], unix.MSG_PEEK|unix.MSG_TRUNC)
	p(pre+"peek_trunc", fmt.Sprintf("%d %s", n, en(err)))
	n, oobn, rflags, from, err := unix.Recvmsg(a, buf[:4], nil, 0)
	p(pre+"recvmsg_short", fmt.Sprintf("%d %d trunc=%v %s %q %s", n, oobn, rflags&unix.MSG_TRUNC != 0, en(err), buf[:max(n, 0)], sas(from)))
	// The rest of a datagram is gone.
	n, _, err = unix.Recvfrom(a, buf[:2], unix.MSG_TRUNC)
	p(pre+"recv_trunc", fmt.Sprintf("%d %s %q", n, en(err), buf[:2]))
	_, _, err = unix.Recvfrom(a, buf, unix.MSG_DONTWAIT)
	p(pre+"dontwait_empty", en(err))
	v, err = unix.IoctlGetInt(a, unix.SIOCINQ)
	p(pre+"fionread_empty", fmt.Sprint(v, " ", en(err)))

	// Zero-length datagrams exist.
	must(unix.Sendto(b, nil, 0, withPort(f.loop, aport)), "sendto0")
	waitIn(a)
	n, from, err = unix.Recvfrom(a, buf, 0)
	p(pre+"recv_empty_datagram", fmt.Sprintf("%d %s %s", n, en(err), sas(from)))

	// Connected UDP.
	p(pre+"connect", en(unix.Connect(b, withPort(f.loop, aport))))
	n, err = unix.Write(b, []byte("w"))
	p(pre+"write_connected", fmt.Sprint(n, " ", en(err)))
	p(pre+"sendto_other_connected", en(unix.Sendto(b, []byte("s"), 0, withPort(f.loop, aport))))
	n, err = unix.Writev(b, [][]byte{[]byte("v1"), []byte("v2")})
	p(pre+"writev_connected", fmt.Sprint(n, " ", en(err)))
	waitIn(a)
	for i, want := range []string{"w", "s", "v1v2"} {
		waitIn(a)
		n, from, err = unix.Recvfrom(a, buf, 0)
		p(fmt.Sprintf("%srecv_connected%d", pre, i), fmt.Sprintf("%s %s", en(err), fmt.Sprint(string(buf[:max(n, 0)]) == want)))
		if from != nil && portOf(from) != bport {
			p(pre+"recv_connected_port", "wrong")
		}
	}
	// A datagram from a third socket does not reach the connected b.
	c, _ := udpSock(f)
	must(unix.Sendto(c, []byte("stranger"), 0, withPort(f.loop, bport)), "sendto")
	must(unix.Sendto(a, []byte("friend"), 0, withPort(f.loop, bport)), "sendto")
	waitIn(b)
	time.Sleep(10 * time.Millisecond)
	n, _, err = unix.Recvfrom(b, buf, 0)
	p(pre+"connected_filters", fmt.Sprintf("%s %q", en(err), buf[:max(n, 0)]))
	_, _, err = unix.Recvfrom(b, buf, unix.MSG_DONTWAIT)
	p(pre+"connected_filters_rest", en(err))
	unix.Close(c)

	// readv into several buffers.
	must(unix.Sendto(b, []byte("abcdefg"), 0, nil), "send")
	waitIn(a)
	b1, b2 := make([]byte, 3), make([]byte, 10)
	n, err = unix.Readv(a, [][]byte{b1, b2})
	p(pre+"readv", fmt.Sprintf("%d %s %q %q", n, en(err), b1, b2[:max(n-3, 0)]))

	// Send to a port nothing listens on: the ICMP error shows on the
	// connected socket.
	hold, closed := udpSock(f)
	unix.Close(hold)
	d := sock(f, unix.SOCK_DGRAM)
	must(unix.Connect(d, withPort(f.loop, closed)), "connect")
	n, err = unix.Write(d, []byte("void"))
	p(pre+"send_to_closed", fmt.Sprint(n, " ", en(err)))
	p(pre+"closed_readiness", readiness(d, unix.EPOLLERR))
	_, err = unix.Read(d, buf)
	p(pre+"read_refused", en(err))
	p(pre+"closed_so_error_after_read", soError(d))
	unix.Close(d)

	// Too big.
	big := make([]byte, 70000)
	p(pre+"send_too_big", en(unix.Sendto(a, big, 0, withPort(f.loop, bport))))
	p(pre+"shutdown_wr", en(unix.Shutdown(a, unix.SHUT_WR)))
	p(pre+"send_after_shutdown", en(unix.Sendto(a, []byte("x"), unix.MSG_NOSIGNAL, withPort(f.loop, bport))))
	p(pre+"shutdown_unconnected_readiness", readiness(a, 0))
	unix.Close(a)
	unix.Close(b)
}

func options(f fam) {
	pre := "opt" + f.name + "."
	t := sock(f, unix.SOCK_STREAM)
	u := sock(f, unix.SOCK_DGRAM)
	for _, o := range []struct {
		name       string
		level, opt int
	}{
		{"so_type", unix.SOL_SOCKET, unix.SO_TYPE},
		{"so_domain", unix.SOL_SOCKET, unix.SO_DOMAIN},
		{"so_protocol", unix.SOL_SOCKET, unix.SO_PROTOCOL},
		{"so_acceptconn", unix.SOL_SOCKET, unix.SO_ACCEPTCONN},
		{"so_error", unix.SOL_SOCKET, unix.SO_ERROR},
		{"so_reuseaddr", unix.SOL_SOCKET, unix.SO_REUSEADDR},
		{"so_reuseport", unix.SOL_SOCKET, unix.SO_REUSEPORT},
		{"so_keepalive", unix.SOL_SOCKET, unix.SO_KEEPALIVE},
		{"so_broadcast", unix.SOL_SOCKET, unix.SO_BROADCAST},
		{"so_oobinline", unix.SOL_SOCKET, unix.SO_OOBINLINE},
		{"so_dontroute", unix.SOL_SOCKET, unix.SO_DONTROUTE},
		{"so_rcvlowat", unix.SOL_SOCKET, unix.SO_RCVLOWAT},
		{"so_priority", unix.SOL_SOCKET, unix.SO_PRIORITY},
		{"tcp_nodelay", unix.IPPROTO_TCP, unix.TCP_NODELAY},
		{"tcp_cork", unix.IPPROTO_TCP, unix.TCP_CORK},
		{"tcp_keepidle", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE},
		{"tcp_keepintvl", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL},
		{"tcp_keepcnt", unix.IPPROTO_TCP, unix.TCP_KEEPCNT},
		{"ip_ttl", unix.IPPROTO_IP, unix.IP_TTL},
		{"ip_tos", unix.IPPROTO_IP, unix.IP_TOS},
		{"ipv6_v6only", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY},
		{"ipv6_unicast_hops", unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS},
		{"unknown_sol_socket", unix.SOL_SOCKET, 9999},
		{"unknown_tcp", unix.IPPROTO_TCP, 9999},
		{"unknown_ip", unix.IPPROTO_IP, 9999},
		{"unknown_level", 9999, 1},
	} {
		p(pre+"tcp."+o.name, sockoptInt(t, o.level, o.opt))
		p(pre+"udp."+o.name, sockoptInt(u, o.level, o.opt))
	}
	set := func(n string, fd, level, opt, v int) {
		err := unix.SetsockoptInt(fd, level, opt, v)
		p(pre+"set."+n, en(err)+" -> "+sockoptInt(fd, level, opt))
	}
	set("tcp.so_reuseaddr", t, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	set("tcp.so_reuseaddr_any", t, unix.SOL_SOCKET, unix.SO_REUSEADDR, 7)
	set("tcp.so_keepalive", t, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	set("tcp.tcp_nodelay", t, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	set("tcp.tcp_nodelay_off", t, unix.IPPROTO_TCP, unix.TCP_NODELAY, 0)
	set("tcp.tcp_keepidle", t, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 30)
	set("tcp.tcp_keepidle_0", t, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 0)
	set("tcp.tcp_keepintvl", t, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15)
	set("tcp.tcp_keepcnt", t, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 5)
	set("tcp.so_rcvbuf", t, unix.SOL_SOCKET, unix.SO_RCVBUF, 65536)
	set("tcp.so_sndbuf", t, unix.SOL_SOCKET, unix.SO_SNDBUF, 65536)
	set("udp.so_rcvbuf", u, unix.SOL_SOCKET, unix.SO_RCVBUF, 65536)
	set("udp.so_sndbuf", u, unix.SOL_SOCKET, unix.SO_SNDBUF, 65536)
	set("udp.so_broadcast", u, unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
	set("udp.tcp_nodelay", u, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	set("tcp.ip_ttl", t, unix.IPPROTO_IP, unix.IP_TTL, 10)
	set("tcp.ip_ttl_default", t, unix.IPPROTO_IP, unix.IP_TTL, -1)
	set("tcp.ip_ttl_0", t, unix.IPPROTO_IP, unix.IP_TTL, 0)
	set("tcp.ip_ttl_256", t, unix.IPPROTO_IP, unix.IP_TTL, 256)
	set("tcp.ip_tos", t, unix.IPPROTO_IP, unix.IP_TOS, 0x10)
	set("tcp.unknown_sol_socket", t, unix.SOL_SOCKET, 9999, 1)
	set("tcp.unknown_tcp", t, unix.IPPROTO_TCP, 9999, 1)
	set("tcp.unknown_level", t, 9999, 1, 1)
	if f.domain == unix.AF_INET6 {
		set("tcp.ipv6_v6only", t, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
		set("tcp.ipv6_unicast_hops", t, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 7)
		set("tcp.ipv6_unicast_hops_default", t, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, -1)
		set("tcp.ipv6_unicast_hops_256", t, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, 256)
		must(unix.Bind(t, f.loop), "bind")
		set("tcp.ipv6_v6only_bound", t, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	} else {
		set("tcp.ipv6_v6only", t, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	}
	// Short option buffers.
	var v [8]byte
	for _, n := range []int{0, 1, 2, 8} {
		l := uint32(n)
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(t), unix.SOL_SOCKET, unix.SO_TYPE, uintptr(unsafe.Pointer(&v[0])), uintptr(unsafe.Pointer(&l)), 0)
		p(fmt.Sprintf("%sgetsockopt_len%d", pre, n), fmt.Sprintf("%s len=%d", en(errnoErr(e)), l))
	}
	l := uint32(0x80000000)
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(t), unix.SOL_SOCKET, unix.SO_TYPE, uintptr(unsafe.Pointer(&v[0])), uintptr(unsafe.Pointer(&l)), 0)
	p(pre+"getsockopt_negative_len", en(errnoErr(e)))
	_, _, e = unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(t), unix.SOL_SOCKET, unix.SO_REUSEADDR, uintptr(unsafe.Pointer(&v[0])), 2, 0)
	p(pre+"setsockopt_short", en(errnoErr(e)))
	tv, err := unix.GetsockoptTimeval(t, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	p(pre+"rcvtimeo_default", fmt.Sprint(en(err), " ", tv.Sec, tv.Usec))
	err = unix.SetsockoptTimeval(t, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2, Usec: 500000})
	tv, _ = unix.GetsockoptTimeval(t, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	p(pre+"rcvtimeo", fmt.Sprint(en(err), " ", tv.Sec, tv.Usec))
	err = unix.SetsockoptTimeval(t, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &unix.Timeval{Sec: 1, Usec: 2000000})
	p(pre+"sndtimeo_bad_usec", en(err))
	lg, err := unix.GetsockoptLinger(t, unix.SOL_SOCKET, unix.SO_LINGER)
	p(pre+"linger_default", fmt.Sprint(en(err), " ", lg.Onoff, lg.Linger))
	err = unix.SetsockoptLinger(t, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 5})
	lg, _ = unix.GetsockoptLinger(t, unix.SOL_SOCKET, unix.SO_LINGER)
	p(pre+"linger", fmt.Sprint(en(err), " ", lg.Onoff, lg.Linger))
	unix.Close(t)
	unix.Close(u)

	// Receive timeout.
	r := sock(f, unix.SOCK_DGRAM)
	must(unix.Bind(r, f.loop), "bind")
	unix.SetsockoptTimeval(r, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 20000})
	_, err = unix.Read(r, make([]byte, 4))
	p(pre+"rcvtimeo_expires", en(err))
	// A negative timeout means no time at all: reads do not wait.
	for _, c := range []struct {
		name string
		tv   unix.Timeval
	}{{"negative", unix.Timeval{Sec: -1}}, {"negative_usec", unix.Timeval{Sec: -5, Usec: 10}}} {
		err = unix.SetsockoptTimeval(r, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &c.tv)
		tv, _ = unix.GetsockoptTimeval(r, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
		p(pre+"rcvtimeo_"+c.name, fmt.Sprint(en(err), " ", tv.Sec, tv.Usec))
		res := make(chan string, 1)
		go func() {
			_, err := unix.Read(r, make([]byte, 4))
			res <- en(err)
		}()
		select {
		case s := <-res:
			p(pre+"rcvtimeo_"+c.name+"_read", s)
		case <-time.After(300 * time.Millisecond):
			p(pre+"rcvtimeo_"+c.name+"_read", "waits")
			unix.Sendto(r, []byte("wake"), 0, name(r)) // let the reader go
			<-res
		}
	}
	unix.Close(r)

	// Options on a listener and on accepted sockets.
	l4, port := listener(f)
	unix.SetsockoptInt(l4, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	unix.SetsockoptInt(l4, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
	c := sock(f, unix.SOCK_STREAM)
	must(unix.Connect(c, withPort(f.loop, port)), "connect")
	s, _, err := unix.Accept4(l4, 0)
	must(err, "accept")
	p(pre+"accepted_inherits_nodelay", sockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY))
	p(pre+"accepted_inherits_keepalive", sockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE))
	p(pre+"accepted_type", sockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE)+" "+sockoptInt(s, unix.SOL_SOCKET, unix.SO_PROTOCOL)+" "+sockoptInt(s, unix.SOL_SOCKET, unix.SO_DOMAIN))
	unix.Close(s)
	unix.Close(c)
	unix.Close(l4)
}

func epolls(f fam) {
	pre := "epoll" + f.name + "."
	cli, srv := pair(f)
	ev := uint32(unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP)
	ep := newEpoll(cli, ev)
	m, n := epollWait(ep, 1000)
	p(pre+"connected", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(ep, 1000)
	p(pre+"connected_level_again", fmt.Sprint(n, " ", maskStr(m)))
	unix.Write(srv, []byte("data"))
	p(pre+"data", readiness(cli, unix.EPOLLIN))
	m, n = epollWait(ep, 0)
	p(pre+"data_level", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(ep, 0)
	p(pre+"data_level_again", fmt.Sprint(n, " ", maskStr(m)))
	buf := make([]byte, 64)
	unix.Read(cli, buf)
	m, n = epollWait(ep, 0)
	p(pre+"drained_level", fmt.Sprint(n, " ", maskStr(m)))
	p(pre+"drained", readiness(cli, 0))

	// Edge-triggered: one report per change.
	et := newEpoll(cli, ev|unix.EPOLLET)
	m, n = epollWait(et, 1000)
	p(pre+"et_initial", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(et, 0)
	p(pre+"et_initial_again", fmt.Sprint(n, " ", maskStr(m)))
	unix.Write(srv, []byte("more"))
	waitIn(cli)
	m, n = epollWait(et, 1000)
	p(pre+"et_data", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(et, 0)
	p(pre+"et_data_again", fmt.Sprint(n, " ", maskStr(m)))
	unix.Write(srv, []byte("again"))
	waitIn(cli)
	for i := 0; i < 100; i++ {
		if v, _ := unix.IoctlGetInt(cli, unix.SIOCINQ); v >= 9 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	m, n = epollWait(et, 1000)
	p(pre+"et_more_data", fmt.Sprint(n, " ", maskStr(m)))
	unix.Read(cli, buf)

	// EPOLLONESHOT: once, until re-armed.
	one := newEpoll(cli, unix.EPOLLOUT|unix.EPOLLONESHOT)
	m, n = epollWait(one, 1000)
	p(pre+"oneshot", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(one, 0)
	p(pre+"oneshot_again", fmt.Sprint(n, " ", maskStr(m)))
	must(unix.EpollCtl(one, unix.EPOLL_CTL_MOD, cli, &unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLONESHOT, Fd: int32(cli)}), "mod")
	m, n = epollWait(one, 1000)
	p(pre+"oneshot_rearmed", fmt.Sprint(n, " ", maskStr(m)))
	unix.Close(one)

	// Peer shutdown: RDHUP, level-triggered and edge-triggered.
	unix.Shutdown(srv, unix.SHUT_WR)
	p(pre+"peer_shutdown", readiness(cli, unix.EPOLLRDHUP))
	m, n = epollWait(ep, 0)
	p(pre+"peer_shutdown_level", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(et, 0)
	p(pre+"peer_shutdown_et", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(et, 0)
	p(pre+"peer_shutdown_et_again", fmt.Sprint(n, " ", maskStr(m)))
	// Peer close, then our write draws a reset.
	unix.Close(srv)
	unix.Write(cli, []byte("x"))
	p(pre+"reset", readiness(cli, unix.EPOLLERR|unix.EPOLLHUP))
	m, n = epollWait(et, 0)
	p(pre+"reset_et", fmt.Sprint(n, " ", maskStr(m)))
	m, n = epollWait(ep, 0)
	p(pre+"reset_level", fmt.Sprint(n, " ", maskStr(m)))
	// Closing the descriptor removes it from the interest lists.
	unix.Close(cli)
	m, n = epollWait(ep, 0)
	p(pre+"closed", fmt.Sprint(n, " ", maskStr(m)))
	unix.Close(ep)
	unix.Close(et)

	// EPOLLOUT only: data does not wake it.
	cli, srv = pair(f)
	in := newEpoll(cli, unix.EPOLLIN)
	m, n = epollWait(in, 0)
	p(pre+"in_only_idle", fmt.Sprint(n, " ", maskStr(m)))
	unix.Close(srv)
	readiness(cli, unix.EPOLLRDHUP)
	m, n = epollWait(in, 0)
	p(pre+"in_only_peer_closed", fmt.Sprint(n, " ", maskStr(m)))
	unix.Close(in)
	unix.Close(cli)

	// A listener: IN when a connection waits, not before; the
	// unaccepted connection counts once accepted.
	l, port := listener(f)
	le := newEpoll(l, unix.EPOLLIN|unix.EPOLLOUT|unix.EPOLLET)
	m, n = epollWait(le, 0)
	p(pre+"listener_idle", fmt.Sprint(n, " ", maskStr(m)))
	c := sock(f, unix.SOCK_STREAM)
	must(unix.Connect(c, withPort(f.loop, port)), "connect")
	waitIn(l)
	m, n = epollWait(le, 1000)
	p(pre+"listener_pending", fmt.Sprint(n, " ", maskStr(m)))
	s, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	must(err, "accept")
	p(pre+"listener_after_accept", readiness(l, 0))
	unix.Close(s)
	unix.Close(c)
	unix.Close(le)
	unix.Close(l)

	// UDP: OUT always, IN with a datagram queued.
	a, aport := udpSock(f)
	b, _ := udpSock(f)
	p(pre+"udp_idle", readiness(a, 0))
	unix.Sendto(b, []byte("d"), 0, withPort(f.loop, aport))
	p(pre+"udp_data", readiness(a, unix.EPOLLIN))
	unix.Read(a, buf)
	p(pre+"udp_drained", readiness(a, 0))
	unix.Close(a)
	unix.Close(b)

	// Registering the same descriptor twice, and deleting.
	a = sock(f, unix.SOCK_DGRAM)
	e := newEpoll(a, unix.EPOLLIN)
	p(pre+"ctl_add_twice", en(unix.EpollCtl(e, unix.EPOLL_CTL_ADD, a, &unix.EpollEvent{Events: unix.EPOLLIN})))
	p(pre+"ctl_del", en(unix.EpollCtl(e, unix.EPOLL_CTL_DEL, a, nil)))
	p(pre+"ctl_del_again", en(unix.EpollCtl(e, unix.EPOLL_CTL_DEL, a, nil)))
	unix.Close(e)
	unix.Close(a)
}

// dualStack: IPv6 sockets and IPv4 peers.
func dualStack() {
	pre := "dual."
	v4, v6 := fams[0], fams[1]
	// A dual-stack listener on [::] takes IPv4 connections.
	l := sock(v6, unix.SOCK_STREAM)
	p(pre+"v6only_default", sockoptInt(l, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY))
	must(unix.Bind(l, v6.any), "bind")
	must(unix.Listen(l, 4), "listen")
	port := portOf(name(l))
	x := sock(v4, unix.SOCK_STREAM)
	p(pre+"v4_bind_same_port", en(unix.Bind(x, withPort(v4.any, port))))
	unix.Close(x)
	x = sock(v4, unix.SOCK_STREAM)
	p(pre+"v4_bind_same_port_loopback", en(unix.Bind(x, withPort(v4.loop, port))))
	unix.Close(x)
	c := sock(v4, unix.SOCK_STREAM)
	p(pre+"v4_connect", en(unix.Connect(c, withPort(v4.loop, port))))
	s, peer, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	p(pre+"v4_accept", en(err)+" "+sas(peer))
	if err == nil {
		p(pre+"v4_accepted_name", sas(name(s)))
		p(pre+"v4_accepted_domain", sockoptInt(s, unix.SOL_SOCKET, unix.SO_DOMAIN))
		unix.Write(c, []byte("hi"))
		waitIn(s)
		buf := make([]byte, 8)
		n, _ := unix.Read(s, buf)
		p(pre+"v4_data", string(buf[:max(n, 0)]))
		unix.Close(s)
	}
	unix.Close(c)
	// A mapped connect from an IPv6 socket.
	c = sock(v6, unix.SOCK_STREAM)
	p(pre+"mapped_connect", en(rawConnect(c, sockaddr6(port, [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}), 28)))
	p(pre+"mapped_connect_name", sas(name(c)))
	if s, peer, err := unix.Accept4(l, unix.SOCK_CLOEXEC); err == nil {
		p(pre+"mapped_accept", sas(peer))
		unix.Close(s)
	}
	unix.Close(c)
	// An AF_INET address connects an IPv6 socket as mapped.
	c = sock(v6, unix.SOCK_STREAM)
	p(pre+"inet_addr_connect", en(rawConnect(c, sockaddr4(unix.AF_INET, port, [4]byte{127, 0, 0, 1}), 16)))
	unix.Close(c)
	unix.Close(l)

	// A v6-only listener leaves the IPv4 port alone.
	hold, port := closedPort(v4)
	l = sock(v6, unix.SOCK_STREAM)
	must(unix.SetsockoptInt(l, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1), "v6only")
	p(pre+"v6only_bind_over_v4", en(unix.Bind(l, withPort(v6.any, port))))
	must(unix.Listen(l, 4), "listen")
	c = sock(v4, unix.SOCK_STREAM)
	p(pre+"v6only_v4_connect", en(unix.Connect(c, withPort(v4.loop, port))))
	unix.Close(c)
	c = sock(v6, unix.SOCK_STREAM)
	p(pre+"v6only_v6_connect", en(unix.Connect(c, withPort(v6.loop, port))))
	unix.Close(c)
	c = sock(v6, unix.SOCK_STREAM)
	unix.SetsockoptInt(c, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1)
	p(pre+"v6only_mapped_connect", en(rawConnect(c, sockaddr6(port, [16]byte{10: 0xff, 11: 0xff, 12: 127, 15: 1}), 28)))
	unix.Close(c)
	unix.Close(l)
	unix.Close(hold)
	// Not dual-stack: the wildcard IPv6 bind over a bound IPv4 port.
	hold, port = closedPort(v4)
	l = sock(v6, unix.SOCK_STREAM)
	p(pre+"dual_bind_over_v4", en(unix.Bind(l, withPort(v6.any, port))))
	unix.Close(l)
	unix.Close(hold)

	// UDP: a dual-stack socket receives from IPv4 and answers.
	u6 := sock(v6, unix.SOCK_DGRAM)
	must(unix.Bind(u6, v6.any), "bind")
	uport := portOf(name(u6))
	u4 := sock(v4, unix.SOCK_DGRAM)
	must(unix.Sendto(u4, []byte("ping"), 0, withPort(v4.loop, uport)), "sendto")
	waitIn(u6)
	buf := make([]byte, 16)
	n, from, err := unix.Recvfrom(u6, buf, 0)
	p(pre+"udp_v4_to_v6", fmt.Sprintf("%d %s %s", n, en(err), sas(from)))
	if from != nil {
		p(pre+"udp_reply", en(unix.Sendto(u6, []byte("pong"), 0, from)))
		waitIn(u4)
		n, from, err = unix.Recvfrom(u4, buf, 0)
		p(pre+"udp_reply_recv", fmt.Sprintf("%d %s %s", n, en(err), sas(from)))
	}
	unix.Close(u4)
	unix.Close(u6)
}

// descriptors: dup, dup2, fcntl on sockets.
func descriptors() {
	pre := "fd."
	f := fams[0]
	cli, srv := pair(f)
	d, err := unix.Dup(cli)
	p(pre+"dup", en(err))
	p(pre+"dup_type", sockoptInt(d, unix.SOL_SOCKET, unix.SO_TYPE))
	unix.Close(cli)
	n, err := unix.Write(d, []byte("via dup"))
	p(pre+"write_via_dup", fmt.Sprint(n, " ", en(err)))
	buf := make([]byte, 16)
	waitIn(srv)
	n, _ = unix.Read(srv, buf)
	p(pre+"read_dup_data", string(buf[:max(n, 0)]))
	// The connection is still open: the peer sees no EOF.
	p(pre+"peer_after_close_of_one", readiness(srv, 0))
	_, err = unix.Write(cli, []byte("x"))
	p(pre+"write_closed_fd", en(err))

	// dup2 over another socket closes that one.
	u := sock(f, unix.SOCK_DGRAM)
	d2 := u
	err = unix.Dup2(d, d2)
	p(pre+"dup2", en(err))
	p(pre+"dup2_type", sockoptInt(d2, unix.SOL_SOCKET, unix.SO_TYPE))
	unix.Close(d)
	n, err = unix.Write(d2, []byte("via dup2"))
	p(pre+"write_via_dup2", fmt.Sprint(n, " ", en(err)))
	waitIn(srv)
	n, _ = unix.Read(srv, buf)
	p(pre+"read_dup2_data", string(buf[:max(n, 0)]))
	err = unix.Dup3(d2, d2, 0)
	p(pre+"dup3_same", en(err))
	d3, err := unix.FcntlInt(uintptr(d2), unix.F_DUPFD_CLOEXEC, 100)
	p(pre+"fcntl_dupfd", fmt.Sprint(en(err), " ", d3 >= 100))
	fl, _ := unix.FcntlInt(uintptr(d3), unix.F_GETFD, 0)
	p(pre+"fcntl_dupfd_cloexec", fl&unix.FD_CLOEXEC != 0)
	// O_NONBLOCK is shared between duplicates.
	must(unix.SetNonblock(d3, true), "nonblock")
	fl, _ = unix.FcntlInt(uintptr(d2), unix.F_GETFL, 0)
	p(pre+"nonblock_shared", fl&unix.O_NONBLOCK != 0)
	_, err = unix.Read(d2, buf)
	p(pre+"nonblock_shared_read", en(err))
	unix.Close(d3)
	unix.Close(d2)
	// Now the last descriptor is gone: the peer reads EOF.
	p(pre+"peer_after_last_close", readiness(srv, unix.EPOLLRDHUP))
	n, err = unix.Read(srv, buf)
	p(pre+"peer_read_after_last_close", fmt.Sprint(n, " ", en(err)))
	unix.Close(srv)

	// Calls on a closed socket descriptor, and socket calls on a
	// non-socket.
	s := sock(f, unix.SOCK_STREAM)
	unix.Close(s)
	p(pre+"closed_getsockopt", sockoptInt(s, unix.SOL_SOCKET, unix.SO_TYPE))
	p(pre+"closed_bind", en(unix.Bind(s, f.loop)))
	nfd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	must(err, "open /dev/null")
	p(pre+"file_getsockopt", sockoptInt(nfd, unix.SOL_SOCKET, unix.SO_TYPE))
	p(pre+"file_bind", en(unix.Bind(nfd, f.loop)))
	p(pre+"file_accept", en(second(unix.Accept4(nfd, 0))))
	unix.Close(nfd)

	// dup2 and dup3 of a file over a socket's last descriptor: the
	// descriptor is the file from then on, and the socket closes.
	for _, dup3 := range []bool{false, true} {
		q := pre + "dup2_file_over_socket"
		if dup3 {
			q = pre + "dup3_file_over_socket"
		}
		cli, srv := pair(f)
		nfd, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
		must(err, "open /dev/null")
		if dup3 {
			err = unix.Dup3(nfd, cli, unix.O_CLOEXEC)
		} else {
			err = unix.Dup2(nfd, cli)
		}
		p(q, en(err))
		p(q+"_getsockopt", sockoptInt(cli, unix.SOL_SOCKET, unix.SO_TYPE))
		n, err := unix.Write(cli, []byte("to /dev/null"))
		p(q+"_write", fmt.Sprint(n, " ", en(err)))
		p(q+"_peer", readiness(srv, unix.EPOLLRDHUP))
		n, err = unix.Read(srv, buf)
		p(q+"_peer_read", fmt.Sprint(n, " ", en(err)))
		unix.Close(cli)
		unix.Close(nfd)
		unix.Close(srv)
	}
	// A dup2 or dup3 that fails leaves the socket it would replace open.
	cli, srv = pair(f)
	u = sock(f, unix.SOCK_DGRAM)
	p(pre+"dup3_badflags_over_socket", en(unix.Dup3(u, cli, 0x4000)))
	p(pre+"dup2_badfd_over_socket", en(unix.Dup2(9999, cli)))
	nfd, err = unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
	must(err, "open /dev/null")
	p(pre+"dup3_file_badflags_over_socket", en(unix.Dup3(nfd, cli, 0x4000)))
	unix.Close(nfd)
	p(pre+"failed_dup_socket_type", sockoptInt(cli, unix.SOL_SOCKET, unix.SO_TYPE))
	n, err = unix.Write(cli, []byte("still"))
	p(pre+"failed_dup_socket_write", fmt.Sprint(n, " ", en(err)))
	waitIn(srv)
	n, _ = unix.Read(srv, buf)
	p(pre+"failed_dup_socket_peer_read", string(buf[:max(n, 0)]))
	unix.Close(u)
	unix.Close(cli)
	unix.Close(srv)
	p(pre+"badfd_connect", en(unix.Connect(9999, f.loop)))
	p(pre+"badfd_listen", en(unix.Listen(-1, 1)))
}

const fionbio = 0x5421 // FIONBIO
