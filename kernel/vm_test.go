package kernel

import (
	"math/rand"
	"testing"
	"unsafe"
)

// TestVMAModel drives the mapping table with random reserve/unmap/protect
// operations and compares it with a page-by-page model.
func TestVMAModel(t *testing.T) {
	var table [maxVMAs]vma
	vmaTable = uint64(uintptr(unsafe.Pointer(&table)))
	vmaCap = maxVMAs
	nvma = 0
	const base = userMin + 1<<30
	const npages = 4096
	model := make([]int32, npages) // -1 unmapped, else prot
	for i := range model {
		model[i] = -1
	}
	r := rand.New(rand.NewSource(1))
	for step := 0; step < 20000; step++ {
		p := r.Intn(npages)
		n := 1 + r.Intn(64)
		if p+n > npages {
			n = npages - p
		}
		start, end := uint64(base+p*pageSize), uint64(base+(p+n)*pageSize)
		switch r.Intn(4) {
		case 0, 1: // map fixed
			prot := uint32(r.Intn(4))
			if !vmaRemove(start, end) || !vmaInsert(start, end, prot) {
				t.Fatalf("step %d: table full", step)
			}
			for i := p; i < p+n; i++ {
				model[i] = int32(prot)
			}
		case 2: // unmap
			vmaRemove(start, end)
			for i := p; i < p+n; i++ {
				model[i] = -1
			}
		case 3: // reserve anywhere
			a := findFree(uint64(n) * pageSize)
			if a == 0 {
				t.Fatalf("step %d: findFree failed", step)
			}
			if !rangeFree(a, a+uint64(n)*pageSize) {
				t.Fatalf("step %d: findFree returned a used range %#x", step, a)
			}
		}
		// Check the table is sorted, non-overlapping, and matches the model.
		for i := 0; i < nvma; i++ {
			if table[i].start >= table[i].end || (i > 0 && table[i-1].end > table[i].start) {
				t.Fatalf("step %d: table corrupt at %d: %+v", step, i, table[:nvma])
			}
		}
		for i := 0; i < npages; i++ {
			va := uint64(base + i*pageSize)
			j := vmaFind(va)
			got := int32(-1)
			if j >= 0 {
				got = int32(table[j].prot)
			}
			if got != model[i] {
				t.Fatalf("step %d: page %d: table says %d, model %d", step, i, got, model[i])
			}
			if free := rangeFree(va, va+pageSize); free != (model[i] == -1) {
				t.Fatalf("step %d: page %d: rangeFree %v, model %d", step, i, free, model[i])
			}
		}
	}
}
