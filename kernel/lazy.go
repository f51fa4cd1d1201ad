package kernel

import "github.com/motevm/mote/abi"

// The image's demand-zero ranges (see abi.NoteTypeLazy): large zeroed
// globals of the program, such as the standard library's 32 MiB FIPS
// entropy scratch buffer, that most programs never touch. At boot their
// 2 MiB identity pages are split into 4 KiB pages and their own pages are
// left unmapped; the first touch (a page fault, or userOK for a system
// call's buffer) maps the page at its identity address, whose RAM is still
// zero, and charges one frame to the allocator (chargeFrame). The monitor
// made RAM that much larger than the program's memory, so untouched ranges
// cost the program nothing and touched pages cost what heap pages would.
// Pages once mapped stay mapped.

var (
	lazy      [abi.MaxLazy]abi.LazyRange
	nlazy     int
	lazyBytes uint64
)

// lazyInit takes the ranges from the boot info and unmaps their pages.
func lazyInit(bi *abi.BootInfo) {
	for _, r := range bi.Lazy {
		if r.End == 0 {
			break
		}
		if r.Start%pageSize != 0 || r.End%pageSize != 0 || r.Start >= r.End || r.End > bi.FreeStart || r.Start < pageSize {
			kpanic("mote: bad demand-zero range in the boot info")
		}
		for va := r.Start; va < r.End; va += pageSize {
			e := identityPTE(va)
			if e == nil {
				kpanic("mote: no memory to split the image's mapping")
			}
			*e = 0
		}
		lazy[nlazy] = r
		nlazy++
		lazyBytes += r.End - r.Start
	}
	if nlazy > 0 {
		// The 2 MiB translations may be cached (the boot CPU has run in
		// this RAM); the other CPUs start later, with this map.
		thisCPU().r0req = 2
		tlbFlush()
	}
}

// identityPTE returns the 4 KiB entry that maps va in the identity map,
// first splitting the 2 MiB page that covers it into 512 4 KiB pages with
// the same attributes. It returns nil if no page-table page is left.
func identityPTE(va uint64) *uint64 {
	t := pml4
	for shift := uint64(39); shift > 21; shift -= 9 {
		e := entryAt(t, (va>>shift)&511)
		if *e&ptePresent == 0 || *e&ptePS != 0 {
			return nil // the monitor maps RAM with PML4 and PDPT tables
		}
		t = *e & pteAddrMask
	}
	pde := entryAt(t, (va>>21)&511)
	if *pde&ptePS != 0 {
		pt := kallocPages(1)
		if pt == 0 {
			return nil
		}
		base := *pde & pteAddrMask &^ (1<<21 - 1)
		flags := *pde & (pageSize - 1) &^ ptePS
		for i := uint64(0); i < 512; i++ {
			*entryAt(pt, i) = (base + i*pageSize) | flags
		}
		*pde = pt | flags
	}
	return entryAt(*pde&pteAddrMask, (va>>12)&511)
}

// lazyCommit maps the demand-zero page at va if it is one and is not
// mapped yet; false means va is in no range or memory is exhausted.
func lazyCommit(va uint64) bool {
	for i := 0; i < nlazy; i++ {
		if va >= lazy[i].Start && va < lazy[i].End {
			page := va &^ (pageSize - 1)
			e := identityPTE(page)
			if e == nil {
				return false
			}
			if *e&ptePresent == 0 {
				if !chargeFrame() {
					return false
				}
				*e = page | ptePresent | pteWrite | pteUser | pteAccessed | pteDirty
			}
			return true
		}
	}
	return false
}

// lazyCommitRange maps every demand-zero page in [p, end) that is not
// mapped yet, for a kernel access to identity-mapped memory; false means
// memory is exhausted.
func lazyCommitRange(p, end uint64) bool {
	for i := 0; i < nlazy; i++ {
		lo, hi := max(p, lazy[i].Start), min(end, lazy[i].End)
		for va := lo &^ (pageSize - 1); va < hi; va += pageSize {
			if !lazyCommit(va) {
				return false
			}
		}
	}
	return true
}
