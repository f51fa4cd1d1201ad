package vmm

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unsafe"

	"github.com/motevm/mote/abi"
)

// Profiling from outside: with Config.Profile the guest kernel samples the
// program's PC at every timer tick (abi.BootFlagProfile) into a buffer the
// monitor reads from guest memory when the guest stops, and the monitor
// writes a flat profile, symbolized with the image's own symbol table. No
// exit and nothing in the guest program is involved; the resolution is the
// tick (10 ms by default), so a run of a few seconds gives a useful picture.

// writeProfile writes the flat profile to cfg.Profile ("-" is stderr).
func (v *vm) writeProfile() {
	if v.cfg.Profile == "" {
		return
	}
	var w io.Writer = v.cfg.Stderr
	if v.cfg.Profile != "-" {
		f, err := os.Create(v.cfg.Profile)
		if err != nil {
			fmt.Fprintf(v.cfg.Stderr, "mote: --profile: %v\n", err)
			return
		}
		defer f.Close()
		w = f
	}
	io.WriteString(w, v.profileReport())
}

func (v *vm) profileReport() string {
	var addr uint64
	for _, s := range v.img.Symbols() {
		if s.Name == abi.SymProfile {
			addr = s.Addr
			break
		}
	}
	if addr == 0 {
		return "mote profile: the image has no sample buffer (built by an older mote?)\n"
	}
	size := uint64(unsafe.Sizeof(abi.Profile{}))
	b, ok := v.mem.slice(addr, size)
	if !ok {
		return "mote profile: the sample buffer is outside guest RAM\n"
	}
	le := binary.LittleEndian
	n, kernel, idle := le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:])
	kept := min(n, abi.ProfileSlots)
	counts := map[string]int{}
	for i := uint64(0); i < kept; i++ {
		pc := le.Uint64(b[24+8*i:])
		name, _ := v.img.Symbolize(pc)
		if name == "" {
			name = fmt.Sprintf("%#x", pc)
		}
		counts[name]++
	}
	type fn struct {
		name string
		n    int
	}
	var fns []fn
	for k, c := range counts {
		fns = append(fns, fn{k, c})
	}
	sort.Slice(fns, func(i, j int) bool {
		if fns[i].n != fns[j].n {
			return fns[i].n > fns[j].n
		}
		return fns[i].name < fns[j].name
	})
	var sb strings.Builder
	total := n + idle
	prog := n - min(kernel, n)
	fmt.Fprintf(&sb, "mote profile: %d timer ticks every %v: %d in the program, %d in the library OS, %d idle (%d samples kept)\n",
		total, v.tick, prog, kernel, idle, kept)
	if total > 0 {
		fmt.Fprintf(&sb, "program %.1f%%, library OS (system calls, faults) %.1f%%, idle %.1f%%\n",
			100*float64(prog)/float64(total), 100*float64(kernel)/float64(total), 100*float64(idle)/float64(total))
	}
	fmt.Fprintf(&sb, "%8s %6s  %s\n", "samples", "%", "function")
	for i, f := range fns {
		if i >= 60 {
			fmt.Fprintf(&sb, "... %d more functions\n", len(fns)-i)
			break
		}
		fmt.Fprintf(&sb, "%8d %5.1f%%  %s\n", f.n, 100*float64(f.n)/float64(max(kept, 1)), f.name)
	}
	return sb.String()
}
