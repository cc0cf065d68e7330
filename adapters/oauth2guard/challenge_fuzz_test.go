package oauth2guard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// guardChallenges returns every WWW-Authenticate value jwtguard's own
// middleware sends, by asking a real Guard: the seeds of the fuzz target.
func guardChallenges(f *testing.F) []string {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://api.example.com"}, middleware.WithRealm(`a "quoted" \realm`),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err != nil {
		f.Fatal(err)
	}
	h := g.Require(middleware.Scopes("notes:read", "notes:write"), middleware.ACR("urn:example:acr:mfa"), middleware.MaxAge(5*time.Minute))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	mint := func(opts ...jwkstest.MintOption) string {
		tok := iss.Mint(opts...)
		return "Bearer " + tok
	}
	var out []string
	for _, auth := range []string{
		"", "Bearer", "Bearer a b",
		mint(jwkstest.WithExpiresIn(-time.Hour)),
		mint(jwkstest.WithClaim("aud", "https://other.example")),
		mint(jwkstest.WithKID("unknown")),
		mint(jwkstest.WithClaim("sub", "")),
		mint(),
		mint(jwkstest.WithScopes("notes:read notes:write")),
		mint(jwkstest.WithScopes("notes:read notes:write"), jwkstest.WithClaim("acr", "urn:example:acr:mfa")),
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		out = append(out, rec.Header().Values("WWW-Authenticate")...)
	}
	return out
}

// FuzzParseChallenges: the WWW-Authenticate parser never panics; what it
// parses, written out again, parses the same; and IsExpiredHint says yes
// exactly when a parsed challenge (Bearer or DPoP) is the hint, and a field beside a real
// hint can never hide it.
func FuzzParseChallenges(f *testing.F) {
	for _, c := range guardChallenges(f) {
		f.Add(c)
	}
	for _, s := range []string{
		expiredChallenge,
		`bearer ERROR=invalid_token, Error_Description="The access token expired"`,
		`Basic realm="x", Bearer error="invalid_token", error_description="The access token expired"`,
		`Bearer error="invalid_token", error_description="The access token expired", error="invalid_request"`,
		`Bearer error="invalid_token", error_description="The access token expired " `,
		`Bearer error=invalid_token, error_description="The access\ token expired"`,
		`DPoP realm="api", algs="ES256 RS256", Bearer realm="api", error="invalid_token", error_description="The access token expired"`,
		`DPoP realm="api", error="invalid_token", error_description="The access token expired", algs="ES256"`,
		`DPoP realm="api", error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`,
		`Negotiate abc==, Bearer`,
		`Bearer realm="unterminated`,
		`, , Bearer ,`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, field string) {
		cs, left, ok := parseWithin(field)
		if ok {
			again, _ := parseChallenges(writeChallenges(cs), &budget{1 << 30, 1 << 30, 1 << 30})
			if !sameChallenges(cs, again) {
				t.Fatalf("%q parsed as %v, written and parsed again as %v", field, cs, again)
			}
		}
		want := false
		for _, c := range cs {
			want = want || ((strings.EqualFold(c.scheme, "Bearer") || strings.EqualFold(c.scheme, "DPoP")) && c.params["error"] == "invalid_token" && c.params["error_description"] == ExpiredDescription)
		}
		resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {field}}}
		if got := IsExpiredHint(resp); got != want {
			t.Fatalf("IsExpiredHint(%q) = %v, but its challenges %v say %v", field, got, cs, want)
		}
		// A field within the bounds that leaves room for the hint's
		// challenge cannot hide it in the next field.
		resp.Header["Www-Authenticate"] = []string{field, expiredChallenge}
		_, need, _ := parseWithin(expiredChallenge)
		room := left.bytes >= len(expiredChallenge) &&
			left.challenges >= maxChallenges-need.challenges && left.params >= maxChallengeParams-need.params
		if room && !IsExpiredHint(resp) {
			t.Fatalf("a field %q hid the hint in the next one", field)
		}
		resp.StatusCode = http.StatusForbidden
		if IsExpiredHint(resp) {
			t.Fatal("the hint on a 403")
		}
		// The step-up and metadata readers never panic, and StepUp finds
		// a request only where a parsed challenge is one.
		resp.StatusCode = http.StatusUnauthorized
		resp.Header["Www-Authenticate"] = []string{field}
		su, isStepUp := StepUp(resp)
		wantStepUp := false
		for _, c := range cs {
			wantStepUp = wantStepUp || (strings.EqualFold(c.scheme, "Bearer") && c.params["error"] == "insufficient_user_authentication")
		}
		if isStepUp && (!wantStepUp || su == nil) {
			t.Fatalf("StepUp(%q) = %+v, but its challenges %v", field, su, cs)
		}
		_, _ = ResourceMetadataURL(resp)
	})
}

// writeChallenges writes challenges back as one field value, every
// parameter value as a quoted-string.
func writeChallenges(cs []challenge) string {
	var b strings.Builder
	for i, c := range cs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.scheme)
		sep := " "
		for name, value := range c.params {
			b.WriteString(sep + name + `="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(value) + `"`)
			sep = ", "
		}
	}
	return b.String()
}

func sameChallenges(a, b []challenge) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i].scheme, b[i].scheme) || len(a[i].params) != len(b[i].params) {
			return false
		}
		for k, v := range a[i].params {
			if w, ok := b[i].params[k]; !ok || w != v {
				return false
			}
		}
	}
	return true
}

// parseWithin parses field as challenges parses the first field of a
// response, with the whole budget; it returns what is left of it.
func parseWithin(field string) ([]challenge, budget, bool) {
	b := budget{bytes: maxChallengeBytes - len(field), challenges: maxChallenges, params: maxChallengeParams}
	if b.bytes < 0 {
		return nil, b, false
	}
	cs, ok := parseChallenges(field, &b)
	return cs, b, ok
}
