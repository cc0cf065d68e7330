package jwks_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// proxyJWKS serves the issuer's JWKS with extra headers and, if etag is
// set, answers conditional requests with 304. It counts 200s and 304s.
type proxyJWKS struct {
	iss          *jwkstest.Issuer
	cacheControl atomic.Value // string
	etag         bool
	ok, notMod   atomic.Int64
	down         atomic.Bool
}

func (p *proxyJWKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	resp, err := http.Get(p.iss.JWKSURL())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if cc, _ := p.cacheControl.Load().(string); cc != "" {
		w.Header().Set("Cache-Control", cc)
	}
	if p.etag {
		sum := sha256.Sum256(body)
		tag := `"` + hex.EncodeToString(sum[:8]) + `"`
		w.Header().Set("ETag", tag)
		if r.Header.Get("If-None-Match") == tag {
			p.notMod.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	p.ok.Add(1)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func newProxy(t *testing.T, p *proxyJWKS) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func fetchesIn(p *proxyJWKS, d time.Duration) int64 {
	before := p.ok.Load() + p.notMod.Load()
	time.Sleep(d)
	return p.ok.Load() + p.notMod.Load() - before
}

func TestCacheControlShortensTheInterval(t *testing.T) {
	p := &proxyJWKS{iss: newIssuer(t)}
	p.cacheControl.Store("public, max-age=0")
	c, err := jwks.NewFromJWKSURL(context.Background(), newProxy(t, p),
		fast(jwks.WithRefreshInterval(time.Hour), jwks.WithFreshnessBounds(50*time.Millisecond, time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	// max-age=0 is clamped up to the 50 ms minimum: about 20 refreshes a
	// second (fewer on a loaded machine, never hundreds), where the one-hour
	// default would give none.
	if n := fetchesIn(p, time.Second); n < 3 || n > 30 {
		t.Fatalf("%d fetches in 1s with max-age=0 clamped to 50ms", n)
	}
}

func TestCacheControlLengthensTheInterval(t *testing.T) {
	p := &proxyJWKS{iss: newIssuer(t)}
	p.cacheControl.Store("max-age=3600")
	c, err := jwks.NewFromJWKSURL(context.Background(), newProxy(t, p),
		fast(jwks.WithRefreshInterval(20*time.Millisecond), jwks.WithFreshnessBounds(time.Millisecond, 10*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	// max-age=3600 is clamped down to 10 s, not the 20 ms default.
	if n := fetchesIn(p, 400*time.Millisecond); n != 0 {
		t.Fatalf("%d fetches in 400ms with max-age clamped to 10s", n)
	}
	// And the maximum bound holds: with a 100 ms maximum it refreshes.
	c.Close()
	c, err = jwks.NewFromJWKSURL(context.Background(), newProxy(t, p),
		fast(jwks.WithFreshnessBounds(time.Millisecond, 100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	if n := fetchesIn(p, time.Second); n < 2 {
		t.Fatalf("%d fetches in 1s with max-age=3600 clamped to 100ms", n)
	}
}

func TestExpiresHeader(t *testing.T) {
	p := &proxyJWKS{iss: newIssuer(t)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Expires", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
		p.ServeHTTP(w, r)
	}))
	defer srv.Close()
	c, err := jwks.NewFromJWKSURL(context.Background(), srv.URL,
		fast(jwks.WithRefreshInterval(20*time.Millisecond), jwks.WithFreshnessBounds(time.Millisecond, 10*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	if n := fetchesIn(p, 300*time.Millisecond); n != 0 {
		t.Fatalf("%d fetches in 300ms with Expires an hour ahead", n)
	}
}

func TestNotModifiedKeepsKeysAndCountsAsSuccess(t *testing.T) {
	p := &proxyJWKS{iss: newIssuer(t), etag: true}
	m := &countingMetrics{}
	c, err := jwks.NewFromJWKSURL(context.Background(), newProxy(t, p),
		fast(jwks.WithRefreshInterval(20*time.Millisecond), jwks.WithMetrics(m))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	eventually(t, "304 answers", func() bool { return p.notMod.Load() >= 3 })
	if p.ok.Load() != 1 {
		t.Fatalf("%d full responses, want 1 (the rest 304)", p.ok.Load())
	}
	kid := p.iss.SigningKID("RS256")
	if _, _, ok := c.LookupKey(kid); !ok {
		t.Fatal("keys lost on 304")
	}
	if st := c.Status(); st.ConsecutiveFailures != 0 || st.LastError != nil {
		t.Fatalf("304 counted as failure: %+v", st)
	}
	if m.get("not_modified") < 3 || m.get("ok") != 1 {
		t.Fatalf("metrics: %v", m.snapshot())
	}
	// A change is fetched whole and installed.
	newKID := p.iss.Rotate("ES256")
	eventually(t, "the changed set", func() bool { _, _, ok := c.LookupKey(newKID); return ok })
}

func TestMaxStaleness(t *testing.T) {
	p := &proxyJWKS{iss: newIssuer(t)}
	c, err := jwks.NewFromJWKSURL(context.Background(), newProxy(t, p),
		fast(jwks.WithRefreshInterval(20*time.Millisecond), jwks.WithMaxStaleness(150*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	p.down.Store(true)
	eventually(t, "not ready after max staleness", func() bool { return !c.Ready() })
	if _, _, ok := c.LookupKey(p.iss.SigningKID("RS256")); !ok {
		t.Fatal("keys dropped: staleness should only flip readiness")
	}
	p.down.Store(false)
	eventually(t, "ready again", c.Ready)
}

func TestNegativeCache(t *testing.T) {
	iss := newIssuer(t)
	m := &countingMetrics{}
	c := newCache(t, iss.URL(), jwks.WithUnknownKIDCooldown(0), jwks.WithNegativeTTL(time.Hour), jwks.WithMetrics(m))
	waitReady(t, c)
	before := iss.JWKSFetches()
	for range 5 {
		if _, _, ok := c.LookupOrRefresh(context.Background(), "ghost"); ok {
			t.Fatal("found a ghost")
		}
	}
	if n := iss.JWKSFetches() - before; n != 1 {
		t.Fatalf("a kid just found missing caused %d fetches, want 1", n)
	}
	if m.get("unknown_kid") != 1 {
		t.Fatalf("metrics: %v", m.snapshot())
	}
	// Another kid is not affected, and a new key still works at once.
	kid := iss.Rotate("ES256")
	if _, _, ok := c.LookupOrRefresh(context.Background(), kid); !ok {
		t.Fatal("rotated key not found")
	}
}

type countingMetrics struct {
	mu sync.Mutex
	n  map[string]int
}

func (m *countingMetrics) add(k string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.n == nil {
		m.n = map[string]int{}
	}
	m.n[k]++
}
func (m *countingMetrics) get(k string) int { m.mu.Lock(); defer m.mu.Unlock(); return m.n[k] }
func (m *countingMetrics) snapshot() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int{}
	for k, v := range m.n {
		out[k] = v
	}
	return out
}
func (m *countingMetrics) Fetch(_, result string)   { m.add(result) }
func (m *countingMetrics) KeysLoaded(string, int)   { m.add("keys_loaded") }
func (m *countingMetrics) UnknownKIDRefresh(string) { m.add("unknown_kid") }
