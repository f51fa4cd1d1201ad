// Package p9fs serves one host directory to a guest as a 9P2000.L file
// system, the server side of a `mote run -v HOST:GUEST[:ro]` volume.
//
// New opens HOST once and returns an *FS. A Session (FS.NewSession)
// answers one client's requests synchronously, message by message: the
// virtio-9p device calls it for each request it takes off the virtqueue.
// FS.Serve runs a Session over a byte stream. The files implement
// p9.File of github.com/hugelgupf/p9 (whose types the package uses), and
// *FS is a p9.Attacher (every attach is the root of HOST); the package's
// own server replaced that library's, which costs goroutine hand-offs per
// request, masks set-user-ID and set-group-ID bits away, and refuses
// setattr on a file whose name was removed.
//
// # What it guarantees
//
// Nothing outside HOST is ever reached, whatever the guest sends:
//
//   - No host path strings. HOST is the only path ever resolved by name,
//     once, in New. Every other file is reached from a file descriptor by
//     a *at system call given exactly one path component, and a component
//     that is empty, ".", "..", or holds "/" or NUL is refused with EINVAL
//     before any system call (the p9 server refuses them too). So a walk
//     can only go down, one directory at a time, from HOST; ".." is never
//     walked on the host (at the root or anywhere): the guest resolves it
//     in its own path.
//
//   - O_NOFOLLOW everywhere. A walk opens each component with
//     openat(dirfd, name, O_PATH|O_NOFOLLOW|O_CLOEXEC); on a symlink it
//     gets the link itself, and walks no further through a non-directory.
//     Every other call either works on the walked descriptor itself
//     (fstat, fstatfs, fchownat/fchmodat2/utimensat with AT_EMPTY_PATH,
//     readlinkat with ""), or names one component in a directory
//     descriptor without following it (AT_SYMLINK_NOFOLLOW, linkat without
//     AT_SYMLINK_FOLLOW, O_NOFOLLOW, mkdirat, mknodat, symlinkat,
//     unlinkat, renameat). A component swapped for a symlink between a
//     walk and an open is therefore never followed: the open fails with
//     ELOOP.
//
//   - The guest resolves symlinks. Readlink returns the target text as
//     stored; the guest follows it in its own view of the volume, so an
//     absolute target such as "/etc" or a relative one such as "../../x"
//     names a file in the guest (inside its mount of HOST, or elsewhere in
//     the guest), never a host file.
//
//   - Opening for I/O never reopens a descriptor through /proc/self/fd (a
//     classic escape). A directory is opened with openat(dirfd, ".",
//     O_RDONLY|O_DIRECTORY); any other file with openat(parentfd, name,
//     flags|O_NOFOLLOW), and the device and inode of what was opened must
//     be those of the walked file or the open fails with ESTALE (O_TRUNC
//     is applied only after that check). Device nodes are never opened
//     (EPERM), nor created by mknod.
//
//   - Hard links and renames take both ends from descriptors that were
//     themselves reached from HOST, and from the same FS (else EXDEV).
//
//   - A descriptor is never closed while an operation uses it (each file
//     has a lock that operations share and Close takes), so no operation
//     can act on a recycled descriptor number, whatever the order in which
//     the p9 server or the end of a connection closes files.
//
// Besides: fsync is fsync(2) on the host descriptor and the reply is sent
// only after it returned, so the data is on the host's disk. A read-only
// volume answers EROFS to every operation that would modify it (create,
// opens for writing or with O_TRUNC, write, setattr, mkdir, mknod,
// symlink, link, rename, unlink). Errors are the host's errno, unchanged.
// A readdir entry's type byte is the Linux d_type, as 9P2000.L clients
// expect, and its offset the host's d_off, so a readdir resumes exactly.
//
// # Limits
//
// The guest cannot move a directory out of HOST, but a host process can:
// a guest file inside a directory that a host process moves elsewhere
// follows it (as an open directory does). Without fchmodat2 (Linux 6.6)
// chmod goes through the /proc/self/fd link of the walked descriptor, and
// on kernels whose utimensat lacks AT_EMPTY_PATH so does utimes; that
// link resolves to exactly the walked inode, which is then not a symlink,
// and nothing is opened through it. Extended attributes are not supported
// (EOPNOTSUPP); locks are granted without locking (one guest is the only
// client); Tgetlock fails (the p9 package does not know it). New files
// belong to the user running the server (the uid and gid the guest sends
// at creation are ignored; setattr's chown is the host's chown, with its
// permission check), and get the exact permission bits the guest asked
// for, whatever the server's umask. The server keeps one descriptor per
// guest fid, and one more for the parent directory of a non-directory.
package p9fs

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// FS serves one host directory. It implements p9.Attacher.
type FS struct {
	rootFd   int // O_PATH descriptor of HOST, -1 after Close
	rootDev  uint64
	rootIno  uint64
	readOnly bool

	mu sync.Mutex // guards rootFd against Close
}

var _ p9.Attacher = (*FS)(nil)

// New opens the host directory root (following symlinks in root itself:
// the user names it) and returns a server for it. With readOnly every
// modifying operation fails with EROFS.
func New(root string, readOnly bool) (*FS, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("p9fs: open %s: %w", root, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("p9fs: stat %s: %w", root, err)
	}
	return &FS{rootFd: fd, rootDev: uint64(st.Dev), rootIno: uint64(st.Ino), readOnly: readOnly}, nil
}

// ReadOnly reports whether the volume is served read-only.
func (fs *FS) ReadOnly() bool { return fs.readOnly }

// Attach implements p9.Attacher: it returns the root of the volume. (To
// serve a connection, use NewSession or Serve.)
func (fs *FS) Attach() (p9.File, error) {
	return fs.attach()
}

func (fs *FS) attach() (p9.File, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.rootFd < 0 {
		return nil, errno(unix.EBADF)
	}
	fd, err := dupFd(fs.rootFd)
	if err != nil {
		return nil, errno(err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, errno(err)
	}
	f, err := newFile(fs, fd, &st, -1, "")
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Close releases the root descriptor: later attaches fail. Files already
// attached keep working until they are clunked.
func (fs *FS) Close() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.rootFd < 0 {
		return nil
	}
	err := unix.Close(fs.rootFd)
	fs.rootFd = -1
	return err
}

// qidPath is the QID path of a host inode: its inode number on HOST's
// file system, mixed with the device number on another mounted inside.
func (fs *FS) qidPath(dev, ino uint64) uint64 {
	if dev == fs.rootDev {
		return ino
	}
	return ino ^ (dev+1)*0x9e3779b97f4a7c15
}

// errno converts a host error to the p9 package's errno type, so that it
// crosses the wire unchanged (p9 would otherwise turn EPERM into EACCES
// and ENOTEMPTY into EEXIST through os.ErrPermission and os.ErrExist).
func errno(err error) error {
	if err == nil {
		return nil
	}
	var e unix.Errno
	if errors.As(err, &e) {
		return linux.Errno(e)
	}
	return err
}
