// Package instance keeps the on-disk state of detached mote instances
// (mote run -d) and nothing else: there is no daemon. Each instance is
// its own monitor process (mote __monitor, like a Firecracker process per
// VM), and every other command (ps, logs, stop, rm, inspect) learns what
// it needs from the files the monitor and mote run -d leave in the
// instance's directory, motedir.Instances()/NAME (mode 0700):
//
//	config.json   how it was started (Config); written once, before the
//	              monitor starts
//	state.json    what it is doing (State): created, running (the
//	              monitor's pid and its start time) or exited (status,
//	              reason)
//	console.log   the guest's standard output and error, one timestamped
//	              record per line (LogWriter); console.log.1 after
//	              rotation
//	monitor.log   the monitor process's own standard error (a Go panic
//	              of the monitor itself; normally empty)
//	lock          flock(2) serialising read-modify-write of state.json
//
// Files are replaced atomically (a temporary file renamed over the old
// one), so a reader sees the old or the new version, never a torn one.
// A second lock file in the instances directory makes name allocation and
// removal atomic: two mote run -d --name web at once cannot both win.
//
// Because the state is only written by processes that may die at any
// time (SIGKILL, OOM), readers check it: a state that says running is
// believed only while its monitor pid is alive and has the start time
// recorded (/proc/PID/stat field 22), so a pid reused by another process
// is not mistaken for the monitor (Instance.Refresh).
package instance
