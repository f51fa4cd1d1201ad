package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// Networking: the guest stack on its own (loopback), the user-mode network
// (-p forwards, outbound NAT, DNS) and a tap device in a network namespace.

// freePort returns a host TCP (and UDP) port that is free now.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// guest is a mote run in the background.
type guest struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	cancel context.CancelFunc
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGuest runs mote with args (optionally under a command prefix such
// as "ip netns exec NS") until the test ends.
func startGuest(t *testing.T, prefix []string, args ...string) *guest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	argv := append(append(append([]string(nil), prefix...), moteBin), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	g := &guest{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = g.out, g.out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		cancel()
		<-g.done
		if t.Failed() {
			t.Logf("guest output:\n%s", g.out.String())
		}
	})
	return g
}

// waitHTTP polls url until it answers 200 or the guest exits.
func (g *guest) waitHTTP(t *testing.T, url string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	c := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-g.done:
			t.Fatalf("guest exited before serving %s:\n%s", url, g.out.String())
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 30s; guest output:\n%s", url, g.out.String())
	return ""
}

func TestNetLoopback(t *testing.T) {
	t.Parallel()
	// With one vCPU, and with two (the stack's goroutines then run on
	// both).
	for _, cpus := range []string{"1", "2"} {
		t.Run("cpus"+cpus, func(t *testing.T) {
			r := mote(t, 2*time.Minute, "run", "--cpus", cpus, "--net", "none", images["nettest"], "--", "loopback")
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{
				"echo tcp4 ok 8388608", "addrinuse tcp4 ok", "refused tcp4 ok",
				"echo tcp6 ok 8388608", "addrinuse tcp6 ok", "refused tcp6 ok",
				"udp ok", "deadline ok", "http 200 hi",
			} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("missing %q in:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// TestNetStackBuffers: blocking socket reads and writes whose buffers lie
// on the calling goroutine's stack, which moves during the call (guestnet
// serves it on that goroutine): the data must reach the buffers where they
// are when the call returns.
func TestNetStackBuffers(t *testing.T) {
	t.Parallel()
	r := mote(t, 2*time.Minute, "run", "--net", "none", images["nettest"], "--", "stackbuf")
	if r.code != 0 || !strings.Contains(r.stdout, "stackbuf ok") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestNetPublish serves examples/httpd through -p and checks what a host
// client sees: answers, bulk transfers both ways, many connections at once,
// and resets from a published port nothing listens on. It is not parallel:
// its gigabyte transfers would load both cores while the timing checks of
// other tests run.
func TestNetPublish(t *testing.T) {
	port, closed := freePort(t), freePort(t)
	g := startGuest(t, nil, "run", "-m", "512M",
		"-p", fmt.Sprintf("127.0.0.1:%d:80", port),
		"-p", fmt.Sprintf("127.0.0.1:%d:81", closed),
		images["httpd"])
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	if got := g.waitHTTP(t, base+"/"); got != "hello from mote\n" {
		t.Fatalf("GET / = %q", got)
	}

	t.Run("download", func(t *testing.T) {
		const n = 1 << 30
		t0 := time.Now()
		resp, err := http.Get(fmt.Sprintf("%s/bytes?n=%d", base, n))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		got, err := io.Copy(h, resp.Body)
		if err != nil || got != n {
			t.Fatalf("read %d bytes, %v; want %d", got, err, n)
		}
		if sum, want := hex.EncodeToString(h.Sum(nil)), patternSHA(n); sum != want {
			t.Fatalf("sha256 %s, want %s", sum, want)
		}
		t.Logf("1 GiB guest->host in %v (%.0f MB/s)", time.Since(t0).Round(time.Millisecond), float64(n)/1e6/time.Since(t0).Seconds())
	})
	t.Run("upload", func(t *testing.T) {
		const n = 1 << 30
		t0 := time.Now()
		resp, err := http.Post(base+"/sha256", "application/octet-stream", io.LimitReader(&patternReader{}, n))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%s %d\n", patternSHA(n), n); string(b) != want {
			t.Fatalf("guest says %q, want %q", b, want)
		}
		t.Logf("1 GiB host->guest in %v (%.0f MB/s)", time.Since(t0).Round(time.Millisecond), float64(n)/1e6/time.Since(t0).Seconds())
	})
	t.Run("1000conns", func(t *testing.T) {
		const n = 1000
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		// All open at once, then each does a request.
		for i := 0; i < n; i++ {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			wg.Add(1)
			go func(i int, c net.Conn) {
				defer wg.Done()
				c.SetDeadline(time.Now().Add(60 * time.Second))
				fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				resp, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					errs <- fmt.Errorf("connection %d: %v", i, err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "hello from mote\n" {
					errs <- fmt.Errorf("connection %d: body %q", i, b)
				}
			}(i, c)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("no-listener-resets", func(t *testing.T) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", closed))
		if err != nil {
			return // refused outright is fine too
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		_, err = c.Read(make([]byte, 1))
		if err == nil {
			t.Fatal("read from a port the guest does not listen on returned data")
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("a published port with no guest listener hangs instead of resetting")
		}
	})
	t.Run("unpublished-refuses", func(t *testing.T) {
		other := freePort(t)
		if _, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", other), 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial unpublished port: %v, want ECONNREFUSED", err)
		}
	})
}

// patternReader yields the byte pattern examples/httpd's /bytes sends:
// byte k of the stream is k mod 256.
type patternReader struct{ off int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

var patternSums sync.Map

// patternSHA is the SHA-256 of n bytes of the pattern.
func patternSHA(n int64) string {
	if v, ok := patternSums.Load(n); ok {
		return v.(string)
	}
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = byte(i)
	}
	h := sha256.New()
	for left := n; left > 0; {
		c := min(left, int64(len(block)))
		h.Write(block[:c])
		left -= c
	}
	s := hex.EncodeToString(h.Sum(nil))
	patternSums.Store(n, s)
	return s
}

// TestNetPortInUse: -p on a busy host port fails at once, clearly.
func TestNetPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	r := mote(t, time.Minute, "run", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), images["httpd"])
	if r.code != 125 || !strings.Contains(r.stderr, fmt.Sprint(port)) || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("exit %d, stderr %q; want 125 and a message naming port %d as in use", r.code, r.stderr, port)
	}
}

// TestNetOutbound: the guest reaches the host through the user network:
// HTTP to a host server (via the gateway address), UDP both ways, DNS.
func TestNetOutbound(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("mote outbound "), 100000)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) })}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port

	t.Run("http", func(t *testing.T) {
		t.Parallel()
		r := mote(t, 2*time.Minute, "run", "--net", "user", images["nettest"], "--", "get", fmt.Sprintf("http://10.0.2.2:%d/", port))
		want := fmt.Sprintf("status 200 length %d sha256 %x", len(body), sha256.Sum256(body))
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %s", r.code, r.stdout, r.stderr, want)
		}
	})
	t.Run("udp-guest-to-host", func(t *testing.T) {
		t.Parallel()
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				pc.WriteTo(append([]byte("host:"), buf[:n]...), from)
			}
		}()
		uport := pc.LocalAddr().(*net.UDPAddr).Port
		r := mote(t, 2*time.Minute, "run", "--net", "user", images["nettest"], "--", "udp", fmt.Sprintf("10.0.2.2:%d", uport), "ping")
		if r.code != 0 || !strings.Contains(r.stdout, `reply "host:ping"`) {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("udp-host-to-guest", func(t *testing.T) {
		t.Parallel()
		hp := freePort(t)
		g := startGuest(t, nil, "run", "-p", fmt.Sprintf("127.0.0.1:%d:5353/udp", hp), images["nettest"], "--", "udpecho", "5353")
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", hp))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 100)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			c.Write([]byte("hi"))
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Read(buf)
			if err == nil {
				if string(buf[:n]) != "echo:hi" {
					t.Fatalf("reply %q", buf[:n])
				}
				return
			}
		}
		t.Fatalf("no UDP echo from the guest; output:\n%s", g.out.String())
	})
	t.Run("1000conns-guest-to-host", func(t *testing.T) {
		t.Parallel()
		el, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { el.Close() })
		go func() {
			for {
				c, err := el.Accept()
				if err != nil {
					return
				}
				go func() { io.Copy(c, c); c.Close() }()
			}
		}()
		r := mote(t, 3*time.Minute, "run", "-m", "512M", "--net", "user", images["nettest"], "--", "conns", fmt.Sprintf("10.0.2.2:%d", el.Addr().(*net.TCPAddr).Port), "1000")
		if r.code != 0 || !strings.Contains(r.stdout, "conns 1000 failed 0") {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
}

// TestNetDNS: a guest lookup answered by the test's DNS server. The server
// listens on the host's port 53 on loopback; --dns points the guest's
// resolver at the gateway, which is the host.
func TestNetDNS(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:53")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot listen on 127.0.0.1:53 for the test DNS server: %v", err)
		}
		t.Skipf("cannot listen on 127.0.0.1:53 for the test DNS server: %v", err)
	}
	defer pc.Close()
	go serveDNS(pc, "mote-test.example.", [4]byte{192, 0, 2, 77})
	r := mote(t, 2*time.Minute, "run", "--net", "user", "--dns", "10.0.2.2", images["nettest"], "--", "lookup", "mote-test.example")
	if r.code != 0 || !strings.Contains(r.stdout, "addrs: [192.0.2.77]") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// serveDNS answers A queries for name with addr, and NXDOMAIN otherwise.
func serveDNS(pc net.PacketConn, name string, addr [4]byte) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
		known := strings.EqualFold(q.Name.String(), name)
		if !known {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		if known && q.Type == dnsmessage.TypeA {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr})
		}
		msg, err := b.Finish()
		if err == nil {
			pc.WriteTo(msg, from)
		}
	}
}

// TestNetTap boots httpd on a tap device inside a network namespace the
// test creates and reaches it over IPv4 and IPv6 from inside the namespace.
func TestNetTap(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the tap test needs root (to create a network namespace and a tap device)")
		}
		t.Skip("not root: cannot create a network namespace and a tap device")
	}
	ns := fmt.Sprintf("mote-test-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	in := []string{"ip", "netns", "exec", ns}
	run(append(in, "ip", "link", "set", "lo", "up")...)
	run(append(in, "ip", "tuntap", "add", "dev", "tap0", "mode", "tap")...)
	run(append(in, "ip", "addr", "add", "10.77.0.1/24", "dev", "tap0")...)
	run(append(in, "ip", "-6", "addr", "add", "fd77::1/64", "dev", "tap0", "nodad")...)
	run(append(in, "ip", "link", "set", "tap0", "up")...)

	startGuest(t, in, "run", "--net", "tap:tap0", "--ip", "10.77.0.2/24", "--gateway", "10.77.0.1",
		"--ip6", "fd77::2/64", images["httpd"])
	for _, url := range []string{"http://10.77.0.2/", "http://[fd77::2]/"} {
		// The test's client runs in the namespace: this test binary,
		// re-executed as a helper.
		var out []byte
		var err error
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			cmd := exec.Command(in[0], append(in[1:], os.Args[0], "-test.run=^TestNetTapClient$")...)
			cmd.Env = append(os.Environ(), "MOTE_TAP_URL="+url)
			out, err = cmd.CombinedOutput()
			if err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if err != nil || !strings.Contains(string(out), "body: hello from mote") {
			t.Fatalf("GET %s from the namespace: %v\n%s", url, err, out)
		}
	}
}

// TestNetTapClient is TestNetTap's client, run inside the namespace.
func TestNetTapClient(t *testing.T) {
	url := os.Getenv("MOTE_TAP_URL")
	if url == "" {
		t.Skip("helper for TestNetTap")
	}
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("body: %s", b)
}

// TestNetInterfaces: package net lists the guest's interfaces and addresses
// through the guest stack's NETLINK_ROUTE (net.Interfaces,
// net.InterfaceAddrs, net.InterfaceByName), without a device and with the
// user-mode network's; raw netlink errors and readiness as on Linux.
func TestNetInterfaces(t *testing.T) {
	t.Parallel()
	lo := `iface 1 lo mtu 65536 flags up|loopback|running hw "" addrs [127.0.0.1/8 ::1/128]`
	common := []string{
		lo,
		"byname lo: index 1 flags up|loopback|running",
		"netlink generic: protocol not supported",
		"netlink type 200: EOPNOTSUPP",
		"netlink getlink lo: index 1",
	}
	for _, tc := range []struct {
		net  string
		want []string
	}{
		{"none", append([]string{"all addrs: [127.0.0.1/8 ::1/128]\n"}, common...)},
		{"user", append([]string{
			"iface 2 eth0 mtu ", // the user network's (usernet.DefaultMTU)
			` flags up|broadcast|multicast|running hw "52:54:00:12:34:56" addrs [10.0.2.15/24`,
			"all addrs: [127.0.0.1/8 10.0.2.15/24 ::1/128",
		}, common...)},
	} {
		t.Run(tc.net, func(t *testing.T) {
			t.Parallel()
			r := mote(t, 2*time.Minute, "run", "--net", tc.net, images["nettest"], "--", "ifaces")
			if r.code != 0 {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range tc.want {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("missing %q in:\n%s", want, r.stdout)
				}
			}
			if tc.net == "none" && strings.Contains(r.stdout, "iface 2") {
				t.Errorf("an interface besides lo without a device:\n%s", r.stdout)
			}
		})
	}
}
