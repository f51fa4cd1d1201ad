// Command kvstore is a real database program for the tests: it keeps keys
// in a bbolt file, which bbolt reads through a shared mmap(2) of the file
// and writes with pwrite(2) and fdatasync(2), so the two must agree.
//
// Usage: kvstore DIR N — open DIR/kv.db, check the keys earlier runs put
// there (each run adds N keys in transactions of 100, key "r<run>-<i>",
// value its SHA-256), add N more, reopen the file and check them all;
// print "kvstore ok: K keys in R runs".
package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	bolt "go.etcd.io/bbolt"
)

var bucket = []byte("kv")

func value(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

func check(db *bolt.DB) (runs, keys int, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte("runs")); v != nil {
			runs = int(binary.BigEndian.Uint64(v))
		}
		return b.ForEach(func(k, v []byte) error {
			if string(k) == "runs" {
				return nil
			}
			keys++
			if string(v) != string(value(string(k))) {
				return fmt.Errorf("key %s: wrong value", k)
			}
			return nil
		})
	})
	return runs, keys, err
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kvstore DIR N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "kvstore: bad N")
		os.Exit(2)
	}
	path := filepath.Join(os.Args[1], "kv.db")
	fail := func(what string, err error) {
		fmt.Printf("kvstore FAIL: %s: %v\n", what, err)
		os.Exit(1)
	}
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		fail("open", err)
	}
	runs, keys, err := check(db)
	if err != nil {
		fail("check before", err)
	}
	if keys != runs*n {
		fail("check before", fmt.Errorf("%d keys after %d runs of %d", keys, runs, n))
	}
	for i := 0; i < n; i += 100 {
		err := db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for j := i; j < min(i+100, n); j++ {
				k := fmt.Sprintf("r%d-%d", runs, j)
				if err := b.Put([]byte(k), value(k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			fail("update", err)
		}
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Put([]byte("runs"), binary.BigEndian.AppendUint64(nil, uint64(runs+1)))
	})
	if err != nil {
		fail("update runs", err)
	}
	if err := db.Close(); err != nil {
		fail("close", err)
	}
	if db, err = bolt.Open(path, 0o600, nil); err != nil {
		fail("reopen", err)
	}
	runs, keys, err = check(db)
	if err != nil {
		fail("check after", err)
	}
	if keys != runs*n {
		fail("check after", fmt.Errorf("%d keys after %d runs of %d", keys, runs, n))
	}
	db.Close()
	fmt.Printf("kvstore ok: %d keys in %d runs\n", keys, runs)
}
