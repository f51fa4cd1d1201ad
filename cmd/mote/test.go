package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/build"
	"github.com/motevm/mote/vmm"
)

// mote test: like go test, but each package's test binary is linked with
// the library OS and runs in its own unikernel.

type testFlags struct {
	run, bench, benchtime, cpu, skip string
	count                            int
	timeout                          time.Duration
	short, verbose, failfast         bool
	json                             bool   // -json: go test's JSON events, through go tool test2json
	cover                            bool   // -cover
	covermode                        string // -covermode: set, count or atomic
	memory                           string
	cpus                             int
	env                              []string
	parallel                         int // -p: packages built and tested at once
}

// coverMode is the coverage mode of the build, "" without coverage (as go
// test: -covermode implies -cover; the default mode is set).
func (f *testFlags) coverMode() string {
	switch {
	case f.covermode != "":
		return f.covermode
	case f.cover:
		return "set"
	}
	return ""
}

// binaryArgs are the test binary's flags, as go test passes them.
func (f *testFlags) binaryArgs() []string {
	var a []string
	add := func(name, v string) {
		if v != "" {
			a = append(a, "-test."+name+"="+v)
		}
	}
	a = append(a, "-test.paniconexit0")
	if f.json {
		a = append(a, "-test.v=test2json") // as go test -json runs it
	} else if f.verbose {
		a = append(a, "-test.v=true")
	}
	add("run", f.run)
	add("skip", f.skip)
	add("bench", f.bench)
	add("benchtime", f.benchtime)
	add("cpu", f.cpu)
	if f.count > 0 {
		add("count", fmt.Sprint(f.count))
	}
	if f.timeout > 0 {
		add("timeout", f.timeout.String())
	}
	if f.short {
		a = append(a, "-test.short=true")
	}
	if f.failfast {
		a = append(a, "-test.failfast=true")
	}
	return a
}

func newTestCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "test [flags] [PACKAGES] [-- TEST-BINARY-FLAGS...]",
		Short: "Run packages' tests inside mote unikernels, like go test",
		Long: `Test builds the test binary of each package named (package patterns as for
go test; default the current directory) with the library OS, boots it in its
own unikernel, and prints its output and an ok or FAIL line per package.
It exits with status 1 if any package failed, 0 otherwise.

Up to -p packages are built and tested at once, each in its own unikernel
(so up to -p times the -m memory is in use). As with go test, the packages
are reported in the order listed, each one's output together: the output of
the first unfinished package is shown as it comes, the others' is held until
their turn. With more than one package the test binaries read no standard
input. Benchmarks (-bench) of different packages run one at a time.

Flags are written as for go test (-run X, -v, --run=X all work):
  -run, -skip REGEXP     the tests and examples to run or skip
  -bench REGEXP          the benchmarks to run
  -benchtime T           time (or Nx) per benchmark
  -count N               run each test and benchmark N times
  -cpu LIST              GOMAXPROCS values to run with
  -timeout D             panic a test binary after D (default 10m; 0: none)
  -short, -v, -failfast  as for go test
  -json                  go test's JSON events (converted by go tool test2json)
  -cover, -covermode M   coverage of each package's statements, as go test
                         reports it (set, count or atomic; -covermode
                         implies -cover)
  -m, -memory SIZE       guest RAM per test binary (default 2G: go test's
                         binaries expect a developer machine; only the
                         pages a guest touches cost host memory)
  -cpus N                virtual CPUs per test binary (default 1)
  -e KEY=VALUE           environment variable in the guest (repeatable)
  -p N                   packages built and tested at once (default the
                         number of CPUs)

The test binary runs with / as its working directory and the guest's small
read-only file tree, so tests that read testdata/ files fail until mote can
share directories with the guest.`,
		Example: `  mote test ./mypkg
  mote test -run TestX -v ./...
  mote test -bench . -benchtime 2s -count 3 ./mypkg`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if a == "-h" || a == "-help" || a == "--help" {
					return cmd.Help()
				}
				if a == "--" {
					break
				}
			}
			f, patterns, extra, err := parseTestFlags(args)
			if err != nil {
				return err
			}
			if len(patterns) == 0 {
				patterns = []string{"."}
			}
			mem, err := parseMemory(f.memory)
			if err != nil {
				return fmt.Errorf("mote: -m: %v", err)
			}
			if f.cpus < 1 || f.cpus > abi.MaxCPUs {
				return fmt.Errorf("mote: --cpus %d is out of range (1 to %d)", f.cpus, abi.MaxCPUs)
			}
			if f.parallel < 1 {
				return fmt.Errorf("mote: -p %d: want at least 1", f.parallel)
			}
			for _, kv := range f.env {
				if err := build.CheckEnv(kv); err != nil {
					return fmt.Errorf("mote: -e: %v", err)
				}
			}
			// SIGINT and SIGTERM stop the builds and every running guest
			// (the guests run in this process, each in its own VM, and
			// stop when ctx is cancelled); a second signal has its
			// default effect.
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			go func() { <-ctx.Done(); stop() }()
			pkgs, err := listPackages(ctx, patterns)
			if err != nil {
				return err
			}
			if !testPackages(ctx, pkgs, f, mem, extra, stdout, stderr) {
				return exitStatus(1)
			}
			return nil
		},
	}
	return cmd
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// parseTestFlags parses go test style flags (one or two dashes, flags and
// packages in any order); arguments after -- go to the test binary.
func parseTestFlags(args []string) (*testFlags, []string, []string, error) {
	f := &testFlags{}
	fs := flag.NewFlagSet("mote test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.run, "run", "", "")
	fs.StringVar(&f.skip, "skip", "", "")
	fs.StringVar(&f.bench, "bench", "", "")
	fs.StringVar(&f.benchtime, "benchtime", "", "")
	fs.StringVar(&f.cpu, "cpu", "", "")
	fs.IntVar(&f.count, "count", 0, "")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "")
	fs.BoolVar(&f.short, "short", false, "")
	fs.BoolVar(&f.verbose, "v", false, "")
	fs.BoolVar(&f.failfast, "failfast", false, "")
	fs.BoolVar(&f.json, "json", false, "")
	fs.BoolVar(&f.cover, "cover", false, "")
	fs.StringVar(&f.covermode, "covermode", "", "")
	fs.StringVar(&f.memory, "m", "2G", "")
	fs.StringVar(&f.memory, "memory", "2G", "")
	fs.IntVar(&f.cpus, "cpus", 1, "")
	fs.Var((*stringList)(&f.env), "e", "")
	fs.Var((*stringList)(&f.env), "env", "")
	fs.IntVar(&f.parallel, "p", runtime.NumCPU(), "")
	var patterns, extra []string
	for i, a := range args {
		if a == "--" {
			args, extra = args[:i], args[i+1:]
			break
		}
	}
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, nil, nil, fmt.Errorf("mote test: %v (see 'mote test --help')", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		patterns = append(patterns, args[0])
		args = args[1:]
	}
	switch f.covermode {
	case "", "set", "count", "atomic":
	default:
		return nil, nil, nil, fmt.Errorf("mote test: -covermode %q: want set, count or atomic", f.covermode)
	}
	return f, patterns, extra, nil
}

type pkgInfo struct{ importPath, dir string }

// listPackages expands package patterns with the go command.
func listPackages(ctx context.Context, patterns []string) ([]pkgInfo, error) {
	args := append([]string{"list", "-e", "-f", "{{.ImportPath}}\t{{.Dir}}\t{{with .Error}}{{.Err}}{{end}}"}, patterns...)
	c := exec.CommandContext(ctx, "go", args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	out, err := c.Output()
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("mote test: %s", firstLineOf(msg))
	}
	var pkgs []pkgInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "\t", 3)
		if len(parts) < 2 {
			continue
		}
		if len(parts) == 3 && parts[2] != "" {
			return nil, fmt.Errorf("mote test: %s: %s", parts[0], firstLineOf(parts[2]))
		}
		pkgs = append(pkgs, pkgInfo{parts[0], parts[1]})
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("mote test: %s matched no packages", strings.Join(patterns, " "))
	}
	return pkgs, nil
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// testPackages tests pkgs, up to f.parallel at once, and reports whether all
// passed.
func testPackages(ctx context.Context, pkgs []pkgInfo, f *testFlags, mem uint64, extra []string, stdout, stderr io.Writer) bool {
	// Only a lone package's tests get mote's standard input: several guests
	// would take turns at it (go test gives test binaries none at all).
	var stdin io.Reader
	if len(pkgs) == 1 {
		stdin = os.Stdin
	}
	return runOrdered(ctx, len(pkgs), f.parallel, stdout, stderr, func(ctx context.Context, i int, prev <-chan struct{}, stdout, stderr io.Writer) bool {
		turn := func() bool { return true }
		if f.bench != "" && prev != nil {
			// Benchmarks run one package at a time, in order (as with
			// go test), so that they do not compete for the CPUs.
			turn = func() bool {
				select {
				case <-prev:
					return true
				case <-ctx.Done():
					return false
				}
			}
		}
		return testPackage(ctx, pkgs[i], f, mem, extra, stdin, turn, stdout, stderr)
	})
}

// testPackage builds and runs one package's tests; it reports success. turn
// waits until the test binary may run (false: it must not).
func testPackage(ctx context.Context, p pkgInfo, f *testFlags, mem uint64, extra []string, stdin io.Reader, turn func() bool, stdout, stderr io.Writer) bool {
	if f.json {
		// As go test -json: the test binary's output and the package's
		// result line become JSON events, made by go tool test2json.
		conv := exec.CommandContext(ctx, "go", "tool", "test2json", "-t", "-p", p.importPath)
		pr, pw := io.Pipe()
		conv.Stdin, conv.Stdout, conv.Stderr = pr, stdout, stderr
		if err := conv.Start(); err != nil {
			fmt.Fprintf(stderr, "mote test: -json: cannot run go tool test2json: %v\n", err)
			return false
		}
		ok := testPackageText(ctx, p, f, mem, extra, stdin, turn, pw, stderr)
		pw.Close()
		if err := conv.Wait(); err != nil {
			fmt.Fprintf(stderr, "mote test: -json: go tool test2json: %v\n", err)
			return false
		}
		return ok
	}
	return testPackageText(ctx, p, f, mem, extra, stdin, turn, stdout, stderr)
}

// testPackageText builds and tests one package, printing go test's text.
func testPackageText(ctx context.Context, p pkgInfo, f *testFlags, mem uint64, extra []string, stdin io.Reader, turn func() bool, stdout, stderr io.Writer) bool {
	res, err := build.BuildCached(ctx, build.Options{Args: []string{p.dir}, Test: true, CoverMode: f.coverMode(), Stderr: stderr})
	if errors.Is(err, build.ErrNoTestFiles) {
		fmt.Fprintf(stdout, "?   \t%s\t[no test files]\n", p.importPath)
		return true
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintf(stdout, "FAIL\t%s [build failed]\n", p.importPath)
		return false
	}
	if !turn() {
		return false // interrupted before it ran: not reported, as with go test
	}
	runCtx := ctx
	if f.timeout > 0 {
		// The test binary panics at -test.timeout; the guest is stopped
		// a little later if it cannot even do that.
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, f.timeout+time.Minute)
		defer cancel()
	}
	t1 := time.Now()
	status, err := vmm.Run(vmm.Config{
		ImagePath:   res.Image,
		MemoryBytes: mem,
		CPUs:        f.cpus,
		Args:        append(f.binaryArgs(), extra...),
		Env:         f.env,
		Stdin:       stdin,
		Stdout:      stdout,
		Stderr:      stderr,
		Context:     runCtx,
	})
	if err != nil {
		fmt.Fprintf(stderr, "mote test: %s: %v\n", p.importPath, err)
		fmt.Fprintf(stdout, "FAIL\t%s [setup failed]\n", p.importPath)
		return false
	}
	d := time.Since(t1)
	if status != 0 {
		fmt.Fprintf(stdout, "FAIL\t%s\t%.3fs\n", p.importPath, d.Seconds())
		return false
	}
	fmt.Fprintf(stdout, "ok  \t%s\t%.3fs\n", p.importPath, d.Seconds())
	return true
}

// A pkgJob builds and tests package i, writing its output to stdout and
// stderr, and reports success. prev is closed when package i-1's job has
// returned (nil for the first package).
type pkgJob func(ctx context.Context, i int, prev <-chan struct{}, stdout, stderr io.Writer) bool

// runOrdered runs job for packages 0..n-1, up to par at once, started in
// order, and reports whether all succeeded. The packages' output appears on
// stdout and stderr in package order, each package's together: package i's
// output is held until packages 0..i-1 are done, then shown, and from then
// on passes straight through. Once ctx is cancelled no more packages are
// started; those never started print nothing and count as failed.
func runOrdered(ctx context.Context, n, par int, stdout, stderr io.Writer, job pkgJob) bool {
	outs := make([]*pkgOutput, n)
	done := make([]chan struct{}, n)
	ok := make([]bool, n) // ok[i] is set before done[i] is closed
	for i := range n {
		outs[i] = &pkgOutput{w: [2]io.Writer{stdout, stderr}}
		done[i] = make(chan struct{})
	}
	go func() {
		sem := make(chan struct{}, par)
		for i := range n {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				for ; i < n; i++ {
					close(done[i])
				}
				return
			}
			var prev <-chan struct{}
			if i > 0 {
				prev = done[i-1]
			}
			go func() {
				defer func() { <-sem }()
				defer close(done[i])
				ok[i] = job(ctx, i, prev, outs[i].stream(0), outs[i].stream(1))
			}()
		}
	}()
	all := true
	for i := range n {
		outs[i].goLive()
		<-done[i]
		all = all && ok[i]
	}
	return all
}

// pkgOutput is one package's standard output and error: held in order
// until goLive, then passed through.
type pkgOutput struct {
	mu   sync.Mutex
	w    [2]io.Writer // the real stdout and stderr
	live bool
	held []heldWrite
}

type heldWrite struct {
	fd   int // 0: stdout, 1: stderr
	data []byte
}

func (o *pkgOutput) stream(fd int) io.Writer { return pkgStream{o, fd} }

// goLive writes what was held and lets later writes through.
func (o *pkgOutput) goLive() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, h := range o.held {
		o.w[h.fd].Write(h.data)
	}
	o.held, o.live = nil, true
}

type pkgStream struct {
	o  *pkgOutput
	fd int
}

func (s pkgStream) Write(p []byte) (int, error) {
	o := s.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.live {
		return o.w[s.fd].Write(p)
	}
	if k := len(o.held); k > 0 && o.held[k-1].fd == s.fd {
		o.held[k-1].data = append(o.held[k-1].data, p...)
	} else {
		o.held = append(o.held, heldWrite{s.fd, append([]byte(nil), p...)})
	}
	return len(p), nil
}
