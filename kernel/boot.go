package kernel

import (
	"unsafe"

	"github.com/motevm/mote/abi"
)

// kmain runs on each vCPU's boot stack, called by mote_start. On the boot
// CPU it initialises the kernel and returns the first thread, which
// mote_start resumes at the Go runtime's entry _rt0_amd64_linux with a Linux
// initial process stack (argc, argv, envp, auxv).
func kmain(bi, tscBoot, cpuIndex uint64) uint64 {
	if cpuIndex != 0 {
		apMain() // an application processor: schedules once the kernel is up
	}
	b := (*abi.BootInfo)(unsafe.Pointer(uintptr(bi)))
	if b.Magic != abi.BootMagic || b.Version != abi.Version {
		kpanic("mote: boot info missing or from another ABI version")
	}
	if unsafe.Sizeof(cpu{}) > abi.PerCPUSize {
		kpanic("mote: per-CPU area too large")
	}
	if unsafe.Sizeof(thread{}) > threadPages*pageSize {
		kpanic("mote: thread struct too large")
	}
	if _, size, _, _ := cpuid(0xd, 0); size > xsaveMax {
		kpanic("mote: the CPU's XSAVE area is larger than the library OS reserves")
	}
	clockInit(b.TSCHz, tscBoot, b.WallClockNs)
	memInit(b)
	vmaInit()
	numCPUs = int(b.NumCPUs)
	randomInit(&b.Seed)
	debugSyscalls = b.Flags&abi.BootFlagDebug != 0
	profiling = b.Flags&abi.BootFlagProfile != 0
	tickNs = int64(b.TickNs)
	for hostnameLen < len(hostname)-1 && b.Hostname[hostnameLen] != 0 {
		hostname[hostnameLen] = b.Hostname[hostnameLen]
		hostnameTxt[hostnameLen] = b.Hostname[hostnameLen]
		hostnameLen++
	}
	filesInit(b)

	t := newThread()
	if t == nil {
		kpanic("mote: out of memory at boot")
	}
	c := thisCPU()
	c.cur = threadAddr(t)
	t.state = tsRunning
	nthreads = 1
	fxsave(threadAddr(t))

	sp := initialStack(b)
	t.rsp = sp
	t.rip = rt0PC()
	t.rflags = 0x202
	prepareResume(t)
	bootDoneUs = uptime() / 1000
	klock() // released by mote_start; the other CPUs start now
	smpInit()
	return threadAddr(t)
}

const userStackSize = 8 << 20

// bootDoneUs is the uptime at which the kernel handed over to the Go
// runtime (reported with --debug).
var bootDoneUs int64

// initialStack maps the main thread's stack and lays out the Linux process
// start state on it; it returns the initial SP (pointing at argc).
func initialStack(b *abi.BootInfo) uint64 {
	base := sysMmap(0, userStackSize, protRead|protWrite, mapPrivate|mapAnonymous, ^uint64(0), 0)
	if base < 0 {
		kpanic("mote: cannot map the main thread stack")
	}
	top := uint64(base) + userStackSize
	// Strings: the boot info blob copied as is.
	n := b.StringsLen
	if n > abi.BootInfoSize {
		kpanic("mote: boot strings too large")
	}
	strs := (top - n) &^ 15
	if !userOK(strs-4096, top-strs+4096, true) {
		kpanic("mote: cannot touch the main thread stack")
	}
	copy(userBytes(strs, n), unsafe.Slice((*byte)(unsafe.Pointer(uintptr(b.StringsGPA))), n))
	// AT_RANDOM bytes.
	rnd := strs - 16
	randomFill(rnd, 16)
	argc, envc := uint64(b.Argc), uint64(b.Envc)
	const nauxv = 10
	words := 1 + argc + 1 + envc + 1 + 2*nauxv
	sp := (rnd - words*8) &^ 15
	if !userOK(sp, rnd-sp, true) {
		kpanic("mote: initial stack too large")
	}
	w := sp
	put := func(v uint64) { *userU64(w) = v; w += 8 }
	put(argc)
	s := strs
	next := func() uint64 {
		p := s
		for s < strs+n && *(*byte)(unsafe.Pointer(uintptr(s))) != 0 {
			s++
		}
		s++
		return p
	}
	var argv0 uint64
	for i := uint64(0); i < argc; i++ {
		p := next()
		if i == 0 {
			argv0 = p
		}
		put(p)
	}
	put(0)
	for i := uint64(0); i < envc; i++ {
		put(next())
	}
	put(0)
	aux := [nauxv][2]uint64{
		{6, pageSize}, // AT_PAGESZ
		{25, rnd},     // AT_RANDOM
		{17, 100},     // AT_CLKTCK
		{11, 0},       // AT_UID
		{12, 0},       // AT_EUID
		{13, 0},       // AT_GID
		{14, 0},       // AT_EGID
		{23, 0},       // AT_SECURE
		{31, argv0},   // AT_EXECFN
		{0, 0},        // AT_NULL
	}
	for _, a := range aux {
		put(a[0])
		put(a[1])
	}
	return sp
}
