package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AF_UNIX sockets: names in the file tree and in the abstract namespace,
// connections, the three socket types, descriptor passing.

// udir is a fresh directory for socket files; uabs makes abstract names
// this process alone uses (the host's namespace is shared), never printed.
var udir string

func uabs(name string) string {
	return fmt.Sprintf("\x00sockabi-%d-%s", os.Getpid(), name)
}

// usa encodes a sockaddr_un for path (or abstract name) s: family, then
// the bytes, then a NUL for paths; it returns the buffer and the length
// Linux's getsockname would report.
func usa(s string) ([]byte, int) {
	b := make([]byte, 110)
	binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
	copy(b[2:], s)
	if strings.HasPrefix(s, "\x00") {
		return b, 2 + len(s)
	}
	return b, 2 + len(s) + 1
}

func ubind(fd int, s string) error {
	b, n := usa(s)
	return rawBind(fd, b, n)
}

func uconnect(fd int, s string) error {
	b, n := usa(s)
	return rawConnect(fd, b, n)
}

func usock(typ int) int {
	fd, err := unix.Socket(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	must(err, "socket unix")
	return fd
}

func upair(typ int) (int, int) {
	fds, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
	must(err, "socketpair")
	return fds[0], fds[1]
}

// uname describes what getsockname/getpeername return: the length and,
// beyond the family, the path relative to udir, "@" + the length of an
// abstract name, or the autobind form.
func uname(trap uintptr, fd int) string {
	var buf [128]byte
	l := uint32(len(buf))
	_, _, e := unix.Syscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)))
	if e != 0 {
		return en(e)
	}
	return uaddrStr(buf[:l])
}

func uaddrStr(b []byte) string {
	if len(b) < 2 {
		return fmt.Sprintf("len=%d", len(b))
	}
	fam := binary.NativeEndian.Uint16(b)
	name := string(b[2:])
	pfx := uabs("")
	switch {
	case len(b) == 2:
		return fmt.Sprintf("len=2 family=%d", fam)
	case b[2] == 0 && len(b) == 8 && isHex(b[3:8]):
		return fmt.Sprintf("len=8 family=%d autobind", fam)
	case strings.HasPrefix(name, pfx):
		// Lengths relative to the name's prefix, which holds the pid.
		return fmt.Sprintf("len=PFX+%d family=%d abstract=%q", len(b)-len(pfx), fam, name[len(pfx):])
	case b[2] == 0:
		return fmt.Sprintf("len=%d family=%d abstract(%d)", len(b), fam, len(b)-2)
	}
	path := name
	if i := strings.IndexByte(path, 0); i >= 0 {
		path = path[:i]
	}
	if strings.HasPrefix(path, udir+"/") {
		return fmt.Sprintf("len=DIR+%d family=%d path=DIR/%s", len(b)-len(udir), fam, path[len(udir)+1:])
	}
	return fmt.Sprintf("len=%d family=%d path=%s", len(b), fam, path)
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// urecvfrom reads with recvfrom and reports the data and the address.
func urecvfrom(fd, n, flags int) string {
	buf := make([]byte, max(n, 1))
	var rsa [128]byte
	rl := uint32(len(rsa))
	r, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(n), uintptr(flags),
		uintptr(unsafe.Pointer(&rsa[0])), uintptr(unsafe.Pointer(&rl)))
	if e != 0 {
		return en(e)
	}
	m := min(int(r), n)
	return fmt.Sprintf("%d %q %s", int(r), buf[:m], uaddrStr(rsa[:rl]))
}

func uread(fd, n int) string {
	buf := make([]byte, n)
	r, err := unix.Read(fd, buf)
	if err != nil {
		return en(err)
	}
	return fmt.Sprintf("%d %q", r, buf[:r])
}

func uwrite(fd int, s string) string {
	n, err := unix.Write(fd, []byte(s))
	if err != nil {
		return en(err)
	}
	return fmt.Sprint(n)
}

func ustat(path string) string {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return en(err)
	}
	return fmt.Sprintf("type=%#o perm=%#o size=%d nlink=%d", st.Mode&unix.S_IFMT, st.Mode&0o7777, st.Size, st.Nlink)
}

func setNonblock(fd int) { must(unix.SetNonblock(fd, true), "nonblock") }

func unixes() {
	var err error
	udir, err = os.MkdirTemp("", "sockabi")
	must(err, "mkdtemp")
	defer os.RemoveAll(udir)
	unixSockets()
	unixBinds()
	unixConnects()
	unixStreams()
	unixDgrams()
	unixSeqpackets()
	unixRights()
	unixOptions()
}

func unixSockets() {
	pre := "unix.socket."
	try := func(n string, t, pr int) {
		fd, err := unix.Socket(unix.AF_UNIX, t, pr)
		r := en(err)
		if err == nil {
			r += " type=" + sockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE) +
				" domain=" + sockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN) +
				" protocol=" + sockoptInt(fd, unix.SOL_SOCKET, unix.SO_PROTOCOL)
			unix.Close(fd)
		}
		p(pre+n, r)
	}
	try("stream", unix.SOCK_STREAM, 0)
	try("dgram", unix.SOCK_DGRAM, 0)
	try("seqpacket", unix.SOCK_SEQPACKET, 0)
	try("raw", unix.SOCK_RAW, 0)
	try("rdm", unix.SOCK_RDM, 0)
	try("type0", 0, 0)
	try("type11", 11, 0)
	try("proto1", unix.SOCK_STREAM, 1)
	try("proto2", unix.SOCK_STREAM, 2)
	try("proto_negative", unix.SOCK_STREAM, -1)
	try("flag_bits", unix.SOCK_STREAM|0x10000, 0)
	fd := usock(unix.SOCK_STREAM)
	var st unix.Stat_t
	must(unix.Fstat(fd, &st), "fstat")
	p(pre+"fstat_mode", fmt.Sprintf("%#o", st.Mode&unix.S_IFMT))
	unix.Close(fd)

	pp := "unix.socketpair."
	tryPair := func(n string, d, t, pr int, sv unsafe.Pointer) {
		_, _, e := unix.RawSyscall6(unix.SYS_SOCKETPAIR, uintptr(d), uintptr(t), uintptr(pr), uintptr(sv), 0, 0)
		r := en(errnoErr(e))
		if e == 0 && sv != nil {
			fds := (*[2]int32)(sv)
			r += " type=" + sockoptInt(int(fds[0]), unix.SOL_SOCKET, unix.SO_TYPE)
			unix.Close(int(fds[0]))
			unix.Close(int(fds[1]))
		}
		p(pp+n, r)
	}
	var sv [2]int32
	tryPair("stream", unix.AF_UNIX, unix.SOCK_STREAM, 0, unsafe.Pointer(&sv))
	tryPair("dgram", unix.AF_UNIX, unix.SOCK_DGRAM, 0, unsafe.Pointer(&sv))
	tryPair("seqpacket", unix.AF_UNIX, unix.SOCK_SEQPACKET, 0, unsafe.Pointer(&sv))
	tryPair("raw", unix.AF_UNIX, unix.SOCK_RAW, 0, unsafe.Pointer(&sv))
	tryPair("rdm", unix.AF_UNIX, unix.SOCK_RDM, 0, unsafe.Pointer(&sv))
	tryPair("type11", unix.AF_UNIX, 11, 0, unsafe.Pointer(&sv))
	tryPair("proto2", unix.AF_UNIX, unix.SOCK_STREAM, 2, unsafe.Pointer(&sv))
	tryPair("flag_bits", unix.AF_UNIX, unix.SOCK_STREAM|0x10000, 0, unsafe.Pointer(&sv))
	tryPair("efault", unix.AF_UNIX, unix.SOCK_STREAM, 0, nil)
	tryPair("inet_efault", unix.AF_INET, unix.SOCK_STREAM, 0, nil)
	tryPair("domain_12345", 12345, unix.SOCK_STREAM, 0, unsafe.Pointer(&sv))
	tryPair("inet_type11", unix.AF_INET, 11, 0, unsafe.Pointer(&sv))
	_, _, e := unix.RawSyscall6(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, uintptr(unsafe.Pointer(&sv)), 0, 0)
	must(errnoErr(e), "socketpair")
	fl, _ := unix.FcntlInt(uintptr(sv[1]), unix.F_GETFL, 0)
	fdfl, _ := unix.FcntlInt(uintptr(sv[1]), unix.F_GETFD, 0)
	p(pp+"nonblock_cloexec", fmt.Sprintf("nonblock=%v cloexec=%v rdwr=%v", fl&unix.O_NONBLOCK != 0, fdfl&unix.FD_CLOEXEC != 0, fl&unix.O_ACCMODE == unix.O_RDWR))
	p(pp+"names", uname(unix.SYS_GETSOCKNAME, int(sv[0]))+" / "+uname(unix.SYS_GETPEERNAME, int(sv[0])))
	p(pp+"write", uwrite(int(sv[0]), "pair"))
	p(pp+"read", uread(int(sv[1]), 16))
	p(pp+"read_empty", uread(int(sv[1]), 16))
	unix.Close(int(sv[0]))
	unix.Close(int(sv[1]))
}

func unixBinds() {
	pre := "unix.bind."
	path := filepath.Join(udir, "b.sock")
	fd := usock(unix.SOCK_STREAM)
	p(pre+"unbound_name", uname(unix.SYS_GETSOCKNAME, fd))
	p(pre+"unbound_peer", uname(unix.SYS_GETPEERNAME, fd))
	p(pre+"path", en(ubind(fd, path)))
	p(pre+"path_name", uname(unix.SYS_GETSOCKNAME, fd))
	p(pre+"path_stat", ustat(path))
	fi, err := os.Stat(path)
	if err == nil {
		p(pre+"path_os_stat", fi.Mode().String())
	} else {
		p(pre+"path_os_stat", en(err))
	}
	ents, _ := os.ReadDir(udir)
	for _, e := range ents {
		if e.Name() == "b.sock" {
			p(pre+"path_readdir_type", e.Type().String())
		}
	}
	_, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	p(pre+"path_open", en(err))
	_, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	p(pre+"path_open_write", en(err))
	ofd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	p(pre+"path_open_opath", en(err))
	if err == nil {
		unix.Close(ofd)
	}
	p(pre+"path_truncate", en(unix.Truncate(path, 0)))
	p(pre+"again_same_path", en(ubind(fd, path)))
	p(pre+"again_other_path", en(ubind(fd, filepath.Join(udir, "b2.sock"))))
	p(pre+"again_other_path_left", ustat(filepath.Join(udir, "b2.sock")))
	p(pre+"again_abstract", en(ubind(fd, uabs("b"))))
	fd2 := usock(unix.SOCK_STREAM)
	p(pre+"in_use", en(ubind(fd2, path)))
	p(pre+"in_use_dgram", en(ubind(usock(unix.SOCK_DGRAM), path)))
	p(pre+"existing_file", en(ubind(fd2, udir)))
	p(pre+"missing_parent", en(ubind(fd2, filepath.Join(udir, "nodir", "x.sock"))))
	p(pre+"parent_not_dir", en(ubind(fd2, filepath.Join(path, "x.sock"))))
	p(pre+"trailing_slash", en(ubind(fd2, filepath.Join(udir, "slash.sock")+"/")))
	unix.Close(fd)
	p(pre+"closed_file_stays", ustat(path))
	p(pre+"rebind_after_close", en(ubind(fd2, path)))
	must(os.Remove(path), "remove")
	p(pre+"rebind_after_unlink", en(ubind(fd2, path)))
	p(pre+"rebind_after_unlink_name", uname(unix.SYS_GETSOCKNAME, fd2))
	unix.Close(fd2)

	// Relative paths name the file from the working directory.
	wd, _ := os.Getwd()
	must(os.Chdir(udir), "chdir")
	fd = usock(unix.SOCK_STREAM)
	p(pre+"relative", en(ubind(fd, "rel.sock")))
	p(pre+"relative_name", uname(unix.SYS_GETSOCKNAME, fd))
	must(os.Chdir(wd), "chdir")
	p(pre+"relative_stat", ustat(filepath.Join(udir, "rel.sock")))
	unix.Close(fd)

	// Lengths and families.
	raw := func(n string, b []byte, l int) {
		fd := usock(unix.SOCK_DGRAM)
		err := rawBind(fd, b, l)
		r := en(err)
		if err == nil {
			r += " " + uname(unix.SYS_GETSOCKNAME, fd)
		}
		unix.Close(fd)
		p(pre+n, r)
	}
	b, _ := usa(filepath.Join(udir, "len.sock"))
	raw("len0", b, 0)
	raw("len1", b, 1)
	raw("len2_autobind", b, 2)
	raw("len111", b, 111)
	raw("len129", b, 129)
	raw("len_negative", b, -1)
	long := make([]byte, 112)
	binary.NativeEndian.PutUint16(long, unix.AF_UNIX)
	lp := filepath.Join(udir, strings.Repeat("x", 108-len(udir)-1))
	copy(long[2:], lp)
	fd = usock(unix.SOCK_DGRAM)
	err = rawBind(fd, long, 110)
	r := en(err)
	if err == nil {
		var nb [128]byte
		l := uint32(len(nb))
		unix.Syscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&nb[0])), uintptr(unsafe.Pointer(&l)))
		r += fmt.Sprint(" len=", l, " nul=", nb[l-1] == 0)
	}
	unix.Close(fd)
	p(pre+"path_108_no_nul", r)
	b[0] = unix.AF_INET
	raw("family_inet", b, 20)
	b[0], b[1] = 0, 0
	raw("family_unspec", b, 20)
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(usock(unix.SOCK_STREAM)), 16, 20)
	p(pre+"efault", en(errnoErr(e)))
	_, _, e = unix.Syscall(unix.SYS_BIND, uintptr(usock(unix.SOCK_STREAM)), 0, 0)
	p(pre+"null_len0", en(errnoErr(e)))

	// The abstract namespace.
	a1 := usock(unix.SOCK_STREAM)
	p(pre+"abstract", en(ubind(a1, uabs("a"))))
	p(pre+"abstract_name", uname(unix.SYS_GETSOCKNAME, a1))
	a2 := usock(unix.SOCK_STREAM)
	p(pre+"abstract_in_use", en(ubind(a2, uabs("a"))))
	ab, an := usa(uabs("a"))
	p(pre+"abstract_longer_name", en(rawBind(a2, ab, an+1)))
	a3 := usock(unix.SOCK_STREAM)
	p(pre+"abstract_shorter_name", en(rawBind(a3, ab, an-1)))
	unix.Close(a1)
	a4 := usock(unix.SOCK_STREAM)
	p(pre+"abstract_after_close", en(ubind(a4, uabs("a"))))
	nul := make([]byte, 110)
	binary.NativeEndian.PutUint16(nul, unix.AF_UNIX)
	copy(nul[3:], fmt.Sprintf("sockabi-%d-nul", os.Getpid()))
	a5 := usock(unix.SOCK_STREAM)
	p(pre+"abstract_108", en(rawBind(a5, nul, 110)))
	var nb [128]byte
	nl := uint32(len(nb))
	unix.Syscall(unix.SYS_GETSOCKNAME, uintptr(a5), uintptr(unsafe.Pointer(&nb[0])), uintptr(unsafe.Pointer(&nl)))
	p(pre+"abstract_108_name", fmt.Sprint("len=", nl, " same=", string(nb[:nl]) == string(nul)))
	for _, fd := range []int{a2, a3, a4, a5} {
		unix.Close(fd)
	}

	// Autobind: a name of 5 hex digits in the abstract namespace.
	fd = usock(unix.SOCK_DGRAM)
	bb, _ := usa("")
	p(pre+"autobind", en(rawBind(fd, bb, 2)))
	p(pre+"autobind_name", uname(unix.SYS_GETSOCKNAME, fd))
	p(pre+"autobind_again", en(rawBind(fd, bb, 2)))
	p(pre+"autobind_then_path", en(ubind(fd, filepath.Join(udir, "auto.sock"))))
	unix.Close(fd)
	fd = usock(unix.SOCK_DGRAM)
	must(ubind(fd, uabs("auto2")), "bind")
	p(pre+"bound_then_autobind", en(rawBind(fd, bb, 2)))
	p(pre+"bound_then_autobind_name", uname(unix.SYS_GETSOCKNAME, fd))
	unix.Close(fd)
}

func unixConnects() {
	pre := "unix.connect."
	path := filepath.Join(udir, "c.sock")
	l := usock(unix.SOCK_STREAM)
	c := usock(unix.SOCK_STREAM)
	p(pre+"missing", en(uconnect(c, path)))
	p(pre+"missing_parent", en(uconnect(c, filepath.Join(udir, "nodir", "x"))))
	must(os.WriteFile(filepath.Join(udir, "regular"), nil, 0o644), "write")
	p(pre+"regular_file", en(uconnect(c, filepath.Join(udir, "regular"))))
	p(pre+"directory", en(uconnect(c, udir)))
	p(pre+"abstract_missing", en(uconnect(c, uabs("nobody"))))
	p(pre+"listen_unbound", en(unix.Listen(l, 4)))
	must(ubind(l, path), "bind")
	p(pre+"not_listening", en(uconnect(c, path)))
	p(pre+"accept_not_listening", en(second(unix.Accept(l))))
	p(pre+"listen", en(unix.Listen(l, 4)))
	p(pre+"listen_again", en(unix.Listen(l, 8)))
	p(pre+"acceptconn", sockoptInt(l, unix.SOL_SOCKET, unix.SO_ACCEPTCONN))
	p(pre+"listener_ready_empty", readiness(l, 0))
	p(pre+"unconnected_ready", readiness(c, 0))
	d := usock(unix.SOCK_DGRAM)
	p(pre+"wrong_type", en(uconnect(d, path)))
	s := usock(unix.SOCK_SEQPACKET)
	p(pre+"wrong_type_seqpacket", en(uconnect(s, path)))
	unix.Close(s)
	p(pre+"connect", en(uconnect(c, path)))
	p(pre+"connected_ready", readiness(c, unix.EPOLLOUT))
	p(pre+"listener_ready", readiness(l, unix.EPOLLIN))
	p(pre+"again", en(uconnect(c, path)))
	p(pre+"again_missing", en(uconnect(c, filepath.Join(udir, "none"))))
	p(pre+"listener_connects", en(uconnect(l, path)))
	p(pre+"names", uname(unix.SYS_GETSOCKNAME, c)+" / "+uname(unix.SYS_GETPEERNAME, c))
	p(pre+"write_before_accept", uwrite(c, "early"))
	var rsa [128]byte
	rl := uint32(len(rsa))
	r, _, e := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(l), uintptr(unsafe.Pointer(&rsa[0])), uintptr(unsafe.Pointer(&rl)), unix.SOCK_CLOEXEC, 0, 0)
	p(pre+"accept", fmt.Sprint(en(errnoErr(e)), " ", uaddrStr(rsa[:rl])))
	a := int(r)
	p(pre+"accepted_names", uname(unix.SYS_GETSOCKNAME, a)+" / "+uname(unix.SYS_GETPEERNAME, a))
	p(pre+"accepted_type", sockoptInt(a, unix.SOL_SOCKET, unix.SO_TYPE))
	p(pre+"accepted_read", uread(a, 16))
	p(pre+"listener_after_accept", readiness(l, 0))
	setNonblock(l)
	p(pre+"accept_empty_nonblock", en(second(unix.Accept(l))))
	p(pre+"accept_bad_flags", en(second(unix.Accept4(l, 0x4000))))
	p(pre+"accept_dgram", en(second(unix.Accept(d))))
	p(pre+"listen_dgram", en(unix.Listen(d, 1)))
	unix.Close(a)
	unix.Close(c)

	// A bound client: the server sees its name.
	c = usock(unix.SOCK_STREAM)
	must(ubind(c, filepath.Join(udir, "client.sock")), "bind")
	must(uconnect(c, path), "connect")
	a, sa, err := unix.Accept(l)
	must(err, "accept")
	if u, ok := sa.(*unix.SockaddrUnix); ok {
		p(pre+"accept_bound_peer", strings.TrimPrefix(u.Name, udir))
	}
	p(pre+"accepted_bound_peer_name", uname(unix.SYS_GETPEERNAME, a))
	p(pre+"write_to_bound", uwrite(a, "hi"))
	p(pre+"recvfrom_listener_side", urecvfrom(c, 16, 0))
	p(pre+"write_from_bound", uwrite(c, "yo"))
	p(pre+"recvfrom_accepted_side", urecvfrom(a, 16, 0))
	unix.Close(a)
	unix.Close(c)

	// The backlog: listen(0) holds one connection.
	b := usock(unix.SOCK_STREAM)
	bpath := filepath.Join(udir, "backlog.sock")
	must(ubind(b, bpath), "bind")
	must(unix.Listen(b, 0), "listen")
	var cs []int
	res := []string{}
	for i := 0; i < 3; i++ {
		c := usock(unix.SOCK_STREAM | unix.SOCK_NONBLOCK)
		cs = append(cs, c)
		res = append(res, en(uconnect(c, bpath)))
	}
	p(pre+"backlog0", strings.Join(res, " "))
	a, _, err = unix.Accept(b)
	must(err, "accept")
	p(pre+"backlog0_after_accept", en(uconnect(cs[2], bpath)))
	unix.Close(a)
	// Closing the listener resets the connections not accepted.
	unix.Close(b)
	p(pre+"listener_closed_pending", readiness(cs[2], unix.EPOLLHUP))
	p(pre+"listener_closed_pending_read", uread(cs[2], 8))
	p(pre+"listener_closed_pending_read2", uread(cs[2], 8))
	p(pre+"listener_closed_pending_write", uwrite(cs[2], "x"))
	p(pre+"never_connected", uname(unix.SYS_GETPEERNAME, cs[1]))
	p(pre+"listener_closed_connect", en(uconnect(usock(unix.SOCK_STREAM), bpath)))
	for _, c := range cs {
		unix.Close(c)
	}

	// The file names the socket: a renamed file still reaches it, a
	// removed one does not.
	must(os.Rename(path, filepath.Join(udir, "renamed.sock")), "rename")
	c = usock(unix.SOCK_STREAM)
	p(pre+"renamed", en(uconnect(c, filepath.Join(udir, "renamed.sock"))))
	unix.Close(c)
	must(os.Symlink(filepath.Join(udir, "renamed.sock"), filepath.Join(udir, "link.sock")), "symlink")
	c = usock(unix.SOCK_STREAM)
	p(pre+"via_symlink", en(uconnect(c, filepath.Join(udir, "link.sock"))))
	unix.Close(c)
	must(os.Remove(filepath.Join(udir, "renamed.sock")), "remove")
	c = usock(unix.SOCK_STREAM)
	p(pre+"removed", en(uconnect(c, filepath.Join(udir, "renamed.sock"))))
	unix.Close(c)
	for {
		a, _, err := unix.Accept(l)
		if err != nil {
			break
		}
		unix.Close(a)
	}
	unix.Close(l)

	// Abstract listeners.
	l = usock(unix.SOCK_STREAM)
	must(ubind(l, uabs("listen")), "bind")
	must(unix.Listen(l, 4), "listen")
	c = usock(unix.SOCK_STREAM)
	p(pre+"abstract", en(uconnect(c, uabs("listen"))))
	p(pre+"abstract_peer", uname(unix.SYS_GETPEERNAME, c))
	d2 := usock(unix.SOCK_DGRAM)
	p(pre+"abstract_wrong_type", en(uconnect(d2, uabs("listen"))))
	unix.Close(d2)
	unix.Close(c)
	unix.Close(l)
	c = usock(unix.SOCK_STREAM)
	p(pre+"abstract_closed", en(uconnect(c, uabs("listen"))))
	var bad [2]byte
	binary.NativeEndian.PutUint16(bad[:], unix.AF_UNIX)
	p(pre+"len2", en(rawConnect(c, bad[:], 2)))
	binary.NativeEndian.PutUint16(bad[:], unix.AF_UNSPEC)
	p(pre+"stream_unspec", en(rawConnect(c, bad[:], 2)))
	unix.Close(c)
	unix.Close(d)
}

// ustreamPair connects two stream sockets through a listener.
func ustreamPair(typ int, name string) (int, int) {
	l := usock(typ)
	must(ubind(l, uabs(name)), "bind")
	must(unix.Listen(l, 4), "listen")
	c := usock(typ)
	must(uconnect(c, uabs(name)), "connect")
	a, _, err := unix.Accept4(l, unix.SOCK_CLOEXEC)
	must(err, "accept")
	unix.Close(l)
	return c, a
}

func unixStreams() {
	pre := "unix.stream."
	c, a := ustreamPair(unix.SOCK_STREAM, "s1")
	u := usock(unix.SOCK_STREAM)
	p(pre+"read_unconnected", uread(u, 4))
	p(pre+"recv_unconnected", urecvfrom(u, 4, unix.MSG_DONTWAIT))
	p(pre+"write_unconnected", uwrite(u, "x"))
	p(pre+"sendto_unconnected", en(unix.Sendto(u, []byte("x"), 0, &unix.SockaddrUnix{Name: "@x"})))
	p(pre+"sendto_connected", en(unix.Sendto(c, []byte("x"), 0, &unix.SockaddrUnix{Name: "@x"})))
	p(pre+"shutdown_unconnected", en(unix.Shutdown(u, unix.SHUT_RDWR)))
	p(pre+"shutdown_bad", en(unix.Shutdown(c, 3)))
	unix.Close(u)
	p(pre+"write", uwrite(c, "hello"))
	p(pre+"write2", uwrite(c, " world"))
	v, err := unix.IoctlGetInt(a, unix.SIOCINQ)
	p(pre+"fionread", fmt.Sprint(v, " ", en(err)))
	p(pre+"peek", urecvfrom(a, 3, unix.MSG_PEEK))
	p(pre+"read_glues", uread(a, 64))
	p(pre+"read_empty", urecvfrom(a, 8, unix.MSG_DONTWAIT))
	v, err = unix.IoctlGetInt(c, unix.SIOCOUTQ)
	p(pre+"siocoutq_read", fmt.Sprint(v, " ", en(err)))
	p(pre+"recv_len0_empty", urecvfrom(a, 0, unix.MSG_DONTWAIT))
	uwrite(c, "abcdef")
	p(pre+"read_part", uread(a, 2))
	p(pre+"read_rest", uread(a, 64))
	// MSG_WAITALL gathers across writes.
	uwrite(c, "ab")
	uwrite(c, "cd")
	p(pre+"waitall", urecvfrom(a, 4, unix.MSG_WAITALL))
	// writev and readv.
	n, err := unix.Writev(c, [][]byte{[]byte("ve"), []byte("ct")})
	p(pre+"writev", fmt.Sprint(n, " ", en(err)))
	b1, b2 := make([]byte, 1), make([]byte, 8)
	n, err = unix.Readv(a, [][]byte{b1, b2})
	p(pre+"readv", fmt.Sprintf("%d %s %q %q", n, en(err), b1, b2[:max(n-1, 0)]))

	// Shutdown.
	p(pre+"shut_wr", en(unix.Shutdown(c, unix.SHUT_WR)))
	p(pre+"shut_wr_write", uwrite(c, "x"))
	p(pre+"shut_wr_self_ready", readiness(c, 0))
	p(pre+"shut_wr_peer_ready", readiness(a, unix.EPOLLRDHUP))
	p(pre+"shut_wr_peer_read", uread(a, 8))
	p(pre+"shut_wr_peer_write", uwrite(a, "back"))
	p(pre+"shut_wr_read", uread(c, 8))
	p(pre+"shut_rd", en(unix.Shutdown(c, unix.SHUT_RD)))
	p(pre+"shut_rd_peer_write", uwrite(a, "x"))
	p(pre+"shut_rd_ready", readiness(c, 0))
	p(pre+"shut_rd_peer_ready", readiness(a, 0))
	p(pre+"shut_rd_read", uread(c, 8))
	unix.Close(c)
	unix.Close(a)

	// Closing with data unread resets the peer; closing without, EOF.
	c, a = ustreamPair(unix.SOCK_STREAM, "s2")
	uwrite(c, "unread")
	uwrite(a, "for c")
	unix.Close(a)
	p(pre+"peer_closed_unread_ready", readiness(c, unix.EPOLLHUP))
	p(pre+"peer_closed_unread_soerror", sockoptInt(c, unix.SOL_SOCKET, unix.SO_ERROR))
	p(pre+"peer_closed_unread_ready2", readiness(c, unix.EPOLLHUP))
	p(pre+"peer_closed_unread_read", uread(c, 8))
	p(pre+"peer_closed_unread_read2", uread(c, 8))
	p(pre+"peer_closed_unread_write", uwrite(c, "x"))
	p(pre+"peer_closed_peername", uname(unix.SYS_GETPEERNAME, c))
	unix.Close(c)
	c, a = ustreamPair(unix.SOCK_STREAM, "s3")
	uwrite(a, "bye")
	unix.Close(a)
	p(pre+"peer_closed_ready", readiness(c, unix.EPOLLHUP))
	p(pre+"peer_closed_read", uread(c, 8))
	p(pre+"peer_closed_read_eof", uread(c, 8))
	p(pre+"peer_closed_write", uwrite(c, "x"))
	p(pre+"peer_closed_soerror", sockoptInt(c, unix.SOL_SOCKET, unix.SO_ERROR))
	unix.Close(c)
	c, a = upair(unix.SOCK_STREAM)
	uwrite(c, "unread")
	unix.Close(c)
	p(pre+"pair_peer_closed_read", uread(a, 8))
	p(pre+"pair_peer_closed_read2", uread(a, 8))
	unix.Close(a)

	// Backpressure: a nonblocking writer fills the buffer, then waits
	// for the reader.
	c, a = upair(unix.SOCK_STREAM)
	setNonblock(c)
	setNonblock(a)
	chunk := make([]byte, 8192)
	total := 0
	for {
		n, err := unix.Write(c, chunk)
		if err != nil {
			p(pre+"fill_end", en(err))
			break
		}
		total += n
		if total > 64<<20 {
			p(pre+"fill_end", "never full")
			break
		}
	}
	p(pre+"fill_some", total > 64<<10)
	p(pre+"full_ready", readiness(c, 0))
	got := 0
	buf := make([]byte, 65536)
	for got < total {
		n, err := unix.Read(a, buf)
		if err != nil {
			break
		}
		got += n
	}
	p(pre+"drained", got == total)
	p(pre+"drained_ready", readiness(c, unix.EPOLLOUT))
	// Edge-triggered epoll: each write is a new event.
	ep := newEpoll(a, unix.EPOLLIN|unix.EPOLLET)
	uwrite(c, "1")
	m1, _ := epollWait(ep, 1000)
	m2, _ := epollWait(ep, 0)
	uwrite(c, "2")
	m3, _ := epollWait(ep, 1000)
	p(pre+"epoll_et", maskStr(m1)+" "+maskStr(m2)+" "+maskStr(m3))
	unix.Close(ep)
	unix.Close(c)
	unix.Close(a)
}

func unixDgrams() {
	pre := "unix.dgram."
	path := filepath.Join(udir, "d.sock")
	r := usock(unix.SOCK_DGRAM)
	must(ubind(r, path), "bind")
	s := usock(unix.SOCK_DGRAM)
	p(pre+"send_unconnected", uwrite(s, "x"))
	p(pre+"recv_unbound_empty", urecvfrom(r, 8, unix.MSG_DONTWAIT))
	p(pre+"ready_empty", readiness(r, 0))
	p(pre+"sendto_unbound", en(unix.Sendto(s, []byte("one"), 0, &unix.SockaddrUnix{Name: path})))
	p(pre+"sender_still_unbound", uname(unix.SYS_GETSOCKNAME, s))
	p(pre+"ready", readiness(r, unix.EPOLLIN))
	v, err := unix.IoctlGetInt(r, unix.SIOCINQ)
	p(pre+"fionread", fmt.Sprint(v, " ", en(err)))
	p(pre+"recvfrom_unbound", urecvfrom(r, 8, 0))
	p(pre+"sendto_missing", en(unix.Sendto(s, []byte("x"), 0, &unix.SockaddrUnix{Name: filepath.Join(udir, "none")})))
	p(pre+"sendto_regular", en(unix.Sendto(s, []byte("x"), 0, &unix.SockaddrUnix{Name: filepath.Join(udir, "regular")})))
	p(pre+"sendto_abstract_missing", en(unix.Sendto(s, []byte("x"), 0, &unix.SockaddrUnix{Name: uabs("none")})))
	sb := make([]byte, 10)
	p(pre+"sendto_len2", en(func() error {
		binary.NativeEndian.PutUint16(sb, unix.AF_UNIX)
		_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(s), uintptr(unsafe.Pointer(&sb[0])), 1, 0, uintptr(unsafe.Pointer(&sb[0])), 2)
		return errnoErr(e)
	}()))
	must(ubind(s, uabs("dsender")), "bind")
	uwrite2 := func(to int, msg string) string {
		err := unix.Sendto(s, []byte(msg), 0, &unix.SockaddrUnix{Name: path})
		return en(err)
	}
	uwrite2(r, "from bound")
	p(pre+"recvfrom_bound", urecvfrom(r, 16, 0))
	// Boundaries and truncation.
	uwrite2(r, "12345678")
	uwrite2(r, "ab")
	p(pre+"recv_truncated", urecvfrom(r, 4, 0))
	p(pre+"recv_next", urecvfrom(r, 4, 0))
	uwrite2(r, "12345678")
	p(pre+"recv_trunc_flag", urecvfrom(r, 4, unix.MSG_TRUNC))
	uwrite2(r, "12345678")
	buf := make([]byte, 4)
	n, _, rflags, _, err := unix.Recvmsg(r, buf, nil, 0)
	p(pre+"recvmsg_trunc", fmt.Sprint(n, " ", en(err), " flags=", rflags&unix.MSG_TRUNC != 0))
	uwrite2(r, "")
	p(pre+"recv_zero_length", urecvfrom(r, 4, unix.MSG_DONTWAIT))
	uwrite2(r, "peek")
	p(pre+"peek", urecvfrom(r, 8, unix.MSG_PEEK))
	p(pre+"after_peek", urecvfrom(r, 8, 0))
	p(pre+"emsgsize", en(unix.Sendto(s, make([]byte, 300000), 0, &unix.SockaddrUnix{Name: path})))
	// The receiver's queue holds max_dgram_qlen + 1 datagrams from a
	// sender it is not connected to.
	q := usock(unix.SOCK_DGRAM | unix.SOCK_NONBLOCK)
	sent := 0
	for i := 0; i < 20; i++ {
		if err := unix.Sendto(q, []byte("q"), 0, &unix.SockaddrUnix{Name: path}); err != nil {
			p(pre+"queue_full", fmt.Sprint(sent, " ", en(err)))
			break
		}
		sent++
	}
	must(unix.Connect(q, &unix.SockaddrUnix{Name: path}), "connect")
	p(pre+"queue_full_connected_ready", readiness(q, 0))
	unix.Recvfrom(r, buf, 0)
	p(pre+"queue_room_ready", readiness(q, unix.EPOLLOUT))
	for {
		if _, _, err := unix.Recvfrom(r, buf, unix.MSG_DONTWAIT); err != nil {
			break
		}
	}
	// connect: a default destination, and only its datagrams come in.
	p(pre+"connect", en(unix.Connect(s, &unix.SockaddrUnix{Name: path})))
	p(pre+"connected_peer", uname(unix.SYS_GETPEERNAME, s))
	p(pre+"send_connected", uwrite(s, "conn"))
	p(pre+"recv_connected", urecvfrom(r, 8, 0))
	must(unix.Connect(r, &unix.SockaddrUnix{Name: uabs("dsender")}), "connect")
	p(pre+"other_sender_eperm", en(unix.Sendto(q, []byte("x"), 0, &unix.SockaddrUnix{Name: path})))
	p(pre+"connect_to_connected_eperm", en(unix.Connect(q, &unix.SockaddrUnix{Name: path})))
	unspec := make([]byte, 16)
	p(pre+"connect_unspec", en(rawConnect(r, unspec, 16)))
	p(pre+"unspec_peer", uname(unix.SYS_GETPEERNAME, r))
	p(pre+"connect_short", en(rawConnect(r, unspec, 1)))
	unix.Close(q)
	// The peer closes: a send says ECONNREFUSED once, then ENOTCONN.
	unix.Close(r)
	p(pre+"peer_closed_ready", readiness(s, 0))
	p(pre+"peer_closed_send", uwrite(s, "x"))
	p(pre+"peer_closed_send2", uwrite(s, "x"))
	p(pre+"peer_closed_sendto_path", en(unix.Sendto(s, []byte("x"), 0, &unix.SockaddrUnix{Name: path})))
	unix.Close(s)
	// socketpair: the peer's close is no EOF for datagrams.
	a, b := upair(unix.SOCK_DGRAM)
	uwrite(a, "x")
	unix.Close(a)
	p(pre+"pair_closed_ready", readiness(b, 0))
	p(pre+"pair_closed_read", urecvfrom(b, 4, unix.MSG_DONTWAIT))
	p(pre+"pair_closed_read2", urecvfrom(b, 4, unix.MSG_DONTWAIT))
	unix.Close(b)
	a, b = upair(unix.SOCK_DGRAM)
	p(pre+"shut_rd", en(unix.Shutdown(b, unix.SHUT_RD)))
	p(pre+"shut_rd_ready", readiness(b, 0))
	p(pre+"shut_rd_read_nonblock", urecvfrom(b, 4, unix.MSG_DONTWAIT))
	p(pre+"shut_rd_peer_send", uwrite(a, "x"))
	p(pre+"shut_rd_read_after", urecvfrom(b, 4, unix.MSG_DONTWAIT))
	p(pre+"shut_wr", en(unix.Shutdown(a, unix.SHUT_WR)))
	p(pre+"shut_wr_send", uwrite(a, "x"))
	p(pre+"shut_wr_ready", readiness(a, 0))
	unix.Close(a)
	unix.Close(b)
	// SO_PASSCRED: an unbound sender is autobound, and credentials come.
	a = usock(unix.SOCK_DGRAM)
	must(ubind(a, uabs("creds")), "bind")
	must(unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_PASSCRED, 1), "passcred")
	b = usock(unix.SOCK_DGRAM)
	must(unix.SetsockoptInt(b, unix.SOL_SOCKET, unix.SO_PASSCRED, 1), "passcred")
	must(unix.Sendto(b, []byte("cred"), 0, &unix.SockaddrUnix{Name: uabs("creds")}), "sendto")
	p(pre+"passcred_autobind", uname(unix.SYS_GETSOCKNAME, b))
	oob := make([]byte, 64)
	n, oobn, rflags, from, err := unix.Recvmsg(a, buf, oob, 0)
	res := fmt.Sprint(n, " ", en(err), " oobn=", oobn, " flags=", rflags)
	if u, ok := from.(*unix.SockaddrUnix); ok {
		res += fmt.Sprintf(" from_len=%d", len(u.Name))
	}
	if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
		for _, m := range msgs {
			if c, err := unix.ParseUnixCredentials(&m); err == nil {
				res += fmt.Sprintf(" pid_ok=%v uid=%d gid=%d", int(c.Pid) == os.Getpid(), c.Uid, c.Gid)
			}
		}
	}
	p(pre+"passcred_recvmsg", res)
	// Explicit credentials.
	cred := unix.UnixCredentials(&unix.Ucred{Pid: int32(os.Getpid()), Uid: 0, Gid: 0})
	_, err = unix.SendmsgN(b, []byte("c2"), cred, &unix.SockaddrUnix{Name: uabs("creds")}, 0)
	p(pre+"scm_credentials", en(err))
	bad := unix.UnixCredentials(&unix.Ucred{Pid: 1 << 30, Uid: 0, Gid: 0})
	_, err = unix.SendmsgN(b, []byte("c3"), bad, &unix.SockaddrUnix{Name: uabs("creds")}, 0)
	p(pre+"scm_credentials_bad_pid", en(err))
	n, oobn, _, _, err = unix.Recvmsg(a, buf, oob, 0)
	p(pre+"scm_credentials_recv", fmt.Sprint(n, " ", en(err), " oobn=", oobn))
	small := make([]byte, 20)
	must(unix.Sendto(b, []byte("c4"), 0, &unix.SockaddrUnix{Name: uabs("creds")}), "sendto")
	n, oobn, rflags, _, err = unix.Recvmsg(a, buf, small, 0)
	p(pre+"passcred_ctrunc", fmt.Sprint(n, " ", en(err), " oobn=", oobn, " ctrunc=", rflags&unix.MSG_CTRUNC != 0))
	unix.Close(a)
	unix.Close(b)
}

func unixSeqpackets() {
	pre := "unix.seqpacket."
	u := usock(unix.SOCK_SEQPACKET)
	p(pre+"send_unconnected", uwrite(u, "x"))
	p(pre+"recv_unconnected", urecvfrom(u, 4, unix.MSG_DONTWAIT))
	p(pre+"unconnected_ready", readiness(u, 0))
	unix.Close(u)
	c, a := ustreamPair(unix.SOCK_SEQPACKET, "q1")
	p(pre+"write", uwrite(c, "12345678"))
	uwrite(c, "ab")
	p(pre+"read_truncated", uread(a, 4))
	p(pre+"read_next", uread(a, 8))
	uwrite(c, "12345678")
	p(pre+"recv_trunc_flag", urecvfrom(a, 4, unix.MSG_TRUNC))
	p(pre+"sendto_ignores_address", en(unix.Sendto(c, []byte("addr"), 0, &unix.SockaddrUnix{Name: "/nonexistent"})))
	p(pre+"recv_after_sendto", urecvfrom(a, 8, 0))
	uwrite(c, "")
	p(pre+"recv_zero_length", urecvfrom(a, 4, unix.MSG_DONTWAIT))
	p(pre+"recv_empty", urecvfrom(a, 4, unix.MSG_DONTWAIT))
	p(pre+"emsgsize", uwrite(c, string(make([]byte, 300000))))
	p(pre+"shut_wr", en(unix.Shutdown(c, unix.SHUT_WR)))
	p(pre+"shut_wr_peer_read", urecvfrom(a, 4, unix.MSG_DONTWAIT))
	p(pre+"shut_wr_write", uwrite(c, "x"))
	unix.Close(c)
	unix.Close(a)
	c, a = ustreamPair(unix.SOCK_SEQPACKET, "q2")
	uwrite(c, "unread")
	uwrite(a, "for c")
	unix.Close(a)
	p(pre+"peer_closed_unread_ready", readiness(c, unix.EPOLLHUP))
	p(pre+"peer_closed_unread_read", uread(c, 8))
	p(pre+"peer_closed_unread_read2", uread(c, 8))
	p(pre+"peer_closed_unread_read3", urecvfrom(c, 8, unix.MSG_DONTWAIT))
	p(pre+"peer_closed_write", uwrite(c, "x"))
	unix.Close(c)
	c, a = upair(unix.SOCK_SEQPACKET)
	unix.Close(a)
	p(pre+"pair_closed_write", uwrite(c, "x"))
	p(pre+"pair_closed_write2", uwrite(c, "x"))
	unix.Close(c)
}

// usendFds sends data with descriptors.
func usendFds(fd int, data string, fds ...int) error {
	return unix.Sendmsg(fd, []byte(data), unix.UnixRights(fds...), nil, 0)
}

func urecvFds(fd, oobSize, flags int) (string, []int) {
	buf := make([]byte, 16)
	oob := make([]byte, oobSize)
	n, oobn, rflags, _, err := unix.Recvmsg(fd, buf, oob, flags)
	if err != nil {
		return en(err), nil
	}
	res := fmt.Sprintf("%d %q oobn=%d ctrunc=%v cloexec_flag=%v", n, buf[:n], oobn, rflags&unix.MSG_CTRUNC != 0, rflags&unix.MSG_CMSG_CLOEXEC != 0)
	var got []int
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return res + " " + en(err), nil
	}
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			res += " " + en(err)
			continue
		}
		got = append(got, fds...)
	}
	res += fmt.Sprintf(" nfds=%d", len(got))
	for _, f := range got {
		fl, _ := unix.FcntlInt(uintptr(f), unix.F_GETFD, 0)
		res += fmt.Sprintf(" cloexec=%v", fl&unix.FD_CLOEXEC != 0)
	}
	return res, got
}

func unixRights() {
	pre := "unix.rights."
	for _, typ := range []struct {
		name string
		t    int
	}{{"stream", unix.SOCK_STREAM}, {"dgram", unix.SOCK_DGRAM}, {"seqpacket", unix.SOCK_SEQPACKET}} {
		pp := pre + typ.name + "."
		a, b := upair(typ.t)
		var pfd [2]int
		must(unix.Pipe2(pfd[:], unix.O_CLOEXEC), "pipe")
		p(pp+"send", en(usendFds(a, "fd", pfd[1])))
		unix.Close(pfd[1]) // the descriptor in flight keeps the pipe open
		res, got := urecvFds(b, 64, 0)
		p(pp+"recv", res)
		if len(got) == 1 {
			uwrite(got[0], "via passed fd")
			unix.Close(got[0])
			p(pp+"use", uread(pfd[0], 32))
			p(pp+"pipe_eof_after_close", uread(pfd[0], 32))
		}
		unix.Close(pfd[0])
		unix.Close(a)
		unix.Close(b)
	}
	a, b := upair(unix.SOCK_STREAM)
	var pfd [2]int
	must(unix.Pipe2(pfd[:], unix.O_CLOEXEC), "pipe")
	must(usendFds(a, "x", pfd[0]), "send")
	res, got := urecvFds(b, 64, unix.MSG_CMSG_CLOEXEC)
	p(pre+"cmsg_cloexec", res)
	for _, f := range got {
		unix.Close(f)
	}
	// Room for one of two descriptors: MSG_CTRUNC, the other is closed.
	must(usendFds(a, "y", pfd[0], pfd[1]), "send")
	res, got = urecvFds(b, unix.CmsgLen(4), 0)
	p(pre+"ctrunc", res)
	for _, f := range got {
		unix.Close(f)
	}
	must(usendFds(a, "z", pfd[0]), "send")
	res, _ = urecvFds(b, 0, 0)
	p(pre+"no_control_buffer", res)
	must(usendFds(a, "w", pfd[0]), "send")
	p(pre+"read_drops_fds", uread(b, 8))
	// Peek passes the descriptors too.
	must(usendFds(a, "pk", pfd[0]), "send")
	res, got = urecvFds(b, 64, unix.MSG_PEEK)
	p(pre+"peek", res)
	for _, f := range got {
		unix.Close(f)
	}
	res, got = urecvFds(b, 64, 0)
	p(pre+"after_peek", res)
	for _, f := range got {
		unix.Close(f)
	}
	// A stream read stops after the data that carried descriptors.
	uwrite(a, "12")
	must(usendFds(a, "34", pfd[0]), "send")
	uwrite(a, "56")
	res, got = urecvFds(b, 64, 0)
	p(pre+"stream_stops_at_fds", res)
	for _, f := range got {
		unix.Close(f)
	}
	p(pre+"stream_rest", uread(b, 8))
	// Errors.
	p(pre+"bad_fd", en(usendFds(a, "b", 9999)))
	p(pre+"negative_fd", en(usendFds(a, "b", -1)))
	many := make([]int, 254)
	for i := range many {
		many[i] = pfd[0]
	}
	p(pre+"too_many", en(usendFds(a, "m", many...)))
	p(pre+"max", en(usendFds(a, "m", many[:253]...)))
	res, got = urecvFds(b, unix.CmsgSpace(4*253), 0)
	p(pre+"max_recv", strings.Fields(res)[0]+" nfds="+fmt.Sprint(len(got)))
	for _, f := range got {
		unix.Close(f)
	}
	h := make([]byte, unix.CmsgSpace(4))
	ch := (*unix.Cmsghdr)(unsafe.Pointer(&h[0]))
	ch.Level, ch.Type = unix.SOL_SOCKET, 99
	ch.SetLen(unix.CmsgLen(4))
	p(pre+"unknown_type", en(unix.Sendmsg(a, []byte("u"), h, nil, 0)))
	ch.Level = unix.IPPROTO_IP
	p(pre+"other_level_ignored", en(unix.Sendmsg(a, []byte("u"), h, nil, 0)))
	uread(b, 8)
	ch.Level, ch.Type = unix.SOL_SOCKET, unix.SCM_RIGHTS
	ch.SetLen(unix.CmsgLen(4) + 64)
	p(pre+"cmsg_len_too_long", en(unix.Sendmsg(a, []byte("u"), h, nil, 0)))
	ch.SetLen(8)
	p(pre+"cmsg_len_too_short", en(unix.Sendmsg(a, []byte("u"), h, nil, 0)))
	// A socket passed over a socket.
	c, d := upair(unix.SOCK_STREAM)
	must(usendFds(a, "s", c), "send")
	unix.Close(c)
	res, got = urecvFds(b, 64, 0)
	p(pre+"socket", res)
	if len(got) == 1 {
		p(pre+"socket_type", sockoptInt(got[0], unix.SOL_SOCKET, unix.SO_TYPE))
		uwrite(got[0], "through")
		p(pre+"socket_use", uread(d, 16))
		unix.Close(got[0])
		p(pre+"socket_peer_eof", uread(d, 16))
	}
	unix.Close(d)
	// Descriptors in flight are closed with the receiving socket.
	must(usendFds(a, "lost", pfd[1]), "send")
	unix.Close(pfd[1])
	unix.Close(b)
	p(pre+"closed_in_flight", uread(pfd[0], 8))
	unix.Close(pfd[0])
	unix.Close(a)
	// recvmsg leaves msg_namelen alone without a name buffer.
	a, b = upair(unix.SOCK_DGRAM)
	uwrite(a, "n")
	var msg unix.Msghdr
	var iov unix.Iovec
	rb := make([]byte, 4)
	iov.Base = &rb[0]
	iov.SetLen(4)
	msg.Iov = &iov
	msg.SetIovlen(1)
	msg.Namelen = 77
	_, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(b), uintptr(unsafe.Pointer(&msg)), 0)
	p(pre+"recvmsg_namelen_untouched", fmt.Sprint(en(errnoErr(e)), " namelen=", msg.Namelen, " controllen=", msg.Controllen))
	unix.Close(a)
	unix.Close(b)
}

func unixOptions() {
	pre := "unix.opt."
	a, b := upair(unix.SOCK_STREAM)
	u := usock(unix.SOCK_STREAM)
	cred := func(fd int) string {
		c, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
		if err != nil {
			return en(err)
		}
		return fmt.Sprintf("pid_ok=%v pid0=%v uid=%d gid=%d", int(c.Pid) == os.Getpid(), c.Pid == 0, int32(c.Uid), int32(c.Gid))
	}
	p(pre+"peercred_pair", cred(a))
	p(pre+"peercred_unconnected", cred(u))
	c, s := ustreamPair(unix.SOCK_STREAM, "o1")
	p(pre+"peercred_connected", cred(c))
	p(pre+"peercred_accepted", cred(s))
	unix.Close(c)
	unix.Close(s)
	l := usock(unix.SOCK_STREAM)
	must(ubind(l, uabs("o2")), "bind")
	must(unix.Listen(l, 1), "listen")
	p(pre+"peercred_listener", cred(l))
	unix.Close(l)
	for _, o := range []struct {
		name string
		opt  int
	}{{"sndbuf", unix.SO_SNDBUF}, {"rcvbuf", unix.SO_RCVBUF}, {"error", unix.SO_ERROR}, {"acceptconn", unix.SO_ACCEPTCONN},
		{"passcred", unix.SO_PASSCRED}, {"keepalive", unix.SO_KEEPALIVE}, {"reuseaddr", unix.SO_REUSEADDR}, {"rcvlowat", unix.SO_RCVLOWAT}} {
		p(pre+o.name, sockoptInt(u, unix.SOL_SOCKET, o.opt))
	}
	set := func(n string, opt, v int) {
		err := unix.SetsockoptInt(u, unix.SOL_SOCKET, opt, v)
		p(pre+"set_"+n, en(err)+" "+sockoptInt(u, unix.SOL_SOCKET, opt))
	}
	set("sndbuf", unix.SO_SNDBUF, 8192)
	set("sndbuf_small", unix.SO_SNDBUF, 1)
	set("rcvbuf", unix.SO_RCVBUF, 8192)
	set("rcvbuf_small", unix.SO_RCVBUF, 1)
	set("passcred", unix.SO_PASSCRED, 1)
	set("keepalive", unix.SO_KEEPALIVE, 1)
	p(pre+"set_short", en(unix.SetsockoptString(u, unix.SOL_SOCKET, unix.SO_SNDBUF, "ab")))
	p(pre+"set_unknown", en(unix.SetsockoptInt(u, unix.SOL_SOCKET, 9999, 1)))
	p(pre+"get_unknown", sockoptInt(u, unix.SOL_SOCKET, 9999))
	p(pre+"set_tcp_nodelay", en(unix.SetsockoptInt(u, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)))
	p(pre+"get_tcp_nodelay", sockoptInt(u, unix.IPPROTO_TCP, unix.TCP_NODELAY))
	p(pre+"get_ip_ttl", sockoptInt(u, unix.IPPROTO_IP, unix.IP_TTL))
	var tv unix.Timeval
	tv.Sec = 1
	p(pre+"set_rcvtimeo", en(unix.SetsockoptTimeval(u, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)))
	got, err := unix.GetsockoptTimeval(u, unix.SOL_SOCKET, unix.SO_RCVTIMEO)
	p(pre+"get_rcvtimeo", fmt.Sprint(en(err), " ", got.Sec, " ", got.Usec))
	// A receive timeout ends a blocking read.
	tv.Sec, tv.Usec = 0, 50000
	must(unix.SetsockoptTimeval(b, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv), "rcvtimeo")
	p(pre+"rcvtimeo_read", uread(b, 4))
	// ioctl: FIONREAD on a listener, an unknown request.
	l = usock(unix.SOCK_STREAM)
	must(ubind(l, uabs("o3")), "bind")
	must(unix.Listen(l, 1), "listen")
	_, err = unix.IoctlGetInt(l, unix.SIOCINQ)
	p(pre+"fionread_listener", en(err))
	_, err = unix.IoctlGetInt(a, unix.TIOCGWINSZ)
	p(pre+"ioctl_unknown", en(err))
	unix.Close(l)
	unix.Close(u)
	unix.Close(a)
	unix.Close(b)
}
