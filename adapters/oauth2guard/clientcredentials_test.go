package oauth2guard_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
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
	// As if it were the client's own token that expired: the first
	// refusal of a token gets a new one, however young.
	req.Header.Set("Authorization", "Bearer "+first.AccessToken)
	if err := cc.Authorize(context.Background(), req, refused); err != nil {
		t.Fatal(err)
	}
	ts, _ = cc.TokenSource(context.Background())
	second, _ := ts.Token()
	if second.AccessToken == first.AccessToken {
		t.Fatal("the expired hint did not bring a new token")
	}

	// A request refused with the token before: retry with the current
	// one, without asking for another.
	req.Header.Set("Authorization", "Bearer "+expired)
	again, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+first.AccessToken)
	if err := cc.Authorize(context.Background(), req, again); err != nil {
		t.Fatal(err)
	}
	ts, _ = cc.TokenSource(context.Background())
	if third, _ := ts.Token(); third.AccessToken != second.AccessToken {
		t.Error("a refusal of the token before brought yet another token")
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

// routedClient sends each host:port of routes to the address it maps to,
// so that a test can use names that are not loopback (loopback may use
// plain http); it trusts any certificate.
func routedClient(routes map[string]string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := routes[addr]; ok {
				addr = to
			}
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
}

// An https API whose metadata names an authorization server over plain
// http (or whose https authorization server names an http token
// endpoint, or redirects to http): the client secret is never sent, and
// Authorize says why.
func TestClientCredentialsSendsTheSecretOnlyOverHTTPS(t *testing.T) {
	for _, tc := range []struct{ name, issuer, tokenURL, want string }{
		{"http issuer", "http://as.example.net", "https://as.example.net/token", `authorization server "http://as.example.net" must be https`},
		{"http token endpoint", "https://as.example.net", "http://as.example.net/token", `names token_endpoint "http://as.example.net/token", which is not https`},
		{"token endpoint redirecting to http", "https://as.example.net", "https://as.example.net/moved", "authorization server redirect to http://as.example.net/token: not https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var secrets atomic.Int32
			as := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.URL.Path {
				case "/.well-known/oauth-authorization-server":
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, tc.issuer, tc.tokenURL)
				case "/moved":
					http.Redirect(w, r, "http://as.example.net/token", http.StatusTemporaryRedirect)
				case "/token":
					if _, pw, ok := r.BasicAuth(); ok && pw == "s3cret" {
						secrets.Add(1)
					}
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprint(w, `{"access_token":"at","token_type":"Bearer","expires_in":3600}`)
				}
			})
			plain, tlsAS := httptest.NewServer(as), httptest.NewTLSServer(as)
			t.Cleanup(plain.Close)
			t.Cleanup(tlsAS.Close)
			api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/.well-known/oauth-protected-resource/api" {
					w.Header().Set("Content-Type", "application/json")
					fmt.Fprintf(w, `{"resource":"https://api.example.net/api","authorization_servers":[%q]}`, tc.issuer)
					return
				}
				w.Header().Set("WWW-Authenticate", `Bearer resource_metadata="https://api.example.net/.well-known/oauth-protected-resource/api"`)
				w.WriteHeader(http.StatusUnauthorized)
			}))
			t.Cleanup(api.Close)
			client := routedClient(map[string]string{
				"api.example.net:443": api.Listener.Addr().String(),
				"as.example.net:443":  tlsAS.Listener.Addr().String(),
				"as.example.net:80":   plain.Listener.Addr().String(),
			})
			cc := oauth2guard.NewClientCredentials(client, "machine", "s3cret")
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.net/api", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			err = cc.Authorize(context.Background(), req, resp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Authorize: %v, want an error saying %s", err, tc.want)
			}
			if n := secrets.Load(); n != 0 {
				t.Errorf("the client secret was sent %d times", n)
			}
		})
	}
}

// ResourceMetadataURL reads a DPoP challenge too, but ClientCredentials
// gets bearer tokens: from an API that names its metadata for DPoP alone
// it asks for nothing (a bearer token would be refused, and each refusal
// would cost a token request), and says why.
func TestClientCredentialsDoNotDiscoverFromADPoPOnlyChallenge(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	cc := oauth2guard.NewClientCredentials(nil, "machine", "")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Body: http.NoBody, Header: http.Header{"Www-Authenticate": {
		`DPoP algs="ES256", resource_metadata="` + srv.URL + `/.well-known/oauth-protected-resource/api"`}}}
	err := cc.Authorize(context.Background(), req, resp)
	if err == nil || !strings.Contains(err.Error(), "resource_metadata on a DPoP challenge alone") {
		t.Fatalf("Authorize: %v, want an error saying the metadata is named for DPoP alone", err)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests made from a DPoP-only challenge, want none", n)
	}
}

// Requests refused at once with the expired hint share one token
// request, and TokenSource does not wait for it.
func TestClientCredentialsShareOneTokenRequest(t *testing.T) {
	var tokens atomic.Int32
	release := make(chan struct{})
	srv := selfServer(t, func(w http.ResponseWriter) {
		if n := tokens.Add(1); n > 1 {
			<-release // the renewal, held until the test has looked
		}
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, tokens.Load())
	}, nil)
	refusal := func(challenge string) *http.Response {
		return &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": {challenge}}, Body: http.NoBody}
	}
	cc := oauth2guard.NewClientCredentials(nil, "machine", "")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
	if err := cc.Authorize(context.Background(), req, refusal(`Bearer resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/api"`)); err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer at-1")

	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() {
			errs <- cc.Authorize(context.Background(), req, refusal(`Bearer error="invalid_token", error_description="The access token expired"`))
		}()
	}
	for tokens.Load() < 2 {
		runtime.Gosched() // until the renewal has reached the endpoint
	}
	got := make(chan string, 1)
	go func() {
		ts, _ := cc.TokenSource(context.Background())
		tok, _ := ts.Token()
		got <- tok.AccessToken
	}()
	select {
	case tok := <-got:
		if tok != "at-1" {
			t.Errorf("TokenSource during the renewal: %q, want the token before it", tok)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("TokenSource waits for the token request")
	}
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := tokens.Load(); got != 2 {
		t.Errorf("%d requests refused with one expired token made %d token requests, want 1", n, got-1)
	}
}

// selfServer is one server as resource (/api, answered by api; nil
// answers nothing), its metadata, and its own authorization server, whose
// token endpoint token answers.
func selfServer(t *testing.T, token func(http.ResponseWriter), api http.HandlerFunc) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-protected-resource/api":
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, srv.URL+"/api", srv.URL)
		case "/.well-known/oauth-authorization-server":
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, srv.URL, srv.URL+"/token")
		case "/token":
			token(w)
		default:
			if api != nil {
				api(w, r)
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// laterClock gives cc a clock that the test moves on by hand, in
// nanoseconds from now.
func laterClock(cc *oauth2guard.ClientCredentials) *atomic.Int64 {
	var later atomic.Int64
	start := time.Now()
	oauth2guard.SetClock(cc, func() time.Time { return start.Add(time.Duration(later.Load())) })
	return &later
}

// An API that refuses every token it is given (here: configured for
// another resource than its metadata names) costs the authorization
// server two token requests per DefaultRefreshCooldown, not one per call:
// the first refusal of a token gets a new one (its key may have been
// withdrawn), a refusal of that one waits for the cooldown.
func TestClientCredentialsCooldown(t *testing.T) {
	var tokens, lifetime atomic.Int32
	lifetime.Store(3600)
	var srv *httptest.Server
	srv = selfServer(t, func(w http.ResponseWriter) {
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":%d}`, tokens.Add(1), lifetime.Load())
	}, func(w http.ResponseWriter, _ *http.Request) { // every token refused
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/api"`)
		w.WriteHeader(http.StatusUnauthorized)
	})
	cc := oauth2guard.NewClientCredentials(nil, "machine", "")
	clock := laterClock(cc)
	refused := func(what string) {
		t.Helper()
		if resp, err := drive(t, cc, srv.URL+"/api"); err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: %v, %v", what, resp, err)
		}
	}
	refused("first call, the discovery's token") // at-1
	refused("its first refusal, a new token")    // at-2
	for i := range 5 {
		if _, err := drive(t, cc, srv.URL+"/api"); !errors.Is(err, oauth2guard.ErrRefusedNewToken) {
			t.Fatalf("call %d within the cooldown: %v, want ErrRefusedNewToken", i, err)
		}
	}
	if got := tokens.Load(); got != 2 {
		t.Fatalf("%d token requests within the cooldown, want 2", got)
	}
	clock.Add(int64(oauth2guard.DefaultRefreshCooldown))
	refused("after the cooldown") // at-3
	if got := tokens.Load(); got != 3 {
		t.Fatalf("%d token requests after the cooldown, want 3", got)
	}
	// A token that has outlived its own expires_in is renewed at once,
	// however young: a token endpoint may issue tokens of seconds.
	lifetime.Store(1)
	clock.Add(int64(oauth2guard.DefaultRefreshCooldown))
	refused("a token of 1 s") // at-4
	clock.Add(int64(2 * time.Second))
	refused("a young token past its expires_in") // at-5
	if got := tokens.Load(); got != 5 {
		t.Fatalf("%d token requests, want 5", got)
	}
}

// A token renewed on the expired hint, an hour after the one before, is
// no replacement: when its signing key is withdrawn seconds later, its
// first refusal gets a new token, which passes. Found by a review: every
// token after the first was held by the cooldown.
func TestClientCredentialsRenewedTokenOfAWithdrawnKey(t *testing.T) {
	var skew atomic.Int64 // the API's and issuer's clock, ahead of real time
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	iss := jwkstest.NewIssuer(jwkstest.WithClock(clock), jwkstest.WithTokenLifetime(time.Hour))
	t.Cleanup(iss.Close)
	var h http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	resource := srv.URL + "/api"
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{resource},
		middleware.WithResourceMetadata(middleware.ResourceMetadata{}), middleware.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	mux := http.NewServeMux()
	mux.Handle("/api", g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
	mux.Handle(middleware.WellKnownResource+"/", g.MetadataHandler())
	h = mux

	cc := oauth2guard.NewClientCredentials(nil, "machine", "", "notes:read")
	ccClock := laterClock(cc)
	if resp, err := drive(t, cc, resource); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first call: %v %v", resp, err)
	}
	// An hour and more passes at the API: its token expired, the hint
	// brings a new one (the client's own clock is not what matters here).
	skew.Store(int64(61 * time.Minute))
	ccClock.Add(int64(oauth2guard.DefaultRefreshCooldown + time.Second)) // at-1 is not young
	if resp, err := drive(t, cc, resource); err != nil || resp.StatusCode != 200 {
		t.Fatalf("renewal on the expired hint: %v %v", resp, err)
	}
	// Seconds later, an emergency rotation withdraws the signing key.
	iss.RemoveKey(iss.SigningKID("RS256"))
	fresh := iss.Mint(jwkstest.WithClaim("aud", resource))
	req, _ := http.NewRequest(http.MethodGet, resource, nil)
	req.Header.Set("Authorization", "Bearer "+fresh)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a token of the new key: %v %v", resp, err)
	}
	resp, err := drive(t, cc, resource)
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("first refusal of the renewed token (key withdrawn): %v %v; a new token would pass", resp, err)
	}
}

// The API refuses the client's token and the token endpoint then fails:
// for a second the failure is answered again, not asked again, so a
// failing authorization server is not asked once per call (it was, with
// discovery too: found by a review).
func TestClientCredentialsFailingTokenEndpointIsNotAskedPerCall(t *testing.T) {
	var tokens, meta, fail atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-protected-resource/api":
			meta.Add(1)
			fmt.Fprintf(w, `{"resource":%q,"authorization_servers":[%q]}`, srv.URL+"/api", srv.URL)
		case "/.well-known/oauth-authorization-server":
			meta.Add(1)
			fmt.Fprintf(w, `{"issuer":%q,"token_endpoint":%q}`, srv.URL, srv.URL+"/token")
		case "/token":
			n := tokens.Add(1)
			if fail.Load() != 0 {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error":"server_error"}`)
				return
			}
			fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
		default:
			if r.Header.Get("Authorization") == "Bearer at-1" && fail.Load() == 0 {
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", resource_metadata="`+srv.URL+`/.well-known/oauth-protected-resource/api"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	cc := oauth2guard.NewClientCredentials(nil, "machine", "")
	if resp, err := drive(t, cc, srv.URL+"/api"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first: %v %v", resp, err)
	}
	fail.Store(1) // key withdrawn and the AS failing
	before, metaBefore := tokens.Load(), meta.Load()
	for range 20 {
		_, _ = drive(t, cc, srv.URL+"/api")
	}
	if got := tokens.Load() - before; got > 2 {
		t.Errorf("20 calls made %d token requests and %d metadata requests to a failing authorization server", got, meta.Load()-metaBefore)
	}
}
