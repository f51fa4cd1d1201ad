package kernel

import (
	"sync/atomic"
	"unsafe"
)

// Sockets are served by the guest network stack (package guestnet), which
// runs as ordinary Go code in the program: package syscall hands it every
// socket call. The kernel only allocates the descriptor, so that close, dup,
// fcntl and epoll work on it like on any other file, and keeps the
// readiness the stack reports, for epoll.

func sysSockFd(flags uint64) int64 {
	if flags&^(oNonblock|oCloexec) != 0 {
		return -eINVAL
	}
	fi := allocFile(fkSock, int32(oRdwr|flags&oNonblock))
	if fi < 0 {
		return -eMFILE
	}
	fd := installFd(fi, 0, flags&oCloexec != 0)
	if fd < 0 {
		releaseFile(fi)
	}
	return fd
}

func sysSockReady(fd, mask, event uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkSock {
		return -eNOTSOCK
	}
	if event != 0 {
		f.ready |= uint32(mask)
		notifyFile(fdTable[fd] - 1)
	} else {
		f.ready = uint32(mask)
	}
	return 0
}

// sockBits is the address of package syscall's socket descriptor set
// (abi.SysSockShare), 0 before the stack gives it.
var sockBits uint64

func sysSockShare(p uint64) int64 {
	if !userOK(p, 64*8, true) {
		return -eFAULT
	}
	sockBits = p
	return 0
}

// sockMark sets or clears descriptor fd's bit in the set.
func sockMark(fd int64, on bool) {
	if sockBits == 0 || fd < 0 || fd >= 64*64 {
		return
	}
	w := (*uint64)(unsafe.Pointer(uintptr(sockBits + uint64(fd>>6)*8)))
	if on {
		atomic.OrUint64(w, 1<<(fd&63))
	} else {
		atomic.AndUint64(w, ^(uint64(1) << (fd & 63)))
	}
}

// sockDup marks a new descriptor made from file f.
func sockDup(f *file, fd int64) {
	if fd >= 0 && f.kind == fkSock {
		sockMark(fd, true)
	}
}

func sysSockRefs(fd uint64) int64 {
	f := fdGet(int(int32(fd)))
	if f == nil {
		return -eBADF
	}
	if f.kind != fkSock {
		return -eNOTSOCK
	}
	return int64(f.refs)
}
