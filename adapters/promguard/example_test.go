package promguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jwtguard/jwtguard/adapters/promguard"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func Example() {
	ctx := context.Background()
	iss := jwkstest.NewIssuer() // stands in for your authorization server
	defer iss.Close()

	m := promguard.New()
	reg := prometheus.NewRegistry() // yours: prometheus.DefaultRegisterer, say
	reg.MustRegister(m)
	keys, err := jwks.New(ctx, iss.URL(), jwks.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	// The scrape endpoint sits outside the Guard: Prometheus has no token.
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	if err := keys.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	for _, tok := range []string{iss.Mint(), ""} {
		req := httptest.NewRequest("GET", "/api/notes", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		mux.ServeHTTP(httptest.NewRecorder(), req)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "jwtguard_") {
			// The issuer's URL has a new port each run.
			fmt.Print(strings.ReplaceAll(line, iss.URL(), "ISSUER"))
		}
	}
	// Output:
	// jwtguard_jwks_fetches_total{issuer="ISSUER",result="ok"} 1
	// jwtguard_jwks_keys{issuer="ISSUER"} 1
	// jwtguard_token_cache_hits_total 0
	// jwtguard_token_cache_misses_total 1
	// jwtguard_verifications_total{issuer="",outcome="no_token"} 1
	// jwtguard_verifications_total{issuer="ISSUER",outcome="ok"} 1
}
