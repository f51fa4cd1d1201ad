package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Physical memory. RAM is [0, memSize), identity mapped by the monitor (VA ==
// GPA) with user-accessible 2 MiB pages, so the kernel reaches any frame, the
// page tables included, from ring 3. Free RAM is [FreeStart, memSize):
//   - user frames (4 KiB, for anonymous mappings and page tables) are taken
//     from the bottom (frameNext, never-touched RAM that is still zero) or
//     from the free list (zeroed again on allocation);
//   - kernel objects (threads and their stacks, tables) are carved in
//     contiguous runs from the same never-touched region (kallocPages).
//     User frames leave kernReserve of it to them, so that a program that
//     fills memory meets its own OOM rather than starving the kernel (a
//     clone that cannot get a thread is a fatal error in the Go runtime).
//
// The image's demand-zero ranges (abi.NoteTypeLazy, lazy.go) lie below
// FreeStart; RAM is their size larger than the program's memory, and each of
// their pages is charged to the allocator when it is first mapped.

const pageSize = abi.PageSize

var (
	memSize     uint64
	frameNext   uint64
	frameLimit  uint64
	freeList    uint64 // singly linked through the first word of each free frame
	freeCount   uint64
	usedFrames  uint64 // frames handed out (or charged) for user memory and page tables
	kernelPages uint64 // pages handed out by kallocPages
	kernReserve uint64 // never-touched bytes user frames leave to kallocPages
	imageEnd    uint64 // RAM below this holds the image, boot data and sealed files
)

func memInit(bi *abi.BootInfo) {
	memSize = bi.MemSize
	frameNext = bi.FreeStart
	imageEnd = bi.FreeStart
	frameLimit = bi.MemSize
	pml4 = bi.PML4
	lazyInit(bi)
	kernReserve = min(max((frameLimit-frameNext)/32, 1<<20), 4<<20) &^ (pageSize - 1)
}

// guestMemory is the memory the program was given (mote run --memory): RAM
// without the demand-zero ranges' room.
func guestMemory() uint64 { return memSize - lazyBytes }

func zeroPage(pa uint64) {
	clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(pa))), pageSize))
}

// allocFrame returns a zeroed 4 KiB frame, or 0 when memory is exhausted.
func allocFrame() uint64 {
	if freeList != 0 {
		f := freeList
		freeList = *(*uint64)(unsafe.Pointer(uintptr(f)))
		freeCount--
		zeroPage(f)
		usedFrames++
		return f
	}
	if frameNext+pageSize+kernReserve <= frameLimit {
		f := frameNext
		frameNext += pageSize
		usedFrames++
		return f
	}
	outOfMemory = true
	return 0
}

// chargeFrame takes one frame's worth of memory out of the allocator for a
// page the kernel maps at its own address (a demand-zero page of the
// image): the top never-touched frame, or a free one, is retired unused.
func chargeFrame() bool {
	switch {
	case frameNext+pageSize+kernReserve <= frameLimit:
		frameLimit -= pageSize
	case freeList != 0:
		freeList = *(*uint64)(unsafe.Pointer(uintptr(freeList)))
		freeCount--
	default:
		outOfMemory = true
		return false
	}
	usedFrames++
	return true
}

// outOfMemory is set when a frame allocation failed; a page fault that
// cannot be served then ends the guest as Linux's OOM killer ends a process.
var outOfMemory bool

// oomKill ends the guest after a user page fault found no free memory.
func oomKill() {
	kprint("mote: the guest ran out of memory (")
	kprintNum(int64(guestMemory() >> 20))
	kprint(" MiB: program ")
	kprintNum(int64(usedFrames * pageSize >> 20))
	kprint(" MiB, kernel ")
	kprintNum(int64(kernelPages * pageSize >> 20))
	kprint(" MiB, image ")
	kprintNum(int64((imageEnd - lazyBytes) >> 20))
	kprint(" MiB); the program was killed: raise --memory\n")
	exitGuest(128 + sigKILL)
}

func freeFrame(f uint64) {
	*(*uint64)(unsafe.Pointer(uintptr(f))) = freeList
	freeList = f
	freeCount++
	usedFrames--
}

// kallocPages returns n contiguous zeroed pages of kernel memory, or 0.
func kallocPages(n uint64) uint64 {
	size := n * pageSize
	if frameLimit-frameNext < size {
		return 0
	}
	// Carved from the low end, next to the first user frames: a small guest
	// then keeps all its memory in one or two host huge pages instead of
	// touching a separate one at the top of RAM.
	p := frameNext
	frameNext += size
	kernelPages += n
	return p
}

// Page-table entry bits.
const (
	ptePresent  = 1 << 0
	pteWrite    = 1 << 1
	pteUser     = 1 << 2
	ptePS       = 1 << 7
	pteAccessed = 1 << 5
	pteDirty    = 1 << 6
	pteAddrMask = 0x000f_ffff_ffff_f000
)

var pml4 uint64

func entryAt(table, idx uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(uintptr(table + idx*8)))
}

// pte returns the 4 KiB page-table entry for va, creating the intermediate
// tables when alloc is set. It returns nil when a table is missing (and alloc
// is false, or memory is exhausted) or va is covered by a large page.
func pte(va uint64, alloc bool) *uint64 {
	t := pml4
	for shift := uint64(39); shift > 12; shift -= 9 {
		e := entryAt(t, (va>>shift)&511)
		if *e&ptePresent == 0 {
			if !alloc {
				return nil
			}
			f := allocFrame()
			if f == 0 {
				return nil
			}
			*e = f | ptePresent | pteWrite | pteUser
		}
		if *e&ptePS != 0 {
			return nil
		}
		t = *e & pteAddrMask
	}
	return entryAt(t, (va>>12)&511)
}

// nextTableBoundary returns the first address after va not covered by the
// same missing table, used to skip unpopulated ranges quickly.
func skipMissing(va uint64) uint64 {
	t := pml4
	for shift := uint64(39); shift > 12; shift -= 9 {
		e := entryAt(t, (va>>shift)&511)
		if *e&ptePresent == 0 || *e&ptePS != 0 {
			return (va | (1<<shift - 1)) + 1
		}
		t = *e & pteAddrMask
	}
	return va + pageSize
}

// TLB invalidation needs ring 0: addresses are queued in the per-CPU list and
// flushed by one trap (see the r0service stub).
func tlbQueue(va uint64) {
	c := thisCPU()
	if c.r0req == 2 {
		return
	}
	if c.r0n == r0ListLen {
		c.r0req = 2
		return
	}
	c.r0list[c.r0n] = va
	c.r0n++
	c.r0req = 1
}

func tlbFlush() {
	c := thisCPU()
	if c.r0req != 0 {
		ring0Service()
		c.r0n = 0
	}
}

// zapRange unmaps every present 4 KiB page in [start, end) and frees the
// frames of anonymous memory (a shared file mapping's are the file's).
func zapRange(start, end uint64) {
	cur := start
	v := vmas()
	for i := vmaLower(start); i < nvma && cur < end; i++ {
		m := v[i]
		if m.start >= end {
			break
		}
		if m.end <= cur || m.fi == 0 {
			continue
		}
		lo, hi := max(m.start, cur), min(m.end, end)
		if cur < lo {
			zapFrames(cur, lo)
		}
		fmapUnmap(lo, hi)
		cur = hi
	}
	if cur < end {
		zapFrames(cur, end)
	}
}

// zapFrames unmaps and frees every present 4 KiB page in [start, end).
func zapFrames(start, end uint64) { unmapPages(start, end, true) }

// unmapPages clears the entries of every present 4 KiB page in [start,
// end), freeing the frames with free set.
func unmapPages(start, end uint64, free bool) {
	traceEv(evZap, start, end)
	for va := start; va < end; {
		e := pte(va, false)
		if e == nil {
			va = skipMissing(va)
			continue
		}
		if *e&ptePresent != 0 {
			if free {
				deferFree(*e & pteAddrMask) // other CPUs may still map it (smp.go)
			}
			*e = 0
			tlbQueue(va)
		}
		va += pageSize
	}
	tlbFlush()
	tlbShootdown()
}

// protectRange sets or clears the write bit of present pages in [start, end).
func protectRange(start, end uint64, writable bool) {
	for va := start; va < end; {
		e := pte(va, false)
		if e == nil {
			va = skipMissing(va)
			continue
		}
		if *e&ptePresent != 0 {
			old := *e
			if writable {
				*e |= pteWrite
			} else {
				*e &^= pteWrite
			}
			if *e != old {
				tlbQueue(va)
			}
		}
		va += pageSize
	}
	tlbFlush()
	if !writable {
		tlbShootdown()
	}
}

// userBytes views user memory as a byte slice; the range must be validated.
func userBytes(p, n uint64) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(p))), n)
}

func userU64(p uint64) *uint64 { return (*uint64)(unsafe.Pointer(uintptr(p))) }
func userU32(p uint64) *uint32 { return (*uint32)(unsafe.Pointer(uintptr(p))) }

// userOK reports whether [p, p+n) is accessible user memory, faulting in
// pages of anonymous mappings as needed so the kernel can touch the range
// without taking a fault itself.
func userOK(p, n uint64, write bool) bool {
	if n == 0 {
		return true
	}
	end := p + n
	if end < p {
		return false
	}
	// The identity-mapped region: RAM (image, kernel memory) is mapped,
	// but for the demand-zero ranges' pages not touched yet.
	if end <= memSize {
		return p >= pageSize && (nlazy == 0 || lazyCommitRange(p, end))
	}
	if p < userMin || end > userMax {
		return false
	}
	// A page of a volume file's mapping is read from the host, which
	// sleeps (and is mapped only by the next look: fmapFault): other
	// threads may meanwhile unmap or protect pages already looked at, so
	// the range is looked at again until a pass reads nothing in.
	for pass := 0; pass < 16; pass++ {
		fills := fmapFills
		for va := p &^ (pageSize - 1); va < end; va += pageSize {
			e := pte(va, false)
			if e != nil && *e&ptePresent != 0 && (!write || *e&pteWrite != 0) {
				continue
			}
			if !populate(va, write) {
				return false
			}
		}
		if fmapFills == fills {
			return true
		}
	}
	return false
}
