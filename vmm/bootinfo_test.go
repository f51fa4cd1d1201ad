package vmm

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/motevm/mote/abi"
)

func TestBootInfoLayout(t *testing.T) {
	var bi abi.BootInfo
	offs := []struct {
		name      string
		got, want uintptr
	}{
		{"Magic", unsafe.Offsetof(bi.Magic), biMagic},
		{"Version", unsafe.Offsetof(bi.Version), biVersion},
		{"NumCPUs", unsafe.Offsetof(bi.NumCPUs), biNumCPUs},
		{"MemSize", unsafe.Offsetof(bi.MemSize), biMemSize},
		{"ImageEnd", unsafe.Offsetof(bi.ImageEnd), biImageEnd},
		{"FreeStart", unsafe.Offsetof(bi.FreeStart), biFreeStart},
		{"PML4", unsafe.Offsetof(bi.PML4), biPML4},
		{"TSCHz", unsafe.Offsetof(bi.TSCHz), biTSCHz},
		{"WallClockNs", unsafe.Offsetof(bi.WallClockNs), biWallClockNs},
		{"TickNs", unsafe.Offsetof(bi.TickNs), biTickNs},
		{"Argc", unsafe.Offsetof(bi.Argc), biArgc},
		{"Envc", unsafe.Offsetof(bi.Envc), biEnvc},
		{"StringsGPA", unsafe.Offsetof(bi.StringsGPA), biStringsGPA},
		{"StringsLen", unsafe.Offsetof(bi.StringsLen), biStringsLen},
		{"Flags", unsafe.Offsetof(bi.Flags), biFlags},
		{"Seed", unsafe.Offsetof(bi.Seed), biSeed},
		{"Hostname", unsafe.Offsetof(bi.Hostname), biHostname},
		{"size", unsafe.Sizeof(bi), biSize},
	}
	for _, o := range offs {
		if o.got != o.want {
			t.Errorf("BootInfo.%s at %d, encoder uses %d", o.name, o.got, o.want)
		}
	}
	// Round trip: the encoder agrees with the Go layout of abi.BootInfo.
	in := abi.BootInfo{Magic: abi.BootMagic, Version: 1, NumCPUs: 2, MemSize: 3, ImageEnd: 4, FreeStart: 5,
		PML4: 6, TSCHz: 7, WallClockNs: -8, TickNs: 9, Argc: 10, Envc: 11, StringsGPA: 12, StringsLen: 13, Flags: 14}
	for i := range in.Seed {
		in.Seed[i] = byte(i + 100)
	}
	copy(in.Hostname[:], "host")
	b := make([]byte, biSize)
	encodeBootInfo(b, &in)
	var out abi.BootInfo
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	if raw := unsafe.Slice((*byte)(unsafe.Pointer(&in)), unsafe.Sizeof(in)); !bytes.Equal(raw, b) {
		t.Fatal("encoding differs from the in-memory layout of abi.BootInfo")
	}
}

func TestArgsEnv(t *testing.T) {
	if got := argv0("/x/y/hello.img"); got != "hello" {
		t.Fatal(got)
	}
	env := mergeEnv([]string{"A=1", "B=2"}, []string{"C=3", "A=4"})
	if !slices.Equal(env, []string{"A=4", "B=2", "C=3"}) {
		t.Fatal(env)
	}
	s, err := encodeStrings([]string{"p", "x"}, []string{"A=1"})
	if err != nil || string(s) != "p\x00x\x00A=1\x00" {
		t.Fatalf("%q %v", s, err)
	}
	if _, err := encodeStrings([]string{strings.Repeat("x", abi.BootInfoSize)}, nil); err != errArgsTooLarge {
		t.Fatal(err)
	}
}
