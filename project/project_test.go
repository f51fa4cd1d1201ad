package project

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	dir := t.TempDir()
	p, err := Parse([]byte(`
# a web service
name: web
package: ./cmd/web
memory: 512M
cpus: 2
env: {MODE: prod, LEVEL: 3}
args: [-port, "80"]
ports: ["8080:80"]
volumes: [./data:/data, "/abs/conf:/etc/app:ro"]
tmpfs: [/cache:64M]
files: [config.yaml:/etc/app/config.yaml]
dirs: [./static:/srv/static]
workdir: /srv
net: user
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Project{
		Dir: dir, Name: "web", Package: filepath.Join(dir, "cmd/web"), Memory: "512M", CPUs: 2,
		Env: []string{"LEVEL=3", "MODE=prod"}, Args: []string{"-port", "80"}, Ports: []string{"8080:80"},
		Volumes: []string{filepath.Join(dir, "data") + ":/data", "/abs/conf:/etc/app:ro"},
		Tmpfs:   []string{"/cache:64M"},
		Files:   []string{filepath.Join(dir, "config.yaml") + ":/etc/app/config.yaml"},
		Dirs:    []string{filepath.Join(dir, "static") + ":/srv/static"},
		Workdir: "/srv", Net: "user",
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if p.BuildTarget() != filepath.Join(dir, "cmd/web") {
		t.Errorf("BuildTarget %s", p.BuildTarget())
	}

	// Defaults, lists of env, an image from the store or a file.
	p, err = Parse([]byte("env: [A=1, B=x=y]\nimage: web:v2\n"), dir)
	if err != nil || !reflect.DeepEqual(p.Env, []string{"A=1", "B=x=y"}) || p.Image != "web:v2" || p.BuildTarget() != dir {
		t.Errorf("got %+v, %v", p, err)
	}
	p, err = Parse([]byte("image: out/web.img\n"), dir)
	if err != nil || p.Image != filepath.Join(dir, "out/web.img") {
		t.Errorf("image file: %+v, %v", p, err)
	}
	if p, err := Parse([]byte("# nothing yet\n"), dir); err != nil || p.Name != "" {
		t.Errorf("empty file: %+v, %v", p, err)
	}
}

func TestParseErrors(t *testing.T) {
	for in, want := range map[string]string{
		"nmae: web\n":              "field nmae not found",
		"cpus: two\n":              "cannot unmarshal",
		"cpus: -1\n":               "not a number of CPUs",
		"env: [NOVALUE]\n":         `env entry "NOVALUE": want KEY=VALUE`,
		"env: 3\n":                 "env: want a list",
		"memory: [1]\n":            "want a single value",
		"volumes: [data]\n":        `volumes: "data": want HOST:GUEST`,
		"package: .\nimage: web\n": "give one",
	} {
		_, err := Parse([]byte(in), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error containing %q", in, err, want)
		}
	}
}

func TestFind(t *testing.T) {
	dir := t.TempDir()
	if p, err := Find(dir); p != nil || err != nil {
		t.Fatalf("no file: %v %v", p, err)
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte("name: x\nbogus: 1\n"), 0o644)
	if _, err := Find(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, FileName)) {
		t.Errorf("bad file: %v", err)
	}
	os.WriteFile(filepath.Join(dir, FileName), []byte("name: x\n"), 0o644)
	if p, err := Find(dir); err != nil || p.Name != "x" {
		t.Errorf("good file: %+v %v", p, err)
	}
}
