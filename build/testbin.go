package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	mote "github.com/motevm/mote"
)

// Test binaries (mote test): the package's `go test -c` binary, linked
// with the library OS through one more test file of the package itself.

// checkTest checks that the listing is exactly one package with tests.
func (b *builder) checkTest(pkgs []*listPkg) (*listPkg, error) {
	switch {
	case len(pkgs) == 0:
		return nil, fmt.Errorf("mote test: %s matched no packages", b.display)
	case len(pkgs) > 1:
		return nil, fmt.Errorf("mote test: %s matched %d packages; build them one at a time", b.display, len(pkgs))
	}
	p := pkgs[0]
	if p.Error != nil {
		msg := b.userPaths(strings.TrimSpace(p.Error.Err))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("mote test: %s: %s", b.display, msg)
	}
	if usesCgo(p) {
		return nil, fmt.Errorf("mote test: %s uses cgo, which mote does not support", b.display)
	}
	if len(p.TestGoFiles) == 0 && len(p.XTestGoFiles) == 0 {
		return nil, ErrNoTestFiles
	}
	return p, nil
}

// ErrNoTestFiles is returned for a package without test files.
var ErrNoTestFiles = fmt.Errorf("no test files")

// testUsesNet reports whether the test binary depends on package net.
func (b *builder) testUsesNet(ctx context.Context) (bool, error) {
	deps, err := b.list(ctx, true, b.pattern)
	if err != nil {
		return false, err
	}
	for _, d := range deps {
		// "net [pkg.test]" is net recompiled against the package under
		// test (which net imports, as context).
		if d.ImportPath == "net" || strings.HasPrefix(d.ImportPath, "net [") {
			return true, nil
		}
	}
	return false, nil
}

// sealTest seals what go test's contract gives a test binary: it runs in
// its package's directory (pkgDir, on the host) and can read the files
// there and in testdata. The image holds, at their host paths, the
// package directory's own files (its subdirectories as empty directories),
// its testdata
// directory (recursively), and the testdata directory, if any, of each
// directory above it up to the module root ($GOROOT/src for the standard
// library, with the real GOROOT's paths); its working directory is pkgDir.
// The time zone database the test binary looks for, at
// runtime.GOROOT()/lib/time/zoneinfo.zip (the GOROOT of its build: the
// shadow GOROOT for standard-library packages), holds the real GOROOT's.
//
// A package below a directory the library OS provides (/dev, /proc, /sys)
// cannot have its files at their paths: it runs in / without them, and a
// note says so. Below /tmp they are copies in the guest's tmpfs.
func (b *builder) sealTest(p *listPkg, pkgDir string) error {
	goroot := b.env.GOROOT // the real one: go env ran before setupStdTest
	root := pkgDir
	switch {
	case p.Standard:
		root = filepath.Join(goroot, "src")
	case p.Module != nil && p.Module.Dir != "" && b.mode != modeNoModule:
		root = p.Module.Dir
	}
	if r := reservedDir(pkgDir); r != "" {
		fmt.Fprintf(b.opts.Stderr, "mote test: note: %s is in %s, which is the library OS's in the guest: its tests run in / without the package's files and testdata\n", pkgDir, r)
	} else {
		if b.guestDir == "" {
			b.guestDir = filepath.ToSlash(pkgDir)
		}
		if err := b.seal.addDir("the package directory "+pkgDir, pkgDir, true); err != nil {
			return err
		}
		dirs := []string{pkgDir}
		// The directories above, up to the module root.
		if rel, err := filepath.Rel(root, pkgDir); err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
			for d := filepath.Dir(pkgDir); ; d = filepath.Dir(d) {
				dirs = append(dirs, d)
				if d == root || d == filepath.Dir(d) {
					break
				}
			}
		}
		for _, d := range dirs {
			td := filepath.Join(d, "testdata")
			if st, err := os.Stat(td); err == nil && st.IsDir() {
				if err := b.seal.addDir(td, td, false); err != nil {
					return err
				}
			} else if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				return fmt.Errorf("mote test: %s", statError(td, err))
			}
		}
	}
	zi := filepath.Join(goroot, "lib", "time", "zoneinfo.zip")
	guest := filepath.ToSlash(filepath.Join(b.buildGOROOT, "lib", "time", "zoneinfo.zip"))
	if _, err := os.Stat(zi); err == nil && reservedDir(guest) == "" {
		if err := b.seal.addFile("the time zone database "+zi, zi, guest); err != nil {
			return err
		}
	}
	return nil
}

// reservedDir returns the directory of the library OS (reservedGuestDirs)
// that guest path p is in, or "".
func reservedDir(p string) string {
	p = filepath.ToSlash(p)
	for _, r := range reservedGuestDirs {
		if p == r || strings.HasPrefix(p, r+"/") {
			return r
		}
	}
	return ""
}

// stdKernelPackage is where the library OS goes for standard-library tests.
const stdKernelPackage = "internal/mote/kernel"

// setupStdTest prepares the test build of a standard-library package. A
// package of module std cannot import mote's module, so the library OS
// joins the standard library: the go commands run with a shadow GOROOT
// (in mote's cache, built once) whose src/internal/mote/ holds the library
// OS and its contract packages with their imports renamed, and everything
// else links to the real GOROOT. (An overlay cannot add the package: the
// assembler must run in the package's directory.)
func (b *builder) setupStdTest(ctx context.Context, p *listPkg) error {
	root, err := shadowGoroot(ctx, b.gt, b.env.GOROOT)
	if err != nil {
		return err
	}
	b.workDir = filepath.Join(root, "src")
	b.modArgs = nil
	b.extEnv = []string{"GOWORK=off", "GOFLAGS=", "GOROOT=" + root}
	b.buildGOROOT = root
	b.pattern = []string{p.ImportPath}
	p.Dir = filepath.Join(root, "src", filepath.FromSlash(p.ImportPath))
	return nil
}

// shadowGoroot returns (creating it once) the shadow GOROOT for goroot and
// the embedded library OS, with the guest network stack (stdnet.go).
func shadowGoroot(ctx context.Context, gt *goTool, goroot string) (string, error) {
	fsys := mote.GuestFS()
	rename := strings.NewReplacer(
		`"`+mote.ModulePath+`/abi"`, `"internal/mote/abi"`,
		`"`+mote.ModulePath+`/virtio"`, `"internal/mote/virtio"`,
	)
	type file struct {
		name string
		data []byte
	}
	var files []file
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", goroot)
	// guestnet and the requirements of mote's module (which pin what it
	// needs from other modules) are part of the shadow (addStdNet).
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return "", fmt.Errorf("mote build: the embedded library OS: %v", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
	}
	if entries, err := fs.ReadDir(fsys, "guestnet"); err == nil {
		for _, e := range entries {
			data, err := fs.ReadFile(fsys, path.Join("guestnet", e.Name()))
			if err != nil {
				return "", fmt.Errorf("mote build: the embedded library OS: %v", err)
			}
			fmt.Fprintf(h, "guestnet/%s\x00%d\x00", e.Name(), len(data))
			h.Write(data)
		}
	}
	for _, dir := range []string{"kernel", "abi", "virtio"} {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return "", fmt.Errorf("mote build: the embedded library OS: %v", err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasSuffix(name, "_test.go") || !(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".s") || strings.HasSuffix(name, ".h")) {
				continue
			}
			data, err := fs.ReadFile(fsys, path.Join(dir, name))
			if err != nil {
				return "", fmt.Errorf("mote build: the embedded library OS: %v", err)
			}
			if strings.HasSuffix(name, ".go") {
				if bytes.Contains(data, []byte("//go:build ignore")) {
					continue
				}
				data = []byte(rename.Replace(string(data)))
			}
			files = append(files, file{path.Join(dir, name), data})
			fmt.Fprintf(h, "%s\x00%d\x00", path.Join(dir, name), len(data))
			h.Write(data)
		}
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	root := filepath.Join(cache, "goroot", hex.EncodeToString(h.Sum(nil))[:24])
	if _, err := os.Stat(filepath.Join(root, "src", "internal", "mote", "kernel")); err == nil {
		return root, nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return "", fmt.Errorf("mote build: %v", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(root), ".tmp-")
	if err != nil {
		return "", fmt.Errorf("mote build: %v", err)
	}
	defer os.RemoveAll(tmp)
	// Link every entry of dir (relative to goroot) into the shadow, except
	// the one named skip, which becomes a real directory.
	link := func(rel, skip string) error {
		entries, err := os.ReadDir(filepath.Join(goroot, rel))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(tmp, rel), 0o755); err != nil {
			return err
		}
		for _, e := range entries {
			if e.Name() == skip {
				continue
			}
			if err := os.Symlink(filepath.Join(goroot, rel, e.Name()), filepath.Join(tmp, rel, e.Name())); err != nil {
				return err
			}
		}
		return nil
	}
	for _, l := range [][2]string{{".", "src"}, {"src", "internal"}, {"src/internal", "mote"}} {
		if err := link(l[0], l[1]); err != nil {
			return "", fmt.Errorf("mote build: cannot make the shadow GOROOT: %v", err)
		}
	}
	for _, f := range files {
		out := filepath.Join(tmp, "src", "internal", "mote", filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return "", fmt.Errorf("mote build: %v", err)
		}
		if err := os.WriteFile(out, f.data, 0o644); err != nil {
			return "", fmt.Errorf("mote build: %v", err)
		}
	}
	guestDir, _, err := extractGuest(fsys)
	if err != nil {
		return "", err
	}
	pkgs, err := guestNetDeps(ctx, gt, guestDir)
	if err != nil {
		return "", err
	}
	if err := addStdNet(tmp, goroot, pkgs); err != nil {
		return "", fmt.Errorf("mote build: cannot add the network stack to the shadow GOROOT: %v", err)
	}
	if err := os.Rename(tmp, root); err != nil {
		if _, err2 := os.Stat(filepath.Join(root, "src", "internal", "mote", "kernel")); err2 == nil {
			return root, nil // made by someone else meanwhile
		}
		return "", fmt.Errorf("mote build: %v", err)
	}
	return root, nil
}
