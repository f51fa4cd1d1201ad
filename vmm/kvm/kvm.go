// Package kvm is a small set of Linux KVM ioctl bindings for x86-64, over
// golang.org/x/sys/unix.
package kvm

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctl request encoding (asm-generic/ioctl.h).
func io(nr uintptr) uintptr         { return 0xAE<<8 | nr }
func iow(nr, size uintptr) uintptr  { return 1<<30 | size<<16 | 0xAE<<8 | nr }
func ior(nr, size uintptr) uintptr  { return 2<<30 | size<<16 | 0xAE<<8 | nr }
func iowr(nr, size uintptr) uintptr { return 3<<30 | size<<16 | 0xAE<<8 | nr }

var (
	getAPIVersion       = io(0x00)
	createVM            = io(0x01)
	checkExtension      = io(0x03)
	getVCPUMmapSize     = io(0x04)
	getSupportedCPUID   = iowr(0x05, 8)
	createVCPU          = io(0x41)
	setUserMemoryRegion = iow(0x46, unsafe.Sizeof(UserspaceMemoryRegion{}))
	createIRQChip       = io(0x60)
	run                 = io(0x80)
	getRegs             = ior(0x81, unsafe.Sizeof(Regs{}))
	setRegs             = iow(0x82, unsafe.Sizeof(Regs{}))
	getSregs            = ior(0x83, unsafe.Sizeof(Sregs{}))
	setSregs            = iow(0x84, unsafe.Sizeof(Sregs{}))
	getMSRs             = iowr(0x88, 8)
	setMSRs             = iow(0x89, 8)
	getLAPIC            = ior(0x8e, unsafe.Sizeof(LAPICState{}))
	setLAPIC            = iow(0x8f, unsafe.Sizeof(LAPICState{}))
	setCPUID2           = iow(0x90, 8)
	getTSCKHz           = io(0xa3)
	setMPState          = iow(0x99, 4)
	enableCap           = iow(0xa3, 104)
)

// Capabilities for CheckExtension.
const (
	CapIRQChip      = 0
	CapGetTSCKHz    = 61
	CapNrVCPUs      = 9
	CapMaxVCPUs     = 66
	CapSplitIRQChip = 121
)

func ioctl(fd int, req, arg uintptr) (uintptr, error) {
	for {
		r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
		if e == unix.EINTR && req != run {
			continue
		}
		if e != 0 {
			return r, e
		}
		return r, nil
	}
}

// System is an open /dev/kvm.
type System struct{ fd int }

// Open opens /dev/kvm and checks the API version.
func Open() (*System, error) {
	fd, err := unix.Open("/dev/kvm", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	v, err := ioctl(fd, getAPIVersion, 0)
	if err != nil || v != 12 {
		unix.Close(fd)
		return nil, fmt.Errorf("/dev/kvm speaks KVM API %d, mote needs 12", v)
	}
	return &System{fd: fd}, nil
}

// Close closes /dev/kvm.
func (s *System) Close() error { return unix.Close(s.fd) }

// CheckExtension returns KVM_CHECK_EXTENSION(capability).
func (s *System) CheckExtension(c int) int {
	r, err := ioctl(s.fd, checkExtension, uintptr(c))
	if err != nil {
		return 0
	}
	return int(r)
}

// SupportedCPUID returns KVM_GET_SUPPORTED_CPUID.
func (s *System) SupportedCPUID() ([]CPUIDEntry, error) {
	for n := 64; n <= 4096; n *= 2 {
		buf := make([]byte, 8+n*int(unsafe.Sizeof(CPUIDEntry{})))
		*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(n)
		_, err := ioctl(s.fd, getSupportedCPUID, uintptr(unsafe.Pointer(&buf[0])))
		if errors.Is(err, unix.E2BIG) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("KVM_GET_SUPPORTED_CPUID: %w", err)
		}
		got := int(*(*uint32)(unsafe.Pointer(&buf[0])))
		ents := unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[8])), got)
		return append([]CPUIDEntry(nil), ents...), nil
	}
	return nil, errors.New("KVM_GET_SUPPORTED_CPUID: too many entries")
}

func (s *System) vcpuMmapSize() (int, error) {
	r, err := ioctl(s.fd, getVCPUMmapSize, 0)
	return int(r), err
}

// VM is a KVM virtual machine.
type VM struct {
	fd       int
	mmapSize int
}

// CreateVM creates a VM.
func (s *System) CreateVM() (*VM, error) {
	sz, err := s.vcpuMmapSize()
	if err != nil {
		return nil, fmt.Errorf("KVM_GET_VCPU_MMAP_SIZE: %w", err)
	}
	for {
		fd, err := ioctl(s.fd, createVM, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("KVM_CREATE_VM: %w", err)
		}
		return &VM{fd: int(fd), mmapSize: sz}, nil
	}
}

// Close closes the VM fd (vCPUs must be closed first).
func (vm *VM) Close() error { return unix.Close(vm.fd) }

// SetMemory registers mem as guest-physical [gpa, gpa+len(mem)) in slot.
func (vm *VM) SetMemory(slot uint32, gpa uint64, mem []byte) error {
	r := UserspaceMemoryRegion{Slot: slot, GuestPhysAddr: gpa, MemorySize: uint64(len(mem)),
		UserspaceAddr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
	if _, err := ioctl(vm.fd, setUserMemoryRegion, uintptr(unsafe.Pointer(&r))); err != nil {
		return fmt.Errorf("KVM_SET_USER_MEMORY_REGION: %w", err)
	}
	return nil
}

// CreateIRQChip creates the in-kernel interrupt controllers (LAPICs,
// IOAPIC, PIC). Call it before creating vCPUs.
func (vm *VM) CreateIRQChip() error {
	if _, err := ioctl(vm.fd, createIRQChip, 0); err != nil {
		return fmt.Errorf("KVM_CREATE_IRQCHIP: %w", err)
	}
	return nil
}

// CreateSplitIRQChip enables KVM_CAP_SPLIT_IRQCHIP: local APICs in the
// kernel, no PIC or IOAPIC (ioapicPins routes reserved for a user-space
// IOAPIC). Call it before creating vCPUs.
func (vm *VM) CreateSplitIRQChip(ioapicPins uint64) error {
	var c struct {
		cap   uint32
		flags uint32
		args  [4]uint64
		_     [64]byte
	}
	c.cap = CapSplitIRQChip
	c.args[0] = ioapicPins
	if _, err := ioctl(vm.fd, enableCap, uintptr(unsafe.Pointer(&c))); err != nil {
		return fmt.Errorf("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP): %w", err)
	}
	return nil
}

// TSCKHz returns KVM_GET_TSC_KHZ on the VM fd.
func (vm *VM) TSCKHz() (uint64, error) {
	r, err := ioctl(vm.fd, getTSCKHz, 0)
	return uint64(r), err
}

// VCPU is a virtual CPU and its mmap'd kvm_run.
type VCPU struct {
	fd  int
	ID  int
	Run Run
}

// CreateVCPU creates vCPU id and maps its kvm_run.
func (vm *VM) CreateVCPU(id int) (*VCPU, error) {
	fd, err := ioctl(vm.fd, createVCPU, uintptr(id))
	if err != nil {
		return nil, fmt.Errorf("KVM_CREATE_VCPU %d: %w", id, err)
	}
	b, err := unix.Mmap(int(fd), 0, vm.mmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(int(fd))
		return nil, fmt.Errorf("mmap kvm_run: %w", err)
	}
	return &VCPU{fd: int(fd), ID: id, Run: Run{b: b}}, nil
}

// Close unmaps kvm_run and closes the vCPU.
func (c *VCPU) Close() error {
	unix.Munmap(c.Run.b)
	return unix.Close(c.fd)
}

// RunOnce is KVM_RUN. It returns unix.EINTR when a signal or immediate_exit
// interrupted it.
func (c *VCPU) RunOnce() error {
	_, err := ioctl(c.fd, run, 0)
	return err
}

func (c *VCPU) do(name string, req uintptr, p unsafe.Pointer) error {
	if _, err := ioctl(c.fd, req, uintptr(p)); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// GetRegs is KVM_GET_REGS.
func (c *VCPU) GetRegs() (Regs, error) {
	var r Regs
	return r, c.do("KVM_GET_REGS", getRegs, unsafe.Pointer(&r))
}

// SetRegs is KVM_SET_REGS.
func (c *VCPU) SetRegs(r *Regs) error { return c.do("KVM_SET_REGS", setRegs, unsafe.Pointer(r)) }

// GetSregs is KVM_GET_SREGS.
func (c *VCPU) GetSregs() (Sregs, error) {
	var s Sregs
	return s, c.do("KVM_GET_SREGS", getSregs, unsafe.Pointer(&s))
}

// SetSregs is KVM_SET_SREGS.
func (c *VCPU) SetSregs(s *Sregs) error { return c.do("KVM_SET_SREGS", setSregs, unsafe.Pointer(s)) }

// SetCPUID is KVM_SET_CPUID2.
func (c *VCPU) SetCPUID(ents []CPUIDEntry) error {
	esz := int(unsafe.Sizeof(CPUIDEntry{}))
	buf := make([]byte, 8+len(ents)*esz)
	*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(len(ents))
	copy(unsafe.Slice((*CPUIDEntry)(unsafe.Pointer(&buf[8])), len(ents)), ents)
	return c.do("KVM_SET_CPUID2", setCPUID2, unsafe.Pointer(&buf[0]))
}

func msrBuf(msrs []MSR) []byte {
	buf := make([]byte, 8+len(msrs)*int(unsafe.Sizeof(MSR{})))
	*(*uint32)(unsafe.Pointer(&buf[0])) = uint32(len(msrs))
	copy(unsafe.Slice((*MSR)(unsafe.Pointer(&buf[8])), len(msrs)), msrs)
	return buf
}

// SetMSRs is KVM_SET_MSRS; it fails unless every MSR was set.
func (c *VCPU) SetMSRs(msrs []MSR) error {
	buf := msrBuf(msrs)
	n, err := ioctl(c.fd, setMSRs, uintptr(unsafe.Pointer(&buf[0])))
	if err != nil {
		return fmt.Errorf("KVM_SET_MSRS: %w", err)
	}
	if int(n) != len(msrs) {
		return fmt.Errorf("KVM_SET_MSRS: MSR %#x refused", msrs[n].Index)
	}
	return nil
}

// GetMSRs is KVM_GET_MSRS: it fills in Data of each entry.
func (c *VCPU) GetMSRs(msrs []MSR) error {
	buf := msrBuf(msrs)
	n, err := ioctl(c.fd, getMSRs, uintptr(unsafe.Pointer(&buf[0])))
	if err != nil {
		return fmt.Errorf("KVM_GET_MSRS: %w", err)
	}
	copy(msrs, unsafe.Slice((*MSR)(unsafe.Pointer(&buf[8])), len(msrs)))
	if int(n) != len(msrs) {
		return fmt.Errorf("KVM_GET_MSRS: MSR %#x refused", msrs[n].Index)
	}
	return nil
}

// GetLAPIC is KVM_GET_LAPIC.
func (c *VCPU) GetLAPIC() (*LAPICState, error) {
	l := new(LAPICState)
	return l, c.do("KVM_GET_LAPIC", getLAPIC, unsafe.Pointer(l))
}

// SetLAPIC is KVM_SET_LAPIC.
func (c *VCPU) SetLAPIC(l *LAPICState) error {
	return c.do("KVM_SET_LAPIC", setLAPIC, unsafe.Pointer(l))
}

// TSCKHz returns KVM_GET_TSC_KHZ on the vCPU fd.
func (c *VCPU) TSCKHz() (uint64, error) {
	r, err := ioctl(c.fd, getTSCKHz, 0)
	return uint64(r), err
}

// MP states for SetMPState.
const MPStateRunnable = 0

// SetMPState is KVM_SET_MP_STATE. With the in-kernel irqchip, vCPUs other
// than the BSP start waiting for INIT/SIPI unless made runnable.
func (c *VCPU) SetMPState(state uint32) error {
	return c.do("KVM_SET_MP_STATE", setMPState, unsafe.Pointer(&state))
}
