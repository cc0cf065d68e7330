//go:build race

package middleware_test

// raceEnabled: the race detector makes every memory access several times
// slower, so the flood tests use smaller floods under it; the properties
// they check do not depend on the size (the race detector is there for the
// concurrency, which the smaller flood exercises as well).
const raceEnabled = true
