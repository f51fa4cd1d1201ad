package tests

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests of detached instances: mote run -d, ps, logs, stop,
// rm, inspect. Each test has a MOTE_HOME of its own (instMote), so the
// tests run in parallel and nothing touches the real home.

var (
	sigtermOnce sync.Once
	sigtermImg  string
	sigtermErr  error
)

// sigtermImage builds tests/progs/sigterm once: prints "ready", waits for
// SIGTERM, prints "got SIGTERM, cleaning up" and exits 0.
func sigtermImage(t *testing.T) string {
	t.Helper()
	sigtermOnce.Do(func() {
		img := filepath.Join(work, "sigterm.img")
		if out, err := exec.Command(moteBin, "build", "-o", img, "./progs/sigterm").CombinedOutput(); err != nil {
			sigtermErr = fmt.Errorf("mote build ./progs/sigterm: %v\n%s", err, out)
			return
		}
		sigtermImg = img
	})
	if sigtermErr != nil {
		t.Fatal(sigtermErr)
	}
	return sigtermImg
}

// instHome returns a new MOTE_HOME whose instances are all killed and
// removed when the test ends, whatever happened.
func instHome(t *testing.T) string {
	home := t.TempDir()
	t.Cleanup(func() {
		r := instMote(t, home, time.Minute, "ps", "-aq")
		if names := strings.Fields(r.stdout); len(names) > 0 {
			instMote(t, home, time.Minute, append([]string{"rm", "-f"}, names...)...)
		}
	})
	return home
}

// instMote runs the mote CLI with MOTE_HOME=home.
func instMote(t *testing.T, home string, timeout time.Duration, args ...string) result {
	t.Helper()
	return moteExec(t, "", []string{"MOTE_HOME=" + home}, timeout, "", args...)
}

// mustMote is instMote that fails the test unless mote exits 0.
func mustMote(t *testing.T, home string, args ...string) result {
	t.Helper()
	r := instMote(t, home, 2*time.Minute, args...)
	if r.code != 0 {
		t.Fatalf("mote %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// psEntry is the part of mote ps --format json the tests look at.
type psEntry struct {
	Name       string   `json:"name"`
	Image      string   `json:"image"`
	Status     string   `json:"status"`
	StatusText string   `json:"status_text"`
	Reason     string   `json:"reason"`
	ExitStatus *int     `json:"exit_status"`
	Error      string   `json:"error"`
	PID        int      `json:"pid"`
	CPUs       int      `json:"cpus"`
	Memory     uint64   `json:"memory"`
	Ports      []string `json:"ports"`
}

func psJSON(t *testing.T, home string, all bool) map[string]psEntry {
	t.Helper()
	args := []string{"ps", "--format", "json"}
	if all {
		args = append(args, "-a")
	}
	r := mustMote(t, home, args...)
	var list []psEntry
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("mote ps --format json: %v\n%s", err, r.stdout)
	}
	m := map[string]psEntry{}
	for _, e := range list {
		m[e.Name] = e
	}
	return m
}

// waitLogs polls mote logs NAME until its stdout contains want.
func waitLogs(t *testing.T, home, name, want string) result {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := mustMote(t, home, "logs", name)
		if strings.Contains(r.stdout, want) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("mote logs %s: no %q within 30s\nstdout:\n%s\nstderr:\n%s", name, want, r.stdout, r.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// monitorAlive reports whether pid is a live mote monitor process (not a
// zombie, not a process that reused the pid).
func monitorAlive(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte("__monitor")) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && len(stat) > i+2 && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

// TestInstanceLifecycle: an HTTP server as a service, from mote run -d to
// mote rm.
func TestInstanceLifecycle(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	port := freePort(t)
	r := mustMote(t, home, "run", "-d", "--name", "web", "-m", "64M", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), images["httpd"])
	if r.stdout != "web\n" || r.stderr != "" {
		t.Fatalf("mote run -d: stdout %q stderr %q", r.stdout, r.stderr)
	}
	t.Logf("mote run -d took %v", r.elapsed)

	ps := psJSON(t, home, false)
	web, ok := ps["web"]
	wantPort := fmt.Sprintf("127.0.0.1:%d->80/tcp", port)
	if !ok || len(ps) != 1 || web.Status != "running" || web.PID <= 0 || web.Memory != 64<<20 || web.CPUs != 1 ||
		len(web.Ports) != 1 || web.Ports[0] != wantPort || web.Image != images["httpd"] {
		t.Fatalf("mote ps: %+v", ps)
	}
	monitorPID := web.PID
	if !monitorAlive(monitorPID) {
		t.Errorf("pid %d is not a live monitor", monitorPID)
	}
	table := mustMote(t, home, "ps").stdout
	if !regexp.MustCompile(`(?m)^web +httpd\.img +running +\d+s +1 +64M +` + regexp.QuoteMeta(wantPort) + `\n`).MatchString(table) {
		t.Errorf("mote ps table:\n%s", table)
	}

	// The service answers through the published port.
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	var body []byte
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(body) != "hello from mote\n" {
		t.Errorf("GET %s: %q", url, body)
	}

	// Its log (the standard library's log writes to stderr).
	logs := mustMote(t, home, "logs", "web")
	if !strings.Contains(logs.stderr, "httpd: listening on [::]:80\n") || logs.stdout != "" {
		t.Errorf("mote logs web: stdout %q stderr %q", logs.stdout, logs.stderr)
	}
	ts := mustMote(t, home, "logs", "-t", "web")
	if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z \S+ \S+ httpd: listening on`).MatchString(ts.stderr) {
		t.Errorf("mote logs -t web: stderr %q", ts.stderr)
	}

	// mote stop: httpd has no SIGTERM handler, so it dies of it (143).
	if r := mustMote(t, home, "stop", "web"); r.stdout != "web\n" {
		t.Errorf("mote stop: %q", r.stdout)
	}
	if ps := psJSON(t, home, false); len(ps) != 0 {
		t.Errorf("mote ps after stop: %+v", ps)
	}
	web = psJSON(t, home, true)["web"]
	if web.Status != "exited" || web.ExitStatus == nil || *web.ExitStatus != 143 || web.Reason != "stopped" ||
		!strings.HasPrefix(web.StatusText, "exited (143) ") {
		t.Errorf("mote ps -a after stop: %+v", web)
	}
	if monitorAlive(monitorPID) {
		t.Errorf("the monitor %d still runs after mote stop", monitorPID)
	}
	if _, err := http.Get(url); err == nil {
		t.Errorf("GET %s works after mote stop", url)
	}
	if table := mustMote(t, home, "ps", "-a").stdout; !regexp.MustCompile(`(?m)^web +httpd\.img +exited \(143\) \d+s ago `).MatchString(table) {
		t.Errorf("mote ps -a table:\n%s", table)
	}

	// mote inspect.
	var info []struct {
		Name   string `json:"name"`
		Dir    string `json:"dir"`
		Config struct {
			Image       string                     `json:"image"`
			ImagePath   string                     `json:"image_path"`
			ImageDigest string                     `json:"image_digest"`
			Memory      uint64                     `json:"memory"`
			CPUs        int                        `json:"cpus"`
			Net         struct{ Publish []string } `json:"net"`
		} `json:"config"`
		State struct {
			Status     string    `json:"status"`
			PID        int       `json:"pid"`
			Started    time.Time `json:"started"`
			Finished   time.Time `json:"finished"`
			ExitStatus *int      `json:"exit_status"`
			Reason     string    `json:"reason"`
		} `json:"state"`
		ExitStatus  *int     `json:"exit_status"`
		ImageDigest string   `json:"image_digest"`
		Ports       []string `json:"ports"`
		Volumes     []any    `json:"volumes"`
		LogPath     string   `json:"log_path"`
	}
	out := mustMote(t, home, "inspect", "web").stdout
	if err := json.Unmarshal([]byte(out), &info); err != nil || len(info) != 1 {
		t.Fatalf("mote inspect: %v\n%s", err, out)
	}
	img, _ := os.ReadFile(images["httpd"])
	sum := sha256.Sum256(img)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	in := info[0]
	for what, ok := range map[string]bool{
		"name":              in.Name == "web",
		"dir":               in.Dir == filepath.Join(home, "instances", "web"),
		"config digest":     in.Config.ImageDigest == digest,
		"digest":            in.ImageDigest == digest,
		"image path":        in.Config.ImagePath == images["httpd"],
		"memory":            in.Config.Memory == 64<<20,
		"cpus":              in.Config.CPUs == 1,
		"publish":           len(in.Config.Net.Publish) == 1,
		"state status":      in.State.Status == "exited",
		"state reason":      in.State.Reason == "stopped",
		"state exit status": in.State.ExitStatus != nil && *in.State.ExitStatus == 143,
		"exit status":       in.ExitStatus != nil && *in.ExitStatus == 143,
		"pid":               in.State.PID == monitorPID,
		"times":             in.State.Finished.After(in.State.Started),
		"ports":             len(in.Ports) == 1 && in.Ports[0] == wantPort,
		"volumes":           in.Volumes != nil && len(in.Volumes) == 0,
		"log path":          in.LogPath == filepath.Join(in.Dir, "console.log"),
	} {
		if !ok {
			t.Errorf("mote inspect: wrong %s:\n%s", what, out)
		}
	}
	if _, err := os.Stat(in.LogPath); err != nil {
		t.Errorf("log path: %v", err)
	}
	st, err := os.Stat(in.Dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("instance directory: %v %v", st.Mode(), err)
	}

	// mote rm: gone, name free.
	if r := mustMote(t, home, "rm", "web"); r.stdout != "web\n" {
		t.Errorf("mote rm: %q", r.stdout)
	}
	if ps := psJSON(t, home, true); len(ps) != 0 {
		t.Errorf("mote ps -a after rm: %+v", ps)
	}
	if _, err := os.Stat(in.Dir); err == nil {
		t.Errorf("%s is still there", in.Dir)
	}
	if r := instMote(t, home, time.Minute, "inspect", "web"); r.code != 125 || r.stderr != "mote: no such instance: web\n" {
		t.Errorf("mote inspect after rm: %d %q", r.code, r.stderr)
	}
	if r := instMote(t, home, time.Minute, "logs", "web"); r.code != 125 {
		t.Errorf("mote logs after rm: %d %q", r.code, r.stderr)
	}
}

// TestInstanceGracefulStop: mote stop's SIGTERM runs the program's
// os/signal handler, whose output is in the log, and it exits 0; mote logs
// -f follows the output until the instance stops.
func TestInstanceGracefulStop(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	mustMote(t, home, "run", "-d", "--name", "svc", "-m", "32M", sigtermImage(t))
	waitLogs(t, home, "svc", "ready\n")

	// mote logs -f: prints what is there, then what comes, and ends when
	// the instance stops.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	follow := exec.CommandContext(ctx, moteBin, "logs", "-f", "svc")
	follow.Env = append(os.Environ(), "MOTE_HOME="+home)
	var fout bytes.Buffer
	follow.Stdout = &fout
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let it reach its polling

	r := mustMote(t, home, "stop", "svc")
	if r.stdout != "svc\n" || r.elapsed > 5*time.Second {
		t.Errorf("mote stop: %q after %v", r.stdout, r.elapsed)
	}
	if err := follow.Wait(); err != nil {
		t.Errorf("mote logs -f: %v", err)
	}
	if want := "ready\ngot SIGTERM, cleaning up\n"; fout.String() != want {
		t.Errorf("mote logs -f printed %q, want %q", fout.String(), want)
	}
	if logs := mustMote(t, home, "logs", "svc"); logs.stdout != "ready\ngot SIGTERM, cleaning up\n" || logs.stderr != "" {
		t.Errorf("mote logs after stop: stdout %q stderr %q", logs.stdout, logs.stderr)
	}
	if tail := mustMote(t, home, "logs", "--tail", "1", "svc"); tail.stdout != "got SIGTERM, cleaning up\n" {
		t.Errorf("mote logs --tail 1: %q", tail.stdout)
	}
	e := psJSON(t, home, true)["svc"]
	if e.Status != "exited" || e.ExitStatus == nil || *e.ExitStatus != 0 || e.Reason != "stopped" || !strings.HasPrefix(e.StatusText, "exited (0) ") {
		t.Errorf("mote ps -a: %+v", e)
	}
	// Stopping it again does nothing and is no error.
	if r := mustMote(t, home, "stop", "svc"); r.stdout != "svc\n" {
		t.Errorf("second mote stop: %q", r.stdout)
	}
}

// TestInstanceNames: a name in use is refused, also when two mote run -d
// --name race for it; a generated name is valid and listed.
func TestInstanceNames(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	img := sigtermImage(t)
	const racers = 4
	var wg sync.WaitGroup
	results := make([]result, racers)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = instMote(t, home, time.Minute, "run", "-d", "--name", "dup", "-m", "32M", img)
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range results {
		switch {
		case r.code == 0 && r.stdout == "dup\n":
			won++
		case r.code == 125 && strings.HasPrefix(r.stderr, "mote: an instance named dup already exists"):
		default:
			t.Errorf("racing mote run -d --name dup: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing mote run -d --name dup succeeded, want 1", won, racers)
	}
	r := instMote(t, home, time.Minute, "run", "-d", "--name", "dup", "-m", "32M", img)
	if r.code != 125 || r.stderr != "mote: an instance named dup already exists (mote rm dup removes it)\n" || r.stdout != "" {
		t.Errorf("mote run -d --name dup again: %d %q %q", r.code, r.stdout, r.stderr)
	}
	gen := strings.TrimSpace(mustMote(t, home, "run", "-d", "-m", "32M", img).stdout)
	if !regexp.MustCompile(`^[a-z]+-[a-z]+$|^mote-[0-9a-f]{6}$`).MatchString(gen) {
		t.Errorf("generated name %q", gen)
	}
	if ps := psJSON(t, home, false); len(ps) != 2 || ps["dup"].Status != "running" || ps[gen].Status != "running" {
		t.Errorf("mote ps: %+v", ps)
	}
	// rm refuses running instances without -f, and kills them with it.
	if r := instMote(t, home, time.Minute, "rm", "dup"); r.code != 125 || !strings.Contains(r.stderr, "mote: dup is running: stop it first") {
		t.Errorf("mote rm of a running instance: %d %q", r.code, r.stderr)
	}
	pid := psJSON(t, home, false)["dup"].PID
	if r := mustMote(t, home, "rm", "-f", "dup", gen); r.stdout != "dup\n"+gen+"\n" {
		t.Errorf("mote rm -f: %q", r.stdout)
	}
	if monitorAlive(pid) {
		t.Errorf("monitor %d alive after rm -f", pid)
	}
	if ps := psJSON(t, home, true); len(ps) != 0 {
		t.Errorf("mote ps -a after rm -f: %+v", ps)
	}
}

// TestInstanceEnds: how instances end, as mote ps tells it — a monitor
// killed with SIGKILL (monitor died), a Go panic (crashed, the traceback in
// the log), a program ignoring SIGTERM (mote stop kills it after --time),
// and a guest that cannot start (mote run -d fails, nothing is left).
func TestInstanceEnds(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	img := sigtermImage(t)
	mustMote(t, home, "run", "-d", "--name", "victim", "-m", "32M", img)
	mustMote(t, home, "run", "-d", "--name", "panics", "-m", "32M", img, "--", "panic")
	mustMote(t, home, "run", "-d", "--name", "stubborn", "-m", "32M", img, "--", "ignore")
	waitLogs(t, home, "stubborn", "ready\n")

	pid := psJSON(t, home, false)["victim"].PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); monitorAlive(pid); {
		if time.Now().After(deadline) {
			t.Fatalf("monitor %d survived SIGKILL", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	running := psJSON(t, home, false)
	if _, ok := running["victim"]; ok {
		t.Errorf("mote ps lists the instance whose monitor was killed: %+v", running["victim"])
	}
	all := psJSON(t, home, true)
	if v := all["victim"]; v.Status != "exited" || v.Reason != "killed" || v.Error != "monitor died" || v.ExitStatus != nil ||
		!strings.HasPrefix(v.StatusText, "killed (monitor died)") {
		t.Errorf("killed monitor in mote ps -a: %+v", v)
	}

	waitLogs(t, home, "panics", "ready\n")
	for deadline := time.Now().Add(30 * time.Second); psJSON(t, home, true)["panics"].Status != "exited"; {
		if time.Now().After(deadline) {
			t.Fatal("the panicking program did not exit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p := psJSON(t, home, true)["panics"]; p.Reason != "crashed" || p.ExitStatus == nil || *p.ExitStatus != 2 || !strings.HasPrefix(p.StatusText, "crashed (2) ") {
		t.Errorf("panicked program in mote ps -a: %+v", p)
	}
	if logs := mustMote(t, home, "logs", "panics"); !strings.Contains(logs.stderr, "panic: sigterm: asked to panic\n\ngoroutine 1 [running]:\nmain.main()") {
		t.Errorf("the panic's traceback is not in the log: %q", logs.stderr)
	}

	stubbornPID := psJSON(t, home, false)["stubborn"].PID
	r := mustMote(t, home, "stop", "--time", "500ms", "stubborn")
	if r.elapsed < 500*time.Millisecond || r.elapsed > 10*time.Second {
		t.Errorf("mote stop -t 500ms of a program ignoring SIGTERM took %v", r.elapsed)
	}
	if s := psJSON(t, home, true)["stubborn"]; s.Reason != "killed" || s.ExitStatus == nil || *s.ExitStatus != 137 ||
		!strings.HasPrefix(s.StatusText, "killed (137) ") || !strings.Contains(s.Error, "mote stop") || monitorAlive(stubbornPID) {
		t.Errorf("stubborn program after mote stop: %+v", s)
	}

	// Errors only the monitor finds come back from mote run -d.
	r = instMote(t, home, time.Minute, "run", "-d", "--name", "tiny", "-m", "4M", img)
	if r.code != 125 || !strings.HasPrefix(r.stderr, "mote: --memory 4M is too small for ") || r.stdout != "" {
		t.Errorf("mote run -d -m 4M: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, ok := psJSON(t, home, true)["tiny"]; ok {
		t.Error("an instance that could not start is left behind")
	}
}

// TestInstanceMany: 20 small instances started and stopped together.
func TestInstanceMany(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	img := sigtermImage(t)
	const n = 20
	names := make([]string, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("idle%02d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			mustMote(t, home, "run", "-d", "--name", names[i], "-m", "32M", img)
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("%d instances started in %v", n, time.Since(t0))
	ps := psJSON(t, home, false)
	var pids []int
	for _, name := range names {
		e := ps[name]
		if e.Status != "running" || !monitorAlive(e.PID) {
			t.Errorf("%s: %+v", name, e)
		}
		pids = append(pids, e.PID)
	}
	for _, name := range names {
		waitLogs(t, home, name, "ready\n")
	}
	t0 = time.Now()
	r := mustMote(t, home, append([]string{"stop"}, names...)...)
	t.Logf("mote stop of %d took %v", n, time.Since(t0))
	if got := strings.Fields(r.stdout); len(got) != n {
		t.Errorf("mote stop printed %q", r.stdout)
	}
	all := psJSON(t, home, true)
	for _, name := range names {
		e := all[name]
		if e.Status != "exited" || e.Reason != "stopped" || e.ExitStatus == nil || *e.ExitStatus != 0 {
			t.Errorf("%s after stop: %+v", name, e)
		}
		if logs := mustMote(t, home, "logs", name); logs.stdout != "ready\ngot SIGTERM, cleaning up\n" {
			t.Errorf("%s: log %q", name, logs.stdout)
		}
	}
	for _, pid := range pids {
		if monitorAlive(pid) {
			t.Errorf("monitor %d still runs", pid)
		}
	}
	if r := mustMote(t, home, append([]string{"rm"}, names...)...); len(strings.Fields(r.stdout)) != n {
		t.Errorf("mote rm printed %q", r.stdout)
	}
	if ps := psJSON(t, home, true); len(ps) != 0 {
		t.Errorf("left after rm: %v", ps)
	}
}

// TestInstanceImageRewritten: an instance of a stored image boots the
// store's copy and maps its pages; rewriting the image file it was started
// from, in place, changes nothing for it.
func TestInstanceImageRewritten(t *testing.T) {
	t.Parallel()
	home := instHome(t)
	dir := t.TempDir()
	built := filepath.Join(dir, "app.img")
	mustMote(t, home, "build", "-o", built, "../examples/httpd") // stored as app:latest
	// A copy of its own (the build may share the file with its cache).
	data, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "run.img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	mustMote(t, home, "run", "-d", "--name", "rw", "-m", "40M", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), img)
	var in []struct {
		Config struct {
			ImagePath string `json:"image_path"`
			ImageBlob string `json:"image_blob"`
		} `json:"config"`
	}
	r := mustMote(t, home, "inspect", "rw")
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || len(in) != 1 || in[0].Config.ImagePath != img || !strings.HasPrefix(in[0].Config.ImageBlob, home) {
		t.Fatalf("inspect rw: %v; want image_path %s and an image_blob in %s:\n%s", err, img, home, r.stdout)
	}
	get := func() string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				return string(body)
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if body := get(); body != "hello from mote\n" {
		t.Fatalf("GET: %q", body)
	}
	// Rewrite the file in place (as cp does), with zeros.
	f, err := os.OpenFile(img, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(make([]byte, len(data))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := 0; i < 20; i++ {
		if body := get(); body != "hello from mote\n" {
			t.Fatalf("GET %d after the rewrite: %q", i, body)
		}
	}
	mustMote(t, home, "stop", "rw")
	if e := psJSON(t, home, true)["rw"]; e.Reason == "crashed" || e.Error != "" {
		t.Errorf("after the rewrite: %+v", e)
	}
}
