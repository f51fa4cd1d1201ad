// Package usernet is mote's user-mode network: a NAT that needs no root,
// like QEMU's slirp or gvisor-tap-vsock. The guest's Ethernet frames enter a
// host-side gVisor netstack (one NIC, promiscuous and spoofing) that
// terminates every guest TCP connection and UDP flow and re-creates it with
// ordinary host sockets; host ports forwarded with -p are listened on by the
// monitor and dialled into the guest through the same netstack.
//
// The address plan is fixed, as in slirp:
//
//	10.0.2.0/24   the network
//	10.0.2.15     the guest (GuestMAC)
//	10.0.2.2      the gateway; connections to it reach the host's 127.0.0.1
//	              (TCP: or ::1, if nothing listens on 127.0.0.1)
//	10.0.2.3      DNS; port 53 (UDP and TCP) is relayed to the host's resolvers
//
// Only IPv4 is carried. ICMP echo to 10.0.2.2 and 10.0.2.3 is answered; echo
// to other addresses is not forwarded.
package usernet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

	"github.com/motevm/mote/vmm/link"
)

// The fixed address plan.
var (
	GuestIPv4   = netip.MustParseAddr("10.0.2.15")
	GatewayIPv4 = netip.MustParseAddr("10.0.2.2")
	DNSIPv4     = netip.MustParseAddr("10.0.2.3")
)

// PrefixLen is the prefix length of the guest network 10.0.2.0/24.
const PrefixLen = 24

// GuestMAC is the guest NIC's MAC address, 52:54:00:12:34:56.
var GuestMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}

// GatewayMAC is the MAC address of the network's side (the gateway and the
// DNS server alike), 52:54:00:12:34:02.
var GatewayMAC = net.HardwareAddr{0x52, 0x54, 0x00, 0x12, 0x34, 0x02}

// DefaultMTU is the MTU used when Config.MTU is 0. Between two netstacks
// the cost of TCP is per segment, so bigger is faster, but the guest's
// virtio-net driver gives its receive ring 256 buffers of MTU+26 bytes
// (virtio-net and Ethernet headers) only while they fit in 4 MiB, halving
// the count beyond; with fewer buffers a burst of small frames fills the
// ring. 16358 is the largest MTU that keeps all 256 (12+14+16358 = 16384
// bytes each, 4 MiB). Measured with BenchmarkMTU (a fake guest with the
// driver's ring sizes) on 2 cores: bulk TCP guest->host 2.2 GB/s at 16358
// against 1.4 at 9000, 2.5 at 32768 (64 buffers) and 1.2-1.6 at 65520 (32
// buffers, which also fill 40-60 times per 64 MiB host->guest); host->guest
// 1.7 GB/s, as good as any larger MTU; HTTP keep-alive the same (~42k req/s
// over 64 connections) at every MTU.
const DefaultMTU = 16358

// MinMTU and MaxMTU bound Config.MTU.
const (
	MinMTU = 576
	MaxMTU = 65520
)

// Config configures a Network.
type Config struct {
	// Ports are the host ports forwarded into the guest (-p).
	Ports []PortForward
	// MTU is the largest IP packet carried; 0 means DefaultMTU.
	MTU int
	// DNSServers are the resolvers 10.0.2.3:53 relays to; nil means the
	// nameservers of the host's /etc/resolv.conf.
	DNSServers []netip.AddrPort
}

// Stats are a Network's counters since New. "In" is from the guest, "out"
// is to the guest.
type Stats struct {
	FramesIn      uint64 // frames the guest sent (WriteFrame)
	FramesOut     uint64 // frames delivered to the guest
	FramesDropped uint64 // frames for the guest dropped: not started, queue full, or deliver returned false
	TCPFlows      uint64 // outbound TCP connections the guest opened (dialled on the host)
	TCPRefused    uint64 // outbound TCP connections answered with a reset (host refused or unreachable)
	UDPFlows      uint64 // outbound UDP flows the guest opened
	Forwarded     uint64 // port-forward connections (TCP) and client flows (UDP) accepted on host ports
	DNSQueries    uint64 // DNS queries relayed (UDP datagrams and TCP connections to 10.0.2.3:53)
}

type counters struct {
	framesIn, framesOut, framesDropped atomic.Uint64
	tcpFlows, tcpRefused, udpFlows     atomic.Uint64
	forwarded, dnsQueries              atomic.Uint64
}

// Timeouts; variables so tests can shorten them.
var (
	dialTimeout    = 20 * time.Second // outbound TCP dial on the host
	guestDialLimit = 10 * time.Second // port-forward dial into the guest
	udpIdleTimeout = 60 * time.Second // outbound and forwarded UDP flows
	dnsIdleTimeout = 10 * time.Second // UDP flows to 10.0.2.3:53
)

const nicID tcpip.NICID = 1

// Network is a user-mode network for one guest NIC. It implements
// link.Endpoint.
type Network struct {
	mtu   int
	stack *stack.Stack
	nic   *nicEndpoint
	dns   *dnsServers
	stats counters

	tcpListeners []*net.TCPListener
	tcpForwards  []PortForward
	udpListeners []*net.UDPConn
	udpForwards  []PortForward

	ctx    context.Context // cancelled by Close: host dials in progress
	cancel context.CancelFunc

	mu     sync.Mutex
	closed bool
	flows  map[*flow]struct{}
	wg     sync.WaitGroup // accept loops, relays
}

var _ link.Endpoint = (*Network)(nil)

// flow is something Close must tear down: a spliced connection or a UDP flow.
type flow struct {
	close func()
}

// New creates the network and listens on every forwarded host port. It
// fails, naming the -p spec, if a port cannot be bound.
func New(cfg Config) (*Network, error) {
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = DefaultMTU
	}
	if mtu < MinMTU || mtu > MaxMTU {
		return nil, fmt.Errorf("usernet: MTU %d is out of range [%d, %d]", mtu, MinMTU, MaxMTU)
	}
	for _, p := range cfg.Ports {
		if err := p.validate(); err != nil {
			return nil, err
		}
	}
	servers := cfg.DNSServers
	if servers == nil {
		servers = hostResolvers("/etc/resolv.conf")
	}

	n := &Network{
		mtu:   mtu,
		dns:   &dnsServers{list: servers},
		flows: make(map[*flow]struct{}),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.initStack(); err != nil {
		return nil, err
	}
	if err := n.listen(cfg.Ports); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Network) initStack() error {
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	n.stack = s
	fail := func(what string, err tcpip.Error) error {
		s.Destroy()
		return fmt.Errorf("usernet: %s: %s", what, err)
	}

	opts := []tcpip.SettableTransportProtocolOption{
		ptr(tcpip.TCPSACKEnabled(true)),
		&tcpip.TCPReceiveBufferSizeRangeOption{Min: 4 << 10, Default: tcpBufDefault, Max: tcpBufMax},
		&tcpip.TCPSendBufferSizeRangeOption{Min: 4 << 10, Default: tcpBufDefault, Max: tcpBufMax},
		ptr(tcpip.TCPModerateReceiveBufferOption(true)),
		// Both ends of every connection are in this process or the guest:
		// no point holding ports in TIME-WAIT for long.
		ptr(tcpip.TCPTimeWaitTimeoutOption(time.Second)),
	}
	for _, o := range opts {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			return fail(fmt.Sprintf("TCP option %T", o), err)
		}
	}

	n.nic = newNICEndpoint(n, uint32(n.mtu))
	if err := s.CreateNICWithOptions(nicID, n.nic, stack.NICOptions{Name: "usernet"}); err != nil {
		return fail("creating the NIC", err)
	}
	for i, a := range []netip.Addr{GatewayIPv4, DNSIPv4} {
		peb := stack.CanBePrimaryEndpoint
		if i > 0 {
			peb = stack.NeverPrimaryEndpoint
		}
		pa := tcpip.ProtocolAddress{
			Protocol: ipv4.ProtocolNumber,
			AddressWithPrefix: tcpip.AddressWithPrefix{
				Address:   tcpip.AddrFrom4(a.As4()),
				PrefixLen: PrefixLen,
			},
		}
		if err := s.AddProtocolAddress(nicID, pa, stack.AddressProperties{PEB: peb}); err != nil {
			return fail("adding "+a.String(), err)
		}
	}
	// The guest's MAC is known: no ARP from our side, and no ARP requests
	// from spoofed source addresses.
	if err := s.AddStaticNeighbor(nicID, ipv4.ProtocolNumber, tcpip.AddrFrom4(GuestIPv4.As4()), tcpip.LinkAddress(GuestMAC)); err != nil {
		return fail("adding the guest's neighbour entry", err)
	}
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		return fail("spoofing", err)
	}
	s.SetRouteTable([]tcpip.Route{{Destination: header.IPv4EmptySubnet, NIC: nicID}})

	tf := tcp.NewForwarder(s, tcpBufDefault, maxPendingDials, n.handleTCP)
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tf.HandlePacket)
	uf := udp.NewForwarder(s, n.handleUDP)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, uf.HandlePacket)
	return nil
}

// TCP tuning for the host-side netstack.
const (
	tcpBufDefault   = 1 << 20
	tcpBufMax       = 8 << 20
	maxPendingDials = 4096 // guest SYNs being dialled on the host at once
)

func ptr[T any](v T) *T { return &v }

// MTU implements link.Endpoint.
func (n *Network) MTU() int { return n.mtu }

// Start implements link.Endpoint: frames for the guest go to deliver, from
// one goroutine of the network. When deliver returns false (no receive
// buffer, backlog full) the same frame is offered again after a short wait
// (a few yields, then sleeps from 20µs doubling to 1.28ms) while the frames
// behind it queue up (up to 4 MiB); a frame refused for 500ms is dropped,
// and so are the following ones until deliver takes one again. Frames
// produced before Start wait for it in the same queue.
func (n *Network) Start(deliver func(frame []byte) bool) error {
	return n.nic.start(deliver)
}

// WriteFrame implements link.Endpoint: one Ethernet frame from the guest.
// It is processed in the caller's goroutine up to the point where the
// netstack queues it; it does not keep frame.
func (n *Network) WriteFrame(frame []byte) error {
	return n.nic.inject(frame)
}

// Stats returns the network's counters.
func (n *Network) Stats() Stats {
	c := &n.stats
	return Stats{
		FramesIn:      c.framesIn.Load(),
		FramesOut:     c.framesOut.Load(),
		FramesDropped: c.framesDropped.Load(),
		TCPFlows:      c.tcpFlows.Load(),
		TCPRefused:    c.tcpRefused.Load(),
		UDPFlows:      c.udpFlows.Load(),
		Forwarded:     c.forwarded.Load(),
		DNSQueries:    c.dnsQueries.Load(),
	}
}

// Close implements link.Endpoint: it closes the host listeners, every open
// connection and flow, and the netstack. It is safe to call more than once.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.cancel()
	flows := make([]*flow, 0, len(n.flows))
	for f := range n.flows {
		flows = append(flows, f)
	}
	n.mu.Unlock()

	for _, l := range n.tcpListeners {
		l.Close()
	}
	for _, l := range n.udpListeners {
		l.Close()
	}
	for _, f := range flows {
		f.close()
	}
	// Abort every netstack endpoint, including handshakes with the guest
	// still in progress (a silent guest would hold them for minutes), until
	// all goroutines have left.
	done := make(chan struct{})
	go func() {
		n.wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	for waiting := true; waiting; {
		for _, e := range n.stack.RegisteredEndpoints() {
			e.Abort()
		}
		select {
		case <-done:
			waiting = false
		case <-tick.C:
		}
	}
	tick.Stop()
	if n.nic != nil {
		n.nic.stop()
	}
	n.stack.Destroy()
	return nil
}

// track registers a flow to be closed by Close. It returns false (and
// closes nothing) if the network is already closed; the caller then
// closes the flow itself. The caller must call untrack when the flow ends.
// A tracked flow's goroutines must be counted in n.wg by the caller before
// track is called, so Close waits for them.
func (n *Network) track(close func()) (*flow, bool) {
	f := &flow{close: close}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, false
	}
	n.flows[f] = struct{}{}
	return f, true
}

func (n *Network) untrack(f *flow) {
	n.mu.Lock()
	delete(n.flows, f)
	n.mu.Unlock()
}

// enter counts a goroutine in n.wg unless the network is closed; it
// reports whether it did. The goroutine calls n.wg.Done when it ends.
func (n *Network) enter() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.wg.Add(1)
	return true
}

// goTracked runs fn in a goroutine counted in n.wg, unless the network is
// closed; it reports whether fn was started.
func (n *Network) goTracked(fn func()) bool {
	if !n.enter() {
		return false
	}
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

func (n *Network) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// errClosed is returned by WriteFrame and Start after Close.
var errClosed = errors.New("usernet: network is closed")

// Conversions between netip and tcpip addresses.
func toTCPIP(a netip.Addr) tcpip.Address {
	if a.Is4() {
		return tcpip.AddrFrom4(a.As4())
	}
	return tcpip.AddrFrom16(a.As16())
}

func fromTCPIP(a tcpip.Address) netip.Addr {
	switch a.Len() {
	case 4:
		return netip.AddrFrom4(a.As4())
	case 16:
		return netip.AddrFrom16(a.As16())
	}
	return netip.Addr{}
}
