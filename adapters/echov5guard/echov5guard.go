// Package echov5guard adapts the middleware package's Guard to Echo v5
// (github.com/labstack/echo/v5); package echoguard is the same for Echo
// v4. It holds no verification logic: every check, refusal and error hook
// is the core's, so an Echo server answers byte for byte like a net/http
// one.
//
//	g, _ := middleware.New(keys, issuer, []string{audience})
//	api := e.Group("/api", echov5guard.Middleware(g))
//	api.GET("/me", me)
//	api.GET("/notes", notes, echov5guard.RequireScopes(g, "notes:read"))
//	e.GET("/admin/stats", stats, echov5guard.Require(g, middleware.Audience(admin), middleware.Scopes("admin")))
//
//	// in a handler (c is the *echo.Context):
//	cl, _ := echov5guard.Claims(c)
//
// Refusals are written directly to the response (status, WWW-Authenticate,
// JSON body) and the chain stops; they do not go through Echo's
// HTTPErrorHandler, which would drop the challenge header. To observe or
// reshape refusals, use middleware.WithErrorHandler on the Guard.
//
// A group with middleware makes Echo v5 register catch-all not-found
// routes for the group's prefix, so an unknown path under a guarded group
// is refused (401) before it would be a 404: a client without a token
// learns nothing about which paths exist. To route such paths as 404
// instead, create Echo with echo.Config{NoGroupAutoRegister404Routes: true}.
package echov5guard

import (
	"github.com/labstack/echo/v5"
	echomw "github.com/labstack/echo/v5/middleware"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/echorule"
	"github.com/jwtguard/jwtguard/middleware"
)

// An Option configures the middleware returned by Middleware.
type Option func(*config)

type config struct {
	skipper echomw.Skipper
}

// WithSkipper skips verification for requests where skip returns true (for
// example health checks mounted under a protected group). A skipped
// request reaches the handler with no claims. Default: none skipped.
func WithSkipper(skip echomw.Skipper) Option {
	return func(c *config) { c.skipper = skip }
}

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
//
// It panics if an Option is nil.
func Middleware(g *middleware.Guard, opts ...Option) echo.MiddlewareFunc {
	var cfg config
	for _, o := range opts {
		if o == nil { // Middleware returns no error: a panic that says so, at set-up
			panic("echov5guard: Middleware with a nil Option")
		}
		o(&cfg)
	}
	return handle(g.Rule(), cfg.skipper)
}

// RequireScopes verifies the token (unless an earlier guard middleware did)
// and requires every one of scopes. It panics on the programming errors
// middleware.Guard.Rule describes.
func RequireScopes(g *middleware.Guard, scopes ...string) echo.MiddlewareFunc {
	return Require(g, middleware.Scopes(scopes...))
}

// Require verifies the token (unless an earlier guard middleware did) and
// checks reqs, as middleware.Guard.Require does. It panics on the
// programming errors middleware.Guard.Rule describes.
func Require(g *middleware.Guard, reqs ...middleware.Requirement) echo.MiddlewareFunc {
	// The rule is built here, once, so that a bad requirement panics when
	// the route is registered rather than on its first request.
	return handle(g.Rule(reqs...), nil)
}

// handle is the shared Echo middleware (package echorule) on Echo v5's
// context: c.Response() is whatever writer the chain has so far.
func handle(rule *middleware.Rule, skipper echomw.Skipper) echo.MiddlewareFunc {
	return echorule.Middleware[*echo.Context, echo.HandlerFunc](rule, skipper, (*echo.Context).Response)
}

// Claims returns the verified claims of the request, if a guard middleware
// ran for it. They live in the request's context, not in Echo's string-keyed
// store, so net/http code shared with this handler (echo.WrapHandler) sees
// them too.
func Claims(c *echo.Context) (*claims.Claims, bool) {
	return claims.FromContext(c.Request().Context())
}
