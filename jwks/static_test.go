package jwks_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

var _ middleware.VersionedKeySet = (*jwks.Static)(nil)

// A Static keeps keys by the Cache's rules, is always ready, and verifies
// tokens through a Guard (with the token cache, as it is versioned).
func TestStatic(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	kid := iss.SigningKID("RS256")
	good := jwkstest.PublicJWK(iss.PublicKey(kid), kid, map[string]any{"alg": "RS256", "use": "sig"})
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	weak := jwkstest.PublicJWK(&small.PublicKey, "weak", nil)
	doc, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{good, weak, json.RawMessage(`{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`)}})
	s, err := jwks.NewStatic(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := s.LookupKey("weak", "RS256"); ok {
		t.Fatal("an RSA-1024 key was kept")
	}
	if _, _, _, ok := s.LookupKey("oct", "RS256"); ok {
		t.Fatal("a symmetric key was kept")
	}
	if pub, alg, _, ok := s.LookupOrRefresh(context.Background(), kid, "RS256"); !ok || alg != "RS256" || pub == nil {
		t.Fatalf("LookupOrRefresh(%s) = %v %q %v", kid, pub, alg, ok)
	}
	if !s.Ready() || s.KeysVersion() == 0 {
		t.Fatal("not ready, or unversioned")
	}
	g, err := middleware.New(s, iss.URL(), []string{"https://api.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	tok := iss.Mint()
	if _, err := g.VerifyToken(context.Background(), tok); err != nil {
		t.Fatalf("token: %v", err)
	}
	if _, err := jwks.NewStatic([]byte(`{"keys":[` + string(weak) + `]}`)); err == nil || !strings.Contains(err.Error(), "RSA key of 1024 bits") {
		t.Fatalf("a set of no usable key: %v", err)
	}
	if _, err := jwks.NewStatic([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestStaticKeys(t *testing.T) {
	t.Parallel()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	s, err := jwks.StaticKeys(map[string]crypto.PublicKey{"ec": &p256.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, alg, _, ok := s.LookupKey("ec", "ES256"); !ok || alg != "" {
		t.Fatalf("LookupKey: %q %v", alg, ok)
	}
	for name, keys := range map[string]map[string]crypto.PublicKey{
		"none":      {},
		"empty kid": {"": &p256.PublicKey},
		"P-224":     {"p224": &p224.PublicKey},
		"a secret":  {"hs": []byte("secret")},
	} {
		if _, err := jwks.StaticKeys(keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A JWKS key over MaxRSABits, or with an exponent over MaxRSAExponent, is
// skipped with its reason, as one under MinRSABits is: checking a forged
// token against it would cost what its publisher chose.
func TestRSAKeysOverTheBoundsAreSkipped(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	kid := iss.SigningKID("RS256")
	genuine := iss.PublicKey(kid).(*rsa.PublicKey)
	huge := new(big.Int).Lsh(big.NewInt(1), 65535) // 65,536 bits
	huge.Or(huge, big.NewInt(1))
	bad := map[string]struct {
		jwk  json.RawMessage
		says string
	}{
		"huge": {jwkstest.PublicJWK(&rsa.PublicKey{N: huge, E: 65537}, "huge", nil), "RSA key of 65536 bits, over 8192"},
		"slow": {jwkstest.PublicJWK(&rsa.PublicKey{N: genuine.N, E: 1<<31 - 1}, "slow", nil), "RSA exponent 2147483647"},
	}
	doc, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{jwkstest.PublicJWK(genuine, kid, nil), bad["huge"].jwk, bad["slow"].jwk}})
	s, err := jwks.NewStatic(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, ok := s.LookupKey(kid, "RS256"); !ok {
		t.Fatal("the genuine key was skipped")
	}
	for k, b := range bad {
		if _, _, _, ok := s.LookupKey(k, "RS256"); ok {
			t.Errorf("key %q kept", k)
		}
		only, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{b.jwk}})
		if _, err := jwks.NewStatic(only); !errors.Is(err, jwks.ErrNoUsableKeys) || !strings.Contains(err.Error(), b.says) {
			t.Errorf("a set of only %q: %v, want ErrNoUsableKeys saying %q", k, err, b.says)
		}
	}
}

// Member names are case-sensitive (RFC 7517 §4, RFC 8259): "USE" means
// nothing, so a JWK of use enc stays an encryption key whatever "USE"
// says, and a set is the member named "keys" alone. encoding/json, which
// reads the JWKs, matches names without case, the last one winning: such
// keys were kept for verification. Found by a sixth review.
func TestJWKMemberNamesAreCaseSensitive(t *testing.T) {
	t.Parallel()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	with := func(raw json.RawMessage, members string) json.RawMessage {
		return append(raw[:len(raw)-1:len(raw)-1], []byte(","+members+"}")...)
	}
	good := jwkstest.PublicJWK(&rk.PublicKey, "good", nil)
	body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		good,
		with(jwkstest.PublicJWK(&rk.PublicKey, "enc", map[string]any{"use": "enc"}), `"USE":"sig"`),
		with(jwkstest.PublicJWK(&rk.PublicKey, "encrypt-only", map[string]any{"key_ops": []string{"encrypt"}}), `"KEY_OPS":["verify"]`),
	}})
	s, err := jwks.NewStatic(body)
	if err != nil {
		t.Fatal(err)
	}
	for kid, want := range map[string]bool{"good": true, "enc": false, "encrypt-only": false} {
		if _, _, _, ok := s.LookupKey(kid, "RS256"); ok != want {
			t.Errorf("%s: kept %v, want %v", kid, ok, want)
		}
	}
	set := `[` + string(good) + `]`
	for _, doc := range []string{`{"KEYS":` + set + `}`, `{"keys":[],"Keys":` + set + `}`} {
		if _, err := jwks.NewStatic([]byte(doc)); !errors.Is(err, jwks.ErrNoUsableKeys) && !errors.Is(err, jwks.ErrMalformedJWKS) {
			t.Errorf("%.30s…: %v, want no keys", doc, err)
		}
	}
}

// WithMaxResponseSize(math.MaxInt64), "no limit", overflowed the reader's
// limit to a negative one, which reads nothing: every fetch failed.
// Found by a sixth review.
func TestMaxResponseSizeWithoutLimit(t *testing.T) {
	t.Parallel()
	c := newCache(t, newIssuer(t).URL(), jwks.WithMaxResponseSize(math.MaxInt64))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}
