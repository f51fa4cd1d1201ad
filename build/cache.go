package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
)

func importsC(name string, src []byte) bool {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.ImportsOnly)
	if err != nil {
		return false
	}
	for _, imp := range f.Imports {
		if p, err := strconv.Unquote(imp.Path.Value); err == nil && p == "C" {
			return true
		}
	}
	return false
}

// BuildCached builds the image for opts into mote's image cache
// (<CacheDir>/images/<key>.img) and returns it; opts.Output is ignored. The
// key covers what was asked for (working directory, arguments, baked
// environment, arguments and working directory) and the sealed files
// (their paths, modes, contents and modification times), so changing a
// sealed file makes another image; what the program is built from is
// covered by always running go build, whose own cache makes an unchanged
// program cheap to relink. The image file is left alone when the new image
// is identical, so it keeps its modification time and page-cache residency.
func BuildCached(ctx context.Context, opts Options) (*Result, error) {
	if err := absDir(&opts); err != nil {
		return nil, err
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	imgDir := filepath.Join(cache, "images")
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return nil, fmt.Errorf("mote build: cannot create the image cache: %v", err)
	}
	opts.cacheDir = imgDir
	return build(ctx, opts, true)
}

// cacheKey names the cached image of opts, whose guest working directory
// is workDir and whose sealed files' archive has the digest sealSum.
func cacheKey(opts Options, workDir, sealSum string) string {
	h := sha256.New()
	field := func(tag string, s string) { fmt.Fprintf(h, "%s%d:%s\n", tag, len(s), s) }
	field("dir", opts.Dir)
	if opts.NoTZData {
		field("notz", "1")
	}
	if opts.NoCACerts {
		field("noca", "1")
	}
	if opts.Test {
		field("test", "1")
		if opts.CoverMode != "" {
			field("cover", opts.CoverMode)
		}
	}
	for _, a := range opts.Args {
		if isLocalPattern(a) || filepath.Ext(a) == ".go" {
			if !filepath.IsAbs(a) {
				a = filepath.Join(opts.Dir, a)
			}
		}
		field("arg", a)
	}
	for _, e := range opts.Env {
		field("env", e)
	}
	for _, a := range opts.RunArgs {
		field("run", a)
	}
	if workDir != "" {
		field("workdir", workDir)
	}
	if sealSum != "" {
		field("sealed", sealSum)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}
