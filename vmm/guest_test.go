package vmm

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image/imagetest"
)

// The test guest: one RWX segment at 0x400000.
//
//	0x400000  code (entry, ring 3)
//	0x400800  test_caller, 0x400900 test_main: symbols for backtraces
//	0x401000  data: WriteArgs at 0x401000, buffer at 0x401100,
//	          counter/flag at 0x401200, fake frames at 0x401300,
//	          FatalReport at 0x401800, its message at 0x401900
//	0x402000  vector stubs, 32 bytes each (ring 0)
//	0x404000  timer handler (ring 0)
//	0x404400  #UD handler (ring 0)
//	0x404800  syscall trap (ring 0, unused)
const (
	gCode      = 0x400000
	gData      = 0x401000
	gBuf       = 0x401100
	gCounter   = 0x401200
	gFrames    = 0x401300
	gFatal     = 0x401800
	gFatalMsg  = 0x401900
	gVectors   = 0x402000
	gStride    = 32
	gTimer     = 0x404000
	gUDHandler = 0x404400
	gSystrap   = 0x404800
	gEnd       = 0x405000
)

type testGuest struct {
	mem       [gEnd - gCode]byte
	noteFlags uint32 // abi.Note.Flags
}

func (g *testGuest) put(va uint64, b []byte)   { copy(g.mem[va-gCode:], b) }
func (g *testGuest) put64(va uint64, v uint64) { binary.LittleEndian.PutUint64(g.mem[va-gCode:], v) }

// newTestGuest returns a guest running code at ring 3 whose every vector
// reports itself with HcFatal (message "test fault").
func newTestGuest(code []byte) *testGuest {
	g := &testGuest{}
	g.put(gCode, code)
	for v := 0; v < 256; v++ {
		g.put(gVectors+uint64(v)*gStride, []byte{
			0xC6, 0x04, 0x25, 0x00, 0x18, 0x40, 0x00, byte(v), // mov byte [0x401800], v   (FatalReport.Vector low byte)
			0xBB, 0x18, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000018   (HcFatal)
			0xB8, 0x00, 0x18, 0x40, 0x00, // mov eax, 0x401800     (FatalReport)
			0x48, 0x89, 0x03, // mov [rbx], rax
			0xEB, 0xFE, // jmp .
		})
	}
	g.put64(gFatal, 0) // Vector (low byte set by the stub)
	msg := "test fault"
	g.put(gFatalMsg, []byte(msg))
	g.put64(gFatal+21*8, gFatalMsg)
	g.put64(gFatal+22*8, uint64(len(msg)))
	g.put(gSystrap, []byte{0x0F, 0x0B})
	return g
}

// withTimer makes vector 32 increment the counter, EOI and return.
func (g *testGuest) withTimer() *testGuest {
	g.put(gTimer, []byte{
		0x50, 0x51, 0x52, // push rax; push rcx; push rdx
		0xF0, 0x48, 0xFF, 0x04, 0x25, 0x00, 0x12, 0x40, 0x00, // lock inc qword [0x401200]
		0xB9, 0x0B, 0x08, 0x00, 0x00, // mov ecx, 0x80b   (x2APIC EOI)
		0x31, 0xC0, // xor eax, eax
		0x31, 0xD2, // xor edx, edx
		0x0F, 0x30, // wrmsr
		0x5A, 0x59, 0x58, // pop rdx; pop rcx; pop rax
		0x48, 0xCF, // iretq
	})
	slot := uint64(gVectors + abi.TimerVector*gStride)
	rel := uint32(gTimer - (slot + 5))
	g.put(slot, binary.LittleEndian.AppendUint32([]byte{0xE9}, rel)) // jmp gTimer
	return g
}

// write stores the image as dir/name and returns its path.
func (g *testGuest) write(t testing.TB, name string) string {
	spec := imagetest.Spec{
		Segments: []imagetest.Segment{{Vaddr: gCode, Data: g.mem[:]}},
		Note: &abi.Note{Version: abi.Version, Flags: g.noteFlags, Entry: gCode, Vectors: gVectors,
			VectorStride: gStride, SyscallTrap: gSystrap},
		Config: &abi.Config{Args: []string{"baked"}, Env: []string{"A=1"}},
		Syms: []imagetest.Sym{
			{Name: "test_start", Addr: gCode, Size: 0x800},
			{Name: "test_caller", Addr: 0x400800, Size: 0x100},
			{Name: "test_main", Addr: 0x400900, Size: 0x100},
		},
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, imagetest.Build(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func needKVM(t testing.TB) {
	if _, err := os.Stat("/dev/kvm"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("/dev/kvm is missing on CI: the monitor tests need KVM (%v)", err)
		}
		t.Skipf("no /dev/kvm: %v", err)
	}
}

type result struct {
	status         int
	stdout, stderr string
	elapsed        time.Duration
	vm             *vm
}

// runGuest boots path and waits for it, failing the test after timeout.
func runGuest(t testing.TB, path string, mod func(*Config)) result {
	t.Helper()
	needKVM(t)
	var out, errb bytes.Buffer
	cfg := Config{ImagePath: path, MemoryBytes: 8 << 20, Stdout: &out, Stderr: &errb}
	if mod != nil {
		mod(&cfg)
	}
	start := time.Now()
	v, err := newVM(cfg)
	if err != nil {
		t.Fatalf("newVM: %v", err)
	}
	t.Cleanup(v.close)
	ch := make(chan int, 1)
	go func() { ch <- v.run() }()
	select {
	case st := <-ch:
		return result{st, out.String(), errb.String(), time.Since(start), v}
	case <-time.After(20 * time.Second):
		v.stop(255)
		t.Fatalf("guest did not exit within 20 s; stderr so far: %s", errb.String())
	}
	return result{}
}

// hcWriteThenExit: HcWrite(WriteArgs at 0x401000), then HcExit(Result+1).
var hcWriteThenExit = []byte{
	0x48, 0xC7, 0xC0, 0x00, 0x10, 0x40, 0x00, // mov rax, 0x401000   (WriteArgs)
	0xBB, 0x08, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000008          (HcWrite)
	0x48, 0x89, 0x03, // mov [rbx], rax
	0x48, 0x8B, 0x04, 0x25, 0x18, 0x10, 0x40, 0x00, // mov rax, [0x401018]  (Result)
	0x48, 0x83, 0xC0, 0x01, // add rax, 1
	0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000          (HcExit)
	0x48, 0x89, 0x03, // mov [rbx], rax
	0x0F, 0x0B, // ud2 (not reached)
}

func writeGuest(fd, buf, n uint64) *testGuest {
	g := newTestGuest(hcWriteThenExit)
	g.put64(gData, fd)
	g.put64(gData+8, buf)
	g.put64(gData+16, n)
	g.put64(gData+24, 0x5555)
	g.put(gBuf, []byte("hello\n"))
	return g
}

func TestHello(t *testing.T) {
	r := runGuest(t, writeGuest(1, gBuf, 6).write(t, "hello.img"), nil)
	if r.status != 7 || r.stdout != "hello\n" || r.stderr != "" {
		t.Fatalf("status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
	v := r.vm
	t.Logf("setup %v, first exit %v after setup, whole run %v",
		v.tReady.Sub(v.tStart), v.tFirstExit.Sub(v.tReady), r.elapsed)

	// The boot state the guest saw.
	bi := v.mem.b[abi.BootInfoBase:]
	le := binary.LittleEndian
	if le.Uint64(bi[biMagic:]) != abi.BootMagic || le.Uint64(bi[biMemSize:]) != 8<<20 ||
		le.Uint64(bi[biFreeStart:]) != 0x600000 || le.Uint64(bi[biImageEnd:]) != gEnd || le.Uint64(bi[biTSCHz:]) == 0 {
		t.Errorf("bad BootInfo % x", bi[:biSize])
	}
	strs := v.mem.b[le.Uint64(bi[biStringsGPA:]):][:le.Uint64(bi[biStringsLen:])]
	if string(strs) != "hello\x00baked\x00HOME=/\x00GOMEMLIMIT=4MiB\x00A=1\x00" || le.Uint32(bi[biArgc:]) != 2 || le.Uint32(bi[biEnvc:]) != 3 {
		t.Errorf("strings %q", strs)
	}
	if string(bi[biHostname:biHostname+5]) != "mote\x00" {
		t.Errorf("hostname %q", bi[biHostname:biHostname+8])
	}
}

func TestStderrAndArgs(t *testing.T) {
	r := runGuest(t, writeGuest(2, gBuf, 6).write(t, "x.img"), func(c *Config) {
		c.Args = []string{"run"}
		c.Env = []string{"A=2", "B=3"}
		c.Hostname = "box"
	})
	if r.status != 7 || r.stderr != "hello\n" || r.stdout != "" {
		t.Fatalf("status %d stdout %q stderr %q", r.status, r.stdout, r.stderr)
	}
	bi := r.vm.mem.b[abi.BootInfoBase:]
	le := binary.LittleEndian
	strs := r.vm.mem.b[le.Uint64(bi[biStringsGPA:]):][:le.Uint64(bi[biStringsLen:])]
	if string(strs) != "x\x00baked\x00run\x00HOME=/\x00GOMEMLIMIT=4MiB\x00A=2\x00B=3\x00" {
		t.Errorf("strings %q", strs)
	}
}

func TestHostileWrite(t *testing.T) {
	for _, c := range []struct {
		name         string
		fd, buf, len uint64
		status       int
	}{
		{"buf beyond RAM", 1, 0xFFFF_FFFF_FFFF_F000, 6, (-eFAULT + 1) & 0xFF},
		{"buf crossing end of RAM", 1, 8<<20 - 3, 6, (-eFAULT + 1) & 0xFF},
		{"buf+len wraps", 1, ^uint64(0) - 2, 6, (-eFAULT + 1) & 0xFF},
		{"bad fd", 3, gBuf, 6, (-eBADF + 1) & 0xFF},
		{"huge length is capped", 1, gBuf, 1 << 40, (maxWrite + 1) & 0xFF},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runGuest(t, writeGuest(c.fd, c.buf, c.len).write(t, "h.img"), func(cfg *Config) { cfg.MemoryBytes = 8 << 20 })
			if r.status != c.status || r.stderr != "" {
				t.Fatalf("status %d (want %d) stderr %q", r.status, c.status, r.stderr)
			}
		})
	}
}

func TestWriteArgsOutsideRAM(t *testing.T) {
	g := newTestGuest([]byte{
		0x48, 0xC7, 0xC0, 0x00, 0x00, 0x00, 0x7F, // mov rax, 0x7F000000 (beyond 8 MiB of RAM)
		0xBB, 0x08, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000008 (HcWrite)
		0x48, 0x89, 0x03, // mov [rbx], rax
	})
	r := runGuest(t, g.write(t, "w.img"), nil)
	if r.status != CrashStatus || !bytes.Contains([]byte(r.stderr), []byte("outside guest RAM")) {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
}

func TestUD2Crash(t *testing.T) {
	g := writeGuest(1, gBuf, 6)
	// Write "hello\n" first (it must appear as last console output), then
	// set up a frame chain and ud2.
	code := append([]byte(nil), hcWriteThenExit[:15]...)
	code = append(code,
		0x48, 0xC7, 0xC5, 0x00, 0x13, 0x40, 0x00, // mov rbp, 0x401300 (fake frame chain)
		0x0F, 0x0B, // ud2   (at 0x400016)
	)
	g.put(gCode, code)
	g.put64(gFrames, 0)
	g.put64(gFrames+8, 0x400821)
	// Vector 6: a handler that fills the FatalReport from the interrupt frame.
	g.put(gUDHandler, []byte{
		0x48, 0x8B, 0x04, 0x24, // mov rax, [rsp]          (frame RIP)
		0x48, 0x89, 0x04, 0x25, 0x18, 0x18, 0x40, 0x00, // mov [0x401818], rax (report.RIP)
		0x48, 0x8B, 0x44, 0x24, 0x18, // mov rax, [rsp+0x18]     (frame RSP)
		0x48, 0x89, 0x04, 0x25, 0x20, 0x18, 0x40, 0x00, // mov [0x401820], rax (report.RSP)
		0x48, 0x89, 0x2C, 0x25, 0x30, 0x18, 0x40, 0x00, // mov [0x401830], rbp (report.RBP)
		0xC6, 0x04, 0x25, 0x00, 0x18, 0x40, 0x00, 0x06, // mov byte [0x401800], 6 (report.Vector)
		0xBB, 0x18, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000018      (HcFatal)
		0xB8, 0x00, 0x18, 0x40, 0x00, // mov eax, 0x401800        (FatalReport)
		0x48, 0x89, 0x03, // mov [rbx], rax
		0xEB, 0xFE, // jmp .
	})
	slot := uint64(gVectors + 6*gStride)
	g.put(slot, binary.LittleEndian.AppendUint32([]byte{0xE9}, uint32(gUDHandler-(slot+5)))) // jmp gUDHandler
	r := runGuest(t, g.write(t, "ud.img"), nil)
	t.Logf("report:\n%s", r.stderr)
	for _, want := range []string{"mote: guest crashed: test fault\n", "vector 6 (#UD invalid opcode)",
		"cpu 0 at 0x400016 test_start+0x16\n", "rsp    0x0000000000044000", "rbp    0x0000000000401300",
		"backtrace:\n  0x400016 test_start+0x16\n  0x400820 test_caller+0x20\n", "last console output:\nhello\n"} {
		if !bytes.Contains([]byte(r.stderr), []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if r.status != CrashStatus {
		t.Fatalf("status %d", r.status)
	}
}

func TestUnknownMMIOBacktrace(t *testing.T) {
	g := newTestGuest([]byte{
		0x48, 0xC7, 0xC5, 0x00, 0x13, 0x40, 0x00, // mov rbp, 0x401300 (fake frame chain)
		0xBB, 0x50, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000050 (hypercall page, no such hypercall)
		0x48, 0x89, 0x03, // mov [rbx], rax
	})
	g.put64(gFrames, gFrames+0x10)
	g.put64(gFrames+8, 0x400805)
	g.put64(gFrames+0x10, 0)
	g.put64(gFrames+0x18, 0x400905)
	r := runGuest(t, g.write(t, "m.img"), nil)
	t.Logf("report:\n%s", r.stderr)
	for _, want := range []string{"unexpected MMIO write of 8 bytes at guest-physical 0xd0000050",
		"cpu 0 at 0x40000f test_start+0xf", "test_caller+0x4", "test_main+0x4", "rbp    0x0000000000401300"} {
		if !bytes.Contains([]byte(r.stderr), []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if r.status != CrashStatus {
		t.Fatalf("status %d", r.status)
	}
}

// timerGuest spins in ring 3 until the timer handler has counted n ticks,
// then exits with the count.
func timerGuest(n byte) *testGuest {
	return newTestGuest([]byte{
		0x48, 0x8B, 0x04, 0x25, 0x00, 0x12, 0x40, 0x00, // loop: mov rax, [0x401200]
		0x48, 0x83, 0xF8, n, // cmp rax, n
		0x72, 0xF2, // jb loop
		0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000 (HcExit)
		0x48, 0x89, 0x03, // mov [rbx], rax
	}).withTimer()
}

func TestLAPICTimer(t *testing.T) {
	const tick = 10 * time.Millisecond
	p5 := timerGuest(5).write(t, "t5.img")
	p25 := timerGuest(25).write(t, "t25.img")
	run := func(p string) time.Duration {
		r := runGuest(t, p, func(c *Config) { c.tick = tick })
		if r.status != int(r.vm.mem.b[gCounter]) || r.stderr != "" {
			t.Fatalf("status %d stderr %q", r.status, r.stderr)
		}
		var timerStart time.Time
		for _, ph := range r.vm.phases {
			if ph.name == "lapic" {
				timerStart = ph.at
			}
		}
		return r.vm.tFirstExit.Sub(timerStart) // LAPIC programmed .. exit
	}
	d5, d25 := run(p5), run(p25)
	period := (d25 - d5) / 20
	t.Logf("5 ticks in %v, 25 ticks in %v: period %v (configured %v)", d5, d25, period, tick)
	// Lenient upper bounds: a loaded host delays ticks (go test runs
	// packages in parallel).
	if d5 < 4*tick || d5 > 20*tick || period < tick*9/10 || period > tick*3 {
		t.Fatalf("timer period off: 5 ticks %v, period %v", d5, period)
	}
}

func TestIdleDeadline(t *testing.T) {
	g := newTestGuest([]byte{
		0x48, 0xC7, 0xC0, 0x80, 0xF0, 0xFA, 0x02, // mov rax, 50000000 (50 ms)
		0xBB, 0x10, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000010 (HcIdle)
		0x48, 0x89, 0x03, // mov [rbx], rax
		0x31, 0xC0, // xor eax, eax
		0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000 (HcExit)
		0x48, 0x89, 0x03, // mov [rbx], rax
	})
	r := runGuest(t, g.write(t, "i.img"), func(c *Config) { c.tick = -1 })
	d := r.vm.tFirstExit.Sub(r.vm.tReady)
	t.Logf("idle until 50 ms: exit after %v", time.Since(r.vm.tReady))
	if r.status != 0 || time.Since(r.vm.tReady) < 50*time.Millisecond {
		t.Fatalf("status %d, returned after %v (first exit %v)", r.status, time.Since(r.vm.tReady), d)
	}
}

// TestSMP: the APs set a flag then idle forever; the BSP waits for the
// flag and exits, which must wake the idle APs.
func TestSMP(t *testing.T) {
	g := newTestGuest([]byte{
		0x48, 0x85, 0xF6, // test rsi, rsi   (cpu index)
		0x75, 0x15, // jnz ap
		0x48, 0x8B, 0x04, 0x25, 0x00, 0x12, 0x40, 0x00, // bsp: mov rax, [0x401200]
		0x48, 0x85, 0xC0, // test rax, rax
		0x74, 0xF3, // jz bsp
		0xBB, 0x00, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000000 (HcExit)
		0x48, 0x89, 0x03, // mov [rbx], rax
		0x48, 0xC7, 0x04, 0x25, 0x00, 0x12, 0x40, 0x00, 0x2A, 0x00, 0x00, 0x00, // ap: mov qword [0x401200], 42
		0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, // mov rax, -1 (no deadline)
		0xBB, 0x10, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000010 (HcIdle)
		0x48, 0x89, 0x03, // idle: mov [rbx], rax
		0xEB, 0xFB, // jmp idle
	})
	r := runGuest(t, g.write(t, "smp.img"), func(c *Config) { c.CPUs = 4; c.tick = -1 })
	if r.status != 42 || r.stderr != "" {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
}

// TestContextCancel: a spinning vCPU and an idle one are stopped by the
// context, each printing its state (Debug).
func TestContextCancel(t *testing.T) {
	g := newTestGuest([]byte{
		0x48, 0x85, 0xF6, // test rsi, rsi
		0x75, 0x02, // jnz ap
		0xEB, 0xFE, // bsp: jmp .
		0x48, 0xC7, 0xC0, 0xFF, 0xFF, 0xFF, 0xFF, // ap: mov rax, -1
		0xBB, 0x10, 0x00, 0x00, 0xD0, // mov ebx, 0xD0000010 (HcIdle)
		0x48, 0x89, 0x03, // idle: mov [rbx], rax
		0xEB, 0xFB, // jmp idle
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := runGuest(t, g.write(t, "spin.img"), func(c *Config) { c.Context = ctx; c.Debug = true; c.CPUs = 2; c.tick = -1 })
	t.Logf("%s", r.stderr)
	if r.status != InterruptedStatus || !strings.Contains(r.stderr, "cpu 0 at 0x400005 test_start+0x5\n") ||
		!strings.Contains(r.stderr, "cpu 1 at 0x400016 test_start+0x16\n") || !strings.Contains(r.stderr, "guest stopped: context deadline exceeded") {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
}

func TestUserErrors(t *testing.T) {
	needKVM(t)
	p := writeGuest(1, gBuf, 6).write(t, "e.img")
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{ImagePath: p, MemoryBytes: 4 << 20}, "--memory 4M is too small for " + p + " (needs at least 8 MiB)"},
		{Config{ImagePath: p, MemoryBytes: 4 << 30}, "--memory 4G is too large"},
		{Config{ImagePath: p, CPUs: 17}, "--cpus 17 is out of range"},
		{Config{ImagePath: p, Args: []string{strings.Repeat("x", 70000)}}, "arguments and environment too large"},
		{Config{ImagePath: p + ".missing"}, ": no such file"},
	} {
		_, err := Run(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Run(%+v): %v, want %q", c.cfg.MemoryBytes, err, c.want)
		}
	}
}
