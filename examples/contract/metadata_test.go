package contract_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// metaResponse is a metadata request's answer, in the parts the contract
// fixes.
type metaResponse struct {
	Status                    int
	CType, CORS, Allow, Cache string
	Body                      string
}

func (s *server) meta(t *testing.T, method, path string) metaResponse {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, nil)
	req.Host = "reflected.example" // the documents never depend on it
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := resp.Header
	return metaResponse{resp.StatusCode, h.Get("Content-Type"), h.Get("Access-Control-Allow-Origin"), h.Get("Allow"), h.Get("Cache-Control"), string(b)}
}

func doc(resource, issuer string, scopes ...string) string {
	return `{"resource":"` + resource + `","authorization_servers":["` + issuer + `"],"scopes_supported":["` +
		strings.Join(scopes, `","`) + `"],"bearer_methods_supported":["header"],` +
		`"dpop_signing_alg_values_supported":["` + strings.ReplaceAll(guardtest.Algs, " ", `","`) + `"]}`
}

// TestResourceMetadata: the "Resource metadata (RFC 9728)" section on
// every server, for an API resource with a path, an admin resource on the
// same host and on another, an audience that is not a URL, and two
// identifiers that give one path.
func TestResourceMetadata(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test/v1"))
	defer iss.Close()
	apiDoc := doc("https://api.test/v1", iss.URL(), "notes:read", "notes:write", "transfers:write")
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := start(t, name, nil, "-issuer", iss.URL(), "-audience", "https://api.test/v1", "-admin-audience", "https://api.test/admin")
			s.waitKeys(t, iss.Mint())
			const apiPath, adminPath = "/.well-known/oauth-protected-resource/v1", "/.well-known/oauth-protected-resource/admin"
			for path, body := range map[string]string{apiPath: apiDoc, adminPath: doc("https://api.test/admin", iss.URL(), "admin")} {
				want := metaResponse{200, "application/json", "*", "", "public, max-age=3600", body}
				if got := s.meta(t, "GET", path); got != want {
					t.Errorf("GET %s:\n got  %+v\n want %+v", path, got, want)
				}
				want.Body = ""
				if got := s.meta(t, "HEAD", path); got != want {
					t.Errorf("HEAD %s:\n got  %+v\n want %+v", path, got, want)
				}
				// Every other method, those a router may not know included.
				for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND", "FOO"} {
					if got := s.meta(t, m, path); got.Status != 405 || got.Allow != "GET, HEAD" {
						t.Errorf("%s %s: %d, Allow %q", m, path, got.Status, got.Allow)
					}
				}
			}
			if got := s.meta(t, "GET", "/.well-known/oauth-protected-resource/other"); got.Status != 404 {
				t.Errorf("a path no resource has: %d", got.Status)
			}
			// Every challenge names the route's resource.
			for path, want := range map[string]string{
				"/api/me":      noCredentialsOn("https://api.test" + apiPath),
				"/admin/stats": noCredentialsOn("https://api.test" + adminPath),
			} {
				if got := s.do(t, "GET", path); got.Status != 401 || got.Challenge != want {
					t.Errorf("%s without a token: %d %q, want %q", path, got.Status, got.Challenge, want)
				}
			}
			// The step-up route passes with the scope, MFA and a recent login.
			tok := iss.Mint(jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", "urn:example:acr:mfa"), jwkstest.WithClaim("auth_time", time.Now().Unix()-60))
			if got := s.do(t, "POST", "/api/transfers", bearer(tok)...); got.Status != 201 || got.Body != `{"status":"accepted"}` || got.Challenge != "" {
				t.Errorf("POST /api/transfers after step-up: %+v", got)
			}

			// The admin resource on another host: its document at the bare
			// well-known path, its routes naming that host.
			s = start(t, name, nil, "-issuer", iss.URL(), "-audience", "https://api.test/v1", "-admin-audience", "https://admin.test")
			s.waitKeys(t, iss.Mint())
			if got := s.meta(t, "GET", "/.well-known/oauth-protected-resource"); got.Status != 200 || got.Body != doc("https://admin.test", iss.URL(), "admin") {
				t.Errorf("admin on another host: %+v", got)
			}
			if got := s.do(t, "GET", "/admin/stats"); got.Challenge != noCredentialsOn("https://admin.test/.well-known/oauth-protected-resource") {
				t.Errorf("admin challenge: %q", got.Challenge)
			}

			// Identifiers that are not URLs: no parameter, no document.
			s = start(t, name, nil, "-issuer", iss.URL(), "-audience", "api://notes", "-admin-audience", "api://admin")
			notURL := iss.Mint(jwkstest.WithClaim("aud", "api://notes"))
			s.waitKeys(t, notURL)
			if got := s.do(t, "GET", "/api/me"); got.Challenge != "Bearer realm=\"api\"\nDPoP realm=\"api\", algs=\""+guardtest.Algs+"\"" {
				t.Errorf("audience not a URL: challenge %q", got.Challenge)
			}
			for _, path := range []string{"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/notes"} {
				if got := s.meta(t, "GET", path); got.Status != 404 {
					t.Errorf("audience not a URL: GET %s is %d", path, got.Status)
				}
			}

			// Two identifiers, one path: the API's document is served there.
			s = start(t, name, nil, "-issuer", iss.URL(), "-audience", "https://api.test/x", "-admin-audience", "https://admin.test/x")
			s.waitKeys(t, iss.Mint(jwkstest.WithClaim("aud", "https://api.test/x")))
			if got := s.meta(t, "GET", "/.well-known/oauth-protected-resource/x"); got.Status != 200 ||
				got.Body != doc("https://api.test/x", iss.URL(), "notes:read", "notes:write", "transfers:write") {
				t.Errorf("shared path: %+v", got)
			}
		})
	}
}

// noCredentialsOn is the challenges of a request without a token on a
// route whose resource's metadata URL is metadataURL: Bearer, then DPoP.
func noCredentialsOn(metadataURL string) string {
	rm := `, resource_metadata="` + metadataURL + `"`
	return `Bearer realm="api"` + rm + "\n" + `DPoP realm="api", algs="` + guardtest.Algs + `"` + rm
}
