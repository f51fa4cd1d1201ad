package guestnet

import (
	"syscall"
	"unsafe"
)

// sendfileChunk bounds what one sendfile call reads from the file; callers
// (Go's poll.SendFile) loop until they have sent what they want.
const sendfileChunk = 256 << 10

// sendfile sends up to count bytes of file descriptor in (a file the
// library OS serves) on s, from *off (advanced by what was sent) or, when
// off is nil, from the file's position (left just past what was sent), as
// sendfile(2) does. The bytes are read into a buffer and sent; what the
// socket did not take is given back to the file's position.
func (s *socket) sendfile(in uintptr, off unsafe.Pointer, count uintptr) (int, syscall.Errno) {
	// Like Linux, only from a regular file (Go's net tries sendfile from
	// any syscall.Conn, sockets included, and falls back on EINVAL).
	var st syscall.Stat_t
	if _, _, e := rawSyscall6(syscall.SYS_FSTAT, in, uintptr(unsafe.Pointer(&st)), 0, 0, 0, 0); e != 0 {
		return 0, e
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return 0, syscall.EINVAL
	}
	if count == 0 {
		return 0, 0
	}
	n := min(int(count), sendfileChunk)
	buf := make([]byte, n)
	var r uintptr
	var e syscall.Errno
	if off != nil {
		pos := *(*int64)(off)
		if pos < 0 {
			return 0, syscall.EINVAL
		}
		r, _, e = rawSyscall6(syscall.SYS_PREAD64, in, uintptr(unsafe.Pointer(&buf[0])), uintptr(n), uintptr(pos), 0, 0)
	} else {
		r, _, e = rawSyscall6(syscall.SYS_READ, in, uintptr(unsafe.Pointer(&buf[0])), uintptr(n), 0, 0, 0)
	}
	if e != 0 {
		return 0, e
	}
	if r == 0 {
		return 0, 0
	}
	sent, e := s.send([][]byte{buf[:r]}, 0, nil)
	if sent < 0 {
		sent = 0
	}
	if off != nil {
		*(*int64)(off) += int64(sent)
	} else if rest := int(r) - sent; rest > 0 {
		rawSyscall6(syscall.SYS_LSEEK, in, uintptr(-rest), 1 /* SEEK_CUR */, 0, 0, 0)
	}
	if sent > 0 {
		return sent, 0
	}
	return 0, e
}
