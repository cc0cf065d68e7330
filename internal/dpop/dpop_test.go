package dpop

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/internal/memsize"
	"github.com/jwtguard/jwtguard/internal/testkeys"
)

// testKey is a proof key and its public JWK members, written as a client
// would: fixed-length EC coordinates.
type testKey struct {
	alg  string
	priv crypto.Signer
	jwk  map[string]any
}

func newTestKey(t testing.TB, alg string) testKey {
	t.Helper()
	priv := testkeys.For(alg)
	return testKey{alg, priv, testJWK(priv.Public())}
}

func testJWK(pub crypto.PublicKey) map[string]any {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": enc.EncodeToString(k.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return map[string]any{"kty": "EC", "crv": k.Curve.Params().Name,
			"x": enc.EncodeToString(k.X.FillBytes(make([]byte, size))), "y": enc.EncodeToString(k.Y.FillBytes(make([]byte, size)))}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc.EncodeToString(k)}
	}
	panic("key type")
}

// independentThumbprint is RFC 7638 computed another way: encoding/json
// writes a map's members sorted and without white space.
func independentThumbprint(jwk map[string]any) string {
	req := map[string]any{}
	for _, name := range map[string][]string{"RSA": {"e", "kty", "n"}, "EC": {"crv", "kty", "x", "y"}, "OKP": {"crv", "kty", "x"}}[jwk["kty"].(string)] {
		req[name] = jwk[name]
	}
	b, _ := json.Marshal(req)
	sum := sha256.Sum256(b)
	return enc.EncodeToString(sum[:])
}

// sign makes a proof with header and claims (jwk and typ added unless
// given; nil removes a member).
func (k testKey) sign(t testing.TB, header, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	for n, v := range header {
		if v == nil {
			delete(h, n)
		} else {
			h[n] = v
		}
	}
	c := map[string]any{"htm": "POST", "htu": "https://api.test/api/transfers", "iat": time.Now().Unix(), "jti": "jti-1"}
	for n, v := range claims {
		if v == nil {
			delete(c, n)
		} else {
			c[n] = v
		}
	}
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	return input + "." + enc.EncodeToString(signBytes(t, k, []byte(input)))
}

func signBytes(t testing.TB, k testKey, msg []byte) []byte {
	t.Helper()
	switch p := k.priv.(type) {
	case ed25519.PrivateKey:
		return ed25519.Sign(p, msg)
	case *ecdsa.PrivateKey:
		d := hashFor(k.alg, msg)
		r, s, err := ecdsa.Sign(rand.Reader, p, d)
		if err != nil {
			t.Fatal(err)
		}
		size := (p.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	case *rsa.PrivateKey:
		h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[k.alg[2:]]
		d := hashFor(k.alg, msg)
		var sig []byte
		var err error
		if strings.HasPrefix(k.alg, "PS") {
			sig, err = rsa.SignPSS(rand.Reader, p, h, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, p, h, d)
		}
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	t.Fatal("key type")
	return nil
}

func hashFor(alg string, msg []byte) []byte {
	h := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}[alg[2:]].New()
	h.Write(msg)
	return h.Sum(nil)
}

// RFC 7638 §3.1's example key and its thumbprint.
func TestThumbprintRFC7638Example(t *testing.T) {
	raw := []byte(`{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`)
	_, jkt, err := PublicKey(raw)
	if err != nil || jkt != "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs" {
		t.Fatalf("thumbprint %q, %v", jkt, err)
	}
}

// The thumbprint of fixed-length coordinates, against an independent
// computation; and short coordinates (big.Int.Bytes of a value with a
// leading zero byte, about one key in 256) are refused, not hashed to a
// different thumbprint than the client's.
func TestThumbprintFixedLengthCoordinates(t *testing.T) {
	short := 0
	for range 600 {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		jwk := testJWK(&k.PublicKey)
		raw, _ := json.Marshal(jwk)
		_, jkt, err := PublicKey(raw)
		if err != nil || jkt != independentThumbprint(jwk) {
			t.Fatalf("thumbprint %q (%v), independent %q", jkt, err, independentThumbprint(jwk))
		}
		if len(k.X.Bytes()) < 32 || len(k.Y.Bytes()) < 32 {
			short++
			bad := map[string]any{"kty": "EC", "crv": "P-256", "x": enc.EncodeToString(k.X.Bytes()), "y": enc.EncodeToString(k.Y.Bytes())}
			raw, _ := json.Marshal(bad)
			if _, _, err := PublicKey(raw); !errors.Is(err, ErrKey) {
				t.Fatalf("short coordinates accepted: %v", err)
			}
		}
	}
	t.Logf("%d of 600 keys had a coordinate shorter than 32 bytes", short)
}

func TestParseAcceptsEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"} {
		k := newTestKey(t, alg)
		p, err := Parse(k.sign(t, nil, nil), keyalg.Supported)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if p.Alg != alg || p.JKT != independentThumbprint(k.jwk) || p.HTM != "POST" || p.JTI != "jti-1" {
			t.Fatalf("%s: %+v", alg, p)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	k := newTestKey(t, "ES256")
	rsaKey := newTestKey(t, "RS256")
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	withPrivate := map[string]any{}
	for n, v := range k.jwk {
		withPrivate[n] = v
	}
	withPrivate["d"] = "AAAA"
	offCurve := map[string]any{"kty": "EC", "crv": "P-256", "x": k.jwk["x"], "y": enc.EncodeToString(make([]byte, 32))}
	smallOrder := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": enc.EncodeToString(append([]byte{1}, make([]byte, 31)...))}
	valid := k.sign(t, nil, nil)
	h64, rest, _ := strings.Cut(valid, ".")
	p64, _, _ := strings.Cut(rest, ".")
	dupHeader := enc.EncodeToString([]byte(`{"typ":"dpop+jwt","alg":"ES256","alg":"none","jwk":{}}`))
	for name, tc := range map[string]struct {
		proof string
		want  error
	}{
		"not a JWS":               {"abc", ErrMalformed},
		"four parts":              {valid + ".x", ErrMalformed},
		"oversize":                {strings.Repeat("a", MaxProofSize+1), ErrMalformed},
		"padding in base64":       {h64 + "=." + p64 + ".AA", ErrMalformed},
		"typ JWT":                 {k.sign(t, map[string]any{"typ": "JWT"}, nil), ErrType},
		"typ missing":             {k.sign(t, map[string]any{"typ": nil}, nil), ErrType},
		"typ in another case":     {k.sign(t, map[string]any{"typ": "DPoP+JWT"}, nil), ErrType},
		"alg none":                {k.sign(t, map[string]any{"alg": "none"}, nil), ErrAlgorithm},
		"alg HS256":               {k.sign(t, map[string]any{"alg": "HS256"}, nil), ErrAlgorithm},
		"crit":                    {k.sign(t, map[string]any{"crit": []string{"x"}}, nil), ErrMalformed},
		"repeated header member":  {dupHeader + "." + p64 + ".AA", ErrMalformed},
		"no jwk":                  {k.sign(t, map[string]any{"jwk": nil}, nil), ErrKey},
		"jwk with d":              {k.sign(t, map[string]any{"jwk": withPrivate}, nil), ErrKey},
		"RSA of 1024 bits":        {rsaKey.sign(t, map[string]any{"jwk": testJWK(&small.PublicKey)}, nil), ErrKey},
		"RSA of 4104 bits":        {rsaKey.sign(t, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": enc.EncodeToString(append([]byte{1}, make([]byte, 512)...)), "e": "AQAB"}}, nil), ErrKey},
		"RSA exponent 3":          {rsaKey.sign(t, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": rsaKey.jwk["n"], "e": "Aw"}}, nil), ErrKey},
		"RSA exponent 2^31-1":     {rsaKey.sign(t, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": rsaKey.jwk["n"], "e": "f____w"}}, nil), ErrKey},
		"P-384 key for ES256":     {k.sign(t, map[string]any{"jwk": testJWK(&p384.PublicKey)}, nil), ErrKey},
		"EC point off the curve":  {k.sign(t, map[string]any{"jwk": offCurve}, nil), ErrKey},
		"small-order Ed25519":     {k.sign(t, map[string]any{"alg": "EdDSA", "jwk": smallOrder}, nil), ErrKey},
		"RSA jwk for ES256":       {k.sign(t, map[string]any{"jwk": rsaKey.jwk}, nil), ErrKey},
		"a line break in jwk's x": {k.sign(t, map[string]any{"jwk": map[string]any{"kty": "EC", "crv": "P-256", "x": k.jwk["x"].(string) + "\n", "y": k.jwk["y"]}}, nil), ErrKey},
		"another key's signature": {rsaKey.sign(t, map[string]any{"alg": "ES256", "jwk": k.jwk}, nil), ErrSignature},
		"iat a string":            {k.sign(t, nil, map[string]any{"iat": "now"}), ErrClaims},
		"iat missing":             {k.sign(t, nil, map[string]any{"iat": nil}), ErrClaims},
		"jti empty":               {k.sign(t, nil, map[string]any{"jti": ""}), ErrClaims},
		"jti 257 bytes":           {k.sign(t, nil, map[string]any{"jti": strings.Repeat("j", 257)}), ErrClaims},
		"htm missing":             {k.sign(t, nil, map[string]any{"htm": nil}), ErrClaims},
		"htu a number":            {k.sign(t, nil, map[string]any{"htu": 1}), ErrClaims},
		"ath empty":               {k.sign(t, nil, map[string]any{"ath": ""}), ErrClaims},
		"header not UTF-8":        {k.sign(t, map[string]any{"x": json.RawMessage("\"\xff\xfe\"")}, nil), ErrMalformed},
		"claims not UTF-8":        {k.sign(t, nil, map[string]any{"jti": json.RawMessage("\"\xff\xfe\"")}), ErrMalformed},
		// A \u escape of a lone surrogate: U+FFFD to encoding/json, as
		// invalid UTF-8 is, so refused alike.
		"a lone surrogate escape in the header": {k.sign(t, map[string]any{"x": json.RawMessage(`"\udfff"`)}, nil), ErrMalformed},
		"a lone surrogate escape in the claims": {k.sign(t, nil, map[string]any{"jti": json.RawMessage(`"j\ud800"`)}), ErrMalformed},
	} {
		if _, err := Parse(tc.proof, keyalg.Supported); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if _, err := Parse(valid, []string{"RS256"}); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("ES256 with only RS256 allowed: %v", err)
	}
}

func TestCheck(t *testing.T) {
	k := newTestKey(t, "ES256")
	now := time.Now()
	token := "the.access.token"
	sum := sha256.Sum256([]byte(token))
	ath := enc.EncodeToString(sum[:])
	jkt := independentThumbprint(k.jwk)
	base := Expect{Method: "POST", URL: "https://api.test/api/transfers?x=1", Now: now, Window: time.Minute, AccessToken: token, JKT: jkt}
	for name, tc := range map[string]struct {
		claims map[string]any
		expect func(e Expect) Expect
		want   error
	}{
		"valid":                        {map[string]any{"ath": ath}, nil, nil},
		"htu with a query and case":    {map[string]any{"ath": ath, "htu": "HTTPS://API.test:443/api/%7Etransfers/../transfers?a=b#f"}, func(e Expect) Expect { e.URL = "https://api.test/api/transfers"; return e }, nil},
		"another method":               {map[string]any{"ath": ath, "htm": "GET"}, nil, ErrMethod},
		"another path":                 {map[string]any{"ath": ath, "htu": "https://api.test/api/notes"}, nil, ErrURI},
		"http for https":               {map[string]any{"ath": ath, "htu": "http://api.test/api/transfers"}, nil, ErrURI},
		"another port":                 {map[string]any{"ath": ath, "htu": "https://api.test:8443/api/transfers"}, nil, ErrURI},
		"iat 61 s old":                 {map[string]any{"ath": ath, "iat": now.Unix() - 61}, nil, ErrTime},
		"iat 61 s ahead":               {map[string]any{"ath": ath, "iat": now.Unix() + 61}, nil, ErrTime},
		"iat 59 s old":                 {map[string]any{"ath": ath, "iat": now.Unix() - 59}, nil, nil},
		"no ath":                       {nil, nil, ErrATH},
		"ath of another token":         {map[string]any{"ath": enc.EncodeToString(make([]byte, 32))}, nil, ErrATH},
		"another key than the token's": {map[string]any{"ath": ath}, func(e Expect) Expect { e.JKT = "other"; return e }, ErrBinding},
	} {
		p, err := Parse(k.sign(t, nil, tc.claims), keyalg.Supported)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e := base
		if tc.expect != nil {
			e = tc.expect(e)
		}
		if err := p.Check(e); !errors.Is(err, tc.want) && !(err == nil && tc.want == nil) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

func TestNormalizeURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.test":              "https://api.test/",
		"HTTPS://API.TEST/a":            "https://api.test/a",
		"https://api.test:443/a?q#f":    "https://api.test/a",
		"http://api.test:80/a":          "http://api.test/a",
		"http://api.test:8080/a":        "http://api.test:8080/a",
		"https://api.test/%7euser/%2fx": "https://api.test/~user/%2Fx",
		"https://api.test/a/./b/../c":   "https://api.test/a/c",
		"https://api.test/a/..":         "https://api.test/",
		"http://[::1]:8080/x":           "http://[::1]:8080/x",
		"https://api.test/caf%C3%A9":    "https://api.test/caf%C3%A9",
	} {
		if got, err := NormalizeURI(in); err != nil || got != want {
			t.Errorf("NormalizeURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/relative", "ftp://x/y", "https://", "https://u@api.test/", "https://api.test/%zz", "mailto:a@b"} {
		if got, err := NormalizeURI(bad); err == nil {
			t.Errorf("NormalizeURI(%q) = %q, want an error", bad, got)
		}
	}
}

func TestMemoryStore(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	s := NewMemoryStore(3, func() time.Time { return now })
	ctx := context.Background()
	until := now.Add(time.Minute)
	for i, key := range []string{"a", "b"} {
		if replayed, err := s.CheckAndSet(ctx, key, until); replayed || err != nil {
			t.Fatalf("first %q (%d): %v %v", key, i, replayed, err)
		}
	}
	if replayed, _ := s.CheckAndSet(ctx, "a", until); !replayed {
		t.Fatal("a replay not seen")
	}
	s.CheckAndSet(ctx, "c", until)
	if _, err := s.CheckAndSet(ctx, "d", until); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("a fourth proof in a store of three: %v, want ErrStoreFull", err)
	}
	now = now.Add(time.Minute) // all three expire
	if replayed, err := s.CheckAndSet(ctx, "a", now.Add(time.Minute)); replayed || err != nil || s.Len() != 1 {
		t.Fatalf("after expiry: %v %v, %d held", replayed, err, s.Len())
	}
}

// A million distinct proofs: bounded, under 100 bytes each.
func TestMemoryStoreIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("a million proofs")
	}
	n := 1_000_000
	if raceEnabled {
		n = 100_000
	}
	now := time.Unix(1_000_000, 0)
	s := NewMemoryStore(n, func() time.Time { return now })
	before := memsize.Heap()
	ctx := context.Background()
	key := make([]byte, 0, 64)
	for i := range n {
		key = append(key[:0], "jkt-thumbprint:jti-"...)
		key = appendInt(key, i)
		if _, err := s.CheckAndSet(ctx, string(key), now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CheckAndSet(ctx, "one more", now.Add(time.Minute)); !errors.Is(err, ErrStoreFull) {
		t.Fatalf("past the bound: %v", err)
	}
	per := (memsize.Heap() - before) / int64(n)
	t.Logf("%d proofs: %d bytes each", n, per)
	if per > 160 {
		t.Fatalf("%d bytes per proof", per)
	}
	runtime.KeepAlive(s)
}

func appendInt(b []byte, i int) []byte {
	var d [20]byte
	p := len(d)
	for {
		p--
		d[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			break
		}
	}
	return append(b, d[p:]...)
}

// FuzzParse: Parse never panics, and a proof it accepts has an allowed
// alg, a thumbprint that an independent computation agrees with, and a
// signature the standard library verifies.
func FuzzParse(f *testing.F) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		k := newTestKey(f, alg)
		f.Add(k.sign(f, nil, nil))
		f.Add(k.sign(f, map[string]any{"typ": "JWT"}, nil))
		f.Add(k.sign(f, nil, map[string]any{"iat": 1e300, "jti": strings.Repeat("x", 300)}))
		f.Add(k.sign(f, nil, map[string]any{"ath": strings.Repeat("A", 64), "htu": "https://api.test/a", "htm": "GET"}))
		f.Add(k.sign(f, nil, map[string]any{"jti": json.RawMessage(`"j\ud800"`), "htu": json.RawMessage(`"https://api.test/\ud83d\ude00"`)}))
	}
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := Parse(proof, []string{"RS256", "ES256", "EdDSA"})
		if err != nil {
			return
		}
		// Check never panics either, whatever the claims hold (a long ath
		// once did).
		_ = p.Check(Expect{Method: "GET", URL: "https://api.test/a", Now: time.Now(), Window: time.Minute, AccessToken: "tok", JKT: p.JKT})
		if p.Alg != "RS256" && p.Alg != "ES256" && p.Alg != "EdDSA" {
			t.Fatalf("accepted alg %q", p.Alg)
		}
		h64, _, _ := strings.Cut(proof, ".")
		hb, _ := enc.DecodeString(h64)
		var h struct{ JWK map[string]any }
		if json.Unmarshal(hb, &h) != nil || independentThumbprint(h.JWK) != p.JKT {
			t.Fatalf("thumbprint %q disagrees with the independent one of %v", p.JKT, h.JWK)
		}
	})
}

// BenchmarkMemoryStore is one check-and-set of a new proof in a store
// holding a minute of proofs.
func BenchmarkMemoryStore(b *testing.B) {
	now := time.Unix(1_000_000, 0)
	s := NewMemoryStore(0, func() time.Time { return now })
	ctx := context.Background()
	key := make([]byte, 0, 64)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		key = appendInt(append(key[:0], "jkt:jti-"...), i)
		i++
		if _, err := s.CheckAndSet(ctx, string(key), now.Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
		if i%100_000 == 0 {
			now = now.Add(time.Minute) // expire, as a steady load would
		}
	}
}

// FuzzThumbprint: PublicKey never panics, and for every JWK it accepts the
// thumbprint is the one an independent RFC 7638 computation (encoding/json
// over the required members) gives, and the key is the one the members
// describe.
func FuzzThumbprint(f *testing.F) {
	for _, alg := range []string{"RS256", "ES256", "ES384", "ES512", "EdDSA"} {
		b, _ := json.Marshal(newTestKey(f, alg).jwk)
		f.Add(b)
	}
	f.Add([]byte(`{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}`))
	f.Add([]byte(`{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pub, jkt, err := PublicKey(raw)
		if err != nil {
			return
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("accepted a JWK encoding/json refuses: %v", err)
		}
		if _, ok := m["kty"].(string); !ok {
			t.Fatalf("accepted a JWK without a string kty: %s", raw)
		}
		if want := independentThumbprint(m); jkt != want {
			t.Fatalf("thumbprint %s, independent %s, of %s", jkt, want, raw)
		}
		// The key is the members': its own JWK has the same thumbprint.
		if got := independentThumbprint(testJWK(pub)); got != jkt {
			t.Fatalf("the key's own JWK has thumbprint %s, the published one %s", got, jkt)
		}
	})
}

// BenchmarkProof is a proof's whole check (Parse, then Check against the
// request and token) beside its signature check alone, per algorithm:
// the difference is what DPoP costs beyond the cryptography.
func BenchmarkProof(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		k := newTestKey(b, alg)
		s, err := NewSigner(k.priv, alg)
		if err != nil {
			b.Fatal(err)
		}
		tok := strings.Repeat("t", 800)
		now := time.Now()
		proof, err := s.Proof("GET", "https://api.example.com/api/me", tok, "", now)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(alg+"/parse-and-check", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := Parse(proof, keyalg.Supported)
				if err != nil {
					b.Fatal(err)
				}
				if err := p.Check(Expect{Method: "GET", URL: "https://api.example.com/api/me", Now: now, Window: time.Minute, AccessToken: tok, JKT: s.JKT()}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(alg+"/signature-only", func(b *testing.B) {
			i := strings.LastIndexByte(proof, '.')
			sig, _ := enc.DecodeString(proof[i+1:])
			a := keyalg.Lookup(alg)
			pub := k.priv.Public()
			b.ReportAllocs()
			for b.Loop() {
				if !a.Verify([]byte(proof[:i]), sig, pub) {
					b.Fatal("bad signature")
				}
			}
		})
	}
}
