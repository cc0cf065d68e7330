package testkeys

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// Every key is distinct, of the advertised size, and signs what crypto/rsa
// verifies; a repeat would let a test's "forger" sign as its issuer.
func TestRSAKeysAreDistinctAndWork(t *testing.T) {
	seen := map[string]bool{}
	digest := sha256.Sum256([]byte("payload"))
	for i := range len(primes)*(len(primes)-1)/2 + 2 { // every pair, then generation
		k := RSA()
		if k.N.BitLen() != Bits {
			t.Fatalf("key %d: %d bits, want %d", i, k.N.BitLen(), Bits)
		}
		if n := k.N.Text(16); seen[n] {
			t.Fatalf("key %d repeats an earlier modulus", i)
		} else {
			seen[n] = true
		}
		if i%97 != 0 && i < len(primes)*(len(primes)-1)/2 {
			continue // signing every key would take seconds under -race
		}
		sig, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest[:])
		if err != nil {
			t.Fatalf("key %d: sign: %v", i, err)
		}
		if err := rsa.VerifyPKCS1v15(&k.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("key %d: verify: %v", i, err)
		}
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
