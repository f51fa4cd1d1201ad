package store

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/internal/motedir"
)

// index is tags.json. It is an object, not a bare map, so that it can
// grow fields without a format change.
type index struct {
	Tags map[string]string `json:"tags"` // "NAME:TAG" -> "sha256:<hex>"
}

// readIndex reads tags.json; a missing file is an empty index. Readers
// need no lock: the file is only ever replaced whole.
func (s *Store) readIndex() (*index, error) {
	idx := &index{Tags: map[string]string{}}
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %v", s.indexPath(), err)
	}
	if idx.Tags == nil {
		idx.Tags = map[string]string{}
	}
	return idx, nil
}

func (s *Store) writeIndex(idx *index) error {
	return writeJSON(s.indexPath(), idx)
}

// tagsOf returns the sorted references that name digest.
func (idx *index) tagsOf(digest string) []string {
	var refs []string
	for r, d := range idx.Tags {
		if d == digest {
			refs = append(refs, r)
		}
	}
	sort.Strings(refs)
	return refs
}

// readMeta reads the metadata of the digest with hex h.
func (s *Store) readMeta(h string) (Image, error) {
	var img Image
	b, err := os.ReadFile(s.metaPath(h))
	if err != nil {
		return img, err
	}
	if err := json.Unmarshal(b, &img); err != nil {
		return img, fmt.Errorf("%s is corrupt: %v", s.metaPath(h), err)
	}
	return img, nil
}

// digests returns the hex digests that have metadata.
func (s *Store) digests() ([]string, error) {
	ents, err := os.ReadDir(s.metaDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if h, ok := strings.CutSuffix(e.Name(), ".json"); ok && len(h) == 64 && isHex(h) {
			out = append(out, h)
		}
	}
	return out, nil
}

// init makes the store's directories.
func (s *Store) init() error {
	for _, d := range []string{s.dir, s.blobDir(), s.metaDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// lock takes the store's lock (motedir.Lock) and returns the function
// that releases it.
func (s *Store) lock() (unlock func(), err error) {
	return motedir.Lock(s.lockPath())
}

// tmpPrefix starts the names of the store's temporary files.
const tmpPrefix = ".tmp-"

// tmpName returns an unused-looking temporary path in dir.
func tmpName(dir string) string {
	var b [8]byte
	rand.Read(b[:])
	return filepath.Join(dir, tmpPrefix+hex.EncodeToString(b[:]))
}

// writeJSON replaces path with v as indented JSON: a temporary file in
// the same directory, synced, then renamed over path, so that readers
// and a crash see the old file or the new one, never a torn one.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	tmp := tmpName(filepath.Dir(path))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// staleAge is how old a temporary file must be for Add to remove it as
// the leftover of a crash (a live Add renames its own within seconds).
const staleAge = time.Hour

// removeStale removes temporary files left by crashed Adds. The inode
// change time is used, not the modification time: a blob hard-linked
// from an old image keeps the image's mtime, but the link sets its ctime.
func (s *Store) removeStale() {
	now := time.Now()
	for _, d := range []string{s.dir, s.blobDir(), s.metaDir()} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), tmpPrefix) {
				continue
			}
			var st unix.Stat_t
			p := filepath.Join(d, e.Name())
			if unix.Lstat(p, &st) == nil && now.Sub(time.Unix(st.Ctim.Unix())) > staleAge {
				os.Remove(p)
			}
		}
	}
}
