package build

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	mote "github.com/motevm/mote"
)

// The guest network stack in standard-library tests. A test binary of a
// standard-library package (net/http, crypto/tls, ...) is built in module
// std, which can only import the standard library and std's vendor
// directory. So the shadow GOROOT (testbin.go) also gets
//   - guestnet as src/internal/mote/guestnet (imports renamed), and
//   - the packages guestnet needs from other modules (gVisor's netstack,
//     golang.org/x/sys/unix, ...) copied into src/vendor, listed in
//     src/vendor/modules.txt and required by src/go.mod, so the go command's
//     vendor consistency check accepts them. A module std already vendors
//     (golang.org/x/sys) keeps std's version line; the packages std lacks
//     are added from the version mote pins.

// stdNetPackage is the import path of the guest network stack in std tests.
const stdNetPackage = "internal/mote/guestnet"

// vendorPkg is a package guestnet needs from outside std and mote.
type vendorPkg struct {
	importPath, dir, module, version, goVersion string
}

// guestNetDeps lists those packages, resolved in the extracted library OS
// module guestDir (downloading modules as a build of guestnet would).
func guestNetDeps(ctx context.Context, gt *goTool, guestDir string) ([]vendorPkg, error) {
	out, err := gt.run(ctx, guestDir, []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, "list", "-deps", "-f",
		"{{if not .Standard}}{{.ImportPath}}\t{{.Dir}}\t{{with .Module}}{{.Path}}\t{{.Version}}\t{{.GoVersion}}{{end}}{{end}}",
		"./guestnet")
	if err != nil {
		return nil, fmt.Errorf("mote test: cannot list the guest network stack's packages: %v", err)
	}
	var pkgs []vendorPkg
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 5 || f[2] == mote.ModulePath {
			continue
		}
		pkgs = append(pkgs, vendorPkg{f[0], f[1], f[2], f[3], f[4]})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].importPath < pkgs[j].importPath })
	return pkgs, nil
}

// addStdNet puts guestnet and its vendored packages into the shadow GOROOT
// being made at tmp (a copy of goroot whose src/vendor is still a link).
func addStdNet(tmp, goroot string, pkgs []vendorPkg) error {
	// guestnet itself.
	fsys := mote.GuestFS()
	entries, err := fs.ReadDir(fsys, "guestnet")
	if err != nil {
		return fmt.Errorf("mote build: the embedded library OS: %v", err)
	}
	rename := strings.NewReplacer(`"`+mote.ModulePath+`/abi"`, `"internal/mote/abi"`)
	out := filepath.Join(tmp, "src", "internal", "mote", "guestnet")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, "_test.go") || !(strings.HasSuffix(name, ".go") || strings.HasSuffix(name, ".s")) {
			continue
		}
		data, err := fs.ReadFile(fsys, path.Join("guestnet", name))
		if err != nil {
			return fmt.Errorf("mote build: the embedded library OS: %v", err)
		}
		if err := os.WriteFile(filepath.Join(out, name), []byte(rename.Replace(string(data))), 0o644); err != nil {
			return err
		}
	}

	// The vendored packages.
	vendor := filepath.Join(tmp, "src", "vendor")
	realVendor := filepath.Join(goroot, "src", "vendor")
	if err := materialize(vendor, realVendor); err != nil {
		return err
	}
	added := map[string][]string{} // module -> packages added
	modVersion := map[string]vendorPkg{}
	for _, p := range pkgs {
		rel := filepath.FromSlash(p.importPath)
		if _, err := os.Stat(filepath.Join(realVendor, rel)); err == nil {
			continue // std vendors it already
		}
		// Every ancestor in the shadow becomes a real directory.
		parts := strings.Split(p.importPath, "/")
		for i := 1; i < len(parts); i++ {
			sub := filepath.Join(parts[:i]...)
			if err := materialize(filepath.Join(vendor, sub), filepath.Join(realVendor, sub)); err != nil {
				return err
			}
		}
		dst := filepath.Join(vendor, rel)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		files, err := os.ReadDir(p.dir)
		if err != nil {
			return fmt.Errorf("mote test: cannot read %s: %v", p.dir, err)
		}
		for _, f := range files {
			n := f.Name()
			if f.IsDir() || strings.HasSuffix(n, "_test.go") ||
				!(strings.HasSuffix(n, ".go") || strings.HasSuffix(n, ".s") || strings.HasSuffix(n, ".h")) {
				continue
			}
			data, err := os.ReadFile(filepath.Join(p.dir, n))
			if err != nil {
				return err
			}
			if strings.HasSuffix(n, ".go") {
				data = stdSafe(data)
			}
			if err := os.WriteFile(filepath.Join(dst, n), data, 0o644); err != nil {
				return err
			}
		}
		added[p.module] = append(added[p.module], p.importPath)
		modVersion[p.module] = p
	}

	// modules.txt: new packages join their module's section; new modules
	// get a section of their own and a requirement in go.mod.
	mt, err := os.ReadFile(filepath.Join(realVendor, "modules.txt"))
	if err != nil {
		return fmt.Errorf("mote test: cannot read std's vendor/modules.txt: %v", err)
	}
	lines := strings.Split(strings.TrimRight(string(mt), "\n"), "\n")
	var res []string
	var newReqs []string
	seen := map[string]bool{}
	for i := 0; i < len(lines); i++ {
		res = append(res, lines[i])
		f := strings.Fields(lines[i])
		if len(f) >= 2 && f[0] == "#" {
			mod := f[1]
			seen[mod] = true
			// Copy the section's annotation and packages, then ours.
			for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "# ") {
				i++
				res = append(res, lines[i])
			}
			res = append(res, added[mod]...)
		}
	}
	mods := make([]string, 0, len(added))
	for m := range added {
		if !seen[m] {
			mods = append(mods, m)
		}
	}
	sort.Strings(mods)
	for _, m := range mods {
		p := modVersion[m]
		ann := "## explicit"
		if p.goVersion != "" {
			ann += "; go " + p.goVersion
		}
		res = append(res, "# "+m+" "+p.version, ann)
		res = append(res, added[m]...)
		newReqs = append(newReqs, "\t"+m+" "+p.version)
	}
	if err := replaceFile(filepath.Join(vendor, "modules.txt"), []byte(strings.Join(res, "\n")+"\n")); err != nil {
		return err
	}
	gm, err := os.ReadFile(filepath.Join(goroot, "src", "go.mod"))
	if err != nil {
		return fmt.Errorf("mote test: cannot read std's go.mod: %v", err)
	}
	if len(newReqs) > 0 {
		gm = append(gm, []byte("\nrequire (\n"+strings.Join(newReqs, "\n")+"\n)\n")...)
	}
	return replaceFile(filepath.Join(tmp, "src", "go.mod"), gm)
}

var inlineRE = regexp.MustCompile(`(?m)^(\s*)//go:inline\s*$`)

// stdSafe drops the directives the compiler refuses in the standard
// library (//go:inline, which means nothing elsewhere either).
func stdSafe(src []byte) []byte {
	return inlineRE.ReplaceAll(src, []byte("$1// go:inline (dropped by mote)"))
}

// materialize makes dir a real directory whose entries link to those of
// real (if real exists), unless it is one already.
func materialize(dir, real string) error {
	fi, err := os.Lstat(dir)
	if err == nil && fi.Mode()&os.ModeSymlink == 0 {
		return nil
	}
	if err == nil {
		if err := os.Remove(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(real, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// replaceFile writes data at p, replacing a link if p is one.
func replaceFile(p string, data []byte) error {
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	return os.WriteFile(p, data, 0o644)
}
