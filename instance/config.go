package instance

import "time"

// Config is everything needed to start an instance, as mote run -d was
// given it (checked already): the monitor rebuilds its vmm.Config from
// this alone, so it does not depend on the directory or the environment
// mote run -d was started in (volume hosts and the image are absolute).
type Config struct {
	Name string `json:"name"`
	// Image is the image or package as given on the command line;
	// ImagePath the image file booted (absolute), ImageDigest
	// "sha256:<hex>" of that file when the instance was created.
	Image       string `json:"image"`
	ImagePath   string `json:"image_path"`
	ImageDigest string `json:"image_digest"`
	// ImageBlob is the image store's copy of the image (the same
	// digest), which the monitor boots instead of ImagePath when it is
	// there: a store blob never changes in place, so the monitor maps
	// its pages (shared by every instance of the image) where it would
	// otherwise have to copy the file, which may be rewritten.
	ImageBlob string `json:"image_blob,omitempty"`
	// Program is the program's argv[0]; "": ImagePath's name without ".img".
	Program string `json:"program,omitempty"`

	Args    []string `json:"args,omitempty"` // after those baked into the image
	Env     []string `json:"env,omitempty"`  // KEY=VALUE, over the image's
	Memory  uint64   `json:"memory"`         // guest RAM in bytes
	CPUs    int      `json:"cpus"`
	Workdir string   `json:"workdir,omitempty"`
	// Tmpfs are --tmpfs values as given (PATH[:SIZE]).
	Tmpfs   []string `json:"tmpfs,omitempty"`
	Volumes []Volume `json:"volumes,omitempty"`
	Net     Net      `json:"net"`
	Debug   bool     `json:"debug,omitempty"`
	Profile string   `json:"profile,omitempty"` // absolute, or "-" for the log

	Created time.Time `json:"created"`
}

// Volume is a host directory mounted in the guest (-v), the host path made
// absolute.
type Volume struct {
	Host     string `json:"host"`
	Guest    string `json:"guest"`
	ReadOnly bool   `json:"read_only,omitempty"`
}

// Net is the network flags as given on the command line (--net, -p, --ip,
// ...); the monitor parses them again as mote run does.
type Net struct {
	Mode     string   `json:"mode,omitempty"`
	Publish  []string `json:"publish,omitempty"`
	IP       string   `json:"ip,omitempty"`
	Gateway  string   `json:"gateway,omitempty"`
	IP6      string   `json:"ip6,omitempty"`
	Gateway6 string   `json:"gateway6,omitempty"`
	DNS      string   `json:"dns,omitempty"`
	MAC      string   `json:"mac,omitempty"`
}

// Status is where an instance is in its life.
type Status string

const (
	// Created: the directory is there, the monitor has not said it runs
	// (mote run -d is starting it, or died doing so).
	Created Status = "created"
	// Running: the monitor recorded its pid and boots or runs the guest.
	Running Status = "running"
	// Exited: the guest is gone; Reason says how.
	Exited Status = "exited"
)

// Reasons an instance exited.
const (
	ReasonExited  = "exited"  // the program exited by itself
	ReasonStopped = "stopped" // it exited after mote stop's SIGTERM (or another SIGTERM/SIGINT to the monitor)
	ReasonKilled  = "killed"  // the program died of a signal, or the monitor was killed (mote stop's SIGKILL, or it died)
	ReasonCrashed = "crashed" // the guest crashed (vmm.CrashStatus) or the Go program panicked
	ReasonFailed  = "failed"  // the monitor could not start the guest (State.Error says why)
)

// State is what an instance is doing, as last recorded.
type State struct {
	Status Status `json:"status"`
	// PID is the monitor process while Running, and PIDStart its start
	// time in clock ticks after boot (/proc/PID/stat field 22): together
	// they name the process even if the pid is reused later.
	PID      int    `json:"pid,omitempty"`
	PIDStart uint64 `json:"pid_start,omitempty"`

	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// ExitStatus is the guest program's exit status; nil while running,
	// and when unknown (the monitor died without recording it).
	ExitStatus *int   `json:"exit_status,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// Error explains Reason where a status cannot: "monitor died", "killed
	// by mote stop after 10s", the error that kept the guest from starting.
	Error string `json:"error,omitempty"`
}
