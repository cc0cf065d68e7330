package middleware

import (
	"fmt"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/internal/memsize"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// TestTokenCacheMemoryBound: what the cache accounts for an entry is at
// least what the heap really holds for it, for the shapes of genuine
// tokens under MaxCachedTokenSize that cost the most per byte (many short
// list elements or custom claims), and not wildly more for a typical one.
func TestTokenCacheMemoryBound(t *testing.T) {
	if testing.Short() {
		t.Skip("mints a few thousand tokens")
	}
	iss, keys := readyIssuer(t)
	list := func(prefix string, n int) []string {
		l := make([]string, n)
		for i := range l {
			l[i] = fmt.Sprintf("%s%d", prefix, i%10)
		}
		return l
	}
	shapes := map[string]func(n int) []jwkstest.MintOption{
		"typical": func(int) []jwkstest.MintOption {
			return []jwkstest.MintOption{jwkstest.WithScopes("notes:read", "notes:write")}
		},
		"aud array": func(n int) []jwkstest.MintOption {
			return []jwkstest.MintOption{jwkstest.WithClaim("aud", append([]string{testAudience}, list("a", n)...))}
		},
		"scope string": func(n int) []jwkstest.MintOption {
			return []jwkstest.MintOption{jwkstest.WithClaim("scope", strings.Join(list("s", n), " "))}
		},
		"groups array": func(n int) []jwkstest.MintOption {
			return []jwkstest.MintOption{jwkstest.WithClaim("groups", list("g", n))}
		},
		"custom claims": func(n int) []jwkstest.MintOption {
			opts := make([]jwkstest.MintOption, n)
			for i := range opts {
				opts[i] = jwkstest.WithClaim(fmt.Sprintf("c%d", i), 0)
			}
			return opts
		},
	}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			mint := func(n, id int) string {
				return iss.Mint(append(shape(n), jwkstest.WithClaim("jti", fmt.Sprintf("%04d", id)))...)
			}
			// The most elements that still fit under MaxCachedTokenSize.
			n := 1
			if name != "typical" {
				for len(mint(n*2, 0)) <= MaxCachedTokenSize {
					n *= 2
				}
				for step := n / 2; step > 0; step /= 2 {
					if len(mint(n+step, 0)) <= MaxCachedTokenSize {
						n += step
					}
				}
			}
			g, err := New(keys, iss.URL(), []string{testAudience}, WithTokenCache(1<<20, 1<<40))
			if err != nil {
				t.Fatal(err)
			}
			const count = 300
			toks := make([]string, count+1)
			base := shape(n) // made once: building n claims per token is most of the test's time
			for i := range toks {
				toks[i] = iss.Mint(append(base[:len(base):len(base)], jwkstest.WithClaim("jti", fmt.Sprintf("%04d", i+1)))...)
			}
			verify := func(tok string) {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				if _, err := g.Verify(r); err != nil {
					t.Fatalf("token of %d bytes refused: %v", len(tok), err)
				}
			}
			verify(toks[count]) // the cache's first generation, and warm-up
			accounted0 := g.cache.gen.Load().bytes.Load()
			before := memsize.Heap()
			for _, tok := range toks[:count] {
				verify(tok)
			}
			// The cache keeps the request's header string, "Bearer " and a
			// copy of the token, not the test's: all of it is in the delta.
			held := memsize.Heap() - before
			accounted := g.cache.gen.Load().bytes.Load() - accounted0
			if g.cache.gen.Load().n.Load() != count+1 {
				t.Fatalf("cache holds %d entries, want %d", g.cache.gen.Load().n.Load(), count+1)
			}
			t.Logf("%d elements, token %d bytes: held %d bytes/entry, accounted %d (%.2fx)",
				n, len(toks[0]), held/count, accounted/count, float64(accounted)/float64(held))
			if accounted < held {
				t.Errorf("accounted %d bytes per entry, but the heap holds %d", accounted/count, held/count)
			}
			if accounted > held*13/10 {
				t.Errorf("accounted %d bytes per entry, far more than the %d the heap holds", accounted/count, held/count)
			}
			runtime.KeepAlive(toks)
		})
	}
}

const testAudience = "https://api.example.com"

// readyIssuer starts an ES256 test issuer and a key cache over it with its
// first keys: the fixture of this package's internal tests.
func readyIssuer(t *testing.T) (*jwkstest.Issuer, *jwks.Cache) {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(testAudience), jwkstest.WithDefaultAlgorithm("ES256"))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	return iss, keys
}

// A token from a cookie is a substring of the whole Cookie header: the cache
// must keep a copy of the token, not the header it came in.
func TestTokenCacheDoesNotPinTheCookieHeader(t *testing.T) {
	iss, keys := readyIssuer(t)
	g, err := New(keys, iss.URL(), []string{testAudience}, WithCookie("at"))
	if err != nil {
		t.Fatal(err)
	}
	const count = 50
	toks := make([]string, count)
	for i := range toks {
		toks[i] = iss.Mint(jwkstest.WithClaim("jti", fmt.Sprint(i)))
	}
	pad := "pad=" + strings.Repeat("x", 256<<10)
	before := memsize.Heap()
	for _, tok := range toks {
		r := httptest.NewRequest("GET", "/", nil)
		// As the server reads it: one string per header line.
		r.Header["Cookie"] = []string{strings.Clone("at=" + tok + "; " + pad)}
		if _, err := g.Verify(r); err != nil {
			t.Fatal(err)
		}
	}
	held := memsize.Heap() - before
	accounted := g.cache.gen.Load().bytes.Load()
	t.Logf("held %d bytes/entry, accounted %d", held/count, accounted/count)
	if held > 2*accounted {
		t.Fatalf("the cache holds %d bytes per entry but accounts %d", held/count, accounted/count)
	}
}
