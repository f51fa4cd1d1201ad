package build

import (
	"bytes"
	"cmp"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/motevm/mote/abi"
)

// NoteSection is the name of the section header added for the mote notes.
const NoteSection = ".note.mote"

// FilesSection is the name of the section header added for the sealed
// files' archive (the NoteTypeFiles note says where it is).
const FilesSection = ".mote.files"

// filesAlign is the file alignment of the sealed files' archive.
const filesAlign = 4096

// VectorStride is the distance between the library OS's vector stubs.
const VectorStride = 16

// entrySymbols looks up the library OS entry points in the symbol table of a
// linked program and returns the ABI note for it.
func entrySymbols(f *elf.File) (abi.Note, error) {
	syms, err := f.Symbols()
	if err != nil {
		return abi.Note{}, errors.New("mote build: library OS entry symbols missing (the linked program has no symbol table)")
	}
	want := map[string]uint64{abi.SymEntry: 0, abi.SymVectors: 0, abi.SymSyscallTrap: 0}
	found := 0
	for _, s := range syms {
		if v, ok := want[s.Name]; ok && v == 0 && elf.ST_TYPE(s.Info) != elf.STT_FILE && s.Value != 0 {
			want[s.Name] = s.Value
			found++
		}
	}
	if found != len(want) {
		var missing []string
		for _, name := range []string{abi.SymEntry, abi.SymVectors, abi.SymSyscallTrap} {
			if want[name] == 0 {
				missing = append(missing, name)
			}
		}
		return abi.Note{}, fmt.Errorf("mote build: library OS entry symbols missing (%s)", joinComma(missing))
	}
	return abi.Note{
		Version:      abi.Version,
		Entry:        want[abi.SymEntry],
		Vectors:      want[abi.SymVectors],
		VectorStride: VectorStride,
		SyscallTrap:  want[abi.SymSyscallTrap],
	}, nil
}

func joinComma(s []string) string {
	var b bytes.Buffer
	for i, x := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(x)
	}
	return b.String()
}

// encodeNote returns one ELF note entry (namesz, descsz, type, name, desc),
// with name and desc padded to 4 bytes.
func encodeNote(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	var hdr [12]byte
	binary.LittleEndian.PutUint32(hdr[0:], uint32(len(name)+1))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(hdr[8:], typ)
	b.Write(hdr[:])
	b.WriteString(name)
	b.WriteByte(0)
	pad4(&b)
	b.Write(desc)
	pad4(&b)
	return b.Bytes()
}

func pad4(b *bytes.Buffer) {
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
}

// kernelPkg is the library OS's import path, whose data lazyRanges leaves alone.
const kernelPkg = "github.com/motevm/mote/kernel"

// moteNotes returns the contents of the mote PT_NOTE segment.
func moteNotes(n abi.Note, cfg abi.Config, lazy []abi.LazyRange) []byte {
	out := encodeNote(abi.NoteName, abi.NoteTypeABI, n.Encode())
	out = append(out, encodeNote(abi.NoteName, abi.NoteTypeConfig, cfg.Encode())...)
	if len(lazy) > 0 {
		out = append(out, encodeNote(abi.NoteName, abi.NoteTypeLazy, abi.EncodeLazy(lazy))...)
	}
	return out
}

const (
	ehdrSize = 64
	phdrSize = 56
	shdrSize = 64
)

// addNoteSegment returns a copy of the ELF64 executable img with notes added
// as a new PT_NOTE segment (and a section NoteSection), and the sealed
// files' archive files, if not nil, after them.
//
// Go's linker leaves the first page of the file to the headers: the ELF
// header, the program headers, then the section header table, then the
// build ID notes just below .text. The section header table is moved to the
// end of the file, which frees room for one more program header right after
// the existing ones; the notes are appended to the file. With files, the
// notes end with a NoteTypeFiles note, and the archive follows them at a
// filesAlign-aligned file offset (with a section FilesSection), before the
// section header table. Nothing that is loaded moves.
func addNoteSegment(img []byte, notes []byte, files []byte) ([]byte, error) {
	bad := func(why string) error {
		return fmt.Errorf("mote build: cannot add the mote note to the linked program: %s", why)
	}
	if len(img) < ehdrSize || !bytes.Equal(img[:4], []byte(elf.ELFMAG)) ||
		elf.Class(img[elf.EI_CLASS]) != elf.ELFCLASS64 || elf.Data(img[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, bad("not a little-endian ELF64 file")
	}
	le := binary.LittleEndian
	phoff := le.Uint64(img[0x20:])
	shoff := le.Uint64(img[0x28:])
	phentsize := le.Uint16(img[0x36:])
	phnum := int(le.Uint16(img[0x38:]))
	shentsize := le.Uint16(img[0x3a:])
	shnum := int(le.Uint16(img[0x3c:]))
	shstrndx := int(le.Uint16(img[0x3e:]))
	if phentsize != phdrSize || (shnum > 0 && shentsize != shdrSize) {
		return nil, bad("unexpected header sizes")
	}
	if phoff < ehdrSize || phoff+uint64(phnum)*phdrSize > uint64(len(img)) ||
		shoff+uint64(shnum)*shdrSize > uint64(len(img)) || shstrndx >= shnum && shnum > 0 {
		return nil, bad("headers out of range")
	}

	out := make([]byte, len(img), len(img)+len(notes)+len(files)+(shnum+2)*shdrSize+2*filesAlign)
	copy(out, img)

	// Free the old section header table if it sits in the header area.
	phEnd := phoff + uint64(phnum)*phdrSize
	newPhEnd := phEnd + phdrSize
	shEnd := shoff + uint64(shnum)*shdrSize

	// The lowest file offset used by any section or segment other than the
	// headers themselves: the new program header must end before it.
	limit := uint64(len(img))
	for i := 1; i < shnum; i++ {
		sh := img[shoff+uint64(i)*shdrSize:]
		typ := elf.SectionType(le.Uint32(sh[4:]))
		off, size := le.Uint64(sh[0x18:]), le.Uint64(sh[0x20:])
		if typ == elf.SHT_NOBITS || size == 0 {
			continue
		}
		if off < limit {
			limit = off
		}
	}
	for i := 0; i < phnum; i++ {
		ph := img[phoff+uint64(i)*phdrSize:]
		typ := elf.ProgType(le.Uint32(ph[0:]))
		off, filesz := le.Uint64(ph[8:]), le.Uint64(ph[0x20:])
		if typ == elf.PT_PHDR || filesz == 0 || off == 0 {
			continue // PT_PHDR and segments that start at 0 include the headers
		}
		if off < limit {
			limit = off
		}
	}
	if shnum > 0 && shoff >= phEnd && shoff < limit {
		// Moved below; clear it so the header area holds no stale data.
		clear(out[shoff:shEnd])
	}
	if newPhEnd > limit {
		return nil, bad("no room for another program header")
	}
	for _, c := range out[phEnd:newPhEnd] {
		if c != 0 {
			return nil, bad("the bytes after the program headers are in use")
		}
	}

	// Notes at the end of the file, 4-byte aligned; then the archive.
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	noteOff := uint64(len(out))
	var filesOff uint64
	if files != nil {
		desc := make([]byte, abi.FilesNoteSize)
		end := noteOff + uint64(len(notes)) + uint64(len(encodeNote(abi.NoteName, abi.NoteTypeFiles, desc)))
		filesOff = (end + filesAlign - 1) &^ (filesAlign - 1)
		desc = abi.FilesNote{Off: filesOff, Len: uint64(len(files))}.Encode()
		notes = append(notes[:len(notes):len(notes)], encodeNote(abi.NoteName, abi.NoteTypeFiles, desc)...)
	}
	out = append(out, notes...)
	if files != nil {
		if uint64(len(out)) > filesOff {
			return nil, bad("internal error: the notes overrun the sealed files")
		}
		out = append(out, make([]byte, filesOff-uint64(len(out)))...)
		out = append(out, files...)
	}

	// New program header.
	ph := out[phEnd:newPhEnd]
	le.PutUint32(ph[0:], uint32(elf.PT_NOTE))
	le.PutUint32(ph[4:], uint32(elf.PF_R))
	le.PutUint64(ph[8:], noteOff)
	le.PutUint64(ph[0x10:], 0) // vaddr: not loaded
	le.PutUint64(ph[0x18:], 0) // paddr
	le.PutUint64(ph[0x20:], uint64(len(notes)))
	le.PutUint64(ph[0x28:], uint64(len(notes)))
	le.PutUint64(ph[0x30:], 4)
	le.PutUint16(out[0x38:], uint16(phnum+1))
	for i := 0; i < phnum; i++ {
		p := out[phoff+uint64(i)*phdrSize:]
		if elf.ProgType(le.Uint32(p[0:])) == elf.PT_PHDR {
			le.PutUint64(p[0x20:], uint64(phnum+1)*phdrSize)
			le.PutUint64(p[0x28:], uint64(phnum+1)*phdrSize)
		}
	}

	if shnum == 0 {
		return out, nil
	}

	// New section name table: the old one plus NoteSection.
	oldStr := img[shoff+uint64(shstrndx)*shdrSize:]
	strOff, strSize := le.Uint64(oldStr[0x18:]), le.Uint64(oldStr[0x20:])
	if strOff+strSize > uint64(len(img)) {
		return nil, bad("section name table out of range")
	}
	newStrOff := uint64(len(out))
	out = append(out, img[strOff:strOff+strSize]...)
	nameIdx := strSize
	out = append(out, NoteSection...)
	out = append(out, 0)
	filesNameIdx := uint64(len(out)) - newStrOff
	if files != nil {
		out = append(out, FilesSection...)
		out = append(out, 0)
	}
	newStrSize := uint64(len(out)) - newStrOff

	// Section header table at the end, 8-byte aligned, with one more entry.
	for len(out)%8 != 0 {
		out = append(out, 0)
	}
	newShoff := uint64(len(out))
	out = append(out, img[shoff:shEnd]...)
	var sh [shdrSize]byte
	le.PutUint32(sh[0:], uint32(nameIdx))
	le.PutUint32(sh[4:], uint32(elf.SHT_NOTE))
	le.PutUint64(sh[8:], 0) // flags: not allocated
	le.PutUint64(sh[0x10:], 0)
	le.PutUint64(sh[0x18:], noteOff)
	le.PutUint64(sh[0x20:], uint64(len(notes)))
	le.PutUint64(sh[0x30:], 4)
	out = append(out, sh[:]...)
	newShnum := shnum + 1
	if files != nil {
		var sh [shdrSize]byte
		le.PutUint32(sh[0:], uint32(filesNameIdx))
		le.PutUint32(sh[4:], uint32(elf.SHT_PROGBITS))
		le.PutUint64(sh[8:], 0) // flags: not allocated
		le.PutUint64(sh[0x18:], filesOff)
		le.PutUint64(sh[0x20:], uint64(len(files)))
		le.PutUint64(sh[0x30:], filesAlign)
		out = append(out, sh[:]...)
		newShnum++
	}
	str := out[newShoff+uint64(shstrndx)*shdrSize:]
	le.PutUint64(str[0x18:], newStrOff)
	le.PutUint64(str[0x20:], newStrSize)
	le.PutUint64(out[0x28:], newShoff)
	le.PutUint16(out[0x3c:], uint16(newShnum))
	return out, nil
}

// lazyRanges lists the image's demand-zero ranges (see abi.NoteTypeLazy):
// the page-aligned interiors of the .noptrbss symbols of at least
// abi.LazyMin bytes, except the library OS's and the runtime's own (the
// kernel touches its data without taking faults). Adjacent ranges are
// merged; the abi.MaxLazy largest are kept, sorted by address.
func lazyRanges(f *elf.File) []abi.LazyRange {
	sec := f.Section(".noptrbss")
	syms, err := f.Symbols()
	if sec == nil || err != nil {
		return nil
	}
	var rs []abi.LazyRange
	for _, s := range syms {
		if s.Size < abi.LazyMin || int(s.Section) >= len(f.Sections) || f.Sections[s.Section] != sec ||
			strings.HasPrefix(s.Name, "runtime.") || strings.HasPrefix(s.Name, kernelPkg+".") {
			continue
		}
		start := (s.Value + abi.PageSize - 1) &^ (abi.PageSize - 1)
		end := (s.Value + s.Size) &^ (abi.PageSize - 1)
		if start < end && start >= sec.Addr && end <= sec.Addr+sec.Size {
			rs = append(rs, abi.LazyRange{Start: start, End: end})
		}
	}
	slices.SortFunc(rs, func(a, b abi.LazyRange) int { return cmp.Compare(a.Start, b.Start) })
	var merged []abi.LazyRange
	for _, r := range rs {
		if n := len(merged); n > 0 && r.Start <= merged[n-1].End {
			merged[n-1].End = max(merged[n-1].End, r.End)
			continue
		}
		merged = append(merged, r)
	}
	if len(merged) > abi.MaxLazy {
		slices.SortFunc(merged, func(a, b abi.LazyRange) int { return cmp.Compare(b.End-b.Start, a.End-a.Start) })
		merged = merged[:abi.MaxLazy]
		slices.SortFunc(merged, func(a, b abi.LazyRange) int { return cmp.Compare(a.Start, b.Start) })
	}
	return merged
}
