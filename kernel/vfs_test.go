package kernel

import (
	"bytes"
	"math/rand"
	"runtime"
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
	fsMaxPages[0], fsPages[0] = 1<<20, 0
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
	if fsPages[0] != 0 || nd.data != 0 {
		t.Fatalf("after truncate to 0: %d pages still counted, root %#x", fsPages[0], nd.data)
	}
}

// TestTmpfsFull: writes stop at the size limit with ENOSPC, and what was
// written is kept.
func TestTmpfsFull(t *testing.T) {
	testMemory(t, 256)
	fsMaxPages[0], fsPages[0] = 16, 0
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
	if fsPages[0] != 0 {
		t.Fatalf("%d pages counted after truncate", fsPages[0])
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

// testTree builds a tree of "/" (read-only) and a tmpfs "/tmp" in test
// memory, the working directory at "/", and lets the system calls take Go
// memory as user memory.
func testTree(t *testing.T) {
	testMemory(t, 1024)
	oldMem := memSize
	memSize = 1 << 47
	t.Cleanup(func() { memSize = oldMem })
	inodePages, inodeSlots, inodeFreeL = [maxTablePages]uint64{}, 0, 0
	direntPages, direntSlots, direntFreeL = [maxTablePages]uint64{}, 0, 0
	root := newInode(ndDir, fsRoot, 0o755)
	ind(root).parent = root
	ind(root).opens++
	cwdIno = root
	tmp := mk(root, "tmp", ndDir, 0o1777, 0)
	ind(tmp).fs = fsTmp
}

// TestPathCalls runs path system calls on a small tree: a trailing slash
// on a symbolic link to a directory must not make rmdir, unlink or rename
// act on the directory, and a removed directory takes no new entries.
func TestPathCalls(t *testing.T) {
	testTree(t)
	var keep [][]byte
	p := func(s string) uint64 {
		b := append([]byte(s), 0)
		keep = append(keep, b)
		return uint64(uintptr(unsafe.Pointer(&b[0])))
	}
	const cwd = ^uint64(99)
	steps := []struct {
		name string
		r    int64
		want int64
	}{
		{"mkdir d", sysMkdirat(cwd, p("/tmp/d"), 0o755), 0},
		{"mknod f", sysMknodat(cwd, p("/tmp/f"), 0o644), 0},
		{"symlink ld", sysSymlinkat(p("d"), cwd, p("/tmp/ld")), 0},
		{"symlink dang", sysSymlinkat(p("nothing"), cwd, p("/tmp/dang")), 0},
		{"rmdir ld/", sysUnlinkat(cwd, p("/tmp/ld/"), atRemovedir), -eNOTDIR},
		{"rmdir dang/", sysUnlinkat(cwd, p("/tmp/dang/"), atRemovedir), -eNOTDIR},
		{"unlink ld/", sysUnlinkat(cwd, p("/tmp/ld/"), 0), -eNOTDIR},
		{"unlink f/", sysUnlinkat(cwd, p("/tmp/f/"), 0), -eNOTDIR},
		{"unlink missing/", sysUnlinkat(cwd, p("/tmp/missing/"), 0), -eNOENT},
		{"rename ld/", sysRenameat2(cwd, p("/tmp/ld/"), cwd, p("/tmp/x"), 0), -eNOTDIR},
		{"rename f to missing/", sysRenameat2(cwd, p("/tmp/f"), cwd, p("/tmp/missing/"), 0), -eNOTDIR},
		{"rename to root", sysRenameat2(cwd, p("/tmp/f"), cwd, p("/f"), 0), -eXDEV},
		{"rename to dot", sysRenameat2(cwd, p("/tmp/f"), cwd, p("/tmp/d/."), 0), -eBUSY},
		{"mkdir f/", sysMkdirat(cwd, p("/tmp/f/"), 0o755), -eEXIST},
		{"mkdir in root", sysMkdirat(cwd, p("/x"), 0o755), -eROFS},
		{"symlink missing/", sysSymlinkat(p("zz"), cwd, p("/tmp/missing/")), -eNOENT},
		{"link f to ld/", sysLinkat(cwd, p("/tmp/f"), cwd, p("/tmp/ld/"), 0), -eEXIST},
		{"creat f/", sysOpenat(cwd, p("/tmp/f/"), oCreat|oWronly, 0o644), -eISDIR},
		{"creat|directory", sysOpenat(cwd, p("/tmp/new"), oCreat|oDirectory, 0o644), -eINVAL},
		{"d still there", min(resolve(cwd, p("/tmp/d"), false), 1), 1},
		{"rmdir d/", sysUnlinkat(cwd, p("/tmp/d/"), atRemovedir), 0},
		{"mkdir r", sysMkdirat(cwd, p("/tmp/r"), 0o755), 0},
		{"chdir r", sysChdir(resolve(cwd, p("/tmp/r"), false)), 0},
		{"rmdir r", sysUnlinkat(cwd, p("/tmp/r"), atRemovedir), 0},
		{"mkdir in removed", sysMkdirat(cwd, p("x"), 0o755), -eNOENT},
		{"symlink in removed", sysSymlinkat(p("t"), cwd, p("y")), -eNOENT},
		{"creat in removed", sysOpenat(cwd, p("z"), oCreat|oWronly, 0o644), -eNOENT},
		{"chdir /", sysChdir(rootIno), 0},
	}
	for _, s := range steps {
		if s.r != s.want {
			t.Errorf("%s = %d, want %d", s.name, s.r, s.want)
		}
	}
	runtime.KeepAlive(keep)
}

// TestFileTimes: times before 1970 have their seconds floored and
// nanoseconds in [0, 1e9), as Linux reports them.
func TestFileTimes(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		want ftime
	}{
		{0, ftime{0, 0}},
		{1e9 + 5, ftime{1, 5}},
		{-1, ftime{-1, 999999999}},
		{-1e9, ftime{-1, 0}},
		{-100000000*1e9 + 5e8, ftime{-100000000, 5e8}},
	} {
		if got := nsTime(c.ns); got != c.want {
			t.Errorf("nsTime(%d) = %+v, want %+v", c.ns, got, c.want)
		}
	}
}

// TestTmpfsKeepSize: pages reserved past the size (fallocate with
// FALLOC_FL_KEEP_SIZE) are given back when the file goes.
func TestTmpfsKeepSize(t *testing.T) {
	testMemory(t, 256)
	fsMaxPages[0], fsPages[0] = 64, 0
	var nd inode
	nd.kind = ndReg
	for pg := uint64(0); pg < 3; pg++ {
		if tmpPage(&nd, pg, true) == 0 {
			t.Fatalf("page %d: out of memory", pg)
		}
	}
	tmpTruncate(&nd, 0)
	if fsPages[0] != 0 || nd.data != 0 {
		t.Fatalf("after truncate to 0: %d pages still counted, root %#x", fsPages[0], nd.data)
	}
}
