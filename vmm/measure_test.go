package vmm

import (
	"encoding/binary"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// touchGuest writes one byte to every 4 KiB page of [0x600000, 0x600000+n)
// and exits 0.
func touchGuest(n uint32) *testGuest {
	code := []byte{0x48, 0xC7, 0xC0, 0x00, 0x00, 0x60, 0x00} // mov rax, 0x600000
	code = append(code, 0x48, 0xC7, 0xC1)                    // mov rcx, 0x600000+n
	code = binary.LittleEndian.AppendUint32(code, 0x600000+n)
	code = append(code,
		0xC6, 0x00, 0x01, // loop: mov byte [rax], 1
		0x48, 0x05, 0x00, 0x10, 0x00, 0x00, // add rax, 0x1000
		0x48, 0x39, 0xC8, // cmp rax, rcx
		0x72, 0xF2, // jb loop
		0x31, 0xC0, // xor eax, eax
		0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000 (HcExit)
		0x48, 0x89, 0x03, // mov [rbx], rax
	)
	return newTestGuest(code)
}

// TestMeasureBoot prints boot-time numbers for the host memory strategies
// (run with MOTE_MEASURE=1 go test -run MeasureBoot -v ./vmm).
func TestMeasureBoot(t *testing.T) {
	if os.Getenv("MOTE_MEASURE") == "" {
		t.Skip("set MOTE_MEASURE=1")
	}
	names := map[int]string{backLazy: "lazy", backPopulate: "populate", backHuge: "thp", backHugePopulate: "thp+populate"}
	const reps = 15
	for _, mem := range measureMems() {
		for _, touch := range measureTouches() {
			p := touchGuest(touch).write(t, "touch.img")
			for _, b := range []int{backLazy, backPopulate, backHuge, backHugePopulate} {
				var setup, run, total []time.Duration
				var phases []string
				for i := 0; i < reps; i++ {
					r := runGuest(t, p, func(c *Config) { c.MemoryBytes = mem; c.backing = b; c.tick = -1 })
					if r.status != 0 {
						t.Fatalf("status %d %s", r.status, r.stderr)
					}
					v := r.vm
					setup = append(setup, v.tReady.Sub(v.tStart))
					run = append(run, v.tFirstExit.Sub(v.tReady))
					total = append(total, r.elapsed)
					if i == reps-1 {
						prev := v.tStart
						for _, ph := range v.phases {
							phases = append(phases, fmt.Sprintf("%s %v", ph.name, ph.at.Sub(prev).Round(time.Microsecond)))
							prev = ph.at
						}
					}
					v.close()
				}
				t.Logf("mem %4dM touch %2dM %-13s setup %8v  guest %8v  total %8v   [%s]",
					mem>>20, touch>>20, names[b], median(setup), median(run), median(total), strings.Join(phases, ", "))
			}
		}
	}
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2].Round(time.Microsecond)
}

func measureMems() []uint64 {
	if os.Getenv("MOTE_MEASURE") == "quick" {
		return []uint64{64 << 20}
	}
	return []uint64{64 << 20, 256 << 20, 1 << 30}
}

func measureTouches() []uint32 {
	if os.Getenv("MOTE_MEASURE") == "quick" {
		return []uint32{2 << 20}
	}
	return []uint32{0, 2 << 20, 16 << 20}
}

// TestMeasureFirstExit: time from the end of setup to the first exit of a
// guest whose first instruction stores to HcExit.
func TestMeasureFirstExit(t *testing.T) {
	if os.Getenv("MOTE_MEASURE") == "" {
		t.Skip("set MOTE_MEASURE=1")
	}
	p := newTestGuest([]byte{
		0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000 (HcExit)
		0x48, 0x89, 0x03, // mov [rbx], rax   (rax = 0)
	}).write(t, "exit.img")
	var setup, first, total []time.Duration
	for i := 0; i < 41; i++ {
		r := runGuest(t, p, func(c *Config) { c.MemoryBytes = 256 << 20 })
		setup = append(setup, r.vm.tReady.Sub(r.vm.tStart))
		first = append(first, r.vm.tFirstExit.Sub(r.vm.tReady))
		total = append(total, r.elapsed)
		r.vm.close()
	}
	t.Logf("256M, 1 vCPU: setup %v, first KVM_RUN -> first exit %v, Run total %v (medians of 41)", median(setup), median(first), median(total))
}

// TestRunImage boots the image named by $MOTE_IMAGE (e.g. one built by
// `mote build`) and reports timings and exit counts.
func TestRunImage(t *testing.T) {
	p := os.Getenv("MOTE_IMAGE")
	if p == "" {
		t.Skip("set MOTE_IMAGE=path/to/image.img")
	}
	for i := 0; i < 5; i++ {
		r := runGuest(t, p, func(c *Config) { c.MemoryBytes = 256 << 20 })
		v := r.vm
		t.Logf("status %d, setup %v, first exit after %v, run %v, total %v; exits %d, hypercalls exit/write/idle/fatal %d/%d/%d/%d; stdout %q",
			r.status, v.tReady.Sub(v.tStart).Round(time.Microsecond), v.tFirstExit.Sub(v.tReady).Round(time.Microsecond),
			r.elapsed-v.tReady.Sub(v.tStart), r.elapsed, v.exits.Load(),
			v.hcalls[0].Load(), v.hcalls[1].Load(), v.hcalls[2].Load(), v.hcalls[3].Load(), r.stdout)
		var ph []string
		prev := v.tStart
		for _, x := range v.phases {
			ph = append(ph, fmt.Sprintf("%s %v", x.name, x.at.Sub(prev).Round(time.Microsecond)))
			prev = x.at
		}
		t.Logf("  setup phases: %s", strings.Join(ph, ", "))
		v.close()
	}
}
