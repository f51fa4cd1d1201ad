package kernel

import "unsafe"

// kmalloc: small kernel chunks (file names, link targets) in power-of-two
// size classes from 16 bytes to a page, carved from frames and kept on
// per-class free lists (frames are never returned: the working set of names
// is small next to file data).

const (
	minClassShift = 4 // 16 bytes
	numClasses    = 9 // 16 .. 4096
	noClass       = 0xff
)

var kmFree [numClasses]uint64 // free chunks, linked through their first word

// sizeClass returns the class holding n bytes (n <= pageSize).
func sizeClass(n uint64) uint8 {
	c := uint8(0)
	for uint64(1)<<(minClassShift+c) < n {
		c++
	}
	return c
}

// kmalloc returns a chunk of class c, or 0 when memory is exhausted.
func kmalloc(c uint8) uint64 {
	if kmFree[c] == 0 {
		f := allocFrame()
		if f == 0 {
			return 0
		}
		size := uint64(1) << (minClassShift + c)
		for p := f; p < f+pageSize; p += size {
			*(*uint64)(unsafe.Pointer(uintptr(p))) = kmFree[c]
			kmFree[c] = p
		}
	}
	p := kmFree[c]
	kmFree[c] = *(*uint64)(unsafe.Pointer(uintptr(p)))
	return p
}

func kfree(p uint64, c uint8) {
	*(*uint64)(unsafe.Pointer(uintptr(p))) = kmFree[c]
	kmFree[c] = p
}
