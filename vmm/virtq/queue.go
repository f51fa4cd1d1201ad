// Package virtq is the device side of virtio 1.x in mote's monitor: split
// virtqueues in guest memory (virtio 1.2 section 2.7) and the virtio-mmio
// version 2 register file (section 4.2.2). Device models (vmm/virtionet)
// build on it.
//
// Every guest-supplied address is bounds-checked against guest RAM. The
// device publishes used elements before the used index and reads the
// available index before the ring entries and descriptors it covers, with
// 32-bit atomic accesses to the aligned words holding the 16-bit indices
// (Go has no 16-bit atomics; on amd64 an atomic store is an XCHG, a full
// barrier).
package virtq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/virtio"
)

// Mem is guest RAM: guest-physical [0, len(Mem)).
type Mem []byte

// Slice returns guest RAM [gpa, gpa+n), or false if any of it is outside.
func (m Mem) Slice(gpa, n uint64) ([]byte, bool) {
	end := gpa + n
	if end < gpa || end > uint64(len(m)) {
		return nil, false
	}
	return m[gpa:end:end], true
}

// word returns the aligned 32-bit word of guest RAM that contains the
// 16-bit field at gpa (gpa even, the word inside RAM: checked by Enable),
// and the shift of the field in it.
func (m Mem) word(gpa uint64) (*uint32, uint) {
	w := gpa &^ 3
	return (*uint32)(unsafe.Pointer(&m[w])), uint(gpa-w) * 8
}

// load16 reads the 16-bit field at gpa atomically.
func (m Mem) load16(gpa uint64) uint16 {
	p, shift := m.word(gpa)
	return uint16(atomic.LoadUint32(p) >> shift)
}

var le = binary.LittleEndian

// Seg is one descriptor of a chain: a buffer in guest RAM.
type Seg struct {
	Buf   []byte
	Write bool // device-writable (VIRTQ_DESC_F_WRITE)
}

// Errors of a malformed queue or chain (driver bugs).
var (
	ErrChainLoop  = errors.New("descriptor chain longer than the queue (a loop?)")
	ErrBadDesc    = errors.New("descriptor outside guest RAM")
	ErrBadNext    = errors.New("descriptor next index out of range")
	ErrIndirect   = errors.New("indirect descriptor (VIRTIO_F_INDIRECT_DESC was not offered)")
	ErrBadHead    = errors.New("available ring entry out of range")
	ErrAvailAhead = errors.New("available index more than the queue size ahead of the device")
)

// Queue is one split virtqueue, device side. The transport fills Num,
// Desc, Avail and Used while the queue is not ready. Users hold the lock
// (Lock/Unlock) around every other method; the transport takes it to
// enable, disable or reset the queue, so a data path that holds it sees a
// stable configuration.
type Queue struct {
	mu sync.Mutex

	Max uint16 // QueueNumMax

	// Configuration registers (driver-written, meaningful while ready).
	Num               uint16
	Desc, Avail, Used uint64

	ready bool
	mem   Mem
	err   error // first driver error seen; the queue stops until reset
	taken bool  // err was returned by TakeErr

	lastAvail  uint16 // next available ring entry to take
	availIdx   uint16 // the driver's available index, as last read
	usedIdx    uint16 // next used element to fill
	pubIdx     uint16 // used index the driver can see
	usedFlags  uint16
	pushedSome bool // elements pushed since the last Publish
}

// Lock and Unlock guard the queue.
func (q *Queue) Lock()   { q.mu.Lock() }
func (q *Queue) Unlock() { q.mu.Unlock() }

// Ready reports whether the driver enabled the queue and no error stopped it.
func (q *Queue) Ready() bool { return q.ready && q.err == nil }

// Err returns the driver error that stopped the queue, if any.
func (q *Queue) Err() error { return q.err }

// TakeErr returns the driver error that stopped the queue the first time
// it is called after the error, nil otherwise.
func (q *Queue) TakeErr() error {
	if q.err == nil || q.taken {
		return nil
	}
	q.taken = true
	return q.err
}

// fail records a driver error; the queue does no more work until reset.
func (q *Queue) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// enable validates the configuration against mem and makes the queue
// ready (QueueReady = 1). The used ring starts with idx 0 and the current
// flags.
func (q *Queue) enable(mem Mem) error {
	n := uint64(q.Num)
	switch {
	case n == 0 || n&(n-1) != 0 || q.Num > q.Max:
		return fmt.Errorf("queue size %d is not a power of two in [1, %d]", q.Num, q.Max)
	case q.Desc%16 != 0:
		return fmt.Errorf("descriptor table at %#x is not 16-byte aligned", q.Desc)
	case q.Avail%2 != 0:
		return fmt.Errorf("available ring at %#x is not 2-byte aligned", q.Avail)
	case q.Used%4 != 0:
		return fmt.Errorf("used ring at %#x is not 4-byte aligned", q.Used)
	}
	if _, ok := mem.Slice(q.Desc, n*virtio.DescSize); !ok {
		return fmt.Errorf("descriptor table at %#x is outside guest RAM", q.Desc)
	}
	// The ring plus the aligned word holding ring[0] (see Mem.word).
	if _, ok := mem.Slice(q.Avail&^3, uint64(virtio.AvailSize(int(n)))+4); !ok {
		return fmt.Errorf("available ring at %#x is outside guest RAM", q.Avail)
	}
	if _, ok := mem.Slice(q.Used, uint64(virtio.UsedSize(int(n)))); !ok {
		return fmt.Errorf("used ring at %#x is outside guest RAM", q.Used)
	}
	q.mem = mem
	q.ready, q.err, q.taken = true, nil, false
	q.lastAvail, q.availIdx, q.usedIdx, q.pubIdx, q.pushedSome = 0, 0, 0, 0, false
	q.storeUsedWord()
	return nil
}

// reset returns the queue to its state after a device reset.
func (q *Queue) reset() {
	q.Num, q.Desc, q.Avail, q.Used = 0, 0, 0, 0
	q.ready, q.err, q.taken, q.mem = false, nil, false, nil
	q.lastAvail, q.availIdx, q.usedIdx, q.pubIdx, q.usedFlags, q.pushedSome = 0, 0, 0, 0, 0, false
}

// Pending returns how many available chains the device has not taken yet.
// It reads the available index from guest memory.
func (q *Queue) Pending() int {
	if !q.Ready() {
		return 0
	}
	q.availIdx = q.mem.load16(q.Avail + 2)
	n := q.availIdx - q.lastAvail
	if n > q.Num {
		q.fail(fmt.Errorf("%w (%d ahead, size %d)", ErrAvailAhead, n, q.Num))
		return 0
	}
	return int(n)
}

// Pop takes the next available chain and returns its head descriptor.
// It re-reads the available index only when the chains seen so far are
// used up.
func (q *Queue) Pop() (head uint16, ok bool) {
	if !q.Ready() {
		return 0, false
	}
	if q.lastAvail == q.availIdx && q.Pending() == 0 {
		return 0, false
	}
	off := q.Avail + 4 + 2*uint64(q.lastAvail&(q.Num-1))
	head = le.Uint16(q.mem[off:])
	if head >= q.Num {
		q.fail(fmt.Errorf("%w (%d, size %d)", ErrBadHead, head, q.Num))
		return 0, false
	}
	q.lastAvail++
	return head, true
}

// Unpop gives back the chain Pop returned last (it stays available).
func (q *Queue) Unpop() { q.lastAvail-- }

// Chain appends the descriptors of the chain at head to segs. On a
// malformed chain it returns the error and the queue keeps working (the
// caller returns the chain with Push, length 0).
func (q *Queue) Chain(head uint16, segs []Seg) ([]Seg, error) {
	i := head
	for n := 0; ; n++ {
		if n >= int(q.Num) {
			return segs, ErrChainLoop
		}
		d := q.mem[q.Desc+uint64(i)*virtio.DescSize:][:virtio.DescSize]
		addr, length, flags, next := le.Uint64(d[0:]), le.Uint32(d[8:]), le.Uint16(d[12:]), le.Uint16(d[14:])
		if flags&virtio.DescFIndirect != 0 {
			return segs, ErrIndirect
		}
		buf, ok := q.mem.Slice(addr, uint64(length))
		if !ok {
			return segs, ErrBadDesc
		}
		segs = append(segs, Seg{Buf: buf, Write: flags&virtio.DescFWrite != 0})
		if flags&virtio.DescFNext == 0 {
			return segs, nil
		}
		if next >= q.Num {
			return segs, ErrBadNext
		}
		i = next
	}
}

// Push adds a used element: the chain at head, with n bytes written by
// the device. The driver sees it after Publish.
func (q *Queue) Push(head uint16, n uint32) {
	if !q.ready {
		return
	}
	e := q.mem[q.Used+4+virtio.UsedElemSize*uint64(q.usedIdx&(q.Num-1)):][:virtio.UsedElemSize]
	le.PutUint32(e[0:], uint32(head))
	le.PutUint32(e[4:], n)
	q.usedIdx++
	q.pushedSome = true
}

// Publish makes the pushed elements visible (one atomic store of the used
// index after the elements) and reports whether the driver wants to hear
// about them: true unless it set virtio.AvailFNoInterrupt. The flag is read
// after the store (a full barrier), so a driver that clears the flag and
// then re-checks the used index cannot miss both.
func (q *Queue) Publish() (notify bool) {
	if !q.ready || !q.pushedSome {
		return false
	}
	q.pubIdx = q.usedIdx
	q.pushedSome = false
	q.storeUsedWord()
	return q.mem.load16(q.Avail)&virtio.AvailFNoInterrupt == 0
}

// SetNoNotify sets or clears virtio.UsedFNoNotify in the used ring's flags
// (a full barrier on amd64: a later Pending sees any available index the
// driver published before it could see the cleared flag).
func (q *Queue) SetNoNotify(on bool) {
	f := q.usedFlags &^ virtio.UsedFNoNotify
	if on {
		f |= virtio.UsedFNoNotify
	}
	if !q.ready || f == q.usedFlags {
		return
	}
	q.usedFlags = f
	q.storeUsedWord()
}

// NoNotify reports whether UsedFNoNotify is set.
func (q *Queue) NoNotify() bool { return q.usedFlags&virtio.UsedFNoNotify != 0 }

// storeUsedWord writes the used ring's flags and published idx with one
// atomic 32-bit store (the device owns both fields; the ring is 4-byte
// aligned).
func (q *Queue) storeUsedWord() {
	p := (*uint32)(unsafe.Pointer(&q.mem[q.Used]))
	atomic.StoreUint32(p, uint32(q.usedFlags)|uint32(q.pubIdx)<<16)
}
