package jwks

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
// cannot verify the token: wrong key type, curve or size, a JWK "alg" that
// names another algorithm, or a JWK "issuer" that is not the token's (see
// Cache.LookupKey).
var ErrKeyMismatch = errors.New("jwks: key does not match the token's algorithm or issuer")

// Keyfunc returns a jwt.Keyfunc over the cached keys, for code that calls
// golang-jwt directly (jwt.Parse(tok, keys.Keyfunc(), ...)). It applies the
// same key rules as the middleware package: a token without a kid is
// refused (keys are never tried in turn, ErrNoKID), the key is the kid's
// that fits the token's algorithm (Cache.LookupKey), a kid the cache does
// not hold is refused (ErrUnknownKey: the cache never kept a key the Guard
// would refuse), and so is a key whose type, curve or size, or whose JWK
// "alg", does not fit the token's algorithm, or whose JWK "issuer" the
// token's iss (with its tid for Microsoft Entra ID's {tenantid}) does not
// fit (ErrKeyMismatch). It reads only what is cached; it never triggers a
// refresh.
//
// The middleware package checks much more (issuer, audience, typ, crit,
// claim shapes); prefer it for HTTP servers.
func (c *Cache) Keyfunc() jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, ErrNoKID
		}
		alg := ""
		if t.Method != nil { // golang-jwt sets it; a caller's own Token may not
			alg = t.Method.Alg()
		}
		pub, jwkAlg, bound, ok := c.LookupKey(kid, alg)
		if !ok {
			return nil, ErrUnknownKey
		}
		if (jwkAlg != "" && jwkAlg != alg) || !keyalg.Compatible(alg, pub) {
			return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, alg)
		}
		if bound != "" && !issuerFits(t, bound) {
			return nil, fmt.Errorf("%w: the key signs for %s", ErrKeyMismatch, bound)
		}
		return pub, nil
	}
}

// issuerFits reports whether t may be verified by a key bound to issuer
// bound (keyalg.IssuerFits), reading tid only when bound names a tenant.
func issuerFits(t *jwt.Token, bound string) bool {
	iss, err := t.Claims.GetIssuer()
	if err != nil {
		return false
	}
	tid := ""
	if strings.Contains(bound, keyalg.TenantPlaceholder) {
		tid = tenantOf(t)
	}
	return keyalg.IssuerFits(bound, iss, tid)
}

// tenantOf is t's "tid" claim, "" when it has none that is a string: from
// its MapClaims, or else from its payload, which claims of the caller's
// own type may not keep.
func tenantOf(t *jwt.Token) string {
	var tid any
	switch m := t.Claims.(type) {
	case jwt.MapClaims:
		tid = m["tid"]
	case *jwt.MapClaims:
		tid = (*m)["tid"]
	default:
		parts := strings.Split(t.Raw, ".")
		if len(parts) != 3 {
			return ""
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		var members map[string]any
		if err != nil || json.Unmarshal(payload, &members) != nil {
			return ""
		}
		tid = members["tid"]
	}
	s, _ := tid.(string)
	return s
}
