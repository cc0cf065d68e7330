// Package guardtest is shared test support for the adapters: one issuer, one
// Guard, and one table of requests, each with the exact response and the
// refusal reason it must get, that every entry point (net/http, Echo, Gin,
// and each later adapter through its own translation) is checked against.
// A break in the core fails the table for every entry point at once.
package guardtest

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// Audiences used by the table.
const (
	Audience      = "https://api.example.com"
	AdminAudience = "https://api.example.com/admin"
)

// Env is a running test issuer, key cache and Guard.
type Env struct {
	Issuer *jwkstest.Issuer
	Keys   *jwks.Cache
	Guard  *middleware.Guard
	seen   *outcomes
}

// outcomes records the Guard's Metrics outcomes: the reason of each
// refusal (derived from its sentinel error) or "ok".
type outcomes struct {
	mu   sync.Mutex
	last string
}

func (o *outcomes) Outcome(_, reason string) { o.mu.Lock(); o.last = reason; o.mu.Unlock() }
func (o *outcomes) TokenCache(bool)          {}
func (o *outcomes) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	r := o.last
	o.last = ""
	return r
}

// New starts an Env; opts are added to the Guard's.
func New(t testing.TB, opts ...middleware.Option) *Env {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(Audience))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	seen := &outcomes{}
	g, err := middleware.New(keys, iss.URL(), []string{Audience}, append([]middleware.Option{middleware.WithMetrics(seen)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Issuer: iss, Keys: keys, Guard: g, seen: seen}
}

// Echo is the handler every route ends in: it writes the subject from the
// claims in the request context, proving they got there.
func Echo(w http.ResponseWriter, r *http.Request) {
	c, ok := claims.FromContext(r.Context())
	if !ok {
		http.Error(w, "no claims", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "sub="+c.Subject+" scopes="+c.Scopes.String())
}

// Routes of the table: /me needs a token, /notes needs notes:read (inside
// a group that verifies first), /admin needs the admin audience and scope.
const (
	PathMe    = "/api/me"
	PathNotes = "/api/notes"
	PathAdmin = "/admin/stats"
)

// Reference returns the net/http version of the table's routes.
func (e *Env) Reference() http.Handler {
	g := e.Guard
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMe, g.Handler(http.HandlerFunc(Echo)))
	mux.Handle("GET "+PathNotes, g.Handler(g.Require(middleware.Scopes("notes:read"))(http.HandlerFunc(Echo))))
	mux.Handle("GET "+PathAdmin, g.Require(middleware.Audience(AdminAudience), middleware.Scopes("admin"))(http.HandlerFunc(Echo)))
	return mux
}

// A Case is one request of the table and what every entry point must
// answer: the exact response, and the reason the Guard's metrics record
// ("ok", or the refusal's, as Error.Reason gives it).
type Case struct {
	Name   string
	Path   string
	Header http.Header
	Want   Response
	Reason string
}

// The refusals of the table, byte for byte as the example servers send them
// (examples/README.md).
const realm = `Bearer realm="api"`

func invalid(desc string) Response {
	return Response{401, []string{realm + `, error="invalid_token", error_description="` + desc + `"`}, "application/json",
		`{"error":"invalid_token","error_description":"` + desc + `"}`}
}

func forbidden(scope string) Response {
	return Response{403, []string{realm + `, error="insufficient_scope", scope="` + scope + `"`}, "application/json",
		`{"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}`}
}

func ok(scopes string) Response {
	return Response{200, nil, "text/plain; charset=utf-8", "sub=user-123 scopes=" + scopes}
}

var (
	noCredentials = Response{401, []string{realm}, "application/json", `{"error":"unauthorized"}`}
	badRequest    = Response{400, []string{realm + `, error="invalid_request"`}, "application/json",
		`{"error":"invalid_request","error_description":"The request does not carry exactly one well-formed bearer token"}`}
)

// Cases returns requests covering every kind of outcome.
func (e *Env) Cases(t testing.TB) []Case {
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	read := e.Issuer.Mint(jwkstest.WithScopes("notes:read"))
	past := jwkstest.WithExpiresIn(-time.Hour)
	return []Case{
		{"ok", PathMe, bearer(read), ok("notes:read"), "ok"},
		{"no token", PathMe, nil, noCredentials, "no_token"},
		{"another scheme", PathMe, http.Header{"Authorization": {"Basic dTpw"}}, noCredentials, "no_token"},
		{"malformed", PathMe, http.Header{"Authorization": {"Bearer a b"}}, badRequest, "malformed_request"},
		{"two headers", PathMe, http.Header{"Authorization": {"Bearer " + read, "Bearer " + read}}, badRequest, "malformed_request"},
		{"expired", PathMe, bearer(e.Issuer.Mint(past)), invalid("The access token expired"), "expired"},
		{"expired and forged", PathMe, bearer(forge(e.Issuer.Mint(past))), invalid("The access token signature is invalid"), "signature"},
		{"expired, wrong audience", PathMe, bearer(e.Issuer.Mint(past, jwkstest.WithClaim("aud", "https://x"))), invalid("The access token is not meant for this resource"), "audience"},
		{"forged", PathMe, bearer(forge(read)), invalid("The access token signature is invalid"), "signature"},
		{"unknown key", PathMe, bearer(e.Issuer.Mint(jwkstest.WithKID("nope"))), invalid("The access token signing key is unknown"), "unknown_key"},
		{"wrong issuer", PathMe, bearer(e.Issuer.Mint(jwkstest.WithClaim("iss", "https://stranger.example"))), invalid("The access token issuer is not accepted"), "issuer"},
		{"wrong audience", PathMe, bearer(e.Issuer.Mint(jwkstest.WithClaim("aud", "https://x"))), invalid("The access token is not meant for this resource"), "audience"},
		{"garbage", PathMe, bearer("a.b.c"), invalid("The access token is malformed"), "malformed_token"},
		{"scope ok", PathNotes, bearer(read), ok("notes:read"), "ok"},
		{"scope missing", PathNotes, bearer(e.Issuer.Mint()), forbidden("notes:read"), "insufficient_scope"},
		{"group without token", PathNotes, nil, noCredentials, "no_token"},
		{"admin ok", PathAdmin, bearer(e.Issuer.Mint(jwkstest.WithClaim("aud", AdminAudience), jwkstest.WithScopes("admin"))), ok("admin"), "ok"},
		{"admin wrong audience", PathAdmin, bearer(e.Issuer.Mint(jwkstest.WithScopes("admin"))), invalid("The access token is not meant for this resource"), "audience"},
		{"admin, expired API token", PathAdmin, bearer(e.Issuer.Mint(past, jwkstest.WithScopes("admin"))), invalid("The access token is not meant for this resource"), "audience"},
		{"admin scope missing", PathAdmin, bearer(e.Issuer.Mint(jwkstest.WithClaim("aud", AdminAudience))), forbidden("admin"), "insufficient_scope"},
	}
}

// forge flips a bit of tok's signature.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sig[len(sig)/2] ^= 0xff
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// Response is what a handler answered, in the parts the contract fixes.
type Response struct {
	Status    int
	Challenge []string
	CType     string
	Body      string
}

// Serve runs c through h.
func Serve(h http.Handler, c Case) Response {
	req := httptest.NewRequest(http.MethodGet, c.Path, nil)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return Response{rec.Code, rec.Header().Values("Www-Authenticate"), rec.Header().Get("Content-Type"), rec.Body.String()}
}

// Compare fails t for each case that h answers otherwise than the table
// says, or for which the Guard records another reason; the net/http
// reference is held to the same table, so a core regression that every
// entry point shares fails it too.
func (e *Env) Compare(t *testing.T, h http.Handler) {
	t.Helper()
	for _, entry := range []struct {
		name string
		h    http.Handler
	}{{"net/http reference", e.Reference()}, {"adapter", h}} {
		for _, c := range e.Cases(t) {
			e.seen.take()
			got := Serve(entry.h, c)
			reason := e.seen.take()
			if got.Status != c.Want.Status || got.CType != c.Want.CType || got.Body != c.Want.Body ||
				!slices.Equal(got.Challenge, c.Want.Challenge) || reason != c.Reason {
				t.Errorf("%s, %s:\n got  %+v (reason %q)\n want %+v (reason %q)", entry.name, c.Name, got, reason, c.Want, c.Reason)
			}
		}
	}
}
