package jwkstest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// ---- helpers ----

func newIssuer(t *testing.T, opts ...Option) *Issuer {
	t.Helper()
	iss := NewIssuer(opts...)
	t.Cleanup(iss.Close)
	return iss
}

// noKeepAlive is a client that never reuses connections, so FaultDown is seen
// exactly once per request (no transparent retry).
var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := noKeepAlive.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", u, err)
	}
	return resp, body
}

// fetchJWKS fetches the JWKS over HTTP and parses every key with jwkset.
func fetchJWKS(t *testing.T, iss *Issuer) map[string]jwkset.JWK {
	t.Helper()
	resp, body := get(t, iss.JWKSURL())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS status = %d, body %q", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("JWKS Content-Type = %q", ct)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v\n%s", err, body)
	}
	keys := make(map[string]jwkset.JWK)
	for _, raw := range doc.Keys {
		var members map[string]any
		if err := json.Unmarshal(raw, &members); err != nil {
			t.Fatalf("JWK is not an object: %v", err)
		}
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := members[private]; ok {
				t.Fatalf("JWKS leaks private member %q: %s", private, raw)
			}
		}
		k, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err != nil {
			t.Fatalf("jwkset cannot parse served JWK %s: %v", raw, err)
		}
		keys[k.Marshal().KID] = k
	}
	return keys
}

// verify parses and validates token with golang-jwt using keys from the JWKS,
// pinning the algorithm to the JWK's "alg".
func verify(iss *Issuer, keys map[string]jwkset.JWK, token string, opts ...jwt.ParserOption) (*jwt.Token, jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	opts = append([]jwt.ParserOption{
		jwt.WithValidMethods(keyalg.Supported),
		jwt.WithIssuer(iss.URL()),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	}, opts...)
	tok, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown kid %q", kid)
		}
		if got := string(k.Marshal().ALG); got != t.Method.Alg() {
			return nil, fmt.Errorf("token alg %q does not match JWK alg %q", t.Method.Alg(), got)
		}
		return k.Key(), nil
	}, opts...)
	return tok, claims, err
}

func unverified(t *testing.T, token string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser().ParseUnverified(token, claims)
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	return tok.Header, claims
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("bad segment: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("bad segment JSON: %v", err)
	}
	return m
}

func postForm(t *testing.T, u string, form url.Values, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

var kidPattern = regexp.MustCompile(`^[a-z0-9]+-[0-9a-f]{8}$`)

// ---- tests ----

func TestMintVerifiesWithServedJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg      string
		kty, crv string
	}{
		{"RS256", "RSA", ""},
		{"RS384", "RSA", ""},
		{"RS512", "RSA", ""},
		{"PS256", "RSA", ""},
		{"PS384", "RSA", ""},
		{"PS512", "RSA", ""},
		{"ES256", "EC", "P-256"},
		{"ES384", "EC", "P-384"},
		{"ES512", "EC", "P-521"},
		{"EdDSA", "OKP", "Ed25519"},
	}
	shared := newIssuer(t)
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			own := newIssuer(t, WithDefaultAlgorithm(tc.alg))
			ownToken := own.Mint()
			sharedToken := shared.Mint(WithTokenAlgorithm(tc.alg))
			for _, c := range []struct {
				name  string
				iss   *Issuer
				token string
			}{{"default-alg", own, ownToken}, {"WithTokenAlgorithm", shared, sharedToken}} {
				kid := c.iss.SigningKID(tc.alg)
				if !kidPattern.MatchString(kid) || !strings.HasPrefix(kid, strings.ToLower(tc.alg)+"-") {
					t.Errorf("%s: SigningKID = %q, want %s-xxxxxxxx", c.name, kid, strings.ToLower(tc.alg))
				}
				keys := fetchJWKS(t, c.iss)
				jwk, ok := keys[kid]
				if !ok {
					t.Fatalf("%s: JWKS has no key %q", c.name, kid)
				}
				m := jwk.Marshal()
				if string(m.ALG) != tc.alg || m.USE != jwkset.UseSig || string(m.KTY) != tc.kty || string(m.CRV) != tc.crv {
					t.Errorf("%s: JWK alg=%q use=%q kty=%q crv=%q", c.name, m.ALG, m.USE, m.KTY, m.CRV)
				}
				if pub, ok := jwk.Key().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(c.iss.PublicKey(kid)) {
					t.Errorf("%s: served key does not equal PublicKey(kid)", c.name)
				}
				var keyOK bool
				switch priv := hostile.Of(c.iss).PrivateKey(kid).(type) {
				case *rsa.PrivateKey:
					keyOK = tc.kty == "RSA" && priv.N.BitLen() == 2048
				case *ecdsa.PrivateKey:
					keyOK = tc.kty == "EC" && priv.Curve.Params().Name == tc.crv
				case ed25519.PrivateKey:
					keyOK = tc.kty == "OKP"
				}
				if !keyOK {
					t.Errorf("%s: PrivateKey(kid) is %T, unexpected for %s", c.name, hostile.Of(c.iss).PrivateKey(kid), tc.alg)
				}

				tok, claims, err := verify(c.iss, keys, c.token, jwt.WithAudience(defaultAudience))
				if err != nil {
					t.Fatalf("%s: token does not verify: %v", c.name, err)
				}
				if tok.Header["alg"] != tc.alg || tok.Header["typ"] != "at+jwt" || tok.Header["kid"] != kid || len(tok.Header) != 3 {
					t.Errorf("%s: header = %v", c.name, tok.Header)
				}
				if claims["sub"] != "user-123" || claims["aud"] != defaultAudience || claims["client_id"] != "test-client" {
					t.Errorf("%s: claims = %v", c.name, claims)
				}
				if exp, iat := claims["exp"].(float64), claims["iat"].(float64); exp-iat != 300 {
					t.Errorf("%s: exp-iat = %v, want 300", c.name, exp-iat)
				}
				if jti, _ := claims["jti"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(jti) {
					t.Errorf("%s: jti = %q", c.name, jti)
				}

				// A tampered payload must not verify.
				parts := strings.Split(c.token, ".")
				payload := decodeSegment(t, parts[1])
				payload["sub"] = "admin"
				b, _ := json.Marshal(payload)
				forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
				if _, _, err := verify(c.iss, keys, forged); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
					t.Errorf("%s: tampered token: err = %v, want signature invalid", c.name, err)
				}
			}
		})
	}
}

func TestNewIssuerOptions(t *testing.T) {
	t.Parallel()
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		iss := newIssuer(t)
		if !strings.HasPrefix(iss.ServerURL(), "http://127.0.0.1:") && !strings.HasPrefix(iss.ServerURL(), "http://[::1]:") {
			t.Errorf("ServerURL = %q, want loopback http", iss.ServerURL())
		}
		if iss.URL() != iss.ServerURL() {
			t.Errorf("URL = %q, want %q", iss.URL(), iss.ServerURL())
		}
		if want := iss.ServerURL() + "/jwks.json"; iss.JWKSURL() != want {
			t.Errorf("JWKSURL = %q, want %q", iss.JWKSURL(), want)
		}
		if want := iss.ServerURL() + "/token"; iss.TokenURL() != want {
			t.Errorf("TokenURL = %q, want %q", iss.TokenURL(), want)
		}
		if iss.SigningKID("RS256") == "" {
			t.Error("no RS256 signing key")
		}
		for _, alg := range keyalg.Supported[1:] {
			if kid := iss.SigningKID(alg); kid != "" {
				t.Errorf("SigningKID(%s) = %q, want lazily created", alg, kid)
			}
		}
	})
	t.Run("path", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/realms/demo", "realms/demo"} {
			iss := newIssuer(t, WithPath(p))
			if want := iss.ServerURL() + "/realms/demo"; iss.URL() != want {
				t.Errorf("WithPath(%q): URL = %q, want %q", p, iss.URL(), want)
			}
			if want := iss.ServerURL() + "/realms/demo/jwks.json"; iss.JWKSURL() != want {
				t.Errorf("WithPath(%q): JWKSURL = %q, want %q", p, iss.JWKSURL(), want)
			}
		}
	})
	t.Run("clock-lifetime-audience", func(t *testing.T) {
		t.Parallel()
		fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		iss := newIssuer(t,
			WithDefaultAlgorithm("ES256"),
			WithClock(func() time.Time { return fixed }),
			WithTokenLifetime(time.Hour),
			WithAudience("https://notes.example"),
		)
		token := iss.Mint()
		header, claims := unverified(t, token)
		if header["alg"] != "ES256" {
			t.Errorf("alg = %v", header["alg"])
		}
		if claims["iat"] != float64(fixed.Unix()) || claims["exp"] != float64(fixed.Add(time.Hour).Unix()) {
			t.Errorf("iat=%v exp=%v", claims["iat"], claims["exp"])
		}
		if claims["aud"] != "https://notes.example" {
			t.Errorf("aud = %v", claims["aud"])
		}
		if iss.SigningKID("RS256") != "" {
			t.Error("an RS256 key was created although the default alg is ES256")
		}
	})
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		for name, opt := range map[string]Option{
			"alg HS256":     WithDefaultAlgorithm("HS256"),
			"alg none":      WithDefaultAlgorithm("none"),
			"zero lifetime": WithTokenLifetime(0),
			"nil clock":     WithClock(nil),
			"query in path": WithPath("/a?b"),
		} {
			if iss, err := startIssuer(opt); err == nil {
				iss.Close()
				t.Errorf("%s: NewIssuer succeeded", name)
			}
		}
	})
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path      string
		openid, oauth   string // paths relative to the server URL
		wrongLocation   string
		wantIssuerPath  string
		wantJWKSURIPath string
	}{
		{"root", "", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/realms/.well-known/openid-configuration", "", "/jwks.json"},
		{"path", "/realms/demo", "/realms/demo/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/realms/demo", "/.well-known/openid-configuration", "/realms/demo", "/realms/demo/jwks.json"},
		{"trailing-slash", "/realms/demo/", "/realms/demo/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/realms/demo", "/realms/demo/.well-known/oauth-authorization-server", "/realms/demo/", "/realms/demo/jwks.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iss := newIssuer(t, WithPath(tc.path))
			for _, loc := range []string{tc.openid, tc.oauth} {
				resp, body := get(t, iss.ServerURL()+loc)
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: status %d", loc, resp.StatusCode)
				}
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("GET %s: Content-Type %q", loc, ct)
				}
				var md struct {
					Issuer                string   `json:"issuer"`
					JWKSURI               string   `json:"jwks_uri"`
					TokenEndpoint         string   `json:"token_endpoint"`
					GrantTypes            []string `json:"grant_types_supported"`
					ResponseTypes         []string `json:"response_types_supported"`
					IDTokenAlgs           []string `json:"id_token_signing_alg_values_supported"`
					TokenEndpointAuthMeth []string `json:"token_endpoint_auth_methods_supported"`
				}
				if err := json.Unmarshal(body, &md); err != nil {
					t.Fatalf("GET %s: %v", loc, err)
				}
				if md.Issuer != iss.ServerURL()+tc.wantIssuerPath || md.Issuer != iss.URL() {
					t.Errorf("GET %s: issuer = %q, want %q", loc, md.Issuer, iss.URL())
				}
				if md.JWKSURI != iss.ServerURL()+tc.wantJWKSURIPath || md.JWKSURI != iss.JWKSURL() {
					t.Errorf("GET %s: jwks_uri = %q", loc, md.JWKSURI)
				}
				if md.TokenEndpoint != iss.TokenURL() {
					t.Errorf("GET %s: token_endpoint = %q", loc, md.TokenEndpoint)
				}
				if !slices.Equal(md.ResponseTypes, []string{"token"}) || !slices.Equal(md.TokenEndpointAuthMeth, []string{"none"}) ||
					!slices.Contains(md.GrantTypes, "client_credentials") || !slices.Equal(md.IDTokenAlgs, []string{"RS256"}) {
					t.Errorf("GET %s: metadata = %s", loc, body)
				}
			}
			if resp, _ := get(t, iss.ServerURL()+tc.wrongLocation); resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: status %d, want 404", tc.wrongLocation, resp.StatusCode)
			}
			if got := iss.DiscoveryFetches(); got != 2 {
				t.Errorf("DiscoveryFetches = %d, want 2", got)
			}
			// The JWKS advertised by discovery is the one that verifies tokens.
			token := iss.Mint()
			if _, _, err := verify(iss, fetchJWKS(t, iss), token); err != nil {
				t.Errorf("verify: %v", err)
			}
		})
	}
}

func TestMetadataOverrides(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, WithPath("/tenant"))
	openid := iss.URL() + "/.well-known/openid-configuration"
	oauth := iss.ServerURL() + "/.well-known/oauth-authorization-server/tenant"
	readMD := func(u string) (int, map[string]any) {
		resp, body := get(t, u)
		if resp.StatusCode != http.StatusOK {
			return resp.StatusCode, nil
		}
		var md map[string]any
		if err := json.Unmarshal(body, &md); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, md
	}

	hostile.Of(iss).SetMetadataIssuer("https://evil.example")
	hostile.Of(iss).SetJWKSURI("https://evil.example/keys")
	for _, u := range []string{openid, oauth} {
		_, md := readMD(u)
		if md["issuer"] != "https://evil.example" || md["jwks_uri"] != "https://evil.example/keys" {
			t.Errorf("%s: metadata = %v", u, md)
		}
	}
	token := iss.Mint()
	if _, claims := unverified(t, token); claims["iss"] != iss.URL() {
		t.Errorf("minted iss = %v, want the real issuer", claims["iss"])
	}
	hostile.Of(iss).SetMetadataIssuer("")
	hostile.Of(iss).SetJWKSURI("")
	if _, md := readMD(openid); md["issuer"] != iss.URL() || md["jwks_uri"] != iss.JWKSURL() {
		t.Errorf("after restore: metadata = %v", md)
	}

	for _, tc := range []struct {
		openid, oauth         bool
		wantOpenID, wantOAuth int
	}{
		{true, true, 200, 200},
		{true, false, 200, 404},
		{false, true, 404, 200},
		{false, false, 404, 404},
	} {
		iss.SetDiscovery(tc.openid, tc.oauth)
		if code, _ := readMD(openid); code != tc.wantOpenID {
			t.Errorf("SetDiscovery(%v, %v): openid status %d, want %d", tc.openid, tc.oauth, code, tc.wantOpenID)
		}
		if code, _ := readMD(oauth); code != tc.wantOAuth {
			t.Errorf("SetDiscovery(%v, %v): oauth status %d, want %d", tc.openid, tc.oauth, code, tc.wantOAuth)
		}
	}
	// Disabling discovery does not affect the JWKS.
	if len(fetchJWKS(t, iss)) != 1 {
		t.Error("JWKS changed")
	}
}

func TestRotateAndRemoveKey(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	k1 := iss.SigningKID("RS256")
	t1 := iss.Mint()

	k2 := iss.Rotate("RS256")
	if k2 == k1 || iss.SigningKID("RS256") != k2 {
		t.Fatalf("Rotate: k1=%q k2=%q signing=%q", k1, k2, iss.SigningKID("RS256"))
	}
	t2 := iss.Mint()
	if h, _ := unverified(t, t2); h["kid"] != k2 {
		t.Errorf("token after rotation has kid %v, want %q", h["kid"], k2)
	}
	keys := fetchJWKS(t, iss)
	if _, ok := keys[k1]; !ok {
		t.Error("old key no longer published after Rotate")
	}
	if _, ok := keys[k2]; !ok {
		t.Error("new key not published after Rotate")
	}
	for _, tok := range []string{t1, t2} {
		if _, _, err := verify(iss, keys, tok); err != nil {
			t.Errorf("verify after rotation: %v", err)
		}
	}

	// Rotating another algorithm leaves RS256 alone.
	e1 := iss.Rotate("ES256")
	if iss.SigningKID("RS256") != k2 || iss.SigningKID("ES256") != e1 {
		t.Error("Rotate(ES256) changed the RS256 signing key")
	}

	if !iss.RemoveKey(k1) {
		t.Fatal("RemoveKey(k1) = false")
	}
	if iss.RemoveKey(k1) {
		t.Error("second RemoveKey(k1) = true")
	}
	if iss.RemoveKey("no-such-kid") {
		t.Error("RemoveKey(unknown) = true")
	}
	keys = fetchJWKS(t, iss)
	if _, ok := keys[k1]; ok {
		t.Error("removed key still published")
	}
	if len(keys) != 2 {
		t.Errorf("JWKS has %d keys, want 2", len(keys))
	}
	if _, _, err := verify(iss, keys, t1); err == nil {
		t.Error("token signed with a removed key still verifies")
	}
	if _, _, err := verify(iss, keys, t2); err != nil {
		t.Errorf("token signed with remaining key: %v", err)
	}
	if iss.PublicKey(k1) == nil || hostile.Of(iss).PrivateKey(k1) == nil {
		t.Error("removed key material is no longer available")
	}
	if iss.PublicKey("nope") != nil || hostile.Of(iss).PrivateKey("nope") != nil {
		t.Error("unknown kid returned a key")
	}

	// Removing the signing key leaves the algorithm without one until needed.
	if !iss.RemoveKey(k2) {
		t.Fatal("RemoveKey(k2) = false")
	}
	if kid := iss.SigningKID("RS256"); kid != "" {
		t.Errorf("SigningKID after removing it = %q", kid)
	}
	t3 := iss.Mint()
	k3 := iss.SigningKID("RS256")
	if k3 == "" || k3 == k1 || k3 == k2 {
		t.Errorf("Mint did not create a fresh key: %q", k3)
	}
	if _, _, err := verify(iss, fetchJWKS(t, iss), t3); err != nil {
		t.Errorf("verify with fresh key: %v", err)
	}

	if _, err := iss.rotate("HS256"); err == nil {
		t.Error("Rotate(HS256) succeeded")
	}
}

func TestMintOptions(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	esKID := iss.Rotate("ES256")
	rsKID := iss.SigningKID("RS256")
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys := fetchJWKS(t, iss)

	// verifyWith checks the signature with an explicit key and method.
	verifyWith := func(token string, method jwt.SigningMethod, key any) error {
		i := strings.LastIndex(token, ".")
		sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err != nil {
			return err
		}
		return method.Verify(token[:i], sig, key)
	}

	tests := []struct {
		name    string
		opts    []MintOption
		wantErr bool
		check   func(t *testing.T, token string, header map[string]any, claims jwt.MapClaims)
	}{
		{
			name: "WithKID known selects that key and its alg",
			opts: []MintOption{WithKID(esKID)},
			check: func(t *testing.T, token string, h map[string]any, _ jwt.MapClaims) {
				if h["kid"] != esKID || h["alg"] != "ES256" {
					t.Errorf("header = %v", h)
				}
				if _, _, err := verify(iss, keys, token); err != nil {
					t.Errorf("verify: %v", err)
				}
			},
		},
		{
			name: "WithKID unknown signs with the alg's key",
			opts: []MintOption{WithKID("ghost")},
			check: func(t *testing.T, token string, h map[string]any, _ jwt.MapClaims) {
				if h["kid"] != "ghost" || h["alg"] != "RS256" {
					t.Errorf("header = %v", h)
				}
				if err := verifyWith(token, jwt.SigningMethodRS256, iss.PublicKey(rsKID)); err != nil {
					t.Errorf("not signed with the RS256 signing key: %v", err)
				}
				if _, _, err := verify(iss, keys, token); err == nil {
					t.Error("unknown kid verified")
				}
			},
		},
		{
			name: "WithTokenAlgorithm creates a key lazily",
			opts: []MintOption{WithTokenAlgorithm("EdDSA")},
			check: func(t *testing.T, token string, h map[string]any, _ jwt.MapClaims) {
				kid := iss.SigningKID("EdDSA")
				if kid == "" || h["kid"] != kid || h["alg"] != "EdDSA" {
					t.Errorf("header = %v, SigningKID = %q", h, kid)
				}
				if _, _, err := verify(iss, fetchJWKS(t, iss), token); err != nil {
					t.Errorf("verify: %v", err)
				}
			},
		},
		{
			name: "WithHeader overrides and deletes",
			opts: []MintOption{WithHeader("typ", "JWT"), WithHeader("kid", nil), WithHeader("x5u", "https://evil.example")},
			check: func(t *testing.T, _ string, h map[string]any, _ jwt.MapClaims) {
				if h["typ"] != "JWT" || h["x5u"] != "https://evil.example" {
					t.Errorf("header = %v", h)
				}
				if _, ok := h["kid"]; ok {
					t.Errorf("kid not deleted: %v", h)
				}
			},
		},
		{
			name: "WithHeader alg lies about the signature",
			opts: []MintOption{WithHeader("alg", "none")},
			check: func(t *testing.T, token string, h map[string]any, _ jwt.MapClaims) {
				if h["alg"] != "none" {
					t.Errorf("header = %v", h)
				}
				if err := verifyWith(token, jwt.SigningMethodRS256, iss.PublicKey(rsKID)); err != nil {
					t.Errorf("signature is not RS256: %v", err)
				}
			},
		},
		{
			name: "WithClaim sets and deletes; WithScopes; WithExpiresIn",
			opts: []MintOption{
				WithClaim("sub", "alice"), WithClaim("client_id", nil), WithClaim("aud", []string{"a", "b"}),
				WithScopes("notes:read", "notes:write"), WithExpiresIn(time.Hour),
			},
			check: func(t *testing.T, token string, _ map[string]any, c jwt.MapClaims) {
				if c["sub"] != "alice" || c["scope"] != "notes:read notes:write" {
					t.Errorf("claims = %v", c)
				}
				if _, ok := c["client_id"]; ok {
					t.Error("client_id not deleted")
				}
				if aud, _ := c.GetAudience(); !slices.Equal(aud, []string{"a", "b"}) {
					t.Errorf("aud = %v", aud)
				}
				if c["exp"].(float64)-c["iat"].(float64) != 3600 {
					t.Errorf("exp-iat = %v", c["exp"].(float64)-c["iat"].(float64))
				}
				if _, _, err := verify(iss, keys, token, jwt.WithAudience("b")); err != nil {
					t.Errorf("verify: %v", err)
				}
			},
		},
		{
			name: "WithClaim overrides WithScopes",
			opts: []MintOption{WithScopes("a"), WithClaim("scope", "b")},
			check: func(t *testing.T, _ string, _ map[string]any, c jwt.MapClaims) {
				if c["scope"] != "b" {
					t.Errorf("scope = %v", c["scope"])
				}
			},
		},
		{
			name: "WithExpiresIn negative is expired",
			opts: []MintOption{WithExpiresIn(-time.Minute)},
			check: func(t *testing.T, token string, _ map[string]any, _ jwt.MapClaims) {
				if _, _, err := verify(iss, keys, token); !errors.Is(err, jwt.ErrTokenExpired) {
					t.Errorf("err = %v, want expired", err)
				}
			},
		},
		{
			name: "WithSigningKey forges with a foreign key",
			opts: []MintOption{WithTokenAlgorithm("ES256"), WithSigningKey(foreign)},
			check: func(t *testing.T, token string, h map[string]any, _ jwt.MapClaims) {
				if h["kid"] != esKID {
					t.Errorf("kid = %v, want %q", h["kid"], esKID)
				}
				if _, _, err := verify(iss, keys, token); !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
					t.Errorf("forged token: err = %v, want signature invalid", err)
				}
				if err := verifyWith(token, jwt.SigningMethodES256, &foreign.PublicKey); err != nil {
					t.Errorf("not signed with the foreign key: %v", err)
				}
			},
		},
		{name: "WithSigningKey of the wrong type", opts: []MintOption{WithSigningKey(foreign)}, wantErr: true},
		{name: "WithKID with mismatched WithTokenAlgorithm", opts: []MintOption{WithKID(esKID), WithTokenAlgorithm("RS256")}, wantErr: true},
		{name: "unsupported alg", opts: []MintOption{WithTokenAlgorithm("HS256")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, err := iss.mintToken(tc.opts...)
			if tc.wantErr {
				if err == nil {
					t.Fatal("Mint succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			h, c := unverified(t, token)
			tc.check(t, token, h, c)
		})
	}
}

func TestSign(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	kid := iss.SigningKID("RS256")
	pub := iss.PublicKey(kid).(*rsa.PublicKey)
	claims := map[string]any{"sub": "x", "exp": 1}

	t.Run("as given", func(t *testing.T) {
		header := map[string]any{"alg": "PS256", "kid": "whatever", "crit": []string{"exp"}}
		token := iss.Sign(kid, header, claims)
		parts := strings.Split(token, ".")
		h, _ := json.Marshal(header)
		c, _ := json.Marshal(claims)
		if parts[0] != base64.RawURLEncoding.EncodeToString(h) || parts[1] != base64.RawURLEncoding.EncodeToString(c) {
			t.Errorf("segments were altered: %s", token)
		}
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		if err := jwt.SigningMethodPS256.Verify(parts[0]+"."+parts[1], sig, pub); err != nil {
			t.Errorf("signature: %v", err)
		}
	})
	t.Run("HS256 algorithm confusion", func(t *testing.T) {
		token := iss.Sign(kid, map[string]any{"alg": "HS256", "kid": kid}, claims)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		i := strings.LastIndex(token, ".")
		sig, _ := base64.RawURLEncoding.DecodeString(token[i+1:])
		if err := jwt.SigningMethodHS256.Verify(token[:i], sig, secret); err != nil {
			t.Errorf("HMAC with PEM public key: %v", err)
		}
		if _, _, err := verify(iss, fetchJWKS(t, iss), token); err == nil {
			t.Error("confused token verified")
		}
	})
	t.Run("none", func(t *testing.T) {
		token := iss.Sign(kid, map[string]any{"alg": "none"}, claims)
		if !strings.HasSuffix(token, ".") || strings.Count(token, ".") != 2 {
			t.Errorf("token = %q", token)
		}
	})
	for _, tc := range []struct {
		name   string
		kid    string
		header map[string]any
	}{
		{"unknown kid", "nope", map[string]any{"alg": "RS256"}},
		{"no alg", kid, map[string]any{"typ": "JWT"}},
		{"non-string alg", kid, map[string]any{"alg": 256}},
		{"unsupported alg", kid, map[string]any{"alg": "RSA-OAEP"}},
		{"alg does not fit key", kid, map[string]any{"alg": "ES256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := iss.sign(tc.kid, tc.header, claims); err == nil {
				t.Error("Sign succeeded")
			}
		})
	}
}

func TestJWKSOverrides(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	kid := iss.SigningKID("RS256")

	for _, body := range [][]byte{[]byte("not json"), []byte(`{"keys":[{"kty":"RSA"}]}`), {}} {
		hostile.Of(iss).SetJWKSBody(body)
		resp, got := get(t, iss.JWKSURL())
		if resp.StatusCode != http.StatusOK || string(got) != string(body) {
			t.Errorf("SetJWKSBody(%q): status %d, body %q", body, resp.StatusCode, got)
		}
	}
	hostile.Of(iss).SetJWKSBody(nil)
	if _, ok := fetchJWKS(t, iss)[kid]; !ok {
		t.Error("SetJWKSBody(nil) did not restore the generated JWKS")
	}

	hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"oct","kid":"sym","k":"c2VjcmV0"}`))
	hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"XYZ","kid":"weird"}`))
	_, body := get(t, iss.JWKSURL())
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("JWKS with raw keys is not JSON: %v", err)
	}
	var kids []any
	for _, k := range doc.Keys {
		kids = append(kids, k["kid"])
	}
	if want := []any{kid, "sym", "weird"}; !slices.Equal(kids, want) {
		t.Errorf("kids = %v, want %v", kids, want)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	type result struct {
		resp *http.Response
		body []byte
		err  error
	}
	do := func(ctx context.Context, u string) result {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return result{err: err}
		}
		resp, err := noKeepAlive.Do(req)
		if err != nil {
			return result{err: err}
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return result{resp, body, err}
	}
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, r result, jwks bool)
	}{
		{"FaultNone", FaultNone, func(t *testing.T, r result, _ bool) {
			if r.err != nil || r.resp.StatusCode != 200 || !json.Valid(r.body) {
				t.Errorf("err=%v resp=%v", r.err, r.resp)
			}
		}},
		{"FaultDown", FaultDown, func(t *testing.T, r result, _ bool) {
			if r.err == nil {
				t.Errorf("no client error; status %d", r.resp.StatusCode)
			}
		}},
		{"FaultStatus503", FaultStatus503, func(t *testing.T, r result, _ bool) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.resp.StatusCode != 503 || r.resp.Header.Get("Retry-After") != "1" || len(r.body) == 0 {
				t.Errorf("status %d, Retry-After %q, body %q", r.resp.StatusCode, r.resp.Header.Get("Retry-After"), r.body)
			}
		}},
		{"FaultGarbage", FaultGarbage, func(t *testing.T, r result, _ bool) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.resp.StatusCode != 200 || r.resp.Header.Get("Content-Type") != "application/json" || string(r.body) != `{"keys": [` {
				t.Errorf("status %d, body %q", r.resp.StatusCode, r.body)
			}
		}},
		{"FaultEmpty", FaultEmpty, func(t *testing.T, r result, jwks bool) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if jwks && string(r.body) != `{"keys":[]}` {
				t.Errorf("JWKS body %q", r.body)
			}
			if !jwks && !strings.Contains(string(r.body), `"jwks_uri"`) {
				t.Errorf("discovery affected by FaultEmpty: %q", r.body)
			}
		}},
		{"FaultHuge", FaultHuge, func(t *testing.T, r result, _ bool) {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.resp.StatusCode != 200 || len(r.body) <= 2<<20 || !json.Valid(r.body) {
				t.Errorf("status %d, %d bytes, valid %v", r.resp.StatusCode, len(r.body), json.Valid(r.body))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			iss := newIssuer(t)
			iss.SetFault(tc.fault)
			for _, ep := range []struct {
				u    string
				jwks bool
			}{
				{iss.JWKSURL(), true},
				{iss.URL() + "/.well-known/openid-configuration", false},
				{iss.ServerURL() + "/.well-known/oauth-authorization-server", false},
			} {
				tc.check(t, do(context.Background(), ep.u), ep.jwks)
			}
			if iss.JWKSFetches() != 1 || iss.DiscoveryFetches() != 2 {
				t.Errorf("counters: jwks %d, discovery %d", iss.JWKSFetches(), iss.DiscoveryFetches())
			}
			// The token endpoint is never faulty.
			if resp, body := postForm(t, iss.TokenURL(), url.Values{}, ""); resp.StatusCode != 200 {
				t.Errorf("token endpoint: %d %s", resp.StatusCode, body)
			}
			// Clearing the fault restores normal service.
			iss.SetFault(FaultNone)
			if len(fetchJWKS(t, iss)) != 1 {
				t.Error("JWKS not restored")
			}
		})
	}

	t.Run("FaultSlow", func(t *testing.T) {
		t.Parallel()
		iss := newIssuer(t)
		iss.SetFault(FaultSlow)

		iss.SetSlowDelay(time.Minute)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := do(ctx, iss.JWKSURL())
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want deadline exceeded", r.err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}

		iss.SetSlowDelay(50 * time.Millisecond)
		start = time.Now()
		r = do(context.Background(), iss.JWKSURL())
		if r.err != nil || r.resp.StatusCode != 200 || !strings.Contains(string(r.body), iss.SigningKID("RS256")) {
			t.Errorf("slow answer: err=%v body=%q", r.err, r.body)
		}
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Errorf("answered after %v, want >= 50ms", d)
		}
	})

	t.Run("FaultSlow released by Close", func(t *testing.T) {
		t.Parallel()
		iss := NewIssuer()
		iss.SetFault(FaultSlow)
		iss.SetSlowDelay(time.Hour)
		done := make(chan result, 1)
		go func() { done <- do(context.Background(), iss.JWKSURL()) }()
		for iss.JWKSFetches() == 0 {
			time.Sleep(5 * time.Millisecond) // polling for the request to reach the handler: it then hangs
		}
		start := time.Now()
		iss.Close()
		iss.Close() // idempotent
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Close took %v", d)
		}
		if r := <-done; r.err == nil && r.resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("status %d after Close", r.resp.StatusCode)
		}
		if _, err := noKeepAlive.Get(iss.JWKSURL()); err == nil {
			t.Error("server still answers after Close")
		}
	})
}

func TestCounters(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, WithPath("/p"))
	for range 3 {
		get(t, iss.JWKSURL())
	}
	get(t, iss.URL()+"/.well-known/openid-configuration")
	iss.SetDiscovery(true, false)
	get(t, iss.ServerURL()+"/.well-known/oauth-authorization-server/p") // 404, still counted
	get(t, iss.ServerURL()+"/unrelated")
	postForm(t, iss.TokenURL(), url.Values{}, "")
	if resp, _ := postForm(t, iss.JWKSURL(), url.Values{}, ""); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST JWKS: status %d, want 405", resp.StatusCode)
	}
	if got := iss.JWKSFetches(); got != 4 {
		t.Errorf("JWKSFetches = %d, want 4", got)
	}
	if got := iss.DiscoveryFetches(); got != 2 {
		t.Errorf("DiscoveryFetches = %d, want 2", got)
	}
	iss.ResetCounters()
	if iss.JWKSFetches() != 0 || iss.DiscoveryFetches() != 0 {
		t.Error("ResetCounters did not reset")
	}
}

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t, WithDefaultAlgorithm("ES384"))
	keys := fetchJWKS(t, iss)

	type tokenResp struct {
		AccessToken  string  `json:"access_token"`
		TokenType    string  `json:"token_type"`
		ExpiresIn    float64 `json:"expires_in"`
		Scope        *string `json:"scope"`
		RefreshToken string  `json:"refresh_token"`
		Error        string  `json:"error"`
	}
	call := func(t *testing.T, form url.Values, accept string, wantStatus int) (tokenResp, []byte, *http.Response) {
		t.Helper()
		resp, body := postForm(t, iss.TokenURL(), form, accept)
		if resp.StatusCode != wantStatus {
			t.Fatalf("status %d, want %d; body %s", resp.StatusCode, wantStatus, body)
		}
		var tr tokenResp
		if accept != "text/plain" || wantStatus != 200 {
			if err := json.Unmarshal(body, &tr); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, body)
			}
		}
		return tr, body, resp
	}

	t.Run("client_credentials defaults", func(t *testing.T) {
		tr, _, resp := call(t, url.Values{}, "", 200)
		if resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("headers = %v", resp.Header)
		}
		if tr.TokenType != "Bearer" || tr.ExpiresIn != 300 || tr.Scope != nil || tr.RefreshToken == "" {
			t.Errorf("response = %+v", tr)
		}
		tok, claims, err := verify(iss, keys, tr.AccessToken, jwt.WithAudience(defaultAudience))
		if err != nil {
			t.Fatalf("access token does not verify: %v", err)
		}
		if tok.Header["alg"] != "ES384" || claims["sub"] != "user-123" {
			t.Errorf("header %v claims %v", tok.Header, claims)
		}
	})

	t.Run("client_credentials with parameters and refresh", func(t *testing.T) {
		form := url.Values{
			"grant_type": {"client_credentials"},
			"scope":      {" notes:read   notes:write "},
			"resource":   {"https://notes.example"},
			"sub":        {"svc-42"},
			"expires_in": {"60"},
		}
		tr, _, _ := call(t, form, "", 200)
		if tr.Scope == nil || *tr.Scope != "notes:read notes:write" || tr.ExpiresIn != 60 {
			t.Errorf("response = %+v", tr)
		}
		check := func(token string) jwt.MapClaims {
			t.Helper()
			_, c, err := verify(iss, keys, token, jwt.WithAudience("https://notes.example"))
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if c["sub"] != "svc-42" || c["scope"] != "notes:read notes:write" || c["aud"] != "https://notes.example" ||
				c["exp"].(float64)-c["iat"].(float64) != 60 {
				t.Errorf("claims = %v", c)
			}
			return c
		}
		c1 := check(tr.AccessToken)

		tr2, _, _ := call(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr.RefreshToken}}, "", 200)
		if tr2.RefreshToken != tr.RefreshToken || tr2.AccessToken == tr.AccessToken || *tr2.Scope != *tr.Scope || tr2.ExpiresIn != 60 {
			t.Errorf("refresh response = %+v", tr2)
		}
		if c2 := check(tr2.AccessToken); c2["jti"] == c1["jti"] {
			t.Error("refreshed token reuses jti")
		}
	})

	t.Run("multiple resources", func(t *testing.T) {
		tr, _, _ := call(t, url.Values{"resource": {"https://a.example", "https://b.example"}}, "", 200)
		_, c := unverified(t, tr.AccessToken)
		if aud, _ := c.GetAudience(); !slices.Equal(aud, []string{"https://a.example", "https://b.example"}) {
			t.Errorf("aud = %v", aud)
		}
	})

	t.Run("text/plain", func(t *testing.T) {
		_, body, resp := call(t, url.Values{"scope": {"notes:read"}}, "text/plain", 200)
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
		}
		_, c, err := verify(iss, keys, string(body), jwt.WithAudience(defaultAudience))
		if err != nil {
			t.Fatalf("plain body %q is not a valid token: %v", body, err)
		}
		if c["scope"] != "notes:read" {
			t.Errorf("scope = %v", c["scope"])
		}
	})

	for _, tc := range []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"unknown refresh token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}}, 400, "invalid_grant"},
		{"missing refresh token", url.Values{"grant_type": {"refresh_token"}}, 400, "invalid_request"},
		{"unsupported grant", url.Values{"grant_type": {"password"}}, 400, "unsupported_grant_type"},
		{"bad expires_in", url.Values{"expires_in": {"soon"}}, 400, "invalid_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, _, resp := call(t, tc.form, "", tc.wantStatus)
			if tr.Error != tc.wantError || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("error = %q, want %q", tr.Error, tc.wantError)
			}
		})
	}

	t.Run("other methods", func(t *testing.T) {
		for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
			req, _ := http.NewRequest(m, iss.TokenURL(), nil)
			resp, err := noKeepAlive.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s: status %d", m, resp.StatusCode)
			}
		}
	})
}

func TestConcurrentMintAndRotate(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	algs := []string{"RS256", "ES256", "EdDSA"}
	const minters, perMinter = 6, 15

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		tokens []string
		errs   []error
	)
	fail := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	for g := range minters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range perMinter {
				tok := iss.Mint(WithTokenAlgorithm(algs[(g+n)%len(algs)]))
				mu.Lock()
				tokens = append(tokens, tok)
				mu.Unlock()
			}
		}()
	}
	wg.Add(3)
	go func() {
		defer wg.Done()
		for n := range 6 {
			iss.Rotate(algs[n%len(algs)])
		}
	}()
	go func() {
		defer wg.Done()
		for range 10 {
			resp, err := http.Get(iss.JWKSURL())
			if err != nil {
				fail(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !json.Valid(b) {
				fail(fmt.Errorf("invalid JWKS during rotation: %s", b))
			}
			_ = iss.SigningKID("RS256")
			_ = iss.DiscoveryFetches()
		}
	}()
	go func() {
		defer wg.Done()
		for range 10 {
			iss.SetFault(FaultNone)
			hostile.Of(iss).SetMetadataIssuer("")
			hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"oct","kid":"x"}`))
			resp, err := http.Get(iss.URL() + "/.well-known/openid-configuration")
			if err != nil {
				fail(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(tokens) != minters*perMinter {
		t.Fatalf("%d tokens", len(tokens))
	}
	keys := fetchJWKSIgnoringRaw(t, iss)
	for _, tok := range tokens {
		if _, _, err := verify(iss, keys, tok); err != nil {
			t.Errorf("token does not verify after concurrent rotation: %v", err)
		}
	}
}

// fetchJWKSIgnoringRaw is fetchJWKS for key sets that also contain raw
// symmetric JWKs added with AddRawJWK (which jwkset refuses to parse as public
// keys).
func fetchJWKSIgnoringRaw(t *testing.T, iss *Issuer) map[string]jwkset.JWK {
	t.Helper()
	_, body := get(t, iss.JWKSURL())
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]jwkset.JWK)
	for _, raw := range doc.Keys {
		if k, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{}); err == nil {
			keys[k.Marshal().KID] = k
		}
	}
	return keys
}
