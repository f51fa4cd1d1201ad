package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// /etc/hosts and /etc/resolv.conf, written at boot from the addresses the
// monitor chose (abi.NetConfig), for Go's resolver.

var (
	hostsTxt  textBuf
	resolvTxt textBuf
)

type textBuf struct {
	b [1024]byte
	n int
}

func (t *textBuf) s(s string) {
	t.n += copy(t.b[t.n:], s)
}

func (t *textBuf) hex(v uint64) {
	const digits = "0123456789abcdef"
	var tmp [16]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = digits[v&15]
		v >>= 4
		if v == 0 {
			break
		}
	}
	t.n += copy(t.b[t.n:], tmp[i:])
}

// hex8 writes v in hex, zero-padded to at least 8 digits.
func (t *textBuf) hex8(v uint64) {
	for d := 7; d > 0 && v>>(4*uint(d)) == 0; d-- {
		t.s("0")
	}
	t.hex(v)
}

func (t *textBuf) dec(v uint64) {
	var tmp [20]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	t.n += copy(t.b[t.n:], tmp[i:])
}

func (t *textBuf) ip4(a [4]byte) {
	for i, x := range a {
		if i > 0 {
			t.s(".")
		}
		t.dec(uint64(x))
	}
}

// ip6 writes the address without zero compression (valid, if long).
func (t *textBuf) ip6(a [16]byte) {
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			t.s(":")
		}
		t.hex(uint64(a[i])<<8 | uint64(a[i+1]))
	}
}

func (t *textBuf) str() string { return unsafe.String(&t.b[0], t.n) }

func zero4(a [4]byte) bool   { return a == [4]byte{} }
func zero16(a [16]byte) bool { return a == [16]byte{} }

func netconfInit() {
	nc := &(*abi.BootInfo)(unsafe.Pointer(uintptr(abi.BootInfoBase))).Net
	h := &hostsTxt
	h.s("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	name := unsafe.String(&hostname[0], hostnameLen)
	if !zero4(nc.IPv4) {
		h.ip4(nc.IPv4)
		h.s("\t")
		h.s(name)
		h.s("\n")
	}
	if !zero16(nc.IPv6) {
		h.ip6(nc.IPv6)
		h.s("\t")
		h.s(name)
		h.s("\n")
	}
	r := &resolvTxt
	if !zero4(nc.DNS4) {
		r.s("nameserver ")
		r.ip4(nc.DNS4)
		r.s("\n")
	}
	if !zero16(nc.DNS6) {
		r.s("nameserver ")
		r.ip6(nc.DNS6)
		r.s("\n")
	}
	if n := nc.SearchLen; n > 0 && n <= uint32(len(nc.Search)) {
		r.s("search ")
		r.s(unsafe.String(&nc.Search[0], n))
		r.s("\n")
	}
	r.s("options edns0\n")
}
