package middleware_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func TestMetadataURL(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]string{
		"https://api.test":                 "https://api.test/.well-known/oauth-protected-resource",
		"https://api.test/":                "https://api.test/.well-known/oauth-protected-resource",
		"https://api.test/v1":              "https://api.test/.well-known/oauth-protected-resource/v1",
		"https://api.test/admin/":          "https://api.test/.well-known/oauth-protected-resource/admin/",
		"https://api.test:8443/a%2Fb":      "https://api.test:8443/.well-known/oauth-protected-resource/a%2Fb",
		"http://127.0.0.1:8080/x":          "http://127.0.0.1:8080/.well-known/oauth-protected-resource/x",
		"http://localhost":                 "http://localhost/.well-known/oauth-protected-resource",
		"http://api.test":                  "", // plain http off loopback
		"api://notes":                      "", // not a URL with a host
		"6e74172b-be56-4843-9ff4-e66a39bb": "",
		"https://api.test/?a=b":            "",
		"https://api.test/?":               "",
		"https://api.test/#f":              "",
		"https://u:p@api.test/":            "",
		"https:///path":                    "",
		"https://:443/":                    "",
		`https://a"b.test/`:                "",
		"https://api.test//":               "",
		"https://api.test/a//b":            "",
		"https://api.test/..":              "",
		"https://api.test/a/../b":          "",
		"https://api.test/./a":             "",
		"https://api.test/%2e%2e/x":        "",
		"https://api.test/a/%2E":           "",
		"https://my_svc.internal/x":        "https://my_svc.internal/.well-known/oauth-protected-resource/x",
		"http://[::1]:8080/x":              "http://[::1]:8080/.well-known/oauth-protected-resource/x",
	} {
		if got := middleware.MetadataURL(id); got != want {
			t.Errorf("MetadataURL(%q) = %q, want %q", id, got, want)
		}
	}
}

// metadataGuard is a Guard for https://api.test/v1 with an admin route on
// the same host, one on another host, and one whose audience is not a URL.
func metadataGuard(t *testing.T, opts ...middleware.Option) (*jwkstest.Issuer, *middleware.Guard, http.Handler) {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test/v1"))
	t.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://api.test/v1"}, append([]middleware.Option{middleware.WithResourceMetadata(middleware.ResourceMetadata{Name: "Notes"})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/api/me", g.Handler(ok))
	mux.Handle("/api/notes", g.Require(middleware.Scopes("notes:write"))(ok))
	mux.Handle("/api/read", g.Require(middleware.AnyScope("notes:read", "notes:write"))(ok))
	mux.Handle("/admin/stats", g.Require(middleware.Audience("https://api.test/admin"), middleware.Scopes("admin"))(ok))
	mux.Handle("/billing", g.Require(middleware.Audience("https://billing.test"), middleware.Scopes("pay"))(ok))
	mux.Handle("/legacy", g.Require(middleware.Audience("api://legacy"))(ok))
	mux.Handle(middleware.WellKnownResource, g.MetadataHandler())
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	return iss, g, mux
}

func TestChallengesNameTheResourceMetadata(t *testing.T) {
	t.Parallel()
	iss, _, h := metadataGuard(t)
	const (
		api   = `resource_metadata="https://api.test/.well-known/oauth-protected-resource/v1"`
		admin = `resource_metadata="https://api.test/.well-known/oauth-protected-resource/admin"`
	)
	for _, tc := range []struct {
		name, path, authz string
		status            int
		challenge         string
	}{
		{"no token", "/api/me", "", 401, `Bearer realm="api", ` + api},
		{"malformed", "/api/me", "Bearer a b", 400, `Bearer realm="api", error="invalid_request", ` + api},
		{"expired", "/api/me", "Bearer " + iss.Mint(jwkstest.WithExpiresIn(-time.Hour)), 401,
			`Bearer realm="api", error="invalid_token", error_description="The access token expired", ` + api},
		{"claims check cause kept", "/api/me", "Bearer " + iss.Mint(jwkstest.WithClaim("iss", "https://other.example")), 401,
			`Bearer realm="api", error="invalid_token", error_description="The access token issuer is not accepted", ` + api},
		{"scope", "/api/notes", "Bearer " + iss.Mint(), 403, `Bearer realm="api", error="insufficient_scope", scope="notes:write", ` + api},
		{"admin, no token", "/admin/stats", "", 401, `Bearer realm="api", ` + admin},
		{"admin, API token", "/admin/stats", "Bearer " + iss.Mint(jwkstest.WithScopes("admin")), 401,
			`Bearer realm="api", error="invalid_token", error_description="The access token is not meant for this resource", ` + admin},
		{"another host", "/billing", "", 401, `Bearer realm="api", resource_metadata="https://billing.test/.well-known/oauth-protected-resource"`},
		{"audience not a URL: no parameter", "/legacy", "", 401, `Bearer realm="api"`},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		req.Host = "evil.example" // never reflected
		if tc.authz != "" {
			req.Header.Set("Authorization", tc.authz)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		// Then the bare DPoP challenge, naming the same metadata.
		dpop := dpopChallenge
		if i := strings.Index(tc.challenge, ", resource_metadata="); i >= 0 {
			dpop += tc.challenge[i:]
		}
		want := []string{tc.challenge, dpop}
		if tc.status == http.StatusBadRequest {
			want = want[:1] // a 400 names the request's scheme alone
		}
		if got := rec.Result().Header.Values("WWW-Authenticate"); rec.Code != tc.status || !slices.Equal(got, want) {
			t.Errorf("%s: %d %q\n want %d %q, %q", tc.name, rec.Code, got, tc.status, tc.challenge, dpop)
		}
	}
}

func TestMetadataDocuments(t *testing.T) {
	t.Parallel()
	iss, _, h := metadataGuard(t)
	get := func(method, path string) *http.Response {
		req := httptest.NewRequest(method, path, nil)
		req.Host = "whatever.example"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	for path, want := range map[string]string{
		"/.well-known/oauth-protected-resource/v1": `{"resource":"https://api.test/v1","authorization_servers":["` + iss.URL() + `"],` +
			`"scopes_supported":["notes:read","notes:write"],"bearer_methods_supported":["header"],"resource_name":"Notes",` + dpopAlgsMember + `}`,
		"/.well-known/oauth-protected-resource/admin": `{"resource":"https://api.test/admin","authorization_servers":["` + iss.URL() + `"],` +
			`"scopes_supported":["admin"],"bearer_methods_supported":["header"],"resource_name":"Notes",` + dpopAlgsMember + `}`,
		// Another host's resource, whose path this server also answers (the
		// contract serves each document by path, whatever the Host).
		"/.well-known/oauth-protected-resource": `{"resource":"https://billing.test","authorization_servers":["` + iss.URL() + `"],` +
			`"scopes_supported":["pay"],"bearer_methods_supported":["header"],"resource_name":"Notes",` + dpopAlgsMember + `}`,
	} {
		resp := get("GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("GET %s: %d %v\n%s\nwant %s", path, resp.StatusCode, resp.Header, body, want)
		}
		head := get("HEAD", path)
		if b, _ := io.ReadAll(head.Body); head.StatusCode != 200 || len(b) != 0 || head.Header.Get("Content-Length") != resp.Header.Get("Content-Length") {
			t.Errorf("HEAD %s: %d, %d bytes, Content-Length %q", path, head.StatusCode, len(b), head.Header.Get("Content-Length"))
		}
		post := get("POST", path)
		if post.StatusCode != 405 || post.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d Allow %q", path, post.StatusCode, post.Header.Get("Allow"))
		}
	}
	if resp := get("GET", "/.well-known/oauth-protected-resource/nothing"); resp.StatusCode != 404 {
		t.Errorf("unknown metadata path: %d", resp.StatusCode)
	}
	// The legacy audience is not a URL: no document anywhere for it.
	if strings.Contains(func() string {
		b, _ := io.ReadAll(get("GET", "/.well-known/oauth-protected-resource/v1").Body)
		return string(b)
	}(), "legacy") {
		t.Error("a non-URL audience in a document")
	}
}

func TestMetadataOffByDefault(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL())
	rec := httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", middleware.WellKnownResource, nil))
	if rec.Code != 404 {
		t.Fatalf("metadata served without WithResourceMetadata: %d", rec.Code)
	}
}

// refusalAllocs is how often the 401 for tok allocates, through a Guard
// for https://api.test/v1 with opts (the token cache off).
func refusalAllocs(t *testing.T, keys middleware.KeySet, iss, tok string, opts ...middleware.Option) float64 {
	t.Helper()
	g, err := middleware.New(keys, iss, []string{"https://api.test/v1"}, append(opts, middleware.WithoutTokenCache())...)
	if err != nil {
		t.Fatal(err)
	}
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := discardWriter{h: http.Header{}}
	return testing.AllocsPerRun(200, func() {
		clear(w.h)
		h.ServeHTTP(w, req)
	})
}

// The refusals cost no more with resource metadata on than off: the
// expired hint (a precomputed refusal) and a forged token's (one with a
// cause, copied per request) alike.
func TestResourceMetadataCostsNoAllocations(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test/v1"))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	tok := iss.Mint()
	meta := middleware.WithResourceMetadata(middleware.ResourceMetadata{})
	for name, tok := range map[string]string{
		"expired": iss.Mint(jwkstest.WithExpiresIn(-time.Hour)),
		"forged":  tok[:len(tok)-6] + "AAAAAA",
	} {
		off, on := refusalAllocs(t, keys, iss.URL(), tok), refusalAllocs(t, keys, iss.URL(), tok, meta)
		if on > off {
			t.Errorf("%s: the 401 allocates %.0f times with resource metadata, %.0f without", name, on, off)
		}
		t.Logf("%s 401: %.0f allocations with resource metadata, %.0f without", name, on, off)
	}
}

type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w discardWriter) WriteHeader(int)             {}

// Guard.Handler over a mux whose route is another resource's: its
// refusals name that resource, whichever rule refuses. Found by a review.
func TestResourceMetadataOfARouteBehindGuardHandler(t *testing.T) {
	t.Parallel()
	iss, g, _ := metadataGuard(t)
	const admin = `resource_metadata="https://api.test/.well-known/oauth-protected-resource/admin"`
	outer := http.NewServeMux()
	outer.Handle("/admin/stats", g.Require(middleware.Audience("https://api.test/admin"), middleware.Scopes("admin"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	wrapped := g.Handler(outer)
	for name, authz := range map[string]string{
		"no token":          "",
		"expired API token": "Bearer " + iss.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithScopes("admin")),
		"malformed":         "Bearer a b",
	} {
		req := httptest.NewRequest("GET", "/admin/stats", nil)
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		rec := httptest.NewRecorder()
		wrapped.ServeHTTP(rec, req)
		if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasSuffix(ch, admin) {
			t.Errorf("%s, admin route behind Guard.Handler: %q, want the admin resource's metadata", name, ch)
		}
	}
}

// Two identifiers with one metadata URL keep their own scopes: the
// Guard's own (first) document lists only its routes'. Found by a review.
func TestResourceMetadataScopesPerIdentifier(t *testing.T) {
	t.Parallel()
	iss2 := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test"))
	t.Cleanup(iss2.Close)
	g2 := apiTestGuard(t, iss2)
	g2.Require(middleware.Scopes("notes:read"))
	g2.Require(middleware.Audience("https://api.test/"), middleware.Scopes("admin:everything"))
	rec := httptest.NewRecorder()
	g2.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", middleware.WellKnownResource, nil))
	if body := rec.Body.String(); strings.Contains(body, "admin:everything") || !strings.Contains(body, `"resource":"https://api.test"`) {
		t.Errorf("document for https://api.test: %s", body)
	}
}

// ACR or MaxAge given twice in one rule is a programming error, not a
// silent "either" (or "the last"); so is a MaxAge under a second. Found
// by a review.
func TestStepUpRequirementsGivenTwicePanic(t *testing.T) {
	t.Parallel()
	_, g, _ := metadataGuard(t)
	for name, reqs := range map[string][]middleware.Requirement{
		"ACR twice":    {middleware.ACR("gold"), middleware.ACR("silver", "gold")},
		"MaxAge twice": {middleware.MaxAge(time.Minute), middleware.MaxAge(time.Hour)},
		"MaxAge 0.5s":  {middleware.MaxAge(500 * time.Millisecond)},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s accepted", name)
				}
			}()
			g.Rule(reqs...)
		}()
	}
}

// An auth_time in the future (beyond the leeway) proves no recent login:
// it would pass MaxAge for the whole life of the token. Found by a review.
func TestMaxAgeRefusesAFutureAuthTime(t *testing.T) {
	t.Parallel()
	iss, g, _ := metadataGuard(t)
	ru := g.Rule(middleware.MaxAge(time.Minute))
	future := verifiedClaimsFor(t, g, iss.Mint(jwkstest.WithClaim("auth_time", time.Now().Add(24*time.Hour).Unix())))
	if err := ru.Authorize(t.Context(), future); !errors.Is(err, middleware.ErrInsufficientUserAuthentication) {
		t.Errorf("auth_time a day ahead under MaxAge(1m): %v", err)
	}
	withinLeeway := verifiedClaimsFor(t, g, iss.Mint(jwkstest.WithClaim("auth_time", time.Now().Add(10*time.Second).Unix())))
	if err := ru.Authorize(t.Context(), withinLeeway); err != nil {
		t.Errorf("auth_time 10 s ahead, within the leeway: %v", err)
	}
}

// A step-up refusal names what the route accepts, as its challenge does,
// so a transport without WWW-Authenticate (gRPC, Connect) can say it too.
func TestStepUpRefusalNamesTheRoutesRequirements(t *testing.T) {
	t.Parallel()
	iss, g, _ := metadataGuard(t)
	ru := g.Rule(middleware.ACR("urn:mfa", "urn:hwk"), middleware.MaxAge(5*time.Minute+500*time.Millisecond))
	old := time.Now().Add(-time.Hour).Unix()
	for _, tc := range []struct {
		name   string
		claims []jwkstest.MintOption
		acr    []string
		maxAge time.Duration
	}{
		{"wrong acr, old login", []jwkstest.MintOption{jwkstest.WithClaim("acr", "urn:pwd"), jwkstest.WithClaim("auth_time", old)}, []string{"urn:mfa", "urn:hwk"}, 5 * time.Minute},
		{"wrong acr, recent login", []jwkstest.MintOption{jwkstest.WithClaim("acr", "urn:pwd"), jwkstest.WithClaim("auth_time", time.Now().Unix())}, []string{"urn:mfa", "urn:hwk"}, 0},
		{"right acr, old login", []jwkstest.MintOption{jwkstest.WithClaim("acr", "urn:hwk"), jwkstest.WithClaim("auth_time", old)}, nil, 5 * time.Minute},
	} {
		err := ru.Authorize(t.Context(), verifiedClaimsFor(t, g, iss.Mint(tc.claims...)))
		var e *middleware.Error
		if !errors.As(err, &e) || !errors.Is(err, middleware.ErrInsufficientUserAuthentication) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(e.ACRValues(), tc.acr) || e.MaxAge() != tc.maxAge {
			t.Errorf("%s: ACRValues %q, MaxAge %v; want %q, %v", tc.name, e.ACRValues(), e.MaxAge(), tc.acr, tc.maxAge)
		}
		if acr := e.ACRValues(); len(acr) > 0 {
			acr[0] = "changed"
			if e.ACRValues()[0] != tc.acr[0] {
				t.Errorf("%s: ACRValues aliases the shared refusal", tc.name)
			}
		}
	}
	err := g.Rule(middleware.Scopes("notes:write")).Authorize(t.Context(), verifiedClaimsFor(t, g, iss.Mint()))
	var e *middleware.Error
	if !errors.As(err, &e) || e.ACRValues() != nil || e.MaxAge() != 0 {
		t.Errorf("insufficient_scope: %v, ACRValues %q, MaxAge %v", err, e.ACRValues(), e.MaxAge())
	}
}

func verifiedClaimsFor(t *testing.T, g *middleware.Guard, tok string) *claims.Claims {
	t.Helper()
	c, err := g.VerifyToken(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Rules made with ever new audiences (per request, say) do not grow the
// Guard without end; each still names its own metadata URL.
func TestResourcesAreBounded(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test"))
	t.Cleanup(iss.Close)
	g := apiTestGuard(t, iss)
	// 1100 rules: past the bound of 1024 resources with documents.
	var last *middleware.Rule
	for i := range 1100 {
		last = g.Rule(middleware.Audience(fmt.Sprintf("https://api.test/tenants/%d", i)))
	}
	if err := last.Authorize(t.Context(), nil); err == nil || !strings.Contains(strings.Join(err.(*middleware.Error).Challenges(), ""), "/oauth-protected-resource/tenants/1099") {
		t.Fatalf("the 1100th rule's refusal: %v", err)
	}
	served := 0
	for _, i := range []int{0, 1000, 1099} {
		rec := httptest.NewRecorder()
		g.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", fmt.Sprintf("%s/tenants/%d", middleware.WellKnownResource, i), nil))
		if rec.Code == 200 {
			served++
		}
	}
	if served != 2 { // the first 1024 resources have documents, later ones do not
		t.Fatalf("%d of tenants 0, 1000, 1099 have documents, want 2", served)
	}
}

// Rules made per request with a scope from the request do not grow the
// Guard, nor its public metadata document, without end: the document lists
// the first 1,024 scopes, and rules past that still enforce theirs.
func TestResourceScopesAreBounded(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test"))
	t.Cleanup(iss.Close)
	g := apiTestGuard(t, iss)
	const rules = 2_000 // past the bound of 1,024 scopes
	var last *middleware.Rule
	for i := range rules {
		last = g.Rule(middleware.Scopes(fmt.Sprintf("project:%d:read", i)))
	}
	var doc struct {
		Scopes []string `json:"scopes_supported"`
	}
	raw := metadataOf(t, g, middleware.WellKnownResource)
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Scopes) != 1024 || len(raw) > 64<<10 {
		t.Fatalf("after %d per-request rules the document lists %d scopes in %d bytes, want 1024", rules, len(doc.Scopes), len(raw))
	}
	for _, i := range []int{0, 1023} {
		if s := fmt.Sprintf("project:%d:read", i); !slices.Contains(doc.Scopes, s) {
			t.Errorf("scopes_supported lacks %s, one of the first 1,024", s)
		}
	}
	if slices.Contains(doc.Scopes, "project:1024:read") {
		t.Errorf("scopes_supported lists project:1024:read, past the bound")
	}
	// The last rule's scope is not listed, but it is still required.
	want := fmt.Sprintf("project:%d:read", rules-1)
	err := last.Authorize(t.Context(), verifiedClaimsFor(t, g, iss.Mint(jwkstest.WithScopes("project:0:read"))))
	var e *middleware.Error
	if !errors.Is(err, middleware.ErrInsufficientScope) || !errors.As(err, &e) || !slices.Equal(e.Scopes(), []string{want}) {
		t.Fatalf("the last rule with a token lacking %s: %v, want ErrInsufficientScope naming it", want, err)
	}
	if err := last.Authorize(t.Context(), verifiedClaimsFor(t, g, iss.Mint(jwkstest.WithScopes(want)))); err != nil {
		t.Fatalf("the last rule with a token granting %s: %v", want, err)
	}

	// Long scopes made from the request are bounded by their bytes too:
	// 64 KiB of names, then only those that still fit.
	g2 := apiTestGuard(t, iss)
	long := func(i int) string { return fmt.Sprintf("%04d:", i) + strings.Repeat("x", 16<<10-105) } // four fit, with room for a short one
	for i := range 64 {
		g2.Rule(middleware.Scopes(long(i)))
	}
	g2.Rule(middleware.Scopes("short"))
	doc.Scopes = nil
	raw = metadataOf(t, g2, middleware.WellKnownResource)
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		t.Fatal(err)
	}
	if want := []string{long(0), long(1), long(2), long(3), "short"}; !slices.Equal(doc.Scopes, want) || len(raw) > 80<<10 {
		t.Fatalf("64 scopes of 16 KiB: the document lists %d scopes in %d bytes, want the first four and the short one", len(doc.Scopes), len(raw))
	}

	// As the document writes them: '<' is six bytes there (\u003c).
	g3 := apiTestGuard(t, iss)
	for i := range 64 {
		g3.Rule(middleware.Scopes(fmt.Sprintf("%04d", i) + strings.Repeat("<", 4<<10)))
	}
	if raw = metadataOf(t, g3, middleware.WellKnownResource); len(raw) > 80<<10 {
		t.Fatalf("64 scopes of 4 KiB of '<' (24 KiB each in JSON): a document of %d bytes", len(raw))
	}
}

// A second review: behind Guard.Handler, the outer rule's own refusal of
// the token's audience names the outer resource (the one the token
// lacks), while the route's rule's refusals name the route's.
func TestOuterAudienceRefusalNamesTheOuterResource(t *testing.T) {
	t.Parallel()
	iss, g, _ := metadataGuard(t)
	outer := http.NewServeMux()
	outer.Handle("/admin/stats", g.Require(middleware.Audience("https://api.test/admin"), middleware.Scopes("admin"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	h := g.Handler(outer)
	req := httptest.NewRequest("GET", "/admin/stats", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Mint(jwkstest.WithClaim("aud", "https://api.test/admin"), jwkstest.WithScopes("admin")))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ch := rec.Header().Get("WWW-Authenticate"); !strings.HasSuffix(ch, `resource_metadata="https://api.test/.well-known/oauth-protected-resource/v1"`) {
		t.Fatalf("an admin token refused by the outer API rule: %q, want the API's metadata", ch)
	}
}

// apiTestGuard is a Guard of iss for the resource https://api.test, with
// resource metadata on.
func apiTestGuard(t *testing.T, iss *jwkstest.Issuer) *middleware.Guard {
	t.Helper()
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://api.test"}, middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// bearer_methods_supported lists the RFC 6750 methods as a client reads
// them, and each one it lists works: "header" is the Authorization
// header, "query" the access_token parameter.
func TestMetadataBearerMethods(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	for _, tc := range []struct {
		name string
		opts []middleware.Option
		want []string
	}{
		{"default", nil, []string{"header"}},
		{"access_token parameter", []middleware.Option{middleware.WithQueryParameter("access_token")}, []string{"header", "query"}},
		{"another parameter", []middleware.Option{middleware.WithQueryParameter("token")}, []string{"header"}},
		{"a cookie", []middleware.Option{middleware.WithCookie("at")}, []string{"header"}},
		{"a proxy's header only", []middleware.Option{middleware.WithTokenHeader("X-Jwt-Assertion")}, []string{}},
		// A DPoP token goes in the Authorization header alone (RFC 9449 §7.1).
		{"DPoP required", []middleware.Option{middleware.WithDPoP(middleware.DPoPRequired), middleware.WithQueryParameter("access_token")}, []string{"header"}},
	} {
		g, err := middleware.New(keys, iss.URL(), []string{"https://api.test"}, append(tc.opts, middleware.WithResourceMetadata(middleware.ResourceMetadata{}))...)
		if err != nil {
			t.Fatal(err)
		}
		api := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		rec := httptest.NewRecorder()
		g.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", middleware.WellKnownResource, nil))
		var doc struct {
			Methods []string `json:"bearer_methods_supported"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Methods == nil || !slices.Equal(doc.Methods, tc.want) {
			t.Errorf("%s: %v, bearer_methods_supported %q, want %q", tc.name, err, doc.Methods, tc.want)
		}
		tok := iss.Mint(jwkstest.WithClaim("aud", "https://api.test"))
		prover := guardtest.NewProver("ES256")
		bound := iss.Mint(jwkstest.WithClaim("aud", "https://api.test"), jwkstest.WithClaim("cnf", map[string]any{"jkt": prover.JKT}))
		for _, m := range doc.Methods {
			req := httptest.NewRequest("GET", "/", nil)
			switch {
			case m == "header" && strings.HasPrefix(tc.name, "DPoP"):
				req.Header.Set("Authorization", "DPoP "+bound)
				req.Header.Set("DPoP", prover.Proof("GET", "http://example.com/", bound, nil, nil))
			case m == "header":
				req.Header.Set("Authorization", "Bearer "+tok)
			default:
				req.URL.RawQuery = "access_token=" + tok
			}
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("%s: a token sent by %q, as the document says: %d", tc.name, m, rec.Code)
			}
		}
	}
}
