package virtio9p

import (
	"io"
	"sync"
)

// fakeServer is a 9P server for the tests that does not interpret 9P: it
// reads T-messages off the connection and either answers each through
// handler (on a goroutine per message) or, without a handler, hands them
// to the test on reqs to answer when and how it likes.
type fakeServer struct {
	mu       sync.Mutex
	handler  func(m []byte) []byte // nil: hold requests on reqs
	sessions int
	conns    []*serverConn

	reqs  chan *treq
	ended chan int // sessions whose Serve returned
}

// serverConn is one connection (one driver session).
type serverConn struct {
	session int
	rd      io.ReadCloser
	mu      sync.Mutex
	wr      io.WriteCloser
}

// treq is a T-message held for the test.
type treq struct {
	msg []byte
	c   *serverConn
}

func newFakeServer() *fakeServer {
	return &fakeServer{reqs: make(chan *treq, 4096), ended: make(chan int, 100)}
}

// setHandler sets the handler of later requests.
func (s *fakeServer) setHandler(h func(m []byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

func (s *fakeServer) numSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

func (s *fakeServer) conn(session int) *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[session-1]
}

func (s *fakeServer) serve(rd io.ReadCloser, wr io.WriteCloser) error {
	s.mu.Lock()
	s.sessions++
	c := &serverConn{session: s.sessions, rd: rd, wr: wr}
	s.conns = append(s.conns, c)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for {
		m, err := readMsg(rd)
		if err != nil {
			break
		}
		s.mu.Lock()
		h := s.handler
		s.mu.Unlock()
		if h == nil {
			s.reqs <- &treq{msg: m, c: c}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := h(m); r != nil {
				c.write(r)
			}
		}()
	}
	wg.Wait()
	s.ended <- c.session
	return nil
}

// write sends bytes on the connection (whole messages: one at a time).
func (c *serverConn) write(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.wr.Write(b)
	return err
}

// kill ends the connection from the server's side.
func (c *serverConn) kill() {
	c.rd.Close()
	c.wr.Close()
}

func (r *treq) reply(m []byte) error { return r.c.write(m) }

// echo answers a T-message with the R-message of the next type number,
// the same tag and the same payload.
func echo(m []byte) []byte { return msg(m[4]+1, tagOf(m), m[7:]) }
