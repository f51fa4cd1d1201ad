package tap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netns creates a network namespace with a tap device tap0 (10.99.0.1/24,
// up, MTU 9000) and a tun device tun0, removed when the test ends.
func netns(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("the tap tests need root (a network namespace and a tap device)")
		}
		t.Skip("not root: cannot create a network namespace and a tap device")
	}
	ns := fmt.Sprintf("mote-taptest-%d", os.Getpid())
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("ip", "-n", ns, "link", "set", "lo", "up")
	run("ip", "-n", ns, "tuntap", "add", "dev", "tap0", "mode", "tap")
	run("ip", "-n", ns, "tuntap", "add", "dev", "tun0", "mode", "tun")
	run("ip", "-n", ns, "link", "set", "tap0", "mtu", "9000")
	run("ip", "-n", ns, "addr", "add", "10.99.0.1/24", "dev", "tap0")
	run("ip", "-n", ns, "link", "set", "tap0", "up")
	run("ip", "-n", ns, "link", "set", "tun0", "up")
	run("ip", "-n", ns, "tuntap", "add", "dev", "tapdown", "mode", "tap")
	return ns
}

// inNetns runs fn on a thread that has entered network namespace ns.
func inNetns(t *testing.T, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(orig)
	nsfd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(nsfd)
	if err := unix.Setns(nsfd, unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	fn()
	if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
		t.Fatalf("cannot return to the original network namespace: %v", err) // the thread stays locked and dies
	}
	runtime.UnlockOSThread()
}

var (
	guestMAC = []byte{0x02, 0, 0, 0, 0, 0x02}
	guestIP  = []byte{10, 99, 0, 2}
	hostIP   = []byte{10, 99, 0, 1}
	be       = binary.BigEndian
)

func arpRequest() []byte {
	f := append(append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, guestMAC...), 0x08, 0x06)
	f = append(f, 0, 1, 0x08, 0, 6, 4, 0, 1)
	f = append(append(f, guestMAC...), guestIP...)
	f = append(append(f, 0, 0, 0, 0, 0, 0), hostIP...)
	return f
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(be.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func echoRequest(dstMAC []byte, payload []byte) []byte {
	icmp := append([]byte{8, 0, 0, 0, 0x12, 0x34, 0, 1}, payload...)
	be.PutUint16(icmp[2:], checksum(icmp))
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0}
	be.PutUint16(ip[2:], uint16(20+len(icmp)))
	ip = append(append(ip, guestIP...), hostIP...)
	be.PutUint16(ip[10:], checksum(ip))
	f := append(append(append([]byte(nil), dstMAC...), guestMAC...), 0x08, 0x00)
	return append(append(f, ip...), icmp...)
}

// TestTap exchanges ARP and ICMP echo with the host kernel through a tap
// device in a network namespace.
func TestTap(t *testing.T) {
	ns := netns(t)
	var tp *Tap
	inNetns(t, ns, func() {
		var err error
		if tp, err = Open("tap0"); err != nil {
			t.Fatal(err)
		}
	})
	defer tp.Close()
	if tp.MTU() != 9000 {
		t.Errorf("MTU %d, want 9000", tp.MTU())
	}
	frames := make(chan []byte, 100)
	if err := tp.Start(func(f []byte) bool {
		frames <- append([]byte(nil), f...)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	// exchange sends out (again every 200 ms, as a network stack would)
	// and returns the first frame from the host that match accepts.
	exchange := func(what string, out []byte, match func([]byte) bool) []byte {
		t.Helper()
		timeout := time.After(10 * time.Second)
		resend := time.NewTicker(200 * time.Millisecond)
		defer resend.Stop()
		for {
			if err := tp.WriteFrame(out); err != nil {
				t.Fatal(err)
			}
			for again := false; !again; {
				select {
				case f := <-frames:
					if match(f) {
						return f
					}
				case <-resend.C:
					again = true
				case <-timeout:
					t.Fatalf("no %s from the host", what)
				}
			}
		}
	}
	reply := exchange("ARP reply", arpRequest(), func(f []byte) bool {
		return len(f) >= 42 && be.Uint16(f[12:]) == 0x0806 && be.Uint16(f[20:]) == 2 && bytes.Equal(f[28:32], hostIP)
	})
	hostMAC := reply[22:28]
	payload := bytes.Repeat([]byte("mote"), 2000) // 8000 bytes: a jumbo frame
	echo := exchange("echo reply", echoRequest(hostMAC, payload), func(f []byte) bool {
		return len(f) > 34 && be.Uint16(f[12:]) == 0x0800 && f[23] == 1 && f[34] == 0
	})
	if got := echo[42:]; !bytes.Equal(got, payload) {
		t.Errorf("echo payload of %d bytes differs", len(got))
	}
	// Close ends delivery; the device stays.
	if err := tp.Close(); err != nil {
		t.Fatal(err)
	}
	inNetns(t, ns, func() {
		again, err := Open("tap0")
		if err != nil {
			t.Fatalf("reopen after Close: %v", err)
		}
		again.Close()
	})
}

func TestOpenErrors(t *testing.T) {
	ns := netns(t)
	inNetns(t, ns, func() {
		first, err := Open("tap0")
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		for _, c := range []struct{ name, want string }{
			{"nosuch0", "no such device (create it: ip tuntap add dev nosuch0 mode tap; ip link set nosuch0 up)"},
			{"lo", "not a tap device"},
			{"tun0", "not a tap device"},
			{"tapdown", "the device is down (bring it up: ip link set tapdown up)"},
			{"tap0", "in use by another process"},
			{"", "not a valid interface name"},
			{"abcdefghijklmnopq", "not a valid interface name"},
		} {
			tp, err := Open(c.name)
			if err == nil {
				tp.Close()
				t.Errorf("Open(%q) succeeded", c.name)
				continue
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open(%q): %v, want %q", c.name, err, c.want)
			}
		}
	})
}
