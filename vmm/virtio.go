package vmm

import (
	"fmt"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/virtio"
	"github.com/motevm/mote/vmm/kvm"
)

// mmioDevice is a virtio-mmio device as the monitor sees it: the register
// window's MMIO exits go to Read and Write, and its QueueNotify register
// to the eventfd KickFD (a KVM ioeventfd). virtionet and virtio9p devices
// are both one, so that windows are assigned, dispatched and closed in one
// place whatever the device.
type mmioDevice interface {
	Read(off uint64, data []byte)
	Write(off uint64, data []byte)
	KickFD() int
	Close() error
}

// virtioDev is a device in its virtio-mmio window.
type virtioDev struct {
	mmio      mmioDevice
	window    uint64 // guest-physical base of its MMIO window
	ioeventfd bool   // kicks served by a KVM ioeventfd
}

// addVirtio puts dev in the next free window (window i of
// abi.VirtioMMIOBase + i*abi.VirtioMMIOStride, in the order of the calls:
// the guest finds devices by probing the windows 0 to
// BootInfo.NumVirtio-1) and registers its kick ioeventfd. v.kvm exists.
// On error dev is closed.
func (v *vm) addVirtio(dev mmioDevice) (*virtioDev, error) {
	if len(v.virtio) >= abi.MaxVirtio {
		dev.Close()
		return nil, fmt.Errorf("too many virtio devices (at most %d)", abi.MaxVirtio)
	}
	d := &virtioDev{mmio: dev, window: abi.VirtioMMIOBase + uint64(len(v.virtio))*abi.VirtioMMIOStride}
	v.virtio = append(v.virtio, d)
	// Kicks through an ioeventfd never exit to the monitor; without it
	// they arrive as MMIO exits and work the same, slower.
	if v.kvm.AddMMIOEventFD(d.window+virtio.RegQueueNotify, 4, dev.KickFD()) == nil {
		d.ioeventfd = true
	}
	return d, nil
}

// closeVirtio stops the devices (the vCPUs are stopped), in window order.
// Afterwards no device touches guest memory.
func (v *vm) closeVirtio() {
	for _, d := range v.virtio {
		d.mmio.Close()
	}
	v.virtio = nil
}

// virtioMMIO serves an MMIO exit in the virtio windows. It returns false
// if the access is not in them. A window without a device reads as zero
// (DeviceID 0: no device) and ignores writes.
func (v *vm) virtioMMIO(c *vcpu, m kvm.MMIO) bool {
	base := uint64(abi.VirtioMMIOBase)
	if m.PhysAddr < base || m.PhysAddr >= base+abi.MaxVirtio*abi.VirtioMMIOStride {
		return false
	}
	idx := (m.PhysAddr - base) / abi.VirtioMMIOStride
	off := (m.PhysAddr - base) % abi.VirtioMMIOStride
	if m.Len == 0 || m.Len > 8 || off+uint64(m.Len) > abi.VirtioMMIOStride {
		return false
	}
	v.virtioExits.Add(1)
	var dev mmioDevice
	if idx < uint64(len(v.virtio)) {
		dev = v.virtio[idx].mmio
	}
	if m.IsWrite {
		if dev != nil {
			dev.Write(off, m.Data[:m.Len])
		}
		return true
	}
	var d [8]byte
	if dev != nil {
		dev.Read(off, d[:m.Len])
	}
	c.cpu.Run.SetMMIOData(d)
	return true
}
