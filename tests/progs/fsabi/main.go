// Command fsabi exercises the Linux file-system ABI, through package os
// and directly through system calls, in a base directory it is given, and
// prints one deterministic line per check: "SECTION.NAME: RESULT", where
// RESULT is OK, an error as the operation and errno name ("open ENOENT"),
// or a value that does not vary between runs or machines (modes, sizes,
// link counts, contents, relations between times; never inode numbers,
// devices, absolute times or the base path, which prints as $B). The
// end-to-end test runs it natively on a scratch directory and inside mote
// on /tmp/fsabi and compares the lines.
//
// With -guest it also prints checks that only hold in mote (the read-only
// root, tmpfs at /tmp), prefixed "guest.", which the test asserts directly.
//
// Usage: fsabi [-guest] BASE
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing/fstest"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var (
	out   = bufio.NewWriter(os.Stdout)
	base  string // the base directory, absolute and clean
	sec   string // the current section
	count int
)

// p prints one check of the current section.
func p(name string, v any) {
	count++
	s := scrub(fmt.Sprint(v))
	if strings.ContainsAny(s, "\n") {
		s = fmt.Sprintf("%q", s)
	}
	fmt.Fprintf(out, "%s.%s: %s\n", sec, name, s)
}

// scrub replaces the base directory in a text by $B.
func scrub(s string) string { return strings.ReplaceAll(s, base, "$B") }

// en names an error: OK, the operation and the errno name, EOF, or the
// text (scrubbed).
func en(err error) string {
	if err == nil {
		return "OK"
	}
	op := ""
	inner := err
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		op, inner = pe.Op, pe.Err
	case errors.As(err, &le):
		op, inner = le.Op, le.Err
	case errors.As(err, &se):
		op, inner = se.Syscall, se.Err
	}
	var s string
	var e syscall.Errno
	switch {
	case errors.As(inner, &e):
		s = unix.ErrnoName(e)
		if s == "" {
			s = fmt.Sprintf("errno%d", int(e))
		}
	case inner == io.EOF:
		s = "EOF"
	default:
		s = "err(" + scrub(inner.Error()) + ")"
	}
	if op != "" {
		return op + " " + s
	}
	return s
}

func must(err error) {
	if err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	out.Flush()
	fmt.Fprintf(os.Stderr, "fsabi: %s: %v\n", sec, err)
	os.Exit(1)
}

func must1[T any](v T, err error) T {
	must(err)
	return v
}

// section starts a section with its own directory, base/NAME.
func section(name string) {
	sec = name
	must(os.Chdir(base))
	must(os.Mkdir(base+"/"+name, 0o755))
}

// pa is a path in the current section's directory, kept as written
// (trailing slashes and dots stay).
func pa(rel string) string { return base + "/" + sec + "/" + rel }

// Stat formatting.

func statT(fi fs.FileInfo) *syscall.Stat_t { return fi.Sys().(*syscall.Stat_t) }

// fmtInfo formats what does not vary between file systems: the mode, the
// link count, the owner, and the size of regular files.
func fmtInfo(fi fs.FileInfo) string {
	st := statT(fi)
	s := fmt.Sprintf("%v nlink=%d uid=%d gid=%d", fi.Mode(), st.Nlink, st.Uid, st.Gid)
	if fi.Mode().IsRegular() {
		s += fmt.Sprintf(" size=%d", fi.Size())
	}
	return s
}

func fmtStat(fi fs.FileInfo, err error) string {
	if err != nil {
		return en(err)
	}
	return fmtInfo(fi)
}

func st(path string) string  { return fmtStat(os.Stat(path)) }
func lst(path string) string { return fmtStat(os.Lstat(path)) }

// fmtRaw formats a raw stat buffer the same way.
func fmtRaw(s *unix.Stat_t) string {
	r := fmt.Sprintf("%v nlink=%d uid=%d gid=%d", modeOf(s.Mode), s.Nlink, s.Uid, s.Gid)
	if s.Mode&unix.S_IFMT == unix.S_IFREG {
		r += fmt.Sprintf(" size=%d", s.Size)
	}
	return r
}

// modeOf converts st_mode to a fs.FileMode as package os does.
func modeOf(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		fm |= fs.ModeDevice
	case unix.S_IFCHR:
		fm |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		fm |= fs.ModeDir
	case unix.S_IFIFO:
		fm |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		fm |= fs.ModeSymlink
	case unix.S_IFSOCK:
		fm |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		fm |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		fm |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

func fstatFd(fd int) string {
	var s unix.Stat_t
	if err := unix.Fstat(fd, &s); err != nil {
		return "fstat " + en(err)
	}
	return fmtRaw(&s)
}

// content reads a file: its bytes quoted when short, else the length and a
// hash.
func content(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return en(err)
	}
	return fmtBytes(b)
}

func fmtBytes(b []byte) string {
	if len(b) <= 64 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("len=%d sha256=%x", len(b), sha256.Sum256(b))
}

func write(path, s string) { must(os.WriteFile(path, []byte(s), 0o644)) }

// names lists a directory, sorted, with a type mark per entry (/ directory,
// @ symbolic link).
func names(path string) string {
	ents, err := os.ReadDir(path)
	if err != nil {
		return en(err)
	}
	return fmtEnts(ents)
}

func fmtEnts(ents []fs.DirEntry) string {
	var s []string
	for _, e := range ents {
		n := e.Name()
		switch t := e.Type(); {
		case t.IsDir():
			n += "/"
		case t&fs.ModeSymlink != 0:
			n += "@"
		case !t.IsRegular():
			n += "?" + t.String()
		}
		s = append(s, n)
	}
	sort.Strings(s)
	return "[" + strings.Join(s, " ") + "]"
}

// Times.

func times(path string, follow bool) (atime, mtime, ctime time.Time) {
	var fi fs.FileInfo
	var err error
	if follow {
		fi, err = os.Stat(path)
	} else {
		fi, err = os.Lstat(path)
	}
	must(err)
	s := statT(fi)
	return time.Unix(s.Atim.Sec, s.Atim.Nsec), time.Unix(s.Mtim.Sec, s.Mtim.Nsec), time.Unix(s.Ctim.Sec, s.Ctim.Nsec)
}

// past is the time set on files before an operation whose effect on the
// times is checked.
var past = time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)

func setPast(path string) { must(os.Chtimes(path, past, past)) }

// rel describes a time: "past" as set by setPast, "now" within a few
// seconds of the clock (file systems stamp with a coarse clock), or
// "other".
func rel(t time.Time) string {
	switch {
	case t.Equal(past):
		return "past"
	case t.After(time.Now().Add(-5*time.Second)) && t.Before(time.Now().Add(5*time.Second)):
		return "now"
	}
	return "other"
}

// watched is a path whose times were set to past, and its ctime then.
type watched struct {
	path string
	c0   time.Time
}

// watch sets the path's times to past and waits long enough for a coarse
// file-system clock to tick, so that a later ctime shows.
func watch(path string) *watched {
	setPast(path)
	_, _, c0 := times(path, false)
	time.Sleep(20 * time.Millisecond)
	return &watched{path, c0}
}

// String describes the times now: atime and mtime relative to past and
// now, ctime relative to the ctime after watch.
func (w *watched) String() string {
	a, m, c := times(w.path, false)
	cs := "same"
	switch {
	case c.After(w.c0):
		cs = "later"
	case c.Before(w.c0):
		cs = "earlier"
	}
	return "a=" + rel(a) + " m=" + rel(m) + " c=" + cs
}

// amc describes the times of a fresh file: each "now" or not.
func amc(path string) string {
	a, m, c := times(path, false)
	return "a=" + rel(a) + " m=" + rel(m) + " c=" + rel(c)
}

var guest = flag.Bool("guest", false, "also run the checks that hold only in mote")

func main() {
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: fsabi [-guest] BASE")
		os.Exit(2)
	}
	syscall.Umask(0o022)
	os.Unsetenv("PWD") // os.Getwd must ask the kernel
	if err := os.MkdirAll(flag.Arg(0), 0o755); err != nil {
		fatal(err)
	}
	b, err := filepath.Abs(flag.Arg(0))
	must(err)
	b, err = filepath.EvalSymlinks(b)
	must(err)
	base = b
	must(os.Chmod(base, 0o755))

	opens()
	readWrite()
	seeks()
	stats()
	readDirs()
	removeAll()
	mkdirs()
	renames()
	unlinks()
	truncates()
	modes()
	chtimes()
	symlinks()
	hardlinks()
	syncs()
	mmaps()
	unlinkedOpen()
	errorKinds()
	walks()
	cwd()
	longNames()
	dots()
	temps()
	largeFile()
	dirFS()
	roots()
	misc()
	matrix()

	sec = "end"
	must(os.Chdir("/"))
	p("removeall_base", en(os.RemoveAll(base)))
	_, err = os.Lstat(base)
	p("base_gone", os.IsNotExist(err))
	if *guest {
		guestOnly()
	}
	out.Flush()
	fmt.Fprintf(os.Stderr, "fsabi: %d checks\n", count)
}

// opens: open(2) flags and access modes.
func opens() {
	section("open")
	try := func(name, path string, flag int, perm fs.FileMode) *os.File {
		f, err := os.OpenFile(path, flag, perm)
		p(name, en(err))
		return f
	}
	f := try("create", pa("new"), os.O_CREATE|os.O_WRONLY, 0o644)
	f.Close()
	p("create_stat", st(pa("new")))
	f = try("create_0600", pa("m600"), os.O_CREATE|os.O_RDWR, 0o600)
	f.Close()
	p("create_0600_stat", st(pa("m600")))
	f = try("create_0777_umask", pa("m777"), os.O_CREATE|os.O_RDWR, 0o777)
	f.Close()
	p("create_0777_umask_stat", st(pa("m777")))
	fd, err := unix.Open(pa("suid"), unix.O_CREAT|unix.O_WRONLY, 0o4755)
	p("create_04755", en(err))
	unix.Close(fd)
	p("create_04755_stat", st(pa("suid")))
	old := syscall.Umask(0)
	f = try("create_umask0", pa("m666"), os.O_CREATE|os.O_RDWR, 0o666)
	f.Close()
	p("create_umask0_stat", st(pa("m666")))
	p("umask_old", fmt.Sprintf("%#o", syscall.Umask(0o077)))
	f = try("create_umask077", pa("m077"), os.O_CREATE|os.O_RDWR, 0o666)
	f.Close()
	p("create_umask077_stat", st(pa("m077")))
	syscall.Umask(old)
	p("mkdir_after_umask", en(os.Mkdir(pa("umaskdir"), 0o777)))
	p("mkdir_after_umask_stat", st(pa("umaskdir")))

	_, err = os.OpenFile(pa("new"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	p("excl_existing", en(err))
	p("excl_existing_isexist", os.IsExist(err))
	p("excl_existing_is_errexist", errors.Is(err, fs.ErrExist))
	f = try("excl_new", pa("exclnew"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	f.Close()
	p("excl_new_stat", st(pa("exclnew")))
	must(os.Symlink("dangling-target", pa("dangle")))
	_, err = os.OpenFile(pa("dangle"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	p("excl_dangling_symlink", en(err))
	p("excl_dangling_symlink_target", lst(pa("dangling-target")))
	f = try("create_through_dangling_symlink", pa("dangle"), os.O_CREATE|os.O_WRONLY, 0o644)
	f.Close()
	p("create_through_dangling_symlink_target", lst(pa("dangling-target")))
	p("create_through_dangling_symlink_link", lst(pa("dangle")))

	_, err = os.Open(pa("missing"))
	p("missing", en(err))
	p("missing_isnotexist", os.IsNotExist(err))
	p("missing_is_errnotexist", errors.Is(err, fs.ErrNotExist))
	_, err = os.OpenFile(pa("nodir/x"), os.O_CREATE|os.O_WRONLY, 0o644)
	p("create_in_missing_dir", en(err))
	_, err = os.OpenFile(pa("new/x"), os.O_CREATE|os.O_WRONLY, 0o644)
	p("create_under_file", en(err))
	_, err = os.OpenFile(pa("trail/"), os.O_CREATE|os.O_WRONLY, 0o644)
	p("create_trailing_slash", en(err))
	p("create_trailing_slash_after", lst(pa("trail")))
	_, err = os.OpenFile("", os.O_RDONLY, 0)
	p("empty_path", en(err))

	// O_TRUNC.
	write(pa("t"), "0123456789")
	f = try("trunc_wronly", pa("t"), os.O_TRUNC|os.O_WRONLY, 0)
	f.Close()
	p("trunc_wronly_size", st(pa("t")))
	write(pa("t"), "0123456789")
	f = try("trunc_rdonly", pa("t"), os.O_TRUNC|os.O_RDONLY, 0)
	f.Close()
	p("trunc_rdonly_size", st(pa("t")))
	write(pa("t"), "0123456789")
	f = try("create_existing_keeps", pa("t"), os.O_CREATE|os.O_WRONLY, 0o600)
	f.Close()
	p("create_existing_keeps_stat", st(pa("t")))
	p("create_existing_keeps_data", content(pa("t")))
	write(pa("t"), "")
	w := watch(pa("t"))
	f = try("trunc_empty", pa("t"), os.O_TRUNC|os.O_WRONLY, 0)
	f.Close()
	p("trunc_empty_times", w)
	write(pa("t"), "abc")
	w = watch(pa("t"))
	f = try("trunc_nonempty", pa("t"), os.O_TRUNC|os.O_WRONLY, 0)
	f.Close()
	p("trunc_nonempty_times", w)
	w = watch(pa("t"))
	f = try("open_wronly_no_trunc", pa("t"), os.O_WRONLY, 0)
	f.Close()
	p("open_wronly_no_trunc_times", w)

	// O_APPEND.
	write(pa("a"), "abc")
	f = try("append_open", pa("a"), os.O_APPEND|os.O_WRONLY, 0)
	n, err := f.Write([]byte("def"))
	p("append_write", fmt.Sprint(n, " ", en(err)))
	pos, err := f.Seek(0, io.SeekCurrent)
	p("append_pos", fmt.Sprint(pos, " ", en(err)))
	_, err = f.Seek(0, io.SeekStart)
	p("append_seek0", en(err))
	n, err = f.Write([]byte("g"))
	p("append_write_after_seek0", fmt.Sprint(n, " ", en(err)))
	pos, _ = f.Seek(0, io.SeekCurrent)
	p("append_pos_after", pos)
	_, err = f.WriteAt([]byte("x"), 0)
	p("append_writeat", en(err))
	n, err = syscall.Pwrite(int(f.Fd()), []byte("P"), 0)
	p("append_pwrite", fmt.Sprint(n, " ", en(err)))
	f.Close()
	p("append_content", content(pa("a")))
	f = try("append_rdwr", pa("a"), os.O_APPEND|os.O_RDWR, 0)
	buf := make([]byte, 3)
	n, err = f.Read(buf)
	p("append_rdwr_read", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	f.Write([]byte("h"))
	n, err = f.Read(buf)
	p("append_rdwr_read_after_write", fmt.Sprintf("%d %s", n, en(err)))
	f.Close()
	p("append_rdwr_content", content(pa("a")))
	f = try("append_create", pa("anew"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	f.Write([]byte("1"))
	f.Write([]byte("2"))
	f.Close()
	p("append_create_content", content(pa("anew")))

	// Access modes.
	write(pa("rw"), "hello")
	f = try("rdonly", pa("rw"), os.O_RDONLY, 0)
	n, err = f.Write([]byte("x"))
	p("rdonly_write", fmt.Sprint(n, " ", en(err)))
	_, err = f.WriteAt([]byte("x"), 0)
	p("rdonly_writeat", en(err))
	p("rdonly_truncate", en(f.Truncate(0)))
	n, err = f.Read(buf)
	p("rdonly_read", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	f.Close()
	f = try("wronly", pa("rw"), os.O_WRONLY, 0)
	n, err = f.Read(buf)
	p("wronly_read", fmt.Sprint(n, " ", en(err)))
	_, err = f.ReadAt(buf, 0)
	p("wronly_readat", en(err))
	n, err = f.Write([]byte("J"))
	p("wronly_write", fmt.Sprint(n, " ", en(err)))
	f.Close()
	f = try("rdwr", pa("rw"), os.O_RDWR, 0)
	n, err = f.Read(buf)
	p("rdwr_read", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	n, err = f.Write([]byte("LO"))
	p("rdwr_write", fmt.Sprint(n, " ", en(err)))
	f.Close()
	p("rdwr_content", content(pa("rw")))
	write(pa("acc3"), "acc3")
	fd, err = unix.Open(pa("acc3"), unix.O_ACCMODE, 0) // access mode 3
	p("accmode3", en(err))
	if err == nil {
		_, err = unix.Read(fd, buf)
		p("accmode3_read", en(err))
		_, err = unix.Write(fd, buf)
		p("accmode3_write", en(err))
		unix.Close(fd)
	}
	p("accmode3_content", content(pa("acc3")))

	// Directories.
	must(os.Mkdir(pa("dir"), 0o755))
	f = try("dir_rdonly", pa("dir"), os.O_RDONLY, 0)
	n, err = f.Read(buf)
	p("dir_read", fmt.Sprint(n, " ", en(err)))
	n, err = f.Write(buf)
	p("dir_write", fmt.Sprint(n, " ", en(err)))
	_, err = f.ReadAt(buf, 0)
	p("dir_readat", en(err))
	f.Close()
	_, err = os.OpenFile(pa("dir"), os.O_WRONLY, 0)
	p("dir_wronly", en(err))
	_, err = os.OpenFile(pa("dir"), os.O_RDWR, 0)
	p("dir_rdwr", en(err))
	_, err = os.OpenFile(pa("dir"), os.O_CREATE|os.O_RDONLY, 0o644)
	p("dir_create", en(err))
	_, err = os.OpenFile(pa("dir"), os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o644)
	p("dir_create_excl", en(err))
	_, err = os.OpenFile(pa("dir"), os.O_TRUNC|os.O_RDONLY, 0)
	p("dir_trunc", en(err))
	fd, err = unix.Open(pa("rw"), unix.O_DIRECTORY|unix.O_RDONLY, 0)
	p("o_directory_on_file", en(err))
	fd, err = unix.Open(pa("dir"), unix.O_DIRECTORY|unix.O_RDONLY, 0)
	p("o_directory_on_dir", en(err))
	unix.Close(fd)
	fd, err = unix.Open(pa("dnew"), unix.O_DIRECTORY|unix.O_CREAT|unix.O_RDONLY, 0o755)
	p("o_directory_creat", en(err))
	unix.Close(fd)
	p("o_directory_creat_after", lst(pa("dnew")))

	// O_NOFOLLOW and O_PATH.
	must(os.Symlink("rw", pa("lrw")))
	must(os.Symlink("dir", pa("ldir")))
	_, err = unix.Open(pa("lrw"), unix.O_NOFOLLOW|unix.O_RDONLY, 0)
	p("nofollow_symlink", en(err))
	fd, err = unix.Open(pa("rw"), unix.O_NOFOLLOW|unix.O_RDONLY, 0)
	p("nofollow_file", en(err))
	unix.Close(fd)
	fd, err = unix.Open(pa("ldir/../rw"), unix.O_NOFOLLOW|unix.O_RDONLY, 0)
	p("nofollow_intermediate_symlink", en(err))
	unix.Close(fd)
	_, err = unix.Open(pa("lrw"), unix.O_NOFOLLOW|unix.O_CREAT|unix.O_WRONLY, 0o644)
	p("nofollow_creat_symlink", en(err))
	fd, err = unix.Open(pa("lrw"), unix.O_PATH|unix.O_NOFOLLOW, 0)
	p("path_nofollow_symlink", en(err))
	if err == nil {
		p("path_nofollow_symlink_fstat", fstatFd(fd))
		_, err = unix.Read(fd, buf)
		p("path_read", en(err))
		_, err = unix.Write(fd, buf)
		p("path_write", en(err))
		unix.Close(fd)
	}
	fd, err = unix.Open(pa("lrw"), unix.O_PATH, 0)
	p("path_follow", en(err))
	if err == nil {
		p("path_follow_fstat", fstatFd(fd))
		unix.Close(fd)
	}
	fd, err = unix.Open(pa("rw"), unix.O_PATH|unix.O_TRUNC|unix.O_WRONLY, 0)
	p("path_ignores_trunc", en(err))
	unix.Close(fd)
	p("path_ignores_trunc_size", st(pa("rw")))

	// creat(2) and mknod(2) of a regular file.
	fd, err = unix.Creat(pa("creat"), 0o640)
	p("creat", en(err))
	if err == nil {
		unix.Write(fd, []byte("c"))
		_, err = unix.Read(fd, buf)
		p("creat_is_wronly", en(err))
		unix.Close(fd)
	}
	p("creat_stat", st(pa("creat")))
	p("mknod_reg", en(unix.Mknod(pa("mknod"), unix.S_IFREG|0o600, 0)))
	p("mknod_reg_stat", st(pa("mknod")))
	p("mknod_existing", en(unix.Mknod(pa("mknod"), unix.S_IFREG|0o600, 0)))
	p("mknod_zero_type", en(unix.Mknod(pa("mknod0"), 0o600, 0)))
	p("mknod_zero_type_stat", st(pa("mknod0")))
}

// readWrite: read/write, pread/pwrite past the end, holes and sparse
// files, vectored I/O.
func readWrite() {
	section("rw")
	f := must1(os.Create(pa("f")))
	n, err := f.Write([]byte("hello world"))
	p("write", fmt.Sprint(n, " ", en(err)))
	n, err = f.Write(nil)
	p("write_empty", fmt.Sprint(n, " ", en(err)))
	buf := make([]byte, 64)
	n, err = f.Read(buf)
	p("read_at_eof", fmt.Sprint(n, " ", en(err)))
	n, err = f.ReadAt(buf, 0)
	p("readat_all", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	n, err = f.ReadAt(buf[:5], 6)
	p("readat_middle", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	n, err = f.ReadAt(buf[:5], 8)
	p("readat_across_eof", fmt.Sprintf("%d %s %q", n, en(err), buf[:n]))
	n, err = f.ReadAt(buf[:5], 11)
	p("readat_at_eof", fmt.Sprint(n, " ", en(err)))
	n, err = f.ReadAt(buf[:5], 1000)
	p("readat_past_eof", fmt.Sprint(n, " ", en(err)))
	n, err = f.ReadAt(buf[:5], -1)
	p("readat_negative", fmt.Sprint(n, " ", en(err)))
	n, err = syscall.Pread(int(f.Fd()), buf[:5], -1)
	p("pread_negative", fmt.Sprint(n, " ", en(err)))
	n, err = syscall.Pwrite(int(f.Fd()), buf[:5], -1)
	p("pwrite_negative", fmt.Sprint(n, " ", en(err)))
	n, err = f.ReadAt(buf[:0], 3)
	p("readat_empty", fmt.Sprint(n, " ", en(err)))
	n, err = f.Read(buf[:0])
	p("read_empty", fmt.Sprint(n, " ", en(err)))
	pos, _ := f.Seek(0, io.SeekCurrent)
	p("pos_after_preads", pos)
	n, err = f.WriteAt([]byte("W"), 0)
	p("writeat_start", fmt.Sprint(n, " ", en(err)))
	pos, _ = f.Seek(0, io.SeekCurrent)
	p("pos_after_pwrite", pos)
	n, err = f.WriteAt([]byte("END"), 20)
	p("writeat_past_eof", fmt.Sprint(n, " ", en(err)))
	p("writeat_past_eof_stat", st(pa("f")))
	p("writeat_past_eof_content", content(pa("f")))
	n, err = f.Write([]byte("+"))
	p("write_after_writeat", fmt.Sprint(n, " ", en(err)))
	p("write_after_writeat_content", content(pa("f")))
	_, err = f.WriteAt([]byte("x"), -2)
	p("writeat_negative", en(err))
	f.Close()
	_, err = f.Write([]byte("x"))
	p("write_closed", en(err))
	_, err = f.Read(buf)
	p("read_closed", en(err))
	p("close_twice", en(f.Close()))
	p("write_badfd", en(second(syscall.Write(9999, buf))))
	p("read_badfd", en(second(syscall.Read(9999, buf))))

	// Sparse: one byte at 1 MiB, then more far away.
	f = must1(os.Create(pa("sparse")))
	n, err = f.WriteAt([]byte("end"), 1<<20)
	p("sparse_writeat_1mib", fmt.Sprint(n, " ", en(err)))
	p("sparse_stat", st(pa("sparse")))
	all := must1(os.ReadFile(pa("sparse")))
	p("sparse_readback", fmt.Sprintf("len=%d zeros=%d tail=%q", len(all), zeros(all[:1<<20]), all[1<<20:]))
	big := make([]byte, 8192)
	n, err = f.ReadAt(big, 4096*7+100)
	p("sparse_readat_hole", fmt.Sprint(n, " ", en(err), " zeros=", zeros(big[:n])))
	n, err = f.WriteAt([]byte("mid"), 12345)
	p("sparse_fill_middle", fmt.Sprint(n, " ", en(err)))
	n, err = f.ReadAt(big[:10], 12340)
	p("sparse_fill_middle_read", fmt.Sprintf("%d %s %q", n, en(err), big[:n]))
	n, err = f.WriteAt([]byte("far"), 1<<40)
	p("sparse_writeat_1tib", fmt.Sprint(n, " ", en(err)))
	p("sparse_1tib_stat", st(pa("sparse")))
	n, err = f.ReadAt(big[:8], 1<<40-5)
	p("sparse_1tib_read", fmt.Sprintf("%d %s %q", n, en(err), big[:n]))
	n, err = f.ReadAt(big[:8], 1<<39)
	p("sparse_512gib_read", fmt.Sprintf("%d %s %q", n, en(err), big[:n]))
	p("sparse_truncate_back", en(f.Truncate(1<<20+3)))
	p("sparse_truncate_back_content", content(pa("sparse")))
	f.Close()

	// Page boundaries: a write across two pages, reads of every split.
	data := make([]byte, 3*4096)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	f = must1(os.Create(pa("pages")))
	n, err = f.WriteAt(data[4000:8200], 4000)
	p("across_pages_write", fmt.Sprint(n, " ", en(err)))
	got := make([]byte, 8200)
	n, err = f.ReadAt(got, 0)
	ok := n == 8200 && zeros(got[:4000]) == 4000 && bytes.Equal(got[4000:], data[4000:8200])
	p("across_pages_read", fmt.Sprint(n, " ", en(err), " ", ok))
	okAll := true
	for _, off := range []int64{0, 1, 4095, 4096, 4097, 8191, 8192, 8199} {
		b := make([]byte, 100)
		n, _ := f.ReadAt(b, off)
		want := min(100, 8200-int(off))
		if n != want {
			okAll = false
		}
	}
	p("reads_at_boundaries", okAll)
	f.Close()

	// Vectored I/O.
	fd := must1(unix.Open(pa("vec"), unix.O_CREAT|unix.O_RDWR|unix.O_TRUNC, 0o644))
	n, err = unix.Writev(fd, [][]byte{[]byte("ab"), nil, []byte("cde"), []byte("f")})
	p("writev", fmt.Sprint(n, " ", en(err)))
	n, err = unix.Pwritev(fd, [][]byte{[]byte("XY"), []byte("Z")}, 10)
	p("pwritev_past_eof", fmt.Sprint(n, " ", en(err)))
	a, b := make([]byte, 4), make([]byte, 20)
	n, err = unix.Preadv(fd, [][]byte{a, b}, 0)
	p("preadv", fmt.Sprintf("%d %s %q %q", n, en(err), a, b[:max(0, n-4)]))
	unix.Seek(fd, 1, io.SeekStart)
	n, err = unix.Readv(fd, [][]byte{a[:2], b[:3]})
	p("readv", fmt.Sprintf("%d %s %q %q", n, en(err), a[:2], b[:3]))
	pos, _ = unix.Seek(fd, 0, io.SeekCurrent)
	p("readv_pos", pos)
	unix.Close(fd)
	p("vec_content", content(pa("vec")))
}

func second[T any](_ T, err error) error { return err }

func zeros(b []byte) int {
	n := 0
	for _, c := range b {
		if c == 0 {
			n++
		}
	}
	return n
}

// seeks: lseek(2) whence and bounds.
func seeks() {
	section("seek")
	write(pa("f"), "0123456789")
	f := must1(os.OpenFile(pa("f"), os.O_RDWR, 0))
	defer f.Close()
	try := func(name string, off int64, whence int) {
		n, err := f.Seek(off, whence)
		p(name, fmt.Sprint(n, " ", en(err)))
	}
	try("set_3", 3, io.SeekStart)
	try("cur_2", 2, io.SeekCurrent)
	try("cur_0", 0, io.SeekCurrent)
	try("cur_minus_4", -4, io.SeekCurrent)
	try("end_0", 0, io.SeekEnd)
	try("end_minus_3", -3, io.SeekEnd)
	buf := make([]byte, 10)
	n, _ := f.Read(buf)
	p("read_after_end_minus_3", fmt.Sprintf("%q", buf[:n]))
	try("set_negative", -1, io.SeekStart)
	p("pos_after_failed_seek", must1(f.Seek(0, io.SeekCurrent)))
	try("cur_negative_total", -100, io.SeekCurrent)
	try("end_negative_total", -11, io.SeekEnd)
	try("end_plus_5", 5, io.SeekEnd)
	n, err := f.Read(buf)
	p("read_past_end", fmt.Sprint(n, " ", en(err)))
	n, err = f.Write([]byte("X"))
	p("write_past_end", fmt.Sprint(n, " ", en(err)))
	p("write_past_end_content", content(pa("f")))
	try("set_1tib", 1<<40, io.SeekStart)
	try("whence_7", 0, 7)
	try("set_0", 0, io.SeekStart)
	n, _ = f.Read(buf[:4])
	p("read_after_set_0", fmt.Sprintf("%q", buf[:n]))

	must(os.Mkdir(pa("d"), 0o755))
	d := must1(os.Open(pa("d")))
	n2, err := d.Seek(0, io.SeekStart)
	p("dir_set_0", fmt.Sprint(n2, " ", en(err)))
	d.Close()
	// Seek on a shared description moves the other descriptor too.
	fd := int(f.Fd())
	dup := must1(unix.Dup(fd))
	unix.Seek(dup, 7, io.SeekStart)
	p("dup_shares_offset", must1(unix.Seek(fd, 0, io.SeekCurrent)))
	unix.Write(dup, []byte("Q"))
	p("dup_write_advances", must1(unix.Seek(fd, 0, io.SeekCurrent)))
	unix.Close(dup)
	// A second open has its own offset.
	g := must1(os.Open(pa("f")))
	p("second_open_offset", must1(g.Seek(0, io.SeekCurrent)))
	g.Close()
	r, w, err := os.Pipe()
	must(err)
	_, err = r.Seek(0, io.SeekStart)
	p("pipe_seek", en(err))
	r.Close()
	w.Close()
}

// stats: stat, lstat, fstat and what they agree on.
func stats() {
	section("stat")
	write(pa("f"), "12345")
	must(os.Mkdir(pa("d"), 0o750))
	must(os.Symlink("f", pa("l")))
	must(os.Symlink("d", pa("ld")))
	p("file", st(pa("f")))
	p("dir", st(pa("d")))
	p("symlink_stat", st(pa("l")))
	p("symlink_lstat", lst(pa("l")))
	fi := must1(os.Lstat(pa("l")))
	p("symlink_lstat_size", fi.Size())
	p("symlink_dir_stat", st(pa("ld")))
	p("symlink_dir_lstat", lst(pa("ld")))
	p("missing", st(pa("missing")))
	p("missing_lstat", lst(pa("missing")))
	p("empty", st(""))
	p("via_dot", st(pa("./f")))
	p("via_dotdot", st(pa("d/../f")))
	p("via_double_slash", st(pa("d//../f")))
	f := must1(os.Open(pa("f")))
	ffi, err := f.Stat()
	p("fstat", fmtStat(ffi, err))
	sfi := must1(os.Stat(pa("f")))
	p("fstat_samefile", os.SameFile(ffi, sfi))
	p("fstat_name", ffi.Name())
	f.Close()
	p("samefile_symlink", os.SameFile(must1(os.Stat(pa("l"))), sfi))
	p("samefile_lstat_symlink", os.SameFile(must1(os.Lstat(pa("l"))), sfi))
	p("samefile_dir_dotdot", os.SameFile(must1(os.Stat(pa("d/.."))), must1(os.Stat(pa("")))))
	p("name_of_stat", must1(os.Stat(pa("d/../f"))).Name())
	p("root_dotdot_is_root", os.SameFile(must1(os.Stat("/..")), must1(os.Stat("/"))))
	p("devnull", st("/dev/null"))

	// Directory link counts: 2 + subdirectories.
	p("dir_nlink_empty", statT(must1(os.Stat(pa("d")))).Nlink)
	must(os.Mkdir(pa("d/s1"), 0o755))
	must(os.Mkdir(pa("d/s2"), 0o755))
	write(pa("d/file"), "")
	p("dir_nlink_two_subdirs", statT(must1(os.Stat(pa("d")))).Nlink)
	must(os.Remove(pa("d/s1")))
	p("dir_nlink_after_rmdir", statT(must1(os.Stat(pa("d")))).Nlink)
	p("section_nlink", statT(must1(os.Stat(pa("")))).Nlink)

	// Raw calls: fstatat with flags, fstat of a bad descriptor.
	var s unix.Stat_t
	p("fstatat_nofollow", en(unix.Fstatat(unix.AT_FDCWD, pa("l"), &s, unix.AT_SYMLINK_NOFOLLOW))+" "+fmtRaw(&s))
	p("fstatat_follow", en(unix.Fstatat(unix.AT_FDCWD, pa("l"), &s, 0))+" "+fmtRaw(&s))
	dfd := must1(unix.Open(pa("d"), unix.O_RDONLY|unix.O_DIRECTORY, 0))
	p("fstatat_relative_dirfd", en(unix.Fstatat(dfd, "file", &s, 0))+" "+fmtRaw(&s))
	p("fstatat_dirfd_dotdot", en(unix.Fstatat(dfd, "../f", &s, 0))+" "+fmtRaw(&s))
	p("fstatat_empty_path", en(unix.Fstatat(dfd, "", &s, unix.AT_EMPTY_PATH))+" "+fmtRaw(&s))
	p("fstatat_empty_no_flag", en(unix.Fstatat(dfd, "", &s, 0)))
	p("fstatat_bad_flags", en(unix.Fstatat(dfd, "file", &s, 0x80000)))
	ffd := must1(unix.Open(pa("f"), unix.O_RDONLY, 0))
	p("fstatat_file_as_dirfd", en(unix.Fstatat(ffd, "x", &s, 0)))
	p("fstatat_file_as_dirfd_absolute", en(unix.Fstatat(ffd, pa("f"), &s, 0)))
	unix.Close(ffd)
	unix.Close(dfd)
	p("fstatat_bad_dirfd", en(unix.Fstatat(9999, "x", &s, 0)))
	p("fstatat_bad_dirfd_absolute", en(unix.Fstatat(9999, pa("f"), &s, 0)))
	p("fstat_badfd", en(unix.Fstat(9999, &s)))
	var stx unix.Statx_t
	err = unix.Statx(unix.AT_FDCWD, pa("f"), 0, unix.STATX_BASIC_STATS, &stx)
	p("statx", en(err))
	p("statx_fields", fmt.Sprintf("%v nlink=%d size=%d", modeOf(uint32(stx.Mode)), stx.Nlink, stx.Size))
}

// readDirs: directory listings, batches, deletion while reading.
func readDirs() {
	section("readdir")
	must(os.Mkdir(pa("d"), 0o755))
	for i := 0; i < 50; i++ {
		write(pa(fmt.Sprintf("d/f%02d", i)), strings.Repeat("x", i))
	}
	for i := 0; i < 5; i++ {
		must(os.Mkdir(pa(fmt.Sprintf("d/sub%d", i)), 0o755))
	}
	must(os.Symlink("f00", pa("d/link")))
	must(os.Symlink("nowhere", pa("d/dangling")))
	p("readdir", names(pa("d")))
	ents := must1(os.ReadDir(pa("d")))
	p("readdir_sorted", slices.IsSortedFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) }))
	var infos []string
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			infos = append(infos, en(err))
			continue
		}
		s := fi.Name() + ":" + fi.Mode().String()
		if fi.Mode().IsRegular() {
			s += fmt.Sprintf(":%d", fi.Size())
		}
		infos = append(infos, s)
	}
	p("readdir_info", strings.Join(infos, " "))

	// Batches: f.ReadDir(n) and the rest after a partial read.
	f := must1(os.Open(pa("d")))
	var sizes []string
	var all []fs.DirEntry
	for {
		b, err := f.ReadDir(10)
		all = append(all, b...)
		sizes = append(sizes, fmt.Sprint(len(b)))
		if err != nil {
			sizes = append(sizes, en(err))
			break
		}
	}
	p("batches_of_10", strings.Join(sizes, ","))
	p("batches_union", fmtEnts(all) == names(pa("d")))
	b, err := f.ReadDir(10)
	p("batch_after_eof", fmt.Sprint(len(b), " ", en(err)))
	b, err = f.ReadDir(-1)
	p("readdir_all_after_eof", fmt.Sprint(len(b), " ", en(err)))
	f.Close()
	f = must1(os.Open(pa("d")))
	b, _ = f.ReadDir(7)
	rest, err := f.ReadDir(-1)
	p("partial_then_rest", fmt.Sprint(len(b), "+", len(rest), " ", en(err)))
	p("partial_then_rest_union", fmtEnts(append(b, rest...)) == names(pa("d")))
	f.Close()
	f = must1(os.Open(pa("d")))
	nms, err := f.Readdirnames(0)
	p("readdirnames_0", fmt.Sprint(len(nms), " ", en(err)))
	nms, err = f.Readdirnames(0)
	p("readdirnames_0_again", fmt.Sprint(len(nms), " ", en(err)))
	f.Close()
	f = must1(os.Open(pa("d")))
	fis, err := f.Readdir(-1)
	var dirs int
	for _, fi := range fis {
		if fi.IsDir() {
			dirs++
		}
	}
	p("readdir_fileinfo", fmt.Sprint(len(fis), " dirs=", dirs, " ", en(err)))
	// Seek to 0 rewinds the listing.
	_, err = f.Seek(0, io.SeekStart)
	p("rewind", en(err))
	nms, err = f.Readdirnames(-1)
	p("rewind_reread", fmt.Sprint(len(nms), " ", en(err)))
	f.Close()

	// Raw getdents: "." and ".." come first in the guest, anywhere natively;
	// both are there.
	fd := must1(unix.Open(pa("d/sub0"), unix.O_RDONLY|unix.O_DIRECTORY, 0))
	buf := make([]byte, 4096)
	n, err := unix.Getdents(fd, buf)
	var raw []string
	for off := 0; off < n; {
		reclen := int(*(*uint16)(unsafe.Pointer(&buf[off+16])))
		typ := buf[off+18]
		name := buf[off+19 : off+reclen]
		name = name[:bytes.IndexByte(name, 0)]
		raw = append(raw, fmt.Sprintf("%s:%d", name, typ))
		off += reclen
	}
	sort.Strings(raw)
	p("getdents_empty_dir", fmt.Sprint(en(err), " ", raw))
	n, err = unix.Getdents(fd, buf)
	p("getdents_at_end", fmt.Sprint(n, " ", en(err)))
	unix.Seek(fd, 0, io.SeekStart)
	n, err = unix.Getdents(fd, buf[:10])
	p("getdents_small_buffer", fmt.Sprint(n, " ", en(err)))
	unix.Close(fd)
	ffd := must1(unix.Open(pa("d/f01"), unix.O_RDONLY, 0))
	_, err = unix.Getdents(ffd, buf)
	p("getdents_on_file", en(err))
	unix.Close(ffd)
	_, err = os.ReadDir(pa("d/f01"))
	p("readdir_on_file", en(err))
	_, err = os.ReadDir(pa("missing"))
	p("readdir_missing", en(err))
	p("readdir_dotdot_path", names(pa("d/sub0/..")) == names(pa("d")))

	// An empty directory.
	must(os.Mkdir(pa("empty"), 0o755))
	p("empty", names(pa("empty")))
	f = must1(os.Open(pa("empty")))
	b, err = f.ReadDir(1)
	p("empty_batch", fmt.Sprint(len(b), " ", en(err)))
	f.Close()
	f = must1(os.Open(pa("empty")))
	b, err = f.ReadDir(0)
	p("empty_all", fmt.Sprint(len(b), " ", en(err)))
	f.Close()

	// Odd names.
	must(os.Mkdir(pa("odd"), 0o755))
	for _, n := range []string{"...", " sp ace ", "ünïcödé", "\x01ctl", "new\nline", "A", "a", "-dash", "\xff\xfe", strings.Repeat("z", 255)} {
		if err := os.WriteFile(pa("odd/"+n), []byte(n), 0o644); err != nil {
			p("odd_create_"+fmt.Sprintf("%q", n), en(err))
		}
	}
	p("odd_names", fmt.Sprintf("%q", mustNames(pa("odd"))))
	p("odd_content", content(pa("odd/\x01ctl")))

	// Deleting entries while reading: each batch is removed once read; the
	// listing neither skips nor repeats.
	must(os.Mkdir(pa("del"), 0o755))
	for i := 0; i < 500; i++ {
		write(pa(fmt.Sprintf("del/entry-with-a-longish-name-%04d", i)), "")
	}
	f = must1(os.Open(pa("del")))
	seen := map[string]bool{}
	dups, batches := 0, 0
	for {
		nms, err := f.Readdirnames(37)
		for _, n := range nms {
			if seen[n] {
				dups++
			}
			seen[n] = true
			if err := os.Remove(pa("del/" + n)); err != nil {
				p("del_remove", en(err))
			}
		}
		batches++
		if err != nil {
			break
		}
	}
	f.Close()
	p("delete_while_reading", fmt.Sprint("seen=", len(seen), " dups=", dups, " left=", names(pa("del"))))
	p("delete_while_reading_rmdir", en(syscall.Rmdir(pa("del"))))

	// Entries added while reading: the listing goes on.
	must(os.Mkdir(pa("add"), 0o755))
	for i := 0; i < 20; i++ {
		write(pa(fmt.Sprintf("add/old%02d", i)), "")
	}
	f = must1(os.Open(pa("add")))
	first, _ := f.Readdirnames(5)
	write(pa("add/new"), "")
	rest2, err := f.Readdirnames(-1)
	got := map[string]bool{}
	for _, n := range append(first, rest2...) {
		got[n] = true
	}
	oldSeen := 0
	for i := 0; i < 20; i++ {
		if got[fmt.Sprintf("old%02d", i)] {
			oldSeen++
		}
	}
	p("add_while_reading_old_entries", fmt.Sprint(oldSeen, " ", en(err)))
	f.Close()

	// A directory removed while open reads as empty.
	must(os.Mkdir(pa("gone"), 0o755))
	f = must1(os.Open(pa("gone")))
	must(syscall.Rmdir(pa("gone")))
	b, err = f.ReadDir(-1)
	p("removed_dir_readdir", fmt.Sprint(len(b), " ", en(err)))
	ffi, err := f.Stat()
	p("removed_dir_fstat", fmtStat(ffi, err))
	f.Close()
}

func mustNames(dir string) []string {
	ents := must1(os.ReadDir(dir))
	var s []string
	for _, e := range ents {
		s = append(s, e.Name())
	}
	return s
}

// removeAll: os.RemoveAll of a tree of 3000 files over subdirectories,
// which reads directories while deleting their entries.
func removeAll() {
	section("removeall")
	files := 0
	for i := 0; i < 10; i++ {
		for j := 0; j < 3; j++ {
			d := pa(fmt.Sprintf("tree/d%d/s%d", i, j))
			must(os.MkdirAll(d, 0o755))
			for k := 0; k < 100; k++ {
				must(os.WriteFile(fmt.Sprintf("%s/file-%03d", d, k), []byte{byte(k)}, 0o644))
				files++
			}
		}
	}
	must(os.Symlink("d0", pa("tree/link")))
	n := 0
	filepath.WalkDir(pa("tree"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	p("created", fmt.Sprint(files, " walked=", n))
	p("removeall", en(os.RemoveAll(pa("tree"))))
	_, err := os.Lstat(pa("tree"))
	p("removeall_gone", en(err))
	p("removeall_missing", en(os.RemoveAll(pa("tree"))))
	p("removeall_dot", en(os.RemoveAll(pa("."))))
	write(pa("single"), "x")
	p("removeall_file", en(os.RemoveAll(pa("single"))))
	must(os.MkdirAll(pa("keep/inner"), 0o755))
	must(os.Symlink("../keep", pa("sym")))
	p("removeall_symlink_to_dir", en(os.RemoveAll(pa("sym"))))
	p("removeall_symlink_to_dir_target", st(pa("keep/inner")))
	// A deep chain.
	deep := pa("deep")
	for i := 0; i < 100; i++ {
		deep += "/x"
	}
	must(os.MkdirAll(deep, 0o755))
	write(deep+"/leaf", "leaf")
	p("removeall_deep", en(os.RemoveAll(pa("deep"))))
	p("after", names(pa("")))
}

// mkdirs: mkdir, MkdirAll, rmdir.
func mkdirs() {
	section("mkdir")
	p("mkdir", en(os.Mkdir(pa("d"), 0o755)))
	p("mkdir_stat", st(pa("d")))
	p("mkdir_existing", en(os.Mkdir(pa("d"), 0o755)))
	write(pa("f"), "f")
	p("mkdir_over_file", en(os.Mkdir(pa("f"), 0o755)))
	p("mkdir_missing_parent", en(os.Mkdir(pa("no/d"), 0o755)))
	p("mkdir_under_file", en(os.Mkdir(pa("f/d"), 0o755)))
	p("mkdir_trailing_slash", en(os.Mkdir(pa("ts/"), 0o755)))
	p("mkdir_trailing_slashes", en(os.Mkdir(pa("ts2///"), 0o755)))
	p("mkdir_dot", en(os.Mkdir(pa("d/."), 0o755)))
	p("mkdir_dotdot", en(os.Mkdir(pa("d/.."), 0o755)))
	p("mkdir_0700", en(os.Mkdir(pa("m700"), 0o700)))
	p("mkdir_0700_stat", st(pa("m700")))
	p("mkdir_0", en(os.Mkdir(pa("m0"), 0)))
	p("mkdir_0_stat", st(pa("m0")))
	p("mkdir_sticky", en(os.Mkdir(pa("sticky"), 0o777|os.ModeSticky)))
	p("mkdir_sticky_stat", st(pa("sticky")))
	p("mkdir_raw_sticky", en(unix.Mkdir(pa("rsticky"), 0o1777)))
	p("mkdir_raw_sticky_stat", st(pa("rsticky")))
	p("mkdir_raw_setgid", en(unix.Mkdir(pa("rsetgid"), 0o2755)))
	p("mkdir_raw_setgid_stat", st(pa("rsetgid")))
	must(os.Symlink("d", pa("ld")))
	p("mkdir_over_symlink", en(os.Mkdir(pa("ld"), 0o755)))
	must(os.Symlink("dnew", pa("ldangle")))
	p("mkdir_over_dangling_symlink", en(os.Mkdir(pa("ldangle"), 0o755)))
	p("mkdir_over_dangling_symlink_target", lst(pa("dnew")))
	p("mkdir_through_symlink_dir", en(os.Mkdir(pa("ld/sub"), 0o755)))
	p("mkdir_through_symlink_dir_stat", st(pa("d/sub")))

	p("mkdirall", en(os.MkdirAll(pa("a/b/c/d"), 0o755)))
	p("mkdirall_stat", st(pa("a/b/c/d")))
	p("mkdirall_existing", en(os.MkdirAll(pa("a/b/c/d"), 0o755)))
	p("mkdirall_over_file", en(os.MkdirAll(pa("f"), 0o755)))
	p("mkdirall_through_file", en(os.MkdirAll(pa("f/x/y"), 0o755)))
	p("mkdirall_through_symlink", en(os.MkdirAll(pa("ld/x/y"), 0o755)))
	p("mkdirall_through_symlink_stat", st(pa("d/x/y")))
	p("mkdirall_dotdot", en(os.MkdirAll(pa("a/../e/f"), 0o755)))
	p("mkdirall_dotdot_stat", st(pa("e/f")))
	p("mkdirall_a_nlink", statT(must1(os.Stat(pa("a")))).Nlink)

	p("rmdir", en(syscall.Rmdir(pa("a/b/c/d"))))
	p("rmdir_gone", st(pa("a/b/c/d")))
	p("rmdir_nonempty", en(syscall.Rmdir(pa("a"))))
	p("rmdir_file", en(syscall.Rmdir(pa("f"))))
	p("rmdir_missing", en(syscall.Rmdir(pa("missing"))))
	p("rmdir_symlink_to_dir", en(syscall.Rmdir(pa("ld"))))
	p("rmdir_symlink_to_dir_slash", en(syscall.Rmdir(pa("ld/"))))
	p("rmdir_dot", en(syscall.Rmdir(pa("a/b/c/."))))
	p("rmdir_dotdot", en(syscall.Rmdir(pa("a/b/c/.."))))
	p("rmdir_trailing_slash", en(syscall.Rmdir(pa("a/b/c/"))))
	p("rmdir_file_slash", en(syscall.Rmdir(pa("f/"))))
	p("remove_nonempty_dir", en(os.Remove(pa("a"))))
	p("remove_empty_dir", en(os.Remove(pa("a/b"))))
	p("after", names(pa("")))
	w := watch(pa("d"))
	must(os.Mkdir(pa("d/t"), 0o755))
	p("mkdir_parent_times", w)
	p("mkdir_new_times", amc(pa("d/t")))
	w = watch(pa("d"))
	must(syscall.Rmdir(pa("d/t")))
	p("rmdir_parent_times", w)
}

// renames: rename(2) and renameat2(2).
func renames() {
	section("rename")
	write(pa("a"), "A")
	write(pa("b"), "B")
	p("file_over_file", en(os.Rename(pa("a"), pa("b"))))
	p("file_over_file_old", lst(pa("a")))
	p("file_over_file_new", content(pa("b")))
	p("file_to_new", en(os.Rename(pa("b"), pa("c"))))
	p("file_to_new_content", content(pa("c")))
	p("missing", en(os.Rename(pa("missing"), pa("x"))))
	p("into_missing_dir", en(os.Rename(pa("c"), pa("nodir/x"))))
	p("under_file", en(os.Rename(pa("c"), pa("c/x"))))
	p("file_trailing_slash_new", en(os.Rename(pa("c"), pa("x/"))))
	p("file_trailing_slash_old", en(os.Rename(pa("c/"), pa("x"))))
	p("file_onto_itself", en(os.Rename(pa("c"), pa("c"))))
	p("file_onto_itself_after", content(pa("c")))

	// Hard links to one file: renaming one name over the other does
	// nothing, both names stay.
	must(os.Link(pa("c"), pa("c2")))
	p("onto_hardlink", en(os.Rename(pa("c"), pa("c2"))))
	p("onto_hardlink_old", lst(pa("c")))
	p("onto_hardlink_new", lst(pa("c2")))
	must(os.Remove(pa("c2")))

	// Replacing a file that has another name.
	write(pa("v"), "V")
	must(os.Link(pa("v"), pa("v2")))
	write(pa("w"), "W")
	p("over_linked_file", en(os.Rename(pa("w"), pa("v"))))
	p("over_linked_file_other_name", lst(pa("v2")))
	p("over_linked_file_content", content(pa("v")))

	// Directories.
	must(os.MkdirAll(pa("d1/sub"), 0o755))
	write(pa("d1/sub/f"), "f")
	must(os.Mkdir(pa("empty"), 0o755))
	must(os.MkdirAll(pa("full/x"), 0o755))
	p("go_dir_over_empty_dir", en(os.Rename(pa("d1"), pa("empty"))))
	p("sys_dir_over_empty_dir", en(syscall.Rename(pa("d1"), pa("empty"))))
	p("sys_dir_over_empty_dir_content", content(pa("empty/sub/f")))
	p("sys_dir_over_empty_dir_old", lst(pa("d1")))
	p("sys_dir_over_nonempty_dir", en(syscall.Rename(pa("empty"), pa("full"))))
	p("go_dir_over_nonempty_dir", en(os.Rename(pa("empty"), pa("full"))))
	write(pa("file"), "file")
	p("file_over_dir", en(syscall.Rename(pa("file"), pa("full"))))
	p("go_file_over_dir", en(os.Rename(pa("file"), pa("full"))))
	p("file_over_empty_dir", en(syscall.Rename(pa("file"), pa("full/x"))))
	p("dir_over_file", en(syscall.Rename(pa("full"), pa("file"))))
	p("dir_into_own_subdir", en(syscall.Rename(pa("full"), pa("full/x/y"))))
	p("dir_into_itself", en(syscall.Rename(pa("full"), pa("full/y"))))
	p("dir_onto_itself", en(syscall.Rename(pa("full"), pa("full"))))
	p("dir_onto_own_child", en(syscall.Rename(pa("full"), pa("full/x"))))
	p("dir_onto_own_parent", en(syscall.Rename(pa("full/x"), pa("full"))))
	p("dir_onto_itself_slashes", en(syscall.Rename(pa("full/"), pa("full/"))))
	p("dir_trailing_slash_new", en(syscall.Rename(pa("full"), pa("full2/"))))
	p("dir_trailing_slash_back", en(syscall.Rename(pa("full2/"), pa("full"))))
	p("dotdot_old", en(syscall.Rename(pa("full/x/.."), pa("q"))))
	p("dot_old", en(syscall.Rename(pa("full/."), pa("q"))))
	p("dot_new", en(syscall.Rename(pa("file"), pa("full/."))))
	p("dotdot_new", en(syscall.Rename(pa("file"), pa("full/x/.."))))
	p("dir_dotdot_new", en(syscall.Rename(pa("empty"), pa("full/x/.."))))
	p("after", names(pa("")))

	// Moving a directory between parents: link counts, "..", times.
	must(os.MkdirAll(pa("p1/mv/inner"), 0o755))
	must(os.Mkdir(pa("p2"), 0o755))
	w1, w2, wm := watch(pa("p1")), watch(pa("p2")), watch(pa("p1/mv"))
	p("move_dir", en(os.Rename(pa("p1/mv"), pa("p2/mv"))))
	p("move_dir_nlink_old_parent", statT(must1(os.Stat(pa("p1")))).Nlink)
	p("move_dir_nlink_new_parent", statT(must1(os.Stat(pa("p2")))).Nlink)
	p("move_dir_dotdot", os.SameFile(must1(os.Stat(pa("p2/mv/.."))), must1(os.Stat(pa("p2")))))
	p("move_dir_inner_dotdot_dotdot", os.SameFile(must1(os.Stat(pa("p2/mv/inner/../.."))), must1(os.Stat(pa("p2")))))
	wm.path = pa("p2/mv")
	p("move_dir_times_old_parent", w1)
	p("move_dir_times_new_parent", w2)
	p("move_dir_times_moved", wm)
	write(pa("p1/f"), "x")
	w := watch(pa("p1/f"))
	must(os.Rename(pa("p1/f"), pa("p1/g")))
	w.path = pa("p1/g")
	p("rename_file_times", w)

	// Symbolic links: the link moves, not its target.
	must(os.Symlink("c", pa("lc")))
	p("symlink", en(os.Rename(pa("lc"), pa("lc2"))))
	p("symlink_new", lst(pa("lc2")))
	p("symlink_target_kept", content(pa("c")))
	must(os.Symlink("full", pa("lfull")))
	p("symlink_to_dir_slash", en(syscall.Rename(pa("lfull/"), pa("lfull3"))))
	p("symlink_over_file", en(os.Rename(pa("lc2"), pa("file"))))
	p("symlink_over_file_after", lst(pa("file")))

	// An open file keeps working after its rename.
	write(pa("open"), "one")
	f := must1(os.OpenFile(pa("open"), os.O_RDWR|os.O_APPEND, 0))
	must(os.Rename(pa("open"), pa("moved")))
	f.Write([]byte("two"))
	f.Close()
	p("open_file_renamed", content(pa("moved")))

	// renameat2.
	write(pa("n1"), "n1")
	write(pa("n2"), "n2")
	p("noreplace_existing", en(unix.Renameat2(unix.AT_FDCWD, pa("n1"), unix.AT_FDCWD, pa("n2"), unix.RENAME_NOREPLACE)))
	p("noreplace_new", en(unix.Renameat2(unix.AT_FDCWD, pa("n1"), unix.AT_FDCWD, pa("n3"), unix.RENAME_NOREPLACE)))
	p("noreplace_new_content", content(pa("n3")))
	p("noreplace_itself", en(unix.Renameat2(unix.AT_FDCWD, pa("n3"), unix.AT_FDCWD, pa("n3"), unix.RENAME_NOREPLACE)))
	p("exchange", en(unix.Renameat2(unix.AT_FDCWD, pa("n2"), unix.AT_FDCWD, pa("n3"), unix.RENAME_EXCHANGE)))
	p("exchange_content", content(pa("n2"))+" "+content(pa("n3")))
	p("exchange_missing", en(unix.Renameat2(unix.AT_FDCWD, pa("n2"), unix.AT_FDCWD, pa("n9"), unix.RENAME_EXCHANGE)))
	p("noreplace_and_exchange", en(unix.Renameat2(unix.AT_FDCWD, pa("n2"), unix.AT_FDCWD, pa("n3"), unix.RENAME_NOREPLACE|unix.RENAME_EXCHANGE)))
	p("flags_bad", en(unix.Renameat2(unix.AT_FDCWD, pa("n2"), unix.AT_FDCWD, pa("n4"), 1<<10)))
	dfd := must1(unix.Open(pa("p2"), unix.O_RDONLY|unix.O_DIRECTORY, 0))
	p("renameat_dirfds", en(unix.Renameat(dfd, "mv", dfd, "mv2")))
	p("renameat_dirfds_after", names(pa("p2")))
	unix.Close(dfd)
}

// unlinks: unlink(2) and os.Remove.
func unlinks() {
	section("unlink")
	write(pa("f"), "f")
	must(os.Mkdir(pa("d"), 0o755))
	must(os.Symlink("f", pa("l")))
	must(os.Symlink("d", pa("ld")))
	p("unlink_dir", en(syscall.Unlink(pa("d"))))
	p("unlink_dir_slash", en(syscall.Unlink(pa("d/"))))
	p("unlink_dot", en(syscall.Unlink(pa("d/."))))
	p("unlink_dotdot", en(syscall.Unlink(pa("d/.."))))
	p("unlink_file_slash", en(syscall.Unlink(pa("f/"))))
	p("unlink_missing", en(syscall.Unlink(pa("missing"))))
	p("unlink_missing_slash", en(syscall.Unlink(pa("missing/"))))
	p("unlink_symlink_to_dir_slash", en(syscall.Unlink(pa("ld/"))))
	p("unlink_symlink", en(syscall.Unlink(pa("l"))))
	p("unlink_symlink_target_kept", st(pa("f")))
	p("unlink_symlink_to_dir", en(syscall.Unlink(pa("ld"))))
	p("unlinkat_removedir_file", en(unix.Unlinkat(unix.AT_FDCWD, pa("f"), unix.AT_REMOVEDIR)))
	p("unlinkat_bad_flags", en(unix.Unlinkat(unix.AT_FDCWD, pa("f"), 0x1)))
	p("remove_dir", en(os.Remove(pa("d"))))
	p("remove_file", en(os.Remove(pa("f"))))
	p("remove_missing", en(os.Remove(pa("f"))))
	p("remove_missing_isnotexist", os.IsNotExist(os.Remove(pa("f"))))
	write(pa("g"), "g")
	p("remove_file_slash", en(os.Remove(pa("g/"))))
	p("after", names(pa("")))
	w := watch(pa(""))
	must(os.Remove(pa("g")))
	p("unlink_parent_times", w)
	// ctime of a file when one of its names goes.
	write(pa("h"), "h")
	must(os.Link(pa("h"), pa("h2")))
	w = watch(pa("h"))
	must(os.Remove(pa("h2")))
	p("unlink_link_times", w)
	p("unlink_link_nlink", st(pa("h")))
}

// truncates: truncate(2), ftruncate(2).
func truncates() {
	section("truncate")
	write(pa("f"), "0123456789")
	p("grow", en(os.Truncate(pa("f"), 20)))
	p("grow_content", content(pa("f")))
	p("shrink", en(os.Truncate(pa("f"), 3)))
	p("shrink_content", content(pa("f")))
	p("grow_after_shrink", en(os.Truncate(pa("f"), 6)))
	p("grow_after_shrink_content", content(pa("f")))
	p("zero", en(os.Truncate(pa("f"), 0)))
	p("zero_stat", st(pa("f")))
	p("negative", en(os.Truncate(pa("f"), -1)))
	p("dir", en(os.Truncate(pa(""), 0)))
	p("missing", en(os.Truncate(pa("missing"), 0)))
	must(os.Symlink("f", pa("l")))
	p("through_symlink", en(os.Truncate(pa("l"), 4)))
	p("through_symlink_stat", st(pa("f")))
	p("file_slash", en(os.Truncate(pa("f/"), 0)))

	// Across page boundaries, with data past the cut.
	data := bytes.Repeat([]byte("abcdefgh"), 2048) // 16 KiB
	must(os.WriteFile(pa("p"), data, 0o644))
	must(os.Truncate(pa("p"), 5000))
	must(os.Truncate(pa("p"), 16384))
	b := must1(os.ReadFile(pa("p")))
	p("shrink_grow_pages", fmt.Sprint(len(b), " ", bytes.Equal(b[:5000], data[:5000]), " zeros=", zeros(b[5000:])))

	f := must1(os.OpenFile(pa("f"), os.O_RDWR, 0))
	must1(f.Write([]byte("ABCDEFGH")))
	p("ftruncate_shrink", en(f.Truncate(2)))
	pos, _ := f.Seek(0, io.SeekCurrent)
	p("ftruncate_keeps_offset", pos)
	n, err := f.Write([]byte("Z"))
	p("write_past_end_after_ftruncate", fmt.Sprint(n, " ", en(err)))
	p("write_past_end_after_ftruncate_content", content(pa("f")))
	p("ftruncate_grow", en(f.Truncate(12)))
	p("ftruncate_grow_content", content(pa("f")))
	p("ftruncate_negative", en(f.Truncate(-5)))
	w := watch(pa("f"))
	must(f.Truncate(5))
	p("ftruncate_times", w)
	w = watch(pa("f"))
	must(f.Truncate(5))
	p("ftruncate_same_size_times", w)
	w = watch(pa("f"))
	must(os.Truncate(pa("f"), 5))
	p("truncate_same_size_times", w)
	w = watch(pa("f"))
	must(os.Truncate(pa("f"), 7))
	p("truncate_times", w)
	f.Close()
	f = must1(os.Open(pa("f")))
	p("ftruncate_rdonly", en(f.Truncate(0)))
	f.Close()
	d := must1(os.Open(pa("")))
	p("ftruncate_dir", en(d.Truncate(0)))
	d.Close()
	fd := must1(unix.Open(pa("f"), unix.O_WRONLY, 0))
	p("ftruncate_raw", en(unix.Ftruncate(fd, 1)))
	unix.Close(fd)
	p("ftruncate_raw_content", content(pa("f")))
	p("ftruncate_badfd", en(unix.Ftruncate(9999, 0)))

	// fallocate.
	fd = must1(unix.Open(pa("fa"), unix.O_CREAT|unix.O_RDWR, 0o644))
	p("fallocate", en(unix.Fallocate(fd, 0, 0, 10000)))
	p("fallocate_stat", st(pa("fa")))
	p("fallocate_inside", en(unix.Fallocate(fd, 0, 10, 10)))
	p("fallocate_inside_stat", st(pa("fa")))
	p("fallocate_zero_len", en(unix.Fallocate(fd, 0, 0, 0)))
	p("fallocate_negative", en(unix.Fallocate(fd, 0, -1, 10)))
	p("fallocate_keep_size", en(unix.Fallocate(fd, unix.FALLOC_FL_KEEP_SIZE, 0, 20000)))
	p("fallocate_keep_size_stat", st(pa("fa")))
	unix.Close(fd)
	fd = must1(unix.Open(pa("fa"), unix.O_RDONLY, 0))
	p("fallocate_rdonly", en(unix.Fallocate(fd, 0, 0, 10)))
	unix.Close(fd)
}

// modes: chmod, chown, the set-id bits.
func modes() {
	section("mode")
	write(pa("f"), "f")
	for _, m := range []fs.FileMode{0o600, 0o755, 0o000, 0o777, 0o644 | fs.ModeSetuid, 0o755 | fs.ModeSetgid, 0o644 | fs.ModeSticky} {
		p(fmt.Sprintf("chmod_%v", m), en(os.Chmod(pa("f"), m))+" "+st(pa("f")))
	}
	p("chmod_raw_07777", en(unix.Chmod(pa("f"), 0o7777))+" "+st(pa("f")))
	p("chmod_raw_type_bits_ignored", en(unix.Chmod(pa("f"), unix.S_IFDIR|0o640))+" "+st(pa("f")))
	must(os.Mkdir(pa("d"), 0o755))
	p("chmod_dir_0700", en(os.Chmod(pa("d"), 0o700))+" "+st(pa("d")))
	p("chmod_dir_sticky", en(os.Chmod(pa("d"), 0o777|fs.ModeSticky))+" "+st(pa("d")))
	must(os.Symlink("f", pa("l")))
	p("chmod_through_symlink", en(os.Chmod(pa("l"), 0o640)))
	p("chmod_through_symlink_target", st(pa("f")))
	p("chmod_through_symlink_link", lst(pa("l")))
	p("chmod_missing", en(os.Chmod(pa("missing"), 0o644)))
	f := must1(os.Open(pa("f")))
	p("fchmod_rdonly_fd", en(f.Chmod(0o604))+" "+st(pa("f")))
	f.Close()
	w := watch(pa("f"))
	must(os.Chmod(pa("f"), 0o644))
	p("chmod_times", w)

	// Ownership (the program runs as root natively and in mote).
	uid, gid := os.Getuid(), os.Getgid()
	p("ids", fmt.Sprint(uid, " ", gid, " ", os.Geteuid(), " ", os.Getegid()))
	p("chown_own", en(os.Chown(pa("f"), uid, gid))+" "+st(pa("f")))
	p("chown_other", en(os.Chown(pa("f"), 1000, 2000))+" "+st(pa("f")))
	p("chown_keep_uid", en(os.Chown(pa("f"), -1, 3000))+" "+st(pa("f")))
	p("chown_keep_both", en(os.Chown(pa("f"), -1, -1))+" "+st(pa("f")))
	p("chown_through_symlink", en(os.Chown(pa("l"), 5, 6))+" "+st(pa("f"))+" / "+lst(pa("l")))
	p("lchown", en(os.Lchown(pa("l"), 7, 8))+" "+st(pa("f"))+" / "+lst(pa("l")))
	f = must1(os.Open(pa("f")))
	p("fchown", en(f.Chown(uid, gid))+" "+st(pa("f")))
	f.Close()
	p("chown_missing", en(os.Chown(pa("missing"), uid, gid)))
	w = watch(pa("f"))
	must(os.Chown(pa("f"), uid, gid))
	p("chown_times", w)
	// chown clears the set-user-ID bit, and set-group-ID with group
	// execute, of a regular file, even for root.
	must(os.Chmod(pa("f"), 0o755|fs.ModeSetuid|fs.ModeSetgid))
	p("chown_clears_setid", en(os.Chown(pa("f"), uid, gid))+" "+st(pa("f")))
	must(os.Chmod(pa("f"), 0o745|fs.ModeSetgid))
	p("chown_keeps_setgid_without_gx", en(os.Chown(pa("f"), uid, gid))+" "+st(pa("f")))
	must(os.Chmod(pa("f"), 0o755|fs.ModeSetuid))
	p("chown_minus1_clears_setuid", en(os.Chown(pa("f"), -1, -1))+" "+st(pa("f")))
	must(os.Chmod(pa("d"), 0o755|fs.ModeSetgid))
	p("chown_dir_keeps_setgid", en(os.Chown(pa("d"), uid, gid))+" "+st(pa("d")))

	// New entries in a set-group-ID directory take its group, and new
	// directories the bit.
	must(os.Mkdir(pa("sg"), 0o755))
	must(os.Chown(pa("sg"), uid, 4242))
	must(os.Chmod(pa("sg"), 0o755|fs.ModeSetgid))
	write(pa("sg/file"), "")
	must(os.Mkdir(pa("sg/sub"), 0o755))
	p("setgid_dir_new_file", st(pa("sg/file")))
	p("setgid_dir_new_dir", st(pa("sg/sub")))
	must(os.Chmod(pa("sg"), 0o755))
	write(pa("sg/file2"), "")
	p("plain_dir_new_file", st(pa("sg/file2")))

	// access(2) as root: R and W always, X needs one x bit (files).
	write(pa("acc"), "")
	for _, m := range []fs.FileMode{0o000, 0o644, 0o100, 0o001} {
		must(os.Chmod(pa("acc"), m))
		p(fmt.Sprintf("access_%v", m), fmt.Sprint("F:", en(unix.Access(pa("acc"), unix.F_OK)),
			" R:", en(unix.Access(pa("acc"), unix.R_OK)), " W:", en(unix.Access(pa("acc"), unix.W_OK)),
			" X:", en(unix.Access(pa("acc"), unix.X_OK))))
	}
	must(os.Chmod(pa("d"), 0))
	p("access_dir_000", fmt.Sprint("R:", en(unix.Access(pa("d"), unix.R_OK)), " X:", en(unix.Access(pa("d"), unix.X_OK))))
	p("access_missing", en(unix.Access(pa("missing"), unix.F_OK)))
	p("access_bad_mode", en(unix.Access(pa("acc"), 8)))
	p("faccessat2_nofollow", en(unix.Faccessat2(unix.AT_FDCWD, pa("l"), unix.F_OK, unix.AT_SYMLINK_NOFOLLOW)))
	err := unix.Access(pa("acc"), unix.X_OK)
	p("access_x_is_permission", errors.Is(err, fs.ErrPermission))
	must(os.Chmod(pa("d"), 0o755))
}

// chtimes: utimensat(2) and the times operations set.
func chtimes() {
	section("times")
	write(pa("f"), "f")
	at := time.Unix(1234567890, 123456789)
	mt := time.Unix(1300000000, 987654321)
	p("chtimes", en(os.Chtimes(pa("f"), at, mt)))
	a, m, _ := times(pa("f"), true)
	p("chtimes_exact", fmt.Sprint(a.Equal(at), " ", m.Equal(mt)))
	p("chtimes_values", fmt.Sprint(a.UnixNano(), " ", m.UnixNano()))
	fi := must1(os.Stat(pa("f")))
	p("modtime", fi.ModTime().Equal(mt))
	_, _, c := times(pa("f"), true)
	p("chtimes_ctime", rel(c))
	// A zero time.Time leaves that time alone.
	p("chtimes_only_mtime", en(os.Chtimes(pa("f"), time.Time{}, past)))
	a, m, _ = times(pa("f"), true)
	p("chtimes_only_mtime_result", fmt.Sprint(a.Equal(at), " ", rel(m)))
	p("chtimes_only_atime", en(os.Chtimes(pa("f"), past, time.Time{})))
	a, m, _ = times(pa("f"), true)
	p("chtimes_only_atime_result", fmt.Sprint(rel(a), " ", rel(m)))
	for _, c := range []struct {
		name string
		t    time.Time
	}{
		{"epoch", time.Unix(0, 0)},
		{"before_epoch", time.Unix(-100000000, 5)},
		{"y1901", time.Date(1901, 12, 14, 0, 0, 0, 0, time.UTC)},
		{"y2038", time.Date(2038, 1, 19, 3, 14, 8, 0, time.UTC)},
		{"y2200", time.Date(2200, 1, 1, 0, 0, 0, 999999999, time.UTC)},
	} {
		err := os.Chtimes(pa("f"), c.t, c.t)
		s := statT(must1(os.Stat(pa("f"))))
		p("chtimes_"+c.name, fmt.Sprint(en(err), " atime=", s.Atim.Sec, ".", s.Atim.Nsec, " mtime=", s.Mtim.Sec, ".", s.Mtim.Nsec))
	}
	p("chtimes_missing", en(os.Chtimes(pa("missing"), at, mt)))
	// Past 2262 (int64 nanoseconds end there; os.Chtimes cannot say it).
	y2300 := time.Date(2300, 1, 1, 0, 0, 0, 5, time.UTC)
	ts := []unix.Timespec{unix.NsecToTimespec(0), {Sec: y2300.Unix(), Nsec: 5}}
	ts[0] = ts[1]
	err := unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0)
	s := statT(must1(os.Stat(pa("f"))))
	p("utimes_y2300", fmt.Sprint(en(err), " atime=", s.Atim.Sec, ".", s.Atim.Nsec, " mtime=", s.Mtim.Sec, ".", s.Mtim.Nsec))

	// utimensat directly: UTIME_NOW, UTIME_OMIT, bad nanoseconds, no follow.
	must(os.Symlink("f", pa("l")))
	w := watch(pa("f"))
	ts = []unix.Timespec{{Sec: 0, Nsec: unix.UTIME_NOW}, {Sec: 0, Nsec: unix.UTIME_OMIT}}
	p("utime_now_omit", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0))+" "+w.String())
	w = watch(pa("f"))
	p("utime_null", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), nil, 0))+" "+w.String())
	w = watch(pa("f"))
	ts = []unix.Timespec{{Sec: 5, Nsec: unix.UTIME_OMIT}, {Sec: 5, Nsec: unix.UTIME_OMIT}}
	p("utime_omit_both", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0))+" "+w.String())
	ts = []unix.Timespec{{Sec: 5, Nsec: 1e9}, {Sec: 5, Nsec: 0}}
	p("utime_bad_nsec", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0)))
	ts = []unix.Timespec{{Sec: 5, Nsec: -1}, {Sec: 5, Nsec: 0}}
	p("utime_negative_nsec", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0)))
	ts = []unix.Timespec{{Sec: 777, Nsec: 7}, {Sec: 888, Nsec: 8}}
	p("utime_nofollow", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("l"), ts, unix.AT_SYMLINK_NOFOLLOW)))
	la, lm, _ := times(pa("l"), false)
	p("utime_nofollow_link", fmt.Sprint(la.Unix(), " ", lm.Unix()))
	_, fm, _ := times(pa("f"), true)
	p("utime_nofollow_target", rel(fm))
	p("utime_follow", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("l"), ts, 0)))
	_, fm, _ = times(pa("f"), true)
	p("utime_follow_target", fm.Unix())
	p("utime_bad_flags", en(unix.UtimesNanoAt(unix.AT_FDCWD, pa("f"), ts, 0x1)))
	// futimens: utimensat(fd, NULL, ...).
	fd := must1(unix.Open(pa("f"), unix.O_RDONLY, 0))
	ts = []unix.Timespec{{Sec: 111, Nsec: 1}, {Sec: 222, Nsec: 2}}
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
	p("futimens", en(errnoErr(e)))
	a, m, _ = times(pa("f"), true)
	p("futimens_result", fmt.Sprint(a.UnixNano(), " ", m.UnixNano()))
	unix.Close(fd)

	// What updates what.
	w = watch(pa("f"))
	f := must1(os.OpenFile(pa("f"), os.O_WRONLY, 0))
	p("open_for_write_times", w)
	f.Write([]byte("x"))
	p("write_times", w)
	w = watch(pa("f"))
	f.WriteAt([]byte("y"), 10)
	p("pwrite_times", w)
	w = watch(pa("f"))
	f.Write(nil)
	p("empty_write_times", w)
	f.Close()
	w = watch(pa("f"))
	must1(os.ReadFile(pa("f")))
	_, m, _ = times(pa("f"), true)
	p("read_keeps_mtime_ctime", rel(m)+" "+w.String()[strings.Index(w.String(), "c="):])
	w = watch(pa(""))
	write(pa("new"), "")
	p("create_dir_times", w)
	p("create_file_times", amc(pa("new")))
	w = watch(pa(""))
	write(pa("new"), "x")
	p("rewrite_existing_dir_times", w)
	w = watch(pa(""))
	must(os.Symlink("x", pa("l2")))
	p("symlink_dir_times", w)
	p("symlink_times", amc(pa("l2")))
	w = watch(pa("f"))
	must(os.Link(pa("f"), pa("f2")))
	p("link_file_times", w)
	w = watch(pa(""))
	must(os.Chmod(pa("f"), 0o600))
	p("chmod_keeps_dir_times", w)
	w = watch(pa("f"))
	must(os.Rename(pa("f2"), pa("f3")))
	p("rename_other_name_times", w)
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// symlinks: symlink, readlink, resolution.
func symlinks() {
	section("symlink")
	write(pa("f"), "target data")
	must(os.MkdirAll(pa("d/sub"), 0o755))
	write(pa("d/sub/g"), "g")
	p("relative", en(os.Symlink("f", pa("rel"))))
	p("relative_readlink", fmt.Sprint(os.Readlink(pa("rel"))))
	p("relative_lstat", lst(pa("rel")))
	p("relative_lstat_size", must1(os.Lstat(pa("rel"))).Size())
	p("relative_stat", st(pa("rel")))
	p("relative_read", content(pa("rel")))
	p("absolute", en(os.Symlink(pa("f"), pa("abs"))))
	p("absolute_readlink", fmt.Sprint(os.Readlink(pa("abs"))))
	p("absolute_stat", st(pa("abs")))
	p("absolute_read", content(pa("abs")))
	p("dangling", en(os.Symlink("nothing", pa("dang"))))
	p("dangling_stat", st(pa("dang")))
	p("dangling_lstat", lst(pa("dang")))
	p("dangling_open", en(second(os.Open(pa("dang")))))
	p("dangling_open_isnotexist", os.IsNotExist(second(os.Open(pa("dang")))))
	p("dangling_slash", lst(pa("dang/")))
	p("existing_name", en(os.Symlink("x", pa("f"))))
	p("empty_target", en(os.Symlink("", pa("empty"))))
	p("in_missing_dir", en(os.Symlink("x", pa("nodir/l"))))
	p("name_trailing_slash", en(os.Symlink("x", pa("ts/"))))
	p("target_with_slash", en(os.Symlink("f/", pa("fslash"))))
	p("target_with_slash_stat", st(pa("fslash")))
	p("target_dotdot", en(os.Symlink("../symlink/f", pa("viaparent"))))
	p("target_dotdot_read", content(pa("viaparent")))

	// Loops.
	must(os.Symlink("loop1", pa("loop2")))
	must(os.Symlink("loop2", pa("loop1")))
	must(os.Symlink("self", pa("self")))
	p("loop_stat", st(pa("loop1")))
	p("loop_lstat", lst(pa("loop1")))
	p("loop_open", en(second(os.Open(pa("loop1")))))
	p("self_stat", st(pa("self")))
	p("self_create", en(second(os.OpenFile(pa("self"), os.O_CREATE|os.O_WRONLY, 0o644))))
	p("loop_in_path", st(pa("self/x")))
	p("loop_mkdir_under", en(os.Mkdir(pa("self/x"), 0o755)))
	p("loop_readlink", fmt.Sprint(os.Readlink(pa("self"))))
	p("loop_evalsymlinks", en(second(filepath.EvalSymlinks(pa("loop1")))))

	// Chains: Linux follows at most 40 links.
	must(os.Mkdir(pa("chain"), 0o755))
	write(pa("chain/l0"), "end of chain")
	for i := 1; i <= 41; i++ {
		must(os.Symlink(fmt.Sprintf("l%d", i-1), pa(fmt.Sprintf("chain/l%d", i))))
	}
	p("chain_40", content(pa("chain/l40")))
	p("chain_41", content(pa("chain/l41")))
	p("chain_40_lstat", lst(pa("chain/l40")))
	// Links in the middle of a path count too.
	must(os.Mkdir(pa("chain/dir"), 0o755))
	write(pa("chain/dir/file"), "in dir")
	must(os.Symlink("dir", pa("chain/m0")))
	for i := 1; i <= 41; i++ {
		must(os.Symlink(fmt.Sprintf("m%d", i-1), pa(fmt.Sprintf("chain/m%d", i))))
	}
	p("chain_40_dir", content(pa("chain/m39/file")))
	p("chain_41_dir", content(pa("chain/m41/file")))
	// Many links along one path, each one level.
	path := pa("chain")
	for i := 0; i < 45; i++ {
		if i == 0 {
			must(os.Symlink(".", pa("chain/dot")))
		}
		path += "/dot"
	}
	p("many_links_along_path", content(path+"/l0"))

	// Symbolic links to directories.
	must(os.Symlink("d", pa("ld")))
	must(os.Symlink(pa("d/sub"), pa("labsdir")))
	p("dir_traverse", content(pa("ld/sub/g")))
	p("dir_traverse_abs", content(pa("labsdir/g")))
	p("dir_readdir", names(pa("ld")))
	p("dir_stat_slash", st(pa("ld/")))
	p("dir_lstat_slash", lst(pa("ld/")))
	p("dir_lstat_dot", lst(pa("ld/.")))
	p("dir_dotdot_physical", os.SameFile(must1(os.Stat(pa("labsdir/.."))), must1(os.Stat(pa("d")))))
	p("dir_create_through", en(os.WriteFile(pa("ld/new"), []byte("n"), 0o644)))
	p("dir_create_through_stat", st(pa("d/new")))
	p("dir_evalsymlinks", fmt.Sprint(filepath.EvalSymlinks(pa("ld/sub/../sub/g"))))
	p("evalsymlinks_chain", fmt.Sprint(filepath.EvalSymlinks(pa("chain/l40"))))
	p("evalsymlinks_dangling", en(second(filepath.EvalSymlinks(pa("dang")))))
	p("chdir_through", en(os.Chdir(pa("ld/sub"))))
	wd, err := os.Getwd()
	p("chdir_through_getwd", fmt.Sprint(wd, " ", en(err)))
	p("chdir_through_relative_read", content("g"))
	must(os.Chdir(base))

	// readlink.
	p("readlink_file", en(second(os.Readlink(pa("f")))))
	p("readlink_dir", en(second(os.Readlink(pa("d")))))
	p("readlink_missing", en(second(os.Readlink(pa("missing")))))
	p("readlink_slash", en(second(os.Readlink(pa("rel/")))))
	small := make([]byte, 3)
	n, err := unix.Readlink(pa("viaparent"), small)
	p("readlink_short_buffer", fmt.Sprintf("%d %s %q", n, en(err), small[:max(n, 0)]))
	n, err = unix.Readlink(pa("viaparent"), nil)
	p("readlink_zero_buffer", fmt.Sprint(n, " ", en(err)))
	dfd := must1(unix.Open(pa(""), unix.O_RDONLY|unix.O_DIRECTORY, 0))
	buf := make([]byte, 64)
	n, err = unix.Readlinkat(dfd, "rel", buf)
	p("readlinkat_dirfd", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
	lfd, err := unix.Open(pa("rel"), unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err == nil {
		n, err = unix.Readlinkat(lfd, "", buf)
		p("readlinkat_empty_path_opath", fmt.Sprintf("%d %s %q", n, en(err), buf[:max(n, 0)]))
		unix.Close(lfd)
	} else {
		p("readlinkat_empty_path_opath", en(err))
	}
	p("symlinkat_dirfd", en(unix.Symlinkat("f", dfd, "atlink")))
	p("symlinkat_dirfd_read", content(pa("atlink")))
	unix.Close(dfd)

	// Long targets: up to 4095 bytes.
	long := strings.Repeat("a/", 2047) + "b" // 4095
	p("target_4095", en(os.Symlink(long, pa("long"))))
	got, err := os.Readlink(pa("long"))
	p("target_4095_readlink", fmt.Sprint(len(got), " ", got == long, " ", en(err)))
	p("target_4095_lstat_size", fmtStat(os.Lstat(pa("long"))))
	p("target_4096", en(os.Symlink(long+"c", pa("long2"))))

	// O_NOFOLLOW, O_EXCL, unlink and hard links of symbolic links.
	_, err = unix.Open(pa("rel"), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	p("nofollow", en(err))
	_, err = unix.Open(pa("dang"), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	p("nofollow_dangling", en(err))
	_, err = unix.Open(pa("ld"), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_DIRECTORY, 0)
	p("nofollow_directory", en(err))
	fd, err := unix.Open(pa("ld/sub/g"), unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	p("nofollow_only_last", en(err))
	unix.Close(fd)
	_, err = os.OpenFile(pa("rel"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	p("excl_on_symlink", en(err))
	p("link_to_symlink", en(os.Link(pa("rel"), pa("hard"))))
	p("link_to_symlink_lstat", lst(pa("hard")))
	p("link_to_symlink_readlink", fmt.Sprint(os.Readlink(pa("hard"))))
	p("linkat_follow", en(unix.Linkat(unix.AT_FDCWD, pa("rel"), unix.AT_FDCWD, pa("hardf"), unix.AT_SYMLINK_FOLLOW)))
	p("linkat_follow_lstat", lst(pa("hardf")))
	p("linkat_dangling_follow", en(unix.Linkat(unix.AT_FDCWD, pa("dang"), unix.AT_FDCWD, pa("hardd"), unix.AT_SYMLINK_FOLLOW)))
	p("remove_symlink", en(os.Remove(pa("rel"))))
	p("remove_symlink_target", st(pa("f")))
	p("remove_symlink_other_name", lst(pa("hard")))
}

// hardlinks: link(2), link counts, shared data.
func hardlinks() {
	section("link")
	write(pa("a"), "shared")
	p("link", en(os.Link(pa("a"), pa("b"))))
	p("nlink_a", st(pa("a")))
	p("nlink_b", st(pa("b")))
	p("samefile", os.SameFile(must1(os.Stat(pa("a"))), must1(os.Stat(pa("b")))))
	must(os.WriteFile(pa("a"), []byte("changed through a"), 0o644))
	p("data_shared", content(pa("b")))
	must(os.Mkdir(pa("sub"), 0o755))
	p("link_other_dir", en(os.Link(pa("a"), pa("sub/c"))))
	p("nlink_3", st(pa("sub/c")))
	must(os.Chmod(pa("a"), 0o600))
	p("mode_shared", st(pa("b")))
	p("unlink_one", en(os.Remove(pa("a"))))
	p("unlink_one_others", st(pa("b"))+" / "+content(pa("sub/c")))
	p("link_existing", en(os.Link(pa("b"), pa("sub/c"))))
	p("link_missing", en(os.Link(pa("missing"), pa("x"))))
	p("link_into_missing_dir", en(os.Link(pa("b"), pa("nodir/x"))))
	p("link_dir", en(os.Link(pa("sub"), pa("sublink"))))
	p("link_dir_is_permission", os.IsPermission(os.Link(pa("sub"), pa("sublink"))))
	p("link_new_trailing_slash", en(os.Link(pa("b"), pa("x/"))))
	p("link_old_trailing_slash", en(os.Link(pa("b/"), pa("x"))))
	p("link_onto_itself", en(os.Link(pa("b"), pa("b"))))
	p("link_dotdot", en(os.Link(pa("b"), pa("sub/.."))))
	// An open file whose names all go: fstat says nlink 0, data stays.
	f := must1(os.OpenFile(pa("b"), os.O_RDWR, 0))
	must(os.Remove(pa("b")))
	must(os.Remove(pa("sub/c")))
	fi, err := f.Stat()
	p("all_names_gone_fstat", fmtStat(fi, err))
	b := make([]byte, 64)
	n, _ := f.ReadAt(b, 0)
	p("all_names_gone_read", fmt.Sprintf("%q", b[:n]))
	f.Close()
	// Linking a file whose last name went, through linkat(AT_EMPTY_PATH)
	// (Linux: ENOENT for an unlinked file).
	write(pa("e"), "e")
	fd := must1(unix.Open(pa("e"), unix.O_RDONLY, 0))
	p("linkat_empty_path", en(unix.Linkat(fd, "", unix.AT_FDCWD, pa("e2"), unix.AT_EMPTY_PATH)))
	p("linkat_empty_path_nlink", st(pa("e")))
	must(os.Remove(pa("e")))
	os.Remove(pa("e2"))
	p("linkat_empty_path_unlinked", en(unix.Linkat(fd, "", unix.AT_FDCWD, pa("e3"), unix.AT_EMPTY_PATH)))
	unix.Close(fd)
	p("linkat_bad_flags", en(unix.Linkat(unix.AT_FDCWD, pa("x"), unix.AT_FDCWD, pa("y"), 0x1)))
	// Many links.
	write(pa("many"), "m")
	for i := 0; i < 100; i++ {
		must(os.Link(pa("many"), pa(fmt.Sprintf("sub/m%d", i))))
	}
	p("nlink_101", st(pa("many")))
	p("sub_nlink", statT(must1(os.Stat(pa("sub")))).Nlink)
}

// syncs: fsync, fdatasync, sync on files, directories and devices.
func syncs() {
	section("sync")
	write(pa("f"), "f")
	f := must1(os.OpenFile(pa("f"), os.O_RDWR, 0))
	p("fsync_file", en(f.Sync()))
	p("fdatasync_file", en(unix.Fdatasync(int(f.Fd()))))
	f.Close()
	f = must1(os.Open(pa("f")))
	p("fsync_rdonly", en(f.Sync()))
	f.Close()
	d := must1(os.Open(pa("")))
	p("fsync_dir", en(d.Sync()))
	p("fdatasync_dir", en(unix.Fdatasync(int(d.Fd()))))
	p("syncfs", en(unix.Syncfs(int(d.Fd()))))
	d.Close()
	unix.Sync()
	p("sync", "OK")
	p("fsync_badfd", en(unix.Fsync(9999)))
	nul := must1(os.OpenFile("/dev/null", os.O_WRONLY, 0))
	p("fsync_devnull", en(nul.Sync()))
	nul.Close()
	r, w := must2(os.Pipe())
	p("fsync_pipe", en(w.Sync()))
	r.Close()
	w.Close()
	fd, err := unix.Open(pa("f"), unix.O_PATH, 0)
	must(err)
	p("fsync_opath", en(unix.Fsync(fd)))
	unix.Close(fd)
	fd = must1(unix.Open(pa("f"), unix.O_RDONLY, 0))
	p("flock_ex", en(unix.Flock(fd, unix.LOCK_EX)))
	p("flock_un", en(unix.Flock(fd, unix.LOCK_UN)))
	// Record locks (fcntl), as SQLite takes them: a process never
	// conflicts with its own locks.
	lk := func(cmd int, fd int, typ int16, start, n int64) string {
		l := unix.Flock_t{Type: typ, Whence: 0, Start: start, Len: n}
		err := unix.FcntlFlock(uintptr(fd), cmd, &l)
		if err != nil {
			return en(err)
		}
		if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
			return fmt.Sprint("type ", l.Type)
		}
		return "OK"
	}
	p("setlk_read_rdonly", lk(unix.F_SETLK, fd, unix.F_RDLCK, 0, 100))
	p("setlk_write_rdonly", lk(unix.F_SETLK, fd, unix.F_WRLCK, 0, 100))
	unix.Close(fd)
	fd = must1(unix.Open(pa("f"), unix.O_RDWR, 0))
	p("setlk_write", lk(unix.F_SETLK, fd, unix.F_WRLCK, 0, 100))
	p("setlkw_write", lk(unix.F_SETLKW, fd, unix.F_WRLCK, 200, 0))
	p("getlk_own", lk(unix.F_GETLK, fd, unix.F_WRLCK, 0, 100))
	p("setlk_unlock", lk(unix.F_SETLK, fd, unix.F_UNLCK, 0, 0))
	p("setlk_badtype", lk(unix.F_SETLK, fd, 7, 0, 0))
	p("ofd_setlk", lk(unix.F_OFD_SETLK, fd, unix.F_WRLCK, 0, 10))
	p("ofd_getlk_same", lk(unix.F_OFD_GETLK, fd, unix.F_WRLCK, 0, 10))
	l := unix.Flock_t{Type: unix.F_RDLCK, Pid: 1}
	p("ofd_pid", en(unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &l)))
	unix.Close(fd)
	opath := must1(unix.Open(pa("f"), unix.O_PATH, 0))
	p("setlk_opath", lk(unix.F_SETLK, opath, unix.F_RDLCK, 0, 1))
	unix.Close(opath)
}

// mmaps: shared and private file mappings and how they agree with read(2)
// and write(2) (databases such as bbolt depend on it).
func mmaps() {
	section("mmap")
	const pg = 4096
	path := pa("db")
	must(os.WriteFile(path, bytes.Repeat([]byte("0123456789abcdef"), 3*pg/16), 0o644))
	fd := must1(unix.Open(path, unix.O_RDWR, 0))
	ro := must1(unix.Mmap(fd, 0, 4*pg, unix.PROT_READ, unix.MAP_SHARED))
	// pwrite is seen through a read-only shared mapping at once.
	must1(unix.Pwrite(fd, []byte("hello"), pg+10))
	p("shared_sees_pwrite", string(ro[pg+10:pg+15]))
	// A write through a writable shared mapping: another mapping and
	// pread see it before any msync.
	rw := must1(unix.Mmap(fd, 0, 3*pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED))
	copy(rw[2*pg+100:], "mapped")
	p("other_map_sees_write", string(ro[2*pg+100:2*pg+106]))
	buf := make([]byte, 6)
	must1(unix.Pread(fd, buf, 2*pg+100))
	p("pread_sees_map_write", string(buf))
	p("msync", en(unix.Msync(rw, unix.MS_SYNC)))
	p("msync_async", en(unix.Msync(rw[:pg], unix.MS_ASYNC)))
	p("msync_unaligned", en(unix.Msync(rw[1:], unix.MS_SYNC)))
	// A range with a hole: the mapped part is synced, then ENOMEM.
	if _, _, e := unix.Syscall(unix.SYS_MUNMAP, uintptr(unsafe.Pointer(&rw[2*pg])), pg, 0); e != 0 {
		fatal(e)
	}
	p("msync_hole", en(unix.Msync(rw, unix.MS_SYNC)))
	// A later write, unmapped without msync, is in the file too.
	copy(rw[10:], "late")
	p("munmap_rw", en(unix.Munmap(rw)))
	p("after_munmap", string(must1(os.ReadFile(path))[10:14]))
	// A private mapping is the program's own: the file keeps its bytes.
	pr := must1(unix.Mmap(fd, 0, pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE))
	p("private_sees_file", string(pr[10:14]))
	copy(pr, "PRIV")
	p("private_write_not_in_file", string(must1(os.ReadFile(path))[:4]))
	must(unix.Munmap(pr))
	// The mapping outlives the descriptor.
	must(unix.Close(fd))
	p("map_after_close", string(ro[pg+10:pg+15]))
	// Truncation: bytes past the new end read as zeros when the file
	// grows again.
	p("truncate_mapped", en(os.Truncate(path, pg+12)))
	p("truncate_grow", en(os.Truncate(path, 3*pg)))
	p("tail_zeroed", zeros(ro[pg+12:2*pg]) == pg-12 && string(ro[pg+10:pg+12]) == "he")
	p("page_after_zero", zeros(ro[2*pg:3*pg]) == pg)
	p("munmap_ro", en(unix.Munmap(ro)))
	// Access modes and arguments.
	rfd := must1(unix.Open(path, unix.O_RDONLY, 0))
	_, err := unix.Mmap(rfd, 0, pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	p("shared_write_rdonly_fd", en(err))
	m, err := unix.Mmap(rfd, 0, pg, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	p("private_write_rdonly_fd", en(err))
	if err == nil {
		unix.Munmap(m)
	}
	_, err = unix.Mmap(rfd, 100, pg, unix.PROT_READ, unix.MAP_SHARED)
	p("unaligned_offset", en(err))
	// An offset into the file.
	m, err = unix.Mmap(rfd, pg, pg, unix.PROT_READ, unix.MAP_SHARED)
	p("offset_map", en(err))
	if err == nil {
		p("offset_bytes", string(m[10:12]))
		unix.Munmap(m)
	}
	// A read-only shared mapping of a read-only descriptor cannot be
	// made writable.
	m, err = unix.Mmap(rfd, 0, pg, unix.PROT_READ, unix.MAP_SHARED)
	must(err)
	p("mprotect_write_rdonly", en(unix.Mprotect(m, unix.PROT_READ|unix.PROT_WRITE)))
	p("mprotect_none", en(unix.Mprotect(m, unix.PROT_NONE)))
	p("mprotect_read", en(unix.Mprotect(m, unix.PROT_READ)))
	p("after_mprotect", string(m[pg-4:pg]))
	unix.Munmap(m)
	unix.Close(rfd)
	// Truncating a mapped file by opening it with O_TRUNC: reads see
	// only what was written after.
	keep := must1(unix.Open(path, unix.O_RDONLY, 0))
	km := must1(unix.Mmap(keep, 0, pg, unix.PROT_READ, unix.MAP_SHARED))
	_ = km[0]
	must(os.WriteFile(path, []byte("new"), 0o644))
	must(os.Truncate(path, 10))
	p("otrunc_read", fmt.Sprintf("%q", must1(os.ReadFile(path))))
	unix.Munmap(km)
	unix.Close(keep)
	// A page wholly past the end of the file faults (Linux: SIGBUS); the
	// last partial page reads zeros past the end.
	small := must1(unix.Open(path, unix.O_RDONLY, 0))
	sm := must1(unix.Mmap(small, 0, 2*pg, unix.PROT_READ, unix.MAP_SHARED))
	p("partial_page_tail", zeros(sm[10:pg]) == pg-10)
	p("past_eof_faults", faults(func() { sinkByte = sm[pg] }))
	unix.Munmap(sm)
	unix.Close(small)
	wfd := must1(unix.Open(path, unix.O_WRONLY, 0))
	_, err = unix.Mmap(wfd, 0, pg, unix.PROT_READ, unix.MAP_SHARED)
	p("map_wronly_fd", en(err))
	unix.Close(wfd)
}

var sinkByte byte

// faults reports whether f takes a memory fault (turned into a panic).
func faults(f func()) (faulted bool) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		faulted = recover() != nil
	}()
	f()
	return false
}

func must2[T, U any](a T, b U, err error) (T, U) {
	must(err)
	return a, b
}

// unlinkedOpen: files and directories used after their name went.
func unlinkedOpen() {
	section("unlinked")
	write(pa("f"), "abc")
	f := must1(os.OpenFile(pa("f"), os.O_RDWR, 0))
	p("remove", en(os.Remove(pa("f"))))
	p("stat_after_remove", st(pa("f")))
	n, err := f.Write([]byte("def"))
	p("write", fmt.Sprint(n, " ", en(err)))
	b := make([]byte, 16)
	n, err = f.ReadAt(b, 0)
	p("readat", fmt.Sprintf("%d %s %q", n, en(err), b[:n]))
	fi, err := f.Stat()
	p("fstat", fmtStat(fi, err))
	p("truncate", en(f.Truncate(1)))
	fi, _ = f.Stat()
	p("fstat_after_truncate", fi.Size())
	p("fsync", en(f.Sync()))
	p("chmod", en(f.Chmod(0o600)))
	fi, _ = f.Stat()
	p("fstat_after_chmod", fmtInfo(fi))
	// The name is free again; the old file is separate.
	write(pa("f"), "new")
	n, _ = f.ReadAt(b, 0)
	p("old_after_recreate", fmt.Sprintf("%q", b[:n]))
	p("new_after_recreate", content(pa("f")))
	f.Close()
	p("close", "OK")

	// Renamed over while open.
	write(pa("g"), "old")
	write(pa("h"), "replacement")
	g := must1(os.Open(pa("g")))
	must(os.Rename(pa("h"), pa("g")))
	n, _ = g.ReadAt(b, 0)
	p("renamed_over_read", fmt.Sprintf("%q", b[:n]))
	fi, _ = g.Stat()
	p("renamed_over_fstat", fmtInfo(fi))
	g.Close()

	// A removed directory: fstat, no new entries.
	must(os.Mkdir(pa("d"), 0o755))
	d := must1(os.Open(pa("d")))
	must(syscall.Rmdir(pa("d")))
	fi, err = d.Stat()
	p("dir_fstat", fmtStat(fi, err))
	dfd := int(d.Fd())
	_, err = unix.Openat(dfd, "x", unix.O_CREAT|unix.O_RDWR, 0o644)
	p("dir_create_in_removed", en(err))
	p("dir_mkdir_in_removed", en(unix.Mkdirat(dfd, "x", 0o755)))
	p("dir_symlink_in_removed", en(unix.Symlinkat("t", dfd, "y")))
	var s unix.Stat_t
	p("dir_stat_dot_in_removed", en(unix.Fstatat(dfd, ".", &s, 0)))
	p("dir_stat_dotdot_in_removed", en(unix.Fstatat(dfd, "..", &s, 0)))
	d.Close()

	// The working directory removed.
	must(os.Mkdir(pa("cwd"), 0o755))
	must(os.Chdir(pa("cwd")))
	p("rmdir_cwd", en(syscall.Rmdir(pa("cwd"))))
	wd, err := os.Getwd()
	p("getwd_removed", fmt.Sprint(wd, " ", en(err)))
	buf := make([]byte, 4096)
	_, err = unix.Getcwd(buf)
	p("getcwd_removed", en(err))
	p("create_in_removed_cwd", en(os.WriteFile("x", nil, 0o644)))
	p("stat_dot_removed_cwd", en(second(os.Stat("."))))
	p("chdir_dotdot_from_removed", en(os.Chdir("..")))
	wd, err = os.Getwd()
	p("getwd_after_dotdot", fmt.Sprint(wd, " ", en(err)))
	must(os.Chdir(base))
}

// errorKinds: the error predicates of package os and io/fs.
func errorKinds() {
	section("errors")
	write(pa("f"), "f")
	must(os.Mkdir(pa("d"), 0o755))
	must(os.Mkdir(pa("d/x"), 0o755))
	type c struct {
		name string
		err  error
	}
	for _, c := range []c{
		{"open_missing", second(os.Open(pa("missing")))},
		{"stat_missing", second(os.Stat(pa("missing")))},
		{"stat_through_file", second(os.Stat(pa("f/x")))},
		{"mkdir_existing", os.Mkdir(pa("d"), 0o755)},
		{"excl_existing", second(os.OpenFile(pa("f"), os.O_CREATE|os.O_EXCL, 0o644))},
		{"rmdir_nonempty", syscall.Rmdir(pa("d"))},
		{"remove_nonempty", os.Remove(pa("d"))},
		{"link_existing", os.Link(pa("f"), pa("f"))},
		{"link_dir", os.Link(pa("d"), pa("d2"))},
		{"access_x", unix.Access(pa("f"), unix.X_OK)},
		{"rename_missing", os.Rename(pa("missing"), pa("y"))},
		{"readlink_file", second(os.Readlink(pa("f")))},
	} {
		p(c.name, fmt.Sprintf("%s notexist=%v exist=%v perm=%v is_notexist=%v is_exist=%v is_perm=%v",
			en(c.err), os.IsNotExist(c.err), os.IsExist(c.err), os.IsPermission(c.err),
			errors.Is(c.err, fs.ErrNotExist), errors.Is(c.err, fs.ErrExist), errors.Is(c.err, fs.ErrPermission)))
	}
	var pe *fs.PathError
	err := second(os.Open(pa("missing")))
	p("patherror", errors.As(err, &pe) && pe.Op == "open" && pe.Path == pa("missing"))
	var le *os.LinkError
	err = os.Rename(pa("missing"), pa("y"))
	p("linkerror", errors.As(err, &le) && le.Old == pa("missing") && le.New == pa("y"))
	p("errno_value", errors.Is(second(os.Open(pa("missing"))), syscall.ENOENT))
}

// walks: filepath.Walk, filepath.WalkDir, fs.WalkDir: lexical order, what
// they report for links, SkipDir.
func walks() {
	section("walk")
	for _, d := range []string{"t/b/c", "t/a", "t/B", "t/b/a"} {
		must(os.MkdirAll(pa(d), 0o755))
	}
	for _, f := range []string{"t/z", "t/b/c/f", "t/a/1", "t/a/10", "t/a/2", "t/b/a/x", "t/.hidden"} {
		write(pa(f), f)
	}
	must(os.Symlink("b", pa("t/lb")))
	must(os.Symlink("missing", pa("t/dang")))
	var w []string
	err := filepath.Walk(pa("t"), func(path string, info fs.FileInfo, err error) error {
		if err != nil {
			w = append(w, "ERR "+en(err))
			return nil
		}
		w = append(w, strings.TrimPrefix(path, pa("t"))+":"+info.Mode().String())
		return nil
	})
	p("walk", fmt.Sprint(en(err), " ", w))
	w = nil
	err = filepath.WalkDir(pa("t"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			w = append(w, "ERR "+en(err))
			return nil
		}
		w = append(w, strings.TrimPrefix(path, pa("t"))+":"+d.Type().String())
		if d.Name() == "b" && d.IsDir() {
			return filepath.SkipDir
		}
		return nil
	})
	p("walkdir_skipdir", fmt.Sprint(en(err), " ", w))
	w = nil
	err = fs.WalkDir(os.DirFS(pa("t")), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == "a" {
			return fs.SkipAll
		}
		w = append(w, path)
		return nil
	})
	p("fs_walkdir_skipall", fmt.Sprint(en(err), " ", w))
	w = nil
	err = filepath.Walk(pa("t/lb"), func(path string, info fs.FileInfo, err error) error {
		w = append(w, strings.TrimPrefix(path, pa("t"))+":"+info.Mode().String())
		return err
	})
	p("walk_root_symlink", fmt.Sprint(en(err), " ", w))
	w = nil
	err = filepath.WalkDir(pa("t/missing"), func(path string, d fs.DirEntry, err error) error {
		w = append(w, strings.TrimPrefix(path, pa("t"))+" "+en(err))
		return err
	})
	p("walkdir_missing_root", fmt.Sprint(en(err), " ", w))
	// A directory removed during the walk.
	w = nil
	err = filepath.WalkDir(pa("t"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			w = append(w, "ERR "+en(err))
			return nil
		}
		if strings.HasSuffix(path, "/a") && d.IsDir() {
			must(os.RemoveAll(pa("t/b")))
		}
		w = append(w, strings.TrimPrefix(path, pa("t")))
		return nil
	})
	p("walkdir_removed_during", fmt.Sprint(en(err), " ", w))
	m, err := filepath.Glob(pa("t/*"))
	for i := range m {
		m[i] = strings.TrimPrefix(m[i], pa("t"))
	}
	p("glob", fmt.Sprint(en(err), " ", m))
}

// cwd: chdir, getcwd, relative paths.
func cwd() {
	section("cwd")
	p("chdir_base", en(os.Chdir(base)))
	wd, err := os.Getwd()
	p("getwd", fmt.Sprint(wd, " ", en(err)))
	must(os.Chdir(pa("")))
	p("create_relative", en(os.WriteFile("rel.txt", []byte("rel"), 0o644)))
	p("create_relative_abs_stat", st(pa("rel.txt")))
	p("mkdir_relative", en(os.Mkdir("sub", 0o755)))
	p("chdir_relative", en(os.Chdir("sub")))
	wd, err = os.Getwd()
	p("getwd_sub", fmt.Sprint(wd, " ", en(err)))
	p("open_dotdot_relative", content("../rel.txt"))
	p("open_dot_relative", en(second(os.Stat("./"))))
	p("chdir_dotdot", en(os.Chdir("..")))
	wd, _ = os.Getwd()
	p("getwd_after_dotdot", wd)
	p("chdir_file", en(os.Chdir("rel.txt")))
	p("chdir_missing", en(os.Chdir("missing")))
	p("chdir_empty", en(os.Chdir("")))
	d := must1(os.Open("sub"))
	p("fchdir", en(d.Chdir()))
	d.Close()
	wd, _ = os.Getwd()
	p("getwd_after_fchdir", wd)
	f := must1(os.Open(pa("rel.txt")))
	p("fchdir_file", en(f.Chdir()))
	f.Close()
	// The working directory renamed: getcwd follows.
	must(os.Chdir(pa("")))
	must(os.Mkdir("old", 0o755))
	must(os.Chdir("old"))
	must(os.Rename(pa("old"), pa("renamed")))
	wd, err = os.Getwd()
	p("getwd_after_rename", fmt.Sprint(wd, " ", en(err)))
	p("relative_after_rename", en(os.WriteFile("inside", []byte("i"), 0o644)))
	p("relative_after_rename_abs", content(pa("renamed/inside")))
	must(os.Chdir("/"))
	wd, _ = os.Getwd()
	p("getwd_root", wd)
	p("chdir_root_dotdot", en(os.Chdir("..")))
	wd, _ = os.Getwd()
	p("getwd_root_dotdot", wd)
	buf := make([]byte, 1)
	_, err = unix.Getcwd(buf)
	p("getcwd_small_buffer", en(err))
	must(os.Chdir(pa("")))
	buf = make([]byte, len(pa("")))
	_, err = unix.Getcwd(buf)
	p("getcwd_exact_minus_nul", en(err))
	buf = make([]byte, len(pa(""))+1)
	n, err := unix.Getcwd(buf)
	p("getcwd_exact", fmt.Sprint(n-len(pa("")), " ", en(err)))
	// *at calls relative to AT_FDCWD and to a directory descriptor.
	dfd := must1(unix.Open("sub", unix.O_RDONLY|unix.O_DIRECTORY, 0))
	fd, err := unix.Openat(dfd, "../rel.txt", unix.O_RDONLY, 0)
	p("openat_dirfd_dotdot", en(err))
	unix.Close(fd)
	fd, err = unix.Openat(dfd, pa("rel.txt"), unix.O_RDONLY, 0)
	p("openat_dirfd_absolute", en(err))
	unix.Close(fd)
	p("mkdirat_dirfd", en(unix.Mkdirat(dfd, "inner", 0o700)))
	p("mkdirat_dirfd_stat", st(pa("sub/inner")))
	p("unlinkat_dirfd", en(unix.Unlinkat(dfd, "inner", unix.AT_REMOVEDIR)))
	unix.Close(dfd)
	must(os.Chdir(base))
}

// longNames: NAME_MAX and PATH_MAX.
func longNames() {
	section("names")
	must(os.Chdir(pa("")))
	n255, n256 := strings.Repeat("n", 255), strings.Repeat("n", 256)
	p("create_255", en(os.WriteFile(n255, []byte("x"), 0o644)))
	p("stat_255", st(n255))
	p("readdir_255", fmt.Sprint(len(mustNames(pa(""))[0])))
	p("create_256", en(os.WriteFile(n256, []byte("x"), 0o644)))
	p("stat_256", st(n256))
	p("mkdir_256", en(os.Mkdir(n256, 0o755)))
	p("mkdir_255", en(os.Mkdir("d"+n255[1:], 0o755)))
	p("symlink_256", en(os.Symlink("x", n256)))
	p("rename_to_256", en(os.Rename(n255, n256)))
	p("link_to_256", en(os.Link(n255, n256)))
	p("path_256_component_in_middle", st(n256+"/x"))
	p("path_256_component_missing_parent", st("missing/"+n256))
	// Paths near PATH_MAX (4096 with the NUL), relative to the working
	// directory so that the base's length does not matter.
	write("f", "f")
	p4095 := strings.Repeat("./", 2047) + "f" // 4095 bytes
	p("path_4095", fmt.Sprint(len(p4095), " ", en(second(os.Stat(p4095)))))
	p4096 := strings.Repeat("./", 2047) + "ff" // 4096 bytes
	p("path_4096", fmt.Sprint(len(p4096), " ", en(second(os.Stat(p4096)))))
	p("path_8000", en(second(os.Stat(strings.Repeat("./", 4000)+"f"))))
	p("open_4096", en(second(os.Open(p4096))))
	p("mkdir_4096", en(os.Mkdir(p4096, 0o755)))
	// A deep tree whose absolute path is longer than PATH_MAX: relative
	// operations still work.
	deep := 0
	for ; deep < 40; deep++ {
		name := strings.Repeat("d", 200)
		if err := os.Mkdir(name, 0o755); err != nil {
			p("deep_mkdir", en(err))
			break
		}
		must(os.Chdir(name))
	}
	p("deep_levels", deep)
	p("deep_create", en(os.WriteFile("leaf", []byte("leaf"), 0o644)))
	p("deep_read", content("leaf"))
	wd, err := os.Getwd()
	p("deep_getwd", fmt.Sprint(len(wd) > 4096, " ", en(err)))
	buf := make([]byte, 8192)
	_, err = unix.Getcwd(buf)
	p("deep_getcwd_syscall", en(err))
	must(os.Chdir(base))
	p("deep_removeall", en(os.RemoveAll(pa(""))))
	must(os.Mkdir(pa(""), 0o755))
}

// dots: "." and ".." in various places.
func dots() {
	section("dots")
	must(os.MkdirAll(pa("a/b"), 0o755))
	write(pa("a/f"), "af")
	write(pa("top"), "top")
	p("dotdot_one", content(pa("a/b/../f")))
	p("dotdot_two", content(pa("a/b/../../top")))
	p("dot_many", content(pa("./a/./b/./../f")))
	p("dotdot_past_base", content(base+"/../"+filepath.Base(base)+"/dots/top"))
	p("root_dotdot_many", os.SameFile(must1(os.Stat("/../../..")), must1(os.Stat("/"))))
	p("root_dotdot_path", st("/../../"+strings.TrimPrefix(pa("top"), "/")))
	p("dotdot_after_file", st(pa("top/..")))
	p("dot_after_file", st(pa("top/.")))
	p("dotdot_after_missing", st(pa("missing/..")))
	p("dotdot_after_missing_create", en(os.WriteFile(pa("missing/../x"), nil, 0o644)))
	p("create_dot", en(os.WriteFile(pa("a/."), nil, 0o644)))
	p("create_dotdot", en(os.WriteFile(pa("a/.."), nil, 0o644)))
	p("open_dot_rdwr", en(second(os.OpenFile(pa("a/."), os.O_RDWR, 0))))
	p("mkdir_via_dotdot", en(os.Mkdir(pa("a/b/../c"), 0o755)))
	p("mkdir_via_dotdot_stat", st(pa("a/c")))
	p("rmdir_via_dotdot", en(syscall.Rmdir(pa("a/b/../c"))))
	p("rmdir_dot", en(syscall.Rmdir(pa("a/b/."))))
	p("rmdir_dotdot", en(syscall.Rmdir(pa("a/b/.."))))
	p("rmdir_dotdot_of_empty", en(syscall.Rmdir(pa("a/b/c/.."))))
	p("unlink_dotdot", en(syscall.Unlink(pa("a/.."))))
	p("rename_dot", en(syscall.Rename(pa("a/b/."), pa("z"))))
	p("rename_to_dotdot", en(syscall.Rename(pa("top"), pa("a/.."))))
	p("link_to_dot", en(os.Link(pa("top"), pa("a/."))))
	p("symlink_at_dotdot", en(os.Symlink("x", pa("a/.."))))
	p("chmod_dot", en(os.Chmod(pa("a/."), 0o700))+" "+st(pa("a")))
	p("stat_dots_only", st(pa("./././.")))
	must(os.Chdir(pa("a/b")))
	p("relative_dotdot", content("../f"))
	p("relative_dot_dotdot", content("./../../top"))
	p("relative_dotdot_many", content("../../../dots/top"))
	must(os.Chdir(base))
	p("names_dot_files", en(os.WriteFile(pa("..."), []byte("3"), 0o644))+" "+content(pa("...")))
	p("names_dot_prefix", en(os.WriteFile(pa("..x"), []byte("x"), 0o644))+" "+content(pa("..x")))
	p("names_listing", names(pa("")))
}

// temps: os.CreateTemp and os.MkdirTemp patterns.
func temps() {
	section("temp")
	f, err := os.CreateTemp(pa(""), "pre*suf")
	p("createtemp", en(err))
	p("createtemp_name", regexp.MustCompile(`^pre[0-9]+suf$`).MatchString(filepath.Base(f.Name())))
	p("createtemp_dir", filepath.Dir(f.Name()) == filepath.Clean(pa("")))
	fi, _ := f.Stat()
	p("createtemp_mode", fmtInfo(fi))
	f.Close()
	f, err = os.CreateTemp(pa(""), "plain")
	p("createtemp_no_star", fmt.Sprint(en(err), " ", regexp.MustCompile(`^plain[0-9]+$`).MatchString(filepath.Base(f.Name()))))
	f.Close()
	f, err = os.CreateTemp(pa(""), "a*b*c")
	p("createtemp_two_stars", fmt.Sprint(en(err), " ", regexp.MustCompile(`^a\*b[0-9]+c$`).MatchString(filepath.Base(f.Name()))))
	f.Close()
	_, err = os.CreateTemp(pa(""), "a/b*")
	p("createtemp_separator", en(err))
	_, err = os.CreateTemp(pa("missing"), "x*")
	p("createtemp_missing_dir", en(err))
	d, err := os.MkdirTemp(pa(""), "dir-*.d")
	p("mkdirtemp", fmt.Sprint(en(err), " ", regexp.MustCompile(`^dir-[0-9]+\.d$`).MatchString(filepath.Base(d))))
	p("mkdirtemp_mode", st(d))
	_, err = os.MkdirTemp(pa("missing"), "x*")
	p("mkdirtemp_missing_dir", en(err))
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		f, err := os.CreateTemp(pa(""), "many-*")
		if err != nil {
			p("many_error", en(err))
			break
		}
		seen[f.Name()] = true
		f.Close()
	}
	p("createtemp_unique", len(seen))
	t := os.TempDir()
	p("tempdir_absolute", filepath.IsAbs(t))
}

// largeFile: 64 MiB written in pieces, read back whole.
func largeFile() {
	section("large")
	const size = 64 << 20
	rng := rand.NewChaCha8([32]byte{'f', 's', 'a', 'b', 'i'})
	f := must1(os.Create(pa("big")))
	h := sha256.New()
	chunk := make([]byte, 1<<20+13) // not page-aligned
	written := 0
	for written < size {
		n := min(len(chunk), size-written)
		rng.Read(chunk[:n])
		h.Write(chunk[:n])
		if _, err := f.Write(chunk[:n]); err != nil {
			p("write", en(err))
			break
		}
		written += n
	}
	want := h.Sum(nil)
	p("write", written)
	p("fsync", en(f.Sync()))
	fi, _ := f.Stat()
	p("stat", fmtInfo(fi))
	f.Close()
	p("sha256", fmt.Sprintf("%x", want))
	f = must1(os.Open(pa("big")))
	h.Reset()
	n, err := io.CopyBuffer(h, f, make([]byte, 3<<20))
	p("readback", fmt.Sprint(n, " ", en(err), " ", bytes.Equal(h.Sum(nil), want)))
	// Random-access reads agree with a sequential read.
	b1, b2 := make([]byte, 5000), make([]byte, 5000)
	ok := true
	for _, off := range []int64{0, 4095, 1 << 20, 33<<20 + 17, size - 5000} {
		f.ReadAt(b1, off)
		f.Seek(off, io.SeekStart)
		io.ReadFull(f, b2)
		ok = ok && bytes.Equal(b1, b2)
	}
	p("readat_vs_read", ok)
	n2, err := f.ReadAt(b1, size-100)
	p("readat_tail", fmt.Sprint(n2, " ", en(err)))
	f.Close()
	b := must1(os.ReadFile(pa("big")))
	p("readfile", fmt.Sprint(len(b), " ", sha256.Sum256(b) == [32]byte(want)))
	b = nil
	p("truncate_half", en(os.Truncate(pa("big"), size/2)))
	p("truncate_half_stat", st(pa("big")))
	p("remove", en(os.Remove(pa("big"))))
}

// dirFS: os.DirFS with testing/fstest.TestFS, os.CopyFS.
func dirFS() {
	section("dirfs")
	files := map[string]string{
		"a.txt":         "alpha",
		"b/c.txt":       "charlie",
		"b/d/e.txt":     "echo",
		"b/d/f":         "",
		"empty/.keep":   "",
		"z/y/x/w/v.txt": strings.Repeat("v", 10000),
	}
	var list []string
	for name, data := range files {
		must(os.MkdirAll(filepath.Dir(pa("tree/"+name)), 0o755))
		write(pa("tree/"+name), data)
		list = append(list, name)
	}
	sort.Strings(list)
	must(os.Symlink("a.txt", pa("tree/link")))
	must(os.Symlink("b", pa("tree/linkdir")))
	fsys := os.DirFS(pa("tree"))
	err := fstest.TestFS(fsys, list...)
	p("testfs", ok(err))
	err = fstest.TestFS(fsys, "missing.txt")
	p("testfs_missing_expected", err != nil)
	b, err := fs.ReadFile(fsys, "b/d/e.txt")
	p("readfile", fmt.Sprintf("%q %s", b, en(err)))
	_, err = fs.ReadFile(fsys, "../x")
	p("readfile_invalid_path", en(err))
	_, err = fs.ReadFile(fsys, "/a.txt")
	p("readfile_absolute_path", en(err))
	b, err = fs.ReadFile(fsys, "link")
	p("readfile_symlink", fmt.Sprintf("%q %s", b, en(err)))
	ents, err := fs.ReadDir(fsys, "b")
	p("readdir", fmt.Sprint(fmtEnts(ents), " ", en(err)))
	fi, err := fs.Stat(fsys, "linkdir")
	p("stat_symlink_dir", fmt.Sprint(fmtStat(fi, err)))
	m, err := fs.Glob(fsys, "b/*/*.txt")
	p("glob", fmt.Sprint(m, " ", en(err)))
	sub, err := fs.Sub(fsys, "b")
	p("sub", en(err))
	p("sub_testfs", ok(fstest.TestFS(sub, "c.txt", "d/e.txt", "d/f")))
	// os.CopyFS of the tree (symbolic links are not copied: CopyFS refuses
	// them), then TestFS on the copy.
	must(os.Remove(pa("tree/link")))
	must(os.Remove(pa("tree/linkdir")))
	p("copyfs", en(os.CopyFS(pa("copy"), os.DirFS(pa("tree")))))
	p("copyfs_testfs", ok(fstest.TestFS(os.DirFS(pa("copy")), list...)))
	same := true
	for name, data := range files {
		b, err := os.ReadFile(pa("copy/" + name))
		same = same && err == nil && string(b) == data
	}
	p("copyfs_contents", same)
	p("copyfs_mode", st(pa("copy/a.txt")))
	p("copyfs_existing", en(os.CopyFS(pa("copy"), os.DirFS(pa("tree")))))
}

func ok(err error) string {
	if err == nil {
		return "ok"
	}
	return scrub(err.Error())
}

// roots: os.Root confines operations to a directory.
func roots() {
	section("root")
	must(os.MkdirAll(pa("r/sub"), 0o755))
	write(pa("r/a"), "a")
	write(pa("outside"), "outside")
	must(os.Symlink("../outside", pa("r/escape")))
	must(os.Symlink(pa("outside"), pa("r/escape_abs")))
	must(os.Symlink("sub", pa("r/lsub")))
	must(os.Symlink("../a", pa("r/sub/up")))
	r, err := os.OpenRoot(pa("r"))
	p("openroot", en(err))
	if err != nil {
		return
	}
	defer r.Close()
	p("openroot_file", en(second(os.OpenRoot(pa("r/a")))))
	p("openroot_missing", en(second(os.OpenRoot(pa("missing")))))
	try := func(name string, f *os.File, err error) {
		if err == nil {
			f.Close()
		}
		p(name, en(err))
	}
	f, err := r.Open("a")
	try("open", f, err)
	f, err = r.Open("../outside")
	try("open_dotdot_escape", f, err)
	f, err = r.Open("sub/../a")
	try("open_dotdot_inside", f, err)
	f, err = r.Open(pa("r/a"))
	try("open_absolute", f, err)
	f, err = r.Open("escape")
	try("open_symlink_escape", f, err)
	f, err = r.Open("escape_abs")
	try("open_symlink_escape_abs", f, err)
	f, err = r.Open("sub/up")
	try("open_symlink_inside", f, err)
	f, err = r.Open("lsub/up")
	try("open_symlink_dir_inside", f, err)
	f, err = r.Open("missing")
	try("open_missing", f, err)
	f, err = r.Create("new")
	try("create", f, err)
	p("create_stat", st(pa("r/new")))
	f, err = r.Create("../new")
	try("create_escape", f, err)
	f, err = r.OpenFile("escape", os.O_CREATE|os.O_WRONLY, 0o644)
	try("create_through_escape_symlink", f, err)
	p("mkdir", en(r.Mkdir("d", 0o700)))
	p("mkdir_stat", st(pa("r/d")))
	p("mkdir_escape", en(r.Mkdir("../d", 0o700)))
	fi, err := r.Stat("lsub")
	p("stat_symlink", fmtStat(fi, err))
	fi, err = r.Lstat("lsub")
	p("lstat_symlink", fmtStat(fi, err))
	_, err = r.Stat("escape")
	p("stat_escape", en(err))
	p("remove", en(r.Remove("new")))
	p("remove_escape", en(r.Remove("../outside")))
	p("outside_kept", content(pa("outside")))
	p("mkdirall", en(r.MkdirAll("x/y/z", 0o755)))
	p("writefile", en(r.WriteFile("x/y/z/w", []byte("w"), 0o644)))
	b, err := r.ReadFile("x/y/z/w")
	p("readfile", fmt.Sprintf("%q %s", b, en(err)))
	p("rename", en(r.Rename("x/y/z/w", "x/w")))
	p("rename_escape", en(r.Rename("x/w", "../w")))
	p("symlink", en(r.Symlink("w", "x/lw")))
	s, err := r.Readlink("x/lw")
	p("readlink", s+" "+en(err))
	p("link", en(r.Link("x/w", "x/w2")))
	p("chmod", en(r.Chmod("x/w", 0o600))+" "+st(pa("r/x/w")))
	err = r.Chtimes("x/w", past, past)
	_, m, _ := times(pa("r/x/w"), false)
	p("chtimes", en(err)+" "+rel(m))
	p("removeall", en(r.RemoveAll("x")))
	sr, err := r.OpenRoot("sub")
	p("openroot_sub", en(err))
	if err == nil {
		_, err = sr.Open("up")
		p("sub_open_up_escape", en(err))
		sr.Close()
	}
	must(os.MkdirAll(pa("clean/d"), 0o755))
	write(pa("clean/d/f"), "f")
	must(os.Symlink("d/f", pa("clean/l")))
	cr := must1(os.OpenRoot(pa("clean")))
	p("fs_testfs", ok(fstest.TestFS(cr.FS(), "d/f", "l")))
	cr.Close()
	f, err = os.OpenInRoot(pa("r"), "../outside")
	try("openinroot_escape", f, err)
	// The root follows its directory when that is renamed.
	must(os.Rename(pa("r"), pa("r2")))
	f, err = r.Open("a")
	try("open_after_rename", f, err)
}

// misc: umask, dup and offsets, devices and special files.
func misc() {
	section("misc")
	p("umask", fmt.Sprintf("%#o", syscall.Umask(0o022)))
	b := make([]byte, 8)
	z := must1(os.Open("/dev/zero"))
	n, err := z.Read(b)
	p("devzero", fmt.Sprint(n, " ", en(err), " ", b))
	z.Close()
	nul := must1(os.OpenFile("/dev/null", os.O_RDWR, 0))
	n, err = nul.Write([]byte("gone"))
	p("devnull_write", fmt.Sprint(n, " ", en(err)))
	n, err = nul.Read(b)
	p("devnull_read", fmt.Sprint(n, " ", en(err)))
	nul.Close()
	p("devnull_mode", st("/dev/null"))
	p("mknod_fifo", en(unix.Mkfifo(pa("fifo"), 0o644)))
	p("mknod_fifo_stat", st(pa("fifo")))
	// O_CLOEXEC and F_GETFL report the flags of the open.
	write(pa("f"), "f")
	fd := must1(unix.Open(pa("f"), unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0))
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	p("getfl", fmt.Sprintf("%#x %s", fl&(unix.O_ACCMODE|unix.O_APPEND|unix.O_NONBLOCK), en(err)))
	fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	p("getfd_cloexec", fdfl&unix.FD_CLOEXEC)
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0)
	p("setfl_clear_append", en(err))
	unix.Write(fd, []byte("X"))
	unix.Close(fd)
	p("setfl_clear_append_content", content(pa("f")))
	// statfs: the fields that do not depend on the file system.
	var sf unix.Statfs_t
	err = unix.Statfs(pa(""), &sf)
	p("statfs", fmt.Sprint(en(err), " bsize>0=", sf.Bsize > 0, " namelen=", sf.Namelen, " bfree<=blocks=", sf.Bfree <= sf.Blocks))
	p("statfs_missing", en(unix.Statfs(pa("missing"), &sf)))
	p("statfs_file", en(unix.Statfs(pa("f"), &sf)))
	fd = must1(unix.Open(pa("f"), unix.O_RDONLY, 0))
	p("fstatfs", en(unix.Fstatfs(fd, &sf)))
	unix.Close(fd)
	// Opening many files at once.
	var fds []int
	for i := 0; i < 200; i++ {
		fd, err := unix.Open(pa("f"), unix.O_RDONLY, 0)
		if err != nil {
			p("many_open", en(err))
			break
		}
		fds = append(fds, fd)
	}
	p("many_open_count", len(fds))
	for _, fd := range fds {
		unix.Close(fd)
	}
	// Reading through two descriptions of one file sees each write.
	w := must1(os.OpenFile(pa("shared"), os.O_CREATE|os.O_WRONLY, 0o644))
	r := must1(os.Open(pa("shared")))
	w.Write([]byte("first"))
	n, _ = r.Read(b)
	p("shared_read_1", fmt.Sprintf("%q", b[:n]))
	w.Write([]byte("second"))
	n, _ = r.Read(b)
	p("shared_read_2", fmt.Sprintf("%q", b[:n]))
	w.Close()
	r.Close()
}

// The matrix: every operation on every kind of path, each in a fresh
// directory (fixture), with the result and the directory's state after.

var matrixTargets = []string{
	".", "..", "f", "f/", "f/.", "f/x", "d", "d/", "d/.", "d/..", "e", "e/x",
	"lf", "lf/", "ld", "ld/", "ld/../f", "labs", "dang", "dang/", "loop",
	"loop/x", "missing", "missing/", "missing/x",
}

// fixture fills a cell directory: f a file, d an empty directory, e a
// directory with e/x, and symbolic links.
func fixture(dir string) {
	must(os.Mkdir(dir, 0o755))
	must(os.WriteFile(dir+"/f", []byte("data"), 0o644))
	must(os.Mkdir(dir+"/d", 0o755))
	must(os.Mkdir(dir+"/e", 0o755))
	must(os.WriteFile(dir+"/e/x", []byte("xx"), 0o644))
	must(os.Symlink("f", dir+"/lf"))
	must(os.Symlink("d", dir+"/ld"))
	must(os.Symlink("nothing", dir+"/dang"))
	must(os.Symlink("loop", dir+"/loop"))
	must(os.Symlink(dir+"/f", dir+"/labs"))
}

// entries describes a cell: its link count and each entry with its mode,
// contents or link target (the cell's path as @), and link count and owner
// when not the default.
func entries(dir string) map[string]string {
	m := map[string]string{}
	fi, err := os.Lstat(dir)
	if err != nil {
		m["."] = en(err)
		return m
	}
	m["."] = fmt.Sprintf("n%d", statT(fi).Nlink)
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			m["ERR"] = en(err)
			return nil
		}
		if path == dir {
			return nil
		}
		name := path[len(dir)+1:]
		fi, err := os.Lstat(path)
		if err != nil {
			m[name] = en(err)
			return nil
		}
		s := fi.Mode().String()
		st := statT(fi)
		switch {
		case fi.Mode().IsRegular():
			s += ":" + content(path)
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(path)
			s += "->" + strings.ReplaceAll(t, dir, "@")
		}
		if fi.Mode().IsRegular() && st.Nlink != 1 || fi.IsDir() && st.Nlink != 2 {
			s += fmt.Sprintf(":n%d", st.Nlink)
		}
		if st.Uid != 0 || st.Gid != 0 {
			s += fmt.Sprintf(":o%d.%d", st.Uid, st.Gid)
		}
		m[name] = s
		return nil
	})
	return m
}

// fixtureEntries is entries of a fresh fixture.
var fixtureEntries map[string]string

// changes describes how a cell differs from a fresh fixture: "=" for no
// change, else each entry gone (-name), new or changed (name=what).
func changes(dir string) string {
	now := entries(dir)
	var keys []string
	for k := range now {
		keys = append(keys, k)
	}
	for k := range fixtureEntries {
		if _, ok := now[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var s []string
	for _, k := range keys {
		was, ok1 := fixtureEntries[k]
		is, ok2 := now[k]
		switch {
		case !ok2:
			s = append(s, "-"+k)
		case !ok1 || was != is:
			s = append(s, k+"="+is)
		}
	}
	if len(s) == 0 {
		return "="
	}
	return strings.Join(s, " ")
}

type matrixOp struct {
	name string
	run  func(dir, t string) string // t: dir + "/" + target
	skip func(target string) bool
}

func openOp(name string, flags int) matrixOp {
	return matrixOp{name: "open_" + name, run: func(dir, t string) string {
		fd, err := unix.Open(t, flags|unix.O_CLOEXEC, 0o640)
		if err != nil {
			return en(err)
		}
		defer unix.Close(fd)
		s := "OK " + fstatFd(fd)
		if flags&unix.O_ACCMODE != unix.O_RDONLY && flags&unix.O_PATH == 0 {
			n, err := unix.Write(fd, []byte("Z"))
			s += fmt.Sprint(" w=", n, " ", en(err))
		}
		return s
	}}
}

func errOnly(f func(dir, t string) error) func(dir, t string) string {
	return func(dir, t string) string { return en(f(dir, t)) }
}

var matrixOps = []matrixOp{
	openOp("rdonly", unix.O_RDONLY),
	openOp("wronly", unix.O_WRONLY),
	openOp("rdwr", unix.O_RDWR),
	openOp("creat", unix.O_CREAT|unix.O_WRONLY),
	openOp("creat_excl", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY),
	openOp("creat_rdonly", unix.O_CREAT|unix.O_RDONLY),
	openOp("trunc", unix.O_TRUNC|unix.O_WRONLY),
	openOp("trunc_rdonly", unix.O_TRUNC|unix.O_RDONLY),
	openOp("append", unix.O_APPEND|unix.O_RDWR),
	openOp("nofollow", unix.O_NOFOLLOW|unix.O_RDONLY),
	openOp("creat_nofollow", unix.O_CREAT|unix.O_NOFOLLOW|unix.O_WRONLY),
	openOp("directory", unix.O_DIRECTORY|unix.O_RDONLY),
	openOp("directory_creat", unix.O_DIRECTORY|unix.O_CREAT|unix.O_RDONLY),
	openOp("path", unix.O_PATH),
	openOp("path_nofollow", unix.O_PATH|unix.O_NOFOLLOW),
	{name: "stat", run: func(dir, t string) string { return st(t) }},
	{name: "lstat", run: func(dir, t string) string { return lst(t) }},
	{name: "access_f", run: errOnly(func(dir, t string) error { return unix.Access(t, unix.F_OK) })},
	{name: "access_w", run: errOnly(func(dir, t string) error { return unix.Access(t, unix.W_OK) })},
	{name: "access_x", run: errOnly(func(dir, t string) error { return unix.Access(t, unix.X_OK) })},
	{name: "mkdir", run: errOnly(func(dir, t string) error { return unix.Mkdir(t, 0o750) })},
	{name: "rmdir", run: errOnly(func(dir, t string) error { return unix.Rmdir(t) })},
	{name: "unlink", run: errOnly(func(dir, t string) error { return unix.Unlink(t) })},
	{name: "remove", run: errOnly(func(dir, t string) error { return os.Remove(t) })},
	{name: "removeall", run: errOnly(func(dir, t string) error { return os.RemoveAll(t) }),
		skip: func(target string) bool { return strings.Contains(target, "..") }},
	{name: "rename_to_new", run: errOnly(func(dir, t string) error { return unix.Rename(t, dir+"/new") })},
	{name: "rename_f_to", run: errOnly(func(dir, t string) error { return unix.Rename(dir+"/f", t) })},
	{name: "rename_d_to", run: errOnly(func(dir, t string) error { return unix.Rename(dir+"/d", t) })},
	{name: "rename_e_to", run: errOnly(func(dir, t string) error { return unix.Rename(dir+"/e", t) })},
	{name: "rename_onto_f", run: errOnly(func(dir, t string) error { return unix.Rename(t, dir+"/f") })},
	{name: "rename_onto_d", run: errOnly(func(dir, t string) error { return unix.Rename(t, dir+"/d") })},
	{name: "rename_noreplace_to_lf", run: errOnly(func(dir, t string) error {
		return unix.Renameat2(unix.AT_FDCWD, t, unix.AT_FDCWD, dir+"/lf", unix.RENAME_NOREPLACE)
	})},
	{name: "link_to_new", run: errOnly(func(dir, t string) error { return unix.Link(t, dir+"/new") })},
	{name: "link_follow_to_new", run: errOnly(func(dir, t string) error {
		return unix.Linkat(unix.AT_FDCWD, t, unix.AT_FDCWD, dir+"/new", unix.AT_SYMLINK_FOLLOW)
	})},
	{name: "link_f_to", run: errOnly(func(dir, t string) error { return unix.Link(dir+"/f", t) })},
	{name: "symlink_at", run: errOnly(func(dir, t string) error { return unix.Symlink("zz", t) })},
	{name: "readlink", run: func(dir, t string) string {
		s, err := os.Readlink(t)
		if err != nil {
			return en(err)
		}
		return "OK " + s
	}},
	{name: "chmod", run: errOnly(func(dir, t string) error { return unix.Chmod(t, 0o700) })},
	{name: "chown", run: errOnly(func(dir, t string) error { return unix.Chown(t, 3, 4) })},
	{name: "lchown", run: errOnly(func(dir, t string) error { return unix.Lchown(t, 3, 4) })},
	{name: "truncate", run: errOnly(func(dir, t string) error { return unix.Truncate(t, 2) })},
	{name: "utimes", run: func(dir, t string) string {
		ts := []unix.Timespec{{Sec: 1000, Nsec: 1}, {Sec: 2000, Nsec: 2}}
		err := unix.UtimesNanoAt(unix.AT_FDCWD, t, ts, 0)
		if err != nil {
			return en(err)
		}
		_, m, _ := times(t, true)
		return fmt.Sprint("OK ", m.UnixNano())
	}},
	{name: "utimes_nofollow", run: func(dir, t string) string {
		ts := []unix.Timespec{{Sec: 1000, Nsec: 1}, {Sec: 2000, Nsec: 2}}
		err := unix.UtimesNanoAt(unix.AT_FDCWD, t, ts, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			return en(err)
		}
		_, m, _ := times(t, false)
		return fmt.Sprint("OK ", m.UnixNano())
	}},
	{name: "chdir", run: func(dir, t string) string {
		err := os.Chdir(t)
		if err != nil {
			return en(err)
		}
		wd, err := os.Getwd()
		must(os.Chdir(base))
		return "OK " + strings.TrimPrefix(wd, dir) + " " + en(err)
	}},
	{name: "readdir", run: func(dir, t string) string { return names(t) }},
	{name: "readfile", run: func(dir, t string) string { return content(t) }},
	{name: "writefile", run: errOnly(func(dir, t string) error { return os.WriteFile(t, []byte("W"), 0o600) })},
	{name: "mkdirall", run: errOnly(func(dir, t string) error { return os.MkdirAll(t, 0o700) })},
	{name: "evalsymlinks", run: func(dir, t string) string {
		s, err := filepath.EvalSymlinks(t)
		if err != nil {
			return en(err)
		}
		return "OK " + strings.TrimPrefix(s, dir)
	}},
}

func matrix() {
	section("m")
	fixture(pa("fixture"))
	fixtureEntries = entries(pa("fixture"))
	var keys []string
	for k, v := range fixtureEntries {
		keys = append(keys, k+"="+v)
	}
	sort.Strings(keys)
	p("fixture", strings.Join(keys, " "))
	must(os.RemoveAll(pa("fixture")))
	cell := 0
	for _, op := range matrixOps {
		for _, target := range matrixTargets {
			if op.skip != nil && op.skip(target) {
				continue
			}
			cell++
			dir := pa(fmt.Sprintf("c%04d", cell))
			fixture(dir)
			res := op.run(dir, dir+"/"+target)
			p(op.name+"("+target+")", res+" | "+changes(dir))
			must(os.Chdir(base))
			if err := os.RemoveAll(dir); err != nil {
				fatal(err)
			}
			// Operations on ".." act on the section directory: restore it.
			must(os.Chmod(pa(""), 0o755))
			must(os.Chown(pa(""), 0, 0))
		}
	}
	sec = "m"
	p("cells", cell)
	p("left", names(pa("")))
}

// guestOnly: checks that hold only in mote, where / is read-only and /tmp
// a tmpfs.
func guestOnly() {
	sec = "guest"
	p("tmp_stat", st("/tmp"))
	p("tmp_write", en(os.WriteFile("/tmp/guest-only", []byte("x"), 0o644)))
	p("tmp_read", content("/tmp/guest-only"))
	p("tmp_rename", en(os.Rename("/tmp/guest-only", "/tmp/guest-only2")))
	p("root_create", en(os.WriteFile("/x", nil, 0o644)))
	p("etc_create", en(os.WriteFile("/etc/x", nil, 0o644)))
	p("etc_passwd_write", en(second(os.OpenFile("/etc/passwd", os.O_WRONLY, 0))))
	p("etc_passwd_trunc", en(second(os.OpenFile("/etc/passwd", os.O_RDONLY|os.O_TRUNC, 0))))
	p("etc_passwd_read", en(second(os.ReadFile("/etc/passwd"))))
	pw, _ := os.ReadFile("/etc/passwd")
	p("etc_passwd_root", strings.HasPrefix(string(pw), "root:x:0:0:"))
	p("etc_passwd_chmod", en(os.Chmod("/etc/passwd", 0o600)))
	p("etc_passwd_chown", en(os.Chown("/etc/passwd", 1, 1)))
	p("etc_passwd_chtimes", en(os.Chtimes("/etc/passwd", past, past)))
	p("etc_passwd_truncate", en(os.Truncate("/etc/passwd", 0)))
	p("etc_passwd_remove", en(os.Remove("/etc/passwd")))
	p("etc_passwd_link", en(os.Link("/etc/passwd", "/etc/passwd2")))
	p("etc_passwd_rename_within_root", en(os.Rename("/etc/passwd", "/etc/passwd2")))
	p("root_mkdir", en(os.Mkdir("/newdir", 0o755)))
	p("root_symlink", en(os.Symlink("x", "/newlink")))
	p("root_rmdir_etc", en(syscall.Rmdir("/etc")))
	p("rmdir_tmp", en(syscall.Rmdir("/tmp")))
	p("rename_tmp", en(os.Rename("/tmp", "/tmp2")))
	p("proc_create", en(os.WriteFile("/proc/x", nil, 0o644)))
	p("access_w_etc", en(unix.Access("/etc/passwd", unix.W_OK)))
	p("access_w_tmp", en(unix.Access("/tmp", unix.W_OK)))
	p("root_is_readonly_not_permission", os.IsPermission(os.WriteFile("/x", nil, 0o644)))
	// Across file systems.
	p("rename_tmp_to_root", en(os.Rename("/tmp/guest-only2", "/moved")))
	p("rename_root_to_tmp", en(os.Rename("/etc/hosts", "/tmp/hosts")))
	p("link_tmp_to_root", en(os.Link("/tmp/guest-only2", "/etc/linked")))
	p("link_root_to_tmp", en(os.Link("/etc/hosts", "/tmp/hosts")))
	p("devnull_write", en(os.WriteFile("/dev/null", []byte("x"), 0o644)))
	// /proc/self/mounts.
	mb, err := os.ReadFile("/proc/self/mounts")
	m := string(mb)
	p("mounts_read", en(err))
	p("mounts_tmp_tmpfs", regexp.MustCompile(`(?m)^tmpfs /tmp tmpfs rw[, ]`).MatchString(m))
	p("mounts_root_ro", regexp.MustCompile(`(?m)^\S+ / \S+ ro[, ]`).MatchString(m))
	mb2, _ := os.ReadFile("/proc/mounts")
	p("proc_mounts_link", string(mb2) == m)
	// statfs.
	var sf unix.Statfs_t
	err = unix.Statfs("/tmp", &sf)
	p("statfs_tmp", fmt.Sprintf("%s type=%#x bsize=%d namelen=%d rdonly=%v", en(err), sf.Type, sf.Bsize, sf.Namelen, sf.Flags&unix.ST_RDONLY != 0))
	p("statfs_tmp_blocks", sf.Blocks > 0 && sf.Bfree <= sf.Blocks && sf.Bavail <= sf.Bfree)
	free := sf.Bfree
	must(os.WriteFile("/tmp/fill", make([]byte, 1<<20), 0o644))
	unix.Statfs("/tmp", &sf)
	p("statfs_tmp_free_drops", free-sf.Bfree >= 256)
	must(os.Remove("/tmp/fill"))
	unix.Statfs("/tmp", &sf)
	p("statfs_tmp_free_back", sf.Bfree == free)
	err = unix.Statfs("/", &sf)
	p("statfs_root", fmt.Sprintf("%s rdonly=%v", en(err), sf.Flags&unix.ST_RDONLY != 0))
	p("statfs_tmp_flags", fmt.Sprintf("nosuid=%v nodev=%v", sfFlags("/tmp")&unix.ST_NOSUID != 0, sfFlags("/tmp")&unix.ST_NODEV != 0))
	wd, err := os.Getwd()
	p("getwd", wd+" "+en(err))
	os.Remove("/tmp/guest-only2")
}

func sfFlags(path string) int64 {
	var sf unix.Statfs_t
	must(unix.Statfs(path, &sf))
	return sf.Flags
}
