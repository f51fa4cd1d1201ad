// Package vmm is mote's monitor: it boots a mote image in a KVM virtual
// machine, with the boot state described by package abi, and serves the
// guest's hypercalls until it exits.
package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image"
	"github.com/motevm/mote/vmm/kvm"
	"github.com/motevm/mote/vmm/link"
)

// Config describes one run of an image.
type Config struct {
	ImagePath   string
	MemoryBytes uint64   // guest RAM; rounded up to 2 MiB; 0 means DefaultMemory
	CPUs        int      // 0 means 1
	Args        []string // argv after argv[0]
	Env         []string // KEY=VALUE, override the image's baked env
	// Dir is the guest's initial working directory, an absolute path
	// (mote run --workdir); "" means the image's (abi.Config.Dir), or "/".
	Dir string
	// Tmpfs are in-memory file systems the guest mounts at boot (mote run
	// --tmpfs), besides /tmp.
	Tmpfs []Tmpfs
	// Volumes are host directories the guest mounts at boot (mote run -v),
	// each served through a virtio-9p device of its own.
	Volumes []Volume
	Stdin   io.Reader // nil: the guest reads end of input at once
	Stdout  io.Writer
	Stderr  io.Writer
	Debug   bool // sets abi.BootFlagDebug
	// Profile, if set, turns on PC sampling at every timer tick and names
	// where the flat profile goes when the guest stops ("-": Stderr).
	Profile  string
	Hostname string // "" means "mote"
	// Context, if set, stops the guest when cancelled: Run then returns
	// InterruptedStatus (with Debug, after printing each vCPU's state).
	Context context.Context
	// Signals, if set, carries signals for the program (1 to 64): each is
	// delivered as a kill(2) from outside would be, so os/signal sees it
	// (mote stop's SIGTERM, a Ctrl-C forwarded by mote run).
	Signals <-chan syscall.Signal
	// Net is the guest's network (a virtio-net device), for images that
	// link the guest network stack.
	Net NetConfig
	// SmallPages backs guest RAM with 4 KiB pages faulted on first touch
	// instead of transparent huge pages: less host memory for a guest that
	// touches little (pages, not 2 MiB steps), and on the development
	// machine twice the starts per second of many small instances (mote
	// run -d sets it). MOTE_BACKING overrides both.
	SmallPages bool
	// MapImage says the image file never changes in place (a store blob):
	// with SmallPages the guest then maps its pages copy-on-write instead
	// of reading them (loadImage). MOTE_MAP_IMAGE=1 forces it.
	MapImage bool
	// Name is the program's name, its argv[0]; "" means the image file's
	// name without ".img".
	Name string
	// Started, if set, is called once the virtual machine is set up, just
	// before the guest first runs: by then every error that keeps a guest
	// from starting has been found (mote run -d reports success here, so
	// a missing /dev/kvm or a bad volume reaches the user).
	Started func()

	tick        time.Duration // LAPIC timer period: 0 means DefaultTick, <0 no timer
	backing     int           // host memory strategy (back*); 0 means defaultBacking
	netEndpoint link.Endpoint // tests: plug the device into this instead of Net's network
}

// Defaults.
const (
	DefaultMemory = 256 << 20
	DefaultTick   = 10 * time.Millisecond
)

// defaultEnv is the guest environment before the image's and the command
// line's entries.
var defaultEnv = []string{"HOME=/"}

// memLimitEnv is the GOMEMLIMIT a guest gets unless the image or -e sets
// one (freeStart without the image's demand-zero ranges): the guest's RAM is all the memory the program has, so the Go
// runtime should collect harder as the heap approaches it instead of
// running into the OOM kill at twice the live heap (GOGC=100). It leaves
// the library OS a reserve (device rings, page tables, thread stacks).
func memLimitEnv(memBytes, freeStart uint64) string {
	const reserve = 12 << 20
	free := uint64(0)
	if memBytes > freeStart+reserve {
		free = memBytes - freeStart - reserve
	}
	return fmt.Sprintf("GOMEMLIMIT=%dMiB", max(free*9/10>>20, 4))
}

// defaultBacking is chosen by measurement, see TestMeasureBoot.
const defaultBacking = backHuge

// CrashStatus is the exit status of a crashed guest (like SIGABRT).
const CrashStatus = 134

// Run boots the image and returns the guest's exit status. err is set, with
// one sentence for the user, only when the guest could not be started.
func Run(cfg Config) (exitStatus int, err error) {
	vm, err := newVM(cfg)
	if err != nil {
		return 0, err
	}
	defer vm.close()
	if cfg.Started != nil {
		cfg.Started()
	}
	return vm.run(), nil
}

// vm is one running virtual machine.
type vm struct {
	cfg   Config
	img   *image.Image
	sys   *kvm.System
	kvm   *kvm.VM
	mem   *memory
	cpus  []*vcpu
	pml4  uint64
	tick  time.Duration
	mono0 int64 // host CLOCK_MONOTONIC of guest monotonic 0

	out consoleOut
	in  *consoleIn

	stopOnce sync.Once
	done     chan struct{}
	status   int

	// timings, for tests and measurements
	tStart, tReady, tFirstExit time.Time
	tRun, tStop                time.Time // first KVM_RUN (about), guest exit
	firstExit                  sync.Once
	phases                     []phase
	intr                       atomic.Pointer[interruptReq]
	exits                      atomic.Int64                    // exits to the monitor
	hcalls                     [abi.NumHypercalls]atomic.Int64 // hypercalls by number
	virtioExits                atomic.Int64                    // MMIO exits in the virtio windows

	virtio  []*virtioDev // virtio-mmio devices, window i = virtio[i]
	nets    []*netDevice // the virtio-net device (window 0), if any
	volumes []*volume    // the volumes, Config.Volumes[i] = volumes[i]
}

// phase is a named point of the setup, for measurements.
type phase struct {
	name string
	at   time.Time
}

func (v *vm) mark(name string) { v.phases = append(v.phases, phase{name, time.Now()}) }

func memString(n uint64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dG", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dM", n>>20)
	}
	return fmt.Sprintf("%d", n)
}

func newVM(cfg Config) (_ *vm, err error) {
	v := &vm{cfg: cfg, done: make(chan struct{}), tStart: time.Now()}
	defer func() {
		if err != nil {
			v.close()
		}
	}()
	if cfg.CPUs == 0 {
		cfg.CPUs = 1
	}
	if cfg.CPUs < 0 || cfg.CPUs > abi.MaxCPUs {
		return nil, fmt.Errorf("--cpus %d is out of range (1 to %d)", cfg.CPUs, abi.MaxCPUs)
	}
	if cfg.MemoryBytes == 0 {
		cfg.MemoryBytes = DefaultMemory
	}
	if cfg.MemoryBytes > abi.MaxMemory {
		return nil, fmt.Errorf("--memory %s is too large (mote supports at most %s)", memString(cfg.MemoryBytes), memString(abi.MaxMemory))
	}
	cfg.MemoryBytes = (cfg.MemoryBytes + twoMiB - 1) &^ (twoMiB - 1)
	if cfg.Stdout == nil {
		cfg.Stdout = io.Discard
	}
	if cfg.Stderr == nil {
		cfg.Stderr = io.Discard
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "mote"
	}
	if len(cfg.Hostname) >= 64 {
		return nil, fmt.Errorf("hostname %q is too long (at most 63 bytes)", cfg.Hostname)
	}
	v.tick = cfg.tick
	if v.tick == 0 {
		v.tick = DefaultTick
	}
	v.cfg = cfg
	v.out = consoleOut{stdout: cfg.Stdout, stderr: cfg.Stderr}
	v.in = newConsoleIn(cfg.Stdin, v.wakeIdle)

	if v.img, err = image.Open(cfg.ImagePath); err != nil {
		return nil, err
	}
	v.mark("image")
	netMode, err := resolveNet(&cfg.Net, cfg.ImagePath, v.img.Note.Flags&abi.NoteFlagNet != 0)
	if err != nil {
		return nil, err
	}
	nets := 0
	if netMode != NetNone {
		nets = 1
	}
	if err := checkVolumes(&cfg, nets); err != nil {
		return nil, err
	}
	if err := v.openVolumes(); err != nil {
		return nil, err
	}
	// The network (user-mode stack and its listeners, or the tap) is made
	// while KVM creates the VM (~0.2 ms for the user-mode network).
	type endpoint struct {
		ep  link.Endpoint
		err error
	}
	var epDone chan endpoint
	if netMode != NetNone {
		epDone = make(chan endpoint, 1)
		go func() {
			ep, err := v.openEndpoint(netMode)
			epDone <- endpoint{ep, err}
		}()
		defer func() { // an error before the device took it
			if epDone != nil {
				if r := <-epDone; r.ep != nil {
					r.ep.Close()
				}
			}
		}()
	}
	dir := cfg.Dir
	if dir == "" {
		dir = v.img.Config.Dir
	}
	if dir != "" && (!path.IsAbs(dir) || strings.IndexByte(dir, 0) >= 0) {
		if cfg.Dir != "" {
			return nil, fmt.Errorf("--workdir %q is not an absolute path", cfg.Dir)
		}
		return nil, fmt.Errorf("%s has a working directory %q that is not an absolute path (corrupt mote config note)", cfg.ImagePath, dir)
	}
	// Guest RAM: the image, the sealed files' archive (page aligned, right
	// after it), then free RAM from a 2 MiB boundary.
	imageEnd := (v.img.End + abi.PageSize - 1) &^ (abi.PageSize - 1)
	filesGPA, filesLen := uint64(0), v.img.Files.Len
	filesEnd := imageEnd
	if filesLen > 0 {
		filesGPA = imageEnd
		filesEnd = (filesGPA + filesLen + abi.PageSize - 1) &^ (abi.PageSize - 1)
	}
	freeStart := (filesEnd + twoMiB - 1) &^ (twoMiB - 1)
	// The image's demand-zero ranges cost the program only the pages it
	// touches (abi.NoteTypeLazy): guest RAM is that much larger than
	// --memory, and the guest charges the pages as it maps them.
	lazy := uint64(0)
	for _, r := range v.img.Lazy {
		lazy += r.End - r.Start
	}
	ramSize := cfg.MemoryBytes + lazy
	if ramSize > abi.MaxMemory {
		return nil, fmt.Errorf("--memory %s is too large for %s, whose zeroed data takes %s of the guest's address space (mote supports at most %s)", memString(cfg.MemoryBytes), cfg.ImagePath, memString(lazy), memString(abi.MaxMemory))
	}
	if need := (freeStart - lazy + 2*twoMiB - 1) &^ (twoMiB - 1); cfg.MemoryBytes < need {
		what := ""
		if filesLen > 0 {
			what = fmt.Sprintf(" and its %d MiB of sealed files", (filesLen+1<<20-1)>>20)
		}
		return nil, fmt.Errorf("--memory %s is too small for %s%s (needs at least %d MiB)", memString(cfg.MemoryBytes), cfg.ImagePath, what, need>>20)
	}

	backing := cfg.backing
	switch os.Getenv("MOTE_BACKING") { // for measurements and debugging
	case "lazy":
		backing = backLazy
	case "populate":
		backing = backPopulate
	case "huge":
		backing = backHuge
	case "hugepopulate":
		backing = backHugePopulate
	}
	if backing == 0 && cfg.SmallPages {
		backing = backLazy
	}
	if backing == 0 {
		backing = defaultBacking
	}
	if v.mem, err = newMemory(ramSize, backing); err != nil {
		return nil, fmt.Errorf("cannot allocate %s of guest memory: %v", memString(cfg.MemoryBytes), err)
	}
	v.mark("mmap")
	// The boot state is written into guest RAM while KVM creates the VM and
	// its vCPUs (the two are independent; together ~1 ms saved per boot).
	var bi abi.BootInfo
	v.pml4 = pml4GPA
	bootDone := make(chan error, 1)
	go func() {
		bootDone <- func() error {
			if err := v.loadImage(backing == backLazy && (cfg.MapImage || os.Getenv("MOTE_MAP_IMAGE") == "1"), filesGPA); err != nil {
				return err
			}
			buildPageTables(v.mem) // at pml4GPA, which the vCPUs already use
			writeGDT(v.mem, cfg.CPUs)
			writeIDT(v.mem, v.img.Note)
			writePerCPU(v.mem, cfg.CPUs)
			bi = abi.BootInfo{
				Magic: abi.BootMagic, Version: abi.Version, NumCPUs: uint32(cfg.CPUs),
				MemSize: ramSize, ImageEnd: imageEnd, FreeStart: freeStart, PML4: pml4GPA,
				FilesGPA: filesGPA, FilesLen: filesLen,
			}
			copy(bi.Lazy[:], v.img.Lazy)
			if v.tick > 0 {
				bi.TickNs = uint64(v.tick.Nanoseconds())
			}
			if cfg.Debug {
				bi.Flags |= abi.BootFlagDebug
			}
			if cfg.Profile != "" {
				bi.Flags |= abi.BootFlagProfile
			}
			for fd, s := range []any{cfg.Stdin, cfg.Stdout, cfg.Stderr} {
				if IsTerminal(s) {
					bi.Flags |= abi.BootFlagTTY << fd
				}
			}
			copy(bi.Hostname[:63], cfg.Hostname)
			if _, err := unix.Getrandom(bi.Seed[:], 0); err != nil {
				return fmt.Errorf("cannot get random seed: %v", err)
			}
			name := cfg.Name
			if name == "" {
				name = ProgramName(cfg.ImagePath)
			}
			argv := append(append([]string{name}, v.img.Config.Args...), cfg.Args...)
			// Defaults a Linux process would have (HOME, for os.UserHomeDir and
			// friends); the image's baked env and -e override them.
			env := mergeEnv(mergeEnv(append(defaultEnv, memLimitEnv(cfg.MemoryBytes, freeStart-lazy)), v.img.Config.Env), cfg.Env)
			strs, err := encodeStrings(argv, env, dir)
			if err != nil {
				return err
			}
			bi.Argc, bi.Envc = uint32(len(argv)), uint32(len(env))
			bi.StringsGPA, bi.StringsLen = abi.BootInfoBase+biSize, uint64(len(strs))
			copy(v.mem.b[bi.StringsGPA:], strs)
			if mounts := encodeMounts(mountList(cfg.Tmpfs, cfg.Volumes)); len(mounts) > 0 {
				if biSize+uint64(len(strs))+uint64(len(mounts)) > abi.BootInfoSize {
					return errArgsTooLarge
				}
				bi.MountsGPA, bi.MountsLen = bi.StringsGPA+bi.StringsLen, uint64(len(mounts))
				copy(v.mem.b[bi.MountsGPA:], mounts)
			}
			return nil
		}()
	}()
	waitBoot := func() error {
		if bootDone == nil {
			return nil
		}
		err := <-bootDone
		bootDone = nil
		return err
	}
	defer waitBoot() // never leave the writer running on an error path

	if v.sys, err = kvm.Open(); err != nil {
		switch {
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
			return nil, errors.New("/dev/kvm does not exist: mote needs Linux KVM (load the kvm module or run on a machine with virtualization)")
		case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
			return nil, errors.New("no permission to open /dev/kvm (add your user to the kvm group or run as root)")
		}
		return nil, fmt.Errorf("cannot open /dev/kvm: %v", err)
	}
	maxCPUs := v.sys.CheckExtension(kvm.CapMaxVCPUs)
	if maxCPUs <= 0 {
		maxCPUs = v.sys.CheckExtension(kvm.CapNrVCPUs)
	}
	if maxCPUs > 0 && cfg.CPUs > maxCPUs {
		return nil, fmt.Errorf("--cpus %d is more than this host's KVM allows (%d)", cfg.CPUs, maxCPUs)
	}
	if v.kvm, err = v.sys.CreateVM(); err != nil {
		return nil, fmt.Errorf("cannot create a KVM virtual machine: %v", err)
	}

	if err = v.kvm.SetMemory(0, 0, v.mem.b); err != nil {
		return nil, fmt.Errorf("cannot give guest memory to KVM: %v", err)
	}
	v.mark("memory")
	var netBI abi.BootInfo // Net; bi is the boot writer's until waitBoot
	if epDone != nil {
		r := <-epDone
		epDone = nil
		if r.err != nil {
			return nil, r.err
		}
		if err := v.setupNet(netMode, r.ep, &netBI); err != nil {
			return nil, err
		}
		v.mark("net")
	}
	if len(v.volumes) > 0 {
		if err := v.setupVolumes(); err != nil {
			return nil, err
		}
		v.mark("volumes")
	}
	// Local APICs in the kernel (for the timer), no PIC/IOAPIC: on this
	// host a full KVM_CREATE_IRQCHIP adds ~15 ms to VM teardown and 5-8 ms
	// to a later memory slot (measured). Fall back to the full irqchip.
	if err = v.kvm.CreateSplitIRQChip(0); err != nil {
		if err = v.kvm.CreateIRQChip(); err != nil {
			return nil, fmt.Errorf("cannot create the virtual interrupt controller: %v", err)
		}
	}
	v.mark("irqchip")

	// vCPUs.
	cpuid, err := v.sys.SupportedCPUID()
	if err != nil {
		return nil, fmt.Errorf("cannot read the CPUID KVM supports: %v", err)
	}
	for i := 0; i < cfg.CPUs; i++ {
		c, err := v.newVCPU(i, cpuid)
		if err != nil {
			return nil, fmt.Errorf("cannot set up vCPU %d: %v", i, err)
		}
		v.cpus = append(v.cpus, c)
	}
	if cfg.CPUs > 1 {
		v.wakeEventFDs()
	}
	v.mark("vcpus")
	if err := waitBoot(); err != nil {
		return nil, err
	}
	v.mark("bootstate")
	bi.NumVirtio, bi.Net = uint32(len(v.virtio)), netBI.Net
	bi.TSCHz = v.tscHz()
	if bi.TSCHz == 0 {
		if khz, err := v.cpus[0].cpu.TSCKHz(); err == nil {
			bi.TSCHz = khz * 1000
		}
	}

	// The LAPIC timers start counting when programmed: do it last.
	for _, c := range v.cpus {
		if err := v.setupLAPIC(c.cpu); err != nil {
			return nil, fmt.Errorf("cannot set up the local APIC of vCPU %d: %v", c.index, err)
		}
	}
	v.mark("lapic") // the timers run from here

	// WallClockNs is filled in by run, just before the first KVM_RUN.
	encodeBootInfo(v.mem.b[abi.BootInfoBase:abi.BootInfoBase+biSize], &bi)
	v.tReady = time.Now()
	return v, nil
}

// tscHz returns the guest TSC frequency from KVM_GET_TSC_KHZ on the VM, or
// 0 (newVM then asks vCPU 0).
func (v *vm) tscHz() uint64 {
	if khz, err := v.kvm.TSCKHz(); err == nil && khz > 0 {
		return khz * 1000
	}
	return 0
}

func (v *vm) close() {
	if v.in != nil {
		v.in.stop()
	}
	v.closeVirtio()
	v.nets = nil
	v.closeVolumes()
	for _, c := range v.cpus {
		c.cpu.Close()
	}
	v.cpus = nil
	if v.kvm != nil {
		v.kvm.Close()
		v.kvm = nil
	}
	if v.sys != nil {
		v.sys.Close()
		v.sys = nil
	}
	if v.mem != nil {
		v.mem.free()
	}
	if v.img != nil {
		v.img.Close()
	}
}

// run starts one thread per vCPU and waits until the guest exits or
// crashes.
func (v *vm) run() int {
	// The clocks: guest uptime 0 is (within tens of µs) now.
	var rt, mono unix.Timespec
	unix.ClockGettime(unix.CLOCK_REALTIME, &rt)
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &mono)
	v.mem.mustPut64(abi.BootInfoBase+biWallClockNs, uint64(rt.Nano()))
	v.mono0 = mono.Nano()
	v.tRun = time.Now()

	var wg sync.WaitGroup
	for _, c := range v.cpus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.loop(c)
		}()
	}
	if ctx := v.cfg.Context; ctx != nil {
		go func() {
			select {
			case <-ctx.Done():
				v.interrupt("guest stopped: "+context.Cause(ctx).Error(), InterruptedStatus, v.cfg.Debug)
			case <-v.done:
			}
		}()
	}
	if sigs := v.cfg.Signals; sigs != nil {
		go func() {
			for {
				select {
				case sig := <-sigs:
					v.signal(sig)
				case <-v.done:
					return
				}
			}
		}()
	}
	// Debugging a hung guest: MOTE_DUMP_AFTER=5s prints every vCPU's state
	// after that time and stops the guest.
	if d, err := time.ParseDuration(os.Getenv("MOTE_DUMP_AFTER")); err == nil && d > 0 {
		t := time.AfterFunc(d, func() {
			v.interrupt("state dump requested (MOTE_DUMP_AFTER)", CrashStatus, true)
		})
		defer t.Stop()
	}
	<-v.done
	wg.Wait()
	v.writeStats(v.cfg.Stderr) // MOTE_STATS=1 only
	v.writeProfile()
	return v.status
}

// signal posts sig in the guest's abi.BootInfo.HostSignals and ends an
// idle vCPU's sleep; a busy one takes it at its next tick.
func (v *vm) signal(sig syscall.Signal) {
	if sig < 1 || sig > 64 {
		return
	}
	w := (*atomic.Uint64)(unsafe.Pointer(&v.mem.b[abi.BootInfoBase+biHostSignals]))
	w.Or(1 << (uint(sig) - 1))
	v.wakeIdle()
}

// stop ends the run with status (the first call wins) and kicks every vCPU
// out of KVM_RUN.
func (v *vm) stop(status int) {
	v.stopOnce.Do(func() {
		v.tStop = time.Now()
		v.status = status
		close(v.done)
		for _, c := range v.cpus {
			c.kick()
		}
	})
}

func (v *vm) stopped() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// wakeEventFDs serves HcWake without exits: a guest write of value i to the
// HcWake address signals vCPU i's eventfd inside the host kernel (an
// ioeventfd with a datamatch per vCPU), and a goroutine passes it on to the
// vCPU's wake channel. Without ioeventfds HcWake still works as an exit.
func (v *vm) wakeEventFDs() {
	addr := uint64(abi.HypercallBase + 8*abi.HcWake)
	for i, c := range v.cpus {
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
		if err != nil {
			return
		}
		if v.kvm.AddMMIOEventFDMatch(addr, 8, fd, uint64(i)) != nil {
			unix.Close(fd)
			return
		}
		f := os.NewFile(uintptr(fd), "hcwake")
		go func() {
			<-v.done
			f.Close()
		}()
		go func() {
			var b [8]byte
			for {
				if _, err := f.Read(b[:]); err != nil {
					return // closed at the end of the run
				}
				v.hcalls[abi.HcWake].Add(1)
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
		}()
	}
}
