// Command mcp is an MCP server (the official Go SDK, streamable HTTP)
// behind jwtguard: two tools, whoami for any token for the endpoint and
// add_note needing notes:write as well. With no -issuer it starts an
// in-process dev authorization server:
//
//	cd examples/mcp && go run .
//
// The flags are the other example servers' (examples/README.md), with
// one difference: the audience, which is the MCP endpoint's resource
// identifier, defaults to the endpoint's own URL (http://<addr>/mcp), as
// MCP clients ask for a token for the URL they connect to.
//
// It is a module of its own so that the examples' module does not require
// the MCP SDK.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jwtguard/jwtguard/adapters/mcpguard"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/middleware"
)

// Endpoint is the MCP endpoint's path.
const Endpoint = "/mcp"

// maxNotes bounds the notes kept: an example is what users copy, and a
// list that grows with every call is a memory leak.
const maxNotes = 100

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run is main, with its inputs and outputs given: the tests run it
// in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := exampleapp.ParseFlags("mcp", args, getenv, stderr)
	if err != nil {
		return err
	}
	var ln net.Listener
	if !audienceGiven(args, getenv) {
		// The audience is the URL clients reach the endpoint at, so it is
		// made from the listener, once the port is known (-addr
		// 127.0.0.1:0 picks one).
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return err
		}
		cfg.Audience = "http://" + reachable(cfg.Addr, ln.Addr()) + Endpoint
		cfg.AdminAudience = cfg.Audience + "/admin"
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	app, err := exampleapp.New(ctx, cfg, log)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	app.Listener = ln
	defer app.Close()
	app.Instructions = func(w io.Writer, tokenURL, base string) {
		endpoint := base + Endpoint
		if ln != nil {
			endpoint = cfg.Audience // the listen address may name no host (:8080)
		}
		fmt.Fprintf(w, `Dev mode: an in-process authorization server issues tokens at %s
The MCP endpoint is %s (resource %s).
An MCP client finds all of it from the endpoint's first 401 (resource_metadata).
By hand:
  TOKEN=$(curl -s -H 'Accept: text/plain' -d 'scope=notes:read' -d 'resource=%s' %s)
  curl -i -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'Mcp-Protocol-Version: 2025-06-18' \
    -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}' \
    %s
`, tokenURL, endpoint, cfg.Audience, cfg.Audience, tokenURL, endpoint)
	}
	return app.Run(ctx, Handler(app.Guard), stdout, log)
}

// reachable is the host and port a listener on addr (the -addr given)
// is reached at from this machine: addr's host, and the port it listens
// on (-addr 127.0.0.1:0 picks one). A listener on every interface (:8080,
// 0.0.0.0:8080) is reached by 127.0.0.1, which is also the one kind of
// plain http host RFC 9728 metadata may name; a server for other hosts is
// given -audience.
func reachable(addr string, ln net.Addr) string {
	host, _, err := net.SplitHostPort(addr)
	_, port, err2 := net.SplitHostPort(ln.String())
	if err != nil || err2 != nil {
		return ln.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// audienceGiven reports whether the audience was set by flag or
// environment, rather than left to its default.
func audienceGiven(args []string, getenv func(string) string) bool {
	if getenv("OAUTH_AUDIENCE") != "" {
		return true
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "audience" {
			return true
		}
	}
	return false
}

// Handler is the server's routes: the MCP endpoint behind the Guard, its
// RFC 9728 metadata, and a health check.
func Handler(g *middleware.Guard) http.Handler {
	server := NewServer()
	guard := mcpguard.New(g, mcpguard.WithTool("add_note", middleware.Scopes(exampleapp.ScopeNotesWrite)))
	mux := http.NewServeMux()
	mux.Handle(Endpoint, guard.Wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle(middleware.WellKnownResource, g.MetadataHandler())
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	return mux
}

// NewServer is the MCP server and its two tools.
func NewServer() *mcp.Server {
	server := mcp.NewServer(&mcp.Implementation{Name: "jwtguard-notes", Version: "v1"}, nil)
	var (
		mu    sync.Mutex
		notes []string
	)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "The caller, from the verified access token."},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			c, ok := mcpguard.ClaimsFrom(req.Extra)
			if !ok {
				return nil, nil, fmt.Errorf("no verified claims")
			}
			return text(fmt.Sprintf("sub=%s scopes=%s", c.Subject, c.Scopes.String())), nil, nil
		})
	type note struct {
		Text string `json:"text" jsonschema:"the note"`
	}
	mcp.AddTool(server, &mcp.Tool{Name: "add_note", Description: "Adds a note (needs notes:write); the last 100 are kept."},
		func(_ context.Context, _ *mcp.CallToolRequest, n note) (*mcp.CallToolResult, any, error) {
			mu.Lock()
			defer mu.Unlock()
			notes = append(notes, n.Text)
			if len(notes) > maxNotes {
				notes = append(notes[:0:0], notes[len(notes)-maxNotes:]...)
			}
			return text(fmt.Sprintf("added; %d notes kept", len(notes))), nil, nil
		})
	return server
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
