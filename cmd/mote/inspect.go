package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/motevm/mote/instance"
)

// inspectEntry is one instance in mote inspect's output. The config and
// state are as recorded (config.json, state.json); the fields after them
// repeat what scripts ask most often.
type inspectEntry struct {
	Name           string            `json:"name"`
	Dir            string            `json:"dir"`
	Config         *instance.Config  `json:"config"`
	State          *instance.State   `json:"state"`
	Status         string            `json:"status"`
	ExitStatus     *int              `json:"exit_status"`
	ImagePath      string            `json:"image_path"`
	ImageDigest    string            `json:"image_digest"`
	Ports          []string          `json:"ports"`
	Volumes        []instance.Volume `json:"volumes"`
	LogPath        string            `json:"log_path"`
	MonitorLogPath string            `json:"monitor_log_path"`
}

func newInspectCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect NAME...",
		Short: "Print detached instances' configuration and state as JSON",
		Long: `Inspect prints a JSON array with an object per instance: how it was started
(config: the image and its sha256 digest, arguments, environment, memory,
CPUs, mounts, network flags as given), its state (status, the monitor's pid
while running, start and finish times, exit status and reason), its
published ports and volumes, and the paths of its logs. A name that does not
exist is an error (the others are still printed).`,
		Example: `  mote inspect web
  mote inspect web | jq -r '.[0].state.exit_status'`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeInstances(false),
		RunE: func(cmd *cobra.Command, args []string) error {
			entries := []inspectEntry{}
			err := forEachName(args, stderr, func(name string) error {
				in, err := openInstance(name)
				if err != nil {
					return err
				}
				c, err := in.Config()
				if err != nil {
					return fmt.Errorf("mote: %s: %v", name, err)
				}
				s, err := in.Refresh()
				if err != nil {
					return fmt.Errorf("mote: %s: %v", name, err)
				}
				e := inspectEntry{
					Name: in.Name, Dir: in.Dir, Config: c, State: s, Status: string(s.Status),
					ExitStatus: s.ExitStatus, ImagePath: c.ImagePath, ImageDigest: c.ImageDigest,
					Ports: portStrings(c), Volumes: c.Volumes,
					LogPath: in.LogPath(), MonitorLogPath: in.MonitorLogPath(),
				}
				if e.Ports == nil {
					e.Ports = []string{}
				}
				if e.Volumes == nil {
					e.Volumes = []instance.Volume{}
				}
				entries = append(entries, e)
				return nil
			})
			printJSON(stdout, entries)
			return err
		},
	}
	return cmd
}
