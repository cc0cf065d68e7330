package middleware

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"math/big"
)

// errBadSignature is the cause recorded for a signature that does not
// verify; the refusal the client sees is the fixed ErrSignature text.
var errBadSignature = errors.New("signature does not verify")

// verifySignature checks sig over signed with pub, for an alg and key that
// keyalg.Compatible has already matched. It does what golang-jwt's signing
// methods do (PKCS #1 v1.5, PSS with the salt length detected, ECDSA over
// raw r||s of the curve's size, Ed25519) with the standard library directly:
// golang-jwt copies the signing input and allocates a hasher per call, about
// a microsecond per request on the hot path.
func verifySignature(alg, signed string, sig []byte, pub crypto.PublicKey) error {
	msg := bytesOf(signed)
	var ok bool
	switch alg {
	case "RS256":
		h := sha256.Sum256(msg)
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	case "RS384":
		h := sha512.Sum384(msg)
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA384, h[:], sig) == nil
	case "RS512":
		h := sha512.Sum512(msg)
		ok = rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA512, h[:], sig) == nil
	case "PS256":
		h := sha256.Sum256(msg)
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig, pssAuto) == nil
	case "PS384":
		h := sha512.Sum384(msg)
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA384, h[:], sig, pssAuto) == nil
	case "PS512":
		h := sha512.Sum512(msg)
		ok = rsa.VerifyPSS(pub.(*rsa.PublicKey), crypto.SHA512, h[:], sig, pssAuto) == nil
	case "ES256":
		h := sha256.Sum256(msg)
		ok = verifyECDSA(pub.(*ecdsa.PublicKey), h[:], sig, 32)
	case "ES384":
		h := sha512.Sum384(msg)
		ok = verifyECDSA(pub.(*ecdsa.PublicKey), h[:], sig, 48)
	case "ES512":
		h := sha512.Sum512(msg)
		ok = verifyECDSA(pub.(*ecdsa.PublicKey), h[:], sig, 66)
	case "EdDSA":
		k := pub.(ed25519.PublicKey)
		ok = len(k) == ed25519.PublicKeySize && ed25519.Verify(k, msg, sig)
	}
	if !ok {
		return errBadSignature
	}
	return nil
}

// pssAuto accepts any salt length on verification, as golang-jwt's PS*
// methods do: issuers differ (RFC 7518 §3.5 asks for the hash length).
var pssAuto = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}

// verifyECDSA checks a JWS ECDSA signature: r||s, each exactly size bytes
// (RFC 7518 §3.4); a DER signature or any other length is refused.
func verifyECDSA(pub *ecdsa.PublicKey, hash, sig []byte, size int) bool {
	if len(sig) != 2*size {
		return false
	}
	r := new(big.Int).SetBytes(sig[:size])
	s := new(big.Int).SetBytes(sig[size:])
	return ecdsa.Verify(pub, hash, r, s)
}
