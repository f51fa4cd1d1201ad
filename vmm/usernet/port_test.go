package usernet

import (
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParsePort(t *testing.T) {
	t.Parallel()
	lo := netip.MustParseAddr("127.0.0.1")
	v6 := netip.MustParseAddr("::1")
	good := []struct {
		spec string
		want PortForward
		str  string
	}{
		{"8080:80", PortForward{"tcp", netip.Addr{}, 8080, 80}, "8080:80/tcp"},
		{"8080:80/tcp", PortForward{"tcp", netip.Addr{}, 8080, 80}, "8080:80/tcp"},
		{"5353:53/udp", PortForward{"udp", netip.Addr{}, 5353, 53}, "5353:53/udp"},
		{"5353:53/UDP", PortForward{"udp", netip.Addr{}, 5353, 53}, "5353:53/udp"},
		{"127.0.0.1:8080:80", PortForward{"tcp", lo, 8080, 80}, "127.0.0.1:8080:80/tcp"},
		{"[::1]:8080:80", PortForward{"tcp", v6, 8080, 80}, "[::1]:8080:80/tcp"},
		{"[::1]:8080:80/udp", PortForward{"udp", v6, 8080, 80}, "[::1]:8080:80/udp"},
		{"[::ffff:127.0.0.1]:1:65535", PortForward{"tcp", lo, 1, 65535}, "127.0.0.1:1:65535/tcp"},
	}
	for _, c := range good {
		p, err := ParsePort(c.spec)
		if err != nil {
			t.Errorf("ParsePort(%q): %v", c.spec, err)
			continue
		}
		if !reflect.DeepEqual(p, c.want) {
			t.Errorf("ParsePort(%q) = %+v, want %+v", c.spec, p, c.want)
		}
		if s := p.String(); s != c.str {
			t.Errorf("ParsePort(%q).String() = %q, want %q", c.spec, s, c.str)
		}
		if q, err := ParsePort(p.String()); err != nil || q != p {
			t.Errorf("ParsePort(%q) does not round-trip: %+v, %v", p.String(), q, err)
		}
	}
	bad := map[string]string{
		"":                   "two ports",
		"8080":               "two ports",
		"8080:80/sctp":       "not tcp or udp",
		"0:80":               "host port",
		"8080:0":             "guest port",
		"8080:65536":         "guest port",
		"x:80":               "host port",
		"1.2.3:8080:80":      "not an IP address",
		":8080:80":           "empty host address",
		"::1:8080:80":        "brackets",
		"[::1:8080:80":       "missing ]",
		"[127.0.0.1]:1:2":    "brackets are for IPv6",
		"[::1]8080:80":       "want : after ]",
		"a:b:c:d":            "too many colons",
		"127.0.0.1:8080:80:": "too many colons",
		"fe80::1:8080:80":    "brackets",
	}
	for spec, want := range bad {
		_, err := ParsePort(spec)
		if err == nil {
			t.Errorf("ParsePort(%q) succeeded", spec)
			continue
		}
		if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+spec+`"`) {
			t.Errorf("ParsePort(%q) error %q: want it to name the spec and say %q", spec, err, want)
		}
	}
}

func TestHostResolvers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "resolv.conf")
	os.WriteFile(p, []byte("# comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver  2001:db8::53\nnameserver bogus\noptions ndots:2\n"), 0o644)
	got := hostResolvers(p)
	want := []netip.AddrPort{netip.MustParseAddrPort("192.0.2.53:53"), netip.MustParseAddrPort("[2001:db8::53]:53")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hostResolvers = %v, want %v", got, want)
	}
	if got := hostResolvers(filepath.Join(dir, "missing")); len(got) != 2 || got[0].String() != "127.0.0.1:53" {
		t.Errorf("hostResolvers(missing) = %v, want the loopback defaults", got)
	}
}
