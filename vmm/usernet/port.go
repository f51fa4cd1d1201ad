package usernet

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// PortForward forwards a host port into the guest (-p).
type PortForward struct {
	Proto     string     // "tcp" or "udp"
	HostIP    netip.Addr // address to listen on; zero: all interfaces
	HostPort  uint16
	GuestPort uint16
}

// ParsePort parses a -p spec: "[HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp]",
// with an IPv6 HOSTIP in brackets ("[::1]:8080:80"). The protocol
// defaults to tcp.
func ParsePort(spec string) (PortForward, error) {
	bad := func(why string) (PortForward, error) {
		return PortForward{}, fmt.Errorf("usernet: bad port forward %q: %s (want [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp])", spec, why)
	}
	p := PortForward{Proto: "tcp"}
	s := spec
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		p.Proto = strings.ToLower(s[i+1:])
		s = s[:i]
		if p.Proto != "tcp" && p.Proto != "udp" {
			return bad(fmt.Sprintf("protocol %q is not tcp or udp", spec[i+1:]))
		}
	}
	var host string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return bad("missing ] after the IPv6 address")
		}
		host = s[1:end]
		s = s[end+1:]
		if !strings.HasPrefix(s, ":") {
			return bad("want : after ]")
		}
		s = s[1:]
		if host == "" {
			return bad("empty host address")
		}
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 3 && host == "":
		host = parts[0]
		if host == "" {
			return bad("empty host address")
		}
		parts = parts[1:]
	case len(parts) > 3 && host == "":
		if _, err := netip.ParseAddr(strings.Join(parts[:len(parts)-2], ":")); err == nil {
			return bad("put an IPv6 host address in brackets")
		}
		return bad("too many colons")
	case len(parts) != 2:
		return bad("want two ports")
	}
	if host != "" {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return bad(fmt.Sprintf("host address %q is not an IP address", host))
		}
		if strings.HasPrefix(spec, "[") && !a.Is6() {
			return bad("brackets are for IPv6 addresses")
		}
		p.HostIP = a.Unmap()
	}
	var err error
	if p.HostPort, err = parsePortNumber(parts[0]); err != nil {
		return bad("host port: " + err.Error())
	}
	if p.GuestPort, err = parsePortNumber(parts[1]); err != nil {
		return bad("guest port: " + err.Error())
	}
	return p, nil
}

func parsePortNumber(s string) (uint16, error) {
	if s == "" {
		return 0, errors.New("missing")
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil || v == 0 {
		return 0, fmt.Errorf("%q is not a port number 1-65535", s)
	}
	return uint16(v), nil
}

// String returns the spec ParsePort parses back: "8080:80/tcp",
// "127.0.0.1:8080:80/tcp", "[::1]:5353:53/udp".
func (p PortForward) String() string {
	var b strings.Builder
	if p.HostIP.IsValid() {
		if p.HostIP.Is6() {
			b.WriteString("[" + p.HostIP.String() + "]:")
		} else {
			b.WriteString(p.HostIP.String() + ":")
		}
	}
	fmt.Fprintf(&b, "%d:%d/%s", p.HostPort, p.GuestPort, p.Proto)
	return b.String()
}

func (p PortForward) validate() error {
	switch {
	case p.Proto != "tcp" && p.Proto != "udp":
		return fmt.Errorf("usernet: port forward %s: protocol %q is not tcp or udp", p, p.Proto)
	case p.HostPort == 0 || p.GuestPort == 0:
		return fmt.Errorf("usernet: port forward %s: ports must be 1-65535", p)
	}
	return nil
}

func (p PortForward) hostAddr() string {
	host := ""
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	return net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
}

// listen binds every forwarded host port; the accept loops start only once
// all are bound.
func (n *Network) listen(ports []PortForward) error {
	seen := make(map[string]PortForward)
	for _, p := range ports {
		key := p.Proto + " " + p.hostAddr()
		if q, ok := seen[key]; ok {
			return fmt.Errorf("usernet: -p %s: host port %d (%s) is already forwarded by -p %s", p, p.HostPort, p.Proto, q)
		}
		seen[key] = p
		var err error
		switch p.Proto {
		case "tcp":
			var l *net.TCPListener
			l, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(p.HostIP, p.HostPort)))
			if err == nil {
				n.tcpListeners = append(n.tcpListeners, l)
				n.tcpForwards = append(n.tcpForwards, p)
			}
		case "udp":
			var c *net.UDPConn
			c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.HostIP, p.HostPort)))
			if err == nil {
				n.udpListeners = append(n.udpListeners, c)
				n.udpForwards = append(n.udpForwards, p)
			}
		}
		if err != nil {
			return listenError(p, err)
		}
	}
	for i, l := range n.tcpListeners {
		p := n.tcpForwards[i]
		n.goTracked(func() { n.acceptTCP(l, p) })
	}
	for i, c := range n.udpListeners {
		p := n.udpForwards[i]
		n.goTracked(func() { n.serveUDPForward(c, p) })
	}
	return nil
}

func listenError(p PortForward, err error) error {
	where := fmt.Sprintf("host port %d (%s)", p.HostPort, p.Proto)
	if p.HostIP.IsValid() {
		where = fmt.Sprintf("host address %s (%s)", p.hostAddr(), p.Proto)
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("usernet: -p %s: %s is in use", p, where)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("usernet: -p %s: no permission to listen on %s", p, where)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return fmt.Errorf("usernet: -p %s: %s is not an address of this host", p, p.HostIP)
	}
	var se *net.OpError
	if errors.As(err, &se) && se.Err != nil {
		err = se.Err
	}
	return fmt.Errorf("usernet: -p %s: cannot listen on %s: %v", p, where, err)
}
