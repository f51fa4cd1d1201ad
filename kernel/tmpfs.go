package kernel

import "unsafe"

// tmpfs regular files: contents in 4 KiB frames under a radix tree of
// 512-entry tables, as in page tables. A tree of height h covers
// 4096·512^(h-1) bytes (height 1: the root is the only data page; 0: no
// pages). Missing pages are holes and read as zeros. Data and tables are
// counted against fsMaxPages of their tmpfs (/tmp: half of guest RAM, as Linux's default tmpfs
// size); beyond it, or when guest memory runs out, writes fail with ENOSPC.

// Each tmpfs (/tmp, and the ones mote run --tmpfs asks for) has its own
// limit; the counters are indexed by the inode's fs.
const maxFS = 16

var (
	fsPages    [maxFS]uint64 // frames holding a tmpfs's data and tables
	fsMaxPages [maxFS]uint64
)

const tmpMaxHeight = 5 // 2^48 bytes

func tmpCapacity(h uint8) uint64 {
	if h == 0 {
		return 0
	}
	return pageSize << (9 * uint64(h-1))
}

func tmpAlloc(fs uint8) uint64 {
	if fsPages[fs] >= fsMaxPages[fs] {
		return 0
	}
	f := allocFrame()
	if f != 0 {
		fsPages[fs]++
	}
	return f
}

func tmpRelease(f uint64, fs uint8) {
	freeFrame(f)
	fsPages[fs]--
}

// tmpReleaseMapped frees a frame that a shared mapping had: once every CPU
// has flushed its TLB (another may not have yet).
func tmpReleaseMapped(f uint64, fs uint8) {
	deferFree(f)
	fsPages[fs]--
}

func slotAt(table, idx uint64) *uint64 {
	return (*uint64)(unsafe.Pointer(uintptr(table + idx*8)))
}

// tmpPage returns the frame holding page pg of the file, allocating it and
// its tables when alloc is set; 0 for a hole (or when memory is short).
func tmpPage(nd *inode, pg uint64, alloc bool) uint64 {
	slot := tmpSlot(nd, pg, alloc)
	if slot == nil {
		return 0
	}
	if *slot == 0 && alloc {
		*slot = tmpAlloc(nd.fs)
	}
	return *slot
}

// tmpSlot returns the tree's slot for page pg (the frame's address, 0 for
// a hole), allocating the tables above it when alloc is set; nil if they
// are missing (or memory is short).
func tmpSlot(nd *inode, pg uint64, alloc bool) *uint64 {
	for tmpCapacity(nd.height) < (pg+1)*pageSize {
		if !alloc || nd.height == tmpMaxHeight {
			return nil
		}
		if nd.height == 0 {
			nd.height = 1
			continue
		}
		if nd.data != 0 { // a new root above the old one
			t := tmpAlloc(nd.fs)
			if t == 0 {
				return nil
			}
			*slotAt(t, 0) = nd.data
			nd.data = t
		}
		nd.height++
	}
	if nd.height == 0 {
		return nil
	}
	slot := &nd.data
	for lvl := nd.height; lvl > 1; lvl-- {
		if *slot == 0 {
			if !alloc {
				return nil
			}
			if *slot = tmpAlloc(nd.fs); *slot == 0 {
				return nil
			}
		}
		slot = slotAt(*slot, (pg>>(9*uint64(lvl-2)))&511)
	}
	return slot
}

// tmpFree frees the pages with index >= from below *slot, a level-lvl
// node covering the pages from base, and the node itself when it keeps
// nothing; mapped says the file had shared mappings (tmpReleaseMapped).
func tmpFree(fs uint8, slot *uint64, lvl uint8, base, from uint64, mapped bool) {
	if *slot == 0 {
		return
	}
	span := uint64(1) << (9 * uint64(lvl-1))
	if base+span <= from {
		return
	}
	if lvl > 1 {
		child := span >> 9
		for i := uint64(0); i < 512; i++ {
			if cb := base + i*child; cb+child > from {
				tmpFree(fs, slotAt(*slot, i), lvl-1, cb, from, mapped)
			}
		}
	}
	if base >= from {
		f := *slot &^ (pageSize - 1) // a volume's cached page may carry its dirty bit
		if mapped {
			tmpReleaseMapped(f, fs)
		} else {
			tmpRelease(f, fs)
		}
		*slot = 0
	}
}

// tmpTruncate sets the size of a tmpfs file, freeing the pages past it
// (there may be some past the old size too: fallocate with KEEP_SIZE) and
// zeroing the tail of the last one (so growing again reads zeros).
func tmpTruncate(nd *inode, size int64) {
	keep := (uint64(size) + pageSize - 1) / pageSize
	mapped := nd.maps > 0 || nd.everMapped
	fmapUnmapFile(nd, keep, ^uint64(0)) // shared mappings of the pages about to go
	tmpFree(nd.fs, &nd.data, nd.height, 0, keep, mapped)
	if nd.data == 0 {
		nd.height = 0
	}
	if size < nd.size {
		if in := uint64(size) % pageSize; in != 0 {
			if f := tmpPage(nd, uint64(size)/pageSize, false); f != 0 {
				clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(f+in))), pageSize-in))
			}
		}
	}
	nd.size = size
}

// tmpRead copies file bytes [off, off+n) into user memory at p (validated).
func tmpRead(nd *inode, p, n uint64, off int64) int64 {
	if off >= nd.size {
		return 0
	}
	n = min(n, uint64(nd.size-off))
	for done := uint64(0); done < n; {
		pos := uint64(off) + done
		in := pos % pageSize
		c := min(pageSize-in, n-done)
		dst := userBytes(p+done, c)
		if f := tmpPage(nd, pos/pageSize, false); f != 0 {
			copy(dst, unsafe.Slice((*byte)(unsafe.Pointer(uintptr(f+in))), c))
		} else {
			clear(dst)
		}
		done += c
	}
	return int64(n)
}

// tmpWrite copies user memory [p, p+n) (validated) into the file at off.
// Writing nothing changes nothing, not even the times.
func tmpWrite(nd *inode, p, n uint64, off int64) int64 {
	if n == 0 {
		return 0
	}
	if uint64(off)+n > tmpCapacity(tmpMaxHeight) {
		return -eFBIG
	}
	done := uint64(0)
	for done < n {
		pos := uint64(off) + done
		in := pos % pageSize
		c := min(pageSize-in, n-done)
		f := tmpPage(nd, pos/pageSize, true)
		if f == 0 {
			break
		}
		copy(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(f+in))), c), userBytes(p+done, c))
		done += c
	}
	if done == 0 {
		return -eNOSPC
	}
	if end := off + int64(done); end > nd.size {
		nd.size = end
	}
	touch(nd, true, true)
	return int64(done)
}

// tmpAdopt turns a sealed file in the tmpfs (one the image put below /tmp)
// into a tmpfs file holding a copy of its contents (none when empty is
// set), the first time it is opened for writing or truncated.
func tmpAdopt(nd *inode, empty bool) int64 {
	data, size, mtime, ctime := nd.data, nd.size, nd.mtime, nd.ctime
	nd.kind, nd.data, nd.height, nd.size = ndReg, 0, 0, 0
	if empty || size == 0 {
		return 0
	}
	r := tmpWrite(nd, data, uint64(size), 0)
	nd.mtime, nd.ctime = mtime, ctime // a copy, not a change
	if r != size {
		tmpTruncate(nd, 0)
		nd.kind, nd.data, nd.size = ndSealed, data, size
		if r < 0 {
			return r
		}
		return -eNOSPC
	}
	return 0
}
