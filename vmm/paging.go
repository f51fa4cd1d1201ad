package vmm

import "github.com/motevm/mote/abi"

// Page-table entry bits.
const (
	ptePresent  = 1 << 0
	pteWritable = 1 << 1
	pteUser     = 1 << 2
	ptePCD      = 1 << 4
	ptePS       = 1 << 7
	pteAddrMask = 0x000F_FFFF_FFFF_F000

	pteAccessed = 1 << 5
	pteDirty    = 1 << 6

	// Accessed and Dirty are preset so the hypervisor never has to emulate
	// their update (shadow paging on PVM).
	pteRWU = ptePresent | pteWritable | pteUser | pteAccessed | pteDirty

	twoMiB = 2 << 20
	oneGiB = 1 << 30
)

// Monitor-built page tables, inside [abi.PageTableBase, abi.PageTableEnd).
const (
	pml4GPA    = abi.PageTableBase
	pdptGPA    = abi.PageTableBase + 0x1000
	pdGPA      = abi.PageTableBase + 0x2000 // one PD per GiB, 4 of them
	ptLowGPA   = abi.PageTableBase + 0x6000 // 4 KiB pages of [0, 2 MiB)
	ptHcallGPA = abi.PageTableBase + 0x7000 // the hypercall page and the virtio-mmio windows
	numPDs     = 4
)

// buildPageTables writes the boot identity map: [4 KiB, 2 MiB) in 4 KiB
// pages (page 0 absent), [2 MiB, memSize) in 2 MiB pages, and the
// hypercall page and the virtio-mmio page after it (uncached, in the same
// 2 MiB region: one page table). Every entry is present, writable and
// user.
// It returns the PML4 address (CR3).
func buildPageTables(m *memory) uint64 {
	memSize := m.size()
	clear(m.b[abi.PageTableBase:abi.PageTableEnd])
	m.mustPut64(pml4GPA, pdptGPA|pteRWU)
	for g := uint64(0); g < numPDs; g++ {
		m.mustPut64(pdptGPA+8*g, (pdGPA+g*0x1000)|pteRWU)
	}
	// [0, 2 MiB): 4 KiB pages, page 0 not present.
	m.mustPut64(pdGPA, ptLowGPA|pteRWU)
	for p := uint64(abi.PageSize); p < twoMiB; p += abi.PageSize {
		m.mustPut64(ptLowGPA+8*(p/abi.PageSize), p|pteRWU)
	}
	// [2 MiB, memSize): 2 MiB pages. PDs are contiguous, so index by 2 MiB.
	for a := uint64(twoMiB); a < memSize; a += twoMiB {
		m.mustPut64(pdGPA+8*(a/twoMiB), a|pteRWU|ptePS)
	}
	// The hypercall page, outside RAM.
	hc := uint64(abi.HypercallBase)
	m.mustPut64(pdGPA+8*(hc/twoMiB), ptHcallGPA|pteRWU)
	m.mustPut64(ptHcallGPA+8*((hc>>12)&511), hc|pteRWU|ptePCD)
	vio := uint64(abi.VirtioMMIOBase)
	m.mustPut64(ptHcallGPA+8*((vio>>12)&511), vio|pteRWU|ptePCD)
	return pml4GPA
}

// translate walks the guest's 4-level page tables rooted at cr3 and returns
// the guest-physical address of va. Every table read is bounds-checked.
func (m *memory) translate(cr3, va uint64) (uint64, bool) {
	// Canonical check (48-bit).
	if top := va >> 47; top != 0 && top != 0x1FFFF {
		return 0, false
	}
	table := cr3 & pteAddrMask
	for level := 3; level >= 0; level-- {
		idx := (va >> (12 + 9*uint(level))) & 511
		e, ok := m.u64(table + 8*idx)
		if !ok || e&ptePresent == 0 {
			return 0, false
		}
		if level == 0 || (e&ptePS != 0 && (level == 1 || level == 2)) {
			pageMask := uint64(1)<<(12+9*uint(level)) - 1
			return (e & pteAddrMask &^ pageMask) | (va & pageMask), true
		}
		if e&ptePS != 0 { // PS in a PML4E is reserved
			return 0, false
		}
		table = e & pteAddrMask
	}
	return 0, false
}

// readVirt64 reads the uint64 at guest virtual address va.
func (m *memory) readVirt64(cr3, va uint64) (uint64, bool) {
	if va%8 != 0 {
		return 0, false
	}
	pa, ok := m.translate(cr3, va)
	if !ok {
		return 0, false
	}
	return m.u64(pa)
}
