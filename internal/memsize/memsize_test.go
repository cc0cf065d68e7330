package memsize

import (
	"testing"
)

var sink [][]byte

// Alloc says what the heap really grows by: never less, and not much more.
// (Below 32 bytes the runtime packs pointer-free objects together.)
func TestAllocBoundsTheHeap(t *testing.T) {
	for _, n := range []int{32, 100, 1000, 1025, 3000, 4096, 4101, 9000, 20000, 32768, 40000} {
		count := max(1000, (16<<20)/n) // enough that the runtime's own allocations are noise per object
		before := Heap()
		sink = make([][]byte, count)
		for i := range sink {
			sink[i] = make([]byte, n)
		}
		per := (Heap() - before - int64(Alloc(count*24))) / int64(count)
		// 16 bytes of slack per object for the runtime's own allocations.
		if got := int64(Alloc(n)); got < per-16 || got > per+per/8 {
			t.Errorf("Alloc(%d) = %d, the heap grew by %d per object", n, got, per)
		}
		sink = nil
	}
}
