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
	r.GET("/healthz", gin.WrapF(api.Healthz))
	v1 := r.Group("/api")
	v1.GET("/me", ginguard.Middleware(g), gin.WrapF(api.Me))
	v1.GET("/notes", ginguard.RequireScopes(g, exampleapp.ScopeNotesRead), gin.WrapF(api.ListNotes))
	v1.POST("/notes", ginguard.RequireScopes(g, exampleapp.ScopeNotesWrite), gin.WrapF(api.CreateNote))
	v1.POST("/transfers", ginguard.Require(g, exampleapp.TransferRules()...), gin.WrapF(api.Transfer))
	r.GET("/admin/stats", ginguard.Require(g,
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(exampleapp.ScopeAdmin)), gin.WrapF(api.Stats))
	// The metadata documents go in front of Gin, whose router would
	// answer an unknown method with 404.
	return a.WithMetadata(r)
}
