package contract_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// servers are the example servers that must behave identically.
// echov5 is a module of its own (so the examples' module does not require
// two major versions of Echo), built in the repository's workspace.
var servers = []string{"nethttp", "echo", "gin", "echov5"}

const (
	aud      = "https://api.example.com"
	adminAud = "https://api.example.com/admin"
)

var binDir string

func TestMain(m *testing.M) {
	exampletest.Main(m, &binDir, servers...)
}

// server is one running example binary.
type server struct {
	URL    string
	stdout *exampletest.Buffer
}

// start runs the named server with args and env, waits for its ready log
// line, and stops it when the test ends.
func start(t *testing.T, name string, env []string, args ...string) *server {
	t.Helper()
	s := exampletest.Start(t, filepath.Join(binDir, name), env, args...)
	return &server{URL: s.URL, stdout: s.Stdout}
}

type result struct {
	Status int
	// Challenge is the WWW-Authenticate values, each its own header
	// field, in order, joined by newlines.
	Challenge string
	Retry     string
	CType     string
	Body      string
}

func (s *server) do(t *testing.T, method, path string, headers ...string) result {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resultOf(resp)
}

func resultOf(resp *http.Response) result {
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, strings.Join(resp.Header.Values("WWW-Authenticate"), "\n"), resp.Header.Get("Retry-After"),
		resp.Header.Get("Content-Type"), string(b)}
}

// waitKeys waits until the server has fetched keys: start-up does not wait
// for them, and until then a token gets 503.
func (s *server) waitKeys(t *testing.T, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.do(t, "GET", "/api/me", bearer(tok)...).Status == http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("server got no keys in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// fromTable is a response of the library's one table (guardtest), where
// every refusal's bytes are written, as this test's result.
func fromTable(r guardtest.Response) result {
	return result{r.Status, strings.Join(r.Challenges, "\n"), r.RetryAfter, r.CType, r.Body}
}

// onAPI is a response of the table's constructors on a route of the API
// resource (-audience): its challenges name its metadata URL (RFC 9728),
// and a 401 or 403 names the other scheme (Bearer, DPoP) too.
func onAPI(r guardtest.Response) result { return fromTable(guardtest.OnResource(r, aud)) }

var (
	noCredentials = onAPI(guardtest.NoCredentials)
	badRequest    = onAPI(guardtest.BadRequest)
	expiredHint   = invalid(guardtest.DescExpired)
)

func invalid(desc string) result { return onAPI(guardtest.Invalid(desc)) }

func forbidden(scope string) result { return onAPI(guardtest.Forbidden(scope)) }

// meBody is the JSON of /api/me for the test issuers' default subject.
func meBody(iss, clientID string, scopes ...string) string {
	b, _ := json.Marshal(struct {
		Iss      string   `json:"iss"`
		Sub      string   `json:"sub"`
		ClientID string   `json:"client_id,omitempty"`
		Scopes   []string `json:"scopes"`
	}{iss, "user-123", clientID, append([]string{}, scopes...)})
	return string(b)
}

// TestContract runs every row of the contract against every server, with
// a test issuer in this process that the server finds by discovery.
func TestContract(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	mint := iss.Mint
	strangerIss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer strangerIss.Close()
	fromStranger := strangerIss.Mint(jwkstest.WithClaim("iss", iss.URL()), jwkstest.WithHeader("jku", strangerIss.JWKSURL()), jwkstest.WithHeader("x5u", strangerIss.JWKSURL()))
	strangerIss.ResetCounters()
	// A token of exactly the maximum token size (16384 bytes), padded in
	// its claims and its header: each part's base64url skips one length in
	// four, and the two together land on any length.
	var padded string
search:
	for n := 11_700; n < 11_800; n++ {
		for k := range 4 {
			tok := mint(jwkstest.WithClaim("pad", strings.Repeat("p", n)), jwkstest.WithHeader("pad", strings.Repeat("h", k)))
			if len(tok) == 16384 {
				padded = tok
				break search
			}
		}
	}
	if padded == "" {
		t.Fatal("no pad lengths give a token of exactly 16384 bytes")
	}
	// A genuine-looking Entra ID token with 200 group IDs, the most Entra
	// puts in a token: about 12 KB.
	groups := make([]string, 200)
	for i := range groups {
		groups[i] = fmt.Sprintf("%08x-86f1-41af-91ab-%012x", i, i)
	}
	entra := mint(jwkstest.WithClaim("groups", groups))
	now := time.Now().Unix()
	read, write, admin := mint(jwkstest.WithScopes("notes:read")), mint(jwkstest.WithScopes("notes:write")), mint(jwkstest.WithClaim("aud", adminAud), jwkstest.WithScopes("admin"))
	meJSON := func(clientID string, scopes ...string) string { return meBody(iss.URL(), clientID, scopes...) }
	ok := func(body string) result { return result{200, "", "", "application/json", body} }

	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		want    result
		// bodyPrefix: compare only the start of the body (JSON arrays whose
		// content the contract does not fix).
		bodyPrefix bool
	}{
		{"healthz", "GET", "/healthz", nil, result{200, "", "", "text/plain; charset=utf-8", "ok"}, false},
		{"me", "GET", "/api/me", bearer(read), ok(meJSON("test-client", "notes:read")), false},
		{"me without client_id or scopes", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("client_id", nil))), ok(meJSON("")), false},
		{"scope and scp are united", "GET", "/api/me", bearer(mint(jwkstest.WithScopes("a b"), jwkstest.WithClaim("scp", []string{"b", "c"}))), ok(meJSON("test-client", "a", "b", "c")), false},
		{"scp as a string", "GET", "/api/notes", bearer(mint(jwkstest.WithClaim("scp", "notes:read"))), ok("["), true},
		{"notes", "GET", "/api/notes", bearer(read), ok("["), true},
		{"create note", "POST", "/api/notes", bearer(write), result{201, "", "", "application/json", "{"}, true},
		{"create note without scope", "POST", "/api/notes", bearer(read), forbidden("notes:write"), false},
		{"admin", "GET", "/admin/stats", bearer(admin), ok("{"), true},
		{"other scheme", "GET", "/api/me", []string{"Authorization", "Basic dTpw"}, noCredentials, false},
		{"lowercase scheme", "GET", "/api/me", []string{"Authorization", "bearer " + read}, ok(meJSON("test-client", "notes:read")), false},
		{"several spaces", "GET", "/api/me", []string{"Authorization", "Bearer   " + read}, ok(meJSON("test-client", "notes:read")), false},
		{"jku and x5u are not used", "GET", "/api/me", bearer(fromStranger), invalid(guardtest.DescUnknownKey), false},
		{"token of exactly 16384 bytes", "GET", "/api/me", bearer(padded), ok(meJSON("test-client")), false},
		{"token of 16385 bytes", "GET", "/api/me", bearer(padded + "="), badRequest, false},
		{"Entra ID token with 200 groups", "GET", "/api/me", bearer(entra), ok(meJSON("test-client")), false},
		{"typ in mixed case", "GET", "/api/me", bearer(mint(jwkstest.WithHeader("typ", "Application/AT+JWT"))), ok(meJSON("test-client")), false},
		{"iat within leeway", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("iat", now+20))), ok(meJSON("test-client")), false},
		{"nbf within leeway", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("nbf", now+20))), ok(meJSON("test-client")), false},
		{"exp far in the future (fits int64)", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("exp", int64(1e15)))), ok(meJSON("test-client")), false},
		{"negative iat (fits int64)", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("iat", -5))), ok(meJSON("test-client")), false},
		{"exp with a fraction", "GET", "/api/me", bearer(mint(jwkstest.WithClaim("exp", float64(now)+300.5))), ok(meJSON("test-client")), false},
		{"typ JWT", "GET", "/api/me", bearer(mint(jwkstest.WithHeader("typ", "jwt"), jwkstest.WithScopes("x"))), ok(meJSON("test-client", "x")), false},
	}
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil, "-issuer", iss.URL())
			s.waitKeys(t, read)
			// Rotation first, before any unknown kid below starts the 30 s
			// unknown-kid cooldown: a new kid verifies on its first use.
			iss.Rotate("ES256")
			if got := s.do(t, "GET", "/api/me", bearer(mint(jwkstest.WithTokenAlgorithm("ES256")))...); got.Status != 200 {
				t.Fatalf("rotated key refused: %+v", got)
			}
			fetches := iss.JWKSFetches()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got := s.do(t, tc.method, tc.path, tc.headers...)
					if tc.bodyPrefix && strings.HasPrefix(got.Body, tc.want.Body) {
						got.Body = tc.want.Body
					}
					if got != tc.want {
						t.Fatalf("\n got  %+v\n want %+v", got, tc.want)
					}
				})
			}
			// The refusal rules of the library's one table, which every
			// entry point answers the same.
			for _, c := range guardtest.Refusals(iss) {
				t.Run(c.Name, func(t *testing.T) {
					var headers []string
					for name, values := range c.Header {
						for _, v := range values {
							headers = append(headers, name, v)
						}
					}
					method, path := guardtest.MethodPath(c.Path)
					if got, want := s.do(t, method, path, headers...), fromTable(c.Want); got != want {
						t.Fatalf("\n got  %+v\n want %+v", got, want)
					}
				})
			}
			// Unknown kids in the table came within 30 s of the rotation's
			// refresh: at most one such refresh per 30 s.
			if n := iss.JWKSFetches() - fetches; n != 0 {
				t.Errorf("unknown kids within the cooldown caused %d JWKS fetches", n)
			}
			if n := strangerIss.JWKSFetches() + strangerIss.DiscoveryFetches(); n != 0 {
				t.Errorf("a jku/x5u header made the server fetch %d times", n)
			}
			// A token in the form body is not read.
			req, _ := http.NewRequest("POST", s.URL+"/api/notes", strings.NewReader("access_token="+write))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := resultOf(resp)
			resp.Body.Close()
			if got != noCredentials {
				t.Errorf("form-body token: %+v", got)
			}
		})
	}
}

// eachWithIssuer runs test for every server at once, each with an issuer
// of its own: the tests that use it mostly wait, and share nothing.
func eachWithIssuer(t *testing.T, test func(t *testing.T, name string, iss *jwkstest.Issuer)) {
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
			defer iss.Close()
			test(t, name, iss)
		})
	}
}

// TestUnavailableUntilKeysArrive: an issuer down at start-up gives 503 with
// Retry-After to requests with a token, and the server recovers by itself.
func TestUnavailableUntilKeysArrive(t *testing.T) {
	t.Parallel()
	eachWithIssuer(t, func(t *testing.T, name string, iss *jwkstest.Issuer) {
		iss.SetFault(jwkstest.FaultStatus503)
		s := start(t, name, nil, "-issuer", iss.URL())
		tok := iss.Mint()
		got := s.do(t, "GET", "/api/me", bearer(tok)...)
		want := fromTable(guardtest.Unavailable(got.Retry))
		if got != want || got.Retry == "" || strings.Trim(got.Retry, "0123456789") != "" {
			t.Fatalf("\n got  %+v\n want %+v with Retry-After in seconds", got, want)
		}
		if got := s.do(t, "GET", "/healthz"); got.Status != 200 {
			t.Fatalf("healthz while keys are missing: %+v", got)
		}
		if got := s.do(t, "GET", "/api/me"); got != noCredentials {
			t.Fatalf("no token while keys are missing: %+v", got)
		}
		expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
		if got := s.do(t, "GET", "/api/me", bearer(expired)...); got.Status != 503 {
			t.Fatalf("expired token while keys are missing: %+v", got)
		}
		iss.SetFault(jwkstest.FaultNone)
		deadline := time.Now().Add(15 * time.Second)
		for s.do(t, "GET", "/api/me", bearer(tok)...).Status != 200 {
			if time.Now().After(deadline) {
				t.Fatal("server did not recover after the issuer came back")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
}

// TestFlagsAndEnvironment: -audience from the environment, a flag over its
// environment variable, an explicit JWKS URL, a custom leeway.
func TestFlagsAndEnvironment(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://env.example"))
	defer iss.Close()
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			tok := iss.Mint()
			s := start(t, name, []string{"OAUTH_ISSUER=" + iss.URL(), "OAUTH_AUDIENCE=https://env.example", "OAUTH_JWKS_URL="})
			s.waitKeys(t, tok)
			if got := s.do(t, "GET", "/api/me", bearer(tok)...); got.Status != 200 {
				t.Fatalf("audience from env: %+v", got)
			}
			s = start(t, name, []string{"OAUTH_ISSUER=" + iss.URL(), "OAUTH_AUDIENCE=https://wrong.example"}, "-audience", "https://env.example", "-jwks-url", iss.JWKSURL())
			s.waitKeys(t, tok)
			if got := s.do(t, "GET", "/api/me", bearer(tok)...); got.Status != 200 {
				t.Fatalf("flag over env: %+v", got)
			}
			old := iss.Mint(jwkstest.WithExpiresIn(-2 * time.Minute))
			s = start(t, name, nil, "-issuer", iss.URL(), "-audience", "https://env.example", "-leeway", "5m")
			s.waitKeys(t, tok)
			if got := s.do(t, "GET", "/api/me", bearer(old)...); got.Status != 200 {
				t.Fatalf("leeway 5m, token 2m past exp: %+v", got)
			}
		})
	}
}

// TestDevModeCurlCommands runs the curl commands a server prints in dev mode,
// exactly as a user would paste them.
func TestDevModeCurlCommands(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil)
			deadline := time.Now().Add(5 * time.Second)
			for strings.Count(s.stdout.String(), "curl -i") < 5 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			var script strings.Builder
			script.WriteString("set -e\n")
			var expect []string
			for _, line := range strings.Split(s.stdout.String(), "\n") {
				line = strings.TrimSpace(line)
				switch {
				case strings.HasPrefix(line, "TOKEN=") || strings.HasPrefix(line, "ADMIN="):
					script.WriteString(line + "\n")
				case strings.HasPrefix(line, "curl "):
					cmd, comment, _ := strings.Cut(line, "#")
					expect = append(expect, strings.Fields(comment)[0])
					// -i prints the status line first; keep only it.
					script.WriteString(strings.TrimSpace(cmd) + " | head -n 1\n")
				}
			}
			if len(expect) < 4 {
				t.Fatalf("dev mode printed too few commands:\n%s", s.stdout.String())
			}
			out, err := exec.Command("bash", "-c", script.String()).Output()
			if err != nil {
				t.Fatalf("script failed: %v\n%s\n%s", err, script.String(), out)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(expect) {
				t.Fatalf("got %d status lines, want %d:\n%s", len(lines), len(expect), out)
			}
			for i, l := range lines {
				if f := strings.Fields(l); len(f) < 2 || f[1] != expect[i] {
					t.Errorf("command %d: status line %q, want %s", i+1, l, expect[i])
				}
			}
		})
	}
}

// TestHangingIssuer: while the JWKS endpoint hangs, known keys keep
// verifying and a token with a new kid waits for the refresh it triggers
// for less than 5 s.
func TestHangingIssuer(t *testing.T) {
	t.Parallel()
	eachWithIssuer(t, func(t *testing.T, name string, iss *jwkstest.Issuer) {
		s := start(t, name, nil, "-issuer", iss.URL())
		tok := iss.Mint()
		s.waitKeys(t, tok)
		iss.SetSlowDelay(time.Minute)
		iss.SetFault(jwkstest.FaultSlow)
		unknown := iss.Mint(jwkstest.WithKID("brand-new"))
		begin := time.Now()
		got := s.do(t, "GET", "/api/me", bearer(unknown)...)
		if d := time.Since(begin); d >= 5*time.Second || got != invalid(guardtest.DescUnknownKey) {
			t.Fatalf("after %v: %+v", d, got)
		}
		if got := s.do(t, "GET", "/api/me", bearer(tok)...); got.Status != 200 {
			t.Fatalf("known key during the hang: %+v", got)
		}
	})
}
