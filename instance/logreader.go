package instance

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// Record is one record of the console log (see LogWriter).
type Record struct {
	Time    string // as written (RFC 3339, UTC); "" for a line without a prefix
	Stream  int    // StreamStdout or StreamStderr
	Partial bool   // the text continues in the stream's next record
	Text    []byte // without the newline
}

// ParseRecord parses one line of the console log (without its newline).
// A line that is not a record (written by something else) is returned as
// a whole line of stdout without a time.
func ParseRecord(line []byte) Record {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if ok {
		tag, text, ok2 := bytes.Cut(rest, []byte{' '})
		if ok2 && len(ts) >= len("2006-01-02T15:04:05Z") && ts[4] == '-' && ts[10] == 'T' {
			r := Record{Time: string(ts), Text: text}
			switch string(tag) {
			case "out":
				return r
			case "out+":
				r.Partial = true
				return r
			case "err":
				r.Stream = StreamStderr
				return r
			case "err+":
				r.Stream, r.Partial = StreamStderr, true
				return r
			}
		}
	}
	return Record{Text: line}
}

// Follower reads the console log as it grows, across rotations.
type Follower struct {
	path string
	f    *os.File
	buf  []byte // an incomplete record at the end of what was read
}

// NewFollower returns a reader of the log at path (console.log) from its
// beginning. The first Next also returns what path.1 holds, the output
// before the last rotation.
func NewFollower(path string) *Follower { return &Follower{path: path} }

// Next returns the records written since the last call (all of them the
// first time). After a rotation it finishes the old file and goes on with
// the new one.
func (fw *Follower) Next() ([]Record, error) {
	var recs []Record
	if fw.f == nil {
		f, err := os.Open(fw.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // not made yet
		}
		if err != nil {
			return nil, err
		}
		fw.f = f
		// The rotated file, unless the rotation happened after the open
		// and path.1 is the file just opened.
		if old, err := os.Open(fw.path + ".1"); err == nil {
			if !sameFile(old, f) {
				b, _ := io.ReadAll(old)
				recs = appendRecords(recs, b, true)
			}
			old.Close()
		}
	}
	for {
		b, err := io.ReadAll(fw.f)
		if err != nil {
			return recs, err
		}
		fw.buf = append(fw.buf, b...)
		i := bytes.LastIndexByte(fw.buf, '\n')
		if i >= 0 {
			recs = appendRecords(recs, fw.buf[:i+1], false)
			fw.buf = append(fw.buf[:0], fw.buf[i+1:]...)
		}
		// At the end of the file: was it rotated? Then go on with the
		// new one (the writer writes nothing to the old file after the
		// rename, and we have read it to its end).
		cur, err := os.Stat(fw.path)
		if err != nil || sameInode(cur, fw.f) {
			return recs, nil
		}
		nf, err := os.Open(fw.path)
		if err != nil {
			return recs, nil
		}
		// One more read of the old file: the writer may have written
		// between our read and the rename.
		if b, _ := io.ReadAll(fw.f); len(b) > 0 {
			fw.buf = append(fw.buf, b...)
		}
		if len(fw.buf) > 0 { // a torn last record: keep what there is
			recs = appendRecords(recs, fw.buf, true)
			fw.buf = fw.buf[:0]
		}
		// Rotated twice since we looked? Then path.1 is a file we never
		// saw (neither the one we read nor the one just opened): all
		// of it is new to us. (A third rotation between two calls loses
		// a file; at MaxLogSize no follower is that slow.)
		if mid, err := os.Open(fw.path + ".1"); err == nil {
			if !sameFile(mid, fw.f) && !sameFile(mid, nf) {
				b, _ := io.ReadAll(mid)
				recs = appendRecords(recs, b, true)
			}
			mid.Close()
		}
		fw.f.Close()
		fw.f = nf
	}
}

// Close releases the open file.
func (fw *Follower) Close() {
	if fw.f != nil {
		fw.f.Close()
		fw.f = nil
	}
}

// appendRecords parses the lines in b; with all, a last line without a
// newline counts too.
func appendRecords(recs []Record, b []byte, all bool) []Record {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if all {
				recs = append(recs, ParseRecord(bytes.Clone(b)))
			}
			break
		}
		recs = append(recs, ParseRecord(bytes.Clone(b[:i])))
		b = b[i+1:]
	}
	return recs
}

func sameFile(a, b *os.File) bool {
	sa, err := a.Stat()
	if err != nil {
		return false
	}
	return sameInode(sa, b)
}

func sameInode(fi os.FileInfo, f *os.File) bool {
	sf, err := f.Stat()
	if err != nil {
		return false
	}
	x, ok1 := fi.Sys().(*syscall.Stat_t)
	y, ok2 := sf.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && x.Ino == y.Ino && x.Dev == y.Dev
}

// TailRecords returns the records that make up the last n lines of
// output (n < 0: all of them). A line is a run of partial records ended
// by a whole one, counted per stream.
func TailRecords(recs []Record, n int) []Record {
	if n < 0 {
		return recs
	}
	lines := 0
	var later [2]bool // a later record of the stream was seen
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		// A whole record ends a line; so does a stream's last record,
		// finished or not.
		if !r.Partial || !later[r.Stream] {
			if lines == n {
				return recs[i+1:]
			}
			lines++
		}
		later[r.Stream] = true
	}
	return recs
}

// Printer writes records back as the guest wrote them: stdout records to
// Stdout, stderr records to Stderr, with the newline a whole record had;
// with Timestamps, each line starts with its time and a space.
type Printer struct {
	Stdout, Stderr io.Writer
	Timestamps     bool
	midLine        [2]bool
}

// Print writes one record.
func (p *Printer) Print(r Record) error {
	w := p.Stdout
	if r.Stream == StreamStderr {
		w = p.Stderr
	}
	var b []byte
	if p.Timestamps && !p.midLine[r.Stream] {
		t := r.Time
		if t == "" {
			t = "-"
		}
		b = append(b, t...)
		b = append(b, ' ')
	}
	b = append(b, r.Text...)
	if !r.Partial {
		b = append(b, '\n')
	}
	p.midLine[r.Stream] = r.Partial
	_, err := w.Write(b)
	return err
}

// ParseTime parses a record's time.
func (r Record) ParseTime() (time.Time, error) { return time.Parse(time.RFC3339Nano, r.Time) }
