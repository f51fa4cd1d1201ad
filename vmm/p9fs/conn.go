package p9fs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Serve answers 9P2000.L requests read from rd on wr, one at a time (a
// Session), until rd ends or fails. When it returns, every fid of the
// connection is clunked and rd and wr are closed. It returns nil when rd
// ended with io.EOF between messages. Serve may be called for several
// connections at once.
//
// Each R-message is handed to wr in exactly one Write call. (The virtio-9p
// device calls a Session directly; Serve is for byte streams.)
func (fs *FS) Serve(rd io.ReadCloser, wr io.WriteCloser) error {
	s := fs.NewSession()
	defer func() {
		s.Close()
		rd.Close()
		wr.Close()
	}()
	req := make([]byte, maxMsize)
	reply := make([]byte, maxMsize)
	for {
		if _, err := io.ReadFull(rd, req[:4]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		size := binary.LittleEndian.Uint32(req)
		if size < 7 || size > maxMsize {
			return fmt.Errorf("p9fs: a message of %d bytes", size)
		}
		if _, err := io.ReadFull(rd, req[4:size]); err != nil {
			return fmt.Errorf("p9fs: reading a message: %w", err)
		}
		n := s.Handle(req[:size], reply[:max(s.msize, 11)])
		if n == 0 {
			continue
		}
		if _, err := wr.Write(reply[:n]); err != nil {
			return err
		}
	}
}
