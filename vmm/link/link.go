// Package link is the boundary between mote's virtio-net device and the
// networks a guest attaches to: Ethernet frames in both directions, nothing
// else. The device (package vmm/virtionet) knows virtqueues and nothing of
// networks; a network (vmm/usernet, vmm/tap) knows frames and nothing of
// virtio.
package link

// Endpoint is a network a guest NIC is plugged into.
type Endpoint interface {
	// Start begins delivering frames to the guest: deliver is called with
	// each Ethernet frame (without a virtio header), from goroutines of the
	// endpoint, one call at a time. frame is only valid during the call.
	// deliver returns false when the guest has no receive buffer free; the
	// frame is then dropped, as a NIC would.
	Start(deliver func(frame []byte) bool) error
	// WriteFrame sends one Ethernet frame from the guest. It does not keep
	// frame. It never blocks for long: a congested network drops.
	WriteFrame(frame []byte) error
	// MTU is the largest IP packet (frame minus the 14-byte Ethernet
	// header) the endpoint carries.
	MTU() int
	// Close stops delivery and releases the endpoint's resources.
	Close() error
}

// Ethernet header size (no VLAN tag).
const EthHeaderSize = 14
