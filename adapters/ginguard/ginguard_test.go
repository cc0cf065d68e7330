package ginguard_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/jwtguard/jwtguard/adapters/ginguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

// router is the table's routes in Gin, as a user would write them.
func router(e *guardtest.Env) *gin.Engine {
	g := e.Guard
	r := gin.New()
	h := gin.WrapH(e.Final())
	r.GET(guardtest.PathMe, ginguard.Middleware(g), h)
	// The route's requirements in its own rule: a group's rule records a
	// DPoP proof as used before a route's rule after it is checked.
	r.GET(guardtest.PathNotes, ginguard.RequireScopes(g, "notes:read"), h)
	api := r.Group("/api", ginguard.Middleware(g))
	api.GET("/any", ginguard.Require(g, middleware.AnyScope("a", "b")), h)
	api.GET("/deploy", ginguard.Require(g, guardtest.ClaimRule), h)
	api.POST("/transfers", ginguard.Require(g, guardtest.TransferRules...), h)
	api.GET("/strict", ginguard.Require(e.Strict), h)
	r.GET(guardtest.PathScoped, ginguard.RequireScopes(g, "notes:read"), h)
	r.GET(guardtest.PathAdmin, ginguard.Require(g, middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")), h)
	return r
}

// TestContractTable: every answer of the table, the error hook, the claims
// in the handler, and a refusal aborting the chain.
func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	e.Compare(t, router(e))
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
	if got := e.Get(r, "/"); got.Status != http.StatusNoContent || sub != guardtest.Subject {
		t.Fatalf("status %d, sub %q", got.Status, sub)
	}
}
