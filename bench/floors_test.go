package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

// setupFloorCrypto is the floor: the bare standard-library signature check
// (hash + verify) of a token split and base64url-decoded outside the timer,
// with the public key given directly (iss.PublicKey). It checks nothing
// else, so it is only asked to refuse the bad signature.
func setupFloorCrypto(b testing.TB, f *fixture) (func(string) func() bool, string) {
	return func(tok string) func() bool {
		i := strings.LastIndexByte(tok, '.')
		signed := []byte(tok[:i])
		sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
		if err != nil {
			b.Fatal(err)
		}
		return func() bool { return verifySig(f.alg, f.pub, signed, sig) }
	}, ""
}

// verifySig is the same check as middleware/bench_test.go's floor: ES256's
// raw r||s is turned into big.Ints per call, as any JWS verifier must.
func verifySig(alg string, pub crypto.PublicKey, signed, sig []byte) bool {
	switch alg {
	case "RS256":
		h := sha256.Sum256(signed)
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	case "ES256":
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(signed)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub.(*ecdsa.PublicKey), h[:], r, s)
	case "EdDSA":
		return ed25519.Verify(pub.(ed25519.PublicKey), signed, sig)
	}
	return false
}

// setupFloorHandwritten is what a careful programmer writes by hand with the
// standard library alone, per token: split, base64url-decode header, payload
// and signature, decode the header (alg, kid) and check them, verify the
// signature with the static public key (iss.PublicKey), json-decode the
// claims into a small struct and check exp (required), nbf, iss, aud and sub
// with the same leeway as the others. No HTTP: it measures the verification
// only, like floor-crypto.
func setupFloorHandwritten(b testing.TB, f *fixture) (func(string) func() bool, string) {
	return func(tok string) func() bool {
		return func() bool { return handwritten(f, tok) == nil }
	}, ""
}

type hwHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type hwClaims struct {
	Iss string     `json:"iss"`
	Sub string     `json:"sub"`
	Aud hwAudience `json:"aud"`
	Exp *int64     `json:"exp"`
	Nbf *int64     `json:"nbf"`
}

// hwAudience accepts "aud" as a string or an array of strings.
type hwAudience []string

func (a *hwAudience) UnmarshalJSON(p []byte) error {
	if len(p) > 0 && p[0] == '"' {
		var s string
		if err := json.Unmarshal(p, &s); err != nil {
			return err
		}
		*a = hwAudience{s}
		return nil
	}
	return json.Unmarshal(p, (*[]string)(a))
}

var errHandwritten = errors.New("handwritten: invalid token")

func handwritten(f *fixture, tok string) error {
	h64, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return errHandwritten
	}
	p64, s64, ok := strings.Cut(rest, ".")
	if !ok || strings.IndexByte(s64, '.') >= 0 {
		return errHandwritten
	}
	var hdr hwHeader
	if err := hwDecode(h64, &hdr); err != nil {
		return err
	}
	if hdr.Alg != f.alg || hdr.Kid != f.kid {
		return errHandwritten
	}
	sig, err := base64.RawURLEncoding.DecodeString(s64)
	if err != nil {
		return err
	}
	if !verifySig(f.alg, f.pub, []byte(tok[:len(h64)+1+len(p64)]), sig) {
		return errHandwritten
	}
	var c hwClaims
	if err := hwDecode(p64, &c); err != nil {
		return err
	}
	now := time.Now()
	if c.Exp == nil || now.Add(-leeway).Unix() >= *c.Exp {
		return errHandwritten
	}
	if c.Nbf != nil && now.Add(leeway).Unix() < *c.Nbf {
		return errHandwritten
	}
	if c.Iss != f.issuer || c.Sub == "" || !slices.Contains(c.Aud, audience) {
		return errHandwritten
	}
	return nil
}

// hwDecode base64url-decodes a token's header or payload and json-decodes
// it into v.
func hwDecode(seg string, v any) error {
	p, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, v)
}
