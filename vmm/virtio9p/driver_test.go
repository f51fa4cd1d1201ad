package virtio9p

import (
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/virtio"
)

// The tests drive the device as a guest driver would: registers through
// Read/Write, the ring in a fake guest RAM, kicks through the eventfd (as
// KVM's ioeventfd would) or the QueueNotify register. The 9P server is a
// fake that the test controls (server_test.go), or the p9 package's
// (e2e_test.go).

var le = binary.LittleEndian

// driver is a minimal virtio-9p driver over fake guest RAM.
type driver struct {
	t     *testing.T
	d     *Device
	srv   *fakeServer
	mem   []byte
	next  uint64 // bump allocator
	q     *dq
	wakes atomic.Int64
	// wakeCh holds a pending Config.Wake, as a vCPU's wake-up would.
	wakeCh chan struct{}
}

// dq is the driver side of the split virtqueue. Its methods may be called
// from several goroutines (the lock is the driver's, like Linux's
// chan->lock).
type dq struct {
	drv               *driver
	mu                sync.Mutex
	num               uint16
	desc, avail, used uint64
	availIdx          uint16
	lastUsed          uint16
	free              []uint16            // free descriptors
	chains            map[uint16][]uint16 // descriptors of the chains given to the device, by head
}

const memSize = 8 << 20

const testTag = "hostshare"

func newDriver(t *testing.T) *driver {
	t.Helper()
	srv := newFakeServer()
	drv := newDriverServe(t, srv.serve)
	drv.srv = srv
	return drv
}

// newDriverServe makes a driver for a device on serve.
func newDriverServe(t *testing.T, serve func(io.ReadCloser, io.WriteCloser) error) *driver {
	t.Helper()
	drv := &driver{t: t, mem: make([]byte, memSize), next: 0x1000, wakeCh: make(chan struct{}, 1)}
	d, err := New(Config{
		Mem:   drv.mem,
		Tag:   testTag,
		Serve: serve,
		Wake: func() {
			drv.wakes.Add(1)
			select {
			case drv.wakeCh <- struct{}{}:
			default:
			}
		},
		Logf: func(f string, a ...any) { t.Logf("device: "+f, a...) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	drv.d = d
	return drv
}

func (drv *driver) alloc(n, align uint64) uint64 {
	drv.next = (drv.next + align - 1) &^ (align - 1)
	a := drv.next
	drv.next += n
	if drv.next > memSize {
		drv.t.Fatal("fake guest RAM exhausted")
	}
	return a
}

func (drv *driver) r32(off uint64) uint32 {
	var b [4]byte
	drv.d.Read(off, b[:])
	return le.Uint32(b[:])
}

func (drv *driver) w32(off uint64, v uint32) {
	var b [4]byte
	le.PutUint32(b[:], v)
	drv.d.Write(off, b[:])
}

// init runs the virtio 1.2 (3.1.1) initialisation with driver features
// feat and a queue of num entries; it returns the device status after
// DRIVER_OK (or after FEATURES_OK if that did not stick).
func (drv *driver) init(feat uint64, num uint16) uint32 {
	drv.w32(virtio.RegStatus, 0)
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge)
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	drv.w32(virtio.RegDeviceFeatSel, 0)
	if drv.r32(virtio.RegDeviceFeatures)&(1<<virtio.F9PMountTag) == 0 {
		drv.t.Fatal("VIRTIO_9P_MOUNT_TAG not offered")
	}
	drv.w32(virtio.RegDriverFeatSel, 0)
	drv.w32(virtio.RegDriverFeatures, uint32(feat))
	drv.w32(virtio.RegDriverFeatSel, 1)
	drv.w32(virtio.RegDriverFeatures, uint32(feat>>32))
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	st := drv.r32(virtio.RegStatus)
	if st&virtio.StatusFeaturesOK == 0 {
		return st
	}
	drv.w32(virtio.RegQueueSel, virtio.NinePRequestQueue)
	if max := drv.r32(virtio.RegQueueNumMax); max != QueueSize {
		drv.t.Fatalf("QueueNumMax %d", max)
	}
	q := &dq{drv: drv, num: num, chains: map[uint16][]uint16{}}
	for i := int(num) - 1; i >= 0; i-- {
		q.free = append(q.free, uint16(i))
	}
	q.desc = drv.alloc(uint64(num)*16, 16)
	q.avail = drv.alloc(uint64(virtio.AvailSize(int(num))), 4)
	q.used = drv.alloc(uint64(virtio.UsedSize(int(num))), 4)
	drv.w32(virtio.RegQueueNum, uint32(num))
	drv.w32(virtio.RegQueueDescLow, uint32(q.desc))
	drv.w32(virtio.RegQueueDescHigh, uint32(q.desc>>32))
	drv.w32(virtio.RegQueueDriverLow, uint32(q.avail))
	drv.w32(virtio.RegQueueDriverHigh, 0)
	drv.w32(virtio.RegQueueDeviceLow, uint32(q.used))
	drv.w32(virtio.RegQueueDeviceHigh, 0)
	drv.w32(virtio.RegQueueReady, 1)
	if drv.r32(virtio.RegQueueReady) != 1 {
		drv.t.Fatal("queue not ready")
	}
	drv.q = q
	drv.w32(virtio.RegStatus, st|virtio.StatusDriverOK)
	return drv.r32(virtio.RegStatus)
}

const allFeatures = 1<<virtio.FVersion1 | 1<<virtio.F9PMountTag

const statusOK = virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK | virtio.StatusDriverOK

// reset resets the device.
func (drv *driver) reset() { drv.w32(virtio.RegStatus, 0) }

func (q *dq) availWord() *uint32 { return (*uint32)(unsafe.Pointer(&q.drv.mem[q.avail])) }
func (q *dq) usedWord() *uint32  { return (*uint32)(unsafe.Pointer(&q.drv.mem[q.used])) }

// usedFlags and usedIdx read the device's used ring header.
func (q *dq) usedFlags() uint16 { return uint16(atomic.LoadUint32(q.usedWord())) }
func (q *dq) usedIdx() uint16   { return uint16(atomic.LoadUint32(q.usedWord()) >> 16) }

// setAvailFlags sets the available ring's flags (keeping idx).
func (q *dq) setAvailFlags(f uint16) {
	q.mu.Lock()
	defer q.mu.Unlock()
	atomic.StoreUint32(q.availWord(), uint32(f)|uint32(q.availIdx)<<16)
}

type buf struct {
	addr  uint64
	len   uint32
	write bool
}

var errRingFull = errors.New("no free descriptors")

// add puts a chain of bufs in the descriptor table and the available ring
// (not yet visible: see publish). It returns the head.
func (q *dq) add(bufs ...buf) uint16 {
	q.drv.t.Helper()
	head, err := q.tryAdd(bufs...)
	if err != nil {
		q.drv.t.Fatal(err)
	}
	return head
}

func (q *dq) tryAdd(bufs ...buf) (uint16, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(bufs) > len(q.free) {
		return 0, errRingFull
	}
	idx := make([]uint16, len(bufs))
	for i := range bufs {
		idx[i] = q.free[len(q.free)-1]
		q.free = q.free[:len(q.free)-1]
	}
	for i, b := range bufs {
		d := q.drv.mem[q.desc+16*uint64(idx[i]):]
		le.PutUint64(d[0:], b.addr)
		le.PutUint32(d[8:], b.len)
		var fl uint16
		if b.write {
			fl |= virtio.DescFWrite
		}
		next := uint16(0)
		if i < len(bufs)-1 {
			fl |= virtio.DescFNext
			next = idx[i+1]
		}
		le.PutUint16(d[12:], fl)
		le.PutUint16(d[14:], next)
	}
	head := idx[0]
	q.chains[head] = idx
	le.PutUint16(q.drv.mem[q.avail+4+2*uint64(q.availIdx%q.num):], head)
	q.availIdx++
	return head, nil
}

// publish makes the added chains visible and kicks if the device asks for
// it. It reports whether it kicked.
func (q *dq) publish() bool {
	q.mu.Lock()
	w := q.availWord()
	for {
		old := atomic.LoadUint32(w)
		if atomic.CompareAndSwapUint32(w, old, old&0xffff|uint32(q.availIdx)<<16) {
			break
		}
	}
	q.mu.Unlock()
	if q.usedFlags()&virtio.UsedFNoNotify != 0 {
		return false
	}
	var one [8]byte
	le.PutUint64(one[:], 1)
	if n, err := unix.Write(q.drv.d.KickFD(), one[:]); n != 8 {
		q.drv.t.Errorf("kick: %v", err)
	}
	return true
}

// used is a used element.
type used struct {
	id, len uint32
}

// poll takes the next used element, if any, and frees its descriptors.
func (q *dq) poll() (used, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.usedIdx() == q.lastUsed {
		return used{}, false
	}
	e := q.drv.mem[q.used+4+8*uint64(q.lastUsed%q.num):]
	u := used{le.Uint32(e[0:]), le.Uint32(e[4:])}
	q.lastUsed++
	idx, ok := q.chains[uint16(u.id)]
	if !ok {
		q.drv.t.Errorf("used element for %d, which is not a chain the device has", u.id)
		return u, true
	}
	delete(q.chains, uint16(u.id))
	q.free = append(q.free, idx...)
	return u, true
}

// waitUsed waits until the device has returned n more chains and returns
// them.
func (q *dq) waitUsed(n int) []used {
	q.drv.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var out []used
	for len(out) < n {
		if u, ok := q.poll(); ok {
			out = append(out, u)
			continue
		}
		if time.Now().After(deadline) {
			q.drv.t.Fatalf("timeout: %d of %d used elements (stats %+v)", len(out), n, q.drv.d.Stats())
		}
		runtime.Gosched()
	}
	return out
}

// expectNoUsed checks that the device returns no chain for a while.
func (q *dq) expectNoUsed(wait time.Duration) {
	q.drv.t.Helper()
	time.Sleep(wait)
	if u, ok := q.poll(); ok {
		q.drv.t.Fatalf("unexpected used element %+v", u)
	}
}

// waitFlag waits until the device sets (or clears) UsedFNoNotify.
func (q *dq) waitFlag(set bool) {
	q.drv.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for (q.usedFlags()&virtio.UsedFNoNotify != 0) != set {
		if time.Now().After(deadline) {
			q.drv.t.Fatalf("UsedFNoNotify never became %v", set)
		}
		runtime.Gosched()
	}
}

// settle waits until the poller sleeps (it asks for kicks).
func (drv *driver) settle() { drv.q.waitFlag(false) }

// put copies b into fresh guest memory and returns its address.
func (drv *driver) put(b []byte) uint64 {
	a := drv.alloc(uint64(len(b)), 8)
	copy(drv.mem[a:], b)
	return a
}

// request posts msg in one readable buffer with a writable buffer of room
// bytes; it returns the head and the writable buffer's address.
func (drv *driver) request(msg []byte, room int) (head uint16, out uint64) {
	out = drv.alloc(uint64(room), 8)
	head = drv.q.add(buf{addr: drv.put(msg), len: uint32(len(msg))}, buf{addr: out, len: uint32(room), write: true})
	return head, out
}

// rpc sends msg and waits for the reply.
func (drv *driver) rpc(msg []byte, room int) []byte {
	drv.t.Helper()
	head, out := drv.request(msg, room)
	drv.q.publish()
	u := drv.q.waitUsed(1)[0]
	if u.id != uint32(head) {
		drv.t.Fatalf("used id %d, want %d", u.id, head)
	}
	return append([]byte(nil), drv.mem[out:out+uint64(u.len)]...)
}

// 9P framing for the tests.

// msg encodes a 9P message.
func msg(typ uint8, tag uint16, payload []byte) []byte {
	m := make([]byte, 7, 7+len(payload))
	le.PutUint32(m, uint32(7+len(payload)))
	m[4] = typ
	le.PutUint16(m[5:], tag)
	return append(m, payload...)
}

// rlerror is Rlerror(errno) for tag.
func rlerror(tag uint16, errno unix.Errno) []byte {
	var e [4]byte
	le.PutUint32(e[:], uint32(errno))
	return msg(msgRlerror, tag, e[:])
}

// readMsg reads one size-prefixed 9P message.
func readMsg(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := le.Uint32(hdr[:])
	if size < 7 || size > 64<<20 {
		return nil, errors.New("bad message size")
	}
	m := make([]byte, size)
	copy(m, hdr[:])
	if _, err := io.ReadFull(r, m[4:]); err != nil {
		return nil, err
	}
	return m, nil
}

func tagOf(m []byte) uint16 { return le.Uint16(m[5:]) }

// mux lets many goroutines make requests at once, as a guest's 9P client
// does: each call takes a slot (a readable and a writable buffer of msize
// bytes), and a completer goroutine hands each used chain to its caller.
// The completer sleeps between used elements until the device's Wake, as
// an idle guest would: a missing wake-up stalls it (and fails the test).
type mux struct {
	drv     *driver
	msize   int
	slots   chan *slot
	mu      sync.Mutex
	waiting map[uint16]*slot
	stop    chan struct{}
	done    chan struct{}
}

type slot struct {
	in, out uint64
	reply   chan []byte
}

// startMux starts a mux with n slots of msize bytes (the queue must have
// at least 2n descriptors).
func (drv *driver) startMux(n, msize int) *mux {
	m := &mux{drv: drv, msize: msize, slots: make(chan *slot, n), waiting: map[uint16]*slot{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for i := 0; i < n; i++ {
		m.slots <- &slot{in: drv.alloc(uint64(msize), 8), out: drv.alloc(uint64(msize), 8), reply: make(chan []byte, 1)}
	}
	go m.complete()
	drv.t.Cleanup(m.close)
	return m
}

func (m *mux) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
		<-m.done
	}
}

// call sends the T-message t and returns the reply.
func (m *mux) call(t []byte) ([]byte, error) {
	if len(t) > m.msize {
		return nil, errors.New("message larger than msize")
	}
	s := <-m.slots
	defer func() { m.slots <- s }()
	copy(m.drv.mem[s.in:], t)
	m.mu.Lock() // (the completer must find the slot once the chain is visible)
	head, err := m.drv.q.tryAdd(buf{addr: s.in, len: uint32(len(t))}, buf{addr: s.out, len: uint32(m.msize), write: true})
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	m.waiting[head] = s
	m.mu.Unlock()
	m.drv.q.publish()
	select {
	case r := <-s.reply:
		return r, nil
	case <-m.stop:
		return nil, errors.New("mux closed")
	}
}

func (m *mux) complete() {
	defer close(m.done)
	stalled := false
	for {
		for {
			u, ok := m.drv.q.poll()
			if !ok {
				break
			}
			m.mu.Lock()
			s := m.waiting[uint16(u.id)]
			delete(m.waiting, uint16(u.id))
			m.mu.Unlock()
			if s == nil {
				m.drv.t.Errorf("used element %+v for no request", u)
				continue
			}
			s.reply <- append([]byte(nil), m.drv.mem[s.out:s.out+uint64(u.len)]...)
		}
		wait := 5 * time.Second
		if stalled {
			wait = time.Millisecond // (finish the test)
		}
		select {
		case <-m.drv.wakeCh:
		case <-m.stop:
			return
		case <-time.After(wait):
			m.mu.Lock()
			n := len(m.waiting)
			m.mu.Unlock()
			if n > 0 && !stalled {
				m.drv.t.Errorf("%d requests outstanding and no wake-up for 5 s (stats %+v)", n, m.drv.d.Stats())
				stalled = true
			}
		}
	}
}
