package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
)

var devInstructions = regexp.MustCompile(`issues tokens at (\S+)|The MCP endpoint is (\S+) \(resource (\S+)\)`)

// start runs the example in dev mode on addr and returns the endpoint
// and the dev issuer's token URL its instructions print; the endpoint is
// the resource, as a client needs.
func start(t *testing.T, addr string) (endpoint, tokenURL string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr}, func(string) string { return "" }, stdoutW, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	found := make(chan []string, 2)
	go func() {
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			if m := devInstructions.FindStringSubmatch(sc.Text()); m != nil {
				found <- m
			}
		}
	}()
	for endpoint == "" || tokenURL == "" {
		select {
		case m := <-found:
			if m[1] != "" {
				tokenURL = m[1]
			} else if endpoint = m[2]; m[3] != endpoint {
				t.Fatalf("endpoint %s, resource %s", m[2], m[3])
			}
		case err := <-done:
			t.Fatalf("run ended: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("no dev instructions")
		}
	}
	return endpoint, tokenURL
}

func connect(t *testing.T, endpoint string, scopes ...string) *mcp.ClientSession {
	t.Helper()
	cl := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "v1"}, nil)
	sess, err := cl.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: endpoint, DisableStandaloneSSE: true,
		OAuthHandler: oauth2guard.NewClientCredentials(nil, "mcp-example-test", "", scopes...),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func call(t *testing.T, sess *mcp.ClientSession, tool string, args map[string]any) string {
	t.Helper()
	res, err := sess.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Content) != 1 {
		t.Fatalf("result %+v", res)
	}
	return res.Content[0].(*mcp.TextContent).Text
}

// TestWithTheSDKClient: the SDK's own client, over streamable HTTP,
// discovers the dev issuer through resource_metadata, gets a token for
// the endpoint, calls whoami, is refused add_note (403, scope
// notes:write) with notes:read alone, and may add notes with
// notes:write, of which the last 100 are kept.
func TestWithTheSDKClient(t *testing.T) {
	endpoint, _ := start(t, "127.0.0.1:0")
	ctx := context.Background()

	reader := connect(t, endpoint, "notes:read")
	if got := call(t, reader, "whoami", nil); got != "sub=user-123 scopes=notes:read" {
		t.Fatalf("whoami = %q", got)
	}
	_, err := reader.CallTool(ctx, &mcp.CallToolParams{Name: "add_note", Arguments: map[string]any{"text": "x"}})
	if !errors.Is(err, oauth2guard.ErrInsufficientScope) || !strings.Contains(err.Error(), `"notes:write"`) {
		t.Fatalf("add_note with notes:read: %v", err)
	}

	writer := connect(t, endpoint, "notes:read", "notes:write")
	var got string
	for range maxNotes + 5 {
		got = call(t, writer, "add_note", map[string]any{"text": "x"})
	}
	if got != "added; 100 notes kept" {
		t.Fatalf("after %d notes: %q", maxNotes+5, got)
	}
}

// TestChallenges: without a token, the endpoint names its metadata, and
// the document names the dev issuer and the endpoint as the resource.
func TestChallenges(t *testing.T) {
	endpoint, tokenURL := start(t, "127.0.0.1:0")
	resp, err := http.Post(endpoint, "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	meta, ok := oauth2guard.ResourceMetadataURL(resp)
	if resp.StatusCode != 401 || !ok {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	doc, err := oauth2guard.FetchResourceMetadata(context.Background(), nil, meta, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.AuthorizationServers) != 1 || !strings.HasPrefix(tokenURL, doc.AuthorizationServers[0]+"/") {
		t.Fatalf("authorization servers %q, token URL %s", doc.AuthorizationServers, tokenURL)
	}
}

func TestAudienceGiven(t *testing.T) {
	none := func(string) string { return "" }
	for args, want := range map[string]bool{"": false, "-addr x": false, "-audience a": true, "--audience=a": true, "-audience-x a": false} {
		if got := audienceGiven(strings.Fields(args), none); got != want {
			t.Errorf("%q: %v", args, got)
		}
	}
	if !audienceGiven(nil, func(k string) string { return map[string]string{"OAUTH_AUDIENCE": "a"}[k] }) {
		t.Error("OAUTH_AUDIENCE not seen")
	}
}

// TestListenAddresses: whatever -addr names, the default audience is a
// URL the endpoint is reached at, with the port it listens on, and the
// SDK's client connects through its metadata.
func TestListenAddresses(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", ":0", "0.0.0.0:0"} {
		endpoint, _ := start(t, addr)
		if !strings.HasPrefix(endpoint, "http://127.0.0.1:") || strings.HasPrefix(endpoint, "http://127.0.0.1:0/") {
			t.Errorf("-addr %s: endpoint %s", addr, endpoint)
			continue
		}
		if got := call(t, connect(t, endpoint, "notes:read"), "whoami", nil); got != "sub=user-123 scopes=notes:read" {
			t.Errorf("-addr %s: whoami = %q", addr, got)
		}
	}
}

func TestReachable(t *testing.T) {
	ln := &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}
	for addr, want := range map[string]string{
		":8080": "127.0.0.1:8080", "0.0.0.0:0": "127.0.0.1:8080", "[::]:8080": "127.0.0.1:8080",
		"localhost:0": "localhost:8080", "127.0.0.1:8080": "127.0.0.1:8080", "[::1]:0": "[::1]:8080",
	} {
		if got := reachable(addr, ln); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}
