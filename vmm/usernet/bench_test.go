package usernet

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// Measurements behind DefaultMTU and the package's throughput figures:
//
//	go test -run - -bench 'MTU' -benchtime 5x ./vmm/usernet      (bulk)
//	go test -run - -bench 'MTU/.*http' -benchtime 2s ./vmm/usernet
//	go test -run - -bench 'HTTP' -benchtime 3s ./vmm/usernet
//	go test -run - -bench 'Bulk' -benchtime 4x ./vmm/usernet     (no ring limit)

var benchMTUs = []int{1500, 4000, 9000, 16358, 32768, 65520}

// BenchmarkBulk: one TCP stream through the fake guest and the network, in
// each direction, per MTU.
func BenchmarkBulk(b *testing.B) {
	const size = 64 << 20
	for _, mtu := range benchMTUs {
		for _, dir := range []string{"guest->host", "host->guest"} {
			b.Run(fmt.Sprintf("mtu=%d/%s", mtu, strings.ReplaceAll(dir, "->", "-to-")), func(b *testing.B) {
				_, g := newTestNetwork(b, Config{MTU: mtu})
				b.SetBytes(size)
				b.ResetTimer()
				for range b.N {
					if _, err := bulk(b, g, dir, size, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// httpServer serves a small fixed response.
func httpServer(l net.Listener) *http.Server {
	body := []byte(strings.Repeat("x", 128))
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})}
	go s.Serve(l)
	return s
}

// runHTTP makes b.N keep-alive GETs over conns connections and reports
// requests per second.
func runHTTP(b *testing.B, url string, conns int, dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DialContext: dial}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	get := func() error {
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return err
	}
	for range conns { // warm the connections up
		if err := get(); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	per := (b.N + conns - 1) / conns
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := get(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.ReportMetric(float64(per*conns)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkHTTP: keep-alive HTTP request rate, native loopback against the
// two paths through the network: a host client to a guest server through
// a port forward, and a guest client to a host server through 10.0.2.2.
func BenchmarkHTTP(b *testing.B) {
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("native/conns=%d", conns), func(b *testing.B) {
			l, port := hostListen(b)
			s := httpServer(l)
			defer s.Close()
			runHTTP(b, fmt.Sprintf("http://127.0.0.1:%d/", port), conns, nil)
		})
		b.Run(fmt.Sprintf("forward/conns=%d", conns), func(b *testing.B) {
			_, g, p := newForwardNetwork(b, "tcp", 80)
			s := httpServer(g.listen(80))
			defer s.Close()
			runHTTP(b, fmt.Sprintf("http://%s/", netip.AddrPortFrom(p.HostIP, p.HostPort)), conns, nil)
		})
		b.Run(fmt.Sprintf("outbound/conns=%d", conns), func(b *testing.B) {
			_, g := newTestNetwork(b, Config{})
			l, port := hostListen(b)
			s := httpServer(l)
			defer s.Close()
			dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
				return g.dial(ctx, netip.AddrPortFrom(GatewayIPv4, port))
			}
			runHTTP(b, fmt.Sprintf("http://10.0.2.2:%d/", port), conns, dial)
		})
	}
}

// BenchmarkMTU measures the candidate MTUs with a fake guest whose receive
// ring is sized as the real guest sizes it (guestRingSlots: 256 buffers of
// MTU+26 bytes, halved to fit 4 MiB; frames beyond are dropped): bulk TCP
// each way, and keep-alive HTTP over 64 connections through a port forward,
// where bursts of small frames meet the ring's slot count.
func BenchmarkMTU(b *testing.B) {
	for _, mtu := range benchMTUs {
		slots := guestRingSlots(mtu)
		for _, dir := range []string{"guest->host", "host->guest"} {
			b.Run(fmt.Sprintf("mtu=%d/slots=%d/bulk-%s", mtu, slots, strings.ReplaceAll(dir, "->", "-to-")), func(b *testing.B) {
				const size = 64 << 20
				n, g := newTestNetworkRing(b, Config{MTU: mtu}, slots)
				b.SetBytes(size)
				b.ResetTimer()
				for range b.N {
					if _, err := bulk(b, g, dir, size, false); err != nil {
						b.Fatal(err)
					}
				}
				reportRing(b, n, g)
			})
		}
		b.Run(fmt.Sprintf("mtu=%d/slots=%d/http-forward-64", mtu, slots), func(b *testing.B) {
			n, g, p := newForwardNetworkRing(b, "tcp", 80, mtu, slots)
			s := httpServer(g.listen(80))
			defer s.Close()
			runHTTP(b, fmt.Sprintf("http://%s/", netip.AddrPortFrom(p.HostIP, p.HostPort)), 64, nil)
			reportRing(b, n, g)
		})
	}
}

// reportRing reports how often the guest's ring was full (deliver returned
// false and the network waited) and how many frames were dropped.
func reportRing(b *testing.B, n *Network, g *fakeGuest) {
	b.ReportMetric(float64(g.link.dropped.Load())/float64(b.N), "ringfull/op")
	b.ReportMetric(float64(n.Stats().FramesDropped)/float64(b.N), "drops/op")
}
