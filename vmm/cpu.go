package vmm

import (
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/vmm/kvm"
)

// Control-register and MSR bits of the boot state.
const (
	cr0PE = 1 << 0
	cr0MP = 1 << 1
	cr0ET = 1 << 4
	cr0NE = 1 << 5
	cr0WP = 1 << 16
	cr0AM = 1 << 18
	cr0PG = 1 << 31

	cr4PAE        = 1 << 5
	cr4OSFXSR     = 1 << 9
	cr4OSXMMEXCPT = 1 << 10
	cr4FSGSBASE   = 1 << 16

	eferSCE = 1 << 0
	eferLME = 1 << 8
	eferLMA = 1 << 10
	eferNXE = 1 << 11

	msrAPICBase     = 0x1B
	msrSTAR         = 0xC0000081
	msrLSTAR        = 0xC0000082
	msrSFMASK       = 0xC0000084
	msrKernelGSBase = 0xC0000102

	apicBaseAddr = 0xFEE00000
	apicBSP      = 1 << 8
	apicEXTD     = 1 << 10 // x2APIC mode
	apicEnable   = 1 << 11

	sfmask = 0x47700 // TF IF DF IOPL NT AC cleared on SYSCALL

	// Local APIC register offsets (kvm_lapic_state).
	apicTPR     = 0x80
	apicSVR     = 0xF0
	apicLVTT    = 0x320
	apicLVTTHMR = 0x330
	apicLVTPC   = 0x340
	apicLINT0   = 0x350
	apicLINT1   = 0x360
	apicLVTERR  = 0x370
	apicTMICT   = 0x380
	apicTMCCT   = 0x390
	apicTDCR    = 0x3E0

	apicMasked   = 1 << 16
	apicPeriodic = 1 << 17
	apicDivBy1   = 0xB
)

// vcpu is one virtual CPU and its run-loop state.
type vcpu struct {
	cpu   *kvm.VCPU
	index int
	tid   atomic.Int32  // host thread running it, 0 before start
	wake  chan struct{} // wakes HcIdle (device events, later)
	// idling is set while the vCPU waits in HcIdle, so a device event
	// wakes one idle vCPU rather than all of them.
	idling atomic.Bool
}

// kick makes the vCPU leave KVM_RUN (or not enter it) soon.
func (c *vcpu) kick() {
	c.cpu.Run.SetImmediateExit(true)
	if tid := c.tid.Load(); tid != 0 {
		// SIGURG is the signal the Go runtime already tolerates spuriously.
		unix.Tgkill(unix.Getpid(), int(tid), unix.SIGURG)
	}
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// STAR value: SYSCALL loads CS=KernelCS, SS=KernelCS+8; SYSRET to 64-bit
// loads CS=base+16, SS=base+8 (RPL 3), base = UserDS-8 with RPL cleared.
const starValue = uint64(abi.KernelCS)<<32 | uint64(abi.UserDS&^3-8)<<48

// newVCPU creates vCPU index and loads the boot state of abi.go into it.
func (v *vm) newVCPU(index int, supported []kvm.CPUIDEntry) (*vcpu, error) {
	kc, err := v.kvm.CreateVCPU(index)
	if err != nil {
		return nil, err
	}
	c := &vcpu{cpu: kc, index: index, wake: make(chan struct{}, 1)}
	if err := v.setupVCPU(c, supported); err != nil {
		kc.Close()
		return nil, err
	}
	return c, nil
}

func (v *vm) setupVCPU(c *vcpu, supported []kvm.CPUIDEntry) error {
	kc, i := c.cpu, c.index
	if err := kc.SetCPUID(cpuidFor(supported, i)); err != nil {
		return err
	}

	apicBase := uint64(apicBaseAddr | apicEnable | apicEXTD)
	if i == 0 {
		apicBase |= apicBSP
	}
	s, err := kc.GetSregs()
	if err != nil {
		return err
	}
	code := kvm.Segment{Limit: 0xFFFFFFFF, Selector: abi.UserCS, Type: 0xB, Present: 1, DPL: 3, S: 1, L: 1, G: 1}
	data := kvm.Segment{Limit: 0xFFFFFFFF, Selector: abi.UserDS, Type: 0x3, Present: 1, DPL: 3, DB: 1, S: 1, G: 1}
	s.CS = code
	s.SS, s.DS, s.ES, s.FS, s.GS = data, data, data, data, data
	s.GS.Base = perCPUAddr(i)
	s.TR = kvm.Segment{Base: tssAddr(i), Limit: tssLimit, Selector: tssSel(i), Type: tssTypeBusy, Present: 1}
	s.LDT = kvm.Segment{Type: 2, Present: 1, Unusable: 1}
	s.GDT = kvm.DTable{Base: abi.GDTBase, Limit: gdtLimit(v.cfg.CPUs)}
	s.IDT = kvm.DTable{Base: abi.IDTBase, Limit: 256*16 - 1}
	s.CR0 = cr0PE | cr0MP | cr0ET | cr0NE | cr0WP | cr0AM | cr0PG
	s.CR3 = v.pml4
	s.CR4 = cr4PAE | cr4OSFXSR | cr4OSXMMEXCPT | cr4FSGSBASE
	s.EFER = eferSCE | eferLME | eferLMA | eferNXE
	s.APICBase = apicBase
	if err := kc.SetSregs(&s); err != nil {
		return err
	}

	if err := kc.SetMSRs([]kvm.MSR{
		{Index: msrAPICBase, Data: apicBase},
		{Index: msrSTAR, Data: starValue},
		{Index: msrLSTAR, Data: v.img.Note.SyscallTrap},
		{Index: msrSFMASK, Data: sfmask},
		{Index: msrKernelGSBase, Data: 0},
	}); err != nil {
		return err
	}

	if err := kc.SetMPState(kvm.MPStateRunnable); err != nil {
		return err
	}
	return kc.SetRegs(&kvm.Regs{
		RIP:    v.img.Note.Entry,
		RSP:    abi.BootStackTop(i),
		RDI:    abi.BootInfoBase,
		RSI:    uint64(i),
		RFLAGS: 0x202,
	})
}

// setupLAPIC programs the (x2APIC-mode) local APIC: enabled, LINT0/LINT1/
// error masked, and the periodic timer at abi.TimerVector every v.tick.
// KVM's APIC timer counts at 1 GHz, so with divide-by-1 the count is in ns.
func (v *vm) setupLAPIC(kc *kvm.VCPU) error {
	l, err := kc.GetLAPIC()
	if err != nil {
		return err
	}
	l.Set32(apicTPR, 0)
	l.Set32(apicSVR, 0x100|abi.SpuriousVector)
	l.Set32(apicLINT0, apicMasked)
	l.Set32(apicLINT1, apicMasked)
	l.Set32(apicLVTERR, apicMasked)
	l.Set32(apicLVTTHMR, apicMasked)
	l.Set32(apicLVTPC, apicMasked)
	l.Set32(apicTDCR, apicDivBy1)
	if v.tick > 0 {
		count := min(uint64(v.tick.Nanoseconds()), 0xFFFFFFFF)
		l.Set32(apicLVTT, abi.TimerVector|apicPeriodic)
		l.Set32(apicTMICT, uint32(count))
		l.Set32(apicTMCCT, uint32(count))
	} else {
		l.Set32(apicLVTT, abi.TimerVector|apicMasked)
		l.Set32(apicTMICT, 0)
		l.Set32(apicTMCCT, 0)
	}
	return kc.SetLAPIC(l)
}

// cpuidFor returns the CPUID table of cpu: what KVM supports, with x2APIC
// advertised, OSXSAVE cleared, and the APIC ids of leaves 1, 0xB and 0x1F
// set to cpu.
func cpuidFor(supported []kvm.CPUIDEntry, cpu int) []kvm.CPUIDEntry {
	ents := append([]kvm.CPUIDEntry(nil), supported...)
	for i := range ents {
		e := &ents[i]
		switch e.Function {
		case 1:
			e.ECX |= 1 << 21  // x2APIC
			e.ECX &^= 1 << 27 // OSXSAVE (CR4.OSXSAVE is off)
			e.EBX = e.EBX&0x00FFFFFF | uint32(cpu)<<24
		case 0xB, 0x1F:
			e.EDX = uint32(cpu)
		}
	}
	return ents
}
