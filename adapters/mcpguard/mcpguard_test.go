package mcpguard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/jwtguard/jwtguard/adapters/mcpguard"
	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// env is an MCP server with two tools behind Middleware, on a loopback
// listener: whoami (the endpoint's requirements) and add_note
// (notes:write besides).
type env struct {
	iss      *jwkstest.Issuer
	guard    *middleware.Guard
	srv      *httptest.Server
	endpoint string // the MCP endpoint: the resource identifier and audience
	lastErr  error  // what the Guard's error hook saw last
	mu       sync.Mutex
}

func newEnv(t *testing.T, opts ...middleware.Option) *env {
	return newEnvWith(t, nil, opts...)
}

// newEnvWith is newEnv with the SDK handler's options.
func newEnvWith(t *testing.T, sdkOpts *mcp.StreamableHTTPOptions, opts ...middleware.Option) *env {
	t.Helper()
	e := &env{iss: jwkstest.NewIssuer()}
	t.Cleanup(e.iss.Close)
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	e.endpoint = e.srv.URL + "/mcp"
	keys := e.iss.NewCache()
	hook := middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		e.mu.Lock()
		e.lastErr = err
		e.mu.Unlock()
		middleware.WriteError(w, r, err)
	})
	var err error
	e.guard, err = middleware.New(keys, e.iss.URL(), []string{e.endpoint},
		append([]middleware.Option{middleware.WithResourceMetadata(middleware.ResourceMetadata{}), hook}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.guard.Close)
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v1"}, nil)
	type none struct{}
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "the caller"}, func(_ context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
		c, ok := mcpguard.ClaimsFrom(req.Extra)
		if !ok {
			return nil, nil, errors.New("no claims")
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "sub=" + c.Subject + " user=" + req.Extra.TokenInfo.UserID}}}, nil, nil
	})
	// scopes reports this call's scopes, from req.Extra, and whether the
	// context (the session's, kept by the SDK) shows claims.
	mcp.AddTool(server, &mcp.Tool{Name: "scopes", Description: "the call's scopes"}, func(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
		c, _ := mcpguard.ClaimsFrom(req.Extra)
		_, inCtx := claims.FromContext(ctx)
		inCtx = inCtx || auth.TokenInfoFromContext(ctx) != nil
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: fmt.Sprintf("scopes=%s ctx=%v", c.Scopes.String(), inCtx)}}}, nil, nil
	})
	type note struct {
		Text string `json:"text"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "add_note", Description: "adds a note"}, func(_ context.Context, _ *mcp.CallToolRequest, n note) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "added " + n.Text}}}, nil, nil
	})
	guard := mcpguard.New(e.guard, mcpguard.WithTool("add_note", middleware.Scopes("notes:write")))
	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, sdkOpts)))
	mux.Handle(middleware.WellKnownResource+"/", e.guard.MetadataHandler())
	h = mux
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// client is an MCP client's OAuth side, as the SDK's transport drives it
// (auth.OAuthHandler): oauth2guard.ClientCredentials, which discovers the
// authorization server from the first 401's resource_metadata and gets a
// new token on the expired hint. stale, when set, is sent instead of its
// token until the next Authorize, to make the server say "expired".
type client struct {
	*oauth2guard.ClientCredentials
	mu     sync.Mutex
	stale  string
	log    []string
	denied *http.Response // the last 403
}

func newClient(scopes ...string) *client {
	return &client{ClientCredentials: oauth2guard.NewClientCredentials(nil, "mcp-client", "", scopes...)}
}

func (c *client) TokenSource(ctx context.Context) (oauth2.TokenSource, error) {
	c.mu.Lock()
	stale := c.stale
	c.mu.Unlock()
	if stale != "" {
		return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: stale}), nil
	}
	return c.ClientCredentials.TokenSource(ctx)
}

func (c *client) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	c.mu.Lock()
	c.stale = ""
	switch {
	case resp.StatusCode == http.StatusForbidden:
		c.log, c.denied = append(c.log, "403"), resp
	case oauth2guard.IsExpiredHint(resp):
		c.log = append(c.log, "expired")
	default:
		c.log = append(c.log, "401")
	}
	c.mu.Unlock()
	return c.ClientCredentials.Authorize(ctx, req, resp)
}

func (c *client) expire(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale = tok
}

func text(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res == nil || len(res.Content) != 1 {
		t.Fatalf("result %+v", res)
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content %T", res.Content[0])
	}
	return tc.Text
}

// TestSDKClient is the whole flow with the SDK's own client over
// streamable HTTP: discovery through resource_metadata, a token from the
// issuer for the endpoint, a tool call that passes, one refused 403 with
// the scope it needs, and an expired token refreshed through the hint.
func TestSDKClient(t *testing.T) {
	e := newEnv(t)
	oc := newClient("notes:read")
	ctx := context.Background()
	sess := e.connect(t, oc)
	if strings.Join(oc.log, ",") != "401" {
		t.Fatalf("client did %q, want one discovery", oc.log)
	}

	res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	wantUser := `["` + e.iss.URL() + `","user-123"]`
	if got := text(t, res); got != "sub=user-123 user="+wantUser {
		t.Fatalf("whoami = %q", got)
	}

	_, err = sess.CallTool(ctx, &mcp.CallToolParams{Name: "add_note", Arguments: map[string]any{"text": "hi"}})
	if !errors.Is(err, oauth2guard.ErrInsufficientScope) {
		t.Fatalf("add_note without notes:write: %v", err)
	}
	if oc.denied == nil {
		t.Fatalf("no 403 reached the client: %v", err)
	}
	got := oc.denied.Header.Values("WWW-Authenticate")
	meta := middleware.MetadataURL(e.endpoint)
	want := []string{
		`Bearer realm="api", error="insufficient_scope", scope="notes:write", resource_metadata="` + meta + `"`,
		`DPoP realm="api", algs="` + guardtest.Algs + `", resource_metadata="` + meta + `"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("403 challenges\n got  %q\n want %q", got, want)
	}
	if !errors.Is(e.lastErr, middleware.ErrInsufficientScope) {
		t.Fatalf("error hook saw %v", e.lastErr)
	}

	// The session survives a refresh: the user is the same.
	oc.expire(e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithExpiresIn(-time.Hour)))
	res, err = sess.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatalf("after expiry: %v (client did %q)", err, oc.log)
	}
	if got := text(t, res); got != "sub=user-123 user="+wantUser {
		t.Fatalf("whoami after refresh = %q", got)
	}
	if strings.Join(oc.log, ",") != "401,403,expired" {
		t.Fatalf("client did %q: want discovery, the 403, and a new token on the expired hint", oc.log)
	}
}

// post sends one JSON-RPC body to the endpoint, as a client of protocol
// version would, with extra headers.
// connect opens a session with the SDK's own client over streamable
// HTTP, getting its tokens through oc; the session ends with the test.
func (e *env) connect(t *testing.T, oc *client) *mcp.ClientSession {
	t.Helper()
	cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	sess, err := cl.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: e.endpoint, OAuthHandler: oc, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	return sess
}

func (e *env) post(t *testing.T, tok, version, body string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if version != "" {
		req.Header.Set("Mcp-Protocol-Version", version)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func call(tool string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{}}}`
}

// TestOperationFromBody: before protocol 2026-07-28 the SDK does not check
// the Mcp-Name header, so the operation comes from the body, and what the
// body says is what is authorized.
func TestOperationFromBody(t *testing.T) {
	e := newEnv(t)
	read := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("notes:read"))
	cases := []struct {
		name, body string
		hdr        []string
		status     int
		scope      string
	}{
		{"tool that needs a scope", call("add_note"), nil, 403, "notes:write"},
		{"a lying header is not read", call("add_note"), []string{"Mcp-Method", "tools/call", "Mcp-Name", "whoami"}, 403, "notes:write"},
		{"escaped name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"add_note"}}`, nil, 403, "notes:write"},
		{"batch", `[` + call("whoami") + `,` + call("add_note") + `]`, nil, 403, "notes:write"},
		{"repeated name", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","name":"add_note"}}`, nil, 400, ""},
		{"repeated method", `{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"add_note"}}`, nil, 400, ""},
		{"name not a string", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":["add_note"]}}`, nil, 400, ""},
		{"trailing data", call("whoami") + `{"method":"tools/call"}`, nil, 400, ""},
		{"not JSON", `{"jsonrpc":"2.0",`, nil, 400, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.post(t, read, "2025-03-26", c.body, c.hdr...)
			if resp.StatusCode != c.status {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			if c.scope != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="insufficient_scope", scope="`+c.scope+`"`) {
				t.Fatalf("challenge %q", resp.Header.Values("WWW-Authenticate"))
			}
			if c.status == 400 {
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), `"error":"invalid_request"`) {
					t.Fatalf("body %s", b)
				}
			}
		})
	}
	// The SDK reaches a tool allowed by the token's scopes.
	resp := e.post(t, read, "2025-03-26", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
}

// TestOperationFromHeaders: from 2026-07-28 the SDK refuses a request
// whose Mcp-Name disagrees with its body, so the header is what is
// authorized, and a lie about it never reaches a tool.
func TestOperationFromHeaders(t *testing.T) {
	e := newEnvWith(t, &mcp.StreamableHTTPOptions{Stateless: true}) // the SDK takes 2026-07-28 only stateless
	read := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("notes:read"))
	body := func(tool string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + tool + `","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}`
	}
	resp := e.post(t, read, "2026-07-28", body("add_note"), "Mcp-Method", "tools/call", "Mcp-Name", "add_note")
	if resp.StatusCode != 403 {
		t.Fatalf("header naming add_note: %d", resp.StatusCode)
	}
	resp = e.post(t, read, "2026-07-28", body("whoami"), "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), "sub=user-123") {
		t.Fatalf("whoami: %d %s", resp.StatusCode, b)
	}
	resp = e.post(t, read, "2026-07-28", body("add_note"), "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
	if resp.StatusCode != 400 {
		t.Fatalf("header naming whoami, body add_note: %d, want the SDK's 400", resp.StatusCode)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "header mismatch") {
		t.Fatalf("body %s", b)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	big := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{"x":"` + strings.Repeat("a", mcpguard.DefaultMaxBodySize) + `"}}}`
	resp := e.post(t, e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)), "2025-03-26", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

// TestChallenges: the refusals are the core's, on the MCP endpoint's
// resource: the expired hint, and 503 while the keys are unavailable.
func TestChallenges(t *testing.T) {
	e := newEnv(t)
	meta := middleware.MetadataURL(e.endpoint)
	resp := e.post(t, "", "", call("whoami"))
	if resp.StatusCode != 401 || resp.Header.Values("WWW-Authenticate")[0] != `Bearer realm="api", resource_metadata="`+meta+`"` {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	resp = e.post(t, e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithExpiresIn(-time.Hour)), "", call("whoami"))
	if !oauth2guard.IsExpiredHint(resp) || !errors.Is(e.lastErr, middleware.ErrTokenExpired) {
		t.Fatalf("expired: %d %q %v", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), e.lastErr)
	}
	resp = e.post(t, e.iss.Mint(), "", call("whoami")) // the issuer's default audience
	if resp.StatusCode != 401 || !errors.Is(e.lastErr, middleware.ErrAudience) {
		t.Fatalf("other audience: %d %v", resp.StatusCode, e.lastErr)
	}

	// An issuer down since start-up: no keys yet, so the token may be
	// fine, and the answer is a retryable 503, not the SDK's 500.
	down := jwkstest.NewIssuer()
	defer down.Close()
	down.SetFault(jwkstest.FaultDown)
	keys, err := jwks.New(context.Background(), down.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	g, err := middleware.New(keys, down.URL(), []string{e.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/mcp", strings.NewReader(call("whoami")))
	req.Header.Set("Authorization", "Bearer "+down.Mint(jwkstest.WithClaim("aud", e.endpoint)))
	mcpguard.New(g).Wrap(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("keys down: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestMetadata: the RFC 9728 document of the endpoint, where the
// challenges point.
func TestMetadata(t *testing.T) {
	e := newEnv(t)
	resp, err := http.Get(middleware.MetadataURL(e.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Resource             string   `json:"resource"`
		AuthorizationServers []string `json:"authorization_servers"`
		Scopes               []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Resource != e.endpoint || len(doc.AuthorizationServers) != 1 || doc.AuthorizationServers[0] != e.iss.URL() ||
		strings.Join(doc.Scopes, " ") != "notes:write" {
		t.Fatalf("document %+v", doc)
	}
}

// TestVerifierWithSDKMiddleware: the other half, behind the SDK's own
// auth.RequireBearerToken.
func TestVerifierWithSDKMiddleware(t *testing.T) {
	e := newEnv(t)
	var info *auth.TokenInfo
	h := auth.RequireBearerToken(mcpguard.Verifier(e.guard), nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info = auth.TokenInfoFromContext(r.Context())
	}))
	do := func(tok string) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := do(e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("a b"))); code != 200 {
		t.Fatalf("valid token: %d", code)
	}
	if info == nil || strings.Join(info.Scopes, " ") != "a b" || info.UserID != `["`+e.iss.URL()+`","user-123"]` || info.Expiration.IsZero() {
		t.Fatalf("token info %+v", info)
	}
	if code := do(guardtest.Forge(e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)))); code != 401 {
		t.Fatalf("forged: %d", code)
	}
	_, err := mcpguard.Verifier(e.guard)(context.Background(), "not.a.token", nil)
	if !errors.Is(err, auth.ErrInvalidToken) || !errors.Is(err, middleware.ErrMalformedToken) {
		t.Fatalf("error %v is not both ErrInvalidToken and the reason", err)
	}
}

// TestVerifierHonoursTheLeeway: behind the SDK's auth.RequireBearerToken
// with its default options (no ClockSkew), Verifier gives the verdicts of
// the net/http core around exp: within the Guard's leeway accepted, past
// it refused.
func TestVerifierHonoursTheLeeway(t *testing.T) {
	e := newEnv(t)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	sdk := auth.RequireBearerToken(mcpguard.Verifier(e.guard), nil)(ok)
	core := e.guard.Handler(ok)
	for _, c := range []struct {
		expiresIn time.Duration
		want      int
	}{{-10 * time.Second, http.StatusOK}, {-middleware.DefaultLeeway - 10*time.Second, http.StatusUnauthorized}} {
		tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithExpiresIn(c.expiresIn))
		for name, h := range map[string]http.Handler{"net/http core": core, "SDK with Verifier": sdk} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/mcp", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Errorf("%s, exp %v from now: %d %q, want %d", name, c.expiresIn, rec.Code, rec.Body.String(), c.want)
			}
		}
	}
}

// TestVerifierKeepsTheCauseFromTheClient: the SDK's middleware writes
// the verifier's error text to the client, so Verifier's text is the
// refusal's description only; the cause (a claims check's error, a key
// fetch's) is for the logs, through errors.As.
func TestVerifierKeepsTheCauseFromTheClient(t *testing.T) {
	const secret = "revocation db 10.0.3.7:5432: password authentication failed"
	e := newEnv(t, middleware.WithClaimsCheck(func(*claims.Claims) error { return errors.New(secret) }))
	dead, err := jwks.NewFromJWKSURL(t.Context(), "http://127.0.0.1:1/jwks", jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	down, err := middleware.New(dead, e.iss.URL(), []string{e.endpoint})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint))
	for _, tc := range []struct {
		name   string
		g      *middleware.Guard
		status int
		body   string
		reason error
		hidden string // in the cause, for the logs
	}{
		{"a claims check's refusal", e.guard, 401, "invalid token: " + guardtest.DescNotAccepted + "\n", middleware.ErrClaimsRejected, secret},
		{"keys unavailable", down, 500, guardtest.DescUnavailable + "\n", middleware.ErrKeysUnavailable, ""},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/mcp", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		auth.RequireBearerToken(mcpguard.Verifier(tc.g), nil)(http.NotFoundHandler()).ServeHTTP(rec, req)
		if rec.Code != tc.status || rec.Body.String() != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.name, rec.Code, rec.Body, tc.status, tc.body)
		}
		_, err := mcpguard.Verifier(tc.g)(t.Context(), tok, nil)
		var me *middleware.Error
		if !errors.Is(err, tc.reason) || !errors.As(err, &me) || (tc.hidden != "" && (me.Cause() == nil || !strings.Contains(me.Cause().Error(), tc.hidden))) {
			t.Errorf("%s: error %v, want %v with the cause kept for errors.As", tc.name, err, tc.reason)
		}
	}
}

// TestUserIDAcrossIssuers: two issuers' users with one subject are two
// users to the SDK.
func TestUserIDAcrossIssuers(t *testing.T) {
	a := mcpguard.TokenInfo(&claims.Claims{Issuer: "https://a.example", Subject: "alice"}).UserID
	b := mcpguard.TokenInfo(&claims.Claims{Issuer: "https://a.example\",\"alice", Subject: ""}).UserID
	c := mcpguard.TokenInfo(&claims.Claims{Issuer: "https://b.example", Subject: "alice"}).UserID
	if a == b || a == c || a != `["https://a.example","alice"]` {
		t.Fatalf("user IDs %q, %q, %q", a, b, c)
	}
}

// TestUserIDKeepsClientsApartFromUsers: with WithSubjectClaim("client_id")
// (Duende's client-credentials tokens), a client whose ID equals a user's
// sub is another user to the SDK, which binds sessions to UserID. Found
// by a fifth review.
func TestUserIDKeepsClientsApartFromUsers(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://mcp.example/mcp"))
	t.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://mcp.example/mcp"}, middleware.WithSubjectClaim("client_id"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	user, err := g.VerifyToken(ctx, iss.Mint(jwkstest.WithClaim("sub", "alice")))
	if err != nil {
		t.Fatal(err)
	}
	client, err := g.VerifyToken(ctx, iss.Mint(jwkstest.WithClaim("sub", nil), jwkstest.WithClaim("client_id", "alice")))
	if err != nil {
		t.Fatal(err)
	}
	u, c := mcpguard.TokenInfo(user).UserID, mcpguard.TokenInfo(client).UserID
	if u != `["`+iss.URL()+`","alice"]` || c != `["`+iss.URL()+`","alice","client_id"]` {
		t.Errorf("the user alice is %s, the client alice %s", u, c)
	}
}

// TestDPoP: a DPoP-bound token and its proof reach the tool (the SDK's
// middleware, which knows only Bearer, is shown one), and the proof cannot
// be replayed.
func TestDPoP(t *testing.T) {
	e := newEnvWith(t, &mcp.StreamableHTTPOptions{Stateless: true})
	p := guardtest.NewProver("ES256")
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	proof := p.Proof("POST", e.endpoint, tok, nil, nil)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"raw","version":"1"}}}}`
	send := func() *http.Response {
		return e.post(t, "", "2026-07-28", body, "Authorization", "DPoP "+tok, "DPoP", proof, "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
	}
	resp := send()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 || !strings.Contains(string(b), "sub=user-123") {
		t.Fatalf("DPoP call: %d %s", resp.StatusCode, b)
	}
	resp = send()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `DPoP realm="api", error="invalid_dpop_proof"`) ||
		!errors.Is(e.lastErr, middleware.ErrDPoPReplay) {
		t.Fatalf("replay: %d %q %v", resp.StatusCode, resp.Header.Values("WWW-Authenticate"), e.lastErr)
	}
	// Bearer with a bound token is refused, whatever the SDK would do.
	resp = e.post(t, tok, "2026-07-28", body, "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
	if resp.StatusCode != 401 || !errors.Is(e.lastErr, middleware.ErrBoundToken) {
		t.Fatalf("bound token as Bearer: %d %v", resp.StatusCode, e.lastErr)
	}
}

// TestSessionContext: the SDK runs a stateful session's calls under the
// context of its first request; each call's claims must still be its
// own, and that context must show none.
func TestSessionContext(t *testing.T) {
	e := newEnv(t)
	admin := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("admin"))
	read := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("notes:read"))
	resp := e.post(t, admin, "2025-06-18", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if resp.StatusCode != 200 {
		t.Fatalf("initialize: %d", resp.StatusCode)
	}
	sid := resp.Header.Get("Mcp-Session-Id")
	_ = e.post(t, admin, "2025-06-18", `{"jsonrpc":"2.0","method":"notifications/initialized"}`, "Mcp-Session-Id", sid)
	resp = e.post(t, read, "2025-06-18", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"scopes","arguments":{}}}`, "Mcp-Session-Id", sid)
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "scopes=notes:read ctx=false") {
		t.Fatalf("call with another token of the same user: %d %s", resp.StatusCode, b)
	}
}

// TestSessionContextHidesTheTokenOnceAnswered: the context a request's
// handler gets (which the SDK keeps for a session's later calls) shows the
// request's TokenInfo until its answer begins, not until the handler
// returns: a client that has the answer may already be sending the
// session's next call, which would find the first request's token there.
// TestSessionContext failed about once in forty runs on that race.
func TestSessionContextHidesTheTokenOnceAnswered(t *testing.T) {
	e := newEnv(t)
	var before, after bool
	h := mcpguard.New(e.guard).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before = auth.TokenInfoFromContext(r.Context()) != nil
		w.WriteHeader(200)
		after = auth.TokenInfoFromContext(r.Context()) != nil
	}))
	req := httptest.NewRequest("GET", "/mcp", nil)
	req.Header.Set("Authorization", "Bearer "+e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || !before || after {
		t.Errorf("status %d; TokenInfo in the context before the answer %v (want true), after it began %v (want false)", rec.Code, before, after)
	}
}

// TestOperationAudience: an operation's own audience is needed besides
// the endpoint's, never instead of it or widened by it.
func TestOperationAudience(t *testing.T) {
	e := newEnv(t)
	const admin = "https://admin.example.com"
	guard := mcpguard.New(e.guard, mcpguard.WithRequirements(middleware.Audience(e.endpoint)),
		mcpguard.WithTool("reset", middleware.Audience(admin)),
		mcpguard.WithTool("add_note", middleware.Scopes("notes:write")))
	h := guard.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	do := func(tool string, aud ...string) int {
		var a any = aud
		if len(aud) == 1 {
			a = aud[0]
		}
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(call(tool)))
		req.Header.Set("Authorization", "Bearer "+e.iss.Mint(jwkstest.WithClaim("aud", a), jwkstest.WithScopes("notes:write")))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, c := range []struct {
		tool string
		aud  []string
		want int
	}{
		{"reset", []string{e.endpoint}, 401},
		{"reset", []string{admin}, 401},
		{"reset", []string{e.endpoint, admin}, 299},
		{"add_note", []string{e.endpoint}, 299}, // no audience of its own: the endpoint's
		{"whoami", []string{e.endpoint}, 299},
	} {
		if got := do(c.tool, c.aud...); got != c.want {
			t.Errorf("%s with aud %q: %d, want %d", c.tool, c.aud, got, c.want)
		}
	}
}

// TestOperationRefusalNamesEndpointScopes: an operation's 403 names the
// endpoint's scopes (WithRequirements) and its own together, so a client
// that asks for exactly the scope it is told gets a token the call passes
// with; the endpoint's own 403, decided before the body is read, names its
// scopes. A review found each rule naming its own alone: a token of "mcp"
// was told "notes:write", one of "notes:write" was told "mcp", and such a
// client traded one for the other for ever. An operation of its own
// audience gets the endpoint's scopes in its challenge and its metadata.
func TestOperationRefusalNamesEndpointScopes(t *testing.T) {
	e := newEnv(t)
	const admin = "https://admin.example.com"
	h := mcpguard.New(e.guard,
		mcpguard.WithRequirements(middleware.Scopes("mcp")),
		mcpguard.WithTool("add_note", middleware.Scopes("notes:write")),
		mcpguard.WithTool("reset", middleware.Audience(admin), middleware.Scopes("admin")),
	).Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	passed := guardtest.Response{Status: 299}
	forbidden := func(scope string) guardtest.Response {
		return guardtest.OnResource(guardtest.Forbidden(scope), e.endpoint)
	}
	for _, c := range []struct {
		name, method, body string
		alsoFor            string // an audience the token has besides the endpoint
		scopes             []string
		hdr                []string // protocol 2026-07-28's, when set
		want               guardtest.Response
	}{
		{"the tool, without the tool's scope", "POST", call("add_note"), "", []string{"mcp"}, nil, forbidden("mcp notes:write")},
		{"the tool, without the endpoint's scope", "POST", call("add_note"), "", []string{"notes:write"}, nil, forbidden("mcp")},
		{"the tool, named by the headers", "POST", call("add_note"), "", []string{"mcp"}, []string{"tools/call", "add_note"}, forbidden("mcp notes:write")},
		{"the tool, with both", "POST", call("add_note"), "", []string{"mcp", "notes:write"}, nil, passed},
		{"a tool without a rule", "POST", call("whoami"), "", []string{"notes:write"}, nil, forbidden("mcp")},
		{"a tool without a rule, with the endpoint's scope", "POST", call("whoami"), "", []string{"mcp"}, nil, passed},
		{"a batch: the tool's rule holds the endpoint's", "POST", "[" + call("whoami") + "," + call("add_note") + "]", "", []string{"mcp"}, nil, forbidden("mcp notes:write")},
		{"the event stream", "GET", "", "", []string{"notes:write"}, nil, forbidden("mcp")},
		{"a tool of its own audience", "POST", call("reset"), admin, []string{"mcp"}, nil, guardtest.OnResource(guardtest.Forbidden("mcp admin"), admin)},
		{"a tool of its own audience, without the endpoint's scope", "POST", call("reset"), admin, []string{"admin"}, nil, forbidden("mcp")},
		{"a tool of its own audience, with both", "POST", call("reset"), admin, []string{"mcp", "admin"}, nil, passed},
	} {
		var aud any = e.endpoint
		if c.alsoFor != "" {
			aud = []string{e.endpoint, c.alsoFor}
		}
		req := httptest.NewRequest(c.method, "/mcp", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+e.iss.Mint(jwkstest.WithClaim("aud", aud), jwkstest.WithScopes(c.scopes...)))
		if c.hdr != nil {
			req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
			req.Header.Set("Mcp-Method", c.hdr[0])
			req.Header.Set("Mcp-Name", c.hdr[1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		got := guardtest.Read(rec.Result())
		if c.want.Status == 299 {
			got = guardtest.Response{Status: got.Status}
		}
		if !c.want.Equal(got) {
			t.Errorf("%s with %q:\n got  %+v\n want %+v", c.name, c.scopes, got, c.want)
		}
	}

	// Each resource's document lists the scopes its refusals name.
	for _, c := range []struct{ resource, want string }{{e.endpoint, "mcp notes:write"}, {admin, "admin mcp"}} {
		meta := middleware.MetadataURL(c.resource)
		rec := httptest.NewRecorder()
		e.guard.MetadataHandler().ServeHTTP(rec, httptest.NewRequest("GET", meta, nil))
		var doc struct {
			Scopes []string `json:"scopes_supported"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || strings.Join(doc.Scopes, " ") != c.want {
			t.Errorf("%s: %d %s, want scopes_supported %q", meta, rec.Code, rec.Body, c.want)
		}
	}
}

// TestAuthenticatedFirst: nothing is read from the body of a request
// without a valid token; a body over the limit is 413, however it begins.
func TestAuthenticatedFirst(t *testing.T) {
	e := newEnv(t)
	spaces := strings.Repeat(" ", mcpguard.DefaultMaxBodySize+10) + call("whoami")
	read := &countingReader{r: strings.NewReader(spaces)}
	req := httptest.NewRequest("POST", "/mcp", read)
	req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	req.Header.Set("Mcp-Method", "tools/call")
	rec := httptest.NewRecorder()
	mcpguard.New(e.guard, mcpguard.WithTool("add_note", middleware.Scopes("notes:write"))).Wrap(http.NotFoundHandler()).ServeHTTP(rec, req)
	if rec.Code != 401 || read.n != 0 {
		t.Fatalf("anonymous: %d after reading %d bytes", rec.Code, read.n)
	}
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint))
	for _, version := range []string{"2026-07-28", "2025-03-26"} {
		resp := e.post(t, tok, version, spaces, "Mcp-Method", "tools/call", "Mcp-Name", "whoami")
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: white space over the limit: %d", version, resp.StatusCode)
		}
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// TestTokenInfoScopesAreACopy: what the SDK is handed cannot change the
// claims the Guard caches.
func TestTokenInfoScopesAreACopy(t *testing.T) {
	c := &claims.Claims{Scopes: claims.Scopes{"notes:read"}}
	mcpguard.TokenInfo(c).Scopes[0] = "notes:write"
	if c.Scopes.Has("notes:write") {
		t.Fatal("TokenInfo shares the claims' scopes")
	}
}

// TestSubscribeNeedsWhatReadingDoes: a resource's requirements cover
// subscribing to it.
func TestSubscribeNeedsWhatReadingDoes(t *testing.T) {
	e := newEnv(t)
	h := mcpguard.New(e.guard, mcpguard.WithResource("notes://all", middleware.Scopes("notes:read"))).Wrap(http.NotFoundHandler())
	for _, method := range []string{"resources/read", "resources/subscribe"} {
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"`+method+`","params":{"uri":"notes://all"}}`))
		req.Header.Set("Authorization", "Bearer "+e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)))
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", method)
		req.Header.Set("Mcp-Name", "notes://all")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 403 {
			t.Errorf("%s without notes:read: %d", method, rec.Code)
		}
	}
}

// TestSubscriptionsListen: protocol 2026-07-28 subscribes to resources
// in subscriptions/listen's params; each needs what subscribing needs.
func TestSubscriptionsListen(t *testing.T) {
	e := newEnv(t)
	h := listenGuard(e)
	listen := func(uris string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"toolsListChanged":true,"resourceSubscriptions":` + uris + `}}}`
	}
	for _, c := range []struct {
		name, body string
		want       int
	}{
		{"a guarded resource", listen(`["notes://all"]`), 403},
		{"a template's instance", listen(`["notes://123"]`), 403},
		{"subscribe to an instance", `{"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"notes://123"}}`, 403},
		{"no resources", listen(`[]`), 299},
		{"not an array", listen(`"notes://all"`), 400},
		{"not strings", listen(`[1]`), 400},
		{"repeated member", `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[],"resourceSubscriptions":["notes://all"]}}}`, 400},
	} {
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)))
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "subscriptions/listen")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: %d, want %d", c.name, rec.Code, c.want)
		}
	}
}

// listenTo is a subscriptions/listen of protocol 2026-07-28 for uris, each
// already JSON.
func listenTo(uris []string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"subscriptions/listen","params":{"notifications":{"resourceSubscriptions":[` + strings.Join(uris, ",") + `]}}}`
}

// TestOperationsAreBounded: every operation of a body is read and matched
// to its rule before the SDK sees it, so a body may hold at most
// DefaultMaxOperations of them, in all: a batch's messages, a listen's
// subscriptions and the listen itself. One more is refused 400, saying
// the limit, as an unreadable body is. Found by a review: a listen of 4 MiB
// of `"",` was 1.4 million operations.
func TestOperationsAreBounded(t *testing.T) {
	e := newEnv(t)
	guarded := func(opts ...mcpguard.Option) http.Handler {
		opts = append(opts, mcpguard.WithResource("notes://all", middleware.Scopes("notes:read")),
			mcpguard.WithMethod("resources/read", middleware.Scopes("templated:read")))
		return mcpguard.New(e.guard, opts...).Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
	}
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("notes:read", "templated:read"))
	tooMany := func(n int) string {
		return `{"error":"invalid_request","error_description":"The request body has more than ` + strconv.Itoa(n) + ` operations"}`
	}
	const limit = mcpguard.DefaultMaxOperations
	batch := func(n int) string { // n messages
		return "[" + strings.Repeat(`{"jsonrpc":"2.0","method":"notifications/initialized"},`, n-1) + call("whoami") + "]"
	}
	for _, c := range []struct {
		name, version, body string
		h                   http.Handler
		status              int
		resp                string
	}{
		{"a listen at the limit", "2026-07-28", listenTo(slices.Repeat([]string{`"notes://all"`}, limit-1)), guarded(), 299, ""},
		{"a listen over it", "2026-07-28", listenTo(slices.Repeat([]string{`"notes://all"`}, limit)), guarded(), 400, tooMany(limit)},
		{"a listen of empty URIs over it", "2026-07-28", listenTo(slices.Repeat([]string{`""`}, limit)), guarded(), 400, tooMany(limit)},
		{"a batch at the limit", "2025-03-26", batch(limit), guarded(), 299, ""},
		{"a batch over it", "2025-03-26", batch(limit + 1), guarded(), 400, tooMany(limit)},
		{"a batch of listens over it together", "2025-03-26", "[" + listenTo([]string{`"notes://1"`, `"notes://2"`}) + "," + listenTo([]string{`"notes://3"`}) + "]",
			guarded(mcpguard.WithMaxOperations(4)), 400, tooMany(4)},
		{"a batch of listens at WithMaxOperations", "2025-03-26", "[" + listenTo([]string{`"notes://1"`}) + "," + listenTo([]string{`"notes://2"`}) + "]",
			guarded(mcpguard.WithMaxOperations(4)), 299, ""},
	} {
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Mcp-Protocol-Version", c.version)
		if c.version >= "2026-07-28" {
			req.Header.Set("Mcp-Method", "subscriptions/listen")
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if rec.Code != c.status || (c.resp != "" && (rec.Body.String() != c.resp || rec.Header().Get("Content-Type") != "application/json")) {
			t.Errorf("%s: %d %s %q, want %d %s", c.name, rec.Code, rec.Header().Get("Content-Type"), rec.Body, c.status, c.resp)
		}
	}
}

// TestListenOfManyURIsIsCheap: what one request of DefaultMaxBodySize
// costs does not grow with the URIs it names. A review measured 400 MB
// allocated (100 times the body) and over a second for 4 MiB of `"",`,
// one operation kept per URI; now it is the body read, about twice its
// size, refused at DefaultMaxOperations. Under the limit, URIs as long as
// the body allows cost about as much.
func TestListenOfManyURIsIsCheap(t *testing.T) {
	e := newEnv(t)
	h := listenGuard(e)
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint), jwkstest.WithScopes("notes:read", "templated:read"))
	const room = mcpguard.DefaultMaxBodySize - 200 // for the message around the URIs
	long := make([]string, mcpguard.DefaultMaxOperations-1)
	for i := range long {
		long[i] = `"notes://` + strconv.Itoa(i) + strings.Repeat("x", room/len(long)-20) + `"`
	}
	for _, c := range []struct {
		name   string
		uris   []string
		status int
		most   uint64 // times the body: what io.ReadAll allocates (2.4), and for the accepted one its URIs once more
	}{
		{"4 MiB of empty URIs", slices.Repeat([]string{`""`}, room/3), 400, 3},
		{"the longest URIs under the limit", long, 299, 4},
	} {
		body := listenTo(c.uris)
		if len(body) > mcpguard.DefaultMaxBodySize {
			t.Fatalf("%s: the body is %d bytes", c.name, len(body))
		}
		req := httptest.NewRequest("POST", "/mcp", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Mcp-Protocol-Version", "2026-07-28")
		req.Header.Set("Mcp-Method", "subscriptions/listen")
		rec := httptest.NewRecorder()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		h.ServeHTTP(rec, req)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		n := after.TotalAlloc - before.TotalAlloc
		if rec.Code != c.status || n > c.most*uint64(len(body)) && !raceEnabled {
			t.Errorf("%s: %d after allocating %d bytes, want %d after at most %d times the body's %d", c.name, rec.Code, n, c.status, c.most, len(body))
		} else {
			t.Logf("%s: %d bytes of body, %d allocated (%.1f times), %s", c.name, len(body), n, float64(n)/float64(len(body)), took)
		}
	}
}

// TestStreamsOutliveTheirToken: Wrap does not end an event stream when
// its token expires (a review found it delivering past exp, and asked
// for its context to end at exp plus the leeway): the handler of the GET
// and of a subscriptions/listen gets a context with no deadline. The
// second half is why: the SDK's client takes a stream the server ends for
// a lost connection, and closes its session once one has ended more than
// MaxRetries times with no event ID between, so ending streams at exp
// would end sessions after a few token lifetimes. If a later SDK keeps
// the session, that half fails, and streams can then end with their
// token.
func TestStreamsOutliveTheirToken(t *testing.T) {
	e := newEnv(t)
	tok := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint))
	var deadlines []bool
	h := mcpguard.New(e.guard, mcpguard.WithTool("add_note", middleware.Scopes("notes:write"))).Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, has := r.Context().Deadline()
		deadlines = append(deadlines, has)
		w.WriteHeader(299)
	}))
	get := httptest.NewRequest("GET", "/mcp", nil)
	get.Header.Set("Accept", "text/event-stream")
	post := httptest.NewRequest("POST", "/mcp", strings.NewReader(listenTo([]string{`"notes://all"`})))
	post.Header.Set("Mcp-Protocol-Version", "2026-07-28")
	post.Header.Set("Mcp-Method", "subscriptions/listen")
	for _, req := range []*http.Request{get, post} {
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 299 {
			t.Fatalf("%s: %d", req.Method, rec.Code)
		}
	}
	if !slices.Equal(deadlines, []bool{false, false}) {
		t.Errorf("the streams' contexts have deadlines: %v", deadlines)
	}

	// The SDK's client, with GETs that end as they would at exp: a token
	// that expires as the stream opens.
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v1"}, nil)
	sdk := mcpguard.New(e.guard).Wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil))
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
			ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
			defer cancel()
			r = r.WithContext(ctx)
		}
		sdk.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx := t.Context()
	sess, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v1"}, nil).Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint:   srv.URL,
		HTTPClient: oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})),
		MaxRetries: 1, // 5 by default; 1 ends the test after one reconnection's delay (1 to 2 s)
	}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-06-18"}) // one with the GET stream
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	closed := make(chan struct{})
	go func() { _ = sess.Wait(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("the session outlived %d ended streams", gets.Load())
	}
	_, err = sess.ListTools(ctx, nil)
	if !errors.Is(err, mcp.ErrConnectionClosed) || !strings.Contains(err.Error(), "standalone SSE stream: exceeded 1 retries without progress") || gets.Load() != 2 {
		t.Fatalf("after %d streams: %v", gets.Load(), err)
	}
}

// A nil Option is a mistake of the set-up, said so there: New has no
// error to return.
func TestNilOptionPanics(t *testing.T) {
	e := guardtest.New(t)
	defer func() {
		if got := recover(); got != "mcpguard: New with a nil Option" {
			t.Fatalf("recovered %v", got)
		}
	}()
	mcpguard.New(e.Guard, mcpguard.WithMaxOperations(1), nil)
	t.Fatal("New accepted a nil Option")
}

// listenGuard is the endpoint of the subscriptions/listen tests: one
// resource of its own rule, the others resources/read's, and a handler
// that answers 299.
func listenGuard(e *env) http.Handler {
	return mcpguard.New(e.guard,
		mcpguard.WithResource("notes://all", middleware.Scopes("notes:read")),
		mcpguard.WithMethod("resources/read", middleware.Scopes("templated:read")),
	).Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(299) }))
}

// The issuer withdraws its signing key (an emergency rotation) seconds
// after the MCP client got its token: the API refuses that token (an
// unknown key), and the client's first refusal of it gets a new one,
// which passes, whatever the refresh cooldown. Found by a review of the
// cooldown, which first held every refusal within it.
func TestKeyWithdrawnRightAfterTheTokenWasObtained(t *testing.T) {
	e := newEnv(t)
	oc := newClient("notes:read")
	ctx := context.Background()
	sess := e.connect(t, oc)
	if _, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Fatal(err)
	}

	// Emergency rotation: the signing key is unpublished, a new one signs.
	old := e.iss.SigningKID("RS256")
	e.iss.RemoveKey(old)
	fresh := e.iss.Mint(jwkstest.WithClaim("aud", e.endpoint)) // a new key is made
	// A client holding a new token makes the API refresh its key set (unknown kid).
	if resp := e.post(t, fresh, "", call("whoami")); resp.StatusCode == http.StatusUnauthorized {
		t.Fatalf("a token of the new key refused: %v", resp.Header)
	}

	if _, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"}); err != nil {
		t.Errorf("call after the issuer withdrew the key of the client's token: %v (client did %q)", err, strings.Join(oc.log, ","))
	}
}
