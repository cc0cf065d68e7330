package grpcguard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// tableService is the table's procedures as a gRPC service: every method
// unary, answering what the final handler writes, and "stream", a
// server stream that sends it twice.
func tableService(e *guardtest.Env) *grpc.ServiceDesc {
	sd := &grpc.ServiceDesc{ServiceName: "guardtest.Table", HandlerType: (*any)(nil)}
	for proc := range e.RPCRoutes() {
		name := proc[strings.LastIndexByte(proc, '/')+1:]
		sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: name, Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(emptypb.Empty)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) {
				msg, err := e.FinalRPC(ctx)
				if err != nil {
					return nil, status.Error(codes.Internal, err.Error())
				}
				return wrapperspb.String(msg), nil
			}
			if ic == nil {
				return h(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{FullMethod: proc}, h)
		}})
	}
	sd.Streams = []grpc.StreamDesc{{StreamName: "stream", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
		if err := ss.RecvMsg(new(emptypb.Empty)); err != nil {
			return err
		}
		c, ok := claims.FromContext(ss.Context())
		if !ok {
			return status.Error(codes.Internal, "no claims")
		}
		for range 2 {
			if err := ss.SendMsg(wrapperspb.String("sub=" + c.Subject)); err != nil {
				return err
			}
		}
		return nil
	}}}
	return sd
}

// serve starts a real gRPC server on a loopback listener.
func serve(t *testing.T, e *guardtest.Env, guard *grpcguard.Interceptor, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(append(opts, grpc.UnaryInterceptor(guard.Unary()), grpc.StreamInterceptor(guard.Stream()))...)
	srv.RegisterService(tableService(e), nil)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func tableGuard(e *guardtest.Env) *grpcguard.Interceptor {
	var opts []grpcguard.Option
	for proc, reqs := range e.RPCRoutes() {
		opts = append(opts, grpcguard.WithMethod(proc, reqs...))
	}
	return grpcguard.New(e.Guard, opts...)
}

// TestContractTable: every case of the table an RPC transport runs, its
// DPoP cases with proofs for the calls (htm POST, htu the :authority and
// full method) included, over a real client and server: the status code,
// the ErrorInfo, the challenges in the response metadata, the metrics
// reason, the error hook, and the handler reached exactly when the call
// passes.
func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	addr := serve(t, e, tableGuard(e))
	cc := dial(t, addr)
	cases := append(e.RPCCases(), guardtest.RPCDPoP(e.Issuer, func(proc string) (string, string) { return "POST", "http://" + addr + proc })...)
	if len(cases) < 100 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		checkCall(t, e, cc, c)
	}
}

// checkCall makes c's call and holds its answer to the table's.
func checkCall(t *testing.T, e *guardtest.Env, cc *grpc.ClientConn, c guardtest.Case) {
	t.Helper()
	_, path := guardtest.MethodPath(c.Path)
	want := guardtest.RPC(c)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	md := metadata.MD{}
	for k, v := range c.Header {
		md[strings.ToLower(k)] = v
	}
	var hdr metadata.MD
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(metadata.NewOutgoingContext(ctx, md), guardtest.Procedure(path), &emptypb.Empty{}, out, grpc.Header(&hdr))
	if got := int(status.Code(err)); got != want.Code {
		t.Errorf("%s: code %v, want %v (%v)", c.Name, codes.Code(got), codes.Code(want.Code), err)
		return
	}
	if msg := e.CheckObserved(c); msg != "" {
		t.Errorf("%s: %s", c.Name, msg)
	}
	if n := len(hdr.Get("dpop-nonce")) > 0; n != want.Nonce {
		t.Errorf("%s: dpop-nonce set %v, want %v", c.Name, n, want.Nonce)
	}
	if want.Code == 0 {
		if out.GetValue() != want.Message {
			t.Errorf("%s: message %q, want %q", c.Name, out.GetValue(), want.Message)
		}
		return
	}
	info, ok := grpcguard.ErrorInfo(err)
	if !ok || info.GetReason() != want.Reason || info.GetDomain() != "jwtguard.github.io" || !maps.Equal(info.GetMetadata(), want.Info) {
		t.Errorf("%s: ErrorInfo %v, want reason %s, metadata %v", c.Name, info, want.Reason, want.Info)
	}
	if msg := status.Convert(err).Message(); msg != want.Status {
		t.Errorf("%s: message %q, want %q", c.Name, msg, want.Status)
	}
	if grpcguard.IsExpired(err) != (c.Reason == "expired") {
		t.Errorf("%s: IsExpired %v", c.Name, grpcguard.IsExpired(err))
	}
	if got := hdr.Get("www-authenticate"); !slices.Equal(got, want.Challenges) {
		t.Errorf("%s: www-authenticate\n got  %q\n want %q", c.Name, got, want.Challenges)
	}
	if got := strings.Join(hdr.Get("retry-after"), ""); got != want.RetryAfter {
		t.Errorf("%s: retry-after %q, want %q", c.Name, got, want.RetryAfter)
	}
}

// TestStream: a stream is guarded when it opens, and its handler has the
// claims.
func TestStream(t *testing.T) {
	e := guardtest.New(t)
	cc := dial(t, serve(t, e, tableGuard(e)))
	desc := &grpc.StreamDesc{StreamName: "stream", ServerStreams: true}
	open := func(tok string) (string, error) {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		s, err := cc.NewStream(ctx, desc, "/guardtest.Table/stream")
		if err != nil {
			return "", err
		}
		if err := s.SendMsg(&emptypb.Empty{}); err != nil {
			return "", err
		}
		_ = s.CloseSend()
		var got []string
		for {
			m := new(wrapperspb.StringValue)
			if err := s.RecvMsg(m); err != nil {
				if errors.Is(err, io.EOF) {
					return strings.Join(got, ","), nil
				}
				return strings.Join(got, ","), err
			}
			got = append(got, m.GetValue())
		}
	}
	got, err := open(e.Issuer.Mint())
	if got != "sub=user-123,sub=user-123" || err != nil {
		t.Fatalf("stream: %q %v", got, err)
	}
	_, err = open(e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour)))
	if !grpcguard.IsExpired(err) {
		t.Fatalf("expired stream: %v", err)
	}
}

// TestPublic: a public method needs no token; the others still do.
func TestPublic(t *testing.T) {
	e := guardtest.New(t)
	cc := dial(t, serve(t, e, grpcguard.New(e.Guard, grpcguard.WithPublic(guardtest.Procedure(guardtest.PathMe)))))
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, out)
	// Public: the handler runs, without claims.
	if status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "no claims") {
		t.Fatalf("public method: %v", err)
	}
	err = cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathNotes), &emptypb.Empty{}, out)
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("guarded method: %v", err)
	}
}

// TestKeysUnavailable: no keys yet is Unavailable with the retry-after
// the HTTP 503 has (WithRetryAfter(0) included): the client should retry,
// not refresh.
func TestKeysUnavailable(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(guardtest.Audience))
	defer iss.Close()
	iss.SetFault(jwkstest.FaultDown)
	e := guardtest.New(t)
	keys := downKeys(t, iss)
	for want, opts := range map[string][]middleware.Option{"5": nil, "0": {middleware.WithRetryAfter(0)}} {
		g, err := middleware.New(keys, iss.URL(), []string{guardtest.Audience}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		tok := iss.Mint()
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, guardtest.PathMe, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		g.Handler(http.NotFoundHandler()).ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != want {
			t.Fatalf("net/http: %d, Retry-After %q, want 503 and %q", rec.Code, rec.Header().Values("Retry-After"), want)
		}
		cc := dial(t, serve(t, e, grpcguard.New(g)))
		var hdr metadata.MD
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		err = cc.Invoke(ctx, guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue), grpc.Header(&hdr))
		info, _ := grpcguard.ErrorInfo(err)
		if status.Code(err) != codes.Unavailable || info.GetReason() != "KEYS_UNAVAILABLE" || !slices.Equal(hdr.Get("retry-after"), []string{want}) {
			t.Errorf("retry-after %s: %v %v %v", want, err, info, hdr)
		}
	}
}

// TestMethodNamesAreChecked: a name that is not a full method name would
// never match a call, and its method would silently get the default
// rule.
func TestMethodNamesAreChecked(t *testing.T) {
	e := guardtest.New(t)
	for _, opt := range []grpcguard.Option{
		grpcguard.WithMethod("guardtest.Table/api.notes", middleware.Scopes("x")),
		grpcguard.WithMethod("/guardtest.Table", middleware.Scopes("x")),
		grpcguard.WithMethod("/a/b/c", middleware.Scopes("x")),
		grpcguard.WithPublic("Health/Check"),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			grpcguard.New(e.Guard, opt)
		}()
	}
}

// The Guard's debug line for a call's refusal names the issuer its
// metrics do, as over net/http: the interceptor hands Fail the request
// Check returned.
func TestRefusalLogNamesTheIssuer(t *testing.T) {
	var buf exampletest.Buffer
	e := guardtest.New(t, middleware.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	cc := dial(t, serve(t, e, tableGuard(e)))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+e.Issuer.Mint())
	err := cc.Invoke(ctx, guardtest.Procedure(guardtest.PathNotes), &emptypb.Empty{}, new(wrapperspb.StringValue))
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("%v", err)
	}
	if line := buf.String(); !strings.Contains(line, "issuer="+e.Issuer.URL()+" ") {
		t.Errorf("the refusal is logged without the token's issuer: %s", strings.TrimSpace(line))
	}
}
