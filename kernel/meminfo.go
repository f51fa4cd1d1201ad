package kernel

import (
	"syscall"
	"unsafe"
)

// What the program can learn about its memory: sysinfo(2) and
// /proc/meminfo. Programs size caches and limits from them (the NATS
// server's JetStream memory limit is 75% of sysinfo's total RAM), so they
// report the guest's memory (mote run --memory), not the host's.

// memFree is the memory the frame allocator can still hand out.
func memFree() uint64 {
	free := freeCount * pageSize
	if frameLimit > frameNext+kernReserve {
		free += frameLimit - frameNext - kernReserve
	}
	return free
}

func sysSysinfo(p uint64) int64 {
	if !userOK(p, uint64(unsafe.Sizeof(syscall.Sysinfo_t{})), true) {
		return -eFAULT
	}
	si := (*syscall.Sysinfo_t)(unsafe.Pointer(uintptr(p)))
	*si = syscall.Sysinfo_t{
		Uptime:   uptime() / 1e9,
		Totalram: guestMemory(),
		Freeram:  memFree(),
		Procs:    1,
		Unit:     1,
	}
	return 0
}

// meminfoRead reads /proc/meminfo (generated at each read, in kB).
func meminfoRead(p, n uint64, pos int64) int64 {
	var t textBuf
	line := func(name string, bytes uint64) {
		t.s(name)
		t.s(":")
		var d textBuf
		d.dec(bytes >> 10)
		for i := len(name) + 1 + d.n; i < 24; i++ {
			t.s(" ")
		}
		t.s(d.str())
		t.s(" kB\n")
	}
	free := memFree()
	line("MemTotal", guestMemory())
	line("MemFree", free)
	line("MemAvailable", free)
	line("Buffers", 0)
	line("Cached", 0)
	line("SwapCached", 0)
	line("SwapTotal", 0)
	line("SwapFree", 0)
	return textCopy(&t, p, n, pos)
}
