package middleware_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// ctxKey marks the contexts a test hands the Guard, so that the outcome
// each one was counted with can be told apart.
type ctxKey struct{}

// ctxOutcome is one OutcomeContext call.
type ctxOutcome struct{ mark, issuer, reason string }

// ctxMetrics is a middleware.ContextMetrics that records every call.
type ctxMetrics struct {
	mu       sync.Mutex
	got      []ctxOutcome
	outcomes int // calls of Outcome, which a ContextMetrics must not get
}

var _ middleware.ContextMetrics = (*ctxMetrics)(nil)

func (m *ctxMetrics) OutcomeContext(ctx context.Context, issuer, reason string) {
	mark, _ := ctx.Value(ctxKey{}).(string)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.got = append(m.got, ctxOutcome{mark, issuer, reason})
}

func (m *ctxMetrics) Outcome(string, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.outcomes++
}

func (*ctxMetrics) TokenCache(bool) {}

// take returns the calls recorded since the last take, and fails the test
// if Outcome was called at all.
func (m *ctxMetrics) take(t *testing.T) []ctxOutcome {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.outcomes != 0 {
		t.Fatalf("Outcome called %d times besides OutcomeContext", m.outcomes)
	}
	got := m.got
	m.got = nil
	return got
}

func TestContextMetricsGetTheRequestsContext(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	m := &ctxMetrics{}
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{aud}, middleware.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	good := iss.Mint(jwkstest.WithScopes("notes:read"))
	expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	request := func(mark, tok string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r.WithContext(context.WithValue(r.Context(), ctxKey{}, mark))
	}
	want := func(calls ...ctxOutcome) {
		t.Helper()
		if got := m.take(t); !slices.Equal(got, calls) {
			t.Fatalf("OutcomeContext calls:\n got %+v\nwant %+v", got, calls)
		}
	}

	// Handler: once per request, whatever the verdict.
	h := g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, c := range []struct {
		mark, tok string
		status    int
	}{{"h-ok", good, 200}, {"h-expired", expired, 401}, {"h-none", "", 401}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, request(c.mark, c.tok))
		if rec.Code != c.status {
			t.Fatalf("%s: status %d, want %d", c.mark, rec.Code, c.status)
		}
	}
	want(ctxOutcome{"h-ok", iss.URL(), "ok"}, ctxOutcome{"h-expired", iss.URL(), "expired"}, ctxOutcome{"h-none", "", "no_token"})

	// A rule inside Handler counts a request once, its refusal included,
	// with the request's context.
	nested := g.Handler(g.Require(middleware.Scopes("notes:write"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	nested.ServeHTTP(httptest.NewRecorder(), request("nested", good))
	want(ctxOutcome{"nested", iss.URL(), "insufficient_scope"})

	// Verify and VerifyToken.
	if _, err := g.Verify(request("verify", good)); err != nil {
		t.Fatal(err)
	}
	ctx := context.WithValue(context.Background(), ctxKey{}, "token")
	if _, err := g.VerifyToken(ctx, expired); err == nil {
		t.Fatal("expired token verified")
	}
	want(ctxOutcome{"verify", iss.URL(), "ok"}, ctxOutcome{"token", iss.URL(), "expired"})

	// Rule.Authorize counts its refusal with the context it is given.
	if err := g.Rule().Authorize(context.WithValue(t.Context(), ctxKey{}, "authorize"), nil); err == nil {
		t.Fatal("Authorize(nil) passed")
	}
	want(ctxOutcome{"authorize", "", "no_token"})
	c, err := g.VerifyToken(context.WithValue(t.Context(), ctxKey{}, "token"), good)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Rule(middleware.Scopes("notes:write")).Authorize(context.WithValue(t.Context(), ctxKey{}, "operation"), c); err == nil {
		t.Fatal("Authorize passed claims without notes:write")
	}
	want(ctxOutcome{"token", iss.URL(), "ok"}, ctxOutcome{"operation", iss.URL(), "insufficient_scope"})
}

// A Metrics that is not a ContextMetrics still gets Outcome.
func TestPlainMetricsStillGetOutcome(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	m := &outcomeLog{}
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{aud}, middleware.WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+iss.Mint())
	g.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(httptest.NewRecorder(), r)
	if got := m.reasons(); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("Outcome calls %q, want [ok]", got)
	}
}
