package oauth2guard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// stepUpAPI is a jwtguard API whose /transfers needs MFA within 300 s, with
// resource metadata on, for the resource identifier it returns.
func stepUpAPI(t *testing.T) (*jwkstest.Issuer, *httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	resource := "http://" + srv.Listener.Addr().String() + "/api"
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(resource))
	t.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{resource}, middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	mux.Handle("/api/transfers", g.Require(middleware.ACR("urn:example:acr:mfa"), middleware.MaxAge(300*time.Second))(ok))
	mux.Handle("/api/level", g.Require(middleware.ACR("urn:example:acr:mfa", "urn:example:acr:hwk"))(ok))
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return iss, srv, resource
}

func TestStepUpIsAnErrorNotARefresh(t *testing.T) {
	iss, srv, _ := stepUpAPI(t)
	var refreshes atomic.Int32
	refresh := func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		refreshes.Add(1)
		return &oauth2.Token{AccessToken: iss.Mint(), Expiry: time.Now().Add(time.Hour)}, nil
	}
	for path, want := range map[string]oauth2guard.StepUpError{
		"/api/transfers": {ACRValues: []string{"urn:example:acr:mfa"}, MaxAge: 300 * time.Second, Description: "A different authentication level is required"},
		"/api/level":     {ACRValues: []string{"urn:example:acr:mfa", "urn:example:acr:hwk"}, MaxAge: -1, Description: "A different authentication level is required"},
	} {
		client := &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: iss.Mint(), Expiry: time.Now().Add(time.Hour)}, refresh)}
		resp, err := client.Post(srv.URL+path, "application/json", nil)
		var su *oauth2guard.StepUpError
		if !errors.As(err, &su) || resp != nil {
			t.Fatalf("%s: %v, %v; want a *StepUpError", path, resp, err)
		}
		if !slices.Equal(su.ACRValues, want.ACRValues) || su.MaxAge != want.MaxAge || su.Description != want.Description {
			t.Fatalf("%s: %+v, want %+v", path, *su, want)
		}
	}
	// MFA, but an old login: only max_age.
	old := iss.Mint(jwkstest.WithClaim("acr", "urn:example:acr:mfa"), jwkstest.WithClaim("auth_time", time.Now().Unix()-3600))
	client := &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: old, Expiry: time.Now().Add(time.Hour)}, refresh)}
	_, err := client.Post(srv.URL+"/api/transfers", "application/json", nil)
	var su *oauth2guard.StepUpError
	if !errors.As(err, &su) || su.ACRValues != nil || su.MaxAge != 300*time.Second || su.Description != "More recent authentication is required" {
		t.Fatalf("an old login: %v", err)
	}
	// And the step-up passes once the user logged in again.
	fresh := iss.Mint(jwkstest.WithClaim("acr", "urn:example:acr:mfa"), jwkstest.WithClaim("auth_time", time.Now().Unix()))
	client = &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: fresh, Expiry: time.Now().Add(time.Hour)}, refresh)}
	if resp, err := client.Post(srv.URL+"/api/transfers", "application/json", nil); err != nil || resp.StatusCode != 201 {
		t.Fatalf("after the new login: %v %v", resp, err)
	}
	if n := refreshes.Load(); n != 0 {
		t.Fatalf("%d refreshes for step-up challenges; a refresh cannot raise the level", n)
	}
}

func TestFetchResourceMetadata(t *testing.T) {
	iss, srv, resource := stepUpAPI(t)
	resp, err := http.Get(srv.URL + "/api/transfers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	metaURL, ok := oauth2guard.ResourceMetadataURL(resp)
	if !ok || metaURL != middleware.MetadataURL(resource) {
		t.Fatalf("resource_metadata %q (%v), want %q", metaURL, ok, middleware.MetadataURL(resource))
	}
	m, err := oauth2guard.FetchResourceMetadata(context.Background(), nil, metaURL, resource)
	if err != nil || m.Resource != resource || !slices.Equal(m.AuthorizationServers, []string{iss.URL()}) {
		t.Fatalf("FetchResourceMetadata: %+v, %v", m, err)
	}
	// A document for another resource: refused (RFC 9728 §3.3).
	if _, err := oauth2guard.FetchResourceMetadata(context.Background(), nil, metaURL, resource+"/other"); !errors.Is(err, oauth2guard.ErrResourceMismatch) {
		t.Fatalf("another resource's document: %v, want ErrResourceMismatch", err)
	}
	for name, u := range map[string]string{
		"no document there": srv.URL + middleware.WellKnownResource + "/nothing",
		"not a document":    srv.URL + "/api/transfers",
		"http off loopback": "http://metadata.example/.well-known/oauth-protected-resource",
		"not a URL":         "::",
	} {
		if _, err := oauth2guard.FetchResourceMetadata(context.Background(), nil, u, resource); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// resource_metadata is a WWW-Authenticate parameter of any scheme (RFC
// 9728 §5.1), and a jwtguard API under DPoPRequired sends it on its only,
// DPoP, challenge; a review found it read from Bearer challenges alone,
// so a client of that API found no metadata. Bearer comes first, DPoP
// next, in whatever order they are sent; no other scheme counts.
func TestResourceMetadataURLFromBearerOrDPoP(t *testing.T) {
	const resource = "https://api.example.com"
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(resource))
	t.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{resource},
		middleware.WithResourceMetadata(middleware.ResourceMetadata{}), middleware.WithDPoP(middleware.DPoPRequired))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	g.Handler(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("GET", resource+"/", nil))
	if u, ok := oauth2guard.ResourceMetadataURL(rec.Result()); !ok || u != middleware.MetadataURL(resource) {
		t.Fatalf("under DPoPRequired (%q): ResourceMetadataURL = %q, %v; want %q",
			rec.Result().Header.Values("WWW-Authenticate"), u, ok, middleware.MetadataURL(resource))
	}

	for _, tc := range []struct {
		fields []string
		want   string // "" for none
	}{
		{[]string{`Bearer resource_metadata="https://b.example/m"`}, "https://b.example/m"},
		{[]string{`DPoP algs="ES256", resource_metadata="https://d.example/m"`}, "https://d.example/m"},
		{[]string{`DPoP resource_metadata="https://d.example/m", Bearer resource_metadata="https://b.example/m"`}, "https://b.example/m"},
		{[]string{`DPoP resource_metadata="https://d.example/m"`, `Bearer resource_metadata="https://b.example/m"`}, "https://b.example/m"},
		{[]string{`DPoP resource_metadata="https://d.example/m", dpop resource_metadata="https://d2.example/m"`}, "https://d.example/m"},
		{[]string{`Bearer realm="api", DPoP resource_metadata="https://d.example/m"`}, "https://d.example/m"},
		{[]string{`Bearer resource_metadata="", DPoP resource_metadata="https://d.example/m"`}, "https://d.example/m"},
		{[]string{`Basic resource_metadata="https://x.example/m"`}, ""},
		{[]string{`DPoP resource_metadata=""`}, ""},
		{[]string{`Bearer realm="api"`}, ""},
	} {
		u, ok := oauth2guard.ResourceMetadataURL(&http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": tc.fields}})
		if u != tc.want || ok != (tc.want != "") {
			t.Errorf("ResourceMetadataURL(%q) = %q, %v; want %q", tc.fields, u, ok, tc.want)
		}
	}
}

// Found by a review: an expired token on a step-up route is refused for
// its age first; the renewed one, for its level. That second answer is a
// StepUpError too, not a response handed back as is.
func TestStepUpAfterARefresh(t *testing.T) {
	iss, srv, _ := stepUpAPI(t)
	var refreshes atomic.Int32
	refresh := func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		refreshes.Add(1)
		return &oauth2.Token{AccessToken: iss.Mint(), Expiry: time.Now().Add(time.Hour)}, nil
	}
	expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	client := &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: expired}, refresh)}
	resp, err := client.Post(srv.URL+"/api/transfers", "application/json", nil)
	var su *oauth2guard.StepUpError
	if !errors.As(err, &su) || resp != nil || refreshes.Load() != 1 {
		t.Fatalf("expired, then too weak: %v, %v, %d refreshes; want a StepUpError after one refresh", resp, err, refreshes.Load())
	}
}

func TestFetchResourceMetadataRefusesAPlainHTTPHop(t *testing.T) {
	_, srv, resource := stepUpAPI(t)
	// A TLS front that redirects to plain http off loopback.
	front := httptest.NewTLSServer(http.RedirectHandler("http://metadata.example/doc", http.StatusFound))
	defer front.Close()
	_, err := oauth2guard.FetchResourceMetadata(context.Background(), front.Client(), front.URL+"/.well-known/oauth-protected-resource", resource)
	if err == nil {
		t.Fatal("a redirect to plain http was followed")
	}
	// To loopback http it is fine (development).
	loop := httptest.NewTLSServer(http.RedirectHandler(srv.URL+middleware.WellKnownResource+"/api", http.StatusFound))
	defer loop.Close()
	if _, err := oauth2guard.FetchResourceMetadata(context.Background(), loop.Client(), loop.URL+"/x", resource); err != nil {
		t.Fatalf("a redirect to loopback http: %v", err)
	}
}

func TestStepUpParsing(t *testing.T) {
	for field, want := range map[string]*oauth2guard.StepUpError{
		`DPoP realm="api", error="insufficient_user_authentication", acr_values="mfa"`:    {ACRValues: []string{"mfa"}, MaxAge: -1},
		`Bearer error="insufficient_user_authentication", acr_values=""`:                  {MaxAge: -1},
		`Bearer error="insufficient_user_authentication", max_age="abc"`:                  nil,
		`Bearer error="insufficient_user_authentication", max_age="99999999999999999999"`: nil,
		`Bearer error="invalid_token", error_description="The access token expired"`:      nil,
		`Basic realm="x", Bearer error="insufficient_user_authentication", max_age="60"`:  {MaxAge: time.Minute},
	} {
		got, ok := oauth2guard.StepUp(&http.Response{StatusCode: 401, Header: http.Header{"Www-Authenticate": {field}}})
		if (want == nil) != !ok || ok && (!slices.Equal(got.ACRValues, want.ACRValues) || got.MaxAge != want.MaxAge) {
			t.Errorf("StepUp(%q) = %+v, %v; want %+v", field, got, ok, want)
		}
	}
}
