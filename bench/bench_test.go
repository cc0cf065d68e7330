package bench

import (
	"crypto"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// The algorithms compared; each gets its own issuer, key and token.
var algs = []string{"RS256", "ES256", "EdDSA"}

const (
	audience  = "https://api.example.com" // jwkstest's default aud
	otherAud  = "https://elsewhere.example"
	subject   = "user-123" // jwkstest's default sub
	leeway    = 30 * time.Second
	routePath = "/api/me"
)

// fixture is one algorithm's issuer and tokens, shared by every contender.
type fixture struct {
	alg      string
	iss      *jwkstest.Issuer
	issuer   string // iss claim and issuer identifier
	kid      string
	pub      crypto.PublicKey // for contenders that take static keys
	good     string           // the token every contender verifies
	wrongAud string           // same issuer and key, aud = otherAud
	badSig   string           // same header (kid) and claims, signed by a foreign key
}

func newFixture(b testing.TB, alg string) *fixture {
	b.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithDefaultAlgorithm(alg), jwkstest.WithTokenLifetime(24*time.Hour))
	b.Cleanup(iss.Close)
	f := &fixture{alg: alg, iss: iss, issuer: iss.URL()}
	mint := func(opts ...jwkstest.MintOption) string {
		return iss.Mint(append([]jwkstest.MintOption{jwkstest.WithTokenAlgorithm(alg), jwkstest.WithScopes("notes:read")}, opts...)...)
	}
	f.good = mint()
	f.wrongAud = mint(jwkstest.WithClaim("aud", otherAud))
	// A key of alg's type that the issuer does not publish: the token
	// carries the issuer's kid and a bad signature.
	f.badSig = mint(jwkstest.WithSigningKey(testkeys.For(alg)))
	f.kid = iss.SigningKID(alg)
	f.pub = iss.PublicKey(f.kid)
	return f
}

// request builds the request every middleware contender serves: GET
// /api/me with "Authorization: Bearer <tok>". It is built once per
// goroutine, outside the timed loop, and never modified.
func request(tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, routePath, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// A contender is one way of verifying f.good.
type contender struct {
	name string
	// floor is true for the two baselines, which are not middleware.
	floor bool
	// checksClaims is false for floor-crypto only: it checks the signature
	// and nothing else, so it cannot refuse a wrong audience.
	checksClaims bool
	// setup builds the contender for f. It returns a factory of operations:
	// newOp(tok) does any per-goroutine preparation outside the timer and
	// returns the timed operation, which reports whether tok was accepted
	// (for middleware: status 200 and the protected handler reached with
	// subject "user-123"). skip, if not empty, says why the contender
	// cannot do f.alg. Resources are released with b.Cleanup.
	setup func(b testing.TB, f *fixture) (newOp func(tok string) func() bool, skip string)
}

// handlerOp adapts a middleware contender's http.Handler to an operation:
// the same request (built once) served into the same reusable writer.
func handlerOp(h http.Handler) func(tok string) func() bool {
	return func(tok string) func() bool {
		req := request(tok)
		w := newDiscardWriter()
		return func() bool {
			w.reset()
			h.ServeHTTP(w, req)
			return w.code == http.StatusOK && w.reached
		}
	}
}

// protected is the handler behind every net/http middleware contender,
// given the subject that contender's claims hold: it answers 200 and marks
// the writer reached when the subject is the expected one, 500 otherwise.
func protected(w http.ResponseWriter, sub string, ok bool) {
	if !ok || sub != subject {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	markReached(w)
	w.WriteHeader(http.StatusOK)
}

func contenders() []contender {
	cs := []contender{
		{name: "floor-crypto", floor: true, setup: setupFloorCrypto},
		{name: "floor-handwritten", floor: true, checksClaims: true, setup: setupFloorHandwritten},
		{name: "jwtguard", checksClaims: true, setup: setupJWTGuard(false, false)},
		{name: "jwtguard-cache", checksClaims: true, setup: setupJWTGuard(true, false)},
		{name: "jwtguard-2nd-issuer", checksClaims: true, setup: setupJWTGuard(false, true)},
		{name: "jwtguard-2nd-issuer-cache", checksClaims: true, setup: setupJWTGuard(true, true)},
	}
	return append(cs,
		contender{name: "golang-jwt+keyfunc", checksClaims: true, setup: setupGolangJWT},
		contender{name: "echo-jwt+keyfunc", checksClaims: true, setup: setupEchoJWT},
		contender{name: "go-oidc", checksClaims: true, setup: setupGoOIDC},
		contender{name: "auth0-jwtmw", checksClaims: true, setup: setupAuth0},
		contender{name: "jwx", checksClaims: true, setup: setupJWX},
	)
}

// BenchmarkVerify runs every contender for every algorithm, serially and in
// parallel: BenchmarkVerify/<alg>/<contender>/<serial|parallel>.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range algs {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			eachContender(b, f, func(b *testing.B, c contender, newOp func(string) func() bool) {
				proveFair(b, c, f, newOp)
				b.Run("serial", func(b *testing.B) {
					op := newOp(f.good)
					b.ReportAllocs()
					cpu := startCPU()
					for b.Loop() {
						if !op() {
							b.Fatal("good token refused")
						}
					}
					cpu.report(b)
				})
				b.Run("parallel", func(b *testing.B) {
					b.ReportAllocs()
					cpu := startCPU()
					b.RunParallel(func(pb *testing.PB) {
						op := newOp(f.good)
						for pb.Next() {
							if !op() {
								b.Error("good token refused")
								return
							}
						}
					})
					cpu.report(b)
				})
			})
		})
	}
}

// A runner is *testing.T or *testing.B: what eachContender runs subtests of.
type runner[T any] interface {
	testing.TB
	Run(name string, f func(T)) bool
}

// eachContender runs body as the subtest <contender> of t for every
// contender, with the operations it builds for f; a contender that cannot
// do f.alg is skipped, saying why.
func eachContender[T runner[T]](t T, f *fixture, body func(t T, c contender, newOp func(tok string) func() bool)) {
	for _, c := range contenders() {
		t.Run(c.name, func(t T) {
			newOp, skip := c.setup(t, f)
			if skip != "" {
				t.Skipf("%s cannot verify %s: %s", c.name, f.alg, skip)
			}
			body(t, c, newOp)
		})
	}
}

// cpuClock measures the process CPU time (all threads, GC included) spent
// by a benchmark loop, reported as cpu-ns/op next to the wall-clock ns/op.
// On a machine shared with other work, wall time swings with the load while
// CPU time per op barely moves, so cpu-ns/op is the steadier figure there.
type cpuClock struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuClock {
	t, ok := processCPU()
	return cpuClock{t, ok}
}

func (c cpuClock) report(b *testing.B) {
	end, ok := processCPU()
	if !c.ok || !ok || b.N == 0 {
		return
	}
	b.ReportMetric(float64(end-c.start)/float64(b.N), "cpu-ns/op")
}

// proveFair fails the benchmark unless the contender, outside the timer,
// accepts the good token and refuses the wrong-audience and bad-signature
// tokens (see fairness). It also warms up the contender's key cache.
func proveFair(b *testing.B, c contender, f *fixture, newOp func(string) func() bool) {
	b.Helper()
	if err := fairness(c, f, newOp); err != nil {
		b.Fatal(err)
	}
}

// fairness reports an error unless newOp accepts f.good and refuses f.badSig
// and, when c.checksClaims, f.wrongAud; and still accepts f.good after.
func fairness(c contender, f *fixture, newOp func(string) func() bool) error {
	switch {
	case !newOp(f.good)():
		return fmt.Errorf("%s/%s: refuses the good token", f.alg, c.name)
	case newOp(f.badSig)():
		return fmt.Errorf("%s/%s: accepts a token with a bad signature", f.alg, c.name)
	case c.checksClaims && newOp(f.wrongAud)():
		return fmt.Errorf("%s/%s: accepts a token for another audience", f.alg, c.name)
	case !newOp(f.good)():
		return fmt.Errorf("%s/%s: refuses the good token after refusing bad ones", f.alg, c.name)
	}
	return nil
}

// markReached records on the discardWriter under w that the protected
// handler ran.
func markReached(w http.ResponseWriter) {
	if dw, ok := w.(*discardWriter); ok {
		dw.reached = true
	}
}
