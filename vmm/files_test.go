package vmm

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image/imagetest"
)

// sealedGuest writes the test guest g as an image with the sealed files
// archive (its notes get a NoteTypeFiles note; the archive follows at a
// page-aligned file offset) and the baked working directory dir.
func sealedGuest(t *testing.T, g *testGuest, archive []byte, dir string) string {
	t.Helper()
	spec := imagetest.Spec{
		Segments: []imagetest.Segment{{Vaddr: gCode, Data: g.mem[:]}},
		Note: &abi.Note{Version: abi.Version, Flags: g.noteFlags, Entry: gCode, Vectors: gVectors,
			VectorStride: gStride, SyscallTrap: gSystrap},
		Config: &abi.Config{Args: []string{"baked"}, Env: []string{"A=1"}, Dir: dir},
	}
	img := imagetest.Build(spec)
	if archive != nil {
		img = imagetest.WithFiles(img, archive, nil)
	}
	p := filepath.Join(t.TempDir(), "sealed.img")
	if err := os.WriteFile(p, img, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func testArchive(t *testing.T, big int) []byte {
	t.Helper()
	ar, err := abi.EncodeFiles([]abi.SealedFile{
		{Path: "/srv/a.txt", Mode: abi.ModeReg | 0o644, Data: []byte("hello"), Mtime: 42},
		{Path: "/srv/big", Mode: abi.ModeReg | 0o600, Data: bytes.Repeat([]byte{0xA5}, big)},
		{Path: "/srv/l", Mode: abi.ModeSymlink | 0o777, Data: []byte("a.txt")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ar
}

// TestSealedFiles: the archive is in guest RAM right after the image,
// page aligned, below FreeStart; the working directory follows the
// environment in the boot strings (the image's, or Config.Dir).
func TestSealedFiles(t *testing.T) {
	le := binary.LittleEndian
	ar := testArchive(t, 5000)
	p := sealedGuest(t, writeGuest(1, gBuf, 6), ar, "/srv")
	for _, c := range []struct {
		dir, want string
	}{{"", "/srv"}, {"/other/dir", "/other/dir"}} {
		r := runGuest(t, p, func(cfg *Config) { cfg.Dir = c.dir })
		if r.status != 7 || r.stdout != "hello\n" {
			t.Fatalf("status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
		}
		mem := r.vm.mem.b
		bi := mem[abi.BootInfoBase:]
		filesGPA, filesLen := le.Uint64(bi[biFilesGPA:]), le.Uint64(bi[biFilesLen:])
		if filesGPA != gEnd || filesLen != uint64(len(ar)) || le.Uint64(bi[biImageEnd:]) != gEnd {
			t.Errorf("files at %#x+%d, image end %#x; want %#x+%d", filesGPA, filesLen, le.Uint64(bi[biImageEnd:]), gEnd, len(ar))
		}
		if !bytes.Equal(mem[filesGPA:filesGPA+filesLen], ar) {
			t.Errorf("the archive in guest RAM differs")
		}
		if fs := le.Uint64(bi[biFreeStart:]); fs != 0x600000 {
			t.Errorf("free start %#x", fs)
		}
		strs := mem[le.Uint64(bi[biStringsGPA:]):][:le.Uint64(bi[biStringsLen:])]
		if want := "sealed\x00baked\x00HOME=/\x00GOMEMLIMIT=4MiB\x00A=1\x00" + c.want + "\x00"; string(strs) != want {
			t.Errorf("strings %q, want %q", strs, want)
		}
	}

	// Without files nothing changes.
	r := runGuest(t, sealedGuest(t, writeGuest(1, gBuf, 6), nil, ""), nil)
	bi := r.vm.mem.b[abi.BootInfoBase:]
	if le.Uint64(bi[biFilesGPA:]) != 0 || le.Uint64(bi[biFilesLen:]) != 0 || le.Uint64(bi[biFreeStart:]) != 0x600000 {
		t.Errorf("no files: % x", bi[:biSize])
	}
	strs := r.vm.mem.b[le.Uint64(bi[biStringsGPA:]):][:le.Uint64(bi[biStringsLen:])]
	if string(strs) != "sealed\x00baked\x00HOME=/\x00GOMEMLIMIT=4MiB\x00A=1\x00" {
		t.Errorf("strings %q", strs)
	}
}

// TestSealedFilesMemory: the archive moves free RAM up, and counts in the
// memory size check.
func TestSealedFilesMemory(t *testing.T) {
	le := binary.LittleEndian
	ar := testArchive(t, 3<<20)
	p := sealedGuest(t, writeGuest(1, gBuf, 6), ar, "")
	// gEnd + 3 MiB and a bit: free RAM from 8 MiB, so 10 MiB are needed.
	if _, err := Run(Config{ImagePath: p, MemoryBytes: 8 << 20}); err == nil ||
		err.Error() != "--memory 8M is too small for "+p+" and its 4 MiB of sealed files (needs at least 10 MiB)" {
		t.Errorf("8M: %v", err)
	}
	r := runGuest(t, p, func(cfg *Config) { cfg.MemoryBytes = 10 << 20 })
	bi := r.vm.mem.b[abi.BootInfoBase:]
	if r.status != 7 || le.Uint64(bi[biFreeStart:]) != 8<<20 || le.Uint64(bi[biFilesGPA:]) != gEnd {
		t.Errorf("status %d, free start %#x, files at %#x", r.status, le.Uint64(bi[biFreeStart:]), le.Uint64(bi[biFilesGPA:]))
	}
	if !bytes.Equal(r.vm.mem.b[gEnd:gEnd+uint64(len(ar))], ar) {
		t.Errorf("the archive in guest RAM differs")
	}
	if s := string(r.vm.mem.b[le.Uint64(bi[biStringsGPA:]):][:le.Uint64(bi[biStringsLen:])]); !strings.Contains(s, "GOMEMLIMIT=4MiB") {
		t.Errorf("strings %q", s)
	}
}

func TestSealedFilesErrors(t *testing.T) {
	needKVM(t)
	ar := testArchive(t, 100)
	bad := append([]byte(nil), ar...)
	bad[abi.FilesHeaderSize+abi.FileEntrySize+0] = 7 // entry 1's parent: itself
	corrupt := sealedGuest(t, writeGuest(1, gBuf, 6), bad, "")
	good := sealedGuest(t, writeGuest(1, gBuf, 6), ar, "")
	relImg := sealedGuest(t, writeGuest(1, gBuf, 6), ar, "rel")
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{ImagePath: corrupt}, corrupt + " has a corrupt sealed-files archive"},
		{Config{ImagePath: good, Dir: "srv"}, `--workdir "srv" is not an absolute path`},
		{Config{ImagePath: relImg}, relImg + ` has a working directory "rel" that is not an absolute path`},
		{Config{ImagePath: good, Dir: "/" + strings.Repeat("d", abi.BootInfoSize)}, "arguments and environment too large"},
	} {
		_, err := Run(c.cfg)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Run(%s, dir %.20q): %v, want %q", filepath.Base(c.cfg.ImagePath), c.cfg.Dir, err, c.want)
		}
	}
}
