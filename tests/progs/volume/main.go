// Command volume exercises, in the guest, host directory volumes (mote run
// -v HOST:GUEST[:ro]) for tests/volume_test.go. The first argument names
// what to do; each prints lines for the test to check:
//
//	durability FILE      append numbered records to FILE, fsync after each,
//	                     print "synced N" when fsync returned; never ends
//	                     on its own before maxRecords
//	escape VOL HOSTSECRET
//	                     try to read outside the volume VOL; HOSTSECRET is
//	                     the host path of the file outside (the guest makes
//	                     a decoy at that path in its own file tree if it can)
//	race VOL N           read VOL/d/secret N times per way while the host
//	                     swaps d between a directory and a symlink
//	bigwrite FILE SIZE   write SIZE bytes of the deterministic stream
//	                     (stream(seed)) in 1 MiB writes, print its SHA-256
//	bigread FILE         read FILE in 1 MiB reads, print size and SHA-256
//	readonly DIR         try every modification in the read-only DIR
//	mounts DIR           the mount list, and working directories in DIR
//	fstest DIR NAME...   testing/fstest.TestFS(os.DirFS(DIR), NAME...)
//	parallel DIR N       N goroutines at once create, write, read back,
//	                     rename and remove files in DIR (more than the
//	                     kernel's outstanding 9P requests)
//	live DIR             what the guest sees of changes the host makes in
//	                     DIR meanwhile: it prints "step N" and waits for a
//	                     line on stdin before each look
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "durability":
		need(args, 1)
		durability(args[0])
	case "escape":
		need(args, 2)
		escape(args[0], args[1])
	case "race":
		need(args, 2)
		n, err := strconv.Atoi(args[1])
		check(err)
		race(args[0], n)
	case "bigwrite":
		need(args, 2)
		n, err := strconv.ParseInt(args[1], 10, 64)
		check(err)
		bigWrite(args[0], n)
	case "bigread":
		need(args, 1)
		bigRead(args[0])
	case "readonly":
		need(args, 1)
		readOnly(args[0])
	case "mounts":
		need(args, 1)
		mounts(args[0])
	case "fstest":
		if len(args) < 1 {
			usage()
		}
		err := fstest.TestFS(os.DirFS(args[0]), args[1:]...)
		if err != nil {
			fmt.Printf("fstest %s: %v\n", args[0], err)
			os.Exit(1)
		}
		fmt.Printf("fstest %s: ok\n", args[0])
	case "parallel":
		need(args, 2)
		n, err := strconv.Atoi(args[1])
		check(err)
		parallel(args[0], n)
	case "live":
		need(args, 1)
		live(args[0])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: volume durability|escape|race|bigwrite|bigread|readonly|mounts|fstest|parallel|live ARGS...")
	os.Exit(2)
}

func need(args []string, n int) {
	if len(args) != n {
		usage()
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "volume:", err)
		os.Exit(1)
	}
}

// en names an error by its errno (ENOENT), or gives its text.
func en(err error) string {
	if err == nil {
		return "OK"
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if s := unix.ErrnoName(e); s != "" {
			return s
		}
		return fmt.Sprintf("errno%d", int(e))
	}
	return "err(" + err.Error() + ")"
}

// Durability.

const (
	recordSize = 250 // not a divisor of a page: records straddle pages
	maxRecords = 200000
)

// record is the n-th record of the durability log: its number, then
// letters that depend on it, then a newline. The test has the same
// function.
func record(n int) []byte {
	b := make([]byte, recordSize)
	copy(b, fmt.Sprintf("%08d|", n))
	for i := 9; i < recordSize-1; i++ {
		b[i] = byte('A' + (n*7+i)%26)
	}
	b[recordSize-1] = '\n'
	return b
}

func durability(name string) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	check(err)
	for n := 0; n < maxRecords; n++ {
		_, err := f.Write(record(n))
		check(err)
		check(f.Sync())
		fmt.Printf("synced %d\n", n)
	}
	check(f.Close())
	fmt.Println("done")
}

// Escapes.

// escape tries to read the file outside the volume vol, whose host path
// is hostSecret, by every path a guest can name. Each line is "NAME:
// RESULT", RESULT the content read (quoted) or the errno.
func escape(vol, hostSecret string) {
	// hostSecret names a file in the guest's own tree, if the guest can
	// make it (it is below /tmp, the guest's tmpfs): a symlink to it
	// resolves there, in the guest.
	if err := os.MkdirAll(filepath.Dir(hostSecret), 0o755); err == nil {
		if os.WriteFile(hostSecret, []byte("GUEST DECOY"), 0o644) == nil {
			fmt.Println("decoy: made")
		}
	}
	read := func(name, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			fmt.Printf("%s: %s\n", name, en(err))
			return
		}
		fmt.Printf("%s: %q\n", name, b)
	}
	// Inside, for comparison: the volume works.
	read("inside", vol+"/inside.txt")
	read("inside_link", vol+"/ok")

	read("dotdot", vol+"/../outside/secret")
	read("up", vol+"/up")
	read("abs", vol+"/abs")
	read("dirup", vol+"/dirup/outside/secret")
	read("dirup_dirup", vol+"/dirup/dirup/outside/secret")
	read("dirup_vol_up", vol+"/dirup"+vol+"/up")
	read("dotdot_chain", vol+"/"+strings.Repeat("../", 64)+"outside/secret")
	read("dotdot_chain_host", vol+"/"+strings.Repeat("../", 64)+strings.TrimPrefix(hostSecret, "/"))
	read("sub_dotdot_chain", vol+"/sub/"+strings.Repeat("../", 64)+"outside/secret")
	read("dirup_chain", vol+strings.Repeat("/dirup", 30)+"/outside/secret")

	// Relative to a directory in the volume: the working directory, and a
	// directory descriptor.
	if err := os.Chdir(vol + "/sub"); err != nil {
		fmt.Printf("chdir: %s\n", en(err))
	} else {
		read("cwd_dotdot", "../../outside/secret")
		read("cwd_dotdot_chain", strings.Repeat("../", 64)+"outside/secret")
		read("cwd_up", "../up")
		check(os.Chdir("/"))
	}
	if dfd, err := unix.Open(vol, unix.O_RDONLY|unix.O_DIRECTORY, 0); err != nil {
		fmt.Printf("open_vol: %s\n", en(err))
	} else {
		for _, rel := range []string{"../outside/secret", "up", "abs", "dirup/outside/secret"} {
			fd, err := unix.Openat(dfd, rel, unix.O_RDONLY, 0)
			name := "openat_" + strings.NewReplacer("/", "_", ".", "").Replace(rel)
			if err != nil {
				fmt.Printf("%s: %s\n", name, en(err))
				continue
			}
			f := os.NewFile(uintptr(fd), rel)
			b, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				fmt.Printf("%s: read %s\n", name, en(err))
			} else {
				fmt.Printf("%s: %q\n", name, b)
			}
		}
		unix.Close(dfd)
	}

	// O_NOFOLLOW opens the link itself: ELOOP.
	for _, l := range []string{"up", "abs", "dirup"} {
		fd, err := unix.Open(vol+"/"+l, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
		if err == nil {
			b, _ := io.ReadAll(os.NewFile(uintptr(fd), l))
			unix.Close(fd)
			fmt.Printf("nofollow_%s: %q\n", l, b)
			continue
		}
		fmt.Printf("nofollow_%s: %s\n", l, en(err))
	}
	// The targets, as stored.
	for _, l := range []string{"up", "abs", "dirup"} {
		t, err := os.Readlink(vol + "/" + l)
		if err != nil {
			fmt.Printf("readlink_%s: %s\n", l, en(err))
			continue
		}
		fmt.Printf("readlink_%s: %q\n", l, t)
	}
	// The parent of the volume is the guest's directory: it does not
	// list the host's.
	ents, err := os.ReadDir(vol + "/..")
	listed := false
	for _, e := range ents {
		listed = listed || e.Name() == "outside"
	}
	fmt.Printf("dotdot_lists_outside: %v %s\n", listed, en(err))
	ents, err = os.ReadDir(vol + "/dirup")
	listed = false
	for _, e := range ents {
		listed = listed || e.Name() == "outside"
	}
	fmt.Printf("dirup_lists_outside: %v %s\n", listed, en(err))

	// os.Root refuses to leave the volume at all.
	if root, err := os.OpenRoot(vol); err != nil {
		fmt.Printf("root: %s\n", en(err))
	} else {
		for _, rel := range []string{"up", "abs", "dirup/outside/secret", "../outside/secret"} {
			b, err := root.ReadFile(rel)
			name := "root_" + strings.NewReplacer("/", "_", ".", "").Replace(rel)
			if err != nil {
				var pe *fs.PathError
				if errors.As(err, &pe) && pe.Err.Error() == "path escapes from parent" {
					fmt.Printf("%s: escapes\n", name)
				} else {
					fmt.Printf("%s: %s\n", name, en(err))
				}
				continue
			}
			fmt.Printf("%s: %q\n", name, b)
		}
		root.Close()
	}

	// A symlink the guest makes to the host path resolves in the guest.
	if err := os.Symlink(hostSecret, vol+"/mine"); err != nil {
		fmt.Printf("guest_symlink: %s\n", en(err))
	} else {
		read("guest_symlink", vol+"/mine")
	}
	// A hard link to a symlink is a link to the symlink.
	if err := os.Link(vol+"/up", vol+"/uplink"); err != nil {
		fmt.Printf("hardlink_up: link %s\n", en(err))
	} else {
		read("hardlink_up", vol+"/uplink")
	}
}

// race reads vol/d/secret n times in each of three ways, two goroutines
// at once, while the host swaps d between a directory (whose secret holds
// "inside") and a symlink to a directory outside the volume, and prints
// the outcomes of each way: "race.WAY: OUTCOME=COUNT ...".
func race(vol string, n int) {
	// A descriptor of the directory itself, whatever its name at the
	// time, for the "held" way.
	var held int = -1
	for i := 0; i < 100000 && held < 0; i++ {
		fd, err := unix.Open(vol+"/d", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err == nil {
			held = fd
		}
	}
	if held < 0 {
		fmt.Println("race: never opened d as a directory")
		os.Exit(1)
	}
	readFd := func(fd int, err error) string {
		if err != nil {
			return en(err)
		}
		f := os.NewFile(uintptr(fd), "secret")
		defer f.Close()
		b, err := io.ReadAll(f)
		if err != nil {
			return "read " + en(err)
		}
		return strconv.Quote(string(b))
	}
	ways := map[string]func() string{
		// The whole path, walked each time.
		"path": func() string {
			b, err := os.ReadFile(vol + "/d/secret")
			if err != nil {
				return en(err)
			}
			return strconv.Quote(string(b))
		},
		// d opened (following a symlink), then secret in it.
		"dirfd": func() string {
			dfd, err := unix.Open(vol+"/d", unix.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				return en(err)
			}
			defer unix.Close(dfd)
			return readFd(unix.Openat(dfd, "secret", unix.O_RDONLY, 0))
		},
		// secret in the directory opened at the start: it is the real
		// directory whatever its name now.
		"held": func() string {
			return readFd(unix.Openat(held, "secret", unix.O_RDONLY, 0))
		},
	}
	var mu sync.Mutex
	counts := map[string]map[string]int{}
	var wg sync.WaitGroup
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			names := []string{"path", "dirfd", "held"}
			for i := 0; i < n*len(names)/2; i++ {
				name := names[(i+g)%len(names)]
				r := ways[name]()
				mu.Lock()
				if counts[name] == nil {
					counts[name] = map[string]int{}
				}
				counts[name][r]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, name := range []string{"path", "dirfd", "held"} {
		var outs []string
		for r, c := range counts[name] {
			outs = append(outs, fmt.Sprintf("%s=%d", r, c))
		}
		sort.Strings(outs)
		fmt.Printf("race.%s: %s\n", name, strings.Join(outs, " "))
	}
	fmt.Fprintf(os.Stderr, "race: %v\n", time.Since(t0))
}

// Big files.

// stream is the deterministic byte stream of the big-file test (the test
// makes the same).
func stream() *rand.ChaCha8 { return rand.NewChaCha8([32]byte{'m', 'o', 't', 'e', 'v', 'o', 'l'}) }

func bigWrite(name string, size int64) {
	f, err := os.Create(name)
	check(err)
	rng := stream()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	t0 := time.Now()
	for done := int64(0); done < size; {
		b := buf[:min(int64(len(buf)), size-done)]
		rng.Read(b)
		h.Write(b)
		n, err := f.Write(b)
		check(err)
		done += int64(n)
	}
	check(f.Close())
	fmt.Fprintf(os.Stderr, "bigwrite: %v\n", time.Since(t0))
	fmt.Printf("wrote %d sha256 %x\n", size, h.Sum(nil))
}

func bigRead(name string) {
	f, err := os.Open(name)
	check(err)
	h := sha256.New()
	buf := make([]byte, 1<<20)
	var size int64
	t0 := time.Now()
	for {
		n, err := f.Read(buf)
		h.Write(buf[:n])
		size += int64(n)
		if err == io.EOF {
			break
		}
		check(err)
	}
	check(f.Close())
	fmt.Fprintf(os.Stderr, "bigread: %v\n", time.Since(t0))
	fmt.Printf("read %d sha256 %x\n", size, h.Sum(nil))
}

// Read-only volumes.

// readOnly reads DIR/file.txt and tries every modification in DIR: each
// prints "OP: RESULT", RESULT EROFS when errors.Is(err, syscall.EROFS).
func readOnly(dir string) {
	b, err := os.ReadFile(dir + "/file.txt")
	fmt.Printf("read: %q %s\n", b, en(err))
	ents, err := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	fmt.Printf("readdir: %s %s\n", strings.Join(names, ","), en(err))
	_, err = os.Stat(dir + "/sub/inner.txt")
	fmt.Printf("stat: %s\n", en(err))

	res := func(err error) string {
		if errors.Is(err, syscall.EROFS) {
			return "EROFS"
		}
		return "want EROFS, got " + en(err)
	}
	open := func(name string, flag int) error {
		f, err := os.OpenFile(dir+"/"+name, flag, 0o644)
		if err == nil {
			f.Close()
		}
		return err
	}
	for _, c := range []struct {
		op  string
		err error
	}{
		{"create", open("new.txt", os.O_WRONLY|os.O_CREATE)},
		{"create_excl", open("new.txt", os.O_RDWR|os.O_CREATE|os.O_EXCL)},
		{"open_wronly", open("file.txt", os.O_WRONLY)},
		{"open_rdwr", open("file.txt", os.O_RDWR)},
		{"open_append", open("file.txt", os.O_WRONLY|os.O_APPEND)},
		{"open_trunc", open("file.txt", os.O_WRONLY|os.O_TRUNC)},
		{"writefile", os.WriteFile(dir+"/file.txt", []byte("changed"), 0o644)},
		{"mkdir", os.Mkdir(dir+"/newdir", 0o755)},
		{"mkdir_in_sub", os.Mkdir(dir+"/sub/newdir", 0o755)},
		{"remove_file", os.Remove(dir + "/file.txt")},
		{"remove_dir", os.Remove(dir + "/empty")},
		{"remove_all", os.RemoveAll(dir + "/sub")},
		{"rename", os.Rename(dir+"/file.txt", dir+"/renamed.txt")},
		{"rename_into_sub", os.Rename(dir+"/file.txt", dir+"/sub/file.txt")},
		{"chmod", os.Chmod(dir+"/file.txt", 0o600)},
		{"chown", os.Chown(dir+"/file.txt", 1, 1)},
		{"chtimes", os.Chtimes(dir+"/file.txt", time.Unix(1, 0), time.Unix(1, 0))},
		{"truncate", os.Truncate(dir+"/file.txt", 1)},
		{"symlink", os.Symlink("file.txt", dir+"/link")},
		{"link", os.Link(dir+"/file.txt", dir+"/hard")},
		{"mkfifo", syscall.Mkfifo(dir+"/fifo", 0o644)},
	} {
		fmt.Printf("%s: %s\n", c.op, res(c.err))
	}
	// Through a descriptor opened for reading.
	f, err := os.Open(dir + "/file.txt")
	check(err)
	_, err = f.Write([]byte("x"))
	fmt.Printf("write_rdonly_fd: %s\n", en(err)) // EBADF, as on Linux
	fmt.Printf("fchmod: %s\n", res(f.Chmod(0o600)))
	fmt.Printf("ftruncate: %s\n", en(f.Truncate(0))) // EINVAL: not open for writing
	fmt.Printf("fchown: %s\n", res(f.Chown(1, 1)))
	f.Close()
	var st unix.Statfs_t
	err = unix.Statfs(dir, &st)
	fmt.Printf("statfs_rdonly: %v %s\n", st.Flags&unix.ST_RDONLY != 0, en(err))
	fmt.Printf("access_w: %s\n", res(unix.Access(dir+"/file.txt", unix.W_OK)))
}

// Mounts and working directories.

func mounts(dir string) {
	m, err := os.ReadFile("/proc/self/mounts")
	check(err)
	fmt.Print(string(m))
	check(os.MkdirAll(dir+"/sub/deeper", 0o755))
	check(os.WriteFile(dir+"/sub/hello.txt", []byte("hello"), 0o644))
	wd := func(what string) {
		d, err := os.Getwd()
		fmt.Printf("getwd %s: %s %s\n", what, d, en(err))
	}
	os.Unsetenv("PWD") // os.Getwd must ask the kernel
	fmt.Printf("chdir %s: %s\n", dir, en(os.Chdir(dir)))
	wd("dir")
	fmt.Printf("chdir sub: %s\n", en(os.Chdir("sub")))
	wd("sub")
	b, err := os.ReadFile("hello.txt")
	fmt.Printf("relative read: %q %s\n", b, en(err))
	fmt.Printf("relative write: %s\n", en(os.WriteFile("rel.txt", []byte("rel"), 0o644)))
	fmt.Printf("chdir deeper: %s\n", en(os.Chdir("deeper")))
	wd("deeper")
	fmt.Printf("chdir ../..: %s\n", en(os.Chdir("../..")))
	wd("../..")
	fmt.Printf("chdir ..: %s\n", en(os.Chdir("..")))
	wd("..")
	// A working directory removed from the host side is gone: getwd
	// says so, as on Linux (ENOENT).
	check(os.Chdir(dir + "/sub/deeper"))
	fmt.Printf("rmdir cwd: %s\n", en(os.Remove(dir+"/sub/deeper")))
	_, err = os.Getwd()
	fmt.Printf("getwd removed: %s\n", en(err))
	check(os.Chdir("/"))
}

// Live changes.

// live looks at DIR, lets the host change it (it prints "step N" and
// reads a line from stdin), and looks again: the guest caches nothing
// that the host can change.
func live(dir string) {
	in := bufio.NewReader(os.Stdin)
	step := func(n int) {
		fmt.Printf("step %d\n", n)
		if _, err := in.ReadString('\n'); err != nil {
			check(fmt.Errorf("stdin: %v", err))
		}
	}
	readFile := func(name string) {
		b, err := os.ReadFile(dir + "/" + name)
		if err != nil {
			fmt.Printf("read %s: %s\n", name, en(err))
			return
		}
		fmt.Printf("read %s: %q\n", name, b)
	}
	list := func() {
		ents, err := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Printf("list: %s %s\n", strings.Join(names, ","), en(err))
	}
	stat := func(name string) {
		fi, err := os.Stat(dir + "/" + name)
		if err != nil {
			fmt.Printf("stat %s: %s\n", name, en(err))
			return
		}
		if fi.Mode().IsRegular() {
			fmt.Printf("stat %s: %v size=%d\n", name, fi.Mode(), fi.Size())
		} else {
			fmt.Printf("stat %s: %v\n", name, fi.Mode())
		}
	}
	held, err := os.Open(dir + "/f")
	check(err)
	readHeld := func() {
		fi, err := held.Stat()
		check(err)
		b := make([]byte, 64)
		n, err := held.ReadAt(b, 0)
		if err != nil && err != io.EOF {
			fmt.Printf("held: %s\n", en(err))
			return
		}
		fmt.Printf("held: %q size=%d\n", b[:n], fi.Size())
	}
	readFile("f")
	stat("f")
	list()
	step(1) // the host rewrites f in place, adds g and h/, removes old, chmods f
	readHeld()
	readFile("f")
	stat("f")
	readFile("g")
	stat("h")
	stat("old")
	list()
	step(2) // the host renames g to g2 and puts a new file in f's place
	readHeld()
	readFile("f")
	readFile("g")
	readFile("g2")
	list()
	check(held.Close())
}

// Concurrency.

// parallel runs n goroutines that each make a directory in dir and, 20
// times, write a file of their own (sizes around the 9P message size),
// read it back, rename it and remove it; then remove the directory. It
// prints the failures and "parallel: N ok".
func parallel(dir string, n int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	fails := 0
	fail := func(format string, a ...any) {
		mu.Lock()
		fails++
		if fails <= 20 {
			fmt.Printf(format+"\n", a...)
		}
		mu.Unlock()
	}
	t0 := time.Now()
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := fmt.Sprintf("%s/g%02d", dir, g)
			if err := os.Mkdir(d, 0o755); err != nil {
				fail("mkdir %s: %v", d, err)
				return
			}
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 20 {
				data := make([]byte, 1+rng.IntN(300<<10))
				for j := range data {
					data[j] = byte(g*31 + i*7 + j)
				}
				name := fmt.Sprintf("%s/f%d", d, i)
				if err := os.WriteFile(name, data, 0o644); err != nil {
					fail("write %s: %v", name, err)
					continue
				}
				b, err := os.ReadFile(name)
				if err != nil || !bytes.Equal(b, data) {
					fail("read %s: %d bytes of %d, equal %v, %v", name, len(b), len(data), bytes.Equal(b, data), err)
				}
				if err := os.Rename(name, name+".r"); err != nil {
					fail("rename %s: %v", name, err)
					continue
				}
				if fi, err := os.Stat(name + ".r"); err != nil || fi.Size() != int64(len(data)) {
					fail("stat %s.r: %v %v", name, fi, err)
				}
				if err := os.Remove(name + ".r"); err != nil {
					fail("remove %s.r: %v", name, err)
				}
			}
			if err := os.Remove(d); err != nil {
				fail("rmdir %s: %v", d, err)
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(os.Stderr, "parallel: %v\n", time.Since(t0))
	if fails == 0 {
		fmt.Printf("parallel: %d ok\n", n)
	}
}
