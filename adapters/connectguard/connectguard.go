// Package connectguard protects Connect services (connectrpc.com/connect)
// with a jwtguard Guard. It is net/http middleware, as Connect recommends
// for authentication: a refused call is answered before Connect decodes
// its request, in the format of the caller's protocol (Connect, gRPC or
// gRPC-Web), and streams are checked like unary calls. It is its own Go
// module, so users of the core never download Connect.
//
//	g, _ := middleware.New(keys, issuer, []string{"https://api.example.com"})
//	guard := connectguard.New(g,
//		connectguard.WithProcedure(notesv1connect.NotesServiceDeleteNoteProcedure, middleware.Scopes("notes:write")),
//		connectguard.WithPublic("/grpc.health.v1.Health/Check"),
//	)
//	mux := http.NewServeMux()
//	mux.Handle(notesv1connect.NewNotesServiceHandler(notes, connect.WithInterceptors(guard.Interceptor())))
//	http.ListenAndServeTLS(":8443", certFile, keyFile, guard.Wrap(mux)) // TLS brings HTTP/2, which gRPC needs
//
//	// in a handler:
//	c, _ := claims.FromContext(ctx)
//
// A refusal is a *connect.Error whose code is the RPC reading of the HTTP
// refusal, shared with the gRPC adapter: Unauthenticated for a 401 (a
// token for another audience is PermissionDenied), PermissionDenied for
// a 403, InvalidArgument for a 400, Unavailable for a 503. Its
// google.rpc.ErrorInfo detail has the reason ("ACCESS_TOKEN_EXPIRED",
// "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "SIGNATURE", …), the domain
// "jwtguard.github.io", and the OAuth error, description, missing scopes
// and a step-up's acr_values and max_age as metadata. The HTTP refusal's WWW-Authenticate (one value per
// challenge, in order), Retry-After and DPoP-Nonce are the error's
// metadata: response headers for Connect unary and gRPC-Web, the
// end-of-stream message of a Connect stream, and for gRPC the response
// headers too, since HTTP does not allow WWW-Authenticate in trailers.
// Connect clients find them all in the error's Meta.
//
// A request that is no RPC (a browser's GET, say) is refused exactly as
// the net/http middleware refuses it. The Guard's error handler
// (middleware.WithErrorHandler) sees every refusal of a token, RPC ones
// included; for those, what it writes is dropped, as the RPC error
// replaces it. The Interceptor's refusal (below) is not a token's and is
// not shown to it, nor counted in the Guard's Metrics: it means a handler
// serves a procedure that Wrap did not judge, a mounting to fix.
//
// The procedure is the request's path: wrap the handler whose request
// paths are the procedures (the mux Connect's handlers are mounted on),
// inside any http.StripPrefix, and give each Connect handler the
// Interceptor, which refuses a call that Connect dispatches to a
// procedure other than the one whose rule Wrap applied (a handler mounted
// under a prefix, or serving paths it was not registered for). A
// procedure that no option names gets the default rule (a valid token for
// the Guard's audiences), never no rule. Browsers' CORS preflights carry
// no token: put a CORS handler outside Wrap, so that it answers them
// first.
package connectguard

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/jwtguard/jwtguard/internal/rpcerr"
	"github.com/jwtguard/jwtguard/middleware"
)

// Middleware checks the access token of every call to the handler it
// wraps. Make one with New; it is safe for concurrent use.
type Middleware struct {
	g    *middleware.Guard
	def  *middleware.Rule
	proc map[string]*middleware.Rule // nil value: a public procedure
	errW *connect.ErrorWriter
}

// An Option configures New.
type Option func(*config)

type config struct {
	entries []entry
}

// entry is one procedure an Option named, with its requirements, or none
// for a public one.
type entry struct {
	procedure string
	public    bool
	reqs      []middleware.Requirement
}

// WithProcedure adds reqs to the token check of procedure, a Connect
// procedure ("/acme.notes.v1.NotesService/ListNotes", the constants
// protoc-gen-connect-go generates). The token must still be valid for the
// Guard's audiences, unless reqs give a middleware.Audience of their own.
//
// New panics on the programming errors middleware.Guard.Rule panics on,
// on a procedure that is not of the form /service/method (its rule would
// never apply), and on a procedure given twice, or given to WithPublic
// too: two rules for one procedure would make its protection depend on
// the order of options.
func WithProcedure(procedure string, reqs ...middleware.Requirement) Option {
	return func(c *config) {
		c.entries = append(c.entries, entry{procedure: procedure, reqs: slices.Clone(reqs)})
	}
}

// WithPublic exempts procedures from the token check: a call to one
// reaches its handler with no claims, whatever its Authorization header
// holds (a health check, a login procedure). New panics on a procedure
// not of the form /service/method, and on one WithProcedure names too.
func WithPublic(procedures ...string) Option {
	return func(c *config) {
		for _, p := range procedures {
			c.entries = append(c.entries, entry{procedure: p, public: true})
		}
	}
}

// New returns the middleware for g. Every procedure needs a valid token
// for the Guard's audiences; WithProcedure adds requirements for one;
// WithPublic exempts some. Each rule is compiled here, once, so a bad
// requirement panics at start-up rather than on the first call.
//
// It panics if an Option is nil.
func New(g *middleware.Guard, opts ...Option) *Middleware {
	var cfg config
	for _, o := range opts {
		if o == nil { // New returns no error: a panic that says so, at set-up
			panic("connectguard: New with a nil Option")
		}
		o(&cfg)
	}
	m := &Middleware{
		g:    g,
		def:  g.Rule(),
		proc: make(map[string]*middleware.Rule, len(cfg.entries)),
		// The error writer only tells the protocols apart and encodes
		// the error; none of the handler options changes either for the
		// errors written here, so it needs none.
		errW: connect.NewErrorWriter(),
	}
	for _, e := range cfg.entries {
		if !validProcedure(e.procedure) {
			panic(fmt.Sprintf("connectguard: procedure %q is not of the form /service/method", e.procedure))
		}
		if ru, dup := m.proc[e.procedure]; dup && (!e.public || ru != nil) {
			// Naming a public procedure twice is harmless; any other
			// repeat gives one procedure two rules, or a rule and none.
			panic(fmt.Sprintf("connectguard: procedure %q given twice", e.procedure))
		}
		var ru *middleware.Rule
		if !e.public {
			ru = g.Rule(e.reqs...)
		}
		m.proc[e.procedure] = ru
	}
	return m
}

// validProcedure reports whether p is "/service/method" with both parts
// non-empty: the only paths Connect routes to a procedure. Any other name
// would never equal a request's path, and its rule would silently never
// apply.
func validProcedure(p string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return strings.HasPrefix(p, "/") && ok && service != "" && method != "" && !strings.Contains(method, "/")
}

// Wrap returns h guarded: a call reaches h only with a token its
// procedure's rule accepts, with the claims in the request context
// (claims.FromContext on a Connect handler's ctx). Streams are checked
// once, when they open, like unary calls.
func (m *Middleware) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ru, listed := m.proc[r.URL.Path]
		r = r.WithContext(context.WithValue(r.Context(), procedureKey{}, judged{m, r.URL.Path}))
		if !listed {
			ru = m.def
		} else if ru == nil {
			h.ServeHTTP(w, r) // public
			return
		}
		r2, err := ru.Check(r)
		if err != nil {
			if r2 == nil {
				r2 = r
			}
			m.fail(w, r2, err)
			return
		}
		// As Rule.Serve does for net/http: a DPoP request that passes
		// gets a fresh nonce (WithDPoPNonce), and one whose token was in
		// its URL (a Connect GET) Cache-Control: private, with the
		// response's headers, which Connect sends before the first
		// message.
		m.g.SetPassHeaders(w.Header(), r2)
		h.ServeHTTP(w, r2)
	})
}

// procedureKey holds, in a call's context, which Middleware judged it,
// and by which path's rule.
type procedureKey struct{}

type judged struct {
	m    *Middleware
	path string
}

// Interceptor returns the connect.Interceptor that closes the gap between
// Wrap's view of a call (its path) and Connect's (the procedure it
// dispatches to): a call whose procedure is not the path Wrap judged is
// refused PermissionDenied, as is one that did not come through Wrap.
// Give it to every handler: connect.WithInterceptors(guard.Interceptor()).
// A call judged by another Middleware's Wrap is refused too: its rules
// are not this one's.
func (m *Middleware) Interceptor() connect.Interceptor { return interceptor{m} }

type interceptor struct{ m *Middleware }

func (i interceptor) checkProcedure(ctx context.Context, procedure string) error {
	if j, ok := ctx.Value(procedureKey{}).(judged); ok && j.m == i.m && j.path == procedure {
		return nil
	}
	return connect.NewError(connect.CodePermissionDenied, errors.New("the call did not come through the guard for its procedure"))
}

func (i interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if req.Spec().IsClient {
			return next(ctx, req)
		}
		if err := i.checkProcedure(ctx, req.Spec().Procedure); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := i.checkProcedure(ctx, conn.Spec().Procedure); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// fail writes the refusal err of r. A plain HTTP request gets the Guard's
// own answer (Guard.Fail: the user's error handler, WriteError by default).
//
// An RPC gets its protocol's error instead, but the Guard's error handler
// still runs, so that a hook that logs or counts refusals
// (middleware.WithErrorHandler) sees the RPC ones too. It is handed a
// writer whose output is dropped: a body and status written for HTTP
// clients would be garbage to an RPC client, and its headers would
// duplicate the metadata. A hook that must tell the two apart can check
// the request's Content-Type (application/grpc…, application/connect…).
func (m *Middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	if !m.isRPC(r) {
		m.g.Fail(w, r, err)
		return
	}
	m.g.Fail(discard{make(http.Header)}, r, err)
	ce := connectError(err)
	if isGRPC(r) {
		// gRPC sends an error's metadata as HTTP trailers, and net/http
		// drops WWW-Authenticate from trailers (RFC 9110 §6.5.1: a
		// trailer must not carry what authentication needs). So for gRPC
		// the refusal's headers go where HTTP puts them, in the response
		// headers, which gRPC clients read as header metadata (Connect's
		// own merges them into the error's Meta). Elsewhere they are the
		// error's metadata: the headers of a Connect unary or gRPC-Web
		// response, the end-of-stream message of a Connect stream.
		h := w.Header()
		for k, v := range ce.Meta() {
			h[k] = v
		}
		clear(ce.Meta())
	}
	_ = m.errW.Write(w, r, ce) // a write error is the client gone
}

// isGRPC reports whether r is a gRPC call (not gRPC-Web), by the content
// types the ErrorWriter knows it by.
func isGRPC(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	} else {
		ct = strings.ToLower(ct)
	}
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+")
}

// isRPC reports whether r is a Connect, gRPC or gRPC-Web call. The
// ErrorWriter takes every GET for a Connect unary call; only one with the
// message and encoding parameters that Connect's GET calls carry is, so a
// browser or curl GET keeps the plain HTTP refusal (as authn-go decides).
func (m *Middleware) isRPC(r *http.Request) bool {
	if !m.errW.IsSupported(r) {
		return false
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		return q.Has("message") && q.Has("encoding")
	}
	return true
}

// connectError is err as a Connect error, in rpcerr's terms (which the
// gRPC adapter shares, so both transports answer alike).
func connectError(err error) *connect.Error {
	var e *middleware.Error
	if !errors.As(err, &e) {
		// Check returns only *middleware.Error; this is WriteError's
		// generic refusal, for safety.
		//lint:ignore ST1005 a status message is a sentence for people, as rpcerr.Message's are
		return connect.NewError(connect.CodeUnauthenticated, errors.New("The access token is invalid"))
	}
	ce := connect.NewError(connect.Code(rpcerr.Code(e)), errors.New(rpcerr.Message(e)))
	info := &errdetails.ErrorInfo{Reason: rpcerr.Reason(e), Domain: rpcerr.Domain, Metadata: rpcerr.Info(e)}
	if d, derr := connect.NewErrorDetail(info); derr == nil { // marshalling a well-formed ErrorInfo cannot fail
		ce.AddDetail(d)
	}
	// Canonical keys, as http.Header expects: Connect writes them as
	// header fields (lower-cased by HTTP/2) or in a Connect stream's
	// end-of-stream JSON, and a client looks them up canonically. Each
	// challenge stays its own value, in order.
	meta := ce.Meta()
	for k, v := range rpcerr.Header(e) {
		meta[http.CanonicalHeaderKey(k)] = v
	}
	return ce
}

// discard is the ResponseWriter the Guard's error handler writes an RPC
// refusal to: it keeps nothing.
type discard struct{ h http.Header }

func (d discard) Header() http.Header         { return d.h }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}
