// Package keyalg is the one table of JWS algorithms: which public keys may
// verify each, with which hash, and how the signature is checked; and the
// one rule for which tokens a key bound to an issuer may verify
// (IssuerFits). jwks (which keys to keep, and its Keyfunc), middleware
// (which key may verify this token) and jwkstest (which key to make) read
// it, so they can never disagree.
package keyalg

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3, §3.5).
const MinRSABits = 2048

// MaxRSABits and MaxRSAExponent bound what one signature check may cost.
// It grows with the square of the modulus's size and with the exponent's:
// a published key of 65,536 bits with e = 2^31-1 made every forged token
// that named it cost 200 ms, against 50 µs for RSA-2048, from anyone.
// Issuers publish 2,048- to 4,096-bit keys with e = 65537.
const (
	MaxRSABits     = 8192
	MaxRSAExponent = 65537
)

// RSAKeyProblem says why k is not an RSA key this library verifies with
// (too small, too large, too large an exponent), or "" when it is one.
func RSAKeyProblem(k *rsa.PublicKey) string {
	switch {
	case k == nil || k.N == nil:
		return "RSA key without a modulus"
	case k.N.BitLen() < MinRSABits:
		return fmt.Sprintf("RSA key of %d bits, under %d", k.N.BitLen(), MinRSABits)
	case k.N.BitLen() > MaxRSABits:
		return fmt.Sprintf("RSA key of %d bits, over %d", k.N.BitLen(), MaxRSABits)
	case k.E < 3 || k.E > MaxRSAExponent || k.E%2 == 0:
		return fmt.Sprintf("RSA exponent %d, not an odd number from 3 to %d", k.E, MaxRSAExponent)
	}
	return ""
}

// An Alg is one asymmetric JWS algorithm (RFC 7518 §3.1, RFC 8037 §3.1):
// the key it needs, the hash it signs, and how its signature is checked.
// This table is the only place those facts are written; jwks (which keys to
// keep), middleware (which key may verify this token, and the check itself)
// and jwkstest (which key to generate) all read it.
type Alg struct {
	Name  string
	kind  keyKind
	curve elliptic.Curve // for ES*
	size  int            // ES*: bytes of r and of s
	hash  crypto.Hash    // none for EdDSA, which hashes internally
	pss   bool
}

type keyKind uint8

const (
	kindRSA keyKind = iota + 1
	kindEC
	kindEd25519
)

// table is in a fixed order; Supported lists the same names.
var table = [...]Alg{
	{Name: "RS256", kind: kindRSA, hash: crypto.SHA256},
	{Name: "RS384", kind: kindRSA, hash: crypto.SHA384},
	{Name: "RS512", kind: kindRSA, hash: crypto.SHA512},
	{Name: "PS256", kind: kindRSA, hash: crypto.SHA256, pss: true},
	{Name: "PS384", kind: kindRSA, hash: crypto.SHA384, pss: true},
	{Name: "PS512", kind: kindRSA, hash: crypto.SHA512, pss: true},
	{Name: "ES256", kind: kindEC, curve: elliptic.P256(), size: 32, hash: crypto.SHA256},
	{Name: "ES384", kind: kindEC, curve: elliptic.P384(), size: 48, hash: crypto.SHA384},
	{Name: "ES512", kind: kindEC, curve: elliptic.P521(), size: 66, hash: crypto.SHA512},
	{Name: "EdDSA", kind: kindEd25519},
}

// Supported lists the asymmetric JWS algorithms in a fixed order. HS* and
// "none" are deliberately absent. It must not be modified.
var Supported = func() []string {
	names := make([]string, len(table))
	for i := range table {
		names[i] = table[i].Name
	}
	return names
}()

// Lookup returns the algorithm named name, or nil for one this library
// never accepts.
func Lookup(name string) *Alg {
	for i := range table {
		if table[i].Name == name {
			return &table[i]
		}
	}
	return nil
}

// Index returns the position of the algorithm named name in Supported, or
// -1 for one this library never accepts. It is a switch, not a search of
// the table, for the key lookup of every request: comparing name with each
// entry in turn costs up to 35 ns, this 2 ns. TestIndex holds it to the
// table.
func Index(name string) int {
	switch name {
	case "RS256":
		return 0
	case "RS384":
		return 1
	case "RS512":
		return 2
	case "PS256":
		return 3
	case "PS384":
		return 4
	case "PS512":
		return 5
	case "ES256":
		return 6
	case "ES384":
		return 7
	case "ES512":
		return 8
	case "EdDSA":
		return 9
	}
	return -1
}

// IsSupported reports whether alg is one of Supported.
func IsSupported(alg string) bool { return Lookup(alg) != nil }

// Usable reports whether pub is a key this library will ever verify with:
// one that fits at least one supported algorithm.
func Usable(pub crypto.PublicKey) bool {
	for i := range table {
		if table[i].Fits(pub) {
			return true
		}
	}
	return false
}

// Compatible reports whether pub may verify a signature made with alg (see
// Alg.Fits); false for an unsupported alg.
func Compatible(alg string, pub crypto.PublicKey) bool {
	a := Lookup(alg)
	return a != nil && a.Fits(pub)
}

// Fits reports whether pub may verify a signature made with a: the key type
// must be the algorithm's, an EC key must be on the algorithm's curve
// (ES256↔P-256, ES384↔P-384, ES512↔P-521), an RSA key one RSAKeyProblem
// finds nothing wrong with, an Ed25519 key 32 bytes and not of small order. golang-jwt checks
// only the Go type, so an ES384 token would otherwise verify against a
// P-256 key.
func (a *Alg) Fits(pub crypto.PublicKey) bool {
	switch a.kind {
	case kindRSA:
		k, ok := pub.(*rsa.PublicKey)
		return ok && RSAKeyProblem(k) == ""
	case kindEC:
		k, ok := pub.(*ecdsa.PublicKey)
		return ok && k != nil && k.Curve == a.curve
	case kindEd25519:
		k, ok := pub.(ed25519.PublicKey)
		return ok && usableEd25519(k)
	}
	return false
}

// Verify reports whether sig is a's signature of msg by pub: PKCS #1 v1.5,
// PSS with the salt length detected (issuers differ; RFC 7518 §3.5 asks for
// the hash length), ECDSA over raw r||s of exactly the curve's size (a DER
// signature or any other length is refused, RFC 7518 §3.4), or Ed25519. It
// is false for a key that does not Fit. The digest stays on the stack:
// this runs on every uncached request.
func (a *Alg) Verify(msg, sig []byte, pub crypto.PublicKey) bool {
	if !a.Fits(pub) {
		return false
	}
	if a.kind == kindEd25519 {
		return ed25519.Verify(pub.(ed25519.PublicKey), msg, sig)
	}
	// A digest array per branch: ecdsa.Verify and rsa.VerifyPSS let their
	// digest escape to the heap, and a shared array would cost the
	// PKCS #1 v1.5 checks (the most common, RS256) that allocation too.
	if a.kind == kindRSA && !a.pss {
		k := pub.(*rsa.PublicKey)
		switch a.hash {
		case crypto.SHA256:
			d := sha256.Sum256(msg)
			return rsa.VerifyPKCS1v15(k, a.hash, d[:], sig) == nil
		case crypto.SHA384:
			d := sha512.Sum384(msg)
			return rsa.VerifyPKCS1v15(k, a.hash, d[:], sig) == nil
		}
		d := sha512.Sum512(msg)
		return rsa.VerifyPKCS1v15(k, a.hash, d[:], sig) == nil
	}
	if a.kind == kindRSA {
		k := pub.(*rsa.PublicKey)
		switch a.hash {
		case crypto.SHA256:
			d := sha256.Sum256(msg)
			return rsa.VerifyPSS(k, a.hash, d[:], sig, pssAuto) == nil
		case crypto.SHA384:
			d := sha512.Sum384(msg)
			return rsa.VerifyPSS(k, a.hash, d[:], sig, pssAuto) == nil
		}
		d := sha512.Sum512(msg)
		return rsa.VerifyPSS(k, a.hash, d[:], sig, pssAuto) == nil
	}
	switch a.hash {
	case crypto.SHA256:
		d := sha256.Sum256(msg)
		return a.verifyEC(d[:], sig, pub.(*ecdsa.PublicKey))
	case crypto.SHA384:
		d := sha512.Sum384(msg)
		return a.verifyEC(d[:], sig, pub.(*ecdsa.PublicKey))
	}
	d := sha512.Sum512(msg)
	return a.verifyEC(d[:], sig, pub.(*ecdsa.PublicKey))
}

func (a *Alg) verifyEC(h, sig []byte, k *ecdsa.PublicKey) bool {
	if len(sig) != 2*a.size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:a.size])
	s := new(big.Int).SetBytes(sig[a.size:])
	return ecdsa.Verify(k, h, r, s)
}

var pssAuto = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}

// IsRSA reports whether a is one of the RS* or PS* algorithms.
func (a *Alg) IsRSA() bool { return a.kind == kindRSA }

// GenerateKey makes a new private key for a, for test issuers: RSA of
// rsaBits, or a key on the algorithm's curve.
func (a *Alg) GenerateKey(rsaBits int) (crypto.Signer, error) {
	switch a.kind {
	case kindRSA:
		return rsa.GenerateKey(rand.Reader, rsaBits)
	case kindEC:
		return ecdsa.GenerateKey(a.curve, rand.Reader)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	return priv, err
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

// Sign signs msg with key as a JWS of algorithm a (RFC 7518 §3): the
// hash, then the signer's operation, with an ECDSA signature turned from
// ASN.1 into the fixed-length r || s that JWS uses. Any crypto.Signer
// that fits a works (a key in memory, an HSM, a cloud KMS).
func (a *Alg) Sign(key crypto.Signer, msg []byte) ([]byte, error) {
	if !a.Fits(key.Public()) {
		return nil, fmt.Errorf("keyalg: the key does not fit %s", a.Name)
	}
	if a.kind == kindEd25519 {
		return key.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	h := a.hash.New()
	h.Write(msg)
	digest := h.Sum(nil)
	var opts crypto.SignerOpts = a.hash
	if a.pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: a.hash}
	}
	sig, err := key.Sign(rand.Reader, digest, opts)
	if err != nil || a.kind != kindEC {
		return sig, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &rs); err != nil || len(rest) > 0 || rs.R.Sign() <= 0 || rs.S.Sign() <= 0 ||
		rs.R.BitLen() > 8*a.size || rs.S.BitLen() > 8*a.size {
		return nil, errors.New("keyalg: the signer's ECDSA signature is not ASN.1")
	}
	out := make([]byte, 2*a.size)
	rs.R.FillBytes(out[:a.size])
	rs.S.FillBytes(out[a.size:])
	return out, nil
}
