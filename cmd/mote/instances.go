package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/motevm/mote/instance"
	"github.com/motevm/mote/vmm/usernet"
)

// Helpers shared by the instance commands (ps, logs, stop, rm, inspect).

// openInstance opens the instance named name, with mote's error line.
func openInstance(name string) (*instance.Instance, error) {
	in, err := instance.Open(name)
	if errors.Is(err, instance.ErrNotExist) {
		return nil, fmt.Errorf("mote: no such instance: %s", name)
	}
	if err != nil {
		return nil, fmt.Errorf("mote: %s: %v", name, err)
	}
	return in, nil
}

// forEachName runs fn for each name in order, printing each failure as
// its own error line to stderr; the command then fails with status 125
// after doing what it could (as docker stop a b does).
func forEachName(names []string, stderr io.Writer, fn func(name string) error) error {
	failed := false
	for _, n := range names {
		if err := fn(n); err != nil {
			fmt.Fprintln(stderr, errorLine(err))
			failed = true
		}
	}
	if failed {
		return exitStatus(ExitMoteError)
	}
	return nil
}

// printJSON writes v as indented JSON ("->" in ports stays as it is).
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// completeInstances completes instance names for a command's arguments:
// those not given yet, only running ones if running is set.
func completeInstances(running bool) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		list, _ := instance.List()
		given := map[string]bool{}
		for _, a := range args {
			given[a] = true
		}
		var names []string
		for _, in := range list {
			if given[in.Name] || !strings.HasPrefix(in.Name, toComplete) {
				continue
			}
			if running {
				if s, err := in.Refresh(); err != nil || s.Status != instance.Running {
					continue
				}
			}
			names = append(names, in.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// portStrings formats the published ports of c as in mote ps:
// "8080->80/tcp", "127.0.0.1:5353->53/udp".
func portStrings(c *instance.Config) []string {
	var out []string
	for _, spec := range c.Net.Publish {
		p, err := usernet.ParsePort(spec)
		if err != nil {
			out = append(out, spec)
			continue
		}
		s := fmt.Sprintf("%d->%d/%s", p.HostPort, p.GuestPort, p.Proto)
		if p.HostIP.IsValid() {
			h := p.HostIP.String()
			if p.HostIP.Is6() {
				h = "[" + h + "]"
			}
			s = h + ":" + s
		}
		out = append(out, s)
	}
	return out
}

// statusText is the STATUS column of mote ps: "running", "created",
// "exited (0) 2m ago", "stopped"... see instance.State.
func statusText(s *instance.State, now time.Time) string {
	switch s.Status {
	case instance.Running, instance.Created:
		return string(s.Status)
	}
	word := s.Reason
	switch word {
	case "", instance.ReasonStopped:
		word = "exited"
	}
	detail := ""
	switch {
	case s.ExitStatus != nil:
		detail = fmt.Sprintf(" (%d)", *s.ExitStatus)
	case s.Reason == instance.ReasonKilled && s.Error == "monitor died":
		detail = " (monitor died)"
	}
	ago := ""
	if !s.Finished.IsZero() {
		ago = " " + shortDuration(now.Sub(s.Finished)) + " ago"
	}
	return word + detail + ago
}

// uptime is how long the guest has run: until now, or until it exited.
func uptime(s *instance.State, now time.Time) time.Duration {
	switch {
	case s.Started.IsZero():
		return 0
	case s.Status == instance.Running:
		return now.Sub(s.Started)
	case !s.Finished.IsZero():
		return s.Finished.Sub(s.Started)
	}
	return 0
}

// shortDuration formats d as mote ps does: 45s, 5m, 3h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
