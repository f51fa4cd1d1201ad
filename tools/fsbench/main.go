// Command fsbench measures mote's file systems against the native process in
// the same run, on the same machine, and prints the figures side by side:
//
//	go run ./tools/fsbench [-runs 5] [-mib 256]
//
// It builds the mote CLI and tests/progs/fsbench natively and as a mote image
// (with a -mib file sealed into it at /data/big), then measures (medians):
//   - sequential write (1 MiB writes, then fsync) and read: natively on a
//     directory in /dev/shm (Linux's tmpfs) and on the host's temporary
//     directory, in mote on /tmp (the guest's tmpfs);
//   - reads of a sealed file in mote against the same file read natively;
//   - small-file create+write+close, stat, unlink per second, the same
//     places;
//   - a database that maps its file: keys per second put into a bbolt
//     database, 100 per transaction, each commit fdatasync'ed, the same
//     places;
//   - host directory volumes (mote run -v): the same measurements on a
//     volume against the native process on the same host directory (the
//     host's temporary directory), with the ratio.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	flagRuns  = flag.Int("runs", 5, "runs of each measurement (the median is shown)")
	flagMiB   = flag.Int("mib", 256, "size of the sequential files, MiB")
	flagSmall = flag.Int("small", 5000, "small files per run")
	flagKeys  = flag.Int("keys", 20000, "keys put into the bbolt database per run (100 per fsynced transaction)")
)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "fsbench-")
	check(err)
	defer os.RemoveAll(dir)
	shm, err := os.MkdirTemp("/dev/shm", "fsbench-")
	check(err)
	defer os.RemoveAll(shm)
	mote := filepath.Join(dir, "mote")
	native := filepath.Join(dir, "fsbench")
	img := filepath.Join(dir, "fsbench.img")
	big := filepath.Join(dir, "big")
	data := make([]byte, *flagMiB<<20)
	rand.Read(data)
	check(os.WriteFile(big, data, 0o644))
	run(nil, "go", "build", "-o", mote, "./cmd/mote")
	run(nil, "go", "build", "-o", native, "./tests/progs/fsbench")
	run(nil, mote, "build", "-o", img, "--file", big+":/data/big", "./tests/progs/fsbench")
	mem := strconv.Itoa(*flagMiB*3+256) + "M"

	med := func(f func() string) float64 {
		var v []float64
		for i := 0; i < *flagRuns; i++ {
			x, err := strconv.ParseFloat(strings.TrimSpace(f()), 64)
			check(err)
			v = append(v, x)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	nat := func(args ...string) float64 { return med(func() string { return run(nil, native, args...) }) }
	gst := func(args ...string) float64 {
		return med(func() string { return run(nil, mote, append([]string{"run", "-m", mem, img, "--"}, args...)...) })
	}
	mib := strconv.Itoa(*flagMiB)
	small := strconv.Itoa(*flagSmall)
	keys := strconv.Itoa(*flagKeys)
	fmt.Printf("fsbench: %d runs each, median; %s MiB files, %s small files\n\n", *flagRuns, mib, small)
	fmt.Printf("%-36s %14s %14s %14s\n", "", "native /dev/shm", "native "+os.TempDir(), "mote /tmp")
	fmt.Printf("%-36s %11.0f MB/s %9.0f MB/s %9.0f MB/s\n", "sequential write + fsync",
		nat("write", shm, mib), nat("write", dir, mib), gst("write", "/tmp", mib))
	fmt.Printf("%-36s %11.0f op/s %9.0f op/s %9.0f op/s\n", "small file create+stat+delete",
		nat("small", shm, small), nat("small", dir, small), gst("small", "/tmp", small))
	fmt.Printf("%-36s %11.0f op/s %9.0f op/s %9.0f op/s\n", "bbolt puts (100 per commit)",
		nat("kv", shm, keys), nat("kv", dir, keys), gst("kv", "/tmp", keys))
	fmt.Printf("\n%-36s %14s %14s\n", "", "native", "mote sealed")
	fmt.Printf("%-36s %9.0f MB/s %9.0f MB/s\n", "sequential read of the "+mib+" MiB file", nat("read", big), gst("read", "/data/big"))

	// Volumes: the same directory natively and through mote run -v.
	vol := func(args ...string) float64 {
		return med(func() string {
			return run(nil, mote, append([]string{"run", "-m", mem, "-v", dir + ":/vol", img, "--"}, args...)...)
		})
	}
	fmt.Printf("\n%-36s %14s %14s %8s\n", "", "native "+os.TempDir(), "mote -v", "ratio")
	row := func(what, unit string, n, g float64) {
		fmt.Printf("%-36s %9.0f %s %9.0f %s %7.2fx\n", what, n, unit, g, unit, g/n)
	}
	row("sequential write + fsync", "MB/s", nat("write", dir, mib), vol("write", "/vol", mib))
	row("sequential read of the "+mib+" MiB file", "MB/s", nat("read", big), vol("read", "/vol/big"))
	row("small file create+stat+delete", "op/s", nat("small", dir, small), vol("small", "/vol", small))
	row("bbolt puts (100 per commit)", "op/s", nat("kv", dir, keys), vol("kv", "/vol", keys))
}

func run(env []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "fsbench: %s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
		os.Exit(1)
	}
	return out.String()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "fsbench:", err)
		os.Exit(1)
	}
}
