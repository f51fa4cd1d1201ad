package kvm

import (
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// KVM_GET_STATS_FD = _IO(KVMIO, 0xce): a file with KVM's binary statistics
// (header, descriptors, values) of a VM or vCPU.
const getStatsFD = 0xae<<8 | 0xce

// Stats reads the named counters KVM keeps for c (exits, emulated
// instructions, page faults, ...). It returns nil if the kernel has no
// binary statistics.
func (c *VCPU) Stats() (map[string]uint64, error) {
	fd, err := ioctl(c.fd, getStatsFD, 0)
	if err != nil {
		return nil, fmt.Errorf("KVM_GET_STATS_FD: %v", err)
	}
	defer unix.Close(int(fd))
	var hdr [24]byte
	if _, err := unix.Pread(int(fd), hdr[:], 0); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	nameSize := le.Uint32(hdr[4:])
	numDesc := le.Uint32(hdr[8:])
	descOff := le.Uint32(hdr[16:])
	dataOff := le.Uint32(hdr[20:])
	descSize := 16 + nameSize
	descs := make([]byte, numDesc*descSize)
	if _, err := unix.Pread(int(fd), descs, int64(descOff)); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for i := uint32(0); i < numDesc; i++ {
		d := descs[i*descSize : (i+1)*descSize]
		size := le.Uint16(d[6:])
		off := le.Uint32(d[8:])
		name := strings.TrimRight(string(d[16:]), "\x00")
		if size != 1 {
			continue // histograms
		}
		var v [8]byte
		if _, err := unix.Pread(int(fd), v[:], int64(dataOff+off)); err != nil {
			return nil, err
		}
		out[name] = le.Uint64(v[:])
	}
	return out, nil
}
