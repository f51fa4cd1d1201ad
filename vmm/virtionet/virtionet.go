// Package virtionet is mote's virtio-net device (virtio 1.2 section 5.1)
// over virtio-mmio: one receive and one transmit queue, plugged into a
// link.Endpoint (the user-mode network or a tap device).
//
// There are no interrupts. The guest polls the used rings at its
// scheduling points; when the device adds used buffers to a queue whose
// driver did not set virtio.AvailFNoInterrupt, it calls Config.Wake, which
// ends the HcIdle of every vCPU. The guest's kicks (QueueNotify writes) are
// taken by a KVM ioeventfd (KickFD) and never exit to the monitor.
//
// A poller goroutine serves the transmit queue and the receive backlog.
// While it has work, and for SpinWindow after its last work, it keeps
// virtio.UsedFNoNotify set so a busy guest never kicks; before it sleeps it
// clears the flag, looks at the available ring once more (a driver that
// published before it saw the cleared flag did not kick), and then blocks
// on the ioeventfd. Frames from the endpoint are written into the receive
// queue directly by the endpoint's goroutine; when the guest has no
// receive buffer posted they wait in a bounded backlog that the poller
// drains as buffers appear (receive refills never need a kick: the poller
// asks for one, by clearing the receive queue's UsedFNoNotify, only while
// frames wait, and looks at the ring every RxRetry as well).
package virtionet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/motevm/mote/virtio"
	"github.com/motevm/mote/vmm/link"
	"github.com/motevm/mote/vmm/virtq"
)

// Tunables.
const (
	// QueueSize is QueueNumMax of both queues.
	QueueSize = 256
	// SpinWindow is how long the poller keeps polling the rings after its
	// last piece of work before it asks for kicks and sleeps. A guest that
	// sends again within the window does not kick. The default is no
	// spinning, by measurement: a kick (ioeventfd) costs the guest ~4 µs
	// here, while a spinning poller takes a host core from the guest and
	// the network. On the 2-core development machine, examples/httpd under
	// wrk -c32 through the user-mode network did 7.2k req/s with a 100 µs
	// window and 21k with none; through a tap device 40k either way
	// (MOTE_NET_SPIN=DURATION sets it for hosts with cores to spare).
	SpinWindow = 0
	// Backlog and BacklogBytes bound the received frames that wait for
	// receive buffers; beyond either the device drops (deliver returns
	// false: the user-mode network then retries for a while).
	Backlog      = 512
	BacklogBytes = 4 << 20
	// RxRetry is how often the sleeping poller looks for receive buffers
	// while frames wait in the backlog.
	RxRetry = 500 * time.Microsecond
)

// Config configures a Device.
type Config struct {
	Mem      []byte           // guest RAM, guest-physical [0, len(Mem))
	MAC      net.HardwareAddr // 6 bytes
	Endpoint link.Endpoint
	// Wake ends the HcIdle of every vCPU (without blocking).
	Wake func()
	// Logf, if set, reports guest driver errors (once each).
	Logf func(format string, args ...any)
	// SpinWindow overrides the package's SpinWindow (for measurements):
	// 0 means SpinWindow, a negative value no spinning.
	SpinWindow time.Duration
}

// Stats are the device's counters.
type Stats struct {
	TxFrames, TxBytes, TxDrops uint64 // frames the guest sent (Ethernet bytes), and malformed ones dropped
	RxFrames, RxBytes, RxDrops uint64 // frames given to the guest, and frames dropped (backlog full, too large, buffer too small)
	Kicks                      uint64 // QueueNotify writes (through the ioeventfd or an MMIO exit)
	PollerWakeups              uint64 // times the sleeping poller was woken by a kick
	GuestWakes                 uint64 // times the device ended the guest's idle
}

// Device is one virtio-net device.
type Device struct {
	cfg    Config
	t      virtq.Transport
	rx, tx virtq.Queue
	mtu    int // the endpoint's, offered in the configuration space
	config [12]byte

	bell *virtq.Doorbell // guest kicks (KVM ioeventfd, or Notify) and the monitor's pokes

	// Under both queue locks to change, either to read. Lock order: tx,
	// then rx (the poller holds tx's lock while the endpoint's WriteFrame
	// may deliver a frame).
	live    bool // DRIVER_OK and not reset
	maxRx   int  // largest frame the guest's buffers take (14 + MTU)
	needBuf int  // smallest receive chain accepted (12 + maxRx)

	// Receive side, under rx's lock.
	closed  bool
	backlog [Backlog][]byte
	blHead  int
	blBytes int
	blCount atomic.Int32
	rxSegs  []virtq.Seg

	// Poller-owned.
	txSegs []virtq.Seg
	txBuf  []byte

	spin    time.Duration
	closing atomic.Bool
	done    chan struct{}

	logMu  sync.Mutex
	logged map[string]bool

	txFrames, txBytes, txDrops atomic.Uint64
	rxFrames, rxBytes, rxDrops atomic.Uint64
	wakeups, wakes             atomic.Uint64
}

// New creates the device and starts its endpoint and poller. Frames that
// arrive before the guest driver is ready wait in the backlog.
func New(cfg Config) (*Device, error) {
	if len(cfg.MAC) != 6 {
		return nil, fmt.Errorf("virtio-net: MAC address %v is not 6 bytes", cfg.MAC)
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	d := &Device{cfg: cfg, mtu: cfg.Endpoint.MTU(), done: make(chan struct{}), spin: cfg.SpinWindow}
	if d.spin == 0 {
		d.spin = SpinWindow
	}
	if d.mtu <= 0 || d.mtu > 0xffff-link.EthHeaderSize {
		return nil, fmt.Errorf("virtio-net: endpoint MTU %d out of range", d.mtu)
	}
	d.rx.Max, d.tx.Max = QueueSize, QueueSize
	d.t = virtq.Transport{
		DeviceID: virtio.DeviceNet,
		Features: 1<<virtio.FNetMAC | 1<<virtio.FNetMTU | 1<<virtio.FNetStatus,
		Queues:   []*virtq.Queue{virtio.NetRxQueue: &d.rx, virtio.NetTxQueue: &d.tx},
		Dev:      (*transportDev)(d),
		Mem:      cfg.Mem,
		Logf:     d.logf,
	}
	copy(d.config[virtio.NetCfgMAC:], cfg.MAC)
	binary.LittleEndian.PutUint16(d.config[virtio.NetCfgStatus:], 1) // VIRTIO_NET_S_LINK_UP
	binary.LittleEndian.PutUint16(d.config[virtio.NetCfgMaxVQ:], 1)
	binary.LittleEndian.PutUint16(d.config[virtio.NetCfgMTU:], uint16(d.mtu))
	d.setMTU(1500)
	var err error
	if d.bell, err = virtq.NewDoorbell("virtio-net"); err != nil {
		return nil, err
	}
	if err := cfg.Endpoint.Start(d.deliver); err != nil {
		d.bell.Close()
		return nil, err
	}
	go d.poll()
	return d, nil
}

// KickFD is the eventfd to register as the KVM ioeventfd of the window's
// QueueNotify register (4 bytes, any value).
func (d *Device) KickFD() int { return d.bell.KickFD() }

// Read serves a guest MMIO read at offset off of the device's window.
func (d *Device) Read(off uint64, data []byte) { d.t.Read(off, data) }

// Write serves a guest MMIO write at offset off of the device's window.
func (d *Device) Write(off uint64, data []byte) { d.t.Write(off, data) }

// MTU is the MTU offered to the guest (the endpoint's).
func (d *Device) MTU() int { return d.mtu }

// Stats returns the counters.
func (d *Device) Stats() Stats {
	return Stats{
		TxFrames: d.txFrames.Load(), TxBytes: d.txBytes.Load(), TxDrops: d.txDrops.Load(),
		RxFrames: d.rxFrames.Load(), RxBytes: d.rxBytes.Load(), RxDrops: d.rxDrops.Load(),
		Kicks: d.bell.Kicks(), PollerWakeups: d.wakeups.Load(), GuestWakes: d.wakes.Load(),
	}
}

// Close stops the poller and the endpoint. Afterwards the device touches
// guest memory no more. The vCPUs must be stopped.
func (d *Device) Close() error {
	if d.closing.Swap(true) {
		return nil
	}
	d.poke()
	<-d.done
	err := d.cfg.Endpoint.Close()
	d.tx.Lock()
	d.rx.Lock()
	d.closed, d.live = true, false
	d.rx.Unlock()
	d.tx.Unlock()
	d.bell.Close()
	return err
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

// setMTU sets the receive limits for a guest MTU (both queue locks held,
// or before the device is shared).
func (d *Device) setMTU(mtu int) {
	d.maxRx = link.EthHeaderSize + mtu
	d.needBuf = virtio.NetHdrSize + d.maxRx
}

// poke wakes the poller.
func (d *Device) poke() { d.bell.Poke() }

// wake tells the guest about used buffers.
func (d *Device) wake() {
	d.wakes.Add(1)
	d.t.UsedBuffer()
	d.cfg.Wake()
}

// transportDev is the device as the transport sees it.
type transportDev Device

func (td *transportDev) ReadConfig(off int, b []byte) {
	if off < len(td.config) {
		copy(b, td.config[off:])
	}
}

func (td *transportDev) Start(features uint64) {
	d := (*Device)(td)
	d.tx.Lock()
	d.rx.Lock()
	if features&(1<<virtio.FNetMTU) != 0 {
		d.setMTU(d.mtu)
	} else {
		d.setMTU(1500)
	}
	d.live = !d.closed
	// The poke wakes the poller, which is then awake: no kicks (receive
	// refills need none anyway while no frame waits, see poll).
	d.rx.SetNoNotify(true)
	d.tx.SetNoNotify(true)
	d.rx.Unlock()
	d.tx.Unlock()
	d.poke()
}

func (td *transportDev) Stop() {
	d := (*Device)(td)
	d.tx.Lock()
	d.rx.Lock()
	d.live = false // the backlog stays: frames from before the driver's first reset wait for it
	d.rx.Unlock()
	d.tx.Unlock()
}

func (td *transportDev) Notify(uint32) { td.bell.Kick() }

// Receive path.

// rxResult is the outcome of offering a frame to the receive queue.
type rxResult int

const (
	rxNoBuffer rxResult = iota // no receive buffer posted
	rxDone                     // written to a buffer
	rxDropped                  // consumed a buffer but could not be delivered
)

// deliver is the endpoint's callback: one Ethernet frame for the guest.
// It goes straight into a receive buffer if one is posted and no frame
// waits before it, else into the backlog.
func (d *Device) deliver(frame []byte) bool {
	d.rx.Lock()
	ok, notify := d.deliverLocked(frame)
	err := d.rx.TakeErr()
	d.rx.Unlock()
	d.queueError("receive", err)
	if notify {
		d.wake()
	}
	return ok
}

func (d *Device) deliverLocked(frame []byte) (ok, notify bool) {
	if d.closed {
		return false, false
	}
	if d.live && d.blCount.Load() == 0 {
		r := d.rxOne(frame)
		notify = d.rx.Publish()
		if r != rxNoBuffer {
			return r == rxDone, notify
		}
	}
	if len(frame) > link.EthHeaderSize+d.mtu || d.blCount.Load() == Backlog || d.blBytes+len(frame) > BacklogBytes {
		d.rxDrops.Add(1)
		return false, notify
	}
	i := (d.blHead + int(d.blCount.Load())) % Backlog
	d.backlog[i] = append(d.backlog[i][:0], frame...)
	d.blBytes += len(frame)
	if d.blCount.Add(1) == 1 {
		d.poke()
	}
	return true, notify
}

// dequeue drops the oldest backlog frame (rx lock held).
func (d *Device) dequeue() {
	d.blBytes -= len(d.backlog[d.blHead])
	if cap(d.backlog[d.blHead]) > 2048 {
		d.backlog[d.blHead] = nil // keep only small buffers around
	}
	d.blHead = (d.blHead + 1) % Backlog
	d.blCount.Add(-1)
}

// rxOne writes frame into the next receive buffer (rx lock held, live).
// The caller publishes.
func (d *Device) rxOne(frame []byte) rxResult {
	for {
		head, ok := d.rx.Pop()
		if !ok {
			return rxNoBuffer
		}
		segs, err := d.rx.Chain(head, d.rxSegs[:0])
		d.rxSegs = segs[:0]
		capacity := 0
		for _, s := range segs {
			if !s.Write {
				err = errors.New("read-only descriptor in a receive chain")
				break
			}
			capacity += len(s.Buf)
		}
		if err != nil {
			d.logf("virtio-net: receive queue: %v (buffer returned unused)", err)
			d.rx.Push(head, 0)
			continue // try the next buffer
		}
		if len(frame) > d.maxRx || capacity < d.needBuf {
			if capacity < d.needBuf {
				d.logf("virtio-net: receive buffer of %d bytes is smaller than %d (12-byte header, 14-byte Ethernet header, MTU %d): frames dropped", capacity, d.needBuf, d.maxRx-link.EthHeaderSize)
			}
			d.rx.Push(head, 0)
			d.rxDrops.Add(1)
			return rxDropped
		}
		var hdr [virtio.NetHdrSize]byte
		binary.LittleEndian.PutUint16(hdr[10:], 1) // num_buffers
		scatter(segs, hdr[:], frame)
		d.rx.Push(head, uint32(virtio.NetHdrSize+len(frame)))
		d.rxFrames.Add(1)
		d.rxBytes.Add(uint64(len(frame)))
		return rxDone
	}
}

// scatter copies hdr then frame across the buffers of segs (which hold
// enough room).
func scatter(segs []virtq.Seg, hdr, frame []byte) {
	src := hdr
	for _, s := range segs {
		b := s.Buf
		for len(b) > 0 {
			if len(src) == 0 {
				if frame == nil {
					return
				}
				src, frame = frame, nil
				continue
			}
			n := copy(b, src)
			b, src = b[n:], src[n:]
		}
	}
}

// drainRx moves backlog frames into receive buffers. It reports whether
// it moved any.
func (d *Device) drainRx() bool {
	if d.blCount.Load() == 0 {
		return false
	}
	d.rx.Lock()
	moved := 0
	for d.live && d.blCount.Load() > 0 {
		r := d.rxOne(d.backlog[d.blHead])
		if r == rxNoBuffer {
			break
		}
		d.dequeue()
		moved++
	}
	notify := d.rx.Publish()
	err := d.rx.TakeErr()
	d.rx.Unlock()
	d.queueError("receive", err)
	if notify {
		d.wake()
	}
	return moved > 0
}

// queueError reports a queue stopped by a driver error: the device needs
// a reset. The transport's lock is taken on another goroutine, as the
// caller may hold the transmit queue's lock (which the transport takes
// after its own).
func (d *Device) queueError(name string, err error) {
	if err != nil {
		go d.t.NeedsReset(fmt.Errorf("virtio-net: %s queue stopped: %v", name, err))
	}
}

// Transmit path.

// serviceTx sends every frame the guest has queued and returns the chains
// with one used-index update. It reports whether there was any.
func (d *Device) serviceTx() bool {
	d.tx.Lock()
	if !d.live {
		d.tx.Unlock()
		return false
	}
	n := d.tx.Pending()
	for i := 0; i < n; i++ {
		head, ok := d.tx.Pop()
		if !ok {
			break
		}
		segs, err := d.tx.Chain(head, d.txSegs[:0])
		d.txSegs = segs[:0]
		var frame []byte
		if err == nil {
			frame, err = d.gather(segs)
		}
		if err == nil && (len(frame) < link.EthHeaderSize || len(frame) > link.EthHeaderSize+d.mtu) {
			err = fmt.Errorf("frame of %d bytes (MTU %d)", len(frame), d.mtu)
		}
		if err != nil {
			d.logf("virtio-net: transmit queue: %v (dropped)", err)
			d.txDrops.Add(1)
		} else {
			d.cfg.Endpoint.WriteFrame(frame)
			d.txFrames.Add(1)
			d.txBytes.Add(uint64(len(frame)))
		}
		d.tx.Push(head, 0)
	}
	notify := d.tx.Publish()
	err := d.tx.TakeErr()
	d.tx.Unlock()
	d.queueError("transmit", err)
	if notify {
		d.wake()
	}
	return n > 0
}

// gather returns the frame of a transmit chain: its bytes after the
// 12-byte virtio-net header, wherever the header ends. A frame inside one
// descriptor is returned in place (guest memory), others are copied.
func (d *Device) gather(segs []virtq.Seg) ([]byte, error) {
	skip := virtio.NetHdrSize
	var frame []byte
	pieces := 0
	for _, s := range segs {
		if s.Write {
			return nil, errors.New("device-writable descriptor in a transmit chain")
		}
		b := s.Buf
		if skip > 0 {
			n := min(skip, len(b))
			b, skip = b[n:], skip-n
		}
		if len(b) == 0 {
			continue
		}
		switch pieces++; pieces {
		case 1:
			frame = b
		case 2:
			d.txBuf = append(append(d.txBuf[:0], frame...), b...)
			frame = d.txBuf
		default:
			d.txBuf = append(d.txBuf, b...)
			frame = d.txBuf
		}
	}
	if skip > 0 {
		return nil, errors.New("transmit chain shorter than the virtio-net header")
	}
	return frame, nil
}

// The poller.

func (d *Device) poll() {
	defer close(d.done)
	last := time.Now()
	asleep := false // kicks requested (the flags are clear)
	for !d.closing.Load() {
		tx := d.serviceTx()
		rx := d.drainRx()
		if tx || rx {
			if asleep {
				d.setNoNotify()
				asleep = false
			}
			last = time.Now()
			continue
		}
		if !asleep {
			if time.Since(last) < d.spin {
				runtime.Gosched()
				continue
			}
			if !d.prepareSleep() {
				last = time.Now()
				continue
			}
			asleep = true
		}
		var timeout time.Duration
		if d.blCount.Load() > 0 && d.isLive() {
			timeout = RxRetry
		}
		kicked, woken := d.bell.Wait(timeout)
		if kicked {
			d.wakeups.Add(1)
		}
		if woken { // else a timeout: look at the rings, stay asleep if idle
			d.setNoNotify()
			asleep = false
			last = time.Now()
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
	d.tx.Lock()
	if d.live {
		d.tx.SetNoNotify(false) // a full barrier: then look again
		if d.tx.Pending() > 0 {
			d.tx.SetNoNotify(true)
			idle = false
		}
	}
	d.tx.Unlock()
	d.rx.Lock()
	if d.live && d.blCount.Load() > 0 {
		d.rx.SetNoNotify(false)
		if d.rx.Pending() > 0 { // (Start's poke: the backlog may wait since before)
			d.rx.SetNoNotify(true)
			idle = false
		}
	}
	d.rx.Unlock()
	return idle
}

func (d *Device) isLive() bool {
	d.rx.Lock()
	defer d.rx.Unlock()
	return d.live
}

// setNoNotify turns kicks off on both queues (the poller is awake).
func (d *Device) setNoNotify() {
	d.tx.Lock()
	if d.live {
		d.tx.SetNoNotify(true)
	}
	d.tx.Unlock()
	d.rx.Lock()
	if d.live {
		d.rx.SetNoNotify(true)
	}
	d.rx.Unlock()
}
