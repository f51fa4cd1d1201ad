package tests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sockABIDiffs are the checks of progs/sockabi whose result in the guest
// differs from Linux's on purpose: the check's name, the guest's result,
// and why. Every other check must print the same line natively and in
// mote.
var sockABIDiffs = map[string]struct{ guest, why string }{
	// Host-dependent: Linux accepts these when MPTCP is enabled or the
	// process has CAP_NET_RAW; the guest has neither MPTCP nor raw
	// sockets and answers as Linux without them does.
	"socket.inet4_stream_mptcp": {"EPROTONOSUPPORT", "no MPTCP in netstack: Linux without MPTCP says the same (Go falls back to TCP)"},
	"socket.inet6_stream_mptcp": {"EPROTONOSUPPORT", "no MPTCP in netstack: Linux without MPTCP says the same (Go falls back to TCP)"},
	// netstack's TCP endpoint does not report its send queue length.
	"tcp4.siocoutq_settled": {"true ENOPROTOOPT", "netstack keeps no SIOCOUTQ count for TCP"},
	"tcp6.siocoutq_settled": {"true ENOPROTOOPT", "netstack keeps no SIOCOUTQ count for TCP"},
}

// TestSockABI runs progs/sockabi natively and in mote (no network device:
// loopback only) and requires the same output, check by check.
func TestSockABI(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "sockabi")
	if out, err := exec.Command("go", "build", "-o", bin, "./progs/sockabi").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	native, err := cmd.Output()
	if err != nil {
		t.Fatalf("native run: %v\n%s", err, native)
	}
	r := mote(t, 2*time.Minute, "run", "--net", "none", images["sockabi"])
	if r.code != 0 {
		t.Fatalf("mote run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	want, order := parseChecks(t, "native", string(native))
	got, gorder := parseChecks(t, "guest", r.stdout)
	if len(gorder) != len(order) {
		t.Errorf("native printed %d checks, the guest %d", len(order), len(gorder))
	}
	for _, name := range order {
		g, ok := got[name]
		if !ok {
			t.Errorf("%s: missing in the guest's output", name)
			continue
		}
		if d, ok := sockABIDiffs[name]; ok {
			if g != d.guest {
				t.Errorf("%s: guest %q, want %q (%s; Linux: %q)", name, g, d.guest, d.why, want[name])
			}
			continue
		}
		if g != want[name] {
			t.Errorf("%s: guest %q, Linux %q", name, g, want[name])
		}
	}
	for name := range sockABIDiffs {
		if _, ok := want[name]; !ok {
			t.Errorf("allowed difference %s: no such check", name)
		}
	}
}

// parseChecks splits "NAME: RESULT" lines.
func parseChecks(t *testing.T, who, out string) (map[string]string, []string) {
	t.Helper()
	m := map[string]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		name, res, ok := strings.Cut(line, ": ")
		if !ok {
			t.Errorf("%s: malformed line %q", who, line)
			continue
		}
		if _, dup := m[name]; dup {
			t.Errorf("%s: check %s printed twice", who, name)
		}
		m[name] = res
		order = append(order, name)
	}
	return m, order
}
