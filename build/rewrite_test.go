package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestRewriteSyscallsCases(t *testing.T) {
	cases := []struct {
		in, want string
		n        int
	}{
		{"\tSYSCALL\n", "\tCALL mote_syscall(SB)\n", 1},
		{"\tSYSCALL // make the call\n", "\tCALL mote_syscall(SB) // make the call\n", 1},
		{"\tSYSCALL\t// SYSCALL again\n", "\tCALL mote_syscall(SB)\t// SYSCALL again\n", 1},
		{"// SYSCALL in a comment\n", "// SYSCALL in a comment\n", 0},
		{"\tMOVQ\t$SYSCALL_NR, AX\n", "\tMOVQ\t$SYSCALL_NR, AX\n", 0},
		{"\tSYSCALLX\n", "\tSYSCALLX\n", 0},
		{"\tCALL\truntime·SYSCALL(SB)\n", "\tCALL\truntime·SYSCALL(SB)\n", 0},
		{"loop:\tSYSCALL\n", "loop:\tCALL mote_syscall(SB)\n", 1},
		{"\tSYSCALL; RET\n", "\tCALL mote_syscall(SB); RET\n", 1},
		{"\tMOVQ AX, BX; SYSCALL; SYSCALL\n", "\tMOVQ AX, BX; CALL mote_syscall(SB); CALL mote_syscall(SB)\n", 2},
		{"/* SYSCALL */ SYSCALL\n", "/* SYSCALL */ CALL mote_syscall(SB)\n", 1},
		{"/*\n\tSYSCALL\n*/\n\tSYSCALL", "/*\n\tSYSCALL\n*/\n\tCALL mote_syscall(SB)", 1},
		{"TEXT ·SYSCALL(SB),NOSPLIT,$0\n", "TEXT ·SYSCALL(SB),NOSPLIT,$0\n", 0},
		{"\tsyscall\n", "\tsyscall\n", 0},
	}
	for _, c := range cases {
		got, n := RewriteSyscalls([]byte(c.in))
		if string(got) != c.want || n != c.n {
			t.Errorf("RewriteSyscalls(%q) = %q, %d; want %q, %d", c.in, got, n, c.want, c.n)
		}
	}
}

// TestRewriteStd checks the rewrite of the standard library's assembly files
// that hold the Go runtime's system calls.
func TestRewriteStd(t *testing.T) {
	if !strings.HasPrefix(runtime.Version(), "go1.26.") {
		t.Logf("the expected counts are those of go1.26.8; running %s", runtime.Version())
	}
	goroot := goEnvValue(t, "GOROOT")
	files := map[string]int{
		"runtime/sys_linux_amd64.s":                        40,
		"runtime/time_linux_amd64.s":                       2,
		"syscall/asm_linux_amd64.s":                        3,
		"internal/runtime/syscall/linux/asm_linux_amd64.s": 1,
	}
	for f, want := range files {
		src, err := os.ReadFile(filepath.Join(goroot, "src", f))
		if err != nil {
			t.Fatal(err)
		}
		out, n := RewriteSyscalls(src)
		if n != want {
			t.Errorf("%s: %d SYSCALL instructions replaced, want %d", f, n, want)
		}
		if got, want := strings.Count(string(out), "\n"), strings.Count(string(src), "\n"); got != want {
			t.Errorf("%s: rewrite changed the line count from %d to %d", f, want, got)
		}
		if c := strings.Count(string(out), syscallCall); c != n {
			t.Errorf("%s: %d calls of %s in the output, want %d", f, c, SyscallEntry, n)
		}
		// Nothing but instruction lines changed.
		sl, ol := strings.Split(string(src), "\n"), strings.Split(string(out), "\n")
		for i := range sl {
			if sl[i] != ol[i] && strings.TrimSpace(strings.Split(sl[i], "//")[0]) != "SYSCALL" {
				t.Errorf("%s:%d: unexpected change %q -> %q", f, i+1, sl[i], ol[i])
			}
		}
		// Idempotent.
		if _, again := RewriteSyscalls(out); again != 0 {
			t.Errorf("%s: second rewrite replaced %d more", f, again)
		}
	}
}

func goEnvValue(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

func TestCheckGoVersion(t *testing.T) {
	for v, ok := range map[string]bool{
		"go1.26.8": true, "go1.26": true, "go1.27rc1": true, "go1.30.1": true, "devel go1.27-abc": true,
		"go1.25.3": false, "go1.9": false, "": false, "go1.2": false,
	} {
		err := checkGoVersion(v)
		if (err == nil) != ok {
			t.Errorf("checkGoVersion(%q) = %v, want ok=%v", v, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "Go 1.26 or newer is required") {
			t.Errorf("checkGoVersion(%q) = %v", v, err)
		}
	}
}
