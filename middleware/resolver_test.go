package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/memsize"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *testClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// A tenant the resolver stops allowing keeps being accepted: its cached
// tokens never go back to the resolver, and its closed key set still says
// Ready at the same version.
func TestResolverRevocationReachesCachedTokens(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	var r revocable
	newKeys := func(string) (middleware.KeySet, error) {
		return jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	}
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(r.allow, newKeys), middleware.WithClock(clock.now))
	cached := iss.Mint(jwkstest.WithClaim("iss", tenant))
	if _, err := verifyWith(g, cached); err != nil {
		t.Fatal(err)
	}
	r.revoked.Store(true)
	clock.advance(2 * middleware.DefaultResolverTTL)
	// A fresh token of the tenant: the stale yes serves it once and asks again
	// in the background; wait until the refusal has landed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", tenant), jwkstest.WithClaim("jti", fmt.Sprint(time.Now().UnixNano()))))
		if errors.Is(err, middleware.ErrIssuer) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revocation never took effect: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling the resolver's background re-ask, bounded above
	}
	if _, err := verifyWith(g, cached); err == nil {
		t.Fatalf("a token of a tenant the resolver now refuses is still accepted (from the token cache)")
	}
}

// tenant is the one issuer a revocable resolver allows.
const tenant = "https://tenant.example"

// revocable is a resolver that allows tenant until revoked, counting the
// questions it is asked, all and about tenant.
type revocable struct {
	revoked            atomic.Bool
	asked, askedTenant atomic.Int64
}

func (r *revocable) allow(_ context.Context, iss string) (bool, error) {
	r.asked.Add(1)
	if iss != tenant {
		return false, nil
	}
	r.askedTenant.Add(1)
	return !r.revoked.Load(), nil
}

// Flooding made-up issuers keeps the shared rate limiter empty, so a stale
// yes is never asked again: a revoked tenant stays accepted indefinitely.
func TestResolverRenewalsAreNotStarvedByAFlood(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	var r revocable
	newKeys := func(string) (middleware.KeySet, error) { return keys, nil }
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(r.allow, newKeys), middleware.WithClock(clock.now), middleware.WithoutTokenCache(), middleware.WithResolverLimits(middleware.ResolverLimits{PerSecond: 1}))
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", tenant))); err != nil {
		t.Fatal(err)
	}
	r.revoked.Store(true)
	clock.advance(2 * middleware.DefaultResolverTTL)
	n := 0
	for range 30 {
		// The attacker spends the limiter first (2 burst, then 1/s).
		for range 2 {
			n++
			verifyWith(g, mintUnsigned(t, fmt.Sprintf("https://made-up-%d.example", n)))
		}
		if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", tenant))); err != nil {
			return // revocation took effect
		}
		clock.advance(time.Second)
	}
	t.Fatalf("30 s past the TTL a revoked tenant is still accepted; allow asked %d times for it", r.askedTenant.Load())
}

// A tenant whose key set was dropped for the KeySets bound is asked about
// again from a budget of its own: tokens naming made-up issuers (which
// need no key to make) spend the budget of issuers never seen, and would
// otherwise keep every tenant beyond KeySets 503 for as long as they
// came. Found by a fifth review.
func TestResolverEvictedTenantsAreNotStarvedByAFlood(t *testing.T) {
	t.Parallel()
	const other = "https://other.example"
	iss, g, clock := tenantsOf(t, 1, tenant, other)
	for _, name := range []string{tenant, other} {
		if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", name))); err != nil {
			t.Fatalf("%s before the flood: %v", name, err)
		}
	}
	n := 0
	for sec := range 10 {
		for range 2 * middleware.DefaultResolverPerSecond {
			n++
			if _, err := verifyWith(g, mintUnsigned(t, fmt.Sprintf("https://made-up-%d.example", n))); err == nil {
				t.Fatal("a made-up issuer's token was accepted")
			}
		}
		// Each of the two tenants drops the other's key set.
		for _, name := range []string{tenant, other} {
			if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", name))); err != nil {
				t.Fatalf("second %d, %s (its key set dropped for the other's): %v", sec, name, err)
			}
		}
		clock.advance(time.Second)
	}
}

// Forged tokens naming real tenants (their names are public; the tokens
// need no key) make key sets that no token verifies with: those wait
// apart, so cycling KeySets+1 names neither pushes the tenants in use out
// nor, repeated, asks about them again. Found by a review of this
// session's fixes (a tenant in use was pushed out and then 503 four
// seconds in five).
func TestResolverForgedTokensOfRealTenantsChurnOnlyEachOther(t *testing.T) {
	t.Parallel()
	const victim, b, c, d = "https://victim.example", "https://b.example", "https://c.example", "https://d.example"
	iss, g, clock := tenantsOf(t, 2, victim, b, c, d)
	for _, name := range []string{victim, b} {
		if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", name))); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The attacker's first forged token.
	if _, err := verifyWith(g, mintUnsigned(t, c)); err == nil {
		t.Fatal("forged token accepted")
	}
	cycle := []string{d, b, c}
	n := 0
	failures := 0
	for sec := range 5 {
		for range 2 * middleware.DefaultResolverPerSecond {
			_, _ = verifyWith(g, mintUnsigned(t, cycle[n%3]))
			n++
		}
		if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", victim))); err != nil {
			failures++
			t.Logf("second %d: the victim tenant's genuine token: %v", sec, err)
		}
		clock.advance(time.Second)
	}
	if failures > 0 {
		t.Errorf("the evicted victim tenant was refused %d of 5 seconds by forged tokens naming other real tenants", failures)
	}
}

// Forged tokens naming a tenant that is not held, and others, cannot keep
// its genuine users out: the key sets made for them wait apart until a
// token verifies with one, and the victim's genuine token finds its own
// there, or has it made. Found by a second review of this session's
// fixes (a first fix, dropping unverified key sets first and asking
// about them again at most every two seconds, let two forged tokens every
// two seconds lock a tenant out).
func TestResolverForgedTokensCannotLockATenantOut(t *testing.T) {
	t.Parallel()
	const inUse, victim = "https://inuse.example", "https://victim.example"
	others := []string{"https://x.example", "https://y.example"}
	iss, g, clock := tenantsOf(t, 2, inUse, victim, others[0], others[1])
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", inUse))); err != nil {
		t.Fatal(err)
	}
	refused, tries := 0, 0
	for cycle := range 5 {
		// The attacker: two forged tokens, no key needed.
		_, _ = verifyWith(g, mintUnsigned(t, victim))
		_, _ = verifyWith(g, mintUnsigned(t, others[cycle%2]))
		for range 3 {
			clock.advance(500 * time.Millisecond)
			tries++
			if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", victim))); err != nil {
				refused++
				if refused == 1 {
					t.Logf("the victim's genuine token: %v", err)
				}
			}
		}
		clock.advance(500 * time.Millisecond)
	}
	if refused > 0 {
		t.Errorf("the victim tenant's genuine tokens were refused %d of %d times, by two forged tokens every two seconds", refused, tries)
	}
}

// tenantsOf is a Guard, without a token cache, whose resolver allows the
// tenants named, holding keySets key sets at once, each a view of one
// issuer's keys that dropping does not close; tokens of that issuer with
// a tenant's iss are the tenant's. Its clock is the test's.
func tenantsOf(t *testing.T, keySets int, tenants ...string) (*jwkstest.Issuer, *middleware.Guard, *testClock) {
	t.Helper()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	allow := func(_ context.Context, iss string) (bool, error) { return slices.Contains(tenants, iss), nil }
	newKeys := func(string) (middleware.KeySet, error) { return struct{ middleware.KeySet }{keys}, nil }
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, newKeys), middleware.WithClock(clock.now),
		middleware.WithoutTokenCache(), middleware.WithResolverLimits(middleware.ResolverLimits{KeySets: keySets}))
	return iss, g, clock
}

// closeFlag wraps a jwks cache and records Close.
type closeFlag struct {
	*jwks.Cache
	closed atomic.Bool
}

func (k *closeFlag) Close() { k.closed.Store(true); k.Cache.Close() }

// A yes asked again in the background while its key set is evicted comes
// back with the closed key set, which then serves (and never refreshes).
func TestResolverNeverReinstatesAClosedKeySet(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	const x, y = "https://x.example", "https://y.example"
	gate := make(chan struct{})
	var blockX atomic.Bool
	allow := func(_ context.Context, s string) (bool, error) {
		if s == x && blockX.Load() {
			<-gate
		}
		return true, nil
	}
	var mu sync.Mutex
	made := map[string][]*closeFlag{}
	newKeys := func(s string) (middleware.KeySet, error) {
		c, err := jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return nil, err
		}
		k := &closeFlag{Cache: c}
		mu.Lock()
		made[s] = append(made[s], k)
		mu.Unlock()
		return k, nil
	}
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, newKeys), middleware.WithClock(clock.now), middleware.WithoutTokenCache(), middleware.WithResolverLimits(middleware.ResolverLimits{KeySets: 1, PerSecond: 1000}))
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", x))); err != nil {
		t.Fatal(err)
	}
	clock.advance(middleware.DefaultResolverTTL * 3 / 2) // stale, still served while asked again
	blockX.Store(true)
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", x))); err != nil { // starts X's re-ask
		t.Fatal(err)
	}
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", y))); err != nil { // evicts X
		t.Fatal(err)
	}
	close(gate) // X's re-ask says yes, with the kept (closed) issuer
	// Until that re-ask has finished, X's tokens may be 503 (they wait on
	// it, and it does not reinstate the closed set); then X is resolved
	// afresh, with a new key set. Poll rather than guess how long it takes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", x)))
		if err == nil {
			break
		}
		if !errors.Is(err, middleware.ErrKeysUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // polling for the resolver's re-ask goroutine, bounded above
	}
	mu.Lock()
	defer mu.Unlock()
	if len(made[x]) == 2 {
		eventually(t, made[x][0].closed.Load, "X's first key set to be closed (on a goroutine of its own)")
	}
	if len(made[x]) != 2 || !made[x][0].closed.Load() || made[x][1].closed.Load() {
		t.Fatalf("X must be served by a new key set after its first was closed: made %d for X", len(made[x]))
	}
}

// Each remembered refusal keeps the token's whole payload alive (iss is a
// substring of the claims' private copy of it).
func TestResolverRefusalsDoNotPinPayloads(t *testing.T) {
	iss, keys := issuerWithKeys(t)
	allowNone := func(context.Context, string) (bool, error) { return false, nil }
	noKeys := func(string) (middleware.KeySet, error) { return nil, errors.New("never") }
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allowNone, noKeys), middleware.WithResolverLimits(middleware.ResolverLimits{PerSecond: 1e6}))
	// A 4 KiB pad: a refusal that pinned its payload would hold 4 times
	// the bound below.
	pad := strings.Repeat("x", 4<<10)
	before := memsize.Heap()
	const flood = 1000
	for i := range flood {
		payload := fmt.Sprintf(`{"iss":"https://t-%d.example","sub":"u","aud":%q,"exp":%d,"pad":%q}`, i, aud, time.Now().Add(time.Hour).Unix(), pad)
		tok := b64([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + b64([]byte(payload)) + ".c2ln"
		if _, err := verifyWith(g, tok); !errors.Is(err, middleware.ErrIssuer) {
			t.Fatal(err)
		}
	}
	grew := memsize.Heap() - before
	t.Logf("%d refusals hold %d bytes (%d each)", flood, grew, grew/flood)
	if grew > flood*1024 {
		t.Fatalf("each refusal holds %d bytes", grew/flood)
	}
}

func TestResolverUnderConcurrentUse(t *testing.T) {
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	var flip atomic.Int64
	allow := func(_ context.Context, s string) (bool, error) {
		n := flip.Add(1)
		if n%7 == 0 {
			return false, errors.New("flaky")
		}
		return n%3 != 0, nil
	}
	newKeys := func(string) (middleware.KeySet, error) {
		return jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	}
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, newKeys), middleware.WithClock(clock.now), middleware.WithResolverLimits(middleware.ResolverLimits{KeySets: 2, Answers: 3, TTL: time.Millisecond, PerSecond: 1e6}))
	base := runtime.NumGoroutine()
	toks := make([]string, 6)
	for i := range toks {
		toks[i] = iss.Mint(jwkstest.WithClaim("iss", fmt.Sprintf("https://t%d.example", i)))
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				clock.advance(time.Millisecond)
				_, err := verifyWith(g, toks[(i+w)%len(toks)])
				if err != nil && !errors.Is(err, middleware.ErrIssuer) && !errors.Is(err, middleware.ErrKeysUnavailable) {
					t.Errorf("unexpected %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	g.Close()
	// Resolutions still running end within their timeout; wait for them
	// (polling, so a loaded machine only makes this slower, never red).
	deadline := time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d, were %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond) // polling for goroutines to exit, bounded above
	}
}

// An allow that hangs, deaf to its context, costs a request no more than
// the request's own deadline, and makes the issuer's tokens 503, not 401.
func TestResolverHungAllowIsBounded(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	release := make(chan struct{})
	defer close(release)
	allow := func(context.Context, string) (bool, error) { <-release; return true, nil }
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, func(string) (middleware.KeySet, error) { return keys, nil }))
	tok := iss.Mint(jwkstest.WithClaim("iss", "https://slow.example"))
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		start := time.Now()
		_, err := g.VerifyToken(ctx, tok)
		cancel()
		if !errors.Is(err, middleware.ErrKeysUnavailable) || time.Since(start) > 3*time.Second {
			t.Fatalf("hung resolver: %v after %s", err, time.Since(start))
		}
	}
}

// An iss too long to be a real issuer is refused without asking.
func TestResolverRefusesHugeIssuersUnasked(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	var asked atomic.Int64
	allow := func(context.Context, string) (bool, error) { asked.Add(1); return true, nil }
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, func(string) (middleware.KeySet, error) { return keys, nil }))
	huge := "https://" + strings.Repeat("a", 2000) + ".example"
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", huge))); !errors.Is(err, middleware.ErrIssuer) || asked.Load() != 0 {
		t.Fatalf("huge iss: %v, asked %d", err, asked.Load())
	}
}

// A revoked tenant whose client keeps sending the same (cached) token is
// refused too: a cache hit of a resolved issuer asks the resolver.
func TestResolverRevocationReachesARepeatedToken(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	var r revocable
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(r.allow, func(string) (middleware.KeySet, error) { return keys, nil }), middleware.WithClock(clock.now))
	tok := iss.Mint(jwkstest.WithClaim("iss", tenant))
	if _, err := verifyWith(g, tok); err != nil {
		t.Fatal(err)
	}
	r.revoked.Store(true)
	clock.advance(10 * middleware.DefaultResolverTTL) // far past 2×TTL
	for range 5 {
		if _, err := verifyWith(g, tok); err == nil {
			t.Fatalf("revoked tenant's token accepted %v past its last yes; allow asked %d times",
				10*middleware.DefaultResolverTTL, r.asked.Load())
		}
		time.Sleep(20 * time.Millisecond) // giving a wrongly started background re-ask time to land, so a 200 would show
	}
}

// While allow fails, a stale yes is asked again at most once per retry
// delay, not once per request.
func TestResolverRenewalsAreBoundedWhenAllowFails(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	allow, failing, asked := failableAllow()
	clock := newTestClock()
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, func(string) (middleware.KeySet, error) { return keys, nil }), middleware.WithClock(clock.now), middleware.WithoutTokenCache(), middleware.WithResolverLimits(middleware.ResolverLimits{PerSecond: 1}))
	tok := iss.Mint(jwkstest.WithClaim("iss", tenant))
	if _, err := verifyWith(g, tok); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	clock.advance(middleware.DefaultResolverTTL * 3 / 2) // stale, still usable
	asked.Store(0)
	for range 200 {
		verifyWith(g, tok)
		time.Sleep(time.Millisecond) // letting the resolver's background renewal end (its goroutine, not a timer)
	}
	if n := asked.Load(); n > 10 {
		t.Fatalf("200 requests within one TTL cost %d calls of allow (PerSecond 1, KeySets 100)", n)
	}
}

// Authorize refuses claims whose issuer the Guard does not hold.
func TestAuthorizeRefusesAStrangersClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other, otherKeys := issuerWithKeys(t)
	g2, err := middleware.New(otherKeys, other.URL(), []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	defer g2.Close()
	c, err := g2.VerifyToken(context.Background(), other.Mint())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.guard.Rule().Authorize(t.Context(), c); !errors.Is(err, middleware.ErrIssuer) {
		t.Fatalf("Authorize of claims from an issuer this Guard does not accept: %v, want ErrIssuer", err)
	}
}

// resolvedTenant returns a Guard whose resolver asks allow, on clock, with
// one of tenant's tokens and the claims VerifyToken returned for it; the
// resolver then holds a yes for tenant.
func resolvedTenant(t *testing.T, allow func(context.Context, string) (bool, error), clock *testClock, opts ...middleware.Option) (*middleware.Guard, *claims.Claims, string) {
	t.Helper()
	iss, keys := issuerWithKeys(t, jwkstest.WithTokenLifetime(time.Hour))
	g := newGuard(t, keys, iss.URL(), append([]middleware.Option{
		middleware.WithIssuerResolver(allow, func(string) (middleware.KeySet, error) { return keys, nil }),
		middleware.WithClock(clock.now),
	}, opts...)...)
	tok := iss.Mint(jwkstest.WithClaim("iss", tenant))
	c, err := verifyWith(g, tok)
	if err != nil {
		t.Fatal(err)
	}
	return g, c, tok
}

// Authorize (the per-operation check MCP and gRPC adapters run on claims
// VerifyToken returned) refuses a resolved tenant the resolver no longer
// vouches for, as VerifyToken refuses the same token: once the yes is past
// use, the resolver is asked again. Within the TTL it is not asked.
func TestAuthorizeRefusesARevokedTenant(t *testing.T) {
	t.Parallel()
	var r revocable
	clock := newTestClock()
	g, c, tok := resolvedTenant(t, r.allow, clock)
	ru := g.Rule()
	if err := ru.Authorize(t.Context(), c); err != nil || r.askedTenant.Load() != 1 {
		t.Fatalf("Authorize within the TTL: %v, allow asked %d times; want nil, asked once (by VerifyToken)", err, r.askedTenant.Load())
	}
	r.revoked.Store(true)
	clock.advance(10 * middleware.DefaultResolverTTL) // far past 2×TTL: the yes is no longer usable
	if err := ru.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrIssuer) {
		t.Fatalf("Authorize of a revoked tenant's claims %v after its last yes: %v, want ErrIssuer (allow asked %d times)",
			10*middleware.DefaultResolverTTL, err, r.askedTenant.Load())
	}
	if n := r.askedTenant.Load(); n != 2 {
		t.Fatalf("allow asked %d times about the tenant, want 2 (VerifyToken's, Authorize's re-ask)", n)
	}
	if _, err := verifyWith(g, tok); !errors.Is(err, middleware.ErrIssuer) {
		t.Fatalf("VerifyToken of the same token: %v, want ErrIssuer", err)
	}
}

// Between one TTL and two, Authorize accepts a tenant's claims on its stale
// yes and asks again in the background, as VerifyToken does; a revocation
// takes effect once that answer lands.
func TestAuthorizeRenewsAStaleTenantInTheBackground(t *testing.T) {
	t.Parallel()
	var r revocable
	clock := newTestClock()
	g, c, _ := resolvedTenant(t, r.allow, clock)
	ru := g.Rule()
	r.revoked.Store(true)
	clock.advance(middleware.DefaultResolverTTL * 3 / 2) // stale, still usable
	if err := ru.Authorize(t.Context(), c); err != nil {
		t.Fatalf("Authorize on a stale, usable yes: %v, want nil while it is asked again", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := ru.Authorize(t.Context(), c)
		if errors.Is(err, middleware.ErrIssuer) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("revocation never reached Authorize: %v (allow asked %d times)", err, r.askedTenant.Load())
		}
		time.Sleep(10 * time.Millisecond) // polling the resolver's background re-ask, bounded above
	}
	if n := r.askedTenant.Load(); n != 2 {
		t.Fatalf("allow asked %d times about the tenant, want 2 (one background re-ask)", n)
	}
}

// A resolver that cannot answer makes Authorize 503 ErrKeysUnavailable, as
// VerifyToken answers, and is asked again at most once per retry delay,
// not once per call.
func TestAuthorizeUnreachableResolverIsUnavailable(t *testing.T) {
	t.Parallel()
	allow, failing, asked := failableAllow()
	clock := newTestClock()
	g, c, tok := resolvedTenant(t, allow, clock)
	ru := g.Rule()
	failing.Store(true)
	asked.Store(0)
	clock.advance(10 * middleware.DefaultResolverTTL) // past use: Authorize must wait for an answer
	for range 5 {
		err := ru.Authorize(t.Context(), c)
		var e *middleware.Error
		if !errors.Is(err, middleware.ErrKeysUnavailable) || !errors.As(err, &e) || e.Status() != 503 {
			t.Fatalf("Authorize with the resolver down: %v, want 503 ErrKeysUnavailable", err)
		}
	}
	if _, err := verifyWith(g, tok); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("VerifyToken of the same token: %v, want ErrKeysUnavailable", err)
	}
	if n := asked.Load(); n != 1 {
		t.Fatalf("6 calls within the retry delay asked allow %d times, want 1", n)
	}
}

// Past twice its TTL, Authorize waits for the resolver's answer only as
// long as its context allows, and the resolver is asked with that
// context's values: a cancelled operation is 503 ErrKeysUnavailable at
// once, while the resolver is still deciding.
func TestAuthorizeWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	var blocking, returned atomic.Bool
	release, saw := make(chan struct{}), make(chan any, 1)
	allow := func(ctx context.Context, _ string) (bool, error) {
		if !blocking.Load() {
			return true, nil
		}
		defer returned.Store(true)
		saw <- ctx.Value(ctxKey{})
		select {
		case <-release:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	clock := newTestClock()
	g, c, _ := resolvedTenant(t, allow, clock)
	blocking.Store(true)
	t.Cleanup(func() { close(release) }) // before the Guard's cleanup closes the resolver
	clock.advance(10 * middleware.DefaultResolverTTL)
	ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, "operation"))
	cancel()
	err := g.Rule().Authorize(ctx, c)
	if !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("Authorize with its context done: %v, want ErrKeysUnavailable", err)
	}
	if returned.Load() {
		t.Fatal("Authorize waited for the resolver after its context was done")
	}
	if v := <-saw; v != "operation" {
		t.Fatalf("the resolver was asked with context value %v, want the operation's", v)
	}
}

// Claims application code vouches for (WithInsecureContextClaims) go
// through the same check: a revoked tenant's are refused.
func TestContextClaimsOfARevokedTenantAreRefused(t *testing.T) {
	t.Parallel()
	var r revocable
	clock := newTestClock()
	g, c, _ := resolvedTenant(t, r.allow, clock, middleware.WithInsecureContextClaims())
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(claims.NewContext(req.Context(), c))
	ru := g.Rule()
	if _, err := ru.Check(req); err != nil {
		t.Fatalf("vouched-for claims of an allowed tenant: %v", err)
	}
	r.revoked.Store(true)
	clock.advance(10 * middleware.DefaultResolverTTL)
	if _, err := ru.Check(req); !errors.Is(err, middleware.ErrIssuer) {
		t.Fatalf("vouched-for claims of a revoked tenant: %v, want ErrIssuer", err)
	}
}

// failableAllow is an issuer resolver's allow that says yes to every
// issuer, fails while *failing is set, and counts its calls in *asked.
func failableAllow() (allow func(context.Context, string) (bool, error), failing *atomic.Bool, asked *atomic.Int64) {
	failing, asked = new(atomic.Bool), new(atomic.Int64)
	return func(context.Context, string) (bool, error) {
		asked.Add(1)
		if failing.Load() {
			return false, errors.New("database down")
		}
		return true, nil
	}, failing, asked
}
