package kernel

import "unsafe"

// Shared file mappings: mmap(MAP_SHARED) of a tmpfs file or a volume's
// file, as databases such as bbolt use them (they read the file through a
// mapping and write it with pwrite, and expect each to see the other).
//
// The mapping's VMA holds a reference on the open file description (vma.fi)
// and the file offset of its start (vma.foff); the inode counts its
// mappings (inode.maps). Its pages are the file's pages:
//
//   - a tmpfs file's are its own frames (tmpPage), so writes through the
//     mapping and write(2) see each other at once;
//   - a volume's file has no guest page cache, so one is kept for it while
//     it is mapped, in the same radix tree tmpfs uses (inode.data and
//     height), charged to the guest's memory. A page is read from the host
//     on its first fault; write(2) copies what it writes into the cached
//     pages, and read(2) takes cached pages from the cache, so both agree
//     with the mapping. A write through the mapping marks its page dirty
//     (bit 0 of the tree's slot): pages are mapped read-only until the
//     first write faults. Dirty pages go to the host (Twrite, up to the
//     file's size) on msync, fsync, munmap, exit_group, a signal's death
//     and the last thread's exit, and stay dirty (pcWriteback says why).
//
// Truncation unmaps the pages past the new end from every mapping before
// it frees them; a page wholly past the end faults with SIGBUS. Private
// file mappings are copies made at mmap time.

const pcDirty = 1 // a volume's cached page: written through a mapping

// fmapHold takes another reference for a mapping of file fi+1.
func fmapHold(fi1 int32) {
	f := &files[fi1-1]
	f.refs++
	nd := ind(f.node)
	nd.maps++
	nd.everMapped = true
}

// fmapDrop drops a mapping's reference; the file's last mapping frees a
// volume file's page cache (its dirty pages were written back first).
func fmapDrop(fi1 int32) {
	f := &files[fi1-1]
	ino := f.node
	nd := ind(ino)
	nd.maps--
	if nd.maps == 0 && isRemote(ino) {
		pcFree(nd, 0)
	}
	releaseFile(fi1 - 1)
}

// fmapNew adds the shared mapping [start, end) of file f from offset off.
func fmapNew(f *file, start, end uint64, prot uint32, off uint64) bool {
	i := vmaLower(start) // the range is free: the first mapping above it
	fi1 := fileIndex(f) + 1
	if !vmaAdd(i, vma{start: start, end: end, prot: prot, fi: fi1, foff: off}) {
		return false
	}
	fmapHold(fi1)
	return true
}

// fmapOK reports whether file f can have a shared mapping with prot:
// -eNODEV for a file whose contents are not kept as pages (-1: none, and
// the caller copies), else 0 or the access error.
func fmapOK(f *file, prot uint64) int64 {
	nd := ind(f.node)
	switch {
	case isRemote(f.node) && nd.kind == ndRFile && f.fid != 0:
	case !isRemote(f.node) && nd.kind == ndReg:
	default:
		return -1
	}
	if prot&protWrite != 0 && f.flags&oAccmode != oRdwr {
		return -eACCES
	}
	return 0
}

// fmapFault maps the page at va of the shared file mapping vmas()[i].
func fmapFault(i int, va uint64, write bool) bool {
	m := &vmas()[i]
	fi1 := m.fi
	f := &files[fi1-1]
	ino := f.node
	nd := ind(ino)
	page := va &^ (pageSize - 1)
	pg := (m.foff + page - m.start) / pageSize
	if int64(pg*pageSize) >= inodeSize(nd) {
		fmapBus = true // wholly past the end of the file
		return false
	}
	e := pte(page, true)
	if e == nil {
		return false
	}
	flags := uint64(ptePresent | pteUser | pteAccessed)
	if !isRemote(ino) {
		fr := tmpPage(nd, pg, true)
		if fr == 0 {
			fmapBus = true // the tmpfs is full
			return false
		}
		if m.prot&protWrite != 0 {
			flags |= pteWrite | pteDirty
		}
		*e = fr | flags
		fmapAround(m, page)
		return true
	}
	slot := tmpSlot(nd, pg, true)
	if slot == nil {
		return false
	}
	if *slot == 0 {
		// Read the page from the host. That sleeps: the mapping, the
		// file (a write, a truncation: pcGen) or the cache may change
		// meanwhile. If anything did, the page read is dropped and the
		// access retried (it faults again and sees the new state).
		fr := tmpAlloc(nd.fs)
		if fr == 0 {
			return false
		}
		gen := nd.pcGen
		f.refs++
		r := pcFill(f, fr, pg)
		fmapFills++
		ok := true
		j := vmaFind(va)
		switch {
		case r < 0:
			tmpRelease(fr, nd.fs)
			fmapBus = true // the host could not read it
			ok = false
		case j < 0 || vmas()[j].fi != fi1 || vmas()[j].foff+page-vmas()[j].start != pg*pageSize || nd.pcGen != gen || nd.maps == 0:
			tmpRelease(fr, nd.fs) // the access is retried
		default:
			if slot = tmpSlot(nd, pg, true); slot == nil {
				tmpRelease(fr, nd.fs)
				ok = false
			} else if *slot == 0 {
				*slot = fr
			} else {
				tmpRelease(fr, nd.fs) // another thread read it meanwhile
			}
		}
		releaseFile(fi1 - 1) // last: it may clunk, which may sleep
		return ok            // the access faults again and maps it
	}
	if write && *slot&pcDirty == 0 {
		*slot |= pcDirty
		nd.pcDirtyN++
	}
	if *slot&pcDirty != 0 && m.prot&protWrite != 0 {
		flags |= pteWrite | pteDirty
	}
	*e = *slot&^(pageSize-1) | flags
	fmapAround(m, page)
	return true
}

// fmapAround maps the pages of the aligned faultAround-page block around
// page that the file already has (a tmpfs file's, a volume file's cached
// ones), so that walking a mapped file costs a fault per block, not per
// page. Nothing is allocated or read; a volume file's clean pages are
// mapped read-only (dirty tracking).
func fmapAround(m *vma, page uint64) {
	nd := ind(files[m.fi-1].node)
	remote := isRemote(files[m.fi-1].node)
	lo := max(page&^(faultAround*pageSize-1), m.start)
	hi := min(lo+faultAround*pageSize, m.end)
	for va := lo; va < hi; va += pageSize {
		if va == page {
			continue
		}
		slot := tmpSlot(nd, (m.foff+va-m.start)/pageSize, false)
		if slot == nil || *slot == 0 {
			continue
		}
		e := pte(va, true)
		if e == nil {
			return
		}
		if *e&ptePresent != 0 {
			continue
		}
		flags := uint64(ptePresent | pteUser | pteAccessed)
		if m.prot&protWrite != 0 && (!remote || *slot&pcDirty != 0) {
			flags |= pteWrite | pteDirty
		}
		*e = *slot&^(pageSize-1) | flags
	}
}

// fmapBus is set when a fault in a file mapping fails because of the
// file (past its end, unreadable, no room): Linux sends SIGBUS for it, not
// SIGSEGV. trapGo clears it before each fault.
var fmapBus bool

// fmapFills counts the pages read in for mappings: a caller that sees it
// change knows it slept (userOK).
var fmapFills uint64

// pcFill reads page pg of open volume file f into frame fr (zero past the
// end of the file), in as many Treads as the server needs.
func pcFill(f *file, fr, pg uint64) int64 {
	d := devOf(ind(f.node))
	for got := uint64(0); got < pageSize; {
		s := d.slot()
		m := d.begin(s, p9Tread)
		m.u32(f.fid)
		m.u64(pg*pageSize + got)
		m.u32(uint32(pageSize - got))
		r, e := d.call(s, &m)
		cnt := uint64(0)
		if e == 0 {
			cnt = uint64(r.u32())
			src := r.take(uint32(cnt))
			if r.bad || cnt > pageSize-got {
				e = -eIO
			} else {
				copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(fr+got))), cnt), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(src))), cnt))
			}
		}
		d.release(s)
		if e < 0 {
			return e
		}
		if cnt == 0 {
			break // the end of the file
		}
		got += cnt
	}
	return 0
}

// fmapCopy fills the new private mapping [start, start+n) with the
// contents of volume file f from offset off, up to its end: each page is
// read into a fresh frame, which is mapped if the mapping is still there
// when the read (which sleeps) is done. An error (memory, the host's)
// fails the mmap.
func fmapCopy(f *file, start, n, off uint64, prot uint32) int64 {
	nd := ind(f.node)
	flags := uint64(ptePresent | pteUser | pteAccessed)
	if prot&protWrite != 0 {
		flags |= pteWrite | pteDirty
	}
	for va := start; va < start+n && int64(off+va-start) < nd.size; va += pageSize {
		fr := allocFrame()
		if fr == 0 {
			return -eNOMEM
		}
		if e := pcFill(f, fr, (off+va-start)/pageSize); e < 0 {
			freeFrame(fr)
			return e
		}
		i := vmaFind(va)
		e := pte(va, true)
		if i < 0 || vmas()[i].fi != 0 || e == nil || *e&ptePresent != 0 {
			freeFrame(fr) // unmapped or replaced meanwhile
			continue
		}
		*e = fr | flags
	}
	return 0
}

// fmapUnmap clears the page-table entries of [start, end), part of a
// shared file mapping, without freeing the frames (the file's).
func fmapUnmap(start, end uint64) { unmapPages(start, end, false) }

// fmapUnmapFile clears the entries that map pages [from, to) of the file
// nd in every mapping, before they are freed (truncation, a dropped page).
func fmapUnmapFile(nd *inode, from, to uint64) {
	if nd.maps == 0 {
		return
	}
	fromOff, toOff := from*pageSize, ^uint64(0)
	if to < toOff/pageSize {
		toOff = to * pageSize
	}
	v := vmas()
	for i := 0; i < nvma; i++ {
		m := v[i]
		if m.fi == 0 || ind(files[m.fi-1].node) != nd {
			continue
		}
		lo, hi := max(fromOff, m.foff), min(toOff, m.foff+(m.end-m.start))
		if lo < hi {
			fmapUnmap(m.start+(lo-m.foff), m.start+(hi-m.foff))
		}
	}
}

// fmapSync writes back the dirty pages that the shared mappings of volume
// files in [start, end) hold (msync, munmap).
func fmapSync(start, end uint64) int64 {
	var err int64
	for va := start; va < end; {
		// Look the mapping up again after each write-back: it sleeps.
		i := -1
		v := vmas()
		for j := vmaLower(va); j < nvma && v[j].start < end; j++ {
			if v[j].fi != 0 {
				i = j
				break
			}
		}
		if i < 0 {
			break
		}
		m := v[i]
		lo, hi := max(m.start, va), min(m.end, end)
		if ino := files[m.fi-1].node; isRemote(ino) {
			first := (m.foff + lo - m.start) / pageSize
			last := (m.foff + hi - m.start + pageSize - 1) / pageSize
			if e := pcWriteback(ino, first, last, nil); e < 0 && err == 0 {
				err = e
			}
		}
		va = hi
	}
	return err
}

// fmapSyncAll writes back every dirty page (exit_group).
func fmapSyncAll() {
	fmapSync(userMin, userMax)
}

// pcWriteback writes the dirty cached pages [first, last) of volume file
// ino to the host, through wf if it is open for writing, else through a
// writable open file that maps it (none: nothing can be written). Pages
// stay dirty and writable: marking one clean would need every CPU's TLB
// to drop its writable entry first (the shootdown is lazy), and a thread
// blocked in a system call may hold the page validated for writing. So a
// page written through a mapping goes to the host at every sync.
func pcWriteback(ino int32, first, last uint64, wf *file) int64 {
	nd := ind(ino)
	if nd.maps == 0 || nd.height == 0 || nd.pcDirtyN <= 0 {
		return 0
	}
	// Pages wholly past the end of the file are not written (as Linux).
	last = min(last, tmpCapacity(nd.height)/pageSize, (uint64(max(nd.size, 0))+pageSize-1)/pageSize)
	var err int64
	for pg := first; pg < last; pg++ {
		slot := tmpSlot(nd, pg, false)
		if slot == nil || *slot&pcDirty == 0 {
			continue
		}
		fi := int32(-1)
		if wf != nil && wf.node == ino && wf.fid != 0 && wf.flags&oAccmode != oRdonly {
			fi = fileIndex(wf)
		} else if fi = pcWriter(ino); fi < 0 {
			return 0 // no open file can write it (it stays dirty)
		}
		f := &files[fi]
		f.refs++
		e := pcPut(f, nd, pg) // sleeps
		releaseFile(fi)
		if e < 0 && err == 0 {
			err = e
		}
		if nd.maps == 0 {
			return err // unmapped meanwhile (the cache is gone)
		}
	}
	return err
}

// pcWriter returns the index of an open file of ino that a writable
// shared mapping holds (its fid is open for writing), or -1.
func pcWriter(ino int32) int32 {
	v := vmas()
	for i := 0; i < nvma; i++ {
		if fi := v[i].fi; fi != 0 && files[fi-1].node == ino && files[fi-1].flags&oAccmode == oRdwr {
			return fi - 1
		}
	}
	return -1
}

// pcPut writes cached page pg of the file nd to the host through open
// file f, up to the end of the file. The page is looked up once a 9P slot
// is ours (waiting for one sleeps, and the page may go meanwhile); its
// bytes are copied into the request before anything else can run.
func pcPut(f *file, nd *inode, pg uint64) int64 {
	d := devOf(nd)
	s := d.slot()
	slot := tmpSlot(nd, pg, false)
	n := int64(pageSize)
	if end := int64(pg*pageSize) + n; end > nd.size {
		n = nd.size - int64(pg*pageSize)
	}
	if nd.maps == 0 || slot == nil || *slot == 0 || n <= 0 {
		d.release(s)
		return 0
	}
	fr := *slot &^ (pageSize - 1)
	m := d.begin(s, p9Twrite)
	m.u32(f.fid)
	m.u64(pg * pageSize)
	m.u32(uint32(n))
	copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(m.at(m.n)))), n), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(fr))), n))
	m.n += uint32(n)
	r, e := d.call(s, &m)
	if e == 0 && (r.u32() != uint32(n) || r.bad) {
		e = -eIO
	}
	d.release(s)
	return e
}

// pcFree drops a volume file's cached pages >= from; no mapping may map
// them any more.
func pcFree(nd *inode, from uint64) {
	if nd.height == 0 {
		return
	}
	tmpFree(nd.fs, &nd.data, nd.height, 0, from, true)
	if nd.data == 0 {
		nd.height = 0
		nd.pcDirtyN = 0
	}
}

// pcTruncate keeps a volume file's page cache in step with a new size:
// pages past it are unmapped and dropped, the tail of the last is zeroed.
func pcTruncate(ino int32, size int64) {
	nd := ind(ino)
	nd.pcGen++ // a page being read in now is of the old file
	if nd.height == 0 {
		return
	}
	keep := (uint64(size) + pageSize - 1) / pageSize
	fmapUnmapFile(nd, keep, ^uint64(0))
	pcFree(nd, keep)
	if in := uint64(size) % pageSize; in != 0 {
		if slot := tmpSlot(nd, uint64(size)/pageSize, false); slot != nil && *slot != 0 {
			fr := *slot &^ (pageSize - 1)
			clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(fr+in))), pageSize-in))
		}
	}
}

// pcRead reads [pos, pos+n) of mapped volume file f into user memory at p
// (validated): cached pages from the cache (they may hold what the
// program wrote through a mapping), the others from the host.
func pcRead(f *file, p, n uint64, pos int64) int64 {
	nd := ind(f.node)
	if pos >= nd.size {
		return 0
	}
	n = min(n, uint64(nd.size-pos))
	done := uint64(0)
	for done < n {
		off := uint64(pos) + done
		pg := off / pageSize
		if slot := tmpSlot(nd, pg, false); slot != nil && *slot != 0 {
			in := off % pageSize
			c := min(pageSize-in, n-done)
			// The buffer may have changed while an earlier piece slept.
			if !userOK(p+done, c, true) {
				if done == 0 {
					return -eFAULT
				}
				break
			}
			if slot = tmpSlot(nd, pg, false); slot == nil || *slot == 0 {
				continue // dropped meanwhile: from the host
			}
			fr := *slot &^ (pageSize - 1)
			copy(userBytes(p+done, c), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(fr+in))), c))
			done += c
			continue
		}
		// The run of pages not cached, from the host.
		end := off
		for end < uint64(pos)+n {
			s := tmpSlot(nd, end/pageSize, false)
			if s != nil && *s != 0 {
				break
			}
			end = (end/pageSize + 1) * pageSize
		}
		end = min(end, uint64(pos)+n)
		got, err := rPipeIO(f, p+done, end-off, int64(off), false)
		done += got
		if err < 0 {
			if done == 0 {
				return err
			}
			break
		}
		if got < end-off {
			break
		}
	}
	return int64(done)
}

// pcWrote copies what write(2) just put in [pos, pos+n) of volume file
// ino, from user memory at p, into its cached pages.
func pcWrote(ino int32, p, n uint64, pos int64) {
	nd := ind(ino)
	if nd.height == 0 {
		return
	}
	if !userOK(p, n, false) {
		// The buffer went while the write slept: the cached pages it
		// wrote to are dropped instead (unmapped first), so that nothing
		// serves their old contents.
		first, last := uint64(pos)/pageSize, (uint64(pos)+n+pageSize-1)/pageSize
		for pg := first; pg < last; pg++ {
			if slot := tmpSlot(nd, pg, false); slot != nil && *slot != 0 && *slot&pcDirty == 0 {
				fmapUnmapFile(nd, pg, pg+1)
				tmpReleaseMapped(*slot&^(pageSize-1), nd.fs)
				*slot = 0
			}
		}
		return
	}
	for done := uint64(0); done < n; {
		off := uint64(pos) + done
		in := off % pageSize
		c := min(pageSize-in, n-done)
		if slot := tmpSlot(nd, off/pageSize, false); slot != nil && *slot != 0 {
			fr := *slot &^ (pageSize - 1)
			copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(fr+in))), c), userBytes(p+done, c))
		}
		done += c
	}
}
