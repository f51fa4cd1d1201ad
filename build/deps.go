package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// rewriteVersion changes whenever RewriteSyscalls changes its output, so
// that cached module copies are not reused across such changes.
const rewriteVersion = "1"

// rewriteDeps makes every assembly file of pkgs that contains SYSCALL
// instructions, except the library OS's own, appear rewritten to the go
// command:
//
//   - files of the standard library and of the main module or other
//     directories are replaced through the overlay;
//   - the go command refuses overlays of files in the module cache, so a
//     module from there gets a copy of its affected packages (in mote's
//     cache, named by content so that the go build cache stays warm) with
//     the rewritten files, and a replace directive in the temporary go.mod.
func (b *builder) rewriteDeps(ctx context.Context, pkgs []*listPkg) (n, files int, err error) {
	asmDir := filepath.Join(b.tmp, "asm")
	modCache := ""
	if b.env != nil && b.env.GOMODCACHE != "" {
		modCache = filepath.Clean(b.env.GOMODCACHE) + string(filepath.Separator)
	}
	type modCopy struct {
		mod  *listModule
		pkgs []*listPkg
	}
	copies := map[string]*modCopy{} // by module path@version
	// All packages the program uses from each module, which a copy of
	// the module must hold.
	modPkgs := map[string][]*listPkg{}
	for _, p := range pkgs {
		if p.Module != nil && !p.Module.Main && p.Module.Dir != "" {
			k := p.Module.Path + "@" + p.Module.Version
			modPkgs[k] = append(modPkgs[k], p)
		}
	}
	for _, p := range pkgs {
		if p.ImportPath == KernelPackage || strings.HasPrefix(p.ImportPath, KernelPackage+"/") || p.ImportPath == stdKernelPackage {
			continue
		}
		inModCache := modCache != "" && strings.HasPrefix(p.Dir, modCache) && p.Module != nil && p.Module.Dir != ""
		for _, s := range p.SFiles {
			path := filepath.Join(p.Dir, s)
			src := path
			if o, ok := b.overlay[path]; ok {
				src = o
			}
			data, err := os.ReadFile(src)
			if err != nil {
				return 0, 0, fmt.Errorf("mote build: %v", err)
			}
			out, c := RewriteSyscalls(data)
			if c == 0 {
				continue
			}
			if b.opts.Verbose {
				fmt.Fprintf(b.opts.Stderr, "mote: %s/%s: %d SYSCALL instructions\n", p.ImportPath, s, c)
			}
			n += c
			files++
			if inModCache {
				key := p.Module.Path + "@" + p.Module.Version
				if copies[key] == nil {
					copies[key] = &modCopy{mod: p.Module, pkgs: modPkgs[key]}
				}
				continue
			}
			if err := os.MkdirAll(asmDir, 0o755); err != nil {
				return 0, 0, fmt.Errorf("mote build: %v", err)
			}
			dst := filepath.Join(asmDir, fmt.Sprintf("%d_%s", files, s))
			if err := os.WriteFile(dst, out, 0o644); err != nil {
				return 0, 0, fmt.Errorf("mote build: %v", err)
			}
			b.overlay[path] = dst
		}
	}
	if len(copies) == 0 {
		return n, files, nil
	}
	keys := make([]string, 0, len(copies))
	for k := range copies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var replaces []string
	for _, k := range keys {
		mc := copies[k]
		dir, err := copyModule(mc.mod, mc.pkgs)
		if err != nil {
			return 0, 0, err
		}
		left := mc.mod.Path
		if mc.mod.Version != "" {
			left += "@" + mc.mod.Version
		}
		replaces = append(replaces, "-replace="+left+"="+dir)
		if b.opts.Verbose {
			fmt.Fprintf(b.opts.Stderr, "mote: using a rewritten copy of %s in %s\n", k, dir)
		}
	}
	if err := b.ensureModFile(); err != nil {
		return 0, 0, err
	}
	args := append([]string{"mod", "edit"}, replaces...)
	args = append(args, b.modFile)
	if _, err := b.gt.run(ctx, b.modDir, []string{"GOWORK=off", "GOFLAGS="}, args...); err != nil {
		var ge *goError
		if errors.As(err, &ge) {
			return 0, 0, fmt.Errorf("mote build: cannot prepare the temporary go.mod: %s", firstLine(ge.stderr))
		}
		return 0, 0, fmt.Errorf("mote build: cannot prepare the temporary go.mod: %v", err)
	}
	return n, files, nil
}

// ensureModFile makes the build use a temporary copy of the main module's
// go.mod when it does not already use one mote made (building inside mote's
// own module).
func (b *builder) ensureModFile() error {
	if b.modFile != "" {
		return nil
	}
	gomod := b.env.GOMOD
	modDir := filepath.Join(b.tmp, "mod")
	if err := os.MkdirAll(modDir, 0o755); err != nil {
		return fmt.Errorf("mote build: %v", err)
	}
	for _, name := range []string{"go.mod", "go.sum"} {
		data, err := os.ReadFile(strings.TrimSuffix(gomod, ".mod") + filepath.Ext(name))
		if err != nil {
			if name == "go.sum" && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("mote build: %v", err)
		}
		if err := os.WriteFile(filepath.Join(modDir, name), data, 0o644); err != nil {
			return fmt.Errorf("mote build: %v", err)
		}
	}
	b.modFile, b.modDir = filepath.Join(modDir, "go.mod"), modDir
	b.modArgs = append(b.modArgs, "-modfile="+b.modFile)
	b.extEnv = append(b.extEnv, "GOWORK=off")
	return nil
}

// copyModule writes a copy of the given packages of a module from the
// module cache, with their SYSCALL instructions rewritten, into mote's
// cache, and returns its directory. The copy holds the module's go.mod and,
// for each package, the files of its directory and its embedded files.
func copyModule(mod *listModule, pkgs []*listPkg) (string, error) {
	var rels []string
	for _, p := range pkgs {
		rel, err := filepath.Rel(mod.Dir, p.Dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("mote build: package %s is outside its module directory %s", p.ImportPath, mod.Dir)
		}
		rels = append(rels, rel)
	}
	h := sha256.New()
	fmt.Fprintf(h, "rewrite %s\nmodule %s %s %s\n", rewriteVersion, mod.Path, mod.Version, mod.Dir)
	for _, r := range rels {
		fmt.Fprintf(h, "pkg %s\n", r)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	name := strings.NewReplacer("/", "_", "@", "_").Replace(mod.Path) + "@" + mod.Version + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	dir := filepath.Join(cache, "mod", name)
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return dir, nil // renamed into place complete
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("mote build: cannot create the cache directory: %v", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return "", fmt.Errorf("mote build: cannot create the cache directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	fail := func(err error) (string, error) {
		return "", fmt.Errorf("mote build: cannot copy module %s@%s: %v", mod.Path, mod.Version, err)
	}
	gomod, err := os.ReadFile(filepath.Join(mod.Dir, "go.mod"))
	if errors.Is(err, fs.ErrNotExist) {
		gomod, err = []byte("module "+mod.Path+"\n"), nil
	}
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), gomod, 0o644); err != nil {
		return fail(err)
	}
	for i, p := range pkgs {
		dst := filepath.Join(tmp, rels[i])
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return fail(err)
		}
		ents, err := os.ReadDir(p.Dir)
		if err != nil {
			return fail(err)
		}
		names := append([]string(nil), p.EmbedFiles...)
		for _, e := range ents {
			if e.Type().IsRegular() {
				names = append(names, e.Name())
			}
		}
		for _, nm := range names {
			data, err := os.ReadFile(filepath.Join(p.Dir, nm))
			if err != nil {
				return fail(err)
			}
			if strings.HasSuffix(nm, ".s") {
				data, _ = RewriteSyscalls(data)
			}
			out := filepath.Join(dst, nm)
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return fail(err)
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return fail(err)
			}
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "go.mod")); serr == nil {
			return dir, nil // someone else made it first
		}
		return fail(err)
	}
	return dir, nil
}
