package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The end-to-end tests of host directory volumes (mote run -v
// HOST:GUEST[:ro], docs/volumes.md). The guest side is progs/volume.

// fsABIVolumeDiffs are the checks of progs/fsabi whose result on a volume
// differs from Linux's on a local file system: the guest's line and why.
// Each is a limit of 9P2000.L, shared by Linux's own 9p client. Every
// other check must print what Linux prints.
var fsABIVolumeDiffs = map[string]struct{ guest, why string }{
	"rename.exchange":                   {"EINVAL", "RENAME_EXCHANGE: 9P has no exchange (Linux's 9p client is the same)"},
	"rename.exchange_content":           {`"n2" "n1"`, "RENAME_EXCHANGE failed, so nothing moved"},
	"truncate.fallocate":                {"ENOTSUP", "fallocate: EOPNOTSUPP, as Linux's 9p client"},
	"truncate.fallocate_stat":           {"-rw-r--r-- nlink=1 uid=0 gid=0 size=0", "fallocate failed"},
	"truncate.fallocate_inside":         {"ENOTSUP", "fallocate: EOPNOTSUPP, as Linux's 9p client"},
	"truncate.fallocate_inside_stat":    {"-rw-r--r-- nlink=1 uid=0 gid=0 size=0", "fallocate failed"},
	"truncate.fallocate_keep_size":      {"ENOTSUP", "fallocate: EOPNOTSUPP, as Linux's 9p client"},
	"truncate.fallocate_keep_size_stat": {"-rw-r--r-- nlink=1 uid=0 gid=0 size=0", "fallocate failed (also the ones before)"},
}

// TestVolumeFSABI runs progs/fsabi natively on a scratch directory and in
// mote on a volume (-v DIR:/vol, base /vol/base), and requires the same
// output, check by check, but for fsABIVolumeDiffs.
func TestVolumeFSABI(t *testing.T) {
	t.Parallel()
	bin, img := buildFSABI(t)
	native, stderr, err := runNative(t, bin, filepath.Join(t.TempDir(), "base"))
	if err != nil {
		t.Fatalf("native run: %v\nstdout:\n%s\nstderr:\n%s", err, native, stderr.String())
	}
	vol := t.TempDir()
	r := mote(t, 10*time.Minute, "run", "-m", "512M", "--net", "none", "-v", vol+":/vol", img, "--", "/vol/base")
	if r.code != 0 {
		t.Fatalf("mote run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want, order := parseChecks(t, "native", string(native))
	got, gorder := parseChecks(t, "guest", r.stdout)
	compared := compareChecks(t, want, order, got, gorder, fsABIVolumeDiffs)
	// fsabi removes its base at the end: the volume is empty again.
	if ents, err := os.ReadDir(vol); err != nil || len(ents) != 0 {
		t.Errorf("the volume after fsabi: %v, %v", ents, err)
	}
	t.Logf("%d checks compared (%d allowed to differ) in %v", compared, len(fsABIVolumeDiffs), r.elapsed.Round(time.Millisecond))
}

// Durability.

const volumeRecordSize = 250 // progs/volume's recordSize

// volumeRecord is progs/volume's record(n).
func volumeRecord(n int) []byte {
	b := make([]byte, volumeRecordSize)
	copy(b, fmt.Sprintf("%08d|", n))
	for i := 9; i < volumeRecordSize-1; i++ {
		b[i] = byte('A' + (n*7+i)%26)
	}
	b[volumeRecordSize-1] = '\n'
	return b
}

// TestVolumeDurability: the guest appends records to a file on a volume
// and fsyncs each; once it reported some 200 fsyncs the test SIGKILLs the
// monitor. Every record whose fsync returned must be on the host, intact.
// (The host kernel survives, with its page cache: what this catches is a
// monitor that answers fsync, or write, before the data reached the host
// file, such as one that buffers writes.)
func TestVolumeDurability(t *testing.T) {
	t.Parallel()
	vol := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moteBin, "run", "-m", "128M", "--net", "none", "-v", vol+":/vol", images["volume"], "--", "durability", "/vol/log")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	last, killedAt := -1, -1
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var n int
		if _, err := fmt.Sscanf(sc.Text(), "synced %d", &n); err != nil {
			t.Errorf("unexpected output %q", sc.Text())
			continue
		}
		if n != last+1 {
			t.Errorf("synced %d after %d", n, last)
		}
		last = n
		if n >= 200 && killedAt < 0 {
			// mote run is the monitor: the virtual machine and the 9P
			// server die with it.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killedAt = n
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("mote run: did not finish in time (%d records synced)\nstderr:\n%s", last+1, stderr.String())
	}
	if killedAt < 0 {
		t.Fatalf("the guest ended after %d records, before it was killed: %v\nstderr:\n%s", last+1, err, stderr.String())
	}
	if err == nil {
		t.Errorf("mote run ended well after SIGKILL")
	}

	b, err := os.ReadFile(filepath.Join(vol, "log"))
	if err != nil {
		t.Fatal(err)
	}
	if need := (last + 1) * volumeRecordSize; len(b) < need {
		t.Fatalf("the host file has %d bytes, %d records; %d were fsynced (want at least %d bytes)", len(b), len(b)/volumeRecordSize, last+1, need)
	}
	full := len(b) / volumeRecordSize
	for i := 0; i < full; i++ {
		if got := b[i*volumeRecordSize : (i+1)*volumeRecordSize]; !bytes.Equal(got, volumeRecord(i)) {
			what := "an fsynced"
			if i > last {
				what = "a later (written, not yet fsynced)"
			}
			t.Errorf("record %d, %s record, differs on the host:\n got %q\nwant %q", i, what, got, volumeRecord(i))
			break
		}
	}
	// A record after the last fsynced one may be cut short, but holds
	// what was written.
	if tail := b[full*volumeRecordSize:]; !bytes.HasPrefix(volumeRecord(full), tail) {
		t.Errorf("the partial record %d is not a prefix of it: %q", full, tail)
	}
	t.Logf("killed after %d fsynced records (seen: %d); the host file holds %d records and %d bytes more",
		killedAt+1, last+1, full, len(b)%volumeRecordSize)
}

// Escapes.

// TestVolumeEscape: the guest tries to read a host file outside its
// volume through "..", relative and absolute symlinks, symlinks to "..",
// and a symlink swapped with a directory while it walks it. It must never
// read it (ENOENT, or a guest file of that name, is right).
func TestVolumeEscape(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	vol := filepath.Join(base, "vol")
	secret := filepath.Join(base, "outside", "secret")
	mkdirs(t, filepath.Join(vol, "sub"), filepath.Dir(secret))
	writeFile(t, secret, "OUTSIDE")
	writeFile(t, filepath.Join(vol, "inside.txt"), "INSIDE")
	symlink(t, "inside.txt", filepath.Join(vol, "ok"))
	symlink(t, "../outside/secret", filepath.Join(vol, "up"))
	symlink(t, secret, filepath.Join(vol, "abs"))
	symlink(t, "..", filepath.Join(vol, "dirup"))

	t.Run("paths", func(t *testing.T) {
		r := mote(t, time.Minute, "run", "--net", "none", "-v", vol+":/vol", images["volume"], "--", "escape", "/vol", secret)
		t.Logf("guest:\n%s", r.stdout)
		if strings.Contains(r.stdout+r.stderr, "OUTSIDE") {
			t.Errorf("the guest read the file outside its volume:\n%s%s", r.stdout, r.stderr)
		}
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		// The host path of the secret names a guest file if the guest
		// could make it (it is below /tmp, the guest's tmpfs).
		decoy := "ENOENT"
		if strings.HasPrefix(r.stdout, "decoy: made\n") {
			decoy = `"GUEST DECOY"`
		}
		want := []string{
			"inside: \"INSIDE\"",
			"inside_link: \"INSIDE\"",
			"dotdot: ENOENT",
			"up: ENOENT",
			"abs: " + decoy,
			"dirup: ENOENT",
			"dirup_dirup: ENOENT",
			"dirup_vol_up: ENOENT",
			"dotdot_chain: ENOENT",
			"dotdot_chain_host: " + decoy,
			"sub_dotdot_chain: ENOENT",
			"dirup_chain: ENOENT",
			"cwd_dotdot: ENOENT",
			"cwd_dotdot_chain: ENOENT",
			"cwd_up: ENOENT",
			"openat__outside_secret: ENOENT",
			"openat_up: ENOENT",
			"openat_abs: " + decoy,
			"openat_dirup_outside_secret: ENOENT",
			"nofollow_up: ELOOP",
			"nofollow_abs: ELOOP",
			"nofollow_dirup: ELOOP",
			`readlink_up: "../outside/secret"`,
			"readlink_abs: " + strconv.Quote(secret),
			`readlink_dirup: ".."`,
			"dotdot_lists_outside: false OK",
			"dirup_lists_outside: false OK",
			"root_up: escapes",
			"root_abs: escapes",
			"root_dirup_outside_secret: escapes",
			"root__outside_secret: escapes",
			"guest_symlink: " + decoy,
			"hardlink_up: ENOENT",
		}
		if decoy != "ENOENT" {
			want = append([]string{"decoy: made"}, want...)
		}
		checkLines(t, r.stdout, want)
		// What the guest made is on the host, as made.
		if got, err := os.Readlink(filepath.Join(vol, "mine")); err != nil || got != secret {
			t.Errorf("the guest's symlink on the host: %q, %v", got, err)
		}
		if b, _ := os.ReadFile(secret); string(b) != "OUTSIDE" {
			t.Errorf("the secret changed: %q", b)
		}
	})

	// The host swaps vol/d, a directory holding secret ("inside"), with
	// vol/d2, a symlink to the directory outside (holding secret
	// "OUTSIDE"), as fast as it can while the guest reads d/secret.
	t.Run("race", func(t *testing.T) {
		base := t.TempDir()
		vol := filepath.Join(base, "vol")
		outside := filepath.Join(base, "outside")
		mkdirs(t, filepath.Join(vol, "d"), outside)
		writeFile(t, filepath.Join(outside, "secret"), "OUTSIDE")
		writeFile(t, filepath.Join(vol, "d", "secret"), "inside")
		symlink(t, outside, filepath.Join(vol, "d2"))
		d, d2 := filepath.Join(vol, "d"), filepath.Join(vol, "d2")
		var swaps atomic.Int64
		var stop atomic.Bool
		done := make(chan error, 1)
		go func() {
			for !stop.Load() {
				if err := unix.Renameat2(unix.AT_FDCWD, d, unix.AT_FDCWD, d2, unix.RENAME_EXCHANGE); err != nil {
					done <- err
					return
				}
				swaps.Add(1)
			}
			done <- nil
		}()
		stopped := false
		stopSwaps := func() error {
			if stopped {
				return nil
			}
			stopped = true
			stop.Store(true)
			return <-done
		}
		t.Cleanup(func() { stopSwaps() }) // also when mote fails the test
		r := mote(t, 3*time.Minute, "run", "--cpus", "2", "--net", "none", "-v", vol+":/vol", images["volume"], "--", "race", "/vol", "1000")
		if err := stopSwaps(); err != nil {
			t.Fatalf("renameat2 RENAME_EXCHANGE: %v", err)
		}
		t.Logf("%d swaps; guest:\n%s%s", swaps.Load(), r.stdout, r.stderr)
		if strings.Contains(r.stdout+r.stderr, "OUTSIDE") {
			t.Errorf("the guest read the file outside its volume:\n%s%s", r.stdout, r.stderr)
		}
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		if swaps.Load() < 100 {
			t.Errorf("only %d swaps during the guest's reads", swaps.Load())
		}
		// Walking d finds the directory or the symlink, which the guest
		// resolves in its own tree (ENOENT there); a descriptor of the
		// directory keeps the directory, whatever its name.
		allowed := map[string][]string{
			"path":  {`"inside"`, "ENOENT"},
			"dirfd": {`"inside"`, "ENOENT"},
			"held":  {`"inside"`},
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if name, res, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(name, "race.") {
				got[strings.TrimPrefix(name, "race.")] = res
			}
		}
		for way, ok := range allowed {
			res, found := got[way]
			if !found {
				t.Errorf("race.%s: missing", way)
				continue
			}
			total := 0
			for _, f := range strings.Fields(res) {
				i := strings.LastIndexByte(f, '=')
				n, _ := strconv.Atoi(f[i+1:])
				total += n
				if i < 0 || !contains(ok, f[:i]) {
					t.Errorf("race.%s: outcome %s (want only %v)", way, f, ok)
				}
			}
			if total != 1000 {
				t.Errorf("race.%s: %d reads, want 1000", way, total)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

// Big files.

// volumeStream is progs/volume's stream(): the bytes its bigwrite writes.
func volumeStream() *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte{'m', 'o', 't', 'e', 'v', 'o', 'l'})
}

// TestVolumeBigFile: a 1 GiB file (256 MiB with -short) written in the
// guest arrives whole on the host, and one written on the host is read
// whole in the guest, by SHA-256. The guest's memory is smaller than the
// file: a volume's data is not cached in the guest.
func TestVolumeBigFile(t *testing.T) {
	t.Parallel()
	size := int64(1 << 30)
	if testing.Short() {
		size = 256 << 20
	}
	vol := t.TempDir()
	sum := func(r io.Reader) (int64, string) {
		h := sha256.New()
		n, err := io.CopyBuffer(h, r, make([]byte, 1<<20))
		if err != nil {
			t.Fatal(err)
		}
		return n, hex.EncodeToString(h.Sum(nil))
	}

	// Guest to host.
	r := mote(t, 10*time.Minute, "run", "-m", "256M", "--net", "none", "-v", vol+":/vol", images["volume"], "--", "bigwrite", "/vol/out", strconv.FormatInt(size, 10))
	if r.code != 0 {
		t.Fatalf("bigwrite: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	_, want := sum(io.LimitReader(volumeStream(), size))
	if line := fmt.Sprintf("wrote %d sha256 %s\n", size, want); r.stdout != line {
		t.Errorf("the guest printed %q, want %q", r.stdout, line)
	}
	f, err := os.Open(filepath.Join(vol, "out"))
	if err != nil {
		t.Fatal(err)
	}
	n, got := sum(f)
	f.Close()
	if n != size || got != want {
		t.Errorf("the host file: %d bytes, sha256 %s; want %d bytes, %s", n, got, size, want)
	}
	t.Logf("guest to host: %d MiB in %v (%s)", size>>20, r.elapsed.Round(time.Millisecond), strings.TrimSpace(r.stderr))
	os.Remove(filepath.Join(vol, "out"))

	// Host to guest: other bytes.
	in := filepath.Join(vol, "in")
	f, err = os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(f, h), io.LimitReader(rand.NewChaCha8([32]byte{'h', 'o', 's', 't'}), size), make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	want = hex.EncodeToString(h.Sum(nil))
	r = mote(t, 10*time.Minute, "run", "-m", "256M", "--net", "none", "-v", vol+":/vol", images["volume"], "--", "bigread", "/vol/in")
	if r.code != 0 {
		t.Fatalf("bigread: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if line := fmt.Sprintf("read %d sha256 %s\n", size, want); r.stdout != line {
		t.Errorf("the guest printed %q, want %q", r.stdout, line)
	}
	t.Logf("host to guest: %d MiB in %v (%s)", size>>20, r.elapsed.Round(time.Millisecond), strings.TrimSpace(r.stderr))
}

// Read-only volumes.

// snapshot describes a host tree: every name with its type, mode, size,
// modification time, and content or link target.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&b, "%s %v %d %d", rel, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			fmt.Fprintf(&b, " -> %s", l)
		case fi.Mode().IsRegular():
			c, _ := os.ReadFile(p)
			fmt.Fprintf(&b, " %q", c)
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestVolumeReadOnly: a volume mounted :ro reads, and every modification
// fails with EROFS; the host directory is unchanged.
func TestVolumeReadOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "file.txt"), "read only\n")
	writeFile(t, filepath.Join(dir, "sub", "inner.txt"), "inner\n")
	mkdirs(t, filepath.Join(dir, "empty"))
	before := snapshot(t, dir)
	r := mote(t, time.Minute, "run", "--net", "none", "-v", dir+":/ro:ro", images["volume"], "--", "readonly", "/ro")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []string{
		`read: "read only\n" OK`,
		"readdir: empty,file.txt,sub OK",
		"stat: OK",
	}
	for _, op := range []string{"create", "create_excl", "open_wronly", "open_rdwr", "open_append", "open_trunc",
		"writefile", "mkdir", "mkdir_in_sub", "remove_file", "remove_dir", "remove_all", "rename",
		"rename_into_sub", "chmod", "chown", "chtimes", "truncate", "symlink", "link", "mkfifo"} {
		want = append(want, op+": EROFS")
	}
	want = append(want,
		"write_rdonly_fd: EBADF", // the descriptor is not open for writing
		"fchmod: EROFS",
		"ftruncate: EINVAL", // Linux checks that the descriptor is open for writing first
		"fchown: EROFS",
		"statfs_rdonly: true OK",
		"access_w: EROFS",
	)
	checkLines(t, r.stdout, want)
	if after := snapshot(t, dir); after != before {
		t.Errorf("the read-only host directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestVolumeMounts: the guest's mount list shows the volumes; a volume
// can be the working directory. mote run refuses a volume that is not a
// host directory, clearly.
func TestVolumeMounts(t *testing.T) {
	t.Parallel()
	data, ro := t.TempDir(), t.TempDir()
	r := mote(t, time.Minute, "run", "--net", "none", "-v", data+":/data", "-v", ro+":/srv/ro:ro", images["volume"], "--", "mounts", "/data")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, re := range []string{
		`(?m)^vol0 /data 9p rw,\S* 0 0$`,
		`(?m)^vol1 /srv/ro 9p ro,\S* 0 0$`,
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("/proc/self/mounts: no line matches %s:\n%s", re, r.stdout)
		}
	}
	_, after, _ := strings.Cut(r.stdout, "chdir /data:")
	checkLines(t, "chdir /data:"+after, []string{
		"chdir /data: OK",
		"getwd dir: /data OK",
		"chdir sub: OK",
		"getwd sub: /data/sub OK",
		`relative read: "hello" OK`,
		"relative write: OK",
		"chdir deeper: OK",
		"getwd deeper: /data/sub/deeper OK",
		"chdir ../..: OK",
		"getwd ../..: /data OK",
		"chdir ..: OK",
		"getwd ..: / OK",
		"rmdir cwd: OK",
		"getwd removed: ENOENT",
	})
	if b, err := os.ReadFile(filepath.Join(data, "sub", "rel.txt")); err != nil || string(b) != "rel" {
		t.Errorf("the file written relative to the working directory, on the host: %q, %v", b, err)
	}

	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	for _, c := range []struct {
		spec, want string
	}{
		{"/nonexistent:/x", `-v "/nonexistent:/x": /nonexistent: no such directory`},
		{file + ":/x", "is not a directory"},
		{data + ":x", "absolute"},
		{data + ":/proc/x", "/proc belongs to the library OS"},
		{data + ":/x:rx", `unknown option "rx"`},
	} {
		r := mote(t, time.Minute, "run", "-v", c.spec, images["volume"], "--", "mounts", "/x")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("-v %s: exit %d, stderr %q; want a failure saying %q", c.spec, r.code, r.stderr, c.want)
		}
		if n := strings.Count(strings.TrimSpace(r.stderr), "\n"); n > 0 || r.stdout != "" {
			t.Errorf("-v %s: want one line on stderr and nothing on stdout, got:\n%s%s", c.spec, r.stdout, r.stderr)
		}
	}
}

// TestVolumeFSTest runs testing/fstest.TestFS in the guest on a volume,
// read-write and read-only. (TestSealedFiles does it on sealed files.)
func TestVolumeFSTest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.txt"), "a\n")
	writeFile(t, filepath.Join(dir, "zero"), "")
	writeFile(t, filepath.Join(dir, "dir", "b.txt"), "b\n")
	// More than a page, but small: fstest reads files byte by byte, which
	// is a round trip to the host each.
	writeFile(t, filepath.Join(dir, "dir", "sub", "c.txt"), strings.Repeat("0123456789abcdef", 300))
	mkdirs(t, filepath.Join(dir, "empty"))
	symlink(t, "a.txt", filepath.Join(dir, "link"))
	symlink(t, "../a.txt", filepath.Join(dir, "dir", "uplink"))
	names := []string{"a.txt", "zero", "dir/b.txt", "dir/sub/c.txt", "empty", "link", "dir/uplink"}
	// Enough entries for several directory reads (getdents of 8 KiB).
	for i := range 200 {
		n := fmt.Sprintf("many/file-with-a-longish-name-%03d", i)
		writeFile(t, filepath.Join(dir, n), strconv.Itoa(i))
		if i%50 == 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, ro := range []string{"", ":ro"} {
		r := mote(t, 2*time.Minute, append([]string{"run", "--net", "none", "-v", dir + ":/v" + ro, images["volume"], "--", "fstest", "/v"}, names...)...)
		if r.code != 0 || r.stdout != "fstest /v: ok\n" {
			t.Errorf("-v %s:/v%s: exit %d\n%s%s", dir, ro, r.code, r.stdout, r.stderr)
		}
	}
}

// TestVolumeLive: the guest sees what the host changes in a volume while
// it runs: contents, sizes, modes, new, removed and renamed names, and a
// file replaced by another, while an open descriptor keeps the old one.
func TestVolumeLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "one")
	writeFile(t, filepath.Join(dir, "old"), "old")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, moteBin, "run", "--net", "none", "-v", dir+":/v", images["volume"], "--", "live", "/v")
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		out.WriteString(line + "\n")
		switch line {
		case "step 1":
			// In place: the same inode, longer.
			f, err := os.OpenFile(filepath.Join(dir, "f"), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteAt([]byte("one two"), 0)
			f.Close()
			if err := os.Chmod(filepath.Join(dir, "f"), 0o600); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "g"), "gee")
			mkdirs(t, filepath.Join(dir, "h"))
			if err := os.Remove(filepath.Join(dir, "old")); err != nil {
				t.Fatal(err)
			}
		case "step 2":
			if err := os.Rename(filepath.Join(dir, "g"), filepath.Join(dir, "g2")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "new"), "three")
			if err := os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "f")); err != nil {
				t.Fatal(err)
			}
		default:
			continue
		}
		if _, err := io.WriteString(stdin, "go\n"); err != nil {
			t.Fatal(err)
		}
	}
	err = cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("mote run did not finish\nstdout:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	if err != nil {
		t.Fatalf("mote run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	checkLines(t, out.String(), []string{
		`read f: "one"`,
		"stat f: -rw-r--r-- size=3",
		"list: f,old OK",
		"step 1",
		`held: "one two" size=7`,
		`read f: "one two"`,
		"stat f: -rw------- size=7",
		`read g: "gee"`,
		"stat h: drwxr-xr-x",
		"stat old: ENOENT",
		"list: f,g,h OK",
		"step 2",
		`held: "one two" size=7`, // the replaced file, still open
		`read f: "three"`,
		"read g: ENOENT",
		`read g2: "gee"`,
		"list: f,g2,h OK",
	})
}

// TestVolumeParallel: on two vCPUs, more goroutines than the kernel has
// 9P request slots do file work at once on a volume; all of it works.
func TestVolumeParallel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := mote(t, 3*time.Minute, "run", "--cpus", "2", "-m", "256M", "--net", "none", "-v", dir+":/v", images["volume"], "--", "parallel", "/v", "24")
	if r.code != 0 || r.stdout != "parallel: 24 ok\n" {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("the volume afterwards: %v, %v", ents, err)
	}
	t.Logf("%s", strings.TrimSpace(r.stderr))
}

// TestMountInTheWay: a mount point where the image has a file stops the
// guest before the program runs (status 125), for a volume and a tmpfs.
func TestMountInTheWay(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-v", t.TempDir() + ":/etc/hosts"},
		{"--tmpfs", "/etc/passwd"},
	} {
		r := mote(t, time.Minute, append(append([]string{"run", "--net", "none"}, args...), images["hello"])...)
		if r.code != 125 || r.stdout != "" || !strings.Contains(r.stderr, "the program does not start") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
