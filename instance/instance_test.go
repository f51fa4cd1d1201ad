package instance

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func home(t *testing.T) string {
	h := t.TempDir()
	t.Setenv("MOTE_HOME", h)
	return h
}

func TestCreateOpenListRemove(t *testing.T) {
	h := home(t)
	a, err := Create(&Config{Name: "web", Image: "httpd.img", Memory: 32 << 20, CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if a.Dir != filepath.Join(h, "instances", "web") {
		t.Errorf("dir %s", a.Dir)
	}
	for _, d := range []string{filepath.Join(h, "instances"), a.Dir} {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("%s: mode %v, %v; want 0700", d, st.Mode().Perm(), err)
		}
	}
	_, err = Create(&Config{Name: "web"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "an instance named web already exists") {
		t.Errorf("second web: %v", err)
	}
	gen := &Config{}
	b, err := Create(gen)
	if err != nil || gen.Name == "" || b.Name != gen.Name || CheckName(gen.Name) != nil {
		t.Fatalf("generated name %q: %v", gen.Name, err)
	}
	s, err := b.State()
	if err != nil || s.Status != Created {
		t.Errorf("new state %+v, %v", s, err)
	}
	list, err := List()
	if err != nil || len(list) != 2 || list[0].Name != "web" || list[1].Name != gen.Name {
		t.Errorf("List = %v, %v", list, err)
	}
	in, err := Open("web")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := in.Config()
	if err != nil || cfg.Image != "httpd.img" || cfg.Memory != 32<<20 || cfg.Created.IsZero() {
		t.Errorf("config %+v, %v", cfg, err)
	}
	if _, err := Open("nope"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open(nope): %v", err)
	}
	if _, err := Open("../web"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open(../web): %v", err)
	}
	refuse := errors.New("refused")
	if err := in.Remove(func(s *State) error {
		if s.Status != Created {
			t.Errorf("Remove's check got %+v", s)
		}
		return refuse
	}); err != refuse {
		t.Fatalf("Remove with a refusing check: %v", err)
	}
	if _, err := Open("web"); err != nil {
		t.Fatalf("refused Remove removed: %v", err)
	}
	if err := in.Remove(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("web"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Open after Remove: %v", err)
	}
	if err := in.Remove(nil); !errors.Is(err, ErrNotExist) {
		t.Errorf("second Remove: %v", err)
	}
	// The name is free again; nothing is left behind but the lock and
	// the other instance.
	if _, err := Create(&Config{Name: "web"}); err != nil {
		t.Errorf("web again: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Join(h, "instances"))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("instances directory holds %v", names)
	}
}

// TestSweep: leftovers of a crashed rm, and of a crashed create after a
// while, are removed by the next Create; a create in progress is not.
func TestSweep(t *testing.T) {
	h := home(t)
	root := filepath.Join(h, "instances")
	old := time.Now().Add(-time.Hour)
	for _, d := range []string{".rm-web-123", ".new-db-456", ".new-fresh-789"} {
		os.MkdirAll(filepath.Join(root, d, "sub"), 0o700)
		if d == ".new-db-456" {
			os.Chtimes(filepath.Join(root, d), old, old)
		}
	}
	if _, err := Create(&Config{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{".rm-web-123": false, ".new-db-456": false, ".new-fresh-789": true, "x": true} {
		if _, err := os.Stat(filepath.Join(root, d)); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", d, err == nil, want)
		}
	}
}

// TestRelativeHome: a relative MOTE_HOME gives absolute directories (the
// monitor runs in /).
func TestRelativeHome(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("MOTE_HOME", "rel")
	in, err := Create(&Config{Name: "a"})
	if err != nil || !filepath.IsAbs(in.Dir) || !filepath.IsAbs(Root()) {
		t.Errorf("Create with a relative MOTE_HOME: %v %v", in, err)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"web", "a", "Web-1", "x_y.z", "0", strings.Repeat("a", MaxNameLen)} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-web", ".web", "_x", "a/b", "a b", "..", "ü", strings.Repeat("a", MaxNameLen+1)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) accepted", bad)
		}
	}
	for i := 0; i < 20; i++ {
		if n := generateName(i); CheckName(n) != nil {
			t.Errorf("generated %q is not valid", n)
		}
	}
}

// TestCreateRace: many creators of one name at once, one wins.
func TestCreateRace(t *testing.T) {
	home(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, exists := 0, 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := Create(&Config{Name: "web"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, ErrExists):
				exists++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || exists != 15 {
		t.Errorf("%d created, %d refused; want 1 and 15", wins, exists)
	}
}

func TestUpdateAtomic(t *testing.T) {
	home(t)
	in, err := Create(&Config{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := in.Update(func(s *State) error { s.PID++; return nil }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s, _ := in.State()
	if s.PID != 20 {
		t.Errorf("20 increments under the lock gave %d", s.PID)
	}
	ents, _ := os.ReadDir(in.Dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left", e.Name())
		}
	}
	if _, err := in.Update(func(s *State) error { s.PID = 99; return errors.New("no") }); err == nil {
		t.Error("Update with an error")
	}
	if s, _ := in.State(); s.PID != 20 {
		t.Errorf("a failed Update wrote %d", s.PID)
	}
}

func TestAliveAndStartTime(t *testing.T) {
	self := os.Getpid()
	start, err := ProcStartTime(self)
	if err != nil || start == 0 {
		t.Fatalf("ProcStartTime(self) = %d, %v", start, err)
	}
	if !Alive(self, start) {
		t.Error("this process is not alive")
	}
	if Alive(self, start+1) {
		t.Error("a different start time is alive: a reused pid would pass")
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip(err)
	}
	if Alive(cmd.Process.Pid, start) {
		t.Error("an exited process is alive")
	}
	if Alive(0, 0) || Alive(-1, 0) {
		t.Error("pid 0 or -1 is alive")
	}
}

// fakeProc points procRoot at a directory with a stat file for pid.
func fakeProc(t *testing.T, pid int, comm string, state byte, start uint64) {
	dir := t.TempDir()
	old := procRoot
	procRoot = dir
	t.Cleanup(func() { procRoot = old })
	os.MkdirAll(filepath.Join(dir, fmt.Sprint(pid)), 0o755)
	// Fields 3 to 22 after the command name; a name with spaces and a
	// parenthesis must not shift them.
	stat := fmt.Sprintf("%d (%s) %c 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 %d 19 20\n", pid, comm, state, start)
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprint(pid), "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshStale(t *testing.T) {
	home(t)
	const pid = 4242
	in, err := Create(&Config{Name: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	setRunning := func(start uint64) {
		in.Update(func(s *State) error {
			*s = State{Status: Running, PID: pid, PIDStart: start}
			return nil
		})
	}

	// Our monitor, alive: unchanged.
	fakeProc(t, pid, "mote) x (y", 'S', 777)
	setRunning(777)
	s, err := in.Refresh()
	if err != nil || s.Status != Running || !s.Running() {
		t.Fatalf("live monitor: %+v, %v", s, err)
	}

	// The pid belongs to another process now (another start time).
	setRunning(776)
	s, err = in.Refresh()
	if err != nil || s.Status != Exited || s.Reason != ReasonKilled || s.Error != "monitor died" || s.ExitStatus != nil || s.Finished.IsZero() {
		t.Fatalf("reused pid: %+v, %v", s, err)
	}
	if s2, _ := in.State(); s2.Status != Exited {
		t.Errorf("the correction was not recorded: %+v", s2)
	}

	// A zombie (the monitor exited, no one reaped it yet).
	fakeProc(t, pid, "mote", 'Z', 777)
	setRunning(777)
	if s, _ := in.Refresh(); s.Status != Exited {
		t.Errorf("zombie monitor: %+v", s)
	}

	// No such process.
	procRoot = t.TempDir()
	setRunning(777)
	if s, _ := in.Refresh(); s.Status != Exited || s.Reason != ReasonKilled {
		t.Errorf("vanished monitor: %+v", s)
	}

	// An exited state stays as the monitor recorded it.
	code := 3
	in.Update(func(s *State) error {
		*s = State{Status: Exited, Reason: ReasonExited, ExitStatus: &code}
		return nil
	})
	if s, _ := in.Refresh(); s.Reason != ReasonExited || s.ExitStatus == nil || *s.ExitStatus != 3 {
		t.Errorf("exited: %+v", s)
	}
}
