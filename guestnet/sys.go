package guestnet

import (
	"syscall"
	"unsafe"
	_ "unsafe" // for go:linkname
)

// Provided by package syscall as mote build compiles it (build/sockhook).

// syscallRegister installs the socket hook and returns the set of socket
// descriptors package syscall consults.
//
//go:linkname syscallRegister syscall.moteSockRegister
func syscallRegister(h func(trap uintptr, a [6]uintptr, p [3]unsafe.Pointer) (r1, r2 uintptr, err syscall.Errno)) *[64]uint64

// rawSyscall6 enters the kernel without the hook.
//
//go:linkname rawSyscall6 syscall.moteRawSyscall6
func rawSyscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (r1, r2 uintptr, err syscall.Errno)

func rawSyscall(trap, a1, a2, a3 uintptr) (uintptr, syscall.Errno) {
	r, _, e := rawSyscall6(trap, a1, a2, a3, 0, 0, 0)
	return r, e
}

// sockPtrs is the bit set of a socket call's pointer arguments (bit i:
// argument i+1), those the hook hands over as unsafe.Pointer.
//
//go:linkname sockPtrs syscall.moteSockPtrs
func sockPtrs(trap uintptr) uint8
