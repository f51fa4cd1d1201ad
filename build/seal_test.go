package build

import (
	"bytes"
	"debug/elf"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image"
)

// sealedMap decodes an archive into its entries by path.
func sealedMap(t *testing.T, ar []byte) map[string]abi.SealedFile {
	t.Helper()
	files, err := abi.DecodeFiles(ar)
	if err != nil {
		t.Fatalf("DecodeFiles: %v", err)
	}
	m := map[string]abi.SealedFile{}
	for _, f := range files {
		m[f.Path] = f
	}
	return m
}

func checkEntry(t *testing.T, m map[string]abi.SealedFile, p string, mode uint32, data string, mtime time.Time) {
	t.Helper()
	f, ok := m[p]
	if !ok {
		t.Errorf("%s not sealed", p)
		return
	}
	if f.Mode != mode {
		t.Errorf("%s: mode %o, want %o", p, f.Mode, mode)
	}
	if string(f.Data) != data {
		t.Errorf("%s: data %q, want %q", p, f.Data, data)
	}
	if !mtime.IsZero() && f.Mtime != mtime.UnixNano() {
		t.Errorf("%s: mtime %d, want %d", p, f.Mtime, mtime.UnixNano())
	}
}

// makeTree writes a small tree with every kind of entry the archive holds.
func makeTree(t *testing.T, root string) time.Time {
	t.Helper()
	mt := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	writeFiles(t, root, map[string]string{
		"a.txt":               "hello\n",
		"bin/run.sh":          "#!/bin/sh\n",
		"secret":              "s3cr3t",
		"sub/nested/deep.txt": "deep",
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(root, "empty"), 0o700))
	must(os.Chmod(filepath.Join(root, "bin/run.sh"), 0o755))
	must(os.Chmod(filepath.Join(root, "secret"), 0o600))
	must(os.Chmod(filepath.Join(root, "sub"), 0o750))
	must(os.Symlink("sub/nested/deep.txt", filepath.Join(root, "link")))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "sub/abslink")))
	for _, p := range []string{"a.txt", "bin/run.sh", "secret", "sub/nested/deep.txt", "sub/nested", "sub", "empty", "bin", "."} {
		must(os.Chtimes(filepath.Join(root, p), mt, mt))
	}
	return mt
}

func TestSealGather(t *testing.T) {
	base := t.TempDir()
	mt := makeTree(t, filepath.Join(base, "tree"))
	s := newSealer("mote build")
	if err := s.addSpec(SealSpec{Host: "tree", Guest: "/srv/data", Flag: "--dir tree:/srv/data"}, base); err != nil {
		t.Fatal(err)
	}
	if err := s.addSpec(SealSpec{Host: filepath.Join(base, "tree", "a.txt"), Guest: "/etc/app.conf"}, "/nonexistent"); err != nil {
		t.Fatal(err)
	}
	// A second directory merges with the first.
	writeFiles(t, filepath.Join(base, "more"), map[string]string{"m.txt": "more"})
	if err := s.addSpec(SealSpec{Host: "more", Guest: "/srv/data/sub"}, base); err != nil {
		t.Fatal(err)
	}
	ar, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}
	m := sealedMap(t, ar)
	checkEntry(t, m, "/srv", abi.ModeDir|0o755, "", time.Time{})
	checkEntry(t, m, "/srv/data", abi.ModeDir|0o755, "", mt)
	checkEntry(t, m, "/srv/data/a.txt", abi.ModeReg|0o644, "hello\n", mt)
	checkEntry(t, m, "/srv/data/bin", abi.ModeDir|0o755, "", mt)
	checkEntry(t, m, "/srv/data/bin/run.sh", abi.ModeReg|0o755, "#!/bin/sh\n", mt)
	checkEntry(t, m, "/srv/data/secret", abi.ModeReg|0o600, "s3cr3t", mt)
	checkEntry(t, m, "/srv/data/sub", abi.ModeDir|0o750, "", mt)
	checkEntry(t, m, "/srv/data/sub/nested/deep.txt", abi.ModeReg|0o644, "deep", mt)
	checkEntry(t, m, "/srv/data/sub/abslink", abi.ModeSymlink|0o777, "/etc/passwd", time.Time{})
	checkEntry(t, m, "/srv/data/sub/m.txt", abi.ModeReg|0o644, "more", time.Time{})
	checkEntry(t, m, "/srv/data/link", abi.ModeSymlink|0o777, "sub/nested/deep.txt", time.Time{})
	checkEntry(t, m, "/srv/data/empty", abi.ModeDir|0o700, "", mt)
	checkEntry(t, m, "/etc/app.conf", abi.ModeReg|0o644, "hello\n", mt)
	if len(m) != 15 {
		var paths []string
		for p := range m {
			paths = append(paths, p)
		}
		t.Errorf("%d entries, want 15: %v", len(m), paths)
	}
	if s.size != int64(len("hello\n#!/bin/sh\ns3cr3tdeep/etc/passwdmoresub/nested/deep.txthello\n")) {
		t.Errorf("size %d", s.size)
	}

	// A link named by a spec is followed.
	if err := os.Symlink(filepath.Join(base, "tree"), filepath.Join(base, "tl")); err != nil {
		t.Fatal(err)
	}
	s = newSealer("mote build")
	if err := s.addSpec(SealSpec{Host: "tl", Guest: "/x"}, base); err != nil {
		t.Fatal(err)
	}
	ar, err = s.encode()
	if err != nil {
		t.Fatal(err)
	}
	m = sealedMap(t, ar)
	checkEntry(t, m, "/x", abi.ModeDir|0o755, "", mt)
	checkEntry(t, m, "/x/sub/nested/deep.txt", abi.ModeReg|0o644, "deep", mt)

	// Nothing sealed: no archive.
	if ar, err := newSealer("mote build").encode(); ar != nil || err != nil {
		t.Errorf("empty sealer: %v %v", ar, err)
	}
}

func TestSealErrors(t *testing.T) {
	base := t.TempDir()
	makeTree(t, filepath.Join(base, "tree"))
	fifo := filepath.Join(base, "special", "fifo")
	writeFiles(t, filepath.Join(base, "special"), map[string]string{"ok.txt": "ok"})
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(base, "sock", "s")
	os.Mkdir(filepath.Dir(sock), 0o755)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	cases := []struct {
		specs []SealSpec
		want  string
	}{
		{[]SealSpec{{Host: "missing", Guest: "/m", Flag: "--dir missing:/m"}}, "mote build: --dir missing:/m: missing: no such file or directory"},
		{[]SealSpec{{Host: "special", Guest: "/s"}}, "mote build: special:/s: " + fifo + " is a named pipe (FIFO); only regular files, directories and symbolic links can be sealed"},
		{[]SealSpec{{Host: "sock", Guest: "/s"}}, "mote build: sock:/s: " + sock + " is a socket; only regular files"},
		{[]SealSpec{{Host: "special/fifo", Guest: "/f"}}, "is a named pipe (FIFO)"},
		{[]SealSpec{{Host: "tree", Guest: "rel"}}, `mote build: tree:rel: guest path "rel" is not absolute`},
		{[]SealSpec{{Host: "tree", Guest: "/a/../b"}}, `guest path "/a/../b" is not clean (write /b)`},
		{[]SealSpec{{Host: "tree", Guest: "/a/"}}, `guest path "/a/" is not clean (write /a)`},
		{[]SealSpec{{Host: "tree", Guest: "/"}}, "files cannot be sealed at /"},
		{[]SealSpec{{Host: "tree", Guest: "/dev"}}, "files cannot be sealed at /dev: /dev belongs to the library OS"},
		{[]SealSpec{{Host: "tree", Guest: "/proc/x"}}, "files cannot be sealed at /proc/x: /proc belongs"},
		{[]SealSpec{{Host: "tree", Guest: "/sys/a/b"}}, "/sys belongs"},
		{[]SealSpec{{Host: "tree", Guest: "/proc/data"}}, "files cannot be sealed at /proc/data: /proc belongs to the library OS"},
		{[]SealSpec{{Host: "", Guest: "/x"}}, "no host path"},
		// Overlaps name both flags.
		{[]SealSpec{{Host: "tree/a.txt", Guest: "/x", Flag: "--file tree/a.txt:/x"}, {Host: "tree/secret", Guest: "/x", Flag: "--file tree/secret:/x"}},
			"mote build: --file tree/a.txt:/x and --file tree/secret:/x both seal /x"},
		{[]SealSpec{{Host: "tree", Guest: "/d", Flag: "--dir tree:/d"}, {Host: "tree/secret", Guest: "/d/a.txt", Flag: "--file tree/secret:/d/a.txt"}},
			"mote build: --dir tree:/d and --file tree/secret:/d/a.txt both seal /d/a.txt"},
		{[]SealSpec{{Host: "tree/a.txt", Guest: "/f", Flag: "--file tree/a.txt:/f"}, {Host: "tree", Guest: "/f/d", Flag: "--dir tree:/f/d"}},
			"mote build: --file tree/a.txt:/f and --dir tree:/f/d both seal /f"},
		{[]SealSpec{{Host: "tree", Guest: "/f/d", Flag: "--dir tree:/f/d"}, {Host: "tree/a.txt", Guest: "/f", Flag: "--file tree/a.txt:/f"}},
			"mote build: --dir tree:/f/d and --file tree/a.txt:/f both seal /f"},
		{[]SealSpec{{Host: "tree", Guest: "/d", Flag: "--dir tree:/d"}, {Host: "tree/secret", Guest: "/d/link/x", Flag: "--file tree/secret:/d/link/x"}},
			"mote build: --dir tree:/d and --file tree/secret:/d/link/x both seal /d/link"},
	}
	for _, c := range cases {
		s := newSealer("mote build")
		var err error
		for _, spec := range c.specs {
			if err = s.addSpec(spec, base); err != nil {
				break
			}
		}
		if err == nil {
			_, err = s.encode()
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.specs, err, c.want)
		}
	}
	// Not reserved: a name that only starts like one.
	s := newSealer("mote build")
	if err := s.addSpec(SealSpec{Host: "tree", Guest: "/tmpdata"}, base); err != nil {
		t.Errorf("/tmpdata: %v", err)
	}
	if _, err := CheckWorkDir("rel/dir"); err == nil || !strings.Contains(err.Error(), `working directory "rel/dir" is not an absolute path`) {
		t.Errorf("CheckWorkDir(rel/dir) = %v", err)
	}
	if d, err := CheckWorkDir("/a/b/../c/"); err != nil || d != "/a/c" {
		t.Errorf("CheckWorkDir = %q, %v", d, err)
	}
}

// TestSealTooLarge: more than MaxSealedSize is refused, before reading it.
func TestSealTooLarge(t *testing.T) {
	base := t.TempDir()
	writeFiles(t, base, map[string]string{"big/small": "x"})
	big := filepath.Join(base, "big", "sparse")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxSealedSize); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	s := newSealer("mote build")
	t0 := time.Now()
	err := s.addSpec(SealSpec{Host: "big", Guest: "/big", Flag: "--dir big:/big"}, base)
	if err == nil || !strings.Contains(err.Error(), "mote build: --dir big:/big: the sealed files are larger than 256 MiB") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("refusing took %v: the file was read", d)
	}
}

// loadedBytes returns the program headers of the loaded segments and their
// file contents.
func loadedBytes(t *testing.T, img []byte) (progs []elf.ProgHeader, data [][]byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(img))
	if err != nil {
		t.Fatalf("debug/elf: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			progs = append(progs, p.ProgHeader)
			b, err := io.ReadAll(p.Open())
			if err != nil {
				t.Fatal(err)
			}
			data = append(data, b)
		}
	}
	return progs, data
}

// TestAddNoteSegmentFiles places an archive in a real Go executable (this
// test binary) and reads it back through the monitor's image loader.
func TestAddNoteSegmentFiles(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	if f.Type != elf.ET_EXEC || f.Machine != elf.EM_X86_64 {
		t.Skipf("the test binary is %v %v, not an x86-64 executable", f.Type, f.Machine)
	}
	note := abi.Note{Version: abi.Version, Entry: f.Entry, Vectors: f.Entry, VectorStride: VectorStride, SyscallTrap: f.Entry}
	cfg := abi.Config{Args: []string{"a"}, Dir: "/srv"}
	base := t.TempDir()
	mt := makeTree(t, filepath.Join(base, "tree"))
	s := newSealer("mote build")
	if err := s.addSpec(SealSpec{Host: "tree", Guest: "/srv"}, base); err != nil {
		t.Fatal(err)
	}
	ar, err := s.encode()
	if err != nil {
		t.Fatal(err)
	}

	plain, err := addNoteSegment(orig, moteNotes(note, cfg, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := addNoteSegment(orig, moteNotes(note, cfg, nil), ar)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing loaded moves.
	p0, d0 := loadedBytes(t, orig)
	p1, d1 := loadedBytes(t, plain)
	p2, d2 := loadedBytes(t, sealed)
	if len(p0) == 0 || len(p0) != len(p1) || len(p0) != len(p2) {
		t.Fatalf("PT_LOAD segments: %d, %d, %d", len(p0), len(p1), len(p2))
	}
	// The segment that starts at file offset 0 holds the headers, which
	// change; what follows them (from the first section) does not.
	first := uint64(len(orig))
	for _, sec := range f.Sections {
		if sec.Type != elf.SHT_NULL && sec.Type != elf.SHT_NOBITS && sec.Size > 0 {
			first = min(first, sec.Offset)
		}
	}
	for i := range p0 {
		from := uint64(0)
		if p0[i].Off == 0 {
			from = first
		}
		if p0[i] != p1[i] || p0[i] != p2[i] || !bytes.Equal(d0[i][from:], d1[i][from:]) || !bytes.Equal(d0[i][from:], d2[i][from:]) {
			t.Errorf("segment %d changed: %+v / %+v / %+v", i, p0[i], p1[i], p2[i])
		}
	}

	// The archive: page aligned, after the notes, before the section
	// headers, named by a section.
	sf, err := elf.NewFile(bytes.NewReader(sealed))
	if err != nil {
		t.Fatal(err)
	}
	sec := sf.Section(FilesSection)
	if sec == nil || sec.Offset%4096 != 0 || sec.Size != uint64(len(ar)) || sec.Flags&elf.SHF_ALLOC != 0 {
		t.Fatalf("section %s: %+v", FilesSection, sec)
	}
	if shoff := uint64(len(sealed)) - uint64(len(sf.Sections))*shdrSize; shoff < sec.Offset+sec.Size {
		t.Errorf("section headers at %#x overlap the archive at %#x+%#x", shoff, sec.Offset, sec.Size)
	}
	if pf, _ := elf.NewFile(bytes.NewReader(plain)); pf.Section(FilesSection) != nil {
		t.Errorf("%s without sealed files", FilesSection)
	}

	for _, c := range []struct {
		name string
		img  []byte
	}{{"plain", plain}, {"sealed", sealed}} {
		img, err := image.Parse(c.name, c.img)
		if err != nil {
			t.Fatalf("%s: image.Parse: %v", c.name, err)
		}
		if img.Config.Dir != "/srv" || img.Note != note {
			t.Errorf("%s: config %+v note %+v", c.name, img.Config, img.Note)
		}
		if c.name == "plain" {
			if img.Files != (abi.FilesNote{}) {
				t.Errorf("plain image has files %+v", img.Files)
			}
			continue
		}
		if img.Files.Off != sec.Offset || img.Files.Len != uint64(len(ar)) {
			t.Errorf("files note %+v, section at %#x", img.Files, sec.Offset)
		}
		buf := make([]byte, img.Files.Len)
		if err := img.ReadFiles(buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf, ar) {
			t.Fatal("the archive read back differs")
		}
		m := sealedMap(t, buf)
		checkEntry(t, m, "/srv/bin/run.sh", abi.ModeReg|0o755, "#!/bin/sh\n", mt)
	}

	// readelf agrees.
	if _, err := exec.LookPath("readelf"); err == nil {
		p := filepath.Join(t.TempDir(), "x.img")
		os.WriteFile(p, sealed, 0o644)
		out, err := exec.Command("readelf", "-W", "-n", "-l", "-S", p).CombinedOutput()
		if err != nil {
			t.Fatalf("readelf: %v\n%s", err, out)
		}
		s := string(out)
		if !strings.Contains(s, FilesSection) || !strings.Contains(s, NoteSection) || strings.Contains(s, "Warning") || strings.Contains(s, "Error") {
			t.Errorf("readelf:\n%s", s)
		}
	}
}
