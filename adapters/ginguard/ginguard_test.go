package ginguard_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtguard/jwtguard/adapters/ginguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

func router(e *guardtest.Env, after *int) *gin.Engine {
	g := e.Guard
	r := gin.New()
	h := gin.WrapF(guardtest.Echo)
	count := func(c *gin.Context) { *after++ }
	r.GET(guardtest.PathMe, ginguard.Middleware(g), count, h)
	api := r.Group("/api", ginguard.Middleware(g))
	api.GET("/notes", ginguard.RequireScopes(g, "notes:read"), count, h)
	r.GET(guardtest.PathAdmin, ginguard.Require(g, middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")), count, h)
	return r
}

func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	var n int
	e.Compare(t, router(e, &n))
}

func TestRefusalAbortsTheChain(t *testing.T) {
	e := guardtest.New(t)
	var n int
	r := router(e, &n)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", guardtest.PathNotes, nil))
	if rec.Code != 401 || n != 0 {
		t.Fatalf("status %d, later handlers ran %d times", rec.Code, n)
	}
	req := httptest.NewRequest("GET", guardtest.PathNotes, nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint())
	rec = httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != 403 || n != 0 {
		t.Fatalf("status %d, later handlers ran %d times", rec.Code, n)
	}
}

func TestClaimsFromGinContext(t *testing.T) {
	e := guardtest.New(t)
	r := gin.New()
	var sub string
	r.GET("/", ginguard.Middleware(e.Guard), func(c *gin.Context) {
		if cl, ok := ginguard.Claims(c); ok {
			sub = cl.Subject
		}
		if len(c.Keys) != 0 {
			t.Errorf("claims leaked into gin's string-keyed store: %v", c.Keys)
		}
		c.Status(http.StatusNoContent)
	})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint())
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || sub != "user-123" {
		t.Fatalf("status %d, sub %q", rec.Code, sub)
	}
}

func TestUserErrorHookStillRuns(t *testing.T) {
	var seen error
	e := guardtest.New(t, middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		seen = err
		middleware.WriteError(w, r, err)
	}))
	var n int
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", guardtest.PathMe, nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour)))
	router(e, &n).ServeHTTP(rec, req)
	if !errors.Is(seen, middleware.ErrTokenExpired) || rec.Code != 401 {
		t.Fatalf("hook saw %v; response %d", seen, rec.Code)
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
	r := gin.New()
	api := r.Group("/api", ginguard.Middleware(e.Guard))
	api.GET("/strict", ginguard.Require(strict), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/api/strict", nil)
	req.Header.Set("Authorization", "Bearer "+e.Issuer.Mint(jwkstest.WithHeader("typ", "JWT")))
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if want := `Bearer realm="api", error="invalid_token", error_description="The access token type is not accepted"`; rec.Code != 401 || rec.Header().Get("WWW-Authenticate") != want {
		t.Fatalf("%d %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}
