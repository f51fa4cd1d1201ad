package usernet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/waiter"
)

func hostListen(t testing.TB) (*net.TCPListener, uint16) {
	t.Helper()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, uint16(l.Addr().(*net.TCPAddr).Port)
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestOutboundTCP: the guest reaches a server on the host's 127.0.0.1
// through 10.0.2.2; data both ways and half-close in both directions.
func TestOutboundTCP(t *testing.T) {
	t.Parallel()
	n, g := newTestNetwork(t, Config{})
	l, port := hostListen(t)

	srvErr := make(chan error, 2)
	go func() {
		// 1: the guest half-closes first; the server answers after EOF.
		c, err := l.AcceptTCP()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		if got := c.RemoteAddr().(*net.TCPAddr).IP; !got.IsLoopback() {
			srvErr <- fmt.Errorf("server 1: peer %v, want loopback", got)
			return
		}
		data, err := io.ReadAll(c)
		if err != nil {
			srvErr <- err
			return
		}
		c.Write(bytes.ToUpper(data))
		c.CloseWrite()
		srvErr <- nil

		// 2: the server half-closes first; the guest sends afterwards.
		c2, err := l.AcceptTCP()
		if err != nil {
			srvErr <- err
			return
		}
		defer c2.Close()
		c2.Write([]byte("greeting"))
		c2.CloseWrite()
		data, err = io.ReadAll(c2)
		if err == nil && string(data) != "after your FIN" {
			err = fmt.Errorf("server 2 read %q", data)
		}
		srvErr <- err
	}()

	ctx := ctxTimeout(t, 10*time.Second)
	dst := netip.AddrPortFrom(GatewayIPv4, port)
	c, err := g.dial(ctx, dst)
	if err != nil {
		t.Fatalf("guest dial %v: %v", dst, err)
	}
	msg := bytes.Repeat([]byte("hello, host "), 10000)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, bytes.ToUpper(msg)) {
		t.Fatalf("guest read %d bytes, want %d", len(got), len(msg))
	}
	c.Close()
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}

	c, err = g.dial(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(c) // EOF: the server's FIN came through
	if err != nil || string(got) != "greeting" {
		t.Fatalf("guest read %q, %v", got, err)
	}
	if _, err := c.Write([]byte("after your FIN")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	if err := <-srvErr; err != nil {
		t.Fatal(err)
	}
	c.Close()
	if s := n.Stats(); s.TCPFlows != 2 || s.FramesIn == 0 || s.FramesOut == 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestOutboundTCPReset: a host server's reset reaches the guest as one.
func TestOutboundTCPReset(t *testing.T) {
	t.Parallel()
	_, g := newTestNetwork(t, Config{})
	l, port := hostListen(t)
	go func() {
		c, err := l.AcceptTCP()
		if err != nil {
			return
		}
		c.Read(make([]byte, 1)) // the guest's connection is up
		c.Write([]byte("x"))
		c.SetLinger(0)
		c.Close()
	}()
	c, err := g.dial(ctxTimeout(t, 10*time.Second), netip.AddrPortFrom(GatewayIPv4, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("a"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(c)
	if err == nil || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("guest read error %v, want a connection reset", err)
	}
}

// TestOutboundRefused: a guest connect to a closed host port fails at once.
func TestOutboundRefused(t *testing.T) {
	t.Parallel()
	n, g := newTestNetwork(t, Config{})
	port := freePort(t, "tcp")
	start := time.Now()
	_, err := g.dial(ctxTimeout(t, 10*time.Second), netip.AddrPortFrom(GatewayIPv4, port))
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("guest dial to closed port: %v, want connection refused", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refusal took %v", d)
	}
	// Nothing listens on 10.0.2.3 but DNS, nor on other 10.0.2.x.
	_, err = g.dial(ctxTimeout(t, 10*time.Second), netip.AddrPortFrom(DNSIPv4, 80))
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("guest dial to 10.0.2.3:80: %v, want connection refused", err)
	}
	if s := n.Stats(); s.TCPRefused != 2 {
		t.Errorf("TCPRefused = %d, want 2", s.TCPRefused)
	}
}

// guestEcho serves l in the guest: read to EOF, answer upper-cased, FIN.
func guestEcho(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			data, err := io.ReadAll(c)
			if err != nil {
				return
			}
			c.Write(bytes.ToUpper(data))
			c.(interface{ CloseWrite() error }).CloseWrite()
			io.Copy(io.Discard, c)
		}()
	}
}

// TestPortForwardTCP: host connections to a forwarded port reach a guest
// listener; 1000 at once.
func TestPortForwardTCP(t *testing.T) {
	t.Parallel()
	n, g, p := newForwardNetwork(t, "tcp", 80)
	go guestEcho(g.listen(80))
	addr := netip.AddrPortFrom(p.HostIP, p.HostPort).String()

	const conns = 1000
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			msg := []byte(fmt.Sprintf("connection %d says hello", i))
			if _, err := c.Write(msg); err != nil {
				errs <- err
				return
			}
			c.(*net.TCPConn).CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil {
				errs <- fmt.Errorf("connection %d: %v", i, err)
				return
			}
			if !bytes.Equal(got, bytes.ToUpper(msg)) {
				errs <- fmt.Errorf("connection %d: got %q", i, got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("%d concurrent forwarded connections in %v", conns, time.Since(start))
	if s := n.Stats(); s.Forwarded != conns {
		t.Errorf("Forwarded = %d, want %d", s.Forwarded, conns)
	}
}

// TestPortForwardRefused: with no guest listener the host connection is
// reset, not left hanging.
func TestPortForwardRefused(t *testing.T) {
	t.Parallel()
	_, _, p := newForwardNetwork(t, "tcp", 81)
	start := time.Now()
	c, err := net.Dial("tcp", netip.AddrPortFrom(p.HostIP, p.HostPort).String())
	if err == nil {
		// The reset may beat connect's return, or come after it.
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read from refused forward: %v, want connection reset", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("reset took %v", d)
	}
}

// TestPortForwardHalfClose: a guest server that writes and half-closes
// first, then reads what the host client sends after.
func TestPortForwardHalfClose(t *testing.T) {
	t.Parallel()
	_, g, p := newForwardNetwork(t, "tcp", 82)
	l := g.listen(82)
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.Write([]byte("banner"))
		c.(interface{ CloseWrite() error }).CloseWrite()
		data, err := io.ReadAll(c)
		if err == nil && string(data) != "late words" {
			err = fmt.Errorf("guest read %q", data)
		}
		done <- err
	}()
	c, err := net.Dial("tcp", netip.AddrPortFrom(p.HostIP, p.HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "banner" {
		t.Fatalf("host read %q, %v", got, err)
	}
	c.Write([]byte("late words"))
	c.(*net.TCPConn).CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestPortInUse: New fails, naming the spec, when a host port is taken.
func TestPortInUse(t *testing.T) {
	t.Parallel()
	_, port := hostListen(t)
	p := PortForward{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port, GuestPort: 80}
	_, err := New(Config{Ports: []PortForward{p}})
	if err == nil {
		t.Fatal("New succeeded on a port in use")
	}
	if !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), p.String()) {
		t.Errorf("error %q should say the port is in use and name %s", err, p)
	}

	// A duplicate forward, and a bad MTU.
	q := PortForward{Proto: "tcp", HostPort: freePort(t, "tcp"), GuestPort: 80}
	if _, err := New(Config{Ports: []PortForward{q, q}}); err == nil || !strings.Contains(err.Error(), "already forwarded") {
		t.Errorf("duplicate forward: %v", err)
	}
	if _, err := New(Config{MTU: 100}); err == nil {
		t.Error("MTU 100 accepted")
	}
}

// TestUDP: a datagram round trip through a forward to a guest echo
// server, and from the guest to a host echo server via 10.0.2.2.
func TestUDP(t *testing.T) {
	t.Parallel()
	n, g, p := newForwardNetwork(t, "udp", 7)

	// Guest echo server on port 7.
	gs := g.guestUDP(7, nil)
	go func() {
		buf := make([]byte, 65536)
		for {
			nr, from, err := gs.ReadFrom(buf)
			if err != nil {
				return
			}
			gs.WriteTo(bytes.ToUpper(buf[:nr]), from)
		}
	}()
	hc, err := net.Dial("udp", netip.AddrPortFrom(p.HostIP, p.HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	buf := make([]byte, 65536)
	for i, msg := range []string{"ping through the forward", strings.Repeat("big", 10000)} {
		if _, err := hc.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		hc.SetReadDeadline(time.Now().Add(5 * time.Second))
		nr, err := hc.Read(buf)
		if err != nil {
			t.Fatalf("forward datagram %d: %v", i, err)
		}
		if got := string(buf[:nr]); got != strings.ToUpper(msg) {
			t.Fatalf("forward datagram %d: got %d bytes, want %d", i, len(got), len(msg))
		}
	}

	// Host echo server; the guest sends to 10.0.2.2.
	hs, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer hs.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			nr, from, err := hs.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			hs.WriteToUDPAddrPort(bytes.ToUpper(buf[:nr]), from)
		}
	}()
	dst := netip.AddrPortFrom(GatewayIPv4, uint16(hs.LocalAddr().(*net.UDPAddr).Port))
	gc := g.guestUDP(0, &dst)
	for i, msg := range []string{"ping from the guest", "again"} {
		if _, err := gc.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		gc.SetReadDeadline(time.Now().Add(5 * time.Second))
		nr, err := gc.Read(buf)
		if err != nil {
			t.Fatalf("outbound datagram %d: %v", i, err)
		}
		if got := string(buf[:nr]); got != strings.ToUpper(msg) {
			t.Fatalf("outbound datagram %d: got %q", i, got)
		}
	}
	if s := n.Stats(); s.UDPFlows != 1 || s.Forwarded != 1 {
		t.Errorf("stats %+v, want 1 UDP flow and 1 forwarded", s)
	}
}

// testDNSServer answers every A query with 192.0.2.1 and every other
// query with no records, over UDP and TCP on one 127.0.0.1 port.
func testDNSServer(t testing.TB) netip.AddrPort {
	t.Helper()
	var pc *net.UDPConn
	var l *net.TCPListener
	for {
		port := freePort(t, "udp")
		var err error
		pc, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
		if err != nil {
			continue
		}
		l, err = net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(port)})
		if err != nil {
			pc.Close()
			continue
		}
		break
	}
	t.Cleanup(func() { pc.Close(); l.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			nr, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:nr]); resp != nil {
				pc.WriteToUDPAddrPort(resp, from)
			}
		}
	}()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var hdr [2]byte
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(hdr[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					resp := dnsAnswer(q)
					if resp == nil {
						return
					}
					c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(resp))), resp...))
				}
			}()
		}
	}()
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(l.Addr().(*net.TCPAddr).Port))
}

// dnsAnswer builds the test server's response to query q.
func dnsAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	i++
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	resp := append([]byte(nil), q[:2]...)
	resp = append(resp, 0x81, 0x80, 0, 1) // response, RD, RA; 1 question
	if qtype == 1 {
		resp = append(resp, 0, 1, 0, 0, 0, 0) // 1 answer
	} else {
		resp = append(resp, 0, 0, 0, 0, 0, 0)
	}
	resp = append(resp, question...)
	if qtype == 1 {
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
	}
	return resp
}

// TestDNS: the guest's resolver, pointed at 10.0.2.3, resolves through
// the host's (test) DNS server, over UDP and over TCP.
func TestDNS(t *testing.T) {
	t.Parallel()
	srv := testDNSServer(t)
	n, g := newTestNetwork(t, Config{DNSServers: []netip.AddrPort{srv}})
	for _, network := range []string{"udp", "tcp"} {
		r := &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
				dns := netip.AddrPortFrom(DNSIPv4, 53)
				if network == "tcp" {
					return g.dial(ctx, dns)
				}
				return g.guestUDP(0, &dns), nil
			},
		}
		addrs, err := r.LookupHost(ctxTimeout(t, 10*time.Second), "mote.example.")
		if err != nil {
			t.Fatalf("lookup over %s: %v", network, err)
		}
		if len(addrs) != 1 || addrs[0] != "192.0.2.1" {
			t.Fatalf("lookup over %s: %v, want [192.0.2.1]", network, addrs)
		}
	}
	if s := n.Stats(); s.DNSQueries < 2 {
		t.Errorf("DNSQueries = %d", s.DNSQueries)
	}
}

// TestClose: Close ends open connections and flows and returns.
func TestClose(t *testing.T) {
	t.Parallel()
	n, g, p := newForwardNetwork(t, "tcp", 83)
	l := g.listen(83)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	hl, port := hostListen(t)
	go func() {
		for {
			c, err := hl.Accept()
			if err != nil {
				return
			}
			go io.Copy(io.Discard, c)
		}
	}()
	fc, err := net.Dial("tcp", netip.AddrPortFrom(p.HostIP, p.HostPort).String())
	if err != nil {
		t.Fatal(err)
	}
	defer fc.Close()
	fc.Write([]byte("x"))
	oc, err := g.dial(ctxTimeout(t, 5*time.Second), netip.AddrPortFrom(GatewayIPv4, port))
	if err != nil {
		t.Fatal(err)
	}
	defer oc.Close()
	time.Sleep(50 * time.Millisecond)

	done := make(chan struct{})
	go func() { n.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	fc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := fc.Read(make([]byte, 1)); err == nil {
		t.Error("forwarded connection still open after Close")
	}
	if err := n.WriteFrame(make([]byte, 60)); err == nil {
		t.Error("WriteFrame after Close succeeded")
	}
	if _, err := net.Dial("tcp", netip.AddrPortFrom(p.HostIP, p.HostPort).String()); err == nil {
		t.Error("forwarded port still listening after Close")
	}
}

// TestBulk moves 256 MiB each way between the guest and a host server and
// checks SHA-256s.
func TestBulk(t *testing.T) {
	size := int64(256 << 20)
	if testing.Short() {
		size = 32 << 20
	}
	slots := guestRingSlots(DefaultMTU)
	n, g := newTestNetworkRing(t, Config{}, slots)
	for _, dir := range []string{"guest->host", "host->guest"} {
		mbps, err := bulk(t, g, dir, size, true)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		t.Logf("bulk %s: %d MiB at %.0f MB/s with SHA-256 both ends (MTU %d, %d guest receive buffers)", dir, size>>20, mbps, g.net.MTU(), slots)
	}
	t.Logf("stats: %+v; guest ring full %d times", n.Stats(), g.link.dropped.Load())
}

// TestSmallGuestRing: a guest with only 4 receive buffers still gets a
// bulk transfer through: the network waits for buffers instead of
// dropping every frame past the fourth.
func TestSmallGuestRing(t *testing.T) {
	t.Parallel()
	n, g := newTestNetworkRing(t, Config{}, 4)
	size := int64(16 << 20)
	start := time.Now()
	if _, err := bulk(t, g, "host->guest", size, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("16 MiB through a 4-buffer ring in %v; ring full %d times, %d frames dropped", time.Since(start), g.link.dropped.Load(), n.Stats().FramesDropped)
}

// nopHash hashes nothing, for benchmarks.
type nopHash struct{}

func (nopHash) Write(b []byte) (int, error) { return len(b), nil }
func (nopHash) Sum(b []byte) []byte         { return append(b, make([]byte, 32)...) }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 32 }
func (nopHash) BlockSize() int              { return 64 }

// pattern is a cheap deterministic byte stream.
type pattern struct{ x uint64 }

func (p *pattern) Read(b []byte) (int, error) {
	for i := 0; i+8 <= len(b); i += 8 {
		p.x = p.x*6364136223846793005 + 1442695040888963407
		binary.LittleEndian.PutUint64(b[i:], p.x)
	}
	return len(b) &^ 7, nil
}

// bulk sends size bytes one way over a guest->host TCP connection and
// returns MB/s (10^6 bytes per second).
func bulk(t testing.TB, g *fakeGuest, dir string, size int64, hashed bool) (float64, error) {
	l, port := hostListen(t)
	type result struct {
		sum [32]byte
		err error
	}
	srv := make(chan result, 1)
	newHash := func() hash.Hash {
		if hashed {
			return sha256.New()
		}
		return nopHash{}
	}
	send := func(w io.Writer) ([32]byte, error) {
		h := newHash()
		_, err := io.CopyBuffer(io.MultiWriter(w, h), io.LimitReader(&pattern{x: uint64(size)}, size), make([]byte, 256<<10))
		var s [32]byte
		copy(s[:], h.Sum(nil))
		return s, err
	}
	recv := func(r io.Reader) ([32]byte, error) {
		h := newHash()
		nr, err := io.CopyBuffer(h, r, make([]byte, 256<<10))
		if err == nil && nr != size {
			err = fmt.Errorf("received %d bytes, want %d", nr, size)
		}
		var s [32]byte
		copy(s[:], h.Sum(nil))
		return s, err
	}
	go func() {
		c, err := l.AcceptTCP()
		if err != nil {
			srv <- result{err: err}
			return
		}
		defer c.Close()
		var r result
		if dir == "guest->host" {
			r.sum, r.err = recv(c)
		} else {
			r.sum, r.err = send(c)
			c.CloseWrite()
		}
		srv <- r
	}()
	c, err := g.dial(ctxTimeout(t, 10*time.Second), netip.AddrPortFrom(GatewayIPv4, port))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	var sum [32]byte
	if dir == "guest->host" {
		sum, err = send(c)
		c.CloseWrite()
	} else {
		sum, err = recv(c)
	}
	if err != nil {
		return 0, err
	}
	r := <-srv
	elapsed := time.Since(start)
	if r.err != nil {
		return 0, r.err
	}
	if r.sum != sum {
		return 0, fmt.Errorf("SHA-256 mismatch: sent and received streams differ")
	}
	return float64(size) / elapsed.Seconds() / 1e6, nil
}

// synFrame builds a guest TCP SYN to dst, as an Ethernet frame.
func synFrame(dst netip.AddrPort, srcPort uint16) []byte {
	const ipLen, tcpLen = header.IPv4MinimumSize, header.TCPMinimumSize
	f := make([]byte, header.EthernetMinimumSize+ipLen+tcpLen)
	header.Ethernet(f).Encode(&header.EthernetFields{
		SrcAddr: tcpip.LinkAddress(GuestMAC), DstAddr: tcpip.LinkAddress(GatewayMAC), Type: header.IPv4ProtocolNumber,
	})
	ip := header.IPv4(f[header.EthernetMinimumSize:])
	src, dstA := toTCPIP(GuestIPv4), toTCPIP(dst.Addr())
	ip.Encode(&header.IPv4Fields{
		TotalLength: ipLen + tcpLen, TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: src, DstAddr: dstA,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcpH := header.TCP(ip[ipLen:])
	tcpH.Encode(&header.TCPFields{
		SrcPort: srcPort, DstPort: dst.Port(), SeqNum: 1000, DataOffset: tcpLen,
		Flags: header.TCPFlagSyn, WindowSize: 65535,
	})
	xsum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dstA, tcpLen)
	tcpH.SetChecksum(^tcpH.CalculateChecksum(xsum))
	return f
}

// TestCloseMidHandshake: Close does not wait for a guest that sent a SYN
// and then went silent.
func TestCloseMidHandshake(t *testing.T) {
	t.Parallel()
	n, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	var got sync.WaitGroup
	got.Add(1)
	if err := n.Start(func([]byte) bool { return true }); err != nil {
		t.Fatal(err)
	}
	l, port := hostListen(t)
	go func() {
		c, err := l.Accept()
		if err == nil {
			got.Done()
			defer c.Close()
			io.Copy(io.Discard, c)
		}
	}()
	n.WriteFrame(synFrame(netip.AddrPortFrom(GatewayIPv4, port), 40000))
	got.Wait() // the host connection is up; the handshake waits for the guest
	time.Sleep(20 * time.Millisecond)
	start := time.Now()
	n.Close()
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %v", d)
	}
}

// dnsQuery is a query for name's A record with the given ID.
func dnsQuery(id uint16, name string) []byte {
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0) // RD; 1 question
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	return append(q, 0, 0, 1, 0, 1)
}

// TestDNSFailover: when a query to the first server goes unanswered, later
// queries go to the next server.
func TestDNSFailover(t *testing.T) {
	t.Parallel()
	dead, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close() // reads nothing, answers nothing
	good := testDNSServer(t)
	n, g := newTestNetwork(t, Config{DNSServers: []netip.AddrPort{dead.LocalAddr().(*net.UDPAddr).AddrPort(), good}})
	n.dns.failover = 50 * time.Millisecond

	dns := netip.AddrPortFrom(DNSIPv4, 53)
	c := g.guestUDP(0, &dns)
	buf := make([]byte, 1500)
	c.Write(dnsQuery(1, "first.example"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(buf); err == nil {
		t.Fatal("the dead server answered")
	}
	for id := uint16(2); ; id++ {
		c.Write(dnsQuery(id, "second.example"))
		c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		nr, err := c.Read(buf)
		if err == nil {
			if binary.BigEndian.Uint16(buf) != id || nr < 12 || buf[7] != 1 {
				t.Fatalf("bad answer % x", buf[:nr])
			}
			break
		}
		if id > 5 {
			t.Fatal("no answer after failover")
		}
	}
}

// TestPingGateway: ICMP echo to 10.0.2.2 and 10.0.2.3 is answered; to
// anything else it is not (it is not forwarded, and must not be faked).
func TestPingGateway(t *testing.T) {
	t.Parallel()
	_, g := newTestNetwork(t, Config{})
	ping := func(dst netip.Addr) bool {
		var wq waiter.Queue
		ep, terr := g.s.NewEndpoint(icmp.ProtocolNumber4, ipv4.ProtocolNumber, &wq)
		if terr != nil {
			t.Fatal(terr)
		}
		defer ep.Close()
		c := gonet.NewUDPConn(&wq, ep)
		if terr := ep.Connect(tcpip.FullAddress{NIC: 1, Addr: toTCPIP(dst)}); terr != nil {
			t.Fatal(terr)
		}
		req := make([]byte, header.ICMPv4MinimumSize+8)
		icmpH := header.ICMPv4(req)
		icmpH.SetType(header.ICMPv4Echo)
		icmpH.SetIdent(7)
		icmpH.SetSequence(1)
		copy(req[header.ICMPv4MinimumSize:], "motemote")
		if _, err := c.Write(req); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 100)
		nr, err := c.Read(buf)
		return err == nil && nr == len(req) && header.ICMPv4(buf).Type() == header.ICMPv4EchoReply
	}
	for _, a := range []netip.Addr{GatewayIPv4, DNSIPv4} {
		if !ping(a) {
			t.Errorf("no echo reply from %v", a)
		}
	}
	if ping(netip.MustParseAddr("192.0.2.7")) {
		t.Error("echo reply from 192.0.2.7, which does not exist")
	}
}

// TestOutboundIPv6Loopback: a host service listening on ::1 only is reached
// through 10.0.2.2 too.
func TestOutboundIPv6Loopback(t *testing.T) {
	t.Parallel()
	l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Write([]byte("six"))
			c.Close()
		}
	}()
	_, g := newTestNetwork(t, Config{})
	c, err := g.dial(ctxTimeout(t, 5*time.Second), netip.AddrPortFrom(GatewayIPv4, uint16(l.Addr().(*net.TCPAddr).Port)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "six" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// TestPortForwardBeforeStart: a host port accepts connections as soon as
// the network exists, before the guest's device starts it; the SYN sent
// into the guest then waits for Start instead of being dropped (which
// would cost the client TCP's 1 s retransmission).
func TestPortForwardBeforeStart(t *testing.T) {
	t.Parallel()
	p := PortForward{Proto: "tcp", HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: freePort(t, "tcp"), GuestPort: 80}
	n, err := New(Config{Ports: []PortForward{p}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	c, err := net.DialTimeout("tcp", netip.AddrPortFrom(p.HostIP, p.HostPort).String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until the forward has sent its SYN to the guest, not started.
	for deadline := time.Now().Add(5 * time.Second); n.Stats().Forwarded == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the connection was not forwarded")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	g := newFakeGuestWith(t, n, 0, func(g *fakeGuest) { go guestEcho(g.listen(80)) })
	t.Cleanup(func() { g.s.Destroy() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("early")); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "EARLY" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if s := n.Stats(); s.FramesDropped != 0 {
		t.Errorf("%d frames for the guest dropped", s.FramesDropped)
	}
}
