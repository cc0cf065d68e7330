package exampleapp

import (
	"net/http"

	"github.com/jwtguard/jwtguard/middleware"
)

// NetHTTPHandler wires the contract's routes on a plain http.ServeMux: the
// Guard on every /api/ and /admin/ route, scopes and the admin audience
// per route. examples/nethttp serves it; the quickstart runs it in-process.
func (a *App) NetHTTPHandler() http.Handler {
	g, api := a.Guard, a.API
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", api.Healthz)
	mux.Handle("GET /api/me", g.Handler(http.HandlerFunc(api.Me)))
	mux.Handle("GET /api/notes", g.Require(middleware.Scopes(ScopeNotesRead))(http.HandlerFunc(api.ListNotes)))
	mux.Handle("POST /api/notes", g.Require(middleware.Scopes(ScopeNotesWrite))(http.HandlerFunc(api.CreateNote)))
	mux.Handle("GET /admin/stats", g.Require(
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(ScopeAdmin),
	)(http.HandlerFunc(api.Stats)))
	return mux
}
