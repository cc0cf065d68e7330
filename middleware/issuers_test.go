package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/memsize"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// issuerWithKeys starts a test issuer and a key cache over it (which starts
// fetching at once: waitKeys waits for its first keys).
func issuerWithKeys(t *testing.T, opts ...jwkstest.Option) (*jwkstest.Issuer, *jwks.Cache) {
	t.Helper()
	iss := jwkstest.NewIssuer(append([]jwkstest.Option{jwkstest.WithAudience(aud)}, opts...)...)
	t.Cleanup(iss.Close)
	return iss, iss.NewCache(jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
}

// cacheFor starts a key cache over iss without waiting for its keys.
func cacheFor(t *testing.T, iss *jwkstest.Issuer) *jwks.Cache {
	t.Helper()
	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)),
		jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	return keys
}

// newGuard is middleware.New for the test's audience, failing the test on
// a configuration error; the Guard is closed when the test ends.
func newGuard(t *testing.T, keys middleware.KeySet, iss string, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	g, err := middleware.New(keys, iss, []string{aud}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// verifyWith runs tok through g and returns the claims or the error.
func verifyWith(g *middleware.Guard, tok string) (*claims.Claims, error) {
	return g.VerifyToken(context.Background(), tok)
}

// eventually polls cond, bounded above: what it waits for happens on
// another goroutine (a key set's Close, run out of hand), not on a timer.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling another goroutine, bounded above
	}
}

// Two issuers, each with its own key set: each one's tokens verify with its
// own keys only, an unknown iss costs no request, and the metrics say which.
func TestSeveralIssuers(t *testing.T) {
	t.Parallel()
	a, keysA := issuerWithKeys(t)
	b, keysB := issuerWithKeys(t, jwkstest.WithDefaultAlgorithm("ES256"))
	m := &outcomeLog{}
	g := newGuard(t, keysA, a.URL(), middleware.WithIssuer(keysB, b.URL()), middleware.WithMetrics(m))
	if got := g.Issuers(); !slices.Equal(got, []string{a.URL(), b.URL()}) {
		t.Fatalf("Issuers() = %q", got)
	}
	for _, iss := range []*jwkstest.Issuer{a, b} {
		c, err := verifyWith(g, iss.Mint())
		if err != nil || c.Issuer != iss.URL() {
			t.Fatalf("token of %s: %v %v", iss.URL(), c, err)
		}
	}
	a.ResetCounters()
	b.ResetCounters()

	// iss names A, but B's key signed it, under B's kid: A has no such key
	// (one refresh of A's set may look for it), and B is never asked.
	cross := b.Mint(jwkstest.WithClaim("iss", a.URL()))
	if _, err := verifyWith(g, cross); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("A's iss with B's key: %v, want ErrUnknownKey", err)
	}
	if n := b.JWKSFetches() + b.DiscoveryFetches(); n != 0 {
		t.Fatalf("B was asked %d times for a token naming A", n)
	}
	if n := a.JWKSFetches(); n > 1 {
		t.Fatalf("A's keys fetched %d times for one unknown kid", n)
	}

	// An iss that is not configured: refused before any key is looked up.
	a.ResetCounters()
	for _, iss := range []string{"https://stranger.example", "", a.URL() + "/"} {
		stranger := a.Mint(jwkstest.WithClaim("iss", iss), jwkstest.WithKID("unknown-kid"))
		if _, err := verifyWith(g, stranger); !errors.Is(err, middleware.ErrIssuer) {
			t.Fatalf("iss %q: %v, want ErrIssuer", iss, err)
		}
	}
	if n := a.JWKSFetches() + a.DiscoveryFetches() + b.JWKSFetches() + b.DiscoveryFetches(); n != 0 {
		t.Fatalf("unknown issuers caused %d requests", n)
	}
	want := []string{a.URL() + " ok", b.URL() + " ok", a.URL() + " unknown_key", " issuer", " issuer", " issuer"}
	if got := m.pairs(); !slices.Equal(got, want) {
		t.Fatalf("outcomes %q, want %q", got, want)
	}
}

// Two issuers may publish the same kid for different keys: each token is
// verified with its own issuer's key.
func TestSameKIDAtTwoIssuers(t *testing.T) {
	t.Parallel()
	a, keysA := issuerWithKeys(t, jwkstest.WithDefaultAlgorithm("ES256"))
	kid := a.SigningKID("ES256")
	b := jwkstest.NewIssuer(jwkstest.WithAudience(aud), jwkstest.WithDefaultAlgorithm("ES256"))
	t.Cleanup(b.Close)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw := jwkstest.PublicJWK(&other.PublicKey, kid, map[string]any{"alg": "ES256", "use": "sig"})
	hostile.Of(b).SetJWKSBody([]byte(`{"keys":[` + string(raw) + `]}`))
	keysB := b.NewCache()
	g := newGuard(t, keysA, a.URL(), middleware.WithIssuer(keysB, b.URL()))
	tokA := a.Mint()
	tokB := b.Mint(jwkstest.WithKID(kid), jwkstest.WithSigningKey(other))
	for name, tok := range map[string]string{"A": tokA, "B": tokB} {
		if _, err := verifyWith(g, tok); err != nil {
			t.Fatalf("%s's token: %v", name, err)
		}
	}
	// Swap the issuers: same kid, same header, the other issuer's key.
	swapped := b.Mint(jwkstest.WithKID(kid), jwkstest.WithSigningKey(other), jwkstest.WithClaim("iss", a.URL()))
	if _, err := verifyWith(g, swapped); !errors.Is(err, middleware.ErrSignature) {
		t.Fatalf("B's key under A's iss: %v, want ErrSignature", err)
	}
}

// A token of an issuer whose keys never arrived is 503; the other issuer's
// tokens are verified as usual.
func TestUnreachableIssuerDoesNotAffectTheOther(t *testing.T) {
	t.Parallel()
	down := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(down.Close)
	down.SetFault(jwkstest.FaultDown) // before its cache's first fetch
	keysDown := cacheFor(t, down)
	up, keysUp := issuerWithKeys(t)
	g := newGuard(t, keysDown, down.URL(), middleware.WithIssuer(keysUp, up.URL()))
	if _, err := verifyWith(g, down.Mint()); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("token of the issuer that is down: %v, want ErrKeysUnavailable", err)
	}
	if _, err := verifyWith(g, up.Mint()); err != nil {
		t.Fatalf("token of the issuer that is up: %v", err)
	}
	// Neither issuer ready: any token at all is 503, as with one issuer.
	g2, err := middleware.New(keysDown, down.URL(), []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifyWith(g2, "not-even-a-jwt"); !errors.Is(err, middleware.ErrKeysUnavailable) {
		t.Fatalf("before any keys: %v, want ErrKeysUnavailable", err)
	}
}

// A change in one issuer's keys drops that issuer's cached tokens only.
func TestTokenCachePerIssuer(t *testing.T) {
	t.Parallel()
	a, keysA := issuerWithKeys(t)
	b, keysB := issuerWithKeys(t)
	m := &cacheCounter{}
	g := newGuard(t, keysA, a.URL(), middleware.WithIssuer(keysB, b.URL()), middleware.WithMetrics(m))
	tokA, tokB := a.Mint(), b.Mint()
	for _, tok := range []string{tokA, tokB, tokA, tokB} {
		if _, err := verifyWith(g, tok); err != nil {
			t.Fatal(err)
		}
	}
	if h, mi := m.hits.Load(), m.misses.Load(); h != 2 || mi != 2 {
		t.Fatalf("hits %d misses %d, want 2 and 2", h, mi)
	}
	// A rotates; a token with A's new kid makes the cache fetch A's keys.
	kid := a.Rotate("RS256")
	if _, err := verifyWith(g, a.Mint(jwkstest.WithKID(kid))); err != nil {
		t.Fatal(err)
	}
	m.hits.Store(0)
	m.misses.Store(0)
	for _, tok := range []string{tokA, tokB} {
		if _, err := verifyWith(g, tok); err != nil {
			t.Fatal(err)
		}
	}
	if h, mi := m.hits.Load(), m.misses.Load(); h != 1 || mi != 1 {
		t.Fatalf("after A's rotation: hits %d misses %d, want B's hit and A's miss", h, mi)
	}
}

// Each issuer's token shape is its own: WithScopeClaims for B reads B's
// roles, never A's.
func TestIssuerOptionsAreTheIssuers(t *testing.T) {
	t.Parallel()
	a, keysA := issuerWithKeys(t)
	b, keysB := issuerWithKeys(t)
	g := newGuard(t, keysA, a.URL(), middleware.WithIssuer(keysB, b.URL(), middleware.WithScopeClaims("roles"), middleware.WithIssuerAliases("b.example")))
	admin := g.Rule(middleware.Scopes("admin"))
	ctx := context.Background()
	if _, err := admin.VerifyToken(ctx, b.Mint(jwkstest.WithClaim("roles", []string{"admin"}))); err != nil {
		t.Fatalf("B's role: %v", err)
	}
	if _, err := admin.VerifyToken(ctx, b.Mint(jwkstest.WithClaim("roles", []string{"admin"}), jwkstest.WithClaim("iss", "b.example"))); err != nil {
		t.Fatalf("B's alias: %v", err)
	}
	if _, err := admin.VerifyToken(ctx, a.Mint(jwkstest.WithClaim("roles", []string{"admin"}))); !errors.Is(err, middleware.ErrInsufficientScope) {
		t.Fatalf("A's role: %v, want ErrInsufficientScope", err)
	}
	if _, err := verifyWith(g, a.Mint(jwkstest.WithClaim("iss", "b.example"))); !errors.Is(err, middleware.ErrUnknownKey) {
		t.Fatalf("A's key under B's alias: %v, want ErrUnknownKey", err)
	}
}

func TestIssuerConfigurationErrors(t *testing.T) {
	t.Parallel()
	_, keys := issuerWithKeys(t)
	const iss = "https://a.example"
	for name, opts := range map[string][]middleware.Option{
		"Guard option in WithIssuer": {middleware.WithIssuer(keys, "https://b.example", middleware.WithLeeway(time.Second))},
		"same iss twice":             {middleware.WithIssuer(keys, iss)},
		"alias of another issuer":    {middleware.WithIssuer(keys, "https://b.example", middleware.WithIssuerAliases(iss))},
		"nil key set":                {middleware.WithIssuer(nil, "https://b.example")},
		"empty issuer":               {middleware.WithIssuer(keys, "")},
		"WithTenants on a literal":   {middleware.WithTenants("t")},
		"template without tenant":    {middleware.WithIssuerTemplate(keys, "https://login.example/v2.0")},
		"template with two":          {middleware.WithIssuerTemplate(keys, "https://x/{tenantid}/{tenantid}")},
		"empty tenant list":          {middleware.WithIssuerTemplate(keys, "https://x/{tenantid}", middleware.WithTenants())},
		"nested issuers":             {middleware.WithIssuer(keys, "https://b.example", middleware.WithIssuer(keys, "https://c.example"))},
		"the same template twice": {
			middleware.WithIssuerTemplate(keys, "https://login.example/{tenantid}/v2.0"),
			middleware.WithIssuerTemplate(keys, "https://login.example/{tenantid}/v2.0"),
		},
		"two resolvers": {
			middleware.WithIssuerResolver(allowAll, nil),
			middleware.WithIssuerResolver(allowAll, nil),
		},
	} {
		if _, err := middleware.New(keys, iss, []string{aud}, opts...); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

// An option given where it does not belong is named, with where it goes;
// a nil one is an error too, not a panic inside New.
func TestMisplacedOptionErrors(t *testing.T) {
	t.Parallel()
	_, keys := issuerWithKeys(t)
	const iss = "https://a.example"
	for _, tc := range []struct {
		opt  middleware.Option
		want string
	}{
		{middleware.WithIssuer(keys, "https://b.example", middleware.WithLeeway(time.Second)),
			`middleware: WithIssuer("https://b.example") was given the Guard option WithLeeway; give Guard options to New`},
		{middleware.WithIssuerTemplate(keys, "https://x/{tenantid}", middleware.WithTypes("JWT"), middleware.WithScopeClaims("roles"), middleware.WithoutTokenCache()),
			`middleware: WithIssuerTemplate("https://x/{tenantid}") was given the Guard options WithTypes, WithoutTokenCache; give Guard options to New`},
		{middleware.WithIssuerResolver(allowAll, nilKeys, middleware.WithDPoP(middleware.DPoPRequired)),
			`middleware: WithIssuerResolver was given the Guard option WithDPoP; give Guard options to New`},
		{middleware.WithIssuer(keys, "https://b.example", middleware.WithIssuer(keys, "https://c.example")),
			`middleware: WithIssuer("https://b.example") was given another issuer among its options; give each issuer to New`},
		{nil, "middleware: nil Option"},
		{middleware.WithIssuer(keys, "https://b.example", middleware.WithScopeClaims("roles"), nil),
			`middleware: nil Option among the options of WithIssuer("https://b.example")`},
		{middleware.WithIssuerResolver(allowAll, nilKeys, nil),
			`middleware: nil Option among the options of WithIssuerResolver`},
	} {
		_, err := middleware.New(keys, iss, []string{aud}, tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("New: %v\nwant %s", err, tc.want)
		}
	}
}

func nilKeys(string) (middleware.KeySet, error) { return nil, nil }

func allowAll(context.Context, string) (bool, error) { return true, nil }

// Multi-tenant Entra ID: one key set, an issuer per tenant, matched by the
// token's own tid; an allow-list narrows it.
func TestIssuerTemplate(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	const (
		tenant  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		other   = "00000000-0000-0000-0000-000000000001"
		entraV2 = "https://login.microsoftonline.com/{tenantid}/v2.0"
	)
	issFor := func(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }
	open, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithIssuerTemplate(keys, entraV2))
	if err != nil {
		t.Fatal(err)
	}
	narrow, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithIssuerTemplate(keys, entraV2, middleware.WithTenants(tenant)))
	if err != nil {
		t.Fatal(err)
	}
	tok := func(issClaim string, tid any) string {
		opts := []jwkstest.MintOption{jwkstest.WithClaim("iss", issClaim)}
		if tid != nil {
			opts = append(opts, jwkstest.WithClaim("tid", tid))
		}
		return iss.Mint(opts...)
	}
	for name, tc := range map[string]struct {
		tok        string
		open, narr error
	}{
		"tenant matches":      {tok(issFor(tenant), tenant), nil, nil},
		"another tenant":      {tok(issFor(other), other), nil, middleware.ErrIssuer},
		"tid mismatch":        {tok(issFor(tenant), other), middleware.ErrIssuer, middleware.ErrIssuer},
		"tid absent":          {tok(issFor(tenant), nil), middleware.ErrIssuer, middleware.ErrIssuer},
		"tid not a string":    {tok(issFor(tenant), 7), middleware.ErrIssuer, middleware.ErrIssuer},
		"empty tenant":        {tok(issFor(""), ""), middleware.ErrIssuer, middleware.ErrIssuer},
		"path in the tenant":  {tok(issFor(tenant+"/x"), tenant+"/x"), middleware.ErrIssuer, middleware.ErrIssuer},
		"v1 issuer":           {tok("https://sts.windows.net/"+tenant+"/", tenant), middleware.ErrIssuer, middleware.ErrIssuer},
		"the literal issuer":  {tok(iss.URL(), nil), nil, nil},
		"template itself":     {tok(entraV2, "{tenantid}"), middleware.ErrIssuer, middleware.ErrIssuer},
		"suffix lookalike":    {tok(issFor(tenant)+"x", tenant), middleware.ErrIssuer, middleware.ErrIssuer},
		"prefix lookalike":    {tok("https://login.microsoftonline.com.evil/"+tenant+"/v2.0", tenant), middleware.ErrIssuer, middleware.ErrIssuer},
		"tenant in the query": {tok(issFor(tenant)+"?"+tenant, tenant), middleware.ErrIssuer, middleware.ErrIssuer},
	} {
		for _, g := range []struct {
			name string
			g    *middleware.Guard
			want error
		}{{"open", open, tc.open}, {"narrow", narrow, tc.narr}} {
			_, err := verifyWith(g.g, tc.tok)
			if (g.want == nil) != (err == nil) || (g.want != nil && !errors.Is(err, g.want)) {
				t.Errorf("%s, %s: %v, want %v", name, g.name, err, g.want)
			}
		}
	}
}

// Microsoft Entra ID binds each key of its JWKS to the issuer it signs for
// ("issuer": every tenant's, {tenantid}, or one tenant's alone). A token
// verifies only with a key bound to its own iss, filled with its own tid,
// whichever of the Guard's issuers matched it: a key of one tenant must not
// sign for another (Storm-0558). A key bound to nothing is unaffected.
func TestKeysBoundToAnIssuer(t *testing.T) {
	t.Parallel()
	const (
		a, b, msa = guardtest.EntraTenantA, guardtest.EntraTenantB, guardtest.EntraConsumers
		template  = guardtest.EntraV2Template
	)
	issFor := guardtest.EntraIssuer
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	shared, scoped, ownA, plain := iss.Rotate("ES256"), iss.Rotate("ES256"), iss.Rotate("ES256"), iss.Rotate("ES256")
	guardtest.PublishBound(iss, map[string]string{shared: template, scoped: issFor(msa), ownA: issFor(a), plain: ""})
	keys := iss.NewCache()
	multi := newGuard(t, nil, "", middleware.WithIssuerTemplate(keys, template, middleware.WithTenants(a, b, msa)))
	single := newGuard(t, keys, issFor(a)) // EntraID's: a literal issuer over the tenant's own JWKS
	tok := func(kid, tenant string, tid any) string {
		opts := []jwkstest.MintOption{jwkstest.WithKID(kid), jwkstest.WithClaim("iss", issFor(tenant))}
		if tid != nil {
			opts = append(opts, jwkstest.WithClaim("tid", tid))
		}
		return iss.Mint(opts...)
	}
	for _, tc := range []struct {
		name string
		g    *middleware.Guard
		tok  string
		want error
	}{
		{"shared key, tenant a", multi, tok(shared, a, a), nil},
		{"shared key, tenant b", multi, tok(shared, b, b), nil},
		{"shared key, the consumer tenant", multi, tok(shared, msa, msa), nil},
		{"consumer tenant's key, tenant a", multi, tok(scoped, a, a), middleware.ErrKeyMismatch},
		{"consumer tenant's key, its own", multi, tok(scoped, msa, msa), nil},
		{"tenant a's key, its own", multi, tok(ownA, a, a), nil},
		{"tenant a's key, tenant b", multi, tok(ownA, b, b), middleware.ErrKeyMismatch},
		{"unbound key, tenant b", multi, tok(plain, b, b), nil},
		{"literal issuer, shared key", single, tok(shared, a, a), nil},
		{"literal issuer, shared key, another tid", single, tok(shared, a, b), middleware.ErrKeyMismatch},
		{"literal issuer, shared key, no tid", single, tok(shared, a, nil), middleware.ErrKeyMismatch},
		{"literal issuer, shared key, tid not a string", single, tok(shared, a, 7), middleware.ErrKeyMismatch},
		{"literal issuer, its own key, no tid", single, tok(ownA, a, nil), nil},
		{"literal issuer, consumer tenant's key", single, tok(scoped, a, a), middleware.ErrKeyMismatch},
		{"literal issuer, unbound key, no tid", single, tok(plain, a, nil), nil},
	} {
		_, err := verifyWith(tc.g, tc.tok)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// The token cache holds only verified tokens, under the key set's version:
// a token refused for its key's issuer is refused every time, and one
// cached while its key was shared is refused once the JWKS binds that same
// key to another tenant.
func TestTokenCacheKeepsKeysBoundToTheirIssuer(t *testing.T) {
	t.Parallel()
	const a, msa = "72f988bf-86f1-41af-91ab-2d7cd011db47", "9188040d-6c67-4c5b-b112-36a304b66dad"
	issFor := func(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	shared, scoped := iss.Rotate("ES256"), iss.Rotate("ES256")
	guardtest.PublishBound(iss, map[string]string{shared: issFor(middleware.TenantPlaceholder), scoped: issFor(msa)})
	m := &cacheCounter{}
	g := newGuard(t, nil, "", middleware.WithMetrics(m),
		middleware.WithIssuerTemplate(iss.NewCache(), issFor(middleware.TenantPlaceholder), middleware.WithTenants(a)))
	tok := func(kid string) string {
		return iss.Mint(jwkstest.WithKID(kid), jwkstest.WithClaim("iss", issFor(a)), jwkstest.WithClaim("tid", a))
	}
	foreign := tok(scoped)
	for range 3 {
		if _, err := verifyWith(g, foreign); !errors.Is(err, middleware.ErrKeyMismatch) {
			t.Fatalf("a token of tenant a by the consumer tenant's key: %v", err)
		}
	}
	if m.hits.Load() != 0 {
		t.Fatalf("%d cache hits for a refused token", m.hits.Load())
	}
	cached := tok(shared)
	for range 2 {
		if _, err := verifyWith(g, cached); err != nil {
			t.Fatalf("a shared key's token: %v", err)
		}
	}
	if m.hits.Load() != 1 {
		t.Fatalf("%d cache hits, want 1", m.hits.Load())
	}
	// The same key, now bound to the consumer tenant; a token of a new kid
	// makes the cache refresh.
	fresh := iss.Rotate("ES256")
	guardtest.PublishBound(iss, map[string]string{shared: issFor(msa), fresh: ""})
	if _, err := verifyWith(g, tok(fresh)); err != nil {
		t.Fatalf("a new unbound key's token: %v", err)
	}
	if _, err := verifyWith(g, cached); !errors.Is(err, middleware.ErrKeyMismatch) {
		t.Fatalf("a cached token of a key rebound to another tenant: %v", err)
	}
}

// countingKeys is a resolver's key set that counts its closes.
type countingKeys struct {
	*jwks.Cache
	closed *atomic.Int64
}

func (k countingKeys) Close() { k.closed.Add(1); k.Cache.Close() }

// A flood of made-up issuers costs the resolver a bounded number of calls,
// no key set and no request, and bounded memory; many allowed issuers are
// held in a bounded set, the least recently used closed.
func TestIssuerResolverIsBounded(t *testing.T) {
	iss, keys := issuerWithKeys(t)
	var asked, made atomic.Int64
	allowNone := func(context.Context, string) (bool, error) { asked.Add(1); return false, nil }
	noKeys := func(string) (middleware.KeySet, error) { made.Add(1); return nil, errors.New("never") }
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allowNone, noKeys), middleware.WithResolverLimits(middleware.ResolverLimits{Answers: 1000, PerSecond: 1000}))
	// One signed token, re-signed per issuer would cost too long: the iss
	// is read before any signature check, so a forged signature will do.
	base := iss.Mint()
	before := memsize.Heap()
	start := time.Now()
	flood := 100_000
	if raceEnabled {
		flood = 20_000
	}
	var refused, unavailable int
	for i := range flood {
		tok := mintUnsigned(t, fmt.Sprintf("https://tenant-%d.example", i))
		_, err := verifyWith(g, tok)
		switch {
		case errors.Is(err, middleware.ErrIssuer):
			refused++
		case errors.Is(err, middleware.ErrKeysUnavailable):
			unavailable++
		default:
			t.Fatalf("made-up issuer %d: %v", i, err)
		}
	}
	elapsed := time.Since(start)
	grew := memsize.Heap() - before
	// The limiter: 1000 a second with a burst of 2000.
	if max := int64(2000 + 1000*elapsed.Seconds() + 1000); asked.Load() > max {
		t.Fatalf("the resolver was asked %d times in %s, more than the limit allows (%d)", asked.Load(), elapsed, max)
	}
	if int64(refused) != asked.Load() || refused+unavailable != flood {
		t.Fatalf("refused %d (asked %d), unavailable %d", refused, asked.Load(), unavailable)
	}
	if made.Load() != 0 {
		t.Fatalf("%d key sets made for refused issuers", made.Load())
	}
	if grew > 8<<20 {
		t.Fatalf("heap grew by %d bytes for a flood of made-up issuers", grew)
	}
	if _, err := verifyWith(g, base); err != nil {
		t.Fatalf("the configured issuer during the flood: %v", err)
	}
}

// mintUnsigned makes a token whose signature is garbage: enough for every
// check that runs before the key lookup.
func mintUnsigned(t *testing.T, iss string) string {
	t.Helper()
	payload := fmt.Sprintf(`{"iss":%q,"sub":"u","aud":%q,"exp":%d}`, iss, aud, time.Now().Add(time.Hour).Unix())
	return b64([]byte(`{"alg":"RS256","kid":"k"}`)) + "." + b64([]byte(payload)) + ".c2ln"
}

func TestIssuerResolverHoldsABoundedSetOfKeySets(t *testing.T) {
	t.Parallel()
	// One issuer server stands in for every tenant: each tenant's iss is
	// accepted, and its "key set" is a cache of that server's keys.
	iss, keys := issuerWithKeys(t)
	var closed, made atomic.Int64
	newKeys := func(string) (middleware.KeySet, error) {
		made.Add(1)
		c, err := jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return nil, err
		}
		return countingKeys{c, &closed}, nil
	}
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allowAll, newKeys), middleware.WithResolverLimits(middleware.ResolverLimits{KeySets: 3, PerSecond: 1000}))
	const tenants = 10
	for round := range 2 {
		for i := range tenants {
			tenant := fmt.Sprintf("https://tenant-%d.example", i)
			c, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("iss", tenant)))
			if err != nil || c.Issuer != tenant {
				t.Fatalf("round %d, tenant %d: %v", round, i, err)
			}
		}
	}
	// Each tenant's key set is made once per time it is let in, and never
	// more than three are held.
	if made.Load() != 2*tenants {
		t.Fatalf("%d key sets made, want %d (each evicted before its next use)", made.Load(), 2*tenants)
	}
	// A dropped key set is closed on a goroutine of its own.
	eventually(t, func() bool { return made.Load()-closed.Load() <= 3 }, "the dropped key sets to be closed")
	if open := made.Load() - closed.Load(); open != 3 {
		t.Fatalf("%d key sets open, want 3", open)
	}
	g.Close()
	if made.Load() != closed.Load() {
		t.Fatalf("after Close: %d made, %d closed", made.Load(), closed.Load())
	}
}

// The resolver's answers and errors: a no is 401 and remembered, an error is
// 503 and not remembered.
func TestIssuerResolverAnswers(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	var asked atomic.Int64
	fail := atomic.Bool{}
	allow := func(_ context.Context, s string) (bool, error) {
		asked.Add(1)
		if fail.Load() {
			return false, errors.New("database down")
		}
		return s == "https://good.example", nil
	}
	newKeys := func(string) (middleware.KeySet, error) { return keys, nil }
	g := newGuard(t, keys, iss.URL(), middleware.WithIssuerResolver(allow, newKeys))
	bad := iss.Mint(jwkstest.WithClaim("iss", "https://bad.example"))
	for range 3 {
		if _, err := verifyWith(g, bad); !errors.Is(err, middleware.ErrIssuer) {
			t.Fatalf("refused issuer: %v", err)
		}
	}
	if asked.Load() != 1 {
		t.Fatalf("asked %d times for one refused issuer, want 1", asked.Load())
	}
	fail.Store(true)
	good := iss.Mint(jwkstest.WithClaim("iss", "https://good.example"))
	for range 2 {
		if _, err := verifyWith(g, good); !errors.Is(err, middleware.ErrKeysUnavailable) {
			t.Fatalf("resolver error: %v, want ErrKeysUnavailable", err)
		}
	}
	if asked.Load() != 3 {
		t.Fatalf("errors were remembered: asked %d times", asked.Load())
	}
	fail.Store(false)
	if c, err := verifyWith(g, good); err != nil || c.Issuer != "https://good.example" {
		t.Fatalf("allowed issuer: %v", err)
	}
	// The HTTP face of the same answers.
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for tok, want := range map[string]int{good: 200, bad: 401} {
		if rec := serveOnce(h, "/", tok); rec.Status != want {
			t.Fatalf("status %d, want %d", rec.Status, want)
		}
	}
}

// New without an issuer of its own, every issuer given by the options (as
// the provider presets do), and what it refuses.
func TestNewWithTheOptionsIssuersOnly(t *testing.T) {
	t.Parallel()
	a, keysA := issuerWithKeys(t)
	b, keysB := issuerWithKeys(t)
	g := newGuard(t, nil, "", middleware.WithIssuer(keysA, a.URL(), middleware.WithClientIDClaims("azp")),
		middleware.WithIssuerTemplate(keysB, b.URL()+"/{tenantid}"))
	if g.Issuer() != a.URL() {
		t.Fatalf("Issuer() = %q, want the first option's", g.Issuer())
	}
	if c, err := verifyWith(g, a.Mint(jwkstest.WithClaim("azp", "cl"))); err != nil || c.ClientID != "cl" {
		t.Fatalf("a's token: %v, %+v", err, c)
	}
	const tid = "t1"
	if _, err := verifyWith(g, b.Mint(jwkstest.WithClaim("iss", b.URL()+"/"+tid), jwkstest.WithClaim("tid", tid))); err != nil {
		t.Fatalf("a tenant of the template: %v", err)
	}
	if _, err := verifyWith(g, b.Mint()); !errors.Is(err, middleware.ErrIssuer) {
		t.Fatalf("b's own iss, not a tenant: %v, want ErrIssuer", err)
	}
	for name, opts := range map[string][]middleware.Option{
		"no issuer at all":                       nil,
		"an issuer option with no issuer for it": {middleware.WithIssuer(keysA, a.URL()), middleware.WithScopeClaims("roles")},
	} {
		if _, err := middleware.New(nil, "", []string{aud}, opts...); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := middleware.New(keysA, "", []string{aud}); err == nil {
		t.Error("keys without an issuer accepted")
	}
	if _, err := middleware.New(nil, a.URL(), []string{aud}); err == nil {
		t.Error("an issuer without keys accepted")
	}
}

// WithOnClose's functions run once, in order, however often Close is
// called.
func TestWithOnCloseRunsOnce(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	var calls []string
	g, err := middleware.New(keys, iss.URL(), []string{aud},
		middleware.WithOnClose(func() { calls = append(calls, "a") }), middleware.WithOnClose(nil), middleware.WithOnClose(func() { calls = append(calls, "b") }))
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	g.Close()
	if !slices.Equal(calls, []string{"a", "b"}) {
		t.Errorf("Close twice ran %q, want [a b]", calls)
	}
}
