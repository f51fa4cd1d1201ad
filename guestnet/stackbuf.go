package guestnet

import (
	"syscall"
	"unsafe"
)

// Buffers on the caller's stack. Socket calls run on the calling goroutine
// before entersyscall (see build/sockhook), so its stack may move while
// guestnet serves the call: it grows when netstack needs more, and the
// garbage collector shrinks it while the call waits. The stack copier
// adjusts pointers held in stack frames (the hook's arguments, local
// slices), not the ones held by heap objects, and a buffer list handed to
// netstack ([][]byte, an io.Writer) is on the heap: pointers there into
// the old stack would read and write freed stack memory. So a buffer that
// lies on the goroutine's stack is replaced by a heap copy before it goes
// into such a list, and data read into the copy is copied back through the
// caller's own (adjusted) pointers afterwards.

// getg returns the running goroutine's g (getg_amd64.s).
func getg() unsafe.Pointer

// onStack reports whether b lies on the calling goroutine's stack: g.stack
// {lo, hi} is the first field of the runtime's g.
func onStack(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	st := (*[2]uintptr)(getg())
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= st[0] && p < st[1]
}

// offStack returns b, or, when b is on the goroutine's stack, a heap
// buffer of its size (holding a copy of b when contents is set).
func offStack(b []byte, contents bool) ([]byte, bool) {
	if !onStack(b) {
		return b, false
	}
	c := make([]byte, len(b))
	if contents {
		copy(c, b) // b, an argument, was adjusted if make moved the stack
	}
	return c, true
}

// copyBackIov copies the first n bytes read into bufs (the buffers iovecs
// built from the iovec array at p, cnt entries) to the caller's buffers,
// read again from the array: the stack may have moved since.
func copyBackIov(p unsafe.Pointer, cnt uintptr, bufs [][]byte, n int) {
	if p == nil || cnt == 0 {
		return
	}
	iov := unsafe.Slice((*syscall.Iovec)(p), cnt)
	j := 0
	for _, v := range iov {
		if v.Len == 0 {
			continue
		}
		if n <= 0 || j >= len(bufs) {
			return
		}
		d := unsafe.Slice(v.Base, v.Len)
		m := min(len(d), n, len(bufs[j]))
		copy(d[:m], bufs[j][:m])
		n -= m
		j++
	}
}
