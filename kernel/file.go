package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Files: a file descriptor table over open file descriptions of a few
// kinds. Files of the tree (vfs.go) are fkFile, fkDir and the devices; the
// path system calls are in fsys.go.

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
	fkFile // a regular file (or, with O_PATH, a symbolic link) of the tree
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
	node    int32  // the inode of files of the tree, else 0
	off     int64  // position; fkDir: cookie of the last entry read
	count   uint64 // eventfd counter
	efdSem  int32
	console int32  // 0 stdin, 1 stdout, 2 stderr
	ep      int32  // epoll instance index
	ready   uint32 // fkSock: EPOLL* readiness set by abi.SysSockReady
	pipe    int32  // fkPipeR, fkPipeW: index in pipes
	fid     uint32 // a volume's file opened for I/O: its open fid (ninefs.go)
}

var (
	files     [maxFiles]file
	fdTable   [maxFds]int32 // file index + 1; 0 = free
	fdCloexec [maxFds]bool
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
	oNofollow  = 0x20000
	oCloexec   = 0x80000
	oPath      = 0x200000
	oTmpfile   = 0x410000

	atFdcwd           = -100
	atSymlinkNofollow = 0x100
	atRemovedir       = 0x200
	atSymlinkFollow   = 0x400
	atEmptyPath       = 0x1000
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
		if f.fid != 0 {
			devOf(ind(f.node)).clunk(f.fid)
			f.fid = 0
		}
		if f.node != 0 {
			ind(f.node).opens--
			putInode(f.node)
		}
		f.kind = fkFree
	}
}

// consoleTTY has bit fd set if the console's descriptor fd is a terminal
// on the host (abi.BootFlagTTY).
var consoleTTY uint64

func filesInit(b *abi.BootInfo) {
	consoleTTY = b.Flags / abi.BootFlagTTY & 7
	treeInit(b)
	for fd := int32(0); fd < 3; fd++ {
		fi := allocFile(fkConsole, oRdwr)
		files[fi].console = fd
		fdTable[fd] = fi + 1
	}
	netconfInit()
}

func sysClose(fd uint64) int64 {
	if fdGet(int(int32(fd))) == nil {
		return -eBADF
	}
	fi := fdTable[fd] - 1
	if files[fi].kind == fkSock {
		sockMark(int64(fd), false)
	}
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

// Access mode 3 (O_ACCMODE) asks for read and write permission at open but
// gives a descriptor that does neither (on Linux, for ioctls only).
func canRead(f *file) bool {
	acc := f.flags & oAccmode
	return acc != oWronly && acc != oAccmode && f.flags&oPath == 0
}

func canWrite(f *file) bool {
	acc := f.flags & oAccmode
	return acc != oRdonly && acc != oAccmode && f.flags&oPath == 0
}

// fileRead reads into user memory [p, p+n), validated by the caller, at
// the file's position or, with usePos, at off.
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
	case fkFile:
		pos := f.off
		if usePos {
			pos = off
		}
		var r int64
		if f.fid != 0 {
			r = rRead(f, p, n, pos)
		} else {
			r = inodeRead(f.node, p, n, pos)
		}
		if r > 0 && !usePos {
			f.off += r
		}
		return r
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

// fileWrite writes user memory [p, p+n), validated by the caller, at the
// file's position (the end with O_APPEND) or, with usePos, at off.
func fileWrite(f *file, p, n uint64, off int64, usePos bool) int64 {
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
	case fkFile:
		nd := ind(f.node)
		if f.fid != 0 {
			pos := f.off
			if usePos {
				pos = off
			}
			return rWrite(f, p, n, pos, usePos)
		}
		if nd.kind != ndReg {
			return -eBADF
		}
		pos := f.off
		if usePos {
			pos = off
		}
		if f.flags&oAppend != 0 {
			pos = nd.size // pwrite too, as Linux does (pwrite(2), BUGS)
		}
		r := tmpWrite(nd, p, n, pos)
		if r > 0 && !usePos {
			f.off = pos + r
		}
		return r
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
	return fileWrite(f, p, n, 0, false)
}

// sysPRW implements pread64 and pwrite64.
func sysPRW(fd, p, n, off uint64, write bool) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	switch f.kind {
	case fkFile, fkNull, fkZero:
	case fkDir:
		if !write {
			return -eISDIR
		}
		return -eBADF
	default:
		return -eSPIPE
	}
	if int64(off) < 0 {
		return -eINVAL
	}
	if !userOK(p, n, !write) {
		return -eFAULT
	}
	if write {
		return fileWrite(f, p, n, int64(off), true)
	}
	return fileRead(f, p, n, int64(off), true)
}

// sysRWv implements readv/writev and, with usePos, preadv/pwritev at off.
func sysRWv(fd, iov, cnt uint64, write bool, off int64, usePos bool) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if usePos {
		if f.kind != fkFile && f.kind != fkNull && f.kind != fkZero {
			return -eSPIPE
		}
		if off < 0 {
			return -eINVAL
		}
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
			r = fileWrite(f, base, l, off+total, usePos)
		} else {
			r = fileRead(f, base, l, off+total, usePos)
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
			sockDup(f, r)
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
	case fGetlk, fSetlk, fSetlkw, fOFDGetlk, fOFDSetlk, fOFDSetlkw:
		return recordLock(f, cmd, arg)
	}
	if debugSyscalls {
		kprint("mote: unimplemented fcntl command ")
		kprintNum(int64(cmd))
		kprint(" (EINVAL)\n")
	}
	return -eINVAL
}

// fcntl's record locks.
const (
	fGetlk     = 5
	fSetlk     = 6
	fSetlkw    = 7
	fOFDGetlk  = 36
	fOFDSetlk  = 37
	fOFDSetlkw = 38

	fRdlck = 0
	fWrlck = 1
	fUnlck = 2
)

// recordLock implements fcntl's record locks (struct flock at arg). The
// guest is one process: POSIX locks, which belong to the process, never
// conflict with anything, so taking one succeeds and F_GETLK finds the
// range free, exactly as Linux answers a process alone with the file
// (SQLite takes them on every transaction). Locks of open file
// descriptions (F_OFD_*) are granted the same way, as flock is: two
// descriptions of one file in the program do not exclude each other.
func recordLock(f *file, cmd, arg uint64) int64 {
	const flockSize = 32 // l_type, l_whence int16; l_start, l_len int64; l_pid int32
	if f.flags&oPath != 0 {
		return -eBADF
	}
	if !userOK(arg, flockSize, cmd == fGetlk || cmd == fOFDGetlk) {
		return -eFAULT
	}
	typ := *(*int16)(unsafe.Pointer(uintptr(arg)))
	whence := *(*int16)(unsafe.Pointer(uintptr(arg + 2)))
	pid := *(*int32)(unsafe.Pointer(uintptr(arg + 24)))
	if typ < fRdlck || typ > fUnlck || whence < 0 || whence > 2 {
		return -eINVAL
	}
	ofd := cmd == fOFDGetlk || cmd == fOFDSetlk || cmd == fOFDSetlkw
	if ofd && pid != 0 {
		return -eINVAL
	}
	if cmd == fGetlk || cmd == fOFDGetlk {
		if typ == fUnlck {
			return -eINVAL
		}
		*(*int16)(unsafe.Pointer(uintptr(arg))) = fUnlck
		return 0
	}
	switch {
	case typ == fRdlck && f.flags&oAccmode == oWronly:
		return -eBADF
	case typ == fWrlck && f.flags&oAccmode == oRdonly:
		return -eBADF
	}
	return 0
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
	sockDup(f, int64(newfd))
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
		sockDup(f, r)
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
