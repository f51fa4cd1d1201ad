package instance

import (
	"io"
	"os"
	"sync"
	"time"
)

// MaxLogSize is the size at which the console log is rotated: console.log
// becomes console.log.1 (replacing the previous one) and a new
// console.log is started, so an instance keeps at most about twice this
// much output on disk however long it runs.
const MaxLogSize = 10 << 20

// Log records. The console log is text, one record per line:
//
//	2025-01-02T15:04:05.123456789Z out hello, world
//
// the time the monitor got the output (RFC 3339 with nanoseconds, UTC),
// the stream ("out" or "err"), one space, and one line of the guest's
// output without its newline. Output that does not end in a newline
// within flushDelay, or grows past maxPartial, is written as a record
// with the stream "out+" or "err+": its text continues in the stream's
// next record, without a newline in between. So every record is a whole
// line of the file, and mote logs can strip the prefixes again and give
// the guest's bytes back exactly, stdout to stdout and stderr to stderr.
const (
	flushDelay = 100 * time.Millisecond
	maxPartial = 16 << 10
)

// Streams.
const (
	StreamStdout = 0
	StreamStderr = 1
)

var streamTag = [2]string{"out", "err"}

// LogWriter writes the guest's stdout and stderr into the console log as
// records, rotating the file by size.
type LogWriter struct {
	mu        sync.Mutex
	path      string
	f         *os.File
	size      int64
	maxSize   int64 // MaxLogSize; tests make it small
	pending   [2][]byte
	pendingAt [2]time.Time
	timer     [2]*time.Timer
	closed    bool
	err       error // the first write error (the guest is not told)
	now       func() time.Time
}

// OpenLog opens (appending) or creates the console log at path.
func OpenLog(path string) (*LogWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &LogWriter{path: path, f: f, size: st.Size(), maxSize: MaxLogSize, now: time.Now}, nil
}

// Stream returns the writer for stream (StreamStdout or StreamStderr).
func (w *LogWriter) Stream(stream int) io.Writer { return streamWriter{w, stream} }

type streamWriter struct {
	w      *LogWriter
	stream int
}

// Write never fails: a full disk must not make the guest's writes fail
// (LogWriter.Err reports it).
func (s streamWriter) Write(p []byte) (int, error) {
	s.w.write(s.stream, p)
	return len(p), nil
}

func (w *LogWriter) write(stream int, p []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || len(p) == 0 {
		return
	}
	now := w.now()
	// What the other stream holds came first: write it before this.
	w.flushPending(1 - stream)
	if len(w.pending[stream]) == 0 {
		w.pendingAt[stream] = now
	}
	for {
		i := indexNL(p)
		if i < 0 {
			break
		}
		line := p[:i]
		if len(w.pending[stream]) > 0 {
			line = append(w.pending[stream], line...)
			w.pending[stream] = w.pending[stream][:0]
		}
		w.record(w.pendingAt[stream], streamTag[stream], line)
		w.pendingAt[stream] = now
		p = p[i+1:]
	}
	w.pending[stream] = append(w.pending[stream], p...)
	switch {
	case len(w.pending[stream]) >= maxPartial:
		w.flushPending(stream)
	case len(w.pending[stream]) > 0 && w.timer[stream] == nil:
		w.timer[stream] = time.AfterFunc(flushDelay, func() {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.timer[stream] = nil
			if !w.closed {
				w.flushPending(stream)
			}
		})
	}
}

func indexNL(p []byte) int {
	for i, c := range p {
		if c == '\n' {
			return i
		}
	}
	return -1
}

// flushPending writes what stream holds as a partial record.
func (w *LogWriter) flushPending(stream int) {
	if len(w.pending[stream]) == 0 {
		return
	}
	w.record(w.pendingAt[stream], streamTag[stream]+"+", w.pending[stream])
	w.pending[stream] = w.pending[stream][:0]
}

// record writes one record with one write(2) (O_APPEND), rotating first
// if it would take the file past maxSize.
func (w *LogWriter) record(t time.Time, tag string, text []byte) {
	b := make([]byte, 0, 40+len(tag)+len(text))
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, tag...)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	if w.size > 0 && w.size+int64(len(b)) > w.maxSize {
		w.rotate()
	}
	if w.f == nil {
		return
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
}

// rotate renames the log to path.1 (replacing the old one) and starts a
// new one. A reader following the log notices by the inode (Follower).
func (w *LogWriter) rotate() {
	w.f.Close()
	w.f = nil
	w.size = 0
	if err := os.Rename(w.path, w.path+".1"); err != nil && w.err == nil {
		w.err = err
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		if w.err == nil {
			w.err = err
		}
		return
	}
	w.f = f
}

// Close writes what is pending and closes the file.
func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	for s := range w.pending {
		if w.timer[s] != nil {
			w.timer[s].Stop()
			w.timer[s] = nil
		}
		w.flushPending(s)
	}
	w.closed = true
	if w.f != nil {
		if err := w.f.Close(); err != nil && w.err == nil {
			w.err = err
		}
	}
	return w.err
}

// Err returns the first error writing the log, if any.
func (w *LogWriter) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
