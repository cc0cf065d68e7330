// Package keyalg decides which public keys may verify which JWS algorithms.
// It is shared by jwks (which keys to keep) and middleware (which key may
// verify this token), so the two can never disagree.
package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"slices"
)

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
const MinRSABits = 2048

// Supported lists the asymmetric JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1)
// in a fixed order. HS* and "none" are deliberately absent.
var Supported = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// IsSupported reports whether alg is one of Supported.
func IsSupported(alg string) bool {
	return slices.Contains(Supported, alg)
}

// Usable reports whether pub is a key this library will ever verify with:
// RSA of at least MinRSABits, ECDSA on P-256/P-384/P-521, or Ed25519.
func Usable(pub crypto.PublicKey) bool {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.N != nil && k.N.BitLen() >= MinRSABits
	case *ecdsa.PublicKey:
		return k.Curve == elliptic.P256() || k.Curve == elliptic.P384() || k.Curve == elliptic.P521()
	case ed25519.PublicKey:
		return len(k) == ed25519.PublicKeySize
	}
	return false
}

// Compatible reports whether pub may verify a signature made with alg: the
// key type must be the algorithm's, an EC key must be on the algorithm's
// curve (ES256↔P-256, ES384↔P-384, ES512↔P-521), and an RSA key at least
// MinRSABits long. golang-jwt checks only the Go type, so an ES384 token
// would otherwise verify against a P-256 key.
func Compatible(alg string, pub crypto.PublicKey) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := pub.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= MinRSABits
	case "ES256":
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	case "ES384":
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P384()
	case "ES512":
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P521()
	case "EdDSA":
		k, ok := pub.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}
