package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// dpopChallenge is the bare DPoP challenge a Guard with the default
// policy (DPoPAllowed) sends after the Bearer one on every 401 and 403.
const dpopChallenge = `DPoP realm="api", algs="` + guardtest.Algs + `"`

// dpopAlgsMember is the metadata member that says which proof algorithms
// are accepted.
const dpopAlgsMember = `"dpop_signing_alg_values_supported":["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"]`

// dpopEnv is a contract-table Env with opts, a prover and a token bound
// to its key.
type dpopEnv struct {
	*guardtest.Env
	p     *guardtest.Prover
	bound string
	h     http.Handler
}

func newDPoPEnv(t *testing.T, opts ...middleware.Option) *dpopEnv {
	t.Helper()
	e := guardtest.New(t, opts...)
	p := guardtest.NewProver("ES256")
	bound := e.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithScopes("notes:read"), jwkstest.WithExpiresIn(time.Hour))
	return &dpopEnv{e, p, bound, e.Reference()}
}

// do sends GET path with the DPoP scheme, tok and the proofs given.
func (d *dpopEnv) do(path, tok string, proofs ...string) *http.Response {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	if len(proofs) > 0 {
		req.Header["Dpop"] = proofs
	}
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	return rec.Result()
}

func (d *dpopEnv) proof(claims map[string]any) string {
	return d.p.Proof("GET", "http://example.com/api/me", d.bound, claims, nil)
}

func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithDPoPNonce(nil, 0))
	want := guardtest.OnResource(guardtest.UseNonce, guardtest.Audience)
	resp := d.do("/api/me", d.bound, d.proof(nil))
	nonce := resp.Header.Get("DPoP-Nonce")
	if resp.StatusCode != 401 || !slices.Equal(resp.Header.Values("WWW-Authenticate"), want.Challenges) || nonce == "" {
		t.Fatalf("a proof without a nonce: %d %q, nonce %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), nonce)
	}
	for name, n := range map[string]string{"made up": "abc", "another Guard's": newDPoPNonceFrom(t)} {
		if resp := d.do("/api/me", d.bound, d.proof(map[string]any{"nonce": n})); resp.StatusCode != 401 ||
			!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) || resp.Header.Get("DPoP-Nonce") == "" {
			t.Errorf("a %s nonce: %d %q", name, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
		}
	}
	resp = d.do("/api/me", d.bound, d.proof(map[string]any{"nonce": nonce}))
	if resp.StatusCode != 200 || resp.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("with the nonce: %d, nonce %q", resp.StatusCode, resp.Header.Get("DPoP-Nonce"))
	}
	// Every response to a DPoP request carries one, refusals too; a
	// bearer request's carries none.
	if resp := d.do("/api/me", d.bound, "junk"); resp.StatusCode != 401 || resp.Header.Get("DPoP-Nonce") == "" {
		t.Errorf("an invalid proof: %d, nonce %q", resp.StatusCode, resp.Header.Get("DPoP-Nonce"))
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+d.Issuer.Mint())
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("DPoP-Nonce") != "" {
		t.Errorf("a bearer request: %d, nonce %q", rec.Code, rec.Header().Get("DPoP-Nonce"))
	}
}

// IssueDPoPNonce gives a nonce the Guard then accepts, for a response the
// Guard does not write; "" when nonces are off.
func TestIssueDPoPNonce(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithDPoPNonce(nil, 0))
	n := d.Guard.IssueDPoPNonce()
	if resp := d.do("/api/me", d.bound, d.proof(map[string]any{"nonce": n})); n == "" || resp.StatusCode != 200 {
		t.Fatalf("a proof with the issued nonce %q: %d %q", n, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if n := newDPoPEnv(t).Guard.IssueDPoPNonce(); n != "" {
		t.Fatalf("nonces off: IssueDPoPNonce = %q", n)
	}
}

// newDPoPNonceFrom returns a nonce another Guard issued.
func newDPoPNonceFrom(t *testing.T) string {
	d := newDPoPEnv(t, middleware.WithDPoPNonce(nil, 0))
	return d.do("/api/me", d.bound, d.proof(nil)).Header.Get("DPoP-Nonce")
}

// Nonces expire after their lifetime, and replicas with one secret accept
// each other's.
func TestDPoPNonceLifetimeAndSharedSecret(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	secret := []byte(strings.Repeat("s", 32))
	a := newDPoPEnv(t, middleware.WithDPoPNonce(secret, time.Minute), middleware.WithClock(clock))
	b := newDPoPEnv(t, middleware.WithDPoPNonce(secret, time.Minute), middleware.WithClock(clock))
	b.p, b.bound = a.p, b.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": a.p.JKT}), jwkstest.WithScopes("notes:read"), jwkstest.WithExpiresIn(time.Hour))
	nonce := a.do("/api/me", a.bound, a.proof(nil)).Header.Get("DPoP-Nonce")
	if resp := b.do("/api/me", b.bound, b.proof(map[string]any{"nonce": nonce})); resp.StatusCode != 200 {
		t.Fatalf("a replica's nonce: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	mu.Lock()
	now = now.Add(2*time.Minute + time.Second)
	mu.Unlock()
	if resp := a.do("/api/me", a.bound, a.proof(map[string]any{"nonce": nonce, "iat": clock().Unix()})); resp.StatusCode != 401 ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="use_dpop_nonce"`) {
		t.Errorf("a nonce past its lifetime: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if _, err := middleware.New(a.Keys, a.Issuer.URL(), []string{"x"}, middleware.WithDPoPNonce([]byte("short"), 0)); err == nil {
		t.Error("a nonce secret of 5 bytes was accepted")
	}
}

func TestDPoPRequired(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithDPoP(middleware.DPoPRequired))
	rm := `, resource_metadata="` + middleware.MetadataURL(guardtest.Audience) + `"`
	algs := `, algs="` + guardtest.Algs + `"`
	for _, tc := range []struct {
		name      string
		authz     string
		challenge string
		err       error
	}{
		{"no token", "", `DPoP realm="api"` + algs + rm, middleware.ErrNoToken},
		{"a bearer token", "Bearer " + d.Issuer.Mint(), `DPoP realm="api", error="invalid_token", error_description="The access token must be sent with a DPoP proof"` + algs + rm, middleware.ErrDPoPRequired},
		{"a bound token as a bearer token", "Bearer " + d.bound, `DPoP realm="api", error="invalid_token", error_description="` + guardtest.DescBound + `"` + algs + rm, middleware.ErrBoundToken},
	} {
		req := httptest.NewRequest("GET", "/api/me", nil)
		if tc.authz != "" {
			req.Header.Set("Authorization", tc.authz)
		}
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		_, err := d.Guard.Verify(req)
		if got := rec.Result().Header.Values("WWW-Authenticate"); rec.Code != 401 || !slices.Equal(got, []string{tc.challenge}) || !errors.Is(err, tc.err) {
			t.Errorf("%s: %d %q, %v\n want %q, %v", tc.name, rec.Code, got, err, tc.challenge, tc.err)
		}
	}
	if resp := d.do("/api/me", d.bound, d.proof(nil)); resp.StatusCode != 200 {
		t.Errorf("a DPoP request: %d", resp.StatusCode)
	}
	doc := metadataOf(t, d.Guard, "/.well-known/oauth-protected-resource")
	if !strings.Contains(doc, `"dpop_bound_access_tokens_required":true`) || !strings.Contains(doc, dpopAlgsMember) {
		t.Errorf("metadata: %s", doc)
	}
}

func TestDPoPOff(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithDPoP(middleware.DPoPOff))
	rm := `, resource_metadata="` + middleware.MetadataURL(guardtest.Audience) + `"`
	resp := d.do("/api/me", d.bound, d.proof(nil))
	if got := resp.Header.Values("WWW-Authenticate"); resp.StatusCode != 401 || !slices.Equal(got, []string{`Bearer realm="api"` + rm}) {
		t.Errorf("the DPoP scheme is no credentials: %d %q", resp.StatusCode, got)
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+d.bound)
	if _, err := d.Guard.Verify(req); !errors.Is(err, middleware.ErrBoundToken) {
		t.Errorf("a bound token as a bearer token: %v", err)
	}
	if doc := metadataOf(t, d.Guard, "/.well-known/oauth-protected-resource"); strings.Contains(doc, "dpop") {
		t.Errorf("metadata advertises DPoP: %s", doc)
	}
}

func metadataOf(t *testing.T, g *middleware.Guard, path string) string {
	t.Helper()
	rec := httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
	if rec.Code != 200 {
		t.Fatalf("metadata %s: %d", path, rec.Code)
	}
	return rec.Body.String()
}

// failingStore is a ReplayStore whose backend is down.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) CheckAndSet(context.Context, string, time.Time) (bool, error) {
	return false, errStoreDown
}
func (failingStore) Seen(context.Context, string) (bool, error) { return false, errStoreDown }

func TestReplayStoreOutage(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithReplayStore(failingStore{}))
	resp := d.do("/api/me", d.bound, d.proof(nil))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "5" || len(resp.Header.Values("WWW-Authenticate")) != 0 ||
		string(body) != `{"error":"temporarily_unavailable","error_description":"The DPoP replay store is not available"}` {
		t.Errorf("store down: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "DPoP "+d.bound)
	req.Header.Set("DPoP", d.proof(nil))
	if _, err := d.Guard.Verify(req); !errors.Is(err, middleware.ErrReplayStoreUnavailable) || !errors.Is(err, errStoreDown) {
		t.Errorf("Verify: %v", err)
	}
	// A bearer request does not need the store.
	req = httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+d.Issuer.Mint())
	if _, err := d.Guard.Verify(req); err != nil {
		t.Errorf("a bearer request: %v", err)
	}

	open := newDPoPEnv(t, middleware.WithReplayStore(failingStore{}), middleware.WithInsecureReplayStoreFailOpen())
	if resp := open.do("/api/me", open.bound, open.proof(nil)); resp.StatusCode != 200 {
		t.Errorf("failing open: %d", resp.StatusCode)
	}

	// A full memory store refuses, rather than forget a proof early.
	full := newDPoPEnv(t, middleware.WithReplayStore(middleware.NewMemoryReplayStore(1, nil)))
	if resp := full.do("/api/me", full.bound, full.proof(nil)); resp.StatusCode != 200 {
		t.Fatalf("first proof: %d", resp.StatusCode)
	}
	if resp := full.do("/api/me", full.bound, full.proof(nil)); resp.StatusCode != 503 {
		t.Errorf("a proof past the store's bound: %d", resp.StatusCode)
	}
}

// The verified-token cache skips the token's signature, never the proof.
func TestDPoPProofCheckedOnCachedToken(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	if resp := d.do("/api/me", d.bound, d.proof(nil)); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	for name, proof := range map[string]string{
		"another method":  d.p.Proof("POST", "http://example.com/api/me", d.bound, nil, nil),
		"no ath":          d.proof(map[string]any{"ath": nil}),
		"another key":     guardtest.NewProver("ES256").Proof("GET", "http://example.com/api/me", d.bound, nil, nil),
		"a forged proof":  guardtest.Forge(d.proof(nil)),
		"an old iat":      d.proof(map[string]any{"iat": time.Now().Unix() - 120}),
		"another path":    d.p.Proof("GET", "http://example.com/api/notes", d.bound, nil, nil),
		"another address": d.p.Proof("GET", "http://example.org/api/me", d.bound, nil, nil),
	} {
		if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 {
			t.Errorf("%s, token cached: %d", name, resp.StatusCode)
		}
	}
}

func TestDPoPAlgorithmsAndOptions(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t, middleware.WithDPoPAlgorithms("ES256"))
	ed := guardtest.NewProver("EdDSA")
	tok := d.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": ed.JKT}))
	resp := d.do("/api/me", tok, ed.Proof("GET", "http://example.com/api/me", tok, nil, nil))
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) ||
		!strings.Contains(resp.Header.Get("WWW-Authenticate"), `algs="ES256"`) {
		t.Errorf("an EdDSA proof with ES256 only: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if resp := d.do("/api/me", d.bound, d.proof(nil)); resp.StatusCode != 200 {
		t.Errorf("an ES256 proof: %d", resp.StatusCode)
	}
	for name, opt := range map[string]middleware.Option{
		"HS256":         middleware.WithDPoPAlgorithms("HS256"),
		"none at all":   middleware.WithDPoPAlgorithms(),
		"window of 0.5": middleware.WithDPoPProofWindow(500 * time.Millisecond),
		"window of 1h":  middleware.WithDPoPProofWindow(time.Hour),
		"policy 7":      middleware.WithDPoP(7),
		"external URL":  middleware.WithExternalURL("api.example.com"),
		"external ?":    middleware.WithExternalURL("https://api.example.com/?a=b"),
		"proxy":         middleware.WithTrustedProxies(netip.Prefix{}),
	} {
		if _, err := middleware.New(d.Keys, d.Issuer.URL(), []string{"x"}, opt); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

// htu is checked against the URL the client used: the request's own by
// default, the configured external URL, or what a trusted proxy says.
func TestDPoPPublicURL(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	proxy := netip.MustParsePrefix("10.0.0.0/8")
	for _, tc := range []struct {
		name   string
		opts   []middleware.Option
		remote string
		header map[string]string
		htu    string
		want   int
	}{
		{"the request's own", nil, "", nil, "http://example.com/api/me", 200},
		{"forwarded headers are not trusted by default", nil, "10.1.2.3:1234", map[string]string{"X-Forwarded-Proto": "https"}, "https://example.com/api/me", 401},
		{"a trusted proxy's X-Forwarded-Proto", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"X-Forwarded-Proto": "http, https"}, "https://example.com/api/me", 200},
		{"a trusted proxy's Forwarded proto", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"Forwarded": `for=1.2.3.4;proto=https;host="api.example.com"`}, "https://example.com/api/me", 200},
		// Found by a review: proxies pass a client's X-Forwarded-Host on
		// (ALB, Envoy), so the host is never taken from these headers.
		{"X-Forwarded-Host is not read", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "other-rs.example"}, "https://other-rs.example/api/me", 401},
		{"Forwarded host is not read", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"Forwarded": "proto=https;host=other-rs.example"}, "https://other-rs.example/api/me", 401},
		{"an untrusted peer's X-Forwarded-Proto", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "192.0.2.1:1234", map[string]string{"X-Forwarded-Proto": "https"}, "https://example.com/api/me", 401},
		{"an untrusted peer: its own URL", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "192.0.2.1:1234", map[string]string{"X-Forwarded-Host": "api.example.com"}, "http://example.com/api/me", 200},
		{"the external URL", []middleware.Option{middleware.WithExternalURL("https://api.example.com/base/")}, "", nil, "https://api.example.com/base/api/me", 200},
		// Found by a review: a proxy that writes X-Forwarded-* and passes the
		// client's Forwarded on let the client choose the URL.
		{"both header families: neither", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com", "Forwarded": "proto=https;host=other-rs.example"}, "https://other-rs.example/api/me", 401},
		{"both header families: the request's own URL", []middleware.Option{middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1234", map[string]string{"X-Forwarded-Proto": "https", "Forwarded": "proto=http"}, "http://example.com/api/me", 200},
		{"the external URL, not the request's", []middleware.Option{middleware.WithExternalURL("https://api.example.com")}, "", nil, "http://example.com/api/me", 401},
		{"the external URL wins over a proxy", []middleware.Option{middleware.WithExternalURL("https://api.example.com"), middleware.WithTrustedProxies(proxy)}, "10.1.2.3:1", map[string]string{"X-Forwarded-Host": "other.example", "X-Forwarded-Proto": "https"}, "https://api.example.com/api/me", 200},
	} {
		d := newDPoPEnv(t, tc.opts...)
		req := httptest.NewRequest("GET", "/api/me", nil)
		if tc.remote != "" {
			req.RemoteAddr = tc.remote
		}
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		req.Header.Set("Authorization", "DPoP "+d.bound)
		req.Header.Set("DPoP", d.p.Proof("GET", tc.htu, d.bound, nil, nil))
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: %d %q, want %d", tc.name, rec.Code, rec.Header().Values("WWW-Authenticate"), tc.want)
		}
	}
	// The path is the one the client sent, before http.StripPrefix.
	d := newDPoPEnv(t)
	h := http.StripPrefix("/v1", d.Guard.Handler(d.Final()))
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.Header.Set("Authorization", "DPoP "+d.bound)
	req.Header.Set("DPoP", d.p.Proof("GET", "http://example.com/v1/me", d.bound, nil, nil))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("behind StripPrefix: %d %q", rec.Code, rec.Header().Values("WWW-Authenticate"))
	}
}

// A token bound to a TLS client certificate (RFC 8705) passes only on a
// connection that presented that certificate, over a real TLS server.
func TestCertificateBoundToken(t *testing.T) {
	t.Parallel()
	e := guardtest.New(t)
	srv := httptest.NewUnstartedServer(e.Guard.Handler(e.Final()))
	srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	srv.StartTLS()
	defer srv.Close()
	certA, certB := clientCert(t), clientCert(t)
	sum := sha256.Sum256(certA.Certificate[0])
	tok := e.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}))
	get := func(cert *tls.Certificate) int {
		tr := srv.Client().Transport.(*http.Transport).Clone()
		if cert != nil {
			tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
		}
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "client certificate") {
			t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
		}
		return resp.StatusCode
	}
	if got := get(certA); got != 200 {
		t.Errorf("with its certificate: %d", got)
	}
	if got := get(certB); got != 401 {
		t.Errorf("with another certificate: %d", got)
	}
	if got := get(nil); got != 401 {
		t.Errorf("without a certificate: %d", got)
	}
	// Over plain HTTP, never.
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := e.Guard.Verify(req); !errors.Is(err, middleware.ErrCertificateBinding) {
		t.Errorf("without TLS: %v", err)
	}
	doc := metadataOf(t, mustGuard(t, e, middleware.WithResourceMetadata(middleware.ResourceMetadata{TLSClientCertificateBoundAccessTokens: true})), "/.well-known/oauth-protected-resource")
	if !strings.Contains(doc, `"tls_client_certificate_bound_access_tokens":true`) {
		t.Errorf("metadata: %s", doc)
	}
}

func mustGuard(t *testing.T, e *guardtest.Env, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	g, err := middleware.New(e.Keys, e.Issuer.URL(), []string{guardtest.Audience}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	g.Rule()
	return g
}

// clientCert makes a self-signed client certificate.
func clientCert(t *testing.T) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A recorded proof is never made usable again: not by a Check that a
// handler makes and ignores, nor by a rule-wrapped handler that a handler
// calls, nor through a ServeMux a handler re-enters (found by two
// reviews). A refusal that the Handler can see coming (the route's own
// rule) happens before the proof is recorded instead.
func TestDPoPProofNeverUsableTwice(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	admin := d.Guard.Rule(middleware.Scopes("admin"))
	var runs int
	d.h = d.Guard.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++ // the handler's side effect
		_, err := admin.Check(r)
		_, _ = io.WriteString(w, "admin="+boolString(err == nil))
	}))
	proof := d.proof(nil)
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 || runs != 1 {
		t.Errorf("the same proof again: %d, the handler ran %d times", resp.StatusCode, runs)
	}

	// A handler that hands the request to a rule-wrapped handler.
	d = newDPoPEnv(t)
	adminOnly := d.Guard.Require(middleware.Scopes("admin"))(d.Final())
	runs = 0
	d.h = d.Guard.Require()(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { runs++; adminOnly.ServeHTTP(w, r) }))
	proof = d.proof(nil)
	d.do("/api/me", d.bound, proof)
	if resp := d.do("/api/me", d.bound, proof); runs != 1 {
		t.Errorf("through a rule-wrapped handler: the handler ran %d times (second answer %d)", runs, resp.StatusCode)
	}

	// A handler that re-enters the mux for a route of another rule.
	d = newDPoPEnv(t)
	mux := http.NewServeMux()
	mux.Handle("GET /admin/x", d.Guard.Require(middleware.Scopes("admin"))(d.Final()))
	runs = 0
	mux.Handle("GET /api/me", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		sub := r.Clone(r.Context())
		sub.URL.Path = "/admin/x"
		mux.ServeHTTP(httptest.NewRecorder(), sub)
		_, _ = io.WriteString(w, "done")
	}))
	d.h = d.Guard.Handler(mux)
	proof = d.proof(nil)
	d.do("/api/me", d.bound, proof)
	if resp := d.do("/api/me", d.bound, proof); runs != 1 || resp.StatusCode == 200 {
		t.Errorf("through the mux: the handler ran %d times, second answer %d", runs, resp.StatusCode)
	}
}

// Two Guards nested in one request, sharing one store (as replicas share
// Redis), record the request's proof once: the inner one does not call it
// a replay. Found by a review.
func TestDPoPNestedGuardsSharingAStore(t *testing.T) {
	t.Parallel()
	store := middleware.NewMemoryReplayStore(0, nil)
	d := newDPoPEnv(t, middleware.WithReplayStore(store))
	inner, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithReplayStore(store), middleware.WithStrictType())
	if err != nil {
		t.Fatal(err)
	}
	d.h = d.Guard.Handler(inner.Require()(d.Final()))
	proof := d.proof(nil)
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 200 {
		t.Fatalf("nested Guards: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 {
		t.Errorf("the same proof again: %d", resp.StatusCode)
	}
	if store.Len() != 1 {
		t.Errorf("the store holds %d proofs, want 1", store.Len())
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Claims that application code vouches for (WithInsecureContextClaims)
// never stand in for a sender-constrained token: no proof goes with them.
// Found by a review.
func TestContextClaimsAreNeverBound(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]middleware.Option{
		"bound claims": {middleware.WithInsecureContextClaims()},
		"DPoPRequired": {middleware.WithInsecureContextClaims(), middleware.WithDPoP(middleware.DPoPRequired)},
	} {
		d := newDPoPEnv(t, opts...)
		c := &claims.Claims{Issuer: d.Issuer.URL(), Subject: "s", Audience: []string{guardtest.Audience}, ExpiresAt: time.Now().Add(time.Hour)}
		want := middleware.ErrDPoPRequired
		if name == "bound claims" {
			c.Confirmation = &claims.Confirmation{JKT: d.p.JKT}
			want = middleware.ErrBoundToken
		}
		req := httptest.NewRequest("GET", "/api/me", nil).WithContext(claims.NewContext(context.Background(), c))
		if _, err := d.Guard.Rule().Check(req); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", name, err, want)
		}
	}
}

// Claims that another Guard verified with the request's proof are bound
// already: a Guard that takes them from the context does not refuse them,
// and answers on the request's scheme. Found by a second review.
func TestContextClaimsFromAGuardThatCheckedTheProof(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	inner, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithInsecureContextClaims())
	if err != nil {
		t.Fatal(err)
	}
	d.h = d.Guard.Handler(inner.Require()(d.Final()))
	if resp := d.do("/api/me", d.bound, d.proof(nil)); resp.StatusCode != 200 {
		t.Errorf("claims an outer Guard bound: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	d.h = d.Guard.Handler(inner.Require(middleware.Scopes("admin"))(d.Final()))
	resp := d.do("/api/me", d.bound, d.proof(nil))
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 403 || !strings.HasPrefix(ch, `DPoP realm="api", error="insufficient_scope"`) {
		t.Errorf("the inner Guard's refusal of a DPoP request: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// A proof is remembered for as long as Check accepts it, the last
// moment of its window included. Found by a review.
func TestDPoPReplayAtTheWindowsEdge(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	d := newDPoPEnv(t, middleware.WithClock(func() time.Time { return now }))
	proof := d.proof(map[string]any{"iat": now.Add(-middleware.DefaultDPoPProofWindow).Unix()})
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 200 {
		t.Fatalf("a proof at the window's edge: %d", resp.StatusCode)
	}
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 {
		t.Errorf("its replay at the same moment: %d", resp.StatusCode)
	}
}

// seenFails is a store whose Seen cannot answer.
type seenFails struct{ *middleware.MemoryReplayStore }

func (seenFails) Seen(context.Context, string) (bool, error) { return false, errStoreDown }

// The expired hint is given only when the store vouches the proof unused:
// one it cannot ask is 503, as any store failure. Found by a review.
func TestNoExpiredHintWhenTheStoreCannotSay(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	d := newDPoPEnv(t, middleware.WithClock(clock), middleware.WithReplayStore(seenFails{middleware.NewMemoryReplayStore(0, clock)}))
	tok := d.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": d.p.JKT}), jwkstest.WithExpiresIn(5*time.Second))
	proof := d.p.Proof("GET", "http://example.com/api/me", tok, nil, nil)
	if resp := d.do("/api/me", tok, proof); resp.StatusCode != 200 {
		t.Fatalf("first: %d", resp.StatusCode)
	}
	mu.Lock()
	now = now.Add(40 * time.Second) // the token past exp and the leeway, the proof still in its window
	mu.Unlock()
	resp := d.do("/api/me", tok, proof)
	if resp.StatusCode != 503 || strings.Contains(resp.Header.Get("WWW-Authenticate"), "expired") {
		t.Errorf("a used proof, the store unable to say: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// The proof's htu must name the path the application routes on: a "#"
// in the request target is part of its path, and dot segments in it are
// not removed (a router that does not clean paths routes
// /admin/../api/me under /admin/). Found by a review.
func TestDPoPPathAsTheApplicationSeesIt(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	for _, tc := range []struct{ target, htu string }{
		{"/files/a#/b", "http://example.com/files/a"},
		{"/admin/../api/me", "http://example.com/api/me"},
		{"/admin/%2e%2e/api/me", "http://example.com/api/me"},
	} {
		d := newDPoPEnv(t)
		d.h = d.Guard.Require()(d.Final())
		if resp := d.do(tc.target, d.bound, d.p.Proof("GET", tc.htu, d.bound, nil, nil)); resp.StatusCode != 401 {
			t.Errorf("a proof for %s accepted for the target %s: %d", tc.htu, tc.target, resp.StatusCode)
		}
	}
	// The client's own dot segments are normalised away, as RFC 3986 says;
	// an htu that is the request's URL byte for byte, dot segments and
	// all, names it too (found by a second review).
	d := newDPoPEnv(t)
	if resp := d.do("/api/me", d.bound, d.p.Proof("GET", "http://example.com/x/../api/me", d.bound, nil, nil)); resp.StatusCode != 200 {
		t.Errorf("htu with dot segments for /api/me: %d", resp.StatusCode)
	}
	for _, target := range []string{"/x/../api/me", "/api/./me", "/x/%2e%2e/api/me"} {
		d := newDPoPEnv(t)
		d.h = d.Guard.Require()(d.Final())
		if resp := d.do(target, d.bound, d.p.Proof("GET", "http://example.com"+target, d.bound, nil, nil)); resp.StatusCode != 200 {
			t.Errorf("htu identical to the target %s: %d", target, resp.StatusCode)
		}
	}
	// An absolute-form target is the path as sent too, before
	// http.StripPrefix (found by a second review).
	d = newDPoPEnv(t)
	h := http.StripPrefix("/base", d.Guard.Require()(d.Final()))
	send := func(target, htu string) int {
		req := httptest.NewRequest("GET", target, nil)
		req.Header.Set("Authorization", "DPoP "+d.bound)
		req.Header.Set("DPoP", d.p.Proof("GET", htu, d.bound, nil, nil))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if c := send("http://example.com/base/api/me", "http://example.com/base/api/me"); c != 200 {
		t.Errorf("absolute form under StripPrefix, the htu sent: %d", c)
	}
	if c := send("http://example.com/base/api/me", "http://example.com/api/me"); c != 401 {
		t.Errorf("absolute form under StripPrefix, a proof for the stripped path: %d", c)
	}
}

// Nested Guards on different stores each record the proof: an outer
// Guard's own memory must not keep an inner Guard's shared store from
// learning of it, or another replica would accept it again. Found by a
// review.
func TestDPoPNestedGuardsOnDifferentStores(t *testing.T) {
	t.Parallel()
	shared := middleware.NewMemoryReplayStore(0, nil)
	d := newDPoPEnv(t)
	replica := func() http.Handler {
		outer, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience})
		if err != nil {
			t.Fatal(err)
		}
		inner, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithReplayStore(shared))
		if err != nil {
			t.Fatal(err)
		}
		return outer.Handler(inner.Require()(d.Final()))
	}
	one, two := replica(), replica()
	proof := d.proof(nil)
	d.h = one
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 200 {
		t.Fatalf("replica one: %d", resp.StatusCode)
	}
	d.h = two
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 {
		t.Errorf("the same proof at replica two: %d (the shared store holds %d)", resp.StatusCode, shared.Len())
	}
}

// mapStore is a ReplayStore value == cannot compare.
type mapStore struct{ m map[string]bool }

func (mapStore) CheckAndSet(context.Context, string, time.Time) (bool, error) { return false, nil }
func (mapStore) Seen(context.Context, string) (bool, error)                   { return false, nil }

type wrapStore struct{ middleware.ReplayStore }

// Nested Guards whose replay stores cannot be compared with == (a map
// behind an interface field) do not panic when the inner one asks whether
// the outer recorded the proof. Found by a fourth review.
func TestDPoPNestedGuardsOnUncomparableStores(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	mk := func() *middleware.Guard {
		g, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithReplayStore(wrapStore{mapStore{map[string]bool{}}}))
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	d.h = mk().Handler(mk().Require()(d.Final()))
	if resp := d.do("/api/me", d.bound, d.proof(nil)); resp.StatusCode != 200 {
		t.Errorf("nested Guards on uncomparable stores: %d", resp.StatusCode)
	}
}

// A route's rule checked before the proof is recorded (Guard.Handler over
// a mux) refuses a DPoP request for the route's audience with the route's
// resource metadata, not the outer Guard's. Found by a fourth review.
func TestDPoPRouteRefusalNamesTheRoutesResource(t *testing.T) {
	t.Parallel()
	iss, g, _ := metadataGuard(t)
	mux := http.NewServeMux()
	mux.Handle("/admin/stats", g.Require(middleware.Audience("https://api.test/admin"), middleware.Scopes("admin"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	p := guardtest.NewProver("ES256")
	tok := iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithScopes("admin"), jwkstest.WithExpiresIn(time.Hour))
	req := httptest.NewRequest("GET", "/admin/stats", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", p.Proof("GET", "http://example.com/admin/stats", tok, nil, nil))
	rec := httptest.NewRecorder()
	g.Handler(mux).ServeHTTP(rec, req)
	if ch := rec.Header().Get("WWW-Authenticate"); rec.Code != 401 || !strings.HasPrefix(ch, "DPoP ") ||
		!strings.Contains(ch, `resource_metadata="https://api.test/.well-known/oauth-protected-resource/admin"`) {
		t.Errorf("the route's audience refusal of a DPoP request: %d %q", rec.Code, ch)
	}
}

// A request that Rule.Check refused, carried on by application code
// anyway, does not vouch for its token's binding to a Guard reading
// context claims: that Guard verifies the request itself, and a replayed
// proof stays refused by the store the two share. Found by a fourth
// review.
func TestDPoPRefusedCheckDoesNotVouch(t *testing.T) {
	t.Parallel()
	store := middleware.NewMemoryReplayStore(0, nil)
	d := newDPoPEnv(t, middleware.WithReplayStore(store))
	b, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithInsecureContextClaims(), middleware.WithReplayStore(store))
	if err != nil {
		t.Fatal(err)
	}
	inner, rule, passed := b.Require()(d.Final()), d.Guard.Rule(), 0
	d.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, err := rule.Check(r)
		if err == nil {
			passed++
		}
		inner.ServeHTTP(w, r2) // carried on whatever Check said
	})
	proof := d.proof(nil)
	d.do("/api/me", d.bound, proof)
	if resp := d.do("/api/me", d.bound, proof); passed != 1 || resp.StatusCode == 200 {
		t.Errorf("a replayed proof, refused by Check: passed %d times, downstream answered %d", passed, resp.StatusCode)
	}
}

// A refused Check's request (which the error handler is given, and
// which application code may carry on with, serving it anonymously)
// shows no claims: after a replayed proof, claims.FromContext must not
// name the token's subject. Found by a fifth review.
func TestRefusedCheckCarriesNoClaims(t *testing.T) {
	t.Parallel()
	var hooked []string
	d := newDPoPEnv(t, middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		if c, ok := claims.FromContext(r.Context()); ok {
			hooked = append(hooked, c.Subject)
		}
		middleware.WriteError(w, r, err)
	}))
	rule := d.Guard.Rule()
	var seen []string
	d.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r2, err := rule.Check(r)
		if c, ok := claims.FromContext(r2.Context()); ok {
			seen = append(seen, fmt.Sprint(err == nil, " ", c.Subject))
		}
		if err != nil {
			d.Guard.Fail(w, r2, err)
		}
	})
	proof := d.proof(nil)
	d.do("/api/me", d.bound, proof)
	resp := d.do("/api/me", d.bound, proof)
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
		t.Fatalf("a replayed proof: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if want := []string{"true " + guardtest.Subject}; !slices.Equal(seen, want) || len(hooked) != 0 {
		t.Errorf("claims seen after Check: %q (want %q), by the error handler: %q (want none)", seen, want, hooked)
	}
}

// TestDPoPAuthorityCannotMoveThePath: HTTP/2's :authority (and gRPC's)
// is not checked as HTTP/1's Host is, so a '/', '?' or '#' in it would
// move the request's path out of the URL its proof must name: a proof
// for /api/me would pass on any route. Such a Host matches no proof.
func TestDPoPAuthorityCannotMoveThePath(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	for _, host := range []string{"example.com/api/me?", "example.com/api/me#", "example.com/api/me/..", "user@example.com", "example.com\\x", "exa mple.com", "example.com%2F"} {
		req := httptest.NewRequest("GET", "/api/notes", nil)
		req.Host = host
		req.Header.Set("Authorization", "DPoP "+d.bound)
		req.Header.Set("Dpop", d.proof(nil)) // for http://example.com/api/me
		rec := httptest.NewRecorder()
		d.h.ServeHTTP(rec, req)
		if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
			t.Errorf("Host %q: %d %q", host, rec.Code, rec.Header().Values("WWW-Authenticate"))
		}
	}
	// The plain authority still passes, port and all.
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Host = "example.com:443"
	req.Header.Set("Authorization", "DPoP "+d.bound)
	req.Header.Set("Dpop", d.p.Proof("GET", "http://example.com:443/api/me", d.bound, nil, nil))
	rec := httptest.NewRecorder()
	d.h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("host with a port: %d %q", rec.Code, rec.Header().Values("WWW-Authenticate"))
	}
}

// SECURITY.md: "a malformed cnf is a malformed token, never an unbound
// one". A cnf naming no confirmation method at all (RFC 7800 §3.1: it
// represents one key) says the issuer meant to bind the token: it is
// refused as bound (ErrBoundToken) on every path, as a cnf with a method
// nothing here checks is, with no expired hint, and even with DPoP off.
func TestEmptyConfirmationIsBound(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	empty := jwkstest.WithClaim("cnf", map[string]any{})
	tok := d.Issuer.Mint(empty, jwkstest.WithScopes("notes:read"), jwkstest.WithExpiresIn(time.Hour))
	for range 2 { // the second from the token cache
		if c, err := d.Guard.VerifyToken(context.Background(), tok); !errors.Is(err, middleware.ErrBoundToken) {
			t.Fatalf(`VerifyToken of a token with "cnf":{}: %v (claims %+v), want ErrBoundToken`, err, c)
		}
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if _, err := d.Guard.Verify(req); !errors.Is(err, middleware.ErrBoundToken) {
		t.Errorf(`a token with "cnf":{} under Bearer: %v, want ErrBoundToken`, err)
	}
	req = httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", d.p.Proof("GET", "http://example.com/api/me", tok, nil, nil))
	if _, err := d.Guard.Verify(req); !errors.Is(err, middleware.ErrBoundToken) {
		t.Errorf(`a token with "cnf":{} and a DPoP proof: %v, want ErrBoundToken`, err)
	}
	expired := d.Issuer.Mint(empty, jwkstest.WithExpiresIn(-2*time.Minute))
	if _, err := d.Guard.VerifyToken(context.Background(), expired); !errors.Is(err, middleware.ErrBoundToken) {
		t.Errorf(`an expired token with "cnf":{}: %v, want ErrBoundToken, no expired hint`, err)
	}
	off := newDPoPEnv(t, middleware.WithDPoP(middleware.DPoPOff))
	if _, err := off.Guard.VerifyToken(context.Background(), off.Issuer.Mint(empty)); !errors.Is(err, middleware.ErrBoundToken) {
		t.Errorf(`a token with "cnf":{} with DPoP off: %v, want ErrBoundToken`, err)
	}
}

// A clock corrected back (it ran ahead) costs a client one retry at most:
// the nonce the Guard then gives is accepted.
func TestDPoPNonceAfterClockCorrected(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	skew := 30 * time.Minute
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return time.Now().Add(skew) }
	d := newDPoPEnv(t, middleware.WithDPoPNonce(nil, time.Minute), middleware.WithClock(clock))
	_ = d.do("/api/me", d.bound, d.proof(nil)) // a DPoP request while the clock is ahead
	mu.Lock()
	skew = 0
	mu.Unlock()
	nonce := d.do("/api/me", d.bound, d.proof(nil)).Header.Get("DPoP-Nonce")
	resp := d.do("/api/me", d.bound, d.proof(map[string]any{"nonce": nonce, "iat": clock().Unix()}))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the nonce given after the correction: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
}

// A proof in a store shared by replicas is kept the leeway past the
// window, since a replica whose clock is behind accepts the proof's iat
// that much later: with the one second kept before, replicas 4 s apart
// took a proof once each. The in-process store is read on one clock.
func TestSharedReplayStoreOutlivesReplicaSkew(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	var mu sync.Mutex
	now := time.Now().Truncate(time.Second)
	clock := func(skew time.Duration) func() time.Time {
		return func() time.Time { mu.Lock(); defer mu.Unlock(); return now.Add(skew) }
	}
	shared := wrapStore{middleware.NewMemoryReplayStore(0, clock(0))} // a store of several processes, to the Guard
	replica := func(skew time.Duration) http.Handler {
		g, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience}, middleware.WithReplayStore(shared), middleware.WithClock(clock(skew)))
		if err != nil {
			t.Fatal(err)
		}
		return g.Handler(d.Final())
	}
	ahead, behind := replica(0), replica(-4*time.Second)
	proof := d.proof(map[string]any{"iat": now.Unix()})
	d.h = ahead
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 200 {
		t.Fatalf("first use: %d", resp.StatusCode)
	}
	mu.Lock()
	now = now.Add(middleware.DefaultDPoPProofWindow + 2*time.Second) // the replica behind still takes the iat
	mu.Unlock()
	d.h = behind
	if resp := d.do("/api/me", d.bound, proof); resp.StatusCode != 401 {
		t.Errorf("the proof again, at the replica 4 s behind, %v after its iat: %d", middleware.DefaultDPoPProofWindow+2*time.Second, resp.StatusCode)
	}
}

// untilStore records what the Guard asks a store to keep a proof until.
type untilStore struct {
	middleware.ReplayStore
	mu    sync.Mutex
	until []time.Time
}

func (s *untilStore) CheckAndSet(ctx context.Context, key string, until time.Time) (bool, error) {
	s.mu.Lock()
	s.until = append(s.until, until)
	s.mu.Unlock()
	return s.ReplayStore.CheckAndSet(ctx, key, until)
}

// How long past its iat a shared store keeps a proof: the window and the
// leeway, a second of it at least and ten minutes at most. A window of 0
// is the default one.
func TestSharedReplayStoreRetention(t *testing.T) {
	t.Parallel()
	d := newDPoPEnv(t)
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	for _, c := range []struct {
		leeway, window, want time.Duration
	}{
		{middleware.DefaultLeeway, 0, middleware.DefaultDPoPProofWindow + middleware.DefaultLeeway},
		{0, 0, middleware.DefaultDPoPProofWindow + time.Second},
		{24 * time.Hour, 0, middleware.DefaultDPoPProofWindow + 10*time.Minute},
		{0, 2 * time.Minute, 2*time.Minute + time.Second},
	} {
		st := &untilStore{ReplayStore: middleware.NewMemoryReplayStore(0, clock)}
		g, err := middleware.New(d.Keys, d.Issuer.URL(), []string{guardtest.Audience},
			middleware.WithReplayStore(st), middleware.WithClock(clock), middleware.WithLeeway(c.leeway), middleware.WithDPoPProofWindow(c.window))
		if err != nil {
			t.Fatal(err)
		}
		d.h = g.Handler(d.Final())
		if resp := d.do("/api/me", d.bound, d.proof(map[string]any{"iat": now.Unix()})); resp.StatusCode != 200 || len(st.until) != 1 {
			t.Fatalf("leeway %v: %d, %d records", c.leeway, resp.StatusCode, len(st.until))
		}
		if got := st.until[0].Sub(now); got != c.want {
			t.Errorf("leeway %v, window %v: kept %v past iat, want %v", c.leeway, c.window, got, c.want)
		}
	}
}
