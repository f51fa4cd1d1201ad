// Package virtio holds the parts of the virtio 1.x specification (OASIS
// virtio v1.2) that both sides of mote use: the virtio-mmio register layout
// (version 2, "modern"), device status and feature bits, the split
// virtqueue layout, and the virtio-net header and configuration. It is a
// specification, not mote's own contract (that is package abi): the guest
// driver written against it also runs on QEMU microvm and Firecracker.
//
// The package is compiled into every guest image: standard library only,
// no allocation, no pointers into the heap.
package virtio

// MMIO register offsets (virtio-mmio, version 2). All registers are 32 bits
// wide and little endian; the device configuration space starts at Config.
const (
	RegMagic           = 0x000 // "virt"
	RegVersion         = 0x004 // 2
	RegDeviceID        = 0x008
	RegVendorID        = 0x00c
	RegDeviceFeatures  = 0x010
	RegDeviceFeatSel   = 0x014
	RegDriverFeatures  = 0x020
	RegDriverFeatSel   = 0x024
	RegQueueSel        = 0x030
	RegQueueNumMax     = 0x034
	RegQueueNum        = 0x038
	RegQueueReady      = 0x044
	RegQueueNotify     = 0x050
	RegInterruptStatus = 0x060
	RegInterruptACK    = 0x064
	RegStatus          = 0x070
	RegQueueDescLow    = 0x080
	RegQueueDescHigh   = 0x084
	RegQueueDriverLow  = 0x090 // the available ring
	RegQueueDriverHigh = 0x094
	RegQueueDeviceLow  = 0x0a0 // the used ring
	RegQueueDeviceHigh = 0x0a4
	RegConfigGen       = 0x0fc
	RegConfig          = 0x100

	MagicValue  = 0x74726976 // "virt" little endian
	MMIOVersion = 2
)

// Device IDs.
const (
	DeviceNet = 1
	Device9P  = 9
)

// Device status bits.
const (
	StatusAcknowledge = 1
	StatusDriver      = 2
	StatusDriverOK    = 4
	StatusFeaturesOK  = 8
	StatusNeedsReset  = 64
	StatusFailed      = 128
)

// Feature bits (bit numbers).
const (
	FVersion1  = 32 // VIRTIO_F_VERSION_1: a modern device
	FEventIdx  = 29 // VIRTIO_RING_F_EVENT_IDX (mote does not use it)
	FNetMTU    = 3  // VIRTIO_NET_F_MTU: Config.MTU is valid
	FNetMAC    = 5  // VIRTIO_NET_F_MAC: Config.MAC is valid
	FNetStatus = 16 // VIRTIO_NET_F_STATUS
)

// Split virtqueue layout. The descriptor table has QueueNum 16-byte
// entries; the available ring is flags, idx, ring[QueueNum] (uint16 each);
// the used ring is flags, idx, then QueueNum {id, len uint32} elements.
const (
	DescSize      = 16
	DescFNext     = 1 // VIRTQ_DESC_F_NEXT
	DescFWrite    = 2 // VIRTQ_DESC_F_WRITE: device writes the buffer
	DescFIndirect = 4

	// AvailFNoInterrupt in the available ring's flags: the driver does not
	// need to be told about used buffers. In mote (no interrupts) the
	// device then does not wake a guest idle in abi.HcIdle either.
	AvailFNoInterrupt = 1
	// UsedFNoNotify in the used ring's flags: the device is polling the
	// available ring and needs no QueueNotify write.
	UsedFNoNotify = 1

	UsedElemSize = 8
)

// Desc is one descriptor of a split virtqueue.
type Desc struct {
	Addr  uint64
	Len   uint32
	Flags uint16
	Next  uint16
}

// AvailSize and UsedSize are the sizes in bytes of the rings of a queue of
// n entries (without the event-index fields: FEventIdx is not negotiated).
func AvailSize(n int) int { return 4 + 2*n }
func UsedSize(n int) int  { return 4 + UsedElemSize*n }

// NetHdr is the virtio-net header that precedes every frame in both
// directions (struct virtio_net_hdr_v1: 12 bytes when FVersion1 is
// negotiated, whatever else is).
type NetHdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16
	GSOSize    uint16
	CsumStart  uint16
	CsumOffset uint16
	NumBuffers uint16
}

// NetHdrSize is the size of NetHdr on the wire.
const NetHdrSize = 12

// Offsets in the virtio-net configuration space (RegConfig + offset).
const (
	NetCfgMAC    = 0  // 6 bytes
	NetCfgStatus = 6  // uint16
	NetCfgMaxVQ  = 8  // uint16
	NetCfgMTU    = 10 // uint16
)

// Virtqueue numbers of a virtio-net device with one queue pair.
const (
	NetRxQueue = 0
	NetTxQueue = 1
)
