package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTestParallelFlag(t *testing.T) {
	f, pats, _, err := parseTestFlags([]string{"./a", "-p", "3", "./b"})
	if err != nil || f.parallel != 3 || strings.Join(pats, " ") != "./a ./b" {
		t.Errorf("-p 3: %+v %q %v", f, pats, err)
	}
	f, _, _, err = parseTestFlags([]string{"--p=2"})
	if err != nil || f.parallel != 2 {
		t.Errorf("--p=2: %d %v", f.parallel, err)
	}
	f, _, _, err = parseTestFlags(nil)
	if err != nil || f.parallel != runtime.NumCPU() {
		t.Errorf("default -p %d, want %d (%v)", f.parallel, runtime.NumCPU(), err)
	}
	for _, p := range []string{"0", "-1"} {
		status, stdout, stderr := runCLI("test", "-p", p, ".")
		if want := "mote: -p " + p + ": want at least 1\n"; status != ExitMoteError || stderr != want || stdout != "" {
			t.Errorf("mote test -p %s: status %d, stdout %q, stderr %q, want %q", p, status, stdout, stderr, want)
		}
	}
}

// lockedBuffer is one buffer for both streams, so that their interleaving
// can be checked.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRunOrdered: packages run up to par at once, and their output (both
// streams, in the order written) comes out whole and in package order
// although later packages finish first.
func TestRunOrdered(t *testing.T) {
	const n, par = 7, 3
	var out lockedBuffer
	var running, peak atomic.Int32
	var prevOK atomic.Bool
	prevOK.Store(true)
	all := runOrdered(context.Background(), n, par, &out, &out, func(ctx context.Context, i int, prev <-chan struct{}, stdout, stderr io.Writer) bool {
		r := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if r <= p || peak.CompareAndSwap(p, r) {
				break
			}
		}
		if (i == 0) != (prev == nil) {
			prevOK.Store(false)
		}
		for k := range 3 {
			fmt.Fprintf(stdout, "%d: out %d\n", i, k)
			time.Sleep(time.Duration(n-i) * 5 * time.Millisecond) // later packages finish first
			fmt.Fprintf(stderr, "%d: err %d\n", i, k)
		}
		fmt.Fprintf(stdout, "ok %d\n", i)
		return i != 4
	})
	if all {
		t.Errorf("runOrdered reported success with package 4 failing")
	}
	var want strings.Builder
	for i := range n {
		for k := range 3 {
			fmt.Fprintf(&want, "%d: out %d\n%d: err %d\n", i, k, i, k)
		}
		fmt.Fprintf(&want, "ok %d\n", i)
	}
	if got := out.String(); got != want.String() {
		t.Errorf("output:\n%s\nwant:\n%s", got, want.String())
	}
	if p := peak.Load(); p != par {
		t.Errorf("at most %d packages ran at once, want %d", p, par)
	}
	if !prevOK.Load() {
		t.Errorf("prev is nil for a package other than the first, or set for the first")
	}
}

// TestRunOrderedInterrupt: once the context is cancelled, the packages not
// yet started are neither started nor reported.
func TestRunOrderedInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	var started atomic.Int32
	all := runOrdered(ctx, 5, 2, &out, &out, func(ctx context.Context, i int, prev <-chan struct{}, stdout, stderr io.Writer) bool {
		started.Add(1)
		if i == 1 {
			cancel()
		}
		<-ctx.Done()
		fmt.Fprintf(stdout, "FAIL %d\n", i)
		return false
	})
	if all {
		t.Errorf("runOrdered reported success")
	}
	if s := started.Load(); s != 2 {
		t.Errorf("%d packages started, want 2", s)
	}
	if got, want := out.String(), "FAIL 0\nFAIL 1\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}

// TestMoteTestParallel runs mote test on several packages at once: two of
// them can only pass while running at the same time (they meet at a
// listener of this test, through the user-mode network), the first listed
// finishes last, and one fails, one has no tests and one does not build.
// The report must be in the order listed, each package's output whole, and
// the exit status 1.
func TestMoteTestParallel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots test binaries")
	}
	if !kvmUsable() {
		if os.Getenv("CI") == "true" {
			t.Fatal("/dev/kvm is not usable")
		}
		t.Skip("/dev/kvm is not usable")
	}
	// The meeting point: each guest connects and waits for a byte, sent
	// when two are connected.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			if len(conns) == 2 {
				for _, c := range conns {
					c.Write([]byte("g"))
					c.Close()
				}
				conns = nil
			}
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port

	dir := t.TempDir()
	write := func(name, src string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/par\n\ngo 1.26\n")
	meet := `
func meet(t *testing.T) {
	c, err := net.DialTimeout("tcp", os.Getenv("MEET"), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(3 * time.Minute))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("the other package's tests did not run at the same time: %v", err)
	}
}
`
	imports := "import (\n\t\"fmt\"\n\t\"net\"\n\t\"os\"\n\t\"testing\"\n\t\"time\"\n)\n"
	write("slow/slow_test.go", "package slow\n\n"+imports+meet+`
func TestSlow(t *testing.T) {
	meet(t)
	time.Sleep(2 * time.Second)
	fmt.Println("slow: output")
	fmt.Fprintln(os.Stderr, "slow: stderr")
}
`)
	write("fails/fails_test.go", "package fails\n\n"+imports+meet+`
func TestFails(t *testing.T) {
	meet(t)
	fmt.Println("fails: output")
	fmt.Fprintln(os.Stderr, "fails: stderr")
	t.Error("fails: deliberate failure")
}
`)
	write("notests/n.go", "package notests\n")
	write("quick/quick_test.go", `package quick

import (
	"fmt"
	"testing"
)

func TestQuick(t *testing.T) { fmt.Println("quick: output") }
`)
	write("broken/broken_test.go", `package broken

import "testing"

func TestBroken(t *testing.T) { undefinedThing() }
`)

	t.Chdir(dir)
	t0 := time.Now()
	status, stdout, stderr := runCLI("test", "-p", "2", "-e", fmt.Sprintf("MEET=10.0.2.2:%d", port),
		"./slow", "./fails", "./notests", "./quick", "./broken")
	t.Logf("mote test: %v", time.Since(t0))
	fatal := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s\nstatus %d\nstdout:\n%s\nstderr:\n%s", fmt.Sprintf(format, args...), status, stdout, stderr)
	}
	if status != 1 {
		fatal("exit status %d, want 1", status)
	}
	// The result lines, in the order listed.
	results := regexp.MustCompile(`(?m)^(ok  |FAIL|\?   )\t.*$`).FindAllString(stdout, -1)
	wantResults := []string{
		`^ok  \texample\.com/par/slow\t\d+\.\d{3}s$`,
		`^FAIL\texample\.com/par/fails\t\d+\.\d{3}s$`,
		`^\?   \texample\.com/par/notests\t\[no test files\]$`,
		`^ok  \texample\.com/par/quick\t\d+\.\d{3}s$`,
		`^FAIL\texample\.com/par/broken \[build failed\]$`,
	}
	if len(results) != len(wantResults) {
		fatal("result lines %q, want %d", results, len(wantResults))
	}
	for i, re := range wantResults {
		if !regexp.MustCompile(re).MatchString(results[i]) {
			fatal("result line %d is %q, want %s", i, results[i], re)
		}
	}
	// Each package's output comes whole, just before its result line.
	blocks := regexp.MustCompile(`(?m)^(ok  |FAIL|\?   )\t.*\n`).Split(stdout, -1)
	wantBlocks := []string{
		"^slow: output\nPASS\n$",
		"(?s)^fails: output\n--- FAIL: TestFails .*fails: deliberate failure\nFAIL\n$",
		"^$",
		"^quick: output\nPASS\n$",
		"^$",
		"^$", // after the last result line
	}
	if len(blocks) != len(wantBlocks) {
		fatal("%d blocks of output, want %d", len(blocks), len(wantBlocks))
	}
	for i, re := range wantBlocks {
		if !regexp.MustCompile(re).MatchString(blocks[i]) {
			fatal("output block %d is %q, want %s", i, blocks[i], re)
		}
	}
	// Standard error in the same order: slow's, fails', broken's errors.
	iSlow, iFails, iBroken := strings.Index(stderr, "slow: stderr\n"), strings.Index(stderr, "fails: stderr\n"), strings.Index(stderr, "undefined: undefinedThing")
	if iSlow < 0 || iFails < iSlow || iBroken < iFails {
		fatal("standard error not whole and in order")
	}
}
