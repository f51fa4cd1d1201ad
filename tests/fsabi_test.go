package tests

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// fsABIDiffs are the checks of progs/fsabi whose result in the guest
// differs from Linux's: the check's name, the guest's result, and why.
// Every other check must print the same line natively and in mote. Entries
// whose reason starts with "TODO" are kernel bugs and gaps still to fix: one
// that passes with Linux's result is logged (it can go). None at present.
var fsABIDiffs = map[string]struct{ guest, why string }{}

// fsABIGuest are the checks progs/fsabi prints with -guest, which hold only
// in mote (a read-only root, a tmpfs at /tmp), and their expected results
// (Linux's answers for such a layout).
var fsABIGuest = map[string]string{
	"guest.tmp_stat":                        "dtrwxrwxrwx nlink=2 uid=0 gid=0",
	"guest.tmp_write":                       "OK",
	"guest.tmp_read":                        `"x"`,
	"guest.tmp_rename":                      "OK",
	"guest.root_create":                     "open EROFS",
	"guest.etc_create":                      "open EROFS",
	"guest.etc_passwd_write":                "open EROFS",
	"guest.etc_passwd_trunc":                "open EROFS",
	"guest.etc_passwd_read":                 "OK",
	"guest.etc_passwd_root":                 "true",
	"guest.etc_passwd_chmod":                "chmod EROFS",
	"guest.etc_passwd_chown":                "chown EROFS",
	"guest.etc_passwd_chtimes":              "chtimes EROFS",
	"guest.etc_passwd_truncate":             "truncate EROFS",
	"guest.etc_passwd_remove":               "remove EROFS",
	"guest.etc_passwd_link":                 "link EROFS",
	"guest.etc_passwd_rename_within_root":   "rename EROFS",
	"guest.root_mkdir":                      "mkdir EROFS",
	"guest.root_symlink":                    "symlink EROFS",
	"guest.root_rmdir_etc":                  "EROFS",
	"guest.rmdir_tmp":                       "EROFS", // the parent's mount is read-only: checked before EBUSY
	"guest.rename_tmp":                      "rename EROFS",
	"guest.proc_create":                     "open EROFS",
	"guest.access_w_etc":                    "EROFS",
	"guest.access_w_tmp":                    "OK",
	"guest.root_is_readonly_not_permission": "false",
	// rename(2) checks the mounts (EXDEV) before it asks for write access
	// (EROFS); link(2) creates the new name (EROFS) before it compares them.
	"guest.rename_tmp_to_root":    "rename EXDEV",
	"guest.rename_root_to_tmp":    "rename EXDEV",
	"guest.link_tmp_to_root":      "link EROFS",
	"guest.link_root_to_tmp":      "link EXDEV",
	"guest.devnull_write":         "OK",
	"guest.mounts_read":           "OK",
	"guest.mounts_tmp_tmpfs":      "true",
	"guest.mounts_root_ro":        "true",
	"guest.proc_mounts_link":      "true",
	"guest.statfs_tmp":            "OK type=0x1021994 bsize=4096 namelen=255 rdonly=false",
	"guest.statfs_tmp_blocks":     "true",
	"guest.statfs_tmp_free_drops": "true",
	"guest.statfs_tmp_free_back":  "true",
	"guest.statfs_root":           "OK rdonly=true",
	"guest.statfs_tmp_flags":      "nosuid=true nodev=true",
	"guest.getwd":                 "/ OK",
}

// fsABIGuestTodo are guest-only checks that fail for a known kernel bug:
// the guest's current result and the bug. None at present.
var fsABIGuestTodo = map[string]struct{ guest, why string }{}

// TestFSABI runs progs/fsabi natively on a scratch directory and in mote on
// /tmp/fsabi and requires the same output, check by check; then it checks
// the guest-only section.
func TestFSABI(t *testing.T) {
	t.Parallel()
	bin, img := buildFSABI(t)
	native, stderr, err := runNative(t, bin, t.TempDir())
	if err != nil {
		t.Fatalf("native run: %v\nstdout:\n%s\nstderr:\n%s", err, native, stderr.String())
	}
	r := mote(t, 5*time.Minute, "run", "-m", "512M", "--net", "none", img, "--", "-guest", "/tmp/fsabi")
	if r.code != 0 {
		t.Fatalf("mote run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}

	want, order := parseChecks(t, "native", string(native))
	got, gorder := parseChecks(t, "guest", r.stdout)
	compared := compareChecks(t, want, order, got, gorder, fsABIDiffs)

	// The guest-only section.
	var gdiff []string
	for name, w := range fsABIGuest {
		g, ok := got[name]
		switch {
		case !ok:
			gdiff = append(gdiff, fmt.Sprintf("%s: missing", name))
		case fsABIGuestTodo[name].guest != "" && g != w:
			if td := fsABIGuestTodo[name]; g != td.guest {
				gdiff = append(gdiff, fmt.Sprintf("%s: known bug (%s), but got %q (want %q, the bug gave %q)", name, td.why, g, w, td.guest))
			}
		case g != w:
			gdiff = append(gdiff, fmt.Sprintf("%s\n    want:  %s\n    guest: %s", name, w, g))
		}
	}
	for name := range fsABIGuestTodo {
		if got[name] == fsABIGuest[name] {
			t.Logf("%s: now as expected; remove it from fsABIGuestTodo", name)
		}
	}
	for _, name := range gorder {
		if _, ok := fsABIGuest[name]; strings.HasPrefix(name, "guest.") && !ok {
			gdiff = append(gdiff, fmt.Sprintf("%s: no expectation (guest: %s)", name, got[name]))
		}
	}
	for name := range fsABIGuestTodo {
		if _, ok := fsABIGuest[name]; !ok {
			gdiff = append(gdiff, fmt.Sprintf("%s: a known bug of no such check", name))
		}
	}
	sort.Strings(gdiff)
	if len(gdiff) > 0 {
		t.Errorf("guest-only checks:\n%s", strings.Join(gdiff, "\n"))
	}
	t.Logf("%d checks compared (%d allowed to differ), %d guest-only", compared, len(fsABIDiffs), len(fsABIGuest))
}

// compareChecks compares the guest's checks with Linux's: every check must
// print the same line, except those on the allow-list (allowed), which
// must print the allowed line. It returns the number of checks compared.
func compareChecks(t *testing.T, want map[string]string, order []string, got map[string]string, gorder []string, allowed map[string]struct{ guest, why string }) int {
	t.Helper()
	for _, name := range order {
		if strings.HasPrefix(name, "guest.") {
			t.Errorf("native printed the guest-only check %s", name)
		}
	}
	compared := 0
	var diff []string
	for _, name := range order {
		g, ok := got[name]
		if !ok {
			diff = append(diff, fmt.Sprintf("%s: missing in the guest's output\n    linux: %s", name, want[name]))
			continue
		}
		compared++
		if d, ok := allowed[name]; ok {
			if g == want[name] && strings.HasPrefix(d.why, "TODO") {
				t.Logf("%s: now as on Linux; remove it from the allow-list", name)
				continue
			}
			if g != d.guest {
				diff = append(diff, fmt.Sprintf("%s: allowed to differ (%s), but not like this\n    linux: %s\n    guest: %s\n    allow: %s", name, d.why, want[name], g, d.guest))
			}
			continue
		}
		if g != want[name] {
			diff = append(diff, fmt.Sprintf("%s\n    linux: %s\n    guest: %s", name, want[name], g))
		}
	}
	for _, name := range gorder {
		if _, ok := want[name]; !ok && !strings.HasPrefix(name, "guest.") {
			diff = append(diff, fmt.Sprintf("%s: only in the guest's output\n    guest: %s", name, got[name]))
		}
	}
	for name := range allowed {
		if _, ok := want[name]; !ok {
			diff = append(diff, fmt.Sprintf("%s: on the allow-list, but no such check", name))
		}
	}
	if len(diff) > 0 {
		t.Errorf("%d of %d checks differ between Linux and mote:\n%s", len(diff), compared, strings.Join(diff, "\n"))
	}
	return compared
}

// buildFSABI builds progs/fsabi natively and as an image.
func buildFSABI(t *testing.T) (bin, img string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "fsabi")
	if out, err := exec.Command("go", "build", "-o", bin, "./progs/fsabi").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	img = filepath.Join(dir, "fsabi.img")
	if out, err := exec.Command(moteBin, "build", "-o", img, "./progs/fsabi").CombinedOutput(); err != nil {
		t.Fatalf("mote build: %v\n%s", err, out)
	}
	return bin, img
}

// runNative runs a native program with args (within 5 minutes) and
// returns its standard output and error.
func runNative(t *testing.T, bin string, args ...string) (stdout []byte, stderr *strings.Builder, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr = &strings.Builder{}
	cmd.Stderr = stderr
	stdout, err = cmd.Output()
	return stdout, stderr, err
}
