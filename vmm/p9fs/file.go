package p9fs

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// Open flags as 9P2000.L sends them (include/net/9p/9p.h, P9_DOTL_*). They
// equal Linux's x86 O_* values but not every architecture's, so they are
// translated rather than passed through.
const (
	dotlAccMode = 0o3
	dotlCreate  = 0o100
	dotlExcl    = 0o200
	dotlTrunc   = 0o1000
	dotlDsync   = 0o10000
	dotlSync    = 0o4000000

	dotlRemoveDir = 0x200 // Tunlinkat flag, P9_DOTL_AT_REMOVEDIR
)

// Linux d_type values, which 9P2000.L readdir entries carry in their type
// byte (Linux's v9fs passes the byte to dir_emit as the d_type).
const (
	dtUnknown = 0
	dtFifo    = 1
	dtChr     = 2
	dtDir     = 4
	dtBlk     = 6
	dtReg     = 8
	dtLnk     = 10
	dtSock    = 12
)

// file is one walked host file. Its descriptor fd is an O_PATH descriptor
// (or, for a file this server created, an open one) pinned to the inode:
// everything about the file itself goes through it. A non-directory also
// keeps a descriptor of the directory it was walked from and its name there,
// to open it for I/O with O_NOFOLLOW and to hard-link it.
//
// Every operation holds rw for reading while it uses the descriptors, and
// Close holds it for writing: a descriptor is never closed under an
// operation, so an operation can never act on a recycled descriptor number
// (which could be anything the process has open).
type file struct {
	fs       *FS
	typ      uint32 // S_IFMT bits; an inode's type never changes
	dev, ino uint64

	rw       sync.RWMutex
	fd       int    // -1 once closed
	parentFd int    // -1 for directories
	name     string // name in parentFd; parentFd and name change in Renamed

	ioFd       atomic.Int64 // descriptor opened for I/O, -1 before Open
	ioWritable bool         // set before ioFd is published
	dirMu      sync.Mutex   // serialises lseek+getdents on ioFd
}

var _ p9.File = (*file)(nil)

// getdents64 records are in the host's byte order.
var hostEndian = binary.NativeEndian

// newFile takes ownership of fd and parentFd (a directory's parentFd is
// closed: directories never need their parent).
func newFile(fs *FS, fd int, st *unix.Stat_t, parentFd int, name string) (*file, error) {
	f := &file{
		fs:       fs,
		fd:       fd,
		typ:      st.Mode & unix.S_IFMT,
		dev:      uint64(st.Dev),
		ino:      uint64(st.Ino),
		parentFd: parentFd,
		name:     name,
	}
	if f.typ == unix.S_IFDIR && parentFd >= 0 {
		unix.Close(parentFd)
		f.parentFd = -1
	}
	f.ioFd.Store(-1)
	return f, nil
}

// acquire holds the file's descriptors open for an operation; release ends
// it. acquire fails with EBADF on a closed file.
func (f *file) acquire() error {
	f.rw.RLock()
	if f.fd < 0 {
		f.rw.RUnlock()
		return linux.EBADF
	}
	return nil
}

func (f *file) release() { f.rw.RUnlock() }

// checkName refuses anything but one ordinary path component. This is the
// confinement rule: with it, an *at call on a directory descriptor can
// only name an entry of that directory.
func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return linux.EINVAL
	}
	return nil
}

func dupFd(fd int) (int, error) {
	return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
}

func (f *file) qid(st *unix.Stat_t) p9.QID {
	return p9.QID{
		Type: p9.FileMode(st.Mode).QIDType(),
		Path: f.fs.qidPath(uint64(st.Dev), uint64(st.Ino)),
	}
}

func (f *file) isRoot() bool {
	return f.typ == unix.S_IFDIR && f.dev == f.fs.rootDev && f.ino == f.fs.rootIno
}

// parent returns the parent directory descriptor and the file's name in
// it. The caller holds the file (acquire).
func (f *file) parent() (int, string, error) {
	if f.parentFd < 0 {
		return -1, "", linux.EINVAL
	}
	return f.parentFd, f.name, nil
}

// walkOne opens one component below the directory dirFd without following
// it: the descriptor of the entry itself, whatever it is.
func walkOne(dirFd int, name string) (int, *unix.Stat_t, error) {
	if err := checkName(name); err != nil {
		return -1, nil, err
	}
	fd, err := unix.Openat(dirFd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, nil, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, nil, errno(err)
	}
	return fd, &st, nil
}

// walk walks names from f, which the caller holds.
func (f *file) walk(names []string) ([]p9.QID, *file, *unix.Stat_t, error) {
	if len(names) == 0 {
		fd, err := dupFd(f.fd)
		if err != nil {
			return nil, nil, nil, errno(err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, nil, nil, errno(err)
		}
		pfd := -1
		if f.parentFd >= 0 {
			if pfd, err = dupFd(f.parentFd); err != nil {
				unix.Close(fd)
				return nil, nil, nil, errno(err)
			}
		}
		nf, err := newFile(f.fs, fd, &st, pfd, f.name)
		if err != nil {
			return nil, nil, nil, err
		}
		return nil, nf, &st, nil
	}
	for _, name := range names {
		if err := checkName(name); err != nil {
			return nil, nil, nil, err
		}
	}
	qids := make([]p9.QID, 0, len(names))
	dirFd, typ := f.fd, f.typ
	closeDir := func() {
		if dirFd != f.fd {
			unix.Close(dirFd)
		}
	}
	for i, name := range names {
		if typ != unix.S_IFDIR {
			closeDir()
			return nil, nil, nil, linux.ENOTDIR
		}
		fd, st, err := walkOne(dirFd, name)
		if err != nil {
			closeDir()
			return nil, nil, nil, err
		}
		qids = append(qids, f.qid(st))
		if i == len(names)-1 {
			pfd := -1
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				if dirFd == f.fd {
					pfd, err = dupFd(dirFd)
				} else {
					pfd, dirFd = dirFd, f.fd // hand the intermediate over
				}
			}
			closeDir()
			if err != nil {
				unix.Close(fd)
				return nil, nil, nil, errno(err)
			}
			nf, err := newFile(f.fs, fd, st, pfd, name)
			if err != nil {
				return nil, nil, nil, err
			}
			return qids, nf, st, nil
		}
		closeDir() // an intermediate directory, no longer needed
		dirFd, typ = fd, st.Mode&unix.S_IFMT
	}
	panic("unreachable")
}

// unopened returns a new file for the same inode as f, not opened (as a
// walk to it would give), and its attributes.
func (f *file) unopened() (*file, *unix.Stat_t, error) {
	if err := f.acquire(); err != nil {
		return nil, nil, err
	}
	defer f.release()
	qids, nf, st, err := f.walk(nil)
	_ = qids
	return nf, st, err
}

// Walk implements p9.File.Walk. The p9 server walks one name at a time.
func (f *file) Walk(names []string) ([]p9.QID, p9.File, error) {
	if err := f.acquire(); err != nil {
		return nil, nil, err
	}
	defer f.release()
	qids, nf, _, err := f.walk(names)
	if err != nil {
		return nil, nil, err
	}
	return qids, nf, nil
}

// WalkGetAttr implements p9.File.WalkGetAttr, saving an fstat per step.
func (f *file) WalkGetAttr(names []string) ([]p9.QID, p9.File, p9.AttrMask, p9.Attr, error) {
	if err := f.acquire(); err != nil {
		return nil, nil, p9.AttrMask{}, p9.Attr{}, err
	}
	defer f.release()
	qids, nf, st, err := f.walk(names)
	if err != nil {
		return nil, nil, p9.AttrMask{}, p9.Attr{}, err
	}
	valid, attr := statToAttr(st)
	return qids, nf, valid, attr, nil
}

func statToAttr(st *unix.Stat_t) (p9.AttrMask, p9.Attr) {
	valid := p9.AttrMask{
		Mode: true, NLink: true, UID: true, GID: true, RDev: true,
		ATime: true, MTime: true, CTime: true, INo: true, Size: true, Blocks: true,
	}
	attr := p9.Attr{
		Mode:             p9.FileMode(st.Mode),
		UID:              p9.UID(st.Uid),
		GID:              p9.GID(st.Gid),
		NLink:            p9.NLink(uint64(st.Nlink)),
		RDev:             p9.Dev(uint64(st.Rdev)),
		Size:             uint64(st.Size),
		BlockSize:        uint64(st.Blksize),
		Blocks:           uint64(st.Blocks),
		ATimeSeconds:     uint64(st.Atim.Sec),
		ATimeNanoSeconds: uint64(st.Atim.Nsec),
		MTimeSeconds:     uint64(st.Mtim.Sec),
		MTimeNanoSeconds: uint64(st.Mtim.Nsec),
		CTimeSeconds:     uint64(st.Ctim.Sec),
		CTimeNanoSeconds: uint64(st.Ctim.Nsec),
	}
	return valid, attr
}

// GetAttr implements p9.File.GetAttr. It answers every field fstat gives,
// whatever was asked.
func (f *file) GetAttr(p9.AttrMask) (p9.QID, p9.AttrMask, p9.Attr, error) {
	if err := f.acquire(); err != nil {
		return p9.QID{}, p9.AttrMask{}, p9.Attr{}, err
	}
	defer f.release()
	var st unix.Stat_t
	if err := unix.Fstat(f.fd, &st); err != nil {
		return p9.QID{}, p9.AttrMask{}, p9.Attr{}, errno(err)
	}
	valid, attr := statToAttr(&st)
	return f.qid(&st), valid, attr, nil
}

// StatFS implements p9.File.StatFS.
func (f *file) StatFS() (p9.FSStat, error) {
	if err := f.acquire(); err != nil {
		return p9.FSStat{}, err
	}
	defer f.release()
	var s unix.Statfs_t
	if err := unix.Fstatfs(f.fd, &s); err != nil {
		return p9.FSStat{}, errno(err)
	}
	return p9.FSStat{
		Type:            uint32(s.Type),
		BlockSize:       uint32(s.Bsize),
		Blocks:          s.Blocks,
		BlocksFree:      s.Bfree,
		BlocksAvailable: s.Bavail,
		Files:           s.Files,
		FilesFree:       s.Ffree,
		FSID:            uint64(uint32(s.Fsid.Val[0])) | uint64(uint32(s.Fsid.Val[1]))<<32,
		NameLength:      uint32(s.Namelen),
	}, nil
}

// openChild opens name in the directory dirFd for I/O, never following a
// symlink, and checks that it is the inode (dev, ino). O_TRUNC is applied
// only after that check.
func openChild(dirFd int, name string, flags int, dev, ino uint64) (int, error) {
	trunc := flags&unix.O_TRUNC != 0
	flags &^= unix.O_TRUNC | unix.O_CREAT | unix.O_EXCL
	fd, err := unix.Openat(dirFd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if uint64(st.Dev) != dev || uint64(st.Ino) != ino {
		// The name now means another file: the walked one was replaced.
		unix.Close(fd)
		return -1, unix.ESTALE
	}
	if trunc {
		tfd := fd
		if flags&unix.O_ACCMODE == unix.O_RDONLY {
			// O_RDONLY|O_TRUNC truncates on Linux (given write
			// permission), but ftruncate needs a writable descriptor:
			// take one on the same inode, by the checks above.
			wfd, err := openChild(dirFd, name, unix.O_WRONLY|flags&^unix.O_ACCMODE, dev, ino)
			if err != nil {
				unix.Close(fd)
				return -1, err
			}
			defer unix.Close(wfd)
			tfd = wfd
		}
		if err := unix.Ftruncate(tfd, 0); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	return fd, nil
}

// hostOpenFlags translates the access mode and the flags worth keeping.
// O_APPEND is dropped on purpose: the guest computes append offsets itself,
// and a host O_APPEND would make pwrite ignore the offsets it sends.
// O_DIRECT is dropped as the server's buffers are not aligned.
func hostOpenFlags(flags p9.OpenFlags) (int, error) {
	var hf int
	switch flags & dotlAccMode {
	case 0:
		hf = unix.O_RDONLY
	case 1:
		hf = unix.O_WRONLY
	case 2:
		hf = unix.O_RDWR
	default:
		return 0, linux.EINVAL
	}
	if flags&dotlTrunc != 0 {
		hf |= unix.O_TRUNC
	}
	if flags&dotlSync != 0 {
		hf |= unix.O_SYNC
	} else if flags&dotlDsync != 0 {
		hf |= unix.O_DSYNC
	}
	return hf, nil
}

func modifies(hf int) bool {
	return hf&unix.O_ACCMODE != unix.O_RDONLY || hf&unix.O_TRUNC != 0
}

// Open implements p9.File.Open.
func (f *file) Open(flags p9.OpenFlags) (p9.QID, uint32, error) {
	if err := f.acquire(); err != nil {
		return p9.QID{}, 0, err
	}
	defer f.release()
	if f.ioFd.Load() >= 0 {
		return p9.QID{}, 0, linux.EINVAL
	}
	hf, err := hostOpenFlags(flags)
	if err != nil {
		return p9.QID{}, 0, err
	}
	if f.fs.readOnly && modifies(hf) {
		return p9.QID{}, 0, linux.EROFS
	}
	var fd int
	switch f.typ {
	case unix.S_IFDIR:
		if modifies(hf) {
			return p9.QID{}, 0, linux.EISDIR
		}
		// "." is the directory itself: no name to race on.
		fd, err = unix.Openat(f.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	case unix.S_IFREG, unix.S_IFIFO:
		if f.typ == unix.S_IFIFO {
			hf |= unix.O_NONBLOCK // never hang the server on a pipe
		}
		pfd, name, perr := f.parent()
		if perr != nil {
			return p9.QID{}, 0, perr
		}
		fd, err = openChild(pfd, name, hf, f.dev, f.ino)
	case unix.S_IFCHR, unix.S_IFBLK:
		return p9.QID{}, 0, linux.EPERM // host devices stay on the host
	case unix.S_IFLNK:
		return p9.QID{}, 0, linux.ELOOP
	default:
		return p9.QID{}, 0, linux.ENXIO
	}
	if err != nil {
		return p9.QID{}, 0, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return p9.QID{}, 0, errno(err)
	}
	f.ioWritable = hf&unix.O_ACCMODE != unix.O_RDONLY
	if !f.ioFd.CompareAndSwap(-1, int64(fd)) {
		unix.Close(fd)
		return p9.QID{}, 0, linux.EINVAL
	}
	return f.qid(&st), 0, nil
}

func (f *file) openFd() (int, error) {
	fd := f.ioFd.Load()
	if fd < 0 {
		return -1, linux.EBADF
	}
	return int(fd), nil
}

// ReadAt implements p9.File.ReadAt.
func (f *file) ReadAt(p []byte, offset int64) (int, error) {
	if err := f.acquire(); err != nil {
		return 0, err
	}
	defer f.release()
	fd, err := f.openFd()
	if err != nil {
		return 0, err
	}
	for {
		var n int
		if f.typ == unix.S_IFIFO {
			n, err = unix.Read(fd, p)
		} else {
			n, err = unix.Pread(fd, p, offset)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, errno(err)
		}
		return n, nil
	}
}

// WriteAt implements p9.File.WriteAt.
func (f *file) WriteAt(p []byte, offset int64) (int, error) {
	if err := f.acquire(); err != nil {
		return 0, err
	}
	defer f.release()
	if f.fs.readOnly {
		return 0, linux.EROFS
	}
	fd, err := f.openFd()
	if err != nil {
		return 0, err
	}
	done := 0
	for done < len(p) {
		var n int
		if f.typ == unix.S_IFIFO {
			n, err = unix.Write(fd, p[done:])
		} else {
			n, err = unix.Pwrite(fd, p[done:], offset+int64(done))
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, errno(err)
		}
		if n == 0 {
			break
		}
		done += n
	}
	return done, nil
}

// FSync implements p9.File.FSync: the reply waits for the host's fsync.
func (f *file) FSync() error { return f.sync(unix.Fsync) }

// FDataSync is Tfsync with datasync set (the guest's fdatasync): the reply
// waits for the host's fdatasync, which skips metadata that reading the
// data back does not need, such as the modification time.
func (f *file) FDataSync() error { return f.sync(unix.Fdatasync) }

func (f *file) sync(sync func(int) error) error {
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.release()
	fd, err := f.openFd()
	if err != nil {
		return err
	}
	for {
		err := sync(fd)
		if err == unix.EINTR {
			continue
		}
		return errno(err)
	}
}

// Readdir implements p9.File.Readdir. count is in bytes of reply; an
// entry's Offset is the host's d_off, the cookie that resumes after it.
func (f *file) Readdir(offset uint64, count uint32) (p9.Dirents, error) {
	if err := f.acquire(); err != nil {
		return nil, err
	}
	defer f.release()
	fd, err := f.openFd()
	if err != nil {
		return nil, err
	}
	if f.typ != unix.S_IFDIR {
		return nil, linux.ENOTDIR
	}
	f.dirMu.Lock()
	defer f.dirMu.Unlock()
	if _, err := unix.Seek(fd, int64(offset), 0); err != nil {
		return nil, errno(err)
	}
	root := f.isRoot()
	bufSize := int(count)
	if bufSize < 4096 {
		bufSize = 4096
	}
	if bufSize > 1<<20 {
		bufSize = 1 << 20
	}
	buf := make([]byte, bufSize)
	var ents p9.Dirents
	used := 0
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			if len(ents) > 0 {
				return ents, nil
			}
			return nil, errno(err)
		}
		if n == 0 {
			return ents, nil
		}
		for b := buf[:n]; len(b) >= 19; {
			ino := hostEndian.Uint64(b[0:8])
			off := hostEndian.Uint64(b[8:16])
			reclen := int(hostEndian.Uint16(b[16:18]))
			dtype := b[18]
			if reclen < 19 || reclen > len(b) {
				return ents, nil
			}
			nameb := b[19:reclen]
			if i := indexByte(nameb, 0); i >= 0 {
				nameb = nameb[:i]
			}
			b = b[reclen:]
			name := string(nameb)
			// 9P entry: qid[13] offset[8] type[1] name[s]
			size := 13 + 8 + 1 + 2 + len(name)
			if used+size > int(count) {
				return ents, nil
			}
			used += size
			if root && name == ".." {
				ino = f.ino // the root's parent is not served
			}
			ents = append(ents, p9.Dirent{
				QID:    p9.QID{Type: dtypeQID(dtype), Path: f.fs.qidPath(f.dev, ino)},
				Offset: off,
				Type:   p9.QIDType(dtype),
				Name:   name,
			})
		}
	}
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func dtypeQID(dt byte) p9.QIDType {
	switch dt {
	case dtDir:
		return p9.TypeDir
	case dtLnk:
		return p9.TypeSymlink
	case dtFifo, dtSock, dtChr:
		return p9.TypeAppendOnly
	default:
		return p9.TypeRegular
	}
}

// Readlink implements p9.File.Readlink: the target exactly as stored, for
// the guest to resolve.
func (f *file) Readlink() (string, error) {
	if err := f.acquire(); err != nil {
		return "", err
	}
	defer f.release()
	if f.typ != unix.S_IFLNK {
		return "", linux.EINVAL
	}
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(f.fd, "", buf)
		if err != nil {
			return "", errno(err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
		if size >= 1<<20 {
			return "", linux.ENAMETOOLONG
		}
	}
}

// SetAttr implements p9.File.SetAttr: truncate, chown, chmod and utimes,
// in that order (chown may clear set-id bits that chmod then sets, and
// truncate changes mtime that utimes then sets).
func (f *file) SetAttr(valid p9.SetAttrMask, attr p9.SetAttr) error {
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.release()
	if !valid.Permissions && !valid.UID && !valid.GID && !valid.Size && !valid.ATime && !valid.MTime {
		return nil // ctime alone: the host updates it itself
	}
	if f.fs.readOnly {
		return linux.EROFS
	}
	if valid.Size {
		if err := f.truncate(int64(attr.Size)); err != nil {
			return err
		}
	}
	if valid.UID || valid.GID {
		uid, gid := -1, -1
		if valid.UID && attr.UID.Ok() {
			uid = int(attr.UID)
		}
		if valid.GID && attr.GID.Ok() {
			gid = int(attr.GID)
		}
		if err := unix.Fchownat(f.fd, "", uid, gid, unix.AT_EMPTY_PATH); err != nil {
			return errno(err)
		}
	}
	if valid.Permissions {
		if err := f.chmod(uint32(attr.Permissions) & 0o7777); err != nil {
			return err
		}
	}
	if valid.ATime || valid.MTime {
		if valid.ATime && valid.ATimeNotSystemTime && attr.ATimeNanoSeconds >= 1e9 ||
			valid.MTime && valid.MTimeNotSystemTime && attr.MTimeNanoSeconds >= 1e9 {
			return linux.EINVAL
		}
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if valid.ATime {
			ts[0] = unix.Timespec{Nsec: unix.UTIME_NOW}
			if valid.ATimeNotSystemTime {
				ts[0] = unix.Timespec{Sec: int64(attr.ATimeSeconds), Nsec: int64(attr.ATimeNanoSeconds)}
			}
		}
		if valid.MTime {
			ts[1] = unix.Timespec{Nsec: unix.UTIME_NOW}
			if valid.MTimeNotSystemTime {
				ts[1] = unix.Timespec{Sec: int64(attr.MTimeSeconds), Nsec: int64(attr.MTimeNanoSeconds)}
			}
		}
		if err := f.utimes(ts); err != nil {
			return err
		}
	}
	return nil
}

func (f *file) truncate(size int64) error {
	switch f.typ {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return linux.EISDIR
	default:
		return linux.EINVAL
	}
	if fd := f.ioFd.Load(); fd >= 0 && f.ioWritable {
		return errno(unix.Ftruncate(int(fd), size))
	}
	pfd, name, err := f.parent()
	if err != nil {
		return err
	}
	fd, err := openChild(pfd, name, unix.O_WRONLY|unix.O_NONBLOCK, f.dev, f.ino)
	if err != nil {
		return errno(err)
	}
	defer unix.Close(fd)
	return errno(unix.Ftruncate(fd, size))
}

// haveEmptyPathChmod and haveEmptyPathUtimes are cleared once the kernel
// turns out not to have fchmodat2 (Linux 6.6) or AT_EMPTY_PATH for
// utimensat; tests clear them to exercise the fallbacks.
var (
	haveEmptyPathChmod  atomic.Bool
	haveEmptyPathUtimes atomic.Bool
	// linkByName is set by tests to take Link's unprivileged path.
	linkByName atomic.Bool
)

func init() {
	haveEmptyPathChmod.Store(true)
	haveEmptyPathUtimes.Store(true)
}

// chmod changes the mode of the walked inode itself. Linux has no chmod of
// a symlink (EOPNOTSUPP, as fchmodat2 with AT_SYMLINK_NOFOLLOW answers).
func (f *file) chmod(mode uint32) error {
	if f.typ == unix.S_IFLNK {
		return linux.EOPNOTSUPP
	}
	return errno(chmodFd(f.fd, mode))
}

// chmodFd changes the mode of what fd (not a symlink) refers to. Without
// fchmodat2 it goes through the /proc/self/fd magic link, which for a
// descriptor that is not a symlink resolves to exactly that inode and is
// followed no further (QEMU's virtfs does the same); no file is opened.
func chmodFd(fd int, mode uint32) error {
	if haveEmptyPathChmod.Load() {
		err := unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH)
		if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
			return err
		}
		haveEmptyPathChmod.Store(false)
	}
	return unix.Fchmodat(unix.AT_FDCWD, procFdPath(fd), mode, 0)
}

func (f *file) utimes(ts []unix.Timespec) error {
	if haveEmptyPathUtimes.Load() {
		err := unix.UtimesNanoAt(f.fd, "", ts, unix.AT_EMPTY_PATH)
		if err != unix.EINVAL {
			return errno(err)
		}
		haveEmptyPathUtimes.Store(false)
	}
	if f.typ == unix.S_IFLNK {
		pfd, name, err := f.parent()
		if err != nil {
			return err
		}
		return errno(unix.UtimesNanoAt(pfd, name, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return errno(unix.UtimesNanoAt(unix.AT_FDCWD, procFdPath(f.fd), ts, 0))
}

func procFdPath(fd int) string {
	return "/proc/self/fd/" + itoa(fd)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// created finishes a creation: it looks the new entry up without following
// it, gives it the permission bits the guest asked for if the host's umask
// removed some, and returns its QID.
func (f *file) created(name string, perm uint32) (p9.QID, error) {
	fd, st, err := walkOne(f.fd, name)
	if err != nil {
		return p9.QID{}, err
	}
	defer unix.Close(fd)
	if st.Mode&unix.S_IFMT != unix.S_IFLNK && perm&^st.Mode&0o777 != 0 {
		if err := chmodFd(fd, st.Mode&0o7000|perm&0o777); err != nil {
			return p9.QID{}, errno(err)
		}
	}
	return f.qid(st), nil
}

func (f *file) createCheck(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if f.fs.readOnly {
		return linux.EROFS
	}
	if f.typ != unix.S_IFDIR {
		return linux.ENOTDIR
	}
	return nil
}

// Create implements p9.File.Create: a regular file, opened.
func (f *file) Create(name string, flags p9.OpenFlags, perm p9.FileMode, _ p9.UID, _ p9.GID) (p9.File, p9.QID, uint32, error) {
	if err := f.acquire(); err != nil {
		return nil, p9.QID{}, 0, err
	}
	defer f.release()
	if err := f.createCheck(name); err != nil {
		return nil, p9.QID{}, 0, err
	}
	hf, err := hostOpenFlags(flags)
	if err != nil {
		return nil, p9.QID{}, 0, err
	}
	mode := uint32(perm) & 0o7777
	const always = unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NOCTTY
	fd, err := unix.Openat(f.fd, name, hf|unix.O_CREAT|unix.O_EXCL|always, mode)
	created := err == nil
	if err == unix.EEXIST && flags&dotlExcl == 0 {
		// Open what is there, still without following a symlink, and
		// without blocking on a FIFO (refused below).
		fd, err = unix.Openat(f.fd, name, hf|unix.O_NONBLOCK|always, 0)
	}
	if err != nil {
		return nil, p9.QID{}, 0, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, p9.QID{}, 0, errno(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, p9.QID{}, 0, linux.EEXIST
	}
	if !created {
		// Clear the O_NONBLOCK used to open it.
		fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
		if err != nil {
			unix.Close(fd)
			return nil, p9.QID{}, 0, errno(err)
		}
	}
	if created && mode&^st.Mode&0o777 != 0 {
		// The host's umask took bits the guest asked for.
		if err := unix.Fchmod(fd, st.Mode&0o7000|mode&0o777); err != nil {
			unix.Close(fd)
			return nil, p9.QID{}, 0, errno(err)
		}
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return nil, p9.QID{}, 0, errno(err)
		}
	}
	pathFd, err := dupFd(fd)
	if err != nil {
		unix.Close(fd)
		return nil, p9.QID{}, 0, errno(err)
	}
	pfd, err := dupFd(f.fd)
	if err != nil {
		unix.Close(fd)
		unix.Close(pathFd)
		return nil, p9.QID{}, 0, errno(err)
	}
	nf, err := newFile(f.fs, pathFd, &st, pfd, name)
	if err != nil {
		unix.Close(fd)
		return nil, p9.QID{}, 0, err
	}
	nf.ioWritable = hf&unix.O_ACCMODE != unix.O_RDONLY
	nf.ioFd.Store(int64(fd))
	return nf, nf.qid(&st), 0, nil
}

// Mkdir implements p9.File.Mkdir.
func (f *file) Mkdir(name string, perm p9.FileMode, _ p9.UID, _ p9.GID) (p9.QID, error) {
	if err := f.acquire(); err != nil {
		return p9.QID{}, err
	}
	defer f.release()
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	mode := uint32(perm) & 0o7777
	if err := unix.Mkdirat(f.fd, name, mode); err != nil {
		return p9.QID{}, errno(err)
	}
	return f.created(name, mode)
}

// Symlink implements p9.File.Symlink. The target is stored as given and
// never resolved on the host.
func (f *file) Symlink(target, name string, _ p9.UID, _ p9.GID) (p9.QID, error) {
	if err := f.acquire(); err != nil {
		return p9.QID{}, err
	}
	defer f.release()
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	if err := unix.Symlinkat(target, f.fd, name); err != nil {
		return p9.QID{}, errno(err)
	}
	return f.created(name, 0)
}

// Mknod implements p9.File.Mknod: regular files, FIFOs and sockets; device
// nodes are refused with EPERM.
func (f *file) Mknod(name string, mode p9.FileMode, _, _ uint32, _ p9.UID, _ p9.GID) (p9.QID, error) {
	if err := f.acquire(); err != nil {
		return p9.QID{}, err
	}
	defer f.release()
	if err := f.createCheck(name); err != nil {
		return p9.QID{}, err
	}
	typ := uint32(mode) & unix.S_IFMT
	switch typ {
	case 0:
		typ = unix.S_IFREG
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK:
	case unix.S_IFCHR, unix.S_IFBLK:
		return p9.QID{}, linux.EPERM
	default:
		return p9.QID{}, linux.EINVAL
	}
	perm := uint32(mode) & 0o7777
	if err := unix.Mknodat(f.fd, name, typ|perm, 0); err != nil {
		return p9.QID{}, errno(err)
	}
	return f.created(name, perm)
}

// Link implements p9.File.Link: a hard link in this directory to target,
// a file walked from the same root. It links the inode target holds
// (linkat AT_EMPTY_PATH, which needs CAP_DAC_READ_SEARCH); without that
// privilege it links target's name in its parent descriptor, without
// following a symlink, after checking the name still means that inode.
func (f *file) Link(target p9.File, name string) error {
	if err := f.createCheck(name); err != nil {
		return err
	}
	t, ok := target.(*file)
	if !ok || t.fs != f.fs {
		return linux.EXDEV
	}
	if t.typ == unix.S_IFDIR {
		return linux.EPERM
	}
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.release()
	if err := t.acquire(); err != nil {
		return err
	}
	defer t.release()
	if !linkByName.Load() {
		err := unix.Linkat(t.fd, "", f.fd, name, unix.AT_EMPTY_PATH)
		if err != unix.ENOENT && err != unix.EPERM {
			return errno(err)
		}
	}
	pfd, tname, perr := t.parent()
	if perr != nil {
		return perr
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, tname, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return errno(err)
	}
	if uint64(st.Dev) != t.dev || uint64(st.Ino) != t.ino {
		return linux.ESTALE
	}
	return errno(unix.Linkat(pfd, tname, f.fd, name, 0))
}

// RenameAt implements p9.File.RenameAt.
func (f *file) RenameAt(oldName string, newDir p9.File, newName string) error {
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	if f.fs.readOnly {
		return linux.EROFS
	}
	nd, ok := newDir.(*file)
	if !ok || nd.fs != f.fs {
		return linux.EXDEV
	}
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.release()
	if nd != f {
		if err := nd.acquire(); err != nil {
			return err
		}
		defer nd.release()
	}
	return errno(unix.Renameat(f.fd, oldName, nd.fd, newName))
}

// Rename implements p9.File.Rename (Trename).
func (f *file) Rename(newDir p9.File, newName string) error {
	nd, ok := newDir.(*file)
	if !ok {
		return linux.EXDEV
	}
	return f.renameSelf(nd, newName)
}

// renameSelf moves a non-directory, by the parent and name it was reached
// by, to newName in nd; the file then knows its new name.
func (f *file) renameSelf(nd *file, newName string) error {
	if err := checkName(newName); err != nil {
		return err
	}
	if f.fs.readOnly {
		return linux.EROFS
	}
	if nd.fs != f.fs {
		return linux.EXDEV
	}
	if err := f.acquire(); err != nil {
		return err
	}
	if f.typ == unix.S_IFDIR || f.parentFd < 0 {
		f.release()
		return linux.EOPNOTSUPP // a directory is renamed with RenameAt
	}
	if err := nd.acquire(); err != nil {
		f.release()
		return err
	}
	err := unix.Renameat(f.parentFd, f.name, nd.fd, newName)
	nd.release()
	f.release()
	if err != nil {
		return errno(err)
	}
	f.Renamed(nd, newName)
	return nil
}

// Renamed implements p9.File.Renamed: the file is now newName in newDir.
// A directory keeps no name; a non-directory takes a descriptor of newDir.
func (f *file) Renamed(newDir p9.File, newName string) {
	nd, ok := newDir.(*file)
	if !ok || f.typ == unix.S_IFDIR || nd == f {
		return
	}
	if nd.acquire() != nil {
		return
	}
	pfd, err := dupFd(nd.fd)
	nd.release()
	if err != nil {
		return // later opens fail with ENOENT or ESTALE: never outside
	}
	f.rw.Lock()
	old := f.parentFd
	if f.fd < 0 {
		old = pfd // closed meanwhile
	} else {
		f.parentFd, f.name = pfd, newName
	}
	f.rw.Unlock()
	if old >= 0 {
		unix.Close(old)
	}
}

// UnlinkAt implements p9.File.UnlinkAt (flags 0 or AT_REMOVEDIR).
func (f *file) UnlinkAt(name string, flags uint32) error {
	if err := f.acquire(); err != nil {
		return err
	}
	defer f.release()
	if err := checkName(name); err != nil {
		return err
	}
	if f.fs.readOnly {
		return linux.EROFS
	}
	if flags&^dotlRemoveDir != 0 {
		return linux.EINVAL
	}
	hf := 0
	if flags&dotlRemoveDir != 0 {
		hf = unix.AT_REMOVEDIR
	}
	return errno(unix.Unlinkat(f.fd, name, hf))
}

// Lock implements p9.File.Lock: granted without locking, the guest being
// the only client.
func (f *file) Lock(int, p9.LockType, p9.LockFlags, uint64, uint64, string) (p9.LockStatus, error) {
	return p9.LockStatusOK, nil
}

// Extended attributes are not served. GetXattr and ListXattrs must fail:
// the p9 server shares this File with the xattr fid it would make otherwise,
// and would close it twice.

// SetXattr implements p9.File.SetXattr.
func (f *file) SetXattr(string, []byte, p9.XattrFlags) error { return linux.EOPNOTSUPP }

// GetXattr implements p9.File.GetXattr.
func (f *file) GetXattr(string) ([]byte, error) { return nil, linux.EOPNOTSUPP }

// ListXattrs implements p9.File.ListXattrs.
func (f *file) ListXattrs() ([]string, error) { return nil, linux.EOPNOTSUPP }

// RemoveXattr implements p9.File.RemoveXattr.
func (f *file) RemoveXattr(string) error { return linux.EOPNOTSUPP }

// Close implements p9.File.Close; it may be called more than once. It
// waits for the operations in progress on the file.
func (f *file) Close() error {
	f.rw.Lock()
	f.closeFds()
	f.rw.Unlock()
	return nil
}

func (f *file) closeFds() {
	if f.fd < 0 {
		return
	}
	if fd := f.ioFd.Swap(-1); fd >= 0 {
		unix.Close(int(fd))
	}
	if f.parentFd >= 0 {
		unix.Close(f.parentFd)
		f.parentFd = -1
	}
	unix.Close(f.fd)
	f.fd = -1
}
