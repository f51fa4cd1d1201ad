package tests

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSMPStress: with --cpus 2 every vCPU schedules the program's threads;
// 10,000 goroutines doing channel ping-pong, contended mutexes, timer churn,
// hashing and memory churn (the runtime returning pages while the other CPU
// runs) for 30 s keep their invariants, and both CPUs ran threads.
func TestSMPStress(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "smpstress.img")
	if r := mote(t, 3*time.Minute, "build", "-o", img, "./progs/smpstress"); r.code != 0 {
		t.Fatalf("mote build: %s%s", r.stdout, r.stderr)
	}
	d := "30s"
	if testing.Short() {
		d = "5s"
	}
	r := mote(t, 3*time.Minute, "run", "--debug", "-m", "1G", "--cpus", "2", img, "--", "-d", d)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "ok: 2 CPUs") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	t.Log(strings.TrimSpace(r.stdout))
	// Every kind of work made progress.
	for _, what := range []string{"ping-pong rounds", "locked increments", "timers fired", "hashes"} {
		m := regexp.MustCompile(`(\d+) ` + what).FindStringSubmatch(r.stdout)
		if m == nil || m[1] == "0" {
			t.Errorf("no %s: %s", what, r.stdout)
		}
	}
	m := regexp.MustCompile(`thread runs per cpu (\d+) (\d+)`).FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no per-CPU summary in --debug output:\n%s", r.stderr)
	}
	for i, s := range m[1:] {
		if n, _ := strconv.Atoi(s); n == 0 {
			t.Errorf("CPU %d never ran a thread: %s", i, m[0])
		}
	}
}
