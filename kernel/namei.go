package kernel

import "unsafe"

// Path resolution. A walker holds the path being resolved; symbolic links
// met on the way are spliced into it (at most maxSymlinks). A system call
// with two paths (rename, link, symlink) uses one walker for each.

const maxSymlinks = 40

type walker struct {
	buf [4096]byte
	tmp [4096]byte
	n   int // bytes of buf in use
}

var walkers [2]walker

// A walk's outcome: the directory holding the last component, the inode the
// last component names (0: none), and that component (which may be "." or
// ".."; empty for "/").
type walkResult struct {
	dir     int32
	ino     int32
	name    []byte
	slashed bool // the path ended with "/"
	lazy    bool // wLazy: the last component, in a volume, was not looked up (ino is 0)
}

// Walk flags, for the last component, which follows Linux's rules. A
// lookup (stat, open) treats a trailing slash as "the directory named
// here": it follows a symbolic link there and fails with ENOTDIR on
// anything but a directory. A call that creates or removes a name
// (wParent: mkdir, rmdir, unlink, rename, link, symlink, mknod, open with
// O_CREAT) resolves only the parent: a missing last component is not an
// error, and a symbolic link there is the link itself even with a trailing
// slash (rmdir("ld/") is ENOTDIR, it does not remove the directory ld
// points to); such a call decides what the slash means
// (walkResult.slashed). Only open with O_CREAT (wParent|wFollow) follows a
// final link, when no slash ends the path.
const (
	wFollow = 1 << iota // follow a symbolic link in the last component
	wParent             // the call creates, removes or renames the last component
	// wLazy (with wParent): in a volume's directory, leave the last
	// component (a plain name, no trailing slash) to the call, which asks
	// the host directly: the host's answer (EEXIST, ENOENT, EISDIR, ...)
	// is Linux's, and a lookup round trip is saved.
	wLazy
)

// startDir returns the inode a relative path starts from.
func startDir(dirfd uint64) int64 {
	if int32(dirfd) == atFdcwd {
		return int64(cwdIno)
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

// walkUser copies the user path at p into walker w and resolves it.
func walkUser(w *walker, dirfd, p uint64, flags int) (walkResult, int64) {
	n := userPath(p, &w.buf)
	if n < 0 {
		return walkResult{}, n
	}
	if n == 0 {
		return walkResult{}, -eNOENT
	}
	w.n = int(n)
	start := int64(rootIno)
	if w.buf[0] != '/' {
		if start = startDir(dirfd); start < 0 {
			return walkResult{}, start
		}
	}
	return w.walk(int32(start), flags)
}

func (w *walker) walk(cur int32, flags int) (walkResult, int64) {
	if w.buf[0] == '/' {
		cur = rootIno
	}
	pos, links := 0, 0
	for {
		for pos < w.n && w.buf[pos] == '/' {
			pos++
		}
		if pos == w.n { // "/" or a path of only "." components
			return walkResult{dir: cur, ino: cur, slashed: true}, 0
		}
		end := pos
		for end < w.n && w.buf[end] != '/' {
			end++
		}
		if end-pos > 255 {
			return walkResult{}, -eNAMETOOLONG
		}
		comp := w.buf[pos:end]
		rest := end
		for rest < w.n && w.buf[rest] == '/' {
			rest++
		}
		last := rest == w.n
		slashed := last && end < w.n
		if ind(cur).kind != ndDir {
			return walkResult{}, -eNOTDIR
		}
		var child int32
		switch {
		case len(comp) == 1 && comp[0] == '.':
			child = cur
		case len(comp) == 2 && comp[0] == '.' && comp[1] == '.':
			child = cur
			if cur != rootIno {
				child = ind(cur).parent
			}
		case last && flags&wLazy != 0 && !slashed && isRemote(cur):
			return walkResult{dir: cur, name: comp, lazy: true}, 0
		case isRemote(cur):
			r := rLookup(cur, comp)
			if r < 0 && r != -eNOENT {
				return walkResult{}, r
			}
			child = int32(max(r, 0))
		default:
			if e := dirLookup(cur, comp); e != 0 {
				child = den(e).ino
			}
		}
		if child == 0 {
			if last && flags&wParent != 0 {
				return walkResult{dir: cur, name: comp, slashed: slashed}, 0
			}
			return walkResult{}, -eNOENT
		}
		follow := !last
		if last && flags&wParent != 0 {
			follow = flags&wFollow != 0 && !slashed
		} else if last {
			follow = flags&wFollow != 0 || slashed
		}
		if ind(child).kind == ndSymlink && follow {
			if links++; links > maxSymlinks {
				return walkResult{}, -eLOOP
			}
			// buf becomes target + "/" + the rest of the path.
			nd := ind(child)
			tl := int(nd.size)
			rl := w.n - end
			if tl+rl > len(w.tmp) {
				return walkResult{}, -eNAMETOOLONG
			}
			copy(w.tmp[:tl], unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.data))), tl))
			copy(w.tmp[tl:], w.buf[end:w.n])
			w.n = tl + rl
			copy(w.buf[:w.n], w.tmp[:w.n])
			pos = 0
			if tl > 0 && w.buf[0] == '/' {
				cur = rootIno
			}
			if w.n == 0 {
				return walkResult{}, -eNOENT
			}
			continue
		}
		if last {
			if slashed && flags&wParent == 0 && ind(child).kind != ndDir {
				return walkResult{}, -eNOTDIR
			}
			return walkResult{dir: cur, ino: child, name: comp, slashed: slashed}, 0
		}
		cur, pos = child, rest
	}
}

// resolve returns the inode the user path names (following symbolic links
// unless nofollow), or -errno.
func resolve(dirfd, path uint64, nofollow bool) int64 {
	flags := wFollow
	if nofollow {
		flags = 0
	}
	r, err := walkUser(&walkers[0], dirfd, path, flags)
	if err < 0 {
		return err
	}
	return int64(r.ino)
}

// resolveAt is resolve with AT_EMPTY_PATH (an empty path names dirfd
// itself) and AT_SYMLINK_NOFOLLOW.
func resolveAt(dirfd, path, atFlags uint64) int64 {
	if atFlags&atEmptyPath != 0 {
		if userOK(path, 1, false) && *(*byte)(unsafe.Pointer(uintptr(path))) == 0 {
			if int32(dirfd) == atFdcwd {
				return int64(cwdIno)
			}
			f := fdGet(int(int32(dirfd)))
			if f == nil {
				return -eBADF
			}
			if f.node == 0 {
				return -eBADF // not a file of the tree (pipe, socket, ...): callers use the fd
			}
			return int64(f.node)
		}
	}
	return resolve(dirfd, path, atFlags&atSymlinkNofollow != 0)
}
