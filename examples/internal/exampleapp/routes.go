package exampleapp

import (
	"net/http"

	"github.com/jwtguard/jwtguard/middleware"
)

// The contract's routes, as http.ServeMux patterns: a GET pattern serves
// HEAD too. NetHTTPHandler serves them, and Front puts them in front of
// the other frameworks' routers, so that no server can route differently.
const (
	routeHealthz     = "GET /healthz"
	routeMe          = "GET /api/me"
	routeListNotes   = "GET /api/notes"
	routeCreateNote  = "POST /api/notes"
	routeTransfer    = "POST /api/transfers"
	routeAdminStats  = "GET /admin/stats"
	routeMetadata    = middleware.WellKnownResource
	routeMetadataSub = middleware.WellKnownResource + "/"
)

// routePatterns are the patterns of the route table, the metadata paths
// (RFC 9728: WellKnownResource and every path below it, for every method:
// the Guard's MetadataHandler answers 405 to all but GET and HEAD) last.
var routePatterns = []string{routeHealthz, routeMe, routeListNotes, routeCreateNote, routeTransfer, routeAdminStats, routeMetadata, routeMetadataSub}

// NetHTTPHandler wires the contract's routes on a plain http.ServeMux: the
// Guard on every /api/ and /admin/ route, scopes and the admin audience
// per route. examples/nethttp serves it; the quickstart runs it in-process.
func (a *App) NetHTTPHandler() http.Handler {
	g, api := a.Guard, a.API
	handlers := map[string]http.Handler{
		routeHealthz:    http.HandlerFunc(api.Healthz),
		routeMe:         g.Handler(http.HandlerFunc(api.Me)),
		routeListNotes:  g.Require(middleware.Scopes(ScopeNotesRead))(http.HandlerFunc(api.ListNotes)),
		routeCreateNote: g.Require(middleware.Scopes(ScopeNotesWrite))(http.HandlerFunc(api.CreateNote)),
		routeTransfer:   g.Require(TransferRules()...)(http.HandlerFunc(api.Transfer)),
		routeAdminStats: g.Require(
			middleware.Audience(a.Config.AdminAudience),
			middleware.Scopes(ScopeAdmin),
		)(http.HandlerFunc(api.Stats)),
		routeMetadata:    g.MetadataHandler(),
		routeMetadataSub: g.MetadataHandler(),
	}
	mux := http.NewServeMux()
	for _, p := range routePatterns {
		mux.Handle(p, handlers[p])
	}
	return mux
}

// Front returns h, a framework's router serving the contract's routes,
// behind the route table's http.ServeMux: a request outside the table (an
// unknown path or method, a path to clean, HEAD on a GET route: each
// framework has its own answer to those) is answered as NetHTTPHandler
// answers it, the metadata paths are the Guard's MetadataHandler's, and h
// sees only the table's requests. h must route HEAD like GET.
//
// The table matched a request's path segment by segment, after decoding,
// and h is given the same path to route on: Echo would route on the path
// as escaped (/api/%6De is /api/me here) whenever that differs. A proof's
// htu is compared with the request line, which is left as it came.
func (a *App) Front(h http.Handler) http.Handler {
	routed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath != "" {
			r = r.Clone(r.Context())
			r.URL.RawPath = ""
		}
		h.ServeHTTP(w, r)
	})
	meta := a.Guard.MetadataHandler()
	mux := http.NewServeMux()
	for _, p := range routePatterns {
		if p == routeMetadata || p == routeMetadataSub {
			mux.Handle(p, meta)
		} else {
			mux.Handle(p, routed)
		}
	}
	return mux
}

// TransferRules are the requirements of POST /api/transfers: the scope,
// then a recent multi-factor login (RFC 9470 step-up).
func TransferRules() []middleware.Requirement {
	return []middleware.Requirement{middleware.Scopes(ScopeTransfers), middleware.ACR(ACRMFA), middleware.MaxAge(StepUpMaxAge)}
}
