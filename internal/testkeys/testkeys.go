// Package testkeys gives tests private keys for any JWS algorithm without
// paying for RSA key generation each time.
//
// A 2048-bit RSA key takes about 100 ms to generate, 200 ms under the race
// detector, and this library's tests make hundreds: an issuer, a forger, a
// rotation each. RSA returns instead the product of two primes taken from a
// fixed set (primes.go, written by gen.go), a pair no earlier call in the
// process used, so every key a test sees is distinct, with its own modulus,
// and is built in well under a millisecond. When the pairs run out it
// generates keys as usual.
//
// These keys share factors with each other, their primes are public and
// every process starts with the same ones: they are for tests only. The
// library never imports this package; jwkstest does, and uses it only in a
// test binary (testing.Testing), never in an example server's dev mode.
package testkeys

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"
	"sync"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// Bits is the size of the RSA keys RSA returns.
const Bits = 2048

// shared hands out the pairs of primes.go to the whole process.
var shared = newPool(primes[:])

// RSA returns a 2048-bit RSA key that no earlier call in this process
// returned. It panics if it cannot make one, as a test can do nothing else.
func RSA() *rsa.PrivateKey { return shared.rsa() }

// For returns a new private key for the JWS algorithm alg: RSA's for the
// RS* and PS* algorithms, a fresh key on the curve for ES* and EdDSA. It
// panics for an algorithm keyalg does not support.
func For(alg string) crypto.Signer {
	a := keyalg.Lookup(alg)
	if a == nil {
		panic(fmt.Sprintf("testkeys: unsupported algorithm %q", alg))
	}
	if a.IsRSA() {
		return RSA()
	}
	k, err := a.GenerateKey(Bits)
	if err != nil {
		panic(fmt.Sprintf("testkeys: generating a %s key: %v", alg, err))
	}
	return k
}

// A pool makes keys of the pairs of its primes, each pair once, in order:
// (0,1), (0,2), …, (1,2), …; then it generates them.
type pool struct {
	mu     sync.Mutex
	primes []*big.Int
	i, j   int // the next pair
}

func newPool(hex []string) *pool {
	p := &pool{primes: make([]*big.Int, len(hex)), i: 0, j: 1}
	for k, h := range hex {
		p.primes[k], _ = new(big.Int).SetString(h, 16)
	}
	return p
}

func (p *pool) rsa() *rsa.PrivateKey {
	if a, b, ok := p.next(); ok {
		if k, err := fromPrimes(a, b); err == nil {
			return k
		}
	}
	k, err := rsa.GenerateKey(rand.Reader, Bits)
	if err != nil {
		panic(fmt.Sprintf("testkeys: generating an RSA key: %v", err))
	}
	return k
}

// next returns the next unused pair of primes, or false once all are used.
func (p *pool) next() (a, b *big.Int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.i >= len(p.primes)-1 {
		return nil, nil, false
	}
	a, b = p.primes[p.i], p.primes[p.j]
	if p.j++; p.j == len(p.primes) {
		p.i++
		p.j = p.i + 1
	}
	return a, b, true
}

// fromPrimes builds the RSA key with factors p and q and exponent 65537,
// checked by crypto/rsa as any key is.
func fromPrimes(p, q *big.Int) (*rsa.PrivateKey, error) {
	one := big.NewInt(1)
	p1 := new(big.Int).Sub(p, one)
	q1 := new(big.Int).Sub(q, one)
	g := new(big.Int).GCD(nil, nil, p1, q1)
	lambda := new(big.Int).Div(new(big.Int).Mul(p1, q1), g)
	const e = 65537
	d := new(big.Int).ModInverse(big.NewInt(e), lambda)
	if d == nil {
		return nil, fmt.Errorf("testkeys: e is not invertible")
	}
	k := &rsa.PrivateKey{
		PublicKey: rsa.PublicKey{N: new(big.Int).Mul(p, q), E: e},
		D:         d,
		Primes:    []*big.Int{new(big.Int).Set(p), new(big.Int).Set(q)},
	}
	if k.N.BitLen() != Bits {
		return nil, fmt.Errorf("testkeys: modulus of %d bits", k.N.BitLen())
	}
	k.Precompute()
	if err := k.Validate(); err != nil {
		return nil, err
	}
	return k, nil
}
