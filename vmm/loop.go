package vmm

import (
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/vmm/kvm"
)

// loop runs vCPU c on its own OS thread until the VM stops.
func (v *vm) loop(c *vcpu) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c.tid.Store(int32(unix.Gettid()))
	defer c.tid.Store(0)
	run := c.cpu.Run
	for !v.stopped() {
		if in := v.intr.Load(); in != nil {
			v.interrupted(c, in)
			return
		}
		err := c.cpu.RunOnce()
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		v.firstExit.Do(func() { v.tFirstExit = time.Now() })
		v.exits.Add(1)
		if err != nil {
			v.crash(c, fmt.Sprintf("KVM_RUN failed: %v", err), nil)
			return
		}
		switch r := run.ExitReason(); r {
		case kvm.ExitMMIO:
			m := run.MMIO()
			if !v.hypercall(c, m) && !v.virtioMMIO(c, m) {
				dir := "read"
				if m.IsWrite {
					dir = "write"
				}
				v.crash(c, fmt.Sprintf("unexpected MMIO %s of %d bytes at guest-physical %#x", dir, m.Len, m.PhysAddr), nil)
			}
		case kvm.ExitIO:
			io := run.IO()
			dir := "in"
			if io.Out {
				dir = "out"
			}
			v.crash(c, fmt.Sprintf("unexpected port I/O (%s, port %#x, size %d)", dir, io.Port, io.Size), nil)
		case kvm.ExitShutdown:
			v.crash(c, "triple fault (KVM_EXIT_SHUTDOWN): a fault while delivering a fault, check the IDT, TSS and ring-0 stack", nil)
		case kvm.ExitFailEntry:
			v.crash(c, fmt.Sprintf("KVM could not enter the guest (FAIL_ENTRY, hardware reason %#x)", run.FailEntryReason()), nil)
		case kvm.ExitInternalError:
			sub, data := run.Internal()
			v.crash(c, fmt.Sprintf("KVM internal error (suberror %d, data %#x)", sub, data), nil)
		case kvm.ExitHLT:
			v.crash(c, "the guest halted the CPU (HLT in ring 0)", nil)
		case kvm.ExitSystemEvent:
			typ, data := run.SystemEvent()
			v.crash(c, fmt.Sprintf("guest system event %d (%#x)", typ, data), nil)
		case kvm.ExitIntr:
			// A signal arrived during the run: look at the stop flag again.
		default:
			v.crash(c, fmt.Sprintf("unexpected KVM exit %s", kvm.ExitName(r)), nil)
		}
	}
}

// idle blocks vCPU c until guest monotonic time deadline (ns; ^0 means no
// deadline), an event for c, or the end of the run.
func (v *vm) idle(c *vcpu, deadline uint64) {
	var timeout <-chan time.Time
	if deadline != ^uint64(0) && deadline < 1<<62 {
		var now unix.Timespec
		unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
		d := v.mono0 + int64(deadline) - now.Nano()
		if d <= 0 {
			return
		}
		t := time.NewTimer(time.Duration(d))
		defer t.Stop()
		timeout = t.C
	}
	c.idling.Store(true)
	select {
	case <-timeout:
	case <-c.wake:
	case <-v.done:
	}
	c.idling.Store(false)
}

// hcAddr returns the hypercall number of an MMIO address, or false.
func hcNumber(gpa uint64) (uint64, bool) {
	if gpa < abi.HypercallBase || gpa >= abi.HypercallBase+8*abi.NumHypercalls || gpa%8 != 0 {
		return 0, false
	}
	return (gpa - abi.HypercallBase) / 8, true
}
