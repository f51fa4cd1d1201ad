package usernet

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/waiter"
)

// gconn is a netstack endpoint (TCP or UDP) with blocking reads and writes
// and typed errors, cheaper than gonet: its waiter entries are registered
// once for the endpoint's life, and a read can wait for data before it
// takes a buffer.
type gconn struct {
	ep  tcpip.Endpoint
	wq  *waiter.Queue
	rd  waiter.Entry
	rCh chan struct{}
	wr  waiter.Entry
	wCh chan struct{}

	wmu sync.Mutex
	r   bytes.Reader // the writer's, under wmu
}

const (
	readEvents  = waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr
	writeEvents = waiter.WritableEvents | waiter.EventHUp | waiter.EventErr
)

func newGConn(wq *waiter.Queue, ep tcpip.Endpoint) *gconn {
	c := &gconn{ep: ep, wq: wq}
	c.rd, c.rCh = waiter.NewChannelEntry(readEvents)
	c.wr, c.wCh = waiter.NewChannelEntry(writeEvents)
	wq.EventRegister(&c.rd)
	wq.EventRegister(&c.wr)
	return c
}

// errWouldBlock is tryRead's "no data now".
var errWouldBlock = errors.New("would block")

// waitReadable blocks until a read would not block (data, EOF or error).
func (c *gconn) waitReadable() {
	for c.ep.Readiness(readEvents) == 0 {
		<-c.rCh
	}
}

// tryRead reads what is there without blocking: errWouldBlock if nothing,
// io.EOF after the peer's FIN.
func (c *gconn) tryRead(b []byte) (int, error) {
	w := tcpip.SliceWriter(b)
	res, err := c.ep.Read(&w, tcpip.ReadOptions{})
	switch err.(type) {
	case nil:
		if res.Count > 0 {
			c.ep.ModerateRecvBuf(res.Count)
		}
		return res.Count, nil
	case *tcpip.ErrWouldBlock:
		return 0, errWouldBlock
	case *tcpip.ErrClosedForReceive:
		return 0, io.EOF
	}
	return 0, netError(err)
}

// read blocks until it reads something (for UDP: one datagram).
func (c *gconn) read(b []byte) (int, error) {
	for {
		n, err := c.tryRead(b)
		if err != errWouldBlock {
			return n, err
		}
		<-c.rCh
	}
}

// write writes all of b, blocking while the send buffer is full.
func (c *gconn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for len(b) > 0 {
		c.r.Reset(b)
		n, err := c.ep.Write(&c.r, tcpip.WriteOptions{})
		b = b[n:]
		switch err.(type) {
		case nil:
		case *tcpip.ErrWouldBlock:
			<-c.wCh
		default:
			return netError(err)
		}
	}
	return nil
}

// writeDatagram sends b as one datagram, dropping it if the endpoint
// cannot take it now.
func (c *gconn) writeDatagram(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.r.Reset(b)
	_, err := c.ep.Write(&c.r, tcpip.WriteOptions{})
	switch err.(type) {
	case nil, *tcpip.ErrWouldBlock:
		return nil
	}
	return netError(err)
}

// close releases the endpoint; abort first resets a TCP connection.
func (c *gconn) close() {
	c.wq.EventUnregister(&c.rd)
	c.wq.EventUnregister(&c.wr)
	c.ep.Close()
}

// netError turns a netstack error into the errno a socket would report.
func netError(err tcpip.Error) error {
	switch err.(type) {
	case *tcpip.ErrConnectionReset:
		return syscall.ECONNRESET
	case *tcpip.ErrConnectionRefused:
		return syscall.ECONNREFUSED
	case *tcpip.ErrConnectionAborted, *tcpip.ErrAborted:
		return syscall.ECONNABORTED
	case *tcpip.ErrTimeout:
		return syscall.ETIMEDOUT
	case *tcpip.ErrClosedForSend:
		return syscall.EPIPE
	case *tcpip.ErrNetworkUnreachable:
		return syscall.ENETUNREACH
	case *tcpip.ErrHostUnreachable:
		return syscall.EHOSTUNREACH
	case *tcpip.ErrNotConnected:
		return syscall.ENOTCONN
	}
	return errors.New(err.String())
}

// Relay buffers. A splice direction holds a small buffer while it waits and
// a large one only while data streams, so thousands of idle connections
// cost little.
const (
	smallBufSize = 16 << 10
	bigBufSize   = 256 << 10
	dgramBufSize = 64 << 10
)

var (
	smallBufs = sync.Pool{New: func() any { b := make([]byte, smallBufSize); return &b }}
	bigBufs   = sync.Pool{New: func() any { b := make([]byte, bigBufSize); return &b }}
	dgramBufs = sync.Pool{New: func() any { b := make([]byte, dgramBufSize); return &b }}
)
