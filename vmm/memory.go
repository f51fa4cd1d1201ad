package vmm

import (
	"encoding/binary"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/motevm/mote/abi"
)

// memory is guest RAM: guest-physical [0, len(b)). Every access with a
// guest-supplied address goes through the bounds-checked helpers below.
type memory struct {
	b []byte
}

// Host backing strategies for guest RAM (see newMemory).
const (
	backLazy         = iota + 1 // plain anonymous mapping, faulted on first touch
	backPopulate                // MAP_POPULATE: pre-fault everything at boot
	backHuge                    // MADV_HUGEPAGE: transparent huge pages, faulted lazily
	backHugePopulate            // MADV_HUGEPAGE, then pre-fault
)

// newMemory maps size bytes of anonymous memory for the guest.
func newMemory(size uint64, backing int) (*memory, error) {
	flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_NORESERVE
	if backing == backPopulate {
		flags |= unix.MAP_POPULATE
	}
	// Map 2 MiB more and trim, so that guest 2 MiB pages are host 2 MiB
	// aligned (a precondition for transparent huge pages backing them).
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(size+twoMiB), unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil, err
	}
	head := (twoMiB - uintptr(p)%twoMiB) % twoMiB
	if head > 0 {
		unix.MunmapPtr(p, head)
	}
	if tail := twoMiB - head; tail > 0 {
		unix.MunmapPtr(unsafe.Add(p, head+uintptr(size)), tail)
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, head)), size)
	if backing == backHuge || backing == backHugePopulate {
		unix.Madvise(b, unix.MADV_HUGEPAGE) // best effort
	}
	if backing == backHugePopulate {
		unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
	return &memory{b: b}, nil
}

// mapFile maps length bytes of f from offset off over guest RAM [gpa,
// gpa+length), private: the guest reads the host's page cache of f, one
// copy shared by every guest that maps the same file, and a page it writes
// becomes its own. gpa, off and length are page aligned.
func (m *memory) mapFile(gpa uint64, f *os.File, off, length uint64) error {
	if length == 0 {
		return nil
	}
	if gpa%abi.PageSize != 0 || off%abi.PageSize != 0 || length%abi.PageSize != 0 || gpa+length > m.size() || gpa+length < gpa {
		return fmt.Errorf("mapFile: bad range %#x+%#x from %#x", gpa, length, off)
	}
	_, err := unix.MmapPtr(int(f.Fd()), int64(off), unsafe.Pointer(&m.b[gpa]), uintptr(length),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED)
	return err
}

func (m *memory) free() {
	if m.b != nil {
		unix.MunmapPtr(unsafe.Pointer(&m.b[0]), uintptr(len(m.b)))
		m.b = nil
	}
}

func (m *memory) size() uint64 { return uint64(len(m.b)) }

// slice returns guest RAM [gpa, gpa+n), or false if any of it is outside RAM.
func (m *memory) slice(gpa, n uint64) ([]byte, bool) {
	end := gpa + n
	if end < gpa || end > uint64(len(m.b)) {
		return nil, false
	}
	return m.b[gpa:end:end], true
}

// u64 reads the little-endian uint64 at gpa.
func (m *memory) u64(gpa uint64) (uint64, bool) {
	b, ok := m.slice(gpa, 8)
	if !ok {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b), true
}

// put64 writes a little-endian uint64 at gpa.
func (m *memory) put64(gpa, v uint64) bool {
	b, ok := m.slice(gpa, 8)
	if ok {
		binary.LittleEndian.PutUint64(b, v)
	}
	return ok
}

// mustPut64 writes monitor-chosen (known in-range) addresses.
func (m *memory) mustPut64(gpa, v uint64) {
	if !m.put64(gpa, v) {
		panic("vmm: internal error: write outside guest RAM")
	}
}
