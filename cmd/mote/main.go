// Command mote builds ordinary Go programs into unikernel images and boots
// them on KVM.
//
//	mote build [flags] [PACKAGE | FILE.go ...]
//	mote run [flags] IMAGE|PACKAGE [-- ARGS...]
//	mote run -d [--name NAME] [flags] IMAGE|PACKAGE [-- ARGS...]
//	mote ps | logs | stop | rm | inspect
//	mote version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// ExitMoteError is the exit status of mote itself failing (as opposed to the
// guest program exiting with a status), like docker run's 125.
const ExitMoteError = 125

// exitStatus is returned by commands that must make mote exit with a given
// status without printing anything (the guest's exit status).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) (status int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "mote: internal error: %v\n", r)
			status = ExitMoteError
		}
	}()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err == nil {
		return 0
	}
	var es exitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	fmt.Fprintln(stderr, errorLine(err))
	return ExitMoteError
}

// interruptible returns a context cancelled by SIGINT or SIGTERM, for the
// build steps: an interrupted build stops the go command and cleans up. The
// signals get their default behaviour back when stop is called, which must
// happen before the guest runs.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// forwardSignals passes SIGINT, SIGTERM and SIGHUP on to a running guest
// (the channel goes to vmm.Config.Signals); a second SIGINT or SIGTERM
// cancels the returned context instead, which stops the guest. stop ends
// the forwarding.
func forwardSignals(parent context.Context) (ctx context.Context, sigs <-chan syscall.Signal, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	in := make(chan os.Signal, 4)
	out := make(chan syscall.Signal, 4)
	done := make(chan struct{})
	signal.Notify(in, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		stopping := false
		for {
			select {
			case s := <-in:
				sig := s.(syscall.Signal)
				if stopping && sig != syscall.SIGHUP {
					cancel(fmt.Errorf("%v again", sig))
					continue
				}
				stopping = stopping || sig != syscall.SIGHUP
				select {
				case out <- sig:
				default:
				}
			case <-done:
				return
			}
		}
	}()
	return ctx, out, func() {
		signal.Stop(in)
		close(done)
		cancel(nil)
	}
}

// errorLine formats err as the one line mote prints: "mote: <sentence>".
// Errors that already name their command ("mote build: ...") keep it.
func errorLine(err error) string {
	msg := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if strings.HasPrefix(msg, "mote:") || strings.HasPrefix(msg, "mote ") {
		return msg
	}
	return "mote: " + msg
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mote",
		Short: "Build Go programs into unikernels and run them on KVM",
		Long: `mote turns an ordinary Go main package into a unikernel: a bootable image in
which the program is linked with mote's library OS, and boots it on KVM.

  mote build ./cmd/server        # -> server.img
  mote run server.img -- -port 8080
  mote run ./examples/hello -- world   # build (cached) and run

Requires Linux on x86-64 with /dev/kvm, and Go 1.26 or newer on PATH.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No subcommand: show help; an unknown one is an error.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// mote completion bash|zsh|fish|powershell: instance names complete
	// for logs, stop, rm and inspect.
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%v (see 'mote %s --help')", err, subName(c))
	})
	root.AddCommand(newBuildCmd(stderr), newRunCmd(stdout, stderr), newTestCmd(stdout, stderr), newVersionCmd(stdout))
	root.AddCommand(newPsCmd(stdout), newLogsCmd(stdout, stderr), newStopCmd(stdout, stderr), newRmCmd(stdout, stderr),
		newInspectCmd(stdout, stderr), newMonitorCmd())
	root.AddCommand(newImagesCmd(stdout), newRmiCmd(stdout, stderr))
	return root
}

// subName returns the command path below "mote", e.g. "run".
func subName(c *cobra.Command) string {
	p := c.CommandPath()
	p = strings.TrimPrefix(p, "mote")
	p = strings.TrimSpace(p)
	if p == "" {
		return ""
	}
	return p
}
