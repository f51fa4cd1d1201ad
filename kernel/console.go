package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Console output. An exit costs tens of microseconds here, so output is
// buffered: writes to the same fd accumulate in conbuf (in the image's bss,
// so at VA == GPA for the monitor) and one HcWrite carries the whole buffer.
// The buffer is flushed when it fills, when the output switches between
// stdout and stderr (so their order is kept), when the CPU goes idle, at
// every timer tick (so output is never more than a tick late), and before
// the guest exits or reports a crash.
var firstWriteUs int64 // uptime of the first console write (--debug report)

var (
	conbuf    [64 << 10]byte
	conLen    uint64
	conFd     int
	conargs   abi.WriteArgs
	conBroken int64 // the monitor refused a write: report the error from now on
)

// consoleWrite writes n bytes at user address p to fd (1 or 2). The caller
// has validated the range.
func consoleWrite(fd int, p, n uint64) int64 {
	if firstWriteUs == 0 {
		firstWriteUs = uptime() / 1000
	}
	if conBroken < 0 {
		return conBroken
	}
	if conLen > 0 && conFd != fd {
		consoleFlush()
	}
	conFd = fd
	var done uint64
	for done < n {
		c := n - done
		if room := uint64(len(conbuf)) - conLen; c > room {
			c = room
		}
		copy(conbuf[conLen:conLen+c], userBytes(p+done, c))
		conLen += c
		done += c
		if conLen == uint64(len(conbuf)) {
			consoleFlush()
		}
	}
	return int64(done)
}

// consoleFlush hands the buffered output to the monitor.
func consoleFlush() {
	off := uint64(0)
	for off < conLen {
		conargs = abi.WriteArgs{Fd: uint64(conFd), Buf: uint64(uintptr(unsafe.Pointer(&conbuf[off]))), Len: conLen - off}
		hypercall(abi.HcWrite, uint64(uintptr(unsafe.Pointer(&conargs))))
		if conargs.Result <= 0 {
			if conargs.Result < 0 {
				conBroken = conargs.Result
			}
			break
		}
		off += uint64(conargs.Result)
	}
	conLen = 0
}

// kprint writes a kernel message to stderr.
func kprint(s string) {
	if len(s) == 0 {
		return
	}
	consoleFlush()
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
	consoleFlush()
	conargs = abi.WriteArgs{Fd: 2, Buf: uint64(uintptr(unsafe.Pointer(&b[i]))), Len: uint64(len(b) - i)}
	hypercall(abi.HcWrite, uint64(uintptr(unsafe.Pointer(&conargs))))
}

// kpanic stops the guest with msg (a string literal: it must be addressable
// by the monitor, and literals live in the image at VA == GPA).
func kpanic(msg string) {
	consoleFlush()
	c := thisCPU()
	c.fatal = abi.FatalReport{Vector: ^uint64(0), Msg: uint64(uintptr(unsafe.Pointer(unsafe.StringData(msg)))), MsgLen: uint64(len(msg))}
	fatalHC(uint64(uintptr(unsafe.Pointer(&c.fatal))))
}

// exitGuest ends the whole guest with status.
func exitGuest(status int) {
	consoleFlush()
	if debugSyscalls {
		kprint("mote: memory: user frames ")
		kprintNum(int64(usedFrames))
		kprint(", free list ")
		kprintNum(int64(freeCount))
		kprint(", never used ")
		kprintNum(int64((frameLimit - frameNext) / pageSize))
		kprint(", kernel pages ")
		kprintNum(int64(kernelPages))
		kprint(", threads ")
		kprintNum(int64(nthreads))
		kprint(", page faults ")
		kprintNum(int64(pageFaults))
		kprint(", ticks ")
		kprintNum(int64(thisCPU().ticks))
		if smp {
			kprint(", thread runs per cpu")
			for i := 0; i < numCPUs; i++ {
				kprint(" ")
				kprintNum(int64(cpuAt(abi.PerCPUBase + uint64(i)*abi.PerCPUSize).runs))
			}
		}
		if np9devs > 0 {
			kprint(", 9p calls ")
			kprintNum(int64(p9Calls))
			kprint(" kicks ")
			kprintNum(int64(p9Kicks))
			kprint(" sleeps ")
			kprintNum(int64(p9Blocks))
			kprint(" wait us ")
			kprintNum(p9WaitNs / 1000)
		}
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

// Console input: HcRead never blocks in the monitor (a blocked vCPU would stop
// every guest thread). With no input yet, the reading thread sleeps; it is
// woken when the CPU comes back from HcIdle (the monitor ends the idle when
// input arrives) and, if the CPU never idles, retries every stdinPoll.
var (
	inbuf  [16 << 10]byte
	inargs abi.WriteArgs
)

const stdinPoll = 10_000_000 // ns

// consoleRead reads stdin into user memory [p, p+n) (validated by the caller).
func consoleRead(p, n uint64, nonblock bool) int64 {
	if n == 0 {
		return 0
	}
	if n > uint64(len(inbuf)) {
		n = uint64(len(inbuf))
	}
	for {
		inargs = abi.WriteArgs{Fd: 0, Buf: uint64(uintptr(unsafe.Pointer(&inbuf[0]))), Len: n}
		hypercall(abi.HcRead, uint64(uintptr(unsafe.Pointer(&inargs))))
		r := inargs.Result
		if r > 0 {
			copy(userBytes(p, uint64(r)), inbuf[:r])
			return r
		}
		if r != -eAGAIN {
			return r
		}
		if nonblock {
			return -eAGAIN
		}
		waitAdd(curThread(), waitStdin, 0)
		if block(uptime()+stdinPoll, true) == wakeSignal {
			return -eINTR
		}
	}
}
