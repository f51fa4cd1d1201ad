package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/motevm/mote/abi"
)

const (
	miB = 1 << 20
	// memoryGranule is the unit guest RAM is rounded up to (2 MiB pages).
	memoryGranule = 2 * miB
)

// parseMemory parses a guest RAM size: plain bytes ("268435456") or a
// number with a binary unit K, M, G (or KB/KiB, MB/MiB, GB/GiB, any case),
// e.g. "64M", "1G", "512MiB", "1.5G". The result is rounded up to 2 MiB and
// must not exceed abi.MaxMemory.
func parseMemory(s string) (uint64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("memory size is empty (use a size such as 256M or 1G)")
	}
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	if num == "" {
		return 0, fmt.Errorf("memory size %q is not a number followed by an optional unit (e.g. 256M, 1G)", s)
	}
	var mult float64
	switch unit {
	case "", "b":
		mult = 1
	case "k", "kb", "kib":
		mult = 1 << 10
	case "m", "mb", "mib":
		mult = 1 << 20
	case "g", "gb", "gib":
		mult = 1 << 30
	case "t", "tb", "tib":
		mult = 1 << 40
	default:
		return 0, fmt.Errorf("memory size %q has an unknown unit (use K, M or G, e.g. 256M)", s)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, fmt.Errorf("memory size %q is not a number followed by an optional unit (e.g. 256M, 1G)", s)
	}
	bytes := math.Ceil(v * mult)
	if bytes <= 0 {
		return 0, fmt.Errorf("memory size %q must be larger than zero", s)
	}
	if bytes > float64(abi.MaxMemory) {
		return 0, fmt.Errorf("memory size %s is more than the maximum of %d MiB that a mote guest can have", s, uint64(abi.MaxMemory)/miB)
	}
	n := uint64(bytes)
	n = (n + memoryGranule - 1) / memoryGranule * memoryGranule
	if n > abi.MaxMemory {
		return 0, fmt.Errorf("memory size %s is more than the maximum of %d MiB that a mote guest can have", s, uint64(abi.MaxMemory)/miB)
	}
	return n, nil
}
