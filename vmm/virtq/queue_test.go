package virtq

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/motevm/mote/virtio"
)

func newQueue(t *testing.T, num uint16) (*Queue, Mem) {
	mem := make(Mem, 1<<16)
	q := &Queue{Max: 256, Num: num, Desc: 0x1000, Avail: 0x2002, Used: 0x3000}
	if err := q.enable(mem); err != nil {
		t.Fatal(err)
	}
	return q, mem
}

func setDesc(mem Mem, q *Queue, i uint16, addr uint64, n uint32, flags, next uint16) {
	d := mem[q.Desc+16*uint64(i):]
	binary.LittleEndian.PutUint64(d, addr)
	binary.LittleEndian.PutUint32(d[8:], n)
	binary.LittleEndian.PutUint16(d[12:], flags)
	binary.LittleEndian.PutUint16(d[14:], next)
}

func TestChainErrors(t *testing.T) {
	q, mem := newQueue(t, 8)
	setDesc(mem, q, 0, 0x4000, 10, virtio.DescFNext, 1)
	setDesc(mem, q, 1, 0x5000, 10, virtio.DescFNext, 0) // loop
	if _, err := q.Chain(0, nil); !errors.Is(err, ErrChainLoop) {
		t.Errorf("loop: %v", err)
	}
	setDesc(mem, q, 1, 0x5000, 10, virtio.DescFNext, 8)
	if _, err := q.Chain(0, nil); !errors.Is(err, ErrBadNext) {
		t.Errorf("next out of range: %v", err)
	}
	setDesc(mem, q, 1, uint64(len(mem))-5, 10, 0, 0)
	if _, err := q.Chain(0, nil); !errors.Is(err, ErrBadDesc) {
		t.Errorf("outside RAM: %v", err)
	}
	setDesc(mem, q, 1, ^uint64(0)-3, 10, 0, 0)
	if _, err := q.Chain(0, nil); !errors.Is(err, ErrBadDesc) {
		t.Errorf("address wraps: %v", err)
	}
	setDesc(mem, q, 1, 0x5000, 10, virtio.DescFIndirect, 0)
	if _, err := q.Chain(0, nil); !errors.Is(err, ErrIndirect) {
		t.Errorf("indirect: %v", err)
	}
	setDesc(mem, q, 1, 0x5000, 20, virtio.DescFWrite, 0)
	segs, err := q.Chain(0, nil)
	if err != nil || len(segs) != 2 || len(segs[0].Buf) != 10 || segs[0].Write || len(segs[1].Buf) != 20 || !segs[1].Write {
		t.Errorf("good chain: %v %+v", err, segs)
	}
}

func TestRingIndices(t *testing.T) {
	q, mem := newQueue(t, 4)
	le := binary.LittleEndian
	// The available ring at 0x2002 (2 mod 4): idx is the low half of the
	// word at 0x2004.
	for i := 0; i < 4; i++ {
		le.PutUint16(mem[q.Avail+4+2*uint64(i):], uint16(3-i))
	}
	le.PutUint16(mem[q.Avail+2:], 3)
	if n := q.Pending(); n != 3 {
		t.Fatalf("pending %d", n)
	}
	for want := uint16(3); want > 0; want-- {
		h, ok := q.Pop()
		if !ok || h != want {
			t.Fatalf("pop %d %v, want %d", h, ok, want)
		}
		q.Push(h, uint32(want)*10)
	}
	if _, ok := q.Pop(); ok {
		t.Fatal("pop past idx")
	}
	q.SetNoNotify(true)
	if le.Uint16(mem[q.Used+2:]) != 0 || le.Uint16(mem[q.Used:]) != virtio.UsedFNoNotify {
		t.Fatal("used idx visible before Publish, or flag not set")
	}
	le.PutUint16(mem[q.Avail:], virtio.AvailFNoInterrupt)
	if q.Publish() {
		t.Error("Publish wants a notification despite NO_INTERRUPT")
	}
	if le.Uint16(mem[q.Used+2:]) != 3 || le.Uint32(mem[q.Used+4+8*2+4:]) != 10 {
		t.Errorf("used ring % x", mem[q.Used:q.Used+4+8*4])
	}
	// Wrap-around of the 16-bit indices, and a driver running ahead.
	q.lastAvail, q.availIdx = 0xfffe, 0xfffe
	le.PutUint16(mem[q.Avail+2:], 0x0001)
	if n := q.Pending(); n != 3 {
		t.Fatalf("pending across wrap %d", n)
	}
	le.PutUint16(mem[q.Avail+2:], 0x0003)
	if n := q.Pending(); n != 0 || !errors.Is(q.Err(), ErrAvailAhead) || q.Ready() {
		t.Fatalf("ahead: pending %d err %v", n, q.Err())
	}
}
