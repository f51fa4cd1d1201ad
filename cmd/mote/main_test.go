package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/image"
	"github.com/motevm/mote/image/imagetest"
)

func TestParseMemory(t *testing.T) {
	ok := map[string]uint64{
		"256M":      256 << 20,
		"64M":       64 << 20,
		"64m":       64 << 20,
		"1G":        1 << 30,
		"1GiB":      1 << 30,
		"512MiB":    512 << 20,
		"512MB":     512 << 20,
		"268435456": 256 << 20,
		"1":         2 << 20, // rounded up to 2 MiB
		"3M":        4 << 20,
		"1.5G":      1536 << 20,
		"2048K":     2 << 20,
		"3G":        3 << 30,
	}
	for in, want := range ok {
		got, err := parseMemory(in)
		if err != nil || got != want {
			t.Errorf("parseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"":      "empty",
		"0":     "larger than zero",
		"abc":   "not a number",
		"12X":   "unknown unit",
		"4G":    "more than the maximum",
		"1T":    "more than the maximum",
		"-1M":   "not a number",
		"1.2.3": "not a number",
	} {
		_, err := parseMemory(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseMemory(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	if _, err := parseMemory("3073M"); err == nil {
		t.Errorf("parseMemory accepted more than abi.MaxMemory (%d)", abi.MaxMemory)
	}
}

func TestErrorLine(t *testing.T) {
	for in, want := range map[string]string{
		"boom":                                  "mote: boom",
		"mote build: ./x is not a main package": "mote build: ./x is not a main package",
		"mote: already prefixed":                "mote: already prefixed",
		"two\nlines":                            "mote: two",
	} {
		if got := errorLine(errors.New(in)); got != want {
			t.Errorf("errorLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func runCLI(args ...string) (status int, stdout, stderr string) {
	var o, e bytes.Buffer
	status = run(args, &o, &e)
	return status, o.String(), e.String()
}

// TestUsageErrors checks errors that happen before anything is built or run.
func TestUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "mote: name an image or a package to run"},
		{[]string{"run", "-m", "5G", "x.img"}, "mote: -m: memory size 5G is more than the maximum"},
		{[]string{"run", "-m", "lots", "x.img"}, "mote: -m: memory size \"lots\" is not a number"},
		{[]string{"run", "--cpus", "0", "x.img"}, "mote: --cpus 0 is out of range"},
		{[]string{"run", "-e", "NOEQUALS", "x.img"}, "mote: -e: environment entry \"NOEQUALS\" is not of the form KEY=VALUE"},
		{[]string{"run", "nonexistent.img"}, "mote: nonexistent.img: no such image or package"},
		{[]string{"run", "a.img", "b"}, "mote: pass the program's arguments after --"},
		{[]string{"run", "--bogus", "a.img"}, "mote: unknown flag: --bogus (see 'mote run --help')"},
		{[]string{"build", "-e", "=x", "."}, "mote build: -e: environment entry \"=x\" has an empty name"},
		// Sealed files.
		{[]string{"build", "--dir", "nocolon", "."}, `mote build: --dir "nocolon": want HOST:GUEST, with GUEST an absolute path in the guest`},
		{[]string{"build", "--file", "main.go:rel", "."}, `mote build: --file "main.go:rel": want HOST:GUEST`},
		{[]string{"build", "--dir", ":/x", "."}, `mote build: --dir ":/x": want HOST:GUEST`},
		{[]string{"build", "--dir", "missing:/x", "."}, "mote build: --dir missing:/x: missing: no such file or directory"},
		{[]string{"build", "--dir", "main.go:/x", "."}, "mote build: --dir main.go:/x: main.go is not a directory (seal a file with --file)"},
		{[]string{"build", "--file", ".:/x", "."}, "mote build: --file .:/x: . is a directory (seal a directory with --dir)"},
		{[]string{"build", "--file", "main.go:/sys/main.go", "."}, "mote build: --file main.go:/sys/main.go: files cannot be sealed at /sys/main.go: /sys belongs to the library OS"},
		{[]string{"build", "--dir", ".:/", "."}, "mote build: --dir .:/: files cannot be sealed at /"},
		{[]string{"build", "--dir", ".:/src/", "."}, `mote build: --dir .:/src/: guest path "/src/" is not clean (write /src)`},
		{[]string{"build", "--workdir", "rel", "."}, `mote build: --workdir: working directory "rel" is not an absolute path`},
		{[]string{"run", "-w", "rel", "x.img"}, `mote: --workdir "rel" is not an absolute path`},
		{[]string{"run", "--workdir", "/srv", "x.img"}, "mote: x.img: no such image or package"},
		// Network flags.
		{[]string{"run", "--net", "bogus", "x.img"}, `mote: --net "bogus": want user, tap:NAME or none`},
		{[]string{"run", "--net", "tap", "x.img"}, "mote: --net tap needs the tap device's name: --net tap:NAME"},
		{[]string{"run", "--net", "tap:", "x.img"}, "mote: --net tap needs the tap device's name"},
		{[]string{"run", "--net", "tap:tap0", "x.img"}, "mote: --net tap:tap0 needs the guest's address: --ip ADDRESS/PREFIX"},
		{[]string{"run", "-p", "8080:80", "--net", "none", "x.img"}, "mote: -p needs the user-mode network (--net user), not --net none"},
		{[]string{"run", "-p", "8080:80", "--net", "tap:tap0", "--ip", "10.0.0.2/24", "x.img"}, "mote: -p needs the user-mode network (--net user), not --net tap:tap0"},
		{[]string{"run", "-p", "80", "x.img"}, `mote: -p: bad port forward "80"`},
		{[]string{"run", "--publish", "8080:80/sctp", "x.img"}, `mote: -p: bad port forward "8080:80/sctp"`},
		{[]string{"run", "-p", "8080:99999", "x.img"}, `mote: -p: bad port forward "8080:99999"`},
		{[]string{"run", "--ip", "10.0.0.2/24", "x.img"}, "mote: --ip is for --net tap:NAME (the user-mode network's addresses are fixed: guest 10.0.2.15/24, gateway 10.0.2.2)"},
		{[]string{"run", "--net", "user", "--gateway", "10.0.2.1", "x.img"}, "mote: --gateway is for --net tap:NAME"},
		{[]string{"run", "--net", "none", "--ip6", "fd00::2/64", "x.img"}, "mote: --ip6 is for --net tap:NAME"},
		{[]string{"run", "--net", "tap:t", "--ip", "10.0.0.2", "x.img"}, `mote: --ip "10.0.0.2" is not an IPv4 address with a prefix length`},
		{[]string{"run", "--net", "tap:t", "--ip", "fd00::2/64", "x.img"}, `mote: --ip "fd00::2/64" is not an IPv4 address with a prefix length`},
		{[]string{"run", "--net", "tap:t", "--ip", "10.0.0.2/24", "--ip6", "10.0.0.3/24", "x.img"}, `mote: --ip6 "10.0.0.3/24" is not an IPv6 address with a prefix length`},
		{[]string{"run", "--net", "tap:t", "--ip", "10.0.0.2/24", "--gateway", "fd00::1", "x.img"}, `mote: --gateway "fd00::1" is not an IPv4 address`},
		{[]string{"run", "--net", "tap:t", "--ip", "10.0.0.2/24", "--gateway6", "fd00::1", "x.img"}, "mote: --gateway6 needs --ip6"},
		{[]string{"run", "--net", "tap:t", "--ip", "10.0.0.2/24", "--ip6", "fd00::2/64", "--gateway6", "10.0.0.1", "x.img"}, `mote: --gateway6 "10.0.0.1" is not an IPv6 address`},
		{[]string{"run", "--dns", "resolver", "x.img"}, `mote: --dns "resolver" is not an IP address`},
		{[]string{"run", "--net", "none", "--dns", "1.1.1.1", "x.img"}, "mote: --dns with --net none"},
		{[]string{"run", "--mac", "52:54:00", "x.img"}, `mote: --mac "52:54:00" is not an Ethernet address`},
		{[]string{"run", "--mac", "01:00:5e:00:00:01", "x.img"}, "mote: --mac 01:00:5e:00:00:01 is a multicast address"},
		{[]string{"run", "--net", "none", "--mac", "02:00:00:00:00:01", "x.img"}, "mote: --mac with --net none"},
		// Valid network flags get as far as the image.
		{[]string{"run", "-p", "127.0.0.1:8080:80", "-p", "5353:53/udp", "--dns", "10.0.2.2", "--mac", "02:00:00:00:00:01", "x.img"}, "mote: x.img: no such image or package"},
		{[]string{"run", "--net", "tap:tap0", "--ip", "10.0.0.2/24", "--gateway", "10.0.0.1", "--ip6", "fd00::2/64", "--gateway6", "fd00::1", "--dns", "fd00::53", "x.img"}, "mote: x.img: no such image or package"},
		{[]string{"frobnicate"}, "mote: unknown command \"frobnicate\" for \"mote\""},
	}
	for _, c := range cases {
		status, stdout, stderr := runCLI(c.args...)
		if status != ExitMoteError {
			t.Errorf("mote %s: status %d, want %d", strings.Join(c.args, " "), status, ExitMoteError)
		}
		if !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("mote %s: stderr %q, want one line starting with %q", strings.Join(c.args, " "), stderr, c.want)
		}
		if stdout != "" {
			t.Errorf("mote %s: stdout %q", strings.Join(c.args, " "), stdout)
		}
	}
}

func TestVersionAndHelp(t *testing.T) {
	status, stdout, _ := runCLI("version")
	if status != 0 || !strings.HasPrefix(stdout, "mote ") || !strings.Contains(stdout, "abi ") {
		t.Errorf("mote version: %d %q", status, stdout)
	}
	_, stdout, _ = runCLI("build", "--help")
	for _, flag := range []string{"--dir HOST:GUEST", "--file HOST:GUEST", "--workdir DIR"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("mote build --help does not mention %s", flag)
		}
	}
	for _, args := range [][]string{{"--help"}, {"build", "--help"}, {"run", "--help"}, {"version", "--help"}} {
		status, stdout, stderr := runCLI(args...)
		if status != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("mote %s: %d %q %q", strings.Join(args, " "), status, stdout, stderr)
		}
	}
	_, stdout, _ = runCLI("run", "--help")
	for _, flag := range []string{"--memory", "--cpus", "--env", "--debug", "--publish", "--net", "--ip", "--gateway", "--dns", "--ip6", "--gateway6", "--mac", "-w, --workdir DIR"} {
		if !strings.Contains(stdout, flag) {
			t.Errorf("mote run --help does not mention %s", flag)
		}
	}
}

// TestNetWithoutStack: network flags with an image that does not link the
// guest network stack are refused before anything boots.
func TestNetWithoutStack(t *testing.T) {
	img := filepath.Join(t.TempDir(), "plain.img")
	spec := imagetest.Spec{
		Segments: []imagetest.Segment{{Vaddr: 0x400000, Data: make([]byte, 0x3000)}},
		Note:     &abi.Note{Version: abi.Version, Entry: 0x400000, Vectors: 0x401000, VectorStride: 32, SyscallTrap: 0x402000},
	}
	if err := os.WriteFile(img, imagetest.Build(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-p", "8080:80"}, "mote: -p: " + img + " has no network stack (its program does not import package net)"},
		{[]string{"--net", "user"}, "mote: --net user: " + img + " has no network stack"},
		{[]string{"--net", "tap:tap0", "--ip", "10.0.0.2/24"}, "mote: --net tap:tap0: " + img + " has no network stack"},
		{[]string{"--dns", "1.1.1.1"}, "mote: --dns: " + img + " has no network stack"},
	} {
		args := append(append([]string{"run"}, c.args...), img)
		status, _, stderr := runCLI(args...)
		if status != ExitMoteError || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("mote %s: status %d, stderr %q, want %q", strings.Join(args, " "), status, stderr, c.want)
		}
	}
}

func TestBuildCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "h.img")
	status, _, stderr := runCLI("build", "-o", out, "-e", "GREETING=hi", "--arg", "x", filepath.Join(root, "examples", "hello"))
	if status != 0 {
		t.Fatalf("mote build: status %d: %s", status, stderr)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Fatalf("image: %v %v", st, err)
	}
	// Sealed files and a working directory.
	data := t.TempDir()
	if err := os.MkdirAll(filepath.Join(data, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "sub", "f.txt"), []byte("contents"), 0o640); err != nil {
		t.Fatal(err)
	}
	status, _, stderr = runCLI("build", "-o", out, "--dir", data+":/srv/data", "--file", filepath.Join(data, "sub", "f.txt")+":/etc/f.conf",
		"--workdir", "/srv/data", filepath.Join(root, "examples", "hello"))
	if status != 0 {
		t.Fatalf("mote build --dir --file --workdir: status %d: %s", status, stderr)
	}
	img, err := image.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	buf := make([]byte, img.Files.Len)
	if err := img.ReadFiles(buf); err != nil {
		t.Fatal(err)
	}
	files, err := abi.DecodeFiles(buf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		got[fmt.Sprintf("%s %o", f.Path, f.Mode)] = string(f.Data)
	}
	want := map[string]string{"/srv 40755": "", "/srv/data 40700": "", "/srv/data/sub 40755": "", "/srv/data/sub/f.txt 100640": "contents",
		"/etc 40755": "", "/etc/f.conf 100640": "contents"}
	if fi, err := os.Stat(data); err == nil {
		m, _ := abi.FileMode(fi.Mode())
		delete(want, "/srv/data 40700")
		want[fmt.Sprintf("/srv/data %o", m)] = ""
	}
	if !reflect.DeepEqual(got, want) || img.Config.Dir != "/srv/data" {
		t.Errorf("sealed %v, want %v; working directory %q", got, want, img.Config.Dir)
	}

	status, _, stderr = runCLI("build", filepath.Join(root, "abi"))
	if status != ExitMoteError || !strings.HasPrefix(stderr, "mote build: ") || !strings.Contains(stderr, "is not a main package (package abi)") {
		t.Errorf("mote build abi: %d %q", status, stderr)
	}
}

// kvmUsable reports whether /dev/kvm can be opened.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// TestRunHello boots examples/hello through the CLI binary: arguments,
// environment and exit status must reach the guest and come back.
func TestRunHello(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and boots a program")
	}
	if !kvmUsable() {
		if os.Getenv("CI") == "true" {
			t.Fatal("/dev/kvm is not usable")
		}
		t.Skip("/dev/kvm is not usable")
	}
	bin := filepath.Join(t.TempDir(), "mote")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root, _ := filepath.Abs("../..")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "-m", "128M", "-e", "GREETING=howdy", "-e", "EXIT_CODE=7", "./examples/hello", "--", "world", "again")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("mote run: %v (want exit status 7)\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if want := "hello, world again\nhowdy\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q (stderr %q)", stdout.String(), want, stderr.String())
	}
}
