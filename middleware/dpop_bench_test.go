package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// BenchmarkDPoPCached is a DPoP request whose token is in the verified
// token cache: the proof's checks, signature included, and the replay
// store. bench/ holds it to the bare signature check; this one is for
// profiling the rest.
func BenchmarkDPoPCached(b *testing.B) {
	e := guardtest.New(b, middleware.WithDPoPProofWindow(10*time.Minute))
	p := guardtest.NewProver("EdDSA")
	tok := e.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithExpiresIn(time.Hour))
	h := e.Guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	proofs := make([]string, 20000)
	for i := range proofs {
		proofs[i] = p.Proof("GET", "http://example.com/api/me", tok, nil, nil)
	}
	req := httptest.NewRequest("GET", "/api/me", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", proofs[0])
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatal(w.Code, w.Header())
	}
	b.ReportAllocs()
	i := 1
	for b.Loop() {
		if i == len(proofs) {
			b.StopTimer()
			for j := range proofs {
				proofs[j] = p.Proof("GET", "http://example.com/api/me", tok, nil, nil)
			}
			i = 0
			b.StartTimer()
		}
		req.Header["Dpop"][0] = proofs[i]
		i++
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code, w.Header())
		}
	}
}
