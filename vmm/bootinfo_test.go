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
		{"NumVirtio", unsafe.Offsetof(bi.NumVirtio), biNumVirtio},
		{"Net", unsafe.Offsetof(bi.Net), biNet},
		{"FilesGPA", unsafe.Offsetof(bi.FilesGPA), biFilesGPA},
		{"FilesLen", unsafe.Offsetof(bi.FilesLen), biFilesLen},
		{"MountsGPA", unsafe.Offsetof(bi.MountsGPA), biMountsGPA},
		{"MountsLen", unsafe.Offsetof(bi.MountsLen), biMountsLen},
		{"HostSignals", unsafe.Offsetof(bi.HostSignals), biHostSignals},
		{"Lazy", unsafe.Offsetof(bi.Lazy), biLazy},
		{"size", unsafe.Sizeof(bi), biSize},
		{"Net.IPv4", unsafe.Offsetof(bi.Net.IPv4), ncIPv4},
		{"Net.Prefix4", unsafe.Offsetof(bi.Net.Prefix4), ncPrefix4},
		{"Net.Prefix6", unsafe.Offsetof(bi.Net.Prefix6), ncPrefix6},
		{"Net.Gateway4", unsafe.Offsetof(bi.Net.Gateway4), ncGateway4},
		{"Net.DNS4", unsafe.Offsetof(bi.Net.DNS4), ncDNS4},
		{"Net.IPv6", unsafe.Offsetof(bi.Net.IPv6), ncIPv6},
		{"Net.Gateway6", unsafe.Offsetof(bi.Net.Gateway6), ncGateway6},
		{"Net.DNS6", unsafe.Offsetof(bi.Net.DNS6), ncDNS6},
		{"Net.SearchLen", unsafe.Offsetof(bi.Net.SearchLen), ncSearchLen},
		{"Net.Search", unsafe.Offsetof(bi.Net.Search), ncSearch},
		{"NetConfig size", unsafe.Sizeof(bi.Net), netConfigSize},
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
	in.NumVirtio = 1
	in.Lazy[0], in.Lazy[3] = abi.LazyRange{Start: 15, End: 16}, abi.LazyRange{Start: 17, End: 18}
	in.Net = abi.NetConfig{IPv4: [4]byte{10, 0, 2, 15}, Prefix4: 24, Prefix6: 64, Gateway4: [4]byte{10, 0, 2, 2},
		DNS4: [4]byte{10, 0, 2, 3}, SearchLen: 11}
	for i := range in.Net.IPv6 {
		in.Net.IPv6[i], in.Net.Gateway6[i], in.Net.DNS6[i] = byte(i), byte(i+16), byte(i+32)
	}
	copy(in.Net.Search[:], "example.com")
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
	if got := ProgramName("/x/y/hello.img"); got != "hello" {
		t.Fatal(got)
	}
	env := mergeEnv([]string{"A=1", "B=2"}, []string{"C=3", "A=4"})
	if !slices.Equal(env, []string{"A=4", "B=2", "C=3"}) {
		t.Fatal(env)
	}
	s, err := encodeStrings([]string{"p", "x"}, []string{"A=1"}, "")
	if err != nil || string(s) != "p\x00x\x00A=1\x00" {
		t.Fatalf("%q %v", s, err)
	}
	s, err = encodeStrings([]string{"p"}, []string{"A=1"}, "/src/pkg")
	if err != nil || string(s) != "p\x00A=1\x00/src/pkg\x00" {
		t.Fatalf("with a working directory: %q %v", s, err)
	}
	if _, err := encodeStrings([]string{strings.Repeat("x", abi.BootInfoSize)}, nil, ""); err != errArgsTooLarge {
		t.Fatal(err)
	}
	if _, err := encodeStrings([]string{"p"}, nil, "/"+strings.Repeat("x", abi.BootInfoSize)); err != errArgsTooLarge {
		t.Fatal(err)
	}
}
