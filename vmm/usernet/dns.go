package usernet

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// hostResolvers reads the nameservers of a resolv.conf; like Go's resolver
// it falls back to 127.0.0.1 and ::1 when there are none.
func hostResolvers(path string) []netip.AddrPort {
	var list []netip.AddrPort
	if f, err := os.Open(path); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 2 || fields[0] != "nameserver" {
				continue
			}
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				list = append(list, netip.AddrPortFrom(a.Unmap(), 53))
			}
		}
	}
	if len(list) == 0 {
		list = []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:53"),
			netip.MustParseAddrPort("[::1]:53"),
		}
	}
	return list
}

// dnsFailover is how long the oldest unanswered query may wait before
// queries go to the next server.
const dnsFailover = 2 * time.Second

// dnsServers are the resolvers 10.0.2.3 relays to. Queries go to the
// current server; when one has gone unanswered for dnsFailover the next
// server becomes current (the guest's resolver retries).
type dnsServers struct {
	list     []netip.AddrPort
	failover time.Duration // 0: dnsFailover
	cur      atomic.Uint32
	pending  atomic.Int64 // monoBase nanoseconds of the oldest unanswered query; 0: none
}

func (d *dnsServers) pick() netip.AddrPort {
	now := int64(time.Since(monoBase)) | 1
	p := d.pending.Load()
	switch {
	case p == 0:
		d.pending.CompareAndSwap(0, now)
	case time.Duration(now-p) > d.failoverAfter():
		if d.pending.CompareAndSwap(p, now) {
			d.cur.Add(1)
		}
	}
	return d.list[int(d.cur.Load()%uint32(len(d.list)))]
}

func (d *dnsServers) failoverAfter() time.Duration {
	if d.failover != 0 {
		return d.failover
	}
	return dnsFailover
}

func (d *dnsServers) answered() { d.pending.Store(0) }

// order returns the servers starting with the current one (for TCP).
func (d *dnsServers) order() []netip.AddrPort {
	if len(d.list) == 0 {
		return nil
	}
	i := int(d.cur.Load() % uint32(len(d.list)))
	return append(append([]netip.AddrPort(nil), d.list[i:]...), d.list[:i]...)
}

func (d *dnsServers) has(a netip.AddrPort) bool {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	for _, s := range d.list {
		if s == a {
			return true
		}
	}
	return false
}

// dnsUDP relays a guest's UDP flow to 10.0.2.3:53 through an unconnected
// host socket: each query goes to the current server, answers from any
// server come back.
func (n *Network) dnsUDP(r *udp.ForwarderRequest) bool {
	if len(n.dns.list) == 0 {
		return false
	}
	hc, err := net.ListenUDP("udp", nil)
	if err != nil {
		return false
	}
	var wq waiter.Queue
	ep, terr := r.CreateEndpoint(&wq)
	if terr != nil {
		hc.Close()
		return true
	}
	n.relayUDP(udpRelay{
		g:    newGConn(&wq, ep),
		idle: dnsIdleTimeout,
		toHost: func(b []byte) error {
			n.stats.dnsQueries.Add(1)
			_, err := hc.WriteToUDPAddrPort(b, n.dns.pick())
			if err != nil && isClosedErr(err) {
				return err
			}
			return nil // an unreachable server is like a lost query
		},
		fromHost: func(b []byte) (int, error) {
			for {
				nr, from, err := hc.ReadFromUDPAddrPort(b)
				if err != nil {
					if isClosedErr(err) {
						return 0, err
					}
					continue
				}
				if n.dns.has(from) {
					n.dns.answered()
					return nr, nil
				}
			}
		},
		closeHost: func() { hc.Close() },
	})
	return true
}
