package virtionet

import (
	"bytes"
	"testing"
	"time"

	"github.com/motevm/mote/virtio"
)

func TestRegisters(t *testing.T) {
	drv := newDriver(t, 1500)
	for _, c := range []struct {
		off  uint64
		want uint32
	}{
		{virtio.RegMagic, virtio.MagicValue},
		{virtio.RegVersion, 2},
		{virtio.RegDeviceID, virtio.DeviceNet},
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
	drv.w32(virtio.RegDeviceFeatSel, 2)
	if f := uint64(hi)<<32 | uint64(lo); f != allFeatures || drv.r32(virtio.RegDeviceFeatures) != 0 {
		t.Errorf("features %#x, want %#x", f, uint64(allFeatures))
	}
	// Configuration space, at several widths.
	cfg := make([]byte, 12)
	for i := range cfg {
		drv.d.Read(virtio.RegConfig+uint64(i), cfg[i:i+1])
	}
	want := []byte{0x52, 0x54, 0, 0x12, 0x34, 0x56, 1, 0, 1, 0, 0xdc, 0x05}
	if !bytes.Equal(cfg, want) {
		t.Errorf("config bytes % x, want % x", cfg, want)
	}
	var w2 [2]byte
	drv.d.Read(virtio.RegConfig+virtio.NetCfgMTU, w2[:])
	if le.Uint16(w2[:]) != 1500 {
		t.Errorf("MTU %d", le.Uint16(w2[:]))
	}
	if drv.r32(virtio.RegConfig) != 0x12005452 {
		t.Errorf("config word 0 %#x", drv.r32(virtio.RegConfig))
	}
	gen := drv.r32(virtio.RegConfigGen)
	if drv.r32(virtio.RegConfigGen) != gen {
		t.Error("ConfigGeneration changed without a change")
	}
	// Queues beyond 1 do not exist.
	drv.w32(virtio.RegQueueSel, 2)
	if drv.r32(virtio.RegQueueNumMax) != 0 {
		t.Error("queue 2 exists")
	}
	// Odd widths of registers read as zero and are ignored on write.
	var b1 [1]byte
	drv.d.Read(virtio.RegMagic, b1[:])
	if b1[0] != 0 {
		t.Error("1-byte read of Magic")
	}
}

func TestInitNegotiation(t *testing.T) {
	drv := newDriver(t, 1500)
	// Without VERSION_1: FEATURES_OK does not stick.
	if st := drv.init(1<<virtio.FNetMAC, 256); st&virtio.StatusFeaturesOK != 0 {
		t.Fatalf("legacy driver accepted: status %#x", st)
	}
	// Features the device did not offer: refused.
	if st := drv.init(1<<virtio.FVersion1|1<<virtio.FEventIdx, 256); st&virtio.StatusFeaturesOK != 0 {
		t.Fatalf("unoffered feature accepted: status %#x", st)
	}
	st := drv.init(1<<virtio.FVersion1, 64)
	wantSt := uint32(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK | virtio.StatusDriverOK)
	if st != wantSt {
		t.Fatalf("status %#x, want %#x", st, wantSt)
	}
	if drv.d.t.Negotiated() != 1<<virtio.FVersion1 {
		t.Errorf("negotiated %#x", drv.d.t.Negotiated())
	}
	// Without F_MTU the guest's buffers need only hold 1514-byte frames.
	if drv.d.needBuf != 12+14+1500 {
		t.Errorf("needBuf %d", drv.d.needBuf)
	}
	// Queue registers are read-only while ready.
	drv.w32(virtio.RegQueueSel, 0)
	drv.w32(virtio.RegQueueNum, 32)
	if drv.d.rx.Num != 64 {
		t.Errorf("QueueNum changed on a ready queue: %d", drv.d.rx.Num)
	}
	// Reset: everything back to zero.
	drv.w32(virtio.RegStatus, 0)
	if drv.r32(virtio.RegStatus) != 0 || drv.r32(virtio.RegQueueReady) != 0 || drv.d.live {
		t.Fatal("reset did not reset")
	}
	// And initialise again, with the MTU feature.
	if st := drv.init(allFeatures, 256); st != wantSt {
		t.Fatalf("status %#x after reinit", st)
	}
	if drv.d.needBuf != 12+14+1500 || !drv.d.live {
		t.Errorf("needBuf %d live %v", drv.d.needBuf, drv.d.live)
	}
}

func TestBadQueueSetup(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(drv *driver)
	}{
		{"size not a power of two", func(drv *driver) { drv.w32(virtio.RegQueueNum, 100) }},
		{"size above max", func(drv *driver) { drv.w32(virtio.RegQueueNum, 512) }},
		{"ring outside RAM", func(drv *driver) { drv.w32(virtio.RegQueueDeviceLow, memSize-8) }},
		{"misaligned used ring", func(drv *driver) { drv.w32(virtio.RegQueueDeviceLow, 0x3002) }},
		{"address high bits", func(drv *driver) { drv.w32(virtio.RegQueueDescHigh, 1) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			drv := newDriver(t, 1500)
			drv.w32(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
			drv.w32(virtio.RegQueueSel, 0)
			drv.w32(virtio.RegQueueNum, 16)
			drv.w32(virtio.RegQueueDescLow, 0x1000)
			drv.w32(virtio.RegQueueDriverLow, 0x2000)
			drv.w32(virtio.RegQueueDeviceLow, 0x3000)
			c.set(drv)
			drv.w32(virtio.RegQueueReady, 1)
			if drv.r32(virtio.RegQueueReady) != 0 || drv.r32(virtio.RegStatus)&virtio.StatusNeedsReset == 0 {
				t.Fatalf("bad queue accepted: ready %d status %#x", drv.r32(virtio.RegQueueReady), drv.r32(virtio.RegStatus))
			}
		})
	}
}

func frame(n int, seed byte) []byte {
	f := make([]byte, n)
	for i := range f {
		f[i] = seed + byte(i*7)
	}
	return f
}

// TestTxChains sends frames split over descriptors in the ways a driver
// may split them: header alone, header and frame together, the header cut
// across descriptors, many small pieces.
func TestTxChains(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 256)
	tx := drv.q[virtio.NetTxQueue]
	type chain struct {
		name  string
		split []int // descriptor lengths, summing to 12 + frame
	}
	var want [][]byte
	var heads []uint16
	for i, c := range []chain{
		{"one descriptor", []int{12 + 60}},
		{"header alone", []int{12, 100}},
		{"header cut", []int{5, 7 + 20, 40}},
		{"header cut twice", []int{3, 4, 5, 64}},
		{"many pieces", []int{12, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}},
		{"full size", []int{12, 1514}},
		{"empty descriptors", []int{12, 0, 30, 0, 30}},
	} {
		total := 0
		for _, n := range c.split {
			total += n
		}
		data := append(make([]byte, 12), frame(total-12, byte(i))...)
		want = append(want, data[12:])
		var bufs []buf
		off := 0
		for _, n := range c.split {
			a := drv.alloc(uint64(n), 8)
			copy(drv.mem[a:], data[off:off+n])
			off += n
			bufs = append(bufs, buf{addr: a, len: uint32(n)})
		}
		heads = append(heads, tx.add(bufs...))
	}
	drv.settle()
	if !tx.publish() {
		t.Error("the first publish did not kick (the idle device must ask for kicks)")
	}
	used := tx.waitUsed(len(want))
	for i, u := range used {
		if u[0] != uint32(heads[i]) || u[1] != 0 {
			t.Errorf("used %d: %v, want id %d len 0", i, u, heads[i])
		}
	}
	for i, w := range want {
		select {
		case got := <-drv.ep.sent:
			if !bytes.Equal(got, w) {
				t.Errorf("frame %d: % x, want % x", i, got[:min(len(got), 16)], w[:min(len(w), 16)])
			}
		case <-time.After(time.Second):
			t.Fatalf("frame %d not sent", i)
		}
	}
	drv.settle()
	st := drv.d.Stats()
	if st.TxFrames != uint64(len(want)) || st.TxDrops != 0 || st.Kicks != 1 {
		t.Errorf("stats %+v", st)
	}
	var bytesWant uint64
	for _, w := range want {
		bytesWant += uint64(len(w))
	}
	if st.TxBytes != bytesWant {
		t.Errorf("tx bytes %d, want %d", st.TxBytes, bytesWant)
	}
}

func TestTxMalformed(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 16)
	tx := drv.q[virtio.NetTxQueue]
	a := drv.alloc(2000, 8)
	tx.add(buf{addr: a, len: 8})                        // shorter than the header
	tx.add(buf{addr: a, len: 12 + 1515})                // larger than the MTU
	tx.add(buf{addr: a, len: 12 + 60, write: true})     // device-writable
	tx.add(buf{addr: memSize - 10, len: 100})           // outside RAM
	tx.add(buf{addr: a, len: 12}, buf{addr: a, len: 5}) // runt frame
	tx.add(buf{addr: a, len: 12 + 60})                  // fine
	tx.publish()
	used := tx.waitUsed(6)
	for _, u := range used {
		if u[1] != 0 {
			t.Errorf("used %v", u)
		}
	}
	if st := drv.d.Stats(); st.TxDrops != 5 || st.TxFrames != 1 {
		t.Errorf("stats %+v", st)
	}
	if drv.r32(virtio.RegStatus)&virtio.StatusNeedsReset != 0 {
		t.Error("a bad chain stopped the device")
	}
	// A head index out of range stops the queue (DEVICE_NEEDS_RESET).
	le.PutUint16(drv.mem[tx.avail+4+2*uint64(tx.availIdx%tx.num):], 99)
	tx.availIdx++
	tx.publish()
	deadline := time.Now().Add(2 * time.Second)
	for drv.r32(virtio.RegStatus)&virtio.StatusNeedsReset == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no DEVICE_NEEDS_RESET after a bad ring entry")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// postRx posts n receive buffers of size bytes each and returns their
// addresses by head.
func postRx(drv *driver, n, size int) map[uint16]uint64 {
	rx := drv.q[virtio.NetRxQueue]
	addrs := map[uint16]uint64{}
	for i := 0; i < n; i++ {
		a := drv.alloc(uint64(size), 8)
		addrs[rx.add(buf{addr: a, len: uint32(size), write: true})] = a
	}
	rx.publish()
	return addrs
}

func checkRx(t *testing.T, drv *driver, addrs map[uint16]uint64, u [2]uint32, want []byte) {
	t.Helper()
	a, ok := addrs[uint16(u[0])]
	if !ok {
		t.Fatalf("used id %d was not posted", u[0])
	}
	if int(u[1]) != 12+len(want) {
		t.Fatalf("used len %d, want %d", u[1], 12+len(want))
	}
	hdr := drv.mem[a : a+12]
	if !bytes.Equal(hdr, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}) {
		t.Errorf("header % x", hdr)
	}
	if got := drv.mem[a+12 : a+12+uint64(len(want))]; !bytes.Equal(got, want) {
		t.Errorf("frame % x, want % x", got[:16], want[:16])
	}
}

func TestRx(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 256)
	rx := drv.q[virtio.NetRxQueue]
	if rx.usedFlags()&virtio.UsedFNoNotify == 0 {
		t.Error("receive refills should not kick")
	}
	addrs := postRx(drv, 4, 1526)
	for i := 0; i < 3; i++ {
		f := frame(60+500*i, byte(i))
		if !drv.ep.in(f) {
			t.Fatalf("frame %d refused", i)
		}
		checkRx(t, drv, addrs, rx.waitUsed(1)[0], f)
	}
	if w := drv.wakes.Load(); w != 3 {
		t.Errorf("%d guest wakes, want 3", w)
	}
	// A driver that asks not to be told: no wake.
	rx.setAvailFlags(virtio.AvailFNoInterrupt)
	f := frame(100, 9)
	drv.ep.in(f)
	checkRx(t, drv, addrs, rx.waitUsed(1)[0], f)
	if w := drv.wakes.Load(); w != 3 {
		t.Errorf("%d guest wakes with NO_INTERRUPT, want 3", w)
	}
	st := drv.d.Stats()
	if st.RxFrames != 4 || st.RxBytes != 60+560+1060+100 || st.GuestWakes != 3 || st.RxDrops != 0 {
		t.Errorf("stats %+v", st)
	}
	// Oversized frames and too-small buffers are dropped.
	if drv.ep.in(frame(1515, 0)) {
		t.Error("oversized frame accepted")
	}
	small := postRx(drv, 1, 1000)
	if drv.ep.in(frame(60, 0)) {
		t.Error("frame into a too-small buffer accepted")
	}
	u := rx.waitUsed(1)[0]
	if _, ok := small[uint16(u[0])]; !ok || u[1] != 0 {
		t.Errorf("small buffer returned as %v", u)
	}
	if st := drv.d.Stats(); st.RxDrops != 1 {
		// The oversized frame waited for a buffer and was dropped then, or
		// was dropped at once: either way one drop so far plus the small
		// buffer's.
		if st.RxDrops != 2 {
			t.Errorf("rx drops %d", st.RxDrops)
		}
	}
}

func TestRxScatter(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 16)
	rx := drv.q[virtio.NetRxQueue]
	a1, a2, a3 := drv.alloc(5, 8), drv.alloc(500, 8), drv.alloc(1100, 8)
	rx.add(buf{a1, 5, true}, buf{a2, 500, true}, buf{a3, 1100, true})
	rx.publish()
	f := frame(1000, 3)
	drv.ep.in(f)
	if u := rx.waitUsed(1)[0]; u[1] != 1012 {
		t.Fatalf("used %v", u)
	}
	got := append(append(append([]byte(nil), drv.mem[a1:a1+5]...), drv.mem[a2:a2+500]...), drv.mem[a3:a3+1100]...)
	if !bytes.Equal(got[:12], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0}) || !bytes.Equal(got[12:1012], f) {
		t.Fatal("scattered frame differs")
	}
}

// TestRxBacklog: frames that arrive before the driver is ready or while no
// receive buffer is posted wait, in order, and reach the guest as it posts
// buffers, without a kick.
func TestRxBacklog(t *testing.T) {
	drv := newDriver(t, 1500)
	var frames [][]byte
	for i := 0; i < 10; i++ { // before the driver is up
		f := frame(100+i, byte(i))
		frames = append(frames, f)
		if !drv.ep.in(f) {
			t.Fatalf("frame %d refused before DRIVER_OK", i)
		}
	}
	drv.init(allFeatures, 256)
	rx := drv.q[virtio.NetRxQueue]
	for i := 10; i < 20; i++ { // no buffers yet
		f := frame(100+i, byte(i))
		frames = append(frames, f)
		drv.ep.in(f)
	}
	// With frames waiting, the sleeping poller asks for receive kicks.
	rx.waitFlag(false)
	kicks := drv.d.Stats().Kicks
	// Post buffers without kicking (a driver may skip the kick): the
	// poller looks at the ring every RxRetry anyway.
	addrs := map[uint16]uint64{}
	for i := 0; i < 8; i++ {
		a := drv.alloc(1526, 8)
		addrs[rx.add(buf{addr: a, len: 1526, write: true})] = a
	}
	rx.setAvailFlags(0) // publishes availIdx
	got := rx.waitUsed(8)
	for i, u := range got {
		checkRx(t, drv, addrs, u, frames[i])
	}
	// The rest after more buffers, this time with a kick.
	addrs = postRx(drv, 12, 1526)
	for i, u := range rx.waitUsed(12) {
		checkRx(t, drv, addrs, u, frames[8+i])
	}
	if drv.d.Stats().Kicks > kicks+1 {
		t.Errorf("kicks %d -> %d", kicks, drv.d.Stats().Kicks)
	}
	// With the backlog empty, refills need no kick again.
	rx.waitFlag(true)
	// Overflow: Backlog frames wait, the rest are dropped.
	for i := 0; i < Backlog+10; i++ {
		ok := drv.ep.in(frame(60, byte(i)))
		if ok != (i < Backlog) {
			t.Fatalf("frame %d: accepted %v", i, ok)
		}
	}
	if st := drv.d.Stats(); st.RxDrops != 10 {
		t.Errorf("rx drops %d, want 10", st.RxDrops)
	}
}

// TestNotifySuppression: a kick wakes the poller, which then keeps
// UsedFNoNotify set while it works and for SpinWindow after; then it asks
// for kicks again.
func TestNotifySuppression(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 256)
	tx := drv.q[virtio.NetTxQueue]
	a := drv.alloc(12+60, 8)
	send := func() bool {
		tx.add(buf{addr: a, len: 12 + 60})
		return tx.publish()
	}
	drv.settle() // an idle device asks for kicks
	// The network holds the first frame: the poller is busy, so the guest
	// must not kick for the next ones.
	drv.ep.hold, drv.ep.entered = make(chan struct{}), make(chan struct{}, 1000)
	if !send() {
		t.Fatal("no kick to a sleeping device")
	}
	<-drv.ep.entered
	for i := 0; i < 50; i++ {
		if send() {
			t.Fatalf("frame %d: kicked a busy device", i+2)
		}
	}
	close(drv.ep.hold)
	tx.waitUsed(51)
	if st := drv.d.Stats(); st.Kicks != 1 || st.PollerWakeups != 1 || st.TxFrames != 51 {
		t.Errorf("stats %+v", st)
	}
	// After the spin window the poller sleeps and wants kicks again.
	drv.settle()

	// A burst paced by the used ring: how many kicks depends on the
	// scheduling of this test and the poller (the machine is shared), so
	// it is only reported.
	k0 := drv.d.Stats().Kicks
	kicks := 0
	for i := 0; i < 200; i++ {
		if send() {
			kicks++
		}
		if i%16 == 15 {
			tx.waitUsed(16)
		}
	}
	tx.waitUsed(200 % 16)
	st := drv.d.Stats()
	t.Logf("200 frames in bursts of 16: %d kicks by the driver, %d seen, %d poller wake-ups", kicks, st.Kicks-k0, st.PollerWakeups)
}

// TestNotifyRegister: a QueueNotify that reaches the monitor as an MMIO
// exit works like the ioeventfd.
func TestNotifyRegister(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 256)
	tx := drv.q[virtio.NetTxQueue]
	a := drv.alloc(12+60, 8)
	drv.settle()
	time.Sleep(time.Millisecond)
	tx.add(buf{addr: a, len: 12 + 60})
	tx.setAvailFlags(0) // publish without kicking
	time.Sleep(10 * time.Millisecond)
	if tx.usedIdx() != 0 {
		t.Fatal("the sleeping poller saw the frame without a kick")
	}
	drv.w32(virtio.RegQueueNotify, virtio.NetTxQueue)
	tx.waitUsed(1)
	if st := drv.d.Stats(); st.Kicks != 1 || st.TxFrames != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestCloseStopsDelivery(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 256)
	postRx(drv, 4, 1526)
	drv.d.Close()
	if drv.ep.in(frame(60, 0)) {
		t.Error("frame accepted after Close")
	}
	if !drv.ep.closed {
		t.Error("endpoint not closed")
	}
	if drv.q[virtio.NetRxQueue].usedIdx() != 0 {
		t.Error("device wrote after Close")
	}
}

func TestStress(t *testing.T) {
	// Both directions at once, many frames, small queues: checks ordering
	// and that nothing is lost while the guest keeps up.
	drv := newDriver(t, 1500)
	drv.init(allFeatures, 32)
	tx, rx := drv.q[virtio.NetTxQueue], drv.q[virtio.NetRxQueue]
	const n = 3000
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			for !drv.ep.in(frame(60+i%1000, byte(i))) {
				time.Sleep(10 * time.Microsecond)
			}
		}
		done <- nil
	}()
	// Receive: keep 16 buffers posted.
	bufs := make([]uint64, 32)
	for i := range bufs {
		bufs[i] = drv.alloc(1526, 8)
	}
	txa := drv.alloc(12+100, 8)
	got, sent := 0, 0
	heads := map[uint16]uint64{}
	post := func() {
		h := rx.nextDesc
		heads[rx.add(buf{addr: bufs[h], len: 1526, write: true})] = bufs[h]
	}
	for i := 0; i < 16; i++ {
		post()
	}
	rx.publish()
	deadline := time.Now().Add(20 * time.Second)
	inflight := 0
	for got < n || sent < n {
		if time.Now().After(deadline) {
			t.Fatalf("stuck: got %d sent %d, stats %+v", got, sent, drv.d.Stats())
		}
		for rx.usedIdx() != rx.lastUsed {
			e := drv.mem[rx.used+4+8*uint64(rx.lastUsed%rx.num):]
			id, ln := le.Uint32(e), le.Uint32(e[4:])
			rx.lastUsed++
			want := frame(60+got%1000, byte(got))
			a := heads[uint16(id)]
			if int(ln) != 12+len(want) || !bytes.Equal(drv.mem[a+12:a+12+uint64(len(want))], want) {
				t.Fatalf("frame %d: wrong (len %d)", got, ln)
			}
			got++
			post()
			rx.publish()
		}
		for tx.usedIdx() != tx.lastUsed {
			tx.lastUsed++
			inflight--
		}
		if sent < n && inflight < 32 {
			tx.add(buf{addr: txa, len: 12 + 100})
			tx.publish()
			sent++
			inflight++
		}
	}
	<-done
	for i := 0; i < n; i++ {
		<-drv.ep.sent
	}
	st := drv.d.Stats()
	t.Logf("%+v", st)
	if st.RxFrames != n || st.TxFrames != n {
		t.Errorf("stats %+v", st)
	}
}

func TestRxBacklogBytes(t *testing.T) {
	drv := newDriver(t, 16000)
	big := frame(16014, 1)
	accepted := 0
	for i := 0; i < 300; i++ {
		if drv.ep.in(big) {
			accepted++
		}
	}
	if want := BacklogBytes / len(big); accepted != want {
		t.Errorf("%d large frames waiting, want %d", accepted, want)
	}
}

// TestResetWhileEchoing: a device reset while the poller is inside the
// endpoint's WriteFrame, which delivers a frame back synchronously (the
// lock order tx -> rx must hold everywhere).
func TestResetWhileEchoing(t *testing.T) {
	drv := newDriver(t, 1500)
	drv.ep.echo = true
	drv.init(allFeatures, 256)
	postRx(drv, 8, 1526)
	tx := drv.q[virtio.NetTxQueue]
	a := drv.alloc(12+60, 8)
	drv.ep.hold, drv.ep.entered = make(chan struct{}), make(chan struct{}, 1000)
	for i := 0; i < 4; i++ {
		tx.add(buf{addr: a, len: 12 + 60})
	}
	tx.publish()
	<-drv.ep.entered
	reset := make(chan struct{})
	go func() {
		drv.w32(virtio.RegStatus, 0)
		close(reset)
	}()
	time.Sleep(10 * time.Millisecond) // the reset waits for the poller
	close(drv.ep.hold)
	select {
	case <-reset:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: reset and poller")
	}
	if drv.r32(virtio.RegStatus) != 0 {
		t.Error("not reset")
	}
}
