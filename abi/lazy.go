package abi

import (
	"encoding/binary"
	"errors"
)

// Demand-zero ranges ("lazy bss"). Go programs can carry large zeroed
// globals that Linux backs lazily and most programs never touch: the
// standard library's FIPS 140 entropy scratch buffer alone is 32 MiB of
// .noptrbss in every program that links crypto/rand. Loaded as plain RAM,
// such a range would take its whole size out of the guest's memory.
//
// `mote build` lists the page-aligned interior of every .noptrbss symbol of
// at least LazyMin bytes outside the library OS and the runtime (the
// NoteTypeLazy note; .noptrbss because the garbage collector never reads
// it). The monitor gives the guest that much RAM on top of --memory, so the
// ranges keep their identity addresses (VA == GPA) without costing the
// program, and lists them in BootInfo.Lazy. The guest maps their pages
// only on first touch (a fault, or a kernel access through userOK) and
// charges each one to the frame allocator as it would charge a heap page:
// a program that does use the memory pays for it, so --memory stays the
// bound on what the guest can use.
const (
	// NoteTypeLazy's descriptor: each range as two little-endian uint64,
	// start and end (page aligned, start < end), sorted and disjoint.
	NoteTypeLazy = 4
	// MaxLazy is the most ranges an image may have (the largest are kept).
	MaxLazy = 4
	// LazyMin is the smallest symbol made demand-zero.
	LazyMin = 1 << 20
)

// LazyRange is one demand-zero range [Start, End) of the image.
type LazyRange struct {
	Start, End uint64
}

// EncodeLazy returns the NoteTypeLazy descriptor for rs.
func EncodeLazy(rs []LazyRange) []byte {
	b := make([]byte, 16*len(rs))
	for i, r := range rs {
		binary.LittleEndian.PutUint64(b[16*i:], r.Start)
		binary.LittleEndian.PutUint64(b[16*i+8:], r.End)
	}
	return b
}

// DecodeLazy parses a NoteTypeLazy descriptor and checks its ranges: page
// aligned, non-empty, sorted, disjoint and at most MaxLazy of them.
func DecodeLazy(b []byte) ([]LazyRange, error) {
	if len(b)%16 != 0 || len(b)/16 > MaxLazy {
		return nil, errors.New("mote lazy note: bad size")
	}
	var rs []LazyRange
	prev := uint64(0)
	for i := 0; i < len(b); i += 16 {
		r := LazyRange{binary.LittleEndian.Uint64(b[i:]), binary.LittleEndian.Uint64(b[i+8:])}
		if r.Start%PageSize != 0 || r.End%PageSize != 0 || r.Start >= r.End || r.Start < prev {
			return nil, errors.New("mote lazy note: bad range")
		}
		prev = r.End
		rs = append(rs, r)
	}
	return rs, nil
}
