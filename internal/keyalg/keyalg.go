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
		return usableEd25519(k)
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
		return ok && usableEd25519(k)
	}
	return false
}

// usableEd25519 refuses keys of the wrong length and keys of small order.
// ed25519.Verify is cofactorless: with A in the 8-torsion subgroup, the
// signature R = identity, S = 0 satisfies [S]B = R + [k]A whenever [k]A is
// the identity, for one message in at most eight, so whoever can choose the
// message (any token minter) forges at will. No honest key is ever of small
// order.
func usableEd25519(k ed25519.PublicKey) bool {
	return len(k) == ed25519.PublicKeySize && !SmallOrderEd25519(k)
}

// SmallOrderEd25519 reports whether k (32 bytes) encodes a point of order 1,
// 2, 4 or 8, in any encoding crypto/ed25519 accepts: either sign bit, and
// the non-canonical y = p and y = p+1.
func SmallOrderEd25519(k []byte) bool {
	if len(k) != ed25519.PublicKeySize {
		return false
	}
	for _, y := range &smallOrderY {
		if [31]byte(k[:31]) == [31]byte(y[:31]) && k[31]&0x7f == y[31] {
			return true
		}
	}
	return false
}

// smallOrderY holds, little-endian with the sign bit clear, the y
// coordinate of each of the eight points of Ed25519's torsion subgroup
// (the identity, one of order 2, two of order 4 sharing y = 0, four of
// order 8 sharing two y values) and the two non-canonical encodings below
// 2^255 (y + p for y < 19). The test checks each one forges a signature.
var smallOrderY = [...][32]byte{
	// y = 0: order 4
	{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
	// y = 1: the identity
	{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
	// y = p-1: order 2
	{0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// an order-8 y
	{0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
	// an order-8 y
	{0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
	// y = p: a non-canonical 0
	{0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
	// y = p+1: a non-canonical 1
	{0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
}
