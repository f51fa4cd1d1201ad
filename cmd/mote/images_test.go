package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/motevm/mote/internal/motedir"
	"github.com/motevm/mote/store"
)

// TestMain gives the package's tests their own MOTE_HOME: mote build now
// records every image in the store, which must not be the user's.
func TestMain(m *testing.M) {
	home, err := os.MkdirTemp("", "mote-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("MOTE_HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}

// testStore gives a test an empty store of its own, with two images in
// it: web:v1 (the test binary, a Go program with build information) also
// tagged web:latest, and api:latest, a file without build information.
func testStore(t *testing.T) (s *store.Store, web, api store.Image) {
	t.Setenv("MOTE_HOME", t.TempDir())
	s = store.Open(motedir.Images())
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "web.img")
	other := filepath.Join(dir, "api.img")
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("not a Go program"), 0o755); err != nil {
		t.Fatal(err)
	}
	if api, err = s.Add(other, "api", "", store.Extras{}); err != nil {
		t.Fatal(err)
	}
	if web, err = s.Add(bin, "web", "v1", store.Extras{Source: "./cmd/web"}); err != nil {
		t.Fatal(err)
	}
	if _, err = s.Add(bin, "web", "", store.Extras{}); err != nil {
		t.Fatal(err)
	}
	return s, web, api
}

func TestImagesCommand(t *testing.T) {
	_, web, api := testStore(t)

	status, stdout, stderr := runCLI("images")
	if status != 0 || stderr != "" {
		t.Fatalf("mote images: %d %q", status, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 4 || strings.Join(strings.Fields(lines[0]), " ") != "NAME TAG DIGEST SIZE GO CREATED" {
		t.Fatalf("mote images:\n%s", stdout)
	}
	want := []string{
		"web latest " + web.ShortDigest() + " " + humanSize(web.Size) + " " + runtime.Version(),
		"web v1 " + web.ShortDigest() + " " + humanSize(web.Size) + " " + runtime.Version(),
		"api latest " + api.ShortDigest() + " 16B -",
	}
	for i, w := range want {
		if got := strings.Join(strings.Fields(lines[i+1]), " "); !strings.HasPrefix(got, w+" ") || !strings.HasSuffix(got, " ago") {
			t.Errorf("line %d: %q, want %q and an age", i+1, got, w)
		}
	}
	// The columns line up.
	col := strings.Index(lines[0], "DIGEST")
	for i, d := range []string{web.ShortDigest(), web.ShortDigest(), api.ShortDigest()} {
		if l := lines[i+1]; len(l) < col+12 || l[col:col+12] != d {
			t.Errorf("DIGEST column misaligned: %q", l)
		}
	}

	status, stdout, _ = runCLI("images", "--format", "json")
	var imgs []store.Image
	if err := json.Unmarshal([]byte(stdout), &imgs); status != 0 || err != nil || len(imgs) != 3 {
		t.Fatalf("mote images --format json: %d %v\n%s", status, err, stdout)
	}
	if imgs[1].Ref() != "web:v1" || imgs[1].Digest != web.Digest || imgs[1].GoVersion != runtime.Version() || imgs[1].Main == nil || imgs[1].Source != "./cmd/web" {
		t.Errorf("json entry: %+v", imgs[1])
	}
	if !strings.Contains(stdout, `"created": "`) || !strings.Contains(stdout, `"settings": [`) {
		t.Errorf("json lacks fields:\n%s", stdout)
	}

	status, stdout, _ = runCLI("images", "-q")
	if want := web.ShortDigest() + "\n" + api.ShortDigest() + "\n"; status != 0 || stdout != want {
		t.Errorf("mote images -q: %d %q, want %q", status, stdout, want)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"images", "--format", "yaml"}, `mote images: --format "yaml": want table or json`},
		{[]string{"images", "-q", "--format", "json"}, "mote images: -q prints digests only"},
		{[]string{"images", "web"}, `mote: unknown command "web" for "mote images"`},
	} {
		status, stdout, stderr := runCLI(c.args...)
		if status != ExitMoteError || stdout != "" || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("mote %s: %d %q %q, want %q", strings.Join(c.args, " "), status, stdout, stderr, c.want)
		}
	}

	// An empty store.
	t.Setenv("MOTE_HOME", t.TempDir())
	if status, stdout, _ := runCLI("images"); status != 0 || strings.Count(stdout, "\n") != 1 {
		t.Errorf("mote images, empty: %d %q", status, stdout)
	}
	if status, stdout, _ := runCLI("images", "--format", "json"); status != 0 || stdout != "[]\n" {
		t.Errorf("mote images --format json, empty: %d %q", status, stdout)
	}
}

func TestRmiCommand(t *testing.T) {
	s, web, api := testStore(t)

	status, stdout, stderr := runCLI("rmi", "web:v1")
	if status != 0 || stdout != "Untagged: web:v1\n" || stderr != "" {
		t.Errorf("mote rmi web:v1: %d %q %q", status, stdout, stderr)
	}
	status, stdout, _ = runCLI("rmi", "web")
	if want := "Untagged: web:latest\nDeleted: " + web.Digest + "\n"; status != 0 || stdout != want {
		t.Errorf("mote rmi web: %d %q, want %q", status, stdout, want)
	}
	if _, _, err := s.Resolve(web.Digest); err == nil {
		t.Errorf("%s still resolves", web.Digest)
	}

	// Several references: each is tried, each failure reported, 125.
	status, stdout, stderr = runCLI("rmi", "nosuch", api.ShortDigest(), "web:v9")
	if want := "Untagged: api:latest\nDeleted: " + api.Digest + "\n"; stdout != want {
		t.Errorf("mote rmi: stdout %q, want %q", stdout, want)
	}
	if want := "mote: no such image: nosuch:latest\nmote: no such image: web:v9\n"; status != ExitMoteError || stderr != want {
		t.Errorf("mote rmi: %d stderr %q, want %q", status, stderr, want)
	}
	if status, stdout, stderr := runCLI("rmi", "-f", "nosuch"); status != 0 || stdout != "" || stderr != "" {
		t.Errorf("mote rmi -f nosuch: %d %q %q", status, stdout, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rmi"}, "mote rmi: name an image to remove"},
		{[]string{"rmi", "Web"}, `mote: invalid reference "Web": image name "Web" is not valid`},
		{[]string{"rmi", "sha256:12"}, `mote: invalid digest "sha256:12"`},
		{[]string{"build", "-t", "Web:v1", "."}, `mote build: -t: image name "Web" is not valid`},
		{[]string{"build", "-t", "web:", "."}, `mote build: -t: image tag "" is not valid`},
	} {
		status, stdout, stderr := runCLI(c.args...)
		if status != ExitMoteError || stdout != "" || !strings.HasPrefix(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("mote %s: %d %q %q, want %q", strings.Join(c.args, " "), status, stdout, stderr, c.want)
		}
	}
}

func TestResolveStoredImage(t *testing.T) {
	_, web, _ := testStore(t)
	blob := filepath.Join(motedir.Images(), "blobs", "sha256", web.Hex())
	for _, ref := range []string{"web", "web:v1", web.Digest, web.ShortDigest(), "sha256:" + web.ShortDigest()} {
		if path, ok, err := resolveStoredImage(ref); path != blob || !ok || err != nil {
			t.Errorf("resolveStoredImage(%q) = %q, %v, %v", ref, path, ok, err)
		}
	}
	// Not in the store, or not a reference: not found, without an error,
	// so that mote run reports "no such image or package".
	for _, ref := range []string{"web:v2", "nosuch", "x.img", "Web", "/abs/x.img", "0123456789abcdef"} {
		if path, ok, err := resolveStoredImage(ref); path != "" || ok || err != nil {
			t.Errorf("resolveStoredImage(%q) = %q, %v, %v", ref, path, ok, err)
		}
	}
	// A damaged entry is an error.
	if err := os.Remove(blob); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := resolveStoredImage("web"); ok || err == nil || !strings.HasPrefix(err.Error(), "mote: image web (sha256:") || !strings.Contains(err.Error(), "is damaged") {
		t.Errorf("resolveStoredImage of a damaged image: %v %v", ok, err)
	}
}

func TestHumanSizeAndAge(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 2888120: "2.89MB", 14259168: "14.3MB", 999_600: "1MB", 123_456_789: "123MB", 1 << 30: "1.07GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second:         "Less than a second ago",
		0:                    "Less than a second ago",
		time.Second:          "1 second ago",
		45 * time.Second:     "45 seconds ago",
		70 * time.Second:     "About a minute ago",
		3 * time.Minute:      "3 minutes ago",
		65 * time.Minute:     "About an hour ago",
		5 * time.Hour:        "5 hours ago",
		3 * 24 * time.Hour:   "3 days ago",
		20 * 24 * time.Hour:  "2 weeks ago",
		90 * 24 * time.Hour:  "3 months ago",
		800 * 24 * time.Hour: "2 years ago",
	} {
		if got := ago(d); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestBuildStores: mote build records the image, by -t or by the output
// file's name, hard-linked, and says so with -v.
func TestBuildStores(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	t.Setenv("MOTE_HOME", t.TempDir())
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "Hello World.img")
	status, _, stderr := runCLI("build", "-o", out, filepath.Join(root, "examples", "hello"))
	if status != 0 || stderr != "" {
		t.Fatalf("mote build: %d %q", status, stderr)
	}
	status, _, stderr = runCLI("build", "-v", "-t", "greeter:v1", "-o", filepath.Join(dir, "h.img"), "-e", "GREETING=hi", filepath.Join(root, "examples", "hello"))
	if status != 0 || !strings.Contains(stderr, "\nmote: stored as greeter:v1 (sha256:") {
		t.Fatalf("mote build -v -t: %d %q", status, stderr)
	}
	imgs, err := store.Open(motedir.Images()).List()
	if err != nil || len(imgs) != 2 {
		t.Fatalf("List: %v %v", imgs, err)
	}
	byRef := map[string]store.Image{}
	for _, img := range imgs {
		byRef[img.Ref()] = img
	}
	g, ok := byRef["greeter:v1"]
	if !ok || g.GoVersion == "" || g.Package != "github.com/motevm/mote/examples/hello" || g.Source != filepath.Join(root, "examples", "hello") {
		t.Errorf("greeter:v1: %+v", g)
	}
	if _, ok := byRef["hello-world:latest"]; !ok {
		t.Errorf("no hello-world:latest in %v", byRef)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil || st.Nlink != 2 {
		t.Errorf("%s has %d links, want 2 (hard-linked into the store): %v", out, st.Nlink, err)
	}
}
