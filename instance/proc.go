package instance

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat is what Refresh needs from /proc/PID/stat.
type procStat struct {
	state byte   // field 3: R, S, D, Z (zombie), X (dead), ...
	start uint64 // field 22: start time, clock ticks after boot
}

// procRoot is /proc; tests point it at a fake tree.
var procRoot = "/proc"

// readProcStat reads /proc/PID/stat. The command name (field 2) is in
// parentheses and may contain spaces and parentheses itself, so the fields
// are counted from the last ')'.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", procRoot, pid))
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	start, err := strconv.ParseUint(string(f[19]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: start time %q", pid, f[19])
	}
	return procStat{state: f[0][0], start: start}, nil
}

// ProcStartTime returns the start time of process pid (/proc/PID/stat
// field 22), which with the pid names a process for as long as the host
// runs.
func ProcStartTime(pid int) (uint64, error) {
	st, err := readProcStat(pid)
	return st.start, err
}

// Alive reports whether process pid exists, has start time start, and has
// not exited (a zombie, waiting for whoever reaps orphans, has exited).
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readProcStat(pid)
	if err != nil || st.start != start {
		return false
	}
	return st.state != 'Z' && st.state != 'X'
}
