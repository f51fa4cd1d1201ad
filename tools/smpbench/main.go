// Command smpbench measures mote's SMP against the native process in the
// same run, on the same machine, and prints the figures side by side:
//
//	go run ./tools/smpbench [-runs 5] [-idle 10s]
//
// It builds the mote CLI and tests/progs/smpbench (natively and as a mote
// image), then measures (medians of -runs runs):
//   - parallel CPU-bound work: 1 and 2 goroutines each hashing their own
//     64 MiB buffer, natively with GOMAXPROCS=1/2 and in mote with
//     --cpus 1/2; the speed-up of 2 over 1 each way;
//   - a cross-thread wake-up round trip (two goroutines locked to two OS
//     threads passing a token: a futex wait/wake each way), with 2 CPUs
//     (the threads on different CPUs) and with 1 (a thread switch);
//   - host CPU used by an idle guest: examples/httpd under mote run
//     --cpus 2 (and the native httpd) for -idle, from /proc/PID/stat.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

var (
	flagRuns = flag.Int("runs", 5, "runs of each measurement (the median is shown)")
	flagIdle = flag.Duration("idle", 10*time.Second, "how long to watch the idle guest")
	flagPP   = flag.Int("pingpong", 20000, "round trips per ping-pong run")
)

func main() {
	flag.Parse()
	dir, err := os.MkdirTemp("", "smpbench-")
	check(err)
	defer os.RemoveAll(dir)
	mote := filepath.Join(dir, "mote")
	native := filepath.Join(dir, "smpbench")
	img := filepath.Join(dir, "smpbench.img")
	httpdNative := filepath.Join(dir, "httpd")
	httpdImg := filepath.Join(dir, "httpd.img")
	run(context.Background(), nil, "go", "build", "-o", mote, "./cmd/mote")
	run(context.Background(), nil, "go", "build", "-o", native, "./tests/progs/smpbench")
	run(context.Background(), nil, "go", "build", "-o", httpdNative, "./examples/httpd")
	run(context.Background(), nil, mote, "build", "-o", img, "./tests/progs/smpbench")
	run(context.Background(), nil, mote, "build", "-o", httpdImg, "./examples/httpd")

	measure := func(cpus int, guest bool, args ...string) float64 {
		var vals []float64
		for i := 0; i < *flagRuns; i++ {
			var out string
			if guest {
				out = run(context.Background(), nil, mote, append([]string{"run", "-m", "1G", "--cpus", strconv.Itoa(cpus), img, "--"}, args...)...)
			} else {
				out = run(context.Background(), []string{"GOMAXPROCS=" + strconv.Itoa(cpus)}, native, args...)
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
			check(err)
			vals = append(vals, v)
		}
		sort.Float64s(vals)
		return vals[len(vals)/2]
	}

	fmt.Printf("smpbench: %d runs each, median; GOMAXPROCS=k natively, --cpus k in mote\n\n", *flagRuns)
	n1, n2 := measure(1, false, "hash", "1"), measure(2, false, "hash", "2")
	m1, m2 := measure(1, true, "hash", "1"), measure(2, true, "hash", "2")
	fmt.Printf("%-44s %12s %12s\n", "", "native", "mote")
	fmt.Printf("%-44s %10.0fms %10.0fms\n", "hash 1 x 256 MiB, 1 CPU", n1, m1)
	fmt.Printf("%-44s %10.0fms %10.0fms\n", "hash 2 x 256 MiB, 2 CPUs", n2, m2)
	fmt.Printf("%-44s %11.2fx %11.2fx   (mote/native %.2f)\n", "speed-up, 2 CPUs over 1 (2x work)", 2*n1/n2, 2*m1/m2, (2*m1/m2)/(2*n1/n2))
	pp := strconv.Itoa(*flagPP)
	p2n, p2m := measure(2, false, "pingpong", pp), measure(2, true, "pingpong", pp)
	p1n, p1m := measure(1, false, "pingpong", pp), measure(1, true, "pingpong", pp)
	fmt.Printf("%-44s %10.1fus %10.1fus\n", "wake-up round trip, threads on 2 CPUs", p2n/1000, p2m/1000)
	fmt.Printf("%-44s %10.1fus %10.1fus\n", "wake-up round trip, 1 CPU (2 switches)", p1n/1000, p1m/1000)

	// Idle: host CPU time of the process over the window.
	idleN := idleCPU(exec.Command(httpdNative, "127.0.0.1:0"))
	idleM := idleCPU(exec.Command(mote, "run", "--cpus", "2", "--net", "none", httpdImg))
	fmt.Printf("%-44s %9.2f%% %10.2f%%\n", "host CPU of an idle httpd over "+flagIdle.String(), idleN, idleM)
}

// idleCPU starts cmd, waits a second for it to settle, then reports the
// CPU it used (user+system, % of one core) over the idle window.
func idleCPU(cmd *exec.Cmd) float64 {
	check(cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(time.Second)
	t0 := cpuTicks(cmd.Process.Pid)
	time.Sleep(*flagIdle)
	t1 := cpuTicks(cmd.Process.Pid)
	return float64(t1-t0) / 100 / flagIdle.Seconds() * 100 // USER_HZ = 100
}

func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	sy, _ := strconv.ParseInt(f[12], 10, 64)
	return u + sy
}

func run(ctx context.Context, env []string, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "smpbench: %s %s: %v\n%s", name, strings.Join(args, " "), err, errb.String())
		os.Exit(1)
	}
	return out.String()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "smpbench:", err)
		os.Exit(1)
	}
}
