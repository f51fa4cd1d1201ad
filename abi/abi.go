// Package abi is the contract between the mote monitor (host side) and the
// mote library OS (guest side). Both sides import it; nothing here may import
// anything outside the standard library, because the package is compiled into
// every guest image.
//
// The guest runs entirely at CPL 3 (see docs/architecture.md): on the machines
// mote targets, ring 0 is emulated and ~1000x slower, so the monitor starts
// the vCPU directly in 64-bit user mode with everything below already set up.
//
// Guest-physical layout (identity-mapped: for RAM, VA == GPA, except page 0):
//
//	0x0000_0000  page 0, never mapped (nil dereferences fault)
//	0x0000_1000  GDT            (GDTBase)
//	0x0000_2000  IDT            (IDTBase, 256 gates)
//	0x0000_3000  TSS per CPU    (TSSBase + cpu*TSSStride)
//	0x0001_0000  per-CPU areas  (PerCPUBase + cpu*PerCPUSize); GS base of cpu
//	0x0002_0000  ring-0 stacks  (Ring0StackBase + (cpu+1)*Ring0StackSize = TSS.RSP0)
//	0x0003_0000  BootInfo       (BootInfoBase), then argv/env strings
//	0x0004_0000  boot stacks    (BootStackTop(cpu))
//	0x0008_0000  page tables built by the monitor (PageTableBase..PageTableEnd)
//	0x0040_0000  the ELF image at its link addresses (Go's default)
//	image end .. MemSize: free RAM, owned by the guest's frame allocator
//	HypercallBase: one MMIO page outside RAM; stores to it are hypercalls
//	VirtioMMIOBase: virtio-mmio register windows, one page (see below)
package abi

// Version is the monitor<->guest ABI version carried in every image's note.
// Bump it on any incompatible change to this package.
const Version = 3

// ELF note that marks a mote image. It is a PT_NOTE segment added by the
// image builder after linking.
const (
	NoteName       = "mote"
	NoteTypeABI    = 1 // desc: Note (little endian)
	NoteTypeConfig = 2 // desc: baked args and env, see EncodeConfig
)

// Note is the descriptor of the NoteTypeABI note.
type Note struct {
	Version      uint32
	Flags        uint32
	Entry        uint64 // VA of the boot entry (ring 3), symbol mote_start
	Vectors      uint64 // VA of the ring-0 vector stubs, symbol mote_vectors
	VectorStride uint64 // bytes between consecutive stubs
	SyscallTrap  uint64 // VA of the ring-0 SYSCALL handler (MSR LSTAR), symbol mote_systrap
}

// Note flags.
const (
	// NoteFlagNet: the image links the guest network stack (package
	// guestnet); without it the program cannot use sockets and the monitor
	// attaches no network device.
	NoteFlagNet = 1 << 0
)

// NoteSize is the encoded size of Note.
const NoteSize = 40

// Symbols the image builder looks up to fill Note.
const (
	SymEntry       = "mote_start"
	SymVectors     = "mote_vectors"
	SymSyscallTrap = "mote_systrap"
)

// Fixed guest-physical layout.
const (
	PageSize = 4096

	GDTBase        = 0x1000
	IDTBase        = 0x2000
	TSSBase        = 0x3000
	TSSStride      = 0x80
	PerCPUBase     = 0x10000
	PerCPUSize     = 0x1000
	MaxCPUs        = 16
	Ring0StackBase = 0x20000
	Ring0StackSize = 0x1000
	BootInfoBase   = 0x30000
	BootInfoSize   = 0x10000 // BootInfo struct plus the strings that follow it
	BootStackBase  = 0x40000
	BootStackSize  = 0x4000 // per CPU
	PageTableBase  = 0x80000
	PageTableEnd   = 0x100000
	ImageBase      = 0x400000 // lowest address an image may load at

	// MaxMemory bounds guest RAM so that RAM never overlaps the hypercall page.
	MaxMemory     = 0xC000_0000
	HypercallBase = 0xD000_0000 // guest-physical and virtual (identity mapped, user RW)

	// Virtio devices: BootInfo.NumVirtio virtio-mmio (version 2) register
	// windows at VirtioMMIOBase + i*VirtioMMIOStride, identity mapped,
	// user RW, uncached (the layout QEMU microvm uses, 512 bytes apart).
	VirtioMMIOBase   = 0xD000_1000
	VirtioMMIOStride = 0x200
	MaxVirtio        = 8
)

// BootStackTop is the initial RSP of cpu.
func BootStackTop(cpu int) uint64 {
	return BootStackBase + uint64(cpu+1)*BootStackSize
}

// GDT selectors. The guest runs with CS=UserCS, SS=DS=ES=FS=GS=UserDS.
// The layout matches SYSCALL/SYSRET: STAR = KernelCS<<32 | (UserDS-8)<<48.
const (
	KernelCS = 0x08
	KernelDS = 0x10
	UserDS   = 0x18 | 3
	UserCS   = 0x20 | 3
	TSSSel0  = 0x28 // TSS of cpu i at TSSSel0 + 16*i (16-byte system descriptors)
)

// Interrupt vectors.
const (
	TimerVector    = 32   // LAPIC timer, periodic, programmed by the monitor
	SpuriousVector = 0xff // LAPIC spurious vector
)

// Per-CPU area fields initialised by the monitor (everything else in the
// PerCPUSize bytes is zero at boot and owned by the guest).
const (
	PerCPUSelf   = 0  // uint64: the area's own address (GS base)
	PerCPUIndex  = 8  // uint64: cpu number
	PerCPUMasked = 16 // uint64: nonzero while the guest kernel runs; the monitor starts it at 1
)

// Hypercalls: the guest stores an 8-byte value to HypercallBase + 8*number.
// The store exits to the monitor as KVM_EXIT_MMIO. Arguments that do not fit
// in 8 bytes are passed as the guest-physical address of a struct in RAM,
// which the monitor bounds-checks before use.
const (
	HcExit        = 0 // value: exit status (low 32 bits, as exit_group)
	HcWrite       = 1 // value: GPA of WriteArgs
	HcIdle        = 2 // value: deadline in guest monotonic ns (^0: no deadline); returns on deadline or event
	HcFatal       = 3 // value: GPA of FatalReport; the monitor prints it and exits non-zero
	HcRead        = 4 // value: GPA of WriteArgs (Fd 0): fills Buf without blocking; Result = bytes, 0 at end of input, -EAGAIN if none yet
	HcWake        = 5 // value: vCPU index; ends that vCPU's HcIdle, or its next one if it is not idle (a cross-CPU wake-up; served by an ioeventfd, without an exit, where KVM has them)
	NumHypercalls = 6

	// Virtio kicks (stores to a queue's QueueNotify register) are not
	// hypercalls: the monitor serves them with a KVM ioeventfd, so they
	// never exit to user space.
)

// WriteArgs is the argument block of HcWrite (and of HcRead, which fills
// Buf). Buf is guest-physical and must lie inside RAM. The monitor stores the
// result (bytes transferred, or -errno). When input arrives for a guest idle
// in HcIdle, the monitor ends the idle so the guest can read it.
type WriteArgs struct {
	Fd     uint64 // 1 stdout, 2 stderr
	Buf    uint64
	Len    uint64
	Result int64
}

// FatalReport is the argument block of HcFatal: the guest kernel hit
// something it cannot turn into a signal (a fault inside the kernel, an
// impossible state). Msg is guest-physical.
type FatalReport struct {
	Vector                               uint64 // exception vector, or ^0 for a software-detected failure
	ErrCode                              uint64
	CR2                                  uint64
	RIP                                  uint64
	RSP                                  uint64
	RFLAGS                               uint64
	RBP                                  uint64
	RAX, RBX, RCX, RDX, RSI, RDI         uint64
	R8, R9, R10, R11, R12, R13, R14, R15 uint64
	Msg                                  uint64
	MsgLen                               uint64
}

// BootInfo lives at BootInfoBase. Strings (argv then envp, each
// NUL-terminated) follow at StringsGPA; after them, when StringsLen covers
// it, one more NUL-terminated string is the initial working directory (an
// absolute path; the guest starts in "/" when it is absent or missing).
type BootInfo struct {
	Magic       uint64 // BootMagic
	Version     uint32 // Version
	NumCPUs     uint32
	MemSize     uint64 // guest RAM is [0, MemSize)
	ImageEnd    uint64 // end of the loaded image (page aligned, includes bss)
	FreeStart   uint64 // first byte of RAM free for the guest allocator (page aligned)
	PML4        uint64 // guest-physical address of the PML4 (CR3)
	TSCHz       uint64 // TSC frequency in Hz (KVM_GET_TSC_KHZ * 1000)
	WallClockNs int64  // host CLOCK_REALTIME in ns, sampled just before the first KVM_RUN
	TickNs      uint64 // LAPIC periodic timer period, 0 if no timer
	Argc        uint32
	Envc        uint32
	StringsGPA  uint64
	StringsLen  uint64
	Flags       uint64   // BootFlag*
	Seed        [32]byte // entropy from the host (getrandom)
	Hostname    [64]byte // NUL-terminated
	NumVirtio   uint32   // virtio-mmio devices present (at most MaxVirtio)
	_           uint32
	Net         NetConfig // addresses of the first virtio-net device
	FilesGPA    uint64    // the sealed-files archive (files.go), page aligned; 0: none
	FilesLen    uint64
	MountsGPA   uint64 // file systems to mount at boot (Mount), after the strings; 0: none
	MountsLen   uint64
	// HostSignals are signals the host sends the program (bit sig-1:
	// mote stop's SIGTERM, a forwarded Ctrl-C). The monitor sets bits
	// with an atomic OR and ends an idle; the guest takes them with an
	// atomic swap at its scheduling points and timer ticks and delivers
	// each as kill(2) from outside would (SI_USER).
	HostSignals uint64
	// Lazy are the image's demand-zero ranges (lazy.go), unused entries
	// zero. MemSize includes their size on top of the program's memory.
	Lazy [MaxLazy]LazyRange
}

// Mounts at boot (BootInfo.MountsGPA): each mount is three NUL-terminated
// strings, its type, the absolute guest path, and its options
// (comma-separated, key=value or a bare flag). The guest creates the
// directory if it is missing. Types:
//
//   - "tmpfs": an in-memory file system (mote run --tmpfs). Options:
//     size=BYTES (absent: half of guest RAM).
//   - "9p": a host directory volume (mote run -v HOST:GUEST[:ro]) served
//     over 9P2000.L by a virtio-9p device (device ID 9). Options:
//     tag=TAG names the device, and ro (present only for a read-only
//     volume) asks the guest to refuse writes itself (EROFS; the server
//     refuses them too), e.g. "tag=vol0,ro". The device's configuration
//     space holds its tag (tag_len uint16, then the tag's bytes, no NUL).
//     Tags are "vol0", "vol1", ... in the order of -v; the virtio-net
//     device, if any, is in window 0 and the volumes' devices in the
//     windows after it, in tag order, so the guest may find a tag's device
//     by reading the configuration space of each window.
//
// The monitor lists the tmpfs mounts first, then the volumes.
const (
	MountTmpfs = "tmpfs"
	MountNinep = "9p"
)

// NetConfig is how the guest configures its network interface: static
// addresses chosen by the monitor (the user network's fixed plan, or --ip
// and --gateway for a tap device). Zero addresses mean "not configured".
// The guest also writes DNS into /etc/resolv.conf for Go's resolver.
//
// Devices notify the guest without interrupts: the guest polls used rings
// at its scheduling points, and a device that adds used buffers to a queue
// whose driver did not set virtio.AvailFNoInterrupt ends a guest's HcIdle.
type NetConfig struct {
	IPv4      [4]byte
	Prefix4   uint8 // prefix length of IPv4
	Prefix6   uint8 // prefix length of IPv6
	_         [2]byte
	Gateway4  [4]byte
	DNS4      [4]byte // resolver (IPv4); zero: none
	IPv6      [16]byte
	Gateway6  [16]byte
	DNS6      [16]byte // resolver (IPv6); zero: none
	SearchLen uint32   // bytes of Search used
	_         uint32
	Search    [64]byte // DNS search domains, space-separated (resolv.conf "search")
}

// BootMagic identifies a BootInfo.
const BootMagic = 0x746f6f62_65746f6d // "moteboot"

// Boot flags.
const (
	BootFlagDebug   = 1 << 0 // log unimplemented system calls (once each) to stderr
	BootFlagProfile = 1 << 1 // sample the interrupted PC at every timer tick (see Profile)
	// BootFlagTTY << fd: the monitor's standard input, output or error
	// (fd 0, 1, 2) is a terminal. The guest's fstat of the descriptor then
	// says character device, as for a terminal, else FIFO (programs pick
	// colours and buffering from it).
	BootFlagTTY = 1 << 2
)

// Profile is the guest's PC sample buffer, the kernel variable named by
// SymProfile. With BootFlagProfile the guest kernel stores the PC of each
// timer tick in PCs[N % len(PCs)] (the program's, or the library OS's when
// the tick arrives in it: those are also counted in Kernel) and counts the
// ticks that arrive while the vCPU idles in Idle; the monitor reads it from
// guest memory (identity mapped) when the guest stops.
type Profile struct {
	N      uint64
	Kernel uint64
	Idle   uint64
	PCs    [ProfileSlots]uint64
}

// ProfileSlots bounds the samples kept (the newest win).
const ProfileSlots = 1 << 15

// SymProfile is the symbol of the kernel's Profile.
const SymProfile = "github.com/motevm/mote/kernel.profile"
