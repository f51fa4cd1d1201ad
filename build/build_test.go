package build

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	mote "github.com/motevm/mote"
	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image"
)

// repoRoot is the root of this module (the package is build/).
func repoRoot(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

func needGo(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not on PATH")
	}
	if testing.Short() {
		t.Skip("builds programs; skipped in -short mode")
	}
}

// isolateCache points mote's cache at a fresh directory.
func isolateCache(t *testing.T) string {
	t.Helper()
	// The go command's build cache lives in $XDG_CACHE_HOME/go-build
	// unless GOCACHE says otherwise: keep using the warm one.
	t.Setenv("GOCACHE", goEnvValue(t, "GOCACHE"))
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	return dir
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBuildHello(t *testing.T) {
	needGo(t)
	out := filepath.Join(t.TempDir(), "hello.img")
	var stderr bytes.Buffer
	t0 := time.Now()
	res, err := Build(context.Background(), Options{
		Dir:     repoRoot(t),
		Args:    []string{"./examples/hello"},
		Output:  out,
		Env:     []string{"GREETING=hi there", "EXIT_CODE=7"},
		RunArgs: []string{"world", "and more"},
		Stderr:  &stderr,
	})
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, stderr.String())
	}
	t.Logf("built %s (%d bytes) in %v", res.Image, res.Size, time.Since(t0))
	if res.Image != out || res.Name != "hello" {
		t.Errorf("Result = %+v", res)
	}
	if res.Rewritten < 46 {
		t.Errorf("rewrote %d SYSCALL instructions, want at least 46", res.Rewritten)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != res.Size || st.Mode().Perm() != 0o755 {
		t.Errorf("image size %d mode %v; result size %d", st.Size(), st.Mode(), res.Size)
	}

	f, err := elf.Open(out)
	if err != nil {
		t.Fatalf("debug/elf cannot parse the image: %v", err)
	}
	defer f.Close()

	// The note segment.
	var notes []byte
	nNote := 0
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE && p.Vaddr == 0 {
			nNote++
			notes, err = io.ReadAll(p.Open())
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if nNote != 1 {
		t.Fatalf("%d unloaded PT_NOTE segments, want 1", nNote)
	}
	descs := parseNotes(t, notes)
	n, err := abi.DecodeNote(descs[abi.NoteTypeABI])
	if err != nil {
		t.Fatal(err)
	}
	if n != res.Note || n.Version != abi.Version || n.VectorStride != VectorStride {
		t.Errorf("note %+v, result %+v", n, res.Note)
	}
	for name, addr := range map[string]uint64{abi.SymEntry: n.Entry, abi.SymVectors: n.Vectors, abi.SymSyscallTrap: n.SyscallTrap} {
		if s := lookupSym(t, f, name); s == nil || s.Value != addr {
			t.Errorf("symbol %s = %+v, note says %#x", name, s, addr)
		}
	}
	if f.Entry != n.Entry {
		t.Errorf("ELF entry %#x, want %s at %#x", f.Entry, abi.SymEntry, n.Entry)
	}
	cfg, err := abi.DecodeConfig(descs[abi.NoteTypeConfig])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, abi.Config{Args: []string{"world", "and more"}, Env: []string{"GREETING=hi there", "EXIT_CODE=7"}}) {
		t.Errorf("config note = %+v", cfg)
	}
	if s := f.Section(NoteSection); s == nil || s.Type != elf.SHT_NOTE {
		t.Errorf("no %s section", NoteSection)
	}

	// The monitor's image loader accepts it.
	if img, err := image.Open(out); err != nil {
		t.Errorf("image.Open: %v", err)
	} else if img.Note != n {
		t.Errorf("image.Open note %+v, want %+v", img.Note, n)
	}

	// readelf agrees.
	if _, err := exec.LookPath("readelf"); err == nil {
		out, err := exec.Command("readelf", "-W", "-n", "-l", out).CombinedOutput()
		if err != nil {
			t.Fatalf("readelf: %v\n%s", err, out)
		}
		s := string(out)
		if !strings.Contains(s, "\n  NOTE ") || !strings.Contains(s, "mote ") || !strings.Contains(s, NoteSection) {
			t.Errorf("readelf does not show the mote note:\n%s", s)
		}
		if strings.Contains(s, "Warning") || strings.Contains(s, "Error") {
			t.Errorf("readelf complains:\n%s", s)
		}
	}

	// No SYSCALL instruction is left in the runtime's and syscall's
	// system call functions.
	text := f.Section(".text")
	textData, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range []string{
		"runtime.write1", "runtime.futex", "runtime.read", "runtime.sysMmap", "runtime.clone",
		"runtime.rt_sigaction", "runtime.exit", "syscall.RawSyscall6", "syscall.rawSyscallNoError",
		"internal/runtime/syscall/linux.Syscall6",
	} {
		s := lookupSym(t, f, name)
		if s == nil {
			t.Errorf("symbol %s not found", name)
			continue
		}
		checked++
		b := textData[s.Value-text.Addr : s.Value-text.Addr+s.Size]
		if i := bytes.Index(b, []byte{0x0f, 0x05}); i >= 0 {
			t.Errorf("%s still contains a SYSCALL instruction at %#x", name, s.Value+uint64(i))
		}
	}
	if checked == 0 {
		t.Fatal("no function checked")
	}
}

// parseNotes returns the descriptors of the mote notes by type.
func parseNotes(t *testing.T, b []byte) map[uint32][]byte {
	t.Helper()
	out := map[uint32][]byte{}
	for len(b) > 0 {
		if len(b) < 12 {
			t.Fatalf("truncated note header")
		}
		namesz := binary.LittleEndian.Uint32(b[0:])
		descsz := binary.LittleEndian.Uint32(b[4:])
		typ := binary.LittleEndian.Uint32(b[8:])
		b = b[12:]
		nameEnd := (namesz + 3) &^ 3
		descEnd := nameEnd + (descsz+3)&^3
		if uint32(len(b)) < descEnd {
			t.Fatalf("truncated note")
		}
		if string(b[:namesz]) != abi.NoteName+"\x00" {
			t.Fatalf("note name %q", b[:namesz])
		}
		out[typ] = b[nameEnd : nameEnd+descsz]
		b = b[descEnd:]
	}
	return out
}

// lookupSym finds a function symbol by name, with or without the ".abi0"
// suffix of assembly functions.
func lookupSym(t *testing.T, f *elf.File, name string) *elf.Symbol {
	t.Helper()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	for i := range syms {
		if syms[i].Name == name || syms[i].Name == name+".abi0" {
			return &syms[i]
		}
	}
	return nil
}

func TestBuildErrors(t *testing.T) {
	needGo(t)
	isolateCache(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":         "module example.com/errs\n\ngo 1.26\n",
		"lib/lib.go":     "package foo\n\nfunc F() {}\n",
		"cgo/main.go":    "package main\n\n// int x;\nimport \"C\"\n\nfunc main() {}\n",
		"cgo2/main.go":   "package main\n\nfunc main() { g() }\n",
		"cgo2/c.go":      "package main\n\n// int x;\nimport \"C\"\n\nfunc g() {}\n",
		"empty/README":   "nothing here\n",
		"two/a/main.go":  "package main\n\nfunc main() {}\n",
		"two/b/main.go":  "package main\n\nfunc main() {}\n",
		"broken/main.go": "package main\n\nfunc main() { undefined() }\n",
	})
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"./lib"}, "mote build: ./lib is not a main package (package foo)"},
		{[]string{"./cgo"}, "mote build: ./cgo uses cgo, which mote does not support"},
		{[]string{"./cgo2"}, "mote build: ./cgo2 uses cgo, which mote does not support"},
		{[]string{"./missing"}, "mote build: package ./missing not found"},
		{[]string{"example.com/errs/missing"}, "mote build: package example.com/errs/missing not found"},
		{[]string{"./empty"}, "mote build: ./empty contains no Go files"},
		{[]string{"./two/..."}, "mote build: ./two/... matched 2 packages; mote builds exactly one main package"},
		{[]string{"./lib", "./cgo"}, "mote build: 2 packages named"},
		{[]string{"./broken"}, "mote build: go build failed for ./broken"},
		{[]string{"nofile.go"}, "mote build: nofile.go: no such file"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		_, err := Build(context.Background(), Options{Dir: dir, Args: c.args, Stderr: &stderr})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Build(%q) = %v, want %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("Build(%q): error is not one line: %q", c.args, err)
		}
		if c.args[0] == "./broken" && !strings.Contains(stderr.String(), "undefined: undefined") {
			t.Errorf("go's errors were not passed on: %q", stderr.String())
		}
	}
}

// TestBuildOtherModule builds a program of a module that is not mote and
// checks that its files are left alone.
func TestBuildOtherModule(t *testing.T) {
	needGo(t)
	isolateCache(t)
	dir := t.TempDir()
	gomod := "module example.com/foo\n\ngo 1.26\n"
	gosum := "example.com/unused v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	writeFiles(t, dir, map[string]string{
		"go.mod":          gomod,
		"go.sum":          gosum,
		"cmd/foo/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"foo\") }\n",
	})
	before := listTree(t, dir)
	outDir := t.TempDir()
	res, err := Build(context.Background(), Options{Dir: dir, Args: []string{"./cmd/foo"}, Output: outDir})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(outDir, "foo.img"); res.Image != want {
		t.Errorf("image %s, want %s", res.Image, want)
	}
	if _, err := image.Open(res.Image); err != nil {
		t.Errorf("image.Open: %v", err)
	}
	if after := listTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the module's files changed:\nbefore %v\nafter  %v", before, after)
	}

	// By import path, from a subdirectory, into the default output.
	res, err = Build(context.Background(), Options{Dir: filepath.Join(dir, "cmd"), Args: []string{"example.com/foo/cmd/foo"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "cmd", "foo.img"); res.Image != want {
		t.Errorf("image %s, want %s", res.Image, want)
	}
	os.Remove(res.Image)
	if after := listTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the module's files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestBuildNoModule builds files and a directory that are in no module.
func TestBuildNoModule(t *testing.T) {
	needGo(t)
	isolateCache(t)
	dir := filepath.Join(t.TempDir(), "prog")
	writeFiles(t, dir, map[string]string{
		"main.go": "package main\n\nfunc main() { println(msg()) }\n",
		"msg.go":  "package main\n\nfunc msg() string { return \"hi\" }\n",
	})
	before := listTree(t, dir)
	out := t.TempDir()
	res, err := Build(context.Background(), Options{Dir: dir, Args: []string{"main.go", "msg.go"}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "main" {
		t.Errorf("name %q, want main", res.Name)
	}
	res, err = Build(context.Background(), Options{Dir: filepath.Dir(dir), Args: []string{"./prog"}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "prog" || res.Image != filepath.Join(out, "prog.img") {
		t.Errorf("result %+v", res)
	}
	if after := listTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("files changed:\nbefore %v\nafter  %v", before, after)
	}
}

// TestBuildFiles builds named files inside this module.
func TestBuildFiles(t *testing.T) {
	needGo(t)
	out := t.TempDir()
	res, err := Build(context.Background(), Options{Dir: filepath.Join(repoRoot(t), "examples", "hello"), Args: []string{"main.go"}, Output: out})
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != "main" || res.Image != filepath.Join(out, "main.img") {
		t.Errorf("result %+v", res)
	}
}

// TestBuildCached checks that an unchanged program is relinked but its
// cached image is not rewritten.
func TestBuildCached(t *testing.T) {
	needGo(t)
	isolateCache(t)
	opts := Options{Dir: repoRoot(t), Args: []string{"./examples/hello"}}
	r1, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	st1, _ := os.Stat(r1.Image)
	t0 := time.Now()
	r2, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cached rebuild of examples/hello: %v", time.Since(t0))
	if r2.Image != r1.Image || !r2.Unchanged {
		t.Errorf("second build %+v, first %+v", r2, r1)
	}
	st2, _ := os.Stat(r2.Image)
	if !st1.ModTime().Equal(st2.ModTime()) {
		t.Errorf("cached image was rewritten")
	}
	// Different baked config: a different cache entry.
	opts.Env = []string{"A=B"}
	r3, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Image == r1.Image {
		t.Errorf("same cache entry for a different configuration")
	}
}

// TestGuestStandalone checks that the extracted library OS module builds on
// its own.
func TestGuestStandalone(t *testing.T) {
	needGo(t)
	isolateCache(t)
	dir, _, err := extractGuest(mote.GuestFS())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kernel")); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*", "*_test.go")); len(m) > 0 {
		t.Errorf("test files extracted: %v", m)
	}
	cmd := exec.Command("go", "build", "./...")
	cmd.Dir = dir
	cmd.Env = mergeEnv(os.Environ(), append(targetEnv, "GOWORK=off", "GOFLAGS=-mod=mod")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./... in the extracted guest module: %v\n%s", err, out)
	}
	// A second extraction reuses the directory.
	dir2, _, err := extractGuest(mote.GuestFS())
	if err != nil || dir2 != dir {
		t.Errorf("second extraction: %s, %v; want %s", dir2, err, dir)
	}
}

func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			m[p] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBuildXSys builds a program of another module that uses
// golang.org/x/sys/unix, whose assembly has SYSCALL instructions of its own.
func TestBuildXSys(t *testing.T) {
	needGo(t)
	isolateCache(t)
	sum, err := os.ReadFile(filepath.Join(repoRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	var xsys []string
	version := ""
	for _, l := range strings.Split(string(sum), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "golang.org/x/sys" {
			xsys = append(xsys, l)
			version = strings.TrimSuffix(f[1], "/go.mod")
		}
	}
	if version == "" {
		t.Skip("golang.org/x/sys is not in mote's go.sum")
	}
	dir := t.TempDir()
	gomod := "module example.com/xs\n\ngo 1.26.0\n\nrequire golang.org/x/sys " + version + "\n"
	gosum := strings.Join(xsys, "\n") + "\n"
	writeFiles(t, dir, map[string]string{
		"go.mod":  gomod,
		"go.sum":  gosum,
		"main.go": "package main\n\nimport (\n\t\"golang.org/x/sys/cpu\"\n\t\"golang.org/x/sys/unix\"\n)\n\nfunc main() { println(unix.Getpid(), cpu.X86.HasAVX) }\n",
	})
	// Make sure the module is available (it is in the module cache if mote
	// was built from source).
	dl := exec.Command("go", "mod", "download", "golang.org/x/sys")
	dl.Dir = dir
	if out, err := dl.CombinedOutput(); err != nil {
		t.Skipf("cannot download golang.org/x/sys: %v\n%s", err, out)
	}
	before := listTree(t, dir)
	var stderr bytes.Buffer
	res, err := Build(context.Background(), Options{Dir: dir, Output: t.TempDir(), Verbose: true, Stderr: &stderr})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "golang.org/x/sys/unix/asm_linux_amd64.s: ") {
		t.Errorf("x/sys/unix assembly not rewritten:\n%s", stderr.String())
	}
	if res.RewrittenFiles < 5 {
		t.Errorf("%d files rewritten, want at least 5", res.RewrittenFiles)
	}
	f, err := elf.Open(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	text := f.Section(".text")
	data, _ := text.Data()
	for _, name := range []string{"golang.org/x/sys/unix.RawSyscallNoError", "golang.org/x/sys/unix.SyscallNoError"} {
		if s := lookupSym(t, f, name); s != nil {
			if bytes.Contains(data[s.Value-text.Addr:s.Value-text.Addr+s.Size], []byte{0x0f, 0x05}) {
				t.Errorf("%s still contains a SYSCALL instruction", name)
			}
		}
	}
	if after := listTree(t, dir); !reflect.DeepEqual(before, after) {
		t.Errorf("the module's files changed")
	}
}

// segmentsOf returns the loaded segments of an image and their contents.
func segmentsOf(t *testing.T, path string) ([]image.Segment, [][]byte) {
	t.Helper()
	img, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var data [][]byte
	for _, s := range img.Segments {
		b := make([]byte, s.Filesz)
		if err := img.ReadSegment(s, b); err != nil {
			t.Fatal(err)
		}
		data = append(data, b)
	}
	return img.Segments, data
}

// readSealed opens an image and returns its config and sealed files.
func readSealed(t *testing.T, path string) (abi.Config, map[string]abi.SealedFile) {
	t.Helper()
	img, err := image.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if img.Files.Len == 0 {
		return img.Config, nil
	}
	if img.Files.Off%4096 != 0 {
		t.Errorf("archive at file offset %#x, not page aligned", img.Files.Off)
	}
	buf := make([]byte, img.Files.Len)
	if err := img.ReadFiles(buf); err != nil {
		t.Fatal(err)
	}
	return img.Config, sealedMap(t, buf)
}

// TestBuildSealed builds examples/hello with sealed files and a working
// directory: the program's segments are those of the plain build, and the
// archive round-trips through the monitor's image loader.
func TestBuildSealed(t *testing.T) {
	needGo(t)
	isolateCache(t)
	out := t.TempDir()
	data := t.TempDir()
	mt := makeTree(t, data)
	plain, err := Build(context.Background(), Options{Dir: repoRoot(t), Args: []string{"./examples/hello"}, Output: filepath.Join(out, "plain.img")})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Dir:     repoRoot(t),
		Args:    []string{"./examples/hello"},
		Output:  filepath.Join(out, "sealed.img"),
		Seal:    []SealSpec{{Host: data, Guest: "/srv/data", Flag: "--dir data:/srv/data"}, {Host: filepath.Join(data, "a.txt"), Guest: "/etc/a.txt"}},
		WorkDir: "/srv/data",
	}
	sealed, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sealed.SealedFiles != 14 || sealed.SealedBytes == 0 || plain.SealedFiles != 0 || plain.SealedBytes != 0 {
		t.Errorf("sealed %d files in %d bytes; plain %d, %d", sealed.SealedFiles, sealed.SealedBytes, plain.SealedFiles, plain.SealedBytes)
	}
	s0, d0 := segmentsOf(t, plain.Image)
	s1, d1 := segmentsOf(t, sealed.Image)
	if !reflect.DeepEqual(s0, s1) {
		t.Fatalf("segments differ:\n%+v\n%+v", s0, s1)
	}
	for i := range d0 {
		if s0[i].Off == 0 {
			continue // the headers
		}
		if !bytes.Equal(d0[i], d1[i]) {
			t.Errorf("segment %d at %#x differs", i, s0[i].Vaddr)
		}
	}
	cfg, files := readSealed(t, sealed.Image)
	if cfg.Dir != "/srv/data" {
		t.Errorf("working directory %q", cfg.Dir)
	}
	checkEntry(t, files, "/srv/data/bin/run.sh", abi.ModeReg|0o755, "#!/bin/sh\n", mt)
	checkEntry(t, files, "/srv/data/link", abi.ModeSymlink|0o777, "sub/nested/deep.txt", time.Time{})
	checkEntry(t, files, "/etc/a.txt", abi.ModeReg|0o644, "hello\n", mt)
	if cfg, files := readSealed(t, plain.Image); files != nil || cfg.Dir != "" {
		t.Errorf("plain image: dir %q, files %v", cfg.Dir, files)
	}

	// Errors come before the build.
	bad := opts
	bad.WorkDir = "rel"
	if _, err := Build(context.Background(), bad); err == nil || err.Error() != `mote build: working directory "rel" is not an absolute path` {
		t.Errorf("relative working directory: %v", err)
	}
	bad = opts
	bad.Seal = []SealSpec{{Host: "nope", Guest: "/x", Flag: "--file nope:/x"}}
	if _, err := Build(context.Background(), bad); err == nil || err.Error() != "mote build: --file nope:/x: nope: no such file or directory" {
		t.Errorf("missing host file: %v", err)
	}

	// The image cache: the sealed contents and the working directory are
	// in the key.
	opts.Output = ""
	r1, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Image != r1.Image || !r2.Unchanged {
		t.Errorf("unchanged sealed files: %s (unchanged %v), first %s", r2.Image, r2.Unchanged, r1.Image)
	}
	if err := os.WriteFile(filepath.Join(data, "sub", "nested", "deep.txt"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	r3, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r3.Image == r1.Image {
		t.Errorf("a changed sealed file kept the cache entry")
	}
	if _, files := readSealed(t, r3.Image); string(files["/srv/data/sub/nested/deep.txt"].Data) != "changed" {
		t.Errorf("the rebuilt image has the old contents")
	}
	os.Chtimes(filepath.Join(data, "a.txt"), mt.Add(time.Hour), mt.Add(time.Hour))
	r4, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r4.Image == r3.Image {
		t.Errorf("a changed modification time kept the cache entry")
	}
	opts.WorkDir = "/"
	r5, err := BuildCached(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if r5.Image == r4.Image {
		t.Errorf("another working directory kept the cache entry")
	}
}

// TestBuildTestSealed: a test binary's image holds its package's files,
// testdata and the testdata above it up to the module root, at their host
// paths, and starts in the package's directory.
func TestBuildTestSealed(t *testing.T) {
	needGo(t)
	isolateCache(t)
	top := t.TempDir()
	mod := filepath.Join(top, "mod")
	writeFiles(t, top, map[string]string{
		"testdata/outside.txt":       "above the module",
		"mod/go.mod":                 "module example.com/m\n\ngo 1.26\n",
		"mod/testdata/root.txt":      "root",
		"mod/a/testdata/a.txt":       "a",
		"mod/a/b/b.go":               "package b\n",
		"mod/a/b/b_test.go":          "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) {}\n",
		"mod/a/b/data.json":          "{}",
		"mod/a/b/testdata/t.txt":     "t",
		"mod/a/b/testdata/deep/d.go": "package ignored\n",
		"mod/a/b/sub/x.go":           "package sub\n",
		"mod/a/b/sub/testdata/s.txt": "s",
		"mod/c/testdata/c.txt":       "c",
	})
	pkg := filepath.Join(mod, "a", "b")
	goroot := goEnvValue(t, "GOROOT")
	zoneinfo, zerr := os.ReadFile(filepath.Join(goroot, "lib", "time", "zoneinfo.zip"))

	res, err := Build(context.Background(), Options{Dir: pkg, Test: true, Output: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, files := readSealed(t, res.Image)
	if cfg.Dir != pkg {
		t.Errorf("working directory %q, want %s", cfg.Dir, pkg)
	}
	want := map[string]string{
		pkg + "/b.go":                     "package b\n",
		pkg + "/b_test.go":                "package b\n\nimport \"testing\"\n\nfunc TestB(t *testing.T) {}\n",
		pkg + "/data.json":                "{}",
		pkg + "/testdata/t.txt":           "t",
		pkg + "/testdata/deep/d.go":       "package ignored\n",
		mod + "/a/testdata/a.txt":         "a",
		mod + "/testdata/root.txt":        "root",
		goroot + "/lib/time/zoneinfo.zip": string(zoneinfo),
	}
	if zerr != nil {
		delete(want, goroot+"/lib/time/zoneinfo.zip")
	}
	for p, data := range want {
		if f, ok := files[p]; !ok || string(f.Data) != data {
			t.Errorf("%s: sealed %v, data %.40q", p, ok, f.Data)
		}
	}
	for p, f := range files {
		if f.Mode&abi.ModeTypeMask == abi.ModeReg {
			if _, ok := want[p]; !ok {
				t.Errorf("%s sealed", p)
			}
		}
	}
}

// TestBuildStdTestSealed: a standard-library package's test binary gets
// the real GOROOT's package directory and testdata (up to $GOROOT/src),
// and the time zone database where its runtime.GOROOT() — the shadow
// GOROOT — points.
func TestBuildStdTestSealed(t *testing.T) {
	needGo(t)
	goroot := goEnvValue(t, "GOROOT")
	if strings.HasPrefix(goroot, "/tmp/") {
		t.Skip("GOROOT is in /tmp")
	}
	pkg := filepath.Join(goroot, "src", "compress", "flate")
	if _, err := os.Stat(filepath.Join(pkg, "testdata")); err != nil {
		t.Skipf("no compress/flate testdata: %v", err)
	}
	gt, err := newGoTool(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	shadow, err := shadowGoroot(context.Background(), gt, goroot)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	res, err := Build(context.Background(), Options{Dir: t.TempDir(), Args: []string{pkg}, Test: true, Output: t.TempDir(), Stderr: &stderr})
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	cfg, files := readSealed(t, res.Image)
	if cfg.Dir != pkg {
		t.Errorf("working directory %q, want %s", cfg.Dir, pkg)
	}
	for _, p := range []string{
		pkg + "/deflate.go", pkg + "/testdata/huffman-zero.in",
		goroot + "/src/compress/testdata/e.txt", goroot + "/src/testdata/Isaac.Newton-Opticks.txt",
		shadow + "/lib/time/zoneinfo.zip",
	} {
		host := p
		if strings.HasPrefix(p, shadow) {
			host = goroot + strings.TrimPrefix(p, shadow)
		}
		data, err := os.ReadFile(host)
		if err != nil {
			t.Logf("%s: %v", host, err)
			continue
		}
		if f, ok := files[p]; !ok || !bytes.Equal(f.Data, data) {
			t.Errorf("%s: sealed %v", p, ok)
		}
	}
	for p := range files {
		if strings.HasPrefix(p, pkg+"/") && !strings.HasPrefix(p, pkg+"/testdata") && strings.Count(strings.TrimPrefix(p, pkg+"/"), "/") > 0 {
			t.Errorf("%s: the contents of a subdirectory of the package sealed", p)
		}
		if strings.HasPrefix(p, shadow) && p != shadow+"/lib/time/zoneinfo.zip" && files[p].Mode&abi.ModeTypeMask != abi.ModeDir {
			t.Errorf("%s sealed", p)
		}
	}
	// The test binary's runtime.GOROOT() is the shadow GOROOT.
	img, err := os.ReadFile(res.Image)
	if err != nil {
		t.Fatal(err)
	}
	if ri, err := image.Parse(res.Image, img); err != nil {
		t.Fatal(err)
	} else {
		img = img[:ri.Files.Off] // not the archive's names
	}
	if !bytes.Contains(img, []byte(shadow)) {
		t.Errorf("the test binary does not name the shadow GOROOT %s", shadow)
	}
}
