package vmm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/motevm/mote/vmm/kvm"
)

// fatalReportSize is the encoded size of abi.FatalReport (23 uint64s).
const fatalReportSize = 23 * 8

// maxFatalMsg caps the message of an HcFatal.
const maxFatalMsg = 4096

// maxFrames bounds a backtrace.
const maxFrames = 64

var crashMu sync.Mutex

// hcFatal reads the guest's FatalReport at gpa and crashes the run with it.
func (v *vm) hcFatal(c *vcpu, gpa uint64) {
	b, ok := v.mem.slice(gpa, fatalReportSize)
	if !ok {
		v.crash(c, fmt.Sprintf("HcFatal with its FatalReport at %#x, outside guest RAM", gpa), nil)
		return
	}
	var f [23]uint64
	for i := range f {
		f[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	r := &fatal{vector: f[0], errCode: f[1], cr2: f[2], regs: kvm.Regs{
		RIP: f[3], RSP: f[4], RFLAGS: f[5], RBP: f[6],
		RAX: f[7], RBX: f[8], RCX: f[9], RDX: f[10], RSI: f[11], RDI: f[12],
		R8: f[13], R9: f[14], R10: f[15], R11: f[16], R12: f[17], R13: f[18], R14: f[19], R15: f[20],
	}}
	msg := "(no message)"
	if m, ok := v.mem.slice(f[21], min(f[22], maxFatalMsg)); ok && len(m) > 0 {
		msg = printable(m)
	} else if !ok {
		msg = fmt.Sprintf("(message at %#x, length %d, is outside guest RAM)", f[21], f[22])
	}
	v.crash(c, msg, r)
}

// fatal is a guest-supplied FatalReport.
type fatal struct {
	vector, errCode, cr2 uint64
	regs                 kvm.Regs
}

var vectorNames = map[uint64]string{
	0: "#DE divide error", 1: "#DB debug", 2: "NMI", 3: "#BP breakpoint", 4: "#OF overflow",
	5: "#BR bound range", 6: "#UD invalid opcode", 7: "#NM device not available", 8: "#DF double fault",
	10: "#TS invalid TSS", 11: "#NP segment not present", 12: "#SS stack fault", 13: "#GP general protection",
	14: "#PF page fault", 16: "#MF x87 error", 17: "#AC alignment check", 18: "#MC machine check",
	19: "#XM SIMD error", 32: "timer",
}

// crash prints a crash report for vCPU c to the guest's stderr and ends the
// run with CrashStatus. f is the guest's own report, or nil to read the
// vCPU's registers.
func (v *vm) crash(c *vcpu, reason string, f *fatal) {
	crashMu.Lock()
	defer crashMu.Unlock()
	if v.stopped() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mote: guest crashed: %s\n", reason)
	v.cpuReport(&b, c, f)
	v.consoleTail(&b)
	v.cfg.Stderr.Write([]byte(b.String()))
	v.stop(CrashStatus)
}

// cpuReport describes the state of vCPU c: registers, the symbol of RIP and
// a backtrace. It must run on c's thread.
func (v *vm) cpuReport(b *strings.Builder, c *vcpu, f *fatal) {
	regs, rerr := c.cpu.GetRegs()
	sregs, serr := c.cpu.GetSregs()
	if f != nil {
		regs, rerr = f.regs, nil
		if f.vector != ^uint64(0) {
			fmt.Fprintf(b, "exception: vector %d", f.vector)
			if n, ok := vectorNames[f.vector]; ok {
				fmt.Fprintf(b, " (%s)", n)
			}
			fmt.Fprintf(b, ", error code %#x", f.errCode)
			if f.vector == 14 {
				fmt.Fprintf(b, ", address %#x", f.cr2)
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(b, "cpu %d", c.index)
	if rerr != nil {
		fmt.Fprintf(b, ": registers unavailable: %v\n", rerr)
	} else {
		fmt.Fprintf(b, " at %s\n", v.describePC(regs.RIP))
		r := &regs
		rows := [][2]any{
			{"rax", r.RAX}, {"rbx", r.RBX}, {"rcx", r.RCX}, {"rdx", r.RDX},
			{"rsi", r.RSI}, {"rdi", r.RDI}, {"rbp", r.RBP}, {"rsp", r.RSP},
			{"r8", r.R8}, {"r9", r.R9}, {"r10", r.R10}, {"r11", r.R11},
			{"r12", r.R12}, {"r13", r.R13}, {"r14", r.R14}, {"r15", r.R15},
			{"rip", r.RIP}, {"rflags", r.RFLAGS},
		}
		for i, x := range rows {
			fmt.Fprintf(b, "  %-6s 0x%016x", x[0], x[1])
			if i%4 == 3 || i == len(rows)-1 {
				b.WriteString("\n")
			}
		}
	}
	if serr == nil {
		s := &sregs
		fmt.Fprintf(b, "  cs %#x ss %#x  fs.base %#x gs.base %#x\n", s.CS.Selector, s.SS.Selector, s.FS.Base, s.GS.Base)
		fmt.Fprintf(b, "  cr0 %#x cr2 %#x cr3 %#x cr4 %#x efer %#x\n", s.CR0, s.CR2, s.CR3, s.CR4, s.EFER)
		if rerr == nil {
			b.WriteString("backtrace:\n")
			v.backtrace(b, s.CR3, regs.RIP, regs.RBP)
		}
	}
}

// consoleTail appends the last console output, if any.
func (v *vm) consoleTail(b *strings.Builder) {
	if tail := v.out.lastOutput(); len(tail) > 0 {
		b.WriteString("last console output:\n")
		b.WriteString(printable(tail))
		if !bytes.HasSuffix(tail, []byte("\n")) {
			b.WriteString("\n")
		}
	}
}

// describePC formats pc with its symbol and source position.
func (v *vm) describePC(pc uint64) string {
	s := fmt.Sprintf("%#x", pc)
	if name, off := v.img.Symbolize(pc); name != "" {
		s += fmt.Sprintf(" %s+%#x", name, off)
	}
	if file, line, ok := v.img.FileLine(pc); ok {
		s += fmt.Sprintf(" (%s:%d)", file, line)
	}
	return s
}

// backtrace walks the frame-pointer chain ([fp] = caller's fp, [fp+8] =
// return address) through the guest's page tables, stopping at the first
// address that does not translate, a chain that does not grow upwards, or
// maxFrames.
func (v *vm) backtrace(b *strings.Builder, cr3, pc, fp uint64) {
	fmt.Fprintf(b, "  %s\n", v.describePC(pc))
	for i := 0; i < maxFrames && fp != 0; i++ {
		next, ok1 := v.mem.readVirt64(cr3, fp)
		ret, ok2 := v.mem.readVirt64(cr3, fp+8)
		if !ok1 || !ok2 || ret == 0 {
			return
		}
		// ret-1 is inside the call instruction: symbolize that.
		fmt.Fprintf(b, "  %s\n", v.describePC(ret-1))
		if next <= fp {
			return
		}
		fp = next
	}
}

// printable returns guest bytes as valid UTF-8 without terminal control
// sequences (tabs and newlines kept).
func printable(p []byte) string {
	s := strings.ToValidUTF8(string(p), string(utf8.RuneError))
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return '.'
		}
		return r
	}, s)
}
