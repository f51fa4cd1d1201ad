package p9fs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hugelgupf/p9/linux"
	"github.com/hugelgupf/p9/p9"
	"golang.org/x/sys/unix"
)

const canaryText = "CANARY: outside the volume\n"

// env is a served volume: base/root is served, base/outside holds a canary
// that nothing may ever read, modify or add to.
type env struct {
	t      *testing.T
	base   string
	root   string
	out    string
	canary string
	fs     *FS
	client *p9.Client
	rootF  p9.File
	done   chan error
}

func newEnv(t *testing.T, readOnly bool, populate func(root, out string)) *env {
	t.Helper()
	base := t.TempDir()
	e := &env{t: t, base: base, root: filepath.Join(base, "root"), out: filepath.Join(base, "outside")}
	e.canary = filepath.Join(e.out, "canary")
	must(t, os.Mkdir(e.root, 0o755))
	must(t, os.Mkdir(e.out, 0o755))
	must(t, os.WriteFile(e.canary, []byte(canaryText), 0o644))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(e.canary, old, old))
	must(t, os.Chtimes(e.out, old, old))
	if populate != nil {
		populate(e.root, e.out)
	}
	outBefore := snapshot(t, e.out)
	t.Cleanup(func() {
		// Nothing outside the root was read (atime), modified or created.
		if after := snapshot(t, e.out); after != outBefore {
			t.Errorf("outside directory changed:\nbefore %s\nafter  %s", outBefore, after)
		}
		names, _ := os.ReadDir(base)
		if len(names) != 2 {
			t.Errorf("entries beside the root: %v", names)
		}
	})

	fs, err := New(e.root, readOnly)
	must(t, err)
	e.fs = fs
	e.connect()
	t.Cleanup(e.close)
	return e
}

func (e *env) connect() {
	t := e.t
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(t, err)
	srv := os.NewFile(uintptr(fds[0]), "p9-server")
	cli := os.NewFile(uintptr(fds[1]), "p9-client")
	e.done = make(chan error, 1)
	go func() { e.done <- e.fs.Serve(srv, srv) }()
	c, err := p9.NewClient(plainConn{cli}, p9.WithMessageSize(1<<20))
	must(t, err)
	e.client = c
	r, err := c.Attach("")
	must(t, err)
	e.rootF = r
}

// plainConn keeps the p9 client from using recvmsg on a blocking socket.
type plainConn struct{ io.ReadWriteCloser }

func (e *env) close() {
	if e.client == nil {
		return
	}
	e.rootF.Close()
	e.client.Close()
	select {
	case <-e.done:
	case <-time.After(10 * time.Second):
		e.t.Error("server did not stop")
	}
	e.client = nil
	e.fs.Close()
}

// snapshot describes every file under dir: name, mode, size, mtime, atime
// and content, so that any read (atime: set old, and relatime updates it on
// a read), write or creation shows.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			b.WriteString(p + " error " + err.Error() + "\n")
			return nil
		}
		var s unix.Stat_t
		unix.Lstat(p, &s)
		b.WriteString(p + " " + fi.Mode().String() + " " + itoa(int(fi.Size())) + " m" + itoa(int(s.Mtim.Nano())))
		if !fi.IsDir() {
			// (A directory's atime changes as this very walk reads it.)
			b.WriteString(" a" + itoa(int(s.Atim.Nano())))
		}
		if fi.Mode().IsRegular() {
			// Read without touching atime.
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOATIME, 0)
			if err == nil {
				buf := make([]byte, 4096)
				n, _ := unix.Read(fd, buf)
				unix.Close(fd)
				b.WriteString(" " + string(buf[:n]))
			}
		}
		b.WriteString("\n")
		return nil
	})
	return b.String()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

func walk(t *testing.T, f p9.File, names ...string) p9.File {
	t.Helper()
	_, nf, err := f.Walk(names)
	if err != nil {
		t.Fatalf("walk %v: %v", names, err)
	}
	return nf
}

// create makes name in dir and returns the open file.
func create(t *testing.T, dir p9.File, name string, perm p9.FileMode) p9.File {
	t.Helper()
	clone := walk(t, dir)
	nf, _, _, err := clone.Create(name, p9.ReadWrite, perm, p9.NoUID, p9.NoGID)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return nf
}

func readAll(t *testing.T, f p9.File) []byte {
	t.Helper()
	var out []byte
	buf := make([]byte, 4<<20)
	for {
		n, err := f.ReadAt(buf, int64(len(out)))
		if err != nil && err != io.EOF {
			t.Fatalf("read: %v", err)
		}
		if n == 0 {
			return out
		}
		out = append(out, buf[:n]...)
	}
}

func readFile(t *testing.T, dir p9.File, names ...string) []byte {
	t.Helper()
	f := walk(t, dir, names...)
	defer f.Close()
	if _, _, err := f.Open(p9.ReadOnly); err != nil {
		t.Fatalf("open %v: %v", names, err)
	}
	return readAll(t, f)
}

func readdirAll(t *testing.T, dir p9.File, count uint32) []p9.Dirent {
	t.Helper()
	d := walk(t, dir)
	defer d.Close()
	if _, _, err := d.Open(p9.ReadOnly); err != nil {
		t.Fatalf("open dir: %v", err)
	}
	var all []p9.Dirent
	off := uint64(0)
	for i := 0; ; i++ {
		ents, err := d.Readdir(off, count)
		if err != nil {
			t.Fatalf("readdir at %d: %v", off, err)
		}
		if len(ents) == 0 {
			return all
		}
		all = append(all, ents...)
		off = ents[len(ents)-1].Offset
		if i > 100000 {
			t.Fatal("readdir does not end")
		}
	}
}

func hostStat(t *testing.T, p string) *unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	must(t, unix.Lstat(p, &st))
	return &st
}

func TestFileRoundTrips(t *testing.T) {
	e := newEnv(t, false, func(root, _ string) {
		must(t, os.WriteFile(filepath.Join(root, "host.txt"), []byte("written by the host"), 0o644))
	})
	oldMask := unix.Umask(0o022) // so that creations must undo it
	defer unix.Umask(oldMask)

	// Read what the host wrote.
	if got := string(readFile(t, e.rootF, "host.txt")); got != "written by the host" {
		t.Errorf("read host.txt = %q", got)
	}

	// Create, write, fsync: on the host with the exact mode asked for (the
	// host umask 022 must not take the group and other write bits).
	f := create(t, e.rootF, "a.txt", 0o666)
	if n, err := f.WriteAt([]byte("hello, world"), 0); err != nil || n != 12 {
		t.Fatalf("write: %d %v", n, err)
	}
	must(t, f.FSync())
	if got, _ := os.ReadFile(filepath.Join(e.root, "a.txt")); string(got) != "hello, world" {
		t.Errorf("host sees %q", got)
	}
	if m := hostStat(t, filepath.Join(e.root, "a.txt")).Mode; m != unix.S_IFREG|0o666 {
		t.Errorf("created mode %o, want %o", m, unix.S_IFREG|0o666)
	}
	// Write at an offset, read back through the same file.
	if _, err := f.WriteAt([]byte("W"), 7); err != nil {
		t.Fatal(err)
	}
	if got := string(readAll(t, f)); got != "hello, World" {
		t.Errorf("read back %q", got)
	}
	f.Close()

	// GetAttr matches the host.
	af := walk(t, e.rootF, "a.txt")
	qid, valid, attr, err := af.GetAttr(p9.AttrMaskAll)
	must(t, err)
	st := hostStat(t, filepath.Join(e.root, "a.txt"))
	if !valid.Mode || !valid.Size || !valid.NLink || !valid.UID || !valid.GID || !valid.MTime || !valid.Blocks || !valid.RDev || !valid.INo {
		t.Errorf("valid mask %v", valid)
	}
	if uint32(attr.Mode) != st.Mode || attr.Size != uint64(st.Size) || uint64(attr.NLink) != uint64(st.Nlink) ||
		uint32(attr.UID) != st.Uid || uint32(attr.GID) != st.Gid || attr.BlockSize != uint64(st.Blksize) ||
		attr.Blocks != uint64(st.Blocks) || attr.MTimeSeconds != uint64(st.Mtim.Sec) ||
		attr.MTimeNanoSeconds != uint64(st.Mtim.Nsec) || attr.ATimeSeconds != uint64(st.Atim.Sec) ||
		attr.CTimeSeconds != uint64(st.Ctim.Sec) {
		t.Errorf("attr %v\nhost %+v", attr, st)
	}
	if qid.Path != st.Ino || qid.Type != p9.TypeRegular {
		t.Errorf("qid %v, host ino %d", qid, st.Ino)
	}

	// Truncate (shrink and grow), chmod, utimes, "now".
	must(t, af.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 5}))
	if got, _ := os.ReadFile(filepath.Join(e.root, "a.txt")); string(got) != "hello" {
		t.Errorf("after truncate %q", got)
	}
	must(t, af.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 8}))
	if got, _ := os.ReadFile(filepath.Join(e.root, "a.txt")); string(got) != "hello\x00\x00\x00" {
		t.Errorf("after grow %q", got)
	}
	must(t, af.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o604}))
	if m := hostStat(t, filepath.Join(e.root, "a.txt")).Mode & 0o7777; m != 0o604 {
		t.Errorf("chmod: mode %o", m)
	}
	must(t, af.SetAttr(p9.SetAttrMask{ATime: true, MTime: true, ATimeNotSystemTime: true, MTimeNotSystemTime: true},
		p9.SetAttr{ATimeSeconds: 1000000000, ATimeNanoSeconds: 123, MTimeSeconds: 1234567890, MTimeNanoSeconds: 456}))
	st = hostStat(t, filepath.Join(e.root, "a.txt"))
	if st.Atim.Sec != 1000000000 || st.Atim.Nsec != 123 || st.Mtim.Sec != 1234567890 || st.Mtim.Nsec != 456 {
		t.Errorf("utimes: atime %v mtime %v", st.Atim, st.Mtim)
	}
	must(t, af.SetAttr(p9.SetAttrMask{MTime: true}, p9.SetAttr{}))
	st = hostStat(t, filepath.Join(e.root, "a.txt"))
	if d := time.Since(time.Unix(st.Mtim.Unix())); d < 0 || d > time.Minute {
		t.Errorf("mtime now: %v ago", d)
	}
	if st.Atim.Sec != 1000000000 {
		t.Errorf("atime changed by an mtime-only setattr: %v", st.Atim)
	}
	if os.Getuid() == 0 {
		must(t, af.SetAttr(p9.SetAttrMask{UID: true, GID: true}, p9.SetAttr{UID: 1234, GID: 5678}))
		st = hostStat(t, filepath.Join(e.root, "a.txt"))
		if st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("chown: %d:%d", st.Uid, st.Gid)
		}
	}

	// lopen with O_TRUNC.
	tf := walk(t, e.rootF, "a.txt")
	if _, _, err := tf.Open(p9.ReadWrite | dotlTrunc); err != nil {
		t.Fatal(err)
	}
	tf.Close()
	if fi, _ := os.Stat(filepath.Join(e.root, "a.txt")); fi.Size() != 0 {
		t.Errorf("O_TRUNC left %d bytes", fi.Size())
	}

	// mkdir with the exact mode (umask does not apply), and a file in it.
	_, err = e.rootF.Mkdir("d", 0o777, p9.NoUID, p9.NoGID)
	must(t, err)
	if m := hostStat(t, filepath.Join(e.root, "d")).Mode; m != unix.S_IFDIR|0o777 {
		t.Errorf("mkdir mode %o", m)
	}
	d := walk(t, e.rootF, "d")
	create(t, d, "inner", 0o600).Close()
	if _, err := os.Stat(filepath.Join(e.root, "d", "inner")); err != nil {
		t.Error(err)
	}

	// symlink and readlink.
	if _, err := d.Symlink("../somewhere/else", "ln", p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.Readlink(filepath.Join(e.root, "d", "ln")); got != "../somewhere/else" {
		t.Errorf("host readlink %q", got)
	}
	ln := walk(t, d, "ln")
	if got, err := ln.Readlink(); err != nil || got != "../somewhere/else" {
		t.Errorf("readlink %q %v", got, err)
	}
	if _, _, attr, err := ln.GetAttr(p9.AttrMaskAll); err != nil || !attr.Mode.IsSymlink() {
		t.Errorf("symlink attr %v %v", attr, err)
	}

	// link: same inode on the host.
	inner := walk(t, d, "inner")
	must(t, e.rootF.Link(inner, "hard"))
	a, b := hostStat(t, filepath.Join(e.root, "d", "inner")), hostStat(t, filepath.Join(e.root, "hard"))
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("link: ino %d vs %d, nlink %d", a.Ino, b.Ino, a.Nlink)
	}

	// mknod: FIFO, socket and regular file yes, devices no.
	if _, err := d.Mknod("fifo", p9.ModeNamedPipe|0o640, 0, 0, p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	if m := hostStat(t, filepath.Join(e.root, "d", "fifo")).Mode; m != unix.S_IFIFO|0o640 {
		t.Errorf("fifo mode %o", m)
	}
	if _, err := d.Mknod("sock", p9.ModeSocket|0o600, 0, 0, p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Mknod("reg", p9.ModeRegular|0o600, 0, 0, p9.NoUID, p9.NoGID); err != nil {
		t.Fatal(err)
	}
	_, err = d.Mknod("null", p9.ModeCharacterDevice|0o666, 1, 3, p9.NoUID, p9.NoGID)
	wantErr(t, "mknod char device", err, linux.EPERM)
	_, err = d.Mknod("sda", p9.ModeBlockDevice|0o666, 8, 0, p9.NoUID, p9.NoGID)
	wantErr(t, "mknod block device", err, linux.EPERM)

	// rename: renameat, and the Trename of a walked file; a walked but
	// unopened file still opens after it was renamed.
	hostF := walk(t, e.rootF, "host.txt")
	must(t, e.rootF.RenameAt("host.txt", d, "moved.txt"))
	if _, err := os.Stat(filepath.Join(e.root, "d", "moved.txt")); err != nil {
		t.Error(err)
	}
	if _, _, err := hostF.Open(p9.ReadOnly); err != nil {
		t.Fatalf("open after rename: %v", err)
	}
	if got := string(readAll(t, hostF)); got != "written by the host" {
		t.Errorf("read after rename %q", got)
	}
	moved := walk(t, d, "moved.txt")
	must(t, moved.Rename(e.rootF, "back.txt"))
	if _, err := os.Stat(filepath.Join(e.root, "back.txt")); err != nil {
		t.Error(err)
	}

	// unlink, rmdir; errors are the host's errno (ENOTEMPTY, not EEXIST).
	wantErr(t, "rmdir non-empty", e.rootF.UnlinkAt("d", dotlRemoveDir), linux.ENOTEMPTY)
	wantErr(t, "unlink dir", e.rootF.UnlinkAt("d", 0), linux.EISDIR)
	_, err = e.rootF.Mkdir("d", 0o755, p9.NoUID, p9.NoGID)
	wantErr(t, "mkdir existing", err, linux.EEXIST)
	_, _, err = e.rootF.Walk([]string{"nope"})
	wantErr(t, "walk missing", err, linux.ENOENT)
	for _, n := range []string{"inner", "ln", "fifo", "sock", "reg"} {
		must(t, d.UnlinkAt(n, 0))
	}
	must(t, e.rootF.UnlinkAt("d", dotlRemoveDir))
	must(t, e.rootF.UnlinkAt("hard", 0))
	if _, err := os.Stat(filepath.Join(e.root, "d")); !os.IsNotExist(err) {
		t.Errorf("d still there: %v", err)
	}

	// statfs, lock, xattrs.
	fsst, err := e.rootF.StatFS()
	must(t, err)
	var hs unix.Statfs_t
	must(t, unix.Statfs(e.root, &hs))
	if fsst.BlockSize != uint32(hs.Bsize) || fsst.Blocks != hs.Blocks || fsst.NameLength != uint32(hs.Namelen) || fsst.Type != uint32(hs.Type) {
		t.Errorf("statfs %+v host %+v", fsst, hs)
	}
	lf := walk(t, e.rootF, "a.txt")
	if _, _, err := lf.Open(p9.ReadWrite); err != nil {
		t.Fatal(err)
	}
	// (The p9 client's Lock sends no fid: ask the server's File directly.)
	sroot, err := e.fs.Attach()
	must(t, err)
	sf := walk(t, sroot, "a.txt")
	if s, err := sf.Lock(1, p9.WriteLock, 0, 0, 0, "guest"); err != nil || s != p9.LockStatusOK {
		t.Errorf("lock %v %v", s, err)
	}
	sf.Close()
	sroot.Close()
	if _, err := lf.GetXattr("user.x"); err == nil {
		t.Error("getxattr succeeded")
	}
	lf.Close()
	for _, c := range []p9.File{af, d, ln, inner, hostF, moved} {
		c.Close()
	}
}

func TestReaddirResumes(t *testing.T) {
	want := map[string]uint8{".": dtDir, "..": dtDir}
	e := newEnv(t, false, func(root, _ string) {
		for i := 0; i < 300; i++ {
			name := "file-with-a-longish-name-" + itoa(i)
			must(t, os.WriteFile(filepath.Join(root, name), nil, 0o644))
			want[name] = dtReg
		}
		must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755))
		want["sub"] = dtDir
		must(t, os.Symlink("/etc", filepath.Join(root, "abs")))
		want["abs"] = dtLnk
	})
	for _, count := range []uint32{64, 333, 4096, 1 << 20} {
		ents := readdirAll(t, e.rootF, count)
		got := map[string]uint8{}
		for _, d := range ents {
			if _, dup := got[d.Name]; dup {
				t.Errorf("count %d: %q twice", count, d.Name)
			}
			got[d.Name] = uint8(d.Type)
		}
		if len(got) != len(want) {
			t.Errorf("count %d: %d entries, want %d", count, len(got), len(want))
		}
		for n, typ := range want {
			if g, ok := got[n]; !ok || g != typ {
				t.Errorf("count %d: %q type %d (present %v), want %d", count, n, g, ok, typ)
			}
		}
		// The root's ".." is the root itself, not its host parent.
		for _, d := range ents {
			if d.Name == ".." && d.QID.Path != hostStat(t, e.root).Ino {
				t.Errorf("root .. has the QID path %d", d.QID.Path)
			}
		}
	}
}

func TestLargeFile(t *testing.T) {
	const size = 64 << 20
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	want := sha256.Sum256(data)
	e := newEnv(t, false, nil)

	// Guest to host.
	f := create(t, e.rootF, "big.out", 0o644)
	const chunk = 3<<20 + 17 // odd-sized writes
	for off := 0; off < size; off += chunk {
		end := min(off+chunk, size)
		n, err := f.WriteAt(data[off:end], int64(off))
		if err != nil || n != end-off {
			t.Fatalf("write at %d: %d %v", off, n, err)
		}
	}
	must(t, f.FSync())
	f.Close()
	hf, err := os.Open(filepath.Join(e.root, "big.out"))
	must(t, err)
	h := sha256.New()
	io.Copy(h, hf)
	hf.Close()
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Errorf("host copy: sha256 %x, want %x", got, want)
	}

	// Host to guest.
	must(t, os.WriteFile(filepath.Join(e.root, "big.in"), data, 0o644))
	got := sha256.Sum256(readFile(t, e.rootF, "big.in"))
	if got != want {
		t.Errorf("guest copy: sha256 %x, want %x", got, want)
	}
}

func TestFsyncReachesHost(t *testing.T) {
	e := newEnv(t, false, func(root, _ string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("old"), 0o644))
	})
	f := walk(t, e.rootF, "f")
	_, _, err := f.Open(p9.WriteOnly)
	must(t, err)
	_, err = f.WriteAt([]byte("new data"), 0)
	must(t, err)
	must(t, f.FSync())
	if got, _ := os.ReadFile(filepath.Join(e.root, "f")); string(got) != "new data" {
		t.Errorf("after fsync the host reads %q", got)
	}
	f.Close()

	// fsync of a file opened read-only and of a directory work too.
	r := walk(t, e.rootF, "f")
	_, _, err = r.Open(p9.ReadOnly)
	must(t, err)
	must(t, r.FSync())
	r.Close()
	dir := walk(t, e.rootF)
	_, _, err = dir.Open(p9.ReadOnly)
	must(t, err)
	must(t, dir.FSync())
	dir.Close()

	// Not opened: refused.
	n := walk(t, e.rootF, "f")
	if err := n.FSync(); err == nil {
		t.Error("fsync of an unopened file succeeded")
	}
	n.Close()
}

// TestEscapeNames sends names that would leave the root, through the
// protocol and straight to the File methods (past the p9 server's checks).
func TestEscapeNames(t *testing.T) {
	e := newEnv(t, false, func(root, _ string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("inside"), 0o644))
		must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
	})
	bad := []string{"..", ".", "", "../outside", "a/b", "/etc", "..\x00", "d/../.."}
	for _, name := range bad {
		if _, _, err := e.rootF.Walk([]string{name}); err == nil {
			t.Errorf("protocol walk %q succeeded", name)
		}
	}
	for _, names := range [][]string{{"..", "outside", "canary"}, {"d", "..", "..", "outside", "canary"}, {"d", ".."}} {
		if _, _, err := e.rootF.Walk(names); err == nil {
			t.Errorf("protocol walk %q succeeded", names)
		}
	}
	if _, err := e.client.Attach("/../outside"); err == nil {
		t.Error("attach ../outside succeeded")
	}
	for _, name := range []string{"../evil", "..", "x/y", "/tmp/evil"} {
		clone := walk(t, e.rootF)
		if _, _, _, err := clone.Create(name, p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID); err == nil {
			t.Errorf("protocol create %q succeeded", name)
		}
		clone.Close()
		if _, err := e.rootF.Mkdir(name, 0o755, p9.NoUID, p9.NoGID); err == nil {
			t.Errorf("protocol mkdir %q succeeded", name)
		}
		if _, err := e.rootF.Symlink("x", name, p9.NoUID, p9.NoGID); err == nil {
			t.Errorf("protocol symlink %q succeeded", name)
		}
		if err := e.rootF.RenameAt("f", e.rootF, name); err == nil {
			t.Errorf("protocol rename to %q succeeded", name)
		}
		if err := e.rootF.UnlinkAt(name, 0); err == nil {
			t.Errorf("protocol unlink %q succeeded", name)
		}
	}
	if err := e.rootF.UnlinkAt("../outside/canary", 0); err == nil {
		t.Error("unlink ../outside/canary succeeded")
	}

	// The same straight to the server's File, which must refuse by itself.
	a, err := e.fs.Attach()
	must(t, err)
	defer a.Close()
	target := walk(t, a, "f")
	defer target.Close()
	for _, name := range bad {
		if _, _, err := a.Walk([]string{name}); !errors.Is(err, linux.EINVAL) {
			t.Errorf("walk %q: %v, want EINVAL", name, err)
		}
		if _, _, _, _, err := a.WalkGetAttr([]string{"d", name}); !errors.Is(err, linux.EINVAL) {
			t.Errorf("walkgetattr d/%q: %v, want EINVAL", name, err)
		}
		if _, _, _, err := a.Create(name, p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID); !errors.Is(err, linux.EINVAL) {
			t.Errorf("create %q: %v", name, err)
		}
		if _, err := a.Mkdir(name, 0o755, p9.NoUID, p9.NoGID); !errors.Is(err, linux.EINVAL) {
			t.Errorf("mkdir %q: %v", name, err)
		}
		if _, err := a.Symlink("x", name, p9.NoUID, p9.NoGID); !errors.Is(err, linux.EINVAL) {
			t.Errorf("symlink %q: %v", name, err)
		}
		if _, err := a.Mknod(name, p9.ModeNamedPipe|0o644, 0, 0, p9.NoUID, p9.NoGID); !errors.Is(err, linux.EINVAL) {
			t.Errorf("mknod %q: %v", name, err)
		}
		if err := a.Link(target, name); !errors.Is(err, linux.EINVAL) {
			t.Errorf("link %q: %v", name, err)
		}
		if err := a.RenameAt("f", a, name); !errors.Is(err, linux.EINVAL) {
			t.Errorf("rename to %q: %v", name, err)
		}
		if err := a.RenameAt(name, a, "stolen"); !errors.Is(err, linux.EINVAL) {
			t.Errorf("rename from %q: %v", name, err)
		}
		if err := a.UnlinkAt(name, 0); !errors.Is(err, linux.EINVAL) {
			t.Errorf("unlink %q: %v", name, err)
		}
	}
	for _, name := range []string{"../outside/canary", "../outside"} {
		if err := a.RenameAt(name, a, "stolen"); err == nil {
			t.Errorf("rename %q in succeeded", name)
		}
		if err := a.UnlinkAt(name, 0); err == nil {
			t.Errorf("unlink %q succeeded", name)
		}
	}
	// A file of another volume cannot be linked or renamed into this one.
	other, err := New(e.out, false)
	must(t, err)
	defer other.Close()
	oroot, err := other.Attach()
	must(t, err)
	defer oroot.Close()
	ocanary := walk(t, oroot, "canary")
	defer ocanary.Close()
	wantErr(t, "link across volumes", a.Link(ocanary, "stolen"), linux.EXDEV)
	wantErr(t, "rename across volumes", oroot.RenameAt("canary", a, "stolen"), linux.EXDEV)
	if _, err := os.Lstat(filepath.Join(e.root, "stolen")); err == nil {
		t.Error("stolen exists")
	}
}

// TestEscapeSymlinks: symlinks in the volume pointing outside, absolute and
// relative, are never followed by the server.
func TestEscapeSymlinks(t *testing.T) {
	e := newEnv(t, false, func(root, out string) {
		must(t, os.Symlink("/etc", filepath.Join(root, "etc")))
		must(t, os.Symlink(out, filepath.Join(root, "abs")))
		must(t, os.Symlink("../outside", filepath.Join(root, "rel")))
		must(t, os.Symlink("../../x", filepath.Join(root, "up2")))
		must(t, os.Symlink(filepath.Join(out, "canary"), filepath.Join(root, "canary-abs")))
		must(t, os.Symlink("../outside/canary", filepath.Join(root, "canary-rel")))
		must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
		must(t, os.Symlink("../../outside/canary", filepath.Join(root, "d", "deep")))
	})
	links := map[string]string{
		"etc": "/etc", "abs": e.out, "rel": "../outside", "up2": "../../x",
		"canary-abs": e.canary, "canary-rel": "../outside/canary",
	}
	for name, target := range links {
		// Walking through it fails; walking to it gives the link itself.
		for _, next := range []string{"passwd", "canary", "x"} {
			if _, _, err := e.rootF.Walk([]string{name, next}); err == nil {
				t.Errorf("walk %s/%s succeeded", name, next)
			}
		}
		l := walk(t, e.rootF, name)
		if got, err := l.Readlink(); err != nil || got != target {
			t.Errorf("readlink %s = %q %v, want %q", name, got, err, target)
		}
		_, _, attr, err := l.GetAttr(p9.AttrMaskAll)
		if err != nil || !attr.Mode.IsSymlink() {
			t.Errorf("%s: attr %v %v", name, attr, err)
		}
		// Opening, creating in it, truncating, chmod: refused or applied
		// to the link itself, never to its target.
		for _, fl := range []p9.OpenFlags{p9.ReadOnly, p9.ReadWrite, p9.WriteOnly | dotlTrunc} {
			c := walk(t, l)
			if _, _, err := c.Open(fl); err == nil {
				t.Errorf("open %s (%v) succeeded", name, fl)
			}
			c.Close()
		}
		c := walk(t, l)
		if _, _, _, err := c.Create("new", p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID); err == nil {
			t.Errorf("create in %s succeeded", name)
		}
		c.Close()
		if _, err := l.Mkdir("new", 0o755, p9.NoUID, p9.NoGID); err == nil {
			t.Errorf("mkdir in %s succeeded", name)
		}
		if err := l.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 0}); err == nil {
			t.Errorf("truncate %s succeeded", name)
		}
		if err := l.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o777}); err == nil {
			t.Errorf("chmod %s succeeded", name)
		}
		// utimes and chown change the link itself (as lutimes/lchown).
		must(t, l.SetAttr(p9.SetAttrMask{MTime: true, MTimeNotSystemTime: true}, p9.SetAttr{MTimeSeconds: 42}))
		if st := hostStat(t, filepath.Join(e.root, name)); st.Mtim.Sec != 42 {
			t.Errorf("utimes on the link %s: mtime %d", name, st.Mtim.Sec)
		}
		must(t, l.SetAttr(p9.SetAttrMask{UID: true, GID: true}, p9.SetAttr{UID: p9.UID(os.Getuid()), GID: p9.GID(os.Getgid())}))
		// A hard link to it is a link to the symlink, not to its target.
		must(t, e.rootF.Link(l, name+".hard"))
		if st := hostStat(t, filepath.Join(e.root, name+".hard")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
			t.Errorf("hard link to %s is mode %o", name, st.Mode)
		}
		// Renaming over it replaces the link, not the target.
		create(t, e.rootF, "tmp", 0o644).Close()
		must(t, e.rootF.RenameAt("tmp", e.rootF, name+".hard"))
		l.Close()
	}
	// A deeper relative link too.
	if _, _, err := e.rootF.Walk([]string{"d", "deep"}); err != nil {
		t.Fatal(err)
	}
	dl := walk(t, e.rootF, "d", "deep")
	if _, _, err := dl.Open(p9.ReadOnly); err == nil {
		t.Error("open d/deep succeeded")
	}
	dl.Close()
}

// TestEscapeSwapBeforeOpen: a walked file or directory replaced by a
// symlink to the outside before the guest opens or changes it.
func TestEscapeSwapBeforeOpen(t *testing.T) {
	e := newEnv(t, false, func(root, out string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("inside"), 0o644))
		must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "d", "canary"), []byte("inside d"), 0o644))
	})
	f := walk(t, e.rootF, "f")
	d := walk(t, e.rootF, "d")
	// The host swaps both for symlinks to the outside.
	must(t, os.Rename(filepath.Join(e.root, "f"), filepath.Join(e.root, "f.old")))
	must(t, os.Symlink(e.canary, filepath.Join(e.root, "f")))
	must(t, os.Rename(filepath.Join(e.root, "d"), filepath.Join(e.root, "d.old")))
	must(t, os.Symlink(e.out, filepath.Join(e.root, "d")))

	for _, fl := range []p9.OpenFlags{p9.ReadOnly, p9.ReadWrite, p9.WriteOnly | dotlTrunc} {
		c := walk(t, f)
		_, _, err := c.Open(fl)
		if err == nil {
			t.Errorf("open of the swapped file (%v) succeeded", fl)
		} else if !errors.Is(err, linux.ELOOP) && !errors.Is(err, linux.ESTALE) {
			t.Errorf("open of the swapped file: %v", err)
		}
		c.Close()
	}
	if err := f.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: 0}); err == nil {
		t.Error("truncate of the swapped file succeeded")
	}
	// chmod and utimes act on the walked inode (now f.old), never on the
	// canary.
	must(t, f.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o600}))
	if m := hostStat(t, filepath.Join(e.root, "f.old")).Mode & 0o777; m != 0o600 {
		t.Errorf("chmod went elsewhere: f.old is %o", m)
	}
	must(t, f.SetAttr(p9.SetAttrMask{MTime: true}, p9.SetAttr{}))
	// The walked directory is still the real one (now d.old): walking,
	// creating and opening in it stay inside.
	if got := string(readFile(t, d, "canary")); got != "inside d" {
		t.Errorf("read d/canary = %q", got)
	}
	create(t, d, "new", 0o644).Close()
	if _, err := os.Stat(filepath.Join(e.root, "d.old", "new")); err != nil {
		t.Errorf("create went elsewhere: %v", err)
	}
	// A fresh walk of "d" reaches the symlink and stops there.
	if _, _, err := e.rootF.Walk([]string{"d", "canary"}); err == nil {
		t.Error("walk through the swapped-in symlink succeeded")
	}
	f.Close()
	d.Close()
}

// TestEscapeRace flips a directory and a symlink to the outside while
// guests walk, open, read, write, chmod and create through the name.
func TestEscapeRace(t *testing.T) {
	const inside = "inside d"
	e := newEnv(t, false, func(root, out string) {
		must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "d", "canary"), []byte(inside), 0o644))
		must(t, os.Symlink(out, filepath.Join(root, "d.alt")))
		must(t, os.Mkdir(filepath.Join(root, "e"), 0o755))
		must(t, os.Symlink("../outside", filepath.Join(root, "e", "x")))
	})
	dPath, altPath := filepath.Join(e.root, "d"), filepath.Join(e.root, "d.alt")
	var stop atomic.Bool
	var flips atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			// Atomically exchange the directory and the symlink.
			if err := unix.Renameat2(unix.AT_FDCWD, dPath, unix.AT_FDCWD, altPath, unix.RENAME_EXCHANGE); err != nil {
				t.Errorf("exchange: %v", err)
				return
			}
			flips.Add(1)
		}
	}()

	var opened, refused atomic.Int64
	deadline := time.Now().Add(2 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			names := []string{"d", "d.alt"}
			for i := 0; time.Now().Before(deadline); i++ {
				name := names[(i+w)%2]
				// Walk to the canary below the flipping name.
				_, f, err := e.rootF.Walk([]string{name, "canary"})
				if err != nil {
					refused.Add(1)
				} else {
					if _, _, err := f.Open(p9.ReadWrite); err == nil {
						opened.Add(1)
						buf := make([]byte, 64)
						n, _ := f.ReadAt(buf, 0)
						if got := string(buf[:n]); got != inside {
							t.Errorf("read %q through %s", got, name)
						}
						f.WriteAt([]byte(inside), 0)
						f.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o600})
						f.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{Size: uint64(len(inside))})
					}
					f.Close()
				}
				// Create, mkdir, mknod, symlink and rename below it.
				if _, dir, err := e.rootF.Walk([]string{name}); err == nil {
					if _, cf, err := dir.Walk(nil); err == nil {
						if nf, _, _, err := cf.Create("new-"+itoa(w), p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID); err == nil {
							nf.Close()
						} else {
							cf.Close()
						}
					}
					dir.Mkdir("dir-"+itoa(w), 0o755, p9.NoUID, p9.NoGID)
					dir.Symlink("x", "ln-"+itoa(w), p9.NoUID, p9.NoGID)
					dir.Mknod("fifo-"+itoa(w), p9.ModeNamedPipe|0o644, 0, 0, p9.NoUID, p9.NoGID)
					dir.RenameAt("canary", dir, "canary")
					dir.Close()
				}
				// Through a relative link inside a subdirectory, too.
				if _, x, err := e.rootF.Walk([]string{"e", "x", "canary"}); err == nil {
					t.Error("walk e/x/canary succeeded")
					x.Close()
				}
			}
		}(w)
	}
	time.Sleep(time.Until(deadline))
	stop.Store(true)
	wg.Wait()
	t.Logf("%d flips, %d opens, %d refused walks", flips.Load(), opened.Load(), refused.Load())
	if flips.Load() == 0 || opened.Load() == 0 || refused.Load() == 0 {
		t.Errorf("the race did not happen: %d flips, %d opens, %d refused", flips.Load(), opened.Load(), refused.Load())
	}
	// newEnv's cleanup checks that the outside is untouched; check the
	// inside here.
	real := dPath
	if st := hostStat(t, dPath); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		real = altPath
	}
	if got, _ := os.ReadFile(filepath.Join(real, "canary")); string(got) != inside {
		t.Errorf("inside canary %q", got)
	}
}

func TestReadOnly(t *testing.T) {
	e := newEnv(t, true, func(root, _ string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("read only"), 0o644))
		must(t, os.Mkdir(filepath.Join(root, "d"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "d", "g"), []byte("g"), 0o644))
		must(t, os.Symlink("f", filepath.Join(root, "l")))
	})
	before := snapshot(t, e.root)
	f := walk(t, e.rootF, "f")
	d := walk(t, e.rootF, "d")
	l := walk(t, e.rootF, "l")
	ro := linux.EROFS

	for _, fl := range []p9.OpenFlags{p9.WriteOnly, p9.ReadWrite, p9.ReadOnly | dotlTrunc, p9.WriteOnly | dotlTrunc} {
		c := walk(t, f)
		_, _, err := c.Open(fl)
		wantErr(t, "open "+itoa(int(fl)), err, ro)
		c.Close()
	}
	c := walk(t, e.rootF)
	_, _, _, err := c.Create("new", p9.ReadWrite, 0o644, p9.NoUID, p9.NoGID)
	wantErr(t, "create", err, ro)
	c.Close()
	c = walk(t, e.rootF)
	_, _, _, err = c.Create("f", p9.ReadOnly, 0o644, p9.NoUID, p9.NoGID)
	wantErr(t, "create existing", err, ro)
	c.Close()
	_, err = e.rootF.Mkdir("new", 0o755, p9.NoUID, p9.NoGID)
	wantErr(t, "mkdir", err, ro)
	_, err = e.rootF.Symlink("f", "new", p9.NoUID, p9.NoGID)
	wantErr(t, "symlink", err, ro)
	_, err = e.rootF.Mknod("new", p9.ModeNamedPipe|0o644, 0, 0, p9.NoUID, p9.NoGID)
	wantErr(t, "mknod", err, ro)
	wantErr(t, "link", e.rootF.Link(f, "new"), ro)
	wantErr(t, "renameat", e.rootF.RenameAt("f", d, "f"), ro)
	wantErr(t, "rename", f.Rename(d, "f"), ro)
	wantErr(t, "unlink", e.rootF.UnlinkAt("f", 0), ro)
	wantErr(t, "rmdir", e.rootF.UnlinkAt("d", dotlRemoveDir), ro)
	wantErr(t, "truncate", f.SetAttr(p9.SetAttrMask{Size: true}, p9.SetAttr{}), ro)
	wantErr(t, "chmod", f.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o777}), ro)
	wantErr(t, "chown", f.SetAttr(p9.SetAttrMask{UID: true}, p9.SetAttr{UID: 0}), ro)
	wantErr(t, "utimes", f.SetAttr(p9.SetAttrMask{MTime: true}, p9.SetAttr{}), ro)
	wantErr(t, "utimes dir", d.SetAttr(p9.SetAttrMask{ATime: true}, p9.SetAttr{}), ro)
	wantErr(t, "lutimes", l.SetAttr(p9.SetAttrMask{MTime: true}, p9.SetAttr{}), ro)

	// Reading works.
	if got := string(readFile(t, e.rootF, "f")); got != "read only" {
		t.Errorf("read %q", got)
	}
	if got, err := l.Readlink(); err != nil || got != "f" {
		t.Errorf("readlink %q %v", got, err)
	}
	if ents := readdirAll(t, d, 4096); len(ents) != 3 {
		t.Errorf("readdir d: %v", ents)
	}
	if _, err := f.StatFS(); err != nil {
		t.Error(err)
	}
	r := walk(t, f)
	_, _, err = r.Open(p9.ReadOnly)
	must(t, err)
	wantErr(t, "write to a read-only open", func() error { _, err := r.WriteAt([]byte("x"), 0); return err }(), linux.EPERM)
	r.Close()

	// Straight to the File too.
	a, err := e.fs.Attach()
	must(t, err)
	af := walk(t, a, "f")
	_, _, err = af.Open(p9.ReadOnly)
	must(t, err)
	_, err = af.WriteAt([]byte("x"), 0)
	wantErr(t, "WriteAt", err, ro)
	af.Close()
	a.Close()

	f.Close()
	d.Close()
	l.Close()
	// Nothing changed but atimes (reads may update them).
	strip := func(s string) string {
		var out []string
		for _, line := range strings.Split(s, "\n") {
			fields := strings.Fields(line)
			var kept []string
			for _, fl := range fields {
				if !strings.HasPrefix(fl, "a") || len(fl) < 2 || fl[1] < '0' || fl[1] > '9' {
					kept = append(kept, fl)
				}
			}
			out = append(out, strings.Join(kept, " "))
		}
		return strings.Join(out, "\n")
	}
	if after := snapshot(t, e.root); strip(after) != strip(before) {
		t.Errorf("read-only volume changed:\n%s\n%s", before, after)
	}
}

// TestFallbacks runs chmod and utimes the way older kernels need (no
// fchmodat2, no AT_EMPTY_PATH for utimensat).
func TestFallbacks(t *testing.T) {
	haveEmptyPathChmod.Store(false)
	haveEmptyPathUtimes.Store(false)
	defer haveEmptyPathChmod.Store(true)
	defer haveEmptyPathUtimes.Store(true)
	e := newEnv(t, false, func(root, out string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), nil, 0o644))
		must(t, os.Symlink(filepath.Join(out, "canary"), filepath.Join(root, "l")))
	})
	f := walk(t, e.rootF, "f")
	must(t, f.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o640}))
	must(t, f.SetAttr(p9.SetAttrMask{MTime: true, MTimeNotSystemTime: true}, p9.SetAttr{MTimeSeconds: 77}))
	st := hostStat(t, filepath.Join(e.root, "f"))
	if st.Mode&0o777 != 0o640 || st.Mtim.Sec != 77 {
		t.Errorf("mode %o mtime %d", st.Mode, st.Mtim.Sec)
	}
	l := walk(t, e.rootF, "l")
	must(t, l.SetAttr(p9.SetAttrMask{MTime: true, MTimeNotSystemTime: true}, p9.SetAttr{MTimeSeconds: 88}))
	if st := hostStat(t, filepath.Join(e.root, "l")); st.Mtim.Sec != 88 {
		t.Errorf("link mtime %d", st.Mtim.Sec)
	}
	if err := l.SetAttr(p9.SetAttrMask{Permissions: true}, p9.SetAttr{Permissions: 0o777}); err == nil {
		t.Error("chmod of a symlink succeeded")
	}
	_, err := e.rootF.Mkdir("dd", 0o777, p9.NoUID, p9.NoGID)
	must(t, err)
	if m := hostStat(t, filepath.Join(e.root, "dd")).Mode & 0o777; m != 0o777 {
		t.Errorf("mkdir mode %o", m)
	}
	f.Close()
	l.Close()
}

// TestNoDescriptorLeak: a session's descriptors are all released when the
// connection ends.
func TestNoDescriptorLeak(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		must(t, err)
		return len(ents)
	}
	session := func() {
		e := newEnv(t, false, nil)
		_, err := e.rootF.Mkdir("d", 0o755, p9.NoUID, p9.NoGID)
		must(t, err)
		d := walk(t, e.rootF, "d")
		f := create(t, d, "f", 0o644)
		f.WriteAt([]byte("x"), 0)
		// Some fids are left for the end of the connection to release.
		walk(t, d, "f")
		readdirAll(t, d, 4096)
		g := walk(t, d, "f")
		g.Open(p9.ReadOnly)
		must(t, d.Link(g, "h"))
		must(t, d.RenameAt("h", e.rootF, "h"))
		e.close()
	}
	session() // warm up the runtime's poller
	before := count()
	for i := 0; i < 5; i++ {
		session()
	}
	if after := count(); after != before {
		t.Errorf("%d descriptors before, %d after", before, after)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(filepath.Join(dir, "missing"), false); err == nil {
		t.Error("New of a missing directory succeeded")
	}
	must(t, os.WriteFile(filepath.Join(dir, "file"), nil, 0o644))
	if _, err := New(filepath.Join(dir, "file"), false); err == nil {
		t.Error("New of a file succeeded")
	}
	fs, err := New(dir, true)
	must(t, err)
	if !fs.ReadOnly() {
		t.Error("not read-only")
	}
	must(t, fs.Close())
	if _, err := fs.Attach(); err == nil {
		t.Error("attach after Close succeeded")
	}
}

// TestLinkByName takes Link's unprivileged path (no CAP_DAC_READ_SEARCH
// for linkat AT_EMPTY_PATH): by name in the parent, checked, not followed.
func TestLinkByName(t *testing.T) {
	linkByName.Store(true)
	defer linkByName.Store(false)
	e := newEnv(t, false, func(root, out string) {
		must(t, os.WriteFile(filepath.Join(root, "f"), []byte("f"), 0o644))
		must(t, os.Symlink(filepath.Join(out, "canary"), filepath.Join(root, "l")))
	})
	f := walk(t, e.rootF, "f")
	must(t, e.rootF.Link(f, "f2"))
	if a, b := hostStat(t, filepath.Join(e.root, "f")), hostStat(t, filepath.Join(e.root, "f2")); a.Ino != b.Ino {
		t.Error("f2 is not a link to f")
	}
	l := walk(t, e.rootF, "l")
	must(t, e.rootF.Link(l, "l2"))
	if st := hostStat(t, filepath.Join(e.root, "l2")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("l2 has mode %o", st.Mode)
	}
	// The name now means another file: refused.
	must(t, os.Rename(filepath.Join(e.root, "f"), filepath.Join(e.root, "f.old")))
	must(t, os.Symlink(e.canary, filepath.Join(e.root, "f")))
	wantErr(t, "link of a replaced name", e.rootF.Link(f, "f3"), linux.ESTALE)
	f.Close()
	l.Close()
}

// TestServeOverPipes serves over two os.Pipe pairs, as a monitor might.
func TestServeOverPipes(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f"), []byte("through pipes"), 0o644))
	fs, err := New(root, false)
	must(t, err)
	defer fs.Close()
	tr, tw, err := os.Pipe() // T-messages
	must(t, err)
	rr, rw, err := os.Pipe() // R-messages
	must(t, err)
	done := make(chan error, 1)
	go func() { done <- fs.Serve(tr, rw) }()
	c, err := p9.NewClient(pipeConn{rr, tw})
	must(t, err)
	r, err := c.Attach("")
	must(t, err)
	if got := string(readFile(t, r, "f")); got != "through pipes" {
		t.Errorf("read %q", got)
	}
	r.Close()
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

type pipeConn struct{ r, w *os.File }

func (p pipeConn) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p pipeConn) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p pipeConn) Close() error {
	p.w.Close()
	return p.r.Close()
}

// TestServeEndsUnderLoad ends connections while requests are in flight
// (the p9 library's own Handle can panic then) and checks that Serve
// returns with every descriptor released.
//
// It runs in a child process: the p9 client, closed under load, leaves a
// pooled response in its pending map after a failed send, which a later
// client in the same process then takes an error from. Client errors are
// expected here; only the server is under test.
func TestServeEndsUnderLoad(t *testing.T) {
	if os.Getenv("P9FS_LOAD_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeEndsUnderLoad$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "P9FS_LOAD_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestServeEndsUnderLoad") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		must(t, err)
		return len(ents)
	}
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f"), []byte("data"), 0o644))
	fs, err := New(root, false)
	must(t, err)
	defer fs.Close()
	session := func(n int) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		must(t, err)
		srv := os.NewFile(uintptr(fds[0]), "srv")
		cli := os.NewFile(uintptr(fds[1]), "cli")
		done := make(chan error, 1)
		go func() { done <- fs.Serve(srv, srv) }()
		c, err := p9.NewClient(plainConn{cli})
		var r p9.File
		if err == nil {
			r, err = c.Attach("")
		}
		if err != nil {
			// A stale error from an earlier client (see above).
			cli.Close()
			<-done
			return
		}
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n; i++ {
					_, f, err := r.Walk([]string{"f"})
					if err != nil {
						return // the connection ended
					}
					f.Open(p9.ReadOnly)
					f.ReadAt(make([]byte, 8), 0)
					f.GetAttr(p9.AttrMaskAll)
					if i%2 == 0 {
						f.Close() // the rest are left to Serve
					}
				}
			}()
		}
		time.Sleep(time.Duration(n) * time.Millisecond / 4)
		// End the connection mid-flight. (Shutdown first: closing a
		// blocking os.File defers the close while a Read is in progress.)
		unix.Shutdown(fds[1], unix.SHUT_RDWR)
		c.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
		}
		// The p9 client can hang a worker when its connection dies (its
		// error path sends on response channels it no longer owns).
		workers := make(chan struct{})
		go func() { wg.Wait(); close(workers) }()
		select {
		case <-workers:
		case <-time.After(2 * time.Second):
			t.Log("client workers stuck; left behind")
		}
	}
	session(5) // warm up
	before := count()
	for i := 0; i < 30; i++ {
		session(1 + i%10)
	}
	if after := count(); after != before {
		t.Errorf("%d descriptors before, %d after", before, after)
	}
}

// TestCloseUnderOperations closes files while operations run on them: the
// operations finish or fail with EBADF, never touching a recycled
// descriptor.
func TestCloseUnderOperations(t *testing.T) {
	root := t.TempDir()
	must(t, os.WriteFile(filepath.Join(root, "f"), []byte("0123456789"), 0o644))
	fs, err := New(root, false)
	must(t, err)
	defer fs.Close()
	a, err := fs.Attach()
	must(t, err)
	defer a.Close()
	for i := 0; i < 200; i++ {
		f := walk(t, a, "f")
		_, _, err := f.Open(p9.ReadWrite)
		must(t, err)
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 10)
				for j := 0; j < 50; j++ {
					if _, err := f.ReadAt(buf, 0); err != nil {
						wantErr(t, "read after close", err, linux.EBADF)
						return
					}
					if _, _, _, err := f.GetAttr(p9.AttrMaskAll); err != nil {
						wantErr(t, "getattr after close", err, linux.EBADF)
						return
					}
					if string(buf) != "0123456789" {
						t.Errorf("read %q", buf)
						return
					}
				}
			}()
		}
		f.Close()
		// Descriptors freed by that Close are reused at once.
		fd, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		wg.Wait()
		unix.Close(fd)
		if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, linux.EBADF) {
			t.Fatalf("read after close: %v", err)
		}
		f.Close() // twice is fine
	}
}

// TestCanaryOracle checks that the tests' snapshot of the outside sees a
// read of the canary (through its access time), so that the escape tests
// would notice one.
func TestCanaryOracle(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "canary")
	must(t, os.WriteFile(p, []byte(canaryText), 0o644))
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	must(t, os.Chtimes(p, old, old))
	before := snapshot(t, dir)
	if _, err := os.ReadFile(p); err != nil {
		t.Fatal(err)
	}
	if snapshot(t, dir) == before {
		t.Skip("this file system does not update access times: reads of the canary would go unseen (writes and creations are still seen)")
	}
}
