package abi

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Sealed files: a read-only file tree baked into the image at build time
// (mote build --dir/--file, and the package directory of a mote test).
//
// The builder encodes the tree as one archive (EncodeFiles), stored in the
// image after the mote notes and described by the NoteTypeFiles note (its
// file offset and length, FilesNote). The monitor copies the archive into
// guest RAM at a page-aligned address below BootInfo.FreeStart and passes
// it in BootInfo.FilesGPA/FilesLen; the guest kernel builds its directory
// tree from the index and serves file contents in place (no copy).
//
// Layout (little endian), offsets from the start of the archive:
//
//	header  FilesHeaderSize bytes: FilesMagic, entry count (uint32), 0 (uint32),
//	        offset of the name table (uint64), total length (uint64)
//	entries count × FileEntrySize bytes (FileEntry.encode), in an order
//	        where every directory precedes its children; entry 0 is "/"
//	names   the entries' base names, concatenated
//	data    file contents and symlink targets, each 8-byte aligned
const (
	FilesMagic      = "motefs\x00\x01"
	FilesHeaderSize = 32
	FileEntrySize   = 40
	// NoteTypeFiles's descriptor: FilesNote.
	NoteTypeFiles = 3
)

// Linux st_mode file type bits used in the archive.
const (
	ModeTypeMask = 0o170000
	ModeDir      = 0o040000
	ModeReg      = 0o100000
	ModeSymlink  = 0o120000
)

// FilesNote is the NoteTypeFiles descriptor: where the archive lies in the
// image file.
type FilesNote struct {
	Off uint64 // file offset of the archive
	Len uint64
}

// FilesNoteSize is the encoded size of FilesNote.
const FilesNoteSize = 16

// Encode returns the descriptor bytes.
func (n FilesNote) Encode() []byte {
	b := make([]byte, FilesNoteSize)
	binary.LittleEndian.PutUint64(b, n.Off)
	binary.LittleEndian.PutUint64(b[8:], n.Len)
	return b
}

// DecodeFilesNote parses a NoteTypeFiles descriptor.
func DecodeFilesNote(b []byte) (FilesNote, error) {
	if len(b) < FilesNoteSize {
		return FilesNote{}, errors.New("short files note")
	}
	return FilesNote{Off: binary.LittleEndian.Uint64(b), Len: binary.LittleEndian.Uint64(b[8:])}, nil
}

// SealedFile is one entry of the sealed tree as the builder gives it.
type SealedFile struct {
	Path  string // absolute, clean, not "/"
	Mode  uint32 // ModeDir, ModeReg or ModeSymlink | permission bits
	Data  []byte // contents (ModeReg) or target (ModeSymlink)
	Mtime int64  // ns since the epoch
}

// FileEntry is the encoded form of one entry.
type FileEntry struct {
	Parent  uint32 // index of the parent directory's entry
	Mode    uint32
	NameOff uint32 // in the name table
	NameLen uint32
	Off     uint64 // of the data, from the start of the archive
	Size    uint64
	Mtime   int64
}

func (e FileEntry) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b, e.Parent)
	le.PutUint32(b[4:], e.Mode)
	le.PutUint32(b[8:], e.NameOff)
	le.PutUint32(b[12:], e.NameLen)
	le.PutUint64(b[16:], e.Off)
	le.PutUint64(b[24:], e.Size)
	le.PutUint64(b[32:], uint64(e.Mtime))
}

// GetFileEntry decodes entry i of an archive (bounds are the caller's).
func GetFileEntry(b []byte) FileEntry {
	le := binary.LittleEndian
	return FileEntry{
		Parent: le.Uint32(b), Mode: le.Uint32(b[4:]), NameOff: le.Uint32(b[8:]), NameLen: le.Uint32(b[12:]),
		Off: le.Uint64(b[16:]), Size: le.Uint64(b[24:]), Mtime: int64(le.Uint64(b[32:])),
	}
}

// EncodeFiles builds an archive. Directories missing from files are
// created (mode 0755); a path given twice, or a path below a non-directory,
// is an error.
func EncodeFiles(files []SealedFile) ([]byte, error) {
	byPath := map[string]SealedFile{"/": {Path: "/", Mode: ModeDir | 0o755}}
	for _, f := range files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, errors.New("sealed file path " + quote(f.Path) + " is not an absolute clean path")
		}
		switch f.Mode & ModeTypeMask {
		case ModeDir, ModeReg, ModeSymlink:
		default:
			return nil, errors.New("sealed file " + f.Path + " is not a regular file, directory or symlink")
		}
		if old, ok := byPath[f.Path]; ok {
			if old.Mode&ModeTypeMask == ModeDir && f.Mode&ModeTypeMask == ModeDir {
				continue
			}
			return nil, errors.New("sealed file " + f.Path + " is given twice")
		}
		byPath[f.Path] = f
	}
	// Add missing parents.
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := byPath[d]; ok {
				break
			}
			byPath[d] = SealedFile{Path: d, Mode: ModeDir | 0o755}
		}
	}
	paths := make([]string, 0, len(byPath))
	for p := range byPath {
		paths = append(paths, p)
	}
	// Sorted by depth then name: parents first, stable output.
	sort.Slice(paths, func(i, j int) bool {
		di, dj := strings.Count(paths[i], "/"), strings.Count(paths[j], "/")
		if paths[i] == "/" || paths[j] == "/" {
			return paths[i] == "/" && paths[j] != "/"
		}
		if di != dj {
			return di < dj
		}
		return paths[i] < paths[j]
	})
	index := map[string]uint32{}
	var names []byte
	ents := make([]FileEntry, len(paths))
	for i, p := range paths {
		index[p] = uint32(i)
		f := byPath[p]
		e := FileEntry{Mode: f.Mode, Mtime: f.Mtime}
		if p != "/" {
			par, ok := index[path.Dir(p)]
			if !ok || byPath[path.Dir(p)].Mode&ModeTypeMask != ModeDir {
				return nil, errors.New("sealed file " + p + " is below a non-directory")
			}
			e.Parent = par
			base := path.Base(p)
			if len(base) > 255 {
				return nil, errors.New("sealed file " + p + " has a name longer than 255 bytes")
			}
			e.NameOff, e.NameLen = uint32(len(names)), uint32(len(base))
			names = append(names, base...)
		}
		ents[i] = e
	}
	namesOff := uint64(FilesHeaderSize + FileEntrySize*len(ents))
	off := align8(namesOff + uint64(len(names)))
	for i, p := range paths {
		f := byPath[p]
		if f.Mode&ModeTypeMask == ModeDir {
			continue
		}
		ents[i].Off, ents[i].Size = off, uint64(len(f.Data))
		off = align8(off + uint64(len(f.Data)))
	}
	out := make([]byte, off)
	copy(out, FilesMagic)
	le := binary.LittleEndian
	le.PutUint32(out[8:], uint32(len(ents)))
	le.PutUint64(out[16:], namesOff)
	le.PutUint64(out[24:], off)
	for i, e := range ents {
		e.put(out[FilesHeaderSize+FileEntrySize*i:])
		if f := byPath[paths[i]]; f.Mode&ModeTypeMask != ModeDir {
			copy(out[e.Off:], f.Data)
		}
	}
	copy(out[namesOff:], names)
	return out, nil
}

// CheckFiles validates an archive's structure: what the guest kernel relies
// on (bounds, parents before children, parents are directories).
func CheckFiles(b []byte) (count int, err error) {
	bad := errors.New("corrupt sealed-files archive")
	if len(b) < FilesHeaderSize || string(b[:8]) != FilesMagic {
		return 0, bad
	}
	le := binary.LittleEndian
	n := uint64(le.Uint32(b[8:]))
	namesOff, total := le.Uint64(b[16:]), le.Uint64(b[24:])
	if total != uint64(len(b)) || n == 0 || namesOff != FilesHeaderSize+FileEntrySize*n || namesOff > total {
		return 0, bad
	}
	for i := uint64(0); i < n; i++ {
		e := GetFileEntry(b[FilesHeaderSize+FileEntrySize*i:])
		if i == 0 {
			if e.Mode&ModeTypeMask != ModeDir {
				return 0, bad
			}
			continue
		}
		if uint64(e.Parent) >= i || GetFileEntry(b[FilesHeaderSize+FileEntrySize*uint64(e.Parent):]).Mode&ModeTypeMask != ModeDir {
			return 0, bad
		}
		if e.NameLen == 0 || e.NameLen > 255 || namesOff+uint64(e.NameOff)+uint64(e.NameLen) > total {
			return 0, bad
		}
		name := string(b[namesOff+uint64(e.NameOff) : namesOff+uint64(e.NameOff)+uint64(e.NameLen)])
		if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return 0, bad
		}
		switch e.Mode & ModeTypeMask {
		case ModeDir:
		case ModeReg, ModeSymlink:
			if e.Off > total || e.Size > total-e.Off {
				return 0, bad
			}
		default:
			return 0, bad
		}
	}
	return int(n), nil
}

// DecodeFiles lists an archive's entries as paths (for tests and tools).
func DecodeFiles(b []byte) ([]SealedFile, error) {
	n, err := CheckFiles(b)
	if err != nil {
		return nil, err
	}
	namesOff := binary.LittleEndian.Uint64(b[16:])
	paths := make([]string, n)
	paths[0] = "/"
	out := make([]SealedFile, 0, n-1)
	for i := 1; i < n; i++ {
		e := GetFileEntry(b[FilesHeaderSize+FileEntrySize*i:])
		name := string(b[namesOff+uint64(e.NameOff) : namesOff+uint64(e.NameOff)+uint64(e.NameLen)])
		paths[i] = path.Join(paths[e.Parent], name)
		f := SealedFile{Path: paths[i], Mode: e.Mode, Mtime: e.Mtime}
		if e.Mode&ModeTypeMask != ModeDir {
			f.Data = b[e.Off : e.Off+e.Size]
		}
		out = append(out, f)
	}
	return out, nil
}

// FileMode converts a Go file mode to the archive's st_mode, or false for
// types the archive cannot hold.
func FileMode(m fs.FileMode) (uint32, bool) {
	perm := uint32(m.Perm())
	switch {
	case m.IsDir():
		return ModeDir | perm, true
	case m.IsRegular():
		return ModeReg | perm, true
	case m&fs.ModeSymlink != 0:
		return ModeSymlink | 0o777, true
	}
	return 0, false
}

func align8(x uint64) uint64 { return (x + 7) &^ 7 }

func quote(s string) string { return "\"" + s + "\"" }
