package jwks

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// Static is a key set that never changes: keys pinned in configuration,
// or a JWKS document shipped with the application, for an issuer whose keys
// cannot (or should not) be fetched. It is always ready, never does I/O,
// and is safe for concurrent use. It satisfies the middleware's KeySet and
// VersionedKeySet, so verified tokens are cached as with a Cache.
//
// Its keys obey the same rules as a Cache's: see NewStatic. A Static has no
// usable zero value: make it with NewStatic or StaticKeys.
type Static struct {
	snap *snapshot
}

// NewStatic returns a Static holding the keys of a JWKS document (RFC 7517
// §5), kept by the same rules as a Cache keeps fetched keys: a JWK without
// kid, symmetric, with a use other than sig or key_ops without verify, RSA
// outside MinRSABits to MaxRSABits or with an exponent over MaxRSAExponent,
// Ed25519 of small order, on another curve, whose alg does not fit it, or
// whose "issuer" is not a non-empty string is left out, and so is a second
// key of one kid that an algorithm could use as well as one kept (a kid
// may name keys of different types; see Cache.LookupKey). It fails if the document is not a JWKS (not JSON, no
// "keys" array) or no key is left, naming why each was refused.
func NewStatic(jwksJSON []byte) (*Static, error) {
	s, skips, err := parseJWKS(jwksJSON)
	if err != nil {
		var why []string
		for _, sk := range skips {
			why = append(why, fmt.Sprintf("%q: %s", sk.kid, sk.reason))
		}
		if len(why) > 0 {
			return nil, fmt.Errorf("jwks: static key set: %w (%s)", err, strings.Join(why, "; "))
		}
		return nil, fmt.Errorf("jwks: static key set: %w", err)
	}
	s.version = 1
	return &Static{snap: s}, nil
}

// StaticKeys returns a Static holding keys by kid, as Go public keys (with no
// JWK alg, so a key's type and curve alone decide which algorithms it
// verifies). It fails for an empty kid, and for a key no supported
// algorithm can use (RSA under MinRSABits or over MaxRSABits, or with an
// exponent over MaxRSAExponent, a curve other than P-256, P-384,
// P-521, an Ed25519 key of small order, anything else).
func StaticKeys(keys map[string]crypto.PublicKey) (*Static, error) {
	if len(keys) == 0 {
		return nil, errors.New("jwks: static key set: no keys")
	}
	s := &snapshot{keys: make(map[string][]key, len(keys)), n: len(keys), version: 1}
	for kid, pub := range keys {
		if kid == "" {
			return nil, errors.New("jwks: static key set: empty kid")
		}
		if !keyalg.Usable(pub) {
			return nil, fmt.Errorf("jwks: static key set: key %q (%T) is not usable", kid, pub)
		}
		s.keys[kid] = []key{newKey(pub, "", "")}
	}
	return &Static{snap: s}, nil
}

// LookupKey returns the key for kid that verifies tokens signed with
// tokenAlg, the alg its JWK names and the issuer its JWK binds it to ("" when
// none), chosen among the kid's keys (no two fitting one algorithm) as a
// Cache's LookupKey chooses: when kid is known but none of its keys fits
// tokenAlg, its first key, with ok true.
func (s *Static) LookupKey(kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	return s.snap.lookup(kid, tokenAlg)
}

// LookupOrRefresh is LookupKey: a Static has nothing to refresh.
func (s *Static) LookupOrRefresh(_ context.Context, kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	return s.LookupKey(kid, tokenAlg)
}

// Ready is always true.
func (s *Static) Ready() bool { return true }

// KeysVersion is constant: the keys never change.
func (s *Static) KeysVersion() uint64 { return s.snap.version }
