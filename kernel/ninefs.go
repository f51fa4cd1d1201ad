package kernel

import (
	"syscall"
	"unsafe"
)

// Host directory volumes in the file tree: each is a file system id whose
// inodes stand for host files reached over 9P (ninep.go). Design notes:
// docs/volumes.md.
//
//   - Remote inodes have kinds ndDir, ndSymlink and ndRFile (anything
//     else), and hold a fid walked to their file. They are cached by
//     (fs, qid.path), so that hard links and repeated lookups meet one
//     inode; every lookup walks again (Twalkgetattr), so the host may change
//     the directory at any time, and attributes come fresh with it. A
//     symbolic link's target is read once per inode (a link cannot change;
//     a replaced one is a new inode).
//   - Path resolution stays in the guest (namei.go): the walk asks for one
//     component at a time, resolves ".." through the parent pointer that a
//     remote directory gets from the lookup that found it, and follows
//     symbolic links in the guest's own tree, so a link's target never
//     names a host path.
//   - An open file has a fid of its own (a clone of the inode's, Tlopen'ed)
//     for reads, writes, fsync and directory reads; close clunks it.
//     Nothing is cached: reads and writes go to the host each time, and
//     fsync is Tfsync, which the server answers after fsync(2) on the host.
//   - Calls that block. A 9P call sleeps until its reply, with the kernel
//     lock released, so other threads run meanwhile. The tree is
//     protected by a sleeping lock (vfsLock) that every path system call
//     holds: a walk, which may sleep at any component, never meets a tree
//     another thread is changing. Calls on an open file (read, write,
//     fsync, getdents, fstat) do not take it: they hold a reference on
//     their file, whose inode stays.
//   - Remote inodes are freed only by rEvict at the start of a path call
//     (no walk is then in progress): those nothing opens and no cached
//     child names as parent, when the cache is over rCacheMax or once
//     they are unlinked.

const (
	ndRFile = ndSock + 1 // a volume's file that is neither directory nor symbolic link

	rHashSize = 1024
	rCacheMax = 1024 // each holds a host descriptor or two in the server
)

var (
	fsRemote   [maxFS]int8 // 1 + the 9P device of a volume's file system, 0 for others
	fsReadOnly [maxFS]bool
	fsRootIno  [maxFS]int32 // a volume's root directory

	rHash  [rHashSize]int32 // remote inodes by qid.path, chained through hnext
	rCount int
	rSweep bool  // a remote inode lost its last link: rEvict frees it once closed
	rFresh int32 // the inode whose attributes the current call looked up
	// The fid a lookup replaced in the current call (rLookup): an open
	// of that inode takes the new, unopened fid and gives the inode this
	// one back, saving a clone; else it is clunked when the call ends.
	rPrevIno int32
	rPrevFid uint32
	// Non-directories that got a fid in the current call (rCallDone).
	rTouched  [8]int32
	rNTouched int
	vfsOwner  uint64
)

func isRemote(i int32) bool { return fsRemote[ind(i).fs] != 0 }

func devOf(nd *inode) *p9dev { return &p9devs[fsRemote[nd.fs]-1] }

// vfsLock takes the tree's sleeping lock (only with volumes: without them
// nothing in the tree sleeps).
func vfsLock() {
	for vfsOwner != 0 {
		waitAdd(curThread(), waitVFS, 0)
		block(0, false)
	}
	vfsOwner = threadAddr(curThread())
}

func vfsUnlock() {
	vfsOwner = 0
	wakeWaiters(waitVFS, 0, 1)
}

// fsLocked reports whether system call nr needs the tree's lock: every
// path call does; calls on an open file do not.
func fsLocked(nr uint64) bool {
	switch nr {
	case 5, 8, 17, 18, 19, 20, 74, 75, 217, 295, 296:
		return false
	}
	return true
}

// ready makes sure the inode's volume is connected and its fid known (a
// mount root gets the attach fid).
func rReady(nd *inode) (*p9dev, int64) {
	d := devOf(nd)
	if e := d.ready(); e < 0 {
		return d, e
	}
	if nd.fid == 0 && ind(fsRootIno[nd.fs]) == nd {
		nd.fid = d.rootFid
	}
	return d, 0
}

// rFidFor is a fid of remote inode ino: its own, or (for a file whose own
// was released, rCallDone) one of its open files'; 0 if none.
func rFidFor(ino int32) uint32 {
	if f := ind(ino).fid; f != 0 {
		return f
	}
	for i := range files {
		if f := &files[i]; f.refs > 0 && f.node == ino && f.fid != 0 {
			return f.fid
		}
	}
	return 0
}

// rInodeFid readies an inode's volume and finds a fid for it (rFidFor).
func rInodeFid(ino int32) (*p9dev, uint32, int64) {
	d, e := rReady(ind(ino))
	if e < 0 {
		return d, 0, e
	}
	fid := rFidFor(ino)
	if fid == 0 {
		return d, 0, -eSTALE
	}
	return d, fid, 0
}

// rTouch notes a non-directory inode that got a fid in this call.
func rTouch(ino int32) {
	for i := 0; i < rNTouched; i++ {
		if rTouched[i] == ino {
			return
		}
	}
	if rNTouched < len(rTouched) {
		rTouched[rNTouched] = ino
		rNTouched++
	}
}

// rCallDone ends a path call: the fid a lookup replaced is clunked, and
// files and links nothing has open give their fid back. A host descriptor
// then pins no file the guest does not use: a removed file's inode is
// freed on the host at once (an unlinked file still open on the host is
// an orphan inode, and ext4 creates got ~20x slower with hundreds of them).
// Their next use looks them up again anyway.
func rCallDone() {
	rPrevDone()
	for i := 0; i < rNTouched; i++ {
		nd := ind(rTouched[i])
		if nd.kind != ndDir && nd.kind != ndFree && nd.opens == 0 && nd.fid != 0 && isRemote(rTouched[i]) {
			devOf(nd).clunk(nd.fid)
			nd.fid = 0
		}
	}
	rNTouched = 0
}

func rBucket(fs uint8, qpath uint64) *int32 {
	h := (qpath ^ uint64(fs)<<56) * 0x9e3779b97f4a7c15
	return &rHash[h>>(64-10)]
}

func rFind(fs uint8, qpath uint64) int32 {
	for i := *rBucket(fs, qpath); i != 0; i = ind(i).hnext {
		if nd := ind(i); nd.fs == fs && nd.qpath == qpath {
			return i
		}
	}
	return 0
}

func rUnhash(i int32) {
	nd := ind(i)
	p := rBucket(nd.fs, nd.qpath)
	for *p != 0 {
		if *p == i {
			*p = nd.hnext
			break
		}
		p = &ind(*p).hnext
	}
	nd.hnext = 0
	nd.qpath = ^uint64(0) // unhashed
}

func rKind(mode uint32) uint8 {
	switch mode & syscall.S_IFMT {
	case syscall.S_IFDIR:
		return ndDir
	case syscall.S_IFLNK:
		return ndSymlink
	}
	return ndRFile
}

func rSetAttr(nd *inode, a *p9attr) {
	nd.mode = a.mode & 0o7777
	nd.rtype = a.mode & syscall.S_IFMT
	nd.uid, nd.gid = a.uid, a.gid
	nd.nlink = int32(min(a.nlink, 1<<30))
	nd.size = int64(a.size)
	nd.atime, nd.mtime, nd.ctime = a.atime, a.mtime, a.ctime
}

// rName keeps a remote directory's name (for getcwd).
func rName(nd *inode, name []byte) {
	if nd.dnameCls != 0 {
		if string(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.dname))), nd.dnameLen)) == string(name) {
			return
		}
		kfree(nd.dname, nd.dnameCls-1)
	}
	nd.dnameCls, nd.dnameLen = 0, 0
	if len(name) == 0 {
		return
	}
	cls := sizeClass(uint64(len(name)))
	if p := kmalloc(cls); p != 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), len(name)), name)
		nd.dname, nd.dnameLen, nd.dnameCls = p, uint16(len(name)), cls+1
	}
}

// rSetParent records that directory ino is named name in dir.
func rSetParent(ino, dir int32, name []byte) {
	nd := ind(ino)
	if nd.parent != dir {
		if nd.parent != 0 && isRemote(nd.parent) {
			ind(nd.parent).kids--
		}
		nd.parent = dir
		ind(dir).kids++
	}
	rName(nd, name)
}

// rLookup walks name in remote directory dir: the inode, or -errno.
func rLookup(dir int32, name []byte) int64 {
	dn := ind(dir)
	d, e := rReady(dn)
	if e < 0 {
		return e
	}
	fid := d.newFid()
	var a p9attr
	if e := d.walk(dn.fid, fid, name, &a); e < 0 {
		d.dropFid(fid)
		return e
	}
	kind := rKind(a.mode)
	ino := rFind(dn.fs, a.qpath)
	if ino != 0 && (ind(ino).kind != kind || kind == ndSymlink) {
		rUnhash(ino) // another file now, or a link (re-read its target)
		ino = 0
	}
	switch {
	case ino != 0 && kind == ndDir:
		// Keep the directory's fid: the server makes each fid walked
		// from it hold it, so a new one per lookup would keep every
		// old one alive with the children cached.
		d.clunk(fid)
	case ino != 0:
		// The server ties a file's fid to the name it was walked
		// through (an open goes by parent and name): keep the newest.
		rPrevDone()
		rPrevIno, rPrevFid = ino, ind(ino).fid
		ind(ino).fid = fid
	default:
		if ino = rNew(dn.fs, kind, fid, a.qpath); ino == 0 {
			d.clunk(fid)
			return -eNOMEM
		}
		if kind == ndSymlink {
			if e := rReadlink(d, ind(ino)); e < 0 {
				rFree(ino)
				return e
			}
		}
	}
	nd := ind(ino)
	rSetAttr(nd, &a)
	if kind == ndDir {
		rSetParent(ino, dir, name)
	} else {
		rTouch(ino)
	}
	rFresh = ino
	return int64(ino)
}

// rNew makes a remote inode for fid.
func rNew(fs, kind uint8, fid uint32, qpath uint64) int32 {
	ino := newInode(kind, fs, 0)
	if ino == 0 {
		return 0
	}
	nd := ind(ino)
	nd.fid, nd.qpath = fid, qpath
	b := rBucket(fs, qpath)
	nd.hnext = *b
	*b = ino
	rCount++
	return ino
}

// rFree frees a remote inode and clunks its fid.
func rFree(i int32) {
	nd := ind(i)
	if nd.qpath != ^uint64(0) {
		rUnhash(i)
	}
	if nd.kind == ndDir && nd.parent != 0 && isRemote(nd.parent) {
		ind(nd.parent).kids--
	}
	if nd.owned != 0 {
		kfree(nd.data, nd.owned-1)
	}
	if nd.dnameCls != 0 {
		kfree(nd.dname, nd.dnameCls-1)
	}
	devOf(nd).clunk(nd.fid)
	rCount--
	*nd = inode{parent: inodeFreeL}
	inodeFreeL = i
}

// rEvict frees remote inodes nothing holds: all of them once unlinked,
// the others when the cache is full (down to half). It runs at the start
// of a path call, so no walk holds an inode it could free.
func rEvict() {
	if !rSweep && rCount <= rCacheMax {
		return
	}
	rSweep = false
	for pass := 0; pass < 8; pass++ {
		freed := false
		for i := int32(1); i <= inodeSlots; i++ {
			nd := ind(i)
			if nd.kind == ndFree || fsRemote[nd.fs] == 0 || nd.opens > 0 || nd.kids > 0 || i == cwdIno {
				continue
			}
			if nd.nlink > 0 && rCount <= rCacheMax/2 {
				continue
			}
			rFree(i)
			freed = true
		}
		if !freed || rCount <= rCacheMax/2 {
			return
		}
	}
}

// rRefresh reads the attributes of a remote inode again (unless the
// current call just looked it up).
func rRefresh(ino int32) int64 {
	if ino == rFresh {
		return 0
	}
	nd := ind(ino)
	d, fid, e := rInodeFid(ino)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tgetattr)
	m.u32(fid)
	m.u64(0x3fff)
	r, e := d.call(s, &m)
	if e == 0 {
		var a p9attr
		r.u64()
		q := r.qid()
		r.attr(&a)
		if !r.bad {
			rSetAttr(nd, &a)
			if nd.qpath == ^uint64(0) {
				nd.qpath = q // a mount root, or an unlinked file: for st_ino
			}
		}
	}
	d.release(s)
	return e
}

// walk walks one name from fid to newfid and reads the attributes.
func (d *p9dev) walk(fid, newfid uint32, name []byte, a *p9attr) int64 {
	s := d.slot()
	typ := uint8(p9Twalkgetattr)
	if !d.google {
		typ = p9Twalk
	}
	m := d.begin(s, typ)
	m.u32(fid)
	m.u32(newfid)
	m.u16(1)
	m.str(name)
	r, e := d.call(s, &m)
	if e == 0 && d.google {
		r.u64()
		r.attr(a)
		if r.u16() != 1 {
			e = -eNOENT
		}
		a.qpath = r.qid()
	} else if e == 0 {
		if r.u16() != 1 {
			e = -eNOENT
		}
	}
	if e == 0 && r.bad {
		e = -eIO
	}
	d.release(s)
	if e == 0 && !d.google {
		// Plain 9P2000.L: a Tgetattr of its own.
		s = d.slot()
		m = d.begin(s, p9Tgetattr)
		m.u32(newfid)
		m.u64(0x3fff)
		r, e = d.call(s, &m)
		if e == 0 {
			r.u64()
			a.qpath = r.qid()
			r.attr(a)
		}
		d.release(s)
		if e < 0 {
			d.clunk(newfid)
			return e
		}
	}
	return e
}

// rReadlink reads a symbolic link's target into the inode.
func rReadlink(d *p9dev, nd *inode) int64 {
	s := d.slot()
	m := d.begin(s, p9Treadlink)
	m.u32(nd.fid)
	r, e := d.call(s, &m)
	if e == 0 {
		p, l := r.str()
		switch {
		case r.bad:
			e = -eIO
		case l == 0 || l > pageSize:
			e = -eNAMETOOLONG
		default:
			cls := sizeClass(uint64(l))
			if nd.data = kmalloc(cls); nd.data == 0 {
				e = -eNOMEM
			} else {
				copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.data))), l), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), l))
				nd.owned, nd.size = cls+1, int64(l)
			}
		}
	}
	d.release(s)
	return e
}

// p9Flags translates open flags for Tlopen and Tlcreate (9P2000.L uses
// Linux's values; O_APPEND is the guest's business, see rWrite).
func p9Flags(flags uint64) uint32 {
	f := uint32(flags & (oAccmode | oTrunc | oExcl | syscall.O_SYNC | syscall.O_DSYNC))
	if f&oAccmode == oAccmode {
		f &^= oAccmode // access mode 3 (ioctl only): opened for reading, refused by canRead
	}
	return f
}

// rPrevDone clunks the fid the last lookup replaced, if no open took it.
func rPrevDone() {
	if rPrevFid != 0 {
		devOf(ind(rPrevIno)).clunk(rPrevFid)
		rPrevFid = 0
	}
}

// rOpen opens an inode: a clone of its fid (or the fresh fid of a lookup in
// this call), Tlopen'ed.
func rOpen(ino int32, flags uint64) (uint32, int64) {
	fid, e := rOpenFid(ino, flags)
	if e == 0 && flags&oTrunc != 0 && ind(ino).kind == ndRFile {
		ind(ino).size = 0
		pcTruncate(ino, 0) // the host truncated it: so do its mappings
	}
	return fid, e
}

func rOpenFid(ino int32, flags uint64) (uint32, int64) {
	nd := ind(ino)
	d, e := rReady(nd)
	if e < 0 {
		return 0, e
	}
	if rFresh == ino && nd.kind != ndDir && nd.fid != 0 {
		// The lookup of this call walked a fid for it: open that one
		// (the inode then does without one while it is open: rFidFor).
		s := d.slot()
		m := d.begin(s, p9Tlopen)
		m.u32(nd.fid)
		m.u32(p9Flags(flags &^ oExcl))
		_, e = d.call(s, &m)
		d.release(s)
		if e < 0 {
			return 0, e
		}
		fid := nd.fid
		nd.fid = 0
		return fid, 0
	}
	src := rFidFor(ino)
	if src == 0 {
		return 0, -eSTALE
	}
	fid := d.newFid()
	s := d.slot()
	m := d.begin(s, p9Twalk)
	m.u32(src)
	m.u32(fid)
	m.u16(0)
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		d.dropFid(fid)
		return 0, e
	}
	s = d.slot()
	m = d.begin(s, p9Tlopen)
	m.u32(fid)
	m.u32(p9Flags(flags &^ oExcl))
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		d.clunk(fid)
		return 0, e
	}
	return fid, 0
}

// rCreate creates and opens name in remote directory dir: the new inode
// and the open fid.
func rCreate(dir int32, name []byte, flags, mode uint64) (int32, uint32, int64) {
	dn := ind(dir)
	d, e := rReady(dn)
	if e < 0 {
		return 0, 0, e
	}
	if fsReadOnly[dn.fs] {
		return 0, 0, -eROFS
	}
	if d.mote {
		return rMcreate(d, dir, name, flags, mode)
	}
	fid := d.newFid()
	s := d.slot()
	m := d.begin(s, p9Twalk)
	m.u32(dn.fid)
	m.u32(fid)
	m.u16(0)
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		d.dropFid(fid)
		return 0, 0, e
	}
	s = d.slot()
	m = d.begin(s, p9Tlcreate)
	m.u32(fid)
	m.str(name)
	m.u32(p9Flags(flags))
	m.u32(uint32(mode&0o7777) | syscall.S_IFREG)
	m.u32(dn.gid)
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		d.clunk(fid)
		return 0, 0, e
	}
	ino := rLookup(dir, name)
	if ino < 0 {
		d.clunk(fid)
		return 0, 0, ino
	}
	return int32(ino), fid, 0
}

// rMcreate creates (or opens) name in remote directory dir in one round
// trip (Tmcreate): the open fid, and a walked fid for the inode.
func rMcreate(d *p9dev, dir int32, name []byte, flags, mode uint64) (int32, uint32, int64) {
	dn := ind(dir)
	openFid, pathFid := d.newFid(), d.newFid()
	s := d.slot()
	m := d.begin(s, p9Tmcreate)
	m.u32(dn.fid)
	m.u32(openFid)
	m.u32(pathFid)
	m.str(name)
	m.u32(p9Flags(flags))
	m.u32(uint32(mode&0o7777) | syscall.S_IFREG)
	m.u32(dn.gid)
	r, e := d.call(s, &m)
	var a p9attr
	if e == 0 {
		a.qpath = r.qid()
		r.u32() // iounit
		r.u64() // valid
		r.attr(&a)
		if r.bad {
			e = -eIO
		}
	}
	d.release(s)
	if e < 0 {
		d.dropFid(openFid)
		d.dropFid(pathFid)
		return 0, 0, e
	}
	ino := rFind(dn.fs, a.qpath)
	if ino != 0 && ind(ino).kind == ndRFile {
		// An existing file opened: the new fid names it as now.
		rPrevDone()
		rPrevIno, rPrevFid = ino, ind(ino).fid
		ind(ino).fid = pathFid
	} else {
		if ino != 0 {
			rUnhash(ino)
		}
		if ino = rNew(dn.fs, ndRFile, pathFid, a.qpath); ino == 0 {
			d.clunk(pathFid)
			d.clunk(openFid)
			return 0, 0, -eNOMEM
		}
	}
	rSetAttr(ind(ino), &a)
	if flags&oTrunc != 0 {
		pcTruncate(ino, 0) // an existing file truncated: so are its mappings
	}
	rTouch(ino)
	rFresh = ino
	return ino, openFid, 0
}

// rIO takes a reference on f for a call that may sleep (another thread
// may close the descriptor meanwhile).
func rIO(f *file) int32 {
	fi := fileIndex(f)
	f.refs++
	return fi
}

// p9Pipe is how many Treads or Twrites one call keeps in flight: the
// server works on the next piece while the guest copies one.
const p9Pipe = 4

// rRead reads from an open remote file at pos into user memory [p, p+n).
func rRead(f *file, p, n uint64, pos int64) int64 {
	fi := rIO(f)
	defer releaseFile(fi)
	if nd := ind(f.node); nd.maps > 0 && nd.height > 0 {
		return pcRead(f, p, n, pos) // mapped: the cache may be newer (fmap.go)
	}
	got, err := rPipeIO(f, p, n, pos, false)
	if got == 0 && err < 0 {
		return err
	}
	return int64(got)
}

// rWrite writes user memory [p, p+n) to an open remote file at pos (the
// end with O_APPEND, as the host sees it now).
func rWrite(f *file, p, n uint64, pos int64, usePos bool) int64 {
	nd := ind(f.node)
	fi := rIO(f)
	defer releaseFile(fi)
	if f.flags&oAppend != 0 {
		rFresh = 0
		if e := rRefresh(f.node); e < 0 {
			return e
		}
		pos = nd.size
	}
	if nd.maps > 0 {
		nd.pcGen++ // a page being read in now may miss this write (fmap.go)
	}
	put, err := rPipeIO(f, p, n, pos, true)
	if put == 0 && err < 0 {
		return err
	}
	if nd.maps > 0 {
		nd.pcGen++                   // and after: a read-in that raced the write is stale
		pcWrote(f.node, p, put, pos) // what the mappings see (fmap.go)
	}
	if end := pos + int64(put); end > nd.size {
		nd.size = end
	}
	if !usePos {
		f.off = pos + int64(put)
	}
	return int64(put)
}

// rPipeIO moves up to n bytes between user memory at p and the open file
// f at pos (Twrite with write, else Tread), keeping up to p9Pipe requests
// in flight: the server works on the next piece while the guest copies
// one. It stops at a short count (the end of the file, a full disk) and
// returns the bytes moved and the first error.
func rPipeIO(f *file, p, n uint64, pos int64, write bool) (uint64, int64) {
	d := devOf(ind(f.node))
	// Fault the buffer in before taking any slot: a page of a volume
	// file's mapping is read from the host, which needs a slot too.
	if !userOK(p, n, !write) {
		return 0, -eFAULT
	}
	chunk := uint64(d.msize - p9Hdr - 4)
	if write {
		chunk = uint64(d.msize - p9Hdr - 16)
	}
	var slots [p9Pipe]int
	var asked [p9Pipe]uint64
	done := uint64(0)
	for done < n {
		k, off := 0, done
		var err int64
		for k < p9Pipe && off < n && (k == 0 || d.free != 0) {
			c := min(n-off, chunk)
			if write && !userOK(p+off, c, false) {
				err = -eFAULT
				break
			}
			s := d.slot()
			m := d.begin(s, p9Tread)
			if write {
				m = d.begin(s, p9Twrite)
			}
			m.u32(f.fid)
			m.u64(uint64(pos) + off)
			m.u32(uint32(c))
			if write {
				copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(m.at(m.n)))), c), userBytes(p+off, c))
				m.n += uint32(c)
			}
			d.send(s, &m)
			slots[k], asked[k] = s, c
			k++
			off += c
		}
		// The replies, in order: after a short one the rest is not
		// counted (for reads, it is past the end).
		short := false
		for i := 0; i < k; i++ {
			r, e := d.finish(slots[i])
			if e == 0 && err == 0 && !short {
				cnt := uint64(r.u32())
				var src uint64
				if !write {
					src = r.take(uint32(cnt))
				}
				switch {
				case r.bad || cnt > asked[i]:
					e = -eIO
				case !write && !userOK(p+done, cnt, true): // unmapped while we slept
					e = -eFAULT
				default:
					if !write {
						copy(userBytes(p+done, cnt), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(src))), cnt))
					}
					done += cnt
					short = cnt < asked[i]
				}
			}
			if e < 0 && err == 0 && !short {
				err = e
			}
			d.release(slots[i])
		}
		if err < 0 {
			return done, err
		}
		if short {
			break
		}
	}
	return done, 0
}

// rFsync sends Tfsync for an open file: the server answers after the
// host's fsync(2), or fdatasync(2) with datasync set.
func rFsync(f *file, datasync bool) int64 {
	if f.fid == 0 {
		return -eBADF
	}
	d := devOf(ind(f.node))
	fi := rIO(f)
	defer releaseFile(fi)
	if e := pcWriteback(f.node, 0, ^uint64(0), f); e < 0 {
		return e // what the program wrote through mappings first
	}
	s := d.slot()
	m := d.begin(s, p9Tfsync)
	m.u32(f.fid)
	if datasync {
		m.u32(1)
	} else {
		m.u32(0)
	}
	_, e := d.call(s, &m)
	d.release(s)
	return e
}

// rGetdents reads a remote directory into user memory as linux_dirent64;
// f.off is the server's offset after the last entry returned.
func rGetdents(f *file, buf, n uint64) int64 {
	d := devOf(ind(f.node))
	fi := rIO(f)
	defer releaseFile(fi)
	s := d.slot()
	m := d.begin(s, p9Treaddir)
	m.u32(f.fid)
	m.u64(uint64(f.off))
	// At least a page: an entry that does not fit n must come back for
	// EINVAL, not an empty read (end of directory).
	m.u32(uint32(min(max(n, pageSize), uint64(d.msize-p9Hdr-4))))
	r, e := d.call(s, &m)
	if e < 0 {
		d.release(s)
		return e
	}
	cnt := r.u32()
	end := r.pos + cnt
	if r.bad || end > r.n {
		d.release(s)
		return -eIO
	}
	r.n = end
	written := uint64(0)
	full := false
	if !userOK(buf, n, true) {
		d.release(s)
		return -eFAULT
	}
	for r.pos < r.n {
		qtype := r.u8()
		r.u32()
		qpath := r.u64()
		off := r.u64()
		typ := r.u8()
		np, nl := r.str()
		if r.bad {
			break
		}
		_ = qtype
		reclen := (19 + uint64(nl) + 1 + 7) &^ 7
		if written+reclen > n {
			full = true
			break
		}
		p := buf + written
		clear(userBytes(p, reclen))
		*userU64(p) = qpath
		*userU64(p + 8) = off
		*(*uint16)(unsafe.Pointer(uintptr(p + 16))) = uint16(reclen)
		*(*byte)(unsafe.Pointer(uintptr(p + 18))) = typ
		copy(userBytes(p+19, uint64(nl)), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(np))), nl))
		written += reclen
		f.off = int64(off)
	}
	d.release(s)
	if written == 0 && full {
		return -eINVAL
	}
	return int64(written)
}

// rDirCall sends a message about name in remote directory dir (Tmkdir,
// Tsymlink, Tmknod, Tunlinkat, Tlink); fill writes the fields after the
// directory's fid (and the name, unless the message puts it later).
func rCheckDir(dir int32) (*p9dev, int64) {
	dn := ind(dir)
	d, e := rReady(dn)
	if e < 0 {
		return d, e
	}
	if fsReadOnly[dn.fs] {
		return d, -eROFS
	}
	return d, 0
}

func rMkdir(dir int32, name []byte, mode uint64) int64 {
	d, e := rCheckDir(dir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tmkdir)
	m.u32(ind(dir).fid)
	m.str(name)
	m.u32(uint32(mode))
	m.u32(ind(dir).gid)
	_, e = d.call(s, &m)
	d.release(s)
	return e
}

func rMknod(dir int32, name []byte, mode uint64) int64 {
	d, e := rCheckDir(dir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tmknod)
	m.u32(ind(dir).fid)
	m.str(name)
	m.u32(uint32(mode))
	m.u32(0)
	m.u32(0)
	m.u32(ind(dir).gid)
	_, e = d.call(s, &m)
	d.release(s)
	return e
}

func rSymlink(dir int32, name, target []byte) int64 {
	d, e := rCheckDir(dir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tsymlink)
	m.u32(ind(dir).fid)
	m.str(name)
	m.str(target)
	m.u32(ind(dir).gid)
	_, e = d.call(s, &m)
	d.release(s)
	return e
}

func rLink(ino, dir int32, name []byte) int64 {
	d, e := rCheckDir(dir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tlink)
	m.u32(ind(dir).fid)
	m.u32(rFidFor(ino))
	m.str(name)
	_, e = d.call(s, &m)
	d.release(s)
	if e == 0 {
		ind(ino).nlink++
	}
	return e
}

// rUnlink removes name (inode ino) from remote directory dir.
func rUnlink(dir int32, name []byte, ino int32, rmdir bool) int64 {
	d, e := rCheckDir(dir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tunlinkat)
	m.u32(ind(dir).fid)
	m.str(name)
	flags := uint32(0)
	if rmdir {
		flags = atRemovedir
	}
	m.u32(flags)
	_, e = d.call(s, &m)
	d.release(s)
	if e == 0 && ino == 0 && rmdir {
		ino = rCachedDir(dir, name) // a working directory, or open
	}
	if e == 0 && ino != 0 {
		rUnlinked(ino)
	}
	return e
}

// rCachedDir finds the cached directory named name in remote directory
// dir, or 0.
func rCachedDir(dir int32, name []byte) int32 {
	if ind(dir).kids == 0 {
		return 0
	}
	for i := int32(1); i <= inodeSlots; i++ {
		nd := ind(i)
		if nd.kind == ndDir && nd.parent == dir && nd.dnameCls != 0 && isRemote(i) &&
			string(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(nd.dname))), nd.dnameLen)) == string(name) {
			return i
		}
	}
	return 0
}

// rUnlinked notes that a name of remote inode ino is gone.
func rUnlinked(ino int32) {
	nd := ind(ino)
	if nd.kind == ndDir || nd.nlink <= 1 {
		nd.nlink = 0
		rUnhash(ino) // the host may reuse its inode number
		rSweep = true
	} else {
		nd.nlink--
	}
}

// rRename renames (odir, oname) -> (ndir, nname); ino is the source, tino
// the target replaced (0: none).
func rRename(odir int32, oname []byte, ino, ndir int32, nname []byte, tino int32) int64 {
	d, e := rCheckDir(odir)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Trenameat)
	m.u32(ind(odir).fid)
	m.str(oname)
	m.u32(ind(ndir).fid)
	m.str(nname)
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		return e
	}
	if tino != 0 && tino != ino {
		rUnlinked(tino)
	}
	if ind(ino).kind == ndDir {
		rSetParent(ino, ndir, nname)
	}
	return 0
}

// Tsetattr valid bits.
const (
	p9SetMode  = 0x1
	p9SetUID   = 0x2
	p9SetGID   = 0x4
	p9SetSize  = 0x8
	p9SetATime = 0x10
	p9SetMTime = 0x20
	p9SetCTime = 0x40
	p9SetASet  = 0x80 // the time given, not now
	p9SetMSet  = 0x100
)

// rSetattr changes attributes of a remote inode, through fid (0: the
// inode's own; an open file's works after the last name is gone).
func rSetattr(ino int32, fid, valid, mode, uid, gid uint32, size int64, at, mt ftime) int64 {
	nd := ind(ino)
	d, e := rReady(nd)
	if e < 0 {
		return e
	}
	if fsReadOnly[nd.fs] {
		return -eROFS
	}
	if fid == 0 {
		if fid = rFidFor(ino); fid == 0 {
			return -eSTALE
		}
	}
	s := d.slot()
	m := d.begin(s, p9Tsetattr)
	m.u32(fid)
	m.u32(valid)
	m.u32(mode)
	m.u32(uid)
	m.u32(gid)
	m.u64(uint64(size))
	m.u64(uint64(at.sec))
	m.u64(uint64(at.nsec))
	m.u64(uint64(mt.sec))
	m.u64(uint64(mt.nsec))
	_, e = d.call(s, &m)
	d.release(s)
	rFresh = 0
	if e == 0 {
		rRefresh(ino)
		if valid&p9SetSize != 0 {
			pcTruncate(ino, size)
		}
	}
	return e
}

// rStatfs fills struct statfs b from Tstatfs.
func rStatfs(ino int32, b []byte) int64 {
	nd := ind(ino)
	d, fid, e := rInodeFid(ino)
	if e < 0 {
		return e
	}
	s := d.slot()
	m := d.begin(s, p9Tstatfs)
	m.u32(fid)
	r, e := d.call(s, &m)
	if e == 0 {
		w := func(off int, v uint64) { *(*uint64)(unsafe.Pointer(&b[off])) = v }
		w(0, uint64(r.u32())) // f_type: the host's
		bs := uint64(r.u32())
		w(8, bs)
		w(16, r.u64())
		w(24, r.u64())
		w(32, r.u64())
		w(40, r.u64())
		w(48, r.u64())
		r.u64()
		w(64, uint64(r.u32()))
		w(72, bs)
		flags := uint64(stValid)
		if fsReadOnly[nd.fs] {
			flags |= stRdonly
		}
		w(80, flags)
		*(*uint32)(unsafe.Pointer(&b[56])) = uint32(nd.fs)
		if r.bad {
			e = -eIO
		}
	}
	d.release(s)
	return e
}

// mount9p mounts the volume with mount tag tag at path (boot).
func mount9p(path, tag []byte, fs uint8, ro bool) bool {
	dev := p9Probe(tag, fs, ro)
	if dev < 0 {
		return false
	}
	root := mountDir(path, fs)
	if root == 0 {
		return false
	}
	fsRemote[fs] = int8(dev + 1)
	fsMaxPages[fs] = guestMemory() / pageSize // the page cache of mapped files (fmap.go)
	fsReadOnly[fs] = ro
	fsRootIno[fs] = root
	nd := ind(root)
	nd.opens++ // a mount root stays
	nd.mode = 0o755
	nd.qpath = ^uint64(0)
	return true
}
