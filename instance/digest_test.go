package instance

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDigestCache(t *testing.T) {
	home(t)
	path := filepath.Join(t.TempDir(), "x.img")
	want := func(b string) string {
		s := sha256.Sum256([]byte(b))
		return "sha256:" + hex.EncodeToString(s[:])
	}
	os.WriteFile(path, []byte("one"), 0o644)
	if d, err := Digest(path); err != nil || d != want("one") {
		t.Fatalf("Digest = %s, %v", d, err)
	}
	if _, err := os.Stat(filepath.Join(Root(), digestCacheFile)); err != nil {
		t.Fatalf("no cache: %v", err)
	}
	// Cached: a poisoned entry for the unchanged file is believed (this
	// is how the test sees the cache is used).
	var cache []digestEntry
	readJSON(filepath.Join(Root(), digestCacheFile), &cache)
	cache[0].Digest = "sha256:cached"
	writeJSON(filepath.Join(Root(), digestCacheFile), cache)
	if d, _ := Digest(path); d != "sha256:cached" {
		t.Errorf("unchanged file: %s, want the cached digest", d)
	}
	// Rewritten with the same size and its old mtime put back: ctime
	// differs, so it is hashed again.
	fi, _ := os.Stat(path)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(path, []byte("two"), 0o644)
	os.Chtimes(path, fi.ModTime(), fi.ModTime())
	if d, _ := Digest(path); d != want("two") {
		t.Errorf("rewritten file: %s, want %s", d, want("two"))
	}
	// Replaced by another file (rename): another inode.
	other := path + ".new"
	os.WriteFile(other, []byte("three"), 0o644)
	os.Rename(other, path)
	if d, _ := Digest(path); d != want("three") {
		t.Errorf("replaced file: %s", d)
	}
	if _, err := Digest(path + ".missing"); err == nil {
		t.Error("Digest of a missing file")
	}
}
