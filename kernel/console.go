package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Console output: one HcWrite exit carries a whole buffer. User buffers may
// live anywhere in the address space, so they are copied into conbuf, which
// lies in the image's bss and therefore at VA == GPA.
var firstWriteUs int64 // uptime of the first console write (--debug report)

var (
	conbuf  [64 << 10]byte
	conargs abi.WriteArgs
)

// consoleWrite writes n bytes at user address p to fd (1 or 2). The caller
// has validated the range.
func consoleWrite(fd int, p, n uint64) int64 {
	if firstWriteUs == 0 {
		firstWriteUs = uptime() / 1000
	}
	var done uint64
	for done < n {
		c := n - done
		if c > uint64(len(conbuf)) {
			c = uint64(len(conbuf))
		}
		copy(conbuf[:c], userBytes(p+done, c))
		conargs = abi.WriteArgs{Fd: uint64(fd), Buf: uint64(uintptr(unsafe.Pointer(&conbuf[0]))), Len: c}
		hypercall(abi.HcWrite, uint64(uintptr(unsafe.Pointer(&conargs))))
		if conargs.Result < 0 {
			if done > 0 {
				return int64(done)
			}
			return conargs.Result
		}
		done += uint64(conargs.Result)
		if uint64(conargs.Result) < c {
			break
		}
	}
	return int64(done)
}

// kprint writes a kernel message to stderr.
func kprint(s string) {
	if len(s) == 0 {
		return
	}
	conargs = abi.WriteArgs{Fd: 2, Buf: uint64(uintptr(unsafe.Pointer(unsafe.StringData(s)))), Len: uint64(len(s))}
	hypercall(abi.HcWrite, uint64(uintptr(unsafe.Pointer(&conargs))))
}

// kprintNum writes v in decimal to stderr.
func kprintNum(v int64) {
	var b [24]byte
	i := len(b)
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	if neg {
		i--
		b[i] = '-'
	}
	copy(conbuf[:], b[i:])
	conargs = abi.WriteArgs{Fd: 2, Buf: uint64(uintptr(unsafe.Pointer(&conbuf[0]))), Len: uint64(len(b) - i)}
	hypercall(abi.HcWrite, uint64(uintptr(unsafe.Pointer(&conargs))))
}

// kpanic stops the guest with msg (a string literal: it must be addressable
// by the monitor, and literals live in the image at VA == GPA).
func kpanic(msg string) {
	c := thisCPU()
	c.fatal = abi.FatalReport{Vector: ^uint64(0), Msg: uint64(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), MsgLen: uint64(len(msg))}
	fatalHC(uint64(uintptr(unsafe.Pointer(&c.fatal))))
}

// exitGuest ends the whole guest with status.
func exitGuest(status int) {
	if debugSyscalls {
		kprint("mote: memory: user frames ")
		kprintNum(int64(usedFrames))
		kprint(", free list ")
		kprintNum(int64(freeCount))
		kprint(", never used ")
		kprintNum(int64((frameLimit - frameNext) / pageSize))
		kprint(", kernel pages ")
		kprintNum(int64((memSize - frameLimit) / pageSize))
		kprint(", threads ")
		kprintNum(int64(nthreads))
		kprint(", page faults ")
		kprintNum(int64(pageFaults))
		kprint(", ticks ")
		kprintNum(int64(thisCPU().ticks))
		kprint(", kernel boot us ")
		kprintNum(bootDoneUs)
		kprint(", first write us ")
		kprintNum(firstWriteUs)
		kprint(", uptime us ")
		kprintNum(uptime() / 1000)
		kprint("\n")
	}
	hypercall(abi.HcExit, uint64(uint32(status)))
	for {
	}
}
