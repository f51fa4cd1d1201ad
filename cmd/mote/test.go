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
	"strings"
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
	memory                           string
	cpus                             int
	env                              []string
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
	if f.verbose {
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
own unikernel, streams its output, and prints an ok or FAIL line per package.
It exits with status 1 if any package failed, 0 otherwise.

Flags are written as for go test (-run X, -v, --run=X all work):
  -run, -skip REGEXP     the tests and examples to run or skip
  -bench REGEXP          the benchmarks to run
  -benchtime T           time (or Nx) per benchmark
  -count N               run each test and benchmark N times
  -cpu LIST              GOMAXPROCS values to run with
  -timeout D             panic a test binary after D (default 10m; 0: none)
  -short, -v, -failfast  as for go test
  -m, -memory SIZE       guest RAM per test binary (default 512M)
  -cpus N                virtual CPUs per test binary (default 1)
  -e KEY=VALUE           environment variable in the guest (repeatable)

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
			for _, kv := range f.env {
				if err := build.CheckEnv(kv); err != nil {
					return fmt.Errorf("mote: -e: %v", err)
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			pkgs, err := listPackages(ctx, patterns)
			if err != nil {
				return err
			}
			failed := false
			for _, p := range pkgs {
				if !testPackage(ctx, p, f, mem, extra, stdout, stderr) {
					failed = true
				}
				if ctx.Err() != nil {
					break
				}
			}
			if failed {
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
	fs.StringVar(&f.memory, "m", "512M", "")
	fs.StringVar(&f.memory, "memory", "512M", "")
	fs.IntVar(&f.cpus, "cpus", 1, "")
	fs.Var((*stringList)(&f.env), "e", "")
	fs.Var((*stringList)(&f.env), "env", "")
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

// testPackage builds and runs one package's tests; it reports success.
func testPackage(ctx context.Context, p pkgInfo, f *testFlags, mem uint64, extra []string, stdout, stderr io.Writer) bool {
	res, err := build.BuildCached(ctx, build.Options{Args: []string{p.dir}, Test: true, Stderr: stderr})
	if errors.Is(err, build.ErrNoTestFiles) {
		fmt.Fprintf(stdout, "?   \t%s\t[no test files]\n", p.importPath)
		return true
	}
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		fmt.Fprintf(stdout, "FAIL\t%s [build failed]\n", p.importPath)
		return false
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
		Stdin:       os.Stdin,
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
