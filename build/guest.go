package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	mote "github.com/motevm/mote"
)

// guestFile is one file of the guest module as extracted.
type guestFile struct {
	name string // slash-separated, relative to the module root
	data []byte
}

// guestTree returns the files of the stand-alone guest module: the
// non-test sources of abi/ and kernel/ and a go.mod, and the go.sum lines a
// main module that requires it needs (nil when the guest imports only the
// standard library).
func guestTree(fsys fs.FS) (files []guestFile, sum []byte, err error) {
	needReqs := false
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if base := path.Base(p); p != "." && (base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
				return fs.SkipDir
			}
			return nil
		}
		if p == "go.mod" || p == "go.sum" || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(p, ".go") && importsModules(p, data) {
			needReqs = true
		}
		files = append(files, guestFile{name: p, data: data})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	gomod := []byte("module " + mote.ModulePath + "\n\ngo 1.26\n")
	if needReqs {
		// The library OS uses other modules: give the guest module the
		// requirements of mote's own go.mod, and the matching checksums.
		if b, err := fs.ReadFile(fsys, "go.mod"); err == nil {
			gomod = b
		}
		sum, _ = fs.ReadFile(fsys, "go.sum")
	}
	files = append(files, guestFile{name: "go.mod", data: gomod})
	sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
	return files, sum, nil
}

// importsModules reports whether a Go file imports a package outside the
// standard library and outside mote's own module.
func importsModules(name string, src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		return false
	}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err != nil {
			continue
		}
		first, _, _ := strings.Cut(p, "/")
		if strings.Contains(first, ".") && p != mote.ModulePath && !strings.HasPrefix(p, mote.ModulePath+"/") {
			return true
		}
	}
	return false
}

// CacheDir returns mote's cache directory ($XDG_CACHE_HOME/mote or
// ~/.cache/mote).
func CacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("mote build: cannot find a cache directory: %v", err)
	}
	return filepath.Join(dir, "mote"), nil
}

// extractGuest writes the guest module to a content-addressed directory in
// the cache (once) and returns the directory and the go.sum lines a main
// module needs for it.
func extractGuest(fsys fs.FS) (dir string, sum []byte, err error) {
	files, sum, err := guestTree(fsys)
	if err != nil {
		return "", nil, fmt.Errorf("mote build: cannot read the embedded library OS sources: %v", err)
	}
	h := sha256.New()
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00%d\x00", f.name, len(f.data))
		h.Write(f.data)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", nil, err
	}
	dir = filepath.Join(cache, "guest", hex.EncodeToString(h.Sum(nil))[:24])
	// The directory is renamed into place complete, so existing means done.
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		return dir, sum, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", nil, fmt.Errorf("mote build: cannot create the cache directory: %v", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".tmp-")
	if err != nil {
		return "", nil, fmt.Errorf("mote build: cannot create the cache directory: %v", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		p := filepath.Join(tmp, filepath.FromSlash(f.name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", nil, fmt.Errorf("mote build: cannot extract the library OS: %v", err)
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return "", nil, fmt.Errorf("mote build: cannot extract the library OS: %v", err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Someone else extracted it first, or a stale partial tree is in
		// the way: replace the latter.
		if guestComplete(dir, files) {
			return dir, sum, nil
		}
		os.RemoveAll(dir)
		if err := os.Rename(tmp, dir); err != nil {
			return "", nil, fmt.Errorf("mote build: cannot extract the library OS: %v", err)
		}
	}
	return dir, sum, nil
}

func guestComplete(dir string, files []guestFile) bool {
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.name)))
		if err != nil || !bytes.Equal(b, f.data) {
			return false
		}
	}
	return true
}
