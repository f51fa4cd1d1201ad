// Command conformance runs the tests of a list of standard-library packages
// twice — natively with go test and inside mote with mote test — and reports,
// package by package, how the two compare (issue 4):
//
//	go run ./tools/conformance [-list FILE] [-json] [-j N] [-timeout D] [-logs DIR | -replay DIR]
//
// It builds the mote CLI into a temporary directory (CGO_ENABLED=0 go build
// ./cmd/mote), then for each package of the list (default
// tools/conformance/packages.txt: one import path or go package pattern a
// line, '#' comments) runs
//
//	go test -short -v -timeout D PKG            (natively, CGO_ENABLED=0, as mote builds)
//	mote test -short -v -timeout D PKG          (one unikernel with 1 vCPU)
//
// one after the other, with up to -j packages at a time. Both outputs are
// parsed the same way, from go test's -v lines (=== RUN, === NAME, --- PASS,
// --- FAIL, --- SKIP): a test's output is what follows its === RUN/NAME/CONT
// header or its --- line. Counts are of top-level tests and examples; a
// failing subtest fails its top-level test, and the reason shown for a
// failing test is the first output line of its deepest failing subtest (or
// of the test itself): usually the t.Error message, or the panic. A test
// that started but never reported (the binary crashed or was stopped) counts
// as failed, with the package's first "panic:", "fatal error:" or "mote:"
// line as its reason. Tests paused by t.Parallel and never resumed are not
// counted.
//
// Each package gets a status:
//
//	same          both pass
//	mote-fails    mote fails where go test does not (a test failing only under
//	              mote, or the package failing under mote while passing natively)
//	by-design     mote fails where go test does not (or cannot build the
//	              package), and only by design: every such failure is in one
//	              of the categories below
//	native-fails  the package fails natively, and mote fails no test more
//	build-failed  the test binary could not be built for mote
//	timeout       the mote run hit the -timeout (or was stopped at -timeout+3m)
//	no-tests      the package has no test files
//
// Each test failing or skipped only under mote, and each package failing
// under mote without a test to blame, is classified by cause: by design —
// it needs processes (starts a subprocess, or re-executes itself), needs
// the Go toolchain (go build, go tool), reads the Go source tree ($GOROOT/src)
// or needs cgo, none of which a unikernel has, and where the library OS
// answers as Linux does when the resource is missing — or else other: a
// library OS gap. The cause comes from the failure or skip message when it
// tells ("fork/exec", exec: "X": executable file not found, 'go build'
// unavailable, exec: "go", "uses cgo", a path into $GOROOT/src…), else
// from the test's own source in $GOROOT/src/PKG: the body of the test
// function, and of the functions of the package's test files it refers to
// directly, scanned for exec.Command, testenv.Command, testenv.MustHaveExec,
// os.StartProcess, syscall.ForkExec, testenv.GoToolPath,
// testenv.MustHaveGoBuild, testenv.GOROOT, runtime.GOROOT,
// testenv.MustHaveCGO, import "C" and the like (classify.go). A test that
// only looks at its own binary (os.Executable, testenv.Executable) without
// starting it needs no process. No test is named by hand.
//
// The report is a table (package, native pass/fail/skip, mote
// pass/fail/skip, status, the first tests failing under mote but not
// natively with a one-line reason — library OS gaps first, then by-design
// ones tagged with their category — or else tests skipped only under
// mote), then the totals — packages passing under mote / natively, those
// failing under mote only by design, tests passing under mote / natively /
// in all (tests seen either way), tests failing under mote by design per
// category and for other reasons — the by-design differences grouped by
// category, the most common reasons of the other failures under mote, and
// the wall time of the run. With -json the same data is written as JSON,
// each difference with its category ("processes", "go-toolchain",
// "source-tree", "cgo", or none) and the evidence for it. -logs DIR keeps
// each run's full output as DIR/PKG.native.txt and DIR/PKG.mote.txt (PKG
// with / as _);
// -replay DIR makes the report again from such a directory without running
// anything (to look at a run again, or after changing the report).
// Progress goes to stderr. The exit status is 0 when the report was made,
// whatever it says.
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
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

var (
	flagList      = flag.String("list", "", "package list file (default tools/conformance/packages.txt in the module)")
	flagJSON      = flag.Bool("json", false, "write the report as JSON instead of a table")
	flagJobs      = flag.Int("j", runtime.NumCPU(), "packages tested in parallel")
	flagTimeout   = flag.Duration("timeout", 5*time.Minute, "per-package test timeout, each way (go test -timeout; the run is stopped 3m later)")
	flagMemory    = flag.String("m", "", "guest RAM per test binary, passed to mote test -m (default: mote test's)")
	flagCPUs      = flag.Int("cpus", 0, "vCPUs per test binary, passed to mote test -cpus (default: mote test's, 1)")
	flagMote      = flag.String("mote", "", "use this mote binary instead of building ./cmd/mote")
	flagLogs      = flag.String("logs", "", "directory to keep every run's full output in")
	flagNativeCgo = flag.Bool("native-cgo", false, "run the native tests with the go command's default CGO_ENABLED instead of 0")
	flagQuiet     = flag.Bool("q", false, "no progress on stderr")
	flagReplay    = flag.String("replay", "", "make the report from the outputs an earlier run kept with -logs in this directory, running nothing")
)

// killGrace is how long after -timeout a run is stopped from outside: the
// test binary panics at -timeout by itself; this is for builds and for a
// guest that cannot even do that.
const killGrace = 3 * time.Minute

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run ./tools/conformance [flags]\n\nRuns standard-library packages' tests natively and under mote and compares them.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 || *flagJobs < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "conformance: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	list := *flagList
	if list == "" {
		list = filepath.Join(root, "tools", "conformance", "packages.txt")
	}
	pkgs, err := readList(ctx, list)
	if err != nil {
		return err
	}

	mote := *flagMote
	if mote == "" && *flagReplay == "" {
		tmp, err := os.MkdirTemp("", "conformance-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		mote = filepath.Join(tmp, "mote")
		progress("building mote")
		c := exec.CommandContext(ctx, "go", "build", "-o", mote, "./cmd/mote")
		c.Dir = root
		c.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/mote: %v\n%s", err, out)
		}
	}
	if *flagLogs != "" {
		if err := os.MkdirAll(*flagLogs, 0o755); err != nil {
			return err
		}
	}

	rep := &Report{
		Date:      start.UTC().Format(time.RFC3339),
		Commit:    commit(root),
		GoVersion: runtime.Version(),
		Command:   commandLine(),
		Host:      fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Packages:  make([]*PkgResult, len(pkgs)),
	}
	progress("%d packages, %d at a time, timeout %v", len(pkgs), *flagJobs, *flagTimeout)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		done int
		next = make(chan int)
	)
	for w := 0; w < *flagJobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r := testPackage(ctx, root, mote, pkgs[i])
				rep.Packages[i] = r
				mu.Lock()
				done++
				progress("[%d/%d] %-28s %-12s native %s %5.1fs  mote %s %5.1fs", done, len(pkgs), r.Package, r.Status,
					r.Native.counts(), r.Native.Seconds, r.Mote.counts(), r.Mote.Seconds)
				mu.Unlock()
			}
		}()
	}
	for i := range pkgs {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}

	rep.WallSeconds = time.Since(start).Seconds()
	if *flagReplay != "" {
		// The wall time of the run that kept the outputs.
		data, _ := os.ReadFile(filepath.Join(*flagReplay, "wall-seconds.txt"))
		rep.WallSeconds = 0
		fmt.Sscan(string(data), &rep.WallSeconds)
	} else if *flagLogs != "" {
		os.WriteFile(filepath.Join(*flagLogs, "wall-seconds.txt"), fmt.Appendf(nil, "%.1f\n", rep.WallSeconds), 0o644)
	}
	rep.summarize()
	if *flagJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.writeTable(os.Stdout)
	return nil
}

func progress(format string, args ...any) {
	if !*flagQuiet {
		fmt.Fprintf(os.Stderr, "conformance: "+format+"\n", args...)
	}
}

// ---- the report ----

// Report is what the tool prints, as a table or as JSON.
type Report struct {
	Date        string       `json:"date"`
	Commit      string       `json:"commit"`
	GoVersion   string       `json:"go_version"`
	Command     string       `json:"command"`
	Host        string       `json:"host"`
	Packages    []*PkgResult `json:"packages"`
	Totals      Totals       `json:"totals"`
	Reasons     []Reason     `json:"common_reasons"`
	WallSeconds float64      `json:"wall_seconds"`
}

// PkgResult compares one package's two runs.
type PkgResult struct {
	Package string `json:"package"`
	Status  string `json:"status"`
	Native  Side   `json:"native"`
	Mote    Side   `json:"mote"`
	// Differences are the tests whose outcome differs, mote failures
	// first, then tests skipped only under mote, then the rest.
	Differences []Diff `json:"differences,omitempty"`
	// Category is the by-design category of the package-level failure
	// under mote (Mote.Reason), when the package fails without a test to
	// blame; Evidence is what tells.
	Category string `json:"category,omitempty"`
	Evidence string `json:"evidence,omitempty"`
	// Categories are the by-design categories of the failures of a
	// package whose status is by-design.
	Categories []string `json:"by_design_categories,omitempty"`
}

// Side is the result of one run of a package's tests.
type Side struct {
	State   string  `json:"state"` // ok, fail, build-failed, timeout, no-tests
	Pass    int     `json:"pass"`
	Fail    int     `json:"fail"`
	Skip    int     `json:"skip"`
	Seconds float64 `json:"seconds"`
	// Reason is the package-level reason of a failure: the first panic,
	// fatal error or mote line, the build error, or the timeout.
	Reason string `json:"reason,omitempty"`

	tests map[string]*TestOutcome // top-level tests
}

// TestOutcome is a top-level test's result in one run.
type TestOutcome struct {
	Result string `json:"result"`           // pass, fail, skip
	Where  string `json:"where,omitempty"`  // the (sub)test the reason comes from
	Reason string `json:"reason,omitempty"` // first output line of a failure or skip

	lines []string // all the output lines Reason is the first of
}

// Diff is a test whose outcome differs between the two runs.
type Diff struct {
	Test   string `json:"test"`
	Native string `json:"native"` // pass, fail, skip, or "-" (not run)
	Mote   string `json:"mote"`
	Where  string `json:"where,omitempty"`
	Reason string `json:"reason,omitempty"` // from the mote run, else the native run
	// Category is, for a test failing or skipped only under mote, the
	// by-design category ("processes", "go-toolchain", "source-tree",
	// "cgo"), or empty for a library OS gap; Evidence is what tells: the
	// matching part of the message ("message: …") or what the test's
	// source calls ("source: …").
	Category string `json:"category,omitempty"`
	Evidence string `json:"evidence,omitempty"`

	lines []string // the output lines of Where
}

// Totals sums the report up.
type Totals struct {
	Packages             int `json:"packages"`
	PassingNative        int `json:"packages_passing_native"`
	PassingMote          int `json:"packages_passing_mote"`
	PassingBoth          int `json:"packages_passing_both"`
	Tests                int `json:"tests"` // top-level tests and examples seen either way
	TestsPassingNative   int `json:"tests_passing_native"`
	TestsPassingMote     int `json:"tests_passing_mote"`
	TestsFailingOnlyMote int `json:"tests_failing_only_mote"`
	TestsSkippedOnlyMote int `json:"tests_skipped_only_mote"`
	TestsNotRunMote      int `json:"tests_not_run_mote"` // run natively, not reached under mote

	// Packages passing natively and failing under mote only by design,
	// by their categories (joined with "+"), and those failing for
	// other reasons.
	PassingNativeByDesign      int                 `json:"packages_passing_native_failing_mote_by_design"`
	PassingNativeByDesignPkgs  map[string][]string `json:"packages_passing_native_failing_mote_by_design_by_category,omitempty"`
	PassingNativeFailingOther  int                 `json:"packages_passing_native_failing_mote_other"`
	TestsFailingOnlyMoteDesign int                 `json:"tests_failing_only_mote_by_design"`
	TestsFailingOnlyMoteOther  int                 `json:"tests_failing_only_mote_other"`
	TestsFailingByCategory     map[string]int      `json:"tests_failing_only_mote_by_category,omitempty"`
	TestsSkippedOnlyMoteDesign int                 `json:"tests_skipped_only_mote_by_design"`
	TestsSkippedOnlyMoteOther  int                 `json:"tests_skipped_only_mote_other"`
	TestsSkippedByCategory     map[string]int      `json:"tests_skipped_only_mote_by_category,omitempty"`
}

// Reason is a kind of failure under mote, with how many tests or packages
// it accounts for and an example.
type Reason struct {
	Reason  string `json:"reason"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}

func (s *Side) counts() string { return fmt.Sprintf("%d/%d/%d", s.Pass, s.Fail, s.Skip) }

func (r *Report) summarize() {
	src := newSrcIndex()
	for _, p := range r.Packages {
		p.classify(src)
	}
	t := &r.Totals
	t.PassingNativeByDesignPkgs = map[string][]string{}
	t.TestsFailingByCategory = map[string]int{}
	t.TestsSkippedByCategory = map[string]int{}
	byKey := map[string]*Reason{}
	var keys []string
	addReason := func(reason, example string) {
		k := reasonKey(reason)
		if byKey[k] == nil {
			byKey[k] = &Reason{Reason: k, Example: example + ": " + reason}
			keys = append(keys, k)
		}
		byKey[k].Count++
	}
	for _, p := range r.Packages {
		t.Packages++
		if p.Native.State == "ok" {
			t.PassingNative++
		}
		if p.Mote.State == "ok" {
			t.PassingMote++
			if p.Native.State == "ok" {
				t.PassingBoth++
			}
		} else if p.Native.State == "ok" {
			if p.Status == "by-design" {
				t.PassingNativeByDesign++
				k := strings.Join(p.Categories, "+")
				t.PassingNativeByDesignPkgs[k] = append(t.PassingNativeByDesignPkgs[k], p.Package)
			} else {
				t.PassingNativeFailingOther++
			}
		}
		names := map[string]bool{}
		for n := range p.Native.tests {
			names[n] = true
		}
		for n := range p.Mote.tests {
			names[n] = true
		}
		t.Tests += len(names)
		t.TestsPassingNative += p.Native.Pass
		t.TestsPassingMote += p.Mote.Pass
		for _, d := range p.Differences {
			switch {
			case d.Mote == "fail":
				t.TestsFailingOnlyMote++
				if d.Category != "" {
					t.TestsFailingOnlyMoteDesign++
					t.TestsFailingByCategory[d.Category]++
				} else {
					t.TestsFailingOnlyMoteOther++
					addReason(d.Reason, p.Package+"."+d.Where)
				}
			case d.Mote == "skip" && d.Native == "pass":
				t.TestsSkippedOnlyMote++
				if d.Category != "" {
					t.TestsSkippedOnlyMoteDesign++
					t.TestsSkippedByCategory[d.Category]++
				} else {
					t.TestsSkippedOnlyMoteOther++
				}
			case d.Mote == "-":
				t.TestsNotRunMote++
			}
		}
		// A package that fails under mote without a test to blame, not
		// by design.
		if pkgBlamed(p) && p.Category == "" {
			addReason(p.Mote.Reason, p.Package)
		}
	}
	for _, k := range keys {
		r.Reasons = append(r.Reasons, *byKey[k])
	}
	sort.SliceStable(r.Reasons, func(i, j int) bool { return r.Reasons[i].Count > r.Reasons[j].Count })
}

var (
	fileLineRE  = regexp.MustCompile(`^[\w./-]+\.go:\d+: `)
	errnoRE     = regexp.MustCompile(`^[a-z][a-z ,'-]{5,50}$`)
	digitsRE    = regexp.MustCompile(`0x[0-9a-fA-F]+|\d+`)
	quotedRE    = regexp.MustCompile(`"[^"]*"`)
	pathRE      = regexp.MustCompile(`(?:\.\./)*testdata\S*|/[\w.+@/-]+`)
	logTimeRE   = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d(\.\d+)? `)
	gluedFailRE = regexp.MustCompile(`(\S)FAIL\t\S+\t.*$`)
)

// cleanReason tidies an output line used as a reason: no log timestamp,
// no tabs, no "[recovered]" note, no go test FAIL line glued to the end of
// output that lacked a newline.
func cleanReason(s string) string {
	s = strings.TrimSpace(s)
	s = gluedFailRE.ReplaceAllString(s, "$1")
	s = logTimeRE.ReplaceAllString(s, "")
	if i := strings.Index(s, " [recovered"); i > 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "\t", " ")
}

// reasonKey groups failure reasons: an error string's errno-like tail
// ("no such file or directory") with the kind of path it is about, else
// the message without its file:line prefix, paths, quoted strings and
// numbers.
func reasonKey(s string) string {
	s = fileLineRE.ReplaceAllString(cleanReason(s), "")
	if strings.HasPrefix(s, "test timed out") || strings.HasPrefix(s, "killed after") {
		return "timeout"
	}
	if strings.HasPrefix(s, "example output line") {
		return "example output differs"
	}
	if i := strings.LastIndex(s, ": "); i >= 0 && errnoRE.MatchString(s[i+2:]) {
		k := s[i+2:]
		if p := pathRE.FindString(s[:i]); p != "" {
			k = pathClass(p) + ": " + k
		}
		return k
	}
	s = pathRE.ReplaceAllStringFunc(s, pathClass)
	s = quotedRE.ReplaceAllString(s, `"…"`)
	s = digitsRE.ReplaceAllString(s, "N")
	return truncate(s, 90)
}

// pathClass names the kind of a path in a reason: testdata/…, /tmp/…,
// $GOROOT/…, or the path with its numbers as N.
func pathClass(p string) string {
	switch {
	case strings.Contains(p, "testdata"):
		return "testdata/…"
	case strings.HasPrefix(p, "/tmp/"):
		return "/tmp/…"
	case strings.Contains(p, "/src/") && (strings.Contains(p, "/go/") || strings.Contains(p, "/goroot/")):
		return "$GOROOT/…"
	}
	return digitsRE.ReplaceAllString(p, "N")
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func (r *Report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "# mote conformance report: %s, commit %s, %s, %s\n", r.Date, r.Commit, r.GoVersion, r.Host)
	fmt.Fprintf(w, "# %s\n", r.Command)
	fmt.Fprintf(w, "# counts are pass/fail/skip of top-level tests and examples, with -short\n\n")
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tNATIVE\tMOTE\tSTATUS\tFIRST DIFFERENCES UNDER MOTE")
	const maxShown = 3
	for _, p := range r.Packages {
		var notes []string
		if p.Status == "build-failed" || p.Status == "timeout" || (p.Mote.State != "ok" && p.Mote.Fail == 0 && p.Mote.Reason != "") {
			notes = append(notes, truncate(tag(p.Category)+p.Mote.Reason, 120))
		}
		// Library OS gaps first, then the differences by design.
		shown := 0
	diffs:
		for _, byDesign := range []bool{false, true} {
			for _, d := range p.Differences {
				if d.Mote == "pass" || d.Mote == "-" || (d.Category != "") != byDesign {
					continue // mote does better, or did not get there: not a reason
				}
				if shown == maxShown {
					notes = append(notes, fmt.Sprintf("… %d more", countDiffs(p)-maxShown))
					break diffs
				}
				what := d.Where
				if d.Mote == "skip" {
					what += " (skipped)"
				}
				notes = append(notes, truncate(tag(d.Category)+what+": "+d.Reason, 140))
				shown++
			}
		}
		if n := notRun(p); n > 0 && p.Mote.State != "build-failed" {
			notes = append(notes, fmt.Sprintf("(%d tests run natively were not reached under mote)", n))
		}
		if p.Status == "native-fails" && len(notes) == 0 && p.Native.Reason != "" {
			notes = append(notes, "native: "+truncate(p.Native.Reason, 120))
		}
		if len(notes) == 0 {
			notes = []string{""}
		}
		native := p.Native.counts()
		if p.Native.State != "ok" && p.Native.State != "fail" {
			native += " " + p.Native.State
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.Package, native, p.Mote.counts(), p.Status, notes[0])
		for _, n := range notes[1:] {
			fmt.Fprintf(tw, "\t\t\t\t%s\n", n)
		}
	}
	tw.Flush()

	t := r.Totals
	fmt.Fprintf(w, "\nTOTALS\n")
	fmt.Fprintf(w, "  packages fully passing under mote: %d / %d listed (natively: %d)\n", t.PassingMote, t.Packages, t.PassingNative)
	fmt.Fprintf(w, "  packages passing natively that also pass under mote: %d / %d\n", t.PassingBoth, t.PassingNative)
	var byCat []string
	for _, k := range sortedCategoryKeys(t.PassingNativeByDesignPkgs) {
		byCat = append(byCat, labels(strings.Split(k, "+"))+": "+strings.Join(t.PassingNativeByDesignPkgs[k], ", "))
	}
	fmt.Fprintf(w, "  packages passing natively that fail under mote only by design: %d%s\n", t.PassingNativeByDesign, paren(strings.Join(byCat, "; ")))
	fmt.Fprintf(w, "  packages passing natively that fail under mote for other reasons (library OS gaps): %d\n", t.PassingNativeFailingOther)
	fmt.Fprintf(w, "  tests passing under mote: %d / %d (natively: %d)\n", t.TestsPassingMote, t.Tests, t.TestsPassingNative)
	fmt.Fprintf(w, "  tests failing only under mote: %d; skipped only under mote: %d; run natively but not reached under mote: %d\n",
		t.TestsFailingOnlyMote, t.TestsSkippedOnlyMote, t.TestsNotRunMote)
	fmt.Fprintf(w, "  tests failing under mote by design: %d%s; other: %d\n", t.TestsFailingOnlyMoteDesign, paren(catCounts(t.TestsFailingByCategory)), t.TestsFailingOnlyMoteOther)
	fmt.Fprintf(w, "  tests skipped only under mote by design: %d%s; other: %d\n", t.TestsSkippedOnlyMoteDesign, paren(catCounts(t.TestsSkippedByCategory)), t.TestsSkippedOnlyMoteOther)
	counts := map[string]int{}
	for _, p := range r.Packages {
		counts[p.Status]++
	}
	var sts []string
	for _, s := range []string{"same", "mote-fails", "by-design", "native-fails", "build-failed", "timeout", "no-tests"} {
		if counts[s] > 0 {
			sts = append(sts, fmt.Sprintf("%s %d", s, counts[s]))
		}
	}
	fmt.Fprintf(w, "  statuses: %s\n", strings.Join(sts, ", "))
	fmt.Fprintf(w, "  wall time: %s\n", (time.Duration(r.WallSeconds * 1e9)).Round(time.Second))
	r.writeByDesign(w)
	if len(r.Reasons) > 0 {
		fmt.Fprintf(w, "\nMOST COMMON REASONS OF OTHER FAILURES UNDER MOTE (library OS gaps: tests failing only under mote, packages failing without one; not by design)\n")
		for i, rs := range r.Reasons {
			if i == 15 {
				fmt.Fprintf(w, "  … %d more kinds\n", len(r.Reasons)-i)
				break
			}
			fmt.Fprintf(w, "  %4d  %s\n        e.g. %s\n", rs.Count, rs.Reason, truncate(rs.Example, 150))
		}
	}
}

// tag marks a by-design difference in the table.
func tag(cat string) string {
	if cat == "" {
		return ""
	}
	return "[by design: " + label(cat) + "] "
}

func paren(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// catCounts lists counts per category: "needs processes 12, …, needs cgo 0".
func catCounts(m map[string]int) string {
	var l []string
	for _, c := range reportOrder {
		l = append(l, fmt.Sprintf("%s %d", label(c), m[c]))
	}
	return strings.Join(l, ", ")
}

// writeByDesign lists the differences by design, grouped by category and
// package.
func (r *Report) writeByDesign(w io.Writer) {
	type group struct {
		pkgs  []string            // packages failing without a test to blame
		tests map[string][]string // package → tests
		order []string            // packages in report order
		fail  int
		skip  int
	}
	groups := map[string]*group{}
	get := func(c string) *group {
		if groups[c] == nil {
			groups[c] = &group{tests: map[string][]string{}}
		}
		return groups[c]
	}
	for _, p := range r.Packages {
		if p.Category != "" && p.Status == "by-design" {
			g := get(p.Category)
			g.pkgs = append(g.pkgs, fmt.Sprintf("%s (%s)", p.Package, truncate(p.Mote.Reason, 80)))
		}
		for _, d := range p.Differences {
			if d.Category == "" || !(d.Mote == "fail" || d.Mote == "skip" && d.Native == "pass") {
				continue
			}
			g := get(d.Category)
			name := d.Test
			if strings.HasPrefix(d.Evidence, "source: ") {
				name += "*"
			}
			if d.Mote == "skip" {
				name += " (skipped)"
				g.skip++
			} else {
				g.fail++
			}
			if g.tests[p.Package] == nil {
				g.order = append(g.order, p.Package)
			}
			g.tests[p.Package] = append(g.tests[p.Package], name)
		}
	}
	if len(groups) == 0 {
		return
	}
	fmt.Fprintf(w, "\nBY-DESIGN DIFFERENCES UNDER MOTE (tests failing or skipped only under mote that cannot pass in a unikernel; the cause\n")
	fmt.Fprintf(w, "from the failure or skip message, or, marked *, from the test's source when the message does not tell)\n")
	for _, c := range reportOrder {
		g := groups[c]
		if g == nil {
			continue
		}
		var n []string
		if g.fail > 0 {
			n = append(n, fmt.Sprintf("%d tests failing", g.fail))
		}
		if g.skip > 0 {
			n = append(n, fmt.Sprintf("%d skipped", g.skip))
		}
		if len(g.pkgs) > 0 {
			n = append(n, fmt.Sprintf("%d packages failing without a test", len(g.pkgs)))
		}
		fmt.Fprintf(w, "  %s: %s\n", label(c), strings.Join(n, ", "))
		for _, p := range g.pkgs {
			fmt.Fprintf(w, "    %s\n", p)
		}
		for _, pkg := range g.order {
			writeWrapped(w, "    "+pkg+": ", "      ", g.tests[pkg], 120)
		}
	}
}

// writeWrapped writes items joined with ", " after first, wrapping lines at
// width with the continuation lines indented by indent.
func writeWrapped(w io.Writer, first, indent string, items []string, width int) {
	line := first
	for i, it := range items {
		if i < len(items)-1 {
			it += ","
		}
		if i > 0 && len(line)+1+len(it) > width {
			fmt.Fprintln(w, line)
			line = indent + it
			continue
		}
		if i > 0 {
			line += " "
		}
		line += it
	}
	fmt.Fprintln(w, line)
}

func notRun(p *PkgResult) int {
	n := 0
	for _, d := range p.Differences {
		if d.Mote == "-" {
			n++
		}
	}
	return n
}

func countDiffs(p *PkgResult) int {
	n := 0
	for _, d := range p.Differences {
		if d.Mote == "fail" || d.Mote == "skip" {
			n++
		}
	}
	return n
}

// ---- running a package ----

func testPackage(ctx context.Context, root, mote string, pkg string) *PkgResult {
	r := &PkgResult{Package: pkg}
	nativeEnv := os.Environ()
	if !*flagNativeCgo {
		nativeEnv = append(nativeEnv, "CGO_ENABLED=0")
	}
	args := []string{"test", "-short", "-v", "-timeout", flagTimeout.String()}
	r.Native = runSide(ctx, root, nativeEnv, pkg, "native", "go", append(args, pkg)...)
	if *flagMemory != "" {
		args = append(args, "-m", *flagMemory)
	}
	if *flagCPUs > 0 {
		args = append(args, "-cpus", strconv.Itoa(*flagCPUs))
	}
	r.Mote = runSide(ctx, root, os.Environ(), pkg, "mote", mote, append(args, pkg)...)
	r.compare()
	return r
}

// runSide runs one go test or mote test command and parses its output.
func runSide(ctx context.Context, dir string, env []string, pkg, side, name string, args ...string) Side {
	if *flagReplay != "" {
		return replaySide(pkg, side)
	}
	ctx, cancel := context.WithTimeout(ctx, *flagTimeout+killGrace)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	c.Dir = dir
	c.Env = env
	var out bytes.Buffer
	c.Stdout = &out
	c.Stderr = &out
	// Its own process group, so that stopping it stops go test's test
	// binary too.
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = 10 * time.Second
	t0 := time.Now()
	err := c.Run()
	d := time.Since(t0)
	killed := ctx.Err() != nil
	runErr := ""
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		runErr = err.Error()
	}
	if *flagLogs != "" {
		fn := filepath.Join(*flagLogs, logName(pkg, side))
		hdr := fmt.Sprintf("$ %s %s\n# exit: %v, %.1fs, killed: %v\n", filepath.Base(name), strings.Join(args, " "), err, d.Seconds(), killed)
		os.WriteFile(fn, append([]byte(hdr), out.Bytes()...), 0o644)
	}
	return finishSide(pkg, out.Bytes(), d, killed, runErr)
}

func logName(pkg, side string) string { return strings.ReplaceAll(pkg, "/", "_") + "." + side + ".txt" }

var logHeaderRE = regexp.MustCompile(`^\$ .*\n# exit: (.*), ([\d.]+)s(?:, killed: (true|false))?\n`)

// replaySide reads a run's output kept by -logs instead of running it.
func replaySide(pkg, side string) Side {
	data, err := os.ReadFile(filepath.Join(*flagReplay, logName(pkg, side)))
	if err != nil {
		return Side{State: "fail", Reason: "-replay: " + err.Error()}
	}
	m := logHeaderRE.FindSubmatchIndex(data)
	if m == nil {
		return Side{State: "fail", Reason: "-replay: " + logName(pkg, side) + ": no header"}
	}
	exit := string(data[m[2]:m[3]])
	var secs float64
	fmt.Sscan(string(data[m[4]:m[5]]), &secs)
	killed := m[6] >= 0 && string(data[m[6]:m[7]]) == "true"
	runErr := ""
	if exit != "<nil>" && !strings.HasPrefix(exit, "exit status") && !strings.HasPrefix(exit, "signal:") {
		runErr = exit
	}
	return finishSide(pkg, data[m[1]:], time.Duration(secs*float64(time.Second)), killed, runErr)
}

// finishSide makes a Side of a run's output and how it ended.
func finishSide(pkg string, out []byte, d time.Duration, killed bool, runErr string) Side {
	s := parseOutput(pkg, out)
	s.Seconds = d.Seconds()
	switch {
	case killed:
		s.State = "timeout"
		s.Reason = fmt.Sprintf("killed after %v", d.Round(time.Second))
		if s.Reason2 != "" {
			s.Reason += "; " + s.Reason2
		}
	case runErr != "":
		s.State = "fail"
		s.Reason = runErr
	}
	return s.Side
}

// ---- parsing go test -v output ----

type testRec struct {
	name   string
	state  string // run, paused, pass, fail, skip
	out    []string
	order  int
	depth  int
	parent string // top-level test
}

var (
	headerRE = regexp.MustCompile(`=== (RUN|PAUSE|CONT|NAME) +(\S*)`)
	resultRE = regexp.MustCompile(`--- (PASS|FAIL|SKIP): (\S+) \(`)
	pkgRE    = regexp.MustCompile(`^(panic: |fatal error: |mote: |mote test: |runtime: |unexpected fault)`)
)

type parsed struct {
	Side
	Reason2 string // package reason kept aside for timeouts
}

// parseOutput reads go test -v output (of go test or mote test).
func parseOutput(pkg string, out []byte) *parsed {
	recs := map[string]*testRec{}
	var order []*testRec
	get := func(name string) *testRec {
		if r := recs[name]; r != nil {
			return r
		}
		r := &testRec{name: name, state: "run", depth: strings.Count(name, "/")}
		r.parent, _, _ = strings.Cut(name, "/")
		recs[name] = r
		order = append(order, r)
		return r
	}
	var lines []string // every line, for the package-level reason
	cur := ""
	nres := 0
	addOut := func(s string) {
		t := strings.TrimSpace(s)
		if t == "" || cur == "" || t == "PASS" || t == "FAIL" || strings.HasPrefix(t, "ok  \t") || strings.HasPrefix(t, "FAIL\t") {
			return
		}
		get(cur).out = append(get(cur).out, t)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		if m := headerRE.FindStringSubmatchIndex(line); m != nil {
			addOut(line[:m[0]])
			kind, name := line[m[2]:m[3]], line[m[4]:m[5]]
			cur = name
			if name != "" {
				r := get(name)
				switch kind {
				case "PAUSE":
					r.state = "paused"
				case "CONT", "RUN":
					if r.state == "paused" {
						r.state = "run"
					}
				}
			}
			continue
		}
		if m := resultRE.FindStringSubmatchIndex(line); m != nil {
			addOut(line[:m[0]])
			kind, name := line[m[2]:m[3]], line[m[4]:m[5]]
			r := get(name)
			r.state = strings.ToLower(kind)
			r.order = nres
			nres++
			cur = name
			continue
		}
		addOut(line)
	}

	p := &parsed{Side: Side{tests: map[string]*TestOutcome{}}}
	s := &p.Side

	// The package-level state and reason.
	var pkgReason string
	for i, l := range lines {
		if pkgRE.MatchString(l) {
			pkgReason = cleanReason(l)
			if strings.HasPrefix(l, "panic: test timed out") {
				var running []string
				for _, l2 := range lines[i+1:] {
					if strings.HasPrefix(l2, "\t") {
						running = append(running, strings.TrimSpace(l2))
					} else if len(running) > 0 || !strings.HasPrefix(l2, "running tests") {
						break
					}
				}
				if len(running) > 0 {
					pkgReason += "; running: " + strings.Join(running, ", ")
				}
			}
			break
		}
	}
	// The last line that is not go test's own, for a failure without a
	// better reason.
	var lastLine string
	for _, l := range lines {
		if t := cleanReason(l); t != "" && t != "FAIL" && !strings.HasPrefix(t, "FAIL ") && !strings.HasPrefix(t, "exit status") {
			lastLine = t
		}
	}
	switch {
	case bytes.Contains(out, []byte("\t[no test files]")):
		s.State = "no-tests"
	case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
		s.State = "build-failed"
		for _, l := range lines {
			t := strings.TrimSpace(l)
			if t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "FAIL") {
				pkgReason = cleanReason(t)
				break
			}
		}
	case bytes.Contains(out, []byte("panic: test timed out")):
		s.State = "timeout"
	case regexp.MustCompile(`(?m)^ok  \t` + regexp.QuoteMeta(pkg) + `(\s|$)`).Match(out):
		s.State = "ok"
	default:
		s.State = "fail"
		if pkgReason == "" {
			pkgReason = lastLine
		}
	}
	if s.State != "ok" {
		s.Reason = pkgReason
	}
	p.Reason2 = pkgReason

	// Top-level outcomes.
	for _, r := range order {
		if r.depth > 0 || r.state == "paused" {
			continue
		}
		o := &TestOutcome{}
		switch r.state {
		case "pass":
			o.Result = "pass"
			s.Pass++
		case "skip":
			o.Result = "skip"
			o.Where = r.name
			if len(r.out) > 0 {
				o.Reason = cleanReason(r.out[0])
				o.lines = r.out
			}
			s.Skip++
		default: // fail, or run: started and never finished
			o.Result = "fail"
			s.Fail++
			o.Where, o.Reason, o.lines = failureReason(r, order)
			if o.Reason == "" {
				if r.state == "run" {
					o.Reason = "did not finish"
					if pkgReason != "" {
						o.Reason += ": " + pkgReason
					}
				} else {
					o.Reason = "(no output)"
				}
			}
		}
		s.tests[r.name] = o
	}
	return p
}

// failureReason picks, among failing r and its failing subtests with
// output, the deepest (first to report among equals) and returns its name
// and first output line.
func failureReason(r *testRec, order []*testRec) (where, reason string, lines []string) {
	var best *testRec
	for _, c := range order {
		if c.parent != r.name || (c.state != "fail" && c.state != "run") || len(c.out) == 0 {
			continue
		}
		if best == nil || c.depth > best.depth || (c.depth == best.depth && c.order < best.order) {
			best = c
		}
	}
	if best == nil {
		return r.name, "", nil
	}
	if best.out[0] == "got:" {
		return best.name, exampleReason(best.out), best.out
	}
	return best.name, cleanReason(best.out[0]), best.out
}

// exampleReason describes a failing example's got:/want: output by its
// first differing line.
func exampleReason(out []string) string {
	got, want := out[1:], []string(nil)
	for i, l := range got {
		if l == "want:" {
			got, want = got[:i], got[i+1:]
			break
		}
	}
	for i := 0; i < len(got) || i < len(want); i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("example output line %d: got %q, want %q", i+1, g, w)
		}
	}
	return "example output differs"
}

// compare sets the package's status and differences.
func (p *PkgResult) compare() {
	n, m := &p.Native, &p.Mote
	names := map[string]bool{}
	for k := range n.tests {
		names[k] = true
	}
	for k := range m.tests {
		names[k] = true
	}
	res := func(s *Side, k string) *TestOutcome {
		if o := s.tests[k]; o != nil {
			return o
		}
		return &TestOutcome{Result: "-"}
	}
	moteWorse := false
	for k := range names {
		no, mo := res(n, k), res(m, k)
		if no.Result == mo.Result {
			continue
		}
		d := Diff{Test: k, Native: no.Result, Mote: mo.Result, Where: mo.Where, Reason: mo.Reason, lines: mo.lines}
		if d.Where == "" {
			d.Where, d.Reason, d.lines = no.Where, no.Reason, no.lines
		}
		if d.Where == "" {
			d.Where = k
		}
		if mo.Result == "fail" {
			moteWorse = true
		}
		p.Differences = append(p.Differences, d)
	}
	rank := map[string]int{"fail": 0, "skip": 1, "-": 2, "pass": 3}
	sort.Slice(p.Differences, func(i, j int) bool {
		a, b := p.Differences[i], p.Differences[j]
		if rank[a.Mote] != rank[b.Mote] {
			return rank[a.Mote] < rank[b.Mote]
		}
		return a.Test < b.Test
	})
	if m.State != "ok" && n.State != "ok" && m.Fail == 0 && n.Fail > 0 {
		moteWorse = true // mote fails without even a failing test to show
	}
	switch {
	case m.State == "build-failed":
		p.Status = "build-failed"
	case m.State == "timeout":
		p.Status = "timeout"
	case m.State == "no-tests" && n.State == "no-tests":
		p.Status = "no-tests"
	case m.State == "ok" && n.State == "ok":
		p.Status = "same"
	case m.State != "ok" && (n.State == "ok" || moteWorse):
		p.Status = "mote-fails"
	default:
		p.Status = "native-fails"
	}
}

// ---- the list, the module, the command ----

// readList reads the package list and expands its patterns with go list.
func readList(ctx context.Context, file string) ([]string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var plain, patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		for _, f := range strings.Fields(l) {
			if strings.Contains(f, "...") {
				patterns = append(patterns, f)
			} else {
				plain = append(plain, f)
			}
		}
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, set := range []struct {
		args    []string
		pattern bool
	}{{plain, false}, {patterns, true}} {
		if len(set.args) == 0 {
			continue
		}
		a := append([]string{"list", "-e", "-f", "{{.ImportPath}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}\t{{with .Error}}{{.Err}}{{end}}"}, set.args...)
		out, err := exec.CommandContext(ctx, "go", a...).Output()
		if err != nil {
			return nil, fmt.Errorf("go list: %v", err)
		}
		for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
			f := strings.SplitN(l, "\t", 4)
			if len(f) < 4 {
				continue
			}
			if f[3] != "" {
				return nil, fmt.Errorf("%s: %s: %s", file, f[0], strings.SplitN(f[3], "\n", 2)[0])
			}
			if set.pattern && (f[1] == "0" && f[2] == "0" || strings.Contains(f[0], "internal") || strings.Contains(f[0], "vendor")) {
				continue
			}
			if !seen[f[0]] {
				seen[f[0]] = true
				pkgs = append(pkgs, f[0])
			}
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("%s: no packages", file)
	}
	return pkgs, nil
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the mote module")
	}
	return filepath.Dir(gomod), nil
}

func commit(root string) string {
	c := exec.Command("git", "describe", "--always", "--dirty", "--abbrev=12")
	c.Dir = root
	out, err := c.Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func commandLine() string {
	args := []string{"go run ./tools/conformance"}
	flag.Visit(func(f *flag.Flag) { args = append(args, "-"+f.Name+"="+f.Value.String()) })
	return strings.Join(args, " ")
}
