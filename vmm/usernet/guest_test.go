package usernet

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// fakeGuest is a second gVisor netstack standing in for the guest: it has
// 10.0.2.15/24 and GuestMAC, routes everything via 10.0.2.2, and is wired
// to a Network through the link.Endpoint calls only, the way the virtio-net
// device is: WriteFrame for its frames, Start's deliver for the network's.
type fakeGuest struct {
	t    testing.TB
	s    *stack.Stack
	link *guestLink
	net  *Network
}

// newTestNetwork makes a Network from cfg and a fake guest plugged into it;
// both are closed when the test ends.
func newTestNetwork(t testing.TB, cfg Config) (*Network, *fakeGuest) {
	t.Helper()
	return newTestNetworkRing(t, cfg, 0)
}

func newTestNetworkRing(t testing.TB, cfg Config, ringSlots int) (*Network, *fakeGuest) {
	t.Helper()
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := newFakeGuestRing(t, n, ringSlots)
	t.Cleanup(func() {
		n.Close()
		g.s.Destroy()
	})
	return n, g
}

func newFakeGuest(t testing.TB, n *Network) *fakeGuest {
	return newFakeGuestRing(t, n, 0)
}

// newFakeGuestRing is newFakeGuest with a receive ring of ringSlots
// buffers (0: unbounded, frames go into the stack in deliver).
func newFakeGuestRing(t testing.TB, n *Network, ringSlots int) *fakeGuest {
	t.Helper()
	return newFakeGuestWith(t, n, ringSlots, nil)
}

// newFakeGuestWith is newFakeGuestRing calling before, if set, when the
// guest's stack is up but the network not started.
func newFakeGuestWith(t testing.TB, n *Network, ringSlots int, before func(*fakeGuest)) *fakeGuest {
	t.Helper()
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	for _, o := range []tcpip.SettableTransportProtocolOption{
		ptr(tcpip.TCPSACKEnabled(true)),
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20},
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: 1 << 20, Max: 8 << 20},
		ptr(tcpip.TCPModerateReceiveBufferOption(true)),
	} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			t.Fatalf("guest TCP option %T: %s", o, err)
		}
	}
	l := &guestLink{n: n, mtu: uint32(n.MTU())}
	if err := s.CreateNIC(1, l); err != nil {
		t.Fatalf("guest NIC: %s", err)
	}
	if err := s.AddProtocolAddress(1, tcpip.ProtocolAddress{
		Protocol:          ipv4.ProtocolNumber,
		AddressWithPrefix: tcpip.AddressWithPrefix{Address: toTCPIP(GuestIPv4), PrefixLen: PrefixLen},
	}, stack.AddressProperties{}); err != nil {
		t.Fatalf("guest address: %s", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: tcpip.AddressWithPrefix{Address: toTCPIP(GuestIPv4), PrefixLen: PrefixLen}.Subnet(), NIC: 1},
		{Destination: header.IPv4EmptySubnet, Gateway: toTCPIP(GatewayIPv4), NIC: 1},
	})
	deliver := l.deliver
	if ringSlots > 0 {
		deliver = l.startRing(t, ringSlots)
	}
	g := &fakeGuest{t: t, s: s, link: l, net: n}
	if before != nil {
		before(g)
	}
	if err := n.Start(deliver); err != nil {
		t.Fatal(err)
	}
	return g
}

// guestRingSlots is the number of receive buffers the guest has, as the
// real guest's virtio-net driver sizes its ring: 256 buffers of MTU+26
// bytes (virtio-net header and Ethernet header), halved until they fit in
// 4 MiB.
func guestRingSlots(mtu int) int {
	size := (12 + 14 + mtu + 63) &^ 63
	n := 256
	for n > 16 && n*size > 4<<20 {
		n /= 2
	}
	return n
}

// startRing models the guest's receive ring: deliver copies a frame into a
// free buffer or fails (the frame is dropped), and a guest goroutine takes
// frames from the ring into the stack, freeing buffers.
func (l *guestLink) startRing(t testing.TB, slots int) func([]byte) bool {
	free := make(chan []byte, slots)
	ring := make(chan []byte, slots)
	for range slots {
		free <- make([]byte, int(l.mtu)+header.EthernetMinimumSize)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case f := <-ring:
				l.deliver(f)
				free <- f[:cap(f)]
			case <-done:
				return
			}
		}
	}()
	return func(frame []byte) bool {
		select {
		case b := <-free:
			ring <- b[:copy(b, frame)]
			return true
		default:
			l.dropped.Add(1)
			return false
		}
	}
}

func fullAddr(ap netip.AddrPort) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: 1, Addr: toTCPIP(ap.Addr()), Port: ap.Port()}
}

// dial connects from the guest to ap.
func (g *fakeGuest) dial(ctx context.Context, ap netip.AddrPort) (*gonet.TCPConn, error) {
	return gonet.DialContextTCP(ctx, g.s, fullAddr(ap), ipv4.ProtocolNumber)
}

// listen listens in the guest on port.
func (g *fakeGuest) listen(port uint16) *gonet.TCPListener {
	g.t.Helper()
	l, err := gonet.ListenTCP(g.s, tcpip.FullAddress{NIC: 1, Port: port}, ipv4.ProtocolNumber)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { l.Close() })
	return l
}

// guestLink is the guest's Ethernet link endpoint.
type guestLink struct {
	n          *Network
	mtu        uint32
	dispatcher atomic.Pointer[dispatcherRef]
	bufs       sync.Pool
	delivered  atomic.Uint64
	dropped    atomic.Uint64 // deliver calls refused: ring full
}

func (l *guestLink) deliver(frame []byte) bool {
	ref := l.dispatcher.Load()
	if ref == nil {
		return false
	}
	l.delivered.Add(1)
	eth := header.Ethernet(frame)
	if eth.DestinationAddress() != tcpip.LinkAddress(GuestMAC) && eth.DestinationAddress() != header.EthernetBroadcastAddress {
		panic("frame to " + eth.DestinationAddress().String())
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	ref.d.DeliverNetworkPacket(eth.Type(), pkt)
	pkt.DecRef()
	return true
}

func (l *guestLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	bp, _ := l.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	for _, pkt := range pkts.AsSlice() {
		b := (*bp)[:0]
		for _, s := range pkt.AsSlices() {
			b = append(b, s...)
		}
		*bp = b
		if err := l.n.WriteFrame(b); err != nil {
			break
		}
	}
	l.bufs.Put(bp)
	return pkts.Len(), nil
}

func (l *guestLink) MTU() uint32                    { return l.mtu }
func (l *guestLink) SetMTU(uint32)                  {}
func (l *guestLink) MaxHeaderLength() uint16        { return header.EthernetMinimumSize }
func (l *guestLink) LinkAddress() tcpip.LinkAddress { return tcpip.LinkAddress(GuestMAC) }
func (l *guestLink) SetLinkAddress(tcpip.LinkAddress) {
}
func (l *guestLink) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}
func (l *guestLink) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		l.dispatcher.Store(nil)
		return
	}
	l.dispatcher.Store(&dispatcherRef{d})
}
func (l *guestLink) IsAttached() bool                        { return l.dispatcher.Load() != nil }
func (l *guestLink) Wait()                                   {}
func (l *guestLink) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (l *guestLink) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}
func (l *guestLink) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}
func (l *guestLink) Close()                  {}
func (l *guestLink) SetOnCloseAction(func()) {}

// guestUDP opens a UDP endpoint in the guest bound to port (0: any).
func (g *fakeGuest) guestUDP(port uint16, raddr *netip.AddrPort) *gonet.UDPConn {
	g.t.Helper()
	var ra *tcpip.FullAddress
	if raddr != nil {
		a := fullAddr(*raddr)
		ra = &a
	}
	c, err := gonet.DialUDP(g.s, &tcpip.FullAddress{NIC: 1, Port: port}, ra, ipv4.ProtocolNumber)
	if err != nil {
		g.t.Fatal(err)
	}
	g.t.Cleanup(func() { c.Close() })
	return c
}

// freePort returns a port that was free on 127.0.0.1 a moment ago.
func freePort(t testing.TB, proto string) uint16 {
	t.Helper()
	switch proto {
	case "udp":
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return uint16(c.LocalAddr().(*net.UDPAddr).Port)
	default:
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return uint16(l.Addr().(*net.TCPAddr).Port)
	}
}

// newForwardNetwork makes a network forwarding a free 127.0.0.1 port to
// guestPort, retrying if another process takes the port first.
func newForwardNetwork(t testing.TB, proto string, guestPort uint16) (*Network, *fakeGuest, PortForward) {
	t.Helper()
	return newForwardNetworkRing(t, proto, guestPort, 0, 0)
}

func newForwardNetworkRing(t testing.TB, proto string, guestPort uint16, mtu, ringSlots int) (*Network, *fakeGuest, PortForward) {
	t.Helper()
	var lastErr error
	for range 5 {
		p := PortForward{Proto: proto, HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: freePort(t, proto), GuestPort: guestPort}
		n, err := New(Config{Ports: []PortForward{p}, MTU: mtu})
		if err != nil {
			lastErr = err
			time.Sleep(10 * time.Millisecond)
			continue
		}
		g := newFakeGuestRing(t, n, ringSlots)
		t.Cleanup(func() {
			n.Close()
			g.s.Destroy()
		})
		return n, g, p
	}
	t.Fatal(lastErr)
	return nil, nil, PortForward{}
}
