package kernel

import (
	"bytes"
	"math/rand"
	"testing"
	"unsafe"
)

// testMemory points the frame allocator at a Go buffer, so that the file
// tree's code runs natively in tests (frames are plain addresses).
func testMemory(t *testing.T, pages int) {
	t.Helper()
	buf := make([]byte, (pages+1)*pageSize)
	base := (uint64(uintptr(unsafe.Pointer(&buf[0]))) + pageSize - 1) &^ (pageSize - 1)
	frameNext, frameLimit = base, base+uint64(pages)*pageSize
	freeList, freeCount, usedFrames = 0, 0, 0
	kmFree = [numClasses]uint64{}
	t.Cleanup(func() { _ = buf[0] }) // keep buf alive while frames are in use
}

// TestTmpfsModel writes, truncates and reads a tmpfs file at random
// offsets (holes, page and table boundaries, growth of the tree) and
// compares it with a byte slice.
func TestTmpfsModel(t *testing.T) {
	testMemory(t, 8192)
	tmpMaxPages, tmpPages = 1<<20, 0
	var nd inode
	nd.kind = ndReg
	var model []byte
	r := rand.New(rand.NewSource(2))
	src := make([]byte, 3<<20)
	r.Read(src)
	dst := make([]byte, 3<<20)
	for step := 0; step < 3000; step++ {
		switch r.Intn(5) {
		case 0, 1, 2: // write
			off := r.Intn(6 << 20)
			if r.Intn(4) == 0 {
				off = r.Intn(3*pageSize + 100)
			}
			n := r.Intn(3 * pageSize)
			if r.Intn(20) == 0 {
				n = r.Intn(len(src))
			}
			p := uint64(uintptr(unsafe.Pointer(&src[0])))
			if got := tmpWrite(&nd, p, uint64(n), int64(off)); got != int64(n) {
				t.Fatalf("step %d: write %d at %d = %d", step, n, off, got)
			}
			if off+n > len(model) {
				model = append(model, make([]byte, off+n-len(model))...)
			}
			copy(model[off:], src[:n])
		case 3: // truncate
			size := r.Intn(len(model) + 2*pageSize + 1)
			if r.Intn(8) == 0 {
				size = 0
			}
			tmpTruncate(&nd, int64(size))
			if size < len(model) {
				model = model[:size]
			} else {
				model = append(model, make([]byte, size-len(model))...)
			}
		case 4: // read
			off := r.Intn(len(model) + 1)
			n := r.Intn(len(dst))
			p := uint64(uintptr(unsafe.Pointer(&dst[0])))
			got := tmpRead(&nd, p, uint64(n), int64(off))
			want := min(n, len(model)-off)
			if got != int64(want) || !bytes.Equal(dst[:want], model[off:off+want]) {
				t.Fatalf("step %d: read %d at %d = %d (want %d), contents differ: %v", step, n, off, got, want, !bytes.Equal(dst[:max(got, 0)], model[off:off+int(max(got, 0))]))
			}
		}
		if nd.size != int64(len(model)) {
			t.Fatalf("step %d: size %d, model %d", step, nd.size, len(model))
		}
	}
	// Everything is given back.
	tmpTruncate(&nd, 0)
	if tmpPages != 0 || nd.data != 0 {
		t.Fatalf("after truncate to 0: %d pages still counted, root %#x", tmpPages, nd.data)
	}
}

// TestTmpfsFull: writes stop at the size limit with ENOSPC, and what was
// written is kept.
func TestTmpfsFull(t *testing.T) {
	testMemory(t, 256)
	tmpMaxPages, tmpPages = 16, 0
	var nd inode
	nd.kind = ndReg
	src := make([]byte, 64*pageSize)
	p := uint64(uintptr(unsafe.Pointer(&src[0])))
	got := tmpWrite(&nd, p, uint64(len(src)), 0)
	if got <= 0 || got >= int64(len(src)) {
		t.Fatalf("write past the limit = %d, want a short write", got)
	}
	if again := tmpWrite(&nd, p, pageSize, nd.size); again != -eNOSPC {
		t.Fatalf("write when full = %d, want -ENOSPC", again)
	}
	tmpTruncate(&nd, 0)
	if tmpPages != 0 {
		t.Fatalf("%d pages counted after truncate", tmpPages)
	}
}

// TestKmalloc allocates and frees chunks of every class at random and
// checks that live chunks never overlap (each holds a pattern).
func TestKmalloc(t *testing.T) {
	testMemory(t, 1<<15)
	type chunk struct {
		p   uint64
		cls uint8
		pat byte
	}
	var live []chunk
	r := rand.New(rand.NewSource(3))
	fill := func(c chunk) []byte {
		return unsafe.Slice((*byte)(unsafe.Pointer(uintptr(c.p))), 1<<(minClassShift+c.cls))
	}
	for step := 0; step < 20000; step++ {
		if len(live) > 0 && r.Intn(3) == 0 {
			i := r.Intn(len(live))
			c := live[i]
			for _, b := range fill(c) {
				if b != c.pat {
					t.Fatalf("step %d: chunk %#x (class %d) was overwritten", step, c.p, c.cls)
				}
			}
			kfree(c.p, c.cls)
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
			continue
		}
		n := uint64(1 + r.Intn(pageSize))
		cls := sizeClass(n)
		if uint64(1)<<(minClassShift+cls) < n {
			t.Fatalf("class %d too small for %d", cls, n)
		}
		c := chunk{p: kmalloc(cls), cls: cls, pat: byte(r.Intn(255) + 1)}
		if c.p == 0 {
			t.Fatalf("step %d: out of memory", step)
		}
		b := fill(c)
		for i := range b {
			b[i] = c.pat
		}
		live = append(live, c)
	}
}
