package virtq

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/motevm/mote/virtio"
)

// VendorID is the virtio vendor id of mote's devices ("MOTE").
const VendorID = 0x45544f4d

// Device is what a device model supplies to the transport.
type Device interface {
	// ReadConfig fills b with the device configuration space at off
	// (bytes beyond the end read as zero).
	ReadConfig(off int, b []byte)
	// Start is called when the driver sets DRIVER_OK, with the negotiated
	// features; the queues are configured (ready or not) by then.
	Start(features uint64)
	// Stop is called on a device reset (Status = 0), before the queues are
	// reset (the transport takes each queue's lock to do so), and when the
	// driver sets FAILED.
	Stop()
	// Notify is called for a QueueNotify write that reached the monitor as
	// an MMIO exit (a kick the ioeventfd did not take).
	Notify(queue uint32)
}

// Transport is the virtio-mmio (version 2) register file of one device.
// Read and Write serve the guest's MMIO accesses to the device's window,
// from any vCPU.
type Transport struct {
	DeviceID uint32
	Features uint64 // offered; virtio.FVersion1 is added
	Queues   []*Queue
	Dev      Device
	Mem      Mem
	// Logf, if set, reports driver errors (once per kind of error).
	Logf func(format string, args ...any)

	mu         sync.Mutex
	status     uint32
	devFeatSel uint32
	drvFeatSel uint32
	drvFeat    uint64
	queueSel   uint32
	features   uint64 // negotiated (valid with FEATURES_OK)
	started    bool
	logged     map[string]bool

	configGen atomic.Uint32
	intStatus atomic.Uint32
}

// Status returns the device status register.
func (t *Transport) Status() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.status
}

// Negotiated returns the features the driver accepted (valid once
// FEATURES_OK is set).
func (t *Transport) Negotiated() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.features
}

// ConfigChanged bumps ConfigGeneration (the configuration space changed).
func (t *Transport) ConfigChanged() { t.configGen.Add(1) }

// UsedBuffer records a used-buffer notification in InterruptStatus (mote
// delivers no interrupt; the register is for drivers that look).
func (t *Transport) UsedBuffer() {
	if t.intStatus.Load()&1 == 0 {
		t.intStatus.Or(1)
	}
}

// NeedsReset puts the device in DEVICE_NEEDS_RESET after an error it
// cannot continue from, and reports it. Do not call it with a queue's lock
// held (the transport takes t's lock, then a queue's).
func (t *Transport) NeedsReset(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.needsReset(err)
}

func (t *Transport) needsReset(err error) {
	if t.status&virtio.StatusNeedsReset == 0 {
		t.status |= virtio.StatusNeedsReset
		t.ConfigChanged()
		t.intStatus.Or(2) // configuration change
	}
	t.logf("%v", err)
}

func (t *Transport) logf(format string, args ...any) {
	if t.Logf == nil {
		return
	}
	msg := fmt.Sprintf(format, args...)
	if t.logged == nil {
		t.logged = map[string]bool{}
	}
	if t.logged[msg] {
		return
	}
	t.logged[msg] = true
	t.Logf("%s", msg)
}

func (t *Transport) offered() uint64 { return t.Features | 1<<virtio.FVersion1 }

func (t *Transport) queue() *Queue {
	if int(t.queueSel) < len(t.Queues) {
		return t.Queues[t.queueSel]
	}
	return nil
}

// Read serves a guest read of len(data) bytes at offset off of the window.
// Registers below virtio.RegConfig must be read as 32-bit words; anything
// else reads as zero.
func (t *Transport) Read(off uint64, data []byte) {
	clear(data)
	if off >= virtio.RegConfig {
		if off-virtio.RegConfig < 0x100 {
			t.Dev.ReadConfig(int(off-virtio.RegConfig), data)
		}
		return
	}
	if len(data) != 4 || off%4 != 0 {
		return
	}
	le.PutUint32(data, t.read32(off))
}

func (t *Transport) read32(off uint64) uint32 {
	switch off {
	case virtio.RegMagic:
		return virtio.MagicValue
	case virtio.RegVersion:
		return virtio.MMIOVersion
	case virtio.RegDeviceID:
		return t.DeviceID
	case virtio.RegVendorID:
		return VendorID
	case virtio.RegInterruptStatus:
		return t.intStatus.Load()
	case virtio.RegConfigGen:
		return t.configGen.Load()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch off {
	case virtio.RegDeviceFeatures:
		if t.devFeatSel < 2 {
			return uint32(t.offered() >> (32 * t.devFeatSel))
		}
		return 0
	case virtio.RegStatus:
		return t.status
	case virtio.RegQueueNumMax:
		if q := t.queue(); q != nil {
			return uint32(q.Max)
		}
		return 0
	case virtio.RegQueueReady:
		if q := t.queue(); q != nil {
			q.Lock()
			defer q.Unlock()
			if q.ready {
				return 1
			}
		}
		return 0
	}
	return 0
}

// Write serves a guest write of data at offset off of the window.
// Registers must be written as 32-bit words; the configuration space is
// read-only.
func (t *Transport) Write(off uint64, data []byte) {
	if off >= virtio.RegConfig || len(data) != 4 || off%4 != 0 {
		return
	}
	v := le.Uint32(data)
	if off == virtio.RegQueueNotify {
		t.Dev.Notify(v)
		return
	}
	if off == virtio.RegInterruptACK {
		t.intStatus.And(^v)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	switch off {
	case virtio.RegDeviceFeatSel:
		t.devFeatSel = v
	case virtio.RegDriverFeatSel:
		t.drvFeatSel = v
	case virtio.RegDriverFeatures:
		if t.drvFeatSel < 2 && t.status&virtio.StatusFeaturesOK == 0 {
			sh := 32 * t.drvFeatSel
			t.drvFeat = t.drvFeat&^(0xffffffff<<sh) | uint64(v)<<sh
		}
	case virtio.RegQueueSel:
		t.queueSel = v
	case virtio.RegStatus:
		t.setStatus(v)
	case virtio.RegQueueNum, virtio.RegQueueDescLow, virtio.RegQueueDescHigh,
		virtio.RegQueueDriverLow, virtio.RegQueueDriverHigh, virtio.RegQueueDeviceLow, virtio.RegQueueDeviceHigh:
		q := t.queue()
		if q == nil {
			return
		}
		q.Lock()
		defer q.Unlock()
		if q.ready {
			t.logf("virtio: queue %d: configuration written while the queue is ready (ignored)", t.queueSel)
			return
		}
		lo := func(p *uint64) { *p = *p&^0xffffffff | uint64(v) }
		hi := func(p *uint64) { *p = *p&0xffffffff | uint64(v)<<32 }
		switch off {
		case virtio.RegQueueNum:
			q.Num = 0 // out of range: refused by enable
			if v <= uint32(q.Max) {
				q.Num = uint16(v)
			}
		case virtio.RegQueueDescLow:
			lo(&q.Desc)
		case virtio.RegQueueDescHigh:
			hi(&q.Desc)
		case virtio.RegQueueDriverLow:
			lo(&q.Avail)
		case virtio.RegQueueDriverHigh:
			hi(&q.Avail)
		case virtio.RegQueueDeviceLow:
			lo(&q.Used)
		case virtio.RegQueueDeviceHigh:
			hi(&q.Used)
		}
	case virtio.RegQueueReady:
		q := t.queue()
		if q == nil {
			return
		}
		q.Lock()
		defer q.Unlock()
		switch {
		case v&1 == 0:
			q.ready = false
		case !q.ready:
			if err := q.enable(t.Mem); err != nil {
				t.needsReset(fmt.Errorf("virtio: queue %d: %v", t.queueSel, err))
			}
		}
	}
}

// setStatus handles a write of the Status register (t.mu held).
func (t *Transport) setStatus(v uint32) {
	if v == 0 {
		t.reset()
		return
	}
	old := t.status
	if v&virtio.StatusFeaturesOK != 0 && old&virtio.StatusFeaturesOK == 0 {
		// Feature negotiation: a subset of what was offered, and a modern
		// driver. Otherwise FEATURES_OK does not stick and the driver,
		// reading Status back, knows the device refused.
		if t.drvFeat&^t.offered() != 0 || t.drvFeat&(1<<virtio.FVersion1) == 0 {
			t.logf("virtio: driver features %#x refused (offered %#x; VIRTIO_F_VERSION_1 is required)", t.drvFeat, t.offered())
			v &^= virtio.StatusFeaturesOK
		} else {
			t.features = t.drvFeat
		}
	}
	if old&virtio.StatusFeaturesOK != 0 {
		v |= virtio.StatusFeaturesOK // cannot be taken back but by a reset
	}
	v |= old & virtio.StatusNeedsReset
	t.status = v
	if v&virtio.StatusFailed != 0 && t.started {
		t.started = false
		t.Dev.Stop()
		return
	}
	if v&virtio.StatusDriverOK != 0 && !t.started && v&virtio.StatusFailed == 0 {
		if v&virtio.StatusFeaturesOK == 0 {
			t.needsReset(fmt.Errorf("virtio: DRIVER_OK set without FEATURES_OK"))
			return
		}
		t.started = true
		t.Dev.Start(t.features)
	}
}

// reset is a device reset (Status = 0): the device stops, every queue and
// register returns to its initial state.
func (t *Transport) reset() {
	t.Dev.Stop()
	t.started = false
	for _, q := range t.Queues {
		q.Lock()
		q.reset()
		q.Unlock()
	}
	t.status, t.devFeatSel, t.drvFeatSel, t.drvFeat, t.queueSel, t.features = 0, 0, 0, 0, 0, 0
	t.intStatus.Store(0)
}
