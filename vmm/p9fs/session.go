package p9fs

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

// A Session answers one client's 9P2000.L requests one at a time, on the
// caller's goroutine: Handle decodes a T-message, calls the file, and
// encodes the R-message. It is the server of the virtio-9p device, which
// calls it from the goroutine that takes requests off the virtqueue, so a
// round trip costs no goroutine hand-off (on the development machine each
// hand-off between threads was tens of microseconds; the p9 package's
// server takes three per request). Reads and writes go straight between
// the host file and the message buffers, which the device passes in guest
// memory.
//
// It keeps its own fid table. Unlike the p9 package's server it does not
// track paths: a fid stays its file after a rename or an unlink elsewhere
// (the file's descriptors follow the inode), a renamed fid is told its new
// name (Renamed), and a fid whose name was removed still answers getattr
// and setattr on its descriptor, as an open file does on Linux.
//
// Protocol: 9P2000.L; 9P2000.L.Google.2 adds Twalkgetattr; 9P2000.L.mote.1
// adds that and Tmcreate (see there), mote's own guest asks for it. A
// Session is not safe for concurrent use.
type Session struct {
	fs    *FS
	fids  map[uint32]*sfid
	msize uint32
	ext   bool // Twalkgetattr negotiated
	mote  bool // 9P2000.L.mote.1 negotiated (Tmcreate)
}

type sfid struct {
	f      *file
	opened bool
	mode   p9.OpenFlags // the access mode it was opened with
}

// NewSession starts a session on the volume.
func (fs *FS) NewSession() *Session {
	return &Session{fs: fs, fids: map[uint32]*sfid{}, msize: maxMsize}
}

// maxMsize is the largest message a session takes (and the most msize
// Tversion gets).
const maxMsize = 1 << 20

// Close clunks every fid.
func (s *Session) Close() {
	for k, f := range s.fids {
		f.f.Close()
		delete(s.fids, k)
	}
}

// Message types.
const (
	tlerror      = 7
	tstatfs      = 8
	tlopen       = 12
	tlcreate     = 14
	tsymlink     = 16
	tmknod       = 18
	treadlink    = 22
	tgetattr     = 24
	tsetattr     = 26
	txattrwalk   = 30
	treaddir     = 40
	tfsync       = 50
	tlock        = 52
	tgetlock     = 54
	trename      = 20
	tlink        = 70
	tmkdir       = 72
	trenameat    = 74
	tunlinkat    = 76
	tversion     = 100
	tattach      = 104
	tflush       = 108
	twalk        = 110
	tread        = 116
	twrite       = 118
	tclunk       = 120
	tremove      = 122
	twalkgetattr = 126
	// Tmcreate (9P2000.L.mote.1): dirfid[4] openfid[4] pathfid[4] name[s]
	// flags[4] mode[4] gid[4]; Rmcreate: qid[13] iounit[4] valid[8]
	// attr. Tlcreate without its two neighbours: the directory's fid
	// stays, openfid is the new file opened, pathfid the file unopened
	// (what a walk to it would give), with its attributes; one round trip
	// where 9P2000.L needs a clone, a Tlcreate and a Twalkgetattr.
	tmcreate = 200
)

// dec reads a T-message's fields.
type dec struct {
	b   []byte
	bad bool
}

func (d *dec) take(n int) []byte {
	if len(d.b) < n {
		d.bad = true
		d.b = nil
		return make([]byte, n)
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}
func (d *dec) u8() uint8   { return d.take(1)[0] }
func (d *dec) u16() uint16 { return binary.LittleEndian.Uint16(d.take(2)) }
func (d *dec) u32() uint32 { return binary.LittleEndian.Uint32(d.take(4)) }
func (d *dec) u64() uint64 { return binary.LittleEndian.Uint64(d.take(8)) }
func (d *dec) str() string { return string(d.take(int(d.u16()))) }

// enc writes an R-message's fields after the header.
type enc struct {
	b   []byte // the whole reply buffer
	n   int
	bad bool // it did not fit
}

func (e *enc) put(n int) []byte {
	if e.n+n > len(e.b) {
		e.bad = true
		return make([]byte, n)
	}
	v := e.b[e.n : e.n+n]
	e.n += n
	return v
}
func (e *enc) u8(v uint8)   { e.put(1)[0] = v }
func (e *enc) u16(v uint16) { binary.LittleEndian.PutUint16(e.put(2), v) }
func (e *enc) u32(v uint32) { binary.LittleEndian.PutUint32(e.put(4), v) }
func (e *enc) u64(v uint64) { binary.LittleEndian.PutUint64(e.put(8), v) }
func (e *enc) str(s string) {
	e.u16(uint16(len(s)))
	copy(e.put(len(s)), s)
}
func (e *enc) qid(q p9.QID) {
	e.u8(uint8(q.Type))
	e.u32(q.Version)
	e.u64(q.Path)
}

// attr encodes Rgetattr's attribute block (after valid and qid).
func (e *enc) attr(a p9.Attr) {
	e.u32(uint32(a.Mode))
	e.u32(uint32(a.UID))
	e.u32(uint32(a.GID))
	e.u64(uint64(a.NLink))
	e.u64(uint64(a.RDev))
	e.u64(a.Size)
	e.u64(a.BlockSize)
	e.u64(a.Blocks)
	e.u64(a.ATimeSeconds)
	e.u64(a.ATimeNanoSeconds)
	e.u64(a.MTimeSeconds)
	e.u64(a.MTimeNanoSeconds)
	e.u64(a.CTimeSeconds)
	e.u64(a.CTimeNanoSeconds)
	e.u64(a.BTimeSeconds)
	e.u64(a.BTimeNanoSeconds)
	e.u64(a.Gen)
	e.u64(a.DataVersion)
}

// basicAttrs is the valid mask of what statToAttr fills (P9_GETATTR_BASIC).
const basicAttrs = 0x7ff

// Handle answers the T-message req (size[4] type[1] tag[2] ...) into reply
// and returns the reply's length: the R-message, or Rlerror. reply must
// hold at least 11 bytes; a reply that does not fit becomes Rlerror EIO
// (Tread and Treaddir are cut to fit). reply may be req's own memory: the
// request is read entirely before the reply is written.
func (s *Session) Handle(req, reply []byte) int {
	if len(req) < 7 || len(reply) < 11 {
		return 0
	}
	typ := req[4]
	tag := binary.LittleEndian.Uint16(req[5:])
	size := int(binary.LittleEndian.Uint32(req))
	if size < 7 || size > len(req) {
		return rlerror(reply, tag, unix.EINVAL)
	}
	d := &dec{b: req[7:size]}
	e := &enc{b: reply, n: 7}
	errno := s.handle(typ, d, e)
	if errno == 0 && (d.bad || e.bad) {
		errno = unix.EIO
		if d.bad {
			errno = unix.EINVAL
		}
	}
	if errno != 0 {
		return rlerror(reply, tag, errno)
	}
	binary.LittleEndian.PutUint32(reply, uint32(e.n))
	reply[4] = typ + 1
	binary.LittleEndian.PutUint16(reply[5:], tag)
	return e.n
}

func rlerror(reply []byte, tag uint16, errno unix.Errno) int {
	binary.LittleEndian.PutUint32(reply, 11)
	reply[4] = tlerror
	binary.LittleEndian.PutUint16(reply[5:], tag)
	binary.LittleEndian.PutUint32(reply[7:], uint32(errno))
	return 11
}

// toErrno turns a file's error into the errno sent.
func toErrno(err error) unix.Errno {
	if err == nil {
		return 0
	}
	var le linux.Errno
	if errors.As(err, &le) {
		return unix.Errno(le)
	}
	var ue unix.Errno
	if errors.As(err, &ue) {
		return ue
	}
	return unix.EIO
}

func (s *Session) fid(n uint32) (*sfid, unix.Errno) {
	f, ok := s.fids[n]
	if !ok {
		return nil, unix.EBADF
	}
	return f, 0
}

// newFid checks that n is free for a new file.
func (s *Session) newFid(n uint32) unix.Errno {
	if _, ok := s.fids[n]; ok || n == ^uint32(0) {
		return unix.EBADF
	}
	return 0
}

// validName refuses anything but one ordinary path component (the file
// methods check again).
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00")
}

func (s *Session) handle(typ uint8, d *dec, e *enc) unix.Errno {
	switch typ {
	case tversion:
		msize, v := d.u32(), d.str()
		s.Close()
		s.msize = min(msize, maxMsize)
		s.ext, s.mote = false, false
		switch {
		case v == "9P2000.L":
		case v == "9P2000.L.mote.1":
			s.ext, s.mote = true, true
		case strings.HasPrefix(v, "9P2000.L.Google."):
			n, err := strconv.Atoi(v[len("9P2000.L.Google."):])
			if err != nil || n < 0 {
				v = "unknown"
				break
			}
			if n >= 2 {
				v, s.ext = "9P2000.L.Google.2", true
			}
		default:
			v = "unknown"
		}
		e.u32(s.msize)
		e.str(v)
		return 0

	case tattach:
		fid := d.u32()
		d.u32() // afid
		d.str() // uname
		aname := d.str()
		d.u32() // n_uname
		if err := s.newFid(fid); err != 0 {
			return err
		}
		if aname != "" && aname != "/" {
			return unix.ENOENT // the volume is the only tree
		}
		root, err := s.fs.attach()
		if err != nil {
			return toErrno(err)
		}
		f := root.(*file)
		q, _, _, err := f.GetAttr(p9.AttrMask{})
		if err != nil {
			f.Close()
			return toErrno(err)
		}
		s.fids[fid] = &sfid{f: f}
		e.qid(q)
		return 0

	case twalk, twalkgetattr:
		fid, newfid := d.u32(), d.u32()
		names := make([]string, d.u16())
		for i := range names {
			names[i] = d.str()
			if !validName(names[i]) {
				return unix.EINVAL
			}
		}
		if d.bad {
			return unix.EINVAL
		}
		from, err := s.fid(fid)
		if err != 0 {
			return err
		}
		if from.opened {
			return unix.EBUSY
		}
		if newfid != fid {
			if err := s.newFid(newfid); err != 0 {
				return err
			}
		}
		qids, nf, st, werr := from.f.walk(names)
		if werr != nil {
			return toErrno(werr)
		}
		if newfid == fid {
			from.f.Close()
		}
		s.fids[newfid] = &sfid{f: nf}
		if typ == twalkgetattr {
			if !s.ext {
				return unix.ENOSYS
			}
			_, a := statToAttr(st)
			e.u64(basicAttrs)
			e.attr(a)
		}
		e.u16(uint16(len(qids)))
		for _, q := range qids {
			e.qid(q)
		}
		return 0

	case tclunk, tremove:
		fid := d.u32()
		f, err := s.fid(fid)
		if err != 0 {
			return err
		}
		delete(s.fids, fid)
		f.f.Close()
		if typ == tremove {
			return unix.EOPNOTSUPP // (the fid is gone all the same, as 9P says)
		}
		return 0

	case tgetattr:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		q, _, a, gerr := f.f.GetAttr(p9.AttrMask{})
		if gerr != nil {
			return toErrno(gerr)
		}
		e.u64(basicAttrs)
		e.qid(q)
		e.attr(a)
		return 0

	case tsetattr:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		m := d.u32()
		var a p9.SetAttr
		a.Permissions = p9.FileMode(d.u32())
		a.UID = p9.UID(d.u32())
		a.GID = p9.GID(d.u32())
		a.Size = d.u64()
		a.ATimeSeconds, a.ATimeNanoSeconds = d.u64(), d.u64()
		a.MTimeSeconds, a.MTimeNanoSeconds = d.u64(), d.u64()
		valid := p9.SetAttrMask{
			Permissions: m&0x1 != 0, UID: m&0x2 != 0, GID: m&0x4 != 0, Size: m&0x8 != 0,
			ATime: m&0x10 != 0, MTime: m&0x20 != 0, CTime: m&0x40 != 0,
			ATimeNotSystemTime: m&0x80 != 0, MTimeNotSystemTime: m&0x100 != 0,
		}
		return toErrno(f.f.SetAttr(valid, a))

	case tlopen:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		flags := p9.OpenFlags(d.u32())
		if f.opened {
			return unix.EINVAL
		}
		q, iounit, oerr := f.f.Open(flags)
		if oerr != nil {
			return toErrno(oerr)
		}
		f.opened, f.mode = true, flags&p9.OpenFlagsModeMask
		e.qid(q)
		e.u32(iounit)
		return 0

	case tlcreate:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		name, flags, mode, gid := d.str(), p9.OpenFlags(d.u32()), p9.FileMode(d.u32()), p9.GID(d.u32())
		if !validName(name) {
			return unix.EINVAL
		}
		if f.opened {
			return unix.EINVAL
		}
		nf, q, iounit, cerr := f.f.Create(name, flags, mode, 0, gid)
		if cerr != nil {
			return toErrno(cerr)
		}
		f.f.Close() // the fid is the new file now
		f.f, f.opened, f.mode = nf.(*file), true, flags&p9.OpenFlagsModeMask
		e.qid(q)
		e.u32(iounit)
		return 0

	case tmcreate:
		dir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		openfid, pathfid := d.u32(), d.u32()
		name, flags, mode, gid := d.str(), p9.OpenFlags(d.u32()), p9.FileMode(d.u32()), p9.GID(d.u32())
		switch {
		case !s.mote:
			return unix.EOPNOTSUPP
		case !validName(name):
			return unix.EINVAL
		case dir.opened:
			return unix.EINVAL
		case openfid == pathfid:
			return unix.EBADF
		}
		if err := s.newFid(openfid); err != 0 {
			return err
		}
		if err := s.newFid(pathfid); err != 0 {
			return err
		}
		nf, q, iounit, cerr := dir.f.Create(name, flags, mode, 0, gid)
		if cerr != nil {
			return toErrno(cerr)
		}
		of := nf.(*file)
		pf, st, perr := of.unopened()
		if perr != nil {
			of.Close()
			return toErrno(perr)
		}
		s.fids[openfid] = &sfid{f: of, opened: true, mode: flags & p9.OpenFlagsModeMask}
		s.fids[pathfid] = &sfid{f: pf}
		_, a := statToAttr(st)
		e.qid(q)
		e.u32(iounit)
		e.u64(basicAttrs)
		e.attr(a)
		return 0

	case tread:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		off, count := d.u64(), d.u32()
		if !f.opened {
			return unix.EBADF
		}
		if f.mode == p9.WriteOnly {
			return unix.EPERM
		}
		room := len(e.b) - e.n - 4
		if room < 0 {
			return unix.EIO
		}
		count = min(count, uint32(room))
		cnt := e.put(4)
		data := e.b[e.n : e.n+int(count)]
		n, rerr := f.f.ReadAt(data, int64(off))
		if rerr != nil && n == 0 && !isEOF(rerr) {
			return toErrno(rerr)
		}
		binary.LittleEndian.PutUint32(cnt, uint32(n))
		e.n += n
		return 0

	case twrite:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		off, count := d.u64(), d.u32()
		if int(count) > len(d.b) {
			return unix.EINVAL
		}
		if !f.opened {
			return unix.EBADF
		}
		if f.mode == p9.ReadOnly {
			return unix.EPERM
		}
		n, werr := f.f.WriteAt(d.b[:count], int64(off))
		if werr != nil && n == 0 {
			return toErrno(werr)
		}
		e.u32(uint32(n))
		return 0

	case treaddir:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		off, count := d.u64(), d.u32()
		if !f.opened {
			return unix.EBADF
		}
		room := len(e.b) - e.n - 4
		count = min(count, uint32(max(room, 0)))
		ents, rerr := f.f.Readdir(off, count)
		if rerr != nil {
			return toErrno(rerr)
		}
		cnt := e.put(4)
		start := e.n
		for _, de := range ents {
			need := 13 + 8 + 1 + 2 + len(de.Name)
			if e.n-start+need > int(count) {
				break
			}
			e.qid(de.QID)
			e.u64(de.Offset)
			e.u8(uint8(de.Type))
			e.str(de.Name)
		}
		binary.LittleEndian.PutUint32(cnt, uint32(e.n-start))
		return 0

	case tfsync:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		datasync := uint32(0) // 9P2000.L has it; older clients may not send it
		if len(d.b) >= 4 {
			datasync = d.u32()
		}
		if datasync != 0 {
			return toErrno(f.f.FDataSync())
		}
		return toErrno(f.f.FSync())

	case tstatfs:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		st, serr := f.f.StatFS()
		if serr != nil {
			return toErrno(serr)
		}
		e.u32(st.Type)
		e.u32(st.BlockSize)
		e.u64(st.Blocks)
		e.u64(st.BlocksFree)
		e.u64(st.BlocksAvailable)
		e.u64(st.Files)
		e.u64(st.FilesFree)
		e.u64(st.FSID)
		e.u32(st.NameLength)
		return 0

	case treadlink:
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		t, rerr := f.f.Readlink()
		if rerr != nil {
			return toErrno(rerr)
		}
		e.str(t)
		return 0

	case tmkdir, tsymlink, tmknod:
		dir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		name := d.str()
		if !validName(name) {
			return unix.EINVAL
		}
		var q p9.QID
		var cerr error
		switch typ {
		case tmkdir:
			mode, gid := p9.FileMode(d.u32()), p9.GID(d.u32())
			q, cerr = dir.f.Mkdir(name, mode, 0, gid)
		case tsymlink:
			target, gid := d.str(), p9.GID(d.u32())
			q, cerr = dir.f.Symlink(target, name, 0, gid)
		default:
			mode, major, minor, gid := p9.FileMode(d.u32()), d.u32(), d.u32(), p9.GID(d.u32())
			q, cerr = dir.f.Mknod(name, mode, major, minor, 0, gid)
		}
		if d.bad {
			return unix.EINVAL
		}
		if cerr != nil {
			return toErrno(cerr)
		}
		e.qid(q)
		return 0

	case tlink:
		dir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		target, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		name := d.str()
		if !validName(name) {
			return unix.EINVAL
		}
		return toErrno(dir.f.Link(target.f, name))

	case trenameat:
		odir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		oname := d.str()
		ndir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		nname := d.str()
		if !validName(oname) || !validName(nname) {
			return unix.EINVAL
		}
		// The fids of the file renamed keep working: they learn their
		// new name (a non-directory is opened by its parent and name).
		var st unix.Stat_t
		statErr := unix.Fstatat(odir.f.fd, oname, &st, unix.AT_SYMLINK_NOFOLLOW)
		if rerr := odir.f.RenameAt(oname, ndir.f, nname); rerr != nil {
			return toErrno(rerr)
		}
		if statErr == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			for _, f := range s.fids {
				if f.f.dev == uint64(st.Dev) && f.f.ino == uint64(st.Ino) && f.f.name == oname {
					f.f.Renamed(ndir.f, nname)
				}
			}
		}
		return 0

	case trename:
		// The old form: the file itself moves (only non-directories
		// know their name).
		f, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		ndir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		name := d.str()
		if !validName(name) {
			return unix.EINVAL
		}
		return toErrno(f.f.renameSelf(ndir.f, name))

	case tunlinkat:
		dir, err := s.fid(d.u32())
		if err != 0 {
			return err
		}
		name, flags := d.str(), d.u32()
		if !validName(name) {
			return unix.EINVAL
		}
		return toErrno(dir.f.UnlinkAt(name, flags))

	case tflush:
		d.u16() // requests are answered in order: nothing is in flight
		return 0

	case tlock:
		// One guest is the only client: every lock is granted.
		if _, err := s.fid(d.u32()); err != 0 {
			return err
		}
		e.u8(0) // P9_LOCK_SUCCESS
		return 0
	}
	return unix.EOPNOTSUPP
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }
