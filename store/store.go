// Package store is mote's local image store: the images mote build made,
// kept under names so that they can be listed, run and removed without
// knowing where the build wrote them (issue 7: run a program like a
// service, by name).
//
// The store is content-addressed, like an OCI image layout: an image is
// identified by the SHA-256 of its file, so the same bytes are stored once
// however many names they have, and a name can be checked against what it
// names. Its directory (motedir.Images(), mode 0700) holds
//
//	blobs/sha256/<hex>       the image files
//	meta/sha256/<hex>.json   their metadata (Image): size, creation time and
//	                         the software bill of materials read from the
//	                         program's Go build information
//	tags.json                the index: NAME:TAG -> sha256:<hex>
//	lock                     flock(2) serialising changes to the index
//
// Every file appears by a rename of a complete temporary file in the same
// directory, so a reader (mote images, mote run NAME) sees the old or the
// new version and a crash leaves no half-written blob, metadata or index
// (at worst a stray temporary file, which a later Add removes). Changes
// of the index, and the blobs and metadata they bring or orphan, happen
// under the lock, so two mote builds at once both land and a removal never
// deletes a blob that a concurrent Add has just tagged.
//
// A blob is removed with its last tag: retagging NAME:TAG to a new build
// deletes the old image if nothing else names it, so rebuilding under the
// same name does not grow the store.
package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultTag is the tag of a reference that names none.
const DefaultTag = "latest"

// Errors a caller may test for with errors.Is.
var (
	// ErrNotExist: no image matches the reference ("no such image: web:v2").
	ErrNotExist = errors.New("no such image")
	// ErrAmbiguous: a digest prefix matches more than one image.
	ErrAmbiguous = errors.New("ambiguous digest prefix")
)

// Image is an image in the store: its identity, when it was stored, and
// what it was built from. It is stored as meta/sha256/<hex>.json and is
// what mote images --format json prints.
type Image struct {
	// Digest is "sha256:" and the hex SHA-256 of the image file.
	Digest  string    `json:"digest"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"` // when the digest was first stored (RFC 3339)
	// Name and Tag are the reference the image is listed or resolved
	// under; in the metadata file, the one it was first stored as.
	Name string `json:"name"`
	Tag  string `json:"tag"`

	// What mote build knew (Extras).
	Source      string `json:"source,omitempty"`
	MoteVersion string `json:"moteVersion,omitempty"`

	// From the program's Go build information (debug/buildinfo), empty
	// if the image has none: the Go release, the main package's import
	// path, the main module, the modules linked in (with their
	// go.sum hashes and replacements) and the build settings (-tags,
	// -ldflags, CGO_ENABLED, GOARCH, vcs.revision, ...).
	GoVersion string    `json:"goVersion,omitempty"`
	Package   string    `json:"package,omitempty"`
	Main      *Module   `json:"main,omitempty"`
	Deps      []Module  `json:"deps,omitempty"`
	Settings  []Setting `json:"settings,omitempty"`
}

// Module is a Go module linked into an image.
type Module struct {
	Path    string  `json:"path"`
	Version string  `json:"version,omitempty"`
	Sum     string  `json:"sum,omitempty"`
	Replace *Module `json:"replace,omitempty"`
}

// Setting is one build setting of the Go build information.
type Setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Extras is what the store cannot learn from the image file itself.
type Extras struct {
	Source      string // the package path, directory or files built
	MoteVersion string // the mote that built it
}

// Ref returns "NAME:TAG".
func (img Image) Ref() string { return img.Name + ":" + img.Tag }

// Hex returns the digest's hex part.
func (img Image) Hex() string { return trimAlgo(img.Digest) }

// ShortDigest returns the first 12 hex digits of the digest, enough to
// name the image in a store of any realistic size.
func (img Image) ShortDigest() string {
	h := img.Hex()
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// Store is an image store in a directory. Its methods may be called from
// several goroutines and processes at once.
type Store struct {
	dir string
}

// Open returns the store in dir (normally motedir.Images()). Nothing is
// created until an image is added.
func Open(dir string) *Store { return &Store{dir: dir} }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

const algo = "sha256"

func (s *Store) blobDir() string          { return filepath.Join(s.dir, "blobs", algo) }
func (s *Store) metaDir() string          { return filepath.Join(s.dir, "meta", algo) }
func (s *Store) blobPath(h string) string { return filepath.Join(s.blobDir(), h) }
func (s *Store) metaPath(h string) string { return filepath.Join(s.metaDir(), h+".json") }
func (s *Store) indexPath() string        { return filepath.Join(s.dir, "tags.json") }
func (s *Store) lockPath() string         { return filepath.Join(s.dir, "lock") }

func trimAlgo(d string) string {
	if len(d) > len(algo)+1 && d[:len(algo)+1] == algo+":" {
		return d[len(algo)+1:]
	}
	return d
}

// Blob returns the stored file of the image with digest "sha256:<hex>", if
// the store holds it. Blobs never change in place (every one appears by a
// rename and goes by an unlink), so a monitor may map one's pages for as
// long as it runs, even if the image is removed from the store meanwhile.
func (s *Store) Blob(digest string) (string, bool) {
	h := trimAlgo(digest)
	if h == digest || len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		return "", false
	}
	p := s.blobPath(h)
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// IsBlob reports whether path names a blob of the store (as Resolve and
// Blob return them).
func (s *Store) IsBlob(path string) bool { return filepath.Dir(path) == s.blobDir() }
