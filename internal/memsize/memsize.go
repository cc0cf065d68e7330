// Package memsize estimates what the Go allocator spends on an object, for
// caches that bound their memory by what they keep rather than by count.
package memsize

import (
	"runtime"
	"slices"
)

// Alloc returns the bytes the allocator spends on an object of n bytes: the
// smallest size class that holds it, or whole 8 KiB pages beyond 32 KiB.
func Alloc(n int) int {
	if n <= 0 {
		return 0
	}
	if n > maxSmall {
		return (n + 8191) &^ 8191
	}
	i, _ := slices.BinarySearch(classes[:], uint16(n))
	return int(classes[i])
}

const maxSmall = 32 << 10

// classes are the runtime's small-object size classes
// (internal/runtime/gc/sizeclasses.go, unchanged since Go 1.21).
var classes = [...]uint16{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

// Heap returns the bytes of live heap objects after a full collection, for
// tests that bound what a structure keeps by the heap's growth. It collects
// twice: objects with finalizers, and what only they kept, are freed by the
// second cycle.
func Heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
