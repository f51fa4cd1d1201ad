package kvm

import (
	"testing"
	"unsafe"
)

func TestSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"kvm_regs", unsafe.Sizeof(Regs{}), 144},
		{"kvm_segment", unsafe.Sizeof(Segment{}), 24},
		{"kvm_dtable", unsafe.Sizeof(DTable{}), 16},
		{"kvm_sregs", unsafe.Sizeof(Sregs{}), 312},
		{"kvm_userspace_memory_region", unsafe.Sizeof(UserspaceMemoryRegion{}), 32},
		{"kvm_cpuid_entry2", unsafe.Sizeof(CPUIDEntry{}), 40},
		{"kvm_msr_entry", unsafe.Sizeof(MSR{}), 16},
		{"kvm_lapic_state", unsafe.Sizeof(LAPICState{}), 1024},
		{"sregs.apic_base", unsafe.Offsetof(Sregs{}.APICBase), 272},
	} {
		if c.got != c.want {
			t.Errorf("%s: size %d, want %d", c.name, c.got, c.want)
		}
	}
	if getSregs != 0x8138ae83 || run != 0xae80 || setUserMemoryRegion != 0x4020ae46 || getSupportedCPUID != 0xc008ae05 {
		t.Errorf("ioctl numbers: %#x %#x %#x %#x", getSregs, run, setUserMemoryRegion, getSupportedCPUID)
	}
}

func TestIOEventFDLayout(t *testing.T) {
	if s := unsafe.Sizeof(IOEventFD{}); s != 64 {
		t.Errorf("kvm_ioeventfd: size %d, want 64", s)
	}
	if ioeventfd != 0x4040ae79 {
		t.Errorf("KVM_IOEVENTFD = %#x, want 0x4040ae79", ioeventfd)
	}
}
