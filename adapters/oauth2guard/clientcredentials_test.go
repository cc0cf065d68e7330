package oauth2guard_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// ccAPI is an API whose resource is its own URL + "/api", behind a Guard
// that names its metadata; /api/write needs notes:write.
func ccAPI(t *testing.T) (*jwkstest.Issuer, *httptest.Server, string) {
	t.Helper()
	iss := jwkstest.NewIssuer()
	t.Cleanup(iss.Close)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	resource := srv.URL + "/api"
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{resource}, middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject + " " + strings.Join(c.Audience, ",")))
	})
	mux := http.NewServeMux()
	mux.Handle("/api", g.Handler(who))
	mux.Handle("/api/write", g.Require(middleware.Scopes("notes:write"))(who))
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	h = mux
	return iss, srv, resource
}

// drive does what an SDK transport does with an OAuthHandler: the token
// if there is one, and on a 401 or 403 Authorize and one retry.
func drive(t *testing.T, cc *oauth2guard.ClientCredentials, url string) (*http.Response, error) {
	t.Helper()
	do := func() (*http.Request, *http.Response) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if ts, _ := cc.TokenSource(context.Background()); ts != nil {
			tok, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			tok.SetAuthHeader(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return req, resp
	}
	req, resp := do()
	if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusForbidden {
		return resp, nil
	}
	if err := cc.Authorize(context.Background(), req, resp); err != nil {
		return nil, err
	}
	_, resp = do()
	return resp, nil
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return b.String()
}

func TestClientCredentialsDiscoversAndRenews(t *testing.T) {
	iss, _, resource := ccAPI(t)
	cc := oauth2guard.NewClientCredentials(nil, "machine", "", "notes:read")
	resp, err := drive(t, cc, resource)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != 200 || got != "user-123 "+resource {
		t.Fatalf("first call: %d %q", resp.StatusCode, got)
	}
	ts, _ := cc.TokenSource(context.Background())
	first, _ := ts.Token()

	// The server says the token expired: a new one, for the same resource.
	expired := iss.Mint(jwkstest.WithClaim("aud", resource), jwkstest.WithExpiresIn(-time.Hour))
	req, _ := http.NewRequest(http.MethodGet, resource, nil)
	req.Header.Set("Authorization", "Bearer "+expired)
	refused, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if !oauth2guard.IsExpiredHint(refused) {
		t.Fatalf("not the hint: %d", refused.StatusCode)
	}
	if err := cc.Authorize(context.Background(), req, refused); err != nil {
		t.Fatal(err)
	}
	ts, _ = cc.TokenSource(context.Background())
	second, _ := ts.Token()
	if second.AccessToken == first.AccessToken {
		t.Fatal("the expired hint did not bring a new token")
	}
}

func TestClientCredentialsRefusals(t *testing.T) {
	_, srv, resource := ccAPI(t)
	cc := oauth2guard.NewClientCredentials(nil, "machine", "", "notes:read")
	if resp, err := drive(t, cc, resource); err != nil || resp.StatusCode != 200 {
		t.Fatalf("discovery: %v", err)
	}
	_, err := drive(t, cc, resource+"/write")
	if !errors.Is(err, oauth2guard.ErrInsufficientScope) || !strings.Contains(err.Error(), `"notes:write"`) {
		t.Fatalf("403: %v", err)
	}
	// A URL whose metadata names another resource is not given a token.
	other := oauth2guard.NewClientCredentials(nil, "machine", "")
	if _, err := drive(t, other, srv.URL+"/api/write?x=1"); !errors.Is(err, oauth2guard.ErrResourceMismatch) {
		t.Fatalf("another resource's metadata: %v", err)
	}
}
