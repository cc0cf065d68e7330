package echov5guard_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/jwtguard/jwtguard/adapters/echov5guard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

// router is the table's routes in Echo v5, as a user would write them.
func router(e *guardtest.Env) *echo.Echo {
	g := e.Guard
	r := echo.New()
	// A hostile error handler: a refusal routed through it would lose its
	// challenge and become a 500.
	r.HTTPErrorHandler = func(c *echo.Context, err error) {
		_ = c.String(http.StatusInternalServerError, "error handler: "+err.Error())
	}
	h := echo.WrapHandler(e.Final())
	r.GET(guardtest.PathMe, h, echov5guard.Middleware(g))
	// The route's requirements in its own rule: a group's rule records a
	// DPoP proof as used before a route's rule after it is checked.
	r.GET(guardtest.PathNotes, h, echov5guard.RequireScopes(g, "notes:read"))
	api := r.Group("/api", echov5guard.Middleware(g))
	api.GET("/any", h, echov5guard.Require(g, middleware.AnyScope("a", "b")))
	api.GET("/deploy", h, echov5guard.Require(g, guardtest.ClaimRule))
	api.POST("/transfers", h, echov5guard.Require(g, guardtest.TransferRules...))
	api.GET("/strict", h, echov5guard.Require(e.Strict))
	r.GET(guardtest.PathScoped, h, echov5guard.RequireScopes(g, "notes:read"))
	r.GET(guardtest.PathAdmin, h, echov5guard.Require(g, middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")))
	return r
}

// TestContractTable: every answer of the table, the error hook, the claims
// in the handler, and a refusal stopping the chain.
func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	e.Compare(t, router(e))
}

func TestClaimsFromEchoContext(t *testing.T) {
	e := guardtest.New(t)
	r := echo.New()
	var sub string
	r.GET("/", func(c *echo.Context) error {
		cl, ok := echov5guard.Claims(c)
		if ok {
			sub = cl.Subject
		}
		if c.Get("user") != nil {
			t.Error("claims leaked into echo's string-keyed store under echo-jwt's key")
		}
		return c.NoContent(http.StatusNoContent)
	}, echov5guard.Middleware(e.Guard))
	if got := e.Get(r, "/"); got.Status != http.StatusNoContent || sub != guardtest.Subject {
		t.Fatalf("status %d, sub %q", got.Status, sub)
	}
}

func TestSkipper(t *testing.T) {
	e := guardtest.New(t)
	r := echo.New()
	var skippedClaims bool
	r.Use(echov5guard.Middleware(e.Guard, echov5guard.WithSkipper(func(c *echo.Context) bool { return c.Path() == "/healthz" })))
	r.GET("/healthz", func(c *echo.Context) error {
		_, skippedClaims = echov5guard.Claims(c)
		return c.String(http.StatusOK, "ok")
	})
	r.GET("/private", func(c *echo.Context) error { return c.String(http.StatusOK, "secret") })
	for path, want := range map[string]int{"/healthz": 200, "/private": 401} {
		if got := guardtest.Serve(r, guardtest.Case{Path: path}).Status; got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	if skippedClaims {
		t.Error("a skipped request has claims")
	}
}

// TestGroupCatchAll: the package doc's promise that an unknown path under
// a guarded group is refused before Echo's 404, and routed as 404 with
// NoGroupAutoRegister404Routes.
func TestGroupCatchAll(t *testing.T) {
	e := guardtest.New(t)
	for _, tc := range []struct {
		cfg  echo.Config
		want int
	}{{echo.Config{}, http.StatusUnauthorized}, {echo.Config{NoGroupAutoRegister404Routes: true}, http.StatusNotFound}} {
		r := echo.NewWithConfig(tc.cfg)
		r.Group("/api", echov5guard.Middleware(e.Guard)).GET("/me", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) })
		if got := guardtest.Serve(r, guardtest.Case{Path: "/api/nope"}).Status; got != tc.want {
			t.Errorf("%+v: %d, want %d", tc.cfg, got, tc.want)
		}
	}
}

// A nil Option is a mistake of the set-up, said so there: Middleware has
// no error to return.
func TestNilOptionPanics(t *testing.T) {
	e := guardtest.New(t)
	defer func() {
		if got := recover(); got != "echov5guard: Middleware with a nil Option" {
			t.Fatalf("recovered %v", got)
		}
	}()
	echov5guard.Middleware(e.Guard, echov5guard.WithSkipper(nil), nil)
	t.Fatal("Middleware accepted a nil Option")
}
