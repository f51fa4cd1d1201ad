package kernel

import (
	"syscall"
	"unsafe"
)

// Files: a file descriptor table over open file descriptions of a few kinds,
// and a small read-only tree of well-known paths (/dev/null, /dev/urandom,
// /etc/hostname, ...). Anything else answers as Linux does when the file is
// missing (ENOENT) or the file system is read-only (EROFS).

const (
	maxFds   = 4096
	maxFiles = 4096
)

const (
	fkFree = iota
	fkConsole
	fkNull
	fkZero
	fkRandom
	fkStatic
	fkDir
	fkEventfd
	fkEpoll
	fkNetdev // the virtio-net device (virtionet.go)
	fkSock   // a socket served by the guest network stack: readiness only
	fkPipeR  // pipe.go
	fkPipeW
)

type file struct {
	kind    int32
	flags   int32 // open status flags and access mode
	refs    int32
	node    int32
	off     int64
	count   uint64 // eventfd counter
	efdSem  int32
	console int32  // 0 stdin, 1 stdout, 2 stderr
	ep      int32  // epoll instance index
	ready   uint32 // fkSock: EPOLL* readiness set by abi.SysSockReady
	pipe    int32  // fkPipeR, fkPipeW: index in pipes
	_       int32
}

var (
	files     [maxFiles]file
	fdTable   [maxFds]int32 // file index + 1; 0 = free
	fdCloexec [maxFds]bool
	cwdNode   int32
)

const (
	oAccmode   = 3
	oRdonly    = 0
	oWronly    = 1
	oRdwr      = 2
	oCreat     = 0x40
	oExcl      = 0x80
	oTrunc     = 0x200
	oAppend    = 0x400
	oNonblock  = 0x800
	oDirectory = 0x10000
	oCloexec   = 0x80000
	oPath      = 0x200000

	atFdcwd     = -100
	atEmptyPath = 0x1000
)

// Nodes of the static tree.
const (
	ndDir = iota
	ndNull
	ndZero
	ndRandom
	ndHostname
	ndText
	ndGenerated // text built at boot (netconf.go)
)

type node struct {
	name   string
	parent int32
	kind   int32
	text   string
}

var nodes = [...]node{
	{name: "/", parent: 0, kind: ndDir},
	{name: "dev", parent: 0, kind: ndDir},
	{name: "null", parent: 1, kind: ndNull},
	{name: "zero", parent: 1, kind: ndZero},
	{name: "random", parent: 1, kind: ndRandom},
	{name: "urandom", parent: 1, kind: ndRandom},
	{name: "etc", parent: 0, kind: ndDir},
	{name: "hostname", parent: 6, kind: ndHostname},
	{name: "hosts", parent: 6, kind: ndGenerated},
	{name: "resolv.conf", parent: 6, kind: ndGenerated},
	{name: "proc", parent: 0, kind: ndDir},
	{name: "sys", parent: 0, kind: ndDir},
	{name: "tmp", parent: 0, kind: ndDir},
}

var (
	hostname    [65]byte
	hostnameLen int
	hostnameTxt [66]byte // hostname + "\n"
)

func fdGet(fd int) *file {
	if fd < 0 || fd >= maxFds || fdTable[fd] == 0 {
		return nil
	}
	return &files[fdTable[fd]-1]
}

func allocFile(kind int32, flags int32) int32 {
	for i := range files {
		if files[i].refs == 0 {
			files[i] = file{kind: kind, flags: flags, refs: 1}
			return int32(i)
		}
	}
	return -1
}

// installFd puts file index fi at the lowest free fd >= min.
func installFd(fi int32, min int, cloexec bool) int64 {
	for fd := min; fd < maxFds; fd++ {
		if fdTable[fd] == 0 {
			fdTable[fd] = fi + 1
			fdCloexec[fd] = cloexec
			return int64(fd)
		}
	}
	return -eMFILE
}

func releaseFile(fi int32) {
	f := &files[fi]
	f.refs--
	if f.refs == 0 {
		if f.kind == fkEpoll {
			epollFree(f.ep)
		}
		if f.kind == fkNetdev {
			netClosed()
		}
		if f.kind == fkPipeR || f.kind == fkPipeW {
			pipeRelease(f)
		}
		f.kind = fkFree
	}
}

func filesInit() {
	for fd := int32(0); fd < 3; fd++ {
		fi := allocFile(fkConsole, oRdwr)
		files[fi].console = fd
		fdTable[fd] = fi + 1
	}
	hostnameTxt[hostnameLen] = '\n'
	netconfInit()
}

func sysClose(fd uint64) int64 {
	if fdGet(int(int32(fd))) == nil {
		return -eBADF
	}
	fi := fdTable[fd] - 1
	fdTable[fd] = 0
	epollForget(int32(fd), fi)
	releaseFile(fi)
	return 0
}

// userPath copies a NUL-terminated path into buf; it returns its length or
// a negative errno.
func userPath(p uint64, buf *[4096]byte) int64 {
	for i := uint64(0); i < uint64(len(buf)); i++ {
		if (p+i)&(pageSize-1) == 0 || i == 0 {
			if !userOK(p+i, 1, false) {
				return -eFAULT
			}
		}
		c := *(*byte)(unsafe.Pointer(uintptr(p + i)))
		if c == 0 {
			return int64(i)
		}
		buf[i] = c
	}
	return -eNAMETOOLONG
}

// lookup resolves path relative to dir; it returns the node or -errno.
func lookup(dir int32, path []byte) int64 {
	n := dir
	if len(path) > 0 && path[0] == '/' {
		n = 0
	}
	for len(path) > 0 {
		for len(path) > 0 && path[0] == '/' {
			path = path[1:]
		}
		i := 0
		for i < len(path) && path[i] != '/' {
			i++
		}
		comp := path[:i]
		path = path[i:]
		if len(comp) == 0 || (len(comp) == 1 && comp[0] == '.') {
			continue
		}
		if nodes[n].kind != ndDir {
			return -eNOTDIR
		}
		if len(comp) == 2 && comp[0] == '.' && comp[1] == '.' {
			n = nodes[n].parent
			continue
		}
		found := int32(-1)
		for j := range nodes {
			if j != 0 && nodes[j].parent == n && nodes[j].name == string(comp) {
				found = int32(j)
				break
			}
		}
		if found < 0 {
			return -eNOENT
		}
		n = found
	}
	return int64(n)
}

func dirNode(dirfd uint64) int64 {
	if int32(dirfd) == atFdcwd {
		return int64(cwdNode)
	}
	f := fdGet(int(int32(dirfd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkDir {
		return -eNOTDIR
	}
	return int64(f.node)
}

var pathBuf [4096]byte

func resolve(dirfd, path uint64) int64 {
	n := userPath(path, &pathBuf)
	if n < 0 {
		return n
	}
	if n == 0 {
		return -eNOENT
	}
	d := int64(0)
	if pathBuf[0] != '/' {
		d = dirNode(dirfd)
		if d < 0 {
			return d
		}
	}
	return lookup(int32(d), pathBuf[:n])
}

func sysOpenat(dirfd, path, flags, mode uint64) int64 {
	nd := resolve(dirfd, path)
	acc := flags & oAccmode
	if nd < 0 {
		if nd == -eNOENT && flags&oCreat != 0 {
			return -eROFS
		}
		return nd
	}
	if flags&(oCreat|oExcl) == oCreat|oExcl {
		return -eEXIST
	}
	nk := nodes[nd].kind
	if flags&oDirectory != 0 && nk != ndDir {
		return -eNOTDIR
	}
	var kind int32
	switch nk {
	case ndDir:
		if acc != oRdonly && flags&oPath == 0 {
			return -eISDIR
		}
		kind = fkDir
	case ndNull:
		kind = fkNull
	case ndZero:
		kind = fkZero
	case ndRandom:
		kind = fkRandom
	default:
		if acc != oRdonly || flags&oTrunc != 0 {
			return -eROFS
		}
		kind = fkStatic
	}
	fi := allocFile(kind, int32(flags&^(oCreat|oExcl|oTrunc|oCloexec)))
	if fi < 0 {
		return -eMFILE
	}
	files[fi].node = int32(nd)
	fd := installFd(fi, 0, flags&oCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
}

func nodeText(nd int32) string {
	switch nodes[nd].kind {
	case ndHostname:
		return unsafe.String(&hostnameTxt[0], hostnameLen+1)
	case ndText:
		return nodes[nd].text
	case ndGenerated:
		return generatedText(nodes[nd].name)
	}
	return ""
}

func canRead(f *file) bool  { return f.flags&oAccmode != oWronly && f.flags&oPath == 0 }
func canWrite(f *file) bool { return f.flags&oAccmode != oRdonly && f.flags&oPath == 0 }

// fileRead reads into user memory [p, p+n), validated by the caller.
func fileRead(f *file, p, n uint64, off int64, usePos bool) int64 {
	if !canRead(f) {
		return -eBADF
	}
	switch f.kind {
	case fkConsole:
		if f.console != 0 {
			return 0
		}
		return consoleRead(p, n, f.flags&oNonblock != 0)
	case fkNull:
		return 0
	case fkZero:
		clear(userBytes(p, n))
		return int64(n)
	case fkRandom:
		randomFill(p, n)
		return int64(n)
	case fkStatic:
		txt := nodeText(f.node)
		pos := f.off
		if usePos {
			pos = off
		}
		if pos >= int64(len(txt)) {
			return 0
		}
		c := copy(userBytes(p, n), txt[pos:])
		if !usePos {
			f.off += int64(c)
		}
		return int64(c)
	case fkDir:
		return -eISDIR
	case fkEventfd:
		return eventfdRead(f, p, n)
	case fkNetdev:
		return netRead(f, p, n)
	case fkPipeR:
		return pipeRead(f, p, n)
	case fkSock:
		return -eNOTSOCK // sockets are served above the kernel
	}
	return -eINVAL
}

func fileWrite(f *file, p, n uint64) int64 {
	if !canWrite(f) {
		return -eBADF
	}
	switch f.kind {
	case fkConsole:
		if f.console == 0 {
			return -eBADF
		}
		return consoleWrite(int(f.console), p, n)
	case fkNull, fkZero, fkRandom:
		return int64(n)
	case fkEventfd:
		return eventfdWrite(f, p, n)
	case fkNetdev:
		return netWrite(f, 0, 0, p, n)
	case fkPipeW:
		return pipeWrite(f, p, n)
	case fkSock:
		return -eNOTSOCK
	}
	return -eINVAL
}

func sysRead(fd, p, n uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if !userOK(p, n, true) {
		return -eFAULT
	}
	return fileRead(f, p, n, 0, false)
}

func sysWrite(fd, p, n uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if !userOK(p, n, false) {
		return -eFAULT
	}
	return fileWrite(f, p, n)
}

func sysPread(fd, p, n, off uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkStatic && f.kind != fkZero && f.kind != fkNull {
		return -eSPIPE
	}
	if int64(off) < 0 {
		return -eINVAL
	}
	if !userOK(p, n, true) {
		return -eFAULT
	}
	return fileRead(f, p, n, int64(off), true)
}

// sysRWv implements readv/writev.
func sysRWv(fd, iov, cnt uint64, write bool) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if cnt > 1024 {
		return -eINVAL
	}
	if !userOK(iov, cnt*16, false) {
		return -eFAULT
	}
	if f.kind == fkNetdev && write {
		// One frame gathered from every buffer.
		for i := uint64(0); i < cnt; i++ {
			if !userOK(*userU64(iov + i*16), *userU64(iov + i*16 + 8), false) {
				return -eFAULT
			}
		}
		return netWrite(f, iov, cnt, 0, 0)
	}
	var total int64
	for i := uint64(0); i < cnt; i++ {
		base, l := *userU64(iov + i*16), *userU64(iov + i*16 + 8)
		if l == 0 {
			continue
		}
		if !userOK(base, l, !write) {
			if total > 0 {
				return total
			}
			return -eFAULT
		}
		var r int64
		if write {
			r = fileWrite(f, base, l)
		} else {
			r = fileRead(f, base, l, 0, false)
		}
		if r < 0 {
			if total > 0 {
				return total
			}
			return r
		}
		total += r
		if uint64(r) < l {
			break
		}
	}
	return total
}

func sysLseek(fd, off, whence uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	var size int64
	switch f.kind {
	case fkStatic:
		size = int64(len(nodeText(f.node)))
	case fkDir, fkNull, fkZero:
	default:
		return -eSPIPE
	}
	var n int64
	switch whence {
	case 0:
		n = int64(off)
	case 1:
		n = f.off + int64(off)
	case 2:
		n = size + int64(off)
	default:
		return -eINVAL
	}
	if n < 0 {
		return -eINVAL
	}
	f.off = n
	return n
}

func fillStat(st *syscall.Stat_t, f *file, nd int32) {
	*st = syscall.Stat_t{}
	st.Dev = 0x2a
	st.Ino = uint64(nd) + 2
	st.Nlink = 1
	st.Blksize = pageSize
	st.Atim.Sec = int64(wallBase / 1e9)
	st.Mtim = st.Atim
	st.Ctim = st.Atim
	kind := int32(-1)
	if f != nil {
		kind = f.kind
	}
	if nd >= 0 {
		switch nodes[nd].kind {
		case ndDir:
			st.Mode = syscall.S_IFDIR | 0o755
			st.Nlink = 2
			return
		case ndNull:
			st.Mode, st.Rdev = syscall.S_IFCHR|0o666, 1<<8|3
			return
		case ndZero:
			st.Mode, st.Rdev = syscall.S_IFCHR|0o666, 1<<8|5
			return
		case ndRandom:
			st.Mode, st.Rdev = syscall.S_IFCHR|0o666, 1<<8|9
			return
		default:
			st.Mode = syscall.S_IFREG | 0o444
			st.Size = int64(len(nodeText(nd)))
			st.Blocks = (st.Size + 511) / 512
			return
		}
	}
	switch kind {
	case fkConsole:
		st.Mode, st.Rdev = syscall.S_IFCHR|0o620, 136<<8
		st.Ino = 1
	case fkSock:
		st.Mode = syscall.S_IFSOCK | 0o777
		st.Ino = 2000 + uint64(fileIndex(f))
	case fkPipeR, fkPipeW:
		st.Mode = syscall.S_IFIFO | 0o600
		st.Ino = 10000 + uint64(f.pipe)
	default:
		st.Mode = 0o600
		st.Ino = 1000
	}
}

func sysFstat(fd, buf uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if !userOK(buf, uint64(unsafe.Sizeof(syscall.Stat_t{})), true) {
		return -eFAULT
	}
	nd := int32(-1)
	if f.kind == fkStatic || f.kind == fkDir || f.kind == fkNull || f.kind == fkZero || f.kind == fkRandom {
		nd = f.node
	}
	fillStat((*syscall.Stat_t)(unsafe.Pointer(uintptr(buf))), f, nd)
	return 0
}

func sysNewfstatat(dirfd, path, buf, flags uint64) int64 {
	if flags&atEmptyPath != 0 {
		n := userPath(path, &pathBuf)
		if n == 0 {
			if int32(dirfd) == atFdcwd {
				return sysStatNode(int64(cwdNode), buf)
			}
			return sysFstat(dirfd, buf)
		}
	}
	nd := resolve(dirfd, path)
	if nd < 0 {
		return nd
	}
	return sysStatNode(nd, buf)
}

func sysStatNode(nd int64, buf uint64) int64 {
	if !userOK(buf, uint64(unsafe.Sizeof(syscall.Stat_t{})), true) {
		return -eFAULT
	}
	fillStat((*syscall.Stat_t)(unsafe.Pointer(uintptr(buf))), nil, int32(nd))
	return 0
}

func sysFaccessat(dirfd, path, mode uint64) int64 {
	nd := resolve(dirfd, path)
	if nd < 0 {
		return nd
	}
	if mode&2 != 0 { // W_OK
		switch nodes[nd].kind {
		case ndNull, ndZero, ndRandom:
		default:
			return -eROFS
		}
	}
	if mode&1 != 0 && nodes[nd].kind != ndDir { // X_OK
		return -eACCES
	}
	return 0
}

func sysGetdents64(fd, buf, n uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkDir {
		return -eNOTDIR
	}
	if !userOK(buf, n, true) {
		return -eFAULT
	}
	var written uint64
	full := false
	// f.off counts entries returned so far: ".", "..", then children.
	idx := int64(0)
	emit := func(ino uint64, typ byte, name string) bool {
		if idx < f.off {
			idx++
			return true
		}
		reclen := (19 + uint64(len(name)) + 1 + 7) &^ 7
		if written+reclen > n {
			full = true
			return false
		}
		p := buf + written
		clear(userBytes(p, reclen))
		*userU64(p) = ino
		*userU64(p + 8) = uint64(idx + 1)
		*(*uint16)(unsafe.Pointer(uintptr(p + 16))) = uint16(reclen)
		*(*byte)(unsafe.Pointer(uintptr(p + 18))) = typ
		copy(userBytes(p+19, uint64(len(name))), name)
		written += reclen
		idx++
		f.off = idx
		return true
	}
	const dtDir, dtChr, dtReg = 4, 2, 8
	if !emit(uint64(f.node)+2, dtDir, ".") || !emit(uint64(nodes[f.node].parent)+2, dtDir, "..") {
		goto out
	}
	for j := 1; j < len(nodes); j++ {
		if nodes[j].parent != f.node {
			continue
		}
		typ := byte(dtReg)
		switch nodes[j].kind {
		case ndDir:
			typ = dtDir
		case ndNull, ndZero, ndRandom:
			typ = dtChr
		}
		if !emit(uint64(j)+2, typ, nodes[j].name) {
			break
		}
	}
out:
	if written == 0 && full {
		return -eINVAL
	}
	return int64(written)
}

const (
	fDupfd        = 0
	fGetfd        = 1
	fSetfd        = 2
	fGetfl        = 3
	fSetfl        = 4
	fDupfdCloexec = 1030
)

func sysFcntl(fd, cmd, arg uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	switch cmd {
	case fDupfd, fDupfdCloexec:
		if arg >= maxFds {
			return -eINVAL
		}
		fi := fdTable[fd] - 1
		r := installFd(fi, int(arg), cmd == fDupfdCloexec)
		if r >= 0 {
			f.refs++
		}
		return r
	case fGetfd:
		if fdCloexec[fd] {
			return 1
		}
		return 0
	case fSetfd:
		fdCloexec[fd] = arg&1 != 0
		return 0
	case fGetfl:
		return int64(f.flags &^ oPath)
	case fSetfl:
		const settable = oAppend | oNonblock | 0x2000 | 0x40000 | 0x4000 // O_ASYNC O_NOATIME O_DIRECT
		f.flags = f.flags&^settable | int32(arg)&settable
		return 0
	}
	return -eINVAL
}

func sysDup3(oldfd, newfd, flags uint64, dup2 bool) int64 {
	f := fdGet(int(int32(oldfd)))
	if f == nil {
		return -eBADF
	}
	if newfd >= maxFds {
		return -eBADF
	}
	if oldfd == newfd {
		if dup2 {
			return int64(newfd)
		}
		return -eINVAL
	}
	if flags&^oCloexec != 0 {
		return -eINVAL
	}
	if fdTable[newfd] != 0 {
		sysClose(newfd)
	}
	fdTable[newfd] = fdTable[oldfd]
	fdCloexec[newfd] = flags&oCloexec != 0
	f.refs++
	return int64(newfd)
}

func sysDup(fd uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	r := installFd(fdTable[fd]-1, 0, false)
	if r >= 0 {
		f.refs++
	}
	return r
}

func sysIoctl(fd, req, arg uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	switch req {
	case 0x5421: // FIONBIO
		if !userOK(arg, 4, false) {
			return -eFAULT
		}
		if *userU32(arg) != 0 {
			f.flags |= oNonblock
		} else {
			f.flags &^= oNonblock
		}
		return 0
	case 0x5451: // FIOCLEX
		fdCloexec[fd] = true
		return 0
	case 0x5450: // FIONCLEX
		fdCloexec[fd] = false
		return 0
	}
	return -eNOTTY
}

func sysGetcwd(buf, size uint64) int64 {
	// Build the path of cwdNode backwards.
	var tmp [256]byte
	i := len(tmp)
	for n := cwdNode; n != 0; n = nodes[n].parent {
		name := nodes[n].name
		i -= len(name)
		copy(tmp[i:], name)
		i--
		tmp[i] = '/'
	}
	if i == len(tmp) {
		i--
		tmp[i] = '/'
	}
	l := uint64(len(tmp) - i + 1)
	if size < l {
		return -eRANGE
	}
	if !userOK(buf, l, true) {
		return -eFAULT
	}
	copy(userBytes(buf, l), tmp[i:])
	*(*byte)(unsafe.Pointer(uintptr(buf + l - 1))) = 0
	return int64(l)
}

func sysChdir(path uint64) int64 {
	nd := resolve(^uint64(99), path) // AT_FDCWD
	if nd < 0 {
		return nd
	}
	if nodes[nd].kind != ndDir {
		return -eNOTDIR
	}
	cwdNode = int32(nd)
	return 0
}

func sysFchdir(fd uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkDir {
		return -eNOTDIR
	}
	cwdNode = f.node
	return 0
}

// sysPathWrite answers the path-modifying calls (mkdir, unlink, rename, ...)
// on this read-only tree.
func sysPathWrite(dirfd, path uint64) int64 {
	nd := resolve(dirfd, path)
	if nd == -eNOENT || nd >= 0 {
		return -eROFS
	}
	return nd
}

func sysReadlinkat(dirfd, path uint64) int64 {
	nd := resolve(dirfd, path)
	if nd < 0 {
		return nd
	}
	return -eINVAL // nothing in the tree is a symbolic link
}
