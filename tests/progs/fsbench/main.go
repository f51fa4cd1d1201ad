// Command fsbench is the workload of tools/fsbench, run natively and in
// mote with the same arguments; it prints one figure.
//
//	fsbench write DIR MiB    write a file of MiB in 1 MiB writes, fsync, MB/s
//	fsbench read FILE        read FILE in 1 MiB reads, MB/s
//	fsbench small DIR N      create, stat and delete N small files, ops/s
//	                         (one op = create+write 100 bytes+close, stat, unlink)
//	fsbench kv DIR N         put N keys (32-byte values) into a new bbolt
//	                         database in DIR, 100 per transaction (each
//	                         commit fdatasyncs), keys/s; bbolt reads its file
//	                         through a shared mmap
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: fsbench write DIR MiB | read FILE | small DIR N | kv DIR N")
	}
	switch os.Args[1] {
	case "write":
		mib, _ := strconv.Atoi(os.Args[3])
		p := filepath.Join(os.Args[2], "fsbench.dat")
		buf := make([]byte, 1<<20)
		for i := range buf {
			buf[i] = byte(i)
		}
		t0 := time.Now()
		f, err := os.Create(p)
		check(err)
		for i := 0; i < mib; i++ {
			_, err := f.Write(buf)
			check(err)
		}
		check(f.Sync())
		check(f.Close())
		d := time.Since(t0)
		os.Remove(p)
		fmt.Printf("%.0f\n", float64(mib)*1.048576/d.Seconds())
	case "read":
		f, err := os.Open(os.Args[2])
		check(err)
		buf := make([]byte, 1<<20)
		t0 := time.Now()
		n := 0
		for {
			m, err := f.Read(buf)
			n += m
			if err == io.EOF {
				break
			}
			check(err)
		}
		d := time.Since(t0)
		fmt.Printf("%.0f\n", float64(n)/1e6/d.Seconds())
	case "small":
		n, _ := strconv.Atoi(os.Args[3])
		data := make([]byte, 100)
		t0 := time.Now()
		for i := 0; i < n; i++ {
			p := filepath.Join(os.Args[2], "f"+strconv.Itoa(i))
			check(os.WriteFile(p, data, 0o644))
			_, err := os.Stat(p)
			check(err)
			check(os.Remove(p))
		}
		fmt.Printf("%.0f\n", float64(n)/time.Since(t0).Seconds())
	case "kv":
		n, _ := strconv.Atoi(os.Args[3])
		p := filepath.Join(os.Args[2], "fsbench.db")
		os.Remove(p)
		t0 := time.Now()
		db, err := bolt.Open(p, 0o600, nil)
		check(err)
		val := make([]byte, 32)
		for i := 0; i < n; i += 100 {
			check(db.Update(func(tx *bolt.Tx) error {
				b, err := tx.CreateBucketIfNotExists([]byte("kv"))
				if err != nil {
					return err
				}
				for j := i; j < min(i+100, n); j++ {
					if err := b.Put([]byte(fmt.Sprintf("key-%08d", j)), val); err != nil {
						return err
					}
				}
				return nil
			}))
		}
		check(db.Close())
		d := time.Since(t0)
		os.Remove(p)
		fmt.Printf("%.0f\n", float64(n)/d.Seconds())
	default:
		fail("unknown mode")
	}
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "fsbench:", msg)
	os.Exit(1)
}
