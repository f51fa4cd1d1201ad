package vmm

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// InterruptedStatus is Run's status when cfg.Context was cancelled.
const InterruptedStatus = 130

// interruptReq asks every vCPU to leave its loop, optionally printing its
// state first.
type interruptReq struct {
	reason    string
	status    int
	report    bool
	remaining atomic.Int32
}

// interrupt stops the guest from outside (a cancelled context, a test
// timeout). With report, each vCPU prints its registers and backtrace.
func (v *vm) interrupt(reason string, status int, report bool) {
	in := &interruptReq{reason: reason, status: status, report: report}
	in.remaining.Store(int32(len(v.cpus)))
	if !v.intr.CompareAndSwap(nil, in) {
		return
	}
	if report {
		fmt.Fprintf(v.cfg.Stderr, "mote: %s\n", reason)
	}
	for _, c := range v.cpus {
		c.kick()
	}
}

// interrupted is run by each vCPU thread that sees an interrupt request.
func (v *vm) interrupted(c *vcpu, in *interruptReq) {
	if in.report {
		crashMu.Lock()
		var b strings.Builder
		v.cpuReport(&b, c, nil)
		if in.remaining.Load() == 1 {
			v.consoleTail(&b)
		}
		v.cfg.Stderr.Write([]byte(b.String()))
		crashMu.Unlock()
	}
	if in.remaining.Add(-1) == 0 {
		v.stop(in.status)
	}
}
