package middleware_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/clock"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// keysEnv is a Guard over a real cache with the given cache options.
func keysEnv(t *testing.T, opts ...jwks.Option) (*jwkstest.Issuer, *middleware.Guard, http.Handler) {
	t.Helper()
	return keysEnvOn(t, context.Background(), opts...)
}

// keysEnvOn is keysEnv with the key cache built under ctx, which may carry
// a fake clock for the cache's timers.
func keysEnvOn(t *testing.T, ctx context.Context, opts ...jwks.Option) (*jwkstest.Issuer, *middleware.Guard, http.Handler) {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	opts = append([]jwks.Option{jwks.WithLogger(slog.New(slog.DiscardHandler)), jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond)}, opts...)
	keys, err := jwks.New(ctx, iss.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	wait, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := keys.WaitReady(wait); err != nil {
		t.Fatal(err)
	}
	if fk, ok := clock.From(ctx).(*clock.Fake); ok {
		// Ready is signalled before the refresh loop arms its next timer:
		// a step taken in between would be lost.
		if err := fk.Settle(); err != nil {
			t.Fatal(err)
		}
	}
	g, err := middleware.New(keys, iss.URL(), []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	return iss, g, g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
}

func serve(h http.Handler, tok string) int {
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestUnknownKIDFlood: 1,000 concurrent requests with random kids cost the
// issuer at most one fetch; a genuine rotation inside the cooldown is picked
// up exactly when the cooldown ends, not before.
func TestUnknownKIDFlood(t *testing.T) {
	t.Parallel()
	const cooldown = time.Minute
	fk := clock.NewFake(time.Now())
	iss, _, h := keysEnvOn(t, clock.NewContext(context.Background(), fk), jwks.WithUnknownKIDCooldown(cooldown), jwks.WithNegativeTTL(0))
	toks := make([]string, 1000)
	for i := range toks {
		// ES256: a thousand RSA signatures would take seconds under -race.
		toks[i] = iss.Mint(jwkstest.WithKID(fmt.Sprintf("random-%d", i)), jwkstest.WithTokenAlgorithm("ES256"))
	}
	before := iss.JWKSFetches()
	var wg sync.WaitGroup
	codes := make([]int, len(toks))
	for i, tok := range toks {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i] = serve(h, tok) }()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 401 {
			t.Fatalf("request %d: %d, want 401", i, c)
		}
	}
	if n := iss.JWKSFetches() - before; n > 1 {
		t.Fatalf("the flood caused %d JWKS fetches, want at most 1", n)
	}
	// The issuer rotates now, inside the cooldown the flood started.
	iss.Rotate("RS256")
	good := iss.Mint()
	fk.Advance(cooldown - time.Second)
	if c := serve(h, good); c != 401 {
		t.Fatalf("a second before the cooldown ends: %d, want 401 (no refresh yet)", c)
	}
	fk.Advance(time.Second)
	if c := serve(h, good); c != 200 {
		t.Fatalf("at the end of the cooldown: %d, want 200 (the rotated key fetched)", c)
	}
}

// TestOutagesKeepKnownKeysVerifying walks the issuer through refused,
// 5xx, hanging, garbage and empty answers: a token with a known kid keeps
// verifying throughout, and no request waits beyond the bounded wait.
func TestOutagesKeepKnownKeysVerifying(t *testing.T) {
	t.Parallel()
	const wait = 200 * time.Millisecond
	iss, _, h := keysEnv(t, jwks.WithRefreshInterval(20*time.Millisecond), jwks.WithUnknownKIDCooldown(0),
		jwks.WithUnknownKIDWait(wait), jwks.WithFetchTimeout(3*time.Second))
	good := iss.Mint()
	iss.SetSlowDelay(10 * time.Second)
	for _, f := range []jwkstest.Fault{jwkstest.FaultDown, jwkstest.FaultStatus503, jwkstest.FaultSlow, jwkstest.FaultGarbage, jwkstest.FaultEmpty, jwkstest.FaultHuge} {
		iss.SetFault(f)
		deadline := time.Now().Add(150 * time.Millisecond) // several refresh attempts
		for i := 0; time.Now().Before(deadline); i++ {
			if c := serve(h, good); c != 200 {
				t.Fatalf("fault %d: known kid got %d", f, c)
			}
			unknown := iss.Mint(jwkstest.WithKID(fmt.Sprintf("new-%d-%d", f, i)))
			start := time.Now()
			if c := serve(h, unknown); c != 401 {
				t.Fatalf("fault %d: unknown kid got %d", f, c)
			}
			// Slack for a loaded machine, still well below the 3 s fetch
			// timeout a request would sit through if the wait were unbounded.
			if d := time.Since(start); d > wait+1500*time.Millisecond {
				t.Fatalf("fault %d: a request waited %v (bound %v)", f, d, wait)
			}
		}
	}
	iss.SetFault(jwkstest.FaultNone)
}

// TestStaleKeysAnswer503: with a maximum staleness, an issuer down for
// longer makes the API answer 503 rather than trust old keys.
func TestStaleKeysAnswer503(t *testing.T) {
	t.Parallel()
	fk := clock.NewFake(time.Now())
	iss, _, h := keysEnvOn(t, clock.NewContext(context.Background(), fk),
		jwks.WithRefreshInterval(time.Minute), jwks.WithMaxStaleness(5*time.Minute))
	lastGood := fk.Now() // the first fetch; the fake clock has not moved since
	good := iss.Mint()
	if c := serve(h, good); c != 200 {
		t.Fatalf("fresh: %d", c)
	}
	iss.SetFault(jwkstest.FaultStatus503)
	for _, s := range []struct {
		after time.Duration // since the last success
		want  int
	}{{time.Minute + 15*time.Second, 200}, {4 * time.Minute, 200}, {5 * time.Minute, 200}, {5*time.Minute + time.Second, 503}} {
		if err := fk.Step(lastGood.Add(s.after).Sub(fk.Now())); err != nil {
			t.Fatal(err)
		}
		if c := serve(h, good); c != s.want {
			t.Fatalf("%v after the last good keys: %d, want %d", s.after, c, s.want)
		}
	}
	iss.SetFault(jwkstest.FaultNone)
	if err := fk.Step(time.Minute); err != nil { // past the longest backoff
		t.Fatal(err)
	}
	if c := serve(h, good); c != 200 {
		t.Fatalf("after recovery: %d", c)
	}
}

type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) Outcome(_, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[reason]++
}

func (o *outcomes) TokenCache(hit bool) {
	if hit {
		o.Outcome("", "cache_hit")
	} else {
		o.Outcome("", "cache_miss")
	}
}

func TestMetricsCountOutcomesByReason(t *testing.T) {
	t.Parallel()
	m := &outcomes{}
	e := newEnv(t, middleware.WithMetrics(m))
	e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...)
	e.do(t, "GET", "/api/notes", bearer(e.iss.Mint(jwkstest.WithScopes("notes:read")))...)
	e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour)))...)
	e.do(t, "GET", "/api/me", bearer(guardtest.Forge(e.iss.Mint()))...)
	e.do(t, "GET", "/api/notes", bearer(e.iss.Mint())...)
	e.do(t, "GET", "/api/me")
	e.do(t, "GET", "/api/me", "Authorization", "Bearer a b")
	want := map[string]int{"ok": 2, "expired": 1, "signature": 1, "insufficient_scope": 1, "no_token": 1, "malformed_request": 1, "cache_miss": 5}
	m.mu.Lock()
	defer m.mu.Unlock()
	if fmt.Sprint(m.n) != fmt.Sprint(want) {
		t.Fatalf("outcomes %v, want %v", m.n, want)
	}
}
