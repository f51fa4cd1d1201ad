package vmm

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/vmm/p9fs"
	"github.com/motevm/mote/vmm/virtio9p"
)

// Volume is a host directory the guest mounts at boot (mote run -v
// HOST:GUEST[:ro]). Each volume is served by a 9P2000.L server confined to
// the directory (package vmm/p9fs) behind a virtio-9p device of its own;
// see abi.MountNinep for what the guest is told.
type Volume struct {
	// Host is the host directory. The monitor opens it once, at start
	// (following a symbolic link that Host itself names), so what the
	// guest sees does not change if the path is renamed meanwhile.
	Host string
	// Guest is where the guest mounts it: an absolute, clean path other
	// than "/" (the guest makes the directory if it is missing).
	Guest string
	// ReadOnly volumes refuse every modification with EROFS, in the guest
	// and again in the server (which does not trust the guest).
	ReadOnly bool
}

// volume is a running volume: its server, and its device in its window.
type volume struct {
	fs  *p9fs.FS
	dev *virtio9p.Device // nil until setupVolumes
	*virtioDev
}

// volumeTag is the mount tag of the i-th volume: its device's
// configuration space and the mount list's tag= option carry it, which
// is how the guest matches a mount to a device.
func volumeTag(i int) string { return "vol" + strconv.Itoa(i) }

// checkVolumes checks cfg.Volumes before anything is made: the paths can
// be encoded in the mount list, no guest path is mounted twice, and the
// devices fit in the virtio windows besides nets network devices.
func checkVolumes(cfg *Config, nets int) error {
	seen := map[string]bool{}
	for _, t := range cfg.Tmpfs {
		seen[t.Path] = true
	}
	for _, vol := range cfg.Volumes {
		g := vol.Guest
		switch {
		case vol.Host == "":
			return fmt.Errorf("volume for %s: no host directory", g)
		case !path.IsAbs(g) || path.Clean(g) != g || g == "/" || strings.IndexByte(g, 0) >= 0:
			return fmt.Errorf("volume %s: the guest path %q must be an absolute, clean path other than /", vol.Host, g)
		case seen[g]:
			return fmt.Errorf("volume %s: %s is mounted twice", vol.Host, g)
		}
		seen[g] = true
	}
	if n := len(cfg.Volumes); n > abi.MaxVirtio-nets {
		with := ""
		if nets > 0 {
			with = " besides the network device"
		}
		return fmt.Errorf("too many volumes (%d): at most %d%s", n, abi.MaxVirtio-nets, with)
	}
	return nil
}

// openVolumes opens the volumes' host directories into v.volumes. It runs
// before the VM is made, so a missing directory is reported at once.
func (v *vm) openVolumes() error {
	for _, vol := range v.cfg.Volumes {
		fs, err := p9fs.New(vol.Host, vol.ReadOnly)
		if err != nil {
			var errno unix.Errno
			switch {
			case errors.Is(err, unix.ENOENT):
				return fmt.Errorf("volume %s: no such directory", vol.Host)
			case errors.Is(err, unix.ENOTDIR):
				return fmt.Errorf("volume %s: not a directory", vol.Host)
			case errors.As(err, &errno):
				return fmt.Errorf("volume %s: %v", vol.Host, errno)
			}
			return fmt.Errorf("volume %s: %v", vol.Host, err)
		}
		v.volumes = append(v.volumes, &volume{fs: fs})
	}
	return nil
}

// setupVolumes makes each volume's virtio-9p device, in the next virtio
// windows in tag order (after the network device's: setupNet runs first).
// v.mem and v.kvm exist.
func (v *vm) setupVolumes() error {
	for i, vol := range v.volumes {
		dev, err := virtio9p.New(virtio9p.Config{
			Mem:        v.mem.b,
			Tag:        volumeTag(i),
			NewSession: func() virtio9p.Handler { return vol.fs.NewSession() },
			Wake:       v.wakeIdle,
			Logf:       v.deviceLog,
			SpinWindow: volumeSpin(),
		})
		if err != nil {
			return fmt.Errorf("volume %s: %v", v.cfg.Volumes[i].Host, err)
		}
		if vol.virtioDev, err = v.addVirtio(dev); err != nil {
			return err
		}
		vol.dev = dev
	}
	return nil
}

// closeVolumes closes the volumes' servers, after their devices
// (closeVirtio), which end the servers' connections.
func (v *vm) closeVolumes() {
	for _, vol := range v.volumes {
		vol.fs.Close()
	}
	v.volumes = nil
}

// volumeStats appends the volumes' device counters, summed, to the stats
// line.
func (v *vm) volumeStats(b *strings.Builder) {
	var s virtio9p.Stats
	n := 0
	for _, vol := range v.volumes {
		if vol.dev == nil {
			continue
		}
		st := vol.dev.Stats()
		n++
		s.Requests += st.Requests
		s.Replies += st.Replies
		s.Errors += st.Errors
		s.Sessions += st.Sessions
		s.Kicks += st.Kicks
		s.PollerWakeups += st.PollerWakeups
		s.GuestWakes += st.GuestWakes
	}
	if n == 0 {
		return
	}
	fmt.Fprintf(b, " vol_requests=%d vol_replies=%d vol_errors=%d vol_sessions=%d vol_kicks=%d vol_poller_wakeups=%d vol_guest_wakes=%d",
		s.Requests, s.Replies, s.Errors, s.Sessions, s.Kicks, s.PollerWakeups, s.GuestWakes)
}

// volumeSpin reads MOTE_9P_SPIN=DURATION, the volume devices' spin window
// (for measurements; 0 or negative: no spinning), or 0 for the default.
func volumeSpin() time.Duration {
	s := os.Getenv("MOTE_9P_SPIN")
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return -1
	}
	return d
}
