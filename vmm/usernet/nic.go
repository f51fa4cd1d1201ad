package usernet

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// maxQueuedBytes bounds the frames waiting for the delivery goroutine; past
// it frames for the guest are dropped, as a full NIC ring would.
const maxQueuedBytes = 4 << 20

// nicEndpoint is the host netstack's link endpoint: Ethernet framing on one
// side, the guest's link.Endpoint calls on the other.
//
// Frames from the guest (inject) go into the netstack in the caller's
// goroutine. Frames to the guest (WritePackets, called from any netstack
// goroutine) go to deliver at once, in the caller's goroutine, while
// nothing is queued: no goroutine hop on the common path (the device's
// deliver takes only its receive lock, which nests inside its transmit
// lock, so this is safe inside a WriteFrame call too). When the guest has
// no receive buffer free, frames are copied into a byte arena and handed
// to deliver by one delivery goroutine, which takes the whole arena at a
// time and waits for the guest (see deliverLoop).
type nicEndpoint struct {
	n   *Network
	mtu uint32

	dispatcher atomic.Pointer[dispatcherRef]

	qmu     sync.Mutex
	q       frameQueue
	deliver func([]byte) bool // set by start
	busy    bool              // the delivery goroutine holds frames
	scratch []byte            // WritePackets' frame buffer, under qmu
	started bool
	stopped bool
	wake    chan struct{} // capacity 1: work may be queued
	done    chan struct{} // closed by stop
	exited  chan struct{} // closed by the delivery goroutine
}

type dispatcherRef struct{ d stack.NetworkDispatcher }

// frameQueue is a run of frames: frame i is buf[ends[i-1]:ends[i]].
type frameQueue struct {
	buf  []byte
	ends []int
}

var gatewayLinkAddr = tcpip.LinkAddress(GatewayMAC)

var _ stack.LinkEndpoint = (*nicEndpoint)(nil)

func newNICEndpoint(n *Network, mtu uint32) *nicEndpoint {
	return &nicEndpoint{
		n:      n,
		mtu:    mtu,
		wake:   make(chan struct{}, 1),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

func (e *nicEndpoint) start(deliver func([]byte) bool) error {
	e.qmu.Lock()
	defer e.qmu.Unlock()
	switch {
	case e.stopped:
		return errClosed
	case e.started:
		return errors.New("usernet: Start called twice")
	}
	e.started = true
	e.deliver = deliver
	go e.deliverLoop(deliver)
	if len(e.q.ends) > 0 { // frames from before Start
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// stop ends the delivery goroutine; frames queued or written later are
// dropped.
func (e *nicEndpoint) stop() {
	e.qmu.Lock()
	if e.stopped {
		e.qmu.Unlock()
		return
	}
	e.stopped = true
	started := e.started
	e.qmu.Unlock()
	close(e.done)
	if started {
		<-e.exited
	}
}

func (e *nicEndpoint) deliverLoop(deliver func([]byte) bool) {
	defer close(e.exited)
	var (
		batch   frameQueue
		timer   = time.NewTimer(time.Hour)
		stalled bool // the guest took nothing for stallLimit: drop, don't wait
	)
	timer.Stop()
	for {
		select {
		case <-e.wake:
		case <-e.done:
			return
		}
		for {
			e.qmu.Lock()
			cur := e.q
			e.q = frameQueue{buf: batch.buf[:0], ends: batch.ends[:0]}
			e.busy = len(cur.ends) > 0
			e.qmu.Unlock()
			batch = cur
			if len(batch.ends) == 0 {
				break
			}
			var out, dropped uint64
			start := 0
			for i := 0; i < len(batch.ends); {
				end := batch.ends[i]
				if deliver(batch.buf[start:end]) {
					out++
					stalled = false
				} else if !stalled {
					// The guest's receive ring is full. A NIC would drop,
					// but then every burst larger than the ring costs the
					// host's TCP a retransmission timeout; wait for the
					// guest to free buffers instead (as QEMU does), while
					// new frames queue up behind, bounded.
					var waited time.Duration
					for attempt := 0; ; attempt++ {
						d, ok := e.backoff(timer, attempt)
						if !ok {
							return
						}
						waited += d
						if deliver(batch.buf[start:end]) {
							out++
							break
						}
						if waited >= stallLimit {
							stalled = true
							dropped++
							break
						}
					}
				} else {
					dropped++
				}
				start = end
				i++
			}
			e.n.stats.framesOut.Add(out)
			if dropped != 0 {
				e.n.stats.framesDropped.Add(dropped)
			}
			select {
			case <-e.done:
				return
			default:
			}
		}
	}
}

// stallLimit is how long one frame waits for a guest receive buffer before
// the guest counts as not receiving and frames are dropped until it takes
// one again.
const stallLimit = 500 * time.Millisecond

// backoff waits before the attempt'th retry of a delivery: a few yields,
// then sleeps from 20µs doubling to 1.28ms. It returns the time waited, and
// false if the endpoint is stopping.
func (e *nicEndpoint) backoff(t *time.Timer, attempt int) (time.Duration, bool) {
	if attempt < 4 {
		runtime.Gosched()
		return 0, true
	}
	d := 20 * time.Microsecond << min(attempt-4, 6)
	t.Reset(d)
	select {
	case <-t.C:
		return d, true
	case <-e.done:
		t.Stop()
		return 0, false
	}
}

// inject hands one Ethernet frame from the guest to the netstack.
func (e *nicEndpoint) inject(frame []byte) error {
	ref := e.dispatcher.Load()
	if ref == nil {
		return errClosed
	}
	e.n.stats.framesIn.Add(1)
	if len(frame) < header.EthernetMinimumSize || len(frame) > int(e.mtu)+header.EthernetMinimumSize {
		return nil // a NIC drops runts and giants
	}
	eth := header.Ethernet(frame)
	dst := eth.DestinationAddress()
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if _, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize); !ok {
		return nil
	}
	switch {
	case dst == gatewayLinkAddr:
		pkt.PktType = tcpip.PacketHost
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	default:
		return nil // not for us
	}
	ref.d.DeliverNetworkPacket(eth.Type(), pkt)
	return nil
}

// WritePackets implements stack.LinkWriter: frames for the guest.
func (e *nicEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	var dropped, out uint64
	e.qmu.Lock()
	live := e.started && !e.stopped
	direct := live && len(e.q.ends) == 0 && !e.busy
	for _, pkt := range pkts.AsSlice() {
		size := pkt.Size()
		if direct {
			// The fast path: straight into the guest's receive ring.
			if cap(e.scratch) < size {
				e.scratch = make([]byte, 0, max(size, int(e.mtu)+header.EthernetMinimumSize))
			}
			b := appendFrame(e.scratch[:0], pkt)
			if e.deliver(b) {
				out++
				continue
			}
			direct = false // the ring is full: queue from here on
		}
		// Before Start the frames wait too: the host ports accept
		// connections before the device is there, and a SYN dropped
		// then would cost the client TCP's 1 s retransmission.
		if e.stopped || (len(e.q.ends) > 0 && len(e.q.buf)+size > maxQueuedBytes) {
			dropped++
			continue
		}
		e.q.buf = appendFrame(e.q.buf, pkt)
		e.q.ends = append(e.q.ends, len(e.q.buf))
	}
	queued := len(e.q.ends) > 0
	e.qmu.Unlock()
	if out != 0 {
		e.n.stats.framesOut.Add(out)
	}
	if dropped != 0 {
		e.n.stats.framesDropped.Add(dropped)
	}
	if live && queued {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
	return pkts.Len(), nil
}

// MTU implements stack.LinkEndpoint: the IP MTU.
func (e *nicEndpoint) MTU() uint32 { return e.mtu }

// SetMTU implements stack.LinkEndpoint; the MTU is fixed.
func (e *nicEndpoint) SetMTU(uint32) {}

// MaxHeaderLength implements stack.LinkEndpoint.
func (e *nicEndpoint) MaxHeaderLength() uint16 { return header.EthernetMinimumSize }

// LinkAddress implements stack.LinkEndpoint.
func (e *nicEndpoint) LinkAddress() tcpip.LinkAddress { return gatewayLinkAddr }

// SetLinkAddress implements stack.LinkEndpoint; the address is fixed.
func (e *nicEndpoint) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint. Frames from the guest come
// through memory, not a wire: their checksums are not verified.
func (e *nicEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload
}

// Attach implements stack.LinkEndpoint.
func (e *nicEndpoint) Attach(d stack.NetworkDispatcher) {
	if d == nil {
		e.dispatcher.Store(nil)
		return
	}
	e.dispatcher.Store(&dispatcherRef{d})
}

// IsAttached implements stack.LinkEndpoint.
func (e *nicEndpoint) IsAttached() bool { return e.dispatcher.Load() != nil }

// Wait implements stack.LinkEndpoint; stop ends the goroutine.
func (e *nicEndpoint) Wait() {}

// ARPHardwareType implements stack.LinkEndpoint.
func (e *nicEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }

// AddHeader implements stack.LinkEndpoint.
func (e *nicEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader implements stack.LinkEndpoint.
func (e *nicEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// Close implements stack.LinkEndpoint.
func (e *nicEndpoint) Close() {}

// SetOnCloseAction implements stack.LinkEndpoint.
func (e *nicEndpoint) SetOnCloseAction(func()) {}

// appendFrame appends pkt's bytes (link header first) to dst.
func appendFrame(dst []byte, pkt *stack.PacketBuffer) []byte {
	vl, off := pkt.AsViewList()
	for v := vl.Front(); v != nil; v = v.Next() {
		s := v.AsSlice()
		if off >= len(s) {
			off -= len(s)
			continue
		}
		dst = append(dst, s[off:]...)
		off = 0
	}
	return dst
}
