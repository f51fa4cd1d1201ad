// Command bench measures mote against a native baseline taken in the same
// run, on the same machine, and prints the figures side by side:
//
//	go run ./tools/bench [-n 30] [-json]
//
// It builds the mote CLI, examples/hello and tests/progs/sysbench (natively
// and as mote images) into a temporary directory, then measures, with -n
// interleaved runs of each (medians and 90th percentiles):
//
//   - cold start: wall time from just before exec to the process's exit,
//     `hello.native world` against `mote run hello.img -- world`;
//   - time to the first line of output (read through a pipe);
//   - image size against native binary size;
//   - peak RSS (getrusage maxrss) of the process, and from the monitor's
//     MOTE_STATS=1 line: guest pages resident, VM exits, setup and guest time;
//   - the per-call cost of getpid, gettid, syscall.Syscall, time.Now and
//     the monotonic clock, from sysbench run natively and in the guest.
//
// Every command runs under a timeout, so the benchmark never hangs.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	flagN        = flag.Int("n", 30, "runs of each cold-start measurement")
	flagJSON     = flag.Bool("json", false, "print machine-readable JSON instead of the table")
	flagSysN     = flag.Int("sysbench-n", 2_000_000, "iterations per repetition in sysbench")
	flagSysRuns  = flag.Int("sysbench-runs", 3, "runs of sysbench each way (the median of their figures is used)")
	flagTimeout  = flag.Duration("timeout", 2*time.Minute, "timeout for each run of a program")
	flagBuildTO  = flag.Duration("build-timeout", 10*time.Minute, "timeout for each build")
	flagKeep     = flag.Bool("keep", false, "keep the temporary directory with the binaries and images")
	flagMemory   = flag.String("m", "", "guest RAM passed to mote run -m (default: mote's default)")
	flagProgress = flag.Bool("v", false, "print progress to stderr")
)

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./tools/bench [flags]\n\nMeasures mote against native runs of the same programs, in the same run.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || *flagN < 1 || *flagSysRuns < 1 || *flagSysN < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// report is everything the benchmark found; it is also the -json output.
type report struct {
	Date     string    `json:"date"`
	Machine  machine   `json:"machine"`
	Commands []string  `json:"commands"`
	Runs     int       `json:"runs"`
	Rows     []row     `json:"rows"`
	Samples  samples   `json:"samples"`
	Targets  []target  `json:"targets"`
	Stats    []string  `json:"mote_stats_example,omitempty"`
	Sysbench sysReport `json:"sysbench"`
}

type machine struct {
	CPUs      int    `json:"nproc"`
	Model     string `json:"cpu_model"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	KVM       string `json:"kvm"`
	Source    string `json:"source"` // the commit measured
}

// row is one line of the table. Native or Mote is NaN when it does not
// apply (null in JSON).
type row struct {
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	Native jfloat `json:"native"`
	Mote   jfloat `json:"mote"`
	Ratio  jfloat `json:"ratio"` // mote/native
	Prec   int    `json:"-"`     // decimals in the table
}

type jfloat float64

func (f jfloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(float64(f), 'g', -1, 64)), nil
}

type samples struct {
	NativeWallMs  []float64            `json:"native_wall_ms"`
	MoteWallMs    []float64            `json:"mote_wall_ms"`
	NativeFirstMs []float64            `json:"native_first_line_ms"`
	MoteFirstMs   []float64            `json:"mote_first_line_ms"`
	NativeRSSKiB  []float64            `json:"native_maxrss_kib"`
	MoteRSSKiB    []float64            `json:"mote_maxrss_kib"`
	MoteStats     []map[string]float64 `json:"mote_stats"`
	MoteCLIMs     []float64            `json:"mote_version_wall_ms"`
}

type sysReport struct {
	Native [][]string `json:"native_outputs"`
	Mote   [][]string `json:"mote_outputs"`
}

type target struct {
	Goal string `json:"goal"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

var nan = jfloat(math.NaN())

func progress(format string, a ...any) {
	if *flagProgress {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	}
}

func run() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if err := checkKVM(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mote-bench-")
	if err != nil {
		return err
	}
	if *flagKeep {
		fmt.Fprintf(os.Stderr, "bench: keeping %s\n", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	p := func(name string) string { return filepath.Join(tmp, name) }
	rep := &report{Date: time.Now().UTC().Format("2006-01-02 15:04 MST"), Runs: *flagN, Machine: describeMachine()}
	rep.Machine.Source = describeSource(root)

	// Builds.
	builds := [][]string{
		// The monitor is built static (no libc, no dynamic loader): 1-1.5 ms
		// less process start-up on these machines.
		{"env", "CGO_ENABLED=0", "go", "build", "-o", p("mote"), "./cmd/mote"},
		{"go", "build", "-o", p("hello.native"), "./examples/hello"},
		{p("mote"), "build", "-o", p("hello.img"), "./examples/hello"},
		{"go", "build", "-o", p("sysbench.native"), "./tests/progs/sysbench"},
		{p("mote"), "build", "-o", p("sysbench.img"), "./tests/progs/sysbench"},
	}
	for _, b := range builds {
		progress("%s", strings.Join(b, " "))
		rep.Commands = append(rep.Commands, "(cd "+root+" && "+strings.Join(b, " ")+")")
		ctx, cancel := context.WithTimeout(context.Background(), *flagBuildTO)
		cmd := exec.CommandContext(ctx, b[0], b[1:]...)
		cmd.Dir = root
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(b, " "), err, out)
		}
	}

	moteRun := func(img string, args ...string) []string {
		c := []string{p("mote"), "run"}
		if *flagMemory != "" {
			c = append(c, "-m", *flagMemory)
		}
		c = append(c, img)
		if len(args) > 0 {
			c = append(append(c, "--"), args...)
		}
		return c
	}
	moteVersion := []string{p("mote"), "version"}
	helloNative := []string{p("hello.native"), "world"}
	helloMote := moteRun(p("hello.img"), "world")
	sysArgs := []string{"-n", strconv.Itoa(*flagSysN)}
	sysNative := append([]string{p("sysbench.native")}, sysArgs...)
	sysMote := moteRun(p("sysbench.img"), sysArgs...)
	rep.Commands = append(rep.Commands,
		shell(helloNative, false), shell(helloMote, true), shell(moteVersion, false),
		shell(sysNative, false), shell(sysMote, true))

	// Cold start, first line, RSS: interleaved, after one unmeasured
	// warm-up run of each (page cache).
	const want = "hello, world\n"
	if _, err := runOnce(helloNative, want, false); err != nil {
		return err
	}
	if _, err := runOnce(helloMote, want, true); err != nil {
		return err
	}
	s := &rep.Samples
	for i := 0; i < *flagN; i++ {
		progress("hello run %d/%d", i+1, *flagN)
		nr, err := runOnce(helloNative, want, false)
		if err != nil {
			return err
		}
		mr, err := runOnce(helloMote, want, true)
		if err != nil {
			return err
		}
		vr, err := runOnce(moteVersion, "", false)
		if err != nil {
			return err
		}
		s.MoteCLIMs = append(s.MoteCLIMs, ms(vr.wall))
		s.NativeWallMs = append(s.NativeWallMs, ms(nr.wall))
		s.MoteWallMs = append(s.MoteWallMs, ms(mr.wall))
		s.NativeFirstMs = append(s.NativeFirstMs, ms(nr.first))
		s.MoteFirstMs = append(s.MoteFirstMs, ms(mr.first))
		s.NativeRSSKiB = append(s.NativeRSSKiB, float64(nr.maxRSS))
		s.MoteRSSKiB = append(s.MoteRSSKiB, float64(mr.maxRSS))
		s.MoteStats = append(s.MoteStats, mr.stats)
		if i == 0 {
			rep.Stats = []string{mr.statsLine}
		}
	}

	// Sizes.
	nsz, err := fileSize(p("hello.native"))
	if err != nil {
		return err
	}
	isz, err := fileSize(p("hello.img"))
	if err != nil {
		return err
	}

	// sysbench.
	sysNat, sysMote2 := map[string][]float64{}, map[string][]float64{}
	var order []string
	for i := 0; i < *flagSysRuns; i++ {
		progress("sysbench run %d/%d", i+1, *flagSysRuns)
		for _, side := range []struct {
			cmd  []string
			mote bool
			into map[string][]float64
			outs *[][]string
		}{{sysNative, false, sysNat, &rep.Sysbench.Native}, {sysMote, true, sysMote2, &rep.Sysbench.Mote}} {
			r, err := runOnce(side.cmd, "", side.mote)
			if err != nil {
				return err
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				f := strings.Fields(l)
				if len(f) != 2 {
					return fmt.Errorf("%s: unexpected output line %q", shell(side.cmd, side.mote), l)
				}
				v, err := strconv.ParseFloat(f[1], 64)
				if err != nil {
					return fmt.Errorf("%s: unexpected output line %q", shell(side.cmd, side.mote), l)
				}
				if _, ok := sysNat[f[0]]; !ok && !side.mote && i == 0 {
					order = append(order, f[0])
				}
				side.into[f[0]] = append(side.into[f[0]], v)
				lines = append(lines, l)
			}
			*side.outs = append(*side.outs, lines)
		}
	}

	// The table.
	add := func(metric, unit string, prec int, native, mote float64) {
		rep.Rows = append(rep.Rows, row{Metric: metric, Unit: unit, Prec: prec, Native: jfloat(native), Mote: jfloat(mote), Ratio: jfloat(mote / native)})
	}
	addMote := func(metric, unit string, prec int, mote float64) {
		rep.Rows = append(rep.Rows, row{Metric: metric, Unit: unit, Prec: prec, Native: nan, Mote: jfloat(mote), Ratio: nan})
	}
	add("hello: cold start wall, median", "ms", 2, median(s.NativeWallMs), median(s.MoteWallMs))
	add("hello: cold start wall, p90", "ms", 2, p90(s.NativeWallMs), p90(s.MoteWallMs))
	add("hello: first output line, median", "ms", 2, median(s.NativeFirstMs), median(s.MoteFirstMs))
	add("hello: first output line, p90", "ms", 2, p90(s.NativeFirstMs), p90(s.MoteFirstMs))
	add("hello: file size", "bytes", 0, float64(nsz), float64(isz))
	add("hello: file size", "MiB", 2, float64(nsz)/(1<<20), float64(isz)/(1<<20))
	rep.Rows = append(rep.Rows, row{Metric: "hello: image - native size", Unit: "KiB", Prec: 1, Native: nan, Mote: jfloat(float64(isz-nsz) / 1024), Ratio: nan})
	add("hello: peak RSS (maxrss), median", "KiB", 0, median(s.NativeRSSKiB), median(s.MoteRSSKiB))
	statMed := func(k string) float64 {
		var v []float64
		for _, m := range s.MoteStats {
			if x, ok := m[k]; ok {
				v = append(v, x)
			}
		}
		return median(v)
	}
	addMote("hello: guest pages resident (4 KiB), median", "pages", 0, statMed("guest_pages_touched"))
	addMote("hello: VM exits per run, median", "exits", 0, statMed("exits"))
	addMote("mote CLI alone (mote version) wall, median", "ms", 2, median(s.MoteCLIMs))
	addMote("hello: monitor setup (to first KVM_RUN), median", "ms", 2, statMed("setup_us")/1000)
	addMote("hello: guest run (first KVM_RUN to exit), median", "ms", 2, statMed("guest_us")/1000)
	for _, k := range order {
		label := map[string]string{
			"getpid_ns":         "syscall.Getpid (raw syscall)",
			"gettid_ns":         "syscall.Gettid (raw syscall)",
			"syscall_getpid_ns": "syscall.Syscall(SYS_GETPID)",
			"time_now_ns":       "time.Now()",
			"clock_mono_ns":     "time.Since (nanotime)",
		}[k]
		if label == "" {
			label = k
		}
		add("sysbench: "+label+", per call", "ns", 1, median(sysNat[k]), median(sysMote2[k]))
	}

	// Targets of issue 2.
	wallRatio := median(s.MoteWallMs) / median(s.NativeWallMs)
	rep.Targets = append(rep.Targets,
		target{"hello wall time <= 3x native", fmt.Sprintf("%.2fx", wallRatio), wallRatio <= 3},
		target{"image <= native size + 1 MiB", fmt.Sprintf("%+.2f MiB", float64(isz-nsz)/(1<<20)), isz-nsz <= 1<<20})
	for _, k := range []string{"getpid_ns", "time_now_ns"} {
		if len(sysNat[k]) == 0 || len(sysMote2[k]) == 0 {
			continue
		}
		r := median(sysMote2[k]) / median(sysNat[k])
		goal := map[string]string{"getpid_ns": "a system call (getpid) no slower than native", "time_now_ns": "time.Now() no slower than native"}[k]
		rep.Targets = append(rep.Targets, target{goal, fmt.Sprintf("%.2fx", r), r <= 1})
	}

	if *flagJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(rep)
	}
	printReport(os.Stdout, rep)
	return nil
}

// result is one run of a program.
type result struct {
	wall, first time.Duration
	maxRSS      int64 // KiB
	stdout      string
	stats       map[string]float64
	statsLine   string
}

// runOnce runs argv, timing it from just before Start to the return of
// Wait, and the first '\n' on its stdout. With mote set it runs with
// MOTE_STATS=1 and parses the stats line from stderr. want, if not empty,
// is the exact stdout expected.
func runOnce(argv []string, want string, mote bool) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), *flagTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	if mote {
		cmd.Env = append(cmd.Env, "MOTE_STATS=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	pr, pw, err := os.Pipe()
	if err != nil {
		return result{}, err
	}
	cmd.Stdout = pw

	type readResult struct {
		out   []byte
		first time.Time
	}
	done := make(chan readResult, 1)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return result{}, fmt.Errorf("%s: %v", shell(argv, mote), err)
	}
	pw.Close() // the child has it
	go func() {
		var rr readResult
		br := bufio.NewReader(pr)
		line, err := br.ReadBytes('\n')
		if err == nil {
			rr.first = time.Now()
		}
		rest, _ := io.ReadAll(br)
		rr.out = append(line, rest...)
		done <- rr
	}()
	werr := cmd.Wait()
	wall := time.Since(t0)
	var rr readResult
	select {
	case rr = <-done:
	case <-time.After(10 * time.Second):
		pr.Close()
		rr = <-done
	}
	pr.Close()
	cmdline := shell(argv, mote)
	if ctx.Err() != nil {
		return result{}, fmt.Errorf("%s: timed out after %v (raise -timeout)", cmdline, *flagTimeout)
	}
	if werr != nil {
		return result{}, fmt.Errorf("%s: %v\nstdout: %s\nstderr: %s", cmdline, werr, rr.out, stderr.Bytes())
	}
	r := result{wall: wall, stdout: string(rr.out)}
	if !rr.first.IsZero() {
		r.first = rr.first.Sub(t0)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.maxRSS = ru.Maxrss
	}
	if want != "" && r.stdout != want {
		return result{}, fmt.Errorf("%s: stdout %q, want %q (stderr: %s)", cmdline, r.stdout, want, stderr.Bytes())
	}
	if mote {
		r.stats, r.statsLine = parseStats(stderr.String())
		if r.stats == nil {
			return result{}, fmt.Errorf("%s: no mote-stats line on stderr (is this mote too old for MOTE_STATS?): %q", cmdline, stderr.String())
		}
	}
	return r, nil
}

// parseStats finds the mote-stats line in stderr.
func parseStats(stderr string) (map[string]float64, string) {
	for _, l := range strings.Split(stderr, "\n") {
		rest, ok := strings.CutPrefix(l, "mote-stats:")
		if !ok {
			continue
		}
		m := map[string]float64{}
		for _, f := range strings.Fields(rest) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			if x, err := strconv.ParseFloat(v, 64); err == nil {
				m[k] = x
			}
		}
		return m, l
	}
	return nil, ""
}

func printReport(w io.Writer, rep *report) {
	m := rep.Machine
	fmt.Fprintf(w, "mote benchmark, %s\n", rep.Date)
	fmt.Fprintf(w, "machine: %d CPUs, %s, Linux %s, %s, %s\n", m.CPUs, m.Model, m.Kernel, m.GoVersion, m.KVM)
	fmt.Fprintf(w, "source: %s\n\n", m.Source)

	head := []string{"metric", "unit", "native", "mote", "mote/native"}
	cells := [][]string{head}
	for _, r := range rep.Rows {
		cells = append(cells, []string{r.Metric, r.Unit, num(r.Native, r.Prec), num(r.Mote, r.Prec), ratio(r.Ratio)})
	}
	width := make([]int, len(head))
	for _, c := range cells {
		for i, s := range c {
			width[i] = max(width[i], len([]rune(s)))
		}
	}
	for j, c := range cells {
		var b strings.Builder
		for i, s := range c {
			if i > 0 {
				b.WriteString(" | ")
			}
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if i < 2 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(pad + s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if j == 0 {
			var sep []string
			for _, n := range width {
				sep = append(sep, strings.Repeat("-", n))
			}
			fmt.Fprintln(w, strings.Join(sep, "-|-"))
		}
	}
	fmt.Fprintf(w, "\n%d interleaved runs of each hello command (after one warm-up run each); sysbench: median of %d runs each way, each the median of 5 repetitions.\n", rep.Runs, len(rep.Sysbench.Native))

	fmt.Fprintf(w, "\ntargets (issue 2):\n")
	for _, t := range rep.Targets {
		mark := "MISSED"
		if t.Met {
			mark = "met"
		}
		fmt.Fprintf(w, "  %-46s %-10s %s\n", t.Goal, t.Got, mark)
	}
	if len(rep.Stats) > 0 {
		fmt.Fprintf(w, "\nfirst MOTE_STATS line of `mote run hello.img`:\n  %s\n", rep.Stats[0])
	}
	fmt.Fprintf(w, "\ncommands:\n")
	for _, c := range rep.Commands {
		fmt.Fprintf(w, "  %s\n", c)
	}
}

func num(f jfloat, prec int) string {
	if math.IsNaN(float64(f)) {
		return "-"
	}
	return strconv.FormatFloat(float64(f), 'f', prec, 64)
}

func ratio(f jfloat) string {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return "-"
	}
	return strconv.FormatFloat(float64(f), 'f', 2, 64) + "x"
}

func median(v []float64) float64 { return quantile(v, 0.5) }
func p90(v []float64) float64    { return quantile(v, 0.9) }

// quantile returns the nearest-rank q-quantile of v (NaN if v is empty).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func shell(argv []string, mote bool) string {
	s := strings.Join(argv, " ")
	if mote {
		s = "MOTE_STATS=1 " + s
	}
	return s
}

func fileSize(p string) (int64, error) {
	st, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// moduleRoot returns the directory of the mote module, which must be the
// main module of the current directory.
func moduleRoot() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("cannot find the mote module (run from the repository: go run ./tools/bench): %v", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "github.com/motevm/mote" || dir == "" {
		return "", fmt.Errorf("run from the mote repository (go run ./tools/bench); the main module here is %q", path)
	}
	return dir, nil
}

// checkKVM fails with one clear sentence if /dev/kvm cannot be used.
func checkKVM() error {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	switch {
	case err == nil:
		f.Close()
		return nil
	case errors.Is(err, os.ErrNotExist):
		return errors.New("/dev/kvm does not exist: the benchmark needs Linux KVM (load the kvm module or use a machine with virtualization)")
	case errors.Is(err, os.ErrPermission):
		return errors.New("no permission to open /dev/kvm (add your user to the kvm group or run as root)")
	}
	return fmt.Errorf("/dev/kvm is not usable: %v", err)
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Model: "unknown CPU", Kernel: "unknown", GoVersion: runtime.Version(), KVM: "/dev/kvm"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		if !strings.Contains(string(b), " vmx") && !strings.Contains(string(b), " svm") {
			m.KVM = "/dev/kvm without vmx/svm (PVM or similar)"
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/sys/module/kvm_pvm/initstate"); err == nil {
		m.KVM = "/dev/kvm from kvm_pvm (" + strings.TrimSpace(string(b)) + ")"
	}
	return m
}

// describeSource names the commit of root, and whether the tree has
// uncommitted changes (which the benchmark then measures too).
func describeSource(root string) string {
	git := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "--short=12", "HEAD")
	if err != nil {
		return "unknown (not a git checkout)"
	}
	st, err := git("status", "--porcelain", "--untracked-files=no")
	if err == nil && st != "" {
		return fmt.Sprintf("commit %s with uncommitted changes in %d files", rev, len(strings.Split(st, "\n")))
	}
	return "commit " + rev
}
