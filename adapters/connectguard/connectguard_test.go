package connectguard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtguard/jwtguard/adapters/connectguard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// The procedures beside the table's.
const (
	publicProcedure   = "/guardtest.Public/Ping"
	unlistedProcedure = "/guardtest.Other/Unlisted"
)

// streamProcedure is the server-streaming twin of procedure p, in a
// service of its own ("/guardtest.TableStream/api.me"), with the same
// requirements.
func streamProcedure(p string) string {
	i := strings.LastIndexByte(p, '/')
	return p[:i] + "Stream" + p[i:]
}

// A server is the middleware in front of real Connect handlers.
type server struct {
	e   *guardtest.Env // nil for a Guard of a test's own
	srv *httptest.Server
	// observed checks what the last call of c left (Env.CheckObserved):
	// the metrics reason, the error hook's error, the final handler's
	// runs.
	observed func(c guardtest.Case) string
}

// newServer serves the table's procedures behind the middleware, each
// with its RPCRoutes requirements, unary and streaming. guardOpts are
// added to the Env's Guard.
func newServer(t *testing.T, guardOpts ...middleware.Option) *server {
	t.Helper()
	e := guardtest.New(t, guardOpts...)
	var opts []connectguard.Option
	for proc, reqs := range e.RPCRoutes() {
		opts = append(opts, connectguard.WithProcedure(proc, reqs...), connectguard.WithProcedure(streamProcedure(proc), reqs...))
	}
	opts = append(opts, connectguard.WithPublic(publicProcedure, streamProcedure(publicProcedure)))
	srv := serve(t, connectguard.New(e.Guard, opts...), e.FinalRPC, slices.Collect(maps.Keys(e.RPCRoutes())))
	return &server{e: e, srv: srv, observed: e.CheckObserved}
}

// serve serves procs and the unlisted procedure, answering with final,
// and the public one, unary and streaming, behind mw, over HTTP/2 with
// TLS (which gRPC needs).
func serve(t *testing.T, mw *connectguard.Middleware, final func(context.Context) (string, error), procs []string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	add := func(proc string, answer func(context.Context) (string, error)) {
		mux.Handle(proc, connect.NewUnaryHandler(proc, unary(answer),
			connect.WithIdempotency(connect.IdempotencyNoSideEffects), // so that GET calls are served
			connect.WithInterceptors(mw.Interceptor())))
		mux.Handle(streamProcedure(proc), connect.NewServerStreamHandler(streamProcedure(proc), stream(answer), connect.WithInterceptors(mw.Interceptor())))
	}
	for _, proc := range append(procs, unlistedProcedure) {
		add(proc, final)
	}
	add(publicProcedure, func(ctx context.Context) (string, error) {
		if _, ok := claims.FromContext(ctx); ok {
			return "claims", nil
		}
		return "public", nil
	})
	srv := httptest.NewUnstartedServer(mw.Wrap(mux))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func unary(answer func(context.Context) (string, error)) func(context.Context, *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
	return func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
		m, err := answer(ctx)
		if err != nil {
			return nil, connect.NewError(connect.CodeInternal, err)
		}
		return connect.NewResponse(wrapperspb.String(m)), nil
	}
}

// stream sends the answer twice: a refusal must stop it before the first.
func stream(answer func(context.Context) (string, error)) func(context.Context, *connect.Request[emptypb.Empty], *connect.ServerStream[wrapperspb.StringValue]) error {
	return func(ctx context.Context, _ *connect.Request[emptypb.Empty], s *connect.ServerStream[wrapperspb.StringValue]) error {
		m, err := answer(ctx)
		if err != nil {
			return connect.NewError(connect.CodeInternal, err)
		}
		for range 2 {
			if err := s.Send(wrapperspb.String(m)); err != nil {
				return err
			}
		}
		return nil
	}
}

// A mode is one way of calling: a protocol, and unary or streaming.
type mode struct {
	name   string
	opts   []connect.ClientOption
	stream bool
	method string // the HTTP method, for DPoP proofs
}

var modes = func() []mode {
	get := []connect.ClientOption{connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects)}
	var out []mode
	for _, p := range []struct {
		name string
		opts []connect.ClientOption
	}{{"connect", nil}, {"grpc", []connect.ClientOption{connect.WithGRPC()}}, {"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}}} {
		out = append(out, mode{p.name + " unary", p.opts, false, "POST"}, mode{p.name + " stream", p.opts, true, "POST"})
	}
	return append(out, mode{"connect GET", get, false, "GET"})
}()

// result is what a call got back.
type result struct {
	msgs   []string
	header http.Header
	err    error
}

// call calls procedure (with query, "" or "?…") as m does, with header.
func (s *server) call(t *testing.T, m mode, procedure, query string, header http.Header) result {
	t.Helper()
	if m.stream {
		procedure = streamProcedure(procedure)
	}
	client := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](s.srv.Client(), s.srv.URL+procedure+query, m.opts...)
	req := connect.NewRequest(&emptypb.Empty{})
	for k, v := range header {
		req.Header()[k] = slices.Clone(v)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if !m.stream {
		res, err := client.CallUnary(ctx, req)
		if err != nil {
			return result{err: err}
		}
		return result{[]string{res.Msg.GetValue()}, res.Header(), nil}
	}
	st, err := client.CallServerStream(ctx, req)
	if err != nil {
		return result{err: err}
	}
	defer func() { _ = st.Close() }()
	var msgs []string
	for st.Receive() {
		msgs = append(msgs, st.Msg().GetValue())
	}
	if err := st.Err(); err != nil {
		return result{err: err}
	}
	return result{msgs, st.ResponseHeader(), nil}
}

// run makes c's call as m does, and checks everything the table asks of
// it.
func (s *server) run(t *testing.T, m mode, c guardtest.Case) result {
	t.Helper()
	_, path := guardtest.MethodPath(c.Path)
	path, query, _ := strings.Cut(path, "?")
	if query != "" {
		query = "?" + query
	}
	got := s.call(t, m, guardtest.Procedure(path), query, c.Header)
	s.check(t, m, c, got)
	return got
}

// check holds got to c's answer over an RPC transport (guardtest.RPC),
// and checks what Env.Compare checks of every entry point: the metrics'
// reason, the error hook's error, and that the final handler ran once for
// a call that passes, never for a refusal.
func (s *server) check(t *testing.T, m mode, c guardtest.Case, got result) {
	t.Helper()
	want := guardtest.RPC(c)
	if msg := s.observed(c); msg != "" {
		t.Errorf("%s, %s: %s", m.name, c.Name, msg)
	}
	if want.Code == guardtest.CodeOK {
		wantMsgs := []string{want.Message}
		if m.stream {
			wantMsgs = append(wantMsgs, want.Message)
		}
		if got.err != nil || !slices.Equal(got.msgs, wantMsgs) {
			t.Errorf("%s, %s: got %q, %v; want %q", m.name, c.Name, got.msgs, got.err, wantMsgs)
		}
		if n := got.header.Get("Dpop-Nonce") != ""; n != want.Nonce {
			t.Errorf("%s, %s: DPoP-Nonce set %v, want %v", m.name, c.Name, n, want.Nonce)
		}
		return
	}
	var ce *connect.Error
	if !errors.As(got.err, &ce) {
		t.Errorf("%s, %s: got %q, %v; want code %d", m.name, c.Name, got.msgs, got.err, want.Code)
		return
	}
	if ce.Code() != connect.Code(want.Code) {
		t.Errorf("%s, %s: code %v, want %v", m.name, c.Name, ce.Code(), connect.Code(want.Code))
	}
	info := errorInfo(ce)
	switch {
	case info == nil:
		t.Errorf("%s, %s: no ErrorInfo in %v", m.name, c.Name, ce.Details())
	case info.GetReason() != want.Reason || info.GetDomain() != "jwtguard.github.io" || !maps.Equal(info.GetMetadata(), want.Info):
		t.Errorf("%s, %s: ErrorInfo %v, want reason %q, domain jwtguard.github.io, metadata %v", m.name, c.Name, info, want.Reason, want.Info)
	}
	if ce.Message() != want.Status {
		t.Errorf("%s, %s: message %q, want %q", m.name, c.Name, ce.Message(), want.Status)
	}
	meta := ce.Meta()
	if ch := meta.Values("Www-Authenticate"); !slices.Equal(ch, want.Challenges) {
		t.Errorf("%s, %s: challenges\n got  %q\n want %q", m.name, c.Name, ch, want.Challenges)
	}
	if ra := meta.Get("Retry-After"); ra != want.RetryAfter {
		t.Errorf("%s, %s: Retry-After %q, want %q", m.name, c.Name, ra, want.RetryAfter)
	}
	if n := meta.Get("Dpop-Nonce") != ""; n != want.Nonce {
		t.Errorf("%s, %s: DPoP-Nonce set %v, want %v", m.name, c.Name, n, want.Nonce)
	}
}

func errorInfo(ce *connect.Error) *errdetails.ErrorInfo {
	for _, d := range ce.Details() {
		if v, err := d.Value(); err == nil {
			if info, ok := v.(*errdetails.ErrorInfo); ok {
				return info
			}
		}
	}
	return nil
}

// expectedInfo is the ErrorInfo metadata of c's refusal, read from its
// HTTP answer: the error code and scope of the challenge (the body's
// error for a 503, which has none), the body's description; and the
// description, which is the status message too.
// TestTable runs the shared table in every protocol, unary and streaming,
// its DPoP cases with proofs for each call's method and URL included.
func TestTable(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t)
			cases := append(s.e.RPCCases(), guardtest.RPCDPoP(s.e.Issuer, func(proc string) (string, string) {
				if m.stream {
					proc = streamProcedure(proc)
				}
				return m.method, s.srv.URL + proc
			})...)
			if len(cases) < 100 {
				t.Fatalf("only %d cases", len(cases))
			}
			for _, c := range cases {
				s.run(t, m, c)
			}
		})
	}
}

// The table's "no token" refusal of PathMe, for checks of their own.
func noToken(t *testing.T, e *guardtest.Env) guardtest.Case {
	t.Helper()
	for _, c := range e.RPCCases() {
		if c.Name == "no token" {
			return c
		}
	}
	t.Fatal("no case named no token")
	return guardtest.Case{}
}

// TestPlainHTTP: a request that is no RPC gets the net/http refusal,
// through the Guard's error hook.
func TestPlainHTTP(t *testing.T) {
	s := newServer(t)
	c := noToken(t, s.e)
	for _, method := range []string{"GET", "DELETE"} {
		req, _ := http.NewRequestWithContext(t.Context(), method, s.srv.URL+guardtest.Procedure(guardtest.PathMe), nil)
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		got := guardtest.Response{Status: resp.StatusCode, Challenges: resp.Header.Values("Www-Authenticate"), CType: resp.Header.Get("Content-Type"),
			Body: string(body), RetryAfter: resp.Header.Get("Retry-After"), Nonce: resp.Header.Get("Dpop-Nonce") != ""}
		if !c.Want.Equal(got) {
			t.Errorf("%s:\n got  %+v\n want %+v", method, got, c.Want)
		}
		if msg := s.e.CheckObserved(c); msg != "" {
			t.Errorf("%s: %s", method, msg)
		}
	}
}

// TestPublicAndUnlisted: a public procedure needs no token and gets no
// claims, even given a bad one; one that no option names needs a token.
func TestPublicAndUnlisted(t *testing.T) {
	s := newServer(t)
	tok := s.e.Issuer.Mint(jwkstest.WithScopes("x"))
	for _, m := range modes {
		for _, h := range []http.Header{nil, {"Authorization": {"Bearer " + guardtest.Forge(tok)}}} {
			got := s.call(t, m, publicProcedure, "", h)
			if got.err != nil || len(got.msgs) == 0 || got.msgs[0] != "public" {
				t.Errorf("%s: public procedure: %q, %v", m.name, got.msgs, got.err)
			}
			if reason, _, hookErr := s.e.Observed(); reason != "" || hookErr != nil {
				t.Errorf("%s: public procedure checked: metrics %q, hook %v", m.name, reason, hookErr)
			}
		}
		c := noToken(t, s.e)
		c.Name = "unlisted procedure, " + c.Name
		got := s.call(t, m, unlistedProcedure, "", nil)
		s.check(t, m, c, got)
		c = guardtest.Case{Name: "unlisted procedure, a token", Want: guardtest.Response{Body: "sub=user-123 scopes=x"}, Reason: "ok"}
		got = s.call(t, m, unlistedProcedure, "", http.Header{"Authorization": {"Bearer " + tok}})
		s.check(t, m, c, got)
	}
}

func cnf(jkt string) jwkstest.MintOption {
	return jwkstest.WithClaim("cnf", map[string]any{"jkt": jkt})
}

// TestDPoPNonce: with nonces on, a proof without one is refused with a
// nonce in the metadata; a proof with it passes, and the response carries
// the next nonce.
func TestDPoPNonce(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s := newServer(t, middleware.WithDPoPNonce(nil, 0))
			p := guardtest.NewProver("ES256")
			tok := s.e.Issuer.Mint(cnf(p.JKT))
			proc := guardtest.Procedure(guardtest.PathMe)
			url := s.srv.URL + proc
			if m.stream {
				url = s.srv.URL + streamProcedure(proc)
			}
			h := func(proof string) http.Header { return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof}} }
			c := guardtest.Case{Name: "no nonce", Path: guardtest.PathMe, Header: h(p.Proof(m.method, url, tok, nil, nil)),
				Want: guardtest.OnResource(guardtest.UseNonce, guardtest.Audience), Err: middleware.ErrUseDPoPNonce, Reason: "dpop_nonce"}
			got := s.call(t, m, proc, "", c.Header)
			s.check(t, m, c, got)
			var ce *connect.Error
			if !errors.As(got.err, &ce) || ce.Meta().Get("Dpop-Nonce") == "" {
				t.Fatalf("no nonce in %v", got.err)
			}
			got = s.call(t, m, proc, "", h(p.Proof(m.method, url, tok, map[string]any{"nonce": ce.Meta().Get("Dpop-Nonce")}, nil)))
			if got.err != nil || got.header.Get("Dpop-Nonce") == "" {
				t.Errorf("with the nonce: %q, %v, header %v", got.msgs, got.err, got.header)
			}
			if reason, reached, hookErr := s.e.Observed(); reason != "ok" || hookErr != nil || reached != 1 {
				t.Errorf("with the nonce: metrics %q, hook %v, handler ran %d times", reason, hookErr, reached)
			}
		})
	}
}

// TestUnavailable: before any keys, a call is Unavailable with the
// Retry-After of the HTTP 503, WithRetryAfter(0) included.
func TestUnavailable(t *testing.T) {
	for _, ra := range []time.Duration{7 * time.Second, 0} {
		t.Run(ra.String(), func(t *testing.T) { testUnavailable(t, ra) })
	}
}

func testUnavailable(t *testing.T, ra time.Duration) {
	retryAfter := fmt.Sprint(int(ra.Seconds()))
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(guardtest.Audience))
	t.Cleanup(iss.Close)
	iss.SetFault(jwkstest.FaultDown)
	keys, err := jwks.New(t.Context(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)), jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	var (
		mu      sync.Mutex
		hookErr error
	)
	g, err := middleware.New(keys, iss.URL(), []string{guardtest.Audience}, middleware.WithRetryAfter(ra),
		middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			hookErr = err
			mu.Unlock()
			middleware.WriteError(w, r, err)
		}))
	if err != nil {
		t.Fatal(err)
	}
	final := func(context.Context) (string, error) { return "", errors.New("the handler ran") }
	s := &server{srv: serve(t, connectguard.New(g), final, []string{guardtest.Procedure(guardtest.PathMe)})}
	s.observed = func(c guardtest.Case) string {
		mu.Lock()
		defer mu.Unlock()
		if err := hookErr; !errors.Is(err, c.Err) {
			return fmt.Sprintf("error hook saw %v, want %v", err, c.Err)
		}
		hookErr = nil
		return ""
	}
	c := guardtest.Case{Name: "keys unavailable", Path: guardtest.PathMe, Header: http.Header{"Authorization": {"Bearer " + iss.Mint()}},
		Want: guardtest.Unavailable(retryAfter),
		Err:  middleware.ErrKeysUnavailable, Reason: "keys_unavailable"}
	if a := guardtest.RPC(c); a.Code != guardtest.CodeUnavailable || a.RetryAfter != retryAfter || a.Reason != "KEYS_UNAVAILABLE" {
		t.Fatalf("the table reads the 503 as %+v", a)
	}
	for _, m := range modes {
		s.run(t, m, c)
	}
}

// TestNewPanics: a configuration that cannot be meant panics in New.
func TestNewPanics(t *testing.T) {
	e := guardtest.New(t)
	const proc = "/acme.v1.Notes/List"
	for name, opts := range map[string][]connectguard.Option{
		"procedure twice":            {connectguard.WithProcedure(proc), connectguard.WithProcedure(proc, middleware.Scopes("a"))},
		"procedure public too":       {connectguard.WithProcedure(proc, middleware.Scopes("a")), connectguard.WithPublic(proc)},
		"public, then a procedure":   {connectguard.WithPublic(proc), connectguard.WithProcedure(proc, middleware.Scopes("a"))},
		"no leading slash":           {connectguard.WithProcedure("acme.v1.Notes/List", middleware.Scopes("a"))},
		"a service, not a method":    {connectguard.WithProcedure("/acme.v1.Notes/", middleware.Scopes("a"))},
		"no method":                  {connectguard.WithPublic("/acme.v1.Notes")},
		"a longer path":              {connectguard.WithProcedure("/rpc/acme.v1.Notes/List", middleware.Scopes("a"))},
		"a requirement with nothing": {connectguard.WithProcedure(proc, middleware.Scopes())},
		"an invalid scope":           {connectguard.WithProcedure(proc, middleware.Scopes("a b"))},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			connectguard.New(e.Guard, opts...)
		}()
	}
	// And what can be meant is fine: a public procedure named twice too.
	connectguard.New(e.Guard, connectguard.WithProcedure(proc, middleware.Scopes("a")),
		connectguard.WithPublic("/acme.v1.Notes/Health", "/acme.v1.Notes/Health"), connectguard.WithPublic("/acme.v1.Notes/Health"))
}

// TestInterceptorClosesThePathGap: Wrap judges a call by its path;
// Connect dispatches it by the handler's procedure. Mounted under a
// prefix, a handler for a guarded procedure would be reached under the
// default rule; the Interceptor refuses that call.
func TestInterceptorClosesThePathGap(t *testing.T) {
	e := guardtest.New(t)
	const proc = "/notes.v1.Notes/DeleteNote"
	mw := connectguard.New(e.Guard, connectguard.WithProcedure(proc, middleware.Scopes("notes:write")))
	final := func(ctx context.Context, _ *connect.Request[emptypb.Empty]) (*connect.Response[wrapperspb.StringValue], error) {
		return connect.NewResponse(wrapperspb.String("deleted")), nil
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", http.StripPrefix("/api", connect.NewUnaryHandler(proc, final, connect.WithInterceptors(mw.Interceptor()))))
	mux.Handle(proc, connect.NewUnaryHandler(proc, final, connect.WithInterceptors(mw.Interceptor())))
	srv := httptest.NewUnstartedServer(mw.Wrap(mux))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tok := e.Issuer.Mint(jwkstest.WithScopes("notes:read")) // no notes:write
	for path, want := range map[string]connect.Code{
		proc:          connect.CodePermissionDenied, // the rule's own refusal
		"/api" + proc: connect.CodePermissionDenied, // the interceptor's
	} {
		cl := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv.Client(), srv.URL+path)
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("Authorization", "Bearer "+tok)
		_, err := cl.CallUnary(context.Background(), req)
		if connect.CodeOf(err) != want {
			t.Errorf("%s: %v", path, err)
		}
	}
	// A handler with this Middleware's Interceptor behind another's Wrap
	// (whose default rule any token meets) is refused.
	other := connectguard.New(e.Guard)
	srv2 := httptest.NewUnstartedServer(other.Wrap(connect.NewUnaryHandler(proc, final, connect.WithInterceptors(mw.Interceptor()))))
	srv2.EnableHTTP2 = true
	srv2.StartTLS()
	t.Cleanup(srv2.Close)
	cl2 := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv2.Client(), srv2.URL+proc)
	req2 := connect.NewRequest(&emptypb.Empty{})
	req2.Header().Set("Authorization", "Bearer "+tok)
	if _, err := cl2.CallUnary(context.Background(), req2); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("behind another Middleware's Wrap: %v", err)
	}
	// With the scope, the procedure's own path passes the interceptor.
	cl := connect.NewClient[emptypb.Empty, wrapperspb.StringValue](srv.Client(), srv.URL+proc)
	req := connect.NewRequest(&emptypb.Empty{})
	req.Header().Set("Authorization", "Bearer "+e.Issuer.Mint(jwkstest.WithScopes("notes:write")))
	if _, err := cl.CallUnary(context.Background(), req); err != nil {
		t.Fatalf("with notes:write: %v", err)
	}
}

// TestQueryTokenAnswerIsPrivate: a Connect GET (of an idempotent method,
// made to be cached) that passes with its token in the query parameter is
// answered Cache-Control: private, as Rule.Serve answers (RFC 6750 §2.3).
// Found by a review of this session's fixes.
func TestQueryTokenAnswerIsPrivate(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.example"))
	t.Cleanup(iss.Close)
	keys := iss.NewCache()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example"}, middleware.WithQueryParameter("access_token"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	h := connectguard.New(g).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/notes.v1.NotesService/GetNote?connect=v1&encoding=json&message=%7B%7D&access_token="+iss.Mint(), nil)
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Cache-Control") != "private" {
		t.Errorf("GET with the token in the query: %d, Cache-Control %q; want 200, private", rec.Code, rec.Header().Get("Cache-Control"))
	}
}

// A nil Option is a mistake of the set-up, said so there: New has no
// error to return.
func TestNilOptionPanics(t *testing.T) {
	e := guardtest.New(t)
	defer func() {
		if got := recover(); got != "connectguard: New with a nil Option" {
			t.Fatalf("recovered %v", got)
		}
	}()
	connectguard.New(e.Guard, connectguard.WithPublic("/acme.v1.Notes/Health"), nil)
	t.Fatal("New accepted a nil Option")
}
