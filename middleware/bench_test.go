package middleware_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// BenchmarkHandler measures the full middleware path per request: extract,
// parse, every check, signature, claims into the context. Floor is the bare
// standard-library signature check of the same token, for a ratio.
func BenchmarkHandler(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		iss := jwkstest.NewIssuer(jwkstest.WithDefaultAlgorithm(alg), jwkstest.WithTokenLifetime(time.Hour))
		keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			b.Fatal(err)
		}
		if err := keys.WaitReady(context.Background()); err != nil {
			b.Fatal(err)
		}
		g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithoutTokenCache())
		if err != nil {
			b.Fatal(err)
		}
		cached, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"})
		if err != nil {
			b.Fatal(err)
		}
		tok := iss.Mint(jwkstest.WithScopes("notes:read"))
		h := g.Require(middleware.Scopes("notes:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		req := httptest.NewRequest("GET", "/api/notes", nil)
		req.Header.Set("Authorization", "Bearer "+tok)

		b.Run(alg+"/middleware", func(b *testing.B) {
			serveEach(b, h, req, 200)
		})
		hc := cached.Require(middleware.Scopes("notes:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		b.Run(alg+"/middleware-cached", func(b *testing.B) {
			b.ReportAllocs()
			w := &nopWriter{h: http.Header{}}
			for b.Loop() {
				hc.ServeHTTP(w, req)
			}
		})
		pub := iss.PublicKey(iss.SigningKID(alg))
		b.Run(alg+"/floor-crypto", func(b *testing.B) {
			b.ReportAllocs()
			i := strings.LastIndexByte(tok, '.')
			sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
			for b.Loop() {
				if !verifyFloor(alg, pub, tok[:i], sig) {
					b.Fatal("floor verify failed")
				}
			}
		})
		keys.Close()
		iss.Close()
	}
}

func verifyFloor(alg string, pub crypto.PublicKey, signed string, sig []byte) bool {
	switch alg {
	case "RS256":
		h := sha256.Sum256([]byte(signed))
		return rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, h[:], sig) == nil
	case "ES256":
		h := sha256.Sum256([]byte(signed))
		k := pub.(*ecdsa.PublicKey)
		var r, s = new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, h[:], r, s)
	case "EdDSA":
		return ed25519.Verify(pub.(ed25519.PublicKey), []byte(signed), sig)
	}
	return false
}

// nopWriter is a ResponseWriter that keeps nothing, so the cached path's
// own allocations show.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// BenchmarkExpired401 is the refusal a client acts on most, the expired
// hint, with resource metadata (RFC 9728) off and on: the challenge that
// names the metadata URL is precomputed, so both cost the same.
func BenchmarkExpired401(b *testing.B) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.example.com"))
	defer iss.Close()
	keys := iss.NewCache()
	expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	for _, tc := range []struct {
		name string
		opts []middleware.Option
	}{{"metadata=off", nil}, {"metadata=on", []middleware.Option{middleware.WithResourceMetadata(middleware.ResourceMetadata{})}}} {
		g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, append(tc.opts, middleware.WithoutTokenCache())...)
		if err != nil {
			b.Fatal(err)
		}
		h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("GET", "/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+expired)
		b.Run(tc.name, func(b *testing.B) {
			serveEach(b, h, req, 401)
		})
	}
}

// serveEach serves req with h b.N times, failing on any status but want.
func serveEach(b *testing.B, h http.Handler, req *http.Request, want int) {
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
