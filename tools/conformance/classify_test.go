package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestClassifyMessage(t *testing.T) {
	for _, tc := range []struct {
		pkg, msg, want string
	}{
		{"sync", "mutex_test.go:193: Mutex.Unlock: did not find failure with message about unlocked lock: fork/exec /x: function not implemented", catProcesses},
		{"os", "exec.go:92: os.Executable error: readlink /proc/self/exe: no such file or directory", ""}, // source tells
		{"os", "os_test.go:1251: Can't find pwd: exec: \"pwd\": executable file not found in $PATH", catProcesses},
		{"os", "x_test.go:10: fork/exec /tmp/go-build1/os.test: function not implemented", catProcesses},
		{"os", "x_test.go:10: clone: function not implemented", catProcesses},
		{"os", "exec_test.go:44: skipping test: cannot exec subprocess on linux/amd64: x", catProcesses},
		{"math/big", "escape_test.go:16: skipping test: 'go build' unavailable: exec: \"go\": executable file not found in $PATH", catToolchain},
		{"x", "x_test.go:1: fork/exec /usr/local/go/bin/go: function not implemented", catToolchain},
		{"runtime", "mote test: /usr/local/go/src/runtime uses cgo, which mote does not support", catCgo},
		{"x", "testenv.go:333: skipping test: no cgo", catCgo},
		{"crypto", "crypto_test.go:117: lstat /root/.cache/mote/goroot/3c7bb260e9906efe7012b8c5/src/crypto: no such file or directory", catSource},
		{"path/filepath", "path_test.go:1649: lstat /usr/local/go/src/unicode: no such file or directory", catSource},
		{"x", "x_test.go:1: failed to locate GOROOT/src in any parent directory", catSource},
		// Library OS gaps.
		{"os", "testing.go:1426: TempDir: mkdir /tmp/TestAppend1: read-only file system", ""},
		{"os", "example_test.go:232: open testdata/hello: no such file or directory", ""},
		{"os", "os_test.go:460: could not find dir_unix.go", ""},
		{"os", "root_unix_test.go:99: getgroups: function not implemented", ""},
		{"os", "x_test.go:1: open /root/.cache/mote/goroot/abc/src/os/testdata/x: no such file or directory", ""},
		{"os", "x_test.go:1: open /root/.cache/mote/goroot/abc/src/os/dir_unix.go: no such file or directory", ""},
		{"os", "cpu 0 at 0x5b53eb internal/mote/kernel.kmalloc+0xeb (/root/.cache/mote/goroot/922d/src/internal/mote/kernel/kmalloc.go:41)", ""},
		{"os", "/usr/local/go/src/testing/testing.go:1934 +0x12f", ""},
		{"net/http", "panic: httptest: failed to listen on a port: listen tcp6 [::1]:0: socket: address family not supported by protocol", ""},
	} {
		got, ev := classifyMessage(tc.pkg, tc.msg)
		if got != tc.want {
			t.Errorf("classifyMessage(%q, %q) = %q (%q), want %q", tc.pkg, tc.msg, got, ev, tc.want)
		}
	}
}

// writeTree writes files (path → content) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fakeGOROOT(t *testing.T) string {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"src/ex/pkg2/a_test.go": "package pkg2\n\nimport (\"os/exec\"; \"testing\")\n\nfunc TestExec(t *testing.T) { exec.Command(\"true\").Run() }\n",
		"src/ex/pkg/a_test.go": `package pkg

import (
	"internal/testenv"
	xe "os/exec"
	"runtime"
	"testing"
)

func TestExec(t *testing.T) {
	t.Run("sub", func(t *testing.T) { xe.Command("true").Run() })
}

func TestHelper(t *testing.T) { runChild(t) }

func runChild(t *testing.T) { testenv.MustHaveExec(t) }

func TestTwoDeep(t *testing.T) { level1(t) }

func level1(t *testing.T) { runChild(t) }

func TestGoBuild(t *testing.T) {
	testenv.MustHaveExec(t)
	testenv.MustHaveGoBuild(t)
}

func TestGOROOT(t *testing.T) { _ = runtime.GOROOT() + "/src" }

func TestPlain(t *testing.T) {
	var s struct{ Command func() }
	_ = s.Command // a field, not exec.Command
	t.Run("x", func(t *testing.T) {})
}

func ExampleExec() { xe.Command("true").Run() }

func TestOwnBinary(t *testing.T) {
	exe := testenv.Executable(t) // only opened: needs no process
	_ = exe
}

func TestReexec(t *testing.T) {
	exe := testenv.Executable(t)
	testenv.Command(t, exe, "-test.run=^TestReexec$").Run()
}
`,
		"src/ex/pkg/b_windows_test.go": `package pkg

import ("os/exec"; "testing")

func TestOnlyHere(t *testing.T) { exec.Command("cmd").Run() }
`,
		"src/ex/pkg/b_linux_test.go": `package pkg

import "testing"

func TestOnlyHere(t *testing.T) {}
`,
		"src/ex/pkg/x_test.go": `package pkg_test

import ("go/build"; "testing")

func TestBuildDefault(t *testing.T) { _ = build.Default.GOROOT }

// A helper of the external test package, not of package pkg's tests.
func level1(t *testing.T) {}
`,
		"src/ex/pkg/c_test.go": `package pkg

// #include <stdio.h>
import "C"
import "testing"

func TestCgo(t *testing.T) {}
`,
	})
	return root
}

func TestClassifySource(t *testing.T) {
	x := &srcIndex{goroot: fakeGOROOT(t), pkgs: map[string]*pkgSrc{}}
	for _, tc := range []struct{ test, want, evidence string }{
		{"TestExec", catProcesses, "xe.Command"},
		{"ExampleExec", catProcesses, "xe.Command"},
		{"TestHelper", catProcesses, "testenv.MustHaveExec (in runChild)"},
		{"TestTwoDeep", "", ""}, // one level deep only
		{"TestGoBuild", catToolchain, "testenv.MustHaveGoBuild"},
		{"TestGOROOT", catSource, "runtime.GOROOT"},
		{"TestBuildDefault", catSource, "build.Default.GOROOT"},
		{"TestCgo", catCgo, `import "C"`},
		{"TestPlain", "", ""},
		{"TestOwnBinary", "", ""},
		{"TestReexec", catProcesses, "testenv.Command"},
		{"TestOnlyHere", "", ""}, // the windows file does not build for linux
		{"TestMissing", "", ""},
	} {
		got, ev := x.classify("ex/pkg", tc.test)
		if got != tc.want || (tc.evidence != "" && ev != "source: "+tc.evidence) {
			t.Errorf("classify(%s) = %q, %q; want %q, %q", tc.test, got, ev, tc.want, "source: "+tc.evidence)
		}
	}
}

// TestReport makes a report of two packages' outputs and checks the
// split between differences by design and the others.
func TestReport(t *testing.T) {
	srcGOROOT = fakeGOROOT(t)
	defer func() { srcGOROOT = "" }()
	side := func(pkg, out string) Side { return finishSide(pkg, []byte(out), time.Second, false, "") }
	const native = `=== RUN   TestExec
--- PASS: TestExec (0.00s)
=== RUN   TestPlain
--- PASS: TestPlain (0.00s)
=== RUN   TestGoBuild
--- PASS: TestGoBuild (0.00s)
PASS
ok  	ex/pkg	0.1s
`
	mote := `=== RUN   TestExec
=== RUN   TestExec/sub
--- FAIL: TestExec (0.00s)
    --- FAIL: TestExec/sub (0.00s)
        a_test.go:11: unexpected: read-only file system
=== RUN   TestPlain
    a_test.go:30: running a child:
    a_test.go:31: fork/exec /x: function not implemented
--- FAIL: TestPlain (0.00s)
=== RUN   TestGoBuild
    a_test.go:22: skipping test: 'go build' unavailable: exec: "go": executable file not found in $PATH
--- SKIP: TestGoBuild (0.00s)
FAIL
FAIL	ex/pkg	0.1s
`
	p1 := &PkgResult{Package: "ex/pkg", Native: side("ex/pkg", native), Mote: side("ex/pkg", mote)}
	p1.compare()
	mote2 := strings.Replace(mote, "running a child:\n    a_test.go:31: fork/exec /x: function not implemented", "open testdata/x: no such file or directory", 1)
	native2 := strings.ReplaceAll(native, "ex/pkg", "ex/pkg2")
	mote2 = strings.ReplaceAll(mote2, "ex/pkg", "ex/pkg2")
	p2 := &PkgResult{Package: "ex/pkg2", Native: side("ex/pkg2", native2), Mote: side("ex/pkg2", mote2)}
	p2.compare()
	p3 := &PkgResult{Package: "ex/cgo",
		Native: side("ex/cgo", "=== RUN   TestA\n--- PASS: TestA (0.00s)\nok  \tex/cgo\t0.1s\n"),
		Mote:   side("ex/cgo", "mote test: /x/go/src/ex/cgo uses cgo, which mote does not support\nFAIL\tex/cgo [setup failed]\n")}
	p3.compare()
	r := &Report{Packages: []*PkgResult{p1, p2, p3}}
	r.summarize()

	if p1.Status != "by-design" || strings.Join(p1.Categories, ",") != catProcesses {
		t.Errorf("p1: status %s, categories %v; want by-design, [processes]", p1.Status, p1.Categories)
	}
	if p2.Status != "mote-fails" {
		t.Errorf("p2: status %s, want mote-fails", p2.Status)
	}
	if p3.Status != "by-design" || p3.Category != catCgo {
		t.Errorf("p3: status %s, category %q; want by-design, cgo", p3.Status, p3.Category)
	}
	for _, d := range p1.Differences {
		want := map[string]string{"TestExec": catProcesses, "TestPlain": catProcesses, "TestGoBuild": catToolchain}[d.Test]
		if d.Category != want {
			t.Errorf("p1 %s: category %q (%s), want %q", d.Test, d.Category, d.Evidence, want)
		}
	}
	tt := r.Totals
	if tt.PassingNativeByDesign != 2 || tt.PassingNativeFailingOther != 1 ||
		tt.TestsFailingOnlyMoteDesign != 3 || tt.TestsFailingOnlyMoteOther != 1 ||
		tt.TestsSkippedOnlyMoteDesign != 2 || tt.TestsFailingByCategory[catProcesses] != 3 {
		t.Errorf("totals: %+v", tt)
	}
	if len(r.Reasons) != 1 || !strings.Contains(r.Reasons[0].Reason, "testdata") {
		t.Errorf("reasons: %+v, want only the testdata one", r.Reasons)
	}

	var b bytes.Buffer
	r.writeTable(&b)
	out := b.String()
	for _, s := range []string{
		"packages passing natively that fail under mote only by design: 2 (needs processes: ex/pkg; needs cgo: ex/cgo)",
		"tests failing under mote by design: 3 (needs processes 3, needs the Go toolchain 0, reads the Go source tree 0, needs cgo 0); other: 1",
		"BY-DESIGN DIFFERENCES",
		"    ex/pkg: TestExec*, TestPlain\n    ex/pkg2: TestExec*\n",
		"    ex/cgo (mote test: /x/go/src/ex/cgo uses cgo, which mote does not support)\n",
		"[by design: needs processes] TestExec/sub:",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("report lacks %q:\n%s", s, out)
		}
	}
}
