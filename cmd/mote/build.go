package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/motevm/mote/build"
	"github.com/motevm/mote/project"
	"github.com/motevm/mote/store"
	"github.com/spf13/cobra"
)

func newBuildCmd(stderr io.Writer) *cobra.Command {
	var (
		output  string
		env     []string
		args    []string
		verbose bool
		dirs    []string
		files   []string
		workdir string
		tagRef  string
		tzdata  bool
		caCerts bool
	)
	cmd := &cobra.Command{
		Use:   "build [flags] [PACKAGE | FILE.go ...]",
		Short: "Build a Go main package into a bootable mote image",
		Long: `Build compiles a Go main package (or the named .go files, which must be in one
directory) with the Go toolchain on PATH, links it with mote's library OS and
writes a bootable image: an ELF file with a mote note.

The program is built for linux/amd64 with CGO_ENABLED=0; programs that use cgo
are refused. The package's go.mod, go.sum and sources are never modified.

--dir and --file seal host files into the image: a read-only file tree the
program sees at the guest paths given (directories recursively, with their
permission bits, modification times and symbolic links). --workdir sets the
directory the program starts in.

Without arguments the package in the current directory is built, or, with a
mote.yaml there, the project's package with its files, dirs, workdir and
name (flags add to them; see mote help run). The image is
written to ./NAME.img, where NAME is the last element of the package's import
path (or the first file's name without .go), unless -o says otherwise.

Every image built is also recorded in the local image store (see mote images)
as NAME:TAG from -t, or by the output file's name (without .img) with the tag
latest; mote run NAME[:TAG] boots it from there.`,
		Example: `  mote build                      # the package in this directory
  mote build ./cmd/server -o server.img
  mote build -e GREETING=hi --arg world ./examples/hello
  mote build main.go util.go
  mote build -t web:v1 ./cmd/server
  mote build --dir ./static:/srv/static --file config.json:/etc/app.json --workdir /srv ./cmd/server`,
		RunE: func(cmd *cobra.Command, pkgs []string) error {
			if len(pkgs) == 0 {
				// A mote.yaml here gives what the flags do not.
				proj, err := findProject()
				if err != nil {
					return err
				}
				if proj != nil {
					if proj.Image != "" {
						return fmt.Errorf("mote build: %s names an image to run (%s), not a package to build", project.FileName, proj.Image)
					}
					pkgs = []string{proj.BuildTarget()}
					dirs = append(append([]string(nil), proj.Dirs...), dirs...)
					files = append(append([]string(nil), proj.Files...), files...)
					if workdir == "" {
						workdir = proj.Workdir
					}
					if tagRef == "" {
						tagRef = proj.Name
					}
					if output == "" && proj.Name != "" {
						output = proj.Name + ".img"
					}
				}
			}
			for _, kv := range env {
				if err := build.CheckEnv(kv); err != nil {
					return fmt.Errorf("mote build: -e: %v", err)
				}
			}
			var seal []build.SealSpec
			for _, d := range dirs {
				s, err := parseSeal("--dir", d, true)
				if err != nil {
					return err
				}
				seal = append(seal, s)
			}
			for _, f := range files {
				s, err := parseSeal("--file", f, false)
				if err != nil {
					return err
				}
				seal = append(seal, s)
			}
			var name, tag string
			if tagRef != "" {
				var err error
				if name, tag, err = store.ParseName(tagRef); err != nil {
					return fmt.Errorf("mote build: -t: %v", err)
				}
			}
			if workdir != "" {
				if _, err := build.CheckWorkDir(workdir); err != nil {
					return fmt.Errorf("mote build: --workdir: %v", err)
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			prog := startProgress(progressWriter(stderr, verbose), "building "+buildWhat(pkgs))
			res, err := build.Build(ctx, build.Options{
				Args:      pkgs,
				Output:    output,
				Env:       env,
				RunArgs:   args,
				Seal:      seal,
				WorkDir:   workdir,
				NoTZData:  !tzdata,
				NoCACerts: !caCerts,
				Verbose:   verbose,
				Stderr:    stderr,
			})
			prog.done(err == nil)
			if err != nil {
				return err
			}
			if verbose {
				fmt.Fprintf(stderr, "mote: wrote %s (%d bytes)\n", res.Image, res.Size)
				if res.SealedFiles > 0 {
					fmt.Fprintf(stderr, "mote: sealed %d files and directories (%d bytes)\n", res.SealedFiles, res.SealedBytes)
				}
			}
			// A store that cannot be written fails the build only when
			// -t asked for a name; otherwise the image is still there.
			img, err := storeBuilt(res.Image, name, tag, pkgs)
			switch {
			case err != nil && tagRef != "":
				return fmt.Errorf("mote build: wrote %s, but cannot store it as %s:%s: %v", res.Image, name, tag, err)
			case err != nil:
				fmt.Fprintf(stderr, "mote: warning: wrote %s, but cannot record it in the image store: %v\n", res.Image, err)
			case verbose:
				fmt.Fprintf(stderr, "mote: stored as %s (sha256:%s)\n", img.Ref(), img.ShortDigest())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "write the image to `IMAGE` (default ./NAME.img; a directory gets NAME.img inside)")
	f.StringArrayVarP(&env, "env", "e", nil, "bake the environment variable `KEY=VALUE` into the image (repeatable)")
	f.StringArrayVar(&args, "arg", nil, "bake the argument `ARG` into the image, after argv[0] (repeatable)")
	f.StringArrayVar(&dirs, "dir", nil, "seal a host directory with everything in it into the image, read-only: `HOST:GUEST`, HOST relative to the current directory, GUEST an absolute path in the guest (repeatable)")
	f.StringArrayVar(&files, "file", nil, "seal a host file into the image, read-only: `HOST:GUEST`, HOST relative to the current directory, GUEST an absolute path in the guest (repeatable)")
	f.StringVar(&workdir, "workdir", "", "the program's working directory in the guest, an absolute path `DIR` (default /)")
	f.StringVarP(&tagRef, "tag", "t", "", "name the image `NAME[:TAG]` in the local image store (default: the output file's name without .img, tag latest)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the go commands run and what was rewritten")
	f.BoolVar(&tzdata, "tzdata", true, "embed Go's time zone database (time/tzdata, ~0.8 MiB), so time.LoadLocation works in the guest; --tzdata=false leaves it out")
	f.BoolVar(&caCerts, "ca-certs", true, "for a program with a network, seal this machine's root certificates at "+build.CACertsGuestPath+" (unless --dir/--file put something there), so TLS clients can verify servers; --ca-certs=false leaves them out")
	return cmd
}

// parseSeal parses the HOST:GUEST argument of --dir (dir) or --file: GUEST
// is absolute, so the value splits at the last ":/". HOST is made absolute
// here, from the current directory, and must be a directory for --dir and
// not one for --file.
func parseSeal(flag, v string, dir bool) (build.SealSpec, error) {
	i := strings.LastIndex(v, ":/")
	if i <= 0 {
		return build.SealSpec{}, fmt.Errorf("mote build: %s %q: want HOST:GUEST, with GUEST an absolute path in the guest", flag, v)
	}
	host, guest := v[:i], v[i+1:]
	spec := build.SealSpec{Host: host, Guest: guest, Flag: flag + " " + v}
	if err := build.CheckGuestPath(guest); err != nil {
		return spec, fmt.Errorf("mote build: %s %s: %v", flag, v, err)
	}
	abs, err := filepath.Abs(host)
	if err != nil {
		return spec, fmt.Errorf("mote build: %s %s: %v", flag, v, err)
	}
	st, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return spec, fmt.Errorf("mote build: %s %s: %s: no such file or directory", flag, v, host)
	case err != nil:
		return spec, fmt.Errorf("mote build: %s %s: %v", flag, v, err)
	case dir && !st.IsDir():
		return spec, fmt.Errorf("mote build: %s %s: %s is not a directory (seal a file with --file)", flag, v, host)
	case !dir && st.IsDir():
		return spec, fmt.Errorf("mote build: %s %s: %s is a directory (seal a directory with --dir)", flag, v, host)
	}
	spec.Host = abs
	return spec, nil
}

// findProject reads the current directory's mote.yaml, if there is one.
func findProject() (*project.Project, error) {
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	p, err := project.Find(wd)
	if err != nil {
		return nil, fmt.Errorf("mote: %v", err)
	}
	return p, nil
}

// buildWhat names what a build builds, for progress lines.
func buildWhat(pkgs []string) string {
	switch {
	case len(pkgs) == 0:
		return "."
	case len(pkgs) == 1:
		return pkgs[0]
	}
	return pkgs[0] + " ..."
}
