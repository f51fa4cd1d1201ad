// Package image opens and validates a mote image: an ELF64 x86-64
// executable carrying a mote ABI note (see package abi).
package image

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/motevm/mote/abi"
)

// Segment is one PT_LOAD segment, loaded at guest-physical address Vaddr:
// Filesz bytes from file offset Off, then zeros (bss) up to Memsz.
type Segment struct {
	Vaddr  uint64
	Memsz  uint64
	Off    uint64
	Filesz uint64
	Flags  elf.ProgFlag
}

// Image is an opened, validated mote image.
type Image struct {
	Path     string
	Segments []Segment
	Note     abi.Note
	Config   abi.Config // baked args, env and working directory (empty if the image has none)
	// Files says where the sealed files' archive lies in the file (the
	// NoteTypeFiles note, checked to lie inside it); Len 0: no archive.
	// ReadFiles reads it.
	Files abi.FilesNote
	// Lazy are the demand-zero ranges (abi.NoteTypeLazy), checked to lie
	// in the zero-filled part of a segment.
	Lazy  []abi.LazyRange
	Start uint64 // lowest segment vaddr
	End   uint64 // highest segment vaddr+memsz (not rounded)

	r    io.ReaderAt // the file
	size uint64
	file *os.File // nil for Parse

	symOnce sync.Once
	syms    []Symbol
	lines   *lineTable
}

// Open opens and validates the image at path. Its errors are one sentence
// meant for the user. Segment contents are read on demand (ReadSegment);
// Close releases the file.
func Open(path string) (*Image, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot read %s: %v", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (not a mote image)", path)
	}
	img, err := parse(path, f, uint64(st.Size()))
	if err != nil {
		f.Close()
		return nil, err
	}
	img.file = f
	return img, nil
}

// Parse validates an image held in memory; name is used in messages.
func Parse(name string, raw []byte) (*Image, error) {
	return parse(name, bytes.NewReader(raw), uint64(len(raw)))
}

// File is the open image file (nil for an image from Parse), for callers
// that map its pages instead of reading them.
func (img *Image) File() *os.File { return img.file }

// Close closes the image file.
func (img *Image) Close() error {
	if img.file != nil {
		return img.file.Close()
	}
	return nil
}

// ReadSegment reads the file bytes of s into dst (len(dst) >= s.Filesz).
func (img *Image) ReadSegment(s Segment, dst []byte) error {
	if uint64(len(dst)) < s.Filesz {
		return errors.New("image: ReadSegment: short buffer")
	}
	n, err := img.r.ReadAt(dst[:s.Filesz], int64(s.Off))
	if uint64(n) == s.Filesz {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%s is truncated or corrupt", img.Path)
	}
	return fmt.Errorf("cannot read %s: %v", img.Path, err)
}

// ReadFiles reads the sealed files' archive into dst (len(dst) >=
// img.Files.Len). It does not check the archive (abi.CheckFiles does).
func (img *Image) ReadFiles(dst []byte) error {
	n := img.Files.Len
	if uint64(len(dst)) < n {
		return errors.New("image: ReadFiles: short buffer")
	}
	if n == 0 {
		return nil
	}
	got, err := img.r.ReadAt(dst[:n], int64(img.Files.Off))
	if uint64(got) == n {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("%s is truncated or corrupt", img.Path)
	}
	return fmt.Errorf("cannot read %s: %v", img.Path, err)
}

func parse(path string, r io.ReaderAt, size uint64) (*Image, error) {
	var hdr [20]byte
	n, _ := r.ReadAt(hdr[:], 0)
	raw := hdr[:n]
	if len(raw) < 4 || string(raw[:4]) != elf.ELFMAG {
		return nil, fmt.Errorf("%s is not an ELF file (not a mote image)", path)
	}
	corrupt := fmt.Errorf("%s is truncated or corrupt", path)
	if len(raw) < 20 {
		return nil, corrupt
	}
	if elf.Class(raw[elf.EI_CLASS]) != elf.ELFCLASS64 {
		return nil, fmt.Errorf("%s is a 32-bit ELF file, not a mote image (mote images are 64-bit x86-64)", path)
	}
	if elf.Data(raw[elf.EI_DATA]) != elf.ELFDATA2LSB {
		return nil, fmt.Errorf("%s is a big-endian ELF file, not a mote image (mote images are x86-64)", path)
	}
	if m := elf.Machine(binary.LittleEndian.Uint16(raw[18:])); m != elf.EM_X86_64 {
		return nil, fmt.Errorf("%s is an ELF file for %v, not a mote image (mote images are x86-64)", path, m)
	}
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, corrupt
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC {
		return nil, fmt.Errorf("%s is not an executable ELF file (not a mote image)", path)
	}

	img := &Image{Path: path, r: r, size: size}
	haveNote := false
	var cfgDesc []byte
	for _, p := range f.Progs {
		if p.Off > size || p.Filesz > size-p.Off {
			return nil, corrupt
		}
		switch p.Type {
		case elf.PT_NOTE:
			if p.Filesz > 1<<20 {
				return nil, corrupt
			}
			buf := make([]byte, p.Filesz)
			if _, err := r.ReadAt(buf, int64(p.Off)); err != nil {
				return nil, corrupt
			}
			notes, ok := parseNotes(buf)
			if !ok {
				return nil, corrupt
			}
			for _, n := range notes {
				if n.name != abi.NoteName {
					continue
				}
				switch n.typ {
				case abi.NoteTypeABI:
					note, err := abi.DecodeNote(n.desc)
					if note.Version != abi.Version && len(n.desc) >= 4 {
						return nil, fmt.Errorf("%s was built for mote ABI v%d, this monitor speaks v%d; rebuild it with this mote", path, note.Version, abi.Version)
					}
					if err != nil {
						return nil, corrupt
					}
					img.Note, haveNote = note, true
				case abi.NoteTypeConfig:
					cfgDesc = n.desc
				case abi.NoteTypeFiles:
					fn, err := abi.DecodeFilesNote(n.desc)
					// The archive lies inside the file and holds at
					// least its header; it is read on demand.
					if err != nil || fn.Off > size || fn.Len > size-fn.Off || fn.Len < abi.FilesHeaderSize || img.Files.Len != 0 {
						return nil, corrupt
					}
					img.Files = fn
				case abi.NoteTypeLazy:
					lazy, err := abi.DecodeLazy(n.desc)
					if err != nil || img.Lazy != nil {
						return nil, corrupt
					}
					img.Lazy = lazy
				}
			}
		case elf.PT_LOAD:
			if p.Memsz == 0 {
				continue
			}
			if p.Filesz > p.Memsz {
				return nil, corrupt
			}
			img.Segments = append(img.Segments, Segment{
				Vaddr: p.Vaddr, Memsz: p.Memsz, Flags: p.Flags, Off: p.Off, Filesz: p.Filesz,
			})
		}
	}
	if !haveNote {
		return nil, fmt.Errorf("%s is not a mote image (no mote note; build it with `mote build`)", path)
	}
	if cfgDesc != nil {
		c, err := abi.DecodeConfig(cfgDesc)
		if err != nil {
			return nil, fmt.Errorf("%s has a corrupt mote config note", path)
		}
		img.Config = c
	}
	if err := img.checkLayout(); err != nil {
		return nil, err
	}
	return img, nil
}

// checkLayout rejects segments outside [abi.ImageBase, abi.MaxMemory),
// overlapping each other, and entry points outside the image.
func (img *Image) checkLayout() error {
	if len(img.Segments) == 0 {
		return fmt.Errorf("%s has no loadable segments (not a mote image)", img.Path)
	}
	img.Start, img.End = ^uint64(0), 0
	for i, s := range img.Segments {
		end := s.Vaddr + s.Memsz
		if s.Vaddr < abi.ImageBase || end < s.Vaddr || end > abi.MaxMemory {
			return fmt.Errorf("%s has a segment at %#x-%#x outside the image area [%#x, %#x) (not built by `mote build`?)", img.Path, s.Vaddr, end, abi.ImageBase, abi.MaxMemory)
		}
		for _, o := range img.Segments[:i] {
			if s.Vaddr < o.Vaddr+o.Memsz && o.Vaddr < end {
				return fmt.Errorf("%s has overlapping segments at %#x and %#x", img.Path, o.Vaddr, s.Vaddr)
			}
		}
		img.Start = min(img.Start, s.Vaddr)
		img.End = max(img.End, end)
	}
	for _, r := range img.Lazy {
		in := false
		for _, s := range img.Segments {
			in = in || (r.Start >= s.Vaddr+s.Filesz && r.End <= s.Vaddr+s.Memsz)
		}
		if !in {
			return fmt.Errorf("%s has a demand-zero range %#x-%#x outside its bss (corrupt mote note)", img.Path, r.Start, r.End)
		}
	}
	for _, a := range []struct {
		name string
		va   uint64
	}{{"entry", img.Note.Entry}, {"vector", img.Note.Vectors}, {"syscall trap", img.Note.SyscallTrap}} {
		if a.va < img.Start || a.va >= img.End {
			return fmt.Errorf("%s has its %s point %#x outside the image (corrupt mote note)", img.Path, a.name, a.va)
		}
	}
	return nil
}

type note struct {
	name string
	typ  uint32
	desc []byte
}

// parseNotes splits the contents of a PT_NOTE segment (4-byte aligned entries).
func parseNotes(b []byte) ([]note, bool) {
	var out []note
	align := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for len(b) > 0 {
		if len(b) < 12 {
			return nil, false
		}
		namesz := uint64(binary.LittleEndian.Uint32(b[0:]))
		descsz := uint64(binary.LittleEndian.Uint32(b[4:]))
		typ := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		if align(namesz) > uint64(len(b)) {
			return nil, false
		}
		name := b[:namesz]
		b = b[align(namesz):]
		if descsz > uint64(len(b)) {
			return nil, false
		}
		desc := b[:descsz]
		b = b[min(align(descsz), uint64(len(b))):]
		out = append(out, note{name: string(bytes.TrimRight(name, "\x00")), typ: typ, desc: desc})
	}
	return out, true
}
