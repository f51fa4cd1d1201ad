package p9fs

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hugelgupf/p9/p9"
)

// Serve answers 9P2000.L requests read from rd on wr until rd ends or
// fails. When it returns, every file of the connection is released and rd
// and wr are closed. It returns nil when rd ended with io.EOF. Serve may be
// called for several connections at once.
//
// rd may be anything that reads the byte stream of T-messages (a pipe, a
// socket, a virtio queue): it is used through Read alone. Each R-message
// is handed to wr in exactly one Write call.
//
// Use Serve rather than p9.NewServer(fs).Handle: Handle of
// github.com/hugelgupf/p9 v0.3.0 can panic when its connection ends while a
// handler goroutine is between replying and waiting for the next request
// (its stop calls pendingWg.Wait while that goroutine calls
// pendingWg.Add). Serve never lets the library see the end of the stream
// until every request has been answered and a grace period has passed, by
// which time every handler goroutine is idle; it releases the files
// itself, and lets the library's goroutines unwind afterwards.
func (fs *FS) Serve(rd io.ReadCloser, wr io.WriteCloser) error {
	c := &conn{
		files:   map[*file]struct{}{},
		ended:   make(chan struct{}),
		release: make(chan struct{}),
	}
	cr := &connReader{rd: rd, c: c}
	cw := &connWriter{wr: wr, c: c}
	go func() {
		// A panic in the library's shutdown (see above) must not take
		// the process down; by then Serve has released everything.
		defer func() { _ = recover() }()
		p9.NewServer(connAttacher{fs: fs, c: c}).Handle(cr, cw)
	}()
	<-c.ended
	c.waitAnswered(answerTimeout)
	c.closeAll()
	rd.Close()
	wr.Close()
	time.AfterFunc(unwindGrace, func() { close(c.release) })
	if errors.Is(c.err, io.EOF) {
		return nil
	}
	return c.err
}

// answerTimeout bounds the wait for answers to requests read before the
// stream ended (a guest may send a request the library never answers, such
// as one reusing a tag in flight). unwindGrace is the time handler
// goroutines get to go idle before the library sees the end.
var (
	answerTimeout = 5 * time.Second
	unwindGrace   = time.Second
)

// conn is the state of one Serve: its files, to release at the end, and
// the count of requests read and answers written.
type conn struct {
	mu     sync.Mutex
	files  map[*file]struct{}
	closed bool

	requests, answers atomic.Int64

	ended   chan struct{} // closed when rd has returned an error
	err     error         // that error, set before ended is closed
	release chan struct{} // closed when the library may see err
}

// add registers a new file; false once the connection is closed.
func (c *conn) add(f *file) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.files[f] = struct{}{}
	return true
}

func (c *conn) remove(f *file) {
	c.mu.Lock()
	delete(c.files, f)
	c.mu.Unlock()
}

// closeAll closes every file of the connection, one at a time (each Close
// waits for the operations in progress on that file).
func (c *conn) closeAll() {
	c.mu.Lock()
	c.closed = true
	files := make([]*file, 0, len(c.files))
	for f := range c.files {
		files = append(files, f)
	}
	c.files = nil
	c.mu.Unlock()
	for _, f := range files {
		f.Close()
	}
}

func (c *conn) waitAnswered(timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for c.answers.Load() < c.requests.Load() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// framer follows 9P message boundaries in a byte stream: each message
// starts with its total length, 4 bytes little-endian.
type framer struct {
	size [4]byte
	n    int    // bytes of size[] seen
	left uint32 // bytes of the current message still to come
}

// feed consumes b and returns how many messages it completed.
func (fr *framer) feed(b []byte) (done int) {
	for len(b) > 0 {
		if fr.left == 0 {
			k := copy(fr.size[fr.n:], b)
			fr.n += k
			b = b[k:]
			if fr.n < 4 {
				return done
			}
			fr.n = 0
			size := binary.LittleEndian.Uint32(fr.size[:])
			if size <= 4 {
				done++ // malformed; the library rejects it
				continue
			}
			fr.left = size - 4
			continue
		}
		k := uint32(len(b))
		if k > fr.left {
			k = fr.left
		}
		fr.left -= k
		b = b[k:]
		if fr.left == 0 {
			done++
		}
	}
	return done
}

// connReader counts the requests read and withholds the end of the stream
// from the library until Serve releases it.
type connReader struct {
	rd      io.Reader
	c       *conn
	fr      framer
	pending error
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.pending != nil {
		return 0, r.end(r.pending)
	}
	n, err := r.rd.Read(p)
	r.c.requests.Add(int64(r.fr.feed(p[:n])))
	if err != nil {
		if n > 0 {
			r.pending = err
			return n, nil
		}
		return 0, r.end(err)
	}
	return n, nil
}

// end reports err to Serve, then waits for the release.
func (r *connReader) end(err error) error {
	if r.c.err == nil {
		r.c.err = err
		close(r.c.ended)
	}
	<-r.c.release
	return err
}

// Close is left to Serve.
func (r *connReader) Close() error { return nil }

// connWriter counts the answers and writes each in one Write call.
type connWriter struct {
	wr  io.Writer
	c   *conn
	fr  framer
	buf []byte
}

func (w *connWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	done := w.fr.feed(p)
	if done == 0 {
		return len(p), nil
	}
	// The p9 server writes one message at a time (under its send lock),
	// so a message ends exactly where this write does.
	msg := w.buf
	w.buf = w.buf[:0]
	_, err := w.wr.Write(msg)
	w.c.answers.Add(int64(done))
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close is left to Serve.
func (w *connWriter) Close() error { return nil }

// connAttacher attaches files that belong to one connection.
type connAttacher struct {
	fs *FS
	c  *conn
}

func (a connAttacher) Attach() (p9.File, error) {
	return a.fs.attach(a.c)
}
