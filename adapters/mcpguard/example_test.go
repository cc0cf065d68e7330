package mcpguard_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/jwtguard/jwtguard/adapters/mcpguard"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// An MCP server whose add_note tool needs notes:write, on top of a token
// for the MCP endpoint.
func Example() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	const endpoint = "https://mcp.example.com/mcp"

	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{endpoint},
		middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err != nil {
		panic(err)
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "notes", Version: "v1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "add_note"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
		c, _ := mcpguard.ClaimsFrom(req.Extra)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "noted for " + c.Subject}}}, nil, nil
	})
	guard := mcpguard.New(g, mcpguard.WithTool("add_note", middleware.Scopes("notes:write")))

	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Wrap(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	fmt.Println(middleware.MetadataURL(endpoint))
	// Output: https://mcp.example.com/.well-known/oauth-protected-resource/mcp
}
