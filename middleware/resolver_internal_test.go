package middleware

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// The resolver's remembered answers stay within their bounds however many
// issuers it is asked about, and a refusal is remembered for its TTL only.
func TestResolverHoldsBoundedAnswers(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	asked := 0
	rc := &resolverConfig{
		allow: func(_ context.Context, iss string) (bool, error) { asked++; return false, nil },
		keys:  func(string) (KeySet, error) { t.Fatal("keys made for a refused issuer"); return nil, nil },
		shape: issuerConfig{kind: resolvedIssuer, keys: placeholderKeys{}},
	}
	rv, err := newResolver(rc, ResolverLimits{Answers: 100, TTL: time.Minute, PerSecond: 1e9}, clock, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if _, rsn := rv.resolve(context.Background(), fmt.Sprintf("https://t%d.example", i)); rsn != rIssuer {
			t.Fatalf("issuer %d: reason %d, want rIssuer", i, rsn)
		}
	}
	if yes, no := rv.held(); yes != 0 || no != 100 {
		t.Fatalf("held %d key sets and %d refusals, want 0 and 100", yes, no)
	}
	// The last one is remembered: asking again costs no call...
	asked = 0
	rv.resolve(context.Background(), "https://t4999.example")
	if asked != 0 {
		t.Fatalf("a remembered refusal asked the resolver %d times", asked)
	}
	// ...until its TTL has passed.
	now = now.Add(time.Minute)
	rv.resolve(context.Background(), "https://t4999.example")
	if asked != 1 {
		t.Fatalf("after the TTL: asked %d times, want 1", asked)
	}
}

// testTimeout is the resolver's timeout in these tests, shorter than
// resolverTimeout so that a call that hangs is given up on soon. It bounds
// a whole resolution, the calls that return at once included (allow, then
// keys, then WaitReady, each on a goroutine of its own): on a loaded
// two-core machine, with the package's tests running in parallel, 50 ms
// was not always enough for those, and a resolution the test wants to
// succeed was given up on (503).
const testTimeout = 500 * time.Millisecond

// testResolver is a resolver over allow and keys with a short timeout
// (testTimeout), logging into the returned buffer; it is closed when the
// test ends.
func testResolver(t *testing.T, allow func(context.Context, string) (bool, error), keys func(string) (KeySet, error)) (*resolver, *exampletest.Buffer) {
	t.Helper()
	var log exampletest.Buffer
	rc := &resolverConfig{allow: allow, keys: keys, shape: issuerConfig{kind: resolvedIssuer, keys: placeholderKeys{}}}
	rv, err := newResolver(rc, ResolverLimits{PerSecond: 1e9}, time.Now, slog.New(slog.NewTextHandler(&log, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rv.timeout = testTimeout
	t.Cleanup(rv.close)
	return rv, &log
}

// staticKeys is a KeySet of the user's that is always ready.
type staticKeys struct{ KeySet }

// waitReadyFunc is a KeySet whose WaitReady is f.
type waitReadyFunc struct {
	KeySet
	f func(context.Context) error
}

func (w waitReadyFunc) WaitReady(ctx context.Context) error { return w.f(ctx) }

// A panic in allow, keys or the key set's WaitReady runs on the resolver's
// goroutine, out of reach of net/http's recover: it is recovered, logged
// with its stack, answered 503 and not remembered, so the next token asks
// again. allow is asked before any signature is checked: an iss that makes
// it panic must not take the server down. Found by a fifth review.
func TestResolverSurvivesPanics(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"allow", "keys", "key set's WaitReady"} {
		var panics atomic.Bool
		panics.Store(true)
		boom := func(w string) {
			if w == where && panics.Load() {
				var tenants []string
				_ = tenants[len(w)] // an index out of range in the tenant lookup
			}
		}
		rv, log := testResolver(t,
			func(context.Context, string) (bool, error) { boom("allow"); return true, nil },
			func(string) (KeySet, error) {
				boom("keys")
				return waitReadyFunc{f: func(context.Context) error { boom("key set's WaitReady"); return nil }}, nil
			})
		if is, rsn := rv.resolve(context.Background(), "https://tenant.example"); is != nil || rsn != rKeysUnavailable {
			t.Fatalf("%s panicked: %v, reason %d; want rKeysUnavailable", where, is, rsn)
		}
		if l := log.String(); !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "the issuer resolver's "+where+" function panicked") ||
			!strings.Contains(l, "index out of range") || !strings.Contains(l, "resolver_internal_test.go") {
			t.Errorf("%s panicked; logged %q", where, l)
		}
		panics.Store(false)
		if is, rsn := rv.resolve(context.Background(), "https://tenant.example"); is == nil || rsn != -1 {
			t.Errorf("once %s no longer panics: %v, reason %d", where, is, rsn)
		}
	}
}

// A call of allow or keys that hangs, deaf to its context, is given up on
// at the resolver's timeout: its token is 503, the issuer is not left
// waiting on it, and the next token asks again. A key set made late is
// closed. Found by a fifth review (a hung call held its iss until it
// returned).
func TestResolverGivesUpOnAHungCall(t *testing.T) {
	t.Parallel()
	for _, where := range []string{"allow", "keys"} {
		release := make(chan struct{})
		var calls atomic.Int64
		var late closeCount
		hang := func(w string) bool {
			if w == where && calls.Add(1) == 1 {
				<-release
				return true
			}
			return false
		}
		rv, log := testResolver(t,
			func(context.Context, string) (bool, error) { hang("allow"); return true, nil },
			func(string) (KeySet, error) {
				if hang("keys") {
					return &late, nil
				}
				return staticKeys{}, nil
			})
		start := time.Now()
		if is, rsn := rv.resolve(context.Background(), "https://tenant.example"); is != nil || rsn != rKeysUnavailable {
			t.Fatalf("%s hung: %v, reason %d", where, is, rsn)
		}
		if d := time.Since(start); d > rv.timeout+abandonGrace+time.Second { // a second's slack for a loaded machine, still well below wait's own 5 s fallback, which would answer were the call not given up on
			t.Errorf("%s hung: answered after %s, past the timeout", where, d)
		}
		if !strings.Contains(log.String(), "the issuer resolver's "+where+" function did not return in time") {
			t.Errorf("%s hung; logged %q", where, log.String())
		}
		if is, rsn := rv.resolve(context.Background(), "https://tenant.example"); is == nil || rsn != -1 {
			t.Errorf("%s answers again: %v, reason %d", where, is, rsn)
		}
		if rv.abandonedCalls() != 1 {
			t.Errorf("%s hung: %d calls counted as given up on, want 1", where, rv.abandonedCalls())
		}
		close(release)
		waitFor(t, func() bool { return rv.abandonedCalls() == 0 && rv.closesRunning() == 0 }, "the hung call to be counted as returned")
		if where == "keys" && late.n.Load() != 1 {
			t.Errorf("the key set made late was closed %d times, want 1", late.n.Load())
		}
	}
}

// A call given up on is counted as running until what it made is handed on
// to be closed: between the two, Guard.Close and the tests that wait for
// the count to drop would see a call returned whose key set is not yet
// being closed. Found when the middleware tests first ran in parallel.
func TestAbandonedCallCountedUntilHandedOn(t *testing.T) {
	t.Parallel()
	rv, _ := testResolver(t, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release := make(chan struct{})
	counted := make(chan int, 1)
	if _, ok := outOfHand(rv, ctx, "keys", "https://tenant.example",
		func() int { <-release; return 1 },
		func(int) { counted <- rv.abandonedCalls() }); ok {
		t.Fatal("a call past its context's end was not given up on")
	}
	close(release)
	if n := <-counted; n != 1 {
		t.Fatalf("when what it made was handed on, %d calls were counted as given up on, want 1", n)
	}
	waitFor(t, func() bool { return rv.abandonedCalls() == 0 }, "the call to be counted as returned")
}

// Calls given up on but still running are bounded: past maxAbandoned, an
// issuer not held is 503 without a call, so a database that hangs for good
// does not cost a goroutine per question.
func TestResolverAbandonedCallsAreBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var calls atomic.Int64
	rv, _ := testResolver(t, func(context.Context, string) (bool, error) { calls.Add(1); <-release; return true, nil },
		func(string) (KeySet, error) { return staticKeys{}, nil })
	defer close(release)
	var wg sync.WaitGroup
	for i := range maxAbandoned {
		wg.Go(func() { rv.resolve(context.Background(), fmt.Sprintf("https://t%d.example", i)) })
	}
	wg.Wait()
	if n := rv.abandonedCalls(); n != maxAbandoned {
		t.Fatalf("%d calls given up on, want %d", n, maxAbandoned)
	}
	for i := range 20 {
		if _, rsn := rv.resolve(context.Background(), fmt.Sprintf("https://more%d.example", i)); rsn != rKeysUnavailable {
			t.Fatalf("past the bound: reason %d, want rKeysUnavailable", rsn)
		}
	}
	if n := calls.Load(); n != maxAbandoned {
		t.Errorf("allow called %d times while it hung, want %d", n, maxAbandoned)
	}
}

// closeCount is a KeySet that counts its Close calls.
type closeCount struct {
	KeySet
	n atomic.Int64
}

func (c *closeCount) Close() { c.n.Add(1) }

func (rv *resolver) abandonedCalls() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.abandoned
}

// waitFor polls cond, bounded above (what it waits for happens on another
// goroutine, not on a timer of the code under test).
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling another goroutine, bounded above
	}
}

// Guard.Close ends the resolutions in flight and waits for them: no key
// set is made after it returns. Found by a fifth review.
func TestGuardCloseEndsResolutions(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(testAudience))
	t.Cleanup(iss.Close)
	entered := make(chan struct{})
	var closed atomic.Bool
	var madeAfter atomic.Int64
	allow := func(ctx context.Context, _ string) (bool, error) {
		close(entered)
		<-ctx.Done() // a database round trip, ended by Close
		return true, nil
	}
	newKeys := func(string) (KeySet, error) {
		if closed.Load() {
			madeAfter.Add(1)
		}
		return staticKeys{}, nil
	}
	g, err := New(iss.NewCache(), iss.URL(), []string{testAudience}, WithIssuerResolver(allow, newKeys))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := g.VerifyToken(context.Background(), iss.Mint(jwkstest.WithClaim("iss", "https://tenant.example")))
		done <- err
	}()
	<-entered
	start := time.Now()
	g.Close()
	took := time.Since(start)
	closed.Store(true)
	if n := g.resolver.inflightCalls(); n != 0 || took > resolverTimeout/2 {
		t.Errorf("Close returned after %s with %d resolutions in flight; want it to end them at once", took, n)
	}
	if err := <-done; err == nil {
		t.Error("a token whose resolution Close ended was accepted")
	}
	if madeAfter.Load() != 0 {
		t.Errorf("%d key sets made after Close", madeAfter.Load())
	}
}

func (rv *resolver) inflightCalls() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.inflight)
}

// tenantsGuard is a Guard whose resolver allows every issuer, each with a
// key cache of iss's keys, two key sets at once: tokens of iss with
// another iss claim are the tokens of as many tenants.
func tenantsGuard(t *testing.T) (*jwkstest.Issuer, *Guard) {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(testAudience), jwkstest.WithTokenLifetime(time.Hour))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	t.Cleanup(keys.Close)
	newKeys := func(string) (KeySet, error) {
		return jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	}
	g, err := New(keys, iss.URL(), []string{testAudience},
		WithIssuerResolver(func(context.Context, string) (bool, error) { return true, nil }, newKeys),
		WithResolverLimits(ResolverLimits{KeySets: 2, PerSecond: 1e6}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return iss, g
}

// An issuer the resolver drops for its KeySets bound takes its cached
// tokens with it: they would never be used again, but they would keep its
// key set alive, which neither bound counts. Found by a fifth review (400
// tenants through KeySets 2 kept about 400 key sets alive).
func TestRetiredIssuersLeaveTheTokenCache(t *testing.T) {
	t.Parallel()
	iss, g := tenantsGuard(t)
	for i := range 20 {
		if _, err := g.VerifyToken(context.Background(), iss.Mint(jwkstest.WithClaim("iss", fmt.Sprintf("https://t%d.example", i)))); err != nil {
			t.Fatal(err)
		}
	}
	held, retired := g.cache.heldOf()
	if held != 2 || retired != 0 || g.cache.gen.Load().n.Load() != 2 {
		t.Errorf("the token cache holds %d tokens (counted %d), %d of retired issuers; want the 2 of the held key sets", held, g.cache.gen.Load().n.Load(), retired)
	}
}

// A request that resolved its issuer before the issuer was retired caches
// its token after dropIssuer walked the cache: that entry goes too. Found
// by a review of this session's fixes (51 of 54 entries outlived it).
func TestRetiredIssuersTokensPutAfterTheWalk(t *testing.T) {
	t.Parallel()
	iss, g := tenantsGuard(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				tok := iss.Mint(jwkstest.WithClaim("iss", fmt.Sprintf("https://t%d.example", (w+i)%6)), jwkstest.WithClaim("jti", fmt.Sprint(w, i)))
				_, _ = g.VerifyToken(context.Background(), tok)
			}
		})
	}
	wg.Wait()
	held, retired := g.cache.heldOf()
	if retired > 0 || held == 0 {
		t.Errorf("cached %d tokens, %d of retired issuers", held, retired)
	}
}

// panicClose is a user's KeySet whose Close panics (a wrapper keys built
// half-way before failing, its inner cache still nil).
type panicClose struct{ KeySet }

func (panicClose) Close() {
	var inner *struct{ n int }
	inner.n++ // a nil dereference
}

// A key set's Close is the user's code too, run on the resolver's
// goroutines: a panic in it is logged, not the process's end, whether the
// resolver closes a key set keys returned with an error or one it drops.
// Found by a review of this session's fixes.
func TestResolverSurvivesAPanickingClose(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	rv, log := testResolver(t, func(context.Context, string) (bool, error) { return true, nil },
		func(string) (KeySet, error) {
			if failing.Load() {
				return panicClose{}, errors.New("the tenant has no JWKS")
			}
			return panicClose{}, nil
		})
	if _, rsn := rv.resolve(context.Background(), "https://tenant.example"); rsn != rKeysUnavailable {
		t.Fatalf("keys failed: reason %d, want rKeysUnavailable", rsn)
	}
	failing.Store(false)
	rv.limits.KeySets = 1
	for _, iss := range []string{"https://a.example", "https://b.example"} { // b drops a
		if is, rsn := rv.resolve(context.Background(), iss); is == nil {
			t.Fatalf("%s: reason %d", iss, rsn)
		}
	}
	waitFor(t, func() bool { return rv.closesRunning() == 0 }, "the key sets' Close calls to return")
	if n := strings.Count(log.String(), "key set's Close panicked"); n != 2 {
		t.Errorf("%d panics in Close logged, want 2:\n%s", n, log.String())
	}
}

// hangingClose is a user's KeySet whose Close blocks until release is
// closed (a wrapper whose Close waits on a connection that never ends),
// counting in entered the calls begun.
type hangingClose struct {
	KeySet
	entered *atomic.Int64
	release <-chan struct{}
}

func (h hangingClose) Close() { h.entered.Add(1); <-h.release }

// hungCloseGuard is a Guard, without a token cache, whose resolver allows
// tenants a and b (tokens of the returned issuer with their iss), one key
// set at once, with a short timeout, logging into the returned buffer;
// a's key sets' Close hangs until the test ends, counted in entered.
func hungCloseGuard(t *testing.T, a, b string) (*jwkstest.Issuer, *Guard, *exampletest.Buffer, *atomic.Int64) {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(testAudience), jwkstest.WithTokenLifetime(time.Hour))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	t.Cleanup(keys.Close)
	release := make(chan struct{})
	var entered atomic.Int64
	newKeys := func(s string) (KeySet, error) {
		if s == a {
			return hangingClose{struct{ KeySet }{keys}, &entered, release}, nil
		}
		return struct{ KeySet }{keys}, nil
	}
	var log exampletest.Buffer
	g, err := New(keys, iss.URL(), []string{testAudience},
		WithIssuerResolver(func(_ context.Context, s string) (bool, error) { return s == a || s == b, nil }, newKeys),
		WithoutTokenCache(), WithResolverLimits(ResolverLimits{KeySets: 1}), WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	g.resolver.timeout = testTimeout
	t.Cleanup(g.Close)
	t.Cleanup(func() { close(release) }) // first: a Guard.Close the test gave up on then returns
	return iss, g, &log, &entered
}

// within waits for done, failing the test if it takes longer than a few
// seconds: what it waits for used to never happen, and a bound turns that
// hang into a failure rather than the test binary's timeout.
func within(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still waiting after 5s", what)
	}
}

// closeGuard runs g.Close, bounded (within), and returns how long it took.
func closeGuard(t *testing.T, g *Guard) time.Duration {
	t.Helper()
	start := time.Now()
	closed := make(chan struct{})
	go func() { g.Close(); close(closed) }()
	within(t, closed, "Guard.Close, a key set's Close hanging")
	return time.Since(start)
}

// A key set's Close is the user's code, as allow, keys and WaitReady are,
// and is run out of hand as they are: a Close that hangs holds neither the
// genuine request of another tenant whose promotion dropped its key set
// (past that request's context, before) nor Guard.Close past the
// resolver's timeout, which logs the Close it gave up waiting for. Found
// by a sixth review.
func TestResolverHungCloseHoldsNoRequest(t *testing.T) {
	t.Parallel()
	const a, b = "https://a.example", "https://b.example"
	iss, g, log, entered := hungCloseGuard(t, a, b)
	if _, err := g.VerifyToken(context.Background(), iss.Mint(jwkstest.WithClaim("iss", a))); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var err error
	go func() {
		// Longer than b's resolution may take (testTimeout), so that a loaded machine does not make it 503; a Close that held the request would still hold it past this end.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = g.VerifyToken(ctx, iss.Mint(jwkstest.WithClaim("iss", b))) // promoted, it drops a's key set
		close(done)
	}()
	within(t, done, "tenant b's request, its promotion dropping a's key set")
	if err != nil {
		t.Errorf("tenant b's genuine token: %v", err)
	}
	waitFor(t, func() bool { return entered.Load() == 1 }, "a's key set's Close to be called")
	if took := closeGuard(t, g); took > resolverTimeout {
		t.Errorf("Guard.Close took %s, past the resolver's timeout", took)
	}
	if l := log.String(); !strings.Contains(l, "Guard.Close gave up waiting for the issuer resolver's key sets' Close") || !strings.Contains(l, a) {
		t.Errorf("Guard.Close gave up on a's Close; logged %q", l)
	}
}

// The same Close, called by a resolution that drops a pending key set (two
// tokens naming public tenant names, forged, are enough): the resolution
// is done at once, the forged token refused as such, not 503 after the
// wait for it, and Guard.Close, which waits for resolutions, returns.
// Found by a sixth review (Guard.Close never returned).
func TestResolverHungCloseHoldsNoResolution(t *testing.T) {
	t.Parallel()
	const a, b = "https://a.example", "https://b.example"
	iss, g, _, entered := hungCloseGuard(t, a, b)
	for _, name := range []string{a, b} { // b's key set, pending, drops a's
		if _, err := g.VerifyToken(context.Background(), badSignature(iss.Mint(jwkstest.WithClaim("iss", name)))); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("%s's forged token: %v, want it refused as invalid", name, err)
		}
	}
	waitFor(t, func() bool { return entered.Load() == 1 }, "a's key set's Close to be called")
	if took := closeGuard(t, g); took > resolverTimeout {
		t.Errorf("Guard.Close took %s, past the resolver's timeout", took)
	}
}

// Closes given up on but still running are bounded, as calls of allow and
// keys are: past maxAbandonedCloses, a dropped key set is not closed
// (logged), so Closes that hang for good do not cost a goroutine per
// eviction. Found by a sixth review (each eviction during the hang held
// one more goroutine, uncounted).
func TestResolverHungClosesAreBounded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	var entered atomic.Int64
	rv, log := testResolver(t, func(context.Context, string) (bool, error) { return true, nil },
		func(string) (KeySet, error) { return hangingClose{staticKeys{}, &entered, release}, nil })
	t.Cleanup(free) // before the resolver's close, should the test stop early
	rv.limits.KeySets = 1
	resolve := func(i int) {
		t.Helper()
		if is, rsn := rv.resolve(context.Background(), fmt.Sprintf("https://t%d.example", i)); is == nil {
			t.Fatalf("tenant %d: reason %d", i, rsn)
		}
	}
	for i := range maxAbandonedCloses + 1 { // each drops the one before
		resolve(i)
	}
	// Giving up on a Close is the resolver's own timer (rv.timeout,
	// testTimeout here); nothing else tells when it has fired.
	waitFor(t, func() bool { return rv.hungCloses() == maxAbandonedCloses }, "the hung Closes to be given up on")
	resolve(maxAbandonedCloses + 1)
	if n := rv.closesRunning(); n != maxAbandonedCloses {
		t.Errorf("%d Closes running past the bound, want %d", n, maxAbandonedCloses)
	}
	if !strings.Contains(log.String(), "dropped without its Close") {
		t.Errorf("a key set dropped past the bound; logged %q", log.String())
	}
	free()
	waitFor(t, func() bool { return rv.closesRunning() == 0 && rv.hungCloses() == 0 }, "the released Closes to be counted as returned")
	resolve(maxAbandonedCloses + 2)
	waitFor(t, func() bool { return entered.Load() == maxAbandonedCloses+1 }, "a key set dropped below the bound to be closed")
}

// badSignature is tok with its signature's first character changed: a
// token anyone can make who knows an iss, which verifies with no key.
func badSignature(tok string) string {
	sig := strings.LastIndexByte(tok, '.') + 1
	c := byte('A')
	if tok[sig] == c {
		c = 'B'
	}
	return tok[:sig] + string(c) + tok[sig+1:]
}

func (rv *resolver) closesRunning() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return len(rv.closing)
}

func (rv *resolver) hungCloses() int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.hung
}

// Key sets made for tokens none of which has verified yet wait in pending,
// bounded as the held ones are and apart from them, and a repeated token
// of a pending issuer is answered from there, unasked; promote moves one
// into the held set, dropping the least recently used past the bound.
func TestResolverPendingKeySets(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	rv, _ := testResolver(t, func(context.Context, string) (bool, error) { asked.Add(1); return true, nil },
		func(string) (KeySet, error) { return staticKeys{}, nil })
	rv.limits.KeySets = 2
	resolve := func(iss string) *issuer {
		t.Helper()
		is, rsn := rv.resolve(context.Background(), iss)
		if is == nil {
			t.Fatalf("%s: reason %d", iss, rsn)
		}
		return is
	}
	a := resolve("https://a.example")
	rv.promote(a)
	b := resolve("https://b.example")
	rv.promote(b)
	for i := range 5 {
		resolve(fmt.Sprintf("https://forged%d.example", i))
	}
	if yes, pending := rv.yes.len(), rv.pending.len(); yes != 2 || pending != 2 || a.retired.Load() || b.retired.Load() {
		t.Fatalf("held %d, pending %d, a retired %v, b retired %v; want 2, 2 and neither", yes, pending, a.retired.Load(), b.retired.Load())
	}
	n := asked.Load()
	last := resolve("https://forged4.example")
	if asked.Load() != n || !last.pending.Load() {
		t.Errorf("a repeated token of a pending issuer asked allow %d times more", asked.Load()-n)
	}
	rv.promote(last)
	if yes, pending := rv.yes.len(), rv.pending.len(); yes != 2 || pending != 1 || !a.retired.Load() || last.pending.Load() {
		t.Errorf("after promote: held %d, pending %d, a retired %v; want 2, 1 and a retired", yes, pending, a.retired.Load())
	}
}

// heldOf counts the cache's tokens, and those of them whose issuer is
// retired.
func (tc *tokenCache) heldOf() (held, retired int) {
	tc.gen.Load().entries.Range(func(_, v any) bool {
		held++
		if v.(*cacheEntry).is.retired.Load() {
			retired++
		}
		return true
	})
	return held, retired
}

// Guard.Close waits for the Close of a key set that a promotion on a
// request's path dropped just before (the KeySets bound): the promotion
// is counted as a resolution is. Its Close was begun only after the token
// cache's walk (dropIssuer; here slowed down, as a large cache's would
// be), and a Guard.Close in between returned without it, the key set's
// refresh goroutine outliving it. Found by a review.
func TestResolverGuardCloseWaitsForAPromotionsDrop(t *testing.T) {
	t.Parallel()
	const a, b = "https://a.example", "https://b.example"
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(testAudience), jwkstest.WithTokenLifetime(time.Hour))
	t.Cleanup(iss.Close)
	base := iss.NewCache()
	t.Cleanup(base.Close)
	var mu sync.Mutex
	made := map[string]*jwks.Cache{}
	newKeys := func(s string) (KeySet, error) {
		c := iss.NewCache() // a real key set: its own refresh goroutine
		mu.Lock()
		made[s] = c
		mu.Unlock()
		return c, nil
	}
	g, err := New(base, iss.URL(), []string{testAudience},
		WithIssuerResolver(func(_ context.Context, s string) (bool, error) { return s == a || s == b, nil }, newKeys),
		WithResolverLimits(ResolverLimits{KeySets: 1}))
	if err != nil {
		t.Fatal(err)
	}
	orig := g.resolver.onRetire
	retiring := make(chan struct{})
	g.resolver.onRetire = func(is *issuer) {
		if is.name == a {
			close(retiring)
			time.Sleep(300 * time.Millisecond) // a large cache's walk: the window to hit, not a wait for a timer
		}
		orig(is)
	}
	if _, err := g.VerifyToken(context.Background(), iss.Mint(jwkstest.WithClaim("iss", a))); err != nil {
		t.Fatal(err)
	}
	go g.VerifyToken(context.Background(), iss.Mint(jwkstest.WithClaim("iss", b))) // promoted, drops a's key set
	<-retiring
	g.Close()
	mu.Lock()
	ca, cb := made[a], made[b]
	mu.Unlock()
	if cb.Status().Stopped == nil {
		t.Errorf("b's key set still running after Guard.Close")
	}
	if ca.Status().Stopped == nil {
		t.Errorf("Guard.Close returned while a's key set (dropped by b's promotion before Close) had not been closed: its refresh goroutine outlives Guard.Close")
	}
}
