package bench

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// BenchmarkDPoP compares, per algorithm (token and proof alike), a DPoP
// request with a bearer request of the same token shape, through the same
// Guard, with and without the verified-token cache, beside floor-crypto
// (one bare signature check): BenchmarkDPoP/<alg>/<variant>. A DPoP
// request checks two signatures when uncached, and the proof's alone when
// the token is cached; every proof is fresh (a replay would be refused),
// made before the timer starts, and goes through the in-memory replay
// store as in production.
func BenchmarkDPoP(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			f, _, bound, pool := newDPoPFixture(b, alg)
			b.Run("floor-crypto", func(b *testing.B) {
				newOp, _ := setupFloorCrypto(b, f)
				op := newOp(f.good)
				b.ReportAllocs()
				for b.Loop() {
					if !op() {
						b.Fatal("refused")
					}
				}
			})
			for _, cached := range []bool{false, true} {
				suffix := ""
				if cached {
					suffix = "-cache"
				}
				h := dpopGuard(b, f, cached)
				b.Run("bearer"+suffix, func(b *testing.B) {
					op := handlerOp(h)(f.good)
					b.ReportAllocs()
					for b.Loop() {
						if !op() {
							b.Fatal("refused")
						}
					}
				})
				b.Run("dpop"+suffix, func(b *testing.B) {
					req := httptest.NewRequest(http.MethodGet, routePath, nil)
					req.Header.Set("Authorization", "DPoP "+bound)
					req.Header.Set("DPoP", "")
					w := newDiscardWriter()
					serve := func(proof string) bool {
						req.Header["Dpop"][0] = proof
						w.reset()
						h.ServeHTTP(w, req)
						return w.code == http.StatusOK && w.reached
					}
					// Fair: a proof passes once, and its replay is refused.
					first := pool.take(1)[0]
					if !serve(first) || serve(first) {
						b.Fatal("a fresh proof refused, or its replay accepted")
					}
					proofs := pool.take(b.N)
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						if !serve(proofs[i]) {
							b.Fatal("a fresh proof refused")
						}
					}
				})
			}
		})
	}
}

// dpopGuard is the Guard of BenchmarkDPoP: the defaults (DPoP allowed,
// the in-memory replay store), a proof window that fits the time it takes
// to sign the proofs in advance, and the token cache on or off.
func dpopGuard(b *testing.B, f *fixture, cached bool) http.Handler {
	opts := append([]middleware.Option{middleware.WithAlgorithms(f.alg), middleware.WithDPoPProofWindow(10 * time.Minute)}, jwtguardOptions(cached)...)
	g, err := middleware.New(readyKeys(b, f.iss.JWKSURL()), f.issuer, []string{audience}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := claims.FromContext(r.Context())
		protected(w, c.Subject, ok)
	}))
}

// newDPoPFixture is alg's fixture, a prover of alg, a token bound to its
// key, and a pool of proofs for that token.
func newDPoPFixture(b *testing.B, alg string) (*fixture, *guardtest.Prover, string, *proofPool) {
	f := newFixture(b, alg)
	p := guardtest.NewProver(alg)
	bound := f.iss.Mint(jwkstest.WithTokenAlgorithm(alg), jwkstest.WithScopes("notes:read"),
		jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	return f, p, bound, &proofPool{p: p, tok: bound}
}

// proofPool signs fresh proofs for one token, on every core.
type proofPool struct {
	p   *guardtest.Prover
	tok string
}

func (pp *proofPool) take(n int) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				out[i] = pp.p.Proof(http.MethodGet, "http://example.com"+routePath, pp.tok, nil, nil)
			}
		}()
	}
	wg.Wait()
	return out
}

// BenchmarkReplayStore is the in-memory replay store's check-and-set of
// distinct proofs (ns/op), and its memory with 1,000,000 of them held at
// once (B/proof, its bound: a million more are refused, not kept).
func BenchmarkReplayStore(b *testing.B) {
	b.Run("check-and-set", func(b *testing.B) {
		now := time.Unix(1_800_000_000, 0)
		st := middleware.NewMemoryReplayStore(0, func() time.Time { return now })
		keys := distinctKeys(1 << 16)
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%len(keys) == 0 {
				now = now.Add(2 * time.Minute) // the last round's proofs expire, as under a steady load
			}
			if replayed, err := st.CheckAndSet(ctx, keys[i%len(keys)], now.Add(time.Minute)); replayed || err != nil {
				b.Fatal(replayed, err)
			}
			i++
		}
	})
	b.Run("memory-1M", func(b *testing.B) {
		const n = 1_000_000
		keys := distinctKeys(n + 1)
		ctx := context.Background()
		for b.Loop() {
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			now := time.Unix(1_800_000_000, 0)
			st := middleware.NewMemoryReplayStore(n, func() time.Time { return now })
			for _, k := range keys[:n] {
				if _, err := st.CheckAndSet(ctx, k, now.Add(time.Minute)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := st.CheckAndSet(ctx, keys[n], now.Add(time.Minute)); err == nil || st.Len() != n {
				b.Fatalf("the store holds %d and took one more: %v", st.Len(), err)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/proof")
			runtime.KeepAlive(st)
		}
	})
}

// distinctKeys are replay-store keys as the Guard makes them: a
// thumbprint, a colon, a jti of 22 characters.
func distinctKeys(n int) []string {
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	keys := make([]string, n)
	for i := range keys {
		keys[i] = jkt + ":" + fmt.Sprintf("%022d", i)
	}
	return keys
}

// BenchmarkDPoPPaired measures the two figures DPoP is held to in pairs,
// each iteration timing both sides back to back, so that the noise of a
// shared machine falls on both alike: "uncached" sends a bearer request
// and then a DPoP request through Guards without the token cache (the
// dpop/bearer metric), "cached" checks a proof's signature bare (the
// proof's floor-crypto, as setupFloorCrypto does a token's) and then
// sends that proof's DPoP request through a Guard with the token cached
// (the overhead-ns metric: the DPoP request less the bare signature).
func BenchmarkDPoPPaired(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			f, p, bound, pool := newDPoPFixture(b, alg)
			for _, cached := range []bool{false, true} {
				name := "uncached"
				if cached {
					name = "cached"
				}
				h := dpopGuard(b, f, cached)
				b.Run(name, func(b *testing.B) {
					dreq := httptest.NewRequest(http.MethodGet, routePath, nil)
					dreq.Header.Set("Authorization", "DPoP "+bound)
					dreq.Header.Set("DPoP", "")
					w := newDiscardWriter()
					bearer := handlerOp(h)(f.good)
					serve := func(proof string) bool {
						dreq.Header["Dpop"][0] = proof
						w.reset()
						h.ServeHTTP(w, dreq)
						return w.code == http.StatusOK && w.reached
					}
					if !serve(pool.take(1)[0]) || !bearer() {
						b.Fatal("refused")
					}
					proofs := pool.take(b.N)
					floors := make([]func() bool, b.N)
					for i, pr := range proofs {
						floors[i] = floorProof(b, alg, p, pr)
					}
					var first, second time.Duration
					b.ReportAllocs()
					b.ResetTimer()
					for i := range b.N {
						t0 := time.Now()
						var ok bool
						if cached {
							ok = floors[i]()
						} else {
							ok = bearer()
						}
						t1 := time.Now()
						ok = serve(proofs[i]) && ok
						t2 := time.Now()
						if !ok {
							b.Fatal("refused")
						}
						first += t1.Sub(t0)
						second += t2.Sub(t1)
					}
					n := float64(b.N)
					if cached {
						b.ReportMetric(float64(first.Nanoseconds())/n, "floor-ns/op")
						b.ReportMetric(float64(second.Nanoseconds())/n, "dpop-ns/op")
						b.ReportMetric(float64((second-first).Nanoseconds())/n, "overhead-ns/op")
					} else {
						b.ReportMetric(float64(first.Nanoseconds())/n, "bearer-ns/op")
						b.ReportMetric(float64(second.Nanoseconds())/n, "dpop-ns/op")
						b.ReportMetric(float64(second)/float64(first), "dpop/bearer")
					}
				})
			}
		})
	}
}

// floorProof is floor-crypto for a proof: its signature checked with the
// prover's public key, split and decoded beforehand.
func floorProof(b *testing.B, alg string, p *guardtest.Prover, proof string) func() bool {
	i := strings.LastIndexByte(proof, '.')
	signed := []byte(proof[:i])
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := p.Key.Public()
	return func() bool { return verifySig(alg, pub, signed, sig) }
}
