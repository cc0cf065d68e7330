package middleware

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jwtguard/jwtguard/internal/loopback"
)

// WellKnownResource is the well-known path segment of RFC 9728 (OAuth 2.0
// Protected Resource Metadata).
const WellKnownResource = "/.well-known/oauth-protected-resource"

// DefaultMetadataMaxAge is how long clients may cache a metadata document
// (its Cache-Control max-age) unless ResourceMetadata.MaxAge says otherwise.
const DefaultMetadataMaxAge = time.Hour

// ResourceMetadata turns on RFC 9728 for a Guard (WithResourceMetadata)
// and holds the members of the metadata documents that the Guard cannot
// know. Each route's resource is its audience: the Guard's first audience,
// or the first of an Audience requirement. A resource whose identifier is
// an absolute https URL (http only on a loopback host) without query or
// fragment has a metadata URL (MetadataURL), which every challenge for its
// routes names in resource_metadata, and a document that MetadataHandler
// serves. The identifier is the configured audience, never derived from a
// request's Host or forwarded headers: a reflected host in a challenge
// would send clients to whoever set it.
//
// RFC 9728 §3.3 has a client that found the metadata through a challenge
// use it only when its resource is identical to the URL it requested; a
// challenge names the resource's document on every route of it, so a
// client that strict discovers from a request to the identifier's own URL
// only, and one that takes the resource as a prefix of the URL (as MCP
// clients do) from any route under it. Give a route that clients must
// discover from an identifier of its own (an Audience requirement).
type ResourceMetadata struct {
	Name          string // resource_name, for people
	Documentation string // resource_documentation: a URL
	PolicyURI     string // resource_policy_uri
	TOSURI        string // resource_tos_uri
	JWKSURI       string // jwks_uri: the resource's own keys, if it signs responses
	// TLSClientCertificateBoundAccessTokens is
	// tls_client_certificate_bound_access_tokens (RFC 8705).
	TLSClientCertificateBoundAccessTokens bool
	// Scopes, when set, is scopes_supported for every resource; otherwise
	// each document lists the scopes its routes' Scopes and AnyScope
	// requirements name, sorted: the first 1,024 distinct ones made (64
	// KiB of names at most), so that rules made per request cannot grow
	// it without end (later
	// scopes are still required by their rules, only not listed).
	Scopes []string
	// MaxAge is the documents' Cache-Control max-age; DefaultMetadataMaxAge
	// when zero.
	MaxAge time.Duration
}

// WithResourceMetadata turns on RFC 9728 protected resource metadata, with
// m's members in every document. Off by default: a challenge then names no
// metadata URL.
func WithResourceMetadata(m ResourceMetadata) Option {
	return guardOption("WithResourceMetadata", func(c *config) {
		m.Scopes = slices.Clone(m.Scopes)
		c.metadata = &m
	})
}

// MetadataURL returns the metadata URL of the resource identifier id, as
// RFC 9728 §3.1 forms it (the well-known segment inserted between the host
// and the path, a terminating "/" after the host removed), or "" when id is
// not an absolute https URL (http only on a loopback host) without query,
// fragment or user information, or whose path has an empty, "." or ".."
// segment (a router would clean it to another path).
func MetadataURL(id string) string {
	u, err := url.Parse(id)
	if err != nil || !plainHost(u.Hostname()) || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(id, "#") {
		return ""
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback.Host(u.Hostname()) {
			return ""
		}
	default:
		return ""
	}
	path := u.EscapedPath()
	if path == "/" {
		path = ""
	}
	// An empty, "." or ".." segment would be cleaned away by the server's
	// router, so the URL would name a document nobody serves.
	for _, seg := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(path, "/"), "/"), "/") {
		dec, err := url.PathUnescape(seg) // %2e%2e is ".." to a router too
		if path != "" && (err != nil || dec == "" || dec == "." || dec == "..") {
			return ""
		}
	}
	return u.Scheme + "://" + u.Host + WellKnownResource + path
}

// plainHost reports whether h is a non-empty host name (letters, digits,
// "-", "_", "." in ASCII: an internationalised name in its xn-- form) or
// IP address: no character that a challenge would have to escape, or a
// client misread.
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '_') {
			return false
		}
	}
	return true
}

// resources is what a Guard knows of its resources, as its rules are made.
type resources struct {
	mu     sync.Mutex
	byID   map[string]*resourceEntry // by resource identifier
	byPath map[string]*resourceEntry // by the metadata URL's path; the first resource to claim a path keeps it
}

// maxResources bounds the resources a Guard registers: rules are meant to
// be made at start-up, but one made per request with an audience from the
// request must not grow the Guard without end. Past the bound, a rule
// still names its metadata URL (its refusals are its own, freed with it)
// but gets no document.
const maxResources = 1024

// maxResourceScopes bounds the scopes recorded per resource, for its
// document's scopes_supported, for the same reason: a rule made per request
// with a scope from the request (one per project, say) must not grow the
// Guard, nor a public document, without end. Past the bound, a rule still
// enforces its scopes (they are its own, freed with it); its new ones are
// only not listed. maxResourceScopeBytes bounds their bytes too, since a
// scope made from the request may be long: a scope that would go past it
// is not listed either. The bytes are counted as the document writes
// them, escapes included.
const (
	maxResourceScopes     = 1024
	maxResourceScopeBytes = 64 << 10
)

type resourceEntry struct {
	id         string
	scopes     map[string]bool
	scopeBytes int                // of the scopes' names
	table      [numReasons]*Error // the Guard's refusals, naming this resource's metadata
	claimRef   *Error
	params     []param
}

// jsonLen is what scope s takes in a document's scopes_supported: quoted,
// a comma after it, and encoding/json's escapes. A scope token has no
// '"' or '\' and is ASCII (RFC 6749 §3.3), but '<', '>' and '&' are each
// written as six bytes (\u003c).
func jsonLen(s string) int {
	n := len(s) + 3
	for i := range len(s) {
		if c := s[i]; c == '<' || c == '>' || c == '&' {
			n += 5
		}
	}
	return n
}

// resourceFor returns the entry of the rule with audiences, registering it
// (and scopes) on first use; nil when metadata is off or the resource has
// no metadata URL.
func (g *Guard) resourceFor(audiences []string, scopes []string) *resourceEntry {
	if g.metadata == nil || len(audiences) == 0 {
		return nil
	}
	mu := MetadataURL(audiences[0])
	if mu == "" {
		return nil
	}
	id := audiences[0]
	g.res.mu.Lock()
	defer g.res.mu.Unlock()
	e := g.res.byID[id]
	if e == nil {
		e = &resourceEntry{id: id, scopes: map[string]bool{}, params: []param{{"resource_metadata", mu}}}
		for r := range numReasons {
			e.table[r] = g.tableRefusal(r, e.params)
		}
		e.claimRef = claimRefusal(e.params).build(g.schemes)
		if len(g.res.byID) >= maxResources {
			return e // the rule's own, unregistered
		}
		g.res.byID[id] = e
		path := mu[strings.Index(mu, WellKnownResource):]
		if g.res.byPath[path] == nil {
			g.res.byPath[path] = e
		}
	}
	for _, s := range scopes {
		if len(e.scopes) >= maxResourceScopes {
			break
		}
		n := jsonLen(s)
		if e.scopes[s] || e.scopeBytes+n > maxResourceScopeBytes {
			continue
		}
		e.scopes[s] = true
		e.scopeBytes += n
	}
	return e
}

// local returns err as this rule's resource says it: the same refusal,
// with the resource's metadata URL in its challenge. It hands out a
// precomputed *Error (copied only to keep a cause), so a refusal costs no
// more than before.
func (ru *Rule) local(err error) error {
	if ru.res == nil || err == nil {
		return err
	}
	e, ok := err.(*Error)
	if !ok || e.idx < 0 {
		return err
	}
	l := ru.res.table[e.idx]
	if e.cause == nil || e == ru.g.refusals[e.idx] {
		return l
	}
	// A refusal with a cause is the Guard's fresh copy, made for this
	// request alone (Guard.refuse): it takes the resource's challenges in
	// place, rather than being copied once more.
	e.challenges, e.alt = l.challenges, l.alt
	return e
}

// MetadataHandler serves the RFC 9728 metadata document of each resource
// of the Guard's rules, at its metadata URL's path (whatever Host the
// request names: the document says the configured identifier), for GET and
// HEAD; other methods get 405 with Allow, other paths 404. Mount it at the
// well-known path and below it:
//
//	mux.Handle(middleware.WellKnownResource, guard.MetadataHandler())
//	mux.Handle(middleware.WellKnownResource+"/", guard.MetadataHandler())
//
// Documents list the scopes of the rules made so far, so make the rules
// (Require, Rule) before serving. A Guard keeps the documents of its first
// 1,024 resources: rules for more (made per request with an audience from
// the request, say) still name their metadata URL, but have no document.
// Likewise a document lists the first 1,024 scopes its resource's rules
// name, 64 KiB of names at most: a rule's later ones are enforced but not
// listed.
// Two identifiers with one path are two resources, and the first made,
// the Guard's own, is served there: https://api.test and
// https://api.test/, and also https://api.test and https://admin.test,
// though a client that reaches the latter's URL refuses the former's
// document (RFC 9728 §3.3). Give resources on several hosts paths of
// their own (https://admin.test/admin), or Guards of their own, each
// MetadataHandler mounted for its host (mux.Handle("admin.test/.well-known/…")).
// Without WithResourceMetadata every path is 404.
func (g *Guard) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*") // browsers' MCP clients fetch it
		doc, ok := g.metadataDoc(r.URL.EscapedPath())
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		maxAge := g.metadata.MaxAge
		if maxAge <= 0 {
			maxAge = DefaultMetadataMaxAge
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
		h.Set("Content-Length", strconv.Itoa(len(doc)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(doc)
	})
}

// metadataDoc builds the document served at path.
func (g *Guard) metadataDoc(path string) ([]byte, bool) {
	if g.metadata == nil {
		return nil, false
	}
	g.res.mu.Lock()
	e := g.res.byPath[path]
	var scopes []string
	if e != nil {
		for s := range e.scopes {
			scopes = append(scopes, s)
		}
	}
	g.res.mu.Unlock()
	if e == nil {
		return nil, false
	}
	m := g.metadata
	if m.Scopes != nil {
		scopes = slices.Clone(m.Scopes)
	}
	slices.Sort(scopes)
	var servers []string
	for _, is := range g.all {
		if is.prefix == "" && is.suffix == "" { // literal issuers; a template names none
			servers = append(servers, is.name)
		}
	}
	// RFC 6750's methods as a client reads them: "header" is the
	// Authorization header, which WithTokenHeader stops reading (under
	// DPoPRequired it carries the DPoP token, as
	// dpop_bound_access_tokens_required says); "query" is the access_token
	// parameter, not another one WithQueryParameter names, and never
	// carries a DPoP token. [] says none is (RFC 9728 §2).
	methods := []string{}
	if g.tokenHeader == "" {
		methods = append(methods, "header")
	}
	if g.query == "access_token" && g.dpop.policy != DPoPRequired {
		methods = append(methods, "query")
	}
	doc := struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		ScopesSupported      []string `json:"scopes_supported"`
		BearerMethods        []string `json:"bearer_methods_supported"`
		Name                 string   `json:"resource_name,omitempty"`
		Documentation        string   `json:"resource_documentation,omitempty"`
		PolicyURI            string   `json:"resource_policy_uri,omitempty"`
		TOSURI               string   `json:"resource_tos_uri,omitempty"`
		JWKSURI              string   `json:"jwks_uri,omitempty"`
		MTLS                 bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
		DPoPAlgs             []string `json:"dpop_signing_alg_values_supported,omitempty"`
		DPoPRequired         bool     `json:"dpop_bound_access_tokens_required,omitempty"`
	}{e.id, nonNil(servers), nonNil(scopes), methods, m.Name, m.Documentation, m.PolicyURI, m.TOSURI, m.JWKSURI, m.TLSClientCertificateBoundAccessTokens, nil, g.dpop.policy == DPoPRequired}
	if g.dpop.policy != DPoPOff {
		doc.DPoPAlgs = g.dpop.algs // never advertise what is not accepted
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, false
	}
	return b, true
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
