package jwks

import (
	"errors"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// ErrNoKID is returned by the Keyfunc for a token without a "kid" header.
var ErrNoKID = errors.New("jwks: token has no kid")

// ErrUnknownKey is returned by the Keyfunc for a kid the cache does not
// hold (including keys it refused to keep: symmetric, use other than sig,
// key_ops without verify, RSA under 2048 bits, Ed25519 of small order).
var ErrUnknownKey = errors.New("jwks: unknown key")

// ErrKeyMismatch is returned by the Keyfunc when the key found for the kid
// cannot verify the token's algorithm: wrong key type, curve or size, or a
// JWK "alg" that names another algorithm.
var ErrKeyMismatch = errors.New("jwks: key does not match the token's algorithm")

// Keyfunc returns a jwt.Keyfunc over the cached keys, for code that calls
// golang-jwt directly (jwt.Parse(tok, keys.Keyfunc(), ...)). It applies the
// same key rules as the middleware package: a token without a kid is
// refused (keys are never tried in turn, ErrNoKID), a kid the cache does
// not hold is refused (ErrUnknownKey: the cache never kept a key the Guard
// would refuse), and so is a key whose type, curve or size, or whose JWK
// "alg", does not fit the token's algorithm (ErrKeyMismatch). It reads only
// what is cached; it never triggers a refresh.
//
// The middleware package checks much more (issuer, audience, typ, crit,
// claim shapes); prefer it for HTTP servers.
func (c *Cache) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, ErrNoKID
		}
		pub, jwkAlg, _, ok := c.LookupKey(kid)
		if !ok {
			return nil, ErrUnknownKey
		}
		alg := t.Method.Alg()
		if (jwkAlg != "" && jwkAlg != alg) || !keyalg.Compatible(alg, pub) {
			return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, alg)
		}
		return pub, nil
	}
}
