package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/motevm/mote/vmm"
)

// maxMounts bounds the file systems mote run mounts besides /tmp (--tmpfs
// and -v together): the library OS has 16 file system ids, of which 0 is
// none, 1 the root file system and 2 /tmp; a volume takes one as a tmpfs
// does.
const maxMounts = 13

// checkMountPoint checks a guest mount point given with flag: an absolute,
// clean path other than /, outside the directories the library OS
// provides, and not /tmp (a tmpfs already).
func checkMountPoint(flag, spec, p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("mote: %s %q: the mount point must be an absolute, clean guest path other than /", flag, spec)
	}
	for _, r := range []string{"/dev", "/proc", "/sys"} {
		if p == r || strings.HasPrefix(p, r+"/") {
			return fmt.Errorf("mote: %s %q: %s belongs to the library OS", flag, spec, r)
		}
	}
	if p == "/tmp" {
		return fmt.Errorf("mote: %s %q: /tmp is a tmpfs already", flag, spec)
	}
	return nil
}

// parseTmpfs parses --tmpfs PATH[:SIZE] values.
func parseTmpfs(specs []string) ([]vmm.Tmpfs, error) {
	var out []vmm.Tmpfs
	seen := map[string]bool{}
	for _, spec := range specs {
		p, size, hasSize := strings.Cut(spec, ":")
		if err := checkMountPoint("--tmpfs", spec, p); err != nil {
			return nil, err
		}
		if seen[p] {
			return nil, fmt.Errorf("mote: --tmpfs %q: %s is given twice", spec, p)
		}
		seen[p] = true
		t := vmm.Tmpfs{Path: p}
		if hasSize {
			n, err := parseMemory(size)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("mote: --tmpfs %q: bad size %q (use bytes or a unit, e.g. 64M)", spec, size)
			}
			t.Size = n
		}
		out = append(out, t)
	}
	if len(out) > maxMounts {
		return nil, fmt.Errorf("mote: --tmpfs: at most %d file systems besides /tmp", maxMounts)
	}
	return out, nil
}

// parseVolumes parses -v HOST:GUEST[:ro|:rw] values: HOST is made
// absolute (relative to the current directory) and must be a directory
// now, so that a typo fails here rather than in the guest. A GUEST must
// not be mounted twice, also not as one of tmpfs.
func parseVolumes(specs []string, tmpfs []vmm.Tmpfs) ([]vmm.Volume, error) {
	var out []vmm.Volume
	seen := map[string]string{}
	for _, t := range tmpfs {
		seen[t.Path] = "--tmpfs"
	}
	for _, spec := range specs {
		vol, err := parseVolume(spec)
		if err != nil {
			return nil, err
		}
		switch seen[vol.Guest] {
		case "-v":
			return nil, fmt.Errorf("mote: -v %q: %s is given twice", spec, vol.Guest)
		case "--tmpfs":
			return nil, fmt.Errorf("mote: -v %q: %s is a --tmpfs mount point already", spec, vol.Guest)
		}
		seen[vol.Guest] = "-v"
		out = append(out, vol)
	}
	if len(tmpfs)+len(out) > maxMounts {
		return nil, fmt.Errorf("mote: --tmpfs and -v: at most %d file systems besides /tmp", maxMounts)
	}
	// Nothing is mounted inside a volume: its mount point would have to
	// be made in the host directory, and the guest would never see it
	// (a volume's names are the host's).
	for _, v := range out {
		for p, flag := range seen {
			if p != v.Guest && strings.HasPrefix(p, v.Guest+"/") {
				return nil, fmt.Errorf("mote: %s %s is inside the volume at %s: mount it elsewhere", flag, p, v.Guest)
			}
		}
	}
	return out, nil
}

// parseVolume parses one -v value. It is split from the right, so that a
// HOST with colons in it works: the last field is an option if it is not
// an absolute path, and GUEST is the field before it.
func parseVolume(spec string) (vmm.Volume, error) {
	var vol vmm.Volume
	rest := spec
	if i := strings.LastIndexByte(rest, ':'); i >= 0 && !strings.HasPrefix(rest[i+1:], "/") && strings.Contains(rest[:i], ":") {
		switch opt := rest[i+1:]; opt {
		case "ro":
			vol.ReadOnly = true
		case "rw":
		default:
			return vol, fmt.Errorf("mote: -v %q: unknown option %q (ro or rw)", spec, opt)
		}
		rest = rest[:i]
	}
	i := strings.LastIndexByte(rest, ':')
	if i <= 0 {
		return vol, fmt.Errorf("mote: -v %q: want HOST:GUEST or HOST:GUEST:ro (a host directory and an absolute guest path)", spec)
	}
	host, guest := rest[:i], rest[i+1:]
	if err := checkMountPoint("-v", spec, guest); err != nil {
		return vol, err
	}
	st, err := os.Stat(host)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return vol, fmt.Errorf("mote: -v %q: %s: no such directory", spec, host)
	case err != nil:
		return vol, fmt.Errorf("mote: -v %q: %v", spec, err)
	case !st.IsDir():
		return vol, fmt.Errorf("mote: -v %q: %s is not a directory", spec, host)
	}
	if vol.Host, err = filepath.Abs(host); err != nil {
		return vol, fmt.Errorf("mote: -v %q: %v", spec, err)
	}
	vol.Guest = guest
	return vol, nil
}
