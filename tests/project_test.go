package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProjectFile: with a mote.yaml, mote build and mote run need no flags
// (project/, docs in mote help run): the package, sealed dirs, workdir,
// env, args, memory and name come from the file, the image lands in the
// store under the project's name, and -d names the instance after it.
func TestProjectFile(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	dir := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "static"), 0o755))
	must(os.WriteFile(filepath.Join(dir, "static", "index.html"), []byte("<h1>hi</h1>\n"), 0o644))
	pkg, err := filepath.Abs("progs/project")
	must(err)
	must(os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte(`# a test project
name: proj
package: `+pkg+`
dirs: [./static:/srv/static]
workdir: /srv
memory: 96M
env: {MODE: yaml}
args: [from-yaml]
`), 0o644))
	env := []string{"MOTE_HOME=" + home}

	r := moteExec(t, dir, env, 3*time.Minute, "", "build")
	if r.code != 0 {
		t.Fatalf("mote build: exit %d\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "proj.img")); err != nil {
		t.Errorf("mote build wrote no proj.img: %v", err)
	}
	r = moteExec(t, dir, env, time.Minute, "", "images", "--format", "json")
	var imgs []struct{ Name, Tag string }
	if err := json.Unmarshal([]byte(r.stdout), &imgs); err != nil || len(imgs) != 1 || imgs[0].Name != "proj" || imgs[0].Tag != "latest" {
		t.Errorf("images: %v %+v\n%s", err, imgs, r.stdout)
	}

	want := "project: args [from-yaml] MODE=yaml wd /srv index <h1>hi</h1>"
	r = moteExec(t, dir, env, 3*time.Minute, "", "run")
	if r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("mote run: exit %d, stdout %q, want %q; stderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	// Flags win over the file: -e after its env, arguments after --.
	r = moteExec(t, dir, env, 3*time.Minute, "", "run", "-e", "MODE=flag", "--", "from-cli")
	if want := "project: args [from-cli] MODE=flag wd /srv index <h1>hi</h1>"; r.code != 0 || strings.TrimSpace(r.stdout) != want {
		t.Errorf("mote run with flags: exit %d, stdout %q, want %q; stderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	// Detached, the instance is named after the project.
	r = moteExec(t, dir, env, 3*time.Minute, "", "run", "-d")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "proj" {
		t.Fatalf("mote run -d: exit %d, stdout %q; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r = moteExec(t, dir, env, time.Minute, "", "logs", "proj")
		if strings.Contains(r.stdout, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(r.stdout, want) {
		t.Errorf("logs: %q", r.stdout)
	}
	// It booted the store's copy of the image (mote build stored it),
	// whose pages the monitor maps.
	r = moteExec(t, dir, env, time.Minute, "", "inspect", "proj")
	var in []struct {
		Config struct {
			ImageBlob string `json:"image_blob"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || len(in) != 1 || !strings.HasPrefix(in[0].Config.ImageBlob, home) {
		t.Errorf("inspect proj: %v; want an image_blob in %s:\n%s", err, home, r.stdout)
	}
	// A stored image runs under its name (with an explicit image, the
	// file's run-time settings do not apply).
	r = moteExec(t, dir, env, time.Minute, "", "run", "-m", "96M", "proj", "--", "x")
	if want := "proj: args [x] MODE= wd /srv index <h1>hi</h1>"; strings.TrimSpace(r.stdout) != want {
		t.Errorf("mote run proj: exit %d, stdout %q, want %q; stderr:\n%s", r.code, r.stdout, want, r.stderr)
	}
	moteExec(t, dir, env, time.Minute, "", "rm", "-f", "proj")

	// A typo in the file is an error that names it.
	must(os.WriteFile(filepath.Join(dir, "mote.yaml"), []byte("nmae: x\n"), 0o644))
	r = moteExec(t, dir, env, time.Minute, "", "run")
	if r.code == 0 || !strings.Contains(r.stderr, "mote.yaml") || !strings.Contains(r.stderr, "nmae") {
		t.Errorf("bad mote.yaml: exit %d, stderr %q", r.code, r.stderr)
	}
}
