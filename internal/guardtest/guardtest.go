// Package guardtest is shared test support for the adapters: one issuer, one
// Guard, and one table of requests that every entry point (net/http, Echo,
// Gin) must answer byte for byte alike.
package guardtest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
}

// New starts an Env; opts are added to the Guard's.
func New(t testing.TB, opts ...middleware.Option) *Env {
	t.Helper()
	iss, err := jwkstest.NewIssuer(jwkstest.WithAudience(Audience))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.Close)
	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := middleware.New(keys, iss.URL(), []string{Audience}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Issuer: iss, Keys: keys, Guard: g}
}

// Mint mints a token or fails the test.
func (e *Env) Mint(t testing.TB, opts ...jwkstest.MintOption) string {
	t.Helper()
	tok, err := e.Issuer.Mint(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
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

// A Case is one request of the table.
type Case struct {
	Name   string
	Path   string
	Header http.Header
}

// Cases returns requests covering every kind of outcome.
func (e *Env) Cases(t testing.TB) []Case {
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	read := e.Mint(t, jwkstest.WithScopes("notes:read"))
	return []Case{
		{"ok", PathMe, bearer(read)},
		{"no token", PathMe, nil},
		{"malformed", PathMe, http.Header{"Authorization": {"Bearer a b"}}},
		{"expired", PathMe, bearer(e.Mint(t, jwkstest.WithExpiresIn(-time.Hour)))},
		{"wrong audience", PathMe, bearer(e.Mint(t, jwkstest.WithClaim("aud", "https://x")))},
		{"scope ok", PathNotes, bearer(read)},
		{"scope missing", PathNotes, bearer(e.Mint(t))},
		{"group without token", PathNotes, nil},
		{"admin ok", PathAdmin, bearer(e.Mint(t, jwkstest.WithClaim("aud", AdminAudience), jwkstest.WithScopes("admin")))},
		{"admin wrong audience", PathAdmin, bearer(e.Mint(t, jwkstest.WithScopes("admin")))},
		{"admin scope missing", PathAdmin, bearer(e.Mint(t, jwkstest.WithClaim("aud", AdminAudience)))},
	}
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

// Compare fails t for each case that h answers differently from the
// net/http reference.
func (e *Env) Compare(t *testing.T, h http.Handler) {
	t.Helper()
	ref := e.Reference()
	for _, c := range e.Cases(t) {
		want, got := Serve(ref, c), Serve(h, c)
		if want.Status == 0 || got.Status != want.Status || got.CType != want.CType || got.Body != want.Body ||
			len(got.Challenge) != len(want.Challenge) || (len(want.Challenge) > 0 && got.Challenge[0] != want.Challenge[0]) {
			t.Errorf("%s:\n got  %+v\n want %+v", c.Name, got, want)
		}
	}
}
