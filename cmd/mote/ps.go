package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/motevm/mote/instance"
)

// psEntry is one instance in mote ps --format json.
type psEntry struct {
	Name          string    `json:"name"`
	Image         string    `json:"image"`
	Status        string    `json:"status"`           // created, running or exited
	StatusText    string    `json:"status_text"`      // as in the table
	Reason        string    `json:"reason,omitempty"` // exited, stopped, killed, crashed, failed
	ExitStatus    *int      `json:"exit_status,omitempty"`
	Error         string    `json:"error,omitempty"`
	PID           int       `json:"pid,omitempty"` // the monitor process, while running
	Created       time.Time `json:"created"`
	Started       time.Time `json:"started,omitzero"`
	Finished      time.Time `json:"finished,omitzero"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	CPUs          int       `json:"cpus"`
	Memory        uint64    `json:"memory"`
	Ports         []string  `json:"ports"`
}

func newPsCmd(stdout io.Writer) *cobra.Command {
	var (
		all    bool
		quiet  bool
		format string
	)
	cmd := &cobra.Command{
		Use:   "ps [flags]",
		Short: "List detached instances",
		Long: `Ps lists the instances started with mote run -d: by default those running,
with -a all of them, oldest first.

STATUS is running, created (mote run -d is starting it), or how it ended with
the exit status and when: "exited (0) 2m ago" (it exited by itself or after
mote stop), "killed (137) 5s ago" (by a signal, or by mote stop after its
timeout), "killed (monitor died)" (its monitor process was killed), "crashed
(2) 1h ago" (a Go panic or a guest crash), "failed" (it could not start).
UPTIME is how long the guest has run (until it exited).

A running instance's monitor is checked: one that died without recording
the guest's end is shown, and recorded, as killed (monitor died).`,
		Example: `  mote ps
  mote ps -a
  mote ps -q                   # names only
  mote ps -a --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("mote: --format %q: want table or json", format)
			}
			entries, err := psEntries(all)
			if err != nil {
				return err
			}
			switch {
			case quiet:
				for _, e := range entries {
					fmt.Fprintln(stdout, e.Name)
				}
			case format == "json":
				if entries == nil {
					entries = []psEntry{}
				}
				printJSON(stdout, entries)
			default:
				tw := tabwriter.NewWriter(stdout, 0, 4, 3, ' ', 0)
				fmt.Fprintln(tw, "NAME\tIMAGE\tSTATUS\tUPTIME\tCPUS\tMEMORY\tPORTS")
				for _, e := range entries {
					up := "-"
					if e.UptimeSeconds > 0 {
						up = shortDuration(time.Duration(e.UptimeSeconds * float64(time.Second)))
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.Name, shortImage(e.Image), e.StatusText, up,
						e.CPUs, memString(e.Memory), strings.Join(e.Ports, ", "))
				}
				tw.Flush()
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&all, "all", "a", false, "list every instance, not only running ones")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the names")
	f.StringVar(&format, "format", "table", "output `FORMAT`: table or json")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"table", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func psEntries(all bool) ([]psEntry, error) {
	list, err := instance.List()
	if err != nil {
		return nil, fmt.Errorf("mote: cannot list instances: %v", err)
	}
	now := time.Now()
	var out []psEntry
	for _, in := range list {
		c, err := in.Config()
		if err != nil {
			continue // removed meanwhile
		}
		s, err := in.Refresh()
		if err != nil {
			continue
		}
		if !all && s.Status != instance.Running {
			continue
		}
		e := psEntry{
			Name: in.Name, Image: c.Image, Status: string(s.Status), StatusText: statusText(s, now),
			Reason: s.Reason, ExitStatus: s.ExitStatus, Error: s.Error,
			Created: c.Created, Started: s.Started, Finished: s.Finished,
			UptimeSeconds: uptime(s, now).Seconds(), CPUs: c.CPUs, Memory: c.Memory,
			Ports: portStrings(c),
		}
		if e.Ports == nil {
			e.Ports = []string{}
		}
		if s.Status == instance.Running {
			e.PID = s.PID
		}
		out = append(out, e)
	}
	return out, nil
}

// shortImage is the IMAGE column: an image file by its name, a package as
// given.
func shortImage(img string) string {
	if strings.HasSuffix(img, ".img") || strings.HasSuffix(img, ".elf") {
		return filepath.Base(img)
	}
	return img
}

// memString formats a memory size as mote run -m takes it: 32M, 1G.
func memString(n uint64) string {
	switch {
	case n != 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	}
	return fmt.Sprint(n)
}
