package middleware_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// verifiedClaims verifies tok with g and returns its claims, failing the
// test on a refusal.
func verifiedClaims(t *testing.T, g *middleware.Guard, tok string) *claims.Claims {
	t.Helper()
	c, err := verifyWith(g, tok)
	if err != nil {
		t.Fatalf("refused: %v", err)
	}
	return c
}

func TestClientIDClaims(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithClientIDClaims("client_id", "azp", "cid", "appid"))
	for name, tc := range map[string]struct {
		claims map[string]any
		want   string
	}{
		"client_id first":    {map[string]any{"client_id": "a", "azp": "b"}, "a"},
		"azp (Auth0, Entra)": {map[string]any{"client_id": nil, "azp": "b"}, "b"},
		"cid (Okta)":         {map[string]any{"client_id": nil, "cid": "c"}, "c"},
		"appid (Entra v1)":   {map[string]any{"client_id": nil, "appid": "d"}, "d"},
		"empty skipped":      {map[string]any{"client_id": "", "azp": "e"}, "e"},
		"not a string":       {map[string]any{"client_id": nil, "azp": []string{"x"}, "cid": 7}, ""},
		"none":               {map[string]any{"client_id": nil}, ""},
	} {
		opts := []jwkstest.MintOption{}
		for k, v := range tc.claims {
			opts = append(opts, jwkstest.WithClaim(k, v))
		}
		if got := verifiedClaims(t, g, iss.Mint(opts...)).ClientID; got != tc.want {
			t.Errorf("%s: ClientID %q, want %q", name, got, tc.want)
		}
	}
	// The default reads client_id alone.
	plain := newGuard(t, keys, iss.URL())
	if got := verifiedClaims(t, plain, iss.Mint(jwkstest.WithClaim("client_id", nil), jwkstest.WithClaim("azp", "b"))).ClientID; got != "" {
		t.Errorf("default: ClientID %q from azp", got)
	}
	// And it is an issuer's own: another issuer of the Guard keeps the default.
	other, otherKeys := issuerWithKeys(t)
	two := newGuard(t, keys, iss.URL(), middleware.WithIssuer(otherKeys, other.URL()), middleware.WithClientIDClaims("azp"))
	if got := verifiedClaims(t, two, other.Mint(jwkstest.WithClaim("client_id", nil), jwkstest.WithClaim("azp", "b"))).ClientID; got != "" {
		t.Errorf("another issuer: ClientID %q from azp", got)
	}
	if _, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithClientIDClaims()); err == nil {
		t.Error("WithClientIDClaims() with no claim accepted")
	}
}

func TestSubjectClaim(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithSubjectClaim("client_id"))
	// A client-credentials token without sub (Duende): the client is the subject.
	if got := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("sub", nil), jwkstest.WithClaim("client_id", "m2m"))).Subject; got != "m2m" {
		t.Errorf("Subject %q, want m2m", got)
	}
	// A token with sub keeps it.
	if got := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("client_id", "m2m"))).Subject; got != "user-123" {
		t.Errorf("Subject %q, want the token's own sub", got)
	}
	// Neither: still refused.
	if _, err := verifyWith(g, iss.Mint(jwkstest.WithClaim("sub", nil), jwkstest.WithClaim("client_id", nil))); !errors.Is(err, middleware.ErrSubject) {
		t.Errorf("no sub, no client_id: %v, want ErrSubject", err)
	}
	// Without the option, no sub is refused.
	plain := newGuard(t, keys, iss.URL())
	if _, err := verifyWith(plain, iss.Mint(jwkstest.WithClaim("sub", nil))); !errors.Is(err, middleware.ErrSubject) {
		t.Errorf("default: %v, want ErrSubject", err)
	}
	if _, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithSubjectClaim("sub")); err == nil {
		t.Error("WithSubjectClaim(\"sub\") accepted")
	}
}

func TestTokenHeader(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithTokenHeader("x-goog-iap-jwt-assertion"))
	h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	}))
	tok := iss.Mint()
	for name, tc := range map[string]struct {
		header http.Header
		status int
	}{
		"the header":                      {http.Header{"X-Goog-Iap-Jwt-Assertion": {tok}}, 200},
		"Authorization is not read":       {http.Header{"Authorization": {"Bearer " + tok}}, 401},
		"both: the header wins":           {http.Header{"X-Goog-Iap-Jwt-Assertion": {tok}, "Authorization": {"Bearer other"}}, 200},
		"two headers":                     {http.Header{"X-Goog-Iap-Jwt-Assertion": {tok, tok}}, 400},
		"a scheme in it":                  {http.Header{"X-Goog-Iap-Jwt-Assertion": {"Bearer " + tok}}, 400},
		"over the maximum token size":     {http.Header{"X-Goog-Iap-Jwt-Assertion": {tok + padTo(middleware.DefaultMaxTokenSize+1-len(tok))}}, 400},
		"forged":                          {http.Header{"X-Goog-Iap-Jwt-Assertion": {tok[:len(tok)-4] + "AAAA"}}, 401},
		"no header: no credentials (401)": {nil, 401},
	} {
		req := httptest.NewRequest("GET", "/", nil)
		for k, v := range tc.header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("%s: %d, want %d", name, rec.Code, tc.status)
		}
	}
}

func padTo(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestScopesFrom(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithScopeClaims("roles"), middleware.WithScopesFrom(func(c *claims.Claims) []string {
		return append(c.Strings("team"), "", "read") // empty values are dropped, duplicates merged
	}))
	c := verifiedClaims(t, g, iss.Mint(jwkstest.WithScopes("read"), jwkstest.WithClaim("roles", []string{"r"}), jwkstest.WithClaim("team", "blue")))
	if got := c.Scopes.String(); got != "read r blue" {
		t.Fatalf("Scopes %q, want \"read r blue\"", got)
	}
	if _, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithScopesFrom(nil)); err == nil {
		t.Fatal("WithScopesFrom(nil) accepted")
	}
}

// Fixes from a review: identity filled from another claim is marked, and
// claim requirements and WithClientIDAsAudience read only what the token
// itself says.
func TestFilledIdentityIsNotTakenForTheTokens(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithSubjectClaim("client_id"), middleware.WithClientIDClaims("client_id", "azp"))
	// A client-credentials token whose client ID is a user's name.
	m2m := iss.Mint(jwkstest.WithClaim("sub", nil), jwkstest.WithClaim("client_id", "alice"))
	c := verifiedClaims(t, g, m2m)
	if c.Subject != "alice" || c.SubjectFrom != "client_id" {
		t.Fatalf("Subject %q from %q, want alice from client_id", c.Subject, c.SubjectFrom)
	}
	if err := g.Rule(middleware.ClaimIn("sub", "alice")).Authorize(t.Context(), c); !errors.Is(err, middleware.ErrClaimRequirement) {
		t.Fatalf("ClaimIn(sub) on a subject filled from client_id: %v, want ErrClaimRequirement", err)
	}
	user := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("sub", "alice")))
	if user.SubjectFrom != "" || g.Rule(middleware.ClaimIn("sub", "alice")).Authorize(t.Context(), user) != nil {
		t.Fatalf("a user's own sub: from %q", user.SubjectFrom)
	}
	// ClientID from azp is marked, and ClaimIn(client_id) does not see it.
	viaAzp := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("client_id", nil), jwkstest.WithClaim("azp", "trusted-app")))
	if viaAzp.ClientID != "trusted-app" || viaAzp.ClientIDFrom != "azp" {
		t.Fatalf("ClientID %q from %q", viaAzp.ClientID, viaAzp.ClientIDFrom)
	}
	if err := g.Rule(middleware.ClaimIn("client_id", "trusted-app")).Authorize(t.Context(), viaAzp); !errors.Is(err, middleware.ErrClaimRequirement) {
		t.Fatalf("ClaimIn(client_id) met by azp: %v", err)
	}
	// WithClientIDAsAudience reads the token's own client_id, never azp.
	cog := newGuard(t, keys, iss.URL(), middleware.WithClientIDAsAudience(), middleware.WithClientIDClaims("client_id", "azp"))
	noAud := iss.Mint(jwkstest.WithClaim("aud", nil), jwkstest.WithClaim("client_id", "other"), jwkstest.WithClaim("azp", aud))
	if _, err := verifyWith(cog, noAud); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("azp standing in for the audience: %v, want ErrAudience", err)
	}
	noAud = iss.Mint(jwkstest.WithClaim("aud", nil), jwkstest.WithClaim("client_id", nil), jwkstest.WithClaim("azp", aud))
	if _, err := verifyWith(cog, noAud); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("azp alone standing in for the audience: %v, want ErrAudience", err)
	}
}

func TestClaimInReadsClaimsAsWritten(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL(), middleware.WithScopeClaims("roles"))
	c := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("roles", "user admin")))
	if err := g.Rule(middleware.ClaimIn("roles", "admin")).Authorize(t.Context(), c); !errors.Is(err, middleware.ErrClaimRequirement) {
		t.Fatalf(`roles "user admin" met ClaimIn(roles, admin): %v`, err)
	}
	if err := g.Rule(middleware.ClaimIn("roles", "user admin")).Authorize(t.Context(), c); err != nil {
		t.Fatalf("the whole string: %v", err)
	}
	for _, path := range []string{"scope", "scp"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("ClaimIn(%q) accepted: scopes are merged, use Scopes", path)
				}
			}()
			g.Rule(middleware.ClaimIn(path, "admin"))
		}()
	}
}

// A review found a genuine token whose sub is "mallory\ud800" (a lone
// surrogate, as JSON.stringify writes a JavaScript string holding one)
// accepted as the subject "mallory\ufffd", another account at the issuer,
// which ClaimIn("sub", that account) let in. encoding/json reads the
// escape as U+FFFD, as it reads invalid UTF-8: the token is refused alike.
func TestLoneSurrogateSubjectIsNoOtherUser(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	g := newGuard(t, keys, iss.URL())
	rule := g.Rule(middleware.ClaimIn("sub", "mallory\ufffd"))
	for _, sub := range []string{`"mallory\ud800"`, `"mallory\udfff"`, `"mallory\udbff\u0041"`} {
		c, err := rule.VerifyToken(t.Context(), iss.Mint(jwkstest.WithClaim("sub", json.RawMessage(sub))))
		switch {
		case err == nil:
			t.Errorf("sub %s accepted as the subject %q, meeting ClaimIn(sub, %q)", sub, c.Subject, "mallory\ufffd")
		case !errors.Is(err, middleware.ErrMalformedClaims):
			t.Errorf("sub %s: %v, want ErrMalformedClaims", sub, err)
		}
	}
	// The account itself, however its sub is written, is let in.
	for _, sub := range []string{`"mallory\ufffd"`, `"mallory` + "\ufffd" + `"`} {
		if _, err := rule.VerifyToken(t.Context(), iss.Mint(jwkstest.WithClaim("sub", json.RawMessage(sub)))); err != nil {
			t.Errorf("sub %s: %v", sub, err)
		}
	}
}

func TestTokenSourceConfigurationErrors(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	for name, o := range map[string]middleware.Option{
		"an empty token header":         middleware.WithTokenHeader(""),
		"Authorization as token header": middleware.WithTokenHeader("authorization"),
		"a max token size over 1 MiB":   middleware.WithMaxTokenSize(1<<20 + 1),
		"the largest int as max size":   middleware.WithMaxTokenSize(int(^uint(0) >> 1)),
	} {
		if _, err := middleware.New(keys, iss.URL(), []string{aud}, o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithMaxTokenSize(1<<20)); err != nil {
		t.Errorf("1 MiB: %v", err)
	}
}

// A second review: WithTokenHeader is the Guard's only source, and the
// token's own client_id stays readable when another claim fills ClientID.
func TestTokenHeaderIsTheOnlySourceAndOwnClientIDStays(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	for name, opts := range map[string][]middleware.Option{
		"with a cookie":          {middleware.WithTokenHeader("X-Goog-IAP-JWT-Assertion"), middleware.WithCookie("tok")},
		"with a query parameter": {middleware.WithTokenHeader("X-Goog-IAP-JWT-Assertion"), middleware.WithQueryParameter("access_token")},
		"twice":                  {middleware.WithTokenHeader("X-Goog-IAP-JWT-Assertion"), middleware.WithTokenHeader("X-Anyone")},
	} {
		if _, err := middleware.New(keys, iss.URL(), []string{aud}, opts...); err == nil {
			t.Errorf("WithTokenHeader %s: New accepted it", name)
		}
	}
	g := newGuard(t, keys, iss.URL(), middleware.WithClientIDClaims("azp", "client_id"))
	c := verifiedClaims(t, g, iss.Mint(jwkstest.WithClaim("client_id", "app"), jwkstest.WithClaim("azp", "web")))
	if c.ClientID != "web" || c.ClientIDFrom != "azp" {
		t.Fatalf("ClientID %q from %q", c.ClientID, c.ClientIDFrom)
	}
	if err := g.Rule(middleware.ClaimIn("client_id", "app")).Authorize(t.Context(), c); err != nil {
		t.Fatalf("the token's own client_id, with azp filling ClientID: %v", err)
	}
}

// TestWithoutClaims: a context handed on without claims is not taken as
// verified by a nested rule, which verifies the token again, and shows
// no claims.
func TestWithoutClaims(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{aud})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Mint(jwkstest.WithScopes("admin")))
	r2, err := g.Rule().Check(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims.FromContext(r2.Context()); !ok {
		t.Fatal("no claims after Check")
	}
	bare := middleware.WithoutClaims(r2.Context())
	if c, ok := claims.FromContext(bare); ok || c != nil {
		t.Fatalf("claims survived: %v", c)
	}
	// Another request, another (weaker) token, under the detached context:
	// the nested rule must judge this token, not vouch for the first.
	later := httptest.NewRequest("GET", "/", nil).WithContext(bare)
	later.Header.Set("Authorization", "Bearer "+iss.Mint(jwkstest.WithScopes("notes:read")))
	if _, err := g.Rule(middleware.Scopes("admin")).Check(later); !errors.Is(err, middleware.ErrInsufficientScope) {
		t.Fatalf("nested rule under the detached context: %v", err)
	}
	// Without WithoutClaims the first token would vouch: the point of it.
	vouched := httptest.NewRequest("GET", "/", nil).WithContext(r2.Context())
	vouched.Header.Set("Authorization", "Bearer "+iss.Mint(jwkstest.WithScopes("notes:read")))
	if _, err := g.Rule(middleware.Scopes("admin")).Check(vouched); err != nil {
		t.Fatalf("nested rule under the verified context: %v", err)
	}
	if !middleware.Audience("x").IsAudience() || middleware.Scopes("x").IsAudience() {
		t.Fatal("IsAudience")
	}
}
