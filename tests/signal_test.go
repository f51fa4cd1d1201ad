package tests

import (
	"bufio"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHostSignals sends signals to `mote run` and checks what the guest's
// os/signal saw (vmm.Config.Signals, abi.BootInfo.HostSignals): SIGHUP and
// SIGTERM reach handlers, also while every goroutine spins; a program
// without handlers dies of SIGINT (status 130); a second SIGINT stops a
// guest that ignores the first.
func TestHostSignals(t *testing.T) {
	t.Parallel()
	img := filepath.Join(t.TempDir(), "hostsig.img")
	if out, err := exec.Command(moteBin, "build", "-o", img, "./progs/hostsig").CombinedOutput(); err != nil {
		t.Fatalf("mote build: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		mode    string
		send    []syscall.Signal
		status  int
		outputs []string
	}{
		{"handle", []syscall.Signal{syscall.SIGHUP, syscall.SIGTERM}, 3, []string{"got hangup", "got terminated"}},
		{"busy", []syscall.Signal{syscall.SIGTERM}, 3, []string{"got terminated"}},
		{"none", []syscall.Signal{syscall.SIGINT}, 130, nil},
		{"ignore", []syscall.Signal{syscall.SIGINT, syscall.SIGINT}, 130, nil},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, moteBin, "run", "-m", "64M", "--cpus", "2", img, "--", tc.mode)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			rd := bufio.NewReader(out)
			if line, _ := rd.ReadString('\n'); line != "ready\n" {
				t.Fatalf("first line %q; stderr:\n%s", line, stderr.String())
			}
			var lines []string
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					l, err := rd.ReadString('\n')
					if l != "" {
						lines = append(lines, strings.TrimSpace(l))
					}
					if err != nil {
						return
					}
				}
			}()
			for _, s := range tc.send {
				time.Sleep(200 * time.Millisecond)
				cmd.Process.Signal(s)
			}
			<-done
			err = cmd.Wait()
			status := 0
			if ee, ok := err.(*exec.ExitError); ok {
				status = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if status != tc.status {
				t.Errorf("exit status %d, want %d; stdout %q, stderr:\n%s", status, tc.status, lines, stderr.String())
			}
			if strings.Join(lines, "|") != strings.Join(tc.outputs, "|") {
				t.Errorf("guest printed %q, want %q", lines, tc.outputs)
			}
		})
	}
}
