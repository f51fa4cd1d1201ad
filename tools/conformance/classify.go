package main

// Classifying the differences under mote by cause (issue 4): a test that
// cannot pass in a unikernel by design — it starts processes, runs the Go
// toolchain, reads the Go source tree, or needs cgo — is told apart from a
// library OS gap to fix. The cause comes from the failure or skip message
// when it tells, else from the test's own source in $GOROOT/src/PKG: the
// body of the test function and of the functions of the package's test
// files it refers to directly (one level deep), scanned for the calls that
// need such a thing. Nothing is listed by test name.

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The by-design categories, as written in the JSON report.
const (
	catProcesses = "processes"
	catToolchain = "go-toolchain"
	catSource    = "source-tree"
	catCgo       = "cgo"
)

// categories in the order they are reported, and the precedence among
// several found in a test's source: the most specific first (running the
// Go toolchain starts processes too).
var categories = []string{catCgo, catToolchain, catProcesses, catSource}

// reportOrder is the order of the categories in the report.
var reportOrder = []string{catProcesses, catToolchain, catSource, catCgo}

var categoryLabel = map[string]string{
	catProcesses: "needs processes",
	catToolchain: "needs the Go toolchain",
	catSource:    "reads the Go source tree",
	catCgo:       "needs cgo",
}

func label(cat string) string {
	if l, ok := categoryLabel[cat]; ok {
		return l
	}
	return cat
}

// ---- from the message ----

var msgRules = []struct {
	cat string
	re  *regexp.Regexp
}{
	{catCgo, regexp.MustCompile(`(?i)\b(uses|requires|needs|no) cgo\b|\bcgo (is )?(not (supported|enabled|available)|disabled|unavailable)|\bCGO_ENABLED\b`)},
	{catToolchain, regexp.MustCompile(`'go (build|run|test|tool|vet|list|env)'|exec: "go(\.exe)?"|fork/exec \S*/go(\.exe)?:|platform cannot run go tool|GoToolPath|go command (is )?not (available|found)`)},
	{catProcesses, regexp.MustCompile(`fork/exec|cannot exec subprocess|exec: "[^"]+": executable file not found|\bStartProcess\b|\bForkExec\b|\b(clone|clone3|fork|vfork|execve|execveat|wait4|waitid|pidfd_open|pidfd_send_signal)\b.*(function not implemented|not supported)`)},
	{catSource, regexp.MustCompile(`failed to locate GOROOT|no source tree|\bGOROOT\b.*(not found|unknown|no such file)`)},
}

// crashRE matches the first line of a crash's report, after which come
// stack traces and registers.
var crashRE = regexp.MustCompile(`^(panic: |fatal error: |mote: |runtime: |unexpected fault|goroutine \d+ \[|SIGSEGV|exception: )`)

// goSrcPathRE finds absolute paths into a Go tree's src directory
// (/usr/local/go/src/…, mote's …/goroot/…/src/…).
var goSrcPathRE = regexp.MustCompile(`/[\w.+@/-]*?/(?:go|goroot)(?:/[\w.+@-]+)?/src/([\w.+@/-]*)|/[\w.+@/-]*?/(?:go|goroot)(?:/[\w.+@-]+)?/src\b`)

// classifyMessage returns the category a failure or skip message of a test
// of pkg names, if any, and the part of the message that tells.
func classifyMessage(pkg, msg string) (cat, evidence string) {
	for _, r := range msgRules {
		if m := r.re.FindString(msg); m != "" {
			return r.cat, m
		}
	}
	// A path into $GOROOT/src that is not testdata nor a file of the
	// package's own directory (which go test makes the working directory
	// and mote test provides): the test reads the source tree.
	for _, ix := range goSrcPathRE.FindAllStringSubmatchIndex(msg, -1) {
		if rest := msg[ix[1]:]; len(rest) > 1 && rest[0] == ':' && rest[1] >= '0' && rest[1] <= '9' {
			continue // file:line, a place in a stack trace
		}
		m := []string{msg[ix[0]:ix[1]], ""}
		if ix[2] >= 0 {
			m[1] = msg[ix[2]:ix[3]]
		}
		rel := strings.TrimSuffix(m[1], "/")
		if strings.Contains(rel, "testdata") {
			continue
		}
		if rest, ok := strings.CutPrefix(rel, pkg+"/"); ok && !strings.Contains(rest, "/") {
			continue // a file of the package itself
		}
		return catSource, m[0]
	}
	return "", ""
}

// ---- from the source ----

// What, called or referred to in a test's source, puts it in a category:
// import path → name → category. os.Executable and testenv.Executable are
// not in it: a test may only look at its own binary (os's
// TestOpenFileNonBlocking opens it); one that re-executes itself calls
// exec.Command, testenv.Command or os.StartProcess too. Likewise a failing
// os.Executable ("readlink /proc/self/exe: …") does not tell by itself.
var srcRules = map[string]map[string]string{
	"os/exec": {
		"Command": catProcesses, "CommandContext": catProcesses,
	},
	"os": {
		"StartProcess": catProcesses,
	},
	"syscall": {
		"ForkExec": catProcesses, "StartProcess": catProcesses, "Exec": catProcesses,
	},
	"internal/testenv": {
		"Command": catProcesses, "CommandContext": catProcesses, "MustHaveExec": catProcesses,
		"MustHaveExecPath": catProcesses, "CleanCmdEnv": catProcesses,
		"GoToolPath": catToolchain, "GoTool": catToolchain, "MustHaveGoBuild": catToolchain,
		"MustHaveGoRun": catToolchain, "HasGoBuild": catToolchain, "HasGoRun": catToolchain,
		"MustHaveBuildMode": catToolchain, "MustInternalLink": catToolchain, "WriteImportcfg": catToolchain,
		"GOROOT": catSource, "MustHaveSource": catSource,
		"MustHaveCGO": catCgo,
	},
	"runtime": {
		"GOROOT": catSource,
	},
}

// srcIndex reads packages' test files on demand.
type srcIndex struct {
	goroot string
	pkgs   map[string]*pkgSrc
}

type pkgSrc struct {
	funcs map[string][]*funcSrc // by package clause + "." + name
}

type funcSrc struct {
	file *fileSrc
	decl *ast.FuncDecl
}

type fileSrc struct {
	name    string
	clause  string            // package name
	imports map[string]string // local name → import path
	cgo     bool              // import "C"
}

// srcGOROOT is the Go tree whose sources are read; empty for go env GOROOT.
var srcGOROOT string

func newSrcIndex() *srcIndex {
	goroot := srcGOROOT
	if goroot == "" {
		if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
			goroot = strings.TrimSpace(string(out))
		}
	}
	return &srcIndex{goroot: goroot, pkgs: map[string]*pkgSrc{}}
}

// load parses the test files of pkg that build for linux/amd64 without
// cgo, as the tests run.
func (x *srcIndex) load(pkg string) *pkgSrc {
	if p, ok := x.pkgs[pkg]; ok {
		return p
	}
	p := &pkgSrc{funcs: map[string][]*funcSrc{}}
	x.pkgs[pkg] = p
	if x.goroot == "" {
		return p
	}
	dir := filepath.Join(x.goroot, "src", filepath.FromSlash(pkg))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return p
	}
	bctx := build.Default
	bctx.GOROOT = x.goroot
	bctx.GOOS, bctx.GOARCH, bctx.CgoEnabled = "linux", "amd64", false
	fset := token.NewFileSet()
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, "_test.go") {
			continue
		}
		if ok, err := bctx.MatchFile(dir, name); err != nil || !ok {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			continue
		}
		fs := &fileSrc{name: name, clause: f.Name.Name, imports: map[string]string{}}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			if path == "C" {
				fs.cgo = true
			}
			local := path[strings.LastIndex(path, "/")+1:]
			if im.Name != nil {
				local = im.Name.Name
			}
			fs.imports[local] = path
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Body != nil {
				k := fs.clause + "." + fd.Name.Name
				p.funcs[k] = append(p.funcs[k], &funcSrc{file: fs, decl: fd})
			}
		}
	}
	return p
}

// classify returns the category of test (a top-level test, example or
// fuzz test) of pkg by its source, and what in it tells.
func (x *srcIndex) classify(pkg, test string) (cat, evidence string) {
	p := x.load(pkg)
	found := map[string]string{} // category → first evidence
	add := func(c, what string) {
		if _, ok := found[c]; !ok {
			found[c] = what
		}
	}
	for k, fns := range p.funcs {
		if _, name, _ := strings.Cut(k, "."); name != test {
			continue
		}
		for _, fn := range fns {
			helpers := scanFunc(fn, add, "")
			for _, h := range helpers {
				if h == test {
					continue
				}
				for _, hf := range p.funcs[fn.file.clause+"."+h] {
					scanFunc(hf, add, " (in "+h+")")
				}
			}
		}
	}
	for _, c := range categories {
		if e, ok := found[c]; ok {
			return c, "source: " + e
		}
	}
	return "", ""
}

// scanFunc reports the categories fn's body calls for, and returns the
// names it refers to that may be functions of the package's test files.
func scanFunc(fn *funcSrc, add func(cat, what string), where string) (idents []string) {
	if fn.file.cgo {
		add(catCgo, `import "C"`+where)
	}
	seen := map[string]bool{}
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.SelectorExpr:
			if id, ok := n.X.(*ast.Ident); ok {
				if path, ok := fn.file.imports[id.Name]; ok {
					if c, ok := srcRules[path][n.Sel.Name]; ok {
						add(c, id.Name+"."+n.Sel.Name+where)
					}
					return false
				}
			}
			// build.Default.GOROOT
			if n.Sel.Name == "GOROOT" {
				if s, ok := n.X.(*ast.SelectorExpr); ok && s.Sel.Name == "Default" {
					if id, ok := s.X.(*ast.Ident); ok && fn.file.imports[id.Name] == "go/build" {
						add(catSource, "build.Default.GOROOT"+where)
					}
				}
			}
			// Not into n.Sel: a field or method name is no function
			// of the package's.
			ast.Inspect(n.X, visit)
			return false
		case *ast.Ident:
			if !seen[n.Name] {
				seen[n.Name] = true
				idents = append(idents, n.Name)
			}
		}
		return true
	}
	ast.Inspect(fn.decl.Body, visit)
	return idents
}

// ---- classifying a package's differences ----

// classify sets the category of the package's differences under mote and
// of its package-level failure, and whether it fails under mote only by
// design.
func (p *PkgResult) classify(x *srcIndex) {
	blamed, byDesign := 0, 0
	cats := map[string]bool{}
	for i := range p.Differences {
		d := &p.Differences[i]
		if d.Mote != "fail" && d.Mote != "skip" {
			continue
		}
		d.Category, d.Evidence = classifyMessage(p.Package, d.Reason)
		// The message may go on past its first line (a t.Errorf with a
		// newline, a t.Log before the t.Fatal, a subprocess's output),
		// but not into a crash's dump.
		for i, l := range d.lines {
			if d.Category != "" || crashRE.MatchString(l) {
				break
			}
			if i > 0 {
				d.Category, d.Evidence = classifyMessage(p.Package, cleanReason(l))
			}
		}
		if d.Category == "" {
			d.Category, d.Evidence = x.classify(p.Package, d.Test)
		} else {
			d.Evidence = "message: " + d.Evidence
		}
		if d.Mote == "fail" {
			blamed++
			if d.Category != "" {
				byDesign++
				cats[d.Category] = true
			}
		}
	}
	if pkgBlamed(p) {
		blamed++
		if p.Status == "timeout" {
			return // a timeout tells nothing of its cause
		}
		if c, e := classifyMessage(p.Package, p.Mote.Reason); c != "" {
			p.Category, p.Evidence = c, "message: "+e
			byDesign++
			cats[c] = true
		}
	}
	if blamed > 0 && byDesign == blamed && (p.Status == "mote-fails" || p.Status == "build-failed") {
		p.Status = "by-design"
		for _, c := range reportOrder {
			if cats[c] {
				p.Categories = append(p.Categories, c)
			}
		}
	}
}

// pkgBlamed reports whether the package fails under mote without a test to
// blame, so that its package-level reason is the failure's.
func pkgBlamed(p *PkgResult) bool {
	return p.Status == "build-failed" || p.Status == "timeout" || (p.Status == "mote-fails" && p.Mote.Fail == 0)
}

func labels(cats []string) string {
	var l []string
	for _, c := range cats {
		l = append(l, label(c))
	}
	return strings.Join(l, " + ")
}

// sortedCategoryKeys sorts keys made of categories joined with "+" in the
// report's order of their first category, then alphabetically.
func sortedCategoryKeys[V any](m map[string]V) []string {
	rank := func(k string) int {
		first, _, _ := strings.Cut(k, "+")
		for i, c := range reportOrder {
			if c == first {
				return i
			}
		}
		return len(reportOrder)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if ri, rj := rank(ks[i]), rank(ks[j]); ri != rj {
			return ri < rj
		}
		return ks[i] < ks[j]
	})
	return ks
}
