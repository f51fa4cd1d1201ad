package kernel

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
