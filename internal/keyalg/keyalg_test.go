package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// signers are one private key per algorithm, made once (the same RSA
// key for every RS* and PS* algorithm): RSA generation is slow.
var signers = sync.OnceValue(func() map[string]crypto.Signer {
	m := map[string]crypto.Signer{}
	var rsaKey crypto.Signer
	for _, name := range Supported {
		a := Lookup(name)
		if a.IsRSA() && rsaKey != nil {
			m[name] = rsaKey
			continue
		}
		key, err := a.GenerateKey(MinRSABits)
		if err != nil {
			panic(err)
		}
		if a.IsRSA() {
			rsaKey = key
		}
		m[name] = key
	}
	return m
})

func TestCompatible(t *testing.T) {
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	s := signers()
	keys := map[string]any{
		"rsa2048": s["RS256"].Public(), "rsa1024": &rsa1024.PublicKey,
		"p256": s["ES256"].Public(), "p384": s["ES384"].Public(), "p521": s["ES512"].Public(), "p224": &p224.PublicKey,
		"ed25519": s["EdDSA"].Public(), "hmac": []byte("secret"),
	}
	fits := map[string]string{
		"RS256": "rsa2048", "RS384": "rsa2048", "RS512": "rsa2048",
		"PS256": "rsa2048", "PS384": "rsa2048", "PS512": "rsa2048",
		"ES256": "p256", "ES384": "p384", "ES512": "p521", "EdDSA": "ed25519",
	}
	for _, alg := range append(Supported, "HS256", "none", "") {
		for name, k := range keys {
			want := fits[alg] == name
			if got := Compatible(alg, k); got != want {
				t.Errorf("Compatible(%s, %s) = %v, want %v", alg, name, got, want)
			}
		}
		if IsSupported(alg) != (fits[alg] != "") {
			t.Errorf("IsSupported(%q) = %v", alg, IsSupported(alg))
		}
	}
	for name, k := range keys {
		want := name != "rsa1024" && name != "p224" && name != "hmac"
		if Usable(k) != want {
			t.Errorf("Usable(%s) = %v, want %v", name, Usable(k), want)
		}
	}
}

// Every small-order encoding is refused, and each one really is the danger
// it is listed for: with R = identity and S = 0, some message among the
// first 64 verifies (for a point of order n, one message in n does).
func TestSmallOrderEd25519KeysForge(t *testing.T) {
	identity := make([]byte, 32)
	identity[0] = 1
	sig := append(identity, make([]byte, 32)...)
	for i, y := range smallOrderY {
		for _, sign := range []byte{0, 0x80} {
			k := ed25519.PublicKey(append([]byte(nil), y[:]...))
			k[31] |= sign
			if Usable(k) || Compatible("EdDSA", k) || !SmallOrderEd25519(k) {
				t.Errorf("encoding %d (sign %#x) accepted", i, sign)
			}
			forged := false
			for m := range 64 {
				if ed25519.Verify(k, []byte{byte(m)}, sig) {
					forged = true
					break
				}
			}
			// Go decodes x = 0 with the sign bit set too (y = ±1 and their
			// non-canonical forms): those must forge as well.
			if !forged {
				t.Errorf("encoding %d (sign %#x): no forgery; is it really of small order?", i, sign)
			}
		}
	}
	for range 100 {
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		if SmallOrderEd25519(pub) || !Compatible("EdDSA", pub) {
			t.Fatalf("a genuine key %x refused", pub)
		}
	}
}

// Sign's signatures are the ones Verify accepts, for every algorithm, and
// golang-jwt's too (TestVerifyAgreesWithGolangJWT ties Verify to it).
func TestSignVerifies(t *testing.T) {
	for _, name := range Supported {
		a, key := Lookup(name), signers()[name]
		msg := []byte("header.payload")
		sig, err := a.Sign(key, msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !a.Verify(msg, sig, key.Public()) {
			t.Errorf("%s: Sign's signature does not verify", name)
		}
		if a.Verify([]byte("header.payloaD"), sig, key.Public()) {
			t.Errorf("%s: the signature verifies another message", name)
		}
		other := Lookup(map[bool]string{true: "ES384", false: "ES256"}[name == "ES256"])
		if _, err := other.Sign(key, msg); err == nil {
			t.Errorf("%s key signed for %s", name, other.Name)
		}
	}
}

// TestVerifyAgreesWithGolangJWT: for every algorithm, what
// golang-jwt signs verifies, and a flipped bit does not.
func TestVerifyAgreesWithGolangJWT(t *testing.T) {
	const signed = "eyJhbGciOiJ4In0.eyJzdWIiOiJ4In0"
	for alg, key := range signers() {
		sig, err := jwt.GetSigningMethod(alg).Sign(signed, key)
		if err != nil {
			t.Fatal(alg, err)
		}
		if !Lookup(alg).Verify([]byte(signed), sig, key.Public()) {
			t.Errorf("%s: golang-jwt's signature refused", alg)
		}
		sig[len(sig)/2] ^= 1
		if Lookup(alg).Verify([]byte(signed), sig, key.Public()) {
			t.Errorf("%s: a flipped bit verified", alg)
		}
		if Lookup(alg).Verify([]byte(signed+"."), sig, key.Public()) {
			t.Errorf("%s: another message verified", alg)
		}
	}
}

// PSS signatures with any salt length verify, as with golang-jwt, whose
// PS* methods verify with PSSSaltLengthAuto.
func TestVerifyPSSSaltLengths(t *testing.T) {
	key := signers()["PS256"].(*rsa.PrivateKey)
	const signed = "a.b"
	h := sha256.Sum256([]byte(signed))
	for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto, 0, 16} {
		sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, h[:], &rsa.PSSOptions{SaltLength: salt})
		if err != nil {
			t.Fatal(err)
		}
		if !Lookup("PS256").Verify([]byte(signed), sig, &key.PublicKey) {
			t.Errorf("salt length %d refused", salt)
		}
	}
}

// An RSA key's size and exponent are bounded both ways: a check with a
// huge modulus or exponent costs what the key's publisher chose, for every
// forged token that names it.
func TestRSAKeyBounds(t *testing.T) {
	genuine := signers()["RS256"].Public().(*rsa.PublicKey)
	modulus := func(bits int) *big.Int { // odd, of exactly bits bits
		n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
		return n.Or(n, big.NewInt(1))
	}
	for _, tc := range []struct {
		name string
		key  *rsa.PublicKey
		ok   bool
	}{
		{"a genuine 2048-bit key", genuine, true},
		{"MaxRSABits", &rsa.PublicKey{N: modulus(MaxRSABits), E: 65537}, true},
		{"e = 3", &rsa.PublicKey{N: genuine.N, E: 3}, true},
		{"one bit over MaxRSABits", &rsa.PublicKey{N: modulus(MaxRSABits + 1), E: 65537}, false},
		{"65,536 bits", &rsa.PublicKey{N: modulus(65536), E: 65537}, false},
		{"e = 2^31-1", &rsa.PublicKey{N: genuine.N, E: 1<<31 - 1}, false},
		{"e = 65539", &rsa.PublicKey{N: genuine.N, E: 65539}, false},
		{"e even", &rsa.PublicKey{N: genuine.N, E: 65536}, false},
		{"e = 1", &rsa.PublicKey{N: genuine.N, E: 1}, false},
		{"no modulus", &rsa.PublicKey{E: 65537}, false},
	} {
		if got := Lookup("RS256").Fits(tc.key); got != tc.ok {
			t.Errorf("%s: Fits = %v, want %v (%s)", tc.name, got, tc.ok, RSAKeyProblem(tc.key))
		}
		if got := RSAKeyProblem(tc.key) == ""; got != tc.ok {
			t.Errorf("%s: RSAKeyProblem = %q", tc.name, RSAKeyProblem(tc.key))
		}
	}
}

func TestIndex(t *testing.T) {
	for i, name := range Supported {
		if got := Index(name); got != i || Lookup(name) != &table[i] {
			t.Errorf("Index(%s) = %d, want %d", name, got, i)
		}
	}
	for _, name := range []string{"", "HS256", "none", "rs256", "Ed25519", "ES256 ", "RS2560"} {
		if got := Index(name); got != -1 {
			t.Errorf("Index(%q) = %d, want -1", name, got)
		}
	}
}
