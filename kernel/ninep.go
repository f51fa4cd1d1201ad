package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/virtio"
)

// The 9P2000.L client of host directory volumes (mote run -v), over the
// virtio-9p device of each volume. The design is in docs/volumes.md; the
// file-system side is ninefs.go.
//
// Transport. A device has p9Slots request slots. A slot owns two
// descriptors (2s: the T-message, device-readable; 2s+1: room for the
// R-message, device-writable) over one buffer: the device hands a request
// to the server entirely before the reply can exist (vmm/virtio9p), so the
// reply may overwrite it. A slot's index is its 9P tag. A thread takes a
// free slot (or waits for one), writes the message, publishes the chain
// and kicks unless the device is polling (UsedFNoNotify), then waits: it
// watches the used ring for a short while if nothing else can run, else it
// blocks until a poll (at every scheduling point, as for virtio-net) sees
// its chain come back. The queue never asks for interrupts' absence
// (AvailFNoInterrupt stays clear), so a completion also ends an HcIdle.
//
// Clunks are sent without waiting: the slot is freed when the reply comes.
//
// Connection. The first call on a volume negotiates the version (asking
// for 9P2000.L.Google.2, whose Twalkgetattr walks and stats in one round
// trip; plain 9P2000.L works too) and attaches the root fid.

const (
	p9MaxDevs = 8
	p9Slots   = 8
	p9BufSize = 128<<10 + 4096 // a slot's buffer, and the msize asked for
	p9Hdr     = 7              // size[4] type[1] tag[2]
	p9NoFid   = ^uint32(0)
	// A waiting thread watches the used ring this long before it blocks
	// when no other thread can run (a sleep and its wake-up cost more).
	p9SpinNs = 150_000
	p9FidMax = 1024 // recycled fid numbers kept
)

// Message types (9P2000.L and its Google extension).
const (
	p9Rlerror      = 7
	p9Tstatfs      = 8
	p9Tlopen       = 12
	p9Tlcreate     = 14
	p9Tsymlink     = 16
	p9Tmknod       = 18
	p9Treadlink    = 22
	p9Tgetattr     = 24
	p9Tsetattr     = 26
	p9Treaddir     = 40
	p9Tfsync       = 50
	p9Tlink        = 70
	p9Tmkdir       = 72
	p9Trenameat    = 74
	p9Tunlinkat    = 76
	p9Tversion     = 100
	p9Tattach      = 104
	p9Twalk        = 110
	p9Tread        = 116
	p9Twrite       = 118
	p9Tclunk       = 120
	p9Twalkgetattr = 126
	p9Tmcreate     = 200 // 9P2000.L.mote.1: see vmm/p9fs's Session
)

// Device states.
const (
	p9Absent = iota
	p9Probed // registers set up, not connected
	p9Ready
	p9Failed
)

type p9dev struct {
	state   int32
	ro      bool
	google  bool // Twalkgetattr is understood
	mote    bool // Tmcreate too (9P2000.L.mote.1, vmm/p9fs)
	fs      uint8
	base    uint64
	tag     [32]byte
	tagLen  int
	q       vq
	bufs    uint64 // slot s's buffer at bufs + s*p9BufSize
	msize   uint32
	free    uint32 // free slots (bits)
	busy    uint32 // slots whose chain the device has
	async   uint32 // busy slots nobody waits for (clunks)
	done    uint32 // completed slots not yet collected by their waiter
	rlen    [p9Slots]uint32
	want    [p9Slots]uint8  // the R-message type a slot's request expects
	clunked [p9Slots]uint32 // the fid an async slot clunks: reusable once answered
	rootFid uint32
	nextFid uint32
	nfree   int
	fidFree [p9FidMax]uint32
	// Clunks waiting for a slot (close never sleeps for one).
	nclunk int
	clunks [64]uint32
}

var (
	p9devs  [p9MaxDevs]p9dev
	np9devs int

	// Counters for --debug.
	p9Calls, p9Kicks, p9Blocks uint64
	p9WaitNs                   int64 // time threads spent waiting for replies
)

// p9msg builds a T-message in a slot's buffer.
type p9msg struct {
	buf uint64
	n   uint32
}

func (m *p9msg) at(off uint32) uint64 { return m.buf + uint64(off) }
func (m *p9msg) u8(v uint8)           { *(*uint8)(unsafe.Pointer(uintptr(m.at(m.n)))) = v; m.n++ }
func (m *p9msg) u16(v uint16)         { *(*uint16)(unsafe.Pointer(uintptr(m.at(m.n)))) = v; m.n += 2 }
func (m *p9msg) u32(v uint32)         { *(*uint32)(unsafe.Pointer(uintptr(m.at(m.n)))) = v; m.n += 4 }
func (m *p9msg) u64(v uint64)         { *(*uint64)(unsafe.Pointer(uintptr(m.at(m.n)))) = v; m.n += 8 }
func (m *p9msg) str(s []byte) {
	m.u16(uint16(len(s)))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(m.at(m.n)))), len(s)), s)
	m.n += uint32(len(s))
}

// p9reply reads an R-message (after its header).
type p9reply struct {
	buf uint64
	n   uint32 // the message's length
	pos uint32
	bad bool // read past the end
}

func (r *p9reply) take(k uint32) uint64 {
	if r.pos+k > r.n {
		r.bad = true
		return 0
	}
	p := r.buf + uint64(r.pos)
	r.pos += k
	return p
}

func (r *p9reply) u8() uint8 {
	if p := r.take(1); p != 0 {
		return *(*uint8)(unsafe.Pointer(uintptr(p)))
	}
	return 0
}

func (r *p9reply) u16() uint16 {
	if p := r.take(2); p != 0 {
		return *(*uint16)(unsafe.Pointer(uintptr(p)))
	}
	return 0
}

func (r *p9reply) u32() uint32 {
	if p := r.take(4); p != 0 {
		return *(*uint32)(unsafe.Pointer(uintptr(p)))
	}
	return 0
}

func (r *p9reply) u64() uint64 {
	if p := r.take(8); p != 0 {
		return *(*uint64)(unsafe.Pointer(uintptr(p)))
	}
	return 0
}

// str returns the address and length of a string field.
func (r *p9reply) str() (uint64, uint32) {
	l := uint32(r.u16())
	return r.take(l), l
}

// qid skips a qid and returns its path.
func (r *p9reply) qid() uint64 {
	r.u8()
	r.u32()
	return r.u64()
}

// p9attr is what the kernel keeps of Rgetattr.
type p9attr struct {
	qpath               uint64
	mode, uid, gid      uint32
	nlink, size, blocks uint64
	atime, mtime, ctime ftime
}

// attr decodes the attribute block of Rgetattr and Rwalkgetattr (mode
// through data_version).
func (r *p9reply) attr(a *p9attr) {
	a.mode, a.uid, a.gid = r.u32(), r.u32(), r.u32()
	a.nlink = r.u64()
	r.u64() // rdev
	a.size = r.u64()
	r.u64() // blksize
	a.blocks = r.u64()
	a.atime = ftime{int64(r.u64()), int64(r.u64())}
	a.mtime = ftime{int64(r.u64()), int64(r.u64())}
	a.ctime = ftime{int64(r.u64()), int64(r.u64())}
	r.u64() // btime
	r.u64()
	r.u64() // gen
	r.u64() // data version
}

func (d *p9dev) reg(off uint64) uint32       { return mmioRead32(d.base + off) }
func (d *p9dev) setReg(off uint64, v uint32) { mmioWrite32(d.base+off, v) }

// p9Probe finds the virtio-9p device whose mount tag is tag and records it
// for file system fs; it returns the device index or -1.
func p9Probe(tag []byte, fs uint8, ro bool) int {
	if np9devs >= p9MaxDevs || len(tag) > len(p9devs[0].tag) {
		return -1
	}
	for i := uint64(0); i < uint64(virtioCount()); i++ {
		base := virtioWindow(i)
		if mmioRead32(base+virtio.RegMagic) != virtio.MagicValue ||
			mmioRead32(base+virtio.RegVersion) != virtio.MMIOVersion ||
			mmioRead32(base+virtio.RegDeviceID) != virtio.Device9P {
			continue
		}
		// The tag: tag_len (u16) then the bytes, read a word at a time.
		cfg := base + virtio.RegConfig
		w := mmioRead32(cfg)
		if int(w&0xffff) != len(tag) {
			continue
		}
		var got [36]byte
		got[0], got[1] = byte(w>>16), byte(w>>24)
		for k := 2; k < len(tag); k += 4 {
			w := mmioRead32(cfg + uint64(k) + 2)
			got[k], got[k+1], got[k+2], got[k+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
		}
		if string(got[:len(tag)]) != string(tag) {
			continue
		}
		d := &p9devs[np9devs]
		d.base, d.fs, d.ro, d.state = base, fs, ro, p9Probed
		d.tagLen = copy(d.tag[:], tag)
		np9devs++
		return np9devs - 1
	}
	return -1
}

// p9Init runs the virtio initialisation sequence and sets up the slots.
func (d *p9dev) init() bool {
	d.setReg(virtio.RegStatus, 0)
	d.setReg(virtio.RegStatus, virtio.StatusAcknowledge)
	d.setReg(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	d.setReg(virtio.RegDeviceFeatSel, 1)
	if d.reg(virtio.RegDeviceFeatures)&(1<<(virtio.FVersion1-32)) == 0 {
		return false
	}
	d.setReg(virtio.RegDriverFeatSel, 0)
	d.setReg(virtio.RegDriverFeatures, 1<<virtio.F9PMountTag)
	d.setReg(virtio.RegDriverFeatSel, 1)
	d.setReg(virtio.RegDriverFeatures, 1<<(virtio.FVersion1-32))
	st := uint32(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	d.setReg(virtio.RegStatus, st)
	if d.reg(virtio.RegStatus)&virtio.StatusFeaturesOK == 0 {
		return false
	}
	if !vqSetup(d.base, &d.q, virtio.NinePRequestQueue, 2*p9Slots) {
		return false
	}
	if d.bufs = kallocPages(p9Slots * p9BufSize / pageSize); d.bufs == 0 {
		return false
	}
	d.free = 1<<p9Slots - 1
	d.setReg(virtio.RegStatus, st|virtio.StatusDriverOK)
	return d.reg(virtio.RegStatus)&virtio.StatusNeedsReset == 0
}

// ready connects the volume on first use; it returns 0 or -errno.
func (d *p9dev) ready() int64 {
	switch d.state {
	case p9Ready:
		return 0
	case p9Failed:
		return -eIO
	}
	d.state = p9Failed
	if !d.init() {
		kprint("mote: a virtio-9p device failed to initialise\n")
		return -eIO
	}
	d.msize = p9BufSize
	// Tversion: mote's extensions (Tmcreate, with Twalkgetattr) first,
	// then Google.2 (Twalkgetattr); a server with neither answers
	// another version or "unknown".
	e := d.version("9P2000.L.mote.1")
	if e == -eAGAIN {
		e = d.version("9P2000.L.Google.2")
	}
	if e < 0 {
		kprint("mote: a volume's 9P server refused the protocol version\n")
		return -eIO
	}
	d.state = p9Ready
	d.rootFid = d.newFid()
	s := d.slot()
	m := d.begin(s, p9Tattach)
	m.u32(d.rootFid)
	m.u32(p9NoFid)
	m.str([]byte("root"))
	m.str(nil)
	m.u32(0)
	_, e = d.call(s, &m)
	d.release(s)
	if e < 0 {
		d.state = p9Failed
		kprint("mote: attaching a volume failed\n")
		return -eIO
	}
	return 0
}

// version sends Tversion asking for v: 0 when the server agrees to v or
// to plain 9P2000.L, -EAGAIN when it answers "unknown" or another
// version, -EIO on errors.
func (d *p9dev) version(v string) int64 {
	s := d.slot()
	m := d.begin(s, p9Tversion)
	m.u32(p9BufSize)
	m.str(unsafe.Slice(unsafe.StringData(v), len(v)))
	r, e := d.call(s, &m)
	if e == 0 {
		d.msize = min(r.u32(), p9BufSize)
		p, l := r.str()
		got := unsafe.String((*byte)(unsafe.Pointer(uintptr(p))), int(l))
		switch {
		case r.bad || d.msize < 4096:
			e = -eIO
		case got == v:
			d.google = true
			d.mote = v == "9P2000.L.mote.1"
		case got == "9P2000.L":
		default:
			e = -eAGAIN
		}
	}
	d.release(s)
	return e
}

// slot takes a free slot, waiting for one if all are in use.
func (d *p9dev) slot() int {
	for d.free == 0 {
		d.poll()
		if d.free != 0 {
			break
		}
		waitAdd(curThread(), waitP9Slot, uint64(d.base))
		block(0, false)
	}
	s := 0
	for d.free&(1<<s) == 0 {
		s++
	}
	d.free &^= 1 << s
	return s
}

func (d *p9dev) release(s int) {
	if d.nclunk > 0 {
		d.nclunk--
		d.sendClunk(s, d.clunks[d.nclunk])
		return
	}
	d.free |= 1 << s
	wakeWaiters(waitP9Slot, uint64(d.base), 1)
}

// begin starts a message of type typ in slot s.
func (d *p9dev) begin(s int, typ uint8) p9msg {
	m := p9msg{buf: d.bufs + uint64(s)*p9BufSize, n: 4}
	m.u8(typ)
	m.u16(uint16(s))
	return m
}

// send publishes slot s's message of m.n bytes.
func (d *p9dev) send(s int, m *p9msg) {
	*(*uint32)(unsafe.Pointer(uintptr(m.buf))) = m.n
	d.want[s] = *(*uint8)(unsafe.Pointer(uintptr(m.buf + 4))) + 1
	q := &d.q
	a, b := q.descAt(uint32(2*s)), q.descAt(uint32(2*s+1))
	*a = virtio.Desc{Addr: m.buf, Len: m.n, Flags: virtio.DescFNext, Next: uint16(2*s + 1)}
	*b = virtio.Desc{Addr: m.buf, Len: d.msize, Flags: virtio.DescFWrite}
	d.busy |= 1 << s
	q.push(uint16(2*s), 0)
	p9Calls++
	if q.usedFlags()&virtio.UsedFNoNotify == 0 {
		p9Kicks++
		d.setReg(virtio.RegQueueNotify, virtio.NinePRequestQueue)
	}
}

// poll collects completed chains: waiters are woken, clunks' slots freed.
func (d *p9dev) poll() {
	q := &d.q
	for u := q.usedIdx(); q.nextUsed != u; q.nextUsed++ {
		id, l := q.usedElem(q.nextUsed)
		s := int(id / 2)
		if id%2 != 0 || s >= p9Slots || d.busy&(1<<s) == 0 {
			kpanic("mote: virtio-9p device returned a bad descriptor")
		}
		d.busy &^= 1 << s
		d.rlen[s] = l
		if d.async&(1<<s) != 0 {
			d.async &^= 1 << s
			d.dropFid(d.clunked[s])
			d.release(s)
			continue
		}
		d.done |= 1 << s
		wakeWaiters(waitP9, d.base+uint64(s), -1)
	}
}

// p9PollAll runs at scheduling points.
func p9PollAll() {
	for i := 0; i < np9devs; i++ {
		if d := &p9devs[i]; d.busy != 0 {
			d.poll()
		}
	}
}

// call sends slot s's message and waits for the reply; it returns the
// reply positioned after its header, or -errno (Rlerror, or EIO for a
// reply that is not the expected one).
func (d *p9dev) call(s int, m *p9msg) (p9reply, int64) {
	d.send(s, m)
	return d.finish(s)
}

// finish waits for slot s's reply (its request sent) and checks it, as
// call does.
func (d *p9dev) finish(s int) (p9reply, int64) {
	buf := d.bufs + uint64(s)*p9BufSize
	typ := d.want[s]
	d.wait(s)
	r := p9reply{buf: buf, n: d.rlen[s], pos: p9Hdr}
	if r.n < p9Hdr || r.n > d.msize {
		return r, -eIO
	}
	if sz := *(*uint32)(unsafe.Pointer(uintptr(buf))); sz < r.n {
		r.n = sz
	}
	switch *(*uint8)(unsafe.Pointer(uintptr(buf + 4))) {
	case typ:
		return r, 0
	case p9Rlerror:
		e := int64(r.u32())
		if e <= 0 || e > 4095 || r.bad {
			e = eIO
		}
		return r, -e
	}
	return r, -eIO
}

// wait returns once slot s's reply is in.
func (d *p9dev) wait(s int) {
	bit := uint32(1) << s
	start := uptime()
	end := start + p9SpinNs
	for {
		d.poll()
		if d.done&bit != 0 {
			d.done &^= bit
			p9WaitNs += uptime() - start
			return
		}
		if runqHead == 0 && uptime() < end {
			// Nothing else to run: watch the ring rather than sleep
			// (other replies, such as clunks', may come first).
			if smp {
				kunlock()
			}
			for uptime() < end && d.q.usedIdx() == d.q.nextUsed {
				cpuPause()
			}
			if smp {
				klock()
			}
			continue
		}
		p9Blocks++
		waitAdd(curThread(), waitP9, d.base+uint64(s))
		block(0, false)
	}
}

// newFid returns an unused fid number.
func (d *p9dev) newFid() uint32 {
	if d.nfree > 0 {
		d.nfree--
		return d.fidFree[d.nfree]
	}
	d.nextFid++
	return d.nextFid
}

// dropFid recycles a fid the server does not know (a failed walk's).
func (d *p9dev) dropFid(fid uint32) {
	if d.nfree < p9FidMax {
		d.fidFree[d.nfree] = fid
		d.nfree++
	}
}

// clunk forgets fid on the server, without waiting for the answer.
// Without a free slot, the clunk waits for the next slot released.
func (d *p9dev) clunk(fid uint32) {
	if fid == 0 || d.state != p9Ready {
		return
	}
	if d.free == 0 && d.nclunk < len(d.clunks) {
		d.clunks[d.nclunk] = fid
		d.nclunk++
		return
	}
	d.sendClunk(d.slot(), fid)
}

func (d *p9dev) sendClunk(s int, fid uint32) {
	m := d.begin(s, p9Tclunk)
	m.u32(fid)
	d.async |= 1 << s
	d.clunked[s] = fid
	d.send(s, &m)
}

// vqSetup allocates the rings of queue idx with num descriptors (a power
// of two no larger than the device's maximum) and gives them to the device.
func vqSetup(base uint64, q *vq, idx, num uint32) bool {
	mmioWrite32(base+virtio.RegQueueSel, idx)
	if mmioRead32(base+virtio.RegQueueReady) != 0 {
		return false
	}
	if max := mmioRead32(base + virtio.RegQueueNumMax); max < num {
		return false
	}
	q.num = num
	ringBytes := uint64(num)*virtio.DescSize + uint64(virtio.AvailSize(int(num))) + 64 + uint64(virtio.UsedSize(int(num)))
	mem := kallocPages((ringBytes + pageSize - 1) / pageSize)
	if mem == 0 {
		return false
	}
	q.desc = mem
	q.avail = mem + uint64(num)*virtio.DescSize
	q.used = (q.avail + uint64(virtio.AvailSize(int(num))) + 63) &^ 63
	mmioWrite32(base+virtio.RegQueueNum, num)
	mmioWrite32(base+virtio.RegQueueDescLow, uint32(q.desc))
	mmioWrite32(base+virtio.RegQueueDescHigh, uint32(q.desc>>32))
	mmioWrite32(base+virtio.RegQueueDriverLow, uint32(q.avail))
	mmioWrite32(base+virtio.RegQueueDriverHigh, uint32(q.avail>>32))
	mmioWrite32(base+virtio.RegQueueDeviceLow, uint32(q.used))
	mmioWrite32(base+virtio.RegQueueDeviceHigh, uint32(q.used>>32))
	mmioWrite32(base+virtio.RegQueueReady, 1)
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(q.avail))), 0)
	return true
}
