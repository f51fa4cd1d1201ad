package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/motevm/mote/instance"
	"github.com/motevm/mote/vmm"
)

// detached is what mote run -d was given, checked.
type detached struct {
	name    string
	targets []string // the image or package as given
	image   string   // the image file to boot
	program string   // argv[0]; "": the image file's name
	args    []string
	memory  uint64
	cpus    int
	env     []string
	workdir string
	tmpfs   []string
	volumes []vmm.Volume
	net     netFlags
	debug   bool
	profile string
}

// monitorStartTimeout bounds how long mote run -d waits for the monitor
// to report: setting a guest up takes milliseconds, but a loaded host
// starting many instances at once may be slow.
const monitorStartTimeout = 2 * time.Minute

// checkNewName checks a --name before anything is built, so that a typo
// or a name in use fails at once (Create checks again, atomically).
func checkNewName(name string) error {
	if name == "" {
		return nil
	}
	if err := instance.CheckName(name); err != nil {
		return fmt.Errorf("mote: --name: %v", err)
	}
	if _, err := instance.Open(name); err == nil {
		return errNameTaken(name)
	}
	return nil
}

func errNameTaken(name string) error {
	return fmt.Errorf("mote: an instance named %s already exists (mote rm %s removes it)", name, name)
}

// runDetached makes the instance's directory and starts its monitor, a
// process of its own (this binary, re-executed as mote __monitor DIR) in a
// new session, so that it outlives mote run and the terminal. It returns
// once the monitor reports that the guest started, or why it could not:
// then the instance is removed again and the error is mote run's.
func runDetached(d detached, stdout io.Writer) error {
	img, err := filepath.Abs(d.image)
	if err != nil {
		return err
	}
	digest, err := instance.Digest(img)
	if err != nil {
		return fmt.Errorf("mote: %v", err)
	}
	profile := d.profile
	if profile != "" && profile != "-" {
		if profile, err = filepath.Abs(profile); err != nil {
			return err
		}
	}
	cfg := &instance.Config{
		Name:        d.name,
		Image:       strings.Join(d.targets, " "),
		ImagePath:   img,
		ImageDigest: digest,
		Program:     d.program,
		Args:        d.args,
		Env:         d.env,
		Memory:      d.memory,
		CPUs:        d.cpus,
		Workdir:     d.workdir,
		Tmpfs:       d.tmpfs,
		Net: instance.Net{
			Mode: d.net.mode, Publish: d.net.publish, IP: d.net.ip, Gateway: d.net.gateway,
			IP6: d.net.ip6, Gateway6: d.net.gateway6, DNS: d.net.dns, MAC: d.net.mac,
		},
		Debug:   d.debug,
		Profile: profile,
	}
	if blob, ok := openStore().Blob(digest); ok {
		cfg.ImageBlob = blob
	}
	for _, v := range d.volumes {
		cfg.Volumes = append(cfg.Volumes, instance.Volume{Host: v.Host, Guest: v.Guest, ReadOnly: v.ReadOnly})
	}
	in, err := instance.Create(cfg)
	if errors.Is(err, instance.ErrExists) {
		return errNameTaken(cfg.Name)
	}
	if err != nil {
		return fmt.Errorf("mote: cannot create the instance: %v", err)
	}
	if err := startMonitor(in); err != nil {
		in.Remove(nil)
		return err
	}
	fmt.Fprintln(stdout, in.Name)
	return nil
}

// startMonitor starts mote __monitor for in and waits for its report on
// a pipe (the monitor's file descriptor 3): "ok" once the guest is about
// to run, or "error: <the error line>". The monitor's standard input is
// /dev/null and its standard output and error go to monitor.log (the
// guest's output goes to console.log, written by the monitor itself).
func startMonitor(in *instance.Instance) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("mote: cannot find the mote executable to start the monitor: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	mlog, err := os.OpenFile(in.MonitorLogPath(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		w.Close()
		return err
	}
	cmd := exec.Command(exe, monitorCmdName, in.Dir)
	cmd.Stdout, cmd.Stderr = mlog, mlog
	cmd.ExtraFiles = []*os.File{w}
	cmd.Dir = "/" // pin no directory (the config's paths are absolute)
	// A session of its own: no controlling terminal, so closing the
	// terminal (SIGHUP) or a Ctrl-C in it does not reach the monitor.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	mlog.Close()
	if err != nil {
		return fmt.Errorf("mote: cannot start the monitor: %v", err)
	}
	r.SetReadDeadline(time.Now().Add(monitorStartTimeout))
	line, rerr := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	if line == "ok" {
		cmd.Process.Release() // it is on its own now
		return nil
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("mote: the monitor did not start the guest within %v", monitorStartTimeout)
	}
	werr := cmd.Wait()
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return errors.New(msg)
	}
	// It died without a word: what it printed, if anything, says why.
	why := fmt.Sprint(werr)
	if b, _ := os.ReadFile(in.MonitorLogPath()); len(strings.TrimSpace(string(b))) > 0 {
		why = lastLine(string(b))
	}
	return fmt.Errorf("mote: the monitor exited before starting the guest (%s)", why)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}
