package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMoteTest: mote test builds a package's tests with the library OS,
// runs them in a unikernel with go test's flags, and reports like go test.
func TestMoteTest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/tpkg\n\ngo 1.26\n")
	write("a.go", "package tpkg\n\nfunc Add(a, b int) int { return a + b }\n")
	write("a_test.go", `package tpkg

import (
	"net"
	"testing"
)

func TestAdd(t *testing.T) {
	if Add(2, 3) != 5 {
		t.Fatal("bad sum")
	}
}

func TestLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func TestLong(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	t.Error("deliberate failure")
}

func BenchmarkAdd(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Add(i, i)
	}
}
`)
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	write("empty/e.go", "package empty\n")

	run := func(args ...string) result {
		t.Helper()
		return moteInDir(t, dir, 5*time.Minute, append([]string{"test"}, args...)...)
	}
	// Failing run: exit 1, the failure and a FAIL line.
	r := run("./...")
	if r.code != 1 || !strings.Contains(r.stdout, "deliberate failure") || !strings.Contains(r.stdout, "FAIL\texample.com/tpkg") ||
		!strings.Contains(r.stdout, "?   \texample.com/tpkg/empty\t[no test files]") {
		t.Fatalf("mote test ./...: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// go test's flags, single-dash: -short skips, -run selects, -v lists.
	r = run("-short", "-v", "-run", "TestAdd|TestLong", ".")
	if r.code != 0 || !strings.Contains(r.stdout, "--- PASS: TestAdd") || !strings.Contains(r.stdout, "--- SKIP: TestLong") ||
		strings.Contains(r.stdout, "TestLoopback") || !strings.Contains(r.stdout, "ok  \texample.com/tpkg") {
		t.Fatalf("mote test -short -v -run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = run("-run", "^$", "-bench", ".", "-benchtime", "100x", ".")
	if r.code != 0 || !strings.Contains(r.stdout, "BenchmarkAdd") {
		t.Fatalf("mote test -bench: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// A standard-library package (the library OS joins the standard
	// library through a shadow GOROOT); flags after -- go to the binary.
	// Its examples capture their output through a pipe.
	r = run("-short", "errors", "--", "-test.v")
	if r.code != 0 || !strings.Contains(r.stdout, "--- PASS: TestNewEqual") || !strings.Contains(r.stdout, "--- PASS: ExampleJoin") ||
		!strings.Contains(r.stdout, "ok  \terrors") {
		t.Fatalf("mote test errors: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// -cover: the test binary reports its package's coverage.
	r = run("-cover", "-short", ".")
	if r.code != 0 || !strings.Contains(r.stdout, "coverage: ") || !strings.Contains(r.stdout, "% of statements") {
		t.Fatalf("mote test -cover: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// -json: go test's events, one JSON object per line.
	r = run("-json", "-short", ".")
	if r.code != 0 {
		t.Fatalf("mote test -json: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	var testPass, skip, pkgPass bool
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var ev struct{ Action, Package, Test string }
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("mote test -json: not a JSON event: %q", line)
		}
		switch {
		case ev.Action == "pass" && ev.Test == "TestAdd":
			testPass = true
		case ev.Action == "skip" && ev.Test == "TestLong":
			skip = true
		case ev.Action == "pass" && ev.Test == "" && ev.Package == "example.com/tpkg":
			pkgPass = true
		}
	}
	if !testPass || !skip || !pkgPass {
		t.Errorf("mote test -json: events missing (TestAdd pass %v, TestLong skip %v, package pass %v):\n%s", testPass, skip, pkgPass, r.stdout)
	}
}

// stdGreen is the standard-library subset whose tests pass under mote
// (see tools/conformance for the full report): kept green here. Besides
// portable packages it covers files (os-level io, bufio, io/fs,
// testing/fstest, archive/tar and compress/gzip with their testdata, embed),
// time zones (time), the network stack in standard-library tests
// (encoding/json and context serve HTTP and TCP on loopback), and atomics
// (sync/atomic).
var stdGreen = []string{
	"errors", "sort", "strings", "strconv", "bytes", "container/list", "container/ring",
	"unicode/utf8", "fmt", "hash/crc32", "encoding/base64", "encoding/hex",
	"io", "bufio", "io/fs", "testing/fstest", "archive/tar", "compress/gzip",
	"embed/internal/embedtest", "time", "encoding/json", "context", "net/url", "mime",
	"text/template", "log/slog", "sync/atomic",
}

// TestStdSubset runs the tests of stdGreen inside mote.
func TestStdSubset(t *testing.T) {
	t.Parallel()
	r := moteInDir(t, t.TempDir(), 10*time.Minute, append([]string{"test", "-short"}, stdGreen...)...)
	for _, p := range stdGreen {
		if !strings.Contains(r.stdout, "ok  \t"+p+"\t") {
			t.Errorf("%s did not pass under mote", p)
		}
	}
	if r.code != 0 || t.Failed() {
		t.Fatalf("mote test -short %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(stdGreen, " "), r.code, r.stdout, r.stderr)
	}
}

// stdGreenSMP runs with two vCPUs: packages whose tests exercise the
// runtime across threads (atomics, timers, the network stack, pipes).
var stdGreenSMP = []string{"sync/atomic", "context", "time", "encoding/json", "bufio", "io"}

// TestStdSubsetSMP runs stdGreenSMP inside mote with --cpus 2.
func TestStdSubsetSMP(t *testing.T) {
	t.Parallel()
	args := append([]string{"test", "-short", "-cpus", "2"}, stdGreenSMP...)
	r := moteInDir(t, t.TempDir(), 10*time.Minute, args...)
	for _, p := range stdGreenSMP {
		if !strings.Contains(r.stdout, "ok  \t"+p+"\t") {
			t.Errorf("%s did not pass under mote with 2 vCPUs", p)
		}
	}
	if r.code != 0 || t.Failed() {
		t.Fatalf("mote %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
}
