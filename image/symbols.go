package image

import (
	"debug/elf"
	"debug/gosym"
	"sort"
)

// Symbol is one function or data symbol of the image.
type Symbol struct {
	Name string
	Addr uint64
	Size uint64
}

type lineTable struct{ t *gosym.Table }

// Symbols returns the image's symbol table sorted by address (loaded on
// first use; empty if the image is stripped).
func (img *Image) Symbols() []Symbol {
	img.symOnce.Do(img.loadSymbols)
	return img.syms
}

func (img *Image) loadSymbols() {
	f, err := elf.NewFile(img.r)
	if err != nil {
		return
	}
	defer f.Close()
	if syms, err := f.Symbols(); err == nil {
		for _, s := range syms {
			switch elf.ST_TYPE(s.Info) {
			case elf.STT_FUNC, elf.STT_OBJECT, elf.STT_NOTYPE:
			default:
				continue
			}
			if s.Name == "" || s.Value == 0 || s.Section == elf.SHN_UNDEF {
				continue
			}
			img.syms = append(img.syms, Symbol{Name: s.Name, Addr: s.Value, Size: s.Size})
		}
		sort.SliceStable(img.syms, func(i, j int) bool { return img.syms[i].Addr < img.syms[j].Addr })
	}
	// Go's pc-line table, for file:line (optional).
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return
	}
	data, err := pcln.Data()
	if err != nil {
		return
	}
	if t, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr)); err == nil {
		img.lines = &lineTable{t}
	}
}

// Symbolize returns the symbol containing addr and addr's offset in it, or
// "" if none does.
func (img *Image) Symbolize(addr uint64) (name string, off uint64) {
	syms := img.Symbols()
	i := sort.Search(len(syms), func(i int) bool { return syms[i].Addr > addr }) - 1
	if i < 0 {
		return "", 0
	}
	s := syms[i]
	if s.Size != 0 && addr-s.Addr >= s.Size {
		return "", 0
	}
	if addr >= img.End {
		return "", 0
	}
	return s.Name, addr - s.Addr
}

// FileLine returns the Go source position of pc, if the image has a Go
// pc-line table covering it.
func (img *Image) FileLine(pc uint64) (file string, line int, ok bool) {
	img.Symbols()
	if img.lines == nil {
		return "", 0, false
	}
	defer func() {
		if recover() != nil { // a corrupt table must not take the monitor down
			ok = false
		}
	}()
	file, line, fn := img.lines.t.PCToLine(pc)
	return file, line, fn != nil && line != 0
}
