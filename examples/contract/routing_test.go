package contract_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// answer is a response as a client sees it, whole: what the servers must
// agree on for requests the contract's routes do not name.
type answer struct {
	Status                        int
	Allow, Location, CType, Sniff string
	Challenge, Body               string
}

// ask sends one request as written (the path not cleaned, redirects not
// followed).
func (s *server) ask(t *testing.T, method, path string, h http.Header) answer {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Location"), resp.Header.Get("Content-Type"),
		resp.Header.Get("X-Content-Type-Options"), strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), string(b)}
}

// TestOutsideTheRoutesAllServersAnswerAlike: HEAD on a GET route, other
// methods, paths to clean or escaped, unknown paths: every server answers
// as net/http's router does, whole, since the route table is in front of
// each framework's router. The statuses are written out too, so that the
// reference cannot drift with the rest.
func TestOutsideTheRoutesAllServersAnswerAlike(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	p := guardtest.NewProver("ES256")
	tok := iss.Mint(jwkstest.WithScopes("notes:read"))
	bound := iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	auth := http.Header{"Authorization": {"Bearer " + tok}}
	reqs := []struct {
		method, path string
		h            http.Header
		status       int
	}{
		{"HEAD", "/api/me", nil, 401},
		{"HEAD", "/api/me", auth, 200},
		{"HEAD", "/api/notes", auth, 200},
		{"HEAD", "/healthz", nil, 200},
		{"HEAD", "/admin/stats", auth, 401},
		{"OPTIONS", "/api/me", nil, 405},
		{"POST", "/api/me", auth, 405},
		{"PUT", "/api/notes", auth, 405},
		{"FOO", "/api/me", nil, 405},
		{"GET", "/api/transfers", auth, 405},
		{"POST", "/healthz", nil, 405},
		{"DELETE", "/.well-known/oauth-protected-resource", nil, 405},
		{"GET", "/api/me/", auth, 404},
		{"GET", "/admin/stats/", auth, 404},
		{"GET", "/api", auth, 404},
		{"GET", "/nope", nil, 404},
		{"GET", "/api%2Fme", auth, 404},
		{"GET", "/api/%6De", auth, 200},
		{"GET", "/api/./me", auth, 307},
		{"GET", "//api/me", auth, 307},
	}
	var ref []answer
	for _, name := range servers { // nethttp first: the reference
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil, "-issuer", iss.URL())
			s.waitKeys(t, tok)
			for i, r := range reqs {
				got := s.ask(t, r.method, r.path, r.h)
				if got.Status != r.status {
					t.Errorf("%s %s: %d, want %d", r.method, r.path, got.Status, r.status)
				}
				if name == servers[0] {
					ref = append(ref, got)
				} else if got != ref[i] {
					t.Errorf("%s %s:\n %-7s %+v\n %-7s %+v", r.method, r.path, name, got, servers[0], ref[i])
				}
			}
			// A DPoP proof for HEAD is a proof for the request made.
			url := s.URL + "/api/me"
			h := http.Header{"Authorization": {"DPoP " + bound}, "Dpop": {p.Proof("HEAD", url, bound, nil, nil)}}
			if got := s.ask(t, "HEAD", "/api/me", h); got.Status != 200 {
				t.Errorf("HEAD with a DPoP proof for HEAD: %+v", got)
			}
		})
	}
}
