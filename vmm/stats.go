package vmm

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
)

// StatsEnv names the environment variable that turns on the statistics
// line: with MOTE_STATS=1 the monitor writes one line
//
//	mote-stats: exits=N hc_exit=N hc_write=N hc_idle=N hc_fatal=N guest_pages_touched=N guest_mib=N setup_us=N guest_us=N phase_image_us=N ...
//
// to the guest's stderr when the guest exits. Without it nothing changes.
const StatsEnv = "MOTE_STATS"

func statsEnabled() bool { return os.Getenv(StatsEnv) == "1" }

var hcNames = [abi.NumHypercalls]string{
	abi.HcExit:  "exit",
	abi.HcWrite: "write",
	abi.HcIdle:  "idle",
	abi.HcFatal: "fatal",
	abi.HcRead:  "read",
	abi.HcWake:  "wake",
}

// statsLine returns the mote-stats line (with its newline) for a run that
// has ended. It must be called before the guest memory is freed.
//
//	exits                VM exits seen by the monitor (all vCPUs)
//	hc_NAME              hypercalls by kind
//	virtio_mmio_exits    exits for virtio-mmio registers (with a virtio device)
//	net_*                the virtio-net device's counters (with a network device):
//	                     tx/rx frames, bytes (Ethernet) and drops, guest kicks
//	                     (QueueNotify writes), poller wake-ups by a kick, and
//	                     guest wakes (idle ended for used buffers)
//	vol_*                the volumes' virtio-9p devices' counters, summed (with
//	                     a volume): 9P requests passed to the servers, their
//	                     replies, requests the devices answered themselves,
//	                     driver sessions, kicks, poller wake-ups, guest wakes
//	guest_pages_touched  4 KiB pages of guest RAM resident on the host
//	guest_mib            guest RAM size
//	setup_us             Run start (newVM) to the first KVM_RUN
//	guest_us             first KVM_RUN to the guest's exit
//	phase_NAME_us        the setup phases, each from the previous mark
func (v *vm) statsLine() string {
	var b strings.Builder
	b.WriteString("mote-stats:")
	fmt.Fprintf(&b, " exits=%d", v.exits.Load())
	for i, n := range hcNames {
		fmt.Fprintf(&b, " hc_%s=%d", n, v.hcalls[i].Load())
	}
	if len(v.virtio) > 0 {
		fmt.Fprintf(&b, " virtio_mmio_exits=%d", v.virtioExits.Load())
	}
	v.netStats(&b)
	v.volumeStats(&b)
	fmt.Fprintf(&b, " guest_pages_touched=%d", v.residentPages())
	fmt.Fprintf(&b, " guest_mib=%d", v.cfg.MemoryBytes>>20)
	us := func(d time.Duration) int64 { return d.Microseconds() }
	fmt.Fprintf(&b, " setup_us=%d", us(v.tRun.Sub(v.tStart)))
	end := v.tStop
	if end.IsZero() {
		end = time.Now()
	}
	fmt.Fprintf(&b, " guest_us=%d", us(end.Sub(v.tRun)))
	prev := v.tStart
	for _, p := range v.phases {
		fmt.Fprintf(&b, " phase_%s_us=%d", p.name, us(p.at.Sub(prev)))
		prev = p.at
	}
	// KVM's own counters for vCPU 0 (exits handled in the host kernel,
	// emulated instructions, shadow page faults), nonzero ones only.
	if len(v.cpus) > 0 {
		if st, err := v.cpus[0].cpu.Stats(); err == nil {
			names := make([]string, 0, len(st))
			for n, x := range st {
				if x != 0 {
					names = append(names, n)
				}
			}
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintf(&b, " kvm_%s=%d", n, st[n])
			}
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// residentPages counts the 4 KiB pages of guest RAM the host has resident
// (mincore), or -1 if that cannot be known.
func (v *vm) residentPages() int {
	if v.mem == nil || len(v.mem.b) == 0 {
		return -1
	}
	host := unix.Getpagesize()
	vec := make([]byte, (len(v.mem.b)+host-1)/host)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&v.mem.b[0])), uintptr(len(v.mem.b)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return -1
	}
	n := 0
	for _, x := range vec {
		n += int(x & 1)
	}
	return n * (host / abi.PageSize)
}

// writeStats writes the stats line to w if MOTE_STATS=1.
func (v *vm) writeStats(w io.Writer) {
	if !statsEnabled() {
		return
	}
	v.out.mu.Lock()
	defer v.out.mu.Unlock()
	io.WriteString(w, v.statsLine())
}
