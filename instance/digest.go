package instance

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// digestCacheFile, in the instances directory, remembers the digests of
// image files. Hashing an image takes ~2 ms per MiB (30 ms for a 14 MiB
// HTTP server, most of what mote run -d costs), and services are started
// from the same image again and again.
const digestCacheFile = ".digests.json"

// digestCacheMax bounds the cache (least recently added out first).
const digestCacheMax = 64

// digestEntry identifies a file's contents without reading them: the same
// inode with the same size, modification and change times (nanoseconds)
// has not been written since (as git's index assumes). ctime changes with
// every write and cannot be set by utimes, so a rewritten file that got its
// old mtime back does not match.
type digestEntry struct {
	Path   string `json:"path"`
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime_ns"`
	Ctime  int64  `json:"ctime_ns"`
	Digest string `json:"digest"`
}

func fileKey(path string, fi os.FileInfo) (digestEntry, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return digestEntry{}, false
	}
	return digestEntry{
		Path: path, Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}, true
}

// Digest returns "sha256:<hex>" of the file at path (absolute), from the
// cache when the file is unchanged since it was hashed.
func Digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	key, cacheable := fileKey(path, fi)
	cachePath := filepath.Join(Root(), digestCacheFile)
	var cache []digestEntry
	if cacheable {
		readJSON(cachePath, &cache) // a missing or corrupt cache is empty
		for _, e := range cache {
			if d := e.Digest; e.Digest != "" {
				e.Digest = ""
				if e == key {
					return d, nil
				}
			}
		}
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	digest := "sha256:" + hex.EncodeToString(h.Sum(nil))
	// Unchanged while it was read? Then remember it.
	if fi2, err := f.Stat(); cacheable && err == nil {
		if key2, _ := fileKey(path, fi2); key2 == key {
			key.Digest = digest
			kept := []digestEntry{key}
			for _, e := range cache {
				if e.Path != path && len(kept) < digestCacheMax {
					kept = append(kept, e)
				}
			}
			if os.MkdirAll(Root(), 0o700) == nil {
				writeJSON(cachePath, kept) // best effort
			}
		}
	}
	return digest, nil
}
