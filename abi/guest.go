package abi

// System calls the library OS adds for mote's own guest-side packages (the
// network stack in package guestnet). They are not part of the monitor
// contract but of the contract between the kernel and those packages, which
// are built together into every image. Numbers lie far outside Linux's.
const (
	// SysNetOpen(info *NetInfo) returns a file descriptor (O_RDWR,
	// O_NONBLOCK, O_CLOEXEC) on the first virtio-net device and fills
	// info, or -ENODEV. read returns one Ethernet frame (without the
	// virtio header) or EAGAIN; write sends one (a blocking write waits
	// for ring space); epoll reports EPOLLIN when frames are waiting.
	SysNetOpen = 0x4d4f5401
	// SysSockFd(flags) returns a new socket descriptor whose I/O is done
	// by the guest network stack; the kernel keeps only its readiness, for
	// epoll. flags: O_NONBLOCK and O_CLOEXEC, as in socket(2)'s type.
	SysSockFd = 0x4d4f5402
	// SysSockReady(fd, mask, event): with event == 0, sets the socket's
	// readiness to mask (EPOLL* bits); with event != 0, adds mask to it as
	// new events, which fires edge-triggered watches and wakes epoll
	// waiters.
	SysSockReady = 0x4d4f5403
	// SysSockShare(bits *[64]uint64) gives the kernel package syscall's
	// set of socket descriptors (build/sockhook): the kernel sets the bit
	// of a descriptor it makes as a duplicate of a socket's (dup, dup2,
	// dup3, fcntl F_DUPFD: the runtime's own fcntl does not pass the
	// hook), so that calls on it reach the stack, and clears the bit of a
	// socket descriptor it closes.
	SysSockShare = 0x4d4f5404
	// SysSockRefs(fd) returns how many descriptors refer to the socket
	// file fd refers to (the stack keeps a socket while any does).
	SysSockRefs = 0x4d4f5405
)

// NetInfo is what SysNetOpen reports about the device.
type NetInfo struct {
	MAC    [6]byte
	_      [2]byte
	MTU    uint32 // largest IP packet
	_      uint32
	Config NetConfig
}
