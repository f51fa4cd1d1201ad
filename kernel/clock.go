package kernel

import "math/bits"

// Time is read from the TSC without leaving the guest. The monitor passes the
// TSC frequency and the host's wall clock at boot. Uptime is measured from
// the TSC value the boot entry read first (tsc0).
//
// The same globals drive the clock_gettime fast path in entry_amd64.s.
var (
	tsc0     uint64 // TSC at mote_start
	tscMult  uint64 // ns = (tsc-tsc0) * tscMult >> 32
	monoBase uint64 // CLOCK_MONOTONIC at uptime 0 (nonzero like Linux's)
	wallBase uint64 // CLOCK_REALTIME at uptime 0
)

const monoStart = 1_000_000_000

func clockInit(tscHz, tscBoot uint64, wallNs int64) {
	if tscHz == 0 {
		kpanic("mote: monitor gave no TSC frequency")
	}
	tsc0 = tscBoot
	hi, lo := bits.Mul64(1_000_000_000, 1<<32)
	tscMult, _ = bits.Div64(hi, lo, tscHz)
	monoBase = monoStart
	wallBase = uint64(wallNs)
}

// uptime returns ns since boot.
func uptime() int64 {
	hi, lo := bits.Mul64(rdtsc()-tsc0, tscMult)
	return int64(hi<<32 | lo>>32)
}

// Clock ids.
const (
	clockRealtime       = 0
	clockMonotonic      = 1
	clockProcessCPU     = 2
	clockThreadCPU      = 3
	clockMonotonicRaw   = 4
	clockRealtimeCoarse = 5
	clockMonotonicCoars = 6
	clockBoottime       = 7
)

// clockNow returns the value of clock id in ns, or -1 for an unknown clock.
func clockNow(id int) int64 {
	u := uptime()
	switch id {
	case clockRealtime, clockRealtimeCoarse:
		return int64(wallBase) + u
	case clockMonotonic, clockMonotonicRaw, clockMonotonicCoars, clockBoottime:
		return int64(monoBase) + u
	case clockProcessCPU, clockThreadCPU:
		return u
	}
	return -1
}

// clockToUptime converts an absolute time on clock id into uptime ns.
func clockToUptime(id int, ns int64) int64 {
	switch id {
	case clockRealtime, clockRealtimeCoarse:
		return ns - int64(wallBase)
	}
	return ns - int64(monoBase)
}
