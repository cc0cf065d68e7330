package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyAgreesWithGolangJWT: for every algorithm, what
// golang-jwt signs verifies, and a flipped bit does not.
func TestVerifyAgreesWithGolangJWT(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]crypto.Signer{
		"RS256": rsaKey, "RS384": rsaKey, "RS512": rsaKey, "PS256": rsaKey, "PS384": rsaKey, "PS512": rsaKey,
		"ES256": p256, "ES384": p384, "ES512": p521, "EdDSA": edKey,
	}
	const signed = "eyJhbGciOiJ4In0.eyJzdWIiOiJ4In0"
	for alg, key := range keys {
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
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
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
