package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/examples/grpc/internal/server"
	"github.com/jwtguard/jwtguard/examples/grpc/internal/servertest"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"

	notesv1 "github.com/jwtguard/jwtguard/examples/grpc/notes/v1"
)

func timeout(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call is one method of Notes, called on c.
type call func(context.Context, notesv1.NotesClient, ...grpc.CallOption) (proto.Message, error)

var (
	me = func(ctx context.Context, c notesv1.NotesClient, o ...grpc.CallOption) (proto.Message, error) {
		return c.Me(ctx, &notesv1.MeRequest{}, o...)
	}
	listNotes = func(ctx context.Context, c notesv1.NotesClient, o ...grpc.CallOption) (proto.Message, error) {
		return c.ListNotes(ctx, &notesv1.ListNotesRequest{}, o...)
	}
	addNote = func(ctx context.Context, c notesv1.NotesClient, o ...grpc.CallOption) (proto.Message, error) {
		return c.AddNote(ctx, &notesv1.AddNoteRequest{Text: "from the test"}, o...)
	}
	transfer = func(ctx context.Context, c notesv1.NotesClient, o ...grpc.CallOption) (proto.Message, error) {
		return c.Transfer(ctx, &notesv1.TransferRequest{}, o...)
	}
	stats = func(ctx context.Context, c notesv1.NotesClient, o ...grpc.CallOption) (proto.Message, error) {
		return c.Stats(ctx, &notesv1.StatsRequest{}, o...)
	}
)

// TestMethods: every method passes with the token it needs, and is
// refused otherwise with the status code and ErrorInfo reason grpcguard
// promises, over a real client and server.
func TestMethods(t *testing.T) {
	env := servertest.Start(t, 0)
	iss := env.Issuer
	now := time.Now().Unix()
	mint := func(opts ...jwkstest.MintOption) string { return iss.Mint(opts...) }
	expired := jwkstest.WithExpiresIn(-time.Minute)
	admin := jwkstest.WithClaim("aud", servertest.AdminAudience)
	mfa := []jwkstest.MintOption{jwkstest.WithScopes(exampleapp.ScopeTransfers), jwkstest.WithClaim("acr", exampleapp.ACRMFA), jwkstest.WithClaim("auth_time", now)}
	other := jwkstest.NewIssuer(jwkstest.WithAudience(servertest.Audience))
	defer other.Close()

	type tc struct {
		name   string
		call   call
		token  string // "" sends none
		code   codes.Code
		reason string // the ErrorInfo reason of a refusal
		scope  string // the ErrorInfo metadata scope of a scope refusal
		check  func(proto.Message) error
	}
	cases := []tc{
		{name: "Me/any valid token", call: me, token: mint(), code: codes.OK, check: func(m proto.Message) error {
			r := m.(*notesv1.MeResponse)
			if r.GetIss() != iss.URL() || r.GetSub() != "user-123" || r.GetClientId() != "test-client" || len(r.GetScopes()) != 0 {
				return fmt.Errorf("Me = %v", r)
			}
			return nil
		}},
		{name: "Me/scopes", call: me, token: mint(jwkstest.WithScopes("notes:read", "b")), code: codes.OK, check: func(m proto.Message) error {
			if s := m.(*notesv1.MeResponse).GetScopes(); strings.Join(s, " ") != "notes:read b" {
				return fmt.Errorf("scopes %q", s)
			}
			return nil
		}},
		{name: "Me/no token", call: me, code: codes.Unauthenticated, reason: "NO_TOKEN"},
		{name: "Me/expired", call: me, token: mint(expired), code: codes.Unauthenticated, reason: "ACCESS_TOKEN_EXPIRED"},
		{name: "Me/admin audience only", call: me, token: mint(admin, jwkstest.WithScopes(exampleapp.ScopeAdmin)), code: codes.PermissionDenied, reason: "AUDIENCE"},
		{name: "Me/another issuer", call: me, token: other.Mint(), code: codes.Unauthenticated, reason: "ISSUER"},
		{name: "Me/not a JWT", call: me, token: "not-a-jwt", code: codes.Unauthenticated, reason: "MALFORMED_TOKEN"},

		{name: "ListNotes/notes:read", call: listNotes, token: mint(jwkstest.WithScopes(exampleapp.ScopeNotesRead)), code: codes.OK, check: func(m proto.Message) error {
			if n := m.(*notesv1.ListNotesResponse).GetNotes(); len(n) == 0 || n[0].GetId() != 1 || n[0].GetAuthor() != "jwtguard" {
				return fmt.Errorf("notes %v", n)
			}
			return nil
		}},
		{name: "ListNotes/notes:write only", call: listNotes, token: mint(jwkstest.WithScopes(exampleapp.ScopeNotesWrite)), code: codes.PermissionDenied, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", scope: "notes:read"},
		{name: "ListNotes/notes:readonly is not notes:read", call: listNotes, token: mint(jwkstest.WithScopes("notes:readonly")), code: codes.PermissionDenied, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", scope: "notes:read"},
		{name: "ListNotes/no token", call: listNotes, code: codes.Unauthenticated, reason: "NO_TOKEN"},
		{name: "ListNotes/expired", call: listNotes, token: mint(expired, jwkstest.WithScopes(exampleapp.ScopeNotesRead)), code: codes.Unauthenticated, reason: "ACCESS_TOKEN_EXPIRED"},

		{name: "AddNote/notes:write", call: addNote, token: mint(jwkstest.WithScopes(exampleapp.ScopeNotesWrite), jwkstest.WithClaim("sub", "alice")), code: codes.OK, check: func(m proto.Message) error {
			if n := m.(*notesv1.AddNoteResponse).GetNote(); n.GetAuthor() != "alice" || n.GetText() != "from the test" || n.GetId() < 2 {
				return fmt.Errorf("note %v", n)
			}
			return nil
		}},
		{name: "AddNote/notes:read only", call: addNote, token: mint(jwkstest.WithScopes(exampleapp.ScopeNotesRead)), code: codes.PermissionDenied, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", scope: "notes:write"},
		{name: "AddNote/no token", call: addNote, code: codes.Unauthenticated, reason: "NO_TOKEN"},
		{name: "AddNote/expired", call: addNote, token: mint(expired, jwkstest.WithScopes(exampleapp.ScopeNotesWrite)), code: codes.Unauthenticated, reason: "ACCESS_TOKEN_EXPIRED"},

		{name: "Transfer/scope and a recent MFA login", call: transfer, token: mint(mfa...), code: codes.OK, check: func(m proto.Message) error {
			if s := m.(*notesv1.TransferResponse).GetStatus(); s != "accepted" {
				return fmt.Errorf("status %q", s)
			}
			return nil
		}},
		{name: "Transfer/MFA login, no scope", call: transfer, token: mint(jwkstest.WithClaim("acr", exampleapp.ACRMFA), jwkstest.WithClaim("auth_time", now)), code: codes.PermissionDenied, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", scope: "transfers:write"},
		{name: "Transfer/scope, no acr", call: transfer, token: mint(jwkstest.WithScopes(exampleapp.ScopeTransfers)), code: codes.Unauthenticated, reason: "INSUFFICIENT_USER_AUTHENTICATION"},
		{name: "Transfer/scope, password login", call: transfer, token: mint(jwkstest.WithScopes(exampleapp.ScopeTransfers), jwkstest.WithClaim("acr", "urn:example:acr:pwd"), jwkstest.WithClaim("auth_time", now)), code: codes.Unauthenticated, reason: "INSUFFICIENT_USER_AUTHENTICATION"},
		{name: "Transfer/scope, MFA an hour ago", call: transfer, token: mint(jwkstest.WithScopes(exampleapp.ScopeTransfers), jwkstest.WithClaim("acr", exampleapp.ACRMFA), jwkstest.WithClaim("auth_time", now-3600)), code: codes.Unauthenticated, reason: "INSUFFICIENT_USER_AUTHENTICATION"},
		{name: "Transfer/no token", call: transfer, code: codes.Unauthenticated, reason: "NO_TOKEN"},
		{name: "Transfer/expired", call: transfer, token: mint(append(mfa, expired)...), code: codes.Unauthenticated, reason: "ACCESS_TOKEN_EXPIRED"},

		{name: "Stats/admin audience and scope", call: stats, token: mint(admin, jwkstest.WithScopes(exampleapp.ScopeAdmin)), code: codes.OK, check: func(m proto.Message) error {
			if r := m.(*notesv1.StatsResponse); r.GetNotes() < 1 {
				return fmt.Errorf("stats %v", r)
			}
			return nil
		}},
		{name: "Stats/API audience with admin scope", call: stats, token: mint(jwkstest.WithScopes(exampleapp.ScopeAdmin)), code: codes.PermissionDenied, reason: "AUDIENCE"},
		{name: "Stats/admin audience, no scope", call: stats, token: mint(admin, jwkstest.WithScopes(exampleapp.ScopeNotesRead)), code: codes.PermissionDenied, reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT", scope: "admin"},
		{name: "Stats/no token", call: stats, code: codes.Unauthenticated, reason: "NO_TOKEN"},
		{name: "Stats/expired", call: stats, token: mint(admin, jwkstest.WithScopes(exampleapp.ScopeAdmin), expired), code: codes.Unauthenticated, reason: "ACCESS_TOKEN_EXPIRED"},
	}
	plain := notesv1.NewNotesClient(env.Dial(t))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client := plain
			if c.token != "" {
				client = notesv1.NewNotesClient(env.DialToken(t, c.token))
			}
			var hdr metadata.MD
			resp, err := c.call(timeout(t), client, grpc.Header(&hdr))
			if got := status.Code(err); got != c.code {
				t.Fatalf("code %v, want %v (%v)", got, c.code, err)
			}
			if c.code == codes.OK {
				if err := c.check(resp); err != nil {
					t.Fatal(err)
				}
				return
			}
			info, ok := grpcguard.ErrorInfo(err)
			if !ok {
				t.Fatalf("no jwtguard ErrorInfo in %v", err)
			}
			if info.GetReason() != c.reason || info.GetDomain() != "jwtguard.github.io" {
				t.Errorf("ErrorInfo %v, want reason %s", info, c.reason)
			}
			if got := info.GetMetadata()["scope"]; got != c.scope {
				t.Errorf("ErrorInfo metadata scope %q, want %q", got, c.scope)
			}
			if grpcguard.IsExpired(err) != (c.reason == "ACCESS_TOKEN_EXPIRED") {
				t.Errorf("IsExpired = %v", grpcguard.IsExpired(err))
			}
			// The RFC 6750 challenges travel in the response metadata.
			chal := strings.Join(hdr.Get("www-authenticate"), "\n")
			if !strings.HasPrefix(chal, `Bearer realm="api"`) {
				t.Errorf("www-authenticate %q", chal)
			}
			// A gRPC server serves no RFC 9728 document to point to.
			if strings.Contains(chal, "resource_metadata") {
				t.Errorf("www-authenticate %q names resource metadata", chal)
			}
			if c.scope != "" && !strings.Contains(chal, `scope="`+c.scope+`"`) {
				t.Errorf("www-authenticate %q does not name scope %s", chal, c.scope)
			}
		})
	}
}

// TestHealthNeedsNoToken: the health service answers without a token,
// for the server and for Notes, unary and streaming.
func TestHealthNeedsNoToken(t *testing.T) {
	env := servertest.Start(t, 0)
	h := healthpb.NewHealthClient(env.Dial(t))
	ctx := timeout(t)
	for _, svc := range []string{"", notesv1.Notes_ServiceDesc.ServiceName} {
		r, err := h.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v, %v", svc, r, err)
		}
	}
	if l, err := h.List(ctx, &healthpb.HealthListRequest{}); err != nil || len(l.GetStatuses()) != 2 {
		t.Errorf("List = %v, %v; want the server and Notes", l, err)
	}
	w, err := h.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := w.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Watch: %v, %v", r, err)
	}
	// Nothing else answers without a token; a method the server does not
	// have is Unimplemented, which grpc-go says before any interceptor
	// runs.
	err = env.Dial(t).Invoke(ctx, "/jwtguard.examples.notes.v1.Notes/Delete", &notesv1.MeRequest{}, &notesv1.MeResponse{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown method without a token: %v, want Unimplemented", err)
	}
}

// TestNotesBounded: the service keeps the last 100 notes, also when they
// are added concurrently, with ids that count on.
func TestNotesBounded(t *testing.T) {
	env := servertest.Start(t, 0)
	w := notesv1.NewNotesClient(env.DialToken(t, env.Issuer.Mint(jwkstest.WithScopes(exampleapp.ScopeNotesWrite, exampleapp.ScopeNotesRead))))
	ctx := timeout(t)
	const adders, each = 5, 30 // 150 notes
	var wg sync.WaitGroup
	errs := make(chan error, adders*each)
	for a := range adders {
		wg.Go(func() {
			for i := range each {
				if _, err := w.AddNote(ctx, &notesv1.AddNoteRequest{Text: fmt.Sprintf("note %d.%d", a, i)}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := w.ListNotes(ctx, &notesv1.ListNotesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	notes := list.GetNotes()
	if len(notes) != server.MaxNotes || server.MaxNotes != 100 {
		t.Fatalf("ListNotes: %d notes, want 100", len(notes))
	}
	// The seed note (1) and the first 50 added (2…51) are gone.
	for i, n := range notes {
		if want := int64(52 + i); n.GetId() != want || !strings.HasPrefix(n.GetText(), "note ") {
			t.Fatalf("note %d: %v, want id %d, oldest first", i, n, want)
		}
	}
	admin := notesv1.NewNotesClient(env.DialToken(t, env.Issuer.Mint(jwkstest.WithClaim("aud", servertest.AdminAudience), jwkstest.WithScopes(exampleapp.ScopeAdmin))))
	st, err := admin.Stats(ctx, &notesv1.StatsRequest{})
	if err != nil || st.GetNotes() != 100 || st.GetAdded() != 150 {
		t.Fatalf("Stats = %v, %v; want 100 notes, 150 added", st, err)
	}
}

// TestNoteTextBounded: a text of 1024 bytes is a note, a longer one is
// InvalidArgument and no note.
func TestNoteTextBounded(t *testing.T) {
	env := servertest.Start(t, 0)
	w := notesv1.NewNotesClient(env.DialToken(t, env.Issuer.Mint(jwkstest.WithScopes(exampleapp.ScopeNotesWrite, exampleapp.ScopeNotesRead))))
	ctx := timeout(t)
	if _, err := w.AddNote(ctx, &notesv1.AddNoteRequest{Text: strings.Repeat("x", 1024)}); err != nil {
		t.Fatalf("1024 bytes: %v", err)
	}
	if _, err := w.AddNote(ctx, &notesv1.AddNoteRequest{Text: strings.Repeat("x", 1025)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("1025 bytes: %v, want InvalidArgument", err)
	}
	// A message past the server's limit is refused before the handler.
	if _, err := w.AddNote(ctx, &notesv1.AddNoteRequest{Text: strings.Repeat("x", server.MaxRecvMsgSize)}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("%d bytes: %v, want ResourceExhausted", server.MaxRecvMsgSize, err)
	}
	list, err := w.ListNotes(ctx, &notesv1.ListNotesRequest{})
	if err != nil || len(list.GetNotes()) != 2 {
		t.Fatalf("ListNotes = %d notes, %v; want the seed and one", len(list.GetNotes()), err)
	}
}

// TestExpiredRefreshesOnce: a token the server calls expired is replaced
// through the refresh_token grant, once, and the call is retried once and
// passes; a refusal a refresh cannot mend is not retried.
func TestExpiredRefreshesOnce(t *testing.T) {
	env := servertest.Start(t, 0)
	ctx := timeout(t)
	// A refresh token from the dev issuer, and an access token it has
	// already let expire (as if this client's clock were slow).
	cc := clientcredentials.Config{ClientID: "test", TokenURL: env.Issuer.TokenURL(), Scopes: []string{exampleapp.ScopeNotesRead},
		EndpointParams: url.Values{"resource": {servertest.Audience}}}
	granted, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stale := &oauth2.Token{AccessToken: env.Issuer.Mint(jwkstest.WithScopes(exampleapp.ScopeNotesRead), jwkstest.WithExpiresIn(-time.Minute)), RefreshToken: granted.RefreshToken}
	refresh := oauth2guard.ConfigRefresher(&oauth2.Config{ClientID: "test", Endpoint: oauth2.Endpoint{TokenURL: env.Issuer.TokenURL()}})
	var refreshes atomic.Int64
	var fresh atomic.Value
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(stale), func(ctx context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		refreshes.Add(1)
		if old.AccessToken != stale.AccessToken {
			t.Errorf("refreshing %q, want the stale token", old.AccessToken)
		}
		n, err := refresh(ctx, old)
		if err == nil {
			fresh.Store(n.AccessToken)
		}
		return n, err
	}, grpcguard.WithInsecure())
	var mu sync.Mutex
	var attempts []string // each call sent, a retry included, and its answer
	trace := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		info, _ := grpcguard.ErrorInfo(err)
		mu.Lock()
		attempts = append(attempts, method[strings.LastIndexByte(method, '/')+1:]+" "+status.Code(err).String()+" "+info.GetReason())
		mu.Unlock()
		return err
	}
	c := notesv1.NewNotesClient(env.Dial(t, grpc.WithPerRPCCredentials(creds), grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor(), trace)))

	if _, err := c.ListNotes(ctx, &notesv1.ListNotesRequest{}); err != nil {
		t.Fatalf("ListNotes with an expired token and a refresh token: %v", err)
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
	if tok, _ := fresh.Load().(string); tok == "" || tok == granted.AccessToken || tok == stale.AccessToken {
		t.Errorf("the refresh gave %q: want a new access token", tok)
	}
	// The new token is kept: no refresh for the next call; and a scope
	// refusal is final, with neither a refresh nor a retry.
	if _, err := c.Me(ctx, &notesv1.MeRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.AddNote(ctx, &notesv1.AddNoteRequest{})
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("AddNote: %v, want PermissionDenied", err)
	}
	mu.Lock()
	got := strings.Join(attempts, "; ")
	mu.Unlock()
	want := "ListNotes Unauthenticated ACCESS_TOKEN_EXPIRED; ListNotes OK ; Me OK ; AddNote PermissionDenied ACCESS_TOKEN_SCOPE_INSUFFICIENT"
	if got != want {
		t.Errorf("attempts:\n got %s\nwant %s", got, want)
	}
	if n := refreshes.Load(); n != 1 {
		t.Errorf("%d refreshes in all, want 1", n)
	}
}

// TestKeysUnavailable: with an issuer that is down, the server starts all
// the same; calls are Unavailable (retry later) and the health service
// answers.
func TestKeysUnavailable(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(servertest.Audience))
	defer iss.Close()
	iss.SetFault(jwkstest.FaultDown)
	addr, _, _ := start(t, "-addr", "127.0.0.1:0", "-issuer", iss.URL())
	env := &servertest.Env{Addr: addr}
	ctx := timeout(t)
	if r, err := healthpb.NewHealthClient(env.Dial(t)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", r, err)
	}
	_, err := notesv1.NewNotesClient(env.DialToken(t, iss.Mint())).Me(ctx, &notesv1.MeRequest{})
	if info, _ := grpcguard.ErrorInfo(err); status.Code(err) != codes.Unavailable || info.GetReason() != "KEYS_UNAVAILABLE" {
		t.Fatalf("Me while the issuer is down: %v, want Unavailable KEYS_UNAVAILABLE", err)
	}
}

var readyAddr = regexp.MustCompile(`msg=ready addr=(\S+)`)

// start runs the command with args until the test ends, and returns its
// address (from the ready line), what it printed on stdout until then,
// and its stderr.
func start(t *testing.T, args ...string) (addr, stdout string, stderr *exampletest.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, stderr := &exampletest.Buffer{}, &exampletest.Buffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, func(string) string { return "" }, out, stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("exit status %d after the signal; stderr:\n%s", code, stderr)
			}
		case <-time.After(10 * time.Second):
			t.Error("the server did not stop within 10 s of the signal")
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if m := readyAddr.FindStringSubmatch(stderr.String()); m != nil {
			return m[1], out.String(), stderr
		}
		select {
		case code := <-done:
			t.Fatalf("exited %d before ready; stderr:\n%s", code, stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("no ready line; stderr:\n%s", stderr)
	return "", "", nil
}

// TestDevMode runs the command as a user does: with no issuer it prints
// how to get a token and call it, and those instructions work.
func TestDevMode(t *testing.T) {
	addr, out, _ := start(t, "-addr", "127.0.0.1:0")
	// The client command, with this server's address and token URL.
	m := regexp.MustCompile(`(?m)^  go run \./client -addr (\S+) -token-url (\S+)$`).FindStringSubmatch(out)
	if m == nil || m[1] != addr {
		t.Fatalf("no client command for %s in:\n%s", addr, out)
	}
	tokenURL := m[2]
	if !strings.Contains(out, "-leeway 30s") {
		t.Errorf("no word of the default leeway in:\n%s", out)
	}
	// The curl command: a token as text/plain, for notes:read.
	if !strings.Contains(out, "TOKEN=$(curl -s -H 'Accept: text/plain' -d 'scope=notes:read' -d 'resource=https://api.example.com' "+tokenURL+")") {
		t.Fatalf("no curl command for %s in:\n%s", tokenURL, out)
	}
	req, err := http.NewRequest("POST", tokenURL, strings.NewReader("scope=notes:read&resource=https%3A%2F%2Fapi.example.com"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token endpoint: %s %s", resp.Status, body)
	}
	// The grpcurl commands and what they print as expected.
	env := &servertest.Env{Addr: addr}
	ctx := timeout(t)
	lines := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		lines[strings.TrimSpace(sc.Text())] = true
	}
	svc := "jwtguard.examples.notes.v1.Notes"
	for _, want := range []string{
		`grpcurl -plaintext -H "authorization: Bearer $TOKEN" ` + addr + ` ` + svc + `/ListNotes  # OK`,
		`grpcurl -plaintext -H "authorization: Bearer $TOKEN" -d '{"text":"hi"}' ` + addr + ` ` + svc + `/AddNote  # PermissionDenied, ACCESS_TOKEN_SCOPE_INSUFFICIENT`,
		`grpcurl -plaintext ` + addr + ` ` + svc + `/Me  # Unauthenticated, NO_TOKEN`,
		`grpcurl -plaintext ` + addr + ` grpc.health.v1.Health/Check  # SERVING, with no token`,
	} {
		if !lines[want] {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
	notes := notesv1.NewNotesClient(env.DialToken(t, string(body)))
	if _, err := notes.ListNotes(ctx, &notesv1.ListNotesRequest{}); err != nil {
		t.Errorf("ListNotes: %v", err)
	}
	if _, err := notes.AddNote(ctx, &notesv1.AddNoteRequest{Text: "hi"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("AddNote: %v, want PermissionDenied", err)
	}
	if _, err := notesv1.NewNotesClient(env.Dial(t)).Me(ctx, &notesv1.MeRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("Me with no token: %v, want Unauthenticated", err)
	}
	if r, err := healthpb.NewHealthClient(env.Dial(t)).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v, %v", r, err)
	}
	// grpcurl finds the methods by reflection, which needs no token.
	rs, err := reflectionpb.NewServerReflectionClient(env.Dial(t)).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	r, err := rs.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !strings.Contains(strings.Join(names, " "), svc) {
		t.Errorf("reflection lists %q, want %s among them", names, svc)
	}
	_ = rs.CloseSend()
}

// TestNoReflectionWithAnIssuer: a server with a real issuer does not
// describe itself, and prints no dev instructions.
func TestNoReflectionWithAnIssuer(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(servertest.Audience))
	defer iss.Close()
	addr, out, _ := start(t, "-addr", "127.0.0.1:0", "-issuer", iss.URL())
	if out != "" {
		t.Errorf("stdout %q, want nothing", out)
	}
	env := &servertest.Env{Addr: addr}
	ctx := timeout(t)
	rs, err := reflectionpb.NewServerReflectionClient(env.DialToken(t, iss.Mint())).ServerReflectionInfo(ctx)
	if err == nil {
		_, err = rs.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection: %v, want Unimplemented", err)
	}
	// A token from the issuer works, once the keys are fetched (in the
	// background: until then, Unavailable).
	c := notesv1.NewNotesClient(env.DialToken(t, iss.Mint()))
	for {
		_, err := c.Me(ctx, &notesv1.MeRequest{})
		if status.Code(err) == codes.Unavailable && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Errorf("Me: %v", err)
		}
		break
	}
}

func TestFlags(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		args []string
		env  func(string) string
		addr string
	}{
		{nil, env(), "127.0.0.1:50051"},
		{nil, env("ADDR", "127.0.0.1:7000"), "127.0.0.1:7000"},
		{[]string{"-addr", "127.0.0.1:7001"}, env("ADDR", "127.0.0.1:7000"), "127.0.0.1:7001"},
	} {
		cfg, err := parseFlags(c.args, c.env, io.Discard)
		if err != nil || cfg.Addr != c.addr || !cfg.Dev() || cfg.Leeway != 30*time.Second || cfg.AdminAudience != "https://api.example.com/admin" || !cfg.NoResourceMetadata {
			t.Errorf("parseFlags(%q) = %+v, %v; want addr %s", c.args, cfg, err, c.addr)
		}
	}
	var stderr bytes.Buffer
	for _, args := range [][]string{{"-nope"}, {"-jwks-url", "https://idp.test/jwks"}, {"-leeway", "-1s"}, {"extra"}} {
		stderr.Reset()
		if code := run(context.Background(), args, env(), io.Discard, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and a message", args, code, stderr.String())
		}
	}
}
