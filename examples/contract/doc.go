// Package contract holds the black-box test that drives every example
// server over real HTTP and checks each rule of examples/README.md.
// It has no code of its own; see contract_test.go.
package contract
