package contract_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// TestSeveralIssuers: a server started with two -issuer values accepts
// tokens from each, verifies each with its own issuer's keys only, costs no
// request for an issuer it does not know, and keeps serving one issuer's
// tokens while the other has never answered.
func TestSeveralIssuers(t *testing.T) {
	t.Parallel()
	a := jwkstest.NewIssuer(jwkstest.WithAudience(aud), jwkstest.WithDefaultAlgorithm("ES256"))
	defer a.Close()
	b := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer b.Close()
	// B publishes A's kid for a key of its own, and a kid only B has.
	kid := a.SigningKID("ES256")
	same, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bOnly, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := func(k *ecdsa.PrivateKey, kid string) string {
		raw := jwkstest.PublicJWK(&k.PublicKey, kid, map[string]any{"alg": "ES256", "use": "sig"})
		return string(raw)
	}
	hostile.Of(b).SetJWKSBody([]byte(`{"keys":[` + jwk(same, kid) + `,` + jwk(bOnly, "b-only") + `]}`))
	mint := func(iss *jwkstest.Issuer, opts ...jwkstest.MintOption) string {
		return iss.Mint(opts...)
	}
	fromA := mint(a, jwkstest.WithScopes("notes:read"))
	fromB := mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(kid), jwkstest.WithSigningKey(same), jwkstest.WithScopes("notes:read"))
	// iss names A; the kid is one only B publishes, and B's key signed it.
	crossed := mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID("b-only"), jwkstest.WithSigningKey(bOnly), jwkstest.WithClaim("iss", a.URL()))
	// iss names A, A's kid, but B's key under that kid signed it.
	swapped := mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(kid), jwkstest.WithSigningKey(same), jwkstest.WithClaim("iss", a.URL()))
	ok := func(iss string) result {
		return result{200, "", "", "application/json", meBody(iss, "test-client", "notes:read")}
	}

	for _, name := range servers {
		for _, how := range []string{"flags", "env"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				var s *server
				if how == "flags" {
					s = start(t, name, nil, "-issuer", a.URL(), "-issuer", b.URL())
				} else {
					s = start(t, name, []string{"OAUTH_ISSUER=" + a.URL() + " " + b.URL()})
				}
				s.waitKeys(t, fromA)
				s.waitKeys(t, fromB)
				for what, tc := range map[string]struct {
					tok  string
					want result
				}{
					"A's token":                  {fromA, ok(a.URL())},
					"B's token, same kid as A's": {fromB, ok(b.URL())},
					"A's iss, a kid only B has":  {crossed, invalid(guardtest.DescUnknownKey)},
					"A's iss and kid, B's key":   {swapped, invalid(guardtest.DescSignature)},
					"an iss that is not set":     {mint(a, jwkstest.WithClaim("iss", "https://stranger.example"), jwkstest.WithKID("k2")), invalid(guardtest.DescIssuer)},
					"no iss":                     {mint(a, jwkstest.WithClaim("iss", nil), jwkstest.WithKID("k3")), invalid(guardtest.DescIssuer)},
					"B's token expired":          {mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(kid), jwkstest.WithSigningKey(same), jwkstest.WithExpiresIn(-time.Hour)), expiredHint},
					"B's token without a scope":  {mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(kid), jwkstest.WithSigningKey(same)), result{200, "", "", "application/json", meBody(b.URL(), "test-client")}},
				} {
					a.ResetCounters()
					b.ResetCounters()
					if got := s.do(t, "GET", "/api/me", bearer(tc.tok)...); got != tc.want {
						t.Errorf("%s:\n got  %+v\n want %+v", what, got, tc.want)
					}
					if n := b.JWKSFetches() + b.DiscoveryFetches(); n != 0 && tc.tok != fromB {
						t.Errorf("%s: %d requests to B", what, n)
					}
					switch {
					case tc.tok == crossed:
						// The unknown-kid rule may refresh A's keys once.
						if n := a.JWKSFetches(); n > 1 || a.DiscoveryFetches() > 1 {
							t.Errorf("%s: %d JWKS fetches at A", what, n)
						}
					case a.JWKSFetches()+a.DiscoveryFetches() != 0:
						t.Errorf("%s: %d requests to A", what, a.JWKSFetches()+a.DiscoveryFetches())
					}
				}
				if got := s.do(t, "GET", "/api/notes", bearer(mint(b, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithKID(kid), jwkstest.WithSigningKey(same)))...); got != forbidden("notes:read") {
					t.Errorf("B's token without the scope on /api/notes: %+v", got)
				}
			})
		}
	}
}

// TestUnreachableIssuer: while one issuer has never answered, its tokens
// are 503 and the other issuer's are verified as usual.
func TestUnreachableIssuer(t *testing.T) {
	t.Parallel()
	up := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer up.Close()
	down := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer down.Close()
	down.SetFault(jwkstest.FaultDown)
	fromUp := up.Mint()
	fromDown := down.Mint()
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil, "-issuer", down.URL(), "-issuer", up.URL())
			if got := s.do(t, "GET", "/healthz"); got.Status != 200 {
				t.Fatalf("healthz: %+v", got)
			}
			s.waitKeys(t, fromUp)
			if got := s.do(t, "GET", "/api/me", bearer(fromUp)...); got.Status != 200 || got.Body != meBody(up.URL(), "test-client") {
				t.Fatalf("the reachable issuer's token: %+v", got)
			}
			got := s.do(t, "GET", "/api/me", bearer(fromDown)...)
			want := fromTable(guardtest.Unavailable(got.Retry))
			if got != want || got.Retry == "" {
				t.Fatalf("the unreachable issuer's token:\n got  %+v\n want %+v", got, want)
			}
		})
	}
}

// TestJWKSURLNeedsOneIssuer: -jwks-url names one issuer's keys, so with two
// issuers the server refuses to start: status 2 and a message on stderr.
func TestJWKSURLNeedsOneIssuer(t *testing.T) {
	t.Parallel()
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			exampletest.Built(t)
			cmd := exec.Command(filepath.Join(binDir, name), "-addr", "127.0.0.1:0",
				"-issuer", "https://a.example", "-issuer", "https://b.example", "-jwks-url", "https://a.example/jwks")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() != 2 {
					t.Fatalf("exit: %v, want status 2", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the server started anyway")
			}
			if !strings.Contains(stderr.String(), "-jwks-url") {
				t.Fatalf("stderr says %q", stderr.String())
			}
		})
	}
}
