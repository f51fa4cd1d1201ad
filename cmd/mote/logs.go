package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/motevm/mote/instance"
)

// logsPoll is how often mote logs -f looks for new output.
const logsPoll = 200 * time.Millisecond

func newLogsCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		follow     bool
		timestamps bool
		tail       string
	)
	cmd := &cobra.Command{
		Use:   "logs [flags] NAME",
		Short: "Print a detached instance's output",
		Long: `Logs prints what an instance's program wrote: its standard output to standard
output and its standard error to standard error, byte for byte as written
(a panic's traceback and a guest crash report included). The monitor keeps
the output in the instance's console log with the time each line was
written; -t prints that time (RFC 3339, UTC) before each line.

The log is rotated at 10 MiB, keeping the previous 10 MiB: mote logs prints
both. With -f it then waits for more and prints it as it comes, until the
instance stops.`,
		Example: `  mote logs web
  mote logs -f web
  mote logs --tail 20 -t web`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeInstances(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			n := -1
			if tail != "all" {
				var err error
				if n, err = strconv.Atoi(tail); err != nil || n < 0 {
					return fmt.Errorf("mote: --tail %q: want a number of lines or all", tail)
				}
			}
			in, err := openInstance(args[0])
			if err != nil {
				return err
			}
			return printLogs(cmd, in, n, follow, &instance.Printer{Stdout: stdout, Stderr: stderr, Timestamps: timestamps})
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new output until the instance stops")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "print the time each line was written before it")
	f.StringVarP(&tail, "tail", "n", "all", "print only the last `N` lines (then follow, with -f)")
	return cmd
}

func printLogs(cmd *cobra.Command, in *instance.Instance, tail int, follow bool, p *instance.Printer) error {
	fw := instance.NewFollower(in.LogPath())
	defer fw.Close()
	recs, err := fw.Next()
	if err != nil {
		return fmt.Errorf("mote: %s: %v", in.Name, err)
	}
	for _, r := range instance.TailRecords(recs, tail) {
		if err := p.Print(r); err != nil {
			return nil // the reader went away (a closed pipe)
		}
	}
	if !follow {
		return nil
	}
	ctx := cmd.Context()
	for {
		// Whether it still runs is asked before reading, so that
		// what it wrote before it stopped is read.
		s, err := in.Refresh()
		running := err == nil && (s.Status == instance.Running || s.Status == instance.Created)
		recs, rerr := fw.Next()
		if rerr != nil {
			return fmt.Errorf("mote: %s: %v", in.Name, rerr)
		}
		for _, r := range recs {
			if err := p.Print(r); err != nil {
				return nil
			}
		}
		if errors.Is(err, instance.ErrNotExist) || !running {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(logsPoll):
		}
	}
}
