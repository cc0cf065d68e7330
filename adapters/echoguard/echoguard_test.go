package echoguard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/jwtguard/jwtguard/adapters/echoguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func router(e *guardtest.Env) *echo.Echo {
	g := e.Guard
	r := echo.New()
	// A hostile error handler: a refusal routed through it would lose its
	// challenge and become a 500.
	r.HTTPErrorHandler = func(err error, c echo.Context) {
		_ = c.String(http.StatusInternalServerError, "error handler: "+err.Error())
	}
	h := echo.WrapHandler(http.HandlerFunc(guardtest.Echo))
	r.GET(guardtest.PathMe, h, echoguard.Middleware(g))
	api := r.Group("/api", echoguard.Middleware(g))
	api.GET("/notes", h, echoguard.RequireScopes(g, "notes:read"))
	r.GET(guardtest.PathAdmin, h, echoguard.Require(g, middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")))
	return r
}

func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	e.Compare(t, router(e))
}

func TestClaimsFromEchoContext(t *testing.T) {
	e := guardtest.New(t)
	r := echo.New()
	var sub string
	r.GET("/", func(c echo.Context) error {
		cl, ok := echoguard.Claims(c)
		if ok {
			sub = cl.Subject
		}
		if c.Get("user") != nil {
			t.Error("claims leaked into echo's string-keyed store under echo-jwt's key")
		}
		return c.NoContent(http.StatusNoContent)
	}, echoguard.Middleware(e.Guard))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint())
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || sub != "user-123" {
		t.Fatalf("status %d, sub %q", rec.Code, sub)
	}
}

func TestSkipper(t *testing.T) {
	e := guardtest.New(t)
	r := echo.New()
	r.Use(echoguard.Middleware(e.Guard, echoguard.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" })))
	r.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	r.GET("/private", func(c echo.Context) error { return c.String(http.StatusOK, "secret") })
	for path, want := range map[string]int{"/healthz": 200, "/private": 401} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s: %d, want %d", path, rec.Code, want)
		}
	}
}

func TestUserErrorHookStillRuns(t *testing.T) {
	var seen error
	e := guardtest.New(t, middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		seen = err
		middleware.WriteError(w, r, err)
	}))
	rec := httptest.NewRecorder()
	router(e).ServeHTTP(rec, httptest.NewRequest("GET", guardtest.PathMe, nil))
	if !errors.Is(seen, middleware.ErrNoToken) || rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != `Bearer realm="api"` {
		t.Fatalf("hook saw %v; response %d %v", seen, rec.Code, rec.Header())
	}
}

// A route rule of a stricter Guard inside a group of a default one verifies
// the token again under its own policy, as it would alone.
func TestNestedStricterGuard(t *testing.T) {
	e := guardtest.New(t)
	strict, err := middleware.New(e.Keys, e.Issuer.URL(), []string{guardtest.Audience}, middleware.WithStrictType())
	if err != nil {
		t.Fatal(err)
	}
	srv := echo.New()
	api := srv.Group("/api", echoguard.Middleware(e.Guard))
	api.GET("/strict", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }, echoguard.Require(strict))
	req := httptest.NewRequest("GET", "/api/strict", nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint(jwkstest.WithHeader("typ", "JWT")))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if want := `Bearer realm="api", error="invalid_token", error_description="The access token type is not accepted"`; rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
