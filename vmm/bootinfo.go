package vmm

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/motevm/mote/abi"
)

// Offsets of abi.BootInfo fields (checked against unsafe.Offsetof in tests).
const (
	biMagic       = 0
	biVersion     = 8
	biNumCPUs     = 12
	biMemSize     = 16
	biImageEnd    = 24
	biFreeStart   = 32
	biPML4        = 40
	biTSCHz       = 48
	biWallClockNs = 56
	biTickNs      = 64
	biArgc        = 72
	biEnvc        = 76
	biStringsGPA  = 80
	biStringsLen  = 88
	biFlags       = 96
	biSeed        = 104
	biHostname    = 136
	biNumVirtio   = 200
	biNet         = 208
	biFilesGPA    = biNet + netConfigSize
	biFilesLen    = biFilesGPA + 8
	biMountsGPA   = biFilesLen + 8
	biMountsLen   = biMountsGPA + 8
	biHostSignals = biMountsLen + 8
	biLazy        = biHostSignals + 8
	biSize        = biLazy + 16*abi.MaxLazy

	// abi.NetConfig
	ncIPv4        = 0
	ncPrefix4     = 4
	ncPrefix6     = 5
	ncGateway4    = 8
	ncDNS4        = 12
	ncIPv6        = 16
	ncGateway6    = 32
	ncDNS6        = 48
	ncSearchLen   = 64
	ncSearch      = 72
	netConfigSize = 136
)

var errArgsTooLarge = errors.New("arguments and environment too large")

// encodeBootInfo writes bi into b (biSize bytes).
func encodeBootInfo(b []byte, bi *abi.BootInfo) {
	le := binary.LittleEndian
	le.PutUint64(b[biMagic:], bi.Magic)
	le.PutUint32(b[biVersion:], bi.Version)
	le.PutUint32(b[biNumCPUs:], bi.NumCPUs)
	le.PutUint64(b[biMemSize:], bi.MemSize)
	le.PutUint64(b[biImageEnd:], bi.ImageEnd)
	le.PutUint64(b[biFreeStart:], bi.FreeStart)
	le.PutUint64(b[biPML4:], bi.PML4)
	le.PutUint64(b[biTSCHz:], bi.TSCHz)
	le.PutUint64(b[biWallClockNs:], uint64(bi.WallClockNs))
	le.PutUint64(b[biTickNs:], bi.TickNs)
	le.PutUint32(b[biArgc:], bi.Argc)
	le.PutUint32(b[biEnvc:], bi.Envc)
	le.PutUint64(b[biStringsGPA:], bi.StringsGPA)
	le.PutUint64(b[biStringsLen:], bi.StringsLen)
	le.PutUint64(b[biFlags:], bi.Flags)
	copy(b[biSeed:biSeed+32], bi.Seed[:])
	copy(b[biHostname:biHostname+64], bi.Hostname[:])
	le.PutUint32(b[biNumVirtio:], bi.NumVirtio)
	le.PutUint32(b[biNumVirtio+4:], 0)
	encodeNetConfig(b[biNet:biNet+netConfigSize], &bi.Net)
	le.PutUint64(b[biFilesGPA:], bi.FilesGPA)
	le.PutUint64(b[biFilesLen:], bi.FilesLen)
	le.PutUint64(b[biMountsGPA:], bi.MountsGPA)
	le.PutUint64(b[biMountsLen:], bi.MountsLen)
	le.PutUint64(b[biHostSignals:], bi.HostSignals)
	for i, r := range bi.Lazy {
		le.PutUint64(b[biLazy+16*i:], r.Start)
		le.PutUint64(b[biLazy+16*i+8:], r.End)
	}
}

// Tmpfs is a tmpfs the guest mounts at boot (mote run --tmpfs).
type Tmpfs struct {
	Path string // absolute guest path
	Size uint64 // bytes; 0: half of guest RAM
}

// mount is one record of the boot mount list (abi.BootInfo.MountsGPA).
type mount struct {
	typ  string // abi.Mount*
	path string // absolute guest path
	opts string // comma-separated options
}

// mountList lists the file systems the guest mounts at boot: the tmpfs, then
// the volumes (tag volN is Volumes[N], the device in the N-th window after
// the network device's).
func mountList(tmpfs []Tmpfs, vols []Volume) []mount {
	var ms []mount
	for _, t := range tmpfs {
		opts := ""
		if t.Size > 0 {
			opts = "size=" + strconv.FormatUint(t.Size, 10)
		}
		ms = append(ms, mount{abi.MountTmpfs, t.Path, opts})
	}
	for i, vol := range vols {
		opts := "tag=" + volumeTag(i)
		if vol.ReadOnly {
			opts += ",ro"
		}
		ms = append(ms, mount{abi.MountNinep, vol.Guest, opts})
	}
	return ms
}

// encodeMounts returns the abi.BootInfo.MountsGPA blob for ms: each mount
// is its type, path and options, each NUL-terminated.
func encodeMounts(ms []mount) []byte {
	var b []byte
	for _, m := range ms {
		for _, s := range []string{m.typ, m.path, m.opts} {
			b = append(append(b, s...), 0)
		}
	}
	return b
}

// encodeNetConfig writes nc into b (netConfigSize bytes).
func encodeNetConfig(b []byte, nc *abi.NetConfig) {
	clear(b)
	copy(b[ncIPv4:], nc.IPv4[:])
	b[ncPrefix4] = nc.Prefix4
	b[ncPrefix6] = nc.Prefix6
	copy(b[ncGateway4:], nc.Gateway4[:])
	copy(b[ncDNS4:], nc.DNS4[:])
	copy(b[ncIPv6:], nc.IPv6[:])
	copy(b[ncGateway6:], nc.Gateway6[:])
	copy(b[ncDNS6:], nc.DNS6[:])
	binary.LittleEndian.PutUint32(b[ncSearchLen:], nc.SearchLen)
	copy(b[ncSearch:ncSearch+64], nc.Search[:])
}

// ProgramName is the program name the guest sees by default (its argv[0]):
// the image file's base name without ".img".
func ProgramName(imagePath string) string {
	return strings.TrimSuffix(filepath.Base(imagePath), ".img")
}

// mergeEnv appends overrides to base; a later KEY=... replaces an earlier
// one in place.
func mergeEnv(base, overrides []string) []string {
	var out []string
	idx := map[string]int{}
	for _, e := range append(append([]string(nil), base...), overrides...) {
		k, _, _ := strings.Cut(e, "=")
		if i, ok := idx[k]; ok {
			out[i] = e
			continue
		}
		idx[k] = len(out)
		out = append(out, e)
	}
	return out
}

// encodeStrings returns argv then env, then the working directory dir
// unless it is "", each NUL-terminated, checking that they fit after the
// BootInfo struct.
func encodeStrings(argv, env []string, dir string) ([]byte, error) {
	var b []byte
	all := append(append([]string(nil), argv...), env...)
	if dir != "" {
		all = append(all, dir)
	}
	for _, s := range all {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, errors.New("arguments and environment must not contain NUL bytes")
		}
		b = append(append(b, s...), 0)
		if len(b) > abi.BootInfoSize-biSize {
			return nil, errArgsTooLarge
		}
	}
	return b, nil
}
