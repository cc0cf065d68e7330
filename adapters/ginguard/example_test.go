package ginguard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"

	"github.com/jwtguard/jwtguard/adapters/ginguard"
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

	r := gin.New()
	api := r.Group("/api", ginguard.Middleware(g))
	api.GET("/me", func(c *gin.Context) {
		claims, _ := ginguard.Claims(c)
		c.String(http.StatusOK, "hello "+claims.Subject)
	})
	api.GET("/notes", ginguard.RequireScopes(g, "notes:read"), listNotes)
	r.GET("/admin/stats", ginguard.Require(g, middleware.Audience(admin), middleware.Scopes("admin")), stats)

	_ = keys.WaitReady(ctx)
	tok := iss.Mint()
	for _, path := range []string{"/api/me", "/api/notes"} {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	// Output:
	// 200  hello user-123
	// 403 Bearer realm="api", error="insufficient_scope", scope="notes:read" {"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}
}

func listNotes(c *gin.Context) { c.JSON(http.StatusOK, []string{}) }

func stats(c *gin.Context) { c.JSON(http.StatusOK, map[string]int{"notes": 0}) }
