package instance

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/internal/motedir"
)

// Errors for names.
var (
	ErrNotExist = errors.New("no such instance")
	ErrExists   = errors.New("instance exists")
)

// Files in an instance's directory.
const (
	configFile  = "config.json"
	stateFile   = "state.json"
	lockName    = "lock"
	LogFile     = "console.log"
	MonitorLog  = "monitor.log"
	namesLock   = ".names.lock" // in the instances directory
	tempPrefix  = ".new-"       // an instance being created
	trashPrefix = ".rm-"        // an instance being removed
)

// Instance is one instance's directory.
type Instance struct {
	Name string
	Dir  string
}

// Root is the directory that holds the instances (motedir.Instances()),
// absolute: the monitor gets its instance's directory and runs in /.
func Root() string {
	r := motedir.Instances()
	if abs, err := filepath.Abs(r); err == nil {
		r = abs
	}
	return r
}

// Path is the directory of the instance named name, existing or not.
func Path(name string) string { return filepath.Join(Root(), name) }

// Create makes the directory of a new instance with cfg and state
// Created, and returns it. If cfg.Name is empty a free name is generated
// (and set in cfg). Under the names lock, the directory is assembled under
// a temporary name and renamed into place, so other commands never see a
// half-written instance and two creators of one name cannot both succeed:
// the loser gets an error wrapping ErrExists.
func Create(cfg *Config) (*Instance, error) {
	root := Root()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	if cfg.Name != "" {
		if err := CheckName(cfg.Name); err != nil {
			return nil, err
		}
	}
	unlock, err := motedir.Lock(filepath.Join(root, namesLock))
	if err != nil {
		return nil, err
	}
	defer unlock()
	sweep(root)
	if cfg.Name == "" {
		for i := 0; ; i++ {
			n := generateName(i)
			if _, err := os.Lstat(filepath.Join(root, n)); errors.Is(err, fs.ErrNotExist) {
				cfg.Name = n
				break
			}
			if i > 100 {
				return nil, errors.New("cannot find a free instance name")
			}
		}
	} else if _, err := os.Lstat(filepath.Join(root, cfg.Name)); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			return nil, fmt.Errorf("an instance named %s already exists: %w", cfg.Name, ErrExists)
		}
		return nil, err
	}
	tmp, err := os.MkdirTemp(root, tempPrefix+cfg.Name+"-") // mode 0700
	if err != nil {
		return nil, err
	}
	if cfg.Created.IsZero() {
		cfg.Created = time.Now().UTC()
	}
	err = writeJSON(filepath.Join(tmp, configFile), cfg)
	if err == nil {
		err = writeJSON(filepath.Join(tmp, stateFile), &State{Status: Created})
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(root, cfg.Name))
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	return &Instance{Name: cfg.Name, Dir: filepath.Join(root, cfg.Name)}, nil
}

// sweep removes what creators and removers that died half-way left in
// root (under the names lock): directories being removed, and directories
// being created for longer than a creator takes.
func sweep(root string) {
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		switch n := e.Name(); {
		case strings.HasPrefix(n, trashPrefix):
			os.RemoveAll(filepath.Join(root, n))
		case strings.HasPrefix(n, tempPrefix):
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 10*time.Minute {
				os.RemoveAll(filepath.Join(root, n))
			}
		}
	}
}

// Open returns the existing instance named name, or an error wrapping
// ErrNotExist.
func Open(name string) (*Instance, error) {
	if CheckName(name) != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, name)
	}
	return OpenDir(Path(name))
}

// OpenDir returns the instance in directory dir (the monitor gets the
// directory, not the name: it must not depend on MOTE_HOME).
func OpenDir(dir string) (*Instance, error) {
	if _, err := os.Stat(filepath.Join(dir, configFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, filepath.Base(dir))
		}
		return nil, err
	}
	return &Instance{Name: filepath.Base(dir), Dir: dir}, nil
}

// List returns every instance, oldest first (by creation time, then name).
func List() ([]*Instance, error) {
	ents, err := os.ReadDir(Root())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type entry struct {
		in      *Instance
		created time.Time
	}
	var list []entry
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || CheckName(e.Name()) != nil {
			continue
		}
		in := &Instance{Name: e.Name(), Dir: filepath.Join(Root(), e.Name())}
		cfg, err := in.Config()
		if err != nil {
			continue // removed meanwhile, or not an instance
		}
		list = append(list, entry{in, cfg.Created})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].created.Equal(list[j].created) {
			return list[i].created.Before(list[j].created)
		}
		return list[i].in.Name < list[j].in.Name
	})
	out := make([]*Instance, len(list))
	for i, e := range list {
		out[i] = e.in
	}
	return out, nil
}

// Config reads the instance's configuration.
func (in *Instance) Config() (*Config, error) {
	var c Config
	if err := readJSON(filepath.Join(in.Dir, configFile), &c); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, in.Name)
		}
		return nil, fmt.Errorf("instance %s: %v", in.Name, err)
	}
	return &c, nil
}

// State reads the instance's state as recorded (see Refresh).
func (in *Instance) State() (*State, error) {
	var s State
	if err := readJSON(filepath.Join(in.Dir, stateFile), &s); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, in.Name)
		}
		return nil, fmt.Errorf("instance %s: %v", in.Name, err)
	}
	return &s, nil
}

// Update changes the state under the instance's lock: fn gets the current
// state and modifies it; if fn returns an error nothing is written.
func (in *Instance) Update(fn func(*State) error) (*State, error) {
	unlock, err := motedir.Lock(filepath.Join(in.Dir, lockName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotExist, in.Name)
		}
		return nil, err
	}
	defer unlock()
	// The directory may have been removed while we waited for the lock
	// (the lock file then is an orphan no one else sees).
	s, err := in.State()
	if err != nil {
		return nil, err
	}
	if err := fn(s); err != nil {
		return s, err
	}
	if err := writeJSON(filepath.Join(in.Dir, stateFile), s); err != nil {
		return nil, err
	}
	return s, nil
}

// errUnchanged makes Update write nothing.
var errUnchanged = errors.New("unchanged")

// Refresh returns the instance's state, correcting a stale one first: a
// state that says Running whose monitor process is gone, or is another
// process now (the pid was reused: its start time differs), is recorded
// as Exited with reason killed and error "monitor died" (the monitor
// records how the guest exited before it exits; only a killed monitor
// does not).
func (in *Instance) Refresh() (*State, error) {
	s, err := in.State()
	if err != nil || s.Status != Running || Alive(s.PID, s.PIDStart) {
		return s, err
	}
	s, err = in.Update(func(s *State) error {
		if s.Status != Running || Alive(s.PID, s.PIDStart) {
			return errUnchanged // the monitor wrote it meanwhile
		}
		MarkDead(s, "monitor died")
		return nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return s, err
}

// MarkDead records in s that the monitor is gone without recording the
// guest's end: Exited, reason killed, why as the error, no exit status.
func MarkDead(s *State, why string) {
	s.Status = Exited
	s.Reason = ReasonKilled
	s.Error = why
	s.ExitStatus = nil
	s.Finished = time.Now().UTC()
}

// Running reports whether s is Running with its monitor alive.
func (s *State) Running() bool {
	return s.Status == Running && Alive(s.PID, s.PIDStart)
}

// Remove deletes the instance's directory. Under the instance's lock it
// reads the state (correcting a stale one, see Refresh) and calls check,
// if set, which may refuse (a running instance); a monitor cannot record
// that it runs between the check and the removal. The directory is renamed
// out of the way under the names lock, so the name is free at once and no
// one sees it half deleted, and then deleted.
func (in *Instance) Remove(check func(*State) error) error {
	unlockIn, err := motedir.Lock(filepath.Join(in.Dir, lockName))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotExist, in.Name)
		}
		return err
	}
	defer unlockIn()
	s, err := in.State()
	if err != nil {
		// A missing or corrupt state.json must not make an instance
		// unremovable (if the directory itself is gone, the rename
		// below says so).
		s = &State{Status: Exited}
	}
	if s.Status == Running && !Alive(s.PID, s.PIDStart) {
		MarkDead(s, "monitor died")
	}
	if check != nil {
		if err := check(s); err != nil {
			return err
		}
	}
	root := filepath.Dir(in.Dir)
	unlock, err := motedir.Lock(filepath.Join(root, namesLock))
	if err != nil {
		return err
	}
	// Rename onto the empty directory MkdirTemp made (the trash name is
	// unique; rename(2) replaces an empty directory, os.Rename refuses).
	trash, err := os.MkdirTemp(root, trashPrefix+in.Name+"-")
	if err == nil {
		if err = unix.Rename(in.Dir, trash); err != nil {
			os.Remove(trash)
			err = &os.LinkError{Op: "rename", Old: in.Dir, New: trash, Err: err}
		}
	}
	unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotExist, in.Name)
	}
	if err != nil {
		return err
	}
	return os.RemoveAll(trash)
}

// LogPath is the guest's console log.
func (in *Instance) LogPath() string { return filepath.Join(in.Dir, LogFile) }

// MonitorLogPath is the monitor process's own standard error.
func (in *Instance) MonitorLogPath() string { return filepath.Join(in.Dir, MonitorLog) }
