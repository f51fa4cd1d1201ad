package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// writeImage writes a small file with the given contents (the store does
// not care whether it is a mote image).
func writeImage(t *testing.T, dir, name, contents string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(contents), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// files lists the files under dir, relative, without the lock file.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(dir, p)
			if r != "lock" {
				out = append(out, r)
			}
		}
		return nil
	})
	return out
}

func TestAddResolveList(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "images")
	s := Open(dir)
	if imgs, err := s.List(); err != nil || len(imgs) != 0 {
		t.Fatalf("empty store: %v %v", imgs, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("List created the store: %v", err)
	}

	// The test binary is a Go program with build information.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	bin := filepath.Join(src, "prog")
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	img, err := s.Add(bin, "web", "", Extras{Source: "./cmd/web", MoteVersion: "v9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "web" || img.Tag != "latest" || !strings.HasPrefix(img.Digest, "sha256:") || len(img.Digest) != 71 || img.Size != int64(len(data)) {
		t.Errorf("Add: %+v", img)
	}
	if img.GoVersion != runtime.Version() || img.Package == "" || img.Main == nil || img.Main.Path != "github.com/motevm/mote" {
		t.Errorf("build info: go %q package %q main %+v", img.GoVersion, img.Package, img.Main)
	}
	if img.Source != "./cmd/web" || img.MoteVersion != "v9.9.9" || len(img.Settings) == 0 {
		t.Errorf("extras and settings: %+v", img)
	}
	for _, d := range []string{dir, filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "meta", "sha256")} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", d, st.Mode(), err)
		}
	}
	// Hard-linked, not copied.
	var st syscall.Stat_t
	if err := syscall.Stat(bin, &st); err != nil || st.Nlink != 2 {
		t.Errorf("the image has %d links, want 2 (hard-linked into the store)", st.Nlink)
	}

	other := writeImage(t, src, "other.img", "another image")
	img2, err := s.Add(other, "web", "v2", Extras{})
	if err != nil {
		t.Fatal(err)
	}
	if img2.GoVersion != "" || img2.Main != nil {
		t.Errorf("an image without build information has some: %+v", img2)
	}
	if _, err := s.Add(other, "api", "1.0", Extras{}); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ ref, digest, name, tag string }{
		{"web", img.Digest, "web", "latest"},
		{"web:latest", img.Digest, "web", "latest"},
		{"web:v2", img2.Digest, "web", "v2"},
		{"api:1.0", img2.Digest, "api", "1.0"},
		{img.Digest, img.Digest, "web", "latest"},
		{img.Digest[:7+12], img.Digest, "web", "latest"},
		{img.Hex()[:12], img.Digest, "web", "latest"},
		{strings.ToUpper(img.Hex()[:20]), img.Digest, "web", "latest"},
		{img2.Hex(), img2.Digest, "api", "1.0"}, // the first tag in order
	} {
		got, path, err := s.Resolve(c.ref)
		if err != nil {
			t.Errorf("Resolve(%q): %v", c.ref, err)
			continue
		}
		if got.Digest != c.digest || got.Name != c.name || got.Tag != c.tag || path != filepath.Join(dir, "blobs", "sha256", trimAlgo(c.digest)) {
			t.Errorf("Resolve(%q) = %s %s:%s %s, want %s %s:%s", c.ref, got.Digest, got.Name, got.Tag, path, c.digest, c.name, c.tag)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "blobs", "sha256", img2.Hex()))
	if string(b) != "another image" {
		t.Errorf("blob contents %q", b)
	}

	for ref, want := range map[string]string{
		"web:v3":                          "no such image: web:v3",
		"db":                              "no such image: db:latest",
		"sha256:000000000000":             "no such image: sha256:000000000000",
		"0123456789ab":                    "no such image: 0123456789ab",
		"sha256:0123":                     `invalid digest "sha256:0123"`,
		"Web":                             `invalid reference "Web": image name "Web" is not valid`,
		"web:":                            `invalid reference "web:": image tag "" is not valid`,
		"a/b":                             `invalid reference "a/b"`,
		"web:" + strings.Repeat("x", 129): "is not valid",
	} {
		_, _, err := s.Resolve(ref)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Resolve(%q): %v, want %q", ref, err, want)
		}
		if strings.HasPrefix(want, "no such") && !errors.Is(err, ErrNotExist) {
			t.Errorf("Resolve(%q): %v is not ErrNotExist", ref, err)
		}
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, i := range list {
		refs = append(refs, i.Ref())
	}
	// Newest first: api:1.0 and web:v2 share a digest (and its creation time).
	if got := strings.Join(refs, " "); got != "api:1.0 web:v2 web:latest" {
		t.Errorf("List: %s", got)
	}

	// Same bytes again: one blob, the first metadata.
	again, err := s.Add(other, "web", "v2b", Extras{Source: "elsewhere"})
	if err != nil || again.Digest != img2.Digest || !again.Created.Equal(img2.Created) || again.Source != "" || again.Tag != "v2b" {
		t.Errorf("re-Add: %+v %v", again, err)
	}
	if n := len(files(t, filepath.Join(dir, "blobs"))); n != 2 {
		t.Errorf("%d blobs, want 2", n)
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	s := Open(t.TempDir())
	src := t.TempDir()
	// A second digest with the same first 12 digits, faked by writing
	// its metadata by hand.
	a, err := s.Add(writeImage(t, src, "a", "a"), "a", "", Extras{})
	if err != nil {
		t.Fatal(err)
	}
	fake := a.Hex()[:12] + strings.Repeat("0", 52)
	if fake == a.Hex() {
		t.Skip("improbable digest")
	}
	if err := writeJSON(s.metaPath(fake), Image{Digest: "sha256:" + fake}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.Resolve(a.Hex()[:12])
	if !errors.Is(err, ErrAmbiguous) || !strings.HasPrefix(err.Error(), "ambiguous digest prefix "+a.Hex()[:12]+": it matches 2 images") {
		t.Errorf("Resolve: %v", err)
	}
	if _, _, err := s.Resolve(a.Hex()[:13]); err != nil && a.Hex()[12] != '0' {
		t.Errorf("Resolve with 13 digits: %v", err)
	}
	if _, err := s.Remove(a.Hex()[:12], false); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("Remove: %v", err)
	}
}

func TestRemove(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	src := t.TempDir()
	one := writeImage(t, src, "one", "one")
	two := writeImage(t, src, "two", "two")
	i1, _ := s.Add(one, "web", "v1", Extras{})
	s.Add(one, "web", "stable", Extras{})
	i2, _ := s.Add(two, "web", "v2", Extras{})
	s.Add(two, "api", "", Extras{})

	// A tag of an image with another tag: only the tag goes.
	r, err := s.Remove("web:v1", false)
	if err != nil || fmt.Sprint(r.Untagged) != "[web:v1]" || len(r.Deleted) != 0 {
		t.Errorf("Remove web:v1: %+v %v", r, err)
	}
	if _, _, err := s.Resolve("web:stable"); err != nil {
		t.Errorf("web:stable after removing web:v1: %v", err)
	}
	// The last tag: the image goes too.
	r, err = s.Remove("web:stable", false)
	if err != nil || fmt.Sprint(r.Untagged) != "[web:stable]" || fmt.Sprint(r.Deleted) != "["+i1.Digest+"]" {
		t.Errorf("Remove web:stable: %+v %v", r, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", i1.Hex())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("blob left: %v", err)
	}
	if _, _, err := s.Resolve(i1.Hex()[:12]); !errors.Is(err, ErrNotExist) {
		t.Errorf("Resolve of a removed digest: %v", err)
	}
	// By digest: every tag.
	r, err = s.Remove(i2.Hex()[:12], false)
	if err != nil || fmt.Sprint(r.Untagged) != "[api:latest web:v2]" || fmt.Sprint(r.Deleted) != "["+i2.Digest+"]" {
		t.Errorf("Remove by digest: %+v %v", r, err)
	}
	if got := files(t, dir); fmt.Sprint(got) != "[tags.json]" {
		t.Errorf("files left: %v", got)
	}
	if _, err := s.Remove("web:v2", false); err == nil || err.Error() != "no such image: web:v2" {
		t.Errorf("Remove of a missing tag: %v", err)
	}
	if r, err := s.Remove("web:v2", true); err != nil || len(r.Untagged)+len(r.Deleted) != 0 {
		t.Errorf("Remove -f of a missing tag: %+v %v", r, err)
	}
	if _, err := Open(filepath.Join(dir, "none")).Remove("x", false); err == nil || err.Error() != "no such image: x:latest" {
		t.Errorf("Remove in a missing store: %v", err)
	}

	// Damaged entries resolve to an error, are listed, and can be removed.
	i3, _ := s.Add(writeImage(t, src, "three", "three"), "nometa", "", Extras{})
	os.Remove(filepath.Join(dir, "meta", "sha256", i3.Hex()+".json"))
	i4, _ := s.Add(writeImage(t, src, "four", "four"), "noblob", "", Extras{})
	os.Remove(filepath.Join(dir, "blobs", "sha256", i4.Hex()))
	for ref, want := range map[string]string{"nometa": "its metadata is missing", "noblob": "its file is missing"} {
		if _, _, err := s.Resolve(ref); err == nil || !strings.Contains(err.Error(), "is damaged: "+want) {
			t.Errorf("Resolve(%s): %v, want %q", ref, err, want)
		}
	}
	if list, err := s.List(); err != nil || len(list) != 2 {
		t.Errorf("List with damaged entries: %v %v", list, err)
	}
	for _, ref := range []string{"nometa", "noblob"} {
		if _, err := s.Remove(ref, false); err != nil {
			t.Errorf("Remove(%s): %v", ref, err)
		}
	}
	if got := files(t, dir); fmt.Sprint(got) != "[tags.json]" {
		t.Errorf("files left: %v", got)
	}
}

// TestRetag: moving a tag to a new image removes the old one if nothing
// else names it.
func TestRetag(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	src := t.TempDir()
	p := writeImage(t, src, "img", "build 1")
	i1, _ := s.Add(p, "web", "", Extras{})
	s.Add(p, "keep", "", Extras{})
	writeImage(t, src, "img", "build 2")
	i2, _ := s.Add(p, "web", "", Extras{})
	writeImage(t, src, "img", "build 3")
	i3, _ := s.Add(p, "web", "", Extras{})
	got := files(t, dir)
	blobs := 0
	for _, f := range got {
		if strings.HasPrefix(f, "blobs/") {
			blobs++
			if !strings.HasSuffix(f, i1.Hex()) && !strings.HasSuffix(f, i3.Hex()) {
				t.Errorf("left %s (build 2 is %s)", f, i2.Hex())
			}
		}
	}
	if blobs != 2 {
		t.Errorf("files %v, want the blobs of builds 1 (%s) and 3 (%s)", got, i1.Hex(), i3.Hex())
	}
}

// TestCopyFallback: where a hard link fails (another file system), the
// image is copied.
func TestCopyFallback(t *testing.T) {
	link = func(string, string) error { return syscall.EXDEV }
	defer func() { link = os.Link }()
	dir := t.TempDir()
	s := Open(dir)
	p := writeImage(t, t.TempDir(), "img", "copied")
	img, err := s.Add(p, "web", "", Extras{})
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "blobs", "sha256", img.Hex())
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil || st.Nlink != 1 {
		t.Errorf("the image has %d links, want 1", st.Nlink)
	}
	if b, err := os.ReadFile(blob); err != nil || string(b) != "copied" {
		t.Errorf("blob: %q %v", b, err)
	}
	// The blob is its own file now: changing the image does not change it.
	writeImage(t, filepath.Dir(p), "img", "changed")
	if _, path, err := s.Resolve("web"); err != nil || path != blob {
		t.Errorf("Resolve: %s %v", path, err)
	}
}

// TestFailedAdd: an Add that fails leaves nothing behind.
func TestFailedAdd(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir)
	src := t.TempDir()
	if _, err := s.Add(writeImage(t, src, "old", "old"), "web", "", Extras{}); err != nil {
		t.Fatal(err)
	}
	before := files(t, dir)

	beforeCommit = func() error { return errors.New("disk on fire") }
	_, err := s.Add(writeImage(t, src, "new", "new"), "web", "", Extras{})
	beforeCommit = func() error { return nil }
	if err == nil || err.Error() != "disk on fire" {
		t.Fatalf("Add: %v", err)
	}
	if after := files(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("files after a failed Add %v, before %v", after, before)
	}
	if img, _, err := s.Resolve("web"); err != nil || img.Size != 3 {
		t.Errorf("web after a failed Add: %+v %v", img, err)
	}

	// Failures before anything is written.
	for _, c := range []struct{ path, name, tag, want string }{
		{filepath.Join(src, "missing"), "web", "", "no such file"},
		{src, "web", "", "is not a regular file"},
		{filepath.Join(src, "new"), "Web", "", "is not valid"},
		{filepath.Join(src, "new"), "web", "-x", "is not valid"},
	} {
		if _, err := s.Add(c.path, c.name, c.tag, Extras{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Add(%s, %s, %s): %v, want %q", c.path, c.name, c.tag, err, c.want)
		}
	}
	if after := files(t, dir); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("files after failed Adds %v, before %v", after, before)
	}
}

// TestConcurrentAdds: goroutines adding at once (each with its own lock
// file descriptor, as separate mote builds) all land, and retagging under
// contention leaves exactly the images that are named.
func TestConcurrentAdds(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		p := writeImage(t, src, fmt.Sprint(i), fmt.Sprintf("image %d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := Open(dir) // as another process would
			// Every image gets its own tag, and all fight over web:latest.
			if _, err := s.Add(p, "web", fmt.Sprintf("v%d", i), Extras{}); err != nil {
				errs <- err
			}
			if _, err := s.Add(p, "web", "", Extras{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := Open(dir)
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n+1 {
		t.Errorf("%d entries, want %d", len(list), n+1)
	}
	for _, img := range list {
		if _, _, err := s.Resolve(img.Ref()); err != nil {
			t.Errorf("%s: %v", img.Ref(), err)
		}
	}
	blobs, metas := 0, 0
	for _, f := range files(t, dir) {
		switch {
		case strings.HasPrefix(f, "blobs/"):
			blobs++
		case strings.HasPrefix(f, "meta/"):
			metas++
		case f != "tags.json":
			t.Errorf("stray file %s", f)
		}
		if strings.Contains(f, tmpPrefix) {
			t.Errorf("temporary file left: %s", f)
		}
	}
	if blobs != n || metas != n {
		t.Errorf("%d blobs and %d metadata files, want %d", blobs, metas, n)
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"web", "web:v1", "a", "0", "my-app.v2_x", "web:V1.0-rc_1", "web:_x", "web:" + strings.Repeat("x", 128)} {
		if _, _, err := ParseName(ok); err != nil {
			t.Errorf("ParseName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Web", "-web", ".web", "_web", "web/x", "web:", "web:.x", "web:-x", "web:a:b", "we b", "web:" + strings.Repeat("x", 129), strings.Repeat("a", 129)} {
		if _, _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"httpd": "httpd", "My App": "my-app", "..x": "x", "___": "image", "Héllo": "h-llo", "a.b": "a.b"} {
		if got := SanitizeName(in); got != want {
			t.Errorf("SanitizeName(%q) = %q, want %q", in, got, want)
		}
		if CheckName(SanitizeName(in)) != nil {
			t.Errorf("SanitizeName(%q) is not a valid name", in)
		}
	}
	for s, want := range map[string]bool{"web": true, "web:v1": true, "sha256:0123456789ab": true, "0123456789AB": true, "./web": false, "web.img": true, "x/y": false, "Web": false} {
		if IsReference(s) != want {
			t.Errorf("IsReference(%q) = %v", s, !want)
		}
	}
}
