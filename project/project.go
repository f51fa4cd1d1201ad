// Package project reads mote.yaml, the project file that lets `mote build`
// and `mote run` in a directory work without flags:
//
//	# mote.yaml
//	name: web                # the image's name (mote build -t NAME), and the
//	                         # instance's with mote run -d
//	package: ./cmd/web       # what mote build builds (default: the directory)
//	memory: 256M             # mote run -m
//	cpus: 2                  # mote run --cpus
//	env: [MODE=prod]         # mote run -e (or a map: {MODE: prod})
//	args: [-port, "80"]      # the program's arguments
//	ports: ["8080:80"]       # mote run -p
//	volumes: ["./data:/data", "./conf:/etc/app:ro"]   # mote run -v
//	tmpfs: ["/cache:64M"]    # mote run --tmpfs
//	files: ["./config.yaml:/etc/app/config.yaml"]     # mote build --file
//	dirs: ["./static:/srv/static"]                    # mote build --dir
//	workdir: /srv            # mote build --workdir
//	net: user                # mote run --net
//
// Relative host paths are relative to the directory of mote.yaml, so the
// file means the same from anywhere. Flags given on the command line win
// over the file's values; lists (env, ports, volumes, tmpfs, files, dirs)
// add to the file's. Unknown keys are errors, so a typo does not pass
// silently.
package project

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FileName is the project file's name.
const FileName = "mote.yaml"

// Project is a parsed mote.yaml with host paths made absolute.
type Project struct {
	Dir     string // the directory of mote.yaml
	Name    string
	Package string // absolute directory, or "" (then Dir)
	Image   string // an image reference or file to run instead of building
	Memory  string
	CPUs    int
	Env     []string
	Args    []string
	Ports   []string
	Volumes []string
	Tmpfs   []string
	Files   []string
	Dirs    []string
	Workdir string
	Net     string
}

// file is the YAML form.
type file struct {
	Name    string   `yaml:"name"`
	Package string   `yaml:"package"`
	Image   string   `yaml:"image"`
	Memory  yamlText `yaml:"memory"`
	CPUs    int      `yaml:"cpus"`
	Env     envList  `yaml:"env"`
	Args    []string `yaml:"args"`
	Ports   []string `yaml:"ports"`
	Volumes []string `yaml:"volumes"`
	Tmpfs   []string `yaml:"tmpfs"`
	Files   []string `yaml:"files"`
	Dirs    []string `yaml:"dirs"`
	Workdir string   `yaml:"workdir"`
	Net     string   `yaml:"net"`
}

// yamlText takes a scalar of any kind as text (memory: 512 or 512M).
type yamlText string

func (t *yamlText) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a single value", n.Line)
	}
	*t = yamlText(n.Value)
	return nil
}

// envList takes a list of KEY=VALUE or a map of KEY: VALUE.
type envList []string

func (e *envList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return fmt.Errorf("line %d: env entry %q: want KEY=VALUE", n.Line, kv)
			}
		}
		*e = l
	case yaml.MappingNode:
		var m map[string]yamlText
		if err := n.Decode(&m); err != nil {
			return err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			*e = append(*e, k+"="+string(m[k]))
		}
	default:
		return fmt.Errorf("line %d: env: want a list of KEY=VALUE or a map", n.Line)
	}
	return nil
}

// Find returns the project of directory dir: nil without a mote.yaml.
func Find(dir string) (*Project, error) {
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p, err := Parse(b, dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return p, nil
}

// Parse parses mote.yaml contents; relative host paths are taken from dir.
func Parse(b []byte, dir string) (*Project, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var f file
	d := yaml.NewDecoder(bytes.NewReader(b))
	d.KnownFields(true)
	if err := d.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // io.EOF: only comments
		return nil, cleanErr(err)
	}
	p := &Project{
		Dir: abs, Name: f.Name, Image: f.Image, Memory: string(f.Memory), CPUs: f.CPUs,
		Env: f.Env, Args: f.Args, Ports: f.Ports, Tmpfs: f.Tmpfs, Workdir: f.Workdir, Net: f.Net,
	}
	switch {
	case f.CPUs < 0:
		return nil, fmt.Errorf("cpus: %d is not a number of CPUs", f.CPUs)
	case f.Package != "" && f.Image != "":
		return nil, errors.New("package and image: give one (build the package, or run the image)")
	}
	if f.Package != "" {
		p.Package = p.hostPath(f.Package)
	}
	if f.Image != "" && (strings.HasSuffix(f.Image, ".img") || strings.ContainsRune(f.Image, '/')) {
		p.Image = p.hostPath(f.Image) // a file; else a name in the image store
	}
	for _, l := range []struct {
		in  []string
		out *[]string
		key string
	}{{f.Volumes, &p.Volumes, "volumes"}, {f.Files, &p.Files, "files"}, {f.Dirs, &p.Dirs, "dirs"}} {
		for _, spec := range l.in {
			host, rest, ok := strings.Cut(spec, ":")
			if !ok || host == "" {
				return nil, fmt.Errorf("%s: %q: want HOST:GUEST", l.key, spec)
			}
			*l.out = append(*l.out, p.hostPath(host)+":"+rest)
		}
	}
	return p, nil
}

// hostPath makes a host path of the file absolute from the project's
// directory.
func (p *Project) hostPath(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(p.Dir, s)
}

// BuildTarget is what mote build builds: the package directory.
func (p *Project) BuildTarget() string {
	if p.Package != "" {
		return p.Package
	}
	return p.Dir
}

// cleanErr makes the YAML package's error one line: "line 3: field nmae
// not found; line 5: ...".
func cleanErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
	var parts []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, strings.ReplaceAll(l, " in type project.file", ""))
		}
	}
	return errors.New(strings.Join(parts, "; "))
}
