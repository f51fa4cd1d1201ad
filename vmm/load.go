package vmm

import (
	"fmt"

	"github.com/motevm/mote/abi"
)

// loadImage puts the image's segments, and its sealed files' archive at
// filesGPA, into guest RAM.
//
// With mapped set, every page-aligned part is mapped from the image file
// copy-on-write (memory.mapFile) instead of read: the program's code and
// read-only data, most of an image, are then one copy in the host's page
// cache for all the guests of the image, and boot copies nothing. That is
// the choice for 4 KiB backing (mote run -d), where each page the guest
// touches costs a fault either way. With huge pages the file is read into
// RAM: the guest then touches the image through a few 2 MiB pages, which
// is fewer faults than one per 4 KiB page of a mapping.
func (v *vm) loadImage(mapped bool, filesGPA uint64) error {
	img := v.img
	f := img.File()
	for _, s := range img.Segments {
		dst := v.mem.b[s.Vaddr : s.Vaddr+s.Memsz]
		if mapped && f != nil && s.Vaddr%abi.PageSize == 0 && s.Off%abi.PageSize == 0 {
			n := (s.Filesz + abi.PageSize - 1) &^ (abi.PageSize - 1)
			if err := v.mem.mapFile(s.Vaddr, f, s.Off, n); err != nil {
				return fmt.Errorf("cannot map %s: %v", img.Path, err)
			}
			v.mem.zeroTail(s.Vaddr + s.Filesz)
			continue
		}
		// Bounds checked by image.Open: the segment lies in [ImageBase,
		// End), below the RAM size.
		if err := img.ReadSegment(s, dst); err != nil {
			return err
		}
	}
	n := img.Files.Len
	if n == 0 {
		return nil
	}
	files := v.mem.b[filesGPA : filesGPA+n]
	if mapped && f != nil && img.Files.Off%abi.PageSize == 0 {
		if err := v.mem.mapFile(filesGPA, f, img.Files.Off, (n+abi.PageSize-1)&^(abi.PageSize-1)); err != nil {
			return fmt.Errorf("cannot map %s: %v", img.Path, err)
		}
		v.mem.zeroTail(filesGPA + n)
	} else if err := img.ReadFiles(files); err != nil {
		return err
	}
	if _, err := abi.CheckFiles(files); err != nil {
		return fmt.Errorf("%s has a corrupt sealed-files archive", img.Path)
	}
	return nil
}

// zeroTail clears guest RAM from gpa to the end of its page, where a
// mapped file goes on past what the guest should see (its bss, or the
// page's rest); a tail that is zero already is left unwritten (and so
// still shared).
func (m *memory) zeroTail(gpa uint64) {
	end := (gpa + abi.PageSize - 1) &^ (abi.PageSize - 1)
	tail := m.b[gpa:end]
	for _, c := range tail {
		if c != 0 {
			clear(tail)
			return
		}
	}
}
