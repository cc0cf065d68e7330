package interop_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/middleware"
)

// TestStepUpWithOIDCProviderTokens: oidc-provider's access tokens carry the
// acr and auth_time of the login (extraTokenClaims in provider.mjs), and
// POST /api/transfers takes the recent multi-factor one and asks the
// hour-old password one to step up, on every example server.
func TestStepUpWithOIDCProviderTokens(t *testing.T) {
	p := needProvider(t)
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name, "-issuer", p.Issuer, "-audience", api)
			mfa := p.clientCredentials(t, "svc-mfa", api, "transfers:write")
			s.waitKeys(t, mfa)
			_, claims := jwtParts(t, mfa)
			if claims["acr"] != "urn:example:acr:mfa" || claims["auth_time"] == nil {
				t.Fatalf("oidc-provider's token lacks acr or auth_time: %v", claims)
			}
			expectStatus(t, "MFA login", s.do(t, "POST", "/api/transfers", mfa), 201, `{"status":"accepted"}`)
			pwd := p.clientCredentials(t, "svc-pwd", api, "transfers:write")
			want := fromTable(guardtest.StepUp(guardtest.DescLevel, `acr_values="urn:example:acr:mfa"`, `max_age="300"`))
			expect(t, "hour-old password login", s.do(t, "POST", "/api/transfers", pwd), want)
			noScope := p.clientCredentials(t, "svc-mfa", api, "notes:read")
			expect(t, "MFA login without transfers:write", s.do(t, "POST", "/api/transfers", noScope), forbidden("transfers:write"))
		})
	}
}

// TestResourceMetadataWithMCPSDK: a real client library's RFC 9728 code,
// the MCP Go SDK's oauthex, finds the example server's metadata from its
// challenge alone and gets oidc-provider as the authorization server.
func TestResourceMetadataWithMCPSDK(t *testing.T) {
	p := needProvider(t)
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			// The resource is this server, on loopback: pick its port first.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			resource := "http://" + addr + "/api"
			s := startServer(t, name, "-addr", addr, "-issuer", p.Issuer, "-audience", resource)
			resp, err := http.Get(s.URL + "/api/me")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			// Bearer, then DPoP (RFC 9449 §7.1), both naming the metadata.
			challenges, err := oauthex.ParseWWWAuthenticate(resp.Header.Values("WWW-Authenticate"))
			if err != nil || len(challenges) != 2 || challenges[0].Scheme != "bearer" || challenges[1].Scheme != "dpop" ||
				challenges[0].Params["resource_metadata"] != challenges[1].Params["resource_metadata"] {
				t.Fatalf("the SDK parses %q as %v, %v", resp.Header.Values("WWW-Authenticate"), challenges, err)
			}
			metaURL := challenges[0].Params["resource_metadata"]
			if metaURL != middleware.MetadataURL(resource) {
				t.Fatalf("resource_metadata %q, want %q", metaURL, middleware.MetadataURL(resource))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := oauthex.GetProtectedResourceMetadata(ctx, metaURL, resource, http.DefaultClient)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.AuthorizationServers) != 1 || m.AuthorizationServers[0] != p.Issuer || m.Resource != resource {
				t.Fatalf("metadata %+v, want the provider %s for %s", m, p.Issuer, resource)
			}
			if want := []string{"notes:read", "notes:write", "transfers:write"}; !slices.Equal(m.ScopesSupported, want) {
				t.Fatalf("scopes_supported %v, want %v", m.ScopesSupported, want)
			}
		})
	}
}
