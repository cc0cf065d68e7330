// Command echov5 is the example resource server on Echo v5, identical over
// HTTP to examples/nethttp and examples/echo (examples/README.md). With no
// -issuer it starts an in-process dev authorization server and prints curl
// commands:
//
//	go run ./examples/echov5
//
// It is a module of its own (run it from this directory, or through the
// repository's go.work) so that the examples' module does not require two
// major versions of Echo.
package main

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/jwtguard/jwtguard/adapters/echov5guard"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/middleware"
)

func main() {
	exampleapp.Main(routes)
}

// routes wires the contract's routes in Echo's style: the guard on each
// /api route, scopes per route, the admin audience on /admin. There is no
// banner to hide: Echo v5 prints it only from StartConfig.Start, and
// exampleapp serves the Echo as a plain http.Handler.
func routes(a *exampleapp.App) http.Handler {
	g, api := a.Guard, a.API
	e := echo.New()
	// The handlers are the shared net/http ones, so bodies are identical.
	h := func(f http.HandlerFunc) echo.HandlerFunc { return echo.WrapHandler(f) }

	// GET routes serve HEAD too, as net/http's do.
	getHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getHead, "/healthz", h(api.Healthz))
	// Each route's requirements in one middleware, not a group's guard with
	// the scopes after it: a group's rule records a DPoP proof as used
	// before the route's scope is checked, and a proof refused for its
	// scope must stay unused.
	v1 := e.Group("/api")
	v1.Match(getHead, "/me", h(api.Me), echov5guard.Middleware(g))
	v1.Match(getHead, "/notes", h(api.ListNotes), echov5guard.RequireScopes(g, exampleapp.ScopeNotesRead))
	v1.POST("/notes", h(api.CreateNote), echov5guard.RequireScopes(g, exampleapp.ScopeNotesWrite))
	v1.POST("/transfers", h(api.Transfer), echov5guard.Require(g, exampleapp.TransferRules()...))
	e.Match(getHead, "/admin/stats", h(api.Stats), echov5guard.Require(g,
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(exampleapp.ScopeAdmin)))
	// The route table goes in front of Echo, which has its own answers to
	// requests outside it (405 with its own Allow, 404 for an escaped
	// path), and serves the metadata documents: all four servers alike.
	return a.Front(e)
}
