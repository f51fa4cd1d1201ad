package store

import (
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"time"
)

// Test hooks: link is os.Link (a test makes it fail to exercise the copy);
// beforeCommit runs just before the index is written.
var (
	link         = os.Link
	beforeCommit = func() error { return nil }
)

// Add stores the image file at imagePath as name:tag ("" tag: DefaultTag)
// and returns its entry. If name:tag named another image, that image is
// removed unless another tag still names it.
//
// The file is hard-linked into the store when it is on the same file
// system (no copy: storing costs a link and a hash of the file), copied
// otherwise. A hard link shares the file's contents with imagePath: mote
// build replaces its output by renaming a new file over it, which leaves
// the blob alone, but a tool that rewrote the image in place would change
// the stored image too (Resolve notices a changed size).
//
// Adding an image whose digest is stored already keeps its metadata
// (creation time included): the same bytes are the same image. A failed
// Add leaves the store as it was.
func (s *Store) Add(imagePath, name, tag string, x Extras) (Image, error) {
	if tag == "" {
		tag = DefaultTag
	}
	if err := CheckName(name); err != nil {
		return Image{}, err
	}
	if err := CheckTag(tag); err != nil {
		return Image{}, err
	}
	st, err := os.Stat(imagePath)
	if err != nil {
		return Image{}, err
	}
	if !st.Mode().IsRegular() {
		return Image{}, fmt.Errorf("%s is not a regular file", imagePath)
	}
	if err := s.init(); err != nil {
		return Image{}, err
	}

	// Outside the lock: put the file into the blob directory under a
	// temporary name and hash what is there (large images take a
	// moment to hash; concurrent builds need not wait for each other).
	tmp, h, size, err := s.stage(imagePath)
	if err != nil {
		return Image{}, err
	}
	defer func() {
		if tmp != "" {
			os.Remove(tmp)
		}
	}()
	img := Image{
		Digest:      algo + ":" + h,
		Size:        size,
		Created:     time.Now().UTC(),
		Name:        name,
		Tag:         tag,
		Source:      x.Source,
		MoteVersion: x.MoteVersion,
	}
	setBuildInfo(&img, tmp)

	unlock, err := s.lock()
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	s.removeStale()
	idx, err := s.readIndex()
	if err != nil {
		return Image{}, err
	}

	// Files this Add brought, removed again if it fails.
	var made []string
	fail := func(err error) (Image, error) {
		for _, p := range made {
			os.Remove(p)
		}
		return Image{}, err
	}
	blob := s.blobPath(h)
	bst, err := os.Stat(blob)
	switch {
	case err == nil && bst.Size() == size:
		// Stored already; the deferred Remove drops ours.
	case err == nil || errors.Is(err, fs.ErrNotExist):
		// New, or damaged (a changed size): put ours in its place.
		if rerr := os.Rename(tmp, blob); rerr != nil {
			return fail(rerr)
		}
		if err != nil {
			made = append(made, blob)
		}
	default:
		return fail(err)
	}
	if old, err := s.readMeta(h); err == nil && old.Digest == img.Digest {
		img = old
		img.Name, img.Tag = name, tag
	} else {
		if err := writeJSON(s.metaPath(h), img); err != nil {
			return fail(err)
		}
		made = append(made, s.metaPath(h))
	}

	ref := name + ":" + tag
	old, had := idx.Tags[ref]
	idx.Tags[ref] = img.Digest
	if err := beforeCommit(); err != nil {
		return fail(err)
	}
	if err := s.writeIndex(idx); err != nil {
		return fail(err)
	}
	if had && old != img.Digest && len(idx.tagsOf(old)) == 0 {
		s.deleteImage(old)
	}
	return img, nil
}

// stage hard-links (or copies) src to a temporary file in the blob
// directory and returns its name, hex SHA-256 and size.
func (s *Store) stage(src string) (tmp, h string, size int64, err error) {
	tmp = tmpName(s.blobDir())
	if link(src, tmp) == nil {
		h, size, err = hashFile(tmp)
		if err != nil {
			os.Remove(tmp)
			return "", "", 0, err
		}
		return tmp, h, size, nil
	}
	in, err := os.Open(src)
	if err != nil {
		return "", "", 0, err
	}
	defer in.Close()
	// Read-only: nothing is meant to write a blob.
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", "", 0, err
	}
	sum := sha256.New()
	size, err = io.Copy(io.MultiWriter(out, sum), in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", "", 0, fmt.Errorf("copying %s into the image store: %v", src, err)
	}
	return tmp, hex.EncodeToString(sum.Sum(nil)), size, nil
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	sum := sha256.New()
	n, err := io.Copy(sum, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(sum.Sum(nil)), n, nil
}

// setBuildInfo fills in what the Go build information of the program in
// the image says. A mote image is the program's ELF file with mote's
// notes added, so debug/buildinfo reads it as it reads any Go binary; an
// image without build information (not built by the go command) just
// has none.
func setBuildInfo(img *Image, path string) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return
	}
	img.GoVersion = bi.GoVersion
	img.Package = bi.Path
	if bi.Main.Path != "" {
		m := module(&bi.Main)
		img.Main = &m
	}
	for _, d := range bi.Deps {
		img.Deps = append(img.Deps, module(d))
	}
	for _, s := range bi.Settings {
		img.Settings = append(img.Settings, Setting{Key: s.Key, Value: s.Value})
	}
}

func module(m *debug.Module) Module {
	out := Module{Path: m.Path, Version: m.Version, Sum: m.Sum}
	if m.Replace != nil {
		r := module(m.Replace)
		out.Replace = &r
	}
	return out
}

// deleteImage removes the blob and metadata of digest (with the lock
// held, and after the index no longer names it: a crash in between
// leaves an unnamed blob, never a name without its blob).
func (s *Store) deleteImage(digest string) {
	h := trimAlgo(digest)
	os.Remove(s.metaPath(h))
	os.Remove(s.blobPath(h))
}
