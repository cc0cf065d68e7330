package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// cacheCounter counts token-cache lookups.
type cacheCounter struct{ hits, misses atomic.Int64 }

func (c *cacheCounter) Outcome(string, string) {}
func (c *cacheCounter) TokenCache(hit bool) {
	if hit {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
}

func TestTokenCacheHitsRepeatedTokens(t *testing.T) {
	t.Parallel()
	m := &cacheCounter{}
	e := newEnv(t, middleware.WithMetrics(m))
	tok := e.iss.Mint(jwkstest.WithScopes("notes:read"))
	for range 3 {
		check(t, e.do(t, "GET", "/api/notes", bearer(tok)...), accepted)
	}
	if m.hits.Load() != 2 || m.misses.Load() != 1 {
		t.Fatalf("hits %d misses %d, want 2 and 1", m.hits.Load(), m.misses.Load())
	}
	// Route checks still apply on a hit: audience and scopes.
	check(t, e.do(t, "GET", "/admin/stats", bearer(tok)...), invalid(guardtest.DescAudience))
	other := e.iss.Mint()
	e.do(t, "GET", "/api/me", bearer(other)...)
	check(t, e.do(t, "GET", "/api/notes", bearer(other)...), forbidden("notes:read"))
	// Only the exact token hits: a prefix or an extension is verified.
	check(t, e.do(t, "GET", "/api/notes", bearer(tok[:len(tok)-2])...), invalid(guardtest.DescSignature))
	check(t, e.do(t, "GET", "/api/notes", bearer(tok+"AA")...), invalid(guardtest.DescSignature))
}

func TestTokenCacheRechecksTheClock(t *testing.T) {
	t.Parallel()
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	e := newEnv(t, middleware.WithClock(clock), middleware.WithLeeway(0))
	tok := e.iss.Mint(jwkstest.WithExpiresIn(time.Minute))
	check(t, e.do(t, "GET", "/api/me", bearer(tok)...), accepted)
	offset.Store(int64(2 * time.Minute))
	check(t, e.do(t, "GET", "/api/me", bearer(tok)...), expired)
	// nbf too: cached while valid, then the clock moves back before nbf.
	offset.Store(0)
	nbfTok := e.iss.Mint(jwkstest.WithClaim("nbf", time.Now().Unix()))
	check(t, e.do(t, "GET", "/api/me", bearer(nbfTok)...), accepted)
	offset.Store(int64(-time.Hour))
	check(t, e.do(t, "GET", "/api/me", bearer(nbfTok)...), invalid(guardtest.DescNotYetValid))
	// And iat, as a fresh verification would say.
	offset.Store(0)
	iatTok := e.iss.Mint(jwkstest.WithExpiresIn(2 * time.Hour))
	check(t, e.do(t, "GET", "/api/me", bearer(iatTok)...), accepted)
	offset.Store(int64(-time.Hour))
	check(t, e.do(t, "GET", "/api/me", bearer(iatTok)...), invalid(guardtest.DescFuture))
}

func TestTokenCacheDroppedWhenKeysChange(t *testing.T) {
	t.Parallel()
	iss, g, h := keysEnv(t)
	_ = g
	tok := iss.Mint()
	if c := serve(h, tok); c != 200 {
		t.Fatalf("first: %d", c)
	}
	// The issuer removes the key and publishes another; once the cache has
	// refreshed, the cached token must not keep verifying.
	old := iss.SigningKID("RS256")
	newKID := iss.Rotate("RS256")
	iss.RemoveKey(old)
	newTok := iss.Mint(jwkstest.WithKID(newKID))
	if c := serve(h, newTok); c != 200 { // unknown kid: refresh, now without the old key
		t.Fatalf("new key: %d", c)
	}
	if c := serve(h, tok); c != 401 {
		t.Fatalf("token of a removed key answered %d from the cache", c)
	}
}

func TestTokenCacheSkipsLargeTokens(t *testing.T) {
	t.Parallel()
	m := &cacheCounter{}
	e := newEnv(t, middleware.WithMetrics(m))
	big := e.iss.Mint(jwkstest.WithClaim("pad", strings.Repeat("x", middleware.MaxCachedTokenSize)))
	for range 2 {
		if r := e.do(t, "GET", "/api/me", bearer(big)...); r.Status != 200 {
			t.Fatalf("%+v", r)
		}
	}
	if m.hits.Load()+m.misses.Load() != 0 {
		t.Fatalf("a %d-byte token went through the cache", len(big))
	}
}

func TestTokenCacheBoundedAndOptional(t *testing.T) {
	t.Parallel()
	m := &cacheCounter{}
	e := newEnv(t, middleware.WithMetrics(m), middleware.WithTokenCache(2, 1<<20))
	toks := []string{e.iss.Mint(), e.iss.Mint(), e.iss.Mint()}
	for range 2 {
		for _, tok := range toks {
			if r := e.do(t, "GET", "/api/me", bearer(tok)...); r.Status != 200 {
				t.Fatalf("%+v", r)
			}
		}
	}
	// With room for 2, cycling through 3 tokens never hits: each third
	// token starts a new generation (t1 t2 | t3 t1 | t2 t3).
	if h, mi := m.hits.Load(), m.misses.Load(); h != 0 || mi != 6 {
		t.Fatalf("hits %d, misses %d with 3 tokens cycled through room for 2; want 0 and 6", h, mi)
	}
	// The last generation holds t2 and t3: both hit now, and t1 does not.
	for _, tok := range []string{toks[1], toks[2], toks[0]} {
		e.do(t, "GET", "/api/me", bearer(tok)...)
	}
	if h, mi := m.hits.Load(), m.misses.Load(); h != 2 || mi != 7 {
		t.Fatalf("hits %d, misses %d; want the two tokens of the last generation to hit", h, mi)
	}
	off := &cacheCounter{}
	e2 := newEnvFor(t, e.iss, true, middleware.WithMetrics(off), middleware.WithoutTokenCache())
	e2.do(t, "GET", "/api/me", bearer(toks[0])...)
	e2.do(t, "GET", "/api/me", bearer(toks[0])...)
	if off.hits.Load()+off.misses.Load() != 0 {
		t.Fatal("WithoutTokenCache still cached")
	}
	// A bound of 0 or less is the cache off too, as documented.
	for _, bounds := range [][2]int64{{0, 1 << 20}, {10, 0}, {-1, 1 << 20}, {10, -1}} {
		zero := &cacheCounter{}
		e3 := newEnvFor(t, e.iss, true, middleware.WithMetrics(zero), middleware.WithTokenCache(int(bounds[0]), bounds[1]))
		e3.do(t, "GET", "/api/me", bearer(toks[0])...)
		e3.do(t, "GET", "/api/me", bearer(toks[0])...)
		if zero.hits.Load()+zero.misses.Load() != 0 {
			t.Errorf("WithTokenCache(%d, %d) cached", bounds[0], bounds[1])
		}
	}
}

// unversioned hides KeysVersion: with a key set that cannot say when its
// keys change, nothing is cached.
type unversioned struct{ middleware.KeySet }

func TestTokenCacheNeedsAVersionedKeySet(t *testing.T) {
	t.Parallel()
	base := newEnv(t)
	m := &cacheCounter{}
	g, err := middleware.New(unversioned{base.keys}, base.iss.URL(), []string{aud}, middleware.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	tok := base.iss.Mint()
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for range 2 {
		if c := serve(h, tok); c != 200 {
			t.Fatalf("%d", c)
		}
	}
	if m.hits.Load()+m.misses.Load() != 0 {
		t.Fatal("cached with an unversioned key set")
	}
}

func TestTokenCacheConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithTokenCache(5, 1<<20))
	toks := make([]string, 20)
	for i := range toks {
		toks[i] = e.iss.Mint()
	}
	h := e.guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				tok := toks[(i*7+w)%len(toks)]
				req := httptest.NewRequest("GET", "/", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Errorf("status %d", rec.Code)
					return
				}
			}
		}()
	}
	wg.Wait()
}
