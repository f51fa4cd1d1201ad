package kernel

import (
	"encoding/binary"
	"math/bits"
)

// Entropy: a ChaCha20 keystream keyed at boot from the monitor's 32-byte seed
// (the host's getrandom) mixed with RDRAND output when the CPU has it. The key
// is replaced after every request (fast key erasure), so earlier output cannot
// be recomputed from a later state. Output is never all zeros.
var (
	rngKey   [8]uint32
	rngCount uint64
)

func randomInit(seed *[32]byte) {
	for i := range rngKey {
		rngKey[i] = binary.LittleEndian.Uint32(seed[i*4:])
	}
	if _, _, c, _ := cpuid(1, 0); c&(1<<30) != 0 {
		for i := 0; i < 4; i++ {
			if v, ok := rdrand(); ok {
				rngKey[2*i] ^= uint32(v)
				rngKey[2*i+1] ^= uint32(v >> 32)
			}
		}
	}
	// Also mix in the boot TSC: distinct across boots even with a fixed seed.
	t := rdtsc()
	rngKey[0] ^= uint32(t)
	rngKey[1] ^= uint32(t >> 32)
}

func quarter(a, b, c, d uint32) (uint32, uint32, uint32, uint32) {
	a += b
	d = bits.RotateLeft32(d^a, 16)
	c += d
	b = bits.RotateLeft32(b^c, 12)
	a += b
	d = bits.RotateLeft32(d^a, 8)
	c += d
	b = bits.RotateLeft32(b^c, 7)
	return a, b, c, d
}

// chachaBlock writes the 64-byte ChaCha20 block for counter into out.
func chachaBlock(out *[64]byte, counter uint64) {
	var s, x [16]uint32
	s[0], s[1], s[2], s[3] = 0x61707865, 0x3320646e, 0x79622d32, 0x6b206574
	copy(s[4:12], rngKey[:])
	s[12] = uint32(counter)
	s[13] = uint32(counter >> 32)
	x = s
	for i := 0; i < 10; i++ {
		x[0], x[4], x[8], x[12] = quarter(x[0], x[4], x[8], x[12])
		x[1], x[5], x[9], x[13] = quarter(x[1], x[5], x[9], x[13])
		x[2], x[6], x[10], x[14] = quarter(x[2], x[6], x[10], x[14])
		x[3], x[7], x[11], x[15] = quarter(x[3], x[7], x[11], x[15])
		x[0], x[5], x[10], x[15] = quarter(x[0], x[5], x[10], x[15])
		x[1], x[6], x[11], x[12] = quarter(x[1], x[6], x[11], x[12])
		x[2], x[7], x[8], x[13] = quarter(x[2], x[7], x[8], x[13])
		x[3], x[4], x[9], x[14] = quarter(x[3], x[4], x[9], x[14])
	}
	for i := range x {
		binary.LittleEndian.PutUint32(out[i*4:], x[i]+s[i])
	}
}

// randomFill fills the user range [p, p+n) (validated by the caller).
func randomFill(p, n uint64) {
	var blk [64]byte
	for n > 0 {
		rngCount++
		chachaBlock(&blk, rngCount)
		c := n
		if c > 64 {
			c = 64
		}
		copy(userBytes(p, c), blk[:c])
		p += c
		n -= c
	}
	// Fast key erasure: the next key is a block nobody has seen.
	rngCount++
	chachaBlock(&blk, rngCount)
	for i := range rngKey {
		rngKey[i] = binary.LittleEndian.Uint32(blk[i*4:])
	}
}
