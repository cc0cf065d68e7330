package echoguard_test

import (
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/jwtguard/jwtguard/adapters/echoguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

// router is the table's routes in Echo, as a user would write them.
func router(e *guardtest.Env) *echo.Echo {
	g := e.Guard
	r := echo.New()
	// A hostile error handler: a refusal routed through it would lose its
	// challenge and become a 500.
	r.HTTPErrorHandler = func(err error, c echo.Context) {
		_ = c.String(http.StatusInternalServerError, "error handler: "+err.Error())
	}
	h := echo.WrapHandler(e.Final())
	r.GET(guardtest.PathMe, h, echoguard.Middleware(g))
	// The route's requirements in its own rule: a group's rule records a
	// DPoP proof as used before a route's rule after it is checked.
	r.GET(guardtest.PathNotes, h, echoguard.RequireScopes(g, "notes:read"))
	api := r.Group("/api", echoguard.Middleware(g))
	api.GET("/any", h, echoguard.Require(g, middleware.AnyScope("a", "b")))
	api.GET("/deploy", h, echoguard.Require(g, guardtest.ClaimRule))
	api.POST("/transfers", h, echoguard.Require(g, guardtest.TransferRules...))
	api.GET("/strict", h, echoguard.Require(e.Strict))
	r.GET(guardtest.PathScoped, h, echoguard.RequireScopes(g, "notes:read"))
	r.GET(guardtest.PathAdmin, h, echoguard.Require(g, middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")))
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
	if got := e.Get(r, "/"); got.Status != http.StatusNoContent || sub != guardtest.Subject {
		t.Fatalf("status %d, sub %q", got.Status, sub)
	}
}

func TestSkipper(t *testing.T) {
	e := guardtest.New(t)
	r := echo.New()
	var skippedClaims bool
	r.Use(echoguard.Middleware(e.Guard, echoguard.WithSkipper(func(c echo.Context) bool { return c.Path() == "/healthz" })))
	r.GET("/healthz", func(c echo.Context) error {
		_, skippedClaims = echoguard.Claims(c)
		return c.String(http.StatusOK, "ok")
	})
	r.GET("/private", func(c echo.Context) error { return c.String(http.StatusOK, "secret") })
	for path, want := range map[string]int{"/healthz": 200, "/private": 401} {
		if got := guardtest.Serve(r, guardtest.Case{Path: path}).Status; got != want {
			t.Errorf("%s: %d, want %d", path, got, want)
		}
	}
	if skippedClaims {
		t.Error("a skipped request has claims")
	}
}

// A nil Option is a mistake of the set-up, said so there: Middleware has
// no error to return.
func TestNilOptionPanics(t *testing.T) {
	e := guardtest.New(t)
	defer func() {
		if got := recover(); got != "echoguard: Middleware with a nil Option" {
			t.Fatalf("recovered %v", got)
		}
	}()
	echoguard.Middleware(e.Guard, echoguard.WithSkipper(nil), nil)
	t.Fatal("Middleware accepted a nil Option")
}
