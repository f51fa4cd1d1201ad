package guestnet

import (
	"encoding/binary"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
)

// Linux socket addresses <-> netstack addresses.

const (
	sizeofSockaddrInet4    = 16
	sizeofSockaddrInet6    = 28
	sizeofSockaddrInet6Min = 24 // SIN6_LEN_RFC2133: without the scope
)

// parseSockaddr reads the address at p (n bytes) for a socket of family
// fam. An IPv6 socket accepts v4-mapped addresses (::ffff:a.b.c.d), which
// netstack wants as such; AF_UNSPEC yields family 0 (connect's disconnect).
func parseSockaddr(fam int, p unsafe.Pointer, n uintptr) (tcpip.FullAddress, uint16, syscall.Errno) {
	if p == nil {
		return tcpip.FullAddress{}, 0, syscall.EFAULT
	}
	if n < 2 {
		return tcpip.FullAddress{}, 0, syscall.EINVAL
	}
	b := unsafe.Slice((*byte)(p), n)
	af := binary.LittleEndian.Uint16(b)
	switch af {
	case syscall.AF_INET:
		if n < sizeofSockaddrInet4 {
			return tcpip.FullAddress{}, 0, syscall.EINVAL
		}
		port := binary.BigEndian.Uint16(b[2:])
		addr := tcpip.AddrFrom4Slice(b[4:8])
		if addr.Unspecified() {
			addr = tcpip.Address{} // netstack's "any address"
		} else if fam == syscall.AF_INET6 {
			// Linux: an AF_INET address on an IPv6 socket is refused
			// by bind and TCP's connect, but UDP's connect and sendto
			// take it as mapped.
			var m [16]byte
			m[10], m[11] = 0xff, 0xff
			copy(m[12:], b[4:8])
			addr = tcpip.AddrFrom16(m)
		}
		return tcpip.FullAddress{Addr: addr, Port: port}, af, 0
	case syscall.AF_INET6:
		if n < sizeofSockaddrInet6Min {
			return tcpip.FullAddress{}, 0, syscall.EINVAL
		}
		if fam != syscall.AF_INET6 {
			return tcpip.FullAddress{}, 0, syscall.EAFNOSUPPORT
		}
		port := binary.BigEndian.Uint16(b[2:])
		addr := tcpip.AddrFrom16Slice(b[8:24])
		var scope uint32
		if n >= sizeofSockaddrInet6 {
			scope = binary.LittleEndian.Uint32(b[24:])
		}
		if addr.Unspecified() {
			addr = tcpip.Address{}
		}
		fa := tcpip.FullAddress{Addr: addr, Port: port}
		if scope != 0 && isLinkLocal6(addr) {
			fa.NIC = tcpip.NICID(scope)
		}
		return fa, af, 0
	case syscall.AF_UNSPEC:
		// connect: a disconnect; bind on IPv4: sockaddr_in's layout.
		if n < sizeofSockaddrInet4 {
			return tcpip.FullAddress{}, af, 0
		}
		fa := tcpip.FullAddress{Port: binary.BigEndian.Uint16(b[2:])}
		if a := tcpip.AddrFrom4Slice(b[4:8]); !a.Unspecified() {
			fa.Addr = a
		}
		return fa, af, 0
	}
	return tcpip.FullAddress{}, af, syscall.EAFNOSUPPORT
}

func isLinkLocal6(a tcpip.Address) bool {
	b := a.As16()
	return b[0] == 0xfe && b[1]&0xc0 == 0x80
}

// encodeSockaddr writes fa as a sockaddr of family fam into buf and
// returns its length.
func encodeSockaddr(fam int, fa tcpip.FullAddress, buf *[sizeofSockaddrInet6]byte) int {
	*buf = [sizeofSockaddrInet6]byte{}
	if fam == syscall.AF_INET {
		binary.LittleEndian.PutUint16(buf[0:], syscall.AF_INET)
		binary.BigEndian.PutUint16(buf[2:], fa.Port)
		if fa.Addr.Len() == 4 {
			a := fa.Addr.As4()
			copy(buf[4:8], a[:])
		} else if fa.Addr.Len() == 16 {
			a := fa.Addr.As16()
			copy(buf[4:8], a[12:])
		}
		return sizeofSockaddrInet4
	}
	binary.LittleEndian.PutUint16(buf[0:], syscall.AF_INET6)
	binary.BigEndian.PutUint16(buf[2:], fa.Port)
	switch fa.Addr.Len() {
	case 4:
		a := fa.Addr.As4()
		buf[18], buf[19] = 0xff, 0xff
		copy(buf[20:24], a[:])
	case 16:
		a := fa.Addr.As16()
		copy(buf[8:24], a[:])
		if isLinkLocal6(fa.Addr) {
			binary.LittleEndian.PutUint32(buf[24:], uint32(fa.NIC))
		}
	}
	return sizeofSockaddrInet6
}

// putSockaddr copies an encoded address to the user's (addr, *addrlen),
// truncating like Linux and storing the full length. Either pointer may
// be nil (accept with no address wanted).
func putSockaddr(fam int, fa tcpip.FullAddress, addr, lenp unsafe.Pointer) syscall.Errno {
	if addr == nil || lenp == nil {
		if addr != nil || lenp != nil {
			return syscall.EFAULT
		}
		return 0
	}
	var buf [sizeofSockaddrInet6]byte
	n := encodeSockaddr(fam, fa, &buf)
	l := (*uint32)(lenp)
	if int32(*l) < 0 {
		return syscall.EINVAL
	}
	copy(unsafe.Slice((*byte)(addr), *l), buf[:n])
	*l = uint32(n)
	return 0
}
