package main

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/motevm/mote/vmm"
	"github.com/motevm/mote/vmm/usernet"
)

// netFlags are mote run's network flags, as given.
type netFlags struct {
	publish  []string
	mode     string
	ip, ip6  string
	gateway  string
	gateway6 string
	dns      string
	mac      string
}

// flagSet is the part of cobra's flag set that register uses.
type flagSet interface {
	StringArrayVarP(p *[]string, name, shorthand string, value []string, usage string)
	StringVar(p *string, name string, value string, usage string)
}

func (n *netFlags) register(f flagSet) {
	f.StringArrayVarP(&n.publish, "publish", "p", nil, "forward a host port into the guest; `SPEC` is [HOSTIP:]HOSTPORT:GUESTPORT[/tcp|/udp], HOSTIP defaulting to all addresses and the protocol to tcp (repeatable; user-mode network only)")
	f.StringVar(&n.mode, "net", "", "the guest's network `MODE`: user (NAT by mote, no privileges needed; the guest is 10.0.2.15, the host is reachable as 10.0.2.2), tap:NAME (an existing tap device; needs --ip) or none (default: user for programs that use package net, none for others)")
	f.StringVar(&n.ip, "ip", "", "the guest's IPv4 address and prefix length on a tap device, `CIDR` such as 192.168.100.2/24 (--net tap only; required there)")
	f.StringVar(&n.gateway, "gateway", "", "the guest's IPv4 default gateway `IP` on a tap device (--net tap only; optional)")
	f.StringVar(&n.ip6, "ip6", "", "the guest's IPv6 address and prefix length on a tap device, `CIDR` such as fd00::2/64 (--net tap only; optional)")
	f.StringVar(&n.gateway6, "gateway6", "", "the guest's IPv6 default gateway `IP` on a tap device (--net tap only; optional)")
	f.StringVar(&n.dns, "dns", "", "the `IP` address of the guest's DNS resolver (default: the user-mode network's relay 10.0.2.3, which asks the host's resolvers; none on a tap device)")
	f.StringVar(&n.mac, "mac", "", "the guest NIC's `MAC` address (default: 52:54:00:12:34:56 with --net user, a random locally administered one with --net tap)")
}

// config checks the flags and returns the network configuration. Checks
// that need the image (does it link the network stack?) are the
// monitor's.
func (n *netFlags) config() (vmm.NetConfig, error) {
	var c vmm.NetConfig
	switch {
	case n.mode == "":
		c.Mode = vmm.NetAuto
	case n.mode == "user":
		c.Mode = vmm.NetUser
	case n.mode == "none":
		c.Mode = vmm.NetNone
	case n.mode == "tap" || n.mode == "tap:":
		return c, fmt.Errorf("mote: --net tap needs the tap device's name: --net tap:NAME")
	case strings.HasPrefix(n.mode, "tap:"):
		c.Mode, c.Tap = vmm.NetTap, strings.TrimPrefix(n.mode, "tap:")
	default:
		return c, fmt.Errorf("mote: --net %q: want user, tap:NAME or none", n.mode)
	}
	for _, spec := range n.publish {
		p, err := usernet.ParsePort(spec)
		if err != nil {
			return c, fmt.Errorf("mote: -p: %s", strings.TrimPrefix(err.Error(), "usernet: "))
		}
		c.Ports = append(c.Ports, p)
	}
	if len(c.Ports) > 0 && (c.Mode == vmm.NetNone || c.Mode == vmm.NetTap) {
		return c, fmt.Errorf("mote: -p needs the user-mode network (--net user), not --net %s", n.mode)
	}
	tapOnly := func(flag, val string) error {
		if val != "" && c.Mode != vmm.NetTap {
			return fmt.Errorf("mote: %s is for --net tap:NAME (the user-mode network's addresses are fixed: guest %s/%d, gateway %s)",
				flag, usernet.GuestIPv4, usernet.PrefixLen, usernet.GatewayIPv4)
		}
		return nil
	}
	for _, f := range []struct{ name, val string }{{"--ip", n.ip}, {"--gateway", n.gateway}, {"--ip6", n.ip6}, {"--gateway6", n.gateway6}} {
		if err := tapOnly(f.name, f.val); err != nil {
			return c, err
		}
	}
	var err error
	if n.ip != "" {
		if c.IPv4, err = netip.ParsePrefix(n.ip); err != nil || !c.IPv4.Addr().Is4() {
			return c, fmt.Errorf("mote: --ip %q is not an IPv4 address with a prefix length (e.g. 192.168.100.2/24)", n.ip)
		}
	}
	if n.ip6 != "" {
		if c.IPv6, err = netip.ParsePrefix(n.ip6); err != nil || !c.IPv6.Addr().Is6() || c.IPv6.Addr().Is4In6() {
			return c, fmt.Errorf("mote: --ip6 %q is not an IPv6 address with a prefix length (e.g. fd00::2/64)", n.ip6)
		}
	}
	if n.gateway != "" {
		if c.Gateway4, err = netip.ParseAddr(n.gateway); err != nil || !c.Gateway4.Is4() {
			return c, fmt.Errorf("mote: --gateway %q is not an IPv4 address", n.gateway)
		}
	}
	if n.gateway6 != "" {
		if c.Gateway6, err = netip.ParseAddr(n.gateway6); err != nil || !c.Gateway6.Is6() || c.Gateway6.Is4In6() {
			return c, fmt.Errorf("mote: --gateway6 %q is not an IPv6 address", n.gateway6)
		}
		if n.ip6 == "" {
			return c, fmt.Errorf("mote: --gateway6 needs --ip6")
		}
	}
	if c.Mode == vmm.NetTap && n.ip == "" {
		return c, fmt.Errorf("mote: --net tap:%s needs the guest's address: --ip ADDRESS/PREFIX (and usually --gateway)", c.Tap)
	}
	if n.dns != "" {
		if c.DNS, err = netip.ParseAddr(n.dns); err != nil || c.DNS.Zone() != "" {
			return c, fmt.Errorf("mote: --dns %q is not an IP address", n.dns)
		}
		if c.Mode == vmm.NetNone {
			return c, fmt.Errorf("mote: --dns with --net none")
		}
	}
	if n.mac != "" {
		if c.MAC, err = net.ParseMAC(n.mac); err != nil || len(c.MAC) != 6 {
			return c, fmt.Errorf("mote: --mac %q is not an Ethernet address (e.g. 02:00:00:00:00:01)", n.mac)
		}
		if c.MAC[0]&1 != 0 {
			return c, fmt.Errorf("mote: --mac %s is a multicast address", n.mac)
		}
		if c.Mode == vmm.NetNone {
			return c, fmt.Errorf("mote: --mac with --net none")
		}
	}
	return c, nil
}
