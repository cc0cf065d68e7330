package exampleapp

import (
	"net/http"
	"strings"

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
	mux.Handle("POST /api/transfers", g.Require(TransferRules()...)(http.HandlerFunc(api.Transfer)))
	mux.Handle("GET /admin/stats", g.Require(
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(ScopeAdmin),
	)(http.HandlerFunc(api.Stats)))
	// The metadata documents (RFC 9728), for every method: the handler
	// itself answers 405 to all but GET and HEAD.
	mux.Handle(middleware.WellKnownResource, g.MetadataHandler())
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	return mux
}

// WithMetadata serves the RFC 9728 metadata paths (WellKnownResource, and
// every path below it) with the Guard's MetadataHandler, whatever the
// method, and every other request with h. Echo's and Gin's routers route
// only the methods they know and answer any other themselves (404, or 405
// with their own Allow), where the contract wants 405 with Allow: GET,
// HEAD; in front of the router, the documents answer alike on every
// server. Paths are matched escaped, as the handler looks them up.
func (a *App) WithMetadata(h http.Handler) http.Handler {
	meta := a.Guard.MetadataHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p == middleware.WellKnownResource || strings.HasPrefix(p, middleware.WellKnownResource+"/") {
			meta.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TransferRules are the requirements of POST /api/transfers: the scope,
// then a recent multi-factor login (RFC 9470 step-up).
func TransferRules() []middleware.Requirement {
	return []middleware.Requirement{middleware.Scopes(ScopeTransfers), middleware.ACR(ACRMFA), middleware.MaxAge(StepUpMaxAge)}
}
