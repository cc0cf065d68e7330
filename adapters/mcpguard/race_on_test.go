//go:build race

package mcpguard_test

// raceEnabled: the race detector changes what a request allocates, so
// the tests that bound allocations only report them under it.
const raceEnabled = true
