package guestnet

import (
	"os"
	"sync"
	"syscall"
	"unsafe"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// devLink is the NIC: a stack.LinkEndpoint over the kernel's virtio-net
// device file. Frames are Ethernet frames.
type devLink struct {
	fd   int
	file *os.File
	mtu  uint32
	mac  tcpip.LinkAddress

	mu         sync.RWMutex
	dispatcher stack.NetworkDispatcher

	wmu  sync.Mutex
	iovs []syscall.Iovec
}

var _ stack.LinkEndpoint = (*devLink)(nil)

func newDevLink(fd int, mtu uint32, mac [6]byte) *devLink {
	return &devLink{
		fd:   fd,
		file: os.NewFile(uintptr(fd), "virtio-net"),
		mtu:  mtu,
		mac:  tcpip.LinkAddress(mac[:]),
	}
}

func (l *devLink) MTU() uint32                    { return l.mtu }
func (l *devLink) SetMTU(mtu uint32)              { l.mtu = mtu }
func (l *devLink) MaxHeaderLength() uint16        { return header.EthernetMinimumSize }
func (l *devLink) LinkAddress() tcpip.LinkAddress { return l.mac }
func (l *devLink) SetLinkAddress(a tcpip.LinkAddress) {
	l.mac = a
}
func (l *devLink) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}
func (l *devLink) Wait()                                   {}
func (l *devLink) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (l *devLink) Close()                                  {}
func (l *devLink) SetOnCloseAction(func())                 {}

func (l *devLink) Attach(d stack.NetworkDispatcher) {
	l.mu.Lock()
	first := l.dispatcher == nil && d != nil
	l.dispatcher = d
	l.mu.Unlock()
	if first {
		go l.receive()
	}
}

func (l *devLink) IsAttached() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.dispatcher != nil
}

func (l *devLink) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

func (l *devLink) ParseHeader(pkt *stack.PacketBuffer) bool {
	b, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	if !ok {
		return false
	}
	pkt.NetworkProtocolNumber = header.Ethernet(b).Type()
	return true
}

// WritePackets sends each packet with one writev on the device file. The
// kernel copies it into a transmit buffer, so the packet is free at once.
func (l *devLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	n := 0
	for _, pkt := range pkts.AsSlice() {
		iovs := l.iovs[:0]
		for _, s := range pkt.AsSlices() {
			if len(s) > 0 {
				iovs = append(iovs, syscall.Iovec{Base: &s[0], Len: uint64(len(s))})
			}
		}
		l.iovs = iovs
		if len(iovs) == 0 {
			n++
			continue
		}
		_, e := rawSyscall(syscall.SYS_WRITEV, uintptr(l.fd), uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)))
		clear(iovs) // drop the references to packet memory
		if e != 0 {
			if n == 0 {
				return 0, &tcpip.ErrClosedForSend{}
			}
			break
		}
		n++
	}
	return n, nil
}

// receive injects received frames into the stack. It blocks in the
// netpoller (epoll on the device file) while no frames are waiting.
func (l *devLink) receive() {
	buf := make([]byte, int(l.mtu)+header.EthernetMinimumSize)
	for {
		n, err := l.file.Read(buf)
		if err != nil {
			return
		}
		if n < header.EthernetMinimumSize {
			continue
		}
		l.mu.RLock()
		d := l.dispatcher
		l.mu.RUnlock()
		if d == nil {
			continue
		}
		pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
			Payload: buffer.MakeWithData(buf[:n]),
		})
		if !l.ParseHeader(pkt) {
			pkt.DecRef()
			continue
		}
		eth := header.Ethernet(pkt.LinkHeader().Slice())
		dst := eth.DestinationAddress()
		switch {
		case dst == header.EthernetBroadcastAddress:
			pkt.PktType = tcpip.PacketBroadcast
		case header.IsMulticastEthernetAddress(dst):
			pkt.PktType = tcpip.PacketMulticast
		case dst == l.mac:
			pkt.PktType = tcpip.PacketHost
		default:
			pkt.PktType = tcpip.PacketOtherHost
		}
		d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
		pkt.DecRef()
	}
}
