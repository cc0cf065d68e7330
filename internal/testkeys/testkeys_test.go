package testkeys

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// Every prime of the set makes valid keys: the pairs (0,1), (2,3), …
// cover them all, and each key signs what crypto/rsa verifies.
func TestEveryPrimeMakesAKey(t *testing.T) {
	digest := sha256.Sum256([]byte("payload"))
	for i := 0; i+1 < len(primes); i += 2 {
		k, err := fromPrimes(shared.primes[i], shared.primes[i+1])
		if err != nil {
			t.Fatalf("primes %d and %d: %v", i, i+1, err)
		}
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatalf("primes %d and %d: sign: %v", i, i+1, err)
		}
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("primes %d and %d: verify: %v", i, i+1, err)
		}
	}
}

// A pool never repeats a key, and generates them once its pairs are used:
// a repeat would let a test's "forger" sign as its issuer.
func TestPoolKeysAreDistinct(t *testing.T) {
	p := newPool(primes[:5]) // 10 pairs
	seen := map[string]bool{}
	for i := range 11 {
		k := p.rsa()
		if k.N.BitLen() != Bits {
			t.Fatalf("key %d: %d bits, want %d", i, k.N.BitLen(), Bits)
		}
		if n := k.N.Text(16); seen[n] {
			t.Fatalf("key %d repeats an earlier modulus", i)
		} else {
			seen[n] = true
		}
	}
	if _, _, ok := p.next(); ok {
		t.Fatal("a pool of 5 primes gave more than 10 pairs")
	}
}

func TestForEveryAlgorithm(t *testing.T) {
	for _, alg := range keyalg.Supported {
		k := For(alg)
		if !keyalg.Compatible(alg, k.Public()) {
			t.Errorf("For(%q) = %T, which %s cannot use", alg, k, alg)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("For(HS256) did not panic")
		}
	}()
	For("HS256")
}
