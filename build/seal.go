package build

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/motevm/mote/abi"
)

// Sealed files: a read-only file tree gathered from the host at build time
// and stored in the image (abi.EncodeFiles, the NoteTypeFiles note). The
// guest sees it as its file system, below the directories the library OS
// provides itself (/dev, /proc, /sys, /tmp).

// SealSpec names host files to seal into the image.
type SealSpec struct {
	// Host is a directory, copied recursively, or a single file; a
	// relative path is taken from Options.Dir. A symbolic link named here
	// is followed; links inside a directory are sealed as links, with
	// their targets verbatim.
	Host string
	// Guest is where Host appears in the guest: an absolute, clean path,
	// not "/" and not at or below /dev, /proc, /sys or /tmp.
	Guest string
	// Flag names the spec in messages, e.g. "--dir data:/srv/data";
	// "" means "HOST:GUEST".
	Flag string
}

func (s SealSpec) name() string {
	if s.Flag != "" {
		return s.Flag
	}
	return s.Host + ":" + s.Guest
}

// MaxSealedSize bounds the contents (file data and link targets) of the
// sealed tree.
const MaxSealedSize = 256 << 20

// reservedGuestDirs are provided by the library OS: nothing is sealed at
// or below them.
var reservedGuestDirs = []string{"/dev", "/proc", "/sys"}

// CheckGuestPath validates where sealed files go in the guest.
func CheckGuestPath(p string) error {
	if strings.IndexByte(p, 0) >= 0 {
		return fmt.Errorf("guest path %q contains a NUL byte", p)
	}
	if !path.IsAbs(p) {
		return fmt.Errorf("guest path %q is not absolute (it must start with /)", p)
	}
	if c := path.Clean(p); c != p {
		return fmt.Errorf("guest path %q is not clean (write %s)", p, c)
	}
	if p == "/" {
		return errors.New("files cannot be sealed at / (name a directory below it, such as /data)")
	}
	for _, r := range reservedGuestDirs {
		if p == r || strings.HasPrefix(p, r+"/") {
			return fmt.Errorf("files cannot be sealed at %s: %s belongs to the library OS", p, r)
		}
	}
	return nil
}

// CheckWorkDir validates a working directory for the guest and returns it
// cleaned.
func CheckWorkDir(d string) (string, error) {
	if strings.IndexByte(d, 0) >= 0 {
		return "", fmt.Errorf("working directory %q contains a NUL byte", d)
	}
	if !path.IsAbs(d) {
		return "", fmt.Errorf("working directory %q is not an absolute path", d)
	}
	return path.Clean(d), nil
}

// sealSource is one source of sealed files: an Options.Seal entry or, for a
// test binary, a directory of the package.
type sealSource struct {
	name    string // for messages
	host    string // absolute host path
	guest   string
	shallow bool // a directory's own files; its subdirectories empty (and testdata, sealed on its own)
}

// sealer gathers sealed files from the host.
type sealer struct {
	cmd     string // "mote build" or "mote test", for messages
	srcs    []sealSource
	files   []abi.SealedFile
	owner   []int // files[i] comes from srcs[owner[i]]
	size    int64 // contents gathered so far
	entries map[string]sealNode
}

type sealNode struct {
	dir   bool
	owner int
}

func newSealer(cmd string) *sealer {
	return &sealer{cmd: cmd, entries: map[string]sealNode{}}
}

func (s *sealer) errf(src int, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", s.cmd, s.srcs[src].name, fmt.Sprintf(format, args...))
}

// addSpec gathers the files of an Options.Seal entry; relative host paths
// are taken from base.
func (s *sealer) addSpec(spec SealSpec, base string) error {
	src := len(s.srcs)
	host := spec.Host
	if host != "" && !filepath.IsAbs(host) {
		host = filepath.Join(base, host)
	}
	s.srcs = append(s.srcs, sealSource{name: spec.name(), host: host, guest: spec.Guest})
	if spec.Host == "" {
		return s.errf(src, "no host path")
	}
	if err := CheckGuestPath(spec.Guest); err != nil {
		return s.errf(src, "%v", err)
	}
	if _, err := os.Stat(host); err != nil {
		return s.errf(src, "%s", statError(spec.Host, err))
	}
	return s.gather(src)
}

// addDir gathers a directory (recursively, or only its own files if
// shallow) at the same path in the guest.
func (s *sealer) addDir(name, dir string, shallow bool) error {
	src := len(s.srcs)
	s.srcs = append(s.srcs, sealSource{name: name, host: dir, guest: filepath.ToSlash(dir), shallow: shallow})
	if err := CheckGuestPath(filepath.ToSlash(dir)); err != nil {
		return s.errf(src, "%v", err)
	}
	return s.gather(src)
}

// addFile gathers one host file at guest.
func (s *sealer) addFile(name, host, guest string) error {
	src := len(s.srcs)
	s.srcs = append(s.srcs, sealSource{name: name, host: host, guest: guest})
	if err := CheckGuestPath(guest); err != nil {
		return s.errf(src, "%v", err)
	}
	return s.gather(src)
}

func statError(name string, err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return name + ": no such file or directory"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return name + ": " + pe.Err.Error()
	}
	return err.Error()
}

func (s *sealer) gather(src int) error {
	so := s.srcs[src]
	st, err := os.Stat(so.host) // a link named by the spec is followed
	if err != nil {
		return s.errf(src, "%s", statError(so.host, err))
	}
	if !st.IsDir() {
		return s.add(src, so.host, so.guest, st)
	}
	root := so.host
	if lst, err := os.Lstat(root); err == nil && lst.Mode()&fs.ModeSymlink != 0 {
		if root, err = filepath.EvalSymlinks(root); err != nil {
			return s.errf(src, "%s", statError(so.host, err))
		}
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return s.errf(src, "%s", statError(p, err))
		}
		if p == root {
			return s.add(src, p, so.guest, st)
		}
		if so.shallow && d.IsDir() {
			// A subdirectory shows in listings, empty (testdata is
			// sealed on its own).
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			info, err := d.Info()
			if err != nil {
				return s.errf(src, "%s", statError(p, err))
			}
			if err := s.add(src, p, path.Join(so.guest, d.Name()), info); err != nil {
				return err
			}
			return filepath.SkipDir
		}
		if so.shallow && d.Name() == "testdata" {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				return nil // a link to testdata: sealed as a directory on its own
			}
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return s.errf(src, "%v", err)
		}
		info, err := d.Info()
		if err != nil {
			return s.errf(src, "%s", statError(p, err))
		}
		return s.add(src, p, path.Join(so.guest, filepath.ToSlash(rel)), info)
	})
}

// add records one entry: host file host, with info from Lstat (or Stat
// for the entry a spec names), at guest.
func (s *sealer) add(src int, host, guest string, info fs.FileInfo) error {
	mode, ok := abi.FileMode(info.Mode())
	if !ok {
		return s.errf(src, "%s is a %s; only regular files, directories and symbolic links can be sealed", host, typeName(info.Mode()))
	}
	f := abi.SealedFile{Path: guest, Mode: mode, Mtime: info.ModTime().UnixNano()}
	switch mode & abi.ModeTypeMask {
	case abi.ModeReg:
		if s.size+info.Size() > MaxSealedSize {
			return s.errf(src, "the sealed files are larger than %d MiB (at %s); seal less", MaxSealedSize>>20, host)
		}
		data, err := os.ReadFile(host)
		if err != nil {
			return s.errf(src, "%s", statError(host, err))
		}
		if s.size+int64(len(data)) > MaxSealedSize {
			return s.errf(src, "the sealed files are larger than %d MiB (at %s); seal less", MaxSealedSize>>20, host)
		}
		f.Data = data
	case abi.ModeSymlink:
		t, err := os.Readlink(host)
		if err != nil {
			return s.errf(src, "%s", statError(host, err))
		}
		f.Data = []byte(t)
	}
	s.size += int64(len(f.Data))
	// Conflicts: the same path twice (two directories merge), or a path
	// below something that is not a directory.
	if err := s.claim(src, guest, mode&abi.ModeTypeMask == abi.ModeDir); err != nil {
		return err
	}
	s.files = append(s.files, f)
	s.owner = append(s.owner, src)
	return nil
}

// claim records guest (and its parent directories) for src.
func (s *sealer) claim(src int, guest string, dir bool) error {
	var parents []string
	for d := path.Dir(guest); d != "/"; d = path.Dir(d) {
		parents = append(parents, d)
	}
	for i := len(parents) - 1; i >= 0; i-- {
		if err := s.claim1(src, parents[i], true); err != nil {
			return err
		}
	}
	return s.claim1(src, guest, dir)
}

func (s *sealer) claim1(src int, p string, dir bool) error {
	n, ok := s.entries[p]
	if !ok {
		s.entries[p] = sealNode{dir: dir, owner: src}
		return nil
	}
	if n.dir && dir {
		return nil
	}
	a, b := s.srcs[n.owner].name, s.srcs[src].name
	if n.owner == src {
		return fmt.Errorf("%s: %s: %s is sealed twice", s.cmd, a, p)
	}
	return fmt.Errorf("%s: %s and %s both seal %s", s.cmd, a, b, p)
}

// encode returns the archive, or nil if nothing was sealed.
func (s *sealer) encode() ([]byte, error) {
	if len(s.files) == 0 {
		return nil, nil
	}
	ar, err := abi.EncodeFiles(s.files)
	if err != nil {
		// claim catches conflicts first; name every source to be safe.
		var names []string
		for _, so := range s.srcs {
			names = append(names, so.name)
		}
		return nil, fmt.Errorf("%s: sealing %s: %v", s.cmd, strings.Join(names, ", "), err)
	}
	if len(ar) > MaxSealedSize+MaxSealedSize/4 {
		return nil, fmt.Errorf("%s: the sealed files' archive is larger than %d MiB; seal less", s.cmd, (MaxSealedSize+MaxSealedSize/4)>>20)
	}
	return ar, nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}

// archiveSum is what the image cache key records of the sealed files: the
// archive holds their paths, modes, contents and modification times.
func archiveSum(ar []byte) string {
	if ar == nil {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(ar))
}
