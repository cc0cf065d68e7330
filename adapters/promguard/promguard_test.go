package promguard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jwtguard/jwtguard/adapters/promguard"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func TestCountsFromARealCacheAndGuard(t *testing.T) {
	m := promguard.New()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	iss := jwkstest.NewIssuer()
	defer iss.Close()
	keys := iss.NewCache(jwks.WithMetrics(m))
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	call := func(tok string) {
		req := httptest.NewRequest("GET", "/", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	good := iss.Mint()
	expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	unknown := iss.Mint(jwkstest.WithKID("nope"))
	call(good)
	call(good)
	call(expired)
	call(unknown)
	call("")

	want := `
# HELP jwtguard_jwks_fetches_total JWKS fetches by result: ok, not_modified or error.
# TYPE jwtguard_jwks_fetches_total counter
jwtguard_jwks_fetches_total{issuer="ISS",result="ok"} 2
# HELP jwtguard_jwks_keys Usable keys in the set after the last successful fetch.
# TYPE jwtguard_jwks_keys gauge
jwtguard_jwks_keys{issuer="ISS"} 1
# HELP jwtguard_jwks_unknown_kid_refreshes_total Refreshes triggered by a token with an unknown kid.
# TYPE jwtguard_jwks_unknown_kid_refreshes_total counter
jwtguard_jwks_unknown_kid_refreshes_total{issuer="ISS"} 1
# HELP jwtguard_token_cache_hits_total Requests answered from the verified-token cache.
# TYPE jwtguard_token_cache_hits_total counter
jwtguard_token_cache_hits_total 1
# HELP jwtguard_token_cache_misses_total Cacheable requests whose token had to be verified.
# TYPE jwtguard_token_cache_misses_total counter
jwtguard_token_cache_misses_total 3
# HELP jwtguard_verifications_total Requests checked by the middleware, by issuer and outcome: ok or the refusal reason.
# TYPE jwtguard_verifications_total counter
jwtguard_verifications_total{issuer="",outcome="no_token"} 1
jwtguard_verifications_total{issuer="ISS",outcome="expired"} 1
jwtguard_verifications_total{issuer="ISS",outcome="ok"} 2
jwtguard_verifications_total{issuer="ISS",outcome="unknown_key"} 1
`
	want = strings.ReplaceAll(want, "ISS", iss.URL())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
}
