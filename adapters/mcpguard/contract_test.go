package mcpguard_test

import (
	"net/http"
	"testing"

	"github.com/jwtguard/jwtguard/adapters/mcpguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

// TestContractTable: an endpoint refuses every request of the table's
// Refusals and DPoP cases byte for byte as net/http does, with the same
// reason, error hook and stopped chain; the endpoint's requirements are
// checked before any body is read, so the MCP layer changes none of them.
func TestContractTable(t *testing.T) {
	e := guardtest.New(t)
	endpoint := func(reqs ...middleware.Requirement) http.Handler {
		return mcpguard.New(e.Guard, mcpguard.WithRequirements(reqs...)).Wrap(e.Final())
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+guardtest.PathMe, endpoint())
	mux.Handle("GET "+guardtest.PathNotes, endpoint(middleware.Scopes("notes:read")))
	mux.Handle("GET "+guardtest.PathAdmin, endpoint(middleware.Audience(guardtest.AdminAudience), middleware.Scopes("admin")))
	mux.Handle("POST "+guardtest.PathTransfers, endpoint(guardtest.TransferRules...))
	e.CompareRefusals(t, mux)
	e.CompareDPoPRefusals(t, mux)
}
