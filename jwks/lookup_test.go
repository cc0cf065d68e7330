package jwks_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// lookupCache is a ready Cache whose JWKS has kid "one" for an RSA key
// alone (the common case) and kid "two" for an RSA and an EC key.
func lookupCache(tb testing.TB) *jwks.Cache {
	tb.Helper()
	body, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		jwkstest.PublicJWK(testkeys.RSA().Public(), "one", nil),
		jwkstest.PublicJWK(testkeys.RSA().Public(), "two", nil),
		jwkstest.PublicJWK(testkeys.For("ES256").Public(), "two", nil),
	}})
	iss := jwkstest.NewIssuer()
	tb.Cleanup(iss.Close)
	hostile.Of(iss).SetJWKSBody(body)
	c := iss.NewCache()
	tb.Cleanup(c.Close)
	return c
}

// The lookup is on every uncached request's path: it allocates nothing,
// for a kid of one key or of two, a key that fits or none. (Not parallel:
// AllocsPerRun counts the whole process's allocations.)
func TestLookupAllocatesNothing(t *testing.T) {
	c := lookupCache(t)
	ctx := context.Background()
	for _, tc := range []struct{ kid, alg string }{{"one", "RS256"}, {"two", "RS256"}, {"two", "ES256"}, {"one", "ES256"}, {"two", "EdDSA"}} {
		if _, _, _, ok := c.LookupKey(tc.kid, tc.alg); !ok {
			t.Fatalf("%s %s: not found", tc.kid, tc.alg)
		}
		if n := testing.AllocsPerRun(100, func() { c.LookupKey(tc.kid, tc.alg) }); n != 0 {
			t.Errorf("LookupKey(%s, %s): %v allocations", tc.kid, tc.alg, n)
		}
	}
	for _, tc := range []struct{ kid, alg string }{{"one", "RS256"}, {"two", "RS256"}, {"two", "ES256"}} {
		if n := testing.AllocsPerRun(100, func() { c.LookupOrRefresh(ctx, tc.kid, tc.alg) }); n != 0 {
			t.Errorf("LookupOrRefresh(%s, %s): %v allocations", tc.kid, tc.alg, n)
		}
	}
}

// BenchmarkLookupOrRefresh is the key lookup of the Guard's verify path,
// for a kid of one key and for the second key of a kid of two.
func BenchmarkLookupOrRefresh(b *testing.B) {
	c := lookupCache(b)
	ctx := context.Background()
	for _, bc := range []struct{ name, kid, alg string }{{"one-key", "one", "RS256"}, {"two-keys", "two", "ES256"}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, ok := c.LookupOrRefresh(ctx, bc.kid, bc.alg); !ok {
					b.Fatal("not found")
				}
			}
		})
	}
}
