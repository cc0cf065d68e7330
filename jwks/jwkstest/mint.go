package jwkstest

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// member is one header member or claim set by a [MintOption].
type member struct {
	name  string
	value any
}

// mint collects the [MintOption] values given to [Issuer.Mint].
type mint struct {
	alg       string
	kid       string
	kidSet    bool
	headers   []member
	claims    []member
	scopes    []string
	scopesSet bool
	signer    crypto.Signer
	expiresIn time.Duration
	expSet    bool
}

// MintOption customizes a token minted by [Issuer.Mint].
type MintOption func(*mint)

// WithTokenAlgorithm signs this token with the current signing key of alg,
// generating one if alg has none. Without it, Mint uses the algorithm of the
// key chosen by [WithKID], or else the issuer's [WithDefaultAlgorithm].
func WithTokenAlgorithm(alg string) MintOption {
	return func(m *mint) { m.alg = alg }
}

// WithKID puts kid in the "kid" header and signs with the key kid if the issuer
// knows it (also if it was removed). If kid is unknown, the token is signed
// with the signing key of the algorithm but still carries kid, for unknown-kid
// tests.
func WithKID(kid string) MintOption {
	return func(m *mint) { m.kid, m.kidSet = kid, true }
}

// WithHeader sets the header member name to value, or deletes it if value is
// nil. Headers are applied last and override "alg", "typ" and "kid"; they do
// not change how the token is signed (overriding "alg" produces a token whose
// header lies about its signature).
func WithHeader(name string, value any) MintOption {
	return func(m *mint) { m.headers = append(m.headers, member{name, value}) }
}

// WithClaim sets the claim name to value, or deletes it if value is nil.
// Claims are applied after the defaults, [WithScopes] and [WithExpiresIn].
func WithClaim(name string, value any) MintOption {
	return func(m *mint) { m.claims = append(m.claims, member{name, value}) }
}

// WithScopes sets the "scope" claim to the space-separated scopes.
func WithScopes(scopes ...string) MintOption {
	return func(m *mint) { m.scopes, m.scopesSet = append([]string(nil), scopes...), true }
}

// WithSigningKey signs the token with key instead of one of the issuer's keys,
// for forgery tests. The "kid" header is left as it would otherwise be. The key
// must suit the algorithm (*rsa.PrivateKey for RS*/PS*, *ecdsa.PrivateKey on
// the matching curve for ES*, an Ed25519 crypto.Signer for EdDSA).
func WithSigningKey(key crypto.Signer) MintOption {
	return func(m *mint) { m.signer = key }
}

// WithExpiresIn sets "exp" to now + d. A negative d mints an already expired
// token.
func WithExpiresIn(d time.Duration) MintOption {
	return func(m *mint) { m.expiresIn, m.expSet = d, true }
}

// Mint returns a signed JWT access token. Without options the header is
//
//	{"alg": <default alg>, "typ": "at+jwt", "kid": <its signing key ID>}
//
// and the claims are iss=[Issuer.URL], sub="user-123", aud=<default audience>
// (a string), client_id="test-client", iat=now, exp=now+lifetime and a random
// hexadecimal jti. It panics when the options cannot make a token (an
// unsupported algorithm, a signing key that does not fit it), as a test
// helper should rather than hand back an empty token.
func (i *Issuer) Mint(opts ...MintOption) string {
	tok, err := i.mintToken(opts...)
	if err != nil {
		panic(err)
	}
	return tok
}

func (i *Issuer) mintToken(opts ...MintOption) (string, error) {
	var m mint
	for _, o := range opts {
		if o != nil {
			o(&m)
		}
	}

	var entry *keyEntry
	if m.kidSet {
		entry = i.lookup(m.kid)
	}
	alg := m.alg
	if alg == "" {
		if entry != nil {
			alg = entry.alg
		} else {
			alg = i.cfg.alg
		}
	}
	if !supportedAlg(alg) {
		return "", fmt.Errorf("jwkstest: unsupported algorithm %q", alg)
	}
	kid := m.kid
	var key crypto.Signer
	if entry != nil {
		key = entry.priv
	} else {
		e, err := i.signingKey(alg)
		if err != nil {
			return "", err
		}
		key = e.priv
		if !m.kidSet {
			kid = e.kid
		}
	}
	if m.signer != nil {
		key = m.signer
	}

	now := i.cfg.now()
	lifetime := i.cfg.lifetime
	if m.expSet {
		lifetime = m.expiresIn
	}
	claims := map[string]any{
		"iss":       i.URL(),
		"sub":       defaultSubject,
		"aud":       i.cfg.audience,
		"client_id": defaultClientID,
		"iat":       now.Unix(),
		"exp":       now.Add(lifetime).Unix(),
		"jti":       randomHex(16),
	}
	if m.scopesSet {
		claims["scope"] = strings.Join(m.scopes, " ")
	}
	applyMembers(claims, m.claims)

	header := map[string]any{"alg": alg, "typ": "at+jwt", "kid": kid}
	applyMembers(header, m.headers)

	return signJWT(jwt.GetSigningMethod(alg), header, claims, key)
}

// Sign signs header and claims exactly as given (no defaults are added) with
// the private key of kid (removed keys included), using the golang-jwt signing
// method named by header["alg"]. It is meant for low-level attack tests.
//
// Besides the asymmetric algorithms matching the key's type, Sign supports two
// classic attacks: "HS256", "HS384" and "HS512" use the PEM encoding of kid's
// public key (PKIX, "PUBLIC KEY" block) as the HMAC secret (algorithm
// confusion), and "none" produces an empty signature. Sign panics if kid is
// unknown, header has no string "alg", or the algorithm is not supported or
// does not fit the key.
func (i *Issuer) Sign(kid string, header, claims map[string]any) string {
	tok, err := i.sign(kid, header, claims)
	if err != nil {
		panic(err)
	}
	return tok
}

func (i *Issuer) sign(kid string, header, claims map[string]any) (string, error) {
	e := i.lookup(kid)
	if e == nil {
		return "", fmt.Errorf("jwkstest: unknown kid %q", kid)
	}
	alg, ok := header["alg"].(string)
	if !ok {
		return "", errors.New(`jwkstest: header has no string "alg" member`)
	}
	var key any
	switch {
	case supportedAlg(alg):
		key = e.priv
	case alg == "HS256" || alg == "HS384" || alg == "HS512":
		der, err := x509.MarshalPKIXPublicKey(e.pub)
		if err != nil {
			return "", fmt.Errorf("jwkstest: encoding public key: %w", err)
		}
		key = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case alg == "none":
		key = jwt.UnsafeAllowNoneSignatureType
	default:
		return "", fmt.Errorf("jwkstest: unsupported algorithm %q", alg)
	}
	return signJWT(jwt.GetSigningMethod(alg), header, claims, key)
}

func applyMembers(dst map[string]any, members []member) {
	for _, mb := range members {
		if mb.value == nil {
			delete(dst, mb.name)
		} else {
			dst[mb.name] = mb.value
		}
	}
}

// signJWT produces header.claims.signature in JWS compact serialization.
func signJWT(method jwt.SigningMethod, header, claims map[string]any, key any) (string, error) {
	if method == nil {
		return "", errors.New("jwkstest: no signing method")
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("jwkstest: encoding header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("jwkstest: encoding claims: %w", err)
	}
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, err := method.Sign(input, key)
	if err != nil {
		return "", fmt.Errorf("jwkstest: signing with %s: %w", method.Alg(), err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
