// The MCP example is a module of its own so that the examples' module
// does not require the MCP SDK. It requires the core and the adapter at
// the version they are released together as; in the repository, go.work
// points those at the checkout (see CONTRIBUTING.md).
module github.com/jwtguard/jwtguard/examples/mcp

go 1.26.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/jwtguard/jwtguard/adapters/mcpguard v0.1.0
	github.com/modelcontextprotocol/go-sdk v1.8.0
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/google/jsonschema-go v0.4.3 // indirect
	github.com/segmentio/asm v1.1.3 // indirect
	github.com/segmentio/encoding v0.5.4 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
	golang.org/x/oauth2 v0.36.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
