package bench

import (
	"testing"
)

// TestFairness runs the benchmark's admission check for every contender and
// algorithm as a plain test (go test ./... runs it), and checks that the
// check itself bites: an accept-everything verifier and floor-crypto asked
// about audiences must fail it.
func TestFairness(t *testing.T) {
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			f := newFixture(t, alg)
			eachContender(t, f, func(t *testing.T, c contender, newOp func(string) func() bool) {
				if err := fairness(c, f, newOp); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("check-bites", func(t *testing.T) {
				acceptAll := func(string) func() bool { return func() bool { return true } }
				if fairness(contender{name: "accept-all"}, f, acceptAll) == nil {
					t.Error("an accept-everything verifier passes the fairness check")
				}
				floor, _ := setupFloorCrypto(t, f)
				if fairness(contender{name: "floor-crypto-as-verifier", checksClaims: true}, f, floor) == nil {
					t.Error("a signature-only check passes the audience part of the fairness check")
				}
			})
		})
	}
}
