package tests

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSealedFiles: mote build --dir/--file seal a host tree into the image;
// in the guest it is read-only (EROFS), passes testing/fstest, keeps modes,
// sizes, mtimes and symlinks, and --workdir / run -w set the directory the
// program starts in.
func TestSealedFiles(t *testing.T) {
	t.Parallel()
	host := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		p := filepath.Join(host, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("static/index.html", "<h1>hi</h1>\n", 0o644)
	write("static/css/site.css", "body{}\n", 0o640)
	write("config.yaml", "port: 80\n", 0o600)
	if err := os.Mkdir(filepath.Join(host, "static", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("index.html", filepath.Join(host, "static", "link.html")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(host, "static", "css", "site.css"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "sealed.img")
	if r := mote(t, 3*time.Minute, "build", "-o", img,
		"--dir", filepath.Join(host, "static")+":/srv/static",
		"--file", filepath.Join(host, "config.yaml")+":/etc/app/config.yaml",
		"--workdir", "/srv/static", "./progs/sealed"); r.code != 0 {
		t.Fatalf("mote build: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := mote(t, time.Minute, "run", img)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := []string{
		"fstest: ok",
		`config: "port: 80\n" ok`,
		"getwd: /srv/static ok",
		`relative: "<h1>hi</h1>\n" ok`,
		"readlink: index.html ok",
		`through link: "<h1>hi</h1>\n" ok`,
		"stat: -rw-r----- 7 1709208000",
		"create in sealed dir: errno EROFS",
		"open sealed file for writing: errno EROFS",
		"remove sealed file: errno EROFS",
		"chmod sealed file: errno EROFS",
		"/etc/hosts: ok",
		"/tmp write: ok",
	}
	checkLines(t, r.stdout, want)

	// With the image file's pages mapped copy-on-write (MOTE_MAP_IMAGE, as
	// for detached instances of stored images) instead of read: the same
	// results, and the file stays as it was although the guest writes its
	// data and bss.
	sum := func() [32]byte {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	r = moteExec(t, "", []string{"MOTE_BACKING=lazy", "MOTE_MAP_IMAGE=1"}, time.Minute, "", "run", img)
	if r.code != 0 {
		t.Fatalf("mapped image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkLines(t, r.stdout, want)
	if sum() != before {
		t.Error("running the image with its pages mapped changed the image file")
	}

	// mote run -w overrides the baked working directory.
	r = mote(t, time.Minute, "run", "-w", "/etc/app", img)
	if !strings.Contains(r.stdout, "getwd: /etc/app ok\n") {
		t.Errorf("run -w /etc/app: want getwd /etc/app, got:\n%s%s", r.stdout, r.stderr)
	}
}

func checkLines(t *testing.T, got string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	for i, w := range want {
		if i >= len(lines) {
			t.Errorf("line %d: missing, want %q", i+1, w)
			continue
		}
		if lines[i] != w {
			t.Errorf("line %d:\n got %q\nwant %q", i+1, lines[i], w)
		}
	}
	if len(lines) > len(want) {
		t.Errorf("extra output:\n%s", strings.Join(lines[len(want):], "\n"))
	}
}

// TestMoteTestFiles: mote test runs a package's tests in its directory,
// with its testdata (and the testdata of the directories above it, up to
// the module root) readable, t.TempDir writable, and the time zone database
// present, as go test does on the host.
func TestMoteTestFiles(t *testing.T) {
	t.Parallel()
	// In t.TempDir(), which is below /tmp: the guest's /tmp is its tmpfs,
	// where the sealed package directory appears as writable files.
	mod := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(mod, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pkgDir := filepath.Join(mod, "pkg")
	write("go.mod", "module example.com/mtfiles\n\ngo 1.26\n")
	write("testdata/up.txt", "from the module root\n")
	write("pkg/testdata/hello.txt", "hello testdata\n")
	write("pkg/testdata/sub/deep.txt", "deep\n")
	write("pkg/p.go", "package pkg\n")
	write("pkg/p_test.go", `package pkg

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWorkingDirectory(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil || wd != `+"`"+pkgDir+"`"+` {
		t.Fatalf("getwd = %q, %v", wd, err)
	}
	if _, err := os.Stat("p_test.go"); err != nil {
		t.Fatalf("own source: %v", err)
	}
}

func TestTestdata(t *testing.T) {
	for name, want := range map[string]string{
		"testdata/hello.txt":    "hello testdata\n",
		"testdata/sub/deep.txt": "deep\n",
		"../testdata/up.txt":    "from the module root\n",
	} {
		b, err := os.ReadFile(name)
		if err != nil || string(b) != want {
			t.Errorf("%s: %q, %v", name, b, err)
		}
	}
	// Below /tmp the package's files are copies in the guest's tmpfs:
	// writable, as on the host.
	if err := os.WriteFile("testdata/hello.txt", []byte("changed"), 0o644); err != nil {
		t.Errorf("writing into testdata: %v", err)
	}
	if b, _ := os.ReadFile("testdata/hello.txt"); string(b) != "changed" {
		t.Errorf("testdata/hello.txt after writing: %q", b)
	}
}

func TestTempDir(t *testing.T) {
	d := t.TempDir()
	p := filepath.Join(d, "f")
	if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p, p+"2"); err != nil {
		t.Fatal(err)
	}
}

func TestTimeZone(t *testing.T) {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 7, 1, 12, 0, 0, 0, loc)
	if _, off := ts.Zone(); off != -4*3600 {
		t.Fatalf("offset %d", off)
	}
}
`)
	r := moteInDir(t, mod, 5*time.Minute, "test", "-v", "./pkg")
	if r.code != 0 {
		t.Fatalf("mote test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, name := range []string{"TestWorkingDirectory", "TestTestdata", "TestTempDir", "TestTimeZone"} {
		if !strings.Contains(r.stdout, "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, r.stdout)
		}
	}
}

// TestTmpfsMounts: mote run --tmpfs mounts in-memory file systems where the
// user asks, each with its own size limit (ENOSPC), its own device (EXDEV),
// listed in /proc/self/mounts; missing directories on the way are made.
func TestTmpfsMounts(t *testing.T) {
	t.Parallel()
	r := mote(t, 3*time.Minute, "run", "--tmpfs", "/data:4M", "--tmpfs", "/srv/cache", "./progs/mounts")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"tmpfs /data tmpfs rw,nosuid,nodev,size=4096k,mode=1777 0 0\n",
		"tmpfs /srv/cache tmpfs rw,nosuid,nodev,size=",
		"write 3M <nil>\n",
		"write 3M more write /data/y: no space left on device\n",
		"blocks 1024 free 0\n",
		"rename across rename /data/x /tmp/x: invalid cross-device link\n",
		"nested true dtrwxrwxrwx\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, "<nil>\n") {
		t.Errorf("writing into /srv/cache failed:\n%s", r.stdout)
	}
	if r := mote(t, time.Minute, "run", "--tmpfs", "/proc/x", "./progs/mounts"); r.code != 125 || !strings.Contains(r.stderr, "/proc belongs to the library OS") {
		t.Errorf("--tmpfs /proc/x: exit %d, stderr %q", r.code, r.stderr)
	}
}
