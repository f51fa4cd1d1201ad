package kvm

import (
	"encoding/binary"
	"unsafe"
)

// Exit reasons (kvm_run.exit_reason).
const (
	ExitUnknown       = 0
	ExitException     = 1
	ExitIO            = 2
	ExitHypercall     = 3
	ExitDebug         = 4
	ExitHLT           = 5
	ExitMMIO          = 6
	ExitIRQWindowOpen = 7
	ExitShutdown      = 8
	ExitFailEntry     = 9
	ExitIntr          = 10
	ExitInternalError = 17
	ExitSystemEvent   = 24
)

var exitNames = map[uint32]string{
	ExitUnknown: "UNKNOWN", ExitException: "EXCEPTION", ExitIO: "IO", ExitHypercall: "HYPERCALL",
	ExitDebug: "DEBUG", ExitHLT: "HLT", ExitMMIO: "MMIO", ExitIRQWindowOpen: "IRQ_WINDOW_OPEN",
	ExitShutdown: "SHUTDOWN", ExitFailEntry: "FAIL_ENTRY", ExitIntr: "INTR",
	ExitInternalError: "INTERNAL_ERROR", ExitSystemEvent: "SYSTEM_EVENT",
}

// ExitName returns the KVM_EXIT_* name of an exit reason.
func ExitName(r uint32) string {
	if n, ok := exitNames[r]; ok {
		return n
	}
	return "exit reason " + itoa(uint64(r))
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// Run is a view of the vCPU's mmap'd struct kvm_run. Offsets follow the
// x86-64 layout of <linux/kvm.h>.
type Run struct {
	b []byte // the whole mapping (kvm_run plus the PIO data page)
}

const (
	offImmediateExit = 1
	offExitReason    = 8
	offUnion         = 32
)

func (r Run) u32(off int) uint32 { return binary.LittleEndian.Uint32(r.b[off:]) }
func (r Run) u64(off int) uint64 { return binary.LittleEndian.Uint64(r.b[off:]) }

// ExitReason is kvm_run.exit_reason.
func (r Run) ExitReason() uint32 { return r.u32(offExitReason) }

// SetImmediateExit sets kvm_run.immediate_exit (KVM_RUN returns EINTR at
// once while it is 1).
func (r Run) SetImmediateExit(v bool) {
	var x uint8
	if v {
		x = 1
	}
	// Written from other threads to kick the vCPU; the kernel reads it with
	// READ_ONCE at KVM_RUN entry.
	*(*uint8)(unsafe.Pointer(&r.b[offImmediateExit])) = x
}

// IO is the decoded kvm_run.io of an ExitIO.
type IO struct {
	Out        bool
	Size       uint8
	Port       uint16
	Count      uint32
	DataOffset uint64
}

// IO returns kvm_run.io.
func (r Run) IO() IO {
	return IO{Out: r.b[offUnion] == 1, Size: r.b[offUnion+1],
		Port: binary.LittleEndian.Uint16(r.b[offUnion+2:]), Count: r.u32(offUnion + 4), DataOffset: r.u64(offUnion + 8)}
}

// MMIO is the decoded kvm_run.mmio of an ExitMMIO.
type MMIO struct {
	PhysAddr uint64
	Data     [8]byte
	Len      uint32
	IsWrite  bool
}

// MMIO returns kvm_run.mmio.
func (r Run) MMIO() MMIO {
	m := MMIO{PhysAddr: r.u64(offUnion), Len: r.u32(offUnion + 16), IsWrite: r.b[offUnion+20] != 0}
	copy(m.Data[:], r.b[offUnion+8:offUnion+16])
	return m
}

// SetMMIOData stores the result of an MMIO read (returned to the guest on
// the next KVM_RUN).
func (r Run) SetMMIOData(d [8]byte) { copy(r.b[offUnion+8:offUnion+16], d[:]) }

// FailEntryReason is kvm_run.fail_entry.hardware_entry_failure_reason.
func (r Run) FailEntryReason() uint64 { return r.u64(offUnion) }

// Internal returns kvm_run.internal: suberror and up to 16 data words.
func (r Run) Internal() (suberror uint32, data []uint64) {
	suberror = r.u32(offUnion)
	n := min(r.u32(offUnion+4), 16)
	for i := uint32(0); i < n; i++ {
		data = append(data, r.u64(offUnion+8+8*int(i)))
	}
	return suberror, data
}

// SystemEvent returns kvm_run.system_event: type and up to 16 data words.
func (r Run) SystemEvent() (typ uint32, data []uint64) {
	typ = r.u32(offUnion)
	n := min(r.u32(offUnion+4), 16)
	for i := uint32(0); i < n; i++ {
		data = append(data, r.u64(offUnion+8+8*int(i)))
	}
	return typ, data
}

// HardwareExitReason is kvm_run.hw.hardware_exit_reason (ExitUnknown).
func (r Run) HardwareExitReason() uint64 { return r.u64(offUnion) }
