package build

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// goTool runs the go command with a fixed environment.
type goTool struct {
	path    string   // absolute path of the go command
	env     []string // full environment for every invocation
	verbose bool
	stderr  io.Writer
}

// targetEnv are the variables forced for every go invocation: the guest is
// a static linux/amd64 program that needs no CPU features beyond x86-64 v1.
var targetEnv = []string{
	"GOOS=linux",
	"GOARCH=amd64",
	"CGO_ENABLED=0",
	"GOAMD64=v1",
}

func newGoTool(verbose bool, stderr io.Writer) (*goTool, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return nil, errors.New("mote build: the go command was not found on PATH (Go 1.26 or newer is required)")
	}
	return &goTool{path: p, env: mergeEnv(os.Environ(), targetEnv...), verbose: verbose, stderr: stderr}, nil
}

// mergeEnv returns base with the KEY=VALUE entries of set replacing any
// existing entries of the same keys.
func mergeEnv(base []string, set ...string) []string {
	out := make([]string, 0, len(base)+len(set))
	keys := map[string]bool{}
	for _, kv := range set {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !keys[k] {
			out = append(out, kv)
		}
	}
	return append(out, set...)
}

// run runs `go args...` in dir and returns stdout. On failure the error
// carries go's stderr.
func (g *goTool) run(ctx context.Context, dir string, extraEnv []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, g.path, args...)
	cmd.Dir = dir
	cmd.Env = mergeEnv(g.env, extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if g.verbose && g.stderr != nil {
		env := strings.Join(extraEnv, " ")
		if env != "" {
			env += " "
		}
		fmt.Fprintf(g.stderr, "mote: (cd %s && %sgo %s)\n", dir, env, strings.Join(args, " "))
		cmd.Stderr = io.MultiWriter(&stderr, g.stderr)
	}
	err := cmd.Run()
	if err != nil {
		return stdout.Bytes(), &goError{args: args, stderr: stderr.String(), err: err}
	}
	return stdout.Bytes(), nil
}

type goError struct {
	args   []string
	stderr string
	err    error
}

func (e *goError) Error() string {
	msg := strings.TrimSpace(e.stderr)
	if msg == "" {
		msg = e.err.Error()
	}
	return fmt.Sprintf("go %s: %s", e.args[0], msg)
}

// firstLine returns the first non-empty line of s with a "go: " prefix removed.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		return strings.TrimPrefix(l, "go: ")
	}
	return ""
}

// goEnv is the subset of `go env -json` mote needs.
type goEnv struct {
	GOVERSION  string
	GOROOT     string
	GOMOD      string
	GOWORK     string
	GOMODCACHE string
	GOFLAGS    string
}

func (g *goTool) goEnv(ctx context.Context, dir string) (*goEnv, error) {
	out, err := g.run(ctx, dir, nil, "env", "-json", "GOVERSION", "GOROOT", "GOMOD", "GOWORK", "GOFLAGS", "GOMODCACHE")
	if err != nil {
		var ge *goError
		if errors.As(err, &ge) {
			return nil, fmt.Errorf("mote build: go env failed: %s", firstLine(ge.stderr))
		}
		return nil, fmt.Errorf("mote build: go env failed: %v", err)
	}
	var e goEnv
	if err := json.Unmarshal(out, &e); err != nil {
		return nil, fmt.Errorf("mote build: cannot parse go env output: %v", err)
	}
	return &e, nil
}

// MinGoMinor is the oldest Go 1.x release mote supports.
const MinGoMinor = 26

// checkGoVersion accepts go1.N[.P][suffix] with N >= MinGoMinor, and
// development toolchains ("devel ...").
func checkGoVersion(v string) error {
	if strings.HasPrefix(v, "devel") {
		return nil
	}
	rest, ok := strings.CutPrefix(v, "go1.")
	if ok {
		end := 0
		for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
			end++
		}
		if n, err := strconv.Atoi(rest[:end]); err == nil && n >= MinGoMinor {
			return nil
		}
	} else if strings.HasPrefix(v, "go") {
		// go2 and later.
		if n, err := strconv.Atoi(strings.TrimPrefix(strings.SplitN(v, ".", 2)[0], "go")); err == nil && n >= 2 {
			return nil
		}
	}
	if v == "" {
		v = "an unknown version"
	}
	return fmt.Errorf("mote build: Go 1.%d or newer is required (found %s)", MinGoMinor, v)
}
