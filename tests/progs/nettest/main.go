// Command nettest exercises the guest network stack for the end-to-end
// tests. Each mode prints what it saw; the tests compare.
//
//	nettest loopback          TCP/UDP over 127.0.0.1 and ::1, errors
//	nettest get URL           HTTP GET from the guest: status, length, SHA-256
//	nettest lookup NAME       resolve NAME with Go's resolver
//	nettest udp ADDR MSG      send MSG to ADDR over UDP, print the reply
//	nettest udpecho PORT      serve UDP echo on PORT until killed
//	nettest conns ADDR N      open N TCP connections to ADDR at once, echo on each
//	nettest ifaces            list interfaces and addresses (netlink), raw netlink checks
//	nettest stackbuf          blocking socket I/O with buffers on a moving goroutine stack
package main

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: nettest MODE ...")
	}
	switch os.Args[1] {
	case "loopback":
		loopback()
	case "get":
		get(os.Args[2])
	case "lookup":
		addrs, err := net.LookupHost(os.Args[2])
		if err != nil {
			fail("lookup: %v", err)
		}
		fmt.Println("addrs:", addrs)
	case "udp":
		udp(os.Args[2], os.Args[3])
	case "udpecho":
		udpEcho(os.Args[2])
	case "conns":
		n, _ := strconv.Atoi(os.Args[3])
		conns(os.Args[2], n)
	case "ifaces":
		ifaces()
	case "stackbuf":
		stackbuf()
	default:
		fail("unknown mode %q", os.Args[1])
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "nettest: "+f+"\n", a...)
	os.Exit(1)
}

func echoServer(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			io.Copy(c, c)
			c.Close()
		}()
	}
}

func roundTrip(network, addr string, size int) {
	c, err := net.Dial(network, addr)
	if err != nil {
		fail("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	go func() {
		c.Write(msg)
		c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		fail("read %s: %v", addr, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(msg) {
		fail("%s %s: echoed %d bytes, want %d identical", network, addr, len(got), len(msg))
	}
	fmt.Printf("echo %s ok %d\n", network, len(got))
}

func loopback() {
	// TCP over IPv4 and IPv6 loopback, with a large transfer.
	for _, nw := range []struct{ net, addr string }{{"tcp4", "127.0.0.1:0"}, {"tcp6", "[::1]:0"}} {
		ln, err := net.Listen(nw.net, nw.addr)
		if err != nil {
			fail("listen %s: %v", nw.addr, err)
		}
		go echoServer(ln)
		roundTrip(nw.net, ln.Addr().String(), 8<<20)
		// A second listener on the same port is refused.
		if _, err := net.Listen(nw.net, ln.Addr().String()); !errors.Is(err, syscall.EADDRINUSE) {
			fail("second listen on %s: %v, want EADDRINUSE", ln.Addr(), err)
		}
		fmt.Printf("addrinuse %s ok\n", nw.net)
		// After the listener closes, connections are refused.
		addr := ln.Addr().String()
		ln.Close()
		if _, err := net.DialTimeout(nw.net, addr, 5*time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			fail("dial closed %s: %v, want ECONNREFUSED", addr, err)
		}
		fmt.Printf("refused %s ok\n", nw.net)
	}
	// UDP.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		fail("listen udp: %v", err)
	}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		fail("dial udp: %v", err)
	}
	c.Write([]byte("ping"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil || string(buf[:n]) != "ping" {
		fail("udp echo: %q %v", buf[:n], err)
	}
	fmt.Println("udp ok")
	// Read deadlines work on a connection that never answers.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		c, _ := ln.Accept()
		time.Sleep(10 * time.Second)
		c.Close()
	}()
	d, _ := net.Dial("tcp", ln.Addr().String())
	d.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := d.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		fail("read with deadline: %v", err)
	}
	fmt.Println("deadline ok")
	// HTTP over loopback, and localhost from /etc/hosts.
	hl, _ := net.Listen("tcp", "localhost:0")
	go http.Serve(hl, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") }))
	resp, err := http.Get("http://" + hl.Addr().String())
	if err != nil {
		fail("http get: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("http %d %s\n", resp.StatusCode, b)
}

func get(url string) {
	resp, err := http.Get(url)
	if err != nil {
		fail("get: %v", err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		fail("read body: %v", err)
	}
	fmt.Printf("status %d length %d sha256 %x\n", resp.StatusCode, n, h.Sum(nil))
}

func udp(addr, msg string) {
	c, err := net.Dial("udp", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			fmt.Printf("reply %q\n", buf[:n])
			return
		}
	}
	fail("no reply from %s", addr)
}

func udpEcho(port string) {
	pc, err := net.ListenPacket("udp", ":"+port)
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Println("udpecho ready")
	buf := make([]byte, 65536)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			fail("read: %v", err)
		}
		pc.WriteTo(append([]byte("echo:"), buf[:n]...), from)
	}
}

func conns(addr string, n int) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 30*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			msg := fmt.Sprintf("conn %d\n", i)
			if _, err := io.WriteString(c, msg); err != nil {
				errs <- err
				return
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != msg {
				errs <- fmt.Errorf("conn %d: got %q, %v", i, line, err)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	bad := 0
	for err := range errs {
		if bad < 5 {
			fmt.Fprintln(os.Stderr, err)
		}
		bad++
	}
	fmt.Printf("conns %d failed %d\n", n, bad)
}

// ifaces prints what package net learns from netlink, then checks raw
// NETLINK_ROUTE behaviour: errors, readiness, single-link requests.
func ifaces() {
	ift, err := net.Interfaces()
	if err != nil {
		fail("interfaces: %v", err)
	}
	for _, ifi := range ift {
		addrs, err := ifi.Addrs()
		if err != nil {
			fail("addrs of %s: %v", ifi.Name, err)
		}
		fmt.Printf("iface %d %s mtu %d flags %s hw %q addrs %v\n", ifi.Index, ifi.Name, ifi.MTU, ifi.Flags, ifi.HardwareAddr.String(), addrs)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		fail("interface addrs: %v", err)
	}
	fmt.Println("all addrs:", addrs)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		fail("interface lo: %v", err)
	}
	fmt.Printf("byname lo: index %d flags %s\n", lo.Index, lo.Flags)
	if ifi, err := net.InterfaceByIndex(lo.Index); err != nil || ifi.Name != "lo" {
		fail("interface %d: %v %v", lo.Index, ifi, err)
	}
	if _, err := net.InterfaceByName("nosuch0"); err == nil {
		fail("interface nosuch0 found")
	}

	// Other netlink families are not there.
	gfd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW, syscall.NETLINK_GENERIC)
	if err == nil {
		syscall.Close(gfd)
	}
	fmt.Println("netlink generic:", err)
	if _, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_STREAM, 0); err != syscall.ESOCKTNOSUPPORT {
		fail("netlink stream socket: %v, want ESOCKTNOSUPPORT", err)
	}
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		fail("netlink socket: %v", err)
	}
	buf := make([]byte, 65536)
	if _, _, err := syscall.Recvfrom(fd, buf, 0); err != syscall.EAGAIN {
		fail("empty netlink recv: %v, want EAGAIN", err)
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		fail("epoll: %v", err)
	}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fd, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}); err != nil {
		fail("epoll_ctl: %v", err)
	}
	evs := make([]syscall.EpollEvent, 1)
	if n, _ := syscall.EpollWait(ep, evs, 0); n != 0 {
		fail("netlink readable before a request")
	}
	// A message type rtnetlink does not know: NLMSG_ERROR, EOPNOTSUPP.
	req := func(typ, flags uint16, seq uint32, body []byte) {
		h := syscall.NlMsghdr{Len: uint32(syscall.NLMSG_HDRLEN + len(body)), Type: typ, Flags: flags, Seq: seq}
		b := append((*[syscall.NLMSG_HDRLEN]byte)(unsafe.Pointer(&h))[:], body...)
		if err := syscall.Sendto(fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
			fail("netlink send: %v", err)
		}
	}
	recv := func() []syscall.NetlinkMessage {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil {
			fail("netlink recv: %v", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			fail("netlink parse: %v", err)
		}
		return msgs
	}
	nlErr := func(m syscall.NetlinkMessage) syscall.Errno {
		if m.Header.Type != syscall.NLMSG_ERROR {
			fail("netlink: message type %d, want NLMSG_ERROR", m.Header.Type)
		}
		return syscall.Errno(-*(*int32)(unsafe.Pointer(&m.Data[0])))
	}
	req(200, syscall.NLM_F_REQUEST, 7, []byte{syscall.AF_INET, 0, 0, 0})
	if n, _ := syscall.EpollWait(ep, evs, 1000); n != 1 || evs[0].Events&syscall.EPOLLIN == 0 {
		fail("netlink not readable with a reply queued")
	}
	if m := recv(); len(m) != 1 || m[0].Header.Seq != 7 || nlErr(m[0]) != syscall.EOPNOTSUPP {
		fail("message type 200: %+v, want NLMSG_ERROR EOPNOTSUPP", m)
	}
	if n, _ := syscall.EpollWait(ep, evs, 0); n != 0 {
		fail("netlink readable after the reply was read")
	}
	fmt.Println("netlink type 200: EOPNOTSUPP")
	// One link by name, with an acknowledgement; read on a duplicate.
	name := []byte("lo\x00\x00")
	body := make([]byte, syscall.SizeofIfInfomsg)
	body = append(body, byte(4+3), 0, syscall.IFLA_IFNAME, 0)
	body = append(body, name...)
	req(syscall.RTM_GETLINK, syscall.NLM_F_REQUEST|syscall.NLM_F_ACK, 8, body)
	fd2, err := syscall.Dup(fd)
	if err != nil {
		fail("dup: %v", err)
	}
	syscall.Close(fd)
	fd = fd2
	msgs := recv()
	if len(msgs) != 1 || msgs[0].Header.Type != syscall.RTM_NEWLINK {
		fail("RTM_GETLINK lo: %+v", msgs)
	}
	index := (*syscall.IfInfomsg)(unsafe.Pointer(&msgs[0].Data[0])).Index
	if m := recv(); len(m) != 1 || nlErr(m[0]) != 0 {
		fail("RTM_GETLINK lo: no acknowledgement: %+v", m)
	}
	fmt.Printf("netlink getlink lo: index %d\n", index)
	syscall.Close(fd)
	syscall.Close(ep)
}
