package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/build"
	"github.com/motevm/mote/project"
	"github.com/motevm/mote/vmm"
	"github.com/spf13/cobra"
)

func newRunCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		memory  string
		cpus    int
		env     []string
		debug   bool
		profile string
		verbose bool
		workdir string
		tmpfs   []string
		volumes []string
		netf    netFlags
		detach  bool
		name    string
	)
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE|PACKAGE [-- ARGS...]",
		Short: "Boot a mote image (building a package first) on KVM",
		Long: `Run boots a mote image in a new KVM virtual machine and waits for it. The guest's
standard output and error go to mote's, and mote exits with the guest
program's exit status.

If the argument is a package (a directory such as ./examples/hello, an import
path, or .go files) it is built first into mote's image cache, which makes
repeated runs of an unchanged program cheap.

Arguments after -- are passed to the program after the arguments baked into
the image. -e adds to (and overrides) the environment baked into the image,
and -w to the working directory baked into it (mote build --workdir).

Programs that use package net get a network device. By default it is
plugged into mote's user-mode network: outbound connections are made by
mote on the host (NAT), 10.0.2.2 is the host's loopback, DNS is relayed to
the host's resolvers, and -p forwards host ports into the guest. With
--net tap:NAME the guest is a machine on an existing tap device instead,
with the address given by --ip (and --gateway, --ip6, --gateway6, --dns).

-v HOST:GUEST mounts the host directory HOST at GUEST in the guest, served
live (the guest sees the host's changes and its writes land on the host;
fsync reaches the host's disk); with HOST:GUEST:ro the guest cannot modify
it. --tmpfs PATH mounts an in-memory file system at PATH instead.

With -d the instance runs detached, in the background: mote run prints
its name once the guest has started and exits 0 (or, if the guest could not
start, prints why and exits 125). The guest's output goes to its log (mote
logs), its standard input is empty, and mote ps, mote stop, mote rm and mote
inspect manage it. --name names it (default: a generated name).

Without IMAGE or PACKAGE, a mote.yaml in the current directory says what
to run (its image, or its package built with its files, dirs and workdir)
and how: its memory, cpus, net and, with -d, name apply unless given as
flags; its env, ports, volumes and tmpfs come before the flags' own; its
args unless arguments follow --. See mote help build for the file.

Exit status: the guest's, or 125 if mote itself failed.`,
		Example: `  mote run hello.img -- world
  mote run ./examples/hello -- world
  mote run -m 1G --cpus 2 -e GREETING=hi ./examples/hello
  mote run -p 8080:80 ./examples/httpd
  mote run -v ./data:/data -v ./static:/srv/static:ro ./cmd/server
  mote run --net tap:tap0 --ip 192.168.100.2/24 --gateway 192.168.100.1 httpd.img
  mote run -d --name web -p 8080:80 ./examples/httpd`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, guestArgs := args, []string(nil)
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				targets, guestArgs = args[:dash], args[dash:]
			}
			var proj *project.Project
			if len(targets) == 0 {
				// A mote.yaml here gives what the flags do not.
				var err error
				if proj, err = findProject(); err != nil {
					return err
				}
				if proj != nil {
					fl := cmd.Flags()
					if !fl.Changed("memory") && proj.Memory != "" {
						memory = proj.Memory
					}
					if !fl.Changed("cpus") && proj.CPUs != 0 {
						cpus = proj.CPUs
					}
					if !fl.Changed("net") && proj.Net != "" {
						netf.mode = proj.Net
					}
					if !fl.Changed("name") && detach {
						name = proj.Name
					}
					if len(guestArgs) == 0 {
						guestArgs = proj.Args
					}
					env = append(append([]string(nil), proj.Env...), env...)
					netf.publish = append(append([]string(nil), proj.Ports...), netf.publish...)
					volumes = append(append([]string(nil), proj.Volumes...), volumes...)
					tmpfs = append(append([]string(nil), proj.Tmpfs...), tmpfs...)
				}
			}
			mem, err := parseMemory(memory)
			if err != nil {
				return fmt.Errorf("mote: -m: %v", err)
			}
			if cpus < 1 || cpus > abi.MaxCPUs {
				return fmt.Errorf("mote: --cpus %d is out of range (1 to %d)", cpus, abi.MaxCPUs)
			}
			for _, kv := range env {
				if err := build.CheckEnv(kv); err != nil {
					return fmt.Errorf("mote: -e: %v", err)
				}
			}
			if workdir != "" && !path.IsAbs(workdir) {
				return fmt.Errorf("mote: --workdir %q is not an absolute path (the guest's directories start at /)", workdir)
			}
			mounts, err := parseTmpfs(tmpfs)
			if err != nil {
				return err
			}
			vols, err := parseVolumes(volumes, mounts)
			if err != nil {
				return err
			}
			netCfg, err := netf.config()
			if err != nil {
				return err
			}
			if name != "" && !detach {
				return fmt.Errorf("mote: --name is for detached instances: add -d")
			}
			if detach {
				if err := checkNewName(name); err != nil {
					return err
				}
			}
			// SIGINT and SIGTERM stop the build. While the guest
			// runs, SIGINT, SIGTERM and SIGHUP go to the program (its
			// os/signal handlers, or their default action); a second
			// SIGINT or SIGTERM stops the guest (vmm.InterruptedStatus).
			bctx, stop := interruptible(cmd.Context())
			var imgPath, progName string
			if proj != nil {
				imgPath, progName, err = projectImage(bctx, proj, verbose, stderr)
				targets = []string{proj.Image} // for mote ps's IMAGE column
				if proj.Image == "" {
					targets = []string{proj.BuildTarget()}
				}
			} else {
				imgPath, progName, err = runTarget(bctx, targets, verbose, stderr)
			}
			stop()
			if err != nil {
				return err
			}
			if detach {
				return runDetached(detached{
					name: name, targets: targets, image: imgPath, args: guestArgs,
					memory: mem, cpus: cpus, env: env, workdir: workdir,
					tmpfs: tmpfs, volumes: vols, net: netf, debug: debug, profile: profile,
					program: progName,
				}, stdout)
			}
			ctx, guestSigs, unforward := forwardSignals(cmd.Context())
			defer unforward()
			status, err := vmm.Run(vmm.Config{
				ImagePath:   imgPath,
				Name:        progName,
				MemoryBytes: mem,
				CPUs:        cpus,
				Args:        guestArgs,
				Env:         env,
				Dir:         workdir,
				Tmpfs:       mounts,
				Volumes:     vols,
				Stdin:       cmd.InOrStdin(),
				Stdout:      stdout,
				Stderr:      stderr,
				Debug:       debug,
				Profile:     profile,
				Context:     ctx,
				Signals:     guestSigs,
				Net:         netCfg,
			})
			if err != nil {
				return err
			}
			return exitStatus(status)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&memory, "memory", "m", "256M", "guest RAM `SIZE`: bytes or with a unit K, M, G (e.g. 64M, 1G, 512MiB); rounded up to 2 MiB")
	f.IntVar(&cpus, "cpus", 1, "number of virtual CPUs")
	f.StringArrayVarP(&env, "env", "e", nil, "set the environment variable `KEY=VALUE` in the guest (repeatable; overrides baked entries)")
	f.BoolVar(&debug, "debug", false, "log system calls the library OS does not implement (once each) to stderr")
	f.StringVar(&profile, "profile", "", "sample the program's PC at every timer tick and write a flat profile to `FILE` when the guest stops (- for stderr)")
	f.StringArrayVar(&tmpfs, "tmpfs", nil, "mount an in-memory file system at the guest directory `PATH[:SIZE]` (repeatable; SIZE such as 64M, default half of guest RAM; /tmp always is one)")
	f.StringVarP(&workdir, "workdir", "w", "", "start the program in the guest directory `DIR`, an absolute path (default: the image's, from mote build --workdir, or /)")
	f.StringArrayVarP(&volumes, "volume", "v", nil, "mount a host directory in the guest: `HOST:GUEST[:ro]`, HOST a directory (relative to the current one), GUEST an absolute guest path, :ro read-only (repeatable)")
	// Not -v: that is --volume, as in docker run.
	f.BoolVar(&verbose, "verbose", false, "print the build steps when building a package")
	f.BoolVarP(&detach, "detach", "d", false, "run in the background as an instance: print its name once the guest has started and exit (see mote ps, logs, stop, rm)")
	f.StringVar(&name, "name", "", "the detached instance's `NAME`: letters, digits, _ . - (default: generated; with -d)")
	netf.register(f)
	return cmd
}

// projectImage returns the image a mote.yaml runs: its image (a file or a
// name in the image store), or its package built into the image cache with
// its sealed files and working directory; and the program's name (its
// argv[0]: "" for an image file's own name).
func projectImage(ctx context.Context, p *project.Project, verbose bool, stderr io.Writer) (path, name string, err error) {
	if p.Image != "" {
		if st, err := os.Stat(p.Image); err == nil && st.Mode().IsRegular() {
			return p.Image, "", nil
		}
		path, ok, err := resolveStoredImage(p.Image)
		if err == nil && !ok {
			err = fmt.Errorf("mote: %s: image %s: no such image file or stored image", project.FileName, p.Image)
		}
		return path, programName(path, p.Image), err
	}
	var seal []build.SealSpec
	for _, d := range p.Dirs {
		s, err := parseSeal("--dir", d, true)
		if err != nil {
			return "", "", fmt.Errorf("mote: %s: dirs: %v", project.FileName, err)
		}
		seal = append(seal, s)
	}
	for _, f := range p.Files {
		s, err := parseSeal("--file", f, false)
		if err != nil {
			return "", "", fmt.Errorf("mote: %s: files: %v", project.FileName, err)
		}
		seal = append(seal, s)
	}
	prog := startProgress(progressWriter(stderr, verbose), "building "+p.BuildTarget())
	res, err := build.BuildCached(ctx, build.Options{
		Args: []string{p.BuildTarget()}, Seal: seal, WorkDir: p.Workdir,
		Verbose: verbose, Stderr: stderr,
	})
	prog.done(err == nil)
	if err != nil {
		return "", "", err
	}
	return res.Image, res.Name, nil
}

// runTarget returns the image to boot for the positional arguments before
// "--", building a package into the image cache first if needed, and the
// program's name (its argv[0]: "" for an image file's own name).
func runTarget(ctx context.Context, targets []string, verbose bool, stderr io.Writer) (path, name string, err error) {
	if len(targets) == 0 {
		return "", "", fmt.Errorf("mote: name an image or a package to run (see 'mote run --help')")
	}
	allGo := true
	for _, t := range targets {
		if !strings.HasSuffix(t, ".go") {
			allGo = false
		}
	}
	if !allGo && len(targets) > 1 {
		return "", "", fmt.Errorf("mote: pass the program's arguments after --, as in 'mote run %s -- %s'", targets[0], strings.Join(targets[1:], " "))
	}
	if !allGo {
		t := targets[0]
		st, err := os.Stat(t)
		switch {
		case err == nil && st.Mode().IsRegular():
			return t, "", nil // an image; the monitor validates it
		case err == nil && st.IsDir():
			// A package directory; "dir" would be an import path to go.
			if !filepath.IsAbs(t) && !strings.HasPrefix(t, ".") {
				targets = []string{"./" + t}
			}
		case err != nil && !looksLikePackage(t):
			if path, ok, err := resolveStoredImage(t); ok || err != nil {
				return path, programName(path, t), err
			}
			return "", "", fmt.Errorf("mote: %s: no such image or package", t)
		}
	}
	prog := startProgress(progressWriter(stderr, verbose), "building "+buildWhat(targets))
	res, err := build.BuildCached(ctx, build.Options{Args: targets, Verbose: verbose, Stderr: stderr})
	prog.done(err == nil)
	if err != nil {
		return "", "", err
	}
	return res.Image, res.Name, nil
}

// looksLikePackage reports whether a name that is not a file could be a Go
// package pattern: a relative or absolute path, or an import path.
func looksLikePackage(t string) bool {
	if strings.HasSuffix(t, ".img") || strings.HasSuffix(t, ".elf") {
		return false
	}
	if t == "." || t == ".." || strings.HasPrefix(t, "./") || strings.HasPrefix(t, "../") {
		return true
	}
	if filepath.IsAbs(t) {
		return false // an absolute path that does not exist
	}
	// An import path: a first element with a dot (example.com/x) or a
	// standard-library-like path is left to the go command to resolve.
	return strings.Contains(t, "/") || strings.Contains(t, "...")
}
