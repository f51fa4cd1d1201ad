// Package tests boots real mote images under KVM and checks what the guest
// did. The mote binary and the images are built once per test run (TestMain)
// and shared by the tests, which run in parallel.
package tests

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/motevm/mote/image"
)

var (
	moteBin string            // the mote CLI under test
	images  map[string]string // program name -> image path
	work    string
)

func TestMain(m *testing.M) {
	if err := kvmUsable(); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "tests: %v: the end-to-end tests need KVM\n", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "tests: skipping end-to-end tests: %v\n", err)
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "mote-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	work = dir
	// The tests' image builds and instances stay out of the user's own
	// store and state (tests that need their own set MOTE_HOME again).
	os.Setenv("MOTE_HOME", filepath.Join(dir, "home"))
	code := 1
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "tests: setup: %v\n", err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func kvmUsable() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("cannot open /dev/kvm (%v)", err)
	}
	return f.Close()
}

func setup() error {
	moteBin = filepath.Join(work, "mote")
	build := exec.Command("go", "build", "-o", moteBin, "../cmd/mote")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as installed by the scripts
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building mote: %v\n%s", err, out)
	}
	images = map[string]string{}
	for name, pkg := range map[string]string{
		"hello":       "../examples/hello",
		"runtimetest": "./progs/runtimetest",
		"rawsyscall":  "./progs/rawsyscall",
		"memtest":     "./progs/memtest",
		"lazybss":     "./progs/lazybss",
		"kvstore":     "./progs/kvstore",
		"sysfiles":    "./progs/sysfiles",
		"oom":         "./progs/oom",
		"cat":         "./progs/cat",
		"nettest":     "./progs/nettest",
		"sockabi":     "./progs/sockabi",
		"httpd":       "../examples/httpd",
		"volume":      "./progs/volume",
	} {
		img := filepath.Join(work, name+".img")
		if out, err := exec.Command(moteBin, "build", "-o", img, pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("mote build %s: %v\n%s", pkg, err, out)
		}
		images[name] = img
	}
	return nil
}

type result struct {
	stdout, stderr string
	code           int
	elapsed        time.Duration
}

// mote runs the mote CLI with a deadline: a hang is a failure, not a stuck suite.
func mote(t *testing.T, timeout time.Duration, args ...string) result {
	t.Helper()
	return moteIn(t, timeout, "", args...)
}

// moteIn is mote with stdin as the CLI's standard input.
func moteIn(t *testing.T, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	return moteRun(t, "", timeout, stdin, args...)
}

// moteInDir is mote run in directory dir.
func moteInDir(t *testing.T, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	return moteRun(t, dir, timeout, "", args...)
}

func moteRun(t *testing.T, dir string, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	return moteExec(t, dir, nil, timeout, stdin, args...)
}

// moteExec runs the mote CLI in directory dir ("": the tests'), with env
// added to the environment (such as MOTE_HOME=...).
func moteExec(t *testing.T, dir string, env []string, timeout time.Duration, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, moteBin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.WaitDelay = 5 * time.Second
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	cmd.Stdin = strings.NewReader(stdin)
	t0 := time.Now()
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String(), elapsed: time.Since(t0)}
	if ctx.Err() != nil {
		t.Fatalf("mote %s: did not finish within %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, r.stdout, r.stderr)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("mote %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func TestHelloArgsEnvExitStatus(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", "-e", "GREETING=hi there", "-e", "EXIT_CODE=3", images["hello"], "--", "big", "world")
	if r.code != 3 {
		t.Errorf("exit status %d, want 3; stderr:\n%s", r.code, r.stderr)
	}
	if want := "hello, big world\nhi there\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("unexpected stderr %q", r.stderr)
	}
}

func TestHelloIn32MiB(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", "-m", "32M", images["hello"], "--", "small")
	if r.code != 0 || r.stdout != "hello, small\n" {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestRunPackageBuildsAndBoots(t *testing.T) {
	t.Parallel()
	r := mote(t, 120*time.Second, "run", "../examples/hello", "--", "from", "source")
	if r.code != 0 || r.stdout != "hello, from source\n" {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestBakedArgsAndEnv(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "baked.img")
	if out, err := exec.Command(moteBin, "build", "-o", img, "--arg", "baked", "-e", "GREETING=from build", "../examples/hello").CombinedOutput(); err != nil {
		t.Fatalf("mote build: %v\n%s", err, out)
	}
	r := mote(t, 30*time.Second, "run", img, "--", "runtime")
	if want := "hello, baked runtime\nfrom build\n"; r.code != 0 || r.stdout != want {
		t.Errorf("exit %d stdout %q, want %q; stderr %q", r.code, r.stdout, want, r.stderr)
	}
	// -e at run time overrides the baked value.
	r = mote(t, 30*time.Second, "run", "-e", "GREETING=from run", img)
	if want := "hello, baked\nfrom run\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
}

func TestRuntime(t *testing.T) {
	t.Parallel()
	// One vCPU, and two, where every vCPU schedules threads (SMP).
	for _, cpus := range []string{"1", "2"} {
		t.Run("cpus"+cpus, func(t *testing.T) {
			host := strconv.FormatInt(time.Now().UnixNano(), 10)
			r := mote(t, 120*time.Second, "run", "-m", "160M", "--cpus", cpus, "-e", "RT_ENV=yes", "-e", "HOST_NOW="+host, images["runtimetest"])
			t.Logf("guest output:\n%s", r.stdout)
			if r.code != 0 || !strings.Contains(r.stdout, "all ok") {
				t.Errorf("runtime checks failed: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// The program sees the machine it runs on: sysinfo(2) and /proc/meminfo
// report the guest's memory, and its standard streams, collected by the
// test (not terminals), are pipes as for a process whose output is
// captured.
func TestSysinfo(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", "-m", "96M", images["runtimetest"], "--", "sysinfo")
	want := "sysinfo total 96 MiB, free>0 true, unit 1; meminfo total 98304 kB\n" +
		"/dev/stdin chardev false fifo true\n/dev/stdout chardev false fifo true\n/dev/stderr chardev false fifo true\n" +
		"/proc/self -> 1; stat fields 52 pid 1 comm (runtimetest); cmdline \"runtimetest\\x00sysinfo\\x00\"; limits true; btime ok\n" +
		"fd dir <nil>: 2 more after a pipe; first 0 L---------\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
}

// A program finds the time zone database and, with a network, the root
// certificates, as on a Linux machine (mote build adds them).
func TestTimeZonesAndRoots(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", images["sysfiles"])
	if want := "tz 2026-01-15T07:00:00-05:00\nroots true\n"; r.code != 0 || r.stdout != want {
		t.Errorf("exit %d, stdout %q, want %q; stderr %q", r.code, r.stdout, want, r.stderr)
	}
}

func TestUnrecoveredPanic(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", images["runtimetest"], "--", "panic")
	if r.code != 2 {
		t.Errorf("exit status %d, want 2", r.code)
	}
	for _, want := range []string{"panic: deliberate unrecovered panic", "goroutine 1 [running]:", "main.main()"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("the traceback must go to stderr only; stdout %q", r.stdout)
	}
}

func TestRandomDiffersBetweenBoots(t *testing.T) {
	t.Parallel()
	a := mote(t, 30*time.Second, "run", images["runtimetest"], "--", "rand")
	b := mote(t, 30*time.Second, "run", images["runtimetest"], "--", "rand")
	hexRE := regexp.MustCompile(`^[0-9a-f]{64}\n$`)
	if !hexRE.MatchString(a.stdout) || !hexRE.MatchString(b.stdout) {
		t.Fatalf("bad output %q / %q (stderr %q %q)", a.stdout, b.stdout, a.stderr, b.stderr)
	}
	if a.stdout == b.stdout {
		t.Errorf("crypto/rand gave the same bytes in two boots: %s", a.stdout)
	}
	if strings.Contains(a.stdout, strings.Repeat("0", 16)) {
		t.Errorf("suspicious zeros in random output %s", a.stdout)
	}
}

func TestNumCPU(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 2} {
		r := mote(t, 30*time.Second, "run", "--cpus", strconv.Itoa(n), images["runtimetest"], "--", "numcpu")
		want := fmt.Sprintf("numcpu %d gomaxprocs %d\n", n, n)
		if r.stdout != want {
			t.Errorf("--cpus %d: %q, want %q (stderr %q)", n, r.stdout, want, r.stderr)
		}
	}
}

func TestStraySyscallTrapPath(t *testing.T) {
	t.Parallel()
	r := mote(t, 30*time.Second, "run", images["rawsyscall"])
	want := "written by a raw SYSCALL\nrawgetpid=1 getpid=1 write=25\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("exit %d stdout %q, want %q; stderr %q", r.code, r.stdout, want, r.stderr)
	}
}

// Every bad input gets one clear sentence and a non-zero exit, never a hang.
func TestBadInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notELF := filepath.Join(dir, "notes.txt")
	os.WriteFile(notELF, []byte("just some text\n"), 0o644)
	native := filepath.Join(dir, "native")
	if out, err := exec.Command("go", "build", "-o", native, "../examples/hello").CombinedOutput(); err != nil {
		t.Fatalf("native build: %v\n%s", err, out)
	}
	img, err := os.ReadFile(images["hello"])
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.img")
	os.WriteFile(truncated, img[:len(img)/3], 0o644)
	cases := []struct {
		name string
		args []string
		want string // regexp on stderr
	}{
		{"missing file", []string{"run", filepath.Join(dir, "nope.img")}, `no such`},
		{"not an ELF", []string{"run", notELF}, `not an ELF`},
		{"not a mote image", []string{"run", native}, `not a mote image`},
		{"truncated image", []string{"run", truncated}, `truncated`},
		{"memory too small", []string{"run", "-m", "4M", images["hello"]}, `too small`},
		{"bad memory size", []string{"run", "-m", "lots", images["hello"]}, `memory`},
		{"not a main package", []string{"build", "-o", filepath.Join(dir, "x.img"), "../abi"}, `not a main package`},
	}
	for _, c := range cases {
		r := mote(t, 60*time.Second, c.args...)
		if r.code == 0 {
			t.Errorf("%s: exit status 0", c.name)
		}
		if !regexp.MustCompile(c.want).MatchString(r.stderr) {
			t.Errorf("%s: stderr %q does not match %q", c.name, r.stderr, c.want)
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); c.name != "not a main package" && lines > 0 {
			t.Errorf("%s: want one line, got:\n%s", c.name, r.stderr)
		}
	}
}

// Without access to /dev/kvm (an unprivileged user) the error says so.
func TestNoKVMPermission(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run mote as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv not installed")
	}
	fi, err := os.Stat("/dev/kvm")
	if err != nil || fi.Mode().Perm()&0o006 != 0 {
		t.Skip("/dev/kvm is world-accessible here")
	}
	// The binary and image must be readable by nobody.
	dir, err := os.MkdirTemp("", "mote-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	bin, img := filepath.Join(dir, "mote"), filepath.Join(dir, "hello.img")
	for src, dst := range map[string]string{moteBin: bin, images["hello"]: img} {
		b, _ := os.ReadFile(src)
		os.WriteFile(dst, b, 0o755)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", bin, "run", img).CombinedOutput()
	if err == nil {
		t.Fatalf("mote run as nobody succeeded: %s", out)
	}
	if !strings.Contains(string(out), "permission") || !strings.Contains(string(out), "/dev/kvm") {
		t.Errorf("unclear error: %q", out)
	}
}

// Without /dev/kvm at all (a private mount namespace hides it) the error says so.
func TestNoKVMDevice(t *testing.T) {
	t.Parallel()
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	script := fmt.Sprintf("mount -t tmpfs none /dev && exec %s run %s", moteBin, images["hello"])
	out, err := exec.CommandContext(ctx, unshare, "-m", "sh", "-c", script).CombinedOutput()
	if err == nil {
		t.Fatalf("mote run without /dev/kvm succeeded: %s", out)
	}
	if !strings.Contains(string(out), "/dev/kvm does not exist") {
		t.Errorf("unclear error: %q", out)
	}
}

// Memory semantics of the library OS: MADV_DONTNEED zeroes, freed frames are
// unreachable through old mappings, partial munmap, mprotect, vector
// registers across faults and interrupts, string copies into fresh memory.
func TestMemorySemantics(t *testing.T) {
	t.Parallel()
	r := mote(t, 120*time.Second, "run", "-m", "64M", images["memtest"])
	if r.code != 0 || !strings.Contains(r.stdout, "memtest ok") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// Demand-zero data: a program with a 96 MiB zeroed global runs in 32 MiB,
// pays for the pages it touches (and is OOM-killed when they exceed its
// memory), and uses untouched pages as system call buffers.
func TestDemandZeroData(t *testing.T) {
	t.Parallel()
	img, err := image.Open(images["lazybss"])
	if err != nil {
		t.Fatal(err)
	}
	lazy := uint64(0)
	for _, r := range img.Lazy {
		lazy += r.End - r.Start
	}
	img.Close()
	if lazy < 95<<20 || lazy > 96<<20 {
		t.Errorf("the image's demand-zero ranges %v cover %d bytes, want the 96 MiB array", img.Lazy, lazy)
	}
	r := mote(t, 60*time.Second, "run", "-m", "32M", images["lazybss"], "--", "20")
	if r.code != 0 || !strings.Contains(r.stdout, "lazybss ok") {
		t.Errorf("touching 20 MiB in 32: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = mote(t, 60*time.Second, "run", "-m", "32M", images["lazybss"], "--", "40")
	if r.code != 137 || !strings.Contains(r.stderr, "ran out of memory (32 MiB") {
		t.Errorf("touching 40 MiB in 32: exit %d, want 137 (OOM)\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// Vector state across preemption: Go's memmove uses AVX when the CPU has it
// (on PVM the guest runs on the host CPU), so a context switch that saved
// only the FXSAVE state lost the upper halves of YMM registers and copies
// came out with 16-byte holes. Pointer-slice copies (memmove) under
// asynchronous preemption, with and without the GC, and string copies into
// fresh memory catch it.
func TestVectorStateAcrossPreemption(t *testing.T) {
	t.Parallel()
	for _, env := range [][]string{{"-e", "COPIES_PROCS=1", "-e", "GOGC=off"}, {"-e", "COPIES_PROCS=1"}, {}} {
		args := append(append([]string{"run", "-m", "512M"}, env...), images["runtimetest"], "--", "copies")
		r := mote(t, 120*time.Second, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "copies ok") {
			t.Errorf("copies %v: exit %d\nstdout:\n%s", env, r.code, r.stdout)
		}
	}
	r := mote(t, 120*time.Second, "run", "-m", "64M", "-e", "MEMTEST_STRESS=1", images["memtest"])
	if r.code != 0 || !strings.Contains(r.stdout, "memtest ok") {
		t.Errorf("memtest stress: exit %d\nstdout:\n%s", r.code, r.stdout)
	}
}

// Mutex-protected counters and float state across preemptions and thread
// switches; a lost register shows up as a broken invariant.
func TestStateAcrossPreemption(t *testing.T) {
	t.Parallel()
	r := mote(t, 120*time.Second, "run", "-m", "256M", images["runtimetest"], "--", "stress")
	if r.code != 0 || !strings.Contains(r.stdout, "bad 0") {
		t.Errorf("stress: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	r = mote(t, 120*time.Second, "run", "-m", "256M", images["runtimetest"], "--", "xmm")
	if r.code != 0 || r.stdout != "xmm bad 0\n" {
		t.Errorf("xmm: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// A guest that needs more memory than it has is killed like Linux's OOM
// killer kills a process, with a sentence that says what to do.
func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	r := mote(t, 60*time.Second, "run", "-m", "64M", images["oom"])
	if r.code != 137 || !strings.Contains(r.stderr, "ran out of memory (64 MiB: program ") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = mote(t, 60*time.Second, "run", "-m", "512M", images["oom"])
	if r.code != 0 || r.stdout != "allocated 400 MiB\n" {
		t.Errorf("with enough memory: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

// The guest reads mote's standard input: line by line, in bulk, and end of
// input when there is none.
func TestStdin(t *testing.T) {
	t.Parallel()
	r := moteIn(t, 30*time.Second, "hello\nworld\n", "run", images["cat"], "--", "lines")
	if r.code != 0 || r.stdout != "1 HELLO\n2 WORLD\n" {
		t.Errorf("lines: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB
	r = moteIn(t, 30*time.Second, big, "run", images["cat"])
	if r.code != 0 || r.stdout != "read 1048576 bytes, err <nil>\n" {
		t.Errorf("bulk: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	r = mote(t, 30*time.Second, "run", images["cat"])
	if r.code != 0 || r.stdout != "read 0 bytes, err <nil>\n" {
		t.Errorf("empty: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestProfile: --profile samples the guest from outside and names the
// program's functions.
func TestProfile(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "prof.txt")
	host := strconv.FormatInt(time.Now().UnixNano(), 10)
	r := mote(t, 120*time.Second, "run", "-m", "128M", "--profile", out, "-e", "RT_ENV=yes", "-e", "HOST_NOW="+host, images["runtimetest"])
	if r.code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	p := string(b)
	m := regexp.MustCompile(`mote profile: (\d+) timer ticks every 10ms: (\d+) in the program`).FindStringSubmatch(p)
	if m == nil {
		t.Fatalf("no profile header:\n%s", p)
	}
	if n, _ := strconv.Atoi(m[2]); n < 5 {
		t.Fatalf("only %d samples in the program:\n%s", n, p)
	}
	// Samples are symbolized with the image's symbols: Go functions.
	if !regexp.MustCompile(`(?m)^\s+\d+\s+[\d.]+%\s+(runtime|main|sync|internal|github\.com)[./]`).MatchString(p) {
		t.Fatalf("no symbolized samples:\n%s", p)
	}
}

// TestCPUProfile: runtime/pprof's CPU profiler works in the guest (per-thread
// CPU timers deliver SIGPROF), and getrusage reports the CPU time used.
func TestCPUProfile(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "cpuprof.img")
	if r := mote(t, 3*time.Minute, "build", "-o", img, "./progs/cpuprof"); r.code != 0 {
		t.Fatalf("mote build: %s%s", r.stdout, r.stderr)
	}
	r := mote(t, time.Minute, "run", img)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var cpuMs int
	if len(lines) != 2 || func() error { _, err := fmt.Sscanf(lines[0], "cpu %d", &cpuMs); return err }() != nil {
		t.Fatalf("unexpected output:\n%.300s", r.stdout)
	}
	if cpuMs < 700 {
		t.Errorf("getrusage: %d ms of CPU time for a second of hashing, want about 1000", cpuMs)
	}
	raw, err := hex.DecodeString(lines[1])
	if err != nil {
		t.Fatal(err)
	}
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	if err := os.WriteFile(prof, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", prof).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	// About 100 samples at 100 Hz; the hot loop must dominate them.
	m := regexp.MustCompile(`Total samples = (\d+)ms`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no samples in the profile:\n%s", out)
	}
	if total, _ := strconv.Atoi(string(m[1])); total < 500 {
		t.Errorf("profile holds %d ms of samples for a second of CPU, want at least 500:\n%s", total, out)
	}
	if !strings.Contains(string(out), "main.hashLoop") || !strings.Contains(string(out), "sha256") {
		t.Errorf("profile does not show the hot loop:\n%s", out)
	}
}
