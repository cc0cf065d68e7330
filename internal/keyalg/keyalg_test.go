package keyalg

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

func TestCompatible(t *testing.T) {
	rsa2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]any{
		"rsa2048": &rsa2048.PublicKey, "rsa1024": &rsa1024.PublicKey,
		"p256": &p256.PublicKey, "p384": &p384.PublicKey, "p521": &p521.PublicKey, "p224": &p224.PublicKey,
		"ed25519": edPub, "hmac": []byte("secret"),
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
		a := Lookup(name)
		key, err := a.GenerateKey(2048)
		if err != nil {
			t.Fatal(err)
		}
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
