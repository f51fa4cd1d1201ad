package vmm

import (
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// consoleIn is the guest's standard input. Input is read by a goroutine that
// starts on the guest's first HcRead (so a guest that never reads stdin never
// consumes it) into a bounded buffer; HcRead takes from the buffer without
// blocking, and each arrival ends the guest's HcIdle so a blocked reader
// retries.
type consoleIn struct {
	r       io.Reader
	wake    func()
	once    sync.Once
	mu      sync.Mutex
	space   *sync.Cond
	buf     []byte
	eof     bool
	stopped bool
}

const (
	stdinChunk = 64 << 10
	stdinMax   = 1 << 20 // buffered input before the pump waits for the guest
	eAGAIN     = 11
)

func newConsoleIn(r io.Reader, wake func()) *consoleIn {
	in := &consoleIn{r: r, wake: wake}
	in.space = sync.NewCond(&in.mu)
	return in
}

func (in *consoleIn) pump() {
	chunk := make([]byte, stdinChunk)
	for {
		in.mu.Lock()
		for len(in.buf) >= stdinMax && !in.stopped {
			in.space.Wait()
		}
		stopped := in.stopped
		in.mu.Unlock()
		if stopped {
			return
		}
		n, err := in.r.Read(chunk)
		in.mu.Lock()
		in.buf = append(in.buf, chunk[:n]...)
		if err != nil {
			in.eof = true
		}
		in.mu.Unlock()
		if n > 0 || err != nil {
			in.wake()
		}
		if err != nil {
			return
		}
	}
}

// read moves up to len(dst) buffered bytes into dst: the count, 0 at the end
// of input, or -EAGAIN when nothing has arrived yet.
func (in *consoleIn) read(dst []byte) int64 {
	if in.r == nil {
		return 0
	}
	in.once.Do(func() { go in.pump() })
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.buf) == 0 {
		if in.eof {
			return 0
		}
		return -eAGAIN
	}
	n := copy(dst, in.buf)
	in.buf = in.buf[n:]
	if len(in.buf) == 0 {
		in.buf = nil
	}
	in.space.Signal()
	return int64(n)
}

// stop ends the pump at the next chance (a Read in progress still blocks
// until input or end of file, as for any process reading a terminal).
func (in *consoleIn) stop() {
	in.mu.Lock()
	in.stopped = true
	in.space.Signal()
	in.mu.Unlock()
}

// hcRead serves HcRead: the WriteArgs at gpa name the guest buffer.
func (v *vm) hcRead(c *vcpu, gpa uint64) {
	v.consoleIO(c, gpa, "HcRead", func(fd uint64, data []byte) int64 {
		if fd != 0 {
			return -eBADF
		}
		return v.in.read(data)
	})
}

// IsTerminal reports whether s is a file that is a terminal.
func IsTerminal(s any) bool {
	f, ok := s.(*os.File)
	if !ok || f == nil {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
