package tests

import (
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestKVStore runs a real database, bbolt, which reads its file through a
// shared mmap(2) and writes it with pwrite(2) and fdatasync(2): on a
// volume (one and two vCPUs, each run checking the last one's keys, and
// the host reading the file afterwards) and on the guest's tmpfs.
func TestKVStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i, cpus := range []string{"1", "2"} {
		r := mote(t, 2*time.Minute, "run", "--cpus", cpus, "-m", "128M", "-v", dir+":/data", images["kvstore"], "--", "/data", "2000")
		want := []string{"kvstore ok: 2000 keys in 1 runs", "kvstore ok: 4000 keys in 2 runs"}[i]
		if r.code != 0 || strings.TrimSpace(r.stdout) != want {
			t.Fatalf("--cpus %s on a volume: exit %d, stdout %q, want %q\nstderr:\n%s", cpus, r.code, r.stdout, want, r.stderr)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, "kv.db"), 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("the host opens the guest's database: %v", err)
	}
	defer db.Close()
	keys := 0
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("kv")).ForEach(func(k, v []byte) error {
			if string(k) == "runs" {
				return nil
			}
			keys++
			if h := sha256.Sum256(k); string(v) != string(h[:]) {
				t.Errorf("key %s: wrong value on the host", k)
			}
			return nil
		})
	})
	if err != nil || keys != 4000 {
		t.Errorf("the host reads %d keys (%v), want 4000", keys, err)
	}

	r := mote(t, 2*time.Minute, "run", "-m", "128M", images["kvstore"], "--", "/tmp", "3000")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "kvstore ok: 3000 keys in 1 runs" {
		t.Errorf("on tmpfs: exit %d, stdout %q\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}
