// Command netbench measures examples/httpd served three ways in one run —
// a native process on loopback, the unikernel through the user-mode
// network (mote run -p), and the unikernel on a tap device — and prints the
// figures side by side:
//
//		go run ./tools/netbench [-d 10s] [-c 32] [-bulk 1GiB]
//
//	  - wrk keep-alive load on GET / (small responses): requests/s, p50 and
//	    p99 latency, and for the unikernel the VM exits per request (from the
//	    monitor's MOTE_STATS=1 line);
//	  - bulk TCP throughput: a Go client downloads -bulk bytes (/bytes) and
//	    uploads -bulk bytes (/sha256, checked), MB/s each way.
//
// wrk comes from Debian's package (scripts/bench-deps.sh installs it). The
// tap leg needs root; without it, it is skipped with a note.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	flagDur   = flag.Duration("d", 10*time.Second, "wrk duration per leg")
	flagConns = flag.Int("c", 32, "wrk connections")
	flagThr   = flag.Int("t", 2, "wrk threads")
	flagBulk  = flag.Int64("bulk", 1<<30, "bytes per bulk transfer")
	flagMem   = flag.String("m", "512M", "guest RAM")
	flagLegs  = flag.String("legs", "native,user,tap", "which legs to run")
	flagKeep  = flag.Bool("keep", false, "keep the temporary directory")
)

type leg struct {
	name     string
	url      string // base URL
	stop     func() (stats string)
	reqs     float64
	p50, p99 time.Duration
	total    float64 // requests completed by wrk
	exits    float64 // VM exits to the monitor (unikernel legs, whole run)
	kicks    float64 // virtio kicks (exits handled in the host kernel, whole run)
	down, up float64 // MB/s
	note     string
}

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "netbench: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (run scripts/bench-deps.sh)")
	}
	dir, err := os.MkdirTemp("", "mote-netbench-")
	if err != nil {
		return err
	}
	if !*flagKeep {
		defer os.RemoveAll(dir)
	}
	mote := filepath.Join(dir, "mote")
	native := filepath.Join(dir, "httpd")
	img := filepath.Join(dir, "httpd.img")
	for _, c := range [][]string{
		{"go", "build", "-o", mote, "./cmd/mote"},
		{"go", "build", "-o", native, "./examples/httpd"},
		{mote, "build", "-o", img, "./examples/httpd"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	var legs []*leg
	for _, name := range strings.Split(*flagLegs, ",") {
		l := &leg{name: name}
		legs = append(legs, l)
		if err := l.start(dir, mote, native, img); err != nil {
			l.note = err.Error()
			continue
		}
		l.measure()
		stats := l.stop()
		l.exitsFrom(stats)
		fmt.Fprintf(os.Stderr, "netbench: %s: %.0f req/s p50 %v p99 %v, down %.0f MB/s up %.0f MB/s %s\n", l.name, l.reqs, l.p50, l.p99, l.down, l.up, l.note)
	}
	report(legs)
	return nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startProc starts a command and returns a stop function that interrupts
// it and returns its stderr.
func startProc(argv []string, env []string) (func() string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	var errb strings.Builder
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() string {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		return errb.String()
	}, nil
}

func (l *leg) start(dir, mote, native, img string) error {
	switch l.name {
	case "native":
		port := freePort()
		stop, err := startProc([]string{native, fmt.Sprintf("127.0.0.1:%d", port)}, nil)
		if err != nil {
			return err
		}
		l.url, l.stop = fmt.Sprintf("http://127.0.0.1:%d", port), stop
	case "user":
		port := freePort()
		stop, err := startProc([]string{mote, "run", "-m", *flagMem, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), img}, []string{"MOTE_STATS=1"})
		if err != nil {
			return err
		}
		l.url, l.stop = fmt.Sprintf("http://127.0.0.1:%d", port), stop
	case "tap":
		if os.Geteuid() != 0 {
			return errors.New("skipped: the tap leg needs root")
		}
		tap := "motebench0"
		exec.Command("ip", "link", "del", tap).Run()
		for _, c := range [][]string{
			{"ip", "tuntap", "add", "dev", tap, "mode", "tap"},
			{"ip", "addr", "add", "10.78.0.1/24", "dev", tap},
			{"ip", "link", "set", tap, "up"},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
			}
		}
		stop, err := startProc([]string{mote, "run", "-m", *flagMem, "--net", "tap:" + tap, "--ip", "10.78.0.2/24", "--gateway", "10.78.0.1", img}, []string{"MOTE_STATS=1"})
		if err != nil {
			return err
		}
		l.url = "http://10.78.0.2"
		l.stop = func() string {
			s := stop()
			exec.Command("ip", "link", "del", tap).Run()
			return s
		}
	default:
		return fmt.Errorf("unknown leg %q", l.name)
	}
	// Wait for the first answer.
	c := &http.Client{Timeout: time.Second}
	for t0 := time.Now(); time.Since(t0) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		if resp, err := c.Get(l.url + "/"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	out := l.stop()
	return fmt.Errorf("%s never answered: %s", l.url, out)
}

var (
	reqRE   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	totalRE = regexp.MustCompile(`(\d+) requests in`)
	pctRE   = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	exitsRE = regexp.MustCompile(` exits=(\d+)`)
	kicksRE = regexp.MustCompile(`net_kicks=(\d+)`)
)

func parseDur(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * 1e3)
	case "ms":
		return time.Duration(f * 1e6)
	}
	return time.Duration(f * 1e9)
}

func (l *leg) measure() {
	// Warm up, then the measured wrk run.
	exec.Command("wrk", "-t1", "-c4", "-d1s", l.url+"/").Run()
	out, err := exec.Command("wrk", fmt.Sprintf("-t%d", *flagThr), fmt.Sprintf("-c%d", *flagConns),
		fmt.Sprintf("-d%s", *flagDur), "--latency", l.url+"/").CombinedOutput()
	if err != nil {
		l.note = fmt.Sprintf("wrk: %v: %s", err, out)
		return
	}
	s := string(out)
	if m := reqRE.FindStringSubmatch(s); m != nil {
		l.reqs, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := totalRE.FindStringSubmatch(s); m != nil {
		l.total, _ = strconv.ParseFloat(m[1], 64)
	}
	for _, m := range pctRE.FindAllStringSubmatch(s, -1) {
		if m[1] == "50" {
			l.p50 = parseDur(m[2], m[3])
		} else {
			l.p99 = parseDur(m[2], m[3])
		}
	}
	l.down = l.bulkDown()
	l.up = l.bulkUp()
}

func (l *leg) bulkDown() float64 {
	t0 := time.Now()
	resp, err := http.Get(fmt.Sprintf("%s/bytes?n=%d", l.url, *flagBulk))
	if err != nil {
		l.note += " download: " + err.Error()
		return 0
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != *flagBulk {
		l.note += fmt.Sprintf(" download: %d bytes, %v", n, err)
		return 0
	}
	return float64(n) / 1e6 / time.Since(t0).Seconds()
}

type pattern struct{ off int64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

func (l *leg) bulkUp() float64 {
	h := sha256.New()
	io.Copy(h, io.LimitReader(&pattern{}, *flagBulk))
	want := fmt.Sprintf("%s %d", hex.EncodeToString(h.Sum(nil)), *flagBulk)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", l.url+"/sha256", io.LimitReader(&pattern{}, *flagBulk))
	req.ContentLength = *flagBulk
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.note += " upload: " + err.Error()
		return 0
	}
	defer resp.Body.Close()
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	d := time.Since(t0)
	if strings.TrimSpace(line) != want {
		l.note += fmt.Sprintf(" upload: guest says %q, want %q", line, want)
		return 0
	}
	return float64(*flagBulk) / 1e6 / d.Seconds()
}

// exitsFrom takes the VM exits to the monitor and the virtio kicks (exits
// the host kernel serves through an ioeventfd) from the monitor's stats
// line. They cover the whole run (boot, warm-up, wrk and the bulk
// transfers); per request they are an upper bound on what the keep-alive
// load costs.
func (l *leg) exitsFrom(stats string) {
	if m := exitsRE.FindStringSubmatch(stats); m != nil {
		l.exits, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := kicksRE.FindStringSubmatch(stats); m != nil {
		l.kicks, _ = strconv.ParseFloat(m[1], 64)
	}
}

func report(legs []*leg) {
	var native *leg
	for _, l := range legs {
		if l.name == "native" && l.note == "" {
			native = l
		}
	}
	fmt.Printf("examples/httpd, wrk -t%d -c%d -d%s keep-alive GET / ; bulk %d MiB each way (Go client)\n\n", *flagThr, *flagConns, *flagDur, *flagBulk>>20)
	fmt.Printf("%-8s %12s %8s %10s %10s %10s %10s %10s %10s\n", "leg", "req/s", "x native", "p50", "p99", "exits/req", "kicks/req", "down MB/s", "up MB/s")
	for _, l := range legs {
		if l.reqs == 0 && l.note != "" {
			fmt.Printf("%-8s %s\n", l.name, l.note)
			continue
		}
		ratio := "-"
		if native != nil && native.reqs > 0 {
			ratio = fmt.Sprintf("%.2f", l.reqs/native.reqs)
		}
		epr, kpr := "-", "-"
		if l.exits > 0 && l.total > 0 {
			epr = fmt.Sprintf("%.3f", l.exits/l.total)
			kpr = fmt.Sprintf("%.3f", l.kicks/l.total)
		}
		fmt.Printf("%-8s %12.0f %8s %10v %10v %10s %10s %10.0f %10.0f\n", l.name, l.reqs, ratio, l.p50.Round(time.Microsecond), l.p99.Round(time.Microsecond), epr, kpr, l.down, l.up)
		if l.note != "" {
			fmt.Printf("         note: %s\n", strings.TrimSpace(l.note))
		}
	}
}
