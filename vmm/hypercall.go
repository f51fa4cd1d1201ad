package vmm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/motevm/mote/abi"
	"github.com/motevm/mote/vmm/kvm"
)

// maxWrite caps one HcWrite; the guest sees a short write.
const maxWrite = 1 << 20

// errno values returned to the guest.
const (
	eIO    = 5
	eBADF  = 9
	eFAULT = 14
	ePIPE  = 32
)

// hypercall serves an MMIO exit on the hypercall page. It returns false if
// the access is not a well-formed hypercall.
func (v *vm) hypercall(c *vcpu, m kvm.MMIO) bool {
	nr, ok := hcNumber(m.PhysAddr)
	if !ok || !m.IsWrite || m.Len != 8 {
		return false
	}
	val := binary.LittleEndian.Uint64(m.Data[:])
	if nr < abi.NumHypercalls {
		v.hcalls[nr].Add(1)
	}
	switch nr {
	case abi.HcExit:
		v.stop(int(int32(val)) & 0xFF)
	case abi.HcWrite:
		v.hcWrite(c, val)
	case abi.HcIdle:
		v.idle(c, val)
	case abi.HcFatal:
		v.hcFatal(c, val)
	case abi.HcRead:
		v.hcRead(c, val)
	case abi.HcWake:
		if val >= uint64(len(v.cpus)) {
			v.crash(c, fmt.Sprintf("HcWake of vCPU %d, which does not exist", val), nil)
			return true
		}
		select {
		case v.cpus[val].wake <- struct{}{}:
		default: // already pending
		}
	default:
		return false
	}
	return true
}

const writeArgsSize = 32 // abi.WriteArgs

// hcWrite writes the guest buffer described by the WriteArgs at gpa to the
// console and stores the result (bytes written or -errno).
func (v *vm) hcWrite(c *vcpu, gpa uint64) {
	v.consoleIO(c, gpa, "HcWrite", func(fd uint64, data []byte) int64 { return v.out.write(fd, data) })
}

// consoleIO serves HcWrite and HcRead: it reads the WriteArgs at gpa,
// bounds-checks the buffer (at most maxWrite bytes), runs do on it and
// stores the result. A buffer outside RAM gives -EFAULT; WriteArgs outside
// RAM is a guest bug and crashes it.
func (v *vm) consoleIO(c *vcpu, gpa uint64, name string, do func(fd uint64, data []byte) int64) {
	args, ok := v.mem.slice(gpa, writeArgsSize)
	if !ok {
		v.crash(c, fmt.Sprintf("%s with its arguments at %#x, outside guest RAM", name, gpa), nil)
		return
	}
	le := binary.LittleEndian
	fd, buf, n := le.Uint64(args[0:]), le.Uint64(args[8:]), le.Uint64(args[16:])
	res := int64(-eFAULT)
	if data, ok := v.mem.slice(buf, min(n, maxWrite)); ok {
		res = do(fd, data)
	}
	le.PutUint64(args[24:], uint64(res))
}

// consoleOut is the guest's stdout and stderr, plus the tail of both for
// crash reports.
type consoleOut struct {
	mu             sync.Mutex
	stdout, stderr io.Writer
	tail           []byte // last tailSize bytes written to either
}

const tailSize = 2048

func (o *consoleOut) write(fd uint64, data []byte) int64 {
	var w io.Writer
	switch fd {
	case 1:
		w = o.stdout
	case 2:
		w = o.stderr
	default:
		return -eBADF
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, data[max(0, len(data)-tailSize):]...)
	if len(o.tail) > tailSize {
		o.tail = append(o.tail[:0], o.tail[len(o.tail)-tailSize:]...)
	}
	n, err := w.Write(data)
	if n > 0 || err == nil {
		return int64(n)
	}
	if errors.Is(err, syscall.EPIPE) {
		return -ePIPE
	}
	return -eIO
}

func (o *consoleOut) lastOutput() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]byte(nil), o.tail...)
}
