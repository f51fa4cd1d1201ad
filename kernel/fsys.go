package kernel

import (
	"syscall"
	"unsafe"
)

// The file system calls: open, stat, directories, links, attributes, over
// the tree of vfs.go. Permission bits are kept and reported but not
// enforced: the program runs as root (uid 0), as in a container.

var umask uint64 = 0o022

// dispatchFS runs the file system calls; ok is false for other numbers.
// With volumes, path calls hold the tree's lock (ninefs.go).
func dispatchFS(nr, a0, a1, a2, a3, a4 uint64) (r int64, ok bool) {
	if np9devs == 0 || !fsLocked(nr) {
		rFresh = 0
		return fsCall(nr, a0, a1, a2, a3, a4)
	}
	vfsLock()
	rEvict()
	rFresh = 0
	r, ok = fsCall(nr, a0, a1, a2, a3, a4)
	rCallDone()
	vfsUnlock()
	return r, ok
}

func fsCall(nr, a0, a1, a2, a3, a4 uint64) (r int64, ok bool) {
	const cwd = ^uint64(99) // AT_FDCWD
	switch nr {
	case 2: // open
		return sysOpenat(cwd, a0, a1, a2), true
	case 4: // stat
		return sysNewfstatat(cwd, a0, a1, 0), true
	case 6: // lstat
		return sysNewfstatat(cwd, a0, a1, atSymlinkNofollow), true
	case 8:
		return sysLseek(a0, a1, a2), true
	case 17: // pread64
		return sysPRW(a0, a1, a2, a3, false), true
	case 18: // pwrite64
		return sysPRW(a0, a1, a2, a3, true), true
	case 19:
		return sysRWv(a0, a1, a2, false, 0, false), true
	case 20:
		return sysRWv(a0, a1, a2, true, 0, false), true
	case 295: // preadv
		return sysRWv(a0, a1, a2, false, int64(a3), true), true
	case 296: // pwritev
		return sysRWv(a0, a1, a2, true, int64(a3), true), true
	case 21: // access
		return sysFaccessat(cwd, a0, a1, 0), true
	case 269: // faccessat
		return sysFaccessat(a0, a1, a2, 0), true
	case 439: // faccessat2
		return sysFaccessat(a0, a1, a2, a3), true
	case 73: // flock: one process, nothing to exclude
		if fdGet(int(int32(a0))) == nil {
			return -eBADF, true
		}
		return 0, true
	case 74, 75: // fsync, fdatasync: tmpfs and the image have nothing to flush
		f := fdGet(int(int32(a0)))
		if f == nil {
			return -eBADF, true
		}
		if f.flags&oPath != 0 {
			return -eBADF, true
		}
		if f.node == 0 || f.kind == fkNull || f.kind == fkZero || f.kind == fkRandom {
			return -eINVAL, true
		}
		if f.fid != 0 {
			return rFsync(f, nr == 75), true
		}
		return 0, true
	case 76: // truncate
		return sysTruncate(resolve(cwd, a0, false), int64(a1)), true
	case 77: // ftruncate
		return sysFtruncate(a0, int64(a1)), true
	case 79:
		return sysGetcwd(a0, a1), true
	case 80:
		return sysChdir(resolve(cwd, a0, false)), true
	case 81:
		f := fdGet(int(int32(a0)))
		if f == nil {
			return -eBADF, true
		}
		if f.kind != fkDir {
			return -eNOTDIR, true
		}
		return sysChdir(int64(f.node)), true
	case 82: // rename
		return sysRenameat2(cwd, a0, cwd, a1, 0), true
	case 264:
		return sysRenameat2(a0, a1, a2, a3, 0), true
	case 316:
		return sysRenameat2(a0, a1, a2, a3, a4), true
	case 83: // mkdir
		return sysMkdirat(cwd, a0, a1), true
	case 258:
		return sysMkdirat(a0, a1, a2), true
	case 84: // rmdir
		return sysUnlinkat(cwd, a0, atRemovedir), true
	case 87: // unlink
		return sysUnlinkat(cwd, a0, 0), true
	case 263:
		return sysUnlinkat(a0, a1, a2), true
	case 85: // creat
		return sysOpenat(cwd, a0, oCreat|oWronly|oTrunc, a1), true
	case 133: // mknod
		return sysMknodat(cwd, a0, a1), true
	case 259:
		return sysMknodat(a0, a1, a2), true
	case 86: // link
		return sysLinkat(cwd, a0, cwd, a1, 0), true
	case 265:
		return sysLinkat(a0, a1, a2, a3, a4), true
	case 88: // symlink
		return sysSymlinkat(a0, cwd, a1), true
	case 266:
		return sysSymlinkat(a0, a1, a2), true
	case 89: // readlink
		return sysReadlinkat(cwd, a0, a1, a2), true
	case 267:
		return sysReadlinkat(a0, a1, a2, a3), true
	case 90: // chmod
		return sysChmod(resolve(cwd, a0, false), a1), true
	case 91: // fchmod
		return sysChmod(fdInode(a0), a1), true
	case 268: // fchmodat
		return sysChmod(resolve(a0, a1, false), a2), true
	case 452: // fchmodat2: a symbolic link's mode cannot change (EOPNOTSUPP)
		if a3&^(atSymlinkNofollow|atEmptyPath) != 0 {
			return -eINVAL, true
		}
		ino := resolveAt(a0, a1, a3)
		if ino > 0 && ind(int32(ino)).kind == ndSymlink {
			return -eOPNOTSUPP, true
		}
		return sysChmod(ino, a2), true
	case 115: // getgroups: root, without supplementary groups
		return 0, true
	case 116: // setgroups
		return 0, true
	case 92: // chown
		return sysChown(resolve(cwd, a0, false), a1, a2), true
	case 93: // fchown
		return sysChown(fdInode(a0), a1, a2), true
	case 94: // lchown
		return sysChown(resolve(cwd, a0, true), a1, a2), true
	case 260: // fchownat
		return sysChown(resolveAt(a0, a1, a4), a2, a3), true
	case 280:
		return sysUtimensat(a0, a1, a2, a3), true
	case 5:
		return sysFstat(a0, a1), true
	case 262:
		return sysNewfstatat(a0, a1, a2, a3), true
	case 332:
		return sysStatx(a0, a1, a2, a3, a4), true
	case 137: // statfs
		return sysStatfs(resolve(cwd, a0, false), a1), true
	case 138: // fstatfs
		return sysStatfs(fdInode(a0), a1), true
	case 217:
		return sysGetdents64(a0, a1, a2), true
	case 257:
		return sysOpenat(a0, a1, a2, a3), true
	case 285:
		return sysFallocate(a0, a1, int64(a2), int64(a3)), true
	case 95:
		old := umask
		umask = a0 & 0o777
		return int64(old), true
	case 162, 306: // sync, syncfs
		return 0, true
	}
	return 0, false
}

// fdInode returns the inode of a file descriptor of the tree, or -errno.
func fdInode(fd uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.node == 0 {
		return -eINVAL
	}
	return int64(f.node)
}

func sysOpenat(dirfd, path, flags, mode uint64) int64 {
	// Linux 6.4 on: O_CREAT|O_DIRECTORY is EINVAL whatever the path
	// (it used to create a regular file).
	if flags&(oCreat|oDirectory) == oCreat|oDirectory {
		return -eINVAL
	}
	if flags&oTmpfile == oTmpfile {
		return -eOPNOTSUPP
	}
	if flags&oPath != 0 {
		flags &= oPath | oDirectory | oNofollow | oCloexec // the others are ignored
	}
	wf := wFollow
	if flags&oNofollow != 0 || flags&(oCreat|oExcl) == oCreat|oExcl {
		wf = 0 // O_EXCL fails on a symbolic link, even a dangling one
	}
	if flags&oCreat != 0 {
		wf |= wParent | wLazy
	}
	r, err := walkUser(&walkers[0], dirfd, path, wf)
	if err < 0 {
		return err
	}
	if r.lazy {
		// In a volume: create, or open what is there, in one call. The
		// server opens only regular files and never follows a link: on
		// anything else (without O_EXCL) resolve the name as usual.
		if !writable(r.dir) {
			return -eROFS
		}
		nino, fid, e := rCreate(r.dir, r.name, flags, mode&^umask)
		if e == 0 {
			return openFile(nino, flags, fid)
		}
		if flags&oExcl != 0 || e == -eNOENT || e == -eROFS || e == -eNOSPC {
			return e
		}
		if r, err = walkUser(&walkers[0], dirfd, path, wf&^wLazy); err < 0 {
			return err
		}
	}
	acc := flags & oAccmode
	ino := r.ino
	switch {
	case flags&oCreat != 0 && r.slashed && len(r.name) > 0 && !isDots(r.name):
		return -eISDIR // "x/" names a directory, which O_CREAT does not make, whatever x is
	case ino == 0:
		if ind(r.dir).nlink == 0 {
			return -eNOENT // a removed directory takes no new entries
		}
		if !writable(r.dir) {
			return -eROFS
		}
		if isRemote(r.dir) {
			nino, fid, e := rCreate(r.dir, r.name, flags, mode&^umask)
			if e < 0 {
				return e
			}
			return openFile(nino, flags, fid)
		}
		ino = newInode(ndReg, ind(r.dir).fs, uint32(mode&^umask))
		if e := linkNew(r.dir, r.name, ino); e < 0 {
			return e
		}
	default:
		// An existing file, checked in the order of Linux's do_open and
		// may_open. O_TRUNC and access mode 3 ask for write access.
		nd := ind(ino)
		write := acc != oRdonly || flags&oTrunc != 0
		switch {
		case flags&(oCreat|oExcl) == oCreat|oExcl:
			return -eEXIST
		case flags&oCreat != 0 && nd.kind == ndDir:
			return -eISDIR
		case flags&oDirectory != 0 && nd.kind != ndDir:
			return -eNOTDIR // before ELOOP: O_NOFOLLOW|O_DIRECTORY on a link
		case flags&oPath != 0:
		case nd.kind == ndSymlink:
			return -eLOOP // O_NOFOLLOW
		case nd.kind == ndDir && write:
			return -eISDIR
		case write && nd.kind != ndNull && nd.kind != ndZero && nd.kind != ndRandom && !writable(ino):
			return -eROFS
		case nd.kind == ndFifo && acc == oAccmode:
			return -eINVAL
		case nd.kind == ndSealed && write && flags&oPath == 0:
			// A sealed file below /tmp becomes a tmpfs file when
			// opened for writing.
			if e := tmpAdopt(nd, flags&oTrunc != 0); e < 0 {
				return e
			}
			if flags&oTrunc != 0 {
				touch(nd, true, true)
			}
		case nd.kind == ndReg && flags&oTrunc != 0:
			// Even when already empty: O_TRUNC of an existing file
			// updates its mtime and ctime.
			tmpTruncate(nd, 0)
			touch(nd, true, true)
		}
	}
	if isRemote(ino) && flags&oPath == 0 {
		fid, e := rOpen(ino, flags)
		if e < 0 {
			return e
		}
		return openFile(ino, flags, fid)
	}
	if ind(ino).kind == ndFifo && flags&oPath == 0 {
		return fifoOpen(ino, flags)
	}
	if ind(ino).kind == ndSock && flags&oPath == 0 {
		return -eNXIO // a socket is reached with connect, not open
	}
	return openFile(ino, flags, 0)
}

// openFile makes the open file description and descriptor of inode ino
// (with fid, a volume's file opened for I/O).
func openFile(ino int32, flags uint64, fid uint32) int64 {
	var kind int32
	switch ind(ino).kind {
	case ndDir:
		kind = fkDir
	case ndNull:
		kind = fkNull
	case ndZero:
		kind = fkZero
	case ndRandom:
		kind = fkRandom
	default:
		kind = fkFile
	}
	fi := allocFile(kind, int32(flags&^(oCreat|oExcl|oTrunc|oCloexec|oNofollow)))
	if fi < 0 {
		if fid != 0 {
			devOf(ind(ino)).clunk(fid)
		}
		putInode(ino)
		return -eNFILE
	}
	files[fi].node = ino
	files[fi].fid = fid
	ind(ino).opens++
	fd := installFd(fi, 0, flags&oCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
}

// linkNew links the new inode ino (0: none could be made) into dir under
// name, or frees it; it returns 0 or -errno. In a set-group-ID directory
// the inode takes the directory's group and, for a directory, the bit.
func linkNew(dir int32, name []byte, ino int32) int64 {
	if ino == 0 {
		return -eNOSPC
	}
	nd, dn := ind(ino), ind(dir)
	if dn.mode&syscall.S_ISGID != 0 {
		nd.gid = dn.gid
		if nd.kind == ndDir {
			nd.mode |= syscall.S_ISGID
		}
	}
	if e := dirAdd(dir, name, ino, false); e < 0 {
		nd.nlink = 0
		putInode(ino)
		return e
	}
	return 0
}

// walkCreate resolves the path of a name to create as Linux's
// filename_create: "." and ".." and an existing name (a symbolic link,
// even dangling) are EEXIST; a trailing slash is for a directory only (else
// ENOENT: "you asked for a directory"); then EROFS, and ENOENT in a removed
// directory.
func walkCreate(w *walker, dirfd, path uint64, dir bool) (walkResult, int64) {
	r, err := walkUser(w, dirfd, path, wParent|wLazy)
	switch {
	case err < 0:
		return r, err
	case r.ino != 0: // also "/", "." and ".."
		return r, -eEXIST
	case r.slashed && !dir:
		return r, -eNOENT
	case !writable(r.dir):
		return r, -eROFS
	case ind(r.dir).nlink == 0:
		return r, -eNOENT
	}
	return r, 0
}

// inodeRead reads file bytes at pos into user memory [p, p+n).
func inodeRead(ino int32, p, n uint64, pos int64) int64 {
	nd := ind(ino)
	switch nd.kind {
	case ndReg:
		return tmpRead(nd, p, n, pos)
	case ndSealed, ndSymlink:
		if pos >= nd.size {
			return 0
		}
		c := min(n, uint64(nd.size-pos))
		copy(userBytes(p, c), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.data+uint64(pos)))), c))
		return int64(c)
	case ndText:
		if textGenerated(nd.data) {
			return textRead(nd.data, p, n, pos)
		}
		txt := textOf(nd.data)
		if pos >= int64(len(txt)) {
			return 0
		}
		return int64(copy(userBytes(p, n), txt[pos:]))
	}
	return -eINVAL
}

// inodeSize is the st_size of an inode.
func inodeSize(nd *inode) int64 {
	switch nd.kind {
	case ndText:
		if textGenerated(nd.data) {
			return 0 // as Linux reports for /proc files
		}
		return int64(len(textOf(nd.data)))
	case ndDir:
		return pageSize
	}
	return nd.size
}

func sysLseek(fd, off, whence uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	var size int64
	switch f.kind {
	case fkFile:
		if isRemote(f.node) && whence >= 2 {
			if e := rRefresh(f.node); e < 0 {
				return e
			}
		}
		size = inodeSize(ind(f.node))
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
	case 3, 4: // SEEK_DATA, SEEK_HOLE: one data extent, then the end
		if int64(off) < 0 || int64(off) >= size {
			return -eNXIO
		}
		n = int64(off)
		if whence == 4 {
			n = size
		}
	default:
		return -eINVAL
	}
	if n < 0 {
		return -eINVAL
	}
	f.off = n
	return n
}

// Device numbers of the character devices.
const (
	devNull   = 1<<8 | 3
	devZero   = 1<<8 | 5
	devRandom = 1<<8 | 9
)

func fillStat(st *syscall.Stat_t, ino int32) {
	nd := ind(ino)
	*st = syscall.Stat_t{
		Dev: uint64(nd.fs), Ino: uint64(ino), Nlink: uint64(nd.nlink), Uid: nd.uid, Gid: nd.gid,
		Size: inodeSize(nd), Blksize: pageSize,
	}
	st.Atim.Sec, st.Atim.Nsec = nd.atime.sec, nd.atime.nsec
	st.Mtim.Sec, st.Mtim.Nsec = nd.mtime.sec, nd.mtime.nsec
	st.Ctim.Sec, st.Ctim.Nsec = nd.ctime.sec, nd.ctime.nsec
	perm := nd.mode & 0o7777
	if fsRemote[nd.fs] != 0 {
		st.Ino = nd.qpath
		if nd.qpath == ^uint64(0) {
			st.Ino = uint64(ino) // a mount root before its first stat
		}
		st.Mode = nd.rtype | perm
		if nd.rtype == 0 {
			st.Mode = syscall.S_IFDIR | perm
		}
		st.Blocks = (st.Size + 511) / 512
		return
	}
	switch nd.kind {
	case ndDir:
		st.Mode = syscall.S_IFDIR | perm
	case ndSymlink:
		st.Mode = syscall.S_IFLNK | perm
	case ndNull:
		st.Mode, st.Rdev = syscall.S_IFCHR|perm, devNull
	case ndZero:
		st.Mode, st.Rdev = syscall.S_IFCHR|perm, devZero
	case ndRandom:
		st.Mode, st.Rdev = syscall.S_IFCHR|perm, devRandom
	case ndFifo:
		st.Mode = syscall.S_IFIFO | perm
		st.Size = 0
	case ndSock:
		st.Mode = syscall.S_IFSOCK | perm
	default:
		st.Mode = syscall.S_IFREG | perm
	}
	st.Blocks = (st.Size + 511) / 512
}

// fillStatFile reports files outside the tree (console, pipes, sockets).
func fillStatFile(st *syscall.Stat_t, f *file) {
	*st = syscall.Stat_t{Dev: 3, Nlink: 1, Blksize: pageSize}
	st.Atim.Sec = int64(wallBase / 1e9)
	st.Mtim = st.Atim
	st.Ctim = st.Atim
	switch f.kind {
	case fkConsole:
		st.Mode = syscall.S_IFIFO | 0o600 // a pipe, as for a program whose output is collected
		if consoleTTY&(1<<f.console) != 0 {
			st.Mode, st.Rdev = syscall.S_IFCHR|0o620, 136<<8 // a terminal
		}
		st.Ino = 1 + uint64(f.console)
	case fkSock:
		st.Mode = syscall.S_IFSOCK | 0o777
		st.Ino = 2000 + uint64(fileIndex(f))
	case fkPipeR, fkPipeW:
		st.Mode = syscall.S_IFIFO | 0o600
		st.Ino = 10000 + uint64(f.pipe)
	default:
		st.Mode = 0o600
		st.Ino = 1000 + uint64(fileIndex(f))
	}
}

func statBuf(buf uint64) *syscall.Stat_t {
	if !userOK(buf, uint64(unsafe.Sizeof(syscall.Stat_t{})), true) {
		return nil
	}
	return (*syscall.Stat_t)(unsafe.Pointer(uintptr(buf)))
}

func sysFstat(fd, buf uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.node != 0 && isRemote(f.node) {
		fi := rIO(f)
		e := rRefresh(f.node)
		releaseFile(fi)
		if e < 0 {
			return e
		}
	}
	st := statBuf(buf)
	if st == nil {
		return -eFAULT
	}
	if f.node != 0 {
		fillStat(st, f.node)
	} else {
		fillStatFile(st, f)
	}
	return 0
}

const (
	atEaccess       = 0x200 // faccessat2
	atNoAutomount   = 0x800
	atStatxSyncType = 0x6000

	// The flags fstatat and statx take.
	statFlags = atSymlinkNofollow | atNoAutomount | atEmptyPath | atStatxSyncType

	// statx masks: all of fstat's fields (not btime), the mount id, and
	// the bit reserved for extensions.
	statxBasicStats = 0x7ff
	statxMntID      = 0x1000
	statxReserved   = 0x80000000
)

func sysNewfstatat(dirfd, path, buf, flags uint64) int64 {
	if flags&^statFlags != 0 {
		return -eINVAL
	}
	if flags&atEmptyPath != 0 && userOK(path, 1, false) && *(*byte)(unsafe.Pointer(uintptr(path))) == 0 && int32(dirfd) != atFdcwd {
		return sysFstat(dirfd, buf)
	}
	ino := resolveAt(dirfd, path, flags)
	if ino < 0 {
		return ino
	}
	if isRemote(int32(ino)) {
		if e := rRefresh(int32(ino)); e < 0 {
			return e
		}
	}
	st := statBuf(buf)
	if st == nil {
		return -eFAULT
	}
	fillStat(st, int32(ino))
	return 0
}

// statx is struct statx (statx(2)).
type statx struct {
	mask, blksize               uint32
	attributes                  uint64
	nlink, uid, gid             uint32
	mode                        uint16
	_                           uint16
	ino, size, blocks, attrMask uint64
	atime, btime, ctime, mtime  statxTime
	rdevMajor, rdevMinor        uint32
	devMajor, devMinor          uint32
	mntID                       uint64
	dioMemAlign, dioOffsetAlign uint32
	_                           [12]uint64
}

type statxTime struct {
	sec  int64
	nsec uint32
	_    int32
}

// sysStatx reports what fstat would, as struct statx (btime is not kept).
func sysStatx(dirfd, path, flags, mask, buf uint64) int64 {
	if flags&^statFlags != 0 || flags&atStatxSyncType == atStatxSyncType || mask&statxReserved != 0 {
		return -eINVAL
	}
	var st syscall.Stat_t
	if flags&atEmptyPath != 0 && userOK(path, 1, false) && *(*byte)(unsafe.Pointer(uintptr(path))) == 0 && int32(dirfd) != atFdcwd {
		f := fdGet(int(int32(dirfd)))
		if f == nil {
			return -eBADF
		}
		if f.node != 0 && isRemote(f.node) {
			if e := rRefresh(f.node); e < 0 {
				return e
			}
		}
		if f.node != 0 {
			fillStat(&st, f.node)
		} else {
			fillStatFile(&st, f)
		}
	} else {
		ino := resolveAt(dirfd, path, flags)
		if ino < 0 {
			return ino
		}
		if isRemote(int32(ino)) {
			if e := rRefresh(int32(ino)); e < 0 {
				return e
			}
		}
		fillStat(&st, int32(ino))
	}
	if !userOK(buf, uint64(unsafe.Sizeof(statx{})), true) {
		return -eFAULT
	}
	ts := func(t syscall.Timespec) statxTime { return statxTime{sec: t.Sec, nsec: uint32(t.Nsec)} }
	*(*statx)(unsafe.Pointer(uintptr(buf))) = statx{
		mask: statxBasicStats | statxMntID, blksize: uint32(st.Blksize),
		nlink: uint32(st.Nlink), uid: st.Uid, gid: st.Gid, mode: uint16(st.Mode),
		ino: st.Ino, size: uint64(st.Size), blocks: uint64(st.Blocks),
		atime: ts(st.Atim), ctime: ts(st.Ctim), mtime: ts(st.Mtim),
		rdevMajor: uint32(st.Rdev >> 8), rdevMinor: uint32(st.Rdev & 0xff),
		devMajor: uint32(st.Dev >> 8), devMinor: uint32(st.Dev & 0xff),
		mntID: st.Dev,
	}
	return 0
}

func sysFaccessat(dirfd, path, mode, flags uint64) int64 {
	if mode&^7 != 0 || flags&^(atEaccess|atSymlinkNofollow|atEmptyPath) != 0 {
		return -eINVAL // mode: F_OK or R_OK|W_OK|X_OK
	}
	ino := resolveAt(dirfd, path, flags)
	if ino < 0 {
		return ino
	}
	nd := ind(int32(ino))
	if mode&2 != 0 && !writable(int32(ino)) { // W_OK
		switch nd.kind {
		case ndNull, ndZero, ndRandom:
		default:
			return -eROFS
		}
	}
	if mode&1 != 0 && nd.kind != ndDir && nd.mode&0o111 == 0 { // X_OK: root needs one x bit
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
	if ind(f.node).nlink == 0 {
		return -eNOENT // a removed directory: not even "." and ".."
	}
	if !userOK(buf, n, true) {
		return -eFAULT
	}
	if f.fid != 0 {
		return rGetdents(f, buf, n)
	}
	if isRemote(f.node) {
		return -eBADF // O_PATH
	}
	var written uint64
	full := false
	// f.off is the cookie of the last entry returned: 1 ".", 2 "..", then
	// the entries' own cookies, increasing along the list.
	emit := func(ino int32, cookie uint64, name []byte) bool {
		reclen := (19 + uint64(len(name)) + 1 + 7) &^ 7
		if written+reclen > n {
			full = true
			return false
		}
		typ := byte(8) // DT_REG
		switch ind(ino).kind {
		case ndFdLink:
			typ = 10 // DT_LNK
		case ndDir:
			typ = 4
		case ndSymlink:
			typ = 10
		case ndNull, ndZero, ndRandom:
			typ = 2
		case ndFifo:
			typ = 1
		case ndSock:
			typ = 12 // DT_SOCK
		}
		p := buf + written
		clear(userBytes(p, reclen))
		*userU64(p) = uint64(ino)
		*userU64(p + 8) = cookie
		*(*uint16)(unsafe.Pointer(uintptr(p + 16))) = uint16(reclen)
		*(*byte)(unsafe.Pointer(uintptr(p + 18))) = typ
		copy(userBytes(p+19, uint64(len(name))), name)
		written += reclen
		f.off = int64(cookie)
		return true
	}
	dir := f.node
	dn := ind(dir)
	if f.off < 1 && !emit(dir, 1, dotName[:1]) {
		goto out
	}
	if f.off < 2 {
		par := dn.parent
		if dir == rootIno || par == 0 {
			par = dir
		}
		if !emit(par, 2, dotName[:]) {
			goto out
		}
	}
	if dn.data == fdDirMark {
		// /proc/1/fd: an entry per open descriptor, made as it is read.
		for fd := uint64(max(f.off-2, 0)); fd < maxFds; fd++ {
			if fdTable[fd] == 0 {
				continue
			}
			var num textBuf
			num.dec(fd)
			if !emit(fdLinkIno, fd+3, num.b[:num.n]) {
				break
			}
		}
		goto out
	}
	for e := dn.first; e != 0; e = den(e).next {
		d := den(e)
		if d.cookie <= uint64(f.off) {
			continue
		}
		if !emit(d.ino, d.cookie, direntName(d)) {
			break
		}
	}
out:
	if written == 0 && full {
		return -eINVAL
	}
	return int64(written)
}

var dotName = [2]byte{'.', '.'}

func sysGetcwd(buf, size uint64) int64 {
	if ind(cwdIno).nlink == 0 {
		return -eNOENT
	}
	// Build the path backwards.
	tmp := &walkers[0].tmp
	i := len(tmp)
	for n := cwdIno; n != rootIno; n = ind(n).parent {
		var name []byte
		if nd := ind(n); isRemote(n) && nd.dnameCls != 0 {
			name = unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.dname))), nd.dnameLen)
		} else {
			name = dirNameOf(n)
		}
		if i < len(name)+2 {
			return -eNAMETOOLONG
		}
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

func sysChdir(ino int64) int64 {
	if ino < 0 {
		return ino
	}
	if ind(int32(ino)).kind != ndDir {
		return -eNOTDIR
	}
	old := cwdIno
	cwdIno = int32(ino)
	ind(cwdIno).opens++
	ind(old).opens--
	putInode(old)
	return 0
}

func sysMkdirat(dirfd, path, mode uint64) int64 {
	r, err := walkCreate(&walkers[0], dirfd, path, true)
	if err < 0 {
		return err
	}
	if isRemote(r.dir) {
		return rMkdir(r.dir, r.name, mode&0o1777&^umask)
	}
	// Set-user-ID and set-group-ID are dropped (linkNew may set the latter).
	ino := newInode(ndDir, ind(r.dir).fs, uint32(mode&0o1777&^umask))
	return linkNew(r.dir, r.name, ino)
}

// sysMknodat creates regular files, FIFOs and socket files (what bind of
// an AF_UNIX socket makes: guestnet, which serves those sockets, calls it);
// device nodes are not supported (EPERM).
func sysMknodat(dirfd, path, mode uint64) int64 {
	var kind uint8 // ndFree: a kind not supported, EPERM once the name checks pass
	switch mode & syscall.S_IFMT {
	case 0, syscall.S_IFREG:
		kind = ndReg
	case syscall.S_IFIFO:
		kind = ndFifo
	case syscall.S_IFSOCK:
		kind = ndSock
	case syscall.S_IFCHR, syscall.S_IFBLK:
	case syscall.S_IFDIR:
		return -ePERM
	default:
		return -eINVAL
	}
	r, err := walkCreate(&walkers[0], dirfd, path, false)
	if err < 0 {
		return err
	}
	if kind == ndFree {
		return -ePERM
	}
	if isRemote(r.dir) {
		return rMknod(r.dir, r.name, mode&^umask)
	}
	return linkNew(r.dir, r.name, newInode(kind, ind(r.dir).fs, uint32(mode&^umask)))
}

func isDots(name []byte) bool {
	return len(name) == 1 && name[0] == '.' || len(name) == 2 && name[0] == '.' && name[1] == '.'
}

// sysUnlinkat removes a name as Linux's do_unlinkat and do_rmdir: the
// last component is not followed, and the checks come in their order (the
// kind of name, write access, then the entry).
func sysUnlinkat(dirfd, path, flags uint64) int64 {
	if flags&^atRemovedir != 0 {
		return -eINVAL
	}
	r, err := walkUser(&walkers[0], dirfd, path, wParent|wLazy)
	if err < 0 {
		return err
	}
	rmdir := flags&atRemovedir != 0
	switch {
	case rmdir && len(r.name) == 0:
		return -eBUSY // "/"
	case rmdir && isDots(r.name) && len(r.name) == 1:
		return -eINVAL
	case rmdir && isDots(r.name):
		return -eNOTEMPTY
	case len(r.name) == 0 || isDots(r.name):
		return -eISDIR
	case !writable(r.dir):
		return -eROFS
	case r.lazy:
		return rUnlink(r.dir, r.name, 0, rmdir)
	case r.ino == 0:
		return -eNOENT
	}
	nd := ind(r.ino)
	switch {
	case rmdir && nd.kind != ndDir:
		return -eNOTDIR
	case !rmdir && nd.kind == ndDir:
		return -eISDIR
	case r.slashed && nd.kind != ndDir:
		return -eNOTDIR // unlink("f/"), unlink("link/")
	case nd.fs != ind(r.dir).fs:
		return -eBUSY // a mount point
	case isRemote(r.dir):
		return rUnlink(r.dir, r.name, r.ino, rmdir) // the host knows if it is empty
	case rmdir && !dirEmpty(r.ino):
		return -eNOTEMPTY
	}
	dirRemove(r.dir, dirLookup(r.dir, r.name))
	if rmdir {
		nd.nlink = 0
	} else {
		nd.nlink--
	}
	touch(nd, false, true)
	putInode(r.ino)
	return 0
}

const (
	renameNoreplace = 1
	renameExchange  = 2
)

// sysRenameat2 renames as Linux's do_renameat2 and vfs_rename, in their
// order: the mounts of the two parents (EXDEV), the kinds of names, write
// access, then the entries. Neither last component is followed; a trailing
// slash is for directories only.
func sysRenameat2(odirfd, opath, ndirfd, npath, flags uint64) int64 {
	if flags&^(renameNoreplace|renameExchange) != 0 || flags == renameNoreplace|renameExchange {
		return -eINVAL // RENAME_WHITEOUT is not supported
	}
	exchange := flags&renameExchange != 0
	o, err := walkUser(&walkers[0], odirfd, opath, wParent)
	if err < 0 {
		return err
	}
	n, err := walkUser(&walkers[1], ndirfd, npath, wParent)
	if err < 0 {
		return err
	}
	switch {
	case ind(o.dir).fs != ind(n.dir).fs:
		return -eXDEV
	case len(o.name) == 0 || isDots(o.name):
		return -eBUSY
	case (len(n.name) == 0 || isDots(n.name)) && flags&renameNoreplace != 0:
		return -eEXIST
	case len(n.name) == 0 || isDots(n.name):
		return -eBUSY
	case !writable(o.dir):
		return -eROFS
	case o.ino == 0:
		return -eNOENT
	case flags&renameNoreplace != 0 && n.ino != 0:
		return -eEXIST
	case exchange && n.ino == 0:
		return -eNOENT
	case exchange && n.slashed && ind(n.ino).kind != ndDir:
		return -eNOTDIR
	}
	src := ind(o.ino)
	srcDir := src.kind == ndDir
	dstDir := n.ino != 0 && ind(n.ino).kind == ndDir
	switch {
	case !srcDir && (o.slashed || n.slashed && !exchange):
		return -eNOTDIR
	case srcDir && isAncestor(o.ino, n.dir):
		return -eINVAL // into its own subtree
	case dstDir && isAncestor(n.ino, o.dir) && exchange:
		return -eINVAL
	case dstDir && isAncestor(n.ino, o.dir):
		return -eNOTEMPTY // onto an ancestor of the source
	case o.ino == n.ino:
		return 0 // the same file: nothing to do
	case n.ino != 0 && !exchange && srcDir && !dstDir:
		return -eNOTDIR
	case n.ino != 0 && !exchange && !srcDir && dstDir:
		return -eISDIR
	case n.ino == 0 && ind(n.dir).nlink == 0:
		return -eNOENT // into a removed directory
	case src.fs != ind(o.dir).fs || n.ino != 0 && ind(n.ino).fs != ind(n.dir).fs:
		return -eBUSY // a mount point
	case isRemote(o.dir) && exchange:
		return -eINVAL // 9P has no exchange (nor has Linux's 9p client)
	case isRemote(o.dir):
		return rRename(o.dir, o.name, o.ino, n.dir, n.name, n.ino)
	case dstDir && !exchange && !dirEmpty(n.ino):
		return -eNOTEMPTY
	}
	se := dirLookup(o.dir, o.name)
	if exchange {
		renameExchangeEntries(o.dir, se, n.dir, dirLookup(n.dir, n.name))
		return 0
	}
	var te int32
	if n.ino != 0 {
		te = dirLookup(n.dir, n.name)
	}
	// Link the new name first: if that fails, nothing has changed.
	if e := dirAdd(n.dir, n.name, o.ino, false); e < 0 {
		return e
	}
	if te != 0 {
		dst := ind(n.ino)
		dirRemove(n.dir, te)
		if dstDir {
			dst.nlink = 0
		} else {
			dst.nlink--
		}
		touch(dst, false, true)
		putInode(n.ino)
	}
	dirRemove(o.dir, se)
	if srcDir {
		src.parent = n.dir // dirRemove of the old entry does not undo dirAdd's
	}
	touch(src, false, true)
	return 0
}

// renameExchangeEntries swaps the inodes of entry se of directory sdir and
// entry te of directory tdir (RENAME_EXCHANGE).
func renameExchangeEntries(sdir, se, tdir, te int32) {
	a, b := den(se).ino, den(te).ino
	den(se).ino, den(te).ino = b, a
	// A directory's link count counts its subdirectories.
	if ind(a).kind == ndDir {
		ind(a).parent = tdir
		ind(sdir).nlink--
		ind(tdir).nlink++
	}
	if ind(b).kind == ndDir {
		ind(b).parent = sdir
		ind(tdir).nlink--
		ind(sdir).nlink++
	}
	touch(ind(sdir), true, true)
	touch(ind(tdir), true, true)
	touch(ind(a), false, true)
	touch(ind(b), false, true)
}

// sysLinkat links an existing file (AT_EMPTY_PATH: the file open on odirfd)
// under a new name; the new name is checked before the mounts are compared
// (EROFS before EXDEV), as Linux does.
func sysLinkat(odirfd, opath, ndirfd, npath, flags uint64) int64 {
	if flags&^(atSymlinkFollow|atEmptyPath) != 0 {
		return -eINVAL
	}
	at := flags&atEmptyPath | atSymlinkNofollow
	if flags&atSymlinkFollow != 0 {
		at &^= atSymlinkNofollow
	}
	ino := resolveAt(odirfd, opath, at)
	if ino < 0 {
		return ino
	}
	n, err := walkCreate(&walkers[1], ndirfd, npath, false)
	if err < 0 {
		return err
	}
	src := ind(int32(ino))
	switch {
	case src.fs != ind(n.dir).fs:
		return -eXDEV
	case src.kind == ndDir:
		return -ePERM
	case src.nlink == 0:
		return -eNOENT // a removed file does not come back
	case src.nlink >= 65000:
		return -eMLINK
	case isRemote(n.dir):
		return rLink(int32(ino), n.dir, n.name)
	}
	if e := dirAdd(n.dir, n.name, int32(ino), false); e < 0 {
		return e
	}
	src.nlink++
	touch(src, false, true)
	return 0
}

func sysSymlinkat(target, ndirfd, npath uint64) int64 {
	t := &walkers[1].buf
	tl := userPath(target, t)
	if tl < 0 {
		return tl
	}
	if tl == 0 {
		return -eNOENT
	}
	n, err := walkCreate(&walkers[0], ndirfd, npath, false)
	if err < 0 {
		return err
	}
	if isRemote(n.dir) {
		return rSymlink(n.dir, n.name, t[:tl])
	}
	ino := newInode(ndSymlink, ind(n.dir).fs, 0o777)
	if ino == 0 {
		return -eNOSPC
	}
	nd := ind(ino)
	cls := sizeClass(uint64(tl))
	if nd.data = kmalloc(cls); nd.data == 0 {
		nd.nlink = 0
		putInode(ino)
		return -eNOSPC
	}
	nd.owned, nd.size = cls+1, tl
	copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.data))), tl), t[:tl])
	return linkNew(n.dir, n.name, ino)
}

func sysReadlinkat(dirfd, path, buf, size uint64) int64 {
	if int64(size) <= 0 {
		return -eINVAL
	}
	ino := resolveAt(dirfd, path, atSymlinkNofollow|atEmptyPath)
	if ino < 0 {
		return ino
	}
	nd := ind(int32(ino))
	if nd.kind != ndSymlink {
		return -eINVAL
	}
	c := min(size, uint64(nd.size))
	if !userOK(buf, c, true) {
		return -eFAULT
	}
	copy(userBytes(buf, c), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.data))), c))
	return int64(c)
}

func sysChmod(ino int64, mode uint64) int64 {
	if ino < 0 {
		return ino
	}
	if !writable(int32(ino)) {
		return -eROFS
	}
	if isRemote(int32(ino)) {
		return rSetattr(int32(ino), 0, p9SetMode, uint32(mode&0o7777), 0, 0, 0, ftime{}, ftime{})
	}
	nd := ind(int32(ino))
	nd.mode = uint32(mode & 0o7777)
	touch(nd, false, true)
	return 0
}

func sysChown(ino int64, uid, gid uint64) int64 {
	if ino < 0 {
		return ino
	}
	if !writable(int32(ino)) {
		return -eROFS
	}
	if isRemote(int32(ino)) {
		// Both, -1 as the current owner: any chown of a file clears
		// its set-user-ID bit on the host as here.
		nd := ind(int32(ino))
		if uint32(uid) == ^uint32(0) {
			uid = uint64(nd.uid)
		}
		if uint32(gid) == ^uint32(0) {
			gid = uint64(nd.gid)
		}
		return rSetattr(int32(ino), 0, p9SetUID|p9SetGID|p9SetCTime, 0, uint32(uid), uint32(gid), 0, ftime{}, ftime{})
	}
	nd := ind(int32(ino))
	if uint32(uid) != ^uint32(0) {
		nd.uid = uint32(uid)
	}
	if uint32(gid) != ^uint32(0) {
		nd.gid = uint32(gid)
	}
	// Any chown of a file that is not a directory, by root too and with
	// -1 for both, clears set-user-ID, and set-group-ID when group execute
	// is set (without it, the bit marks mandatory locking).
	if nd.kind != ndDir {
		nd.mode &^= syscall.S_ISUID
		if nd.mode&(syscall.S_ISGID|0o010) == syscall.S_ISGID|0o010 {
			nd.mode &^= syscall.S_ISGID
		}
	}
	touch(nd, false, true)
	return 0
}

const (
	utimeNow  = 1<<30 - 1
	utimeOmit = 1<<30 - 2
)

// sysUtimensat sets the times of a file (utimensat, futimens), in the
// order of Linux's checks: the times are read first, and UTIME_OMIT for
// both is a success that changes nothing, not even ctime, and looks at no
// path.
func sysUtimensat(dirfd, path, times, flags uint64) int64 {
	now := timeNow()
	var t [2]ftime // atime, mtime
	var set [2]bool
	for i := range t {
		t[i], set[i] = now, true
	}
	if times != 0 {
		if !userOK(times, 32, false) {
			return -eFAULT
		}
		for i := range t {
			t[i] = ftime{int64(*userU64(times + uint64(i)*16)), int64(*userU64(times + uint64(i)*16 + 8))}
		}
		if t[0].nsec == utimeOmit && t[1].nsec == utimeOmit {
			return 0
		}
	}
	var ino int64
	switch {
	case path == 0 && int32(dirfd) == atFdcwd:
		return -eFAULT
	case path == 0 && flags != 0: // futimens
		return -eINVAL
	case path == 0:
		ino = fdInode(dirfd)
	case flags&^(atSymlinkNofollow|atEmptyPath) != 0:
		return -eINVAL
	default:
		ino = resolveAt(dirfd, path, flags)
	}
	if ino < 0 {
		return ino
	}
	for i := range t {
		switch {
		case times == 0:
		case t[i].nsec == utimeNow:
			t[i] = now
		case t[i].nsec == utimeOmit:
			set[i] = false
		case t[i].nsec < 0 || t[i].nsec >= 1e9:
			return -eINVAL
		}
	}
	if !writable(int32(ino)) {
		return -eROFS
	}
	if isRemote(int32(ino)) {
		valid := uint32(p9SetCTime)
		if set[0] {
			valid |= p9SetATime | p9SetASet
		}
		if set[1] {
			valid |= p9SetMTime | p9SetMSet
		}
		return rSetattr(int32(ino), 0, valid, 0, 0, 0, 0, t[0], t[1])
	}
	nd := ind(int32(ino))
	if set[0] {
		nd.atime = t[0]
	}
	if set[1] {
		nd.mtime = t[1]
	}
	nd.ctime = now
	return 0
}

func sysTruncate(ino, size int64) int64 {
	if ino < 0 {
		return ino
	}
	nd := ind(int32(ino))
	switch {
	case nd.kind == ndDir:
		return -eISDIR
	case !writable(int32(ino)):
		return -eROFS
	case size < 0:
		return -eINVAL
	case isRemote(int32(ino)) && nd.kind != ndRFile:
		return -eINVAL
	case isRemote(int32(ino)):
		return rSetattr(int32(ino), 0, p9SetSize|p9SetMTime|p9SetCTime, 0, 0, 0, size, ftime{}, ftime{})
	case nd.kind == ndSealed:
		if e := tmpAdopt(nd, false); e < 0 {
			return e
		}
	}
	switch {
	case nd.kind != ndReg:
		return -eINVAL
	case uint64(size) > tmpCapacity(tmpMaxHeight):
		return -eFBIG
	}
	tmpTruncate(nd, size)
	touch(nd, true, true)
	return 0
}

func sysFtruncate(fd uint64, size int64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkFile || !canWrite(f) {
		return -eINVAL
	}
	if f.fid != 0 && size >= 0 {
		// Through the open file: it works after its last name is gone.
		fi := rIO(f)
		e := rSetattr(f.node, f.fid, p9SetSize|p9SetMTime|p9SetCTime, 0, 0, 0, size, ftime{}, ftime{})
		releaseFile(fi)
		return e
	}
	return sysTruncate(int64(f.node), size)
}

const fallocKeepSize = 1

// sysFallocate reserves the pages of [off, off+n); the file grows to
// off+n unless FALLOC_FL_KEEP_SIZE (other modes are not supported).
func sysFallocate(fd, mode uint64, off, n int64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if mode&^fallocKeepSize != 0 {
		return -eOPNOTSUPP
	}
	if off < 0 || n <= 0 {
		return -eINVAL
	}
	if f.kind != fkFile || !canWrite(f) {
		return -eBADF
	}
	nd := ind(f.node)
	if isRemote(f.node) {
		return -eOPNOTSUPP // as Linux's 9p client
	}
	if nd.kind != ndReg {
		return -eNODEV
	}
	if uint64(off+n) > tmpCapacity(tmpMaxHeight) {
		return -eFBIG
	}
	for pg := uint64(off) / pageSize; pg <= uint64(off+n-1)/pageSize; pg++ {
		if tmpPage(nd, pg, true) == 0 {
			return -eNOSPC
		}
	}
	if off+n > nd.size && mode&fallocKeepSize == 0 {
		nd.size = off + n
	}
	touch(nd, false, true)
	return 0
}

// Bits of struct statfs f_flags.
const (
	stRdonly = 0x1
	stNosuid = 0x2
	stNodev  = 0x4
	stValid  = 0x20 // f_flags is filled in
)

// Magic numbers of struct statfs f_type.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

func sysStatfs(ino int64, buf uint64) int64 {
	if ino < 0 {
		return ino
	}
	if !userOK(buf, 120, true) {
		return -eFAULT
	}
	b := userBytes(buf, 120)
	clear(b)
	w := func(off int, v uint64) { *(*uint64)(unsafe.Pointer(&b[off])) = v }
	maxInodes := uint64(maxTablePages * inodesPerPage)
	used := uint64(inodeSlots)
	if isRemote(int32(ino)) {
		return rStatfs(int32(ino), b)
	}
	w(8, pageSize) // f_bsize
	if fs := ind(int32(ino)).fs; fs != fsRoot {
		w(0, tmpfsMagic)
		w(16, fsMaxPages[fs])             // f_blocks
		w(24, fsMaxPages[fs]-fsPages[fs]) // f_bfree
		w(32, fsMaxPages[fs]-fsPages[fs]) // f_bavail
		w(80, stValid|stNosuid|stNodev)   // f_flags, as /proc/mounts says
	} else {
		w(0, ramfsMagic)
		w(80, stValid|stRdonly)
	}
	w(40, maxInodes)      // f_files
	w(48, maxInodes-used) // f_ffree
	*(*uint32)(unsafe.Pointer(&b[56])) = uint32(ind(int32(ino)).fs)
	w(64, 255)      // f_namelen
	w(72, pageSize) // f_frsize
	return 0
}
