package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/motevm/mote/instance"
	"github.com/motevm/mote/vmm"
)

// monitorCmdName is the hidden command a detached instance's monitor
// process runs (mote run -d starts it; users do not).
const monitorCmdName = "__monitor"

// reportFD is the monitor's end of the pipe to mote run -d.
const reportFD = 3

func newMonitorCmd() *cobra.Command {
	return &cobra.Command{
		Use:    monitorCmdName + " DIR",
		Short:  "Run a detached instance's monitor (started by mote run -d)",
		Hidden: true,
		Args:   cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return monitor(args[0])
		},
	}
}

// monitor boots the instance in dir and serves it until the guest exits,
// recording its state: running (with this process's pid and start time)
// before the boot, exited with the status and a reason when it ends. The
// guest's stdout and stderr go to the console log; SIGTERM, SIGINT and
// SIGHUP sent to this process go on to the guest's os/signal (mote stop
// sends SIGTERM). It tells mote run -d, on file descriptor 3, "ok" once
// the guest is about to run or "error: ..." if it cannot start.
func monitor(dir string) error {
	// First of all: a mote stop racing with the start must not kill the
	// monitor with the signal's default action.
	sigIn := make(chan os.Signal, 8)
	signal.Notify(sigIn, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

	var report *os.File
	if _, err := unix.FcntlInt(reportFD, unix.F_GETFD, 0); err == nil {
		report = os.NewFile(reportFD, "report")
	}
	tell := func(msg string) {
		if report != nil {
			fmt.Fprintln(report, msg)
			report.Close()
			report = nil
		}
	}
	in, err := instance.OpenDir(dir)
	if err != nil {
		tell("error: " + errorLine(err))
		return err
	}
	cfg, err := monitorConfig(in)
	var logw *instance.LogWriter
	if err == nil {
		logw, err = instance.OpenLog(in.LogPath())
	}
	var start uint64
	if err == nil {
		start, err = instance.ProcStartTime(os.Getpid())
	}
	if err == nil {
		_, err = in.Update(func(s *instance.State) error {
			*s = instance.State{Status: instance.Running, PID: os.Getpid(), PIDStart: start, Started: time.Now().UTC()}
			return nil
		})
	}
	if err != nil {
		recordFailure(in, err)
		tell("error: " + errorLine(err))
		return err
	}

	// Signals for the guest. SIGTERM and SIGINT ask it to stop: if it
	// then exits, the reason is "stopped".
	var stopAsked atomic.Bool
	sigs := make(chan syscall.Signal, 8)
	go func() {
		for s := range sigIn {
			sig := s.(syscall.Signal)
			if sig != syscall.SIGHUP {
				stopAsked.Store(true)
			}
			select {
			case sigs <- sig:
			default:
			}
		}
	}()
	stderr := &panicWatcher{w: logw.Stream(instance.StreamStderr)}
	cfg.Stdout = logw.Stream(instance.StreamStdout)
	cfg.Stderr = stderr
	cfg.Signals = sigs
	cfg.Started = func() { tell("ok") }
	status, err := vmm.Run(cfg)
	logw.Close()
	if err != nil {
		recordFailure(in, err)
		tell("error: " + errorLine(err))
		return err
	}
	reason := exitReason(status, stopAsked.Load(), stderr.panicked.Load())
	_, err = in.Update(func(s *instance.State) error {
		s.Status = instance.Exited
		s.Finished = time.Now().UTC()
		s.ExitStatus = &status
		s.Reason = reason
		return nil
	})
	return err
}

// monitorConfig rebuilds the vmm.Config of mote run from the instance's
// config.json, parsing the flags kept as given as mote run does.
func monitorConfig(in *instance.Instance) (vmm.Config, error) {
	c, err := in.Config()
	if err != nil {
		return vmm.Config{}, err
	}
	mounts, err := parseTmpfs(c.Tmpfs)
	if err != nil {
		return vmm.Config{}, err
	}
	nf := netFlags{publish: c.Net.Publish, mode: c.Net.Mode, ip: c.Net.IP, ip6: c.Net.IP6,
		gateway: c.Net.Gateway, gateway6: c.Net.Gateway6, dns: c.Net.DNS, mac: c.Net.MAC}
	netCfg, err := nf.config()
	if err != nil {
		return vmm.Config{}, err
	}
	var vols []vmm.Volume
	for _, v := range c.Volumes {
		vols = append(vols, vmm.Volume{Host: v.Host, Guest: v.Guest, ReadOnly: v.ReadOnly})
	}
	// Boot the store's copy when it is still there (see ImageBlob).
	image, mapImage, program := c.ImagePath, false, c.Program
	if program == "" {
		program = vmm.ProgramName(c.ImagePath)
	}
	if c.ImageBlob != "" {
		if fi, err := os.Stat(c.ImageBlob); err == nil && fi.Mode().IsRegular() {
			image, mapImage = c.ImageBlob, true
		}
	}
	return vmm.Config{
		ImagePath:   image,
		MapImage:    mapImage,
		Name:        program,
		MemoryBytes: c.Memory,
		CPUs:        c.CPUs,
		Args:        c.Args,
		Env:         c.Env,
		Dir:         c.Workdir,
		Tmpfs:       mounts,
		Volumes:     vols,
		Debug:       c.Debug,
		Profile:     c.Profile,
		Net:         netCfg,
		// Instances are many and mostly idle: host memory per
		// instance and start time matter most (README, Instances).
		SmallPages: true,
		// Stdin nil: the guest reads end of input at once.
	}, nil
}

// recordFailure records that the guest could not start.
func recordFailure(in *instance.Instance, err error) {
	in.Update(func(s *instance.State) error {
		s.Status = instance.Exited
		s.Reason = instance.ReasonFailed
		s.Error = errorLine(err)
		s.Finished = time.Now().UTC()
		return nil
	})
}

// exitReason says how a guest that exited with status ended. A crash of
// the guest (a fault the library OS could not handle: the monitor prints
// a report and returns vmm.CrashStatus) and a Go panic or fatal error
// (status 2 after the runtime's "panic: " or "fatal error: " on stderr) are
// crashes; a status of 128+N is a death by signal N, as in a shell —
// unless the guest was asked to stop (SIGTERM or SIGINT to the monitor),
// which is then the reason, whatever the status.
func exitReason(status int, stopAsked, panicked bool) string {
	switch {
	case status == vmm.CrashStatus, status == 2 && panicked:
		return instance.ReasonCrashed
	case stopAsked:
		return instance.ReasonStopped
	case status > 128 && status <= 128+64:
		return instance.ReasonKilled
	}
	return instance.ReasonExited
}

// panicWatcher passes the guest's stderr on and notes whether a line
// started as the Go runtime starts a panic or a fatal error.
type panicWatcher struct {
	w        io.Writer
	line     []byte // the start of the current line, up to len(longest prefix)
	skip     bool   // the current line is past its start
	panicked atomic.Bool
}

var panicPrefixes = []string{"panic: ", "fatal error: "}

func (p *panicWatcher) Write(b []byte) (int, error) {
	for _, c := range b {
		if c == '\n' {
			p.line, p.skip = p.line[:0], false
			continue
		}
		if p.skip {
			continue
		}
		p.line = append(p.line, c)
		matched := false
		for _, pre := range panicPrefixes {
			if len(p.line) <= len(pre) && pre[:len(p.line)] == string(p.line) {
				matched = true
				if len(p.line) == len(pre) {
					p.panicked.Store(true)
				}
			}
		}
		p.skip = !matched
	}
	return p.w.Write(b)
}
