package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// A ring of recent kernel events, for debugging the guest from inside:
// enabled with the debug boot flag, dumped by the mote_trace_dump system call
// (number sysTraceDump, which Linux does not use) or at a kernel panic.

const (
	traceLen     = 2048
	sysTraceDump = 0x4d4f5445 // "MOTE"
)

const (
	evTrap = iota + 1 // a: rip | vector<<56, b: cr2
	evSignal
	evSigreturn
	evSwitch
	evSyscall
	evMmap  // a, b: the populated or mapped range
	evZap   // a, b: the zapped range
	evStale // a: resumed SP outside the thread's stacks, b: RIP
)

type traceEvent struct {
	t    int64
	tid  int32
	kind int32
	a, b uint64
}

var (
	traceRing [traceLen]traceEvent
	traceN    uint64
)

func traceEv(kind int32, a, b uint64) {
	if !debugSyscalls {
		return
	}
	e := &traceRing[traceN%traceLen]
	traceN++
	e.t = uptime()
	e.tid = 0
	if c := thisCPU(); c.cur != 0 {
		e.tid = curThread().tid
	}
	e.kind, e.a, e.b = kind, a, b
}

var traceNames = [...]string{"", "trap", "signal", "sigreturn", "switch", "syscall", "mmap", "zap", "STALE-SP"}

func kprintHex(v uint64) {
	var b [18]byte
	b[0], b[1] = '0', 'x'
	for i := 0; i < 16; i++ {
		d := byte(v >> (60 - 4*i) & 15)
		if d < 10 {
			b[2+i] = '0' + d
		} else {
			b[2+i] = 'a' + d - 10
		}
	}
	kprint(unsafe.String(&b[0], len(b))) // b is on the kernel stack, identity mapped
}

// traceDump prints the events whose a or b lies in [lo, hi) (all if hi == 0).
func traceDump(lo, hi, kind uint64) {
	start := uint64(0)
	if traceN > traceLen {
		start = traceN - traceLen
	}
	for i := start; i < traceN; i++ {
		e := &traceRing[i%traceLen]
		in := (e.a >= lo && e.a < hi) || (e.b >= lo && e.b < hi)
		if e.kind == evMmap || e.kind == evZap {
			in = e.a < hi && lo < e.b
		}
		if e.kind == evTrap {
			in = e.b >= lo && e.b < hi
		}
		if kind != 0 && uint64(e.kind) != kind {
			continue
		}
		if hi != 0 && !in && (kind != 0 || i+40 < traceN) {
			continue
		}
		kprintNum(e.t / 1000)
		kprint(" tid ")
		kprintNum(int64(e.tid))
		kprint(" ")
		kprint(traceNames[e.kind])
		kprint(" ")
		kprintHex(e.a)
		kprint(" ")
		kprintHex(e.b)
		kprint("\n")
	}
}

// PC sampling for mote run --profile: the monitor reads profile (by its
// symbol, abi.SymProfile) when the guest stops.
var (
	profiling bool
	profile   abi.Profile
)
