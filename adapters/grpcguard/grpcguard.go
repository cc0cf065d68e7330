// Package grpcguard protects a gRPC server (google.golang.org/grpc) with a
// jwtguard Guard, and gives its clients credentials that refresh on the
// expired hint. It is its own Go module, so users of the core never
// download grpc.
//
//	g, _ := middleware.New(keys, issuer, []string{"https://notes.example.com"})
//	guard := grpcguard.New(g,
//		grpcguard.WithMethod("/notes.v1.Notes/AddNote", middleware.Scopes("notes:write")),
//		grpcguard.WithPublic("/grpc.health.v1.Health/Check"))
//	srv := grpc.NewServer(grpc.UnaryInterceptor(guard.Unary()), grpc.StreamInterceptor(guard.Stream()))
//
//	// in a handler:
//	c, _ := claims.FromContext(ctx)
//
// A call is a request of the Guard like any other: the token comes from
// the authorization metadata (Bearer or DPoP, with the proof in dpop), so
// the same token gets the same decision and reason as over net/http. A
// refusal is a status: Unauthenticated (a token that is missing, invalid
// or expired, a DPoP proof refused), PermissionDenied (a missing scope or
// claim, a token for another audience), Unavailable (keys or the replay
// store unavailable: retry), InvalidArgument (more than one token). Each
// carries a google.rpc.ErrorInfo detail (domain jwtguard.github.io) whose
// reason is ACCESS_TOKEN_EXPIRED exactly for the expired hint,
// ACCESS_TOKEN_SCOPE_INSUFFICIENT (with metadata scope) for a missing
// scope, and the refusal's reason in upper case otherwise ("SIGNATURE",
// "NO_TOKEN", "DPOP_REPLAY", …). Its metadata has the OAuth error and
// error_description, and a step-up refusal's (RFC 9470) acr_values and
// max_age, so a client need not parse a challenge. The RFC 6750
// challenges are in the www-authenticate response metadata, with
// retry-after and dpop-nonce where HTTP has those headers.
//
// # DPoP over gRPC
//
// A gRPC call is an HTTP/2 POST to its full method name, so a proof's htm
// is POST and its htu is the scheme (https over TLS, else http), the
// :authority the client sent, and the full method:
// https://notes.example.com/notes.v1.Notes/AddNote. The :authority is the
// client's to choose (as HTTP's Host is), and the proxy headers
// middleware.WithTrustedProxies reads are not metadata here, so set
// middleware.WithExternalURL to the service's public URL whenever it
// accepts DPoP. One proof is for one call, a stream included.
//
// Only the authorization and dpop metadata are read: a Guard's cookie and
// query options find nothing in a call, and a Guard made with
// middleware.WithTokenHeader, which then reads that header alone, refuses
// every call as without credentials. Give gRPC a Guard without it.
package grpcguard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/internal/rpcerr"
	"github.com/jwtguard/jwtguard/middleware"
)

// An Option configures New.
type Option func(*config)

type config struct {
	methods map[string][]middleware.Requirement
	public  map[string]bool
	err     error
}

// WithMethod requires reqs, besides a valid token for the Guard's
// audiences, for calls of the full method name ("/pkg.Service/Method").
func WithMethod(fullMethod string, reqs ...middleware.Requirement) Option {
	return func(c *config) {
		if !validMethod(fullMethod) {
			c.err = fmt.Errorf("grpcguard: %q is not a full method name (/package.Service/Method)", fullMethod)
		}
		if _, dup := c.methods[fullMethod]; dup {
			c.err = fmt.Errorf("grpcguard: method %q given twice", fullMethod)
		}
		c.methods[fullMethod] = reqs
	}
}

// WithPublic lets calls of the full method names through with no token
// (health checks, reflection). Every other method needs one.
func WithPublic(fullMethods ...string) Option {
	return func(c *config) {
		for _, m := range fullMethods {
			if !validMethod(m) {
				c.err = fmt.Errorf("grpcguard: %q is not a full method name (/package.Service/Method)", m)
			}
			c.public[m] = true
		}
	}
}

// validMethod reports whether m is a full method name: a name that is
// not one never matches a call, and its method would silently get the
// default rule.
func validMethod(m string) bool {
	svc, method, ok := strings.Cut(strings.TrimPrefix(m, "/"), "/")
	return ok && strings.HasPrefix(m, "/") && svc != "" && method != "" && !strings.Contains(method, "/")
}

// Interceptor holds the compiled rules of a server's methods. It is safe
// for concurrent use.
type Interceptor struct {
	g       *middleware.Guard
	base    *middleware.Rule
	methods map[string]*middleware.Rule
	public  map[string]bool
}

// New compiles the methods' requirements for g. It panics on the
// programming errors middleware.Guard.Rule panics on, on a method given
// twice, and if an Option is nil.
func New(g *middleware.Guard, opts ...Option) *Interceptor {
	cfg := config{methods: map[string][]middleware.Requirement{}, public: map[string]bool{}}
	for _, o := range opts {
		if o == nil { // New returns no error: a panic that says so, at set-up
			panic("grpcguard: New with a nil Option")
		}
		o(&cfg)
	}
	if cfg.err != nil {
		panic(cfg.err)
	}
	in := &Interceptor{g: g, base: g.Rule(), methods: make(map[string]*middleware.Rule, len(cfg.methods)), public: cfg.public}
	for m, reqs := range cfg.methods {
		if cfg.public[m] {
			panic(fmt.Sprintf("grpcguard: method %q is both public and guarded", m))
		}
		in.methods[m] = g.Rule(reqs...)
	}
	return in
}

// Unary is the server interceptor for unary calls.
func (in *Interceptor) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := in.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is the server interceptor for streaming calls: the token is
// checked once, when the stream opens.
func (in *Interceptor) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := in.check(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &stream{ServerStream: ss, ctx: ctx})
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

// check runs the method's rule on the call, as the HTTP/2 request it is,
// and returns the context with the claims, or the status to refuse with.
func (in *Interceptor) check(ctx context.Context, method string) (context.Context, error) {
	if in.public[method] {
		return ctx, nil
	}
	rule := in.base
	if ru, ok := in.methods[method]; ok {
		rule = ru
	}
	r := request(ctx, method)
	r2, err := rule.Check(r)
	if err != nil {
		// The Guard's error handler runs, so a hook that logs or counts
		// refusals sees these too; what it writes is not the answer. It
		// gets the request Check returned, as Rule.Serve hands it on,
		// for the issuer of the Guard's log line.
		in.g.Fail(discard{}, r2, err)
		return ctx, refusal(ctx, err)
	}
	if n := in.g.DPoPNonce(r2); n != "" {
		_ = grpc.SetHeader(ctx, metadata.Pairs("dpop-nonce", n))
	}
	return r2.Context(), nil
}

// request is the call as the HTTP/2 request that carried it: POST to the
// full method, at the :authority, with the credentials' metadata as
// headers and the connection's TLS state.
func request(ctx context.Context, method string) *http.Request {
	r := &http.Request{
		Method: http.MethodPost, URL: &url.URL{Path: method}, RequestURI: method,
		Proto: "HTTP/2.0", ProtoMajor: 2, Header: http.Header{}, Body: http.NoBody,
	}
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if a := md.Get(":authority"); len(a) == 1 {
			r.Host = a[0]
		}
		if v := md.Get("authorization"); len(v) > 0 {
			r.Header["Authorization"] = v
		}
		if v := md.Get("dpop"); len(v) > 0 {
			r.Header["Dpop"] = v
		}
	}
	if p, ok := peer.FromContext(ctx); ok {
		if p.Addr != nil {
			r.RemoteAddr = p.Addr.String()
		}
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			st := ti.State
			r.TLS = &st
		}
	}
	return r.WithContext(ctx)
}

// refusal is err as a gRPC status, its challenges in the response
// metadata.
func refusal(ctx context.Context, err error) error {
	var e *middleware.Error
	if !errors.As(err, &e) {
		return status.Error(codes.Unauthenticated, "The access token is invalid")
	}
	md := metadata.MD{}
	for k, v := range rpcerr.Header(e) {
		md[k] = v
	}
	if len(md) > 0 {
		_ = grpc.SetHeader(ctx, md)
	}
	st := status.New(codes.Code(rpcerr.Code(e)), rpcerr.Message(e))
	if d, derr := st.WithDetails(&errdetails.ErrorInfo{Reason: rpcerr.Reason(e), Domain: rpcerr.Domain, Metadata: rpcerr.Info(e)}); derr == nil {
		st = d
	}
	return st.Err()
}

// ErrorInfo returns the google.rpc.ErrorInfo of a refusal that err (from
// a call) carries, for a client that decides by reason.
func ErrorInfo(err error) (*errdetails.ErrorInfo, bool) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == rpcerr.Domain {
			return info, true
		}
	}
	return nil, false
}

// IsExpired reports whether err is the expired hint: the one refusal a
// refresh answers.
func IsExpired(err error) bool {
	info, ok := ErrorInfo(err)
	return ok && status.Code(err) == codes.Unauthenticated && info.GetReason() == rpcerr.ReasonExpired
}

// discard is the ResponseWriter the Guard's error handler writes to for a
// gRPC call: the status is the answer.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
