package contract_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/redistest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// TestDPoP: the "DPoP (RFC 9449)" section on every server: the table's
// DPoP cases (proof rules, replay, binding, the expired hint, both
// challenges), then -dpop-nonce.
func TestDPoP(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	iss.Rotate("ES256")
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil, "-issuer", iss.URL())
			s.waitKeys(t, iss.Mint())
			// As the client names s, and by a name without a port, with
			// which the table's proofs also use a host in upper case and
			// the scheme's default port (a loopback address and port
			// change with neither).
			for _, host := range []string{"", "api.example.test"} {
				base := s.URL
				if host != "" {
					base = "http://" + host
				}
				for _, c := range guardtest.DPoP(iss, base) {
					method, path := guardtest.MethodPath(c.Path)
					got, _ := s.send(t, method, path, host, c.Header)
					want := fromTable(c.Want)
					if c.Err == nil { // the table's final handler is not the server's: its status alone
						got.CType, got.Body, want.CType, want.Body = "", "", "", ""
					}
					if got != want {
						t.Errorf("%s (Host %q):\n got  %+v\n want %+v", c.Name, host, got, want)
					}
				}
			}
		})
	}
}

// send sends method path with h's headers, and a Host header of its own
// when host is not "" (else as the client names s), and returns the
// result with the response's headers.
func (s *server) send(t *testing.T, method, path, host string, h http.Header) (result, http.Header) {
	t.Helper()
	resp := s.sendRaw(t, method, path, host, h)
	defer resp.Body.Close()
	return resultOf(resp), resp.Header
}

func (s *server) sendRaw(t *testing.T, method, path, host string, h http.Header) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	for k, v := range h {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func dpopHeader(tok, proof string) http.Header {
	return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof}}
}

func TestDPoPNonce(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	p := guardtest.NewProver("ES256")
	tok := iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, []string{"OAUTH_DPOP_NONCE=true"}, "-issuer", iss.URL())
			s.waitKeys(t, iss.Mint())
			url := s.URL + "/api/me"
			got, hdr := s.send(t, "GET", "/api/me", "", dpopHeader(tok, p.Proof("GET", url, tok, nil, nil)))
			nonce := hdr.Get("DPoP-Nonce")
			if want := onAPI(guardtest.UseNonce); got != want || nonce == "" {
				t.Fatalf("without a nonce:\n got  %+v (nonce %q)\n want %+v", got, nonce, want)
			}
			got, hdr = s.send(t, "GET", "/api/me", "", dpopHeader(tok, p.Proof("GET", url, tok, map[string]any{"nonce": nonce}, nil)))
			if got.Status != 200 || hdr.Get("DPoP-Nonce") == "" {
				t.Fatalf("with the nonce: %d, DPoP-Nonce %q", got.Status, hdr.Get("DPoP-Nonce"))
			}
			got, hdr = s.send(t, "GET", "/api/me", "", dpopHeader(tok, p.Proof("GET", url, tok, map[string]any{"nonce": "not-issued-here"}, nil)))
			if got != onAPI(guardtest.UseNonce) || hdr.Get("DPoP-Nonce") == "" {
				t.Errorf("a nonce not issued here: %+v", got)
			}
			// A refusal of a DPoP request carries a nonce too; a bearer
			// request's response none.
			got, hdr = s.send(t, "GET", "/api/me", "", dpopHeader(tok, "junk"))
			if got.Status != 401 || len(hdr.Values("DPoP-Nonce")) != 1 || hdr.Get("DPoP-Nonce") == "" {
				t.Errorf("an invalid proof: %d, DPoP-Nonce %q", got.Status, hdr.Values("DPoP-Nonce"))
			}
			twice := http.Header{"Authorization": {"DPoP " + tok, "DPoP " + tok}, "Dpop": {p.Proof("GET", url, tok, map[string]any{"nonce": nonce}, nil)}}
			if got, hdr = s.send(t, "GET", "/api/me", "", twice); got.Status != 400 || !strings.HasPrefix(got.Challenge, "DPoP ") || hdr.Get("DPoP-Nonce") == "" {
				t.Errorf("two DPoP Authorization headers: %d %q, DPoP-Nonce %q, want 400 on a DPoP challenge, with a nonce", got.Status, got.Challenge, hdr.Get("DPoP-Nonce"))
			}
			// So does every other response to a DPoP request: a public
			// route's, and the router's own.
			for _, r := range []struct {
				method, path string
				status       int
			}{{"GET", "/healthz", 200}, {"GET", "/nope", 404}, {"POST", "/api/me", 405}} {
				if got, hdr = s.send(t, r.method, r.path, "", dpopHeader(tok, "junk")); got.Status != r.status || len(hdr.Values("DPoP-Nonce")) != 1 {
					t.Errorf("a DPoP request to %s %s: %d, DPoP-Nonce %q", r.method, r.path, got.Status, hdr.Values("DPoP-Nonce"))
				}
			}
			got, hdr = s.send(t, "GET", "/api/me", "", http.Header{"Authorization": {"Bearer " + iss.Mint()}})
			if got.Status != 200 || hdr.Get("DPoP-Nonce") != "" {
				t.Errorf("a bearer request: %d, DPoP-Nonce %q", got.Status, hdr.Get("DPoP-Nonce"))
			}
		})
	}
}

// TestDPoPReplicas: two replicas given one Redis (-replay-store) share
// proofs: one accepted by either is a replay at the other, for the same
// Host header. Two replicas with "memory" do not (as documented).
func TestDPoPReplicas(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	p := guardtest.NewProver("ES256")
	tok := iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithExpiresIn(time.Hour))
	const host = "api.test" // what the load balancer in front passes on
	url := "http://" + host + "/api/me"
	for i, name := range servers {
		t.Run(name, func(t *testing.T) {
			store := redis.URL(i) // a database of each server's own
			a := start(t, name, nil, "-issuer", iss.URL(), "-replay-store", store)
			b := start(t, name, []string{"OAUTH_REPLAY_STORE=" + store}, "-issuer", iss.URL())
			a.waitKeys(t, iss.Mint())
			b.waitKeys(t, iss.Mint())
			replay := onAPI(guardtest.InvalidProof(guardtest.DescReplay))
			for _, order := range [][2]*server{{a, b}, {b, a}} {
				proof := p.Proof("GET", url, tok, nil, nil)
				got, _ := order[0].send(t, "GET", "/api/me", host, dpopHeader(tok, proof))
				if got.Status != 200 {
					t.Fatalf("first replica: %+v", got)
				}
				got, _ = order[1].send(t, "GET", "/api/me", host, dpopHeader(tok, proof))
				if got != replay {
					t.Fatalf("the other replica, the same proof:\n got  %+v\n want %+v", got, replay)
				}
			}

			m1 := start(t, name, nil, "-issuer", iss.URL())
			m2 := start(t, name, nil, "-issuer", iss.URL(), "-replay-store", "memory")
			m1.waitKeys(t, iss.Mint())
			m2.waitKeys(t, iss.Mint())
			proof := p.Proof("GET", url, tok, nil, nil)
			for _, s := range []*server{m1, m2} {
				got, _ := s.send(t, "GET", "/api/me", host, dpopHeader(tok, proof))
				if got.Status != 200 {
					t.Fatalf("memory stores are not shared: %+v", got)
				}
			}
			got, _ := m1.send(t, "GET", "/api/me", host, dpopHeader(tok, proof))
			if got != replay {
				t.Errorf("the same replica, the same proof: %+v", got)
			}
		})
	}
	// With its Redis gone, a server refuses DPoP requests 503 rather than
	// accept proofs it cannot record; bearer requests go on.
	s := start(t, "nethttp", nil, "-issuer", iss.URL(), "-replay-store", redis.URL(0))
	s.waitKeys(t, iss.Mint())
	redis.Stop()
	got, _ := s.send(t, "GET", "/api/me", host, dpopHeader(tok, p.Proof("GET", url, tok, nil, nil)))
	if got.Status != 503 || got.Retry == "" || got.Challenge != "" || !strings.Contains(got.Body, "temporarily_unavailable") {
		t.Errorf("Redis down: %+v", got)
	}
	if got := s.do(t, "GET", "/api/me", bearer(iss.Mint())...); got.Status != 200 {
		t.Errorf("a bearer request, Redis down: %+v", got)
	}
}
