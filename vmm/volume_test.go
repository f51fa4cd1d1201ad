package vmm

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/virtio"
	"github.com/motevm/mote/vmm/kvm"
	"github.com/motevm/mote/vmm/p9fs"
)

func TestMountList(t *testing.T) {
	ms := mountList(
		[]Tmpfs{{Path: "/cache", Size: 4 << 20}, {Path: "/scratch"}},
		[]Volume{{Host: "/h/data", Guest: "/data"}, {Host: "/h/static", Guest: "/srv/static", ReadOnly: true}})
	want := "tmpfs\x00/cache\x00size=4194304\x00" +
		"tmpfs\x00/scratch\x00\x00" +
		"9p\x00/data\x00tag=vol0\x00" +
		"9p\x00/srv/static\x00tag=vol1,ro\x00"
	if got := string(encodeMounts(ms)); got != want {
		t.Fatalf("mount list %q, want %q", got, want)
	}
	if b := encodeMounts(mountList(nil, nil)); len(b) != 0 {
		t.Fatalf("no mounts: %q", b)
	}
}

func TestCheckVolumes(t *testing.T) {
	vols := func(guests ...string) []Volume {
		var vs []Volume
		for _, g := range guests {
			vs = append(vs, Volume{Host: "/h", Guest: g})
		}
		return vs
	}
	eight := vols("/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h")
	for _, c := range []struct {
		cfg  Config
		nets int
		want string // "" for no error
	}{
		{Config{Volumes: eight}, 0, ""},
		{Config{Volumes: eight}, 1, "too many volumes (8): at most 7 besides the network device"},
		{Config{Volumes: append(eight, Volume{Host: "/h", Guest: "/i"})}, 0, "too many volumes (9): at most 8"},
		{Config{Volumes: vols("/a", "/a")}, 0, "volume /h: /a is mounted twice"},
		{Config{Volumes: vols("/t"), Tmpfs: []Tmpfs{{Path: "/t"}}}, 0, "volume /h: /t is mounted twice"},
		{Config{Volumes: vols("a")}, 0, `the guest path "a" must be an absolute, clean path`},
		{Config{Volumes: vols("/")}, 0, `the guest path "/" must be`},
		{Config{Volumes: vols("/a/")}, 0, `the guest path "/a/" must be`},
		{Config{Volumes: vols("/a\x00b")}, 0, "must be an absolute, clean path"},
		{Config{Volumes: []Volume{{Guest: "/a"}}}, 0, "volume for /a: no host directory"},
	} {
		err := checkVolumes(&c.cfg, c.nets)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v with %d nets: %v, want %q", c.cfg.Volumes, c.nets, err, c.want)
		}
	}
}

// windowCode reads the Magic and DeviceID registers of the virtio window
// at gpa and exits with the device ID (99 if the magic is wrong): the
// register reads take the MMIO exit path.
func windowCode(gpa uint32) []byte {
	code := []byte{
		0xbb, 0, 0, 0, 0, // mov ebx, gpa
		0x8b, 0x03, // mov eax, [rbx]           Magic
		0x3d, 0x76, 0x69, 0x72, 0x74, // cmp eax, "virt"
		0x75, 0x0b, // jne fail
		0x8b, 0x43, 0x08, // mov eax, [rbx+8]          DeviceID
		0xb9, 0x00, 0x00, 0x00, 0xd0, // mov ecx, 0xd0000000 (HcExit)
		0x48, 0x89, 0x01, // mov [rcx], rax
		0xb8, 0x63, 0x00, 0x00, 0x00, // fail: mov eax, 99
		0xb9, 0x00, 0x00, 0x00, 0xd0, // mov ecx, 0xd0000000 (HcExit)
		0x48, 0x89, 0x01, // mov [rcx], rax
	}
	binary.LittleEndian.PutUint32(code[1:], gpa)
	return code
}

// mmioRead reads n bytes of guest-physical gpa through the vm's MMIO exit
// dispatch, as vCPU 0 would.
func mmioRead(t *testing.T, v *vm, gpa uint64, n uint32) uint64 {
	t.Helper()
	c := v.cpus[0]
	if !v.virtioMMIO(c, kvm.MMIO{PhysAddr: gpa, Len: n}) {
		t.Fatalf("MMIO read at %#x not served", gpa)
	}
	d := c.cpu.Run.MMIO().Data
	return binary.LittleEndian.Uint64(d[:]) & (1<<(8*n) - 1)
}

// TestVolumeDevices: with a network device and two volumes the net device
// keeps window 0 and the volumes' virtio-9p devices follow in tag order;
// NumVirtio counts all three, the mount list names the tags, and the
// servers are closed with the VM.
func TestVolumeDevices(t *testing.T) {
	data, static := t.TempDir(), t.TempDir()
	vols := []Volume{{Host: data, Guest: "/data"}, {Host: static, Guest: "/srv/static", ReadOnly: true}}
	g := newTestGuest(windowCode(abi.VirtioMMIOBase + 2*abi.VirtioMMIOStride))
	g.noteFlags = abi.NoteFlagNet
	var fss []*p9fs.FS
	t.Cleanup(func() { // after the VM's close (cleanups run last first)
		for i, fs := range fss {
			if _, err := fs.Attach(); err == nil {
				t.Errorf("the server of volume %d is still open after the VM closed", i)
			}
		}
	})
	r := startVM(t, g.write(t, "vol.img"), func(c *Config) {
		c.netEndpoint = &echoEP{}
		c.Tmpfs = []Tmpfs{{Path: "/cache"}}
		c.Volumes = vols
	}, nil)
	v := r.vm
	for _, vol := range v.volumes {
		fss = append(fss, vol.fs)
	}
	if r.status != virtio.Device9P || r.stderr != "" {
		t.Fatalf("guest read device ID %d at window 2 (want %d), stderr %q", r.status, virtio.Device9P, r.stderr)
	}
	le := binary.LittleEndian
	bi := v.mem.b[abi.BootInfoBase:]
	if n := le.Uint32(bi[biNumVirtio:]); n != 3 {
		t.Errorf("NumVirtio %d, want 3", n)
	}
	gpa, n := le.Uint64(bi[biMountsGPA:]), le.Uint64(bi[biMountsLen:])
	want := "tmpfs\x00/cache\x00\x009p\x00/data\x00tag=vol0\x009p\x00/srv/static\x00tag=vol1,ro\x00"
	if got := string(v.mem.b[gpa : gpa+n]); got != want {
		t.Errorf("mount list %q, want %q", got, want)
	}

	if len(v.virtio) != 3 || len(v.nets) != 1 || len(v.volumes) != 2 {
		t.Fatalf("%d devices, %d nets, %d volumes", len(v.virtio), len(v.nets), len(v.volumes))
	}
	if v.nets[0].virtioDev != v.virtio[0] || v.volumes[0].virtioDev != v.virtio[1] || v.volumes[1].virtioDev != v.virtio[2] {
		t.Fatal("windows not in the order net, vol0, vol1")
	}
	for i, tag := range []string{"", "vol0", "vol1"} {
		w := uint64(abi.VirtioMMIOBase + i*abi.VirtioMMIOStride)
		if v.virtio[i].window != w {
			t.Errorf("device %d at %#x, want %#x", i, v.virtio[i].window, w)
		}
		if !v.virtio[i].ioeventfd {
			t.Logf("device %d: no ioeventfd (kicks exit)", i)
		}
		if m := mmioRead(t, v, w+virtio.RegMagic, 4); m != virtio.MagicValue {
			t.Errorf("window %d: magic %#x", i, m)
		}
		wantID := uint64(virtio.Device9P)
		if tag == "" {
			wantID = virtio.DeviceNet
		}
		if id := mmioRead(t, v, w+virtio.RegDeviceID, 4); id != wantID {
			t.Errorf("window %d: device ID %d, want %d", i, id, wantID)
		}
		if tag == "" {
			continue
		}
		if l := mmioRead(t, v, w+virtio.RegConfig+virtio.NinePCfgTagLen, 2); l != uint64(len(tag)) {
			t.Errorf("window %d: tag_len %d", i, l)
		}
		if got := mmioRead(t, v, w+virtio.RegConfig+virtio.NinePCfgTag, 4); got != uint64(le.Uint32([]byte(tag))) {
			t.Errorf("window %d: tag %q, want %q", i, le.AppendUint32(nil, uint32(got)), tag)
		}
	}
	// The next window is empty.
	if id := mmioRead(t, v, abi.VirtioMMIOBase+3*abi.VirtioMMIOStride+virtio.RegDeviceID, 4); id != 0 {
		t.Errorf("window 3: device ID %d", id)
	}
	if line := v.statsLine(); !strings.Contains(line, " virtio_mmio_exits=") || !strings.Contains(line, " vol_requests=0 ") {
		t.Errorf("stats line: %s", line)
	}
}

// TestVolumeNoNet: without a network device the first volume takes window
// 0.
func TestVolumeNoNet(t *testing.T) {
	g := newTestGuest(windowCode(abi.VirtioMMIOBase))
	r := startVM(t, g.write(t, "vol.img"), func(c *Config) {
		c.Volumes = []Volume{{Host: t.TempDir(), Guest: "/v"}}
	}, nil)
	if r.status != virtio.Device9P || r.stderr != "" {
		t.Fatalf("guest read device ID %d at window 0 (want %d), stderr %q", r.status, virtio.Device9P, r.stderr)
	}
	if n := binary.LittleEndian.Uint32(r.vm.mem.b[abi.BootInfoBase+biNumVirtio:]); n != 1 || len(r.vm.nets) != 0 {
		t.Errorf("NumVirtio %d, %d nets", n, len(r.vm.nets))
	}
	if strings.Contains(r.vm.statsLine(), "net_") {
		t.Error("network counters without a network device")
	}
}

// TestVolumeErrors: a host directory that is missing or not a directory,
// and too many volumes, fail before the guest starts.
func TestVolumeErrors(t *testing.T) {
	needKVM(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	g := newTestGuest(windowCode(abi.VirtioMMIOBase))
	g.noteFlags = abi.NoteFlagNet
	p := g.write(t, "vol.img")
	var eight []Volume
	for i := 0; i < 8; i++ {
		eight = append(eight, Volume{Host: dir, Guest: "/v" + string(rune('0'+i))})
	}
	for _, c := range []struct {
		vols []Volume
		want string
	}{
		{[]Volume{{Host: filepath.Join(dir, "missing"), Guest: "/v"}}, "volume " + filepath.Join(dir, "missing") + ": no such directory"},
		{[]Volume{{Host: file, Guest: "/v"}}, "volume " + file + ": not a directory"},
		{eight, "too many volumes (8): at most 7 besides the network device"},
	} {
		_, err := Run(Config{ImagePath: p, MemoryBytes: 8 << 20, Volumes: c.vols, netEndpoint: &echoEP{}})
		if err == nil || err.Error() != c.want {
			t.Errorf("%d volumes: %v, want %q", len(c.vols), err, c.want)
		}
	}
}
