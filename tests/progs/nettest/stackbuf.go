package main

import (
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// stackbuf: blocking socket reads into buffers on the reading goroutine's
// stack (read, readv, recvmsg), while the garbage collector shrinks that
// stack; and reads and writes from a fresh goroutine, whose stack grows
// during the call. The data must land in the buffers where they are when
// the call returns (and nothing else may be written).
func stackbuf() {
	const msg = "0123456789abcdef"
	for i := 0; i < 5; i++ {
		for _, how := range []string{"read", "readv", "recvmsg"} {
			c, s := tcpPair()
			res := make(chan string, 1)
			go stackReader(s, how, res)
			time.Sleep(20 * time.Millisecond) // the reader waits for data now
			runtime.GC()
			runtime.GC()
			if _, err := syscall.Write(c, []byte(msg)); err != nil {
				fail("stackbuf: write: %v", err)
			}
			if r := <-res; r != msg {
				fail("stackbuf: %s into a stack buffer that moved: got %q, want %q", how, r, msg)
			}
			syscall.Close(c)
			syscall.Close(s)
		}
		// A fresh goroutine's small stack grows inside the call.
		c, s := tcpPair()
		res := make(chan string, 1)
		go func() {
			b := [16]byte([]byte(msg))
			n, err := syscall.Write(c, b[:])
			res <- fmt.Sprint(n, err)
		}()
		if r := <-res; r != "16 <nil>" {
			fail("stackbuf: write from a new goroutine: %s", r)
		}
		go func() {
			var b [16]byte
			n, err := syscall.Read(s, b[:])
			res <- fmt.Sprintf("%s %v", b[:max(n, 0)], err)
		}()
		if r := <-res; r != msg+" <nil>" {
			fail("stackbuf: read from a new goroutine: %q", r)
		}
		syscall.Close(c)
		syscall.Close(s)
	}
	fmt.Println("stackbuf ok")
}

//go:noinline
func stackReader(fd int, how string, res chan string) {
	deepStack(100) // a big stack, which the GC shrinks while the read waits
	var b1, b2 [8]byte
	var n int
	var err error
	switch how {
	case "read":
		var b [16]byte
		n, err = syscall.Read(fd, b[:])
		copy(b1[:], b[:])
		copy(b2[:], b[8:])
	case "readv":
		iov := [2]syscall.Iovec{{Base: &b1[0], Len: 8}, {Base: &b2[0], Len: 8}}
		r, _, e := syscall.Syscall(syscall.SYS_READV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), 2)
		n = int(r)
		if e != 0 {
			err = e
		}
	case "recvmsg":
		iov := [2]syscall.Iovec{{Base: &b1[0], Len: 8}, {Base: &b2[0], Len: 8}}
		var m syscall.Msghdr
		m.Iov = &iov[0]
		m.Iovlen = 2
		r, _, e := syscall.Syscall(syscall.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&m)), 0)
		n = int(r)
		if e != 0 {
			err = e
		}
	}
	if err != nil || n != 16 {
		res <- fmt.Sprint(n, err)
		return
	}
	res <- string(b1[:]) + string(b2[:])
}

//go:noinline
func deepStack(n int) byte {
	var pad [1024]byte
	pad[n%1024] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deepStack(n-1) + pad[(n*7)%1024]
}

// tcpPair returns a connected pair of blocking TCP sockets over loopback.
func tcpPair() (int, int) {
	l, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: %v", err)
	}
	if err := syscall.Bind(l, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fail("bind: %v", err)
	}
	if err := syscall.Listen(l, 1); err != nil {
		fail("listen: %v", err)
	}
	sa, err := syscall.Getsockname(l)
	if err != nil {
		fail("getsockname: %v", err)
	}
	c, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: %v", err)
	}
	if err := syscall.Connect(c, sa); err != nil {
		fail("connect: %v", err)
	}
	s, _, err := syscall.Accept4(l, syscall.SOCK_CLOEXEC)
	if err != nil {
		fail("accept: %v", err)
	}
	syscall.Close(l)
	return c, s
}
