package virtq

import (
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Doorbell is what wakes a device's poller: the guest's kicks (an eventfd
// the monitor registers as the KVM ioeventfd of QueueNotify, also rung by
// the transport's Notify for kicks that arrive as MMIO exits) and the
// monitor's own pokes (a second eventfd). A poller that has nothing to do
// drains it (Drain), asks the guest for kicks, looks at its queues once
// more, and sleeps in Wait.
type Doorbell struct {
	kickFD, ctlFD int
	kicks         atomic.Uint64 // guest kicks seen
}

// NewDoorbell makes the two eventfds; name prefixes errors.
func NewDoorbell(name string) (*Doorbell, error) {
	b := &Doorbell{kickFD: -1, ctlFD: -1}
	var err error
	if b.kickFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return nil, fmt.Errorf("%s: eventfd: %v", name, err)
	}
	if b.ctlFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		unix.Close(b.kickFD)
		return nil, fmt.Errorf("%s: eventfd: %v", name, err)
	}
	return b, nil
}

// KickFD is the eventfd for the guest's kicks.
func (b *Doorbell) KickFD() int { return b.kickFD }

// Kicks is how many guest kicks the poller has seen.
func (b *Doorbell) Kicks() uint64 { return b.kicks.Load() }

// Kick rings as a guest kick does (a QueueNotify that exited).
func (b *Doorbell) Kick() { signal(b.kickFD) }

// Poke wakes the poller on the monitor's behalf.
func (b *Doorbell) Poke() { signal(b.ctlFD) }

func signal(fd int) {
	var one [8]byte
	binary.LittleEndian.PutUint64(one[:], 1)
	unix.Write(fd, one[:])
}

// readKicks consumes the kick eventfd, counting the kicks; it reports
// whether there were any.
func (b *Doorbell) readKicks() bool {
	var buf [8]byte
	if n, _ := unix.Read(b.kickFD, buf[:]); n == 8 {
		b.kicks.Add(binary.LittleEndian.Uint64(buf[:]))
		return true
	}
	return false
}

// Drain consumes the kicks and pokes sent while the poller was awake: what
// they asked for the poller looks at before it sleeps.
func (b *Doorbell) Drain() {
	b.readKicks()
	var buf [8]byte
	unix.Read(b.ctlFD, buf[:])
}

// Wait sleeps until a kick or a poke, or timeout (0: none), and consumes
// them. kicked reports a guest kick; woken a kick or a poke (false: the
// timeout).
func (b *Doorbell) Wait(timeout time.Duration) (kicked, woken bool) {
	fds := [2]unix.PollFd{{Fd: int32(b.kickFD), Events: unix.POLLIN}, {Fd: int32(b.ctlFD), Events: unix.POLLIN}}
	var ts *unix.Timespec
	if timeout > 0 {
		t := unix.NsecToTimespec(timeout.Nanoseconds())
		ts = &t
	}
	unix.Ppoll(fds[:], ts, nil)
	if fds[0].Revents != 0 && b.readKicks() {
		kicked = true
	}
	if fds[1].Revents != 0 {
		var buf [8]byte
		unix.Read(b.ctlFD, buf[:])
		woken = true
	}
	return kicked, kicked || woken
}

// Close closes the eventfds (once the poller has returned).
func (b *Doorbell) Close() {
	unix.Close(b.kickFD)
	unix.Close(b.ctlFD)
}
