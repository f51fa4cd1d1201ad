package kvm

import (
	"fmt"
	"unsafe"
)

// CapIOEventFD is KVM_CAP_IOEVENTFD.
const CapIOEventFD = 36

// IOEventFD is struct kvm_ioeventfd.
type IOEventFD struct {
	Datamatch uint64
	Addr      uint64 // guest-physical MMIO address (or port with IOEventFDPIO)
	Len       uint32 // 1, 2, 4 or 8 bytes (0: any length, with KVM_CAP_IOEVENTFD_ANY_LENGTH)
	FD        int32  // an eventfd
	Flags     uint32 // IOEventFD* flags
	_         [36]byte
}

// IOEventFD flags.
const (
	IOEventFDDatamatch = 1 << 0
	IOEventFDPIO       = 1 << 1
	IOEventFDDeassign  = 1 << 2
)

// KVM_IOEVENTFD = _IOW(KVMIO, 0x79, struct kvm_ioeventfd).
var ioeventfd = iow(0x79, unsafe.Sizeof(IOEventFD{}))

// AddMMIOEventFD makes a guest write of length bytes to guest-physical addr
// (with any value) signal the eventfd fd inside the host kernel: the write
// completes without an exit to user space. Writes of another length still
// exit as KVM_EXIT_MMIO.
func (vm *VM) AddMMIOEventFD(addr uint64, length uint32, fd int) error {
	e := IOEventFD{Addr: addr, Len: length, FD: int32(fd)}
	if _, err := ioctl(vm.fd, ioeventfd, uintptr(unsafe.Pointer(&e))); err != nil {
		return fmt.Errorf("KVM_IOEVENTFD at %#x: %w", addr, err)
	}
	return nil
}

// AddMMIOEventFDMatch is AddMMIOEventFD for writes of value datamatch only
// (other values still exit), so several eventfds can share an address.
func (vm *VM) AddMMIOEventFDMatch(addr uint64, length uint32, fd int, datamatch uint64) error {
	e := IOEventFD{Addr: addr, Len: length, FD: int32(fd), Datamatch: datamatch, Flags: IOEventFDDatamatch}
	if _, err := ioctl(vm.fd, ioeventfd, uintptr(unsafe.Pointer(&e))); err != nil {
		return fmt.Errorf("KVM_IOEVENTFD at %#x (value %d): %w", addr, datamatch, err)
	}
	return nil
}

// RemoveMMIOEventFD undoes AddMMIOEventFD with the same arguments.
func (vm *VM) RemoveMMIOEventFD(addr uint64, length uint32, fd int) error {
	e := IOEventFD{Addr: addr, Len: length, FD: int32(fd), Flags: IOEventFDDeassign}
	if _, err := ioctl(vm.fd, ioeventfd, uintptr(unsafe.Pointer(&e))); err != nil {
		return fmt.Errorf("KVM_IOEVENTFD (deassign) at %#x: %w", addr, err)
	}
	return nil
}

// CheckExtension on the VM fd (some capabilities are per VM).
func (vm *VM) CheckExtension(c int) int {
	r, err := ioctl(vm.fd, checkExtension, uintptr(c))
	if err != nil {
		return 0
	}
	return int(r)
}
