package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"iter"
	"net/url"
	"slices"
	"testing"

	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/internal/loopback"
	"github.com/jwtguard/jwtguard/internal/testkeys"
)

// jwkOf marshals pub as a JWK with jwkset and sets extra members.
func jwkOf(tb testing.TB, pub any, kid string, extra map[string]any) json.RawMessage {
	tb.Helper()
	raw, err := jwkjson.Public(pub, kid, extra)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// jwksSeeds are key sets made of the attack catalogue's keys: good ones of
// every type, and each way a JWK must be skipped.
func jwksSeeds(tb testing.TB) [][]byte {
	rk := testkeys.RSA()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	set := func(keys ...json.RawMessage) []byte {
		b, _ := json.Marshal(map[string]any{"keys": keys})
		return b
	}
	good := []json.RawMessage{
		jwkOf(tb, &rk.PublicKey, "rsa", map[string]any{"alg": "RS256", "use": "sig"}),
		jwkOf(tb, &rk.PublicKey, "rsa-noalg", nil),
		jwkOf(tb, &p256.PublicKey, "p256", map[string]any{"alg": "ES256", "key_ops": []string{"verify"}}),
		jwkOf(tb, &p384.PublicKey, "p384", map[string]any{"alg": "ES384"}),
		jwkOf(tb, &p521.PublicKey, "p521", map[string]any{"alg": "ES512"}),
		jwkOf(tb, edPub, "ed", map[string]any{"alg": "EdDSA"}),
		jwkOf(tb, &p256.PublicKey, "bound", map[string]any{"issuer": "https://login.microsoftonline.com/{tenantid}/v2.0"}),
	}
	bad := []json.RawMessage{
		jwkOf(tb, &rk.PublicKey, "enc", map[string]any{"use": "enc"}),
		jwkOf(tb, &rk.PublicKey, "ops", map[string]any{"key_ops": []string{"sign"}}),
		jwkOf(tb, &small.PublicKey, "rsa1024", map[string]any{"alg": "RS256"}),
		jwkOf(tb, &rk.PublicKey, "alg-hs", map[string]any{"alg": "HS256"}),
		jwkOf(tb, &p256.PublicKey, "alg-curve", map[string]any{"alg": "ES384"}),
		jwkOf(tb, &p256.PublicKey, "alg-kty", map[string]any{"alg": "RS256"}),
		jwkOf(tb, &p256.PublicKey, "", nil),
		jwkOf(tb, &p256.PublicKey, "issuer-number", map[string]any{"issuer": 7}),
		jwkOf(tb, &p256.PublicKey, "issuer-empty", map[string]any{"issuer": ""}),
		jwkOf(tb, &p256.PublicKey, "rsa", nil), // a kid already used, by a key of another type: kept
		json.RawMessage(`{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`),
		json.RawMessage(`{"kty":"EC","kid":"off-curve","crv":"P-256","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","y":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
		json.RawMessage(`{"kty":"OKP","kid":"x25519","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`),
		json.RawMessage(`{"kty":"RSA","kid":"bad-n","n":"!!!","e":"AQAB"}`),
		json.RawMessage(`{"kty":"RSA","kid":"zero-n","n":"","e":"AQAB"}`),
		json.RawMessage(`"not an object"`),
		json.RawMessage(`null`),
	}
	seeds := [][]byte{set(good...), set(append(good[:1:1], bad...)...), set(bad...)}
	for _, b := range bad {
		seeds = append(seeds, set(good[0], b))
	}
	return append(seeds,
		[]byte(`{"keys":[]}`), []byte(`{"keys":null}`), []byte(`{}`), []byte(`[]`), []byte(`null`),
		[]byte(`{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":1}]}`),
		[]byte(`{"keys":[{"KTY":"oct","KID":"a","K":"AQ"}]}`),
		[]byte(`{"keys":[{"kty":"RSA","kid":"a","use":"sig","use":"enc"}]}`),
	)
}

// jwkMeta is a JWK's metadata as encoding/json reads it (the way jwkset
// reads it, case-insensitive member names included).
type jwkMeta struct {
	KTY    string   `json:"kty"`
	KID    string   `json:"kid"`
	USE    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	ALG    string   `json:"alg"`
}

// FuzzParseJWKS: parseJWKS never panics; every key it keeps is one this
// library would ever verify with, under a non-empty kid, fitting the alg its
// JWK names, bound to the issuer its JWK's exact "issuer" member names, and
// comes from a JWK that allows signature verification.
func FuzzParseJWKS(f *testing.F) {
	for _, s := range jwksSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, _, err := parseJWKS(body)
		if err != nil {
			if s != nil {
				t.Fatal("a snapshot and an error")
			}
			if !errors.Is(err, ErrMalformedJWKS) && !errors.Is(err, ErrNoUsableKeys) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		n := 0
		for kid, ks := range s.keys {
			n += len(ks)
			for i := range ks {
				for j := range i {
					if ks[i].fits&ks[j].fits != 0 {
						t.Fatalf("kid %q: two keys fit one algorithm, %T and %T", kid, ks[j].pub, ks[i].pub)
					}
				}
			}
		}
		if n == 0 || n != s.n || len(s.jwks) != n {
			t.Fatalf("%d keys (%d counted), %d JWKs", n, s.n, len(s.jwks))
		}
		var doc struct{ Keys []json.RawMessage }
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("parseJWKS accepted what encoding/json refuses: %v", err)
		}
		for kid, k := range keysOf(s) {
			if kid == "" {
				t.Fatal("a key under an empty kid")
			}
			if !keyalg.Usable(k.pub) {
				t.Fatalf("kid %q: unusable %T kept", kid, k.pub)
			}
			if k.alg != "" && !keyalg.Compatible(k.alg, k.pub) {
				t.Fatalf("kid %q: alg %q does not fit %T", kid, k.alg, k.pub)
			}
			if k.alg != "" && !keyalg.IsSupported(k.alg) {
				t.Fatalf("kid %q: alg %q kept", kid, k.alg)
			}
			for _, alg := range keyalg.Supported {
				if want := (k.alg == "" || k.alg == alg) && keyalg.Compatible(alg, k.pub); (k.fits&bitOf(alg) != 0) != want {
					t.Fatalf("kid %q (%T, alg %q): fits %s is %v", kid, k.pub, k.alg, alg, !want)
				}
			}
			// A JWK under this kid that parses is the one kept.
			found := false
			for _, raw := range doc.Keys {
				var m jwkMeta
				if json.Unmarshal(raw, &m) != nil || m.KID != kid {
					continue
				}
				if m.KTY == "oct" || (m.USE != "" && m.USE != "sig") ||
					(len(m.KeyOps) > 0 && !slices.Contains(m.KeyOps, "verify")) || m.ALG != k.alg {
					continue
				}
				var members map[string]any
				_ = json.Unmarshal(raw, &members)
				if iss, has := members["issuer"]; has != (k.issuer != "") || (has && iss != k.issuer) {
					continue
				}
				found = true
				break
			}
			if !found {
				t.Fatalf("kid %q kept, but no JWK under it allows verification with alg %q bound to %q", kid, k.alg, k.issuer)
			}
		}
	})
}

// key.fits has a bit for each supported algorithm, and an unsupported one
// has none.
func TestKeyFitsHasABitPerAlgorithm(t *testing.T) {
	t.Parallel()
	var all uint32
	for _, alg := range keyalg.Supported {
		b := bitOf(alg)
		if b == 0 || all&b != 0 {
			t.Fatalf("%s: bit %#x, taken %#x", alg, b, all)
		}
		all |= b
	}
	if len(keyalg.Supported) > 32 {
		t.Fatalf("%d algorithms, more than key.fits has bits", len(keyalg.Supported))
	}
	for _, alg := range []string{"", "HS256", "none"} {
		if bitOf(alg) != 0 {
			t.Errorf("%q has a bit", alg)
		}
	}
}

// keysOf yields every key of s with its kid.
func keysOf(s *snapshot) iter.Seq2[string, key] {
	return func(yield func(string, key) bool) {
		for kid, ks := range s.keys {
			for _, k := range ks {
				if !yield(kid, k) {
					return
				}
			}
		}
	}
}

// FuzzParseMetadata: parseMetadata never panics, and succeeds only with an
// absolute http(s) URL (https for an https issuer; http only on loopback
// unless insecure) and only when the document's "issuer" member equals the
// configured issuer exactly.
func FuzzParseMetadata(f *testing.F) {
	const iss = "https://issuer.example"
	for _, s := range []struct {
		body, issuer string
		insecure     bool
	}{
		{`{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example/","jwks_uri":"https://issuer.example/jwks"}`, iss, false},
		{`{"issuer":"https://ISSUER.example","jwks_uri":"https://issuer.example/jwks"}`, iss, false},
		{`{"issuer":"https://evil.example","jwks_uri":"https://evil.example/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":"http://issuer.example/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":"http://127.0.0.1/jwks"}`, iss, false},
		{`{"issuer":"http://127.0.0.1:8080","jwks_uri":"http://127.0.0.1:8080/jwks"}`, "http://127.0.0.1:8080", false},
		{`{"issuer":"http://idp","jwks_uri":"http://idp/jwks"}`, "http://idp", true},
		{`{"issuer":"https://issuer.example","jwks_uri":"/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":"//evil.example/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":"file:///etc/passwd"}`, iss, true},
		{`{"issuer":"https://issuer.example","jwks_uri":"https://user:pw@issuer.example/jwks"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":"https://issuer.example/jwks#frag"}`, iss, false},
		{`{"issuer":"https://issuer.example","jwks_uri":""}`, iss, false},
		{`{"issuer":"https://issuer.example"}`, iss, false},
		{`{"issuer":"https://evil.example","issuer":"https://issuer.example","jwks_uri":"https://evil.example/jwks"}`, iss, false},
		{`{"ISSUER":"https://issuer.example","jwks_uri":"https://issuer.example/jwks"}`, iss, false},
		{`{"issuer":null,"jwks_uri":"https://issuer.example/jwks"}`, "", false},
		{`{"jwks_uri":"https://issuer.example/jwks"}`, "", false},
		{`[]`, iss, false},
		{`null`, "", false},
		{``, iss, false},
	} {
		f.Add([]byte(s.body), s.issuer, s.insecure)
	}
	f.Fuzz(func(t *testing.T, body []byte, issuer string, insecure bool) {
		got, err := parseMetadata(body, issuer, insecure)
		if err != nil {
			if got != "" {
				t.Fatalf("%q and an error", got)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			t.Fatalf("not an absolute http(s) URL: %q", got)
		}
		if u.Scheme == "http" && !insecure && !loopback.Host(u.Hostname()) {
			t.Fatalf("plain http to a non-loopback host: %q", got)
		}
		if len(issuer) >= 6 && issuer[:6] == "https:" && u.Scheme != "https" {
			t.Fatalf("https issuer, %q", got)
		}
		if _, err := checkURL(issuer, insecure); err != nil {
			return // New never configures such an issuer
		}
		// The member named exactly "issuer" (JSON names are case-sensitive).
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted a document encoding/json cannot read as an object: %v", err)
		}
		var named string
		if raw, ok := m["issuer"]; !ok || json.Unmarshal(raw, &named) != nil || named != issuer {
			t.Fatalf("accepted with \"issuer\" %s (present %v), configured %q", raw, ok, issuer)
		}
	})
}

// RFC 8725 §3.4: an EC public key whose point is not on its curve is never
// kept (invalid-curve attacks need the verifier to use such a point).
func TestParseJWKSRefusesOffCurvePoint(t *testing.T) {
	t.Parallel()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good := jwkOf(t, &p256.PublicKey, "good", nil)
	var m map[string]any
	_ = json.Unmarshal(good, &m)
	m["kid"] = "off"
	m["y"] = m["x"] // (x, x) is, with overwhelming probability, off the curve
	off, _ := json.Marshal(m)
	body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{good, off}})
	s, skips, err := parseJWKS(body)
	if err != nil {
		t.Fatal(err)
	}
	if _, kept := s.keys["off"]; kept || len(skips) != 1 || skips[0].kid != "off" {
		t.Fatalf("off-curve key kept (skips %+v)", skips)
	}
}

// The metadata member is "issuer", exactly: JSON member names are
// case-sensitive (RFC 8259 §4 leaves it to the parser; RFC 8414 §3.3 names
// the member). encoding/json matches struct fields case-insensitively.
func TestParseMetadataIssuerMemberIsCaseSensitive(t *testing.T) {
	t.Parallel()
	const iss = "https://issuer.example"
	for _, body := range []string{
		`{"ISSUER":"https://issuer.example","jwks_uri":"https://issuer.example/jwks"}`,
		`{"Issuer":"https://issuer.example","jwks_uri":"https://issuer.example/jwks"}`,
	} {
		if u, err := parseMetadata([]byte(body), iss, false); err == nil {
			t.Errorf("%s accepted: %s", body, u)
		}
	}
}
