package interop_test

// The example servers against a real, independent authorization server:
// panva's oidc-provider (npm), started from provider.mjs. Tokens come from its
// real token endpoint (client credentials with RFC 8707 resource indicators,
// and the authorization code flow for a refresh token); the servers find its
// keys by discovery, like in production.

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

const (
	api      = "https://api.example.com"
	adminAPI = "https://api.example.com/admin"
	secret   = "interop-secret" // provider.mjs's client secret
	// shortTTL is the life of svc-short's tokens (provider.mjs --short-ttl).
	shortTTL = 3 * time.Second
	// redirectURI is the app client's registered redirect URI; nothing
	// listens there: the client stops at the redirect.
	redirectURI = "http://127.0.0.1/callback"
)

// servers are the example servers under test.
var servers = []string{"nethttp", "echo", "gin", "echov5"}

// TestMain stops the shared provider at the end. The binaries stay, for
// the next run to find up to date (exampletest.Build).
func TestMain(m *testing.M) {
	code := m.Run()
	if prov != nil {
		prov.stop()
	}
	os.Exit(code)
}

// ---- the authorization server ----

// provider is the running oidc-provider (provider.mjs).
type provider struct {
	Issuer        string
	TokenURL      string
	AuthorizeURL  string
	JWKSURL       string
	cmd           *exec.Cmd
	stderr        *exampletest.Buffer
	stopOnce      sync.Once
	rotationMutex sync.Mutex
}

var (
	provOnce sync.Once
	prov     *provider
	provErr  error
)

// needProvider returns the shared provider, starting it on first use. It
// skips the test only when node is not installed; a missing node_modules is
// a failure, with the command that fixes it.
func needProvider(t *testing.T) *provider {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on PATH: the oidc-provider interop tests need Node.js 20+ (then run `npm ci` in interop/)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatal("interop/node_modules/oidc-provider is missing: run `npm ci` in interop/ first")
	}
	provOnce.Do(func() { prov, provErr = startProvider() })
	if provErr != nil {
		t.Fatal(provErr)
	}
	return prov
}

func startProvider() (*provider, error) {
	cmd := exec.Command("node", "provider.mjs", "--port", "0", "--short-ttl", fmt.Sprint(int(shortTTL/time.Second)))
	p := &provider{cmd: cmd, stderr: &exampletest.Buffer{}}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting provider.mjs: %w", err)
	}
	linec := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			linec <- sc.Text()
		}
		close(linec)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var line string
	select {
	case line = <-linec:
	case <-time.After(30 * time.Second):
	}
	var ready struct{ Issuer string }
	if err := json.Unmarshal([]byte(line), &ready); err != nil || ready.Issuer == "" {
		p.stop()
		return nil, fmt.Errorf("provider.mjs printed no ready line (got %q)\nstderr:\n%s", line, p.stderr.String())
	}
	p.Issuer = ready.Issuer

	// The servers use discovery; the test reads the same document, and it
	// must name the issuer exactly as configured.
	var meta struct {
		Issuer                string `json:"issuer"`
		TokenEndpoint         string `json:"token_endpoint"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
	}
	if err := getJSON(p.Issuer+"/.well-known/openid-configuration", &meta); err != nil {
		p.stop()
		return nil, fmt.Errorf("discovery: %w", err)
	}
	if meta.Issuer != p.Issuer {
		p.stop()
		return nil, fmt.Errorf("discovery names issuer %q, want %q", meta.Issuer, p.Issuer)
	}
	p.TokenURL, p.AuthorizeURL, p.JWKSURL = meta.TokenEndpoint, meta.AuthorizationEndpoint, meta.JWKSURI
	return p, nil
}

func (p *provider) stop() {
	p.stopOnce.Do(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	})
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	Scope        string `json:"scope"`
}

// token posts form to the provider's real token endpoint as clientID.
func (p *provider) token(t *testing.T, clientID string, form url.Values) tokenResponse {
	t.Helper()
	req, _ := http.NewRequest("POST", p.TokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var tr tokenResponse
	if resp.StatusCode != 200 || json.Unmarshal(body, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("token endpoint (%s, %s): %d %s", clientID, form.Get("grant_type"), resp.StatusCode, body)
	}
	return tr
}

// clientCredentials gets an access token for resource with scope.
func (p *provider) clientCredentials(t *testing.T, clientID, resource, scope string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	if scope != "" {
		form.Set("scope", scope)
	}
	return p.token(t, clientID, form).AccessToken
}

// authorizationCode runs the authorization code flow (PKCE S256) for the
// "app" client headlessly: provider.mjs's interaction route logs in
// user-123 and consents, the client follows redirects with a cookie jar and
// stops at the redirect URI, then redeems the code at the token endpoint.
func (p *provider) authorizationCode(t *testing.T, scope, resource string) tokenResponse {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), redirectURI) {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		}}
	verifier := randomString()
	challenge := sha256.Sum256([]byte(verifier))
	state := randomString()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {"app"},
		"redirect_uri":          {redirectURI},
		"scope":                 {scope},
		"resource":              {resource},
		"prompt":                {"consent"},
		"state":                 {state},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(challenge[:])},
		"code_challenge_method": {"S256"},
	}
	resp, err := client.Get(p.AuthorizeURL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || err != nil || !strings.HasPrefix(loc.String(), redirectURI) {
		t.Fatalf("authorization did not redirect to the client: %d %s %s\nprovider stderr:\n%s", resp.StatusCode, resp.Header.Get("Location"), body, p.stderr.String())
	}
	got := loc.Query()
	// RFC 9207: the response names its issuer.
	if got.Get("state") != state || got.Get("iss") != p.Issuer || got.Get("code") == "" {
		t.Fatalf("authorization response %v (want state %q, iss %q, a code)", got, state, p.Issuer)
	}
	return p.token(t, "app", url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {got.Get("code")},
		"redirect_uri":  {redirectURI},
		"code_verifier": {verifier},
		"resource":      {resource},
	})
}

// rotate adds a new RS256, ES256 and EdDSA key, first in the JWKS; the
// provider keeps running on the same port.
func (p *provider) rotate(t *testing.T) map[string]string {
	t.Helper()
	p.rotationMutex.Lock()
	defer p.rotationMutex.Unlock()
	resp, err := http.Post(p.Issuer+"/__rotate", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Kids map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 || len(out.Kids) != 3 {
		t.Fatalf("rotate: %d %v %v", resp.StatusCode, out, err)
	}
	return out.Kids
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func getJSON(u string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// ---- tokens ----

// jwtParts decodes a compact JWT's header and payload without verifying
// it, to check what the provider issued.
func jwtParts(t *testing.T, tok string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("undecodable JWT part %d", i)
		}
	}
	return header, payload
}

// checkIssued checks the RFC 9068 shape of a token from the provider.
func checkIssued(t *testing.T, p *provider, tok, alg, aud string) (kid string) {
	t.Helper()
	h, c := jwtParts(t, tok)
	if h["alg"] != alg || h["typ"] != "at+jwt" || h["kid"] == nil {
		t.Fatalf("header %v, want alg %s, typ at+jwt and a kid", h, alg)
	}
	if c["iss"] != p.Issuer || c["aud"] != aud {
		t.Fatalf("claims %v, want iss %s and aud %s", c, p.Issuer, aud)
	}
	return h["kid"].(string)
}

// ---- the example servers ----

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// needBinaries builds the example servers once, as the contract test does
// (exampletest.Build).
func needBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// mcp is an example of its own (a module of the workspace), not one
		// of the family the contract runs through.
		binDir, buildErr = exampletest.Build(append(slices.Clone(servers), "mcp")...)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

// server is one running example server.
type server struct {
	audience string // -audience, the API resource's identifier
	name     string
	URL      string
}

// startServer runs the named example server against the provider and
// waits for its ready log line; it is stopped when the test ends.
func startServer(t *testing.T, name string, args ...string) *server {
	t.Helper()
	run := exampletest.Start(t, filepath.Join(needBinaries(t), name), nil, args...)
	s := &server{name: name, audience: "https://api.example.com", URL: run.URL} // the servers' default
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-audience" {
			s.audience = args[i+1]
		}
	}
	return s
}

type result struct {
	Status    int
	Challenge string
	CType     string
	Body      string
}

func (s *server) do(t *testing.T, method, path, tok string) result {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	ch := resp.Header.Get("WWW-Authenticate")
	// Every challenge ends with the route's resource_metadata (RFC 9728):
	// checked here, then cut, so the expected refusals stay those of RFC
	// 6750. A challenge without it keeps its tail and fails the comparison.
	res := s.audience
	if strings.HasPrefix(path, "/admin/") {
		res = s.audience + "/admin"
	}
	if meta := `, resource_metadata="` + middleware.MetadataURL(res) + `"`; ch != "" {
		ch = strings.TrimSuffix(ch, meta)
	}
	return result{resp.StatusCode, ch, resp.Header.Get("Content-Type"), strings.TrimSpace(string(b))}
}

// waitKeys waits until the server has the provider's keys: start-up does not
// wait for them, and until then a token gets 503.
func (s *server) waitKeys(t *testing.T, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.do(t, "GET", "/api/me", tok).Status == http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatalf("%s got no keys from the provider in 10 s", s.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fromTable is a refusal of the library's one table (internal/guardtest),
// where every refusal's bytes are written, as do reports it: the first
// challenge, without the resource_metadata do checks and cuts.
func fromTable(r guardtest.Response) result {
	return result{r.Status, r.Challenges[0], r.CType, r.Body}
}

func invalid(desc string) result { return fromTable(guardtest.Invalid(desc)) }

func forbidden(scopes string) result { return fromTable(guardtest.Forbidden(scopes)) }

var (
	expiredHint = invalid(guardtest.DescExpired)
	wrongAud    = invalid(guardtest.DescAudience)
)

// me is the contract's /api/me body.
func me(iss, sub, clientID string, scopes ...string) result {
	b, _ := json.Marshal(struct {
		Iss      string   `json:"iss"`
		Sub      string   `json:"sub"`
		ClientID string   `json:"client_id,omitempty"`
		Scopes   []string `json:"scopes"`
	}{iss, sub, clientID, append([]string{}, scopes...)})
	return result{200, "", "application/json", string(b)}
}

func expect(t *testing.T, what string, got, want result) {
	t.Helper()
	if got != want {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func expectStatus(t *testing.T, what string, got result, status int, bodyPrefix string) {
	t.Helper()
	if got.Status != status || got.CType != "application/json" || !strings.HasPrefix(got.Body, bodyPrefix) {
		t.Fatalf("%s: got %+v, want %d with a JSON body starting %q", what, got, status, bodyPrefix)
	}
}

// ---- the tests ----

// TestOIDCProvider drives every example server with tokens from
// oidc-provider's real token endpoint: each signing algorithm, the
// contract's scope checks, the admin audience through a second resource
// indicator, a refresh-token grant, and a token that expires on its own.
func TestOIDCProvider(t *testing.T) {
	p := needProvider(t)
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, name, "-issuer", p.Issuer, "-audience", api)
			// A second instance with a 1 s leeway sees a token expire 1 s
			// after its exp instead of 30 s.
			strict := startServer(t, name, "-issuer", p.Issuer, "-audience", api, "-leeway", "1s")
			// The short-lived token first, so that its few seconds run
			// while the rest of the test does.
			expiring := p.clientCredentials(t, "svc-short", api, "notes:read")
			checkIssued(t, p, expiring, "ES256", api)
			strict.waitKeys(t, expiring)
			expect(t, "short-lived token while valid", strict.do(t, "GET", "/api/me", expiring), me(p.Issuer, "svc-short", "svc-short", "notes:read"))

			// One client per algorithm; the token's alg is what the
			// provider's resource server configuration picked.
			for _, c := range []struct{ client, alg string }{{"svc-rs256", "RS256"}, {"svc-es256", "ES256"}, {"svc-eddsa", "EdDSA"}} {
				read := p.clientCredentials(t, c.client, api, "notes:read")
				checkIssued(t, p, read, c.alg, api)
				s.waitKeys(t, read)
				expect(t, c.alg+" /api/me", s.do(t, "GET", "/api/me", read), me(p.Issuer, c.client, c.client, "notes:read"))
				expectStatus(t, c.alg+" GET /api/notes", s.do(t, "GET", "/api/notes", read), 200, "[")
				expect(t, c.alg+" POST /api/notes without notes:write", s.do(t, "POST", "/api/notes", read), forbidden("notes:write"))

				both := p.clientCredentials(t, c.client, api, "notes:read notes:write")
				expect(t, c.alg+" /api/me with two scopes", s.do(t, "GET", "/api/me", both), me(p.Issuer, c.client, c.client, "notes:read", "notes:write"))
				expectStatus(t, c.alg+" POST /api/notes", s.do(t, "POST", "/api/notes", both), 201, "{")
				write := p.clientCredentials(t, c.client, api, "notes:write")
				expect(t, c.alg+" GET /api/notes without notes:read", s.do(t, "GET", "/api/notes", write), forbidden("notes:read"))
				// A scope the resource does not offer is dropped by the
				// provider: the token carries no scope at all.
				none := p.clientCredentials(t, c.client, api, "admin")
				expect(t, c.alg+" /api/me without scopes", s.do(t, "GET", "/api/me", none), me(p.Issuer, c.client, c.client))
			}

			// The admin API through a second resource indicator: its token
			// carries aud https://api.example.com/admin.
			admin := p.clientCredentials(t, "svc-es256", adminAPI, "admin")
			checkIssued(t, p, admin, "ES256", adminAPI)
			expectStatus(t, "admin token on /admin/stats", s.do(t, "GET", "/admin/stats", admin), 200, "{")
			expect(t, "admin token on /api/me", s.do(t, "GET", "/api/me", admin), wrongAud)
			noScope := p.clientCredentials(t, "svc-es256", adminAPI, "")
			expect(t, "admin audience without scope admin", s.do(t, "GET", "/admin/stats", noScope), forbidden("admin"))
			apiToken := p.clientCredentials(t, "svc-rs256", api, "notes:read")
			expect(t, "API token on /admin/stats", s.do(t, "GET", "/admin/stats", apiToken), wrongAud)

			// A refresh token from the authorization code flow, redeemed
			// at the real token endpoint; the refreshed token narrows the
			// scope (RFC 6749 §6) and verifies.
			first := p.authorizationCode(t, "openid offline_access notes:read notes:write", api)
			if first.RefreshToken == "" {
				t.Fatal("the authorization code grant issued no refresh token")
			}
			checkIssued(t, p, first.AccessToken, "EdDSA", api)
			expect(t, "user token", s.do(t, "GET", "/api/me", first.AccessToken), me(p.Issuer, "user-123", "app", "notes:read", "notes:write"))
			refreshed := p.token(t, "app", url.Values{
				"grant_type":    {"refresh_token"},
				"refresh_token": {first.RefreshToken},
				"resource":      {api},
				"scope":         {"notes:read"},
			})
			if refreshed.AccessToken == first.AccessToken {
				t.Fatal("the refresh grant returned the same access token")
			}
			checkIssued(t, p, refreshed.AccessToken, "EdDSA", api)
			expect(t, "refreshed token", s.do(t, "GET", "/api/me", refreshed.AccessToken), me(p.Issuer, "user-123", "app", "notes:read"))
			expect(t, "refreshed token narrowed to notes:read", s.do(t, "POST", "/api/notes", refreshed.AccessToken), forbidden("notes:write"))

			// The short-lived token, once past exp + 1 s leeway: exactly
			// the expired hint. The 30 s server still accepts it.
			_, claims := jwtParts(t, expiring)
			exp := time.Unix(int64(claims["exp"].(float64)), 0)
			time.Sleep(time.Until(exp.Add(time.Second + 100*time.Millisecond)))
			expect(t, "expired token, leeway 1s", strict.do(t, "GET", "/api/me", expiring), expiredHint)
			expect(t, "expired token, leeway 30s", s.do(t, "GET", "/api/me", expiring), me(p.Issuer, "svc-short", "svc-short", "notes:read"))
		})
	}
}

// TestOIDCProviderKeyRotation: the provider starts signing with new keys
// (new kids, first in its JWKS) while the example servers keep running; each
// server picks the new keys up on the first unknown kid, and tokens signed
// with the old keys keep verifying.
func TestOIDCProviderKeyRotation(t *testing.T) {
	p := needProvider(t)
	clients := map[string]string{"RS256": "svc-rs256", "ES256": "svc-es256", "EdDSA": "svc-eddsa"}
	algs := []string{"RS256", "ES256", "EdDSA"}
	running := make([]*server, len(servers))
	old := map[string]string{}
	oldKids := map[string]string{}
	for _, alg := range algs {
		old[alg] = p.clientCredentials(t, clients[alg], api, "notes:read")
		oldKids[alg] = checkIssued(t, p, old[alg], alg, api)
	}
	// A refresh token granted before the rotation, redeemed after it.
	grant := p.authorizationCode(t, "offline_access notes:read", api)
	for i, name := range servers {
		running[i] = startServer(t, name, "-issuer", p.Issuer, "-audience", api)
		running[i].waitKeys(t, old["RS256"])
		for _, alg := range algs {
			expect(t, name+" "+alg+" before rotation", running[i].do(t, "GET", "/api/me", old[alg]), me(p.Issuer, clients[alg], clients[alg], "notes:read"))
		}
	}

	kids := p.rotate(t)
	var jwks struct{ Keys []struct{ Kid string } }
	if err := getJSON(p.JWKSURL, &jwks); err != nil {
		t.Fatal(err)
	}
	published := []string{}
	for _, k := range jwks.Keys {
		published = append(published, k.Kid)
	}
	for _, alg := range algs {
		if kids[alg] == oldKids[alg] || !slices.Contains(published[:3], kids[alg]) || !slices.Contains(published, oldKids[alg]) {
			t.Fatalf("JWKS after rotation %v: want the new %s kid %s first and the old %s kept", published, alg, kids[alg], oldKids[alg])
		}
	}

	for _, s := range running {
		for _, alg := range algs {
			fresh := p.clientCredentials(t, clients[alg], api, "notes:read")
			if kid := checkIssued(t, p, fresh, alg, api); kid != kids[alg] {
				t.Fatalf("%s token after rotation has kid %s, want %s", alg, kid, kids[alg])
			}
			expect(t, s.name+" "+alg+" after rotation", s.do(t, "GET", "/api/me", fresh), me(p.Issuer, clients[alg], clients[alg], "notes:read"))
			expect(t, s.name+" "+alg+" old key still published", s.do(t, "GET", "/api/me", old[alg]), me(p.Issuer, clients[alg], clients[alg], "notes:read"))
		}
	}

	refreshed := p.token(t, "app", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {grant.RefreshToken}, "resource": {api}})
	if kid := checkIssued(t, p, refreshed.AccessToken, "EdDSA", api); kid != kids["EdDSA"] {
		t.Fatalf("refreshed token has kid %s, want the rotated %s", kid, kids["EdDSA"])
	}
	for _, s := range running {
		expect(t, s.name+" token refreshed across the rotation", s.do(t, "GET", "/api/me", refreshed.AccessToken), me(p.Issuer, "user-123", "app", "notes:read"))
	}
}
