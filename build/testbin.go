package build

import (
	"context"
	"fmt"
	"strings"
)

// Test binaries (mote test): the package's `go test -c` binary, linked
// with the library OS through one more test file of the package itself.

// checkTest checks that the listing is exactly one package with tests.
func (b *builder) checkTest(pkgs []*listPkg) (*listPkg, error) {
	switch {
	case len(pkgs) == 0:
		return nil, fmt.Errorf("mote test: %s matched no packages", b.display)
	case len(pkgs) > 1:
		return nil, fmt.Errorf("mote test: %s matched %d packages; build them one at a time", b.display, len(pkgs))
	}
	p := pkgs[0]
	if p.Error != nil {
		msg := b.userPaths(strings.TrimSpace(p.Error.Err))
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return nil, fmt.Errorf("mote test: %s: %s", b.display, msg)
	}
	if usesCgo(p) {
		return nil, fmt.Errorf("mote test: %s uses cgo, which mote does not support", b.display)
	}
	if len(p.TestGoFiles) == 0 && len(p.XTestGoFiles) == 0 {
		return nil, ErrNoTestFiles
	}
	return p, nil
}

// ErrNoTestFiles is returned for a package without test files.
var ErrNoTestFiles = fmt.Errorf("no test files")

// testUsesNet reports whether the test binary depends on package net.
func (b *builder) testUsesNet(ctx context.Context) (bool, error) {
	deps, err := b.list(ctx, true, b.pattern)
	if err != nil {
		return false, err
	}
	for _, d := range deps {
		if d.ImportPath == "net" {
			return true, nil
		}
	}
	return false, nil
}
