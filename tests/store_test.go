package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// moteEnv runs the mote CLI as mote does, with env added to its
// environment (MOTE_HOME, to keep the image store of a test its own).
func moteEnv(t *testing.T, env []string, timeout time.Duration, args ...string) result {
	t.Helper()
	return moteExec(t, "", env, timeout, "", args...)
}

// storedImage is an entry of mote images --format json, as a user's
// script would read it.
type storedImage struct {
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	Created   string `json:"created"`
	Name      string `json:"name"`
	Tag       string `json:"tag"`
	Source    string `json:"source"`
	GoVersion string `json:"goVersion"`
	Package   string `json:"package"`
	Main      struct {
		Path string `json:"path"`
	} `json:"main"`
	Deps []struct {
		Path    string `json:"path"`
		Version string `json:"version"`
		Sum     string `json:"sum"`
	} `json:"deps"`
	Settings []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"settings"`
}

// TestStore: mote build -t records the image in the store with its bill
// of materials, mote images shows it, mote run boots one by name and mote
// rmi removes them.
func TestStore(t *testing.T) {
	t.Parallel()
	env := []string{"MOTE_HOME=" + t.TempDir()}
	out := filepath.Join(t.TempDir(), "srv.img")
	r := moteEnv(t, env, 180*time.Second, "build", "-v", "-t", "web:v1", "-o", out, "../examples/httpd")
	if r.code != 0 || !strings.Contains(r.stderr, "\nmote: stored as web:v1 (sha256:") {
		t.Fatalf("mote build -t: exit %d\n%s", r.code, r.stderr)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(out, &st); err != nil || st.Nlink != 2 {
		t.Errorf("%s has %d links, want 2 (hard-linked into the store): %v", out, st.Nlink, err)
	}

	r = moteEnv(t, env, 30*time.Second, "images", "--format", "json")
	var imgs []storedImage
	if err := json.Unmarshal([]byte(r.stdout), &imgs); r.code != 0 || err != nil || len(imgs) != 1 {
		t.Fatalf("mote images --format json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	img := imgs[0]
	goVersion, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs("../examples/httpd")
	if fi, err := os.Stat(out); err != nil || img.Size != fi.Size() || img.Name != "web" || img.Tag != "v1" || len(img.Digest) != len("sha256:")+64 {
		t.Errorf("entry %s:%s %s size %d (image: %v)", img.Name, img.Tag, img.Digest, img.Size, err)
	}
	if _, err := time.Parse(time.RFC3339, img.Created); err != nil {
		t.Errorf("created: %v", err)
	}
	if img.GoVersion != strings.TrimSpace(string(goVersion)) || img.Package != "github.com/motevm/mote/examples/httpd" || img.Main.Path != "github.com/motevm/mote" || img.Source != abs {
		t.Errorf("go %q package %q main %q source %q", img.GoVersion, img.Package, img.Main.Path, img.Source)
	}
	// httpd uses package net: the guest network stack, gVisor's, is linked.
	var gvisor bool
	for _, d := range img.Deps {
		if d.Path == "gvisor.dev/gvisor" && d.Version != "" && strings.HasPrefix(d.Sum, "h1:") {
			gvisor = true
		}
	}
	settings := map[string]string{}
	for _, s := range img.Settings {
		settings[s.Key] = s.Value
	}
	if !gvisor || settings["GOOS"] != "linux" || settings["GOARCH"] != "amd64" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("deps %+v\nsettings %v", img.Deps, settings)
	}

	r = moteEnv(t, env, 30*time.Second, "images")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 2 ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "web v1 "+img.Digest[7:7+12]+" ") {
		t.Errorf("mote images: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Once mote run looks names up in the store (runTarget calls
	// resolveStoredImage), a stored image boots by name.
	r = moteEnv(t, env, 180*time.Second, "build", "-t", "greeter", "-o", filepath.Join(t.TempDir(), "hello.img"), "../examples/hello")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("mote build -t greeter: exit %d\n%s", r.code, r.stderr)
	}
	t.Run("run", func(t *testing.T) {
		r := moteEnv(t, env, 60*time.Second, "run", "greeter", "--", "from", "the", "store")
		if strings.Contains(r.stderr, "no such image or package") {
			t.Skip("mote run does not look in the image store yet")
		}
		if r.code != 0 || r.stdout != "hello, from the store\n" {
			t.Errorf("mote run greeter: exit %d %q %q", r.code, r.stdout, r.stderr)
		}
	})
	r = moteEnv(t, env, 30*time.Second, "rmi", "greeter")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Untagged: greeter:latest\nDeleted: sha256:") {
		t.Errorf("mote rmi greeter: exit %d %q %q", r.code, r.stdout, r.stderr)
	}

	r = moteEnv(t, env, 30*time.Second, "rmi", "web:v1")
	if want := "Untagged: web:v1\nDeleted: " + img.Digest + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("mote rmi: exit %d %q, want %q (%s)", r.code, r.stdout, want, r.stderr)
	}
	r = moteEnv(t, env, 30*time.Second, "images", "-q")
	if r.code != 0 || r.stdout != "" {
		t.Errorf("mote images -q after rmi: exit %d %q", r.code, r.stdout)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("mote rmi removed the image mote build wrote: %v", err)
	}
	r = moteEnv(t, env, 30*time.Second, "rmi", "web:v1")
	if r.code != 125 || r.stderr != "mote: no such image: web:v1\n" {
		t.Errorf("mote rmi again: exit %d %q", r.code, r.stderr)
	}
}
