// Package tap is a link.Endpoint on an existing Linux tap device: the
// guest's Ethernet frames go to the tap and the host's come back from it,
// so the guest is a machine on whatever the host connects the tap to (a
// bridge, routes, NAT rules the administrator sets up).
package tap

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Tap is an open tap device. It implements link.Endpoint.
type Tap struct {
	name string
	f    *os.File
	rc   syscall.RawConn
	mtu  int

	mu      sync.Mutex
	started bool
	closed  bool
	done    chan struct{} // closed when the reader has returned
}

// Open attaches to the existing tap device name (IFF_TAP, no packet
// information header). The errors are phrases for the user, to follow the
// device's name: the device does not exist, is not a tap, is in use, or may
// not be used by this user.
func Open(name string) (*Tap, error) {
	if name == "" || len(name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("%q is not a valid interface name (1 to %d bytes)", name, unix.IFNAMSIZ-1)
	}
	// The device must exist: TUNSETIFF would create a new one otherwise
	// (for root), which nothing would route to.
	mtu, up, err := ifInfo(name)
	if err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("no such device (create it: ip tuntap add dev %s mode tap; ip link set %s up)", name, name)
		}
		return nil, fmt.Errorf("cannot read the interface's MTU and flags: %v", err)
	}
	if !up { // the guest would see a silent network: every write fails
		return nil, fmt.Errorf("the device is down (bring it up: ip link set %s up)", name)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
			return nil, errors.New("/dev/net/tun does not exist (load the tun module: modprobe tun)")
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return nil, errors.New("no permission to open /dev/net/tun")
		}
		return nil, fmt.Errorf("cannot open /dev/net/tun: %v", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		switch {
		case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
			return nil, fmt.Errorf("no permission to use the tap device (create it for your user: ip tuntap add dev %s mode tap user $USER; or run as root)", name)
		case errors.Is(err, unix.EBUSY):
			return nil, errors.New("the tap device is in use by another process")
		case errors.Is(err, unix.EINVAL):
			return nil, errors.New("not a tap device (a tun device or another kind of interface; create a tap: ip tuntap add dev NAME mode tap)")
		}
		return nil, fmt.Errorf("cannot attach to the tap device: %v", err)
	}
	// A non-blocking fd: reads go through Go's poller.
	f := os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Tap{name: name, f: f, rc: rc, mtu: mtu, done: make(chan struct{})}, nil
}

// ifInfo returns the MTU of interface name (SIOCGIFMTU) and whether it is
// up (SIOCGIFFLAGS).
func ifInfo(name string) (mtu int, up bool, err error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, false, err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, false, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, false, err
	}
	mtu = int(ifr.Uint32())
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return 0, false, err
	}
	return mtu, ifr.Uint16()&unix.IFF_UP != 0, nil
}

// Name is the tap device's name.
func (t *Tap) Name() string { return t.name }

// MTU is the tap device's MTU when it was opened.
func (t *Tap) MTU() int { return t.mtu }

// Start delivers the frames the host sends to the tap, from one goroutine.
func (t *Tap) Start(deliver func(frame []byte) bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("tap: Start after Close")
	}
	if t.started {
		return errors.New("tap: Start called twice")
	}
	t.started = true
	go t.read(deliver)
	return nil
}

func (t *Tap) read(deliver func([]byte) bool) {
	defer close(t.done)
	buf := make([]byte, 14+max(t.mtu, 1500)+4) // room for a VLAN tag
	for {
		n, err := t.f.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			// EIO while the device is down, for instance: retry, slowly.
			t.mu.Lock()
			closed := t.closed
			t.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if n > 0 {
			deliver(buf[:n])
		}
	}
}

// WriteFrame sends a frame to the host. It never waits: a frame the tap
// does not take is dropped, as on a congested wire.
func (t *Tap) WriteFrame(frame []byte) error {
	var werr error
	err := t.rc.Write(func(fd uintptr) bool {
		_, werr = unix.Write(int(fd), frame)
		return true // never wait for writability
	})
	if err != nil {
		return err
	}
	return werr
}

// Close detaches from the tap device (which stays, for the next guest).
// No frame is delivered after Close returns.
func (t *Tap) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	started := t.started
	t.mu.Unlock()
	err := t.f.Close()
	if started {
		<-t.done
	}
	return err
}
