package vmm

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/virtio"
	"github.com/motevm/mote/vmm/usernet"
)

// echoEP is a link.Endpoint that sends every frame back after a delay
// (with delay 0: at once, from WriteFrame).
type echoEP struct {
	delay   time.Duration
	mu      sync.Mutex
	deliver func([]byte) bool
	sent    [][]byte
	closed  bool
}

func (e *echoEP) Start(d func([]byte) bool) error { e.deliver = d; return nil }
func (e *echoEP) MTU() int                        { return 1500 }
func (e *echoEP) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

func (e *echoEP) WriteFrame(f []byte) error {
	f = append([]byte(nil), f...)
	e.mu.Lock()
	e.sent = append(e.sent, f)
	e.mu.Unlock()
	if e.delay == 0 {
		e.deliver(f)
		return nil
	}
	time.AfterFunc(e.delay, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if !e.closed {
			e.deliver(f)
		}
	})
	return nil
}

// netGuestCode initialises the virtio-net device at window 0 (both queues
// of 16 entries, rings prepared by the test in guest RAM), kicks the
// transmit queue, waits for the frame to be used, then idles (HcIdle, no
// deadline) until a frame is received and exits with the used length of
// the received buffer. Exit 99 if the device does not look right.
var netGuestCode = []byte{
	0xbb, 0x00, 0x10, 0x00, 0xd0, // mov ebx, 0xd0001000
	0x8b, 0x03, // mov eax, [rbx]           Magic
	0x3d, 0x76, 0x69, 0x72, 0x74, // cmp eax, "virt"
	0x0f, 0x85, 0xe4, 0x00, 0x00, 0x00, // jne fail
	0x8b, 0x43, 0x08, // mov eax, [rbx+8]          DeviceID
	0x83, 0xf8, 0x01, // cmp eax, 1
	0x0f, 0x85, 0xd8, 0x00, 0x00, 0x00, // jne fail
	0xc7, 0x43, 0x70, 0x03, 0x00, 0x00, 0x00, // Status = ACK|DRIVER
	0xc7, 0x43, 0x24, 0x01, 0x00, 0x00, 0x00, // DriverFeatSel = 1
	0xc7, 0x43, 0x20, 0x01, 0x00, 0x00, 0x00, // DriverFeatures = VERSION_1 >> 32
	0xc7, 0x43, 0x70, 0x0b, 0x00, 0x00, 0x00, // Status |= FEATURES_OK
	0x8b, 0x43, 0x70, // mov eax, [rbx+0x70]
	0xa9, 0x08, 0x00, 0x00, 0x00, // test eax, 8
	0x0f, 0x84, 0xae, 0x00, 0x00, 0x00, // jz fail
	0xc7, 0x43, 0x30, 0x00, 0x00, 0x00, 0x00, // QueueSel = 0
	0xc7, 0x43, 0x38, 0x10, 0x00, 0x00, 0x00, // QueueNum = 16
	0xc7, 0x83, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x71, 0x00, // QueueDescLow = 0x710000
	0xc7, 0x83, 0x90, 0x00, 0x00, 0x00, 0x00, 0x10, 0x71, 0x00, // QueueDriverLow = 0x711000
	0xc7, 0x83, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x20, 0x71, 0x00, // QueueDeviceLow = 0x712000
	0xc7, 0x43, 0x44, 0x01, 0x00, 0x00, 0x00, // QueueReady = 1
	0xc7, 0x43, 0x30, 0x01, 0x00, 0x00, 0x00, // QueueSel = 1
	0xc7, 0x43, 0x38, 0x10, 0x00, 0x00, 0x00, // QueueNum = 16
	0xc7, 0x83, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x70, 0x00, // QueueDescLow = 0x700000
	0xc7, 0x83, 0x90, 0x00, 0x00, 0x00, 0x00, 0x10, 0x70, 0x00, // QueueDriverLow = 0x701000
	0xc7, 0x83, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x20, 0x70, 0x00, // QueueDeviceLow = 0x702000
	0xc7, 0x43, 0x44, 0x01, 0x00, 0x00, 0x00, // QueueReady = 1
	0xc7, 0x43, 0x70, 0x0f, 0x00, 0x00, 0x00, // Status |= DRIVER_OK
	0xc7, 0x43, 0x50, 0x01, 0x00, 0x00, 0x00, // QueueNotify = 1 (the ioeventfd)
	0x0f, 0xb7, 0x04, 0x25, 0x02, 0x20, 0x70, 0x00, // txwait: movzx eax, word [0x702002] (tx used idx)
	0x83, 0xf8, 0x01, // cmp eax, 1
	0x75, 0xf3, // jne txwait
	0x0f, 0xb7, 0x04, 0x25, 0x02, 0x20, 0x71, 0x00, // rxwait: movzx eax, word [0x712002] (rx used idx)
	0x83, 0xf8, 0x01, // cmp eax, 1
	0x74, 0x11, // je done
	0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, // mov rax, -1
	0xb9, 0x10, 0x00, 0x00, 0xd0, // mov ecx, 0xd0000010 (HcIdle)
	0x48, 0x89, 0x01, // mov [rcx], rax
	0xeb, 0xe2, // jmp rxwait
	0x8b, 0x04, 0x25, 0x08, 0x20, 0x71, 0x00, // done: mov eax, [0x712008] (rx used len)
	0xb9, 0x00, 0x00, 0x00, 0xd0, // mov ecx, 0xd0000000 (HcExit)
	0x48, 0x89, 0x01, // mov [rcx], rax
	0xb8, 0x63, 0x00, 0x00, 0x00, // fail: mov eax, 99
	0xb9, 0x00, 0x00, 0x00, 0xd0, // mov ecx, 0xd0000000 (HcExit)
	0x48, 0x89, 0x01, // mov [rcx], rax
}

// startVM creates the VM, lets prep write guest RAM, and runs it.
func startVM(t *testing.T, path string, mod func(*Config), prep func(mem []byte)) result {
	t.Helper()
	needKVM(t)
	var out, errb bytes.Buffer
	cfg := Config{ImagePath: path, MemoryBytes: 8 << 20, Stdout: &out, Stderr: &errb, tick: -1}
	if mod != nil {
		mod(&cfg)
	}
	v, err := newVM(cfg)
	if err != nil {
		t.Fatalf("newVM: %v", err)
	}
	t.Cleanup(v.close)
	if prep != nil {
		prep(v.mem.b)
	}
	ch := make(chan int, 1)
	go func() { ch <- v.run() }()
	select {
	case st := <-ch:
		return result{st, out.String(), errb.String(), 0, v}
	case <-time.After(20 * time.Second):
		v.stop(255)
		t.Fatalf("guest did not exit within 20 s; stderr so far: %s", errb.String())
	}
	return result{}
}

// TestNetDevice boots a guest that drives the virtio-net device through
// MMIO exits (registers), the ioeventfd (kick) and an idle woken by a
// received frame.
func TestNetDevice(t *testing.T) {
	g := newTestGuest(netGuestCode)
	g.noteFlags = abi.NoteFlagNet
	ep := &echoEP{delay: 30 * time.Millisecond}
	txFrame := bytes.Repeat([]byte{0xab}, 60)
	le := binary.LittleEndian
	t.Cleanup(func() { // after the VM's (cleanups run last first)
		if !ep.closed {
			t.Error("endpoint not closed when the VM stopped")
		}
	})
	r := startVM(t, g.write(t, "net.img"), func(c *Config) { c.netEndpoint = ep }, func(mem []byte) {
		// Transmit: descriptor 0 = header + frame at 0x703000, available.
		le.PutUint64(mem[0x700000:], 0x703000)
		le.PutUint32(mem[0x700008:], 12+60)
		le.PutUint16(mem[0x701002:], 1)
		copy(mem[0x703000+12:], txFrame)
		// Receive: descriptor 0 = 1526 bytes at 0x713000, available.
		le.PutUint64(mem[0x710000:], 0x713000)
		le.PutUint32(mem[0x710008:], 1526)
		le.PutUint16(mem[0x71000c:], virtio.DescFWrite)
		le.PutUint16(mem[0x711002:], 1)
	})
	if r.status != 12+60 || r.stderr != "" {
		t.Fatalf("status %d (want %d), stderr %q", r.status, 12+60, r.stderr)
	}
	if len(ep.sent) != 1 || !bytes.Equal(ep.sent[0], txFrame) {
		t.Fatalf("sent %x", ep.sent)
	}
	mem := r.vm.mem.b
	if !bytes.Equal(mem[0x713000+12:0x713000+72], txFrame) || le.Uint16(mem[0x713000+10:]) != 1 {
		t.Error("received frame or header wrong")
	}
	bi := mem[abi.BootInfoBase:]
	if le.Uint32(bi[biNumVirtio:]) != 1 || !bytes.Equal(bi[biNet+ncIPv4:biNet+ncIPv4+4], []byte{10, 0, 2, 15}) || bi[biNet+ncPrefix4] != 24 {
		t.Errorf("BootInfo: NumVirtio %d, net % x", le.Uint32(bi[biNumVirtio:]), bi[biNet:biNet+16])
	}
	nd := r.vm.nets[0]
	st := nd.dev.Stats()
	t.Logf("ioeventfd %v, %d virtio MMIO exits, %d exits, %d idles, stats %+v", nd.ioeventfd, r.vm.virtioExits.Load(), r.vm.exits.Load(), r.vm.hcalls[abi.HcIdle].Load(), st)
	// 3 register reads and 17 writes; the kick does not exit.
	want := int64(20)
	if !nd.ioeventfd {
		want++
	}
	if got := r.vm.virtioExits.Load(); got != want {
		t.Errorf("%d virtio MMIO exits, want %d", got, want)
	}
	// Two wakes: the transmitted chain's return and the received frame
	// (the guest sets no AvailFNoInterrupt).
	if st.TxFrames != 1 || st.RxFrames != 1 || st.Kicks != 1 || st.GuestWakes != 2 {
		t.Errorf("stats %+v", st)
	}
	if r.vm.hcalls[abi.HcIdle].Load() < 1 {
		t.Error("the guest never idled: the wake path was not tested")
	}
	// The stats line carries the device's counters.
	line := r.vm.statsLine()
	for _, f := range []string{" virtio_mmio_exits=", " net_tx_frames=1 ", " net_rx_frames=1 ", " net_kicks=1 ", " net_guest_wakes=2"} {
		if !strings.Contains(line, f) {
			t.Errorf("stats line lacks %q: %s", f, line)
		}
	}
}

// TestNetNoDevice: the virtio windows without a device read as zero, and
// images without the network stack get no device.
func TestNetNoDevice(t *testing.T) {
	g := newTestGuest(netGuestCode) // fails at the Magic check: exit 99
	r := startVM(t, g.write(t, "nonet.img"), nil, nil)
	if r.status != 99 || len(r.vm.nets) != 0 || r.vm.virtioExits.Load() != 1 {
		t.Fatalf("status %d, %d devices, %d virtio exits", r.status, len(r.vm.nets), r.vm.virtioExits.Load())
	}
	if le := binary.LittleEndian; le.Uint32(r.vm.mem.b[abi.BootInfoBase+biNumVirtio:]) != 0 {
		t.Error("NumVirtio set without a device")
	}
	if strings.Contains(r.vm.statsLine(), "net_") {
		t.Error("network counters without a device")
	}
}

func TestNetConfigErrors(t *testing.T) {
	needKVM(t)
	plain := newTestGuest(netGuestCode).write(t, "plain.img")
	ng := newTestGuest(netGuestCode)
	ng.noteFlags = abi.NoteFlagNet
	withNet := ng.write(t, "net.img")
	pfx := netip.MustParsePrefix
	addr := netip.MustParseAddr
	for _, c := range []struct {
		img  string
		net  NetConfig
		want string
	}{
		{plain, NetConfig{Mode: NetUser}, "--net user: " + plain + " has no network stack (its program does not import package net)"},
		{plain, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("10.1.0.2/24")}, "--net tap:tap0: " + plain + " has no network stack"},
		{plain, NetConfig{Ports: []usernet.PortForward{{Proto: "tcp", HostPort: 8080, GuestPort: 80}}}, "-p: " + plain + " has no network stack"},
		{plain, NetConfig{DNS: addr("1.1.1.1")}, "--dns: " + plain + " has no network stack"},
		{withNet, NetConfig{Mode: NetNone, Ports: []usernet.PortForward{{Proto: "tcp", HostPort: 8080, GuestPort: 80}}}, "-p needs the user-mode network (--net user)"},
		{withNet, NetConfig{Mode: NetUser, IPv4: pfx("10.1.0.2/24")}, "--ip and --gateway are for --net tap"},
		{withNet, NetConfig{Mode: NetUser, IPv6: pfx("fd00::2/64")}, "the user-mode network carries IPv4 only"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0"}, "--net tap:tap0 needs the guest's address: --ip ADDRESS/PREFIX"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("fd00::2/64")}, "--ip fd00::2/64 is not an IPv4 address"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("10.1.0.2/24"), Gateway4: addr("fd00::1")}, "--gateway fd00::1 is not an IPv4 address"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("10.1.0.2/24"), Gateway6: addr("fd00::1")}, "--gateway6 needs --ip6"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("10.1.0.2/24"), IPv6: pfx("10.2.0.2/24")}, "--ip6 10.2.0.2/24 is not an IPv6 address"},
		{withNet, NetConfig{Mode: NetTap, Tap: "tap0", IPv4: pfx("10.1.0.2/24"), Ports: []usernet.PortForward{{Proto: "tcp", HostPort: 8080, GuestPort: 80}}}, "-p needs the user-mode network"},
		{withNet, NetConfig{Mode: NetUser, MAC: net.HardwareAddr{1, 2, 3, 4, 5, 6}}, "--mac 01:02:03:04:05:06 is not a unicast Ethernet address"},
		{withNet, NetConfig{Mode: NetTap, Tap: "motenotap0", IPv4: pfx("10.1.0.2/24")}, "--net tap:motenotap0: no such device (create it: ip tuntap add dev motenotap0 mode tap"},
	} {
		_, err := Run(Config{ImagePath: c.img, Net: c.net})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.net, err, c.want)
		}
	}
}

// TestMeasureKick compares, from ring 3, a kick through the ioeventfd
// with a register read that exits to the monitor (run with MOTE_MEASURE=1
// go test -run MeasureKick -v ./vmm).
func TestMeasureKick(t *testing.T) {
	if os.Getenv("MOTE_MEASURE") == "" {
		t.Skip("set MOTE_MEASURE=1")
	}
	const n = 2000
	loop := func(body []byte, count uint32) []byte {
		code := []byte{0xbb, 0x00, 0x10, 0x00, 0xd0, 0xb9} // mov ebx, 0xd0001000; mov ecx, count
		code = binary.LittleEndian.AppendUint32(code, count)
		code = append(code, body...)
		code = append(code, 0xff, 0xc9, 0x75, byte(-(len(body) + 4)))                   // dec ecx; jnz body
		return append(code, 0x31, 0xc0, 0xb9, 0x00, 0x00, 0x00, 0xd0, 0x48, 0x89, 0x01) // HcExit(0)
	}
	kick := []byte{0xc7, 0x43, 0x50, 0x01, 0x00, 0x00, 0x00} // mov dword [rbx+0x50], 1
	read := []byte{0x8b, 0x03}                               // mov eax, [rbx]
	for _, c := range []struct {
		name string
		body []byte
	}{{"ioeventfd kick", kick}, {"MMIO register read (exit)", read}} {
		var per []time.Duration
		var last string
		for rep := 0; rep < 5; rep++ {
			var d [2]time.Duration
			for i, count := range []uint32{1, n + 1} {
				g := newTestGuest(loop(c.body, count))
				g.noteFlags = abi.NoteFlagNet
				r := startVM(t, g.write(t, "k.img"), func(cfg *Config) { cfg.netEndpoint = &echoEP{} }, nil)
				if r.status != 0 {
					t.Fatalf("status %d %s", r.status, r.stderr)
				}
				d[i] = r.vm.tStop.Sub(r.vm.tRun)
				last = r.vm.statsLine()
			}
			per = append(per, (d[1]-d[0])/n)
		}
		t.Logf("%s from ring 3: %v per access (5 runs of %d)", c.name, per, n)
		t.Logf("last run: %s", strings.Fields(last)[1:20])
	}
}

// pingPongCode: after netGuestCode's device set-up, n round trips: send a
// frame (kicking only if the used ring lacks UsedFNoNotify, after a full
// barrier), idle until the echo arrives, re-post the receive buffer. Exit
// 0. The test prepares 16 transmit descriptors (one buffer) and 16
// receive buffers, and sets AvailFNoInterrupt on the transmit queue.
func pingPongCode(n uint32) []byte {
	init := append([]byte(nil), netGuestCode[:0xb5]...) // up to DRIVER_OK
	body := []byte{
		0x41, 0xbc, 0, 0, 0, 0, // mov r12d, n
		0x45, 0x31, 0xed, // xor r13d, r13d   (tx avail idx)
		0x45, 0x31, 0xf6, // xor r14d, r14d   (rx used idx expected)
		0x41, 0xbf, 0x10, 0x00, 0x00, 0x00, // mov r15d, 16  (rx avail idx)
		0x41, 0xff, 0xc5, // loop: inc r13d
		0x66, 0x44, 0x89, 0x2c, 0x25, 0x02, 0x10, 0x70, 0x00, // mov [0x701002], r13w  (publish)
		0x0f, 0xae, 0xf0, // mfence
		0x66, 0xf7, 0x04, 0x25, 0x00, 0x20, 0x70, 0x00, 0x01, 0x00, // test word [0x702000], 1  (NO_NOTIFY?)
		0x75, 0x07, // jnz +7
		0xc7, 0x43, 0x50, 0x01, 0x00, 0x00, 0x00, // QueueNotify = 1
		0x41, 0xff, 0xc6, // inc r14d
		0x0f, 0xb7, 0x04, 0x25, 0x02, 0x20, 0x71, 0x00, // wait: movzx eax, word [0x712002]
		0x66, 0x44, 0x39, 0xf0, // cmp ax, r14w
		0x74, 0x11, // je got
		0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, // mov rax, -1
		0xb9, 0x10, 0x00, 0x00, 0xd0, // mov ecx, HcIdle
		0x48, 0x89, 0x01, // mov [rcx], rax
		0xeb, 0xe1, // jmp wait
		0x41, 0xff, 0xc7, // got: inc r15d
		0x66, 0x44, 0x89, 0x3c, 0x25, 0x02, 0x10, 0x71, 0x00, // mov [0x711002], r15w  (re-post)
		0x41, 0xff, 0xcc, // dec r12d
		0x75, 0xab, // jnz loop
		0x31, 0xc0, 0xb9, 0x00, 0x00, 0x00, 0xd0, 0x48, 0x89, 0x01, // HcExit(0)
	}
	binary.LittleEndian.PutUint32(body[2:], n)
	code := append(init, body...)
	fail := len(code)
	code = append(code, 0xb8, 0x63, 0x00, 0x00, 0x00, 0xb9, 0x00, 0x00, 0x00, 0xd0, 0x48, 0x89, 0x01) // HcExit(99)
	for _, at := range []int{0x0c, 0x18, 0x42} {                                                      // the set-up's jumps to fail (rel32)
		binary.LittleEndian.PutUint32(code[at+2:], uint32(fail-(at+6)))
	}
	return code
}

// prepPingPong writes the rings pingPongCode expects.
func prepPingPong(mem []byte) {
	le := binary.LittleEndian
	for j := uint64(0); j < 16; j++ {
		le.PutUint64(mem[0x700000+16*j:], 0x703000)
		le.PutUint32(mem[0x700008+16*j:], 12+60)
		le.PutUint16(mem[0x701004+2*j:], uint16(j))
		le.PutUint64(mem[0x710000+16*j:], 0x713000+0x800*j)
		le.PutUint32(mem[0x710008+16*j:], 1526)
		le.PutUint16(mem[0x71000c+16*j:], virtio.DescFWrite)
		le.PutUint16(mem[0x711004+2*j:], uint16(j))
	}
	le.PutUint16(mem[0x701000:], virtio.AvailFNoInterrupt)
	le.PutUint16(mem[0x711002:], 16)
	copy(mem[0x703000+12:], bytes.Repeat([]byte{0xab}, 60))
}

func TestNetPingPong(t *testing.T) {
	g := newTestGuest(pingPongCode(100))
	g.noteFlags = abi.NoteFlagNet
	r := startVM(t, g.write(t, "pp.img"), func(c *Config) { c.netEndpoint = &echoEP{} }, prepPingPong)
	if r.status != 0 || r.stderr != "" {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
	st := r.vm.nets[0].dev.Stats()
	if st.TxFrames != 100 || st.RxFrames != 100 || st.GuestWakes != 100 {
		t.Errorf("stats %+v", st)
	}
}

// TestMeasurePingPong: round trips through the device (an echo endpoint
// that answers at once) for several spin windows: latency, exits and kicks
// per round trip, and host CPU (run with MOTE_MEASURE=1 go test -run
// MeasurePingPong -v ./vmm).
func TestMeasurePingPong(t *testing.T) {
	if os.Getenv("MOTE_MEASURE") == "" {
		t.Skip("set MOTE_MEASURE=1")
	}
	const n = 2000
	g := newTestGuest(pingPongCode(n))
	g.noteFlags = abi.NoteFlagNet
	p := g.write(t, "pp.img")
	for _, spin := range []string{"0", "10us", "25us", "50us", "100us", "200us", "400us"} {
		t.Setenv("MOTE_NET_SPIN", spin)
		var rts, cpus []time.Duration
		var kicks, exits float64
		for rep := 0; rep < 3; rep++ {
			var ru0, ru1 unix.Rusage
			unix.Getrusage(unix.RUSAGE_SELF, &ru0)
			r := startVM(t, p, func(c *Config) { c.netEndpoint = &echoEP{} }, prepPingPong)
			unix.Getrusage(unix.RUSAGE_SELF, &ru1)
			if r.status != 0 {
				t.Fatalf("status %d %s", r.status, r.stderr)
			}
			d := r.vm.tStop.Sub(r.vm.tRun)
			cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
			rts = append(rts, d/n)
			cpus = append(cpus, cpu/n)
			st := r.vm.nets[0].dev.Stats()
			kicks += float64(st.Kicks) / n / 3
			exits += float64(r.vm.exits.Load()) / n / 3
		}
		t.Logf("spin %-6s round trip %v, host CPU %v per round trip; %.2f exits, %.2f kicks per round trip", spin, rts, cpus, exits, kicks)
	}
}
