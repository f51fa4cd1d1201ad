package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/motevm/mote/vmm"
)

func TestParseTmpfs(t *testing.T) {
	got, err := parseTmpfs([]string{"/data:4M", "/srv/cache"})
	want := []vmm.Tmpfs{{Path: "/data", Size: 4 << 20}, {Path: "/srv/cache"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseTmpfs = %+v, %v; want %+v", got, err, want)
	}
	for in, want := range map[string]string{
		"data":     "must be an absolute, clean guest path",
		"/a/../b":  "must be an absolute, clean guest path",
		"/":        "must be an absolute, clean guest path",
		"/proc/x":  "/proc belongs to the library OS",
		"/dev":     "/dev belongs to the library OS",
		"/tmp":     "/tmp is a tmpfs already",
		"/x:lots":  `bad size "lots"`,
		"/x:0":     `bad size "0"`,
		"/sysfoo:": `bad size ""`,
	} {
		if _, err := parseTmpfs([]string{in}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseTmpfs(%q) = %v, want an error containing %q", in, err, want)
		}
	}
	if _, err := parseTmpfs([]string{"/a", "/a:1M"}); err == nil || !strings.Contains(err.Error(), "/a is given twice") {
		t.Errorf("twice: %v", err)
	}
}

func TestParseVolumes(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, d := range []string{"data", "a:b", "static"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("file", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := parseVolumes([]string{"data:/data", "./static:/srv/static:ro", "a:b:/x:rw", dir + "/data:/y/z"}, nil)
	want := []vmm.Volume{
		{Host: filepath.Join(dir, "data"), Guest: "/data"},
		{Host: filepath.Join(dir, "static"), Guest: "/srv/static", ReadOnly: true},
		{Host: filepath.Join(dir, "a:b"), Guest: "/x"},
		{Host: filepath.Join(dir, "data"), Guest: "/y/z"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("parseVolumes = %+v, %v; want %+v", got, err, want)
	}
	if got, err := parseVolumes(nil, nil); err != nil || got != nil {
		t.Fatalf("no volumes: %+v, %v", got, err)
	}

	for in, want := range map[string]string{
		"data":              "want HOST:GUEST or HOST:GUEST:ro",
		":/data":            "want HOST:GUEST or HOST:GUEST:ro",
		"data:/data:rx":     `unknown option "rx" (ro or rw)`,
		"data:/data:":       `unknown option "" (ro or rw)`,
		"data:/data:ro,rw":  `unknown option "ro,rw"`,
		"data:data":         "must be an absolute, clean guest path",
		"data:/a/../b":      "must be an absolute, clean guest path",
		"data:/a/":          "must be an absolute, clean guest path",
		"data:/":            "must be an absolute, clean guest path",
		"data::ro":          "must be an absolute, clean guest path",
		"data:/dev/x":       "/dev belongs to the library OS",
		"data:/proc":        "/proc belongs to the library OS",
		"data:/sys/fs:ro":   "/sys belongs to the library OS",
		"data:/tmp":         "/tmp is a tmpfs already",
		"missing:/data":     "missing: no such directory",
		"./missing:/data":   "./missing: no such directory",
		"file:/data":        "file is not a directory",
		"file/x:/data":      "file/x", // ENOTDIR from stat
		"data/../x:/data":   "no such directory",
		"missing:/data:ro":  "missing: no such directory",
		"static:/srv:ro:ro": "must be an absolute, clean guest path", // HOST "static:/srv", GUEST "ro"
	} {
		_, err := parseVolumes([]string{in}, nil)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "mote: -v "+`"`+in+`"`) {
			t.Errorf("parseVolumes(%q) = %v, want an error containing %q", in, err, want)
		}
	}

	// The same guest path twice, also as a tmpfs.
	if _, err := parseVolumes([]string{"data:/d", "static:/d:ro"}, nil); err == nil || !strings.Contains(err.Error(), "/d is given twice") {
		t.Errorf("twice: %v", err)
	}
	tmpfs := []vmm.Tmpfs{{Path: "/cache"}}
	if _, err := parseVolumes([]string{"data:/cache"}, tmpfs); err == nil || !strings.Contains(err.Error(), "/cache is a --tmpfs mount point already") {
		t.Errorf("tmpfs too: %v", err)
	}
	if _, err := parseVolumes([]string{"data:/cache/sub"}, tmpfs); err != nil {
		t.Errorf("below a tmpfs: %v", err)
	}
	// Nothing inside a volume (its names are the host's).
	if _, err := parseVolumes([]string{"data:/d", "static:/d/sub"}, nil); err == nil || !strings.Contains(err.Error(), "-v /d/sub is inside the volume at /d") {
		t.Errorf("volume in a volume: %v", err)
	}
	if _, err := parseVolumes([]string{"data:/d"}, []vmm.Tmpfs{{Path: "/d/t"}}); err == nil || !strings.Contains(err.Error(), "--tmpfs /d/t is inside the volume at /d") {
		t.Errorf("tmpfs in a volume: %v", err)
	}
	if _, err := parseVolumes([]string{"data:/d", "static:/dd"}, nil); err != nil {
		t.Errorf("a sibling with the same prefix: %v", err)
	}

	// Together with the tmpfs, at most maxMounts file systems.
	var many []vmm.Tmpfs
	for i := 0; i < maxMounts; i++ {
		many = append(many, vmm.Tmpfs{Path: "/t" + string(rune('a'+i))})
	}
	if _, err := parseVolumes([]string{"data:/data"}, many); err == nil || !strings.Contains(err.Error(), "at most 13 file systems") {
		t.Errorf("too many mounts: %v", err)
	}
	if _, err := parseVolumes([]string{"data:/data"}, many[1:]); err != nil {
		t.Errorf("%d mounts: %v", maxMounts, err)
	}
}

// TestRunVolumeFlag: mote run takes -v and --volume (and --verbose, which
// gave up -v), and reports a bad volume before building anything.
func TestRunVolumeFlag(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, args := range [][]string{
		{"run", "-v", "nodir:/data", "./nopkg"},
		{"run", "--volume", "nodir:/data", "--verbose", "./nopkg"},
	} {
		status, _, stderr := runCLI(args...)
		if status != ExitMoteError || stderr != "mote: -v \"nodir:/data\": nodir: no such directory\n" {
			t.Errorf("%q: status %d, stderr %q", args, status, stderr)
		}
	}
	status, _, stderr := runCLI("run", "--tmpfs", "/d", "-v", ".:/d", "./nopkg")
	if status != ExitMoteError || !strings.Contains(stderr, "/d is a --tmpfs mount point already") {
		t.Errorf("tmpfs and volume at /d: status %d, stderr %q", status, stderr)
	}
}
