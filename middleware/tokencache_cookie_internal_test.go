package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// A token from a cookie is a substring of the whole Cookie header: the cache
// keeps the header alive but accounts only for the token.
func TestTokenCacheDoesNotPinTheCookieHeader(t *testing.T) {
	const aud = "https://api.example.com"
	iss, err := jwkstest.NewIssuer(jwkstest.WithAudience(aud), jwkstest.WithAlgorithm("ES256"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := New(keys, iss.URL(), []string{aud}, WithCookie("at"))
	if err != nil {
		t.Fatal(err)
	}
	const count = 50
	toks := make([]string, count)
	for i := range toks {
		toks[i], _ = iss.Mint(jwkstest.WithClaim("jti", fmt.Sprint(i)))
	}
	pad := "pad=" + strings.Repeat("x", 256<<10)
	before := heap()
	for _, tok := range toks {
		r := httptest.NewRequest("GET", "/", nil)
		// As the server reads it: one string per header line.
		r.Header["Cookie"] = []string{strings.Clone("at=" + tok + "; " + pad)}
		if _, err := g.Verify(r); err != nil {
			t.Fatal(err)
		}
	}
	held := heap() - before
	accounted := g.cache.gen.Load().bytes.Load()
	t.Logf("held %d bytes/entry, accounted %d", held/count, accounted/count)
	if held > 2*accounted {
		t.Fatalf("the cache holds %d bytes per entry but accounts %d", held/count, accounted/count)
	}
}
