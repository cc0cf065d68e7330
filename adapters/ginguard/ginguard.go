// Package ginguard adapts the middleware package's Guard to Gin
// (github.com/gin-gonic/gin). It holds no verification logic: every check,
// refusal and error hook is the core's, so a Gin server answers byte for
// byte like a net/http one.
//
//	g, _ := middleware.New(keys, issuer, []string{audience})
//	api := r.Group("/api", ginguard.Middleware(g))
//	api.GET("/me", me)
//	api.GET("/notes", ginguard.RequireScopes(g, "notes:read"), notes)
//	r.GET("/admin/stats", ginguard.Require(g, middleware.Audience(admin), middleware.Scopes("admin")), stats)
//
//	// in a handler:
//	c, _ := ginguard.Claims(ctx)
//
// A refusal is written directly (status, WWW-Authenticate, JSON body) and
// the chain is aborted. To observe or reshape refusals, use
// middleware.WithErrorHandler on the Guard.
package ginguard

import (
	"github.com/gin-gonic/gin"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/middleware"
)

// Middleware verifies the request's bearer token for the Guard's audiences
// and puts the claims in the request's context, where Claims and
// claims.FromContext find them.
//
// As a group's middleware, with Require on routes after it, it records a
// DPoP proof as used before the route's requirements are checked (it
// cannot see them), so a request the route refuses has still used its
// proof. Clients make a new proof for every request (RFC 9449), so this
// only matters to one that retries with the same proof. Such a request is
// also counted twice in the Guard's Metrics: "ok" by the group's rule,
// then the route's refusal (as any rule nested in another counts again;
// see middleware.Rule.Check). To keep a refused proof unused and count
// each request once, give each route its requirements in one Require.
func Middleware(g *middleware.Guard) gin.HandlerFunc {
	return Require(g)
}

// RequireScopes verifies the token (unless an earlier guard middleware did)
// and requires every one of scopes. It panics on the programming errors
// middleware.Guard.Rule describes.
func RequireScopes(g *middleware.Guard, scopes ...string) gin.HandlerFunc {
	return Require(g, middleware.Scopes(scopes...))
}

// Require verifies the token (unless an earlier guard middleware did) and
// checks reqs, as middleware.Guard.Require does. It panics on the
// programming errors middleware.Guard.Rule describes.
func Require(g *middleware.Guard, reqs ...middleware.Requirement) gin.HandlerFunc {
	rule := g.Rule(reqs...)
	return func(c *gin.Context) {
		r, ok := rule.Serve(c.Writer, c.Request) // the refusal, or the DPoP-Nonce of a passing response
		if !ok {
			c.Abort()
			return
		}
		c.Request = r
		c.Next()
	}
}

// Claims returns the verified claims of the request, if a guard middleware
// ran for it. They live in the request's context, not in Gin's string-keyed
// store, so net/http code shared with this handler sees them too.
func Claims(c *gin.Context) (*claims.Claims, bool) {
	return claims.FromContext(c.Request.Context())
}
