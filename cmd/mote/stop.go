package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/motevm/mote/instance"
)

func newStopCmd(stdout, stderr io.Writer) *cobra.Command {
	var timeout string
	cmd := &cobra.Command{
		Use:   "stop [flags] NAME...",
		Short: "Stop detached instances",
		Long: `Stop sends SIGTERM to each instance's program, as kill(2) would on Linux: its
os/signal handlers run (signal.Notify), so it can shut down cleanly, and
without a handler the program dies of the signal. mote stop waits up to
--time for the guest to exit, then kills the monitor (SIGKILL), which ends
the guest at once; the state then records reason killed, status 137.

Instances are stopped in parallel; each name is printed once its instance has
stopped. Stopping an instance that is not running is not an error.`,
		Example: `  mote stop web
  mote stop -t 30s web worker
  mote stop $(mote ps -q)      # all running instances`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeInstances(true),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := parseStopTime(timeout)
			if err != nil {
				return err
			}
			errs := make([]error, len(args))
			var wg sync.WaitGroup
			var mu sync.Mutex
			for i, name := range args {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if errs[i] = stopInstance(name, d); errs[i] == nil {
						mu.Lock()
						fmt.Fprintln(stdout, name)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			i := 0
			return forEachName(args, stderr, func(string) error { i++; return errs[i-1] })
		},
	}
	cmd.Flags().StringVarP(&timeout, "time", "t", "10s", "how long to wait for the program to exit after SIGTERM before killing it: a `DURATION` (10s, 1m) or seconds")
	return cmd
}

// parseStopTime parses --time: a duration, or a number of seconds as
// docker stop -t takes it.
func parseStopTime(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("mote: --time %q: want a duration such as 10s, or seconds", s)
	}
	return d, nil
}

// stopInstance stops one instance: SIGTERM to its monitor (which passes it
// on to the guest), then SIGKILL after timeout.
func stopInstance(name string, timeout time.Duration) error {
	in, err := openInstance(name)
	if err != nil {
		return err
	}
	s, err := in.Refresh()
	if err != nil {
		return fmt.Errorf("mote: %s: %v", name, err)
	}
	if s.Status != instance.Running {
		return nil
	}
	p, err := openMonitor(s)
	if err != nil {
		return fmt.Errorf("mote: %s: %v", name, err)
	}
	if p == nil { // gone meanwhile
		in.Refresh()
		return nil
	}
	defer p.close()
	if err := p.signal(unix.SIGTERM); err != nil {
		return fmt.Errorf("mote: %s: cannot signal the monitor: %v", name, err)
	}
	if p.wait(timeout) {
		// The monitor recorded how the guest ended before exiting; if it
		// did not, it was killed by someone else (Refresh says so).
		in.Refresh()
		return nil
	}
	if err := p.signal(unix.SIGKILL); err != nil {
		return fmt.Errorf("mote: %s: cannot kill the monitor: %v", name, err)
	}
	if !p.wait(30 * time.Second) {
		return fmt.Errorf("mote: %s: the monitor (pid %d) did not die of SIGKILL", name, s.PID)
	}
	killed := 128 + int(syscall.SIGKILL)
	in.Update(func(st *instance.State) error {
		if st.Status != instance.Running || st.PID != s.PID {
			return errors.New("unchanged") // it exited just in time
		}
		instance.MarkDead(st, fmt.Sprintf("killed by mote stop: still running %v after SIGTERM", timeout))
		st.ExitStatus = &killed
		return nil
	})
	return nil
}

// monitorProc is a handle on a running monitor process: a pidfd where the
// kernel has them (signals and waits then cannot reach a process that
// reused the pid), the pid otherwise.
type monitorProc struct {
	pid, fd int // fd -1: no pidfd
	start   uint64
}

// openMonitor returns a handle on the monitor recorded in s, or nil if it
// is not running any more.
func openMonitor(s *instance.State) (*monitorProc, error) {
	p := &monitorProc{pid: s.PID, fd: -1, start: s.PIDStart}
	fd, err := unix.PidfdOpen(s.PID, 0)
	switch {
	case err == nil:
		p.fd = fd
	case errors.Is(err, unix.ESRCH):
		return nil, nil
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		// Old kernel or a sandbox: fall back to the pid.
	default:
		return nil, err
	}
	// Checked after opening the pidfd: if the process is still the one
	// with the recorded start time, the pidfd refers to it.
	if !instance.Alive(s.PID, s.PIDStart) {
		p.close()
		return nil, nil
	}
	return p, nil
}

func (p *monitorProc) signal(sig unix.Signal) error {
	var err error
	if p.fd >= 0 {
		err = unix.PidfdSendSignal(p.fd, sig, nil, 0)
	} else {
		err = unix.Kill(p.pid, sig)
	}
	if errors.Is(err, unix.ESRCH) {
		return nil // exited meanwhile
	}
	return err
}

// wait waits up to d for the process to exit and reports whether it did.
func (p *monitorProc) wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	if p.fd >= 0 {
		for {
			ms := int(time.Until(deadline) / time.Millisecond)
			if ms < 0 {
				ms = 0
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}, ms)
			if err == unix.EINTR {
				continue
			}
			if err == nil && n > 0 {
				return true
			}
			if err != nil || ms == 0 {
				break
			}
		}
	}
	for { // no pidfd (or poll failed): poll /proc
		if !instance.Alive(p.pid, p.start) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *monitorProc) close() {
	if p.fd >= 0 {
		unix.Close(p.fd)
		p.fd = -1
	}
}

func newRmCmd(stdout, stderr io.Writer) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm [flags] NAME...",
		Short: "Remove detached instances",
		Long: `Rm removes instances: their state and logs, and their names, which become
free for mote run -d --name again. A running instance is refused unless -f is
given, which kills it first (SIGKILL to its monitor; use mote stop for a clean
shutdown).`,
		Example: `  mote rm web
  mote rm -f web               # kill it if it is running
  mote rm $(mote ps -aq)       # every instance that is not running`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeInstances(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEachName(args, stderr, func(name string) error {
				if err := rmInstance(name, force); err != nil {
					return err
				}
				fmt.Fprintln(stdout, name)
				return nil
			})
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill a running instance first (SIGKILL, no clean shutdown)")
	return cmd
}

var errRunning = errors.New("running")

func rmInstance(name string, force bool) error {
	in, err := openInstance(name)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		var running *instance.State
		err = in.Remove(func(s *instance.State) error {
			if s.Status == instance.Running {
				running = s
				return errRunning
			}
			return nil
		})
		if !errors.Is(err, errRunning) {
			break
		}
		if !force {
			return fmt.Errorf("mote: %s is running: stop it first (mote stop %s) or use mote rm -f", name, name)
		}
		if attempt > 2 {
			return fmt.Errorf("mote: %s: still running after SIGKILL", name)
		}
		// Kill it without holding the lock (the monitor may be taking
		// it to record an exit), then try again.
		p, err := openMonitor(running)
		if err != nil {
			return fmt.Errorf("mote: %s: %v", name, err)
		}
		if p != nil {
			p.signal(unix.SIGKILL)
			p.wait(30 * time.Second)
			p.close()
		}
	}
	if errors.Is(err, instance.ErrNotExist) {
		return fmt.Errorf("mote: no such instance: %s", name)
	}
	if err != nil {
		return fmt.Errorf("mote: %s: %v", name, err)
	}
	return nil
}
