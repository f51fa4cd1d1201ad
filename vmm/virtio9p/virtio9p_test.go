package virtio9p

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/virtio"
)

// next returns the next request the fake server holds.
func next(t *testing.T, srv *fakeServer) *treq {
	t.Helper()
	select {
	case r := <-srv.reqs:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the server got no request")
		return nil
	}
}

// noRequest checks that the server gets no request for a while.
func noRequest(t *testing.T, srv *fakeServer) {
	t.Helper()
	select {
	case r := <-srv.reqs:
		t.Fatalf("the server got % x", r.msg)
	case <-time.After(20 * time.Millisecond):
	}
}

func waitEnded(t *testing.T, srv *fakeServer, session int) {
	t.Helper()
	select {
	case n := <-srv.ended:
		if n != session {
			t.Fatalf("session %d ended, want %d", n, session)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("session %d did not end", session)
	}
}

func payload(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = seed + byte(i*7)
	}
	return p
}

func TestRegisters(t *testing.T) {
	drv := newDriver(t)
	for _, c := range []struct {
		off  uint64
		want uint32
	}{
		{virtio.RegMagic, virtio.MagicValue},
		{virtio.RegVersion, 2},
		{virtio.RegDeviceID, virtio.Device9P},
		{virtio.RegVendorID, 0x45544f4d},
		{virtio.RegStatus, 0},
	} {
		if got := drv.r32(c.off); got != c.want {
			t.Errorf("register %#x = %#x, want %#x", c.off, got, c.want)
		}
	}
	drv.w32(virtio.RegDeviceFeatSel, 0)
	lo := drv.r32(virtio.RegDeviceFeatures)
	drv.w32(virtio.RegDeviceFeatSel, 1)
	hi := drv.r32(virtio.RegDeviceFeatures)
	if f := uint64(hi)<<32 | uint64(lo); f != allFeatures {
		t.Errorf("features %#x, want %#x", f, uint64(allFeatures))
	}
	// The configuration space: tag_len, then the tag, at several widths.
	var w2 [2]byte
	drv.d.Read(virtio.RegConfig+virtio.NinePCfgTagLen, w2[:])
	if n := le.Uint16(w2[:]); n != uint16(len(testTag)) {
		t.Errorf("tag_len %d", n)
	}
	tag := make([]byte, len(testTag)+2)
	for i := range tag {
		drv.d.Read(virtio.RegConfig+virtio.NinePCfgTag+uint64(i), tag[i:i+1])
	}
	if want := testTag + "\x00\x00"; string(tag) != want {
		t.Errorf("tag %q, want %q", tag, want)
	}
	if w := drv.r32(virtio.RegConfig); w != uint32(len(testTag))|uint32(testTag[0])<<16|uint32(testTag[1])<<24 {
		t.Errorf("config word 0 %#x", w)
	}
	var w8 [8]byte
	drv.d.Read(virtio.RegConfig+4, w8[:])
	if string(w8[:]) != testTag[2:]+"\x00" {
		t.Errorf("config bytes 4-11 %q", w8)
	}
	// One queue.
	drv.w32(virtio.RegQueueSel, 1)
	if drv.r32(virtio.RegQueueNumMax) != 0 {
		t.Error("queue 1 exists")
	}
	drv.w32(virtio.RegQueueSel, 0)
	if drv.r32(virtio.RegQueueNumMax) != QueueSize {
		t.Error("queue 0 size")
	}
	if drv.srv.numSessions() != 0 {
		t.Error("the server was called before DRIVER_OK")
	}
}

// TestLongTag: the longest tag fills the configuration space of the window.
func TestLongTag(t *testing.T) {
	tag := strings.Repeat("t", MaxTagLen-1) + "z"
	d, err := New(Config{Mem: make([]byte, 1<<20), Tag: tag, Serve: newFakeServer().serve})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var b [2]byte
	d.Read(virtio.RegConfig, b[:])
	if le.Uint16(b[:]) != MaxTagLen {
		t.Errorf("tag_len %d", le.Uint16(b[:]))
	}
	d.Read(0x1ff, b[:1]) // the last byte of the window
	if b[0] != 'z' {
		t.Errorf("last tag byte %q", b[0])
	}
	if MaxTagLen != 254 || d.Tag() != tag {
		t.Errorf("MaxTagLen %d", MaxTagLen)
	}
}

func TestNewErrors(t *testing.T) {
	serve := newFakeServer().serve
	for _, c := range []Config{
		{Tag: "", Serve: serve},
		{Tag: strings.Repeat("x", MaxTagLen+1), Serve: serve},
		{Tag: "a\x00b", Serve: serve},
		{Tag: "ok"},
	} {
		c.Mem = make([]byte, 4096)
		if d, err := New(c); err == nil {
			d.Close()
			t.Errorf("New accepted tag %q, serve %v", c.Tag, c.Serve != nil)
		}
	}
}

func TestNegotiation(t *testing.T) {
	drv := newDriver(t)
	// Without VERSION_1: FEATURES_OK does not stick.
	if st := drv.init(1<<virtio.F9PMountTag, 64); st&virtio.StatusFeaturesOK != 0 {
		t.Fatalf("legacy driver accepted: status %#x", st)
	}
	// A feature not offered.
	if st := drv.init(allFeatures|1<<virtio.FEventIdx, 64); st&virtio.StatusFeaturesOK != 0 {
		t.Fatalf("unoffered feature accepted: status %#x", st)
	}
	if drv.srv.numSessions() != 0 {
		t.Fatal("a session without DRIVER_OK")
	}
	// The mount tag feature is the driver's choice.
	if st := drv.init(1<<virtio.FVersion1, 64); st != statusOK {
		t.Fatalf("status %#x", st)
	}
	drv.srv.setHandler(echo)
	tv := msg(100, 0xffff, []byte("\x00\x20\x00\x00\x08\x009P2000.L"))
	if r := drv.rpc(tv, 8192); !bytes.Equal(r, echo(tv)) {
		t.Fatalf("reply % x", r)
	}
	if drv.srv.numSessions() != 1 {
		t.Fatalf("%d sessions", drv.srv.numSessions())
	}
}

// TestRequest: one request, its bytes to the server exactly, the reply
// into the writable buffer, the used length its size.
func TestRequest(t *testing.T) {
	drv := newDriver(t)
	if st := drv.init(allFeatures, 256); st != statusOK {
		t.Fatalf("status %#x", st)
	}
	tm := msg(110, 7, payload(40, 1)) // Twalk-ish
	head, out := drv.request(tm, 4096)
	drv.q.publish()
	r := next(t, drv.srv)
	if !bytes.Equal(r.msg, tm) {
		t.Fatalf("server got % x, want % x", r.msg, tm)
	}
	rm := msg(111, 7, payload(100, 9))
	r.reply(rm)
	u := drv.q.waitUsed(1)[0]
	if u.id != uint32(head) || u.len != uint32(len(rm)) || !bytes.Equal(drv.mem[out:out+uint64(u.len)], rm) {
		t.Fatalf("used %+v: % x", u, drv.mem[out:out+uint64(u.len)])
	}
	if st := drv.d.Stats(); st.Requests != 1 || st.Replies != 1 || st.Errors != 0 || st.Sessions != 1 {
		t.Errorf("stats %+v", st)
	}
	if drv.r32(virtio.RegInterruptStatus)&1 == 0 {
		t.Error("InterruptStatus does not show the used buffer")
	}
}

// TestScatter: a T-message over several readable buffers (some empty,
// readable bytes beyond its size field), the reply over several writable
// ones (as Linux's zero-copy reads post them: the 11-byte header, then
// pages).
func TestScatter(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	tm := msg(118, 3, payload(300, 2)) // Twrite-ish, 307 bytes
	withJunk := append(append([]byte(nil), tm...), bytes.Repeat([]byte{0xee}, 50)...)
	var bufs []buf
	off := 0
	for _, n := range []int{3, 0, 4, 100, 0, 250} {
		bufs = append(bufs, buf{addr: drv.put(withJunk[off : off+n]), len: uint32(n)})
		off += n
	}
	outs := []int{11, 4096, 0, 4096}
	region := drv.alloc(11+4096+4096+100, 8)
	for i := range drv.mem[region : region+11+4096+4096+100] {
		drv.mem[region+uint64(i)] = 0xaa
	}
	a := region
	for _, n := range outs {
		bufs = append(bufs, buf{addr: a, len: uint32(n), write: true})
		a += uint64(n)
	}
	head := drv.q.add(bufs...)
	drv.q.publish()
	r := next(t, drv.srv)
	if !bytes.Equal(r.msg, tm) {
		t.Fatalf("server got %d bytes, want %d", len(r.msg), len(tm))
	}
	rm := msg(117, 3, payload(5000, 5))
	r.reply(rm)
	u := drv.q.waitUsed(1)[0]
	if u.id != uint32(head) || u.len != uint32(len(rm)) {
		t.Fatalf("used %+v", u)
	}
	got := drv.mem[region : region+11+4096+4096+100]
	if !bytes.Equal(got[:len(rm)], rm) {
		t.Error("reply scattered wrong")
	}
	for i, b := range got[len(rm):] {
		if b != 0xaa {
			t.Fatalf("byte %d after the reply written", i)
		}
	}
}

// TestOutOfOrder: many outstanding requests, answered in another order;
// each chain gets its own reply, in the order of the answers.
func TestOutOfOrder(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	const n = 100
	heads := map[uint16]uint16{} // tag -> head
	outs := map[uint16]uint64{}
	for i := 0; i < n; i++ {
		tag := uint16(i*37 + 1)
		heads[tag], outs[tag] = drv.request(msg(116, tag, payload(i, byte(i))), 512)
		if i%10 == 9 {
			drv.q.publish()
		}
	}
	var held []*treq
	for i := 0; i < n; i++ {
		held = append(held, next(t, drv.srv))
	}
	rand.New(rand.NewSource(1)).Shuffle(n, func(i, j int) { held[i], held[j] = held[j], held[i] })
	for _, r := range held {
		r.reply(msg(117, tagOf(r.msg), payload(int(tagOf(r.msg))%400, byte(tagOf(r.msg)))))
	}
	used := drv.q.waitUsed(n)
	for i, u := range used {
		tag := tagOf(held[i].msg)
		want := msg(117, tag, payload(int(tag)%400, byte(tag)))
		if u.id != uint32(heads[tag]) || u.len != uint32(len(want)) || !bytes.Equal(drv.mem[outs[tag]:outs[tag]+uint64(u.len)], want) {
			t.Fatalf("used element %d: %+v, want the reply to tag %d (head %d)", i, u, tag, heads[tag])
		}
	}
	if st := drv.d.Stats(); st.Requests != n || st.Replies != n {
		t.Errorf("stats %+v", st)
	}
}

// TestReplyTooLarge: a reply larger than the writable buffers becomes
// Rlerror(EIO); nothing is written beyond the buffers.
func TestReplyTooLarge(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	guard := func(a uint64, n int) {
		for i := 0; i < n; i++ {
			drv.mem[a+uint64(i)] = 0xaa
		}
	}
	check := func(a uint64, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if drv.mem[a+uint64(i)] != 0xaa {
				t.Fatalf("byte %d written", i)
			}
		}
	}
	for _, c := range []struct {
		room, reply int
		want        []byte // nil: the reply
	}{
		{64, 100, rlerror(1, unix.EIO)},
		{64, 64, nil},
		{8, 7, nil},  // fits, though Rlerror would not
		{8, 20, nil}, // neither fits: length 0
		{12, 13, rlerror(1, unix.EIO)},
	} {
		tm := msg(120, 1, nil)
		out := drv.alloc(uint64(c.room)+64, 8)
		guard(out, c.room+64)
		head := drv.q.add(buf{addr: drv.put(tm), len: uint32(len(tm))}, buf{addr: out, len: uint32(c.room), write: true})
		drv.q.publish()
		rm := msg(121, 1, payload(c.reply-7, 3))
		next(t, drv.srv).reply(rm)
		u := drv.q.waitUsed(1)[0]
		want := c.want
		if want == nil && c.reply <= c.room {
			want = rm
		}
		if u.id != uint32(head) || int(u.len) != len(want) || !bytes.Equal(drv.mem[out:out+uint64(u.len)], want) {
			t.Fatalf("room %d, reply %d: used %+v: % x", c.room, c.reply, u, drv.mem[out:out+uint64(u.len)])
		}
		check(out, len(want), c.room+64)
	}
	if st := drv.d.Stats(); st.Errors != 3 || st.Replies != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestMalformed: chains the device cannot pass on are answered (Rlerror
// when there is a tag and room for it, else length 0) without reaching the
// server, and the device keeps working.
func TestMalformed(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	drv.srv.setHandler(echo)
	tm := msg(120, 9, payload(20, 1))
	cases := []struct {
		name string
		post func() (head uint16, out uint64)
		want []byte // the answer (nil: length 0)
	}{
		{"no writable buffer", func() (uint16, uint64) {
			return drv.q.add(buf{addr: drv.put(tm), len: uint32(len(tm))}), 0
		}, nil},
		{"size beyond the readable bytes", func() (uint16, uint64) {
			m := append([]byte(nil), tm...)
			le.PutUint32(m, uint32(len(m)+1))
			return drv.request(m, 64)
		}, rlerror(9, unix.EINVAL)},
		{"huge size", func() (uint16, uint64) {
			m := append([]byte(nil), tm...)
			le.PutUint32(m, 0xffffffff)
			return drv.request(m, 64)
		}, rlerror(9, unix.EINVAL)},
		{"size below the header", func() (uint16, uint64) {
			m := append([]byte(nil), tm...)
			le.PutUint32(m, 6)
			return drv.request(m, 64)
		}, rlerror(9, unix.EINVAL)},
		{"shorter than a header", func() (uint16, uint64) {
			return drv.request(tm[:6], 64)
		}, nil},
		{"no readable buffer", func() (uint16, uint64) {
			out := drv.alloc(64, 8)
			return drv.q.add(buf{addr: out, len: 64, write: true}), out
		}, nil},
		{"writable buffer too small for any reply", func() (uint16, uint64) {
			return drv.request(tm, 6)
		}, nil},
		{"readable after writable", func() (uint16, uint64) {
			out := drv.alloc(64, 8)
			extra := drv.put([]byte("junk"))
			return drv.q.add(buf{addr: drv.put(tm), len: uint32(len(tm))}, buf{addr: out, len: 64, write: true}, buf{addr: extra, len: 4}), out
		}, rlerror(9, unix.EINVAL)},
		{"descriptor outside RAM", func() (uint16, uint64) {
			out := drv.alloc(64, 8)
			return drv.q.add(buf{addr: memSize - 4, len: 100}, buf{addr: out, len: 64, write: true}), out
		}, nil},
		{"descriptor length wraps", func() (uint16, uint64) {
			out := drv.alloc(64, 8)
			return drv.q.add(buf{addr: drv.put(tm), len: uint32(len(tm))}, buf{addr: ^uint64(0) - 10, len: 64, write: true}), out
		}, nil},
		{"indirect descriptor", func() (uint16, uint64) {
			head, out := drv.request(tm, 64)
			d := drv.mem[drv.q.desc+16*uint64(head):]
			le.PutUint16(d[12:], le.Uint16(d[12:])|virtio.DescFIndirect)
			return head, out
		}, nil},
		{"loop", func() (uint16, uint64) {
			head, out := drv.request(tm, 64)
			second := le.Uint16(drv.mem[drv.q.desc+16*uint64(head)+14:])
			d := drv.mem[drv.q.desc+16*uint64(second):]
			le.PutUint16(d[12:], virtio.DescFWrite|virtio.DescFNext)
			le.PutUint16(d[14:], head)
			return head, out
		}, nil},
	}
	for _, c := range cases {
		head, out := c.post()
		drv.q.publish()
		u := drv.q.waitUsed(1)[0]
		if u.id != uint32(head) || int(u.len) != len(c.want) || (c.want != nil && !bytes.Equal(drv.mem[out:out+uint64(u.len)], c.want)) {
			t.Errorf("%s: used %+v, want length %d", c.name, u, len(c.want))
		}
	}
	if st := drv.d.Stats(); st.Requests != 0 || st.Errors != uint64(len(cases)) {
		t.Errorf("stats %+v", st)
	}
	// All at once, then a good request: the device and the connection
	// still work.
	for _, c := range cases {
		c.post()
	}
	drv.q.publish()
	drv.q.waitUsed(len(cases))
	if r := drv.rpc(tm, 64); !bytes.Equal(r, echo(tm)) {
		t.Fatalf("reply % x", r)
	}
	if st := drv.d.Stats(); st.Requests != 1 || st.Replies != 1 || drv.r32(virtio.RegStatus) != statusOK {
		t.Errorf("stats %+v, status %#x", st, drv.r32(virtio.RegStatus))
	}
}

// TestDuplicateTag: a tag already outstanding is refused (Rlerror EINVAL
// for the second request) and the first is answered as usual.
func TestDuplicateTag(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	h1, o1 := drv.request(msg(120, 5, nil), 64)
	drv.q.publish()
	r := next(t, drv.srv)
	h2, o2 := drv.request(msg(120, 5, []byte{1}), 64)
	drv.q.publish()
	u := drv.q.waitUsed(1)[0]
	if u.id != uint32(h2) || !bytes.Equal(drv.mem[o2:o2+uint64(u.len)], rlerror(5, unix.EINVAL)) {
		t.Fatalf("duplicate: used %+v", u)
	}
	noRequest(t, drv.srv)
	r.reply(msg(121, 5, nil))
	u = drv.q.waitUsed(1)[0]
	if u.id != uint32(h1) || !bytes.Equal(drv.mem[o1:o1+uint64(u.len)], msg(121, 5, nil)) {
		t.Fatalf("first: used %+v", u)
	}
	// The tag is free again.
	h3, o3 := drv.request(msg(120, 5, nil), 64)
	drv.q.publish()
	next(t, drv.srv).reply(msg(121, 5, []byte{3}))
	u = drv.q.waitUsed(1)[0]
	if u.id != uint32(h3) || !bytes.Equal(drv.mem[o3:o3+uint64(u.len)], msg(121, 5, []byte{3})) {
		t.Fatalf("reuse: used %+v", u)
	}
}

// TestStrayReplies: replies to tags not outstanding are dropped; a reply
// the device cannot frame ends the connection, and the outstanding
// requests get EIO.
func TestStrayReplies(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	h1, o1 := drv.request(msg(120, 1, nil), 64)
	h2, o2 := drv.request(msg(120, 2, nil), 64)
	drv.q.publish()
	r1, r2 := next(t, drv.srv), next(t, drv.srv)
	r1.reply(msg(121, 77, nil))
	r1.reply(msg(121, 1, nil))
	u := drv.q.waitUsed(1)[0]
	if u.id != uint32(h1) || !bytes.Equal(drv.mem[o1:o1+uint64(u.len)], msg(121, 1, nil)) {
		t.Fatalf("used %+v", u)
	}
	var bad [7]byte
	le.PutUint32(bad[:], 3)
	r2.reply(bad[:])
	u = drv.q.waitUsed(1)[0]
	if u.id != uint32(h2) || !bytes.Equal(drv.mem[o2:o2+uint64(u.len)], rlerror(2, unix.EIO)) {
		t.Fatalf("used %+v", u)
	}
	waitEnded(t, drv.srv, 1)
}

// TestServerEnds: when the server ends the connection, outstanding and
// later requests get EIO; a reset brings a new connection.
func TestServerEnds(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	heads := map[uint16]uint64{}
	for tag := uint16(1); tag <= 3; tag++ {
		h, o := drv.request(msg(120, tag, nil), 64)
		heads[h] = o
	}
	drv.q.publish()
	var r *treq
	for i := 0; i < 3; i++ {
		r = next(t, drv.srv)
	}
	r.c.kill()
	for _, u := range drv.q.waitUsed(3) {
		o := heads[uint16(u.id)]
		if m := drv.mem[o : o+uint64(u.len)]; len(m) != rlerrorSize || m[4] != msgRlerror || le.Uint32(m[7:]) != uint32(unix.EIO) {
			t.Fatalf("used %+v: % x", u, m)
		}
	}
	waitEnded(t, drv.srv, 1)
	if r := drv.rpc(msg(120, 4, nil), 64); !bytes.Equal(r, rlerror(4, unix.EIO)) {
		t.Fatalf("after the end: % x", r)
	}
	noRequest(t, drv.srv)
	drv.init(allFeatures, 256)
	drv.srv.setHandler(echo)
	if r := drv.rpc(msg(120, 4, nil), 64); !bytes.Equal(r, msg(121, 4, nil)) {
		t.Fatalf("after the reset: % x", r)
	}
	if n := drv.srv.numSessions(); n != 2 {
		t.Errorf("%d sessions", n)
	}
}

// TestReset: a reset ends the session's connection (the server sees the
// end of its input), drops the outstanding requests, and the next session
// gets a new connection.
func TestReset(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	for tag := uint16(1); tag <= 5; tag++ {
		drv.request(msg(120, tag, nil), 64)
	}
	drv.q.publish()
	var held []*treq
	for i := 0; i < 5; i++ {
		held = append(held, next(t, drv.srv))
	}
	held[0].reply(msg(121, tagOf(held[0].msg), nil))
	drv.q.waitUsed(1)
	drv.reset()
	if drv.r32(virtio.RegStatus) != 0 || drv.r32(virtio.RegQueueReady) != 0 {
		t.Fatal("not reset")
	}
	waitEnded(t, drv.srv, 1)
	// The old session's replies go nowhere.
	for _, r := range held[1:] {
		r.reply(msg(121, tagOf(r.msg), nil))
	}
	old := drv.q
	if st := drv.init(allFeatures, 64); st != statusOK {
		t.Fatalf("status %#x", st)
	}
	if old.usedIdx() != 1 || drv.q.usedIdx() != 0 {
		t.Fatalf("used index %d, new %d", old.usedIdx(), drv.q.usedIdx())
	}
	// Tags of the old session are free in the new one.
	drv.srv.setHandler(echo)
	for tag := uint16(1); tag <= 5; tag++ {
		tm := msg(120, tag, []byte{byte(tag)})
		if r := drv.rpc(tm, 64); !bytes.Equal(r, echo(tm)) {
			t.Fatalf("tag %d: % x", tag, r)
		}
	}
	if st := drv.d.Stats(); st.Sessions != 2 || st.Replies != 6 {
		t.Errorf("stats %+v", st)
	}
	// FAILED ends the session too.
	drv.w32(virtio.RegStatus, drv.r32(virtio.RegStatus)|virtio.StatusFailed)
	waitEnded(t, drv.srv, 2)
}

// TestResetWhileWriting: a reset while the poller is blocked writing to a
// server that does not read.
func TestResetWhileWriting(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	sessions := 0
	srv := newFakeServer()
	srv.setHandler(echo)
	drv := newDriverServe(t, func(rd io.ReadCloser, wr io.WriteCloser) error {
		mu.Lock()
		sessions++
		n := sessions
		mu.Unlock()
		if n == 1 {
			<-release
			io.Copy(io.Discard, rd)
			return nil
		}
		return srv.serve(rd, wr)
	})
	drv.init(allFeatures, 256)
	drv.request(msg(120, 1, payload(1000, 1)), 64)
	drv.q.publish()
	time.Sleep(10 * time.Millisecond)
	// The poller is busy: the guest need not kick.
	drv.request(msg(120, 2, nil), 64)
	if drv.q.publish() {
		t.Error("kicked a busy device")
	}
	done := make(chan struct{})
	go func() {
		drv.reset()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the reset waits for the poller")
	}
	close(release)
	drv.init(allFeatures, 256)
	tm := msg(120, 1, nil)
	if r := drv.rpc(tm, 64); !bytes.Equal(r, echo(tm)) {
		t.Fatalf("after the reset: % x", r)
	}
}

// TestNotify: kicks wake a sleeping poller (through the ioeventfd or the
// QueueNotify register); used buffers wake the guest unless it set
// AvailFNoInterrupt.
func TestNotify(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	drv.srv.setHandler(echo)
	tm := msg(120, 1, nil)
	drv.settle()
	w0 := drv.wakes.Load()
	head, _ := drv.request(tm, 64)
	if !drv.q.publish() {
		t.Fatal("no kick to a sleeping device")
	}
	if u := drv.q.waitUsed(1)[0]; u.id != uint32(head) {
		t.Fatalf("used %+v", u)
	}
	time.Sleep(10 * time.Millisecond) // (the wake-up follows the used index)
	if w := drv.wakes.Load() - w0; w != 1 {
		t.Errorf("%d wake-ups for one reply", w)
	}
	st := drv.d.Stats()
	if st.Kicks != 1 || st.PollerWakeups != 1 || st.GuestWakes != uint64(drv.wakes.Load()) {
		t.Errorf("stats %+v", st)
	}
	// No wake-ups for a driver that does not want them.
	drv.q.setAvailFlags(virtio.AvailFNoInterrupt)
	w0 = drv.wakes.Load()
	drv.rpc(tm, 64)
	bad := msg(120, 1, nil)
	le.PutUint32(bad, 100)
	if r := drv.rpc(bad, 64); !bytes.Equal(r, rlerror(1, unix.EINVAL)) { // (from the poller)
		t.Fatalf("% x", r)
	}
	time.Sleep(10 * time.Millisecond)
	if w := drv.wakes.Load() - w0; w != 0 {
		t.Errorf("%d wake-ups with AvailFNoInterrupt", w)
	}
	drv.q.setAvailFlags(0)
	// A kick through the register.
	drv.settle()
	time.Sleep(time.Millisecond)
	head, _ = drv.request(tm, 64)
	drv.q.setAvailFlags(0) // publish without kicking
	drv.q.expectNoUsed(10 * time.Millisecond)
	k0 := drv.d.Stats().Kicks
	drv.w32(virtio.RegQueueNotify, virtio.NinePRequestQueue)
	if u := drv.q.waitUsed(1)[0]; u.id != uint32(head) {
		t.Fatalf("used %+v", u)
	}
	if k := drv.d.Stats().Kicks - k0; k != 1 {
		t.Errorf("%d kicks", k)
	}
}

// TestConcurrent: many goroutines making requests at once through a small
// queue, a server answering in its own time; the driver sleeps until the
// device wakes it.
func TestConcurrent(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 32)
	var seq sync.Mutex
	rnd := rand.New(rand.NewSource(2))
	drv.srv.setHandler(func(m []byte) []byte {
		seq.Lock()
		d := time.Duration(rnd.Intn(300)) * time.Microsecond
		seq.Unlock()
		time.Sleep(d)
		return msg(m[4]+1, tagOf(m), append(append([]byte(nil), m[7:]...), m[7:]...))
	})
	m := drv.startMux(16, 2048)
	const workers, calls = 24, 150
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				tag := uint16(w*1000 + i%1000)
				p := payload(1+(w*31+i)%500, byte(w+i))
				r, err := m.call(msg(120, tag, p))
				want := msg(121, tag, append(append([]byte(nil), p...), p...))
				if err != nil || !bytes.Equal(r, want) {
					errs <- fmt.Errorf("worker %d call %d: %v, %d bytes", w, i, err, len(r))
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := drv.d.Stats()
	t.Logf("%+v", st)
	if st.Requests != workers*calls || st.Replies != workers*calls || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestClose: Close ends the connection and the device writes no more.
func TestClose(t *testing.T) {
	drv := newDriver(t)
	drv.init(allFeatures, 256)
	drv.request(msg(120, 1, nil), 64)
	drv.q.publish()
	r := next(t, drv.srv)
	if err := drv.d.Close(); err != nil {
		t.Fatal(err)
	}
	waitEnded(t, drv.srv, 1)
	if r.reply(msg(121, 1, nil)) == nil {
		t.Error("the connection is open after Close")
	}
	drv.request(msg(120, 2, nil), 64)
	drv.q.setAvailFlags(0)
	drv.w32(virtio.RegQueueNotify, 0)
	drv.q.expectNoUsed(20 * time.Millisecond)
	if drv.d.Close() != nil {
		t.Error("second Close")
	}
}

// TestNoLeak: after Close, the device's goroutines (poller, reply readers,
// the servers of every session) are gone.
func TestNoLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		drv := newDriver(t)
		drv.srv.setHandler(echo)
		for i := 0; i < 3; i++ { // three sessions
			drv.init(allFeatures, 64)
			tm := msg(120, 1, nil)
			if r := drv.rpc(tm, 64); !bytes.Equal(r, echo(tm)) {
				t.Fatalf("% x", r)
			}
		}
		drv.d.Close()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
