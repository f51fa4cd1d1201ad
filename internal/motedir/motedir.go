// Package motedir says where mote keeps its per-user state: the local
// image store and the instances started with mote run -d.
//
//   - MOTE_HOME, if set, holds both: MOTE_HOME/images and
//     MOTE_HOME/instances (tests and several independent setups use it).
//   - Otherwise images are data ($XDG_DATA_HOME/mote/images, default
//     ~/.local/share/mote/images) and instances state
//     ($XDG_STATE_HOME/mote/instances, default
//     ~/.local/state/mote/instances), as the XDG base directory
//     specification divides them.
//
// Nothing here creates the directories; their users do, with mode 0700.
package motedir

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// Images is the directory of the local image store.
func Images() string {
	if h := os.Getenv("MOTE_HOME"); h != "" {
		return filepath.Join(h, "images")
	}
	return filepath.Join(xdg("XDG_DATA_HOME", ".local/share"), "mote", "images")
}

// Instances is the directory of the instances' state.
func Instances() string {
	if h := os.Getenv("MOTE_HOME"); h != "" {
		return filepath.Join(h, "instances")
	}
	return filepath.Join(xdg("XDG_STATE_HOME", ".local/state"), "mote", "instances")
}

// xdg is the XDG directory in env, or HOME/def when unset or not absolute
// (as the specification says).
func xdg(env, def string) string {
	if d := os.Getenv(env); filepath.IsAbs(d) {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, def)
}

// Lock takes an exclusive flock(2) on path (made if missing, mode 0600)
// and returns the function that releases it. flock belongs to the open
// file, so the kernel releases it when its holder dies (a killed mote
// never leaves a lock behind), and two goroutines of one process exclude
// each other too (each opens the file itself).
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %v", path, err)
	}
	return func() { f.Close() }, nil
}
