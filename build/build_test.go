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
