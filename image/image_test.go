package image_test

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image"
	"github.com/motevm/mote/image/imagetest"
)

func goodSpec() imagetest.Spec {
	code := make([]byte, 0x100)
	return imagetest.Spec{
		Segments: []imagetest.Segment{{Vaddr: 0x400000, Data: code, Memsz: 0x3000}},
		Note:     &abi.Note{Version: abi.Version, Entry: 0x400000, Vectors: 0x400010, VectorStride: 16, SyscallTrap: 0x400020},
		Config:   &abi.Config{Args: []string{"-v"}, Env: []string{"A=1"}},
		Syms:     []imagetest.Sym{{Name: "mote_start", Addr: 0x400000, Size: 0x10}, {Name: "mote_vectors", Addr: 0x400010, Size: 0x10}, {Name: "main.main", Addr: 0x400040, Size: 0x40}},
	}
}

func write(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "x.img")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenGood(t *testing.T) {
	p := write(t, imagetest.Build(goodSpec()))
	img, err := image.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if img.Start != 0x400000 || img.End != 0x403000 || len(img.Segments) != 1 || img.Segments[0].Filesz != 0x100 {
		t.Fatalf("bad layout: %+v", img)
	}
	defer img.Close()
	buf := make([]byte, 0x100)
	if err := img.ReadSegment(img.Segments[0], buf); err != nil {
		t.Fatal(err)
	}
	if img.Note.Entry != 0x400000 || img.Note.VectorStride != 16 {
		t.Fatalf("note %+v", img.Note)
	}
	if strings.Join(img.Config.Args, ",") != "-v" || strings.Join(img.Config.Env, ",") != "A=1" {
		t.Fatalf("config %+v", img.Config)
	}
	if n, off := img.Symbolize(0x400048); n != "main.main" || off != 8 {
		t.Fatalf("Symbolize = %q+%d", n, off)
	}
	if n, _ := img.Symbolize(0x400030); n != "" {
		t.Fatalf("Symbolize in a gap = %q", n)
	}
	if n, _ := img.Symbolize(0x100); n != "" {
		t.Fatalf("Symbolize below = %q", n)
	}
}

func TestOpenErrors(t *testing.T) {
	good := imagetest.Build(goodSpec())
	noNote := goodSpec()
	noNote.Note = nil
	badVer := goodSpec()
	badVer.Note = &abi.Note{Version: abi.Version + 41, Entry: 0x400000, Vectors: 0x400000, SyscallTrap: 0x400000}
	arm := goodSpec()
	arm.Machine = elf.EM_AARCH64
	low := goodSpec()
	low.Segments = []imagetest.Segment{{Vaddr: 0x80000, Data: make([]byte, 16)}}
	overlap := goodSpec()
	overlap.Segments = append(overlap.Segments, imagetest.Segment{Vaddr: 0x401000, Data: make([]byte, 16)})
	elf32 := append([]byte(nil), good...)
	elf32[elf.EI_CLASS] = byte(elf.ELFCLASS32)

	cases := []struct {
		name string
		data []byte // nil: missing file
		want string
	}{
		{"missing", nil, ": no such file"},
		{"not ELF", []byte("#!/bin/sh\necho hi\n"), "is not an ELF file (not a mote image)"},
		{"empty", []byte{}, "is not an ELF file (not a mote image)"},
		{"ELF32", elf32, "32-bit ELF"},
		{"arm64", imagetest.Build(arm), "not a mote image (mote images are x86-64)"},
		{"no note", imagetest.Build(noNote), "is not a mote image (no mote note; build it with `mote build`)"},
		{"wrong version", imagetest.Build(badVer), fmt.Sprintf("was built for mote ABI v%d, this monitor speaks v%d; rebuild it with this mote", abi.Version+41, abi.Version)},
		{"truncated header", good[:40], "is truncated or corrupt"},
		{"truncated segment", good[:0x200], "is truncated or corrupt"},
		{"low segment", imagetest.Build(low), "outside the image area"},
		{"overlap", imagetest.Build(overlap), "overlapping segments"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "x.img")
			if c.data != nil {
				p = write(t, c.data)
			}
			_, err := image.Open(p)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: got %v, want %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), p) {
				t.Fatalf("error does not start with the path: %v", err)
			}
		})
	}
}

func TestOpenFiles(t *testing.T) {
	ar, err := abi.EncodeFiles([]abi.SealedFile{
		{Path: "/srv/a.txt", Mode: abi.ModeReg | 0o644, Data: []byte("hello"), Mtime: 42},
		{Path: "/srv/l", Mode: abi.ModeSymlink | 0o777, Data: []byte("a.txt")},
	})
	if err != nil {
		t.Fatal(err)
	}
	spec := goodSpec()
	spec.Config.Dir = "/srv"
	p := write(t, imagetest.WithFiles(imagetest.Build(spec), ar, nil))
	img, err := image.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Files.Len != uint64(len(ar)) || img.Files.Off%4096 != 0 || img.Config.Dir != "/srv" {
		t.Fatalf("files %+v, config %+v", img.Files, img.Config)
	}
	if err := img.ReadFiles(make([]byte, len(ar)-1)); err == nil {
		t.Error("ReadFiles into a short buffer")
	}
	buf := make([]byte, len(ar))
	if err := img.ReadFiles(buf); err != nil {
		t.Fatal(err)
	}
	files, err := abi.DecodeFiles(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 || files[1].Path != "/srv/a.txt" || string(files[1].Data) != "hello" || files[1].Mtime != 42 ||
		files[2].Path != "/srv/l" || string(files[2].Data) != "a.txt" {
		t.Fatalf("files %+v", files)
	}

	// An image without files.
	img2, err := image.Open(write(t, imagetest.Build(goodSpec())))
	if err != nil {
		t.Fatal(err)
	}
	defer img2.Close()
	if img2.Files != (abi.FilesNote{}) || img2.ReadFiles(nil) != nil {
		t.Fatalf("files %+v", img2.Files)
	}

	// A files note that does not describe bytes of the file.
	good := imagetest.Build(goodSpec())
	for name, fix := range map[string]func(*abi.FilesNote){
		"beyond the end":        func(n *abi.FilesNote) { n.Off += 1 << 20 },
		"too long":              func(n *abi.FilesNote) { n.Len++ },
		"wraps":                 func(n *abi.FilesNote) { n.Len = ^uint64(0) - n.Off + 2 },
		"offset wraps":          func(n *abi.FilesNote) { n.Off = ^uint64(0) },
		"shorter than a header": func(n *abi.FilesNote) { n.Len = abi.FilesHeaderSize - 1 },
	} {
		p := write(t, imagetest.WithFiles(good, ar, fix))
		if _, err := image.Open(p); err == nil || err.Error() != p+" is truncated or corrupt" {
			t.Errorf("%s: Open = %v", name, err)
		}
	}
	// Truncated: the archive is cut short.
	full := imagetest.WithFiles(good, ar, nil)
	p = write(t, full[:len(full)-1])
	if _, err := image.Open(p); err == nil || err.Error() != p+" is truncated or corrupt" {
		t.Errorf("truncated archive: Open = %v", err)
	}
}

func TestOpenLazy(t *testing.T) {
	spec := goodSpec() // bss is [0x400100, 0x403000)
	for _, c := range []struct {
		name   string
		ranges []abi.LazyRange
		desc   []byte
		want   string // "" : accepted
	}{
		{"in bss", []abi.LazyRange{{Start: 0x401000, End: 0x403000}}, nil, ""},
		{"over data", []abi.LazyRange{{Start: 0x400000, End: 0x402000}}, nil, "outside its bss"},
		{"past the end", []abi.LazyRange{{Start: 0x402000, End: 0x404000}}, nil, "outside its bss"},
		{"unaligned", []abi.LazyRange{{Start: 0x401100, End: 0x403000}}, nil, "corrupt"},
		{"unsorted", []abi.LazyRange{{Start: 0x402000, End: 0x403000}, {Start: 0x401000, End: 0x402000}}, nil, "corrupt"},
		{"too many", make([]abi.LazyRange, abi.MaxLazy+1), nil, "corrupt"},
		{"odd size", nil, make([]byte, 12), "corrupt"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec.Lazy = c.desc
			if c.desc == nil {
				spec.Lazy = abi.EncodeLazy(c.ranges)
			}
			img, err := image.Open(write(t, imagetest.Build(spec)))
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer img.Close()
				if len(img.Lazy) != len(c.ranges) || img.Lazy[0] != c.ranges[0] {
					t.Fatalf("Lazy %v, want %v", img.Lazy, c.ranges)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v, want an error with %q", err, c.want)
			}
		})
	}
}
