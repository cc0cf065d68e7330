//go:build !race

package mcpguard_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
