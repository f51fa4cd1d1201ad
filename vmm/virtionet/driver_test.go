package virtionet

import (
	"encoding/binary"
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
// Read/Write, rings in a fake guest RAM, kicks through the eventfd (as
// KVM's ioeventfd would) or the QueueNotify register.

var le = binary.LittleEndian

// fakeEP is a link.Endpoint that records sent frames and lets the test
// deliver frames.
type fakeEP struct {
	mtu     int
	mu      sync.Mutex
	deliver func([]byte) bool
	sent    chan []byte
	closed  bool
	// hold, if set, makes WriteFrame announce itself on entered and wait
	// for hold to be closed.
	hold, entered chan struct{}
	// echo makes WriteFrame deliver the frame back at once (from the
	// device's poller, as an endpoint may).
	echo bool
}

func newFakeEP(mtu int) *fakeEP { return &fakeEP{mtu: mtu, sent: make(chan []byte, 4096)} }

func (e *fakeEP) Start(deliver func([]byte) bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deliver = deliver
	return nil
}

func (e *fakeEP) WriteFrame(f []byte) error {
	if e.hold != nil {
		e.entered <- struct{}{}
		<-e.hold
	}
	if e.echo {
		e.deliver(f)
	}
	e.sent <- append([]byte(nil), f...)
	return nil
}

func (e *fakeEP) MTU() int { return e.mtu }

func (e *fakeEP) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// in delivers a frame to the guest, as the network would.
func (e *fakeEP) in(f []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.deliver(f)
}

// driver is a minimal virtio-net driver over fake guest RAM.
type driver struct {
	t     *testing.T
	d     *Device
	ep    *fakeEP
	mem   []byte
	next  uint64 // bump allocator
	q     [2]*dq
	wakes atomic.Int64
}

// dq is the driver side of one split virtqueue.
type dq struct {
	drv               *driver
	num               uint16
	desc, avail, used uint64
	availIdx          uint16
	lastUsed          uint16
	nextDesc          uint16
}

const memSize = 4 << 20

func newDriver(t *testing.T, mtu int) *driver {
	t.Helper()
	drv := &driver{t: t, mem: make([]byte, memSize), next: 0x1000, ep: newFakeEP(mtu)}
	d, err := New(Config{
		Mem:      drv.mem,
		MAC:      []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56},
		Endpoint: drv.ep,
		Wake:     func() { drv.wakes.Add(1) },
		Logf:     func(f string, a ...any) { t.Logf("device: "+f, a...) },
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
// feat and queues of num entries; it returns the device status after
// FEATURES_OK.
func (drv *driver) init(feat uint64, num uint16) uint32 {
	drv.w32(virtio.RegStatus, 0)
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge)
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	drv.w32(virtio.RegDriverFeatSel, 0)
	drv.w32(virtio.RegDriverFeatures, uint32(feat))
	drv.w32(virtio.RegDriverFeatSel, 1)
	drv.w32(virtio.RegDriverFeatures, uint32(feat>>32))
	drv.w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver|virtio.StatusFeaturesOK)
	st := drv.r32(virtio.RegStatus)
	if st&virtio.StatusFeaturesOK == 0 {
		return st
	}
	for i := range drv.q {
		drv.w32(virtio.RegQueueSel, uint32(i))
		if max := drv.r32(virtio.RegQueueNumMax); max != QueueSize {
			drv.t.Fatalf("queue %d: QueueNumMax %d", i, max)
		}
		q := &dq{drv: drv, num: num}
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
			drv.t.Fatalf("queue %d not ready", i)
		}
		drv.q[i] = q
	}
	drv.w32(virtio.RegStatus, st|virtio.StatusDriverOK)
	return drv.r32(virtio.RegStatus)
}

const allFeatures = 1<<virtio.FVersion1 | 1<<virtio.FNetMAC | 1<<virtio.FNetMTU | 1<<virtio.FNetStatus

func (q *dq) availWord() *uint32 { return (*uint32)(unsafe.Pointer(&q.drv.mem[q.avail])) }
func (q *dq) usedWord() *uint32  { return (*uint32)(unsafe.Pointer(&q.drv.mem[q.used])) }

// usedFlags and usedIdx read the device's used ring header.
func (q *dq) usedFlags() uint16 { return uint16(atomic.LoadUint32(q.usedWord())) }
func (q *dq) usedIdx() uint16   { return uint16(atomic.LoadUint32(q.usedWord()) >> 16) }

// setAvailFlags sets the available ring's flags (keeping idx).
func (q *dq) setAvailFlags(f uint16) {
	atomic.StoreUint32(q.availWord(), uint32(f)|uint32(q.availIdx)<<16)
}

type buf struct {
	addr  uint64
	len   uint32
	write bool
}

// add puts a chain of bufs in the descriptor table and the available ring
// (not yet visible: see publish). It returns the head.
func (q *dq) add(bufs ...buf) uint16 {
	head := q.nextDesc
	for i, b := range bufs {
		idx := q.nextDesc
		q.nextDesc = (q.nextDesc + 1) % q.num
		d := q.drv.mem[q.desc+16*uint64(idx):]
		le.PutUint64(d[0:], b.addr)
		le.PutUint32(d[8:], b.len)
		var fl uint16
		if b.write {
			fl |= virtio.DescFWrite
		}
		if i < len(bufs)-1 {
			fl |= virtio.DescFNext
		}
		le.PutUint16(d[12:], fl)
		le.PutUint16(d[14:], q.nextDesc)
	}
	le.PutUint16(q.drv.mem[q.avail+4+2*uint64(q.availIdx%q.num):], head)
	q.availIdx++
	return head
}

// publish makes the added chains visible and kicks if the device asks for
// it. It reports whether it kicked.
func (q *dq) publish() bool {
	w := q.availWord()
	for {
		old := atomic.LoadUint32(w)
		if atomic.CompareAndSwapUint32(w, old, old&0xffff|uint32(q.availIdx)<<16) {
			break
		}
	}
	if q.usedFlags()&virtio.UsedFNoNotify != 0 {
		return false
	}
	var one [8]byte
	le.PutUint64(one[:], 1)
	if n, err := unix.Write(q.drv.d.KickFD(), one[:]); n != 8 {
		q.drv.t.Fatalf("kick: %v", err)
	}
	return true
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

// settle waits until the poller sleeps (it asks for transmit kicks).
func (drv *driver) settle() { drv.q[virtio.NetTxQueue].waitFlag(false) }

// waitUsed waits until the device has returned n more chains and returns
// their (id, len).
func (q *dq) waitUsed(n int) [][2]uint32 {
	q.drv.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for uint16(q.usedIdx()-q.lastUsed) < uint16(n) {
		if time.Now().After(deadline) {
			q.drv.t.Fatalf("timeout: %d of %d used elements", q.usedIdx()-q.lastUsed, n)
		}
		runtime.Gosched()
	}
	var out [][2]uint32
	for i := 0; i < n; i++ {
		e := q.drv.mem[q.used+4+8*uint64(q.lastUsed%q.num):]
		out = append(out, [2]uint32{le.Uint32(e[0:]), le.Uint32(e[4:])})
		q.lastUsed++
	}
	if extra := q.usedIdx() - q.lastUsed; extra != 0 {
		q.drv.t.Fatalf("%d more used elements than expected", extra)
	}
	return out
}
