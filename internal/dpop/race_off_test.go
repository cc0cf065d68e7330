//go:build !race

package dpop

// raceEnabled: see race_on_test.go.
const raceEnabled = false
