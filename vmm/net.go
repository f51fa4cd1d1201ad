package vmm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/vmm/link"
	"github.com/motevm/mote/vmm/tap"
	"github.com/motevm/mote/vmm/usernet"
	"github.com/motevm/mote/vmm/virtionet"
)

// NetMode says what the guest's network device is plugged into.
type NetMode int

const (
	// NetAuto is NetUser for images that link the guest network stack
	// (abi.NoteFlagNet), NetNone for others.
	NetAuto NetMode = iota
	NetNone         // no network device
	NetUser         // the user-mode network (package vmm/usernet): NAT, -p forwards
	NetTap          // an existing tap device (NetConfig.Tap)
)

func (m NetMode) String() string {
	switch m {
	case NetNone:
		return "none"
	case NetUser:
		return "user"
	case NetTap:
		return "tap"
	}
	return "auto"
}

// NetConfig describes the guest's network. The zero value is NetAuto
// with the defaults.
type NetConfig struct {
	Mode NetMode
	Tap  string // NetTap: the tap device's name

	// Ports are the host ports forwarded into the guest (NetUser only).
	Ports []usernet.PortForward

	// The guest's addresses (NetTap; the user-mode network's are fixed).
	// IPv4 is required with NetTap; the gateways are optional.
	IPv4     netip.Prefix
	Gateway4 netip.Addr
	IPv6     netip.Prefix
	Gateway6 netip.Addr

	// DNS is the guest's resolver (IPv4 or IPv6). NetUser defaults to the
	// user-mode network's DNS relay; NetTap has none unless given.
	DNS netip.Addr

	// MAC is the guest NIC's address; nil means usernet.GuestMAC with
	// NetUser and a random locally administered address with NetTap.
	MAC net.HardwareAddr
}

// netDevice is a virtio-net device in its window.
type netDevice struct {
	dev *virtionet.Device
	*virtioDev
}

// resolveNet checks cfg against the image and returns the mode to use.
func resolveNet(cfg *NetConfig, imagePath string, hasNet bool) (NetMode, error) {
	mode := cfg.Mode
	if mode == NetAuto {
		mode = NetNone
		if hasNet {
			mode = NetUser
		}
	}
	noStack := func(flag string) error {
		return fmt.Errorf("%s: %s has no network stack (its program does not import package net)", flag, imagePath)
	}
	switch mode {
	case NetNone:
		switch {
		case cfg.Mode == NetAuto && len(cfg.Ports) > 0:
			return 0, noStack("-p")
		case cfg.Mode == NetAuto && cfg.DNS.IsValid():
			return 0, noStack("--dns")
		case cfg.Mode == NetAuto && cfg.MAC != nil:
			return 0, noStack("--mac")
		case len(cfg.Ports) > 0:
			return 0, errors.New("-p needs the user-mode network (--net user)")
		case cfg.IPv4.IsValid() || cfg.IPv6.IsValid() || cfg.Gateway4.IsValid() || cfg.Gateway6.IsValid() || cfg.DNS.IsValid() || cfg.MAC != nil:
			return 0, errors.New("network addresses given with --net none")
		}
		return NetNone, nil
	case NetUser:
		if !hasNet {
			return 0, noStack("--net user")
		}
		switch {
		case cfg.IPv4.IsValid() || cfg.Gateway4.IsValid():
			return 0, fmt.Errorf("--ip and --gateway are for --net tap: the user-mode network's addresses are fixed (guest %s/%d, gateway %s)", usernet.GuestIPv4, usernet.PrefixLen, usernet.GatewayIPv4)
		case cfg.IPv6.IsValid() || cfg.Gateway6.IsValid():
			return 0, errors.New("--ip6 and --gateway6 are for --net tap: the user-mode network carries IPv4 only")
		}
	case NetTap:
		if !hasNet {
			return 0, noStack("--net tap:" + cfg.Tap)
		}
		switch {
		case cfg.Tap == "":
			return 0, errors.New("--net tap: name the tap device (--net tap:NAME)")
		case len(cfg.Ports) > 0:
			return 0, fmt.Errorf("-p needs the user-mode network: with --net tap:%s the guest has its own address, connect to it directly", cfg.Tap)
		case !cfg.IPv4.IsValid():
			return 0, fmt.Errorf("--net tap:%s needs the guest's address: --ip ADDRESS/PREFIX (and --gateway)", cfg.Tap)
		case !cfg.IPv4.Addr().Is4():
			return 0, fmt.Errorf("--ip %s is not an IPv4 address with a prefix length", cfg.IPv4)
		case cfg.Gateway4.IsValid() && !cfg.Gateway4.Is4():
			return 0, fmt.Errorf("--gateway %s is not an IPv4 address", cfg.Gateway4)
		case cfg.IPv6.IsValid() && !(cfg.IPv6.Addr().Is6() && !cfg.IPv6.Addr().Is4In6()):
			return 0, fmt.Errorf("--ip6 %s is not an IPv6 address with a prefix length", cfg.IPv6)
		case cfg.Gateway6.IsValid() && !cfg.IPv6.IsValid():
			return 0, errors.New("--gateway6 needs --ip6")
		case cfg.Gateway6.IsValid() && !(cfg.Gateway6.Is6() && !cfg.Gateway6.Is4In6()):
			return 0, fmt.Errorf("--gateway6 %s is not an IPv6 address", cfg.Gateway6)
		}
	default:
		return 0, fmt.Errorf("unknown network mode %d", mode)
	}
	if cfg.MAC != nil && (len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0) {
		return 0, fmt.Errorf("--mac %s is not a unicast Ethernet address", cfg.MAC)
	}
	return mode, nil
}

// randomMAC returns a random locally administered unicast address.
func randomMAC() net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	rand.Read(m)
	m[0] = m[0]&^1 | 2
	return m
}

// openEndpoint creates the network the device plugs into: the user-mode
// network (which listens on the -p ports at once) or the tap device. It
// runs while KVM creates the VM.
func (v *vm) openEndpoint(mode NetMode) (link.Endpoint, error) {
	if v.cfg.netEndpoint != nil {
		return v.cfg.netEndpoint, nil
	}
	switch mode {
	case NetUser:
		n, err := usernet.New(usernet.Config{Ports: v.cfg.Net.Ports})
		if err != nil {
			return nil, errors.New(strings.TrimPrefix(err.Error(), "usernet: "))
		}
		return n, nil
	case NetTap:
		t, err := tap.Open(v.cfg.Net.Tap)
		if err != nil {
			return nil, fmt.Errorf("--net tap:%s: %v", v.cfg.Net.Tap, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("no endpoint for network mode %v", mode)
}

// setupNet creates the virtio-net device on ep (which it owns from then
// on, also on error) in the next virtio window (window 0: it is made
// before the volumes' devices) and fills bi's addresses. v.mem and v.kvm
// exist.
func (v *vm) setupNet(mode NetMode, ep link.Endpoint, bi *abi.BootInfo) error {
	cfg := v.cfg.Net
	var nc abi.NetConfig
	mac := cfg.MAC
	switch mode {
	case NetUser:
		nc.IPv4, nc.Prefix4 = usernet.GuestIPv4.As4(), usernet.PrefixLen
		nc.Gateway4 = usernet.GatewayIPv4.As4()
		nc.DNS4 = usernet.DNSIPv4.As4()
		if mac == nil {
			mac = usernet.GuestMAC
		}
	case NetTap:
		nc.IPv4, nc.Prefix4 = cfg.IPv4.Addr().As4(), uint8(cfg.IPv4.Bits())
		if cfg.Gateway4.IsValid() {
			nc.Gateway4 = cfg.Gateway4.As4()
		}
		if cfg.IPv6.IsValid() {
			nc.IPv6, nc.Prefix6 = cfg.IPv6.Addr().As16(), uint8(cfg.IPv6.Bits())
		}
		if cfg.Gateway6.IsValid() {
			nc.Gateway6 = cfg.Gateway6.As16()
		}
		if mac == nil {
			mac = randomMAC()
		}
	}
	if cfg.DNS.IsValid() {
		nc.DNS4 = [4]byte{}
		if cfg.DNS.Is4() || cfg.DNS.Is4In6() {
			nc.DNS4 = cfg.DNS.Unmap().As4()
		} else {
			nc.DNS6 = cfg.DNS.As16()
		}
	}
	// MOTE_NET_SPIN=DURATION overrides the poller's spin window (for
	// measurements; 0 or negative: no spinning).
	var spin time.Duration
	if s := os.Getenv("MOTE_NET_SPIN"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			ep.Close()
			return fmt.Errorf("MOTE_NET_SPIN=%s: %v", s, err)
		}
		spin = max(d, -1)
		if d == 0 {
			spin = -1
		}
	}
	dev, err := virtionet.New(virtionet.Config{
		Mem:        v.mem.b,
		MAC:        mac,
		Endpoint:   ep,
		Wake:       v.wakeIdle,
		Logf:       v.deviceLog,
		SpinWindow: spin,
	})
	if err != nil {
		ep.Close()
		return err
	}
	// The first device: window 0, where the guest looks for its NIC.
	vd, err := v.addVirtio(dev)
	if err != nil {
		return err
	}
	v.nets = append(v.nets, &netDevice{dev: dev, virtioDev: vd})
	bi.Net = nc
	return nil
}

// wakeIdle ends the HcIdle of an idle vCPU (device events, stdin).
func (v *vm) wakeIdle() {
	// One idle vCPU is enough: it polls the devices and wakes the
	// threads, and the guest kicks other CPUs if it needs them. With none
	// idle, every vCPU gets a pending wake-up, for one about to idle.
	for _, c := range v.cpus {
		if c.idling.Load() {
			select {
			case c.wake <- struct{}{}:
			default:
			}
			return
		}
	}
	for _, c := range v.cpus {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// deviceLog reports guest driver errors found by a device on stderr.
func (v *vm) deviceLog(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	v.out.mu.Lock()
	defer v.out.mu.Unlock()
	fmt.Fprintf(v.cfg.Stderr, "mote: %s\n", msg)
}

// netStats appends the network devices' counters to the stats line.
func (v *vm) netStats(b *strings.Builder) {
	if len(v.nets) == 0 {
		return
	}
	var s virtionet.Stats
	for _, nd := range v.nets {
		st := nd.dev.Stats()
		s.TxFrames += st.TxFrames
		s.TxBytes += st.TxBytes
		s.TxDrops += st.TxDrops
		s.RxFrames += st.RxFrames
		s.RxBytes += st.RxBytes
		s.RxDrops += st.RxDrops
		s.Kicks += st.Kicks
		s.PollerWakeups += st.PollerWakeups
		s.GuestWakes += st.GuestWakes
	}
	fmt.Fprintf(b, " net_tx_frames=%d net_tx_bytes=%d net_tx_drops=%d net_rx_frames=%d net_rx_bytes=%d net_rx_drops=%d net_kicks=%d net_poller_wakeups=%d net_guest_wakes=%d",
		s.TxFrames, s.TxBytes, s.TxDrops, s.RxFrames, s.RxBytes, s.RxDrops, s.Kicks, s.PollerWakeups, s.GuestWakes)
}

var (
	_ link.Endpoint = (*tap.Tap)(nil)
	_ link.Endpoint = (*usernet.Network)(nil)
)
