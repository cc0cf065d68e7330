//go:build race

package dpop

// raceEnabled shrinks the million-proof test under the race detector.
const raceEnabled = true
