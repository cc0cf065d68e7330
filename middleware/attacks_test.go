package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// The attack catalogue: one named subtest per attack, each asserting the
// exact response the example servers' refusal table (examples/README.md) fixes. A
// panic fails the subtest (the in-process path re-panics; the network path
// sees the server drop the connection), and an exact match rules out any
// 5xx. Keys supplied by the token header (jku, x5u, jwk, x5c) are covered by
// TestHeaderSuppliedKeysAreNeverUsed in guard_test.go.

// attackCase is one attack. By default tok is sent as "Authorization: Bearer
// <tok>" over the network.
type attackCase struct {
	name   string
	tok    string
	authz  string // when set, the whole Authorization value instead of "Bearer "+tok
	cookie bool   // send tok in the "at" cookie instead
	raw    bool   // serve in-process: bytes Go's HTTP client refuses to send
	want   response
	err    error // when set, the error handler must have seen it (errors.Is)
}

// accepted is what the test servers' handlers answer a request that passes.
var accepted = response{Status: 200, CType: "text/plain; charset=utf-8", Body: "user-123"}

// attackEnv is an env whose issuer publishes, from the first fetch on, every
// key an attack needs, so no attack depends on an unknown-kid refresh.
type attackEnv struct {
	*env
	rsKID, esKID, es384KID, edKID string
	// RSA keys of ours, published under these kids in the ways noted.
	algRS512 *rsa.PrivateKey // kid "jwk-alg-rs512": JWK "alg":"RS512"
	useEnc   *rsa.PrivateKey // kid "jwk-use-enc": JWK "use":"enc"
	opsSign  *rsa.PrivateKey // kid "jwk-ops-sign": JWK "key_ops":["sign"]
	rsa1024  *rsa.PrivateKey // kid "jwk-rsa-1024": 1024-bit modulus
	octK     []byte          // kid "octk": a symmetric JWK
	// Keys published without "alg" (kids "noalg-rsa", "noalg-p256",
	// "noalg-p384", "noalg-ed"): only the key's type and curve can say
	// which algorithms fit (keyalg.Compatible).
	noAlgRSA  *rsa.PrivateKey
	noAlgP256 *ecdsa.PrivateKey
	noAlgP384 *ecdsa.PrivateKey
	noAlgEd   ed25519.PrivateKey
	jwkBytes  map[string][]byte
}

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	a := &attackEnv{rsKID: iss.SigningKID("RS256")}
	for alg, kid := range map[string]*string{"ES256": &a.esKID, "ES384": &a.es384KID, "EdDSA": &a.edKID} {
		*kid = iss.Rotate(alg)
	}
	gen := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	a.algRS512, a.useEnc, a.opsSign, a.rsa1024 = testkeys.RSA(), testkeys.RSA(), testkeys.RSA(), gen(1024)
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.algRS512.PublicKey, "jwk-alg-rs512", map[string]any{"alg": "RS512", "use": "sig"}))
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.useEnc.PublicKey, "jwk-use-enc", map[string]any{"use": "enc"}))
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.opsSign.PublicKey, "jwk-ops-sign", map[string]any{"key_ops": []string{"sign"}}))
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.rsa1024.PublicKey, "jwk-rsa-1024", map[string]any{"alg": "RS256"}))
	noAlg := map[string]any{"alg": nil} // jwkset fills in "alg" for Ed25519
	a.noAlgRSA = gen(2048)
	a.noAlgP256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	a.noAlgP384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, a.noAlgEd, _ = ed25519.GenerateKey(rand.Reader)
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.noAlgRSA.PublicKey, "noalg-rsa", noAlg))
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.noAlgP256.PublicKey, "noalg-p256", noAlg))
	hostile.Of(iss).AddRawJWK(publicJWK(t, &a.noAlgP384.PublicKey, "noalg-p384", noAlg))
	hostile.Of(iss).AddRawJWK(publicJWK(t, a.noAlgEd.Public(), "noalg-ed", noAlg))
	a.octK = []byte("a published symmetric secret, 32B")
	hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"oct","kid":"octk","k":"` + base64.RawURLEncoding.EncodeToString(a.octK) + `"}`))

	// The JWK bytes exactly as the issuer serves them, for the confusion
	// attacks that MAC with "the JWK" as the secret.
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	a.jwkBytes = make(map[string][]byte)
	for _, raw := range set.Keys {
		var m struct{ KID string }
		_ = json.Unmarshal(raw, &m)
		a.jwkBytes[m.KID] = raw
	}
	a.env = newEnvFor(t, iss, true, middleware.WithCookie("at"))
	return a
}

// publicJWK marshals pub as a JWK with jwkset and overrides members.
func publicJWK(t *testing.T, pub crypto.PublicKey, kid string, override map[string]any) json.RawMessage {
	t.Helper()
	raw := jwkstest.PublicJWK(pub, kid, override)
	return raw
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// signRaw signs header and payload, given as exact JSON text, with the
// issuer's private key kid using golang-jwt's method for alg: the bytes
// signed are exactly the bytes given (duplicate members included).
func (a *attackEnv) signRaw(t *testing.T, kid, alg, header, payload string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := jwt.GetSigningMethod(alg).Sign(input, hostile.Of(a.iss).PrivateKey(kid))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// signWith is signRaw with a private key of ours.
func signWith(t *testing.T, key crypto.Signer, alg, header, payload string) string {
	t.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := jwt.GetSigningMethod(alg).Sign(input, key)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// hmacToken MACs header and payload with secret, as an attacker holding the
// issuer's public key would.
func hmacToken(alg string, secret []byte, header, payload map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	input := b64(h) + "." + b64(p)
	var fn func() hash.Hash
	switch alg {
	case "HS256":
		fn = sha256.New
	case "HS384":
		fn = sha512.New384
	default:
		fn = sha512.New
	}
	m := hmac.New(fn, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// withSignature replaces the token's signature segment.
func withSignature(tok string, sig []byte) string {
	return tok[:strings.LastIndexByte(tok, '.')+1] + b64(sig)
}

func signatureOf(t *testing.T, tok string) []byte {
	t.Helper()
	sig, err := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// nonCanonical changes the last character of the signature to one that
// decodes to the same bytes but sets trailing bits that must be zero
// (RFC 4648 §3.5; RFC 7515 §2 requires the canonical form).
func nonCanonical(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig := tok[i+1:]
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var unused int // trailing bits carried by the last character
	switch len(sig) % 4 {
	case 2:
		unused = 4
	case 3:
		unused = 2
	default:
		t.Fatalf("signature of %d chars has no trailing bits", len(sig))
	}
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	mask := (1 << unused) - 1 // the bits that must be zero
	alt := alphabet[last|mask]
	if alt == sig[len(sig)-1] {
		t.Fatal("no non-canonical alternative")
	}
	out := tok[:len(tok)-1] + string(alt)
	if d, err := base64.RawURLEncoding.DecodeString(out[i+1:]); err != nil || string(d) != string(signatureOf(t, tok)) {
		t.Fatal("the lenient decoder should read the same bytes")
	}
	return out
}

// send delivers one attack and returns the response, failing on a 5xx
// other than the contract's 503.
func (a *attackEnv) send(t *testing.T, tc attackCase) response {
	t.Helper()
	a.last = nil
	req := httptest.NewRequest("GET", "/api/me", nil)
	switch {
	case tc.authz != "":
		req.Header["Authorization"] = []string{tc.authz}
	case tc.cookie:
		req.Header.Set("Cookie", "at="+tc.tok)
	default:
		req.Header.Set("Authorization", "Bearer "+tc.tok)
	}
	var got response
	if tc.raw {
		rec := httptest.NewRecorder()
		a.srv.Config.Handler.ServeHTTP(rec, req)
		got = guardtest.Read(rec.Result())
	} else {
		out, _ := http.NewRequest("GET", a.srv.URL+"/api/me", nil)
		out.Header = req.Header
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			t.Fatalf("request failed (server panic or refused bytes?): %v", err)
		}
		got = guardtest.Read(resp)
	}
	if got.Status >= 500 && got.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", got.Status)
	}
	return got
}

func (a *attackEnv) run(t *testing.T, tc attackCase) {
	check(t, a.send(t, tc), tc.want)
	if tc.err != nil && !errors.Is(a.last, tc.err) {
		t.Fatalf("error handler saw %v, want %v", a.last, tc.err)
	}
}

func TestAttack(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	a := newAttackEnv(t)
	var cases []attackCase
	add := func(c ...attackCase) { cases = append(cases, c...) }
	add(a.algNoneAttacks(t)...)
	add(a.confusionAttacks(t)...)
	add(a.keyMismatchAttacks(t)...)
	add(a.kidAttacks(t)...)
	add(a.headerAttacks(t)...)
	add(a.claimAttacks(t)...)
	add(a.encodingAttacks(t)...)
	add(a.ecdsaAttacks(t)...)
	add(a.injectionAttacks(t)...)
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate attack name %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { a.run(t, tc) })
	}
}

func (a *attackEnv) hdr(over map[string]any) map[string]any {
	return jwkjson.Override(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": a.rsKID}, over)
}

// claimsJSON is a valid payload as JSON text, with extra members appended
// verbatim (so they may repeat or be ill-typed).
func (a *attackEnv) claimsJSON(extra string, drop ...string) string {
	now := time.Now().Unix()
	m := map[string]string{
		"iss": strconv.Quote(a.iss.URL()), "sub": `"user-123"`, "aud": strconv.Quote(aud),
		"iat": strconv.FormatInt(now, 10), "exp": strconv.FormatInt(now+300, 10),
	}
	for _, d := range drop {
		delete(m, d)
	}
	var b strings.Builder
	b.WriteByte('{')
	for _, k := range []string{"iss", "sub", "aud", "iat", "exp"} {
		if v, ok := m[k]; ok {
			if b.Len() > 1 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(k) + ":" + v)
		}
	}
	if extra != "" {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(extra)
	}
	b.WriteByte('}')
	return b.String()
}

// alg none in every spelling, with an empty and a junk signature.
func (a *attackEnv) algNoneAttacks(t *testing.T) []attackCase {
	var out []attackCase
	p := a.payload(nil)
	for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
		h, _ := json.Marshal(a.hdr(map[string]any{"alg": alg}))
		pl, _ := json.Marshal(p)
		unsignedInput := b64(h) + "." + b64(pl)
		out = append(out,
			attackCase{name: "alg_" + alg + "_empty_signature", tok: unsignedInput + ".", want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
			attackCase{name: "alg_" + alg + "_junk_signature", tok: unsignedInput + "." + b64([]byte("junk")), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
			attackCase{name: "alg_" + alg + "_no_kid", tok: b64([]byte(`{"alg":"`+alg+`"}`)) + "." + b64(pl) + ".", want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		)
	}
	// jwkstest's own "none" signer: the token golang-jwt would produce.
	out = append(out,
		attackCase{name: "alg_none_via_golang_jwt", tok: a.iss.Sign(a.rsKID, a.hdr(map[string]any{"alg": "none"}), p), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		attackCase{name: "alg_empty_string", tok: guardtest.Unsigned(a.hdr(map[string]any{"alg": ""}), p), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		attackCase{name: "alg_not_a_string", tok: guardtest.Unsigned(a.hdr(map[string]any{"alg": []string{"RS256"}}), p), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		attackCase{name: "rs256_empty_signature", tok: strings.TrimRight(a.iss.Mint(), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), want: invalid(guardtest.DescSignature), err: middleware.ErrSignature},
	)
	return out
}

// HS* MAC'd with the issuer's public key in every form an attacker might
// guess the verifier would use as the "secret", and an oct key published in
// the JWKS.
func (a *attackEnv) confusionAttacks(t *testing.T) []attackCase {
	var out []attackCase
	p := a.payload(nil)
	for _, kid := range []string{a.rsKID, a.esKID} {
		pub := a.iss.PublicKey(kid)
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		secrets := map[string][]byte{
			"pem":         pemBytes,
			"pem_no_nl":   []byte(strings.TrimSpace(string(pemBytes))),
			"der_pkix":    der,
			"jwk_json":    a.jwkBytes[kid],
			"jwk_json_nl": append(append([]byte(nil), a.jwkBytes[kid]...), '\n'),
		}
		if rk, ok := pub.(*rsa.PublicKey); ok {
			secrets["pem_pkcs1"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rk)})
		}
		kty := "rsa"
		if strings.HasPrefix(kid, "es") {
			kty = "ec"
		}
		for form, secret := range secrets {
			if len(secret) == 0 {
				t.Fatalf("no %s secret for %s", form, kid)
			}
			for _, alg := range []string{"HS256", "HS384", "HS512"} {
				out = append(out, attackCase{
					name: fmt.Sprintf("confusion_%s_%s_key_as_%s", alg, kty, form),
					tok:  hmacToken(alg, secret, a.hdr(map[string]any{"alg": alg, "kid": kid}), p),
					want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm,
				})
			}
		}
	}
	// jwkstest's own confusion signer (PEM) as a cross-check of hmacToken.
	out = append(out,
		attackCase{name: "confusion_HS256_via_jwkstest_sign", tok: a.iss.Sign(a.rsKID, a.hdr(map[string]any{"alg": "HS256"}), p), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		attackCase{name: "confusion_oct_key_in_jwks", tok: hmacToken("HS256", a.octK, a.hdr(map[string]any{"alg": "HS256", "kid": "octk"}), p), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		// An asymmetric alg naming the oct kid: the cache never kept it.
		attackCase{name: "confusion_rs256_header_on_oct_kid", tok: a.iss.Mint(jwkstest.WithKID("octk")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
	)
	return out
}

// Keys whose type, curve, size or JWK metadata do not allow the token's alg.
func (a *attackEnv) keyMismatchAttacks(t *testing.T) []attackCase {
	mint := a.iss.Mint
	lie := func(alg string) jwkstest.MintOption { return jwkstest.WithHeader("alg", alg) }
	p := a.payload(nil)
	ours := func(key crypto.Signer, kid, alg string) string {
		h, _ := json.Marshal(a.hdr(map[string]any{"alg": alg, "kid": kid}))
		pl, _ := json.Marshal(p)
		return signWith(t, key, alg, string(h), string(pl))
	}
	// lying signs with signAlg but names headerAlg.
	lying := func(key crypto.Signer, kid, signAlg, headerAlg string) string {
		h, _ := json.Marshal(a.hdr(map[string]any{"alg": headerAlg, "kid": kid}))
		pl, _ := json.Marshal(p)
		return signWith(t, key, signAlg, string(h), string(pl))
	}
	return []attackCase{
		{name: "mismatch_RS256_header_on_EC_kid", tok: mint(jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(a.esKID), lie("RS256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_PS256_header_on_EC_kid", tok: mint(jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(a.esKID), lie("PS256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_RS256_header_on_OKP_kid", tok: mint(jwkstest.WithTokenAlgorithm("EdDSA"), jwkstest.WithKID(a.edKID), lie("RS256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_PS256_header_on_OKP_kid", tok: mint(jwkstest.WithTokenAlgorithm("EdDSA"), jwkstest.WithKID(a.edKID), lie("PS256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_ES256_header_on_P384_kid", tok: mint(jwkstest.WithTokenAlgorithm("ES384"), jwkstest.WithKID(a.es384KID), lie("ES256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_ES384_header_on_P256_kid", tok: mint(jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(a.esKID), lie("ES384")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_EdDSA_header_on_RSA_kid", tok: mint(jwkstest.WithKID(a.rsKID), lie("EdDSA")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "mismatch_ES256_header_on_OKP_kid", tok: mint(jwkstest.WithTokenAlgorithm("EdDSA"), jwkstest.WithKID(a.edKID), lie("ES256")), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		// The same, on keys whose JWK names no alg: only the key's type and
		// curve decide.
		{name: "noalg_RS256_header_on_P256_kid", tok: lying(a.noAlgP256, "noalg-p256", "ES256", "RS256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_PS256_header_on_P256_kid", tok: lying(a.noAlgP256, "noalg-p256", "ES256", "PS256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_RS256_header_on_OKP_kid", tok: lying(a.noAlgEd, "noalg-ed", "EdDSA", "RS256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_ES256_header_on_P384_kid", tok: lying(a.noAlgP384, "noalg-p384", "ES384", "ES256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_ES384_header_on_P256_kid", tok: lying(a.noAlgP256, "noalg-p256", "ES256", "ES384"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_ES512_header_on_P384_kid", tok: lying(a.noAlgP384, "noalg-p384", "ES384", "ES512"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_EdDSA_header_on_RSA_kid", tok: lying(a.noAlgRSA, "noalg-rsa", "RS256", "EdDSA"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "noalg_ES256_header_on_RSA_kid", tok: lying(a.noAlgRSA, "noalg-rsa", "RS256", "ES256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "control_noalg_rsa_PS384", tok: ours(a.noAlgRSA, "noalg-rsa", "PS384"), want: accepted},
		{name: "control_noalg_p384_ES384", tok: ours(a.noAlgP384, "noalg-p384", "ES384"), want: accepted},
		{name: "control_noalg_ed_EdDSA", tok: ours(a.noAlgEd, "noalg-ed", "EdDSA"), want: accepted},
		// Properly signed, but the JWK names another alg.
		{name: "jwk_alg_RS512_token_RS256_properly_signed", tok: ours(a.algRS512, "jwk-alg-rs512", "RS256"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "jwk_alg_RS512_token_PS512_properly_signed", tok: ours(a.algRS512, "jwk-alg-rs512", "PS512"), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "jwk_alg_RS256_token_PS256_properly_signed", tok: a.iss.Sign(a.rsKID, a.hdr(map[string]any{"alg": "PS256"}), p), want: invalid(guardtest.DescKeyMismatch), err: middleware.ErrKeyMismatch},
		{name: "control_jwk_alg_RS512_token_RS512", tok: ours(a.algRS512, "jwk-alg-rs512", "RS512"), want: accepted},
		// Properly signed with keys the cache refuses to keep.
		{name: "jwk_use_enc_properly_signed", tok: ours(a.useEnc, "jwk-use-enc", "RS256"), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		{name: "jwk_key_ops_without_verify_properly_signed", tok: ours(a.opsSign, "jwk-ops-sign", "RS256"), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		{name: "jwk_rsa_1024_properly_signed", tok: ours(a.rsa1024, "jwk-rsa-1024", "RS256"), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
	}
}

// kid: absent, empty, not a string, hostile strings, huge.
func (a *attackEnv) kidAttacks(t *testing.T) []attackCase {
	p := a.payload(nil)
	signed := func(kid any) string { return a.iss.Sign(a.rsKID, a.hdr(map[string]any{"kid": kid}), p) }
	huge := strings.Repeat("k", 10<<10)
	var out []attackCase
	for name, kid := range map[string]any{"number": 7, "array": []string{a.rsKID}, "object": map[string]any{"kid": a.rsKID}, "bool": true, "null": json.RawMessage("null")} {
		out = append(out, attackCase{name: "kid_not_a_string_" + name, tok: signed(kid), want: invalid(guardtest.DescNoKeyID), err: middleware.ErrNoKID})
	}
	return append(out,
		attackCase{name: "kid_missing", tok: a.iss.Sign(a.rsKID, a.hdr(map[string]any{"kid": nil}), p), want: invalid(guardtest.DescNoKeyID), err: middleware.ErrNoKID},
		attackCase{name: "kid_empty", tok: signed(""), want: invalid(guardtest.DescNoKeyID), err: middleware.ErrNoKID},
		attackCase{name: "kid_path_traversal", tok: a.iss.Mint(jwkstest.WithKID("../../etc/passwd")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		attackCase{name: "kid_sql_injection", tok: a.iss.Mint(jwkstest.WithKID("' OR 1=1 --")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		attackCase{name: "kid_url", tok: a.iss.Mint(jwkstest.WithKID("https://attacker.example/jwks.json")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		attackCase{name: "kid_nul_byte", tok: a.iss.Mint(jwkstest.WithKID(a.rsKID + "\x00")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		attackCase{name: "kid_quotes_crlf", tok: a.iss.Mint(jwkstest.WithKID("a\"b\r\nX-Injected: 1")), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		attackCase{name: "kid_300_bytes", tok: a.iss.Mint(jwkstest.WithKID(strings.Repeat("k", 300))), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
		// 10 KiB of kid: the JOSE header exceeds its 8 KiB cap, whichever
		// way the token came.
		attackCase{name: "kid_10KiB_in_authorization", tok: a.iss.Mint(jwkstest.WithKID(huge)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "kid_10KiB_in_cookie", tok: a.iss.Mint(jwkstest.WithKID(huge)), cookie: true, want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
	)
}

// crit, b64, typ, JWE, nested JWTs, duplicate header members.
func (a *attackEnv) headerAttacks(t *testing.T) []attackCase {
	p := a.payload(nil)
	signed := func(over map[string]any) string { return a.iss.Sign(a.rsKID, a.hdr(over), p) }
	var out []attackCase
	for name, crit := range map[string]any{
		"exp": []string{"exp"}, "empty_array": []string{}, "b64": []string{"b64"}, "unknown_ext": []string{"x-unknown"},
		"string": "exp", "null": json.RawMessage("null"), "object": map[string]any{}, "number": 1,
	} {
		out = append(out, attackCase{name: "crit_" + name, tok: signed(map[string]any{"crit": crit}), want: invalid(guardtest.DescCritical), err: middleware.ErrCritical})
	}
	out = append(out,
		attackCase{name: "crit_b64_with_b64_false", tok: signed(map[string]any{"crit": []string{"b64"}, "b64": false}), want: invalid(guardtest.DescCritical), err: middleware.ErrCritical},
		attackCase{name: "b64_false", tok: signed(map[string]any{"b64": false}), want: invalid(guardtest.DescCritical), err: middleware.ErrCritical},
		attackCase{name: "b64_null", tok: signed(map[string]any{"b64": json.RawMessage("null")}), want: invalid(guardtest.DescCritical), err: middleware.ErrCritical},
	)
	for name, typ := range map[string]any{
		"JOSE": "JOSE", "empty": "", "dpop": "dpop+jwt", "logout": "logout+jwt", "application_jose": "application/jose", "application_dpop": "application/dpop+jwt",
		"trailing_space": "at+jwt ", "id_token_like": "JWS", "number": 1, "array": []string{"at+jwt"}, "null": json.RawMessage("null"),
	} {
		out = append(out, attackCase{name: "typ_" + name, tok: signed(map[string]any{"typ": typ}), want: invalid(guardtest.DescType), err: middleware.ErrTokenType})
	}
	for name, cty := range map[string]any{"JWT": "JWT", "jwt": "jwt", "number": 1} {
		out = append(out, attackCase{name: "nested_cty_" + name, tok: signed(map[string]any{"cty": cty}), want: invalid(guardtest.DescType), err: middleware.ErrTokenType})
	}
	// RFC 7515 §4.1.10: "application/JWT" and "JWT" are the same cty.
	out = append(out, attackCase{name: "nested_cty_application_JWT", tok: signed(map[string]any{"cty": "application/JWT"}), want: invalid(guardtest.DescType), err: middleware.ErrTokenType})
	// A token whose payload really is a nested JWT, declared as such.
	inner := a.iss.Mint()
	h, _ := json.Marshal(a.hdr(map[string]any{"cty": "JWT"}))
	out = append(out, attackCase{name: "nested_jwt_payload", tok: a.signRaw(t, a.rsKID, "RS256", string(h), inner), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims})
	jweHeader := b64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"` + a.rsKID + `"}`))
	out = append(out,
		attackCase{name: "jwe_five_parts", tok: jweHeader + "." + b64(make([]byte, 256)) + "." + b64(make([]byte, 12)) + "." + b64([]byte("ciphertext")) + "." + b64(make([]byte, 16)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "jwe_five_parts_empty_key", tok: jweHeader + ".." + b64(make([]byte, 12)) + "." + b64([]byte("ciphertext")) + "." + b64(make([]byte, 16)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "four_parts", tok: a.iss.Mint() + ".x", want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "json_serialization", tok: b64([]byte(`{"payload":"x","signatures":[]}`)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
	)
	// Duplicate header members, each signed properly by the issuer's key.
	pl, _ := json.Marshal(p)
	kid := strconv.Quote(a.rsKID)
	for name, header := range map[string]string{
		"alg_twice":             `{"alg":"RS256","kid":` + kid + `,"alg":"RS256"}`,
		"alg_none_then_rs256":   `{"alg":"none","kid":` + kid + `,"alg":"RS256"}`,
		"alg_escaped_twice":     `{"alg":"RS256","kid":` + kid + `,"\u0061lg":"RS256"}`,
		"kid_twice":             `{"alg":"RS256","kid":"other","kid":` + kid + `}`,
		"typ_twice":             `{"alg":"RS256","kid":` + kid + `,"typ":"JOSE","typ":"at+jwt"}`,
		"crit_twice_hidden_key": `{"alg":"RS256","kid":` + kid + `,"crit":["exp"],"crit":null}`,
	} {
		out = append(out, attackCase{name: "duplicate_header_" + name, tok: a.signRaw(t, a.rsKID, "RS256", header, string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken})
	}
	out = append(out,
		attackCase{name: "header_not_an_object", tok: a.signRaw(t, a.rsKID, "RS256", `["RS256"]`, string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "header_null", tok: a.signRaw(t, a.rsKID, "RS256", `null`, string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "control_header_with_100_members", tok: a.signRaw(t, a.rsKID, "RS256", manyMembers(a.rsKID, 100), string(pl)), want: accepted},
		attackCase{name: "header_duplicate_past_the_32nd_member", tok: a.signRaw(t, a.rsKID, "RS256", strings.TrimSuffix(manyMembers(a.rsKID, 100), "}")+`,"x5":0}`, string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "header_utf8_bom", tok: a.signRaw(t, a.rsKID, "RS256", "\ufeff"+manyMembers(a.rsKID, 2), string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "header_trailing_garbage", tok: a.signRaw(t, a.rsKID, "RS256", manyMembers(a.rsKID, 2)+"x", string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		// A \u escape of a lone surrogate reads as U+FFFD, as invalid UTF-8
		// does: "k\udfff" would be the kid "k\ufffd".
		attackCase{name: "header_lone_surrogate_escape", tok: a.signRaw(t, a.rsKID, "RS256", `{"alg":"RS256","kid":`+kid+`,"x":"\udfff"}`, string(pl)), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		attackCase{name: "control_header_surrogate_pair_escape", tok: a.signRaw(t, a.rsKID, "RS256", `{"alg":"RS256","kid":`+kid+`,"x":"\ud83d\ude00"}`, string(pl)), want: accepted},
		attackCase{name: "control_header_deeply_nested_member", cookie: true, tok: a.signRaw(t, a.rsKID, "RS256", `{"alg":"RS256","kid":`+kid+`,"x":`+strings.Repeat("[", 2000)+strings.Repeat("]", 2000)+`}`, string(pl)), want: accepted},
		attackCase{name: "control_payload_deeply_nested_claim", cookie: true, tok: a.signRaw(t, a.rsKID, "RS256", manyMembers(a.rsKID, 2), strings.TrimSuffix(string(pl), "}")+`,"x":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}`), want: accepted},
		attackCase{name: "control_header_with_unknown_members", tok: a.signRaw(t, a.rsKID, "RS256", manyMembers(a.rsKID, 20), string(pl)), want: accepted},
	)
	return out
}

// manyMembers is a valid header with n members in all.
func manyMembers(kid string, n int) string {
	var b strings.Builder
	b.WriteString(`{"alg":"RS256","kid":` + strconv.Quote(kid))
	for i := 2; i < n; i++ {
		fmt.Fprintf(&b, `,"x%d":%d`, i, i)
	}
	b.WriteByte('}')
	return b.String()
}

// Ill-typed, out-of-range and duplicated claims, each signed properly.
func (a *attackEnv) claimAttacks(t *testing.T) []attackCase {
	h, _ := json.Marshal(a.hdr(nil))
	sign := func(payload string) string { return a.signRaw(t, a.rsKID, "RS256", string(h), payload) }
	var out []attackCase
	bad := map[string]string{
		"string": `"9999999999"`, "true": `true`, "false": `false`, "null": `null`, "object": `{"t":9999999999}`,
		"array": `[9999999999]`, "1e19": `1e19`, "9_3e18": `9.3e18`, "1e400": `1e400`, "neg_1e400": `-1e400`,
		"int_overflow": `9223372036854775808`, "neg_int_overflow": `-9223372036854775809`,
	}
	for _, claim := range []string{"exp", "nbf", "iat"} {
		for name, v := range bad {
			out = append(out, attackCase{name: claim + "_" + name, tok: sign(a.claimsJSON(`"`+claim+`":`+v, claim)), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims})
		}
	}
	now := time.Now().Unix()
	// Values that fit in int64 are not malformed (the contract): negative
	// ones are simply in the past.
	out = append(out,
		attackCase{name: "exp_negative_is_expired", tok: sign(a.claimsJSON(`"exp":-1`, "exp")), want: invalid(guardtest.DescExpired), err: middleware.ErrTokenExpired},
		attackCase{name: "exp_min_int64_is_expired", tok: sign(a.claimsJSON(`"exp":-9223372036854775808`, "exp")), want: invalid(guardtest.DescExpired), err: middleware.ErrTokenExpired},
		attackCase{name: "exp_year_one_is_expired", tok: sign(a.claimsJSON(`"exp":-62135596800`, "exp")), want: invalid(guardtest.DescExpired), err: middleware.ErrTokenExpired},
		attackCase{name: "exp_max_int64_is_valid", tok: sign(a.claimsJSON(`"exp":9223372036854775807`, "exp")), want: accepted},
		attackCase{name: "exp_fraction_is_valid", tok: sign(a.claimsJSON(`"exp":`+strconv.FormatInt(now+300, 10)+`.75`, "exp")), want: accepted},
		attackCase{name: "exp_exponent_in_range_is_valid", tok: sign(a.claimsJSON(`"exp":`+strconv.FormatInt(now+300, 10)+`e0`, "exp")), want: accepted},
		attackCase{name: "nbf_negative_is_valid", tok: sign(a.claimsJSON(`"nbf":-1`)), want: accepted},
		attackCase{name: "nbf_min_int64_is_valid", tok: sign(a.claimsJSON(`"nbf":-9223372036854775808`)), want: accepted},
		attackCase{name: "iat_negative_is_valid", tok: sign(a.claimsJSON(`"iat":-1`, "iat")), want: accepted},
		attackCase{name: "nbf_max_int64_is_not_yet_valid", tok: sign(a.claimsJSON(`"nbf":9223372036854775807`)), want: invalid(guardtest.DescNotYetValid), err: middleware.ErrNotYetValid},
		attackCase{name: "iat_max_int64_is_in_future", tok: sign(a.claimsJSON(`"iat":9223372036854775807`, "iat")), want: invalid(guardtest.DescFuture), err: middleware.ErrIssuedInFuture},
	)
	for name, v := range map[string]string{
		"null": `null`, "number": `1`, "object": `{"aud":"` + aud + `"}`, "array_with_number": `["` + aud + `",1]`,
		"array_with_null": `["` + aud + `",null]`, "nested_array": `[["` + aud + `"]]`, "bool": `true`,
	} {
		out = append(out, attackCase{name: "aud_" + name, tok: sign(a.claimsJSON(`"aud":`+v, "aud")), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims})
	}
	out = append(out,
		attackCase{name: "aud_empty_array", tok: sign(a.claimsJSON(`"aud":[]`, "aud")), want: invalid(guardtest.DescAudience), err: middleware.ErrAudience},
		attackCase{name: "aud_prefix", tok: sign(a.claimsJSON(`"aud":"`+aud+`.evil"`, "aud")), want: invalid(guardtest.DescAudience), err: middleware.ErrAudience},
		attackCase{name: "aud_case", tok: sign(a.claimsJSON(`"aud":"`+strings.ToUpper(aud)+`"`, "aud")), want: invalid(guardtest.DescAudience), err: middleware.ErrAudience},
	)
	// Duplicate claim names: readers that keep the first and readers that
	// keep the last must never disagree on a token we accept.
	for name, extra := range map[string]string{
		"sub":         `"sub":"admin"`,
		"iss":         `"iss":"https://evil.example"`,
		"aud":         `"aud":"https://other.example"`,
		"exp":         `"exp":9999999999`,
		"escaped_sub": `"\u0073ub":"admin"`,
		"custom":      `"x":1,"x":2`,
		"scope":       `"scope":"a","scope":"admin"`,
	} {
		out = append(out, attackCase{name: "duplicate_claim_" + name, tok: sign(a.claimsJSON(extra)), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims})
	}
	// Through golang-jwt's signer too, as the brief's recipe says.
	dup := `{"sub":"a","sub":"b","iss":` + strconv.Quote(a.iss.URL()) + `,"aud":` + strconv.Quote(aud) + `,"exp":` + strconv.FormatInt(now+300, 10) + `}`
	in := b64(h) + "." + b64([]byte(dup))
	sig, err := jwt.SigningMethodRS256.Sign(in, hostile.Of(a.iss).PrivateKey(a.rsKID))
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, attackCase{name: "duplicate_claim_sub_golang_jwt_signed", tok: in + "." + b64(sig), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims})

	u := a.iss.URL()
	out = append(out,
		attackCase{name: "iss_trailing_slash", tok: sign(a.claimsJSON(`"iss":"`+u+`/"`, "iss")), want: invalid(guardtest.DescIssuer), err: middleware.ErrIssuer},
		attackCase{name: "iss_upper_case", tok: sign(a.claimsJSON(`"iss":"`+strings.ToUpper(u)+`"`, "iss")), want: invalid(guardtest.DescIssuer), err: middleware.ErrIssuer},
		attackCase{name: "iss_scheme_case", tok: sign(a.claimsJSON(`"iss":"HTTP`+strings.TrimPrefix(u, "http")+`"`, "iss")), want: invalid(guardtest.DescIssuer), err: middleware.ErrIssuer},
		attackCase{name: "iss_missing", tok: sign(a.claimsJSON("", "iss")), want: invalid(guardtest.DescIssuer), err: middleware.ErrIssuer},
		attackCase{name: "iss_array", tok: sign(a.claimsJSON(`"iss":["`+u+`"]`, "iss")), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "sub_empty", tok: sign(a.claimsJSON(`"sub":""`, "sub")), want: invalid(guardtest.DescSubject), err: middleware.ErrSubject},
		attackCase{name: "sub_missing", tok: sign(a.claimsJSON("", "sub")), want: invalid(guardtest.DescSubject), err: middleware.ErrSubject},
		attackCase{name: "sub_number", tok: sign(a.claimsJSON(`"sub":123`, "sub")), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "payload_null", tok: sign(`null`), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "payload_array", tok: sign(`[]`), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "payload_invalid_utf8", tok: sign(a.claimsJSON(`"name":"` + "\xff\xfe" + `"`)), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "payload_lone_surrogate_escape_sub", tok: sign(a.claimsJSON(`"sub":"user-123\ud800"`, "sub")), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "payload_lone_surrogate_escape_aud", tok: sign(a.claimsJSON(`"aud":["`+aud+`","x\udc00"]`, "aud")), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
		attackCase{name: "control_payload_surrogate_pair_escape", tok: sign(a.claimsJSON(`"name":"\ud83d\ude00"`)), want: accepted},
		attackCase{name: "payload_trailing_garbage", tok: sign(a.claimsJSON("") + "x"), want: invalid(guardtest.DescClaims), err: middleware.ErrMalformedClaims},
	)
	return out
}

// Encodings that must not reach, or must not survive, the parser.
func (a *attackEnv) encodingAttacks(t *testing.T) []attackCase {
	tok := a.iss.Mint()
	i := strings.IndexByte(tok, '.')
	big := a.iss.Mint(jwkstest.WithClaim("pad", strings.Repeat("p", 16<<10)))
	// A header of just over 8 KiB in a token under the 16 KiB cap.
	bigHeader := a.iss.Mint(jwkstest.WithHeader("pad", strings.Repeat("h", 6200)))
	if n := strings.IndexByte(bigHeader, '.'); n <= 8<<10 || len(bigHeader) > 16<<10 {
		t.Fatalf("bigHeader: header %d bytes, token %d", n, len(bigHeader))
	}
	okHeader := a.iss.Mint(jwkstest.WithHeader("pad", strings.Repeat("h", 5900)))
	if n := strings.IndexByte(okHeader, '.'); n > 8<<10 {
		t.Fatalf("okHeader: header %d bytes", n)
	}
	// The largest token at or under the cap (length grows with the pad).
	padded := func(n int) string { return a.iss.Mint(jwkstest.WithClaim("pad", strings.Repeat("p", n))) }
	lo, hi := 0, 16<<10 // padded(lo) fits, padded(hi) does not
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; len(padded(mid)) <= 16<<10 {
			lo = mid
		} else {
			hi = mid
		}
	}
	justUnder := padded(lo)
	if len(justUnder) < 16<<10-4 || len(justUnder) > 16<<10 {
		t.Fatalf("justUnder is %d bytes", len(justUnder))
	}
	return []attackCase{
		{name: "signature_padding", tok: tok + "=", want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		{name: "signature_double_padding", tok: tok + "==", want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		{name: "signature_non_canonical_base64url", tok: nonCanonical(t, tok), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		{name: "standard_base64_alphabet", tok: strings.NewReplacer("-", "+", "_", "/").Replace(a.mintWith(t, "-_")), want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		{name: "padding_inside_token", authz: "Bearer " + tok[:i] + "=" + tok[i:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "space_inside_token", authz: "Bearer " + tok[:i] + " " + tok[i:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "tab_inside_token", authz: "Bearer " + tok[:i] + "\t" + tok[i:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "lf_inside_token", authz: "Bearer " + tok[:i] + "\n" + tok[i:], raw: true, want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "crlf_inside_token", authz: "Bearer " + tok[:i] + "\r\n" + tok[i:], raw: true, want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "trailing_crlf", authz: "Bearer " + tok + "\r\n", raw: true, want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "nul_inside_token", authz: "Bearer " + tok[:i] + "\x00" + tok[i:], raw: true, want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "non_ascii_latin1", authz: "Bearer " + tok[:i] + "\xe9" + tok[i:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "non_ascii_utf8", authz: "Bearer " + tok[:i] + "é" + tok[i:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "non_ascii_fullwidth_dot", authz: "Bearer " + tok[:i] + "．" + tok[i+1:], want: badRequest, err: middleware.ErrMalformedRequest},
		{name: "token_over_16KiB_in_cookie", tok: big, cookie: true, want: invalid(guardtest.DescTooLarge), err: middleware.ErrTokenTooLarge},
		{name: "token_over_16KiB_garbage_in_cookie", tok: strings.Repeat("a", 16<<10+1), cookie: true, want: invalid(guardtest.DescTooLarge), err: middleware.ErrTokenTooLarge},
		{name: "control_token_at_16KiB_in_cookie", tok: justUnder, cookie: true, want: accepted},
		{name: "jose_header_over_8KiB_in_cookie", tok: bigHeader, cookie: true, want: invalid(guardtest.DescMalformed), err: middleware.ErrMalformedToken},
		{name: "control_jose_header_under_8KiB_in_cookie", tok: okHeader, cookie: true, want: accepted},
	}
}

// mintWith mints valid tokens until one contains one of chars (so that a
// change of base64 alphabet changes it).
func (a *attackEnv) mintWith(t *testing.T, chars string) string {
	t.Helper()
	for range 100 {
		if tok := a.iss.Mint(); strings.ContainsAny(tok, chars) {
			return tok
		}
	}
	t.Fatal("no token with " + chars)
	return ""
}

// ECDSA signatures that are zero, out of range, of the wrong length or in
// the wrong encoding.
func (a *attackEnv) ecdsaAttacks(t *testing.T) []attackCase {
	tok := a.iss.Mint(jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(a.esKID))
	sig := signatureOf(t, tok)
	if len(sig) != 64 {
		t.Fatalf("ES256 signature of %d bytes", len(sig))
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	zero := make([]byte, 32)
	n := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	rPlusN := new(big.Int).Add(r, elliptic.P256().Params().N)
	der, _ := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	bad := invalid(guardtest.DescSignature)
	return []attackCase{
		{name: "ecdsa_all_zero", tok: withSignature(tok, make([]byte, 64)), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_r_zero", tok: withSignature(tok, cat(zero, sig[32:])), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_s_zero", tok: withSignature(tok, cat(sig[:32], zero)), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_r_equals_n", tok: withSignature(tok, cat(n, sig[32:])), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_s_equals_n", tok: withSignature(tok, cat(sig[:32], n)), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_r_plus_n_33_bytes", tok: withSignature(tok, cat(rPlusN.Bytes(), sig[32:])), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_length_63", tok: withSignature(tok, sig[:63]), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_length_65", tok: withSignature(tok, cat(sig, []byte{0})), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_length_65_leading_zero", tok: withSignature(tok, cat([]byte{0}, sig)), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_length_128", tok: withSignature(tok, cat(sig, sig)), want: bad, err: middleware.ErrSignature},
		{name: "ecdsa_der_encoded", tok: withSignature(tok, der), want: bad, err: middleware.ErrSignature},
		{name: "control_ecdsa_valid", tok: tok, want: accepted},
	}
}

// Hostile bytes in members the response might be tempted to echo.
func (a *attackEnv) injectionAttacks(t *testing.T) []attackCase {
	var out []attackCase
	for name, v := range map[string]string{
		"quote": `a"b`, "backslash": `a\b`, "crlf": "a\r\nX-Injected: 1", "param": `x", error="x`,
		"all": "\"\\\r\n, error=\"x\", error_description=\"The access token expired\"",
	} {
		out = append(out,
			attackCase{name: "inject_kid_" + name, tok: a.iss.Mint(jwkstest.WithKID(v)), want: invalid(guardtest.DescUnknownKey), err: middleware.ErrUnknownKey},
			attackCase{name: "inject_iss_" + name, tok: a.iss.Mint(jwkstest.WithClaim("iss", v)), want: invalid(guardtest.DescIssuer), err: middleware.ErrIssuer},
			attackCase{name: "inject_typ_" + name, tok: a.iss.Mint(jwkstest.WithHeader("typ", v)), want: invalid(guardtest.DescType), err: middleware.ErrTokenType},
			attackCase{name: "inject_aud_" + name, tok: a.iss.Mint(jwkstest.WithClaim("aud", v)), want: invalid(guardtest.DescAudience), err: middleware.ErrAudience},
			attackCase{name: "inject_alg_" + name, tok: a.iss.Mint(jwkstest.WithHeader("alg", v)), want: invalid(guardtest.DescAlgorithm), err: middleware.ErrAlgorithm},
		)
	}
	return out
}

// A 10 KiB kid, or a crowd of unknown ones, never reaches the issuer: the
// attack catalogue runs on a cache that a single unknown-kid refresh may
// have touched, so this checks the bound separately.
func TestAttackLongKIDCausesNoFetch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.iss.JWKSFetches()
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithKID(strings.Repeat("k", 257))))...), invalid(guardtest.DescUnknownKey))
	if n := e.iss.JWKSFetches() - before; n != 0 {
		t.Fatalf("a kid over 256 bytes cost %d fetches", n)
	}
}

// The token-size cap is applied before any decoding: a huge token costs no
// parsing and no key lookup (checked by making every lookup fail loudly).
func TestAttackOversizedTokenNeverReachesKeys(t *testing.T) {
	t.Parallel()
	g, err := middleware.New(panicKeys{}, "https://issuer.example", []string{aud}, middleware.WithCookie("at"))
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Cookie", "at="+strings.Repeat("a.b.", 5<<10))
	_, err = g.Verify(req)
	if !errors.Is(err, middleware.ErrTokenTooLarge) {
		t.Fatalf("error = %v", err)
	}
}

// The verified-token cache (on by default) answers a repeated token
// without its signature check, but never for another route's audience or
// scopes, and never for a token that differs in any byte.
func TestAttackTokenCacheKeepsPerRouteChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.iss.Mint()
	for range 2 { // the second time from the cache
		check(t, e.do(t, "GET", "/api/me", bearer(tok)...), accepted)
		check(t, e.do(t, "GET", "/admin/stats", bearer(tok)...), invalid(guardtest.DescAudience))
		check(t, e.do(t, "GET", "/api/notes", bearer(tok)...), forbidden("notes:read"))
		check(t, e.do(t, "GET", "/api/me", bearer(guardtest.Forge(tok))...), invalid(guardtest.DescSignature))
		check(t, e.do(t, "GET", "/api/me", bearer(tok+"=")...), invalid(guardtest.DescMalformed))
	}
}

// staticKeys is a KeySet of the application's own (the interface is
// public): nothing filtered the keys it serves, so the Guard's own
// key/algorithm check is the only defence.
type staticKeys map[string]crypto.PublicKey

func (s staticKeys) LookupKey(kid, _ string) (crypto.PublicKey, string, string, bool) {
	k, ok := s[kid]
	return k, "", "", ok
}
func (s staticKeys) LookupOrRefresh(_ context.Context, kid, alg string) (crypto.PublicKey, string, string, bool) {
	return s.LookupKey(kid, alg)
}
func (staticKeys) Ready() bool { return true }

// Keys that no JWKS filter vetted, each able to make a signature golang-jwt
// would verify for the token's alg: an RSA-1024 key for RS256, and a P-224
// key (whose padded r||s is 64 bytes) for ES256. keyalg.Compatible in
// verifyToken must refuse both.
func TestAttackWeakKeysFromAnotherKeySet(t *testing.T) {
	t.Parallel()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	strong := testkeys.RSA()
	keys := staticKeys{"weak": &weak.PublicKey, "p224": &p224.PublicKey, "strong": &strong.PublicKey}
	const issuer = "https://issuer.example"
	g, err := middleware.New(keys, issuer, []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	payload := fmt.Sprintf(`{"iss":%q,"sub":"u","aud":%q,"exp":%d}`, issuer, aud, now+300)
	p224Token := func() string {
		input := b64([]byte(`{"alg":"ES256","kid":"p224"}`)) + "." + b64([]byte(payload))
		d := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, p224, d[:])
		if err != nil {
			t.Fatal(err)
		}
		return input + "." + b64(append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...))
	}
	for name, tc := range map[string]struct {
		tok  string
		want error
	}{
		"rsa_1024_RS256": {signWith(t, weak, "RS256", `{"alg":"RS256","kid":"weak"}`, payload), middleware.ErrKeyMismatch},
		"p224_ES256":     {p224Token(), middleware.ErrKeyMismatch},
		"control_strong": {signWith(t, strong, "RS256", `{"alg":"RS256","kid":"strong"}`, payload), nil},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+tc.tok)
			_, err := g.Verify(req)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("error = %v, want %v", err, tc.want)
			}
		})
	}
}

// forgeEd25519 mints, with no private key at all, a token that
// ed25519.Verify accepts for a public key at the identity point: R is the
// identity's encoding and S is zero.
func forgeEd25519(kid, payload string) string {
	identity := make([]byte, 32)
	identity[0] = 1
	return b64([]byte(`{"alg":"EdDSA","kid":"`+kid+`"}`)) + "." + b64([]byte(payload)) + "." + b64(append(identity, make([]byte, 32)...))
}

// An Ed25519 key of small order verifies R = identity, S = 0 for chosen
// messages, so a key set that hands one out (no JWKS filter vetted it)
// must still not let it verify anything: keyalg.Compatible refuses it.
func TestAttackSmallOrderEd25519KeyFromAnotherKeySet(t *testing.T) {
	t.Parallel()
	identity := make([]byte, 32)
	identity[0] = 1
	const issuer = "https://issuer.example"
	g, err := middleware.New(staticKeys{"small": ed25519.PublicKey(identity)}, issuer, []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	payload := fmt.Sprintf(`{"iss":%q,"sub":"anyone","aud":%q,"exp":%d,"scope":"admin"}`, issuer, aud, time.Now().Unix()+300)
	tok := forgeEd25519("small", payload)
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(identity, []byte(parts[0]+"."+parts[1]), sig) {
		t.Fatal("the forgery does not verify with crypto/ed25519: the test proves nothing")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := g.Verify(req); !errors.Is(err, middleware.ErrKeyMismatch) {
		t.Fatalf("forged token: err = %v, want ErrKeyMismatch", err)
	}
}

// The same key published in a JWKS is skipped when the set is parsed, so
// the forgery names an unknown key.
func TestAttackSmallOrderEd25519KeyInJWKS(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	identity := make([]byte, 32)
	identity[0] = 1
	hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"small","use":"sig","x":"` + b64(identity) + `"}`))
	e := newEnvFor(t, iss, true)
	payload, _ := json.Marshal(e.payload(map[string]any{"scope": "notes:read admin"}))
	check(t, e.do(t, "GET", "/api/notes", bearer(forgeEd25519("small", string(payload)))...), invalid(guardtest.DescUnknownKey))
}

type panicKeys struct{}

func (panicKeys) LookupKey(string, string) (crypto.PublicKey, string, string, bool) {
	panic("LookupKey called")
}
func (panicKeys) LookupOrRefresh(context.Context, string, string) (crypto.PublicKey, string, string, bool) {
	panic("LookupOrRefresh called")
}
func (panicKeys) Ready() bool { return true }

// The confusion attacks are only meaningful if their MACs are right: an
// HS* verifier holding the same secret accepts them.
func TestAttackHelpersMakeValidMACs(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"HS256", "HS384", "HS512"} {
		tok := hmacToken(alg, []byte("k"), map[string]any{"alg": alg}, map[string]any{"a": 1})
		parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("k"), nil }, jwt.WithValidMethods([]string{alg}))
		if err != nil || !parsed.Valid {
			t.Fatalf("%s: hmacToken made an invalid MAC: %v", alg, err)
		}
	}
}

// A forged token's scopes are never read: splitting, unescaping and
// de-duplicating thousands of them costs several signature checks, so the
// scope set is built only once the signature holds. (Built before it, the
// scopes of a forged 13 KiB token with 2,000 of them allocated 165 KB and
// took 7× a genuine small token's time; now it costs what reading its
// bytes does.)
func TestAttackForgedTokenScopesAreNotBuilt(t *testing.T) {
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithoutTokenCache())
	scopes := make([]string, 2000)
	for i := range scopes {
		scopes[i] = fmt.Sprintf("s%x", i)
	}
	tok := iss.Mint(jwkstest.WithScopes(scopes...))
	c, err := verifyWith(g, tok)
	if err != nil {
		t.Fatalf("the genuine token: %v", err)
	}
	if !slices.Equal(c.Scopes, scopes) {
		t.Fatalf("the genuine token has %d scopes, want %d", len(c.Scopes), len(scopes))
	}
	i := strings.LastIndexByte(tok, '.')
	forged := tok[:i+1] + strings.Repeat("A", len(tok)-i-1)
	if _, err := verifyWith(g, forged); !errors.Is(err, middleware.ErrSignature) {
		t.Fatalf("the forged token: %v", err)
	}
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		_, _ = verifyWith(g, forged)
	}
	runtime.ReadMemStats(&after)
	// Reading the token costs about twice its length (its decoded payload
	// and the claims' copy of it); the scope set alone would be ten times.
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > uint64(3*len(tok)) {
		t.Fatalf("a forged %d-byte token with %d scopes allocated %d bytes", len(tok), len(scopes), per)
	}
}
