package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/motevm/mote/internal/motedir"
	"github.com/motevm/mote/store"
	"github.com/spf13/cobra"
)

// The local image store (package store): mote build adds every image it
// writes, mote images lists them, mote rmi removes them, and mote run
// boots one by name (resolveStoredImage).

func openStore() *store.Store { return store.Open(motedir.Images()) }

// storeBuilt records an image mote build wrote. name:tag is -t's, or the
// output file's name and "latest"; source is what was built (its
// arguments, local ones made absolute).
func storeBuilt(image, name, tag string, args []string) (store.Image, error) {
	if name == "" {
		name = store.SanitizeName(strings.TrimSuffix(filepath.Base(image), ".img"))
		tag = store.DefaultTag
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	src := make([]string, len(args))
	for i, a := range args {
		src[i] = a
		if a == "." || a == ".." || strings.HasPrefix(a, "./") || strings.HasPrefix(a, "../") || strings.HasSuffix(a, ".go") {
			if abs, err := filepath.Abs(a); err == nil {
				src[i] = abs
			}
		}
	}
	return openStore().Add(image, name, tag, store.Extras{Source: strings.Join(src, " "), MoteVersion: moteVersion()})
}

// resolveStoredImage finds a mote run target that is neither a file nor a
// package in the image store: NAME, NAME:TAG or a digest (prefix). ok is
// false, with no error, when the store has no such image (or ref cannot
// be one), so that the caller reports the target as it always did; err is
// set when ref matches but cannot be used (an ambiguous digest prefix, a
// damaged entry).
func resolveStoredImage(ref string) (path string, ok bool, err error) {
	if !store.IsReference(ref) {
		return "", false, nil
	}
	_, path, err = openStore().Resolve(ref)
	switch {
	case err == nil:
		return path, true, nil
	case errors.Is(err, store.ErrNotExist):
		return "", false, nil
	}
	return "", false, fmt.Errorf("mote: %v", err)
}

// programName is argv[0] for the image at path, run as ref (what the
// user named): for an image from the store, whose file is named by its
// digest, the image's name (its last element); "" otherwise, for the
// file's own name.
func programName(path, ref string) string {
	if ref == "" || !openStore().IsBlob(path) {
		return ""
	}
	img, _, err := openStore().Resolve(ref)
	if err != nil {
		return ""
	}
	return img.Name[strings.LastIndexByte(img.Name, '/')+1:]
}

func newImagesCmd(stdout io.Writer) *cobra.Command {
	var (
		format string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "images [flags]",
		Short: "List the images in the local image store",
		Long: `Images lists the images mote build stored: one line per NAME:TAG, newest first,
with the image's digest (the SHA-256 of the image file, first 12 hex digits),
its size, the Go release that built it and when it was first stored.

--format json prints every entry's full metadata instead, including the
program's software bill of materials from its Go build information: the
main package and module, every module linked in with its version and
go.sum hash, and the build settings.

The store is MOTE_HOME/images if MOTE_HOME is set, else
$XDG_DATA_HOME/mote/images (default ~/.local/share/mote/images).`,
		Example: `  mote images
  mote images --format json
  mote rmi $(mote images -q)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "table" && format != "json" {
				return fmt.Errorf("mote images: --format %q: want table or json", format)
			}
			if quiet && cmd.Flags().Changed("format") {
				return fmt.Errorf("mote images: -q prints digests only; it does not take --format")
			}
			imgs, err := openStore().List()
			if err != nil {
				return fmt.Errorf("mote images: %v", err)
			}
			switch {
			case quiet:
				seen := map[string]bool{}
				for _, img := range imgs {
					if !seen[img.Digest] {
						seen[img.Digest] = true
						fmt.Fprintln(stdout, img.ShortDigest())
					}
				}
			case format == "json":
				if imgs == nil {
					imgs = []store.Image{}
				}
				b, err := json.MarshalIndent(imgs, "", "  ")
				if err != nil {
					return fmt.Errorf("mote images: %v", err)
				}
				fmt.Fprintf(stdout, "%s\n", b)
			default:
				printImages(stdout, imgs, time.Now())
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "table", "output `FORMAT`: table, or json for the full metadata of every image")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the images' short digests, one per image")
	return cmd
}

func printImages(w io.Writer, imgs []store.Image, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTAG\tDIGEST\tSIZE\tGO\tCREATED")
	for _, img := range imgs {
		gov := img.GoVersion
		if gov == "" {
			gov = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", img.Name, img.Tag, img.ShortDigest(), humanSize(img.Size), gov, ago(now.Sub(img.Created)))
	}
	tw.Flush()
}

func newRmiCmd(stdout, stderr io.Writer) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rmi [-f] IMAGE...",
		Short: "Remove images from the local image store",
		Long: `Rmi removes images from the local image store. IMAGE is NAME[:TAG] (the tag
defaults to latest), which removes that tag, and the image itself when no
other tag names it; or a digest, sha256:HEX or HEX with at least 12 hex
digits, which removes the image and all its tags.

Image files written by mote build -o are not touched: the store holds its
own link or copy.`,
		Example: `  mote rmi web:v1
  mote rmi 3f2a9c81d0b4
  mote rmi $(mote images -q)`,
		RunE: func(cmd *cobra.Command, refs []string) error {
			if len(refs) == 0 {
				return fmt.Errorf("mote rmi: name an image to remove (see 'mote rmi --help')")
			}
			s := openStore()
			var last error
			for _, ref := range refs {
				r, err := s.Remove(ref, force)
				if err != nil {
					// All are tried; each failure is reported, the
					// last one by run, like every error.
					if last != nil {
						fmt.Fprintln(stderr, errorLine(last))
					}
					last = err
					continue
				}
				for _, t := range r.Untagged {
					fmt.Fprintf(stdout, "Untagged: %s\n", t)
				}
				for _, d := range r.Deleted {
					fmt.Fprintf(stdout, "Deleted: %s\n", d)
				}
			}
			return last
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not fail on images that do not exist")
	return cmd
}

// humanSize formats a byte count in decimal units with three significant
// digits, as docker images does: 2.88MB.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 999.5 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return strconv.FormatFloat(f, 'g', 3, 64) + units[i]
}

// ago formats how long ago something happened: "3 minutes ago".
func ago(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit + " ago"
		}
		return strconv.Itoa(n) + " " + unit + "s ago"
	}
	s, m, h := int(d.Seconds()), int(d.Minutes()), int(d.Hours()+0.5)
	switch {
	case s < 1:
		return "Less than a second ago"
	case s < 60:
		return plural(s, "second")
	case m == 1:
		return "About a minute ago"
	case m < 60:
		return plural(m, "minute")
	case h == 1:
		return "About an hour ago"
	case h < 48:
		return plural(h, "hour")
	case h < 24*7*2:
		return plural(h/24, "day")
	case h < 24*30*2:
		return plural(h/24/7, "week")
	case h < 24*365*2:
		return plural(h/24/30, "month")
	}
	return plural(h/24/365, "year")
}
