package kernel

import (
	"unsafe"
)

// Virtual memory: a sorted table of mappings (VMAs) in [userMin, userMax).
// Mappings are reservations; frames are committed lazily on first touch
// (page fault or kernel access), faultAround pages at a time, and returned by
// munmap and MADV_DONTNEED (after which the pages read as zero, as mheap
// expects).

const (
	userMin        = 0x1_0000_0000 // below: the identity-mapped RAM and devices
	userMax        = 0x7fff_ffff_f000
	mmapTop        = 0x7f00_0000_0000
	maxVMAs        = 65536 // Linux's vm.max_map_count is 65530
	faultAround    = 16    // pages mapped around a random fault
	maxFaultAround = 512   // pages mapped ahead of a sequential fault (2 MiB)
)

const (
	protRead  = 1
	protWrite = 2
	protExec  = 4
)

// vma.flags.
const (
	// vmaFilling: a private mapping being filled from a volume file
	// (fmapCopy, which sleeps); it merges with no neighbour, whose faults
	// could map zero pages in it meanwhile.
	vmaFilling = 1
)

type vma struct {
	start, end uint64
	prot       uint32
	flags      uint32
	// A shared file mapping (fmap.go): the open file it holds a
	// reference on (index + 1; 0: anonymous memory) and the file offset
	// of start.
	fi   int32
	foff uint64
	// Sequential fault detection: a fault at seqNext (just past the last
	// populated window) doubles the window, up to maxFaultAround pages.
	seqNext   uint64
	seqWindow uint64
}

var (
	vmaTable uint64 // *[maxVMAs]vma view of a table with room for vmaCap entries
	vmaCap   int
	nvma     int
)

func vmaInit() {
	vmaCap = pageSize / int(unsafe.Sizeof(vma{}))
	vmaTable = kallocPages(1)
	if vmaTable == 0 {
		kpanic("mote: no memory for the mapping table")
	}
}

func vmas() *[maxVMAs]vma { return (*[maxVMAs]vma)(unsafe.Pointer(uintptr(vmaTable))) }

// vmaRoom makes room for one more mapping, doubling the table when full (a
// Go program has tens of mappings; the small old tables are not reused).
func vmaRoom() bool {
	if nvma < vmaCap {
		return true
	}
	if vmaCap >= maxVMAs {
		return false
	}
	newCap := min(2*vmaCap, maxVMAs)
	size := uint64(newCap) * uint64(unsafe.Sizeof(vma{}))
	t := kallocPages((size + pageSize - 1) / pageSize)
	if t == 0 {
		return false
	}
	old := vmas()
	vmaTable = t
	copy(vmas()[:nvma], old[:nvma])
	vmaCap = newCap
	return true
}

// vmaFind returns the index of the mapping containing va, or -1.
func vmaFind(va uint64) int {
	lo := vmaLower(va)
	if lo < nvma && vmas()[lo].start <= va {
		return lo
	}
	return -1
}

// vmaLower returns the index of the first mapping that ends after va
// (nvma if none): where a scan of the mappings at or above va starts.
func vmaLower(va uint64) int {
	v := vmas()
	lo, hi := 0, nvma
	for lo < hi {
		m := (lo + hi) / 2
		if v[m].end <= va {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// rangeFree reports whether no mapping overlaps [start, end).
func rangeFree(start, end uint64) bool {
	v := vmas()
	for i := vmaLower(start); i < nvma; i++ {
		if v[i].start < end && start < v[i].end {
			return false
		}
		if v[i].start >= end {
			break
		}
	}
	return true
}

// vmaInsert adds anonymous memory [start, end), which must be free. It
// merges with an adjacent anonymous mapping of the same protection.
func vmaInsert(start, end uint64, prot uint32) bool {
	v := vmas()
	i := vmaLower(start) // the range is free: the first mapping above it
	if i > 0 && v[i-1].end == start && v[i-1].prot == prot && v[i-1].fi == 0 && v[i-1].flags == 0 {
		v[i-1].end = end
		if i < nvma && v[i].start == end && v[i].prot == prot && v[i].fi == 0 && v[i].flags == 0 {
			v[i-1].end = v[i].end
			copy(v[i:nvma-1], v[i+1:nvma])
			nvma--
		}
		return true
	}
	if i < nvma && v[i].start == end && v[i].prot == prot && v[i].fi == 0 && v[i].flags == 0 {
		v[i].start = start
		return true
	}
	return vmaAdd(i, vma{start: start, end: end, prot: prot})
}

// vmaAdd inserts m at index i of the table.
func vmaAdd(i int, m vma) bool {
	if !vmaRoom() {
		return false
	}
	v := vmas()
	copy(v[i+1:nvma+1], v[i:nvma])
	v[i] = m
	nvma++
	return true
}

// vmaSplitAt makes a mapping boundary at a: a mapping that covers a on
// both sides becomes two (a file mapping's second half takes a reference
// of its own).
func vmaSplitAt(a uint64) bool {
	i := vmaFind(a)
	if i < 0 || vmas()[i].start == a {
		return true
	}
	m := vmas()[i]
	right := m
	right.start = a
	if m.fi != 0 {
		right.foff += a - m.start
	}
	right.seqNext, right.seqWindow = 0, 0
	if !vmaAdd(i+1, right) {
		return false
	}
	vmas()[i].end = a
	if m.fi != 0 {
		fmapHold(m.fi)
	}
	return true
}

// vmaRemove removes [start, end) from the table, splitting mappings; a
// file mapping removed drops its reference (fmapDrop).
func vmaRemove(start, end uint64) bool {
	if !vmaSplitAt(start) || !vmaSplitAt(end) {
		return false
	}
	// A file's last reference goes after the table is consistent again:
	// dropping it may sleep (a clunk waiting for a 9P slot). Others do
	// not sleep and go at once. A batch at a time.
	for {
		v := vmas()
		i := vmaLower(start)
		k := i // mappings [i, k) are inside the range
		var drop [32]int32
		n := 0
		for k < nvma && v[k].start < end {
			if fi := v[k].fi; fi != 0 {
				if files[fi-1].refs > 1 {
					fmapDrop(fi)
				} else {
					if n == len(drop) {
						break
					}
					drop[n] = fi
					n++
				}
			}
			k++
		}
		copy(v[i:nvma-(k-i)], v[k:nvma])
		nvma -= k - i
		for _, fi := range drop[:n] {
			fmapDrop(fi)
		}
		if n < len(drop) {
			return true
		}
	}
}

// findFree returns the highest free range of size n below mmapTop, or 0.
func findFree(n uint64) uint64 {
	v := vmas()
	top := uint64(mmapTop)
	for i := nvma - 1; i >= -1; i-- {
		var below uint64 = userMin
		if i >= 0 {
			if v[i].start >= top {
				continue
			}
			below = v[i].end
		}
		if top >= below+n && top-n >= below {
			return top - n
		}
		if i >= 0 {
			top = v[i].start
		}
	}
	return 0
}

const (
	mapShared         = 0x01
	mapPrivate        = 0x02
	mapFixed          = 0x10
	mapAnonymous      = 0x20
	mapPopulate       = 0x8000
	mapFixedNoreplace = 0x100000
)

func sysMmap(addr, length, prot, flags, fd, off uint64) int64 {
	if flags&mapAnonymous == 0 {
		if f := fdGet(int(int32(fd))); int32(fd) >= 0 && f != nil {
			// Held for the call: MAP_FIXED's write-back and a volume
			// file's copy sleep, and another thread may close the
			// descriptor meanwhile. (No defer: kernel code has a fake g.)
			held := fileIndex(f)
			f.refs++
			r := mmap(addr, length, prot, flags, fd, off)
			releaseFile(held)
			return r
		}
	}
	return mmap(addr, length, prot, flags, fd, off)
}

func mmap(addr, length, prot, flags, fd, off uint64) int64 {
	if length == 0 || addr&(pageSize-1) != 0 {
		return -eINVAL
	}
	n := (length + pageSize - 1) &^ (pageSize - 1)
	if n < length {
		return -eNOMEM
	}
	if n > userMax-userMin {
		return -eNOMEM
	}
	fileIno := int32(0) // a file whose contents the mapping starts with
	var shared *file    // a file whose pages the mapping maps (fmap.go)
	var remote *file    // a volume's file copied into a private mapping
	if flags&mapAnonymous == 0 {
		f := fdGet(int(int32(fd)))
		if int32(fd) < 0 || f == nil {
			return -eBADF
		}
		switch {
		case f.kind == fkZero: // /dev/zero: anonymous memory
		case f.kind == fkFile && f.flags&oPath == 0 && flags&mapShared != 0 && fmapOK(f, prot) != -1:
			if !canRead(f) {
				return -eACCES
			}
			if e := fmapOK(f, prot); e < 0 {
				return e
			}
			if off&(pageSize-1) != 0 {
				return -eINVAL
			}
			shared = f
		case f.kind == fkFile && f.flags&oPath == 0:
			// Files are mapped by copying their contents in at mmap
			// time: exact for private mappings, and for shared ones
			// of files that never change (the image's); a shared
			// mapping of a tmpfs file would not see later writes.
			nd := ind(f.node)
			if !canRead(f) {
				return -eACCES
			}
			if off&(pageSize-1) != 0 {
				return -eINVAL
			}
			if isRemote(f.node) {
				if nd.kind != ndRFile || f.fid == 0 {
					return -eNODEV
				}
				remote = f
			}
			if flags&mapShared != 0 && (nd.kind == ndReg || prot&protWrite != 0) {
				return -eNODEV
			}
			fileIno = f.node
		default:
			return -eNODEV
		}
	}
	if flags&(mapShared|mapPrivate) == 0 {
		return -eINVAL
	}
	var start uint64
	switch {
	case flags&(mapFixed|mapFixedNoreplace) != 0:
		if addr < userMin || addr+n > userMax || addr+n < addr {
			return -eNOMEM
		}
		if !rangeFree(addr, addr+n) {
			if flags&mapFixedNoreplace != 0 {
				return -eEXIST
			}
			fmapSync(addr, addr+n)
			zapRange(addr, addr+n)
			if !vmaRemove(addr, addr+n) {
				return -eNOMEM
			}
		}
		start = addr
	case addr >= userMin && addr+n <= userMax && addr+n > addr && rangeFree(addr, addr+n):
		start = addr
	default:
		start = findFree(n)
		if start == 0 {
			return -eNOMEM
		}
	}
	switch {
	case shared != nil:
		if !fmapNew(shared, start, start+n, uint32(prot)&(protRead|protWrite|protExec), off) {
			return -eNOMEM
		}
	case remote != nil:
		// A mapping of its own (not merged with a neighbour, whose
		// faults could fill these pages while the copy sleeps).
		if !vmaAdd(vmaLower(start), vma{start: start, end: start + n, prot: uint32(prot) & (protRead | protWrite | protExec), flags: vmaFilling}) {
			return -eNOMEM
		}
	default:
		if !vmaInsert(start, start+n, uint32(prot)&(protRead|protWrite|protExec)) {
			return -eNOMEM
		}
	}
	if remote != nil {
		e := int64(0)
		if prot != 0 {
			e = fmapCopy(remote, start, n, off, uint32(prot))
		}
		// Done: the mapping may merge with its neighbours from now on.
		for i := vmaLower(start); i < nvma && vmas()[i].start < start+n; i++ {
			vmas()[i].flags &^= vmaFilling
		}
		if e < 0 {
			zapRange(start, start+n)
			vmaRemove(start, start+n)
			return e
		}
	} else if fileIno != 0 && prot != 0 {
		// Fill the pages from the file through their frames (the new
		// mapping may be read-only); past the end they stay zero.
		size := inodeSize(ind(fileIno))
		for va := start; va < start+n && int64(off+va-start) < size; va += pageSize {
			e := pte(va, false)
			if e == nil || *e&ptePresent == 0 {
				if !populate(va, false) {
					break
				}
				e = pte(va, false)
			}
			if e == nil || *e&ptePresent == 0 {
				break
			}
			inodeRead(fileIno, *e&pteAddrMask, pageSize, int64(off+va-start))
		}
	}
	if flags&mapPopulate != 0 && prot != 0 {
		for va := start; va < start+n; va += pageSize {
			if !populate(va, false) {
				break
			}
		}
	}
	return int64(start)
}

func sysMunmap(addr, length uint64) int64 {
	if addr&(pageSize-1) != 0 || length == 0 {
		return -eINVAL
	}
	n := (length + pageSize - 1) &^ (pageSize - 1)
	end := addr + n
	if end < addr || addr < userMin || end > userMax {
		// Linux accepts unmapping holes; outside the user window there is nothing to unmap.
		if addr < userMin && end <= userMin {
			return -eINVAL
		}
		return -eINVAL
	}
	fmapSync(addr, end) // what the program wrote through shared file mappings
	zapRange(addr, end)
	if !vmaRemove(addr, end) {
		return -eNOMEM
	}
	return 0
}

// sysMsync writes back what the program wrote through shared mappings of
// volume files in the range (tmpfs and anonymous memory have nowhere to go).
func sysMsync(addr, length, flags uint64) int64 {
	const msAsync, msInvalidate, msSync = 1, 2, 4
	if addr&(pageSize-1) != 0 || flags&^(msAsync|msInvalidate|msSync) != 0 || flags&(msAsync|msSync) == msAsync|msSync {
		return -eINVAL
	}
	end := addr + (length+pageSize-1)&^(pageSize-1)
	if end < addr {
		return -eNOMEM
	}
	// The mapped parts are synced; a hole in the range then makes it
	// ENOMEM, as on Linux.
	hole := false
	for va := addr; va < end; {
		if i := vmaFind(va); i >= 0 {
			va = vmas()[i].end
			continue
		}
		hole = true
		if i := vmaLower(va); i < nvma && vmas()[i].start < end {
			va = vmas()[i].start
			continue
		}
		break
	}
	if e := fmapSync(addr, end); e < 0 {
		return e
	}
	if hole {
		return -eNOMEM
	}
	return 0
}

func sysMprotect(addr, length, prot uint64) int64 {
	if addr&(pageSize-1) != 0 {
		return -eINVAL
	}
	n := (length + pageSize - 1) &^ (pageSize - 1)
	end := addr + n
	if n == 0 {
		return 0
	}
	if end <= memSize { // the image: accepted, no protection change
		return 0
	}
	if addr < userMin || end > userMax || end < addr {
		return -eNOMEM
	}
	// Every page must be mapped, and a shared file mapping may become
	// writable only if its file is open for writing (as Linux).
	for va := addr; va < end; {
		i := vmaFind(va)
		if i < 0 {
			return -eNOMEM
		}
		if fi := vmas()[i].fi; fi != 0 && prot&protWrite != 0 && files[fi-1].flags&oAccmode != oRdwr {
			return -eACCES
		}
		va = vmas()[i].end
	}
	p := uint32(prot) & (protRead | protWrite | protExec)
	if !vmaSplitAt(addr) || !vmaSplitAt(end) {
		return -eNOMEM
	}
	for i := vmaFind(addr); i >= 0 && i < nvma && vmas()[i].start < end; i++ {
		m := &vmas()[i]
		m.prot = p
		if m.fi != 0 {
			// File pages are mapped again on the next touch, with the
			// new protection (and dirty tracking, fmap.go).
			fmapUnmap(m.start, m.end)
			continue
		}
		protectRange(m.start, m.end, p&protWrite != 0)
		if p == 0 {
			zapRange(m.start, m.end) // PROT_NONE keeps no frames; contents are lost as after DONTNEED
		}
	}
	vmaMerge(addr, end)
	return 0
}

// vmaMerge joins the anonymous mappings around [start, end) that are
// adjacent and have the same protection, as mprotect left them split.
func vmaMerge(start, end uint64) {
	v := vmas()
	i := max(vmaLower(start)-1, 0)
	for i+1 < nvma && v[i].start <= end {
		a, b := &v[i], v[i+1]
		if a.fi == 0 && b.fi == 0 && a.flags == 0 && b.flags == 0 && a.end == b.start && a.prot == b.prot {
			a.end = b.end
			a.seqNext, a.seqWindow = 0, 0
			copy(v[i+1:nvma-1], v[i+2:nvma])
			nvma--
			continue
		}
		i++
	}
}

const (
	madvDontneed = 4
	madvFree     = 8
	madvRemove   = 9
)

// sysMincore reports which pages of [addr, addr+length) are in memory: the
// range must be mapped (ENOMEM) and addr page aligned (EINVAL).
func sysMincore(addr, length, vec uint64) int64 {
	if addr&(pageSize-1) != 0 {
		return -eINVAL
	}
	n := (length + pageSize - 1) / pageSize
	if addr+n*pageSize < addr || addr < userMin || addr+n*pageSize > userMax {
		return -eNOMEM
	}
	if !userOK(vec, n, true) {
		return -eFAULT
	}
	for i := uint64(0); i < n; i++ {
		va := addr + i*pageSize
		if vmaFind(va) < 0 {
			return -eNOMEM
		}
		in := byte(0)
		if e := pte(va, false); e != nil && *e&ptePresent != 0 {
			in = 1
		}
		*(*byte)(unsafe.Pointer(uintptr(vec + i))) = in
	}
	return 0
}

func sysMadvise(addr, length, advice uint64) int64 {
	if addr&(pageSize-1) != 0 {
		return -eINVAL
	}
	n := (length + pageSize - 1) &^ (pageSize - 1)
	switch advice {
	case madvDontneed, madvFree, madvRemove:
		if addr >= userMin && addr+n <= userMax && addr+n >= addr {
			zapRange(addr, addr+n)
		}
	}
	return 0
}

// populate maps the page at va, and neighbours within its mapping, for an
// access. A random fault maps the aligned faultAround-page block around va;
// a fault just past the previous window of the same mapping (a sequential
// walk, as the Go heap grows) maps a window twice as large, up to
// maxFaultAround pages, so a large fresh region costs a few traps rather
// than one per 64 KiB. It reports false if va is not mapped with a
// protection that allows the access, or memory is exhausted.
func populate(va uint64, write bool) bool {
	i := vmaFind(va)
	if i < 0 {
		return false
	}
	m := &vmas()[i]
	if m.prot == 0 || (write && m.prot&protWrite == 0) {
		return false
	}
	if m.fi != 0 {
		return fmapFault(i, va, write)
	}
	// Accessed and Dirty are set up front, so the hypervisor never has to
	// emulate their update (shadow paging on PVM).
	flags := uint64(ptePresent | pteUser | pteAccessed)
	if m.prot&protWrite != 0 {
		flags |= pteWrite | pteDirty
	}
	page := va &^ (pageSize - 1)
	e := pte(page, true)
	if e == nil {
		return false
	}
	if *e&ptePresent == 0 {
		f := allocFrame()
		if f == 0 {
			return false
		}
		*e = f | flags
	} else if write && *e&pteWrite == 0 {
		return false
	}
	n := uint64(faultAround)
	lo := page &^ (faultAround*pageSize - 1)
	if page == m.seqNext && m.seqWindow > 0 {
		n = 2 * m.seqWindow
		if n > maxFaultAround {
			n = maxFaultAround
		}
		lo = page
	}
	hi := lo + n*pageSize
	if lo < m.start {
		lo = m.start
	}
	if hi > m.end || hi < lo {
		hi = m.end
	}
	m.seqNext, m.seqWindow = hi, n
	traceEv(evMmap, lo, hi)
	for a := lo; a < hi; a += pageSize {
		if a == page {
			continue
		}
		ne := pte(a, true)
		if ne == nil {
			break
		}
		if *ne&ptePresent != 0 {
			continue
		}
		f := allocFrame()
		if f == 0 {
			break
		}
		*ne = f | flags
	}
	return true
}

// handlePageFault resolves a user page fault; false means SIGSEGV.
func handlePageFault(addr, errCode uint64) bool {
	if errCode&1 != 0 && errCode&2 == 0 {
		return false // protection violation on a present page, read
	}
	if addr < memSize {
		return lazyCommit(addr)
	}
	if addr < userMin || addr >= userMax {
		return false
	}
	return populate(addr, errCode&2 != 0)
}

// segvCode tells SEGV_MAPERR from SEGV_ACCERR for a failed fault.
func segvCode(addr uint64) int32 {
	if addr >= userMin && addr < userMax && vmaFind(addr) >= 0 {
		return 2 // SEGV_ACCERR
	}
	return 1 // SEGV_MAPERR
}
