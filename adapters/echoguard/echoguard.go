// Package echoguard adapts the middleware package's Guard to Echo
// (github.com/labstack/echo/v4). It holds no verification logic: every
// check, refusal and error hook is the core's, so an Echo server answers
// byte for byte like a net/http one.
//
//	g, _ := middleware.New(keys, issuer, []string{audience})
//	api := e.Group("/api", echoguard.Middleware(g))
//	api.GET("/me", me)
//	api.GET("/notes", notes, echoguard.RequireScopes(g, "notes:read"))
//	e.GET("/admin/stats", stats, echoguard.Require(g, middleware.Audience(admin), middleware.Scopes("admin")))
//
//	// in a handler:
//	c, _ := echoguard.Claims(ctx)
//
// Refusals are written directly to the response (status, WWW-Authenticate,
// JSON body) and the chain stops; they do not go through Echo's
// HTTPErrorHandler, which would drop the challenge header. To observe or
// reshape refusals, use middleware.WithErrorHandler on the Guard.
package echoguard

import (
	"net/http"

	"github.com/labstack/echo/v4"
	echomw "github.com/labstack/echo/v4/middleware"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/echorule"
	"github.com/jwtguard/jwtguard/middleware"
)

// An Option configures the middleware returned by Middleware or Require.
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
			panic("echoguard: Middleware with a nil Option")
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
	return handle(g.Rule(reqs...), nil)
}

// handle is the shared Echo middleware (package echorule) on Echo v4's
// context, whose Response is the *echo.Response of the chain.
func handle(rule *middleware.Rule, skipper echomw.Skipper) echo.MiddlewareFunc {
	return echorule.Middleware[echo.Context, echo.HandlerFunc](rule, skipper, func(c echo.Context) http.ResponseWriter { return c.Response() })
}

// Claims returns the verified claims of the request, if a guard middleware
// ran for it. They live in the request's context, not in Echo's string-keyed
// store, so net/http code shared with this handler sees them too.
func Claims(c echo.Context) (*claims.Claims, bool) {
	return claims.FromContext(c.Request().Context())
}
