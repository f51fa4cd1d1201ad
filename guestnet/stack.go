package guestnet

import (
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/loopback"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/motevm/mote/abi"
)

const (
	loopNIC tcpip.NICID = 1
	devNIC  tcpip.NICID = 2
)

var (
	startOnce sync.Once
	netStack  *stack.Stack
)

// theStack returns the stack, starting it on first use.
func theStack() *stack.Stack {
	startOnce.Do(start)
	return netStack
}

func start() {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		HandleLocal:        true,
	})
	// Linux-like TCP defaults: SACK, and buffers that let one connection
	// fill a fast link.
	sack := tcpip.TCPSACKEnabled(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack)
	rcv := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: 4 << 20}
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcv)
	snd := tcpip.TCPSendBufferSizeRangeOption{Min: 4096, Default: 1 << 20, Max: 4 << 20}
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &snd)
	mod := tcpip.TCPModerateReceiveBufferOption(true)
	s.SetTransportProtocolOption(tcp.ProtocolNumber, &mod)

	if err := s.CreateNICWithOptions(loopNIC, loopback.New(), stack.NICOptions{Name: "lo"}); err != nil {
		panic("mote: cannot create the loopback interface: " + err.String())
	}
	addAddr(s, loopNIC, netip.MustParsePrefix("127.0.0.1/8"))
	addAddr(s, loopNIC, netip.MustParsePrefix("::1/128"))
	routes := []tcpip.Route{
		{Destination: prefix(netip.MustParsePrefix("127.0.0.0/8")), NIC: loopNIC},
		{Destination: prefix(netip.MustParsePrefix("::1/128")), NIC: loopNIC},
	}

	var info abi.NetInfo
	fd, e := rawSyscall(abi.SysNetOpen, uintptr(unsafe.Pointer(&info)), 0, 0)
	if e == 0 {
		link := newDevLink(int(fd), info.MTU, info.MAC)
		if err := s.CreateNICWithOptions(devNIC, link, stack.NICOptions{Name: "eth0"}); err != nil {
			panic("mote: cannot create the network interface: " + err.String())
		}
		nc := &info.Config
		if a := netip.AddrFrom4(nc.IPv4); nc.IPv4 != [4]byte{} {
			p := netip.PrefixFrom(a, int(nc.Prefix4))
			addAddr(s, devNIC, p)
			routes = append(routes, tcpip.Route{Destination: prefix(p.Masked()), NIC: devNIC})
			if nc.Gateway4 != [4]byte{} {
				routes = append(routes, tcpip.Route{
					Destination: prefix(netip.MustParsePrefix("0.0.0.0/0")),
					Gateway:     tcpip.AddrFrom4(nc.Gateway4),
					NIC:         devNIC,
				})
			}
		}
		if a := netip.AddrFrom16(nc.IPv6); nc.IPv6 != [16]byte{} {
			p := netip.PrefixFrom(a, int(nc.Prefix6))
			addAddr(s, devNIC, p)
			routes = append(routes, tcpip.Route{Destination: prefix(p.Masked()), NIC: devNIC})
			if nc.Gateway6 != [16]byte{} {
				routes = append(routes, tcpip.Route{
					Destination: prefix(netip.MustParsePrefix("::/0")),
					Gateway:     tcpip.AddrFrom16(nc.Gateway6),
					NIC:         devNIC,
				})
			}
		}
		// Link-local IPv6 on the wire, for neighbour discovery.
		routes = append(routes, tcpip.Route{Destination: prefix(netip.MustParsePrefix("fe80::/10")), NIC: devNIC})
	} else if e != syscall.ENODEV {
		println("mote: cannot open the network device:", e.Error())
	}
	s.SetRouteTable(routes)
	netStack = s
}

func prefix(p netip.Prefix) tcpip.Subnet {
	p = p.Masked()
	a := tcpip.AddrFromSlice(p.Addr().AsSlice())
	sub, err := tcpip.NewSubnet(a, prefixMask(p))
	if err != nil {
		panic("mote: bad route " + p.String())
	}
	return sub
}

func prefixMask(p netip.Prefix) tcpip.AddressMask {
	n := p.Addr().BitLen() / 8
	b := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	return tcpip.MaskFromBytes(b)
}

func addAddr(s *stack.Stack, nic tcpip.NICID, p netip.Prefix) {
	proto := ipv4.ProtocolNumber
	if p.Addr().Is6() {
		proto = ipv6.ProtocolNumber
	}
	err := s.AddProtocolAddress(nic, tcpip.ProtocolAddress{
		Protocol: proto,
		AddressWithPrefix: tcpip.AddressWithPrefix{
			Address:   tcpip.AddrFromSlice(p.Addr().AsSlice()),
			PrefixLen: p.Bits(),
		},
	}, stack.AddressProperties{})
	if err != nil {
		panic("mote: cannot add address " + p.String() + ": " + err.String())
	}
}
