package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/adapters/mcpguard"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// transportFixture is an issuer, a Guard for aud with the token cache on
// (as in production), and a token that passes it.
func transportFixture(b *testing.B, aud string) (*middleware.Guard, string) {
	b.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithTokenLifetime(24 * time.Hour))
	b.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{aud})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(g.Close)
	return g, iss.Mint(jwkstest.WithClaim("aud", aud), jwkstest.WithScopes("notes:write"))
}

// BenchmarkGRPC is the gRPC interceptor's cost over the core's own check
// of the same token and rule, per call, without the network: core is
// Rule.Check on an HTTP request, interceptor is grpcguard's unary
// interceptor around a handler that does nothing, with the call's
// metadata and peer in its context as grpc-go puts them.
func BenchmarkGRPC(b *testing.B) {
	const method = "/notes.v1.Notes/AddNote"
	g, tok := transportFixture(b, "https://notes.example.com")
	rule := g.Rule(middleware.Scopes("notes:write"))
	b.Run("core", func(b *testing.B) {
		req := httptest.NewRequest(http.MethodPost, method, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rule.Check(req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("interceptor", func(b *testing.B) {
		unary := grpcguard.New(g, grpcguard.WithMethod(method, middleware.Scopes("notes:write"))).Unary()
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(":authority", "notes.example.com", "authorization", "Bearer "+tok))
		ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}})
		info := &grpc.UnaryServerInfo{FullMethod: method}
		handler := func(context.Context, any) (any, error) { return nil, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := unary(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMCP is mcpguard's cost over a bare SDK handler, per tool call,
// in process: sdk is the SDK's stateless streamable handler answering a
// tools/call with JSON, mcpguard-headers the same behind Middleware with
// the operation read from Mcp-Method and Mcp-Name (protocol 2026-07-28),
// mcpguard-body with it read from the body (2025-06-18).
func BenchmarkMCP(b *testing.B) {
	const endpoint = "https://mcp.example.com/mcp"
	g, tok := transportFixture(b, endpoint)
	server := mcp.NewServer(&mcp.Implementation{Name: "bench", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add_note"}, func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "ok"}}}, nil, nil
	})
	sdk := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	guarded := mcpguard.New(g, mcpguard.WithTool("add_note", middleware.Scopes("notes:write"))).Wrap(sdk)
	call := func(version string) string {
		return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_note","arguments":{},"_meta":{"io.modelcontextprotocol/protocolVersion":"` + version +
			`","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"bench","version":"1"}}}}`
	}
	for _, c := range []struct {
		name, version string
		h             http.Handler
	}{
		{"sdk", "2026-07-28", sdk},
		{"mcpguard-headers", "2026-07-28", guarded},
		{"sdk-2025-06-18", "2025-06-18", sdk},
		{"mcpguard-body", "2025-06-18", guarded},
	} {
		b.Run(c.name, func(b *testing.B) {
			body := call(c.version)
			do := func() int {
				req := httptest.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Accept", "application/json, text/event-stream")
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("Mcp-Protocol-Version", c.version)
				req.Header.Set("Mcp-Method", "tools/call")
				req.Header.Set("Mcp-Name", "add_note")
				rec := httptest.NewRecorder()
				c.h.ServeHTTP(rec, req)
				return rec.Code
			}
			if code := do(); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
			b.ReportAllocs()
			for b.Loop() {
				if code := do(); code != http.StatusOK {
					b.Fatalf("status %d", code)
				}
			}
		})
	}
}
