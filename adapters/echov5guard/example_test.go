package echov5guard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/labstack/echo/v5"

	"github.com/jwtguard/jwtguard/adapters/echov5guard"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func Example() {
	iss := jwkstest.NewIssuer() // stands in for your authorization server
	defer iss.Close()
	ctx := context.Background()

	issuer, admin := iss.URL(), "https://api.example.com/admin"
	keys, _ := jwks.New(ctx, issuer)
	defer keys.Close()

	g, _ := middleware.New(keys, issuer, []string{"https://api.example.com"})

	e := echo.New()
	api := e.Group("/api", echov5guard.Middleware(g))
	api.GET("/me", func(c *echo.Context) error {
		claims, _ := echov5guard.Claims(c)
		return c.String(http.StatusOK, "hello "+claims.Subject)
	})
	api.GET("/notes", listNotes, echov5guard.RequireScopes(g, "notes:read"))
	e.GET("/admin/stats", stats, echov5guard.Require(g, middleware.Audience(admin), middleware.Scopes("admin")))

	_ = keys.WaitReady(ctx)
	tok := iss.Mint()
	for _, path := range []string{"/api/me", "/api/notes"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	// Output:
	// 200  hello user-123
	// 403 Bearer realm="api", error="insufficient_scope", scope="notes:read" {"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}
}

func listNotes(c *echo.Context) error { return c.JSON(http.StatusOK, []string{}) }

func stats(c *echo.Context) error { return c.JSON(http.StatusOK, map[string]int{"notes": 0}) }
