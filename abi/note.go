package abi

import (
	"encoding/binary"
	"errors"
	"strings"
)

// Encode returns the little-endian descriptor of n (NoteSize bytes).
func (n *Note) Encode() []byte {
	b := make([]byte, NoteSize)
	binary.LittleEndian.PutUint32(b[0:], n.Version)
	binary.LittleEndian.PutUint32(b[4:], n.Flags)
	binary.LittleEndian.PutUint64(b[8:], n.Entry)
	binary.LittleEndian.PutUint64(b[16:], n.Vectors)
	binary.LittleEndian.PutUint64(b[24:], n.VectorStride)
	binary.LittleEndian.PutUint64(b[32:], n.SyscallTrap)
	return b
}

// DecodeNote parses a NoteTypeABI descriptor. The version is returned even
// when the rest is too short, so callers can report a version mismatch.
func DecodeNote(b []byte) (Note, error) {
	var n Note
	if len(b) < 4 {
		return n, errors.New("mote note too short")
	}
	n.Version = binary.LittleEndian.Uint32(b[0:])
	if len(b) < NoteSize {
		return n, errors.New("mote note too short")
	}
	n.Flags = binary.LittleEndian.Uint32(b[4:])
	n.Entry = binary.LittleEndian.Uint64(b[8:])
	n.Vectors = binary.LittleEndian.Uint64(b[16:])
	n.VectorStride = binary.LittleEndian.Uint64(b[24:])
	n.SyscallTrap = binary.LittleEndian.Uint64(b[32:])
	return n, nil
}

// Config is what `mote build` bakes into an image (-e, --arg): the
// NoteTypeConfig descriptor.
type Config struct {
	Args []string // appended after argv[0], before run-time args
	Env  []string // KEY=VALUE; run-time -e entries override these
	Dir  string   // working directory (absolute); "" is "/"
}

// Encode returns the descriptor: each entry is a tag byte ('A' arg, 'E' env,
// 'D' working directory)
// followed by the string and a NUL.
func (c *Config) Encode() []byte {
	var sb strings.Builder
	for _, a := range c.Args {
		sb.WriteByte('A')
		sb.WriteString(a)
		sb.WriteByte(0)
	}
	for _, e := range c.Env {
		sb.WriteByte('E')
		sb.WriteString(e)
		sb.WriteByte(0)
	}
	if c.Dir != "" {
		sb.WriteByte('D')
		sb.WriteString(c.Dir)
		sb.WriteByte(0)
	}
	return []byte(sb.String())
}

// DecodeConfig parses a NoteTypeConfig descriptor (trailing padding NULs are ignored).
func DecodeConfig(b []byte) (Config, error) {
	var c Config
	for len(b) > 0 {
		if b[0] == 0 { // padding
			b = b[1:]
			continue
		}
		i := strings.IndexByte(string(b), 0)
		if i < 0 {
			return c, errors.New("mote config note: unterminated entry")
		}
		s := string(b[1:i])
		switch b[0] {
		case 'A':
			c.Args = append(c.Args, s)
		case 'E':
			c.Env = append(c.Env, s)
		case 'D':
			c.Dir = s
		default:
			return c, errors.New("mote config note: unknown entry tag")
		}
		b = b[i+1:]
	}
	return c, nil
}
