package main

import (
	"strings"
	"testing"
	"time"

	"github.com/motevm/mote/instance"
	"github.com/motevm/mote/vmm"
)

func TestStatusText(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	code := func(n int) *int { return &n }
	for _, c := range []struct {
		s    instance.State
		want string
	}{
		{instance.State{Status: instance.Running, Started: now.Add(-5 * time.Minute)}, "running"},
		{instance.State{Status: instance.Created}, "created"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonExited, ExitStatus: code(0), Finished: now.Add(-2 * time.Minute)}, "exited (0) 2m ago"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonStopped, ExitStatus: code(0), Finished: now.Add(-3 * time.Second)}, "exited (0) 3s ago"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonKilled, ExitStatus: code(137), Finished: now.Add(-time.Hour)}, "killed (137) 1h ago"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonKilled, Error: "monitor died", Finished: now}, "killed (monitor died) 0s ago"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonCrashed, ExitStatus: code(2), Finished: now.Add(-72 * time.Hour)}, "crashed (2) 3d ago"},
		{instance.State{Status: instance.Exited, Reason: instance.ReasonFailed, Error: "no permission to open /dev/kvm", Finished: now}, "failed 0s ago"},
	} {
		if got := statusText(&c.s, now); got != c.want {
			t.Errorf("statusText(%+v) = %q, want %q", c.s, got, c.want)
		}
	}
}

func TestExitReason(t *testing.T) {
	for _, c := range []struct {
		status              int
		stopAsked, panicked bool
		want                string
	}{
		{0, false, false, instance.ReasonExited},
		{3, false, false, instance.ReasonExited},
		{2, false, false, instance.ReasonExited},
		{2, false, true, instance.ReasonCrashed},
		{2, true, true, instance.ReasonCrashed},
		{vmm.CrashStatus, false, false, instance.ReasonCrashed},
		{0, true, false, instance.ReasonStopped},
		{143, true, false, instance.ReasonStopped},
		{143, false, false, instance.ReasonKilled},
		{137, false, false, instance.ReasonKilled},
		{255, false, false, instance.ReasonExited},
	} {
		if got := exitReason(c.status, c.stopAsked, c.panicked); got != c.want {
			t.Errorf("exitReason(%d, %v, %v) = %s, want %s", c.status, c.stopAsked, c.panicked, got, c.want)
		}
	}
}

func TestPanicWatcher(t *testing.T) {
	for _, c := range []struct {
		writes []string
		want   bool
	}{
		{[]string{"panic: boom\n\ngoroutine 1 [running]:\n"}, true},
		{[]string{"pan", "ic", ": x\n"}, true},
		{[]string{"log line\n", "fatal error: all goroutines are asleep - deadlock!\n"}, true},
		{[]string{"a panic: in the middle\n"}, false},
		{[]string{"panicky\n", "  panic: indented\n"}, false},
		{[]string{"x\npanic: after a newline in one write"}, true},
	} {
		var b strings.Builder
		p := &panicWatcher{w: &b}
		for _, w := range c.writes {
			p.Write([]byte(w))
		}
		if p.panicked.Load() != c.want || b.String() != strings.Join(c.writes, "") {
			t.Errorf("%q: panicked %v (want %v), passed on %q", c.writes, p.panicked.Load(), c.want, b.String())
		}
	}
}

func TestParseStopTime(t *testing.T) {
	for in, want := range map[string]time.Duration{"10s": 10 * time.Second, "0": 0, "30": 30 * time.Second, "1m30s": 90 * time.Second, "250ms": 250 * time.Millisecond} {
		if got, err := parseStopTime(in); err != nil || got != want {
			t.Errorf("parseStopTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "-1s", "-3"} {
		if _, err := parseStopTime(bad); err == nil {
			t.Errorf("parseStopTime(%q) accepted", bad)
		}
	}
}

func TestPortStrings(t *testing.T) {
	c := &instance.Config{Net: instance.Net{Publish: []string{"8080:80", "127.0.0.1:5353:53/udp", "[::1]:8443:443"}}}
	got := strings.Join(portStrings(c), ", ")
	if want := "8080->80/tcp, 127.0.0.1:5353->53/udp, [::1]:8443->443/tcp"; got != want {
		t.Errorf("portStrings = %s, want %s", got, want)
	}
}

// TestInstanceUsageErrors: the instance commands' errors, with no
// instances (nothing boots).
func TestInstanceUsageErrors(t *testing.T) {
	t.Setenv("MOTE_HOME", t.TempDir())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--name", "web", "x.img"}, "mote: --name is for detached instances: add -d"},
		{[]string{"run", "-d", "--name", "a/b", "x.img"}, `mote: --name: instance name "a/b" is not valid`},
		{[]string{"run", "-d", "--name", "-x", "x.img"}, `mote: --name: instance name "-x" is not valid`},
		{[]string{"run", "-d", "x.img"}, "mote: x.img: no such image or package"},
		{[]string{"ps", "--format", "xml"}, `mote: --format "xml": want table or json`},
		{[]string{"ps", "extra"}, `mote: unknown command "extra" for "mote ps"`},
		{[]string{"logs", "nope"}, "mote: no such instance: nope"},
		{[]string{"logs", "--tail", "x", "nope"}, `mote: --tail "x": want a number of lines or all`},
		{[]string{"logs"}, "mote: accepts 1 arg(s), received 0"},
		{[]string{"stop", "nope"}, "mote: no such instance: nope"},
		{[]string{"stop", "-t", "soon", "nope"}, `mote: --time "soon"`},
		{[]string{"stop"}, "mote: requires at least 1 arg(s)"},
		{[]string{"rm", "nope"}, "mote: no such instance: nope"},
		{[]string{"rm", "../etc"}, "mote: no such instance: ../etc"},
	} {
		status, stdout, stderr := runCLI(c.args...)
		if status != ExitMoteError || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("mote %s: status %d, stdout %q, stderr %q; want 125 and one line starting with %q", strings.Join(c.args, " "), status, stdout, stderr, c.want)
		}
	}
	// Nothing to list is not an error.
	if status, stdout, _ := runCLI("ps", "-a", "--format", "json"); status != 0 || stdout != "[]\n" {
		t.Errorf("ps --format json with no instances: %d %q", status, stdout)
	}
	if status, stdout, _ := runCLI("ps"); status != 0 || !strings.HasPrefix(stdout, "NAME") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("ps with no instances: %d %q", status, stdout)
	}
	// inspect of a missing name: an error line and an empty array.
	status, stdout, stderr := runCLI("inspect", "nope")
	if status != ExitMoteError || stdout != "[]\n" || stderr != "mote: no such instance: nope\n" {
		t.Errorf("inspect nope: %d %q %q", status, stdout, stderr)
	}
	for _, cmd := range []string{"ps", "logs", "stop", "rm", "inspect"} {
		status, stdout, _ := runCLI(cmd, "--help")
		if status != 0 || !strings.Contains(stdout, "Examples:") {
			t.Errorf("mote %s --help: %d, no examples:\n%s", cmd, status, stdout)
		}
	}
	// The hidden monitor command is not listed.
	if _, stdout, _ := runCLI("--help"); strings.Contains(stdout, monitorCmdName) || !strings.Contains(stdout, "inspect") {
		t.Errorf("mote --help:\n%s", stdout)
	}
}

// TestCompleteInstances: instance names complete for logs, stop, rm and
// inspect (stop: running ones only).
func TestCompleteInstances(t *testing.T) {
	t.Setenv("MOTE_HOME", t.TempDir())
	for _, n := range []string{"web", "worker", "db"} {
		if _, err := instance.Create(&instance.Config{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	_, stdout, _ := runCLI("__complete", "logs", "w")
	if !strings.HasPrefix(stdout, "web\nworker\n:4\n") {
		t.Errorf("completing mote logs w: %q", stdout)
	}
	_, stdout, _ = runCLI("__complete", "rm", "web", "")
	if !strings.HasPrefix(stdout, "worker\ndb\n:4\n") && !strings.HasPrefix(stdout, "db\nworker\n:4\n") {
		t.Errorf("completing mote rm web '': %q", stdout)
	}
	_, stdout, _ = runCLI("__complete", "stop", "")
	if !strings.HasPrefix(stdout, ":4\n") {
		t.Errorf("completing mote stop with nothing running: %q", stdout)
	}
	status, stdout, _ := runCLI("completion", "bash")
	if status != 0 || !strings.Contains(stdout, "bash completion") {
		t.Errorf("mote completion bash: %d", status)
	}
}
