// Package virtio9p is mote's virtio-9p device (virtio 1.2 section 5.14,
// the "9P transport") over virtio-mmio: one request queue that carries
// 9P2000.L messages between the guest's 9P client and a 9P server in the
// monitor (for host directory volumes, mote run -v HOST:GUEST).
//
// The driver posts each request as one descriptor chain: device-readable
// buffers holding a T-message (size[4] type[1] tag[2] ...), then
// device-writable buffers for the R-message. The device writes the
// T-message to a byte-stream connection to the server (Config.Serve: the
// Serve method of a vmm/p9fs file system, or any
// p9.NewServer(attacher).Handle), and a reader goroutine takes
// the server's R-messages off the connection, matches each to its request
// by tag, writes it into that request's writable buffers and returns the
// chain with the R-message's length. Requests are concurrent and complete
// in the order the server answers them. The device does not interpret 9P
// beyond the header: msize (Tversion), flushes and fids are the client's
// and the server's business.
//
// Each driver session (DRIVER_OK until a reset) gets a connection of its
// own: a reset ends the connection, so the server forgets the old
// session's fids, and requests outstanding at the reset are dropped with
// the queue.
//
// When the device cannot pass a request on or its reply back, it answers
// in the request's stead with Rlerror, so that the client's request
// completes (Linux ignores a used element of length 0: that request would
// wait forever):
//
//   - EIO: the reply does not fit the request's writable buffers (what
//     Linux's own 9P transports report for a reply larger than the buffer),
//     or the server ended the connection (then every later request gets
//     EIO too, until the driver resets the device);
//   - EINVAL: a malformed request (its size field is below 7 or beyond the
//     readable buffers, or a readable buffer follows a writable one), or a
//     tag that is already outstanding.
//
// A chain the device cannot answer so is returned with length 0: one with
// fewer than 7 readable bytes (no tag to answer), fewer than 7 writable
// bytes (room for no reply at all: not passed on), fewer than 11 writable
// bytes when the answer is Rlerror, or a chain that is not valid at all
// (a descriptor outside guest RAM, a loop). The device never writes beyond
// a chain's writable buffers.
//
// Notifications follow vmm/virtionet: there are no interrupts. The guest
// polls the used ring at its scheduling points; when the device adds used
// buffers and the driver did not set virtio.AvailFNoInterrupt, it calls
// Config.Wake, which ends a vCPU's HcIdle. Kicks (QueueNotify writes) are
// taken by a KVM ioeventfd (KickFD) and never exit to the monitor; a kick
// that does arrive as an MMIO write works the same. A poller goroutine
// serves the request queue: while it has work it keeps
// virtio.UsedFNoNotify set so a busy guest never kicks; before it sleeps
// it clears the flag, looks at the available ring once more (a driver that
// published before it saw the cleared flag did not kick), and then blocks
// on the ioeventfd. It does not spin (virtionet's default, by measurement).
package virtio9p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/virtio"
	"github.com/motevm/mote/vmm/virtq"
)

// Tunables and limits.
const (
	// QueueSize is QueueNumMax of the request queue.
	QueueSize = 256
	// MaxTagLen is the longest mount tag: the configuration space of a
	// virtio-mmio window (abi.VirtioMMIOStride - virtio.RegConfig bytes)
	// less tag_len.
	MaxTagLen = abi.VirtioMMIOStride - virtio.RegConfig - virtio.NinePCfgTag
	// MaxMessage bounds the R-messages the device takes from the server; a
	// larger size field ends the connection as a server error. (The p9
	// package's largest msize is 4 MiB.)
	MaxMessage = 16 << 20
	// SpinWindow is how long the poller keeps watching the request queue
	// after its last request or reply before it asks for kicks and sleeps.
	// A 9P client waits for each reply and sends the next request soon
	// after, and on the development machine a poller's wake-up from the
	// ioeventfd made a round trip ~100 µs; spinning takes a host core only
	// while the guest is using the volume.
	SpinWindow = 50 * time.Microsecond
	// CloseGrace is how long Close waits for the server to return after
	// its connection is closed (a request stuck in a host system call
	// would otherwise hold it up; the server touches no guest memory).
	CloseGrace = 2 * time.Second
)

// 9P2000.L framing.
const (
	hdrSize     = 7  // size[4] type[1] tag[2]
	msgRlerror  = 7  // Rlerror: hdr ecode[4]
	rlerrorSize = 11 // the size of Rlerror
)

// Config configures a Device.
type Config struct {
	Mem []byte // guest RAM, guest-physical [0, len(Mem))
	// Tag is the mount tag the guest finds in the configuration space
	// (1 to MaxTagLen bytes, no NUL).
	Tag string
	// Serve serves one 9P connection: it reads T-messages from rd and
	// writes R-messages to wr, each whole message in order (concurrent
	// replies must not interleave), until rd ends (EOF) or wr fails, and
	// returns, as p9.NewServer(attacher).Handle and p9fs's FS.Serve do.
	// It must read a T-message entirely before it writes the reply (the
	// device writes a request from the guest's buffers, which the driver
	// may reuse once the reply is in). The device calls it on a goroutine
	// of its own for each driver session, and closes rd and wr when it
	// returns.
	Serve func(rd io.ReadCloser, wr io.WriteCloser) error
	// NewSession, if set, is used instead of Serve: each driver session
	// gets a Handler, which the poller calls for each request in turn, on
	// its own goroutine (no connection, no hand-off to other goroutines:
	// a round trip is as fast as the server's work). The request and the
	// reply are the chain's own buffers when each is one piece.
	NewSession func() Handler
	// Wake ends the HcIdle of a vCPU (without blocking).
	Wake func()
	// Logf, if set, reports guest driver errors and server failures
	// (once each).
	Logf func(format string, args ...any)
	// SpinWindow overrides the package's SpinWindow: 0 means SpinWindow,
	// a negative value no spinning.
	SpinWindow time.Duration
}

// Handler answers 9P requests synchronously (vmm/p9fs's Session). Handle
// gets one whole T-message and room for the reply (at least 11 bytes),
// which may be the request's own memory, and returns the reply's length
// (an Rlerror when it fails); 0 returns the chain unanswered. Close ends
// the session (its fids).
type Handler interface {
	Handle(req, reply []byte) int
	Close()
}

// Stats are the device's counters.
type Stats struct {
	Requests      uint64 // T-messages passed to the server
	Replies       uint64 // R-messages from the server given to the guest
	Errors        uint64 // requests the device answered itself (Rlerror) or returned with length 0
	Sessions      uint64 // connections to the server (driver sessions)
	Kicks         uint64 // QueueNotify writes (through the ioeventfd or an MMIO exit)
	PollerWakeups uint64 // times the sleeping poller was woken by a kick
	GuestWakes    uint64 // times the device ended the guest's idle
}

// Device is one virtio-9p device.
type Device struct {
	cfg    Config
	t      virtq.Transport
	q      virtq.Queue
	config []byte

	bell *virtq.Doorbell // guest kicks (KVM ioeventfd, or Notify) and the monitor's pokes

	// Under q's lock.
	live   bool     // DRIVER_OK and not reset
	closed bool     // Close has begun
	sess   *session // the live session's connection, nil if none
	segs   []virtq.Seg

	// Synchronous mode (Config.NewSession).
	hmu     sync.Mutex // held while the handler runs, and to close it
	handler Handler    // the live session's, nil if none (under q's lock and hmu)
	taken   []uint16   // poller-owned: chains popped, to answer
	scratch []byte     // poller-owned: requests and replies in pieces

	// Poller-owned.
	out [][]byte // T-message pieces to write, in guest memory

	closing atomic.Bool
	done    chan struct{}
	spin    time.Duration  // Config.SpinWindow resolved
	replied atomic.Bool    // a reply went to the guest since the poller last looked
	readers sync.WaitGroup // reply readers (they touch guest memory)
	servers sync.WaitGroup // Config.Serve calls

	logMu  sync.Mutex
	logged map[string]bool

	requests, replies, errs, sessions atomic.Uint64
	wakeups, wakes                    atomic.Uint64
}

// session is one connection to the server.
type session struct {
	reqR  *io.PipeReader // the server reads T-messages
	reqW  *io.PipeWriter // the poller writes them
	respR *io.PipeReader // the reader goroutine reads R-messages
	respW *io.PipeWriter // the server writes them

	// Under the queue's lock.
	pending map[uint16]*request // outstanding requests by tag
	broken  bool                // the connection is gone: answer EIO
}

// request is a chain passed to the server, waiting for its reply.
type request struct {
	head uint16
	out  []virtq.Seg // the device-writable buffers
	room int         // their total size
}

func (s *session) close() {
	s.reqW.Close()
	s.respR.Close()
}

// New creates the device and starts its poller. The server is not called
// before the guest's driver sets DRIVER_OK.
func New(cfg Config) (*Device, error) {
	switch {
	case cfg.Tag == "" || len(cfg.Tag) > MaxTagLen:
		return nil, fmt.Errorf("virtio-9p: mount tag %q: must be 1 to %d bytes", cfg.Tag, MaxTagLen)
	case containsNUL(cfg.Tag):
		return nil, fmt.Errorf("virtio-9p: mount tag %q contains a NUL byte", cfg.Tag)
	case cfg.Serve == nil && cfg.NewSession == nil:
		return nil, errors.New("virtio-9p: no 9P server")
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	d := &Device{cfg: cfg, done: make(chan struct{}), spin: cfg.SpinWindow}
	if d.spin == 0 {
		d.spin = SpinWindow
	}
	d.q.Max = QueueSize
	d.t = virtq.Transport{
		DeviceID: virtio.Device9P,
		Features: 1 << virtio.F9PMountTag,
		Queues:   []*virtq.Queue{virtio.NinePRequestQueue: &d.q},
		Dev:      (*transportDev)(d),
		Mem:      cfg.Mem,
		Logf:     d.logf,
	}
	d.config = make([]byte, virtio.NinePCfgTag+len(cfg.Tag))
	binary.LittleEndian.PutUint16(d.config[virtio.NinePCfgTagLen:], uint16(len(cfg.Tag)))
	copy(d.config[virtio.NinePCfgTag:], cfg.Tag)
	var err error
	if d.bell, err = virtq.NewDoorbell("virtio-9p"); err != nil {
		return nil, err
	}
	go d.poll()
	return d, nil
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// KickFD is the eventfd to register as the KVM ioeventfd of the window's
// QueueNotify register (4 bytes, any value).
func (d *Device) KickFD() int { return d.bell.KickFD() }

// Read serves a guest MMIO read at offset off of the device's window.
func (d *Device) Read(off uint64, data []byte) { d.t.Read(off, data) }

// Write serves a guest MMIO write at offset off of the device's window.
func (d *Device) Write(off uint64, data []byte) { d.t.Write(off, data) }

// Tag is the mount tag.
func (d *Device) Tag() string { return d.cfg.Tag }

// Stats returns the counters.
func (d *Device) Stats() Stats {
	return Stats{
		Requests: d.requests.Load(), Replies: d.replies.Load(), Errors: d.errs.Load(),
		Sessions: d.sessions.Load(), Kicks: d.bell.Kicks(), PollerWakeups: d.wakeups.Load(),
		GuestWakes: d.wakes.Load(),
	}
}

// Close ends the server connection and stops the poller. Afterwards the
// device touches guest memory no more. It waits up to CloseGrace for the
// server to return. The vCPUs must be stopped.
func (d *Device) Close() error {
	if d.closing.Swap(true) {
		return nil
	}
	d.q.Lock()
	d.closed, d.live = true, false
	s := d.sess
	d.sess = nil
	h := d.handler
	d.handler = nil
	if s != nil {
		s.broken = true
		clear(s.pending)
	}
	d.q.Unlock()
	if s != nil {
		s.close() // (unblocks a poller writing to the server)
	}
	d.poke()
	<-d.done
	if h != nil {
		h.Close()
	}
	d.readers.Wait()
	served := make(chan struct{})
	go func() {
		d.servers.Wait()
		close(served)
	}()
	select {
	case <-served:
	case <-time.After(CloseGrace):
		d.logf("virtio-9p: the 9P server did not return within %v of the close", CloseGrace)
	}
	d.bell.Close()
	return nil
}

func (d *Device) logf(format string, args ...any) {
	if d.cfg.Logf == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	d.logMu.Lock()
	defer d.logMu.Unlock()
	if d.logged == nil {
		d.logged = map[string]bool{}
	}
	if !d.logged[msg] && len(d.logged) < 100 {
		d.logged[msg] = true
		d.cfg.Logf("%s", msg)
	}
}

// poke wakes the poller.
func (d *Device) poke() { d.bell.Poke() }

// wake tells the guest about used buffers.
func (d *Device) wake() {
	d.wakes.Add(1)
	d.t.UsedBuffer()
	d.cfg.Wake()
}

// queueError reports a queue stopped by a driver error: the device needs
// a reset. The transport's lock is taken on another goroutine, as the
// caller may run under the transport (which takes its lock, then the
// queue's).
func (d *Device) queueError(err error) {
	if err != nil {
		go d.t.NeedsReset(fmt.Errorf("virtio-9p: request queue stopped: %v", err))
	}
}

// transportDev is the device as the transport sees it.
type transportDev Device

func (td *transportDev) ReadConfig(off int, b []byte) {
	if off < len(td.config) {
		copy(b, td.config[off:])
	}
}

// Start opens a connection to the server for the driver's session.
func (td *transportDev) Start(features uint64) {
	d := (*Device)(td)
	d.q.Lock()
	if d.closed {
		d.q.Unlock()
		return
	}
	if d.cfg.NewSession != nil {
		h := d.cfg.NewSession()
		d.hmu.Lock()
		d.handler, d.live = h, true
		d.hmu.Unlock()
		d.q.SetNoNotify(true)
		d.q.Unlock()
		d.sessions.Add(1)
		d.poke()
		return
	}
	s := &session{pending: map[uint16]*request{}}
	s.reqR, s.reqW = io.Pipe()
	s.respR, s.respW = io.Pipe()
	d.sess, d.live = s, true
	// The poke wakes the poller, which is then awake: no kicks.
	d.q.SetNoNotify(true)
	// Under the lock, so that Close (which sets closed under it first)
	// waits for these.
	d.readers.Add(1)
	d.servers.Add(1)
	d.q.Unlock()
	d.sessions.Add(1)
	go func() {
		defer d.servers.Done()
		err := d.cfg.Serve(s.reqR, s.respW)
		s.reqR.Close()
		s.respW.Close()
		if err != nil {
			d.logf("virtio-9p: 9P server: %v", err)
		}
	}()
	go d.readReplies(s)
	d.poke()
}

// Stop ends the session: its connection is closed and its outstanding
// requests are forgotten (the transport resets the queue next).
func (td *transportDev) Stop() {
	d := (*Device)(td)
	d.q.Lock()
	s := d.sess
	d.sess, d.live = nil, false
	h := d.handler
	d.handler = nil
	if h != nil {
		// The poller may be in Handle: wait for it (outside q's lock,
		// which it takes to return the chain).
		d.q.Unlock()
		d.hmu.Lock()
		h.Close()
		d.hmu.Unlock()
		d.q.Lock()
	}
	if s != nil {
		s.broken = true
		clear(s.pending)
	}
	d.q.Unlock()
	if s != nil {
		s.close()
	}
}

func (td *transportDev) Notify(uint32) {
	if td.closing.Load() {
		return // (the eventfd may be closed)
	}
	td.bell.Kick()
}

// Requests.

// service takes every available chain: requests go to the server (written
// after the queue's lock is released: the server may be writing a reply
// meanwhile, which the reader needs the lock to complete), chains the
// device answers itself are returned at once. It reports whether there
// was any.
func (d *Device) service() bool {
	if d.cfg.NewSession != nil {
		return d.serviceSync()
	}
	d.q.Lock()
	if !d.live {
		d.q.Unlock()
		return false
	}
	s := d.sess
	n := d.q.Pending()
	for i := 0; i < n; i++ {
		head, ok := d.q.Pop()
		if !ok {
			break
		}
		d.take(s, head)
	}
	notify := d.q.Publish()
	qerr := d.q.TakeErr()
	d.q.Unlock()
	d.queueError(qerr)
	if notify {
		d.wake()
	}
	for _, b := range d.out {
		if _, err := s.reqW.Write(b); err != nil {
			d.breakSession(s, fmt.Errorf("writing to the 9P server: %v", err))
			break
		}
	}
	clear(d.out) // (no references to guest memory stay behind)
	d.out = d.out[:0]
	return n > 0
}

// take handles the chain at head (the queue's lock held, live): a request
// is registered and its T-message queued in d.out; a chain the device
// cannot pass on is answered.
func (d *Device) take(s *session, head uint16) {
	segs, err := d.q.Chain(head, d.segs[:0])
	d.segs = segs[:0]
	if err != nil {
		d.logf("virtio-9p: request queue: %v (chain returned unused)", err)
		d.answer(head, nil, 0, 0)
		return
	}
	// The readable part, then the writable part.
	k := 0
	for k < len(segs) && !segs[k].Write {
		k++
	}
	in, out := segs[:k], segs[k:]
	var hdr [hdrSize]byte
	readable := gather(hdr[:], in)
	room := 0
	for _, sg := range out {
		room += len(sg.Buf)
	}
	if readable < hdrSize {
		d.logf("virtio-9p: request of %d bytes is shorter than the 9P header (chain returned unused)", readable)
		d.answer(head, nil, 0, 0)
		return
	}
	size := binary.LittleEndian.Uint32(hdr[0:])
	tag := binary.LittleEndian.Uint16(hdr[5:])
	for j, sg := range out {
		if !sg.Write {
			d.logf("virtio-9p: device-readable buffer after a device-writable one (Rlerror EINVAL)")
			d.answer(head, out[:j], tag, unix.EINVAL)
			return
		}
	}
	switch {
	case size < hdrSize || uint64(size) > uint64(readable):
		d.logf("virtio-9p: T-message (type %d) of %d bytes in %d readable bytes (Rlerror EINVAL)", hdr[4], size, readable)
		d.answer(head, out, tag, unix.EINVAL)
		return
	case room < hdrSize:
		d.logf("virtio-9p: request with %d writable bytes, too few for any reply (chain returned unused)", room)
		d.answer(head, nil, 0, 0)
		return
	case s.broken:
		d.answer(head, out, tag, unix.EIO)
		return
	case s.pending[tag] != nil:
		d.logf("virtio-9p: tag %d is already outstanding (Rlerror EINVAL)", tag)
		d.answer(head, out, tag, unix.EINVAL)
		return
	}
	s.pending[tag] = &request{head: head, out: append([]virtq.Seg(nil), out...), room: room}
	d.requests.Add(1)
	left := int(size)
	for _, sg := range in {
		b := sg.Buf[:min(len(sg.Buf), left)]
		left -= len(b)
		if len(b) > 0 { // (an empty write to a pipe waits for a reader)
			d.out = append(d.out, b)
		}
	}
}

// gather copies the first len(dst) bytes of segs into dst and returns the
// total size of segs.
func gather(dst []byte, segs []virtq.Seg) int {
	total, n := 0, 0
	for _, sg := range segs {
		n += copy(dst[n:], sg.Buf)
		total += len(sg.Buf)
	}
	return total
}

// answer returns the chain at head with Rlerror(errno) for tag in out if
// it fits (errno 0, or no room: with length 0). The queue's lock is held;
// the caller publishes.
func (d *Device) answer(head uint16, out []virtq.Seg, tag uint16, errno unix.Errno) {
	d.errs.Add(1)
	room := 0
	for _, sg := range out {
		room += len(sg.Buf)
	}
	if errno == 0 || room < rlerrorSize {
		d.q.Push(head, 0)
		return
	}
	var m [rlerrorSize]byte
	binary.LittleEndian.PutUint32(m[0:], rlerrorSize)
	m[4] = msgRlerror
	binary.LittleEndian.PutUint16(m[5:], tag)
	binary.LittleEndian.PutUint32(m[7:], uint32(errno))
	scatter(out, m[:], nil)
	d.q.Push(head, rlerrorSize)
}

// scatter copies a then b across the buffers of segs (which hold enough
// room).
func scatter(segs []virtq.Seg, a, b []byte) {
	src := a
	for _, sg := range segs {
		buf := sg.Buf
		for len(buf) > 0 {
			if len(src) == 0 {
				if b == nil {
					return
				}
				src, b = b, nil
				continue
			}
			n := copy(buf, src)
			buf, src = buf[n:], src[n:]
		}
	}
}

// Replies.

// readReplies takes the server's R-messages off the connection of s and
// completes their requests, until the connection ends.
func (d *Device) readReplies(s *session) {
	defer d.readers.Done()
	var hdr [hdrSize]byte
	for {
		if _, err := io.ReadFull(s.respR, hdr[:]); err != nil {
			if err == io.EOF {
				err = errors.New("the 9P server closed the connection")
			} else {
				err = fmt.Errorf("reading from the 9P server: %v", err)
			}
			d.breakSession(s, err)
			return
		}
		size := binary.LittleEndian.Uint32(hdr[0:])
		tag := binary.LittleEndian.Uint16(hdr[5:])
		if size < hdrSize || size > MaxMessage {
			d.breakSession(s, fmt.Errorf("the 9P server sent a message of %d bytes", size))
			return
		}
		body := int(size) - hdrSize
		d.q.Lock()
		r := s.pending[tag]
		current := s == d.sess && d.live
		d.q.Unlock()
		if r == nil || int(size) > r.room {
			if _, err := io.CopyN(io.Discard, s.respR, int64(body)); err != nil {
				d.breakSession(s, fmt.Errorf("reading from the 9P server: %v", err))
				return
			}
			if r == nil {
				if current {
					d.logf("virtio-9p: the 9P server replied (type %d) to tag %d, which is not outstanding", hdr[4], tag)
				}
				continue
			}
			d.logf("virtio-9p: a reply of %d bytes (type %d) does not fit the request's %d writable bytes (Rlerror EIO)", size, hdr[4], r.room)
			d.complete(s, tag, r, nil, nil)
			continue
		}
		// Straight into the request's buffers: they are the guest's to
		// reuse only once the chain is returned.
		if err := readInto(s.respR, r.out, hdr[:], body); err != nil {
			d.breakSession(s, fmt.Errorf("reading from the 9P server: %v", err))
			return
		}
		d.complete(s, tag, r, hdr[:], nil)
	}
}

// readInto puts hdr and then body bytes read from rd across the buffers
// of segs (which hold enough room).
func readInto(rd io.Reader, segs []virtq.Seg, hdr []byte, body int) error {
	src := hdr
	for _, sg := range segs {
		buf := sg.Buf
		n := copy(buf, src)
		buf, src = buf[n:], src[n:]
		if len(src) > 0 {
			continue
		}
		k := min(len(buf), body)
		if _, err := io.ReadFull(rd, buf[:k]); err != nil {
			return err
		}
		body -= k
		if body == 0 {
			return nil
		}
	}
	return nil
}

// complete gives the reply hdr+body to request r (Rlerror EIO if hdr is
// nil), unless the session ended meanwhile.
func (d *Device) complete(s *session, tag uint16, r *request, hdr, body []byte) {
	d.q.Lock()
	if s != d.sess || !d.live || s.pending[tag] != r {
		d.q.Unlock()
		return
	}
	delete(s.pending, tag)
	if hdr == nil {
		d.answer(r.head, r.out, tag, unix.EIO)
	} else {
		// The reply is in the buffers (readInto) unless body is given.
		size := binary.LittleEndian.Uint32(hdr)
		if body != nil {
			scatter(r.out, hdr, body)
		}
		d.q.Push(r.head, size)
		d.replies.Add(1)
		d.replied.Store(true)
	}
	notify := d.q.Publish()
	d.q.Unlock()
	if notify {
		d.wake()
	}
}

// breakSession marks the connection of s gone: its outstanding requests
// and all later ones of the session get Rlerror EIO.
func (d *Device) breakSession(s *session, err error) {
	d.q.Lock()
	if s.broken {
		d.q.Unlock()
		s.close()
		return
	}
	s.broken = true
	current := s == d.sess && d.live
	notify := false
	if current {
		for tag, r := range s.pending {
			d.answer(r.head, r.out, tag, unix.EIO)
		}
		notify = d.q.Publish()
	}
	clear(s.pending)
	d.q.Unlock()
	s.close()
	if current {
		d.logf("virtio-9p: %v: requests fail with EIO until the driver resets the device", err)
	}
	if notify {
		d.wake()
	}
}

// The poller.

func (d *Device) poll() {
	defer close(d.done)
	asleep := false    // kicks requested (the flag is clear)
	var last time.Time // the last request or reply seen
	for !d.closing.Load() {
		if d.service() {
			if asleep {
				d.setNoNotify()
				asleep = false
			}
			last = time.Time{}
			continue
		}
		if d.spin > 0 && !asleep {
			// A guest waits for each reply and sends its next
			// request a few microseconds later: watch the ring for
			// a while rather than pay a kick and a wake-up.
			if last.IsZero() || d.replied.Swap(false) {
				last = time.Now()
			}
			if time.Since(last) < d.spin {
				runtime.Gosched() // the server's goroutines may share this P
				continue
			}
		}
		if !asleep {
			if !d.prepareSleep() {
				continue
			}
			asleep = true
		}
		kicked, woken := d.bell.Wait(0)
		if kicked {
			d.wakeups.Add(1)
		}
		if woken {
			d.setNoNotify()
			asleep = false
		}
	}
}

// prepareSleep asks the guest for kicks and reports whether the poller may
// sleep: false if work arrived meanwhile (then kicks are off again).
func (d *Device) prepareSleep() bool {
	d.bell.Drain() // what they asked for is looked at below
	if d.closing.Load() {
		return false
	}
	idle := true
	d.q.Lock()
	if d.live {
		d.q.SetNoNotify(false) // a full barrier: then look again
		if d.q.Pending() > 0 {
			d.q.SetNoNotify(true)
			idle = false
		}
	}
	d.q.Unlock()
	return idle
}

// setNoNotify turns kicks off (the poller is awake).
func (d *Device) setNoNotify() {
	d.q.Lock()
	if d.live {
		d.q.SetNoNotify(true)
	}
	d.q.Unlock()
}

// serviceSync answers every available chain with the session's handler
// (Config.NewSession), in order, on the poller's goroutine.
func (d *Device) serviceSync() bool {
	d.q.Lock()
	if !d.live {
		d.q.Unlock()
		return false
	}
	n := d.q.Pending()
	d.taken = d.taken[:0]
	for i := 0; i < n; i++ {
		head, ok := d.q.Pop()
		if !ok {
			break
		}
		d.taken = append(d.taken, head)
	}
	qerr := d.q.TakeErr()
	d.q.Unlock()
	d.queueError(qerr)
	for _, head := range d.taken {
		d.answerSync(head)
	}
	return n > 0
}

// answerSync answers the chain at head and returns it.
func (d *Device) answerSync(head uint16) {
	d.q.Lock()
	segs, err := d.q.Chain(head, d.segs[:0])
	d.segs = segs[:0]
	d.q.Unlock()
	length := uint32(0)
	if err != nil {
		d.logf("virtio-9p: request queue: %v (chain returned unused)", err)
	} else {
		length = d.handleSync(segs)
	}
	d.q.Lock()
	if !d.live {
		d.q.Unlock()
		return // reset meanwhile: the queue is gone
	}
	d.q.Push(head, length)
	notify := d.q.Publish()
	d.q.Unlock()
	if notify {
		d.wake()
	}
}

// handleSync runs the handler on the request in segs and returns the
// reply's length.
func (d *Device) handleSync(segs []virtq.Seg) uint32 {
	k := 0
	for k < len(segs) && !segs[k].Write {
		k++
	}
	in, out := segs[:k], segs[k:]
	for _, sg := range out {
		if !sg.Write {
			d.logf("virtio-9p: device-readable buffer after a device-writable one (chain returned unused)")
			d.errs.Add(1)
			return 0
		}
	}
	room := 0
	for _, sg := range out {
		room += len(sg.Buf)
	}
	if room < rlerrorSize || len(in) == 0 {
		d.logf("virtio-9p: request without room for a reply or without a message (chain returned unused)")
		d.errs.Add(1)
		return 0
	}
	// One piece each (as mote's driver posts them): in place.
	var req, reply []byte
	if len(in) == 1 {
		req = in[0].Buf
	} else {
		total := 0
		for _, sg := range in {
			total += len(sg.Buf)
		}
		d.scratch = d.scratch[:0]
		for _, sg := range in {
			d.scratch = append(d.scratch, sg.Buf...)
		}
		req = d.scratch[:total]
	}
	gathered := len(out) > 1
	if gathered {
		reply = make([]byte, min(room, MaxMessage))
	} else {
		reply = out[0].Buf
	}
	d.hmu.Lock()
	h := d.handler
	n := 0
	if h != nil {
		n = h.Handle(req, reply)
	}
	d.hmu.Unlock()
	if n == 0 {
		d.errs.Add(1)
		return 0
	}
	d.requests.Add(1)
	d.replies.Add(1)
	d.replied.Store(true)
	if gathered {
		scatter(out, reply[:n], nil)
	}
	return uint32(n)
}
