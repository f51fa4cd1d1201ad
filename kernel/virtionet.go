package kernel

import (
	"sync/atomic"
	"unsafe"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/virtio"
)

// The virtio-net driver (virtio 1.x over MMIO, split virtqueues).
//
// Design, for a machine where every exit costs ~100 µs (PLATFORM.md):
//   - No interrupts. Received frames are noticed by polling the rx used ring
//     at scheduling points (devPoll: every pass of the scheduler, every
//     epoll_wait, every timer tick); a guest with nothing to run sleeps in
//     HcIdle, which the device ends when it fills rx buffers.
//   - No kick while the device polls: the driver writes QueueNotify only
//     when the used ring lacks UsedFNoNotify, after a full barrier between
//     publishing the avail index and reading the flag (the device clears the
//     flag, then re-reads the avail index, before it sleeps).
//   - The device is initialised on first use (SysNetOpen), so images that
//     never open it pay no register exits at boot.
//
// The network stack above (package guestnet) sees a file descriptor: read
// takes one frame, write sends one, epoll says when frames are waiting.

const (
	netQueueMax = 256
	netRxMemMax = 4 << 20 // bound on rx buffer memory with large MTUs
	// Transmitted frames are copied out and completed by the device at
	// once, so the tx ring needs fewer buffers.
	netTxMemMax = 1 << 20
)

// vq is one split virtqueue, driver side. Descriptor i always points at
// buffer i (bufBase + i*bufSize).
type vq struct {
	num      uint32
	desc     uint64
	avail    uint64
	used     uint64
	bufBase  uint64
	bufSize  uint64
	nextUsed uint16 // next used element to consume
	availIdx uint16 // next avail slot to fill
	// tx: free descriptor ids (a stack).
	nfree uint32
	free  [netQueueMax]uint16
}

type netDev struct {
	state  int32 // 0 unprobed, 1 absent, 2 ready, 3 failed
	base   uint64
	mac    [6]byte
	mtu    uint32
	fi     int32  // open file, -1 if none
	rxSeen uint16 // used idx last reported to epoll
	// rxFlags is the rx available ring's flags: AvailFNoInterrupt while
	// the guest runs (it polls), cleared only around HcIdle, so frames
	// arriving while it is busy cost no wake-up in the monitor.
	rxFlags uint16
	// A kick owed to the device for frames published while it slept
	// (see netFlushKick), and when the first of them was published.
	kickPending  bool
	pendingSince int64
	pendingCount uint32
	rx, tx       vq
}

// Kicks are deferred: a guest answering a request sends an ACK and then
// the response, and a busy guest sends many frames between two scheduling
// points; one kick for all of them is enough. A kick is owed at most
// kickDelay ns or kickBatch frames.
const (
	kickDelay = 50_000
	kickBatch = 32
)

var netdev = netDev{fi: -1}

// Counters for --debug and MOTE_STATS.
var netKicks, netTxFrames, netRxFrames uint64

func (q *vq) descAt(i uint32) *virtio.Desc {
	return (*virtio.Desc)(unsafe.Pointer(uintptr(q.desc + uint64(i)*virtio.DescSize)))
}

func (q *vq) usedIdx() uint16 {
	return uint16(atomic.LoadUint32((*uint32)(unsafe.Pointer(uintptr(q.used)))) >> 16)
}

func (q *vq) usedFlags() uint16 {
	return uint16(atomic.LoadUint32((*uint32)(unsafe.Pointer(uintptr(q.used)))))
}

// usedElem returns the id and length of used element i.
func (q *vq) usedElem(i uint16) (uint32, uint32) {
	p := q.used + 4 + uint64(uint32(i)%q.num)*virtio.UsedElemSize
	return *(*uint32)(unsafe.Pointer(uintptr(p))), *(*uint32)(unsafe.Pointer(uintptr(p + 4)))
}

// push makes descriptor id available and publishes the new index with a
// full barrier (the XCHG of the atomic store), so the flag read that
// decides on a kick cannot pass it.
func (q *vq) push(id uint16, flags uint16) {
	slot := q.avail + 4 + 2*uint64(uint32(q.availIdx)%q.num)
	*(*uint16)(unsafe.Pointer(uintptr(slot))) = id
	q.availIdx++
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(q.avail))), uint32(q.availIdx)<<16|uint32(flags))
}

func netReg(off uint64) uint32       { return mmioRead32(netdev.base + off) }
func netSetReg(off uint64, v uint32) { mmioWrite32(netdev.base+off, v) }

// netProbe finds and initialises the first virtio-net device.
func netProbe() {
	if netdev.state != 0 {
		return
	}
	netdev.state = 1
	for i := uint64(0); i < uint64(virtioCount()); i++ {
		base := virtioWindow(i)
		if mmioRead32(base+virtio.RegMagic) != virtio.MagicValue ||
			mmioRead32(base+virtio.RegVersion) != virtio.MMIOVersion ||
			mmioRead32(base+virtio.RegDeviceID) != virtio.DeviceNet {
			continue
		}
		netdev.base = base
		if netInit() {
			netdev.state = 2
		} else {
			netSetReg(virtio.RegStatus, virtio.StatusFailed)
			netdev.state = 3
			// Without it the program would run unreachable (its
			// listeners on the guest's loopback only): stop instead.
			kprint("mote: the virtio-net device failed to initialise (too little guest memory for its buffers? raise --memory); stopping the guest\n")
			exitGuest(mountFailedStatus)
		}
		return
	}
}

// virtioCount is the number of virtio-mmio windows the monitor filled.
func virtioCount() uint32 {
	bi := (*abi.BootInfo)(unsafe.Pointer(uintptr(abi.BootInfoBase)))
	return min(bi.NumVirtio, abi.MaxVirtio)
}

// virtioWindow is the address of virtio-mmio window i.
func virtioWindow(i uint64) uint64 { return abi.VirtioMMIOBase + i*abi.VirtioMMIOStride }

// netInit runs the virtio initialisation sequence (spec 3.1.1).
func netInit() bool {
	netSetReg(virtio.RegStatus, 0)
	netSetReg(virtio.RegStatus, virtio.StatusAcknowledge)
	netSetReg(virtio.RegStatus, virtio.StatusAcknowledge|virtio.StatusDriver)
	netSetReg(virtio.RegDeviceFeatSel, 0)
	lo := netReg(virtio.RegDeviceFeatures)
	netSetReg(virtio.RegDeviceFeatSel, 1)
	hi := netReg(virtio.RegDeviceFeatures)
	if hi&(1<<(virtio.FVersion1-32)) == 0 {
		return false
	}
	want := lo & (1<<virtio.FNetMAC | 1<<virtio.FNetMTU)
	netSetReg(virtio.RegDriverFeatSel, 0)
	netSetReg(virtio.RegDriverFeatures, want)
	netSetReg(virtio.RegDriverFeatSel, 1)
	netSetReg(virtio.RegDriverFeatures, 1<<(virtio.FVersion1-32))
	st := uint32(virtio.StatusAcknowledge | virtio.StatusDriver | virtio.StatusFeaturesOK)
	netSetReg(virtio.RegStatus, st)
	if netReg(virtio.RegStatus)&virtio.StatusFeaturesOK == 0 {
		return false
	}
	netdev.mtu = 1500
	if want&(1<<virtio.FNetMAC) != 0 {
		m0 := netReg(virtio.RegConfig + virtio.NetCfgMAC)
		m1 := netReg(virtio.RegConfig + 4)
		for i := 0; i < 4; i++ {
			netdev.mac[i] = byte(m0 >> (8 * i))
		}
		netdev.mac[4], netdev.mac[5] = byte(m1), byte(m1>>8)
	} else {
		// A locally administered address from the boot entropy.
		var r [6]byte
		randomFill(uint64(uintptr(unsafe.Pointer(&r[0]))), 6)
		r[0] = r[0]&0xfe | 0x02
		netdev.mac = r
	}
	if want&(1<<virtio.FNetMTU) != 0 {
		if m := netReg(virtio.RegConfig+8) >> 16; m >= 68 {
			netdev.mtu = m
		}
	}
	bufSize := (uint64(virtio.NetHdrSize) + 14 + uint64(netdev.mtu) + 63) &^ 63
	if !queueInit(&netdev.rx, virtio.NetRxQueue, bufSize, netRxMemMax) ||
		!queueInit(&netdev.tx, virtio.NetTxQueue, bufSize, netTxMemMax) {
		return false
	}
	// Every rx buffer goes to the device at once.
	rx := &netdev.rx
	netdev.rxFlags = virtio.AvailFNoInterrupt
	for i := uint32(0); i < rx.num; i++ {
		d := rx.descAt(i)
		d.Flags = virtio.DescFWrite
		rx.push(uint16(i), netdev.rxFlags)
	}
	// tx: all free; the driver polls completions, so no wake-ups.
	tx := &netdev.tx
	for i := uint32(0); i < tx.num; i++ {
		tx.free[i] = uint16(tx.num - 1 - i)
	}
	tx.nfree = tx.num
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(tx.avail))), virtio.AvailFNoInterrupt)
	netSetReg(virtio.RegStatus, st|virtio.StatusDriverOK)
	if netReg(virtio.RegStatus)&virtio.StatusNeedsReset != 0 {
		return false
	}
	netKick(virtio.NetRxQueue)
	return true
}

// queueInit sets up virtqueue idx with buffers of bufSize bytes, using at
// most memMax bytes of buffers.
func queueInit(q *vq, idx uint32, bufSize, memMax uint64) bool {
	netSetReg(virtio.RegQueueSel, idx)
	max := netReg(virtio.RegQueueNumMax)
	if max == 0 {
		return false
	}
	num := uint32(netQueueMax)
	for num > max || (num > 16 && uint64(num)*bufSize > memMax) {
		num /= 2
	}
	if num > max { // max is not a power of two below 16
		num = max
	}
	// A small guest may not have the kernel memory for all the buffers:
	// fewer will do (down to 16).
	buf := kallocPages((uint64(num)*bufSize + pageSize - 1) / pageSize)
	for buf == 0 && num > 16 {
		num /= 2
		buf = kallocPages((uint64(num)*bufSize + pageSize - 1) / pageSize)
	}
	if buf == 0 || !vqSetup(netdev.base, q, idx, num) {
		return false
	}
	q.bufSize = bufSize
	q.bufBase = buf
	for i := uint32(0); i < num; i++ {
		d := q.descAt(i)
		d.Addr = buf + uint64(i)*bufSize
		d.Len = uint32(bufSize)
	}
	return true
}

// netFlushKick kicks the device if frames wait for it: at every scheduling
// point, epoll wait and tick, and from netWrite when the kick has waited
// long enough. A device that woke meanwhile (UsedFNoNotify set) takes the
// frames without one: it looks at the available ring again before it
// sleeps, and the XCHG of push ordered the frames before this look.
func netFlushKick() {
	if !netdev.kickPending {
		return
	}
	netdev.kickPending = false
	if netdev.tx.usedFlags()&virtio.UsedFNoNotify == 0 {
		netKick(virtio.NetTxQueue)
	}
}

func netKick(queue uint32) {
	netKicks++
	netSetReg(virtio.RegQueueNotify, queue)
}

// sysNetOpen implements abi.SysNetOpen.
func sysNetOpen(info uint64) int64 {
	if !userOK(info, uint64(unsafe.Sizeof(abi.NetInfo{})), true) {
		return -eFAULT
	}
	netProbe()
	if netdev.state != 2 {
		return -eNODEV
	}
	if netdev.fi >= 0 {
		return -eBUSY
	}
	fi := allocFile(fkNetdev, oRdwr|oNonblock)
	if fi < 0 {
		return -eMFILE
	}
	fd := installFd(fi, 0, true)
	if fd < 0 {
		releaseFile(fi)
		return fd
	}
	netdev.fi = fi
	ni := (*abi.NetInfo)(unsafe.Pointer(uintptr(info)))
	ni.MAC = netdev.mac
	ni.MTU = netdev.mtu
	bi := (*abi.BootInfo)(unsafe.Pointer(uintptr(abi.BootInfoBase)))
	ni.Config = bi.Net
	return fd
}

// netClosed is called when the device's file is released.
func netClosed() { netdev.fi = -1 }

// netReadiness reports the device file's epoll events.
func netReadiness() uint32 {
	ev := uint32(0)
	if netdev.rx.usedIdx() != netdev.rx.nextUsed {
		ev |= epollIn
	}
	if netdev.tx.nfree > 0 || netdev.tx.usedIdx() != netdev.tx.nextUsed {
		ev |= epollOut
	}
	return ev
}

// devPoll reports newly received frames to epoll watchers. It runs at
// every scheduling point, so it must stay a couple of loads when idle.
func devPoll() {
	if np9devs > 0 {
		p9PollAll()
	}
	if atomic.LoadUint64(&(*abi.BootInfo)(unsafe.Pointer(uintptr(abi.BootInfoBase))).HostSignals) != 0 {
		hostSignals()
	}
	if netdev.fi < 0 {
		return
	}
	netFlushKick()
	if u := netdev.rx.usedIdx(); u != netdev.rxSeen {
		netdev.rxSeen = u
		notifyFile(netdev.fi)
	}
}

// netIdleBegin asks the device to wake the guest for received frames; it
// reports false if frames arrived meanwhile (the caller must not idle).
func netIdleBegin() bool {
	if netdev.state != 2 {
		return true
	}
	rx := &netdev.rx
	netdev.rxFlags = 0
	// A full barrier (XCHG) between clearing the flag and the last look
	// at the used index: the device reads the flag after publishing.
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(rx.avail))), uint32(rx.availIdx)<<16)
	return netdev.fi < 0 || rx.usedIdx() == netdev.rxSeen
}

// netIdleEnd goes back to polling.
func netIdleEnd() {
	if netdev.state != 2 {
		return
	}
	rx := &netdev.rx
	netdev.rxFlags = virtio.AvailFNoInterrupt
	atomic.StoreUint32((*uint32)(unsafe.Pointer(uintptr(rx.avail))), uint32(rx.availIdx)<<16|virtio.AvailFNoInterrupt)
}

// netRead copies one received frame into [p, p+n) and returns its length;
// a frame longer than n is truncated, as a datagram read is. Empty frames
// (a used buffer no longer than the header) are skipped: a read of 0 would
// look like end of file to the reader.
func netRead(f *file, p, n uint64) int64 {
	rx := &netdev.rx
	var id, l uint32
	for {
		for rx.usedIdx() == rx.nextUsed {
			if f.flags&oNonblock != 0 {
				return -eAGAIN
			}
			if block(uptime()+50_000, true) == wakeSignal {
				return -eINTR
			}
		}
		id, l = rx.usedElem(rx.nextUsed)
		rx.nextUsed++
		if id >= rx.num {
			kpanic("mote: virtio-net device returned a bad rx descriptor")
		}
		if l > virtio.NetHdrSize {
			break
		}
		rx.push(uint16(id), netdev.rxFlags)
	}
	m := uint64(l) - virtio.NetHdrSize
	if m > rx.bufSize-virtio.NetHdrSize {
		m = rx.bufSize - virtio.NetHdrSize
	}
	if m > n {
		m = n
	}
	src := rx.bufBase + uint64(id)*rx.bufSize + virtio.NetHdrSize
	copy(userBytes(p, m), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(src))), m))
	rx.push(uint16(id), netdev.rxFlags)
	netRxFrames++
	return int64(m)
}

// txReclaim returns completed tx descriptors to the free stack.
func txReclaim() {
	tx := &netdev.tx
	for u := tx.usedIdx(); tx.nextUsed != u; tx.nextUsed++ {
		id, _ := tx.usedElem(tx.nextUsed)
		if id < tx.num && tx.nfree < tx.num {
			tx.free[tx.nfree] = uint16(id)
			tx.nfree++
		}
	}
}

// netWrite sends the frame gathered from iov (cnt entries; with iov == 0,
// the single buffer [p, p+n)), already validated by the caller.
func netWrite(f *file, iov, cnt, p, n uint64) int64 {
	tx := &netdev.tx
	txReclaim()
	for tx.nfree == 0 {
		// The device drains tx on its own, fast: even a non-blocking
		// writer waits for it rather than lose the frame.
		if block(uptime()+20_000, true) == wakeSignal {
			return -eINTR
		}
		txReclaim()
	}
	tx.nfree--
	id := tx.free[tx.nfree]
	buf := tx.bufBase + uint64(id)*tx.bufSize
	clear(unsafe.Slice((*byte)(unsafe.Pointer(uintptr(buf))), virtio.NetHdrSize))
	room := tx.bufSize - virtio.NetHdrSize
	dst := unsafe.Slice((*byte)(unsafe.Pointer(uintptr(buf+virtio.NetHdrSize))), room)
	total := uint64(0)
	if iov == 0 {
		if n > room {
			tx.nfree++
			return -eMSGSIZE
		}
		total = uint64(copy(dst, userBytes(p, n)))
	} else {
		for i := uint64(0); i < cnt; i++ {
			base, l := *userU64(iov + 16*i), *userU64(iov + 16*i + 8)
			if total+l > room {
				tx.nfree++
				return -eMSGSIZE
			}
			copy(dst[total:], userBytes(base, l))
			total += l
		}
	}
	tx.descAt(uint32(id)).Len = uint32(virtio.NetHdrSize + total)
	tx.push(id, virtio.AvailFNoInterrupt)
	netTxFrames++
	if tx.usedFlags()&virtio.UsedFNoNotify == 0 {
		if !netdev.kickPending {
			netdev.kickPending = true
			netdev.pendingSince = uptime()
			netdev.pendingCount = 0
		}
		netdev.pendingCount++
		if netdev.pendingCount >= kickBatch || tx.nfree < tx.num/4 || uptime()-netdev.pendingSince >= kickDelay {
			netFlushKick()
		}
	}
	return int64(total)
}
