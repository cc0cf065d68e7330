package interop_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
)

// TestMCPServer: examples/mcp against oidc-provider, driven by the MCP
// SDK's own client. The client knows only the endpoint: it finds
// oidc-provider through the endpoint's resource_metadata, gets a token by
// client credentials with the endpoint's URL as resource indicator (RFC
// 8707), calls a tool, and is refused the tool that needs notes:write,
// with that scope named; a token that expires on its own (svc-short) is
// answered with the expired hint and replaced.
func TestMCPServer(t *testing.T) {
	p := needProvider(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startServer(t, "mcp", "-addr", addr, "-issuer", p.Issuer, "-leeway", "1s")
	endpoint := s.URL + "/mcp"
	if endpoint != "http://"+addr+"/mcp" {
		t.Fatalf("endpoint %s, listening on %s", endpoint, addr)
	}
	ctx := context.Background()
	connect := func(client string, scopes ...string) *mcp.ClientSession {
		t.Helper()
		cl := mcp.NewClient(&mcp.Implementation{Name: "interop", Version: "v1"}, nil)
		sess, err := cl.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: endpoint, DisableStandaloneSSE: true,
			OAuthHandler: oauth2guard.NewClientCredentials(nil, client, secret, scopes...),
		}, nil)
		if err != nil {
			t.Fatalf("%s: %v\n%s", client, err, p.stderr.String())
		}
		t.Cleanup(func() { sess.Close() })
		return sess
	}
	call := func(sess *mcp.ClientSession, tool string) (string, error) {
		var args map[string]any
		if tool == "add_note" {
			args = map[string]any{"text": "x"}
		}
		res, err := sess.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			return "", err
		}
		return res.Content[0].(*mcp.TextContent).Text, nil
	}

	sess := connect("svc-rs256", "notes:read")
	if got, err := call(sess, "whoami"); err != nil || got != "sub=svc-rs256 scopes=notes:read" {
		t.Fatalf("whoami: %q %v", got, err)
	}
	if _, err := call(sess, "add_note"); !errors.Is(err, oauth2guard.ErrInsufficientScope) || !strings.Contains(err.Error(), `"notes:write"`) {
		t.Fatalf("add_note with notes:read: %v", err)
	}
	writer := connect("svc-es256", "notes:read", "notes:write")
	if got, err := call(writer, "add_note"); err != nil || got != "added; 1 notes kept" {
		t.Fatalf("add_note with notes:write: %q %v", got, err)
	}

	// svc-short's tokens live shortTTL: past it and the server's 1 s
	// leeway, the next call meets the expired hint, and the client gets a
	// new token and retries.
	short := connect("svc-short", "notes:read")
	time.Sleep(shortTTL + 2*time.Second)
	if got, err := call(short, "whoami"); err != nil || got != "sub=svc-short scopes=notes:read" {
		t.Fatalf("whoami after expiry: %q %v", got, err)
	}
}
