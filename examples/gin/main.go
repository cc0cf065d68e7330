// Command gin is the example resource server on Gin, identical over HTTP to
// examples/nethttp (examples/README.md). With no -issuer it starts
// an in-process dev authorization server and prints curl commands:
//
//	go run ./examples/gin
package main

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/jwtguard/jwtguard/adapters/ginguard"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/middleware"
)

func main() {
	exampleapp.Main(routes)
}

// routes wires the contract's routes in Gin's style: each route's
// requirements in one middleware (the guard alone on /api/me, scopes per
// route, the admin audience on /admin). Not a group middleware with the
// scopes after it: a group's rule records a DPoP proof as used before the
// route's scope is checked, and a proof refused for its scope must stay
// unused.
func routes(a *exampleapp.App) http.Handler {
	gin.SetMode(gin.ReleaseMode) // no debug route dump on stdout
	g, api := a.Guard, a.API
	r := gin.New()
	r.Use(gin.Recovery())
	// The handlers are the shared net/http ones, so bodies are identical.
	// GET routes serve HEAD too, as net/http's do.
	getHead := []string{http.MethodGet, http.MethodHead}
	r.Match(getHead, "/healthz", gin.WrapF(api.Healthz))
	v1 := r.Group("/api")
	v1.Match(getHead, "/me", ginguard.Middleware(g), gin.WrapF(api.Me))
	v1.Match(getHead, "/notes", ginguard.RequireScopes(g, exampleapp.ScopeNotesRead), gin.WrapF(api.ListNotes))
	v1.POST("/notes", ginguard.RequireScopes(g, exampleapp.ScopeNotesWrite), gin.WrapF(api.CreateNote))
	v1.POST("/transfers", ginguard.Require(g, exampleapp.TransferRules()...), gin.WrapF(api.Transfer))
	r.Match(getHead, "/admin/stats", ginguard.Require(g,
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(exampleapp.ScopeAdmin)), gin.WrapF(api.Stats))
	// The route table goes in front of Gin, which has its own answers to
	// requests outside it (404 for an unknown method, a redirect for a
	// trailing slash), and serves the metadata documents: all four
	// servers alike.
	return a.Front(r)
}
