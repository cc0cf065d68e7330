package jwks

import (
	"errors"
	"fmt"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// ErrNoKID is returned by the Keyfunc for a token without a "kid" header.
var ErrNoKID = errors.New("jwks: token has no kid")

// ErrKeyMismatch is returned by the Keyfunc when the key found for the kid
// cannot verify the token's algorithm (wrong key type, curve or size).
var ErrKeyMismatch = errors.New("jwks: key does not match the token's algorithm")

// Keyfunc returns a jwt.Keyfunc over the cached keys, built on
// github.com/MicahParks/keyfunc/v3, for code that calls golang-jwt directly.
// Unlike keyfunc's own, it refuses a token without a kid instead of trying
// every key, and refuses a key whose type or curve does not fit the token's
// algorithm. It reads only what is cached; it never triggers a refresh.
//
// The middleware package checks much more (issuer, audience, typ, crit,
// claim shapes); prefer it for HTTP servers.
func (c *Cache) Keyfunc() jwt.Keyfunc {
	// keyfunc.New only fails for a nil storage, which c.storage never is.
	kf, err := keyfunc.New(keyfunc.Options{Ctx: c.ctx, Storage: c.storage})
	if err != nil {
		return func(*jwt.Token) (any, error) { return nil, err }
	}
	return func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid == "" {
			return nil, ErrNoKID
		}
		pub, err := kf.Keyfunc(t)
		if err != nil {
			return nil, err
		}
		if !keyalg.Compatible(t.Method.Alg(), pub) {
			return nil, fmt.Errorf("%w: %s", ErrKeyMismatch, t.Method.Alg())
		}
		return pub, nil
	}
}
