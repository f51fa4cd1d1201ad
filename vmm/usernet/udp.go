package usernet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// idleCloser closes a flow once nothing has moved for a while. Activity is
// an atomic store; the timer re-arms itself for the remainder instead of
// being reset per datagram.
type idleCloser struct {
	idle  time.Duration
	last  atomic.Int64 // monotonic nanoseconds since base
	timer *time.Timer
}

var monoBase = time.Now()

func (c *idleCloser) touch() { c.last.Store(int64(time.Since(monoBase))) }

func (c *idleCloser) start(idle time.Duration, close func()) {
	c.idle = idle
	c.touch()
	var check func()
	check = func() {
		left := c.idle - (time.Since(monoBase) - time.Duration(c.last.Load()))
		if left <= 0 {
			close()
			return
		}
		c.timer.Reset(left)
	}
	c.timer = time.AfterFunc(time.Hour, check)
	c.timer.Reset(idle)
}

func (c *idleCloser) stop() { c.timer.Stop() }

// handleUDP is the netstack's UDP forwarder: the first datagram of a guest
// flow. It runs inside the netstack's receive path, so it only creates
// sockets and starts goroutines. Returning false makes the netstack answer
// ICMP port unreachable.
func (n *Network) handleUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	dst := netip.AddrPortFrom(fromTCPIP(id.LocalAddress), id.LocalPort)
	if dst == netip.AddrPortFrom(DNSIPv4, 53) {
		return n.dnsUDP(r)
	}
	target, ok := outboundTarget(dst)
	if !ok {
		return false
	}
	hc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(target))
	if err != nil {
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		hc.Close()
		return true
	}
	n.stats.udpFlows.Add(1)
	g := newGConn(&wq, ep)
	n.relayUDP(udpRelay{
		g:    g,
		idle: udpIdleTimeout,
		toHost: func(b []byte) error {
			_, err := hc.Write(b)
			return err
		},
		fromHost: func(b []byte) (int, error) {
			for {
				nr, err := hc.Read(b)
				// A connected UDP socket reports an earlier ICMP error
				// on the next read; the flow goes on.
				if !errors.Is(err, syscall.ECONNREFUSED) {
					return nr, err
				}
			}
		},
		closeHost: func() { hc.Close() },
	})
	return true
}

// udpRelay is a flow between a netstack UDP endpoint and the host.
type udpRelay struct {
	g         *gconn
	idle      time.Duration
	toHost    func([]byte) error        // send a guest datagram
	fromHost  func([]byte) (int, error) // block for the next host datagram; nil: they arrive elsewhere
	closeHost func()                    // unblocks fromHost; may be nil
	done      func()                    // after the flow has ended; may be nil
	ic        *idleCloser               // nil: a new one
}

// relayUDP starts the flow's goroutines. The flow ends when it has been
// idle for r.idle, on an error, or on Close.
func (n *Network) relayUDP(r udpRelay) {
	ic := r.ic
	if ic == nil {
		ic = new(idleCloser)
	}
	var once sync.Once
	end := func() {
		once.Do(func() {
			ic.stop()
			if r.closeHost != nil {
				r.closeHost()
			}
			r.g.ep.Abort()
		})
	}
	if !n.enter() {
		if r.closeHost != nil {
			r.closeHost()
		}
		r.g.close()
		return
	}
	ic.start(r.idle, end)
	f, ok := n.track(end)
	if !ok {
		ic.stop()
		n.wg.Done()
		if r.closeHost != nil {
			r.closeHost()
		}
		r.g.close()
		return
	}
	var hostDone chan struct{}
	if r.fromHost != nil {
		hostDone = make(chan struct{})
		n.wg.Add(1)
		go func() { // host -> guest
			defer n.wg.Done()
			defer close(hostDone)
			bp := dgramBufs.Get().(*[]byte)
			defer dgramBufs.Put(bp)
			for {
				nr, err := r.fromHost(*bp)
				if err != nil {
					break
				}
				ic.touch()
				if r.g.writeDatagram((*bp)[:nr]) != nil {
					break
				}
			}
			end()
		}()
	}
	go func() { // guest -> host
		defer n.wg.Done()
		for {
			r.g.waitReadable()
			bp := dgramBufs.Get().(*[]byte)
			nr, err := r.g.tryRead(*bp)
			if err == nil {
				ic.touch()
				err = r.toHost((*bp)[:nr])
			}
			dgramBufs.Put(bp)
			if err != nil && err != errWouldBlock && !errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
		}
		end()
		if hostDone != nil {
			<-hostDone
		}
		r.g.close()
		n.untrack(f)
		if r.done != nil {
			r.done()
		}
	}()
}

// serveUDPForward serves one UDP port forward: each host client address is
// a flow to the guest port from 10.0.2.2.
func (n *Network) serveUDPForward(c *net.UDPConn, p PortForward) {
	var mu sync.Mutex
	type fwdFlow struct {
		g  *gconn
		ic idleCloser
	}
	flows := make(map[netip.AddrPort]*fwdFlow)
	bp := dgramBufs.Get().(*[]byte)
	defer dgramBufs.Put(bp)
	for {
		nr, client, err := c.ReadFromUDPAddrPort(*bp)
		if err != nil {
			if n.isClosed() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		mu.Lock()
		fl := flows[client]
		mu.Unlock()
		if fl == nil {
			g := n.dialGuestUDP(p.GuestPort)
			if g == nil {
				continue
			}
			n.stats.forwarded.Add(1)
			fl = &fwdFlow{g: g}
			mu.Lock()
			flows[client] = fl
			mu.Unlock()
			n.relayUDP(udpRelay{
				g:    g,
				ic:   &fl.ic,
				idle: udpIdleTimeout,
				toHost: func(b []byte) error {
					_, err := c.WriteToUDPAddrPort(b, client)
					if errors.Is(err, net.ErrClosed) {
						return err
					}
					return nil
				},
				done: func() {
					mu.Lock()
					if flows[client] == fl {
						delete(flows, client)
					}
					mu.Unlock()
				},
			})
		}
		fl.ic.touch()
		fl.g.writeDatagram((*bp)[:nr])
	}
}

// dialGuestUDP makes a netstack UDP endpoint connected to the guest port.
func (n *Network) dialGuestUDP(port uint16) *gconn {
	var wq waiter.Queue
	ep, terr := n.stack.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil
	}
	if terr := ep.Connect(tcpip.FullAddress{NIC: nicID, Addr: toTCPIP(GuestIPv4), Port: port}); terr != nil {
		ep.Close()
		return nil
	}
	return newGConn(&wq, ep)
}

func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
