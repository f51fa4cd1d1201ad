package usernet

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

var guestNet = netip.PrefixFrom(GatewayIPv4, PrefixLen).Masked()

// outboundTarget maps the address a guest connection or flow is for to the
// host address to dial: the gateway is the host's loopback, other
// addresses of the guest network have nothing behind them, the rest of
// the world is itself. DNS (10.0.2.3:53) is handled by the callers.
func outboundTarget(dst netip.AddrPort) (netip.AddrPort, bool) {
	a := dst.Addr()
	switch {
	case a == GatewayIPv4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port()), true
	case guestNet.Contains(a), !a.IsValid(), a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(),
		a == netip.AddrFrom4([4]byte{255, 255, 255, 255}), dst.Port() == 0:
		return netip.AddrPort{}, false
	}
	return dst, true
}

// handleTCP is the netstack's TCP forwarder: a guest SYN to dst. The host
// connection is dialled first; only when it is up does the guest see the
// handshake complete, so a refused dial is a refused connect in the guest.
func (n *Network) handleTCP(r *tcp.ForwarderRequest) {
	if !n.enter() {
		r.Complete(true)
		return
	}
	defer n.wg.Done()

	id := r.ID()
	dst := netip.AddrPortFrom(fromTCPIP(id.LocalAddress), id.LocalPort)
	var targets []netip.AddrPort
	isDNS := dst == netip.AddrPortFrom(DNSIPv4, 53)
	if isDNS {
		targets = n.dns.order()
	} else if t, ok := outboundTarget(dst); ok {
		targets = []netip.AddrPort{t}
		if dst.Addr() == GatewayIPv4 {
			// A host service may listen on ::1 only.
			targets = append(targets, netip.AddrPortFrom(netip.IPv6Loopback(), dst.Port()))
		}
	}
	if len(targets) == 0 {
		n.stats.tcpRefused.Add(1)
		r.Complete(true)
		return
	}

	hc, err := n.dialHost(targets)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !n.isClosed() {
			// Nothing answered: let the guest's connect time out too.
			r.Complete(false)
			return
		}
		n.stats.tcpRefused.Add(1)
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	r.Complete(false)
	if terr != nil {
		hc.SetLinger(0)
		hc.Close()
		return
	}
	n.stats.tcpFlows.Add(1)
	if isDNS {
		n.stats.dnsQueries.Add(1)
	}
	n.splice(hc, newGConn(&wq, ep))
}

// dialHost dials the targets in order and returns the first connection.
func (n *Network) dialHost(targets []netip.AddrPort) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	var err error
	for _, t := range targets {
		var c net.Conn
		c, err = d.DialContext(n.ctx, "tcp", t.String())
		if err == nil {
			return c.(*net.TCPConn), nil
		}
	}
	return nil, err
}

// acceptTCP serves one TCP port forward.
func (n *Network) acceptTCP(l *net.TCPListener, p PortForward) {
	for {
		c, err := l.AcceptTCP()
		if err != nil {
			if n.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // out of descriptors, say
			continue
		}
		n.stats.forwarded.Add(1)
		if !n.goTracked(func() { n.forwardTCP(c, p) }) {
			c.Close()
			return
		}
	}
}

// forwardTCP dials the guest for an accepted host connection; a guest
// that refuses (or does not answer within guestDialLimit) makes the host
// connection end with a reset.
func (n *Network) forwardTCP(c *net.TCPConn, p PortForward) {
	var wq waiter.Queue
	ep, terr := n.stack.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		c.SetLinger(0)
		c.Close()
		return
	}
	g := newGConn(&wq, ep)
	terr = ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: toTCPIP(GuestIPv4), Port: p.GuestPort})
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		t := time.NewTimer(guestDialLimit)
		select {
		case <-g.wCh:
			terr = ep.LastError()
		case <-t.C:
			terr = &tcpip.ErrTimeout{}
		case <-n.ctx.Done():
			terr = &tcpip.ErrAborted{}
		}
		t.Stop()
	}
	if terr != nil {
		c.SetLinger(0)
		c.Close()
		g.close()
		return
	}
	n.splice(c, g)
}

// splice relays between a host TCP connection and a netstack one until
// both directions have ended, passing on half-closes (FIN) and resets,
// then closes both.
func (n *Network) splice(h *net.TCPConn, g *gconn) {
	var once sync.Once
	abort := func() {
		once.Do(func() {
			h.SetLinger(0)
			h.Close()
			g.ep.Abort()
		})
	}
	f, ok := n.track(abort)
	if !ok {
		abort()
		g.close()
		return
	}
	defer n.untrack(f)

	n.wg.Add(1) // we are counted in n.wg already, so this races no Wait
	done := make(chan struct{})
	go func() {
		defer n.wg.Done()
		defer close(done)
		guestToHost(g, h, abort)
	}()
	hostToGuest(h, g, abort)
	<-done
	h.Close()
	g.close()
}

// guestToHost copies the guest's bytes to the host connection: a FIN from
// the guest half-closes the host connection, a reset resets it.
func guestToHost(g *gconn, h *net.TCPConn, abort func()) {
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	for {
		g.waitReadable()
		// Start small; take a big buffer only if the data fills it.
		buf := *sp
		var bp *[]byte
		for {
			nr, err := g.tryRead(buf)
			if nr > 0 {
				if _, werr := h.Write(buf[:nr]); werr != nil {
					err = werr
				}
			}
			if err == errWouldBlock {
				break
			}
			if err != nil {
				if bp != nil {
					bigBufs.Put(bp)
				}
				if err == io.EOF {
					h.CloseWrite()
				} else {
					abort()
				}
				return
			}
			if nr == len(buf) && bp == nil {
				bp = bigBufs.Get().(*[]byte)
				buf = *bp
			}
		}
		if bp != nil {
			bigBufs.Put(bp)
		}
	}
}

// hostToGuest copies the host connection's bytes to the guest: EOF sends
// the guest a FIN, a reset resets the guest's connection. It reads with a
// small buffer and switches to a big one while reads fill it.
func hostToGuest(h *net.TCPConn, g *gconn, abort func()) {
	sp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(sp)
	var bp *[]byte
	buf := *sp
	for {
		nr, err := h.Read(buf)
		if nr > 0 {
			if werr := g.write(buf[:nr]); werr != nil {
				abort()
				break
			}
		}
		if err != nil {
			if err == io.EOF {
				g.ep.Shutdown(tcpip.ShutdownWrite)
			} else {
				abort()
			}
			break
		}
		switch {
		case nr == len(buf) && bp == nil:
			bp = bigBufs.Get().(*[]byte)
			buf = *bp
		case nr < len(buf)/2 && bp != nil:
			bigBufs.Put(bp)
			bp = nil
			buf = *sp
		}
	}
	if bp != nil {
		bigBufs.Put(bp)
	}
}
