package jwks_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/clock"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

var quiet = slog.New(slog.DiscardHandler)

func newIssuer(t *testing.T, opts ...jwkstest.Option) *jwkstest.Issuer {
	t.Helper()
	iss := jwkstest.NewIssuer(opts...)
	t.Cleanup(iss.Close)
	return iss
}

// fast options keep tests quick: short backoff, and timeouts that still
// dwarf a loopback round trip.
func fast(extra ...jwks.Option) []jwks.Option {
	return append([]jwks.Option{
		jwks.WithLogger(quiet),
		jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
		jwks.WithFetchTimeout(time.Second),
	}, extra...)
}

func newCache(t *testing.T, issuer string, opts ...jwks.Option) *jwks.Cache {
	t.Helper()
	c, err := jwks.New(context.Background(), issuer, fast(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// fakeClock returns a context carrying a fake clock: a cache built with it
// refreshes, backs off, cools down and goes stale only when the test steps
// the clock.
func fakeClock(t *testing.T) (context.Context, *clock.Fake) {
	t.Helper()
	fk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return clock.NewContext(context.Background(), fk), fk
}

// settle waits for the fetch in progress to be installed (clock.Settle).
func settle(t *testing.T, fk *clock.Fake) {
	t.Helper()
	if err := fk.Settle(); err != nil {
		t.Fatal(err)
	}
}

// step moves the fake clock by d and waits for the fetch it caused, if any.
func step(t *testing.T, fk *clock.Fake, d time.Duration) {
	t.Helper()
	if err := fk.Step(d); err != nil {
		t.Fatal(err)
	}
}

// nextRefresh is how far ahead the refresh loop's timer fires.
func nextRefresh(t *testing.T, fk *clock.Fake) time.Duration {
	t.Helper()
	settle(t, fk)
	d := fk.Deadlines()
	if len(d) != 1 {
		t.Fatalf("%d timers armed, want the refresh loop's one", len(d))
	}
	return d[0]
}

// within fails unless d is in [lo, hi): the refresh interval with its
// ±20 % jitter.
func within(t *testing.T, what string, d, lo, hi time.Duration) {
	t.Helper()
	if d < lo || d >= hi {
		t.Fatalf("%s: next refresh in %v, want [%v, %v)", what, d, lo, hi)
	}
}

func waitReady(t *testing.T, c *jwks.Cache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady: %v", err)
	}
}

// eventually polls cond for up to 5 s, for events outside the cache's
// clock (goroutines exiting, a request reaching a server); tests of the
// cache's own timers use the fake clock instead.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling for an event outside the cache's clock, bounded above
	}
}

// failedCache builds a cache on a fake clock whose first fetch fails, and
// returns it with WaitReady's error after that fetch. No retry runs: the
// clock never reaches the backoff.
func failedCache(t *testing.T, build func(context.Context) (*jwks.Cache, error)) (*jwks.Cache, error) {
	t.Helper()
	ctx, fk := fakeClock(t)
	c, err := build(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	settle(t, fk)
	if st := c.Status(); st.ConsecutiveFailures != 1 {
		t.Fatalf("first fetch: %+v, want one failure", st)
	}
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	return c, c.WaitReady(expired)
}

// failingIssuer is failedCache for jwks.New(ctx, issuer, fast(opts...)...).
func failingIssuer(t *testing.T, issuer string, opts ...jwks.Option) (*jwks.Cache, error) {
	t.Helper()
	return failedCache(t, func(ctx context.Context) (*jwks.Cache, error) { return jwks.New(ctx, issuer, fast(opts...)...) })
}

func TestDiscoveryOpenIDConfiguration(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c := newCache(t, iss.URL())
	waitReady(t, c)
	kid := iss.SigningKID("RS256")
	pub, alg, _, ok := c.LookupKey(kid, "RS256")
	if !ok || alg != "RS256" {
		t.Fatalf("LookupKey(%q) = %v, %q, %v", kid, pub, alg, ok)
	}
	if _, ok := pub.(*rsa.PublicKey); !ok {
		t.Fatalf("key type %T, want *rsa.PublicKey", pub)
	}
	if st := c.Status(); !st.Ready || st.Keys != 1 || st.JWKSURL != iss.JWKSURL() || st.LastError != nil {
		t.Fatalf("Status = %+v", st)
	}
}

func TestDiscoveryRFC8414WithPath(t *testing.T) {
	t.Parallel()
	// Only the RFC 8414 document is served: the well-known segment goes
	// between the host and the issuer's path.
	iss := newIssuer(t, jwkstest.WithPath("/realms/demo"))
	iss.SetDiscovery(false, true)
	c := newCache(t, iss.URL())
	waitReady(t, c)
	if !strings.HasSuffix(iss.URL(), "/realms/demo") {
		t.Fatalf("issuer URL %q", iss.URL())
	}
	if _, _, _, ok := c.LookupKey(iss.SigningKID("RS256"), "RS256"); !ok {
		t.Fatal("key not found after RFC 8414 discovery")
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	hostile.Of(iss).SetMetadataIssuer("https://evil.example")
	c, err := failingIssuer(t, iss.URL())
	if !errors.Is(err, jwks.ErrIssuerMismatch) || !errors.Is(err, jwks.ErrNotReady) {
		t.Fatalf("WaitReady error = %v, want ErrIssuerMismatch and ErrNotReady", err)
	}
	if c.Ready() {
		t.Fatal("cache is ready with a mismatched issuer")
	}
	if st := c.Status(); !errors.Is(st.LastError, jwks.ErrIssuerMismatch) || st.ConsecutiveFailures == 0 {
		t.Fatalf("Status = %+v", st)
	}
	if n := iss.JWKSFetches(); n != 0 {
		t.Fatalf("JWKS fetched %d times from a mismatched issuer", n)
	}
}

func TestDiscoveryIssuerMustMatchExactly(t *testing.T) {
	t.Parallel()
	// A trailing slash is a different issuer (RFC 8414 §3.3: identical).
	iss := newIssuer(t)
	hostile.Of(iss).SetMetadataIssuer(iss.URL() + "/")
	if _, err := failingIssuer(t, iss.URL()); !errors.Is(err, jwks.ErrIssuerMismatch) {
		t.Fatalf("WaitReady error = %v, want ErrIssuerMismatch", err)
	}
}

func TestDiscoveryRefusesHTTPJWKSForHTTPSIssuer(t *testing.T) {
	t.Parallel()
	// An https issuer whose metadata points at plain http keys.
	var jwksURL string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://" + r.Host, "jwks_uri": jwksURL})
	}))
	defer srv.Close()
	iss := newIssuer(t)
	jwksURL = iss.JWKSURL()
	if _, err := failingIssuer(t, srv.URL, jwks.WithHTTPClient(srv.Client())); !errors.Is(err, jwks.ErrInsecureURL) {
		t.Fatalf("WaitReady error = %v, want ErrInsecureURL", err)
	}
	if n := iss.JWKSFetches(); n != 0 {
		t.Fatalf("plain-http JWKS fetched %d times", n)
	}
}

func TestExplicitJWKSURL(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c, err := jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), fast()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitReady(t, c)
	if n := iss.DiscoveryFetches(); n != 0 {
		t.Fatalf("discovery fetched %d times with an explicit JWKS URL", n)
	}
}

func TestConstructionRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"", "not a url", "ftp://idp.example", "http://idp.example", "https://user:pw@idp.example",
		"https://idp.example/#frag", "/relative",
	} {
		if _, err := jwks.New(context.Background(), u, fast()...); !errors.Is(err, jwks.ErrInsecureURL) {
			t.Errorf("New(%q) error = %v, want ErrInsecureURL", u, err)
		}
	}
	// Loopback http is allowed; other http hosts only when opted in.
	for _, u := range []string{"http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"} {
		c, err := jwks.New(context.Background(), u, fast()...)
		if err != nil {
			t.Errorf("New(%q): %v", u, err)
			continue
		}
		c.Close()
	}
	c, err := jwks.New(context.Background(), "http://idp.internal", fast(jwks.InsecureAllowHTTP())...)
	if err != nil {
		t.Fatalf("InsecureAllowHTTP: %v", err)
	}
	c.Close()
}

// Every bound an option's doc says New refuses, New refuses, saying which.
func TestConstructionRefusesBadOptions(t *testing.T) {
	t.Parallel()
	const (
		interval  = "jwks: refresh interval must be positive"
		timeout   = "jwks: fetch timeout must be positive"
		size      = "jwks: max response size must be positive"
		kid       = "jwks: unknown-kid cooldown and wait must not be negative"
		backoff   = "jwks: backoff bounds must be positive and ordered"
		freshness = "jwks: freshness bounds must be positive and ordered"
		negative  = "jwks: max staleness and negative TTL must not be negative"
	)
	for _, tc := range []struct {
		opt  jwks.Option
		want string
	}{
		{jwks.WithRefreshInterval(0), interval},
		{jwks.WithRefreshInterval(-time.Second), interval},
		{jwks.WithFetchTimeout(0), timeout},
		{jwks.WithFetchTimeout(-1), timeout},
		{jwks.WithMaxResponseSize(0), size},
		{jwks.WithBackoff(time.Second, time.Millisecond), backoff},
		{jwks.WithBackoff(0, time.Second), backoff},
		{jwks.WithFreshnessBounds(time.Hour, time.Minute), freshness},
		{jwks.WithFreshnessBounds(0, time.Minute), freshness},
		{jwks.WithUnknownKIDCooldown(-time.Second), kid},
		{jwks.WithUnknownKIDWait(-time.Second), kid},
		{jwks.WithMaxStaleness(-time.Second), negative},
		{jwks.WithNegativeTTL(-time.Second), negative},
		{nil, "jwks: nil Option"},
	} {
		_, err := jwks.New(context.Background(), "https://idp.example", tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New: %v, want %s", err, tc.want)
		}
	}
	if _, err := jwks.NewFromJWKSURL(context.Background(), "https://idp.example/jwks", jwks.WithLogger(nil), nil); err == nil || err.Error() != "jwks: nil Option" {
		t.Errorf("NewFromJWKSURL with a nil Option: %v", err)
	}
	// The zeros the docs give a meaning to are accepted.
	for _, opt := range []jwks.Option{jwks.WithUnknownKIDCooldown(0), jwks.WithUnknownKIDWait(0), jwks.WithMaxStaleness(0), jwks.WithNegativeTTL(0)} {
		c, err := jwks.New(context.Background(), "https://idp.example", opt)
		if err != nil {
			t.Errorf("New: %v", err)
			continue
		}
		c.Close()
	}
}

func TestUnreachableAtStartThenRecovers(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	// New does no I/O: against an issuer that hangs for 10 s with a 5 s
	// fetch timeout, any fetch made inside New would cost it 5 s.
	iss.SetSlowDelay(10 * time.Second)
	iss.SetFault(jwkstest.FaultSlow)
	start := time.Now()
	hanging, err := jwks.New(context.Background(), iss.URL(), fast(jwks.WithFetchTimeout(5*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("New blocked for %v with the issuer hanging", d)
	}
	hanging.Close()

	iss.SetFault(jwkstest.FaultDown)
	ctx, fk := fakeClock(t)
	c, err := jwks.New(ctx, iss.URL(), fast()...) // backoff 10 ms doubling to 50 ms
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first attempt runs at once; each retry waits for its backoff,
	// which doubles (with ±20 % jitter) up to the maximum.
	for i, want := range []time.Duration{10, 20, 40, 50, 50} {
		want *= time.Millisecond
		within(t, fmt.Sprintf("retry %d", i+1), nextRefresh(t, fk), want*8/10, want*12/10)
		if n := c.Status().ConsecutiveFailures; n != i+1 {
			t.Fatalf("%d failures recorded after %d attempts", n, i+1)
		}
		step(t, fk, want*12/10)
	}
	if c.Ready() {
		t.Fatal("ready while the issuer is down")
	}
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "anything", "RS256"); ok {
		t.Fatal("found a key while the issuer is down")
	}
	iss.SetFault(jwkstest.FaultNone)
	step(t, fk, 60*time.Millisecond)
	if st := c.Status(); !st.Ready || st.ConsecutiveFailures != 0 || st.LastError != nil || !st.LastSuccess.Equal(fk.Now()) {
		t.Fatalf("Status after recovery = %+v", st)
	}
	// And the next refresh is at the interval again, not the backoff.
	within(t, "after recovery", nextRefresh(t, fk), jwks.DefaultRefreshInterval*8/10, jwks.DefaultRefreshInterval*12/10)
}

func TestFailedRefreshKeepsLastGoodKeys(t *testing.T) {
	t.Parallel()
	for _, f := range []struct {
		name  string
		fault jwkstest.Fault
		err   error
	}{
		{"down", jwkstest.FaultDown, nil},
		{"503", jwkstest.FaultStatus503, jwks.ErrHTTPStatus},
		{"garbage", jwkstest.FaultGarbage, jwks.ErrMalformedJWKS},
		{"empty", jwkstest.FaultEmpty, jwks.ErrNoUsableKeys},
		{"huge", jwkstest.FaultHuge, jwks.ErrResponseTooLarge},
		{"slow", jwkstest.FaultSlow, context.DeadlineExceeded},
	} {
		t.Run(f.name, func(t *testing.T) {
			// Short only where the fault is a hang: elsewhere a refresh
			// stalled by a loaded machine must not pass for the fault.
			timeout := 2 * time.Second
			if f.fault == jwkstest.FaultSlow {
				timeout = 200 * time.Millisecond
			}
			iss := newIssuer(t)
			kid := iss.SigningKID("RS256")
			ctx, fk := fakeClock(t)
			c, err := jwks.NewFromJWKSURL(ctx, iss.JWKSURL(), fast(jwks.WithFetchTimeout(timeout))...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			settle(t, fk)
			iss.SetFault(f.fault)
			step(t, fk, jwks.DefaultRefreshInterval*12/10)
			st := c.Status()
			if st.ConsecutiveFailures != 1 {
				t.Fatalf("%d failures after one failed refresh", st.ConsecutiveFailures)
			}
			if f.err != nil && !errors.Is(st.LastError, f.err) {
				t.Fatalf("LastError = %v, want %v", st.LastError, f.err)
			}
			if _, _, _, ok := c.LookupKey(kid, "RS256"); !ok || !st.Ready || st.Keys != 1 {
				t.Fatalf("last good key dropped after a failed refresh: %+v", st)
			}
		})
	}
}

func TestRemovedKeyStopsAfterNextRefresh(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	oldKID := iss.SigningKID("RS256")
	newKID := iss.Rotate("RS256")
	ctx, fk := fakeClock(t)
	c, err := jwks.NewFromJWKSURL(ctx, iss.JWKSURL(), fast()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	if _, _, _, ok := c.LookupKey(oldKID, "RS256"); !ok {
		t.Fatal("old key missing before removal")
	}
	iss.RemoveKey(oldKID)
	// Not before the refresh: lookups never fetch.
	step(t, fk, jwks.DefaultRefreshInterval*8/10-time.Second)
	if _, _, _, ok := c.LookupKey(oldKID, "RS256"); !ok {
		t.Fatal("key dropped before any refresh")
	}
	step(t, fk, jwks.DefaultRefreshInterval*4/10)
	if _, _, _, ok := c.LookupKey(oldKID, "RS256"); ok {
		t.Fatal("removed key still verifies after the refresh")
	}
	if _, _, _, ok := c.LookupKey(newKID, "RS256"); !ok {
		t.Fatal("remaining key lost")
	}
}

func TestUnknownKIDRefreshesOnceThenCoolsDown(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	ctx, fk := fakeClock(t)
	c, err := jwks.New(ctx, iss.URL(), fast(jwks.WithUnknownKIDCooldown(time.Hour), jwks.WithRefreshInterval(24*time.Hour), jwks.WithNegativeTTL(0))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	before := iss.JWKSFetches()

	// A key rotated in after start-up is found on its first use.
	kid := iss.Rotate("ES256")
	pub, alg, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256")
	if !ok || alg != "ES256" {
		t.Fatalf("rotated key not found: %v %q %v", pub, alg, ok)
	}
	if _, isEC := pub.(*ecdsa.PublicKey); !isEC {
		t.Fatalf("key type %T", pub)
	}
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Fatalf("rotation cost %d fetches, want 1", got)
	}

	// Within the cooldown, a burst of unknown kids costs nothing and
	// returns at once.
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, ok := c.LookupOrRefresh(context.Background(), "made-up-"+string(rune('a'+i%26)), "RS256"); ok {
				t.Error("found a made-up kid")
			}
		}()
	}
	wg.Wait()
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Fatalf("unknown kids within the cooldown caused %d fetches in all, want 1", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("unknown kids within the cooldown waited %v", d)
	}
	// A second short of the cooldown, still nothing; at the cooldown, the
	// next unknown kid refreshes again and finds a key rotated meanwhile.
	kid = iss.Rotate("ES256")
	fk.Advance(time.Hour - time.Second)
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); ok || iss.JWKSFetches()-before != 1 {
		t.Fatalf("refreshed within the cooldown (%d fetches)", iss.JWKSFetches()-before)
	}
	fk.Advance(time.Second)
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); !ok || iss.JWKSFetches()-before != 2 {
		t.Fatalf("after the cooldown: found=%v, %d fetches, want a second one", ok, iss.JWKSFetches()-before)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c := newCache(t, iss.URL())
	waitReady(t, c)
	kid := iss.Rotate("RS256")
	iss.SetSlowDelay(100 * time.Millisecond)
	iss.SetFault(jwkstest.FaultSlow) // hold the fetch open so all callers overlap
	before := iss.JWKSFetches()
	var wg sync.WaitGroup
	var mu sync.Mutex
	found := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "RS256"); ok {
				mu.Lock()
				found++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Fatalf("50 concurrent misses made %d fetches, want 1", got)
	}
	if found != 50 {
		t.Fatalf("%d of 50 callers found the rotated key", found)
	}
}

func TestUnknownKIDWaitIsBounded(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c := newCache(t, iss.URL(), jwks.WithUnknownKIDWait(100*time.Millisecond), jwks.WithFetchTimeout(5*time.Second))
	// A cache whose own wait and fetch timeout are long, so that only the
	// caller's context can cut its wait short.
	patient := newCache(t, iss.URL(), jwks.WithUnknownKIDWait(10*time.Second), jwks.WithFetchTimeout(10*time.Second))
	waitReady(t, c)
	waitReady(t, patient)
	iss.SetSlowDelay(10 * time.Second)
	iss.SetFault(jwkstest.FaultSlow)
	start := time.Now()
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "new-kid", "RS256"); ok {
		t.Fatal("found a kid the issuer never published")
	}
	// The issuer hangs for 10 s and the fetch timeout is 5 s; 2 s leaves
	// room for a loaded machine.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("LookupOrRefresh waited %v on a hanging issuer, want about 100ms", d)
	}
	// The caller's own context bounds it too.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, _, _, ok := patient.LookupOrRefresh(ctx, "other-kid", "RS256"); ok {
		t.Fatal("found a kid the issuer never published")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("LookupOrRefresh ignored its context: waited %v (its own wait is 10 s)", d)
	}
}

// jwkJSON marshals a public key as a JWK with jwkset, then overrides members.
func jwkJSON(t *testing.T, pub any, kid string, override map[string]any) json.RawMessage {
	t.Helper()
	raw := jwkstest.PublicJWK(pub, kid, override)
	return raw
}

func TestBadJWKEntriesAreSkipped(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	good := iss.SigningKID("RS256")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bad := map[string]json.RawMessage{
		"garbage":      json.RawMessage(`"not an object"`),
		"enc":          jwkJSON(t, &ec.PublicKey, "enc", map[string]any{"use": "enc"}),
		"no-verify":    jwkJSON(t, &ec.PublicKey, "no-verify", map[string]any{"key_ops": []string{"encrypt"}}),
		"rsa1024":      jwkJSON(t, &small.PublicKey, "rsa1024", nil),
		"oct":          json.RawMessage(`{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`),
		"bad-curve":    json.RawMessage(`{"kty":"EC","kid":"bad-curve","crv":"P-192","x":"AA","y":"AA"}`),
		"x25519":       json.RawMessage(`{"kty":"OKP","kid":"x25519","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}`),
		"bad-material": json.RawMessage(`{"kty":"RSA","kid":"bad-material","n":"!!!","e":"AQAB"}`),
		"hs256":        jwkJSON(t, &ec.PublicKey, "hs256", map[string]any{"alg": "HS256"}),
		"alg-kty":      jwkJSON(t, &ec.PublicKey, "alg-kty", map[string]any{"alg": "RS256"}),
		"wrong-curve":  jwkJSON(t, &ec.PublicKey, "wrong-curve", map[string]any{"alg": "ES384"}),
		// Same kid and type as the good key, listed after it: which of the
		// two verifies would depend on their order. (A key of another
		// type under one kid is kept: TestOneKIDForKeysOfTwoTypes.)
		"dup":         jwkJSON(t, &testkeys.RSA().PublicKey, good, nil),
		"small-order": json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"small-order","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
	}
	// The small-order key first: a fetch logs ten skipped keys by name
	// and counts the rest, and its reason is checked below.
	hostile.Of(iss).AddRawJWK(bad["small-order"])
	for _, kid := range slices.Sorted(maps.Keys(bad)) {
		if kid != "small-order" {
			hostile.Of(iss).AddRawJWK(bad[kid])
		}
	}
	// A good EC key with explicit use and key_ops still counts.
	hostile.Of(iss).AddRawJWK(jwkJSON(t, &ec.PublicKey, "ec-ok", map[string]any{"use": "sig", "key_ops": []string{"verify"}, "alg": "ES256"}))

	var logs bytes.Buffer
	c := newCache(t, iss.URL(), jwks.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	waitReady(t, c)
	if pub, _, _, ok := c.LookupKey(good, "RS256"); !ok {
		t.Fatal("good key missing")
	} else if k, isRSA := pub.(*rsa.PublicKey); !isRSA || !k.Equal(iss.PublicKey(good)) {
		t.Fatalf("a second RSA key under the kid replaced the first: got %T", pub)
	}
	if _, _, _, ok := c.LookupKey("ec-ok", "ES256"); !ok {
		t.Fatal("good EC key missing")
	}
	for kid := range bad {
		if kid == "dup" {
			continue
		}
		if _, _, _, ok := c.LookupKey(kid, "RS256"); ok {
			t.Errorf("bad JWK %q was kept", kid)
		}
	}
	if st := c.Status(); st.Keys != 2 {
		t.Fatalf("Status.Keys = %d, want 2", st.Keys)
	}
	if !strings.Contains(logs.String(), `kid=`+good+` reason="duplicate kid"`) {
		t.Errorf("the second RSA key under one kid was not logged as a duplicate: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "Ed25519 key of small order") {
		t.Errorf("the small-order key's reason was not logged: %s", logs.String())
	}
	if !strings.Contains(logs.String(), "skipping key") {
		t.Fatalf("skipped keys were not logged: %s", logs.String())
	}
}

// RFC 7517 §4.5: one kid may name keys of different types that the issuer
// treats as alternatives. Each is kept, and the token's alg chooses among
// them, in whichever order the JWKS lists them; a kid's key that fits no
// key of the token's alg is the first one listed, which the caller refuses
// (Keyfunc: ErrKeyMismatch). A second key of one kid and one type and
// curve is still a duplicate, skipped and logged: which of the two
// verified would depend on their order. Each key keeps the issuer its JWK
// binds it to.
func TestOneKIDForKeysOfTwoTypes(t *testing.T) {
	t.Parallel()
	const kid, bound = "k1", "https://login.example/tenant-a"
	rsaKey, ecKey := testkeys.RSA(), testkeys.For("ES256")
	rsaJWK := jwkJSON(t, rsaKey.Public(), kid, map[string]any{"issuer": bound})
	ecJWK := jwkJSON(t, ecKey.Public(), kid, map[string]any{"alg": "ES256"})
	dupRSA := jwkJSON(t, testkeys.RSA().Public(), kid, nil)
	dupEC := jwkJSON(t, testkeys.For("ES256").Public(), kid, nil)
	for name, order := range map[string][]json.RawMessage{
		"RSA first": {rsaJWK, ecJWK, dupRSA, dupEC},
		"EC first":  {ecJWK, rsaJWK, dupEC, dupRSA},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			first, firstAlg, firstIssuer := crypto.Signer(rsaKey), "", bound
			if name == "EC first" {
				first, firstAlg, firstIssuer = ecKey, "ES256", ""
			}
			body, _ := json.Marshal(map[string]any{"keys": order})
			sets, logs, iss, c := keySetsOf(t, body)
			for ksName, ks := range sets {
				for _, tc := range []struct {
					alg, jwkAlg, issuer string
					want                crypto.Signer
				}{
					{"RS256", "", bound, rsaKey},
					{"PS512", "", bound, rsaKey},
					{"ES256", "ES256", "", ecKey},
					{"ES384", firstAlg, firstIssuer, first}, // fits neither: the first, and ok
					{"EdDSA", firstAlg, firstIssuer, first},
				} {
					pub, jwkAlg, issuer, ok := ks.LookupKey(kid, tc.alg)
					if !ok || jwkAlg != tc.jwkAlg || issuer != tc.issuer || !tc.want.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
						t.Errorf("%s: LookupKey(%q, %s) = %T, alg %q, issuer %q, %v; want the %T, alg %q, issuer %q",
							ksName, kid, tc.alg, pub, jwkAlg, issuer, ok, tc.want.Public(), tc.jwkAlg, tc.issuer)
					}
				}
			}
			if st := c.Status(); st.Keys != 2 {
				t.Errorf("Status.Keys = %d, want 2", st.Keys)
			}
			if n := strings.Count(logs.String(), `kid=`+kid+` reason="duplicate kid"`); n != 2 {
				t.Errorf("%d duplicates logged, want the second RSA and the second EC key:\n%s", n, logs.String())
			}
			for _, tc := range []struct {
				alg, iss string
				key      crypto.Signer
				want     error
			}{
				{"RS256", bound, rsaKey, nil},
				{"PS256", bound, rsaKey, nil},
				{"RS256", iss.URL(), rsaKey, jwks.ErrKeyMismatch}, // the RSA key signs for bound alone
				{"ES256", iss.URL(), ecKey, nil},
				{"ES384", iss.URL(), testkeys.For("ES384"), jwks.ErrKeyMismatch},
			} {
				tok := iss.Mint(jwkstest.WithKID(kid), jwkstest.WithTokenAlgorithm(tc.alg), jwkstest.WithSigningKey(tc.key), jwkstest.WithClaim("iss", tc.iss))
				if _, err := jwt.Parse(tok, c.Keyfunc()); (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
					t.Errorf("Keyfunc, a %s token of %s: %v, want %v", tc.alg, tc.iss, err, tc.want)
				}
			}
		})
	}
}

// keySetsOf serves body as an issuer's JWKS and returns, by name, a ready
// Cache over it and a Static of it, with what the Cache logged, the
// issuer and the Cache.
func keySetsOf(t *testing.T, body []byte) (map[string]interface {
	LookupKey(kid, tokenAlg string) (crypto.PublicKey, string, string, bool)
}, *bytes.Buffer, *jwkstest.Issuer, *jwks.Cache) {
	t.Helper()
	iss := newIssuer(t)
	hostile.Of(iss).SetJWKSBody(body)
	logs := new(bytes.Buffer)
	c := newCache(t, iss.URL(), jwks.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	waitReady(t, c)
	static, err := jwks.NewStatic(body)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]interface {
		LookupKey(kid, tokenAlg string) (crypto.PublicKey, string, string, bool)
	}{"Cache": c, "Static": static}, logs, iss, c
}

// twoTypes is a Cache on a fake clock over an issuer whose JWKS the test
// sets (serve), first holding an RSA key under kid; an EC key for the
// same kid is at hand to add.
type twoTypes struct {
	c             *jwks.Cache
	iss           *jwkstest.Issuer
	fk            *clock.Fake
	serve         func(iss *jwkstest.Issuer, keys ...json.RawMessage)
	rsaKey        *rsa.PrivateKey
	ecKey         crypto.Signer
	rsaJWK, ecJWK json.RawMessage
}

func newTwoTypes(t *testing.T, kid string, opts ...jwks.Option) *twoTypes {
	t.Helper()
	f := &twoTypes{rsaKey: testkeys.RSA(), ecKey: testkeys.For("ES256")}
	f.rsaJWK, f.ecJWK = jwkJSON(t, f.rsaKey.Public(), kid, nil), jwkJSON(t, f.ecKey.Public(), kid, nil)
	f.serve = func(iss *jwkstest.Issuer, keys ...json.RawMessage) {
		body, _ := json.Marshal(map[string]any{"keys": keys})
		hostile.Of(iss).SetJWKSBody(body)
	}
	f.iss = newIssuer(t)
	f.serve(f.iss, f.rsaJWK)
	var ctx context.Context
	ctx, f.fk = fakeClock(t)
	c, err := jwks.New(ctx, f.iss.URL(), fast(append(opts, jwks.WithRefreshInterval(24*time.Hour))...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	settle(t, f.fk)
	f.c = c
	return f
}

// A kid the cache knows with no key for the token's alg may be one the
// issuer has just added a key of another type under: it triggers a refresh
// as an unknown kid does, under the same cooldown (so forged tokens cost
// the issuer no more fetches than unknown kids do), and without one it is
// the kid's key that does not fit, never a miss.
func TestKnownKIDWithoutAFittingKeyRefreshesAsAnUnknownKID(t *testing.T) {
	t.Parallel()
	const kid = "k1"
	f := newTwoTypes(t, kid, jwks.WithUnknownKIDCooldown(time.Hour))
	c, iss, fk, serve, rsaKey, ecKey, rsaJWK, ecJWK := f.c, f.iss, f.fk, f.serve, f.rsaKey, f.ecKey, f.rsaJWK, f.ecJWK
	before := iss.JWKSFetches()
	isRSA := func(pub crypto.PublicKey) bool { return rsaKey.PublicKey.Equal(pub) }

	// The issuer adds an EC key under the kid: found on its first use.
	serve(iss, rsaJWK, ecJWK)
	if _, _, _, ok := c.LookupKey(kid, "ES256"); !ok || iss.JWKSFetches() != before {
		t.Fatalf("LookupKey: known kid %v, %d fetches; want known, none", ok, iss.JWKSFetches()-before)
	}
	if pub, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); !ok || !ecKey.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatalf("the EC key added under a known kid: %T, %v", pub, ok)
	}
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Fatalf("finding it cost %d fetches, want 1", got)
	}
	// Within the cooldown, a token of a type the kid has no key of costs
	// nothing, whatever its alg: the answer is a key that does not fit.
	for _, alg := range []string{"ES384", "ES512", "EdDSA", "ES384"} {
		if pub, _, _, ok := c.LookupOrRefresh(context.Background(), kid, alg); !ok || !isRSA(pub) {
			t.Fatalf("%s within the cooldown: %T, %v; want the kid's first key", alg, pub, ok)
		}
	}
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "unknown", "RS256"); ok {
		t.Fatal("found an unknown kid")
	}
	if got := iss.JWKSFetches() - before; got != 1 {
		t.Fatalf("within the cooldown: %d fetches in all, want 1", got)
	}
	// After it, one refresh, shared with unknown kids' cooldown; the issuer
	// still has no such key, so the answer is the same.
	fk.Advance(time.Hour)
	if pub, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "EdDSA"); !ok || !isRSA(pub) {
		t.Fatalf("EdDSA after the cooldown: %T, %v", pub, ok)
	}
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "unknown", "RS256"); ok {
		t.Fatal("found an unknown kid")
	}
	if got := iss.JWKSFetches() - before; got != 2 {
		t.Fatalf("after the cooldown: %d fetches in all, want 2", got)
	}
	// Keys that fit never cost a fetch.
	for range 3 {
		for _, alg := range []string{"RS256", "ES256"} {
			if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, alg); !ok {
				t.Fatalf("%s: not found", alg)
			}
		}
	}
	if got := iss.JWKSFetches() - before; got != 2 {
		t.Fatalf("fitting keys cost %d more fetches", got-2)
	}
}

func TestResponseSizeCap(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	if _, err := failingIssuer(t, iss.URL(), jwks.WithMaxResponseSize(64)); !errors.Is(err, jwks.ErrResponseTooLarge) {
		t.Fatalf("WaitReady error = %v, want ErrResponseTooLarge", err)
	}
}

func TestRedirectToAnotherHostRefused(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	redirect := httptest.NewServer(http.RedirectHandler(iss.JWKSURL(), http.StatusFound))
	defer redirect.Close()
	// Same IP, other port: another host by RFC 6454 origin rules.
	_, err := failedCache(t, func(ctx context.Context) (*jwks.Cache, error) {
		return jwks.NewFromJWKSURL(ctx, redirect.URL, fast()...)
	})
	if !errors.Is(err, jwks.ErrRedirect) {
		t.Fatalf("WaitReady error = %v, want ErrRedirect", err)
	}
	if n := iss.JWKSFetches(); n != 0 {
		t.Fatalf("redirect was followed: %d fetches", n)
	}
}

func TestFailureLoggedOncePerStreak(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	iss.SetFault(jwkstest.FaultStatus503)
	var mu sync.Mutex
	var logs bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	ctx, fk := fakeClock(t)
	c, err := jwks.New(ctx, iss.URL(), fast(jwks.WithLogger(slog.New(slog.NewTextHandler(w, nil))))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	for range 4 {
		step(t, fk, 60*time.Millisecond) // past the longest backoff
	}
	if n := c.Status().ConsecutiveFailures; n != 5 {
		t.Fatalf("%d failures, want 5", n)
	}
	iss.SetFault(jwkstest.FaultNone)
	// The loop logs before it arms its next timer, so once settled the
	// recovery line is written.
	step(t, fk, 60*time.Millisecond)
	read := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	out := read()
	if n := strings.Count(out, "key refresh recovered"); n != 1 || !strings.Contains(out, "failures=5") {
		t.Fatalf("recovery logged %d times, want once with failures=5:\n%s", n, out)
	}
	if n := strings.Count(out, "key refresh failed"); n != 1 {
		t.Fatalf("failure logged %d times in one streak, want 1:\n%s", n, out)
	}
}

// Entra ID's JWKs name, in a non-standard "issuer" member, the issuer each
// key signs for; LookupKey hands it on, a Cache and a Static alike. The
// name is matched exactly (escapes undone, as any JSON parser does), and
// a member that is not a non-empty string makes the key unusable, never
// unbound.
func TestKeysIssuerMember(t *testing.T) {
	t.Parallel()
	const template = "https://login.microsoftonline.com/{tenantid}/v2.0"
	const msa = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := func(kid string, member string, value any) json.RawMessage {
		raw := jwkJSON(t, &ec.PublicKey, kid, nil)
		v, _ := json.Marshal(value)
		return append(raw[:len(raw)-1:len(raw)-1], []byte(`,"`+member+`":`+string(v)+`}`)...)
	}
	keys := []json.RawMessage{
		jwkJSON(t, &ec.PublicKey, "plain", nil),
		jwk("shared", "issuer", template),
		jwk("scoped", "issuer", msa),
		jwk("escaped", `issu\u0065r`, msa),
		jwk("other-case", "Issuer", msa),
		jwk("number", "issuer", 7),
		jwk("null", "issuer", nil),
		jwk("empty", "issuer", ""),
		jwk("object", "issuer", map[string]any{"iss": msa}),
	}
	want := map[string]string{"plain": "", "shared": template, "scoped": msa, "escaped": msa, "other-case": ""}
	skipped := []string{"number", "null", "empty", "object"}
	body, _ := json.Marshal(map[string]any{"keys": keys})
	sets, logs, _, _ := keySetsOf(t, body)
	for name, ks := range sets {
		for kid, bound := range want {
			if _, _, got, ok := ks.LookupKey(kid, "ES256"); !ok || got != bound {
				t.Errorf("%s: %q: issuer %q, %v; want %q", name, kid, got, ok, bound)
			}
		}
		for _, kid := range skipped {
			if _, _, got, ok := ks.LookupKey(kid, "ES256"); ok {
				t.Errorf("%s: %q kept, bound to %q", name, kid, got)
			}
		}
	}
	if n := strings.Count(logs.String(), "issuer is not a non-empty string"); n != len(skipped) {
		t.Errorf("%d keys logged as skipped for their issuer, want %d: %s", n, len(skipped), logs.String())
	}
}

// Keyfunc holds a token to its key's issuer as the Guard does, whatever
// type the caller decodes the claims into.
func TestKeyfuncHoldsTokensToTheirKeysIssuer(t *testing.T) {
	t.Parallel()
	const a, b, msa = "72f988bf-86f1-41af-91ab-2d7cd011db47", "00000000-0000-0000-0000-0000000000b2", "9188040d-6c67-4c5b-b112-36a304b66dad"
	issFor := func(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }
	iss := newIssuer(t)
	shared, scoped, plain := iss.Rotate("ES256"), iss.Rotate("ES256"), iss.Rotate("ES256")
	guardtest.PublishBound(iss, map[string]string{shared: issFor("{tenantid}"), scoped: issFor(msa), plain: ""})
	c := newCache(t, iss.URL())
	waitReady(t, c)
	tok := func(kid, tenant string, tid any) string {
		return iss.Mint(jwkstest.WithKID(kid), jwkstest.WithClaim("iss", issFor(tenant)), jwkstest.WithClaim("tid", tid))
	}
	for _, tc := range []struct {
		name string
		tok  string
		ok   bool
	}{
		{"shared key, tenant a", tok(shared, a, a), true},
		{"shared key, tid of another tenant", tok(shared, a, b), false},
		{"shared key, no tid", tok(shared, a, nil), false},
		{"consumer tenant's key, tenant a", tok(scoped, a, a), false},
		{"consumer tenant's key, its own", tok(scoped, msa, msa), true},
		{"unbound key", tok(plain, b, nil), true},
	} {
		for claimsType, parse := range map[string]func() error{
			"MapClaims": func() error { _, err := jwt.Parse(tc.tok, c.Keyfunc()); return err },
			"a struct": func() error {
				_, err := jwt.ParseWithClaims(tc.tok, &jwt.RegisteredClaims{}, c.Keyfunc())
				return err
			},
		} {
			err := parse()
			if tc.ok != (err == nil) || (!tc.ok && !errors.Is(err, jwks.ErrKeyMismatch)) {
				t.Errorf("%s, %s: %v", tc.name, claimsType, err)
			}
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestKeyfuncForGolangJWT(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c := newCache(t, iss.URL())
	waitReady(t, c)
	tok := iss.Mint()
	if _, err := jwt.Parse(tok, c.Keyfunc(), jwt.WithValidMethods([]string{"RS256"})); err != nil {
		t.Fatalf("valid token refused: %v", err)
	}
	noKID := iss.Mint(jwkstest.WithHeader("kid", nil))
	if _, err := jwt.Parse(noKID, c.Keyfunc()); !errors.Is(err, jwks.ErrNoKID) {
		t.Fatalf("token without kid: err = %v, want ErrNoKID", err)
	}
}

// A small-order Ed25519 key in the JWKS never reaches golang-jwt: the
// forgery R = identity, S = 0 that ed25519.Verify would accept is refused.
func TestKeyfuncRefusesSmallOrderEd25519Key(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	hostile.Of(iss).AddRawJWK(json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"small","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`))
	c := newCache(t, iss.URL())
	waitReady(t, c)
	identity := make([]byte, 32)
	identity[0] = 1
	enc := base64.RawURLEncoding.EncodeToString
	tok := enc([]byte(`{"alg":"EdDSA","kid":"small"}`)) + "." + enc([]byte(`{"sub":"anyone"}`)) + "." + enc(append(identity, make([]byte, 32)...))
	if _, err := jwt.Parse(tok, c.Keyfunc(), jwt.WithValidMethods([]string{"EdDSA"})); err == nil {
		t.Fatal("forged EdDSA token accepted through Keyfunc")
	}
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	iss := newIssuer(t)
	iss.SetSlowDelay(10 * time.Second)
	before := runtime.NumGoroutine()
	for range 5 {
		c, err := jwks.New(context.Background(), iss.URL(), fast()...)
		if err != nil {
			t.Fatal(err)
		}
		waitReady(t, c)
		closeDuringAFetch(t, iss, c)
		c.Close() // idempotent
		iss.SetFault(jwkstest.FaultNone)
	}
	// Cancelling the context alone stops it too, without Close.
	ctx, cancel := context.WithCancel(context.Background())
	c, err := jwks.New(ctx, iss.URL(), fast()...)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, c)
	cancel()
	eventually(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines: %d before, %d after\n%s", before, after, buf[:n])
	}
}

// The context given to New bounds the Cache's life. A start-up context
// (ctx, cancel := context.WithTimeout(…); defer cancel(), given to New and
// WaitReady alike) that ends while the server runs freezes the keys: a
// withdrawn key keeps verifying, a rotated-in one is never found. That was
// silent; it is logged once at Error level and shown by Status().Stopped.
// Ready does not change: the keys are the issuer's last ones, and a
// shutdown's context ending must not turn the requests still draining
// into 503s; WithMaxStaleness bounds a stopped cache as it bounds an
// issuer that is down.
func TestContextEndedBeforeCloseIsReported(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	var mu sync.Mutex
	var logs bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	read := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	logger := jwks.WithLogger(slog.New(slog.NewTextHandler(w, nil)))
	base, fk := fakeClock(t)
	startup, cancel := context.WithCancel(base)
	c, err := jwks.New(startup, iss.URL(), fast(logger, jwks.WithMaxStaleness(time.Hour))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	if st := c.Status(); !st.Ready || st.Stopped != nil {
		t.Fatalf("Status while refreshing = %+v", st)
	}
	cancel() // start-up done
	eventually(t, "the refresh loop to stop", func() bool { return c.Status().Stopped != nil })
	st := c.Status()
	if !errors.Is(st.Stopped, jwks.ErrStopped) || !errors.Is(st.Stopped, context.Canceled) || errors.Is(st.Stopped, jwks.ErrClosed) {
		t.Fatalf("Stopped = %v, want ErrStopped with context.Canceled", st.Stopped)
	}
	// The line is logged just after Stopped is set, outside the lock.
	eventually(t, "the Error line", func() bool { return strings.Contains(read(), "level=ERROR") })
	out := read()
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, `msg="jwks: the cache's context ended before Close; keys are no longer refreshed`) || !strings.Contains(out, " keys=1") {
		t.Fatalf("want one Error line naming the frozen keys:\n%s", out)
	}
	// Frozen indeed: a key rotated in is not fetched.
	kid := iss.Rotate("ES256")
	before := iss.JWKSFetches()
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); ok || iss.JWKSFetches() != before {
		t.Fatalf("a stopped cache found %q (%v) or fetched (%d)", kid, ok, iss.JWKSFetches()-before)
	}
	// Ready until the last fetch is older than the max staleness.
	fk.Advance(time.Hour)
	if !c.Ready() || !c.Status().Ready {
		t.Fatal("a stopped cache within its max staleness is not ready")
	}
	fk.Advance(time.Second)
	if c.Ready() || c.Status().Ready {
		t.Fatal("a stopped cache past its max staleness is ready")
	}
	// Close afterwards keeps the reason, and logs nothing more.
	c.Close()
	if st := c.Status(); !errors.Is(st.Stopped, jwks.ErrStopped) {
		t.Fatalf("Stopped after Close = %v, want ErrStopped still", st.Stopped)
	}
	if n := strings.Count(read(), "level=ERROR"); n != 1 {
		t.Fatalf("%d Error lines, want 1:\n%s", n, read())
	}

	// Close first: ErrClosed, and nothing to log.
	mu.Lock()
	logs.Reset()
	mu.Unlock()
	closed, err := jwks.New(base, iss.URL(), fast(logger)...)
	if err != nil {
		t.Fatal(err)
	}
	settle(t, fk)
	closed.Close()
	if st := closed.Status(); !errors.Is(st.Stopped, jwks.ErrClosed) || errors.Is(st.Stopped, jwks.ErrStopped) {
		t.Fatalf("Stopped after Close = %v, want ErrClosed", st.Stopped)
	}
	if out := read(); strings.Contains(out, "level=ERROR") {
		t.Fatalf("Close logged an error:\n%s", out)
	}
}

func TestReadersSeeConsistentSnapshotsUnderRace(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	c := newCache(t, iss.URL(), jwks.WithRefreshInterval(time.Millisecond), jwks.WithUnknownKIDCooldown(0))
	waitReady(t, c)
	kid := iss.SigningKID("RS256")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, _, _, ok := c.LookupKey(kid, "RS256"); !ok {
					t.Error("stable key vanished during refreshes")
					return
				}
				c.LookupOrRefresh(ctx, "nope", "RS256")
				_ = c.Status()
			}
		}()
	}
	for ctx.Err() == nil {
		iss.Rotate("ES256")
		time.Sleep(10 * time.Millisecond) // pacing the rotations of this real-time race test, not waiting for a timer
	}
	wg.Wait()
	_, _ = io.Discard.Write(nil)
}

// TestRediscoversWhenTheJWKSMoves: an issuer that moves its jwks_uri is
// followed after the old URL starts failing; the last keys serve meanwhile.
func TestRediscoversWhenTheJWKSMoves(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	var moved atomic.Bool
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			uri := srv.URL + "/old"
			if moved.Load() {
				uri = srv.URL + "/new"
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": uri})
		case "/old", "/new":
			if (r.URL.Path == "/old") == moved.Load() {
				http.NotFound(w, r)
				return
			}
			copyJWKS(w, iss)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx, fk := fakeClock(t)
	c, err := jwks.New(ctx, srv.URL, fast()...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	if !strings.HasSuffix(c.Status().JWKSURL, "/old") {
		t.Fatalf("JWKS URL %q", c.Status().JWKSURL)
	}
	old := iss.SigningKID("RS256")
	kid := iss.Rotate("ES256")
	moved.Store(true)
	// The refresh finds /old gone: a failure, the last keys kept.
	step(t, fk, jwks.DefaultRefreshInterval*12/10)
	if _, _, _, ok := c.LookupKey(old, "RS256"); !ok || c.Status().ConsecutiveFailures != 1 {
		t.Fatalf("after /old failed: %+v", c.Status())
	}
	// The retry asks the metadata again and follows it.
	step(t, fk, 60*time.Millisecond)
	if _, _, _, ok := c.LookupKey(kid, "ES256"); !ok || !strings.HasSuffix(c.Status().JWKSURL, "/new") {
		t.Fatalf("the moved JWKS was not followed: %+v", c.Status())
	}
}

// The golang-jwt bridge refuses every key the middleware refuses, with the
// package's sentinel errors: a key the cache never kept is unknown, and a
// kept key that does not fit the token's alg is a mismatch.
func TestKeyfuncKeyRules(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	rsaKey := testkeys.RSA()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, raw := range []json.RawMessage{
		jwkJSON(t, &p256.PublicKey, "p256", nil),
		jwkJSON(t, &p384.PublicKey, "p384", nil),
		jwkJSON(t, &rsaKey.PublicKey, "rs512-only", map[string]any{"alg": "RS512"}),
		jwkJSON(t, &rsaKey.PublicKey, "enc", map[string]any{"use": "enc"}),
		jwkJSON(t, &rsaKey.PublicKey, "sign-only", map[string]any{"key_ops": []string{"sign"}}),
		jwkJSON(t, &small.PublicKey, "rsa1024", nil),
		json.RawMessage(`{"kty":"OKP","crv":"Ed25519","kid":"small-order","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`),
		json.RawMessage(`{"kty":"oct","kid":"oct","k":"c2VjcmV0"}`),
	} {
		hostile.Of(iss).AddRawJWK(raw)
	}
	c := newCache(t, iss.URL())
	waitReady(t, c)
	sign := func(method jwt.SigningMethod, key any, kid any) string {
		tok := jwt.NewWithClaims(method, jwt.MapClaims{"sub": "u"})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	all := jwt.WithValidMethods([]string{"RS256", "RS512", "ES256", "ES384", "EdDSA", "HS256"})
	for name, tc := range map[string]struct {
		tok  string
		want error
	}{
		"ES256 on its key":             {sign(jwt.SigningMethodES256, p256, "p256"), nil},
		"ES384 on its key":             {sign(jwt.SigningMethodES384, p384, "p384"), nil},
		"RS512 where the JWK says so":  {sign(jwt.SigningMethodRS512, rsaKey, "rs512-only"), nil},
		"no kid":                       {sign(jwt.SigningMethodES256, p256, nil), jwks.ErrNoKID},
		"unknown kid":                  {sign(jwt.SigningMethodES256, p256, "nope"), jwks.ErrUnknownKey},
		"curve: ES256 on a P-384 key":  {sign(jwt.SigningMethodES256, p256, "p384"), jwks.ErrKeyMismatch},
		"type: RS256 on an EC key":     {sign(jwt.SigningMethodRS256, rsaKey, "p256"), jwks.ErrKeyMismatch},
		"JWK alg: RS256 on RS512 only": {sign(jwt.SigningMethodRS256, rsaKey, "rs512-only"), jwks.ErrKeyMismatch},
		"use enc":                      {sign(jwt.SigningMethodRS256, rsaKey, "enc"), jwks.ErrUnknownKey},
		"key_ops without verify":       {sign(jwt.SigningMethodRS256, rsaKey, "sign-only"), jwks.ErrUnknownKey},
		"size: RSA-1024":               {sign(jwt.SigningMethodRS256, small, "rsa1024"), jwks.ErrUnknownKey},
		"Ed25519 of small order":       {sign(jwt.SigningMethodRS256, rsaKey, "small-order"), jwks.ErrUnknownKey},
		"oct key, HS256":               {sign(jwt.SigningMethodHS256, []byte("secret"), "oct"), jwks.ErrUnknownKey},
	} {
		_, err := jwt.Parse(tc.tok, c.Keyfunc(), all)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// Storage holds exactly the keys the cache kept, and follows a refresh.
func TestStorageMirrorsTheKeys(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	hostile.Of(iss).AddRawJWK(jwkJSON(t, &rsaKey.PublicKey, "too-small", nil))
	c := newCache(t, iss.URL())
	waitReady(t, c)
	kids := func() []string {
		keys, err := c.Storage().KeyReadAll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range keys {
			out = append(out, k.Marshal().KID)
		}
		slices.Sort(out)
		return out
	}
	if got := kids(); !slices.Equal(got, []string{iss.SigningKID("RS256")}) {
		t.Fatalf("Storage holds %q, want only the usable key", got)
	}
	kid := iss.Rotate("ES256")
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); !ok {
		t.Fatal("rotated key not found")
	}
	want := []string{iss.SigningKID("RS256"), kid}
	slices.Sort(want)
	if got := kids(); !slices.Equal(got, want) {
		t.Fatalf("after a refresh Storage holds %q, want %q", got, want)
	}
}

// TestDiscoveryURL: metadata served elsewhere than at the issuer (Azure AD
// B2C per user flow, Entra ID v1) is read from WithDiscoveryURL, and its
// issuer must still match exactly.
func TestDiscoveryURL(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	var metaIssuer atomic.Value
	metaIssuer.Store(iss.URL())
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/tenant/B2C_1_signin/v2.0/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": metaIssuer.Load().(string), "jwks_uri": iss.JWKSURL()})
	}))
	defer elsewhere.Close()
	iss.SetDiscovery(false, false) // nothing at the well-known locations
	u := elsewhere.URL + "/tenant/B2C_1_signin/v2.0/.well-known/openid-configuration"
	c := newCache(t, iss.URL(), jwks.WithDiscoveryURL(u))
	waitReady(t, c)
	if _, _, _, ok := c.LookupKey(iss.SigningKID("RS256"), "RS256"); !ok || c.Status().JWKSURL != iss.JWKSURL() || iss.DiscoveryFetches() != 0 {
		t.Fatalf("keys not found through the discovery URL: %+v, %d fetches at the issuer", c.Status(), iss.DiscoveryFetches())
	}
	metaIssuer.Store("https://elsewhere.example/")
	if _, err := failingIssuer(t, iss.URL(), jwks.WithDiscoveryURL(u)); !errors.Is(err, jwks.ErrIssuerMismatch) {
		t.Fatalf("a document naming another issuer: %v, want ErrIssuerMismatch", err)
	}
	if _, err := jwks.New(context.Background(), iss.URL(), jwks.WithDiscoveryURL("http://metadata.example/x")); !errors.Is(err, jwks.ErrInsecureURL) {
		t.Fatalf("plain http discovery URL on a public host: %v, want ErrInsecureURL", err)
	}
}

// A JWKS request accepts application/jwk-set+json, the JWK Set's own
// media type (RFC 7517 §8.5), as well as application/json, which most
// issuers serve it as; the metadata request accepts application/json
// (RFC 8414 §3.2). A review found application/json alone asked for the
// key set, which a server that negotiates strictly may answer 406.
func TestRequestsAcceptTheirMediaTypes(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	var mu sync.Mutex
	accept := map[string][]string{}
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accept[r.URL.Path] = append(accept[r.URL.Path], r.Header.Values("Accept")...)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, srv.URL, srv.URL+"/jwks")
		case "/jwks":
			copyJWKS(w, iss)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := newCache(t, srv.URL)
	waitReady(t, c)
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{
		"/.well-known/openid-configuration": {"application/json"},
		"/jwks":                             {"application/jwk-set+json, application/json"},
	}
	if !maps.EqualFunc(accept, want, slices.Equal) {
		t.Fatalf("Accept by path: %q, want %q", accept, want)
	}
}

// TestFailureLinesSayWhatHappensNext: operators act on these lines, so
// each says what the cache will do next, and does it. A scheduled fetch's
// failure names when it is retried; a fetch for an unknown kid is not
// retried, and its line says until when.
func TestFailureLinesSayWhatHappensNext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var logs bytes.Buffer
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	read := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }

	// A scheduled fetch: no keys yet, retried with backoff.
	down := newIssuer(t)
	down.SetFault(jwkstest.FaultStatus503)
	ctx, fk := fakeClock(t)
	c, err := jwks.New(ctx, down.URL(), fast(jwks.WithLogger(slog.New(slog.NewTextHandler(w, nil))))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	settle(t, fk)
	out := read()
	m := regexp.MustCompile(`msg="jwks: key refresh failed; no keys yet; retrying in ([0-9.]+ms), then with backoff up to 50ms".* retry_in=([0-9.]+ms)`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Fatalf("scheduled failure line:\n%s", out)
	}
	retryIn, _ := time.ParseDuration(m[1])
	requests := func() int64 { return down.JWKSFetches() + down.DiscoveryFetches() }
	before := requests()
	step(t, fk, retryIn-time.Millisecond)
	if requests() != before {
		t.Fatalf("the line said retrying in %s; it retried sooner", retryIn)
	}
	step(t, fk, 2*time.Millisecond)
	if requests() == before {
		t.Fatalf("the line said retrying in %s; nothing was asked of the issuer", retryIn)
	}
	c.Close()

	// A fetch for an unknown kid: not retried until the scheduled refresh
	// or another unknown kid after the cooldown.
	mu.Lock()
	logs.Reset()
	mu.Unlock()
	iss := newIssuer(t)
	ctx, fk = fakeClock(t)
	c2, err := jwks.New(ctx, iss.URL(), fast(jwks.WithLogger(slog.New(slog.NewTextHandler(w, nil))), jwks.WithRefreshInterval(10*time.Minute))...)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	settle(t, fk)
	iss.SetFault(jwkstest.FaultStatus503)
	kid := iss.Rotate("ES256")
	before = iss.JWKSFetches()
	if _, _, _, ok := c2.LookupOrRefresh(context.Background(), kid, "ES256"); ok {
		t.Fatal("found a key the issuer could not serve")
	}
	settle(t, fk)
	out = read()
	if !regexp.MustCompile(`msg="jwks: key refresh for an unknown kid failed; keeping the last good keys; no retry until the scheduled refresh in (8|9|10|11)m[0-9]+s, or a request with an unknown kid after 30s"`).MatchString(out) {
		t.Fatalf("unknown-kid failure line:\n%s", out)
	}
	if iss.JWKSFetches() != before+1 {
		t.Fatalf("%d fetches for one unknown kid", iss.JWKSFetches()-before)
	}
	step(t, fk, 20*time.Second) // past every backoff: nothing retries
	if iss.JWKSFetches() != before+1 {
		t.Fatalf("the line said no retry, but the cache fetched %d times more", iss.JWKSFetches()-before-1)
	}
}

// opaqueParent is a context the context package cannot see into (it
// hides its values, the cancelCtx among them), so a child derived from it
// is watched by a goroutine until one of the two is done.
type opaqueParent struct{ context.Context }

func (opaqueParent) Value(any) any { return nil }

// A New refused for its issuer's query or its discovery URL releases the
// context it derived: a long-lived parent would keep every one otherwise.
func TestRefusedNewReleasesItsContext(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := opaqueParent{parent}
	before := runtime.NumGoroutine()
	for range 50 {
		if _, err := jwks.New(ctx, "https://issuer.example/?tenant=a"); !errors.Is(err, jwks.ErrInsecureURL) {
			t.Fatalf("issuer with a query: %v", err)
		}
		if _, err := jwks.New(ctx, "https://issuer.example", jwks.WithDiscoveryURL("http://issuer.example/.well-known/openid-configuration")); err == nil {
			t.Fatal("a plain-HTTP discovery URL was accepted")
		}
	}
	// A released context's watcher ends soon after, not at once.
	for deadline := time.Now().Add(2 * time.Second); ; {
		n := runtime.NumGoroutine() - before
		if n <= 10 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left by 100 refused calls of New", n)
		}
		time.Sleep(5 * time.Millisecond) // polling for goroutines to exit, bounded above
	}
}

// A JWKS of one good key and thousands of entries the cache skips logs a
// bounded number of lines a fetch, the rest counted, and keeps the key.
func TestSkippedKeysLogIsBounded(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	for range 5000 {
		hostile.Of(iss).AddRawJWK(json.RawMessage(`{}`))
	}
	var logs bytes.Buffer
	c := newCache(t, iss.URL(), jwks.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	waitReady(t, c)
	if st := c.Status(); st.Keys == 0 {
		t.Fatal("the good keys were not kept")
	}
	if n := strings.Count(logs.String(), "msg=\"jwks: skipping key\""); n != 10 {
		t.Errorf("%d skipped keys logged one by one, want 10", n)
	}
	if !strings.Contains(logs.String(), "msg=\"jwks: skipping more keys\" count=4990") {
		t.Errorf("the rest are not counted in one line:\n%.2000s", logs.String())
	}
}

// A fetch cut short by Close is not the issuer's failure: the metrics do
// not count it as an error, as Status does not.
func TestCloseDuringAFetchIsNoFetchError(t *testing.T) {
	t.Parallel()
	iss := newIssuer(t)
	iss.SetSlowDelay(10 * time.Second)
	m := &countingMetrics{}
	c, err := jwks.New(context.Background(), iss.URL(), append(fast(), jwks.WithMetrics(m))...)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, c)
	closeDuringAFetch(t, iss, c)
	if got := m.get("error"); got != 0 || c.Status().ConsecutiveFailures != 0 {
		t.Fatalf("after Close during a fetch: %d fetch errors counted, Status %+v", got, c.Status())
	}
}

// closeDuringAFetch leaves a fetch of c in flight against iss, made to
// hang (its SetSlowDelay), and closes c.
func closeDuringAFetch(t *testing.T, iss *jwkstest.Issuer, c *jwks.Cache) {
	t.Helper()
	iss.SetFault(jwkstest.FaultSlow)
	n := iss.JWKSFetches()
	go c.LookupOrRefresh(context.Background(), "unknown", "RS256")
	eventually(t, "the fetch to reach the hanging issuer", func() bool { return iss.JWKSFetches() > n })
	c.Close()
}

// copyJWKS answers with iss's JWKS as iss serves it, for a test server
// that stands in front of it.
func copyJWKS(w http.ResponseWriter, iss *jwkstest.Issuer) {
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(w, resp.Body)
}

// A negative entry for a known kid is per algorithm: one forged token
// naming the kid with an algorithm none of its keys fit must not hide,
// for the negative TTL, a key of another type the issuer adds under that
// kid. A kid the key set lacks, it lacks for every algorithm. Found by a
// review.
func TestNegativeEntryOfAKnownKIDIsPerAlgorithm(t *testing.T) {
	t.Parallel()
	const kid = "k1"
	f := newTwoTypes(t, kid, jwks.WithUnknownKIDCooldown(time.Second), jwks.WithNegativeTTL(time.Hour))
	c, iss, fk, serve, ecKey, rsaJWK, ecJWK := f.c, f.iss, f.fk, f.serve, f.ecKey, f.rsaJWK, f.ecJWK
	fetches := func() int { return int(iss.JWKSFetches()) }
	start := fetches()

	// A forged EdDSA token naming the RSA key's kid: one refresh, and the
	// issuer has no such key.
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "EdDSA"); !ok {
		t.Fatal("a known kid reported unknown")
	}
	// And an unknown kid: one more.
	fk.Advance(2 * time.Second)
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "gone", "RS256"); ok {
		t.Fatal("an unknown kid found")
	}
	if got := fetches() - start; got != 2 {
		t.Fatalf("%d fetches, want 2", got)
	}

	serve(iss, rsaJWK, ecJWK)
	fk.Advance(2 * time.Second)
	if _, _, _, ok := c.LookupOrRefresh(context.Background(), "gone", "ES256"); ok {
		t.Fatal("an unknown kid found")
	}
	if got := fetches() - start; got != 2 {
		t.Fatalf("the unknown kid with another alg: %d fetches, want none more (it is lacked for every alg)", got-2)
	}
	if pub, _, _, ok := c.LookupOrRefresh(context.Background(), kid, "ES256"); !ok || !ecKey.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatalf("the EC key added under the kid after a forged EdDSA token: %T, %v", pub, ok)
	}
	if got := fetches() - start; got != 3 {
		t.Fatalf("finding it: %d fetches in all, want 3", got)
	}
}

// Two RSA keys under one kid whose JWK algs differ (RS256, PS256) are
// told apart by the token's alg, so both are kept; two that one
// algorithm could use both of are an ambiguity. Found by a review.
func TestOneKIDForTwoKeysOfOneTypeWithDifferentAlgs(t *testing.T) {
	t.Parallel()
	const kid = "k1"
	rs, ps, plain := testkeys.RSA(), testkeys.RSA(), testkeys.RSA()
	body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		jwkJSON(t, rs.Public(), kid, map[string]any{"alg": "RS256"}),
		jwkJSON(t, ps.Public(), kid, map[string]any{"alg": "PS256"}),
		jwkJSON(t, plain.Public(), kid, nil), // fits RS256 and PS256 too: a duplicate
	}})
	sets, logs, _, _ := keySetsOf(t, body)
	for name, ks := range sets {
		for alg, want := range map[string]*rsa.PrivateKey{"RS256": rs, "PS256": ps} {
			if pub, jwkAlg, _, ok := ks.LookupKey(kid, alg); !ok || !want.PublicKey.Equal(pub) || jwkAlg != alg {
				t.Errorf("%s, %s: the key whose JWK says %q, ok %v; want the %s key", name, alg, jwkAlg, ok, alg)
			}
		}
		if pub, _, _, _ := ks.LookupKey(kid, "RS384"); plain.PublicKey.Equal(pub) {
			t.Errorf("%s: the duplicate was kept", name)
		}
	}
	if !strings.Contains(logs.String(), "duplicate kid") {
		t.Errorf("the duplicate was not logged:\n%s", logs.String())
	}
}
