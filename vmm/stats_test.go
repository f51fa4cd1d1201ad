package vmm

import (
	"strconv"
	"strings"
	"testing"
)

// TestStatsLine: with MOTE_STATS=1 the monitor appends one mote-stats line
// to stderr at guest exit; without it stderr is untouched.
func TestStatsLine(t *testing.T) {
	p := writeGuest(1, gBuf, 6).write(t, "hello.img")

	t.Setenv(StatsEnv, "")
	r := runGuest(t, p, nil)
	if r.status != 7 || r.stdout != "hello\n" || r.stderr != "" {
		t.Fatalf("without %s: status %d stdout %q stderr %q", StatsEnv, r.status, r.stdout, r.stderr)
	}

	t.Setenv(StatsEnv, "1")
	r = runGuest(t, p, nil)
	if r.status != 7 || r.stdout != "hello\n" {
		t.Fatalf("status %d stdout %q", r.status, r.stdout)
	}
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "mote-stats: ") || !strings.HasSuffix(r.stderr, "\n") {
		t.Fatalf("stderr %q: want one mote-stats line", r.stderr)
	}
	t.Log(lines[0])
	kv := map[string]int64{}
	for _, f := range strings.Fields(strings.TrimPrefix(lines[0], "mote-stats:")) {
		k, val, ok := strings.Cut(f, "=")
		n, err := strconv.ParseInt(val, 10, 64)
		if !ok || err != nil {
			t.Fatalf("bad field %q", f)
		}
		kv[k] = n
	}
	// The guest makes exactly two hypercalls: HcWrite, HcExit.
	want := map[string]int64{"exits": 2, "hc_exit": 1, "hc_write": 1, "hc_idle": 0, "hc_fatal": 0, "guest_mib": 8}
	for k, w := range want {
		if got, ok := kv[k]; !ok || got != w {
			t.Errorf("%s = %d (present %v), want %d", k, got, ok, w)
		}
	}
	// At least the image pages the monitor wrote are resident; never
	// more than guest RAM.
	if n := kv["guest_pages_touched"]; n < 5 || n > 8<<20/4096 {
		t.Errorf("guest_pages_touched = %d", n)
	}
	for _, k := range []string{"setup_us", "guest_us", "phase_image_us", "phase_lapic_us"} {
		if n, ok := kv[k]; !ok || n < 0 {
			t.Errorf("%s = %d (present %v)", k, n, ok)
		}
	}
	if kv["setup_us"] == 0 && kv["guest_us"] == 0 {
		t.Errorf("no timings")
	}
}
