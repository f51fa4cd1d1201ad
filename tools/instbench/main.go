// Command instbench measures detached instances (mote run -d) at scale:
// it starts N idle examples/httpd instances, each with a published port,
// and reports
//
//   - how fast they start: instances per second, started one after the
//     other (or -p at a time), each counted when it answers HTTP, and the
//     latency of mote run -d itself;
//   - the time from the start of mote run -d to the first HTTP answer
//     through the published port (p50, p90, max);
//   - the host memory per idle instance, three ways: the monitor process's
//     resident set (VmRSS, of which RssAnon holds the guest RAM the guest
//     touched, since guest RAM is anonymous memory mapped in the monitor,
//     and RssFile the pages of the mote binary and the image file, which
//     detached instances map, shared by all monitors), its
//     proportional set size (Pss, smaps_rollup: shared pages divided among
//     their users, so the figures add up), and the drop of the host's
//     MemAvailable divided by N (which also counts what the kernel spends
//     per VM: KVM's vCPU and MMU structures, page tables);
//   - the guest's own view: pages of guest RAM touched (MOTE_STATS=1's
//     guest_pages_touched, written to each instance's log when it stops);
//
// then stops them all with one mote stop and removes them. The same is
// measured for N native httpd processes as a baseline.
//
//	go run ./tools/instbench [-n 100] [-m auto] [-p 1]
//
// -m auto (the default) first finds the smallest guest RAM, in 2 MiB steps,
// at which httpd answered three boots out of three, and adds 8 MiB (at the
// very edge a boot now and then runs out of memory). Guest RAM is touched
// lazily, so -m barely changes the host memory an idle instance takes.
// Instances live in a temporary MOTE_HOME.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

var (
	flagN      = flag.Int("n", 100, "number of instances (and of native processes)")
	flagMem    = flag.String("m", "auto", "guest RAM per instance, or auto: 8 MiB more than the smallest (2 MiB steps) at which httpd answered 3 boots of 3")
	flagPar    = flag.Int("p", 1, "instances started at once")
	flagNative = flag.Bool("native", true, "measure native httpd processes as a baseline")
	flagSettle = flag.Duration("settle", 2*time.Second, "wait after the last start before measuring memory")
	flagKeep   = flag.Bool("keep", false, "keep the temporary directory")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "instbench: %v\n", err)
		os.Exit(1)
	}
}

type bench struct {
	dir, mote, native, img, home string
}

func run() error {
	dir, err := os.MkdirTemp("", "mote-instbench-")
	if err != nil {
		return err
	}
	if !*flagKeep {
		defer os.RemoveAll(dir)
	}
	b := &bench{dir: dir, mote: filepath.Join(dir, "mote"), native: filepath.Join(dir, "httpd"),
		img: filepath.Join(dir, "httpd.img"), home: filepath.Join(dir, "home")}
	for _, c := range [][]string{
		{"go", "build", "-o", b.mote, "./cmd/mote"},
		{"go", "build", "-o", b.native, "./examples/httpd"},
		{b.mote, "build", "-o", b.img, "./examples/httpd"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "MOTE_HOME="+b.home)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	defer b.cleanup()
	mem := *flagMem
	if mem == "auto" {
		mib, err := b.smallestMemory()
		if err != nil {
			return err
		}
		mem = fmt.Sprintf("%dM", mib+8)
		fmt.Fprintf(os.Stderr, "instbench: smallest guest RAM at which httpd answered 3 of 3 boots: %dM; using %s\n", mib, mem)
	}
	uni, err := b.unikernels(*flagN, mem)
	if err != nil {
		return err
	}
	var nat *result
	if *flagNative {
		if nat, err = b.natives(*flagN); err != nil {
			return err
		}
	}
	report(uni, nat, mem)
	return nil
}

// moteCmd runs the mote CLI with the benchmark's MOTE_HOME; MOTE_STATS=1
// makes each monitor write its statistics to the instance's log at exit.
func (b *bench) moteCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(b.mote, args...)
	cmd.Env = append(os.Environ(), "MOTE_HOME="+b.home, "MOTE_STATS=1")
	return cmd
}

func (b *bench) cleanup() {
	out, _ := b.moteCmd("ps", "-aq").Output()
	if names := strings.Fields(string(out)); len(names) > 0 {
		b.moteCmd(append([]string{"rm", "-f"}, names...)...).Run()
	}
}

// smallestMemory finds the smallest -m at which httpd serves: mote run -d
// says how much the image needs at least; from there in 2 MiB steps.
func (b *bench) smallestMemory() (int, error) {
	out, _ := b.moteCmd("run", "-d", "--name", "probe", "-m", "2M", b.img).CombinedOutput()
	m := regexp.MustCompile(`needs at least (\d+) MiB`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("probing the minimum memory: %s", out)
	}
	mib, _ := strconv.Atoi(string(m[1]))
	for ; mib <= 512; mib += 2 {
		ok := true
		for try := 0; try < 3 && ok; try++ {
			port := freePort()
			mem := fmt.Sprintf("%dM", mib)
			if out, err := b.moteCmd("run", "-d", "--name", "probe", "-m", mem, "-p", fmt.Sprintf("127.0.0.1:%d:80", port), b.img).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("mote run -d -m %s: %v\n%s", mem, err, out)
			}
			_, err := firstAnswer(port, time.Now(), 3*time.Second)
			b.moteCmd("rm", "-f", "probe").Run()
			ok = err == nil
		}
		if ok {
			return mib, nil
		}
	}
	return 0, errors.New("httpd does not answer with up to 512M")
}

// result is what one side (unikernels or native processes) measured.
type result struct {
	n          int
	startTotal time.Duration   // wall time to start all, each until it answered
	runLat     []time.Duration // mote run -d's own duration (unikernels)
	firstHTTP  []time.Duration // start of the command to the first HTTP answer
	rss, anon  []float64       // KiB per process: VmRSS, RssAnon
	file, pss  []float64       // KiB: RssFile, Pss
	availDrop  float64         // KiB: MemAvailable before the starts minus after
	touched    []float64       // KiB of guest RAM touched (unikernels)
	stopTotal  time.Duration   // one mote stop of all (unikernels)
	rmTotal    time.Duration
	procs      int // processes left after stop (should be 0)
}

func (b *bench) unikernels(n int, mem string) (*result, error) {
	r := &result{n: n}
	names := make([]string, n)
	ports := make([]int, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench%03d", i)
	}
	r.runLat = make([]time.Duration, n)
	r.firstHTTP = make([]time.Duration, n)
	avail0 := memAvailable()
	start := time.Now()
	err := parallel(n, *flagPar, func(i int) error {
		// A port free a moment ago can be taken by then (the HTTP
		// polling's own connections use ephemeral ports): try another.
		var t0 time.Time
		for try := 0; ; try++ {
			ports[i] = freePort()
			t0 = time.Now()
			out, err := b.moteCmd("run", "-d", "--name", names[i], "-m", mem, "-p", fmt.Sprintf("127.0.0.1:%d:80", ports[i]), b.img).CombinedOutput()
			r.runLat[i] = time.Since(t0)
			if err == nil {
				break
			}
			if !strings.Contains(string(out), "is in use") || try == 4 {
				return fmt.Errorf("mote run -d %s: %v\n%s", names[i], err, out)
			}
		}
		d, err := firstAnswer(ports[i], t0, 30*time.Second)
		r.firstHTTP[i] = d
		if err != nil {
			ps, _ := b.moteCmd("inspect", names[i]).CombinedOutput()
			logs, _ := b.moteCmd("logs", names[i]).CombinedOutput()
			return fmt.Errorf("%s: %v\n%s\nlog:\n%s", names[i], err, ps, logs)
		}
		return nil
	})
	r.startTotal = time.Since(start)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "instbench: %d instances answer HTTP after %v\n", n, r.startTotal.Round(time.Millisecond))
	time.Sleep(*flagSettle)
	r.availDrop = avail0 - memAvailable()
	pids, err := b.monitorPIDs(names)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		r.addMemory(pid)
	}
	// Every instance still answers.
	for _, p := range ports {
		if _, err := firstAnswer(p, time.Now(), 5*time.Second); err != nil {
			return nil, fmt.Errorf("after measuring: %v", err)
		}
	}
	t0 := time.Now()
	if out, err := b.moteCmd(append([]string{"stop"}, names...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mote stop: %v\n%s", err, out)
	}
	r.stopTotal = time.Since(t0)
	for _, name := range names {
		out, _ := b.moteCmd("logs", name).CombinedOutput()
		if m := regexp.MustCompile(`guest_pages_touched=(\d+)`).FindSubmatch(out); m != nil {
			pages, _ := strconv.ParseFloat(string(m[1]), 64)
			r.touched = append(r.touched, pages*4)
		}
	}
	for _, pid := range pids {
		if alive(pid) {
			r.procs++
		}
	}
	t0 = time.Now()
	if out, err := b.moteCmd(append([]string{"rm"}, names...)...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mote rm: %v\n%s", err, out)
	}
	r.rmTotal = time.Since(t0)
	return r, nil
}

func (b *bench) monitorPIDs(names []string) ([]int, error) {
	out, err := b.moteCmd("ps", "--format", "json").Output()
	if err != nil {
		return nil, err
	}
	pids := map[string]int{}
	for _, m := range regexp.MustCompile(`"name": "([^"]+)",[^}]*?"pid": (\d+)`).FindAllSubmatch(out, -1) {
		pid, _ := strconv.Atoi(string(m[2]))
		pids[string(m[1])] = pid
	}
	var list []int
	for _, n := range names {
		if pids[n] == 0 {
			return nil, fmt.Errorf("mote ps does not list %s as running", n)
		}
		list = append(list, pids[n])
	}
	return list, nil
}

func (b *bench) natives(n int) (*result, error) {
	r := &result{n: n, firstHTTP: make([]time.Duration, n)}
	cmds := make([]*exec.Cmd, n)
	defer func() {
		for _, c := range cmds {
			if c != nil && c.Process != nil {
				c.Process.Kill()
				c.Wait()
			}
		}
	}()
	avail0 := memAvailable()
	start := time.Now()
	var mu sync.Mutex
	err := parallel(n, *flagPar, func(i int) error {
		port := freePort()
		t0 := time.Now()
		c := exec.Command(b.native)
		c.Env = append(os.Environ(), fmt.Sprintf("ADDR=127.0.0.1:%d", port))
		if err := c.Start(); err != nil {
			return err
		}
		mu.Lock()
		cmds[i] = c
		mu.Unlock()
		d, err := firstAnswer(port, t0, 30*time.Second)
		r.firstHTTP[i] = d
		return err
	})
	r.startTotal = time.Since(start)
	if err != nil {
		return nil, err
	}
	time.Sleep(*flagSettle)
	r.availDrop = avail0 - memAvailable()
	for _, c := range cmds {
		r.addMemory(c.Process.Pid)
	}
	return r, nil
}

// parallel runs fn(0..n-1), par at a time, and returns the first error.
func parallel(n, par int, fn func(int) error) error {
	if par < 1 {
		par = 1
	}
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan int)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

var client = &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// firstAnswer polls http://127.0.0.1:port/ until it answers and returns
// the time since t0.
func firstAnswer(port int, t0 time.Time, timeout time.Duration) (time.Duration, error) {
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(t0), nil
			}
		}
		if time.Since(t0) > timeout {
			return 0, fmt.Errorf("%s: no answer within %v (%v)", url, timeout, err)
		}
		time.Sleep(500 * time.Microsecond)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// addMemory records pid's memory from /proc.
func (r *result) addMemory(pid int) {
	st := procFields(fmt.Sprintf("/proc/%d/status", pid))
	sm := procFields(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	r.rss = append(r.rss, st["VmRSS"])
	r.anon = append(r.anon, st["RssAnon"])
	r.file = append(r.file, st["RssFile"])
	r.pss = append(r.pss, sm["Pss"])
}

// procFields reads "Key:   123 kB" lines.
func procFields(path string) map[string]float64 {
	m := map[string]float64{}
	f, err := os.Open(path)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 2 && fs[1] == "kB" {
			n, _ := strconv.ParseFloat(fs[0], 64)
			m[k] = n
		}
	}
	return m
}

func memAvailable() float64 { return procFields("/proc/meminfo")["MemAvailable"] }

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z' && syscall.Kill(pid, 0) == nil
}

func report(u, n *result, mem string) {
	fmt.Printf("\ninstbench: %d idle examples/httpd, -m %s, started %d at a time (%d CPUs)\n\n", u.n, mem, max(*flagPar, 1), numCPU())
	row := func(what, uni, nat string) { fmt.Printf("  %-44s %18s %18s\n", what, uni, nat) }
	na := func(f func(*result) string) string {
		if n == nil {
			return "-"
		}
		return f(n)
	}
	row("", "mote run -d", "native process")
	row("started per second (each until it answers)", fmt.Sprintf("%.1f/s", float64(u.n)/u.startTotal.Seconds()),
		na(func(n *result) string { return fmt.Sprintf("%.1f/s", float64(n.n)/n.startTotal.Seconds()) }))
	row("mote run -d returns after: p50 / max", fmt.Sprintf("%s / %s", ms(pct(u.runLat, 50)), ms(pct(u.runLat, 100))), "-")
	for _, p := range []int{50, 90, 100} {
		label := fmt.Sprintf("start to first HTTP answer: p%d", p)
		if p == 100 {
			label = "start to first HTTP answer: max"
		}
		row(label, ms(pct(u.firstHTTP, p)), na(func(n *result) string { return ms(pct(n.firstHTTP, p)) }))
	}
	mib := func(kib []float64) string { return fmt.Sprintf("%.1f MiB", mean(kib)/1024) }
	row("memory per instance: VmRSS (mean)", mib(u.rss), na(func(n *result) string { return mib(n.rss) }))
	row("  of which RssAnon (guest RAM + Go heap)", mib(u.anon), na(func(n *result) string { return mib(n.anon) }))
	row("  of which RssFile (shared files)", mib(u.file), na(func(n *result) string { return mib(n.file) }))
	row("memory per instance: Pss (mean)", mib(u.pss), na(func(n *result) string { return mib(n.pss) }))
	row("memory per instance: MemAvailable drop / N", fmt.Sprintf("%.1f MiB", u.availDrop/float64(u.n)/1024),
		na(func(n *result) string { return fmt.Sprintf("%.1f MiB", n.availDrop/float64(n.n)/1024) }))
	if len(u.touched) > 0 {
		row("guest RAM touched (MOTE_STATS, mean)", mib(u.touched), "-")
	}
	row(fmt.Sprintf("mote stop of all %d", u.n), ms(u.stopTotal), "-")
	row(fmt.Sprintf("mote rm of all %d", u.n), ms(u.rmTotal), "-")
	row("monitor processes left after stop", strconv.Itoa(u.procs), "-")
	fmt.Println()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(0, min(i, len(s))-1)]
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t / float64(len(xs))
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "\nprocessor") + 1
}
