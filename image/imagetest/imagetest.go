// Package imagetest writes minimal mote images (ELF64 x86-64 with a mote
// note) for tests of the image loader and the monitor.
package imagetest

import (
	"debug/elf"
	"encoding/binary"

	"github.com/motevm/mote/abi"
)

// Segment is a PT_LOAD segment; Memsz 0 means len(Data).
type Segment struct {
	Vaddr uint64
	Data  []byte
	Memsz uint64
}

// Sym is a function symbol written to .symtab.
type Sym struct {
	Name       string
	Addr, Size uint64
}

// Spec describes the image to write.
type Spec struct {
	Segments []Segment
	Note     *abi.Note   // nil: no ABI note
	NoteDesc []byte      // if set, written as the ABI note descriptor instead of Note.Encode()
	Config   *abi.Config // optional config note
	Lazy     []byte      // optional demand-zero note descriptor (abi.EncodeLazy)
	Syms     []Sym
	Machine  elf.Machine // 0: EM_X86_64
}

var le = binary.LittleEndian

// Build returns the ELF file bytes.
func Build(s Spec) []byte {
	type rawNote struct {
		typ  uint32
		desc []byte
	}
	var notes []rawNote
	if s.Note != nil || s.NoteDesc != nil {
		d := s.NoteDesc
		if d == nil {
			d = s.Note.Encode()
		}
		notes = append(notes, rawNote{abi.NoteTypeABI, d})
	}
	if s.Config != nil {
		notes = append(notes, rawNote{abi.NoteTypeConfig, s.Config.Encode()})
	}
	if s.Lazy != nil {
		notes = append(notes, rawNote{abi.NoteTypeLazy, s.Lazy})
	}
	var noteBuf []byte
	for _, n := range notes {
		name := append([]byte(abi.NoteName), 0)
		noteBuf = le.AppendUint32(noteBuf, uint32(len(name)))
		noteBuf = le.AppendUint32(noteBuf, uint32(len(n.desc)))
		noteBuf = le.AppendUint32(noteBuf, n.typ)
		noteBuf = append(noteBuf, pad4(name)...)
		noteBuf = append(noteBuf, pad4(n.desc)...)
	}

	nph := len(s.Segments)
	if len(noteBuf) > 0 {
		nph++
	}
	out := make([]byte, 64+56*nph)
	phoff := 64
	ph := func(i int, typ elf.ProgType, flags elf.ProgFlag, off, va, filesz, memsz, align uint64) {
		p := out[phoff+56*i:]
		le.PutUint32(p[0:], uint32(typ))
		le.PutUint32(p[4:], uint32(flags))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], va)
		le.PutUint64(p[24:], va)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], align)
	}
	for i, seg := range s.Segments {
		// Keep offset and vaddr congruent modulo the page size, as linkers do.
		for uint64(len(out))%4096 != seg.Vaddr%4096 {
			out = append(out, 0)
		}
		memsz := seg.Memsz
		if memsz == 0 {
			memsz = uint64(len(seg.Data))
		}
		ph(i, elf.PT_LOAD, elf.PF_R|elf.PF_W|elf.PF_X, uint64(len(out)), seg.Vaddr, uint64(len(seg.Data)), memsz, 4096)
		out = append(out, seg.Data...)
	}
	if len(noteBuf) > 0 {
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		ph(nph-1, elf.PT_NOTE, elf.PF_R, uint64(len(out)), 0, uint64(len(noteBuf)), uint64(len(noteBuf)), 4)
		out = append(out, noteBuf...)
	}

	var shoff uint64
	var shnum, shstrndx uint16
	if len(s.Syms) > 0 {
		strtab := []byte{0}
		symtab := make([]byte, 24) // null symbol
		for _, sym := range s.Syms {
			e := make([]byte, 24)
			le.PutUint32(e[0:], uint32(len(strtab)))
			e[4] = byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_FUNC)
			le.PutUint16(e[6:], uint16(elf.SHN_ABS))
			le.PutUint64(e[8:], sym.Addr)
			le.PutUint64(e[16:], sym.Size)
			symtab = append(symtab, e...)
			strtab = append(append(strtab, sym.Name...), 0)
		}
		shstr := []byte("\x00.symtab\x00.strtab\x00.shstrtab\x00")
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		symOff := uint64(len(out))
		out = append(out, symtab...)
		strOff := uint64(len(out))
		out = append(out, strtab...)
		shstrOff := uint64(len(out))
		out = append(out, shstr...)
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		shoff = uint64(len(out))
		sh := func(name uint32, typ elf.SectionType, off, size uint64, link, info uint32, entsize uint64) {
			h := make([]byte, 64)
			le.PutUint32(h[0:], name)
			le.PutUint32(h[4:], uint32(typ))
			le.PutUint64(h[24:], off)
			le.PutUint64(h[32:], size)
			le.PutUint32(h[40:], link)
			le.PutUint32(h[44:], info)
			le.PutUint64(h[48:], 1)
			le.PutUint64(h[56:], entsize)
			out = append(out, h...)
		}
		sh(0, elf.SHT_NULL, 0, 0, 0, 0, 0)
		sh(1, elf.SHT_SYMTAB, symOff, uint64(len(symtab)), 2, 1, 24)
		sh(9, elf.SHT_STRTAB, strOff, uint64(len(strtab)), 0, 0, 0)
		sh(17, elf.SHT_STRTAB, shstrOff, uint64(len(shstr)), 0, 0, 0)
		shnum, shstrndx = 4, 3
	}

	m := s.Machine
	if m == 0 {
		m = elf.EM_X86_64
	}
	h := out[:64]
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(h[16:], uint16(elf.ET_EXEC))
	le.PutUint16(h[18:], uint16(m))
	le.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	if s.Note != nil {
		le.PutUint64(h[24:], s.Note.Entry)
	}
	le.PutUint64(h[32:], uint64(phoff))
	le.PutUint64(h[40:], shoff)
	le.PutUint16(h[52:], 64)
	le.PutUint16(h[54:], 56)
	le.PutUint16(h[56:], uint16(nph))
	le.PutUint16(h[58:], 64)
	le.PutUint16(h[60:], shnum)
	le.PutUint16(h[62:], shstrndx)
	return out
}

func pad4(b []byte) []byte {
	out := append([]byte(nil), b...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

// WithFiles returns img (from imagetest.Build: one PT_NOTE) with a
// NoteTypeFiles note added to its notes and archive appended at a
// page-aligned file offset; fix, if set, alters the note's descriptor.
func WithFiles(img, archive []byte, fix func(*abi.FilesNote)) []byte {
	phoff, phnum := le.Uint64(img[0x20:]), int(le.Uint16(img[0x38:]))
	ph := -1
	for i := 0; i < phnum; i++ {
		if elf.ProgType(le.Uint32(img[phoff+uint64(i)*56:])) == elf.PT_NOTE {
			ph = int(phoff) + i*56
		}
	}
	if ph < 0 {
		panic("imagetest: WithFiles: no PT_NOTE")
	}
	off, size := le.Uint64(img[ph+8:]), le.Uint64(img[ph+0x20:])
	notes := append([]byte(nil), img[off:off+size]...)
	out := append([]byte(nil), img...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	noteOff := uint64(len(out))
	fn := abi.FilesNote{Off: (noteOff + uint64(len(notes)) + 12 + 8 + abi.FilesNoteSize + 4095) &^ 4095, Len: uint64(len(archive))}
	if fix != nil {
		fix(&fn)
	}
	notes = le.AppendUint32(notes, 5)
	notes = le.AppendUint32(notes, abi.FilesNoteSize)
	notes = le.AppendUint32(notes, abi.NoteTypeFiles)
	notes = append(notes, "mote\x00\x00\x00\x00"...)
	notes = append(notes, fn.Encode()...)
	out = append(out, notes...)
	for len(out)%4096 != 0 {
		out = append(out, 0)
	}
	out = append(out, archive...)
	le.PutUint64(out[ph+8:], noteOff)
	le.PutUint64(out[ph+0x20:], uint64(len(notes)))
	le.PutUint64(out[ph+0x28:], uint64(len(notes)))
	return out
}
