package main

import (
	"fmt"
	"io"

	"github.com/motevm/mote/build"
	"github.com/spf13/cobra"
)

func newBuildCmd(stderr io.Writer) *cobra.Command {
	var (
		output  string
		env     []string
		args    []string
		verbose bool
	)
	cmd := &cobra.Command{
		Use:   "build [flags] [PACKAGE | FILE.go ...]",
		Short: "Build a Go main package into a bootable mote image",
		Long: `Build compiles a Go main package (or the named .go files, which must be in one
directory) with the Go toolchain on PATH, links it with mote's library OS and
writes a bootable image: an ELF file with a mote note.

The program is built for linux/amd64 with CGO_ENABLED=0; programs that use cgo
are refused. The package's go.mod, go.sum and sources are never modified.

Without arguments the package in the current directory is built. The image is
written to ./NAME.img, where NAME is the last element of the package's import
path (or the first file's name without .go), unless -o says otherwise.`,
		Example: `  mote build                      # the package in this directory
  mote build ./cmd/server -o server.img
  mote build -e GREETING=hi --arg world ./examples/hello
  mote build main.go util.go`,
		RunE: func(cmd *cobra.Command, pkgs []string) error {
			for _, kv := range env {
				if err := build.CheckEnv(kv); err != nil {
					return fmt.Errorf("mote build: -e: %v", err)
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			res, err := build.Build(ctx, build.Options{
				Args:    pkgs,
				Output:  output,
				Env:     env,
				RunArgs: args,
				Verbose: verbose,
				Stderr:  stderr,
			})
			if err != nil {
				return err
			}
			if verbose {
				fmt.Fprintf(stderr, "mote: wrote %s (%d bytes)\n", res.Image, res.Size)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&output, "output", "o", "", "write the image to `IMAGE` (default ./NAME.img; a directory gets NAME.img inside)")
	f.StringArrayVarP(&env, "env", "e", nil, "bake the environment variable `KEY=VALUE` into the image (repeatable)")
	f.StringArrayVar(&args, "arg", nil, "bake the argument `ARG` into the image, after argv[0] (repeatable)")
	f.BoolVarP(&verbose, "verbose", "v", false, "print the go commands run and what was rewritten")
	return cmd
}
