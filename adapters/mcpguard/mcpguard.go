// Package mcpguard protects an MCP server built with the official Go SDK
// (github.com/modelcontextprotocol/go-sdk) with a jwtguard Guard. It is
// its own Go module, so users of the core never download the SDK.
//
// It has two halves. Middleware owns the HTTP side in front of the SDK's
// streamable HTTP handler: it answers as every jwtguard server does
// (error= in the challenge, the expired hint, resource_metadata, scope=,
// DPoP, 503 while the keys are unavailable) and requires scopes per tool,
// resource and prompt, which the SDK's own middleware cannot:
//
//	g, _ := middleware.New(keys, issuer, []string{"https://mcp.example.com/mcp"},
//		middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
//	guard := mcpguard.New(g, mcpguard.WithTool("add_note", middleware.Scopes("notes:write")))
//	mux := http.NewServeMux()
//	mux.Handle("/mcp", guard.Wrap(mcp.NewStreamableHTTPHandler(getServer, nil)))
//	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
//
// Verifier is the other half, for code that keeps the SDK's
// auth.RequireBearerToken: a TokenVerifier backed by the Guard.
//
// In a tool handler, ClaimsFrom(req.Extra) returns the verified claims.
package mcpguard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/middleware"
)

// DefaultMaxBodySize bounds the JSON-RPC body Middleware reads to learn a
// request's operation.
const DefaultMaxBodySize = 4 << 20

// DefaultMaxOperations bounds the operations Middleware reads from one
// body (WithMaxOperations): far more than a client batches, or subscribes
// to in one listen, and few enough that matching each to its rule stays
// cheap beside the SDK's own work.
const DefaultMaxOperations = 1024

// ErrUnreadableMessage is the cause of a 400 for a JSON-RPC body that
// Middleware cannot read unambiguously (not valid JSON, a repeated member
// name, a method or name that is not a string): it could not tell which
// operation's scopes apply, so it does not let the SDK guess.
var ErrUnreadableMessage = errors.New("mcpguard: unreadable JSON-RPC message")

// ErrBodyTooLarge is the cause of a 413 for a body over the limit
// (WithMaxBodySize).
var ErrBodyTooLarge = errors.New("mcpguard: request body too large")

// ErrTooManyOperations is the cause of a 400 for a body of more
// operations than the limit (WithMaxOperations): a batch of more
// messages, or a subscriptions/listen that subscribes to more resources.
// Each is read and matched to its rule before the SDK sees the body, so
// their number is bounded as the body's size is: 4 MiB of `"",` names
// some 1.4 million URIs.
var ErrTooManyOperations = errors.New("mcpguard: too many operations in one request")

// An Option configures New.
type Option func(*config)

type config struct {
	base    []middleware.Requirement
	ops     map[operation][]middleware.Requirement
	maxBody int64
	maxOps  int
	err     error
}

// WithRequirements adds reqs to every request to the endpoint (an
// audience, a scope every operation needs). Default: the Guard's
// audiences alone.
func WithRequirements(reqs ...middleware.Requirement) Option {
	return func(c *config) { c.base = append(c.base, reqs...) }
}

// WithTool requires reqs, besides the endpoint's, for calls of the tool
// name (tools/call).
func WithTool(name string, reqs ...middleware.Requirement) Option {
	return withOperation(operation{"tools/call", name}, reqs)
}

// WithResource requires reqs for reading the resource uri
// (resources/read), and for subscribing to it (resources/subscribe,
// resources/unsubscribe). The uri is matched exactly: a resource template's
// instances need WithMethod("resources/read", …).
func WithResource(uri string, reqs ...middleware.Requirement) Option {
	return withOperation(operation{"resources/read", uri}, reqs)
}

// WithPrompt requires reqs for getting the prompt name (prompts/get).
func WithPrompt(name string, reqs ...middleware.Requirement) Option {
	return withOperation(operation{"prompts/get", name}, reqs)
}

// WithMethod requires reqs for every request of a JSON-RPC method
// ("tools/list", "completion/complete", …). For tools/call,
// resources/read and prompts/get it applies to names without their own
// requirements.
func WithMethod(method string, reqs ...middleware.Requirement) Option {
	return withOperation(operation{method, ""}, reqs)
}

func withOperation(op operation, reqs []middleware.Requirement) Option {
	return func(c *config) {
		if _, dup := c.ops[op]; dup {
			c.err = fmt.Errorf("mcpguard: %s %q given twice", op.method, op.name)
			return
		}
		c.ops[op] = reqs
	}
}

// WithMaxBodySize bounds the body read to find the operation. Default:
// DefaultMaxBodySize.
func WithMaxBodySize(n int64) Option {
	return func(c *config) { c.maxBody = n }
}

// WithMaxOperations bounds the operations read from one body: a batch's
// messages each count one, and a subscriptions/listen one more for each
// resource it subscribes to. A body of more is refused 400
// (ErrTooManyOperations). Default: DefaultMaxOperations.
func WithMaxOperations(n int) Option {
	return func(c *config) { c.maxOps = n }
}

// An operation is what a JSON-RPC request asks for: its method, and for
// tools/call, resources/read and prompts/get the tool, resource or prompt.
type operation struct{ method, name string }

// Middleware guards an MCP endpoint. It is safe for concurrent use.
type Middleware struct {
	base    *middleware.Rule
	ops     map[operation]*middleware.Rule
	maxBody int64
	maxOps  int
	attach  func(http.Handler) http.Handler
}

// New compiles the requirements for g. It panics on the programming
// errors middleware.Guard.Rule panics on, and on an operation given twice,
// as http.ServeMux does on a pattern registered twice. It panics if an
// Option is nil.
//
// An operation's requirements are checked after the endpoint's, and both
// must hold: an operation that names an audience needs it besides the
// endpoint's (one that names none is checked against the endpoint's). An
// operation's 403 names the endpoint's scopes with its own (the
// endpoint's names its own alone: it is decided before the body is read).
func New(g *middleware.Guard, opts ...Option) *Middleware {
	cfg := config{ops: map[operation][]middleware.Requirement{}, maxBody: DefaultMaxBodySize, maxOps: DefaultMaxOperations}
	for _, o := range opts {
		if o == nil { // New returns no error: a panic that says so, at set-up
			panic("mcpguard: New with a nil Option")
		}
		o(&cfg)
	}
	if cfg.err != nil {
		panic(cfg.err)
	}
	if cfg.maxBody <= 0 {
		panic("mcpguard: WithMaxBodySize must be positive")
	}
	if cfg.maxOps <= 0 {
		panic("mcpguard: WithMaxOperations must be positive")
	}
	m := &Middleware{base: g.Rule(cfg.base...), ops: make(map[operation]*middleware.Rule, len(cfg.ops)), maxBody: cfg.maxBody, maxOps: cfg.maxOps}
	var baseAudiences, baseScopes []middleware.Requirement
	for _, r := range cfg.base {
		switch {
		case r.IsAudience():
			baseAudiences = append(baseAudiences, r)
		case r.IsScopes():
			baseScopes = append(baseScopes, r)
		}
	}
	for op, reqs := range cfg.ops {
		// The endpoint's scopes go into the operation's rule, so that its
		// 403 names them with its own: a client that asks for exactly
		// the scope it is told gets a token that passes both rules, where
		// two refusals naming one each would send it back and forth.
		reqs = append(slices.Clone(baseScopes), reqs...)
		// A rule without an audience is checked against the Guard's; one
		// of the endpoint's own must carry it over.
		if !slices.ContainsFunc(reqs, middleware.Requirement.IsAudience) {
			reqs = append(slices.Clone(baseAudiences), reqs...)
		}
		m.ops[op] = g.Rule(reqs...)
	}
	// The SDK binds a session to TokenInfo.UserID and hands TokenInfo to
	// tool handlers, but only its own middleware can put it in the
	// context. It runs after ours, with a verifier that returns what we
	// verified; it re-reads the Authorization header, so for a DPoP
	// request it is shown a Bearer one, and the handler gets the original.
	sdk := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		c, ok := claims.FromContext(ctx)
		if !ok {
			return nil, auth.ErrInvalidToken
		}
		return TokenInfo(c), nil
	}, &auth.RequireBearerTokenOptions{
		// Expiry was checked with the Guard's leeway; the SDK's check,
		// without it, would refuse a token the Guard accepts.
		AllowMissingExpiration: true, ClockSkew: 100 * 365 * 24 * time.Hour,
	})
	m.attach = func(next http.Handler) http.Handler {
		// The SDK keeps the context of a session's first request for all
		// its calls: it gets one with neither our claims (handlers read
		// the call's own through ClaimsFrom) nor the original header.
		restore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if orig, ok := r.Context().Value(headerKey{}).(http.Header); ok {
				r.Header = orig
			}
			ctx := &sessionSafe{Context: context.WithValue(middleware.WithoutClaims(r.Context()), headerKey{}, nil)}
			next.ServeHTTP(&answering{ResponseWriter: w, done: &ctx.done}, r.WithContext(ctx))
			ctx.done.Store(true)
		})
		inner := sdk(restore)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			shown := r.Clone(context.WithValue(r.Context(), headerKey{}, r.Header))
			shown.Header.Set("Authorization", "Bearer verified")
			inner.ServeHTTP(w, shown)
		})
	}
	return m
}

type headerKey struct{}

// sessionSafe is the context the SDK gets. Once its request's answer has
// begun, the TokenInfo in it reads as nil: a stateful session's calls run
// under its first request's context, and would otherwise find that
// request's token there (the SDK gives each call its own in req.Extra).
// The SDK reads the request's TokenInfo before it answers; a client that
// has the answer may send the session's next call at once, before the
// handler has returned, so the end of ServeHTTP is too late.
type sessionSafe struct {
	context.Context
	done atomic.Bool
}

// answering marks done as the answer begins (its status line, headers or
// first bytes), before any of it reaches the client.
type answering struct {
	http.ResponseWriter
	done *atomic.Bool
}

func (a *answering) WriteHeader(code int) {
	if code >= 200 {
		a.done.Store(true)
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *answering) Write(b []byte) (int, error) {
	a.done.Store(true)
	return a.ResponseWriter.Write(b)
}

// Flush sends what is written so far (and the headers, written then).
func (a *answering) Flush() {
	a.done.Store(true)
	_ = http.NewResponseController(a.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController, which the SDK flushes its event
// streams with, reach the connection's writer.
func (a *answering) Unwrap() http.ResponseWriter { return a.ResponseWriter }

func (c *sessionSafe) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*auth.TokenInfo); ok && c.done.Load() {
		return nil
	}
	return v
}

// Wrap returns h (the SDK's mcp.NewStreamableHTTPHandler) behind the
// Guard. Every request first needs the endpoint's requirements, so nothing
// is read from an unauthenticated body. A POST's operation is then read
// from the Mcp-Method and Mcp-Name headers when the SDK checks them
// against the body (protocol 2026-07-28 and later, one message, a method
// with a name the SDK checks), else from the body; a body that cannot be
// read unambiguously is refused 400 before the SDK sees it. GET (the
// event stream) and DELETE (ending a session) need the endpoint's
// requirements alone. A batch (protocol 2025-03-26) needs every
// operation's, and so does a subscriptions/listen for every resource it
// subscribes to; a body of more operations than WithMaxOperations allows
// is refused 400. Each distinct rule is checked once, in the order the
// body first needs it.
//
// An event stream (the GET, or a POST the SDK answers as one, such as
// subscriptions/listen) is authorized once, when it opens, and is not
// ended when its token expires: it delivers the session's messages until
// the client, the session or the server ends it. Ending it at exp plus
// the Guard's leeway would answer it as a new request is answered, but
// the SDK's client (v1.8.0) takes a stream the server ends for a lost
// connection: it reconnects, and once a stream has ended more than
// MaxRetries times (5 by default) with no event ID between, it closes the
// session, so a session would last six token lifetimes; and a
// subscriptions/listen that ends is not opened again.
//
// A DPoP proof is recorded as used by the endpoint's check, before an
// operation's, so a call refused for its scope has used its proof (clients
// make a new proof for every request).
//
// In handlers, claims.FromContext finds no claims: the SDK runs a
// session's calls under the context of its first request, so the claims
// of each call come with it, through ClaimsFrom(req.Extra).
func (m *Middleware) Wrap(h http.Handler) http.Handler {
	next := m.attach(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, ok := m.base.Serve(w, r)
		if !ok {
			return
		}
		if r.Method == http.MethodPost && len(m.ops) > 0 {
			// Each operation is matched to its rule as the body is read,
			// and only the distinct rules are kept: a listen of a
			// thousand URIs costs a thousand map lookups, not a thousand
			// operations held and checked. There are at most len(m.ops)
			// of them.
			var rules []*middleware.Rule
			status, err := m.operations(r, func(op operation) {
				if ru := m.ruleFor(op); ru != nil && !slices.Contains(rules, ru) {
					rules = append(rules, ru)
				}
			})
			if err != nil {
				writeBodyError(w, status, err, m.maxOps)
				return
			}
			for _, ru := range rules {
				// A nested rule of the same Guard: the token is verified
				// already, so this checks the operation's requirements
				// alone, and answers on the request's scheme.
				if r, ok = ru.Serve(w, r); !ok {
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// ruleFor is op's rule: its own, else its method's; nil when it has none
// beyond the endpoint's. Subscribing to a resource needs what reading it
// does, when subscribing has no rule of its own.
func (m *Middleware) ruleFor(op operation) *middleware.Rule {
	subscribe := op.method == "resources/subscribe" || op.method == "resources/unsubscribe"
	if op.name != "" {
		own := op
		if subscribe {
			own.method = "resources/read"
		}
		if ru, ok := m.ops[own]; ok {
			return ru
		}
	}
	if ru, ok := m.ops[operation{op.method, ""}]; ok {
		return ru
	}
	if subscribe {
		return m.ops[operation{"resources/read", ""}]
	}
	return nil
}

// writeBodyError answers a body Wrap does not hand the SDK: an
// invalid_request, with what is wrong with it.
func writeBodyError(w http.ResponseWriter, status int, err error, maxOps int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	msg := "The request body is not a JSON-RPC message this server can read"
	switch {
	case errors.Is(err, ErrBodyTooLarge):
		msg = "The request body is too large"
	case errors.Is(err, ErrTooManyOperations):
		// The limit is said, so a client that batches knows how to split.
		msg = fmt.Sprintf("The request body has more than %d operations", maxOps)
	}
	body, _ := json.Marshal(map[string]string{"error": "invalid_request", "error_description": msg})
	_, _ = w.Write(body)
}

// TokenInfo is what the SDK is told of verified claims: the scopes, the
// expiry, and a UserID that is the issuer and subject together (a JSON
// array), so two issuers' users with one subject never share a session.
// A Subject filled from another claim (middleware.WithSubjectClaim names
// a client, not a user) adds that claim's name as a third element, so a
// client whose ID equals a user's sub never shares the user's session.
// Extra holds the claims under "claims" (ClaimsFrom reads them), and
// "iss", "sub" and "client_id".
func TokenInfo(c *claims.Claims) *auth.TokenInfo {
	id := []string{c.Issuer, c.Subject}
	if c.SubjectFrom != "" {
		id = append(id, c.SubjectFrom)
	}
	uid, _ := json.Marshal(id) // strings never fail to marshal
	return &auth.TokenInfo{
		Scopes:     slices.Clone([]string(c.Scopes)), // the SDK's code may change its copy; the cached claims are shared
		Expiration: c.ExpiresAt,
		UserID:     string(uid),
		Extra: map[string]any{
			extraClaims: c,
			"iss":       c.Issuer,
			"sub":       c.Subject,
			"client_id": c.ClientID,
		},
	}
}

const extraClaims = "claims"

// ClaimsFrom returns the verified claims of the request a tool, resource
// or prompt handler is serving (req.Extra), when Middleware or Verifier
// verified it.
func ClaimsFrom(extra *mcp.RequestExtra) (*claims.Claims, bool) {
	if extra == nil || extra.TokenInfo == nil {
		return nil, false
	}
	c, ok := extra.TokenInfo.Extra[extraClaims].(*claims.Claims)
	return c, ok
}

// Verifier returns an auth.TokenVerifier backed by g, for the SDK's
// auth.RequireBearerToken. A refused token is an error wrapping both
// auth.ErrInvalidToken and the *middleware.Error, so the SDK answers 401.
// The SDK writes the error's text to the client, so the text is only the
// refusal's public description: its Cause (a claims check's or a key
// fetch's error, which may name internal hosts) stays for errors.As and
// the logs. The TokenInfo's Expiration is exp plus the Guard's Leeway,
// when the Guard stops accepting the token, because the SDK checks it
// again with its own ClockSkew (0 by default) and would otherwise refuse
// a token within the leeway. The SDK's middleware cannot say more: its
// challenge has no
// error= (no expired hint), a key outage becomes a 500 rather than a
// retryable 503, DPoP is refused, and one scope set applies to every
// tool. Middleware does all of that.
func Verifier(g *middleware.Guard) auth.TokenVerifier {
	return func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		c, err := g.VerifyToken(ctx, token)
		if err != nil {
			var e *middleware.Error
			if !errors.As(err, &e) {
				return nil, err
			}
			if errors.Is(err, middleware.ErrKeysUnavailable) || errors.Is(err, middleware.ErrReplayStoreUnavailable) {
				return nil, verifierError{e: e} // not the token's fault: the SDK answers 500
			}
			return nil, verifierError{sentinel: auth.ErrInvalidToken, e: e}
		}
		info := TokenInfo(c)
		info.Expiration = info.Expiration.Add(g.Leeway())
		return info, nil
	}
}

// verifierError is a refusal as Verifier hands it to the SDK, which sends
// Error() to the client: the SDK's sentinel (nil for a 500) and the
// refusal's description, never its cause.
type verifierError struct {
	sentinel error
	e        *middleware.Error
}

func (v verifierError) Error() string {
	if v.sentinel == nil {
		return v.e.Description()
	}
	return v.sentinel.Error() + ": " + v.e.Description()
}

func (v verifierError) Unwrap() []error {
	if v.sentinel == nil {
		return []error{v.e}
	}
	return []error{v.sentinel, v.e}
}
