package vmm

import (
	"encoding/binary"

	"github.com/motevm/mote/abi"
)

// Segment descriptors of the boot GDT (flat, base 0, limit 4 GiB). The
// accessed bit is preset so the CPU never writes the GDT.
const (
	descKernelCode = 0x00AF_9B00_0000_FFFF // P, DPL0, code exec/read, L=1
	descKernelData = 0x00CF_9300_0000_FFFF // P, DPL0, data read/write
	descUserData   = 0x00CF_F300_0000_FFFF // P, DPL3, data read/write
	descUserCode   = 0x00AF_FB00_0000_FFFF // P, DPL3, code exec/read, L=1

	tssLimit    = 0x67 // 104-byte 64-bit TSS, no I/O bitmap
	tssTypeBusy = 0xB
)

func tssAddr(cpu int) uint64 { return abi.TSSBase + uint64(cpu)*abi.TSSStride }
func rsp0(cpu int) uint64    { return abi.Ring0StackBase + uint64(cpu+1)*abi.Ring0StackSize }
func tssSel(cpu int) uint16  { return uint16(abi.TSSSel0 + 16*cpu) }
func gdtLimit(ncpu int) uint16 {
	return uint16(abi.TSSSel0+16*ncpu) - 1
}

// writeGDT writes the GDT and one TSS per CPU.
func writeGDT(m *memory, ncpu int) {
	gdt := m.b[abi.GDTBase : abi.GDTBase+abi.PageSize]
	clear(gdt)
	le := binary.LittleEndian
	le.PutUint64(gdt[abi.KernelCS:], descKernelCode)
	le.PutUint64(gdt[abi.KernelDS:], descKernelData)
	le.PutUint64(gdt[abi.UserDS&^3:], descUserData)
	le.PutUint64(gdt[abi.UserCS&^3:], descUserCode)
	for cpu := 0; cpu < ncpu; cpu++ {
		base := tssAddr(cpu)
		tss := m.b[base : base+abi.TSSStride]
		clear(tss)
		le.PutUint64(tss[4:], rsp0(cpu))    // RSP0
		le.PutUint16(tss[102:], tssLimit+1) // I/O map base beyond the limit: no bitmap

		// 16-byte system descriptor: limit, base, type 0xB (busy 64-bit TSS
		// as LTR leaves it), P=1, DPL0.
		d := gdt[tssSel(cpu):]
		lo := uint64(tssLimit) | (base&0xFFFFFF)<<16 | uint64(tssTypeBusy)<<40 | 1<<47 | (base>>24&0xFF)<<56
		le.PutUint64(d, lo)
		le.PutUint64(d[8:], base>>32)
	}
}

// writeIDT writes 256 64-bit interrupt gates to the image's vector stubs.
func writeIDT(m *memory, note abi.Note) {
	idt := m.b[abi.IDTBase : abi.IDTBase+abi.PageSize]
	le := binary.LittleEndian
	for v := uint64(0); v < 256; v++ {
		target := note.Vectors + v*note.VectorStride
		dpl := uint64(0)
		if v == 3 || v == 4 { // int3, into may be used from ring 3
			dpl = 3
		}
		g := idt[16*v:]
		lo := target&0xFFFF | uint64(abi.KernelCS)<<16 | (0x8E|dpl<<5)<<40 | (target>>16&0xFFFF)<<48
		le.PutUint64(g, lo)
		le.PutUint64(g[8:], target>>32)
	}
}

// writePerCPU initialises the per-CPU areas.
func writePerCPU(m *memory, ncpu int) {
	for cpu := 0; cpu < ncpu; cpu++ {
		base := perCPUAddr(cpu)
		clear(m.b[base : base+abi.PerCPUSize])
		m.mustPut64(base+abi.PerCPUSelf, base)
		m.mustPut64(base+abi.PerCPUIndex, uint64(cpu))
		m.mustPut64(base+abi.PerCPUMasked, 1)
	}
}

func perCPUAddr(cpu int) uint64 { return abi.PerCPUBase + uint64(cpu)*abi.PerCPUSize }
