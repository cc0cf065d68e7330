package oauth2guard

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

const expiredChallenge = `Bearer realm="api", error="invalid_token", error_description="The access token expired"`

// authServer is a real token endpoint for the refresh_token grant. The N-th
// successful refresh returns access token at-N and refresh token rt-N.
type authServer struct {
	*httptest.Server
	calls atomic.Int64

	mu            sync.Mutex
	refreshTokens []string // the refresh_token of each call, in order

	fail        bool          // answer 400 invalid_grant
	omitRefresh bool          // do not return a refresh_token
	entered     chan struct{} // if non-nil, receives one value per call on entry
	gate        chan struct{} // if non-nil, each call waits for it to be closed
}

func newAuthServer(t *testing.T, setup func(*authServer)) *authServer {
	t.Helper()
	s := &authServer{}
	if setup != nil {
		setup(s)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) serve(w http.ResponseWriter, r *http.Request) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		<-s.gate
	}
	if r.Method != http.MethodPost || r.URL.Path != "/token" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n := s.calls.Add(1)
	s.mu.Lock()
	s.refreshTokens = append(s.refreshTokens, r.PostForm.Get("refresh_token"))
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("client_id") != "cli" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	if s.fail {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_grant","error_description":"refresh token revoked"}`)
		return
	}
	if s.omitRefresh {
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, n)
		return
	}
	fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-%d"}`, n, n)
}

func (s *authServer) config() *oauth2.Config {
	return &oauth2.Config{
		ClientID:     "cli",
		ClientSecret: "secret",
		// A fixed style: auto-detection would retry a refused refresh with
		// the other style, and the counts below would be off by one.
		Endpoint: oauth2.Endpoint{TokenURL: s.URL + "/token", AuthStyle: oauth2.AuthStyleInParams},
	}
}

func (s *authServer) sentRefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refreshTokens...)
}

// apiServer is a resource server: 401 with the expired hint for the tokens
// expired reports as expired, 200 "hello <token>" otherwise.
type apiServer struct {
	*httptest.Server
	calls atomic.Int64

	mu      sync.Mutex
	expired func(token string) bool
	tokens  []string // the access token of each call, in order
	bodies  []string // the request body of each call, in order
}

func newAPIServer(t *testing.T, expired ...string) *apiServer {
	t.Helper()
	set := map[string]bool{}
	for _, e := range expired {
		set[e] = true
	}
	s := &apiServer{expired: func(tok string) bool { return set[tok] }}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *apiServer) serve(w http.ResponseWriter, r *http.Request) {
	s.calls.Add(1)
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.tokens = append(s.tokens, tok)
	s.bodies = append(s.bodies, string(body))
	expired := s.expired
	s.mu.Unlock()
	if !ok || expired(tok) {
		w.Header().Set("WWW-Authenticate", expiredChallenge)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"invalid_token","error_description":"The access token expired"}`)
		return
	}
	fmt.Fprintf(w, "hello %s", tok)
}

// setExpired replaces the expiry rule; the handler may call it concurrently.
func (s *apiServer) setExpired(f func(token string) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = f
}

func (s *apiServer) seen() (tokens, bodies []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...), append([]string(nil), s.bodies...)
}

// trackingTransport records whether each response body was read to the end
// and closed, to check that a refused response is drained before a retry.
type trackingTransport struct {
	mu     sync.Mutex
	bodies []*trackedBody
}

type trackedBody struct {
	io.ReadCloser
	eof, closed bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.eof = true
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed = true
	return b.ReadCloser.Close()
}

func (tt *trackingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b := &trackedBody{ReadCloser: resp.Body}
	resp.Body = b
	tt.mu.Lock()
	tt.bodies = append(tt.bodies, b)
	tt.mu.Unlock()
	return resp, nil
}

// fakeClock is a Transport's clock that moves only when told to.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(tr *Transport) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	tr.now = func() time.Time { return time.Unix(0, c.ns.Load()) }
	return c
}

func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// liveToken is a token that is valid by the local clock.
func liveToken(access, refresh string) *oauth2.Token {
	return &oauth2.Token{AccessToken: access, TokenType: "Bearer", RefreshToken: refresh, Expiry: time.Now().Add(time.Hour)}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func TestExpiredHintRefreshesOnceAndRetriesOnce(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t, "at-0")
	base := &trackingTransport{}
	var hooks []string
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()),
		WithBase(base),
		WithOnRefresh(func(old, new *oauth2.Token) {
			hooks = append(hooks, old.AccessToken+"->"+new.AccessToken)
		}))

	req, err := http.NewRequest(http.MethodGet, api.URL+"/api/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Trace", "1")
	before := *req
	beforeHeader := req.Header.Clone()

	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	if body := readAll(t, resp); body != "hello at-1" {
		t.Errorf("body = %q, want %q", body, "hello at-1")
	}

	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if got := tr.Refreshes(); got != 1 {
		t.Errorf("Refreshes() = %d, want 1", got)
	}
	if got := as.sentRefreshTokens(); !reflect.DeepEqual(got, []string{"rt-0"}) {
		t.Errorf("refresh tokens sent = %q, want [rt-0]", got)
	}
	if got := api.calls.Load(); got != 2 {
		t.Errorf("API calls = %d, want 2", got)
	}
	if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0", "at-1"}) {
		t.Errorf("API saw tokens %q, want [at-0 at-1]", tokens)
	}
	if tok := tr.Token(); tok.AccessToken != "at-1" || tok.RefreshToken != "rt-1" {
		t.Errorf("Token() = %q/%q, want at-1/rt-1", tok.AccessToken, tok.RefreshToken)
	}
	if !reflect.DeepEqual(hooks, []string{"at-0->at-1"}) {
		t.Errorf("OnRefresh calls = %q, want [at-0->at-1]", hooks)
	}

	// The refused response was drained and closed before the retry.
	if len(base.bodies) != 2 {
		t.Fatalf("base saw %d responses, want 2", len(base.bodies))
	}
	if first := base.bodies[0]; !first.eof || !first.closed {
		t.Errorf("first response: drained=%v closed=%v, want both", first.eof, first.closed)
	}

	// The caller's request is untouched.
	if req.Header.Get("Authorization") != "" {
		t.Errorf("caller's request got Authorization %q", req.Header.Get("Authorization"))
	}
	if !reflect.DeepEqual(req.Header, beforeHeader) {
		t.Errorf("caller's header = %v, want %v", req.Header, beforeHeader)
	}
	if req.Method != before.Method || req.URL != before.URL || req.Body != before.Body || req.Context() != before.Context() {
		t.Error("caller's request fields changed")
	}
}

func TestOtherUnauthorizedPassesThrough(t *testing.T) {
	challenges := map[string]string{
		"/signature":  `Bearer realm="api", error="invalid_token", error_description="The access token signature is invalid"`,
		"/none":       "",
		"/lowercase":  `Bearer realm="api", error="invalid_token", error_description="the access token expired"`,
		"/short":      `Bearer realm="api", error="invalid_token", error_description="expired"`,
		"/no-error":   `Bearer realm="api", error_description="The access token expired"`,
		"/other-code": `Bearer realm="api", error="invalid_request", error_description="The access token expired"`,
		"/basic":      `Basic realm="api", error="invalid_token", error_description="The access token expired"`,
	}
	var apiCalls atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiCalls.Add(1)
		if c := challenges[r.URL.Path]; c != "" {
			w.Header().Set("WWW-Authenticate", c)
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, "refused "+r.URL.Path)
	}))
	defer api.Close()
	as := newAuthServer(t, nil)
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))
	client := &http.Client{Transport: tr}

	for path := range challenges {
		t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
			before := apiCalls.Load()
			resp, err := client.Get(api.URL + path)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != challenges[path] {
				t.Errorf("WWW-Authenticate = %q, want %q", got, challenges[path])
			}
			if body := readAll(t, resp); body != "refused "+path {
				t.Errorf("body = %q, want %q", body, "refused "+path)
			}
			if got := apiCalls.Load() - before; got != 1 {
				t.Errorf("API calls = %d, want 1", got)
			}
		})
	}
	if got := as.calls.Load(); got != 0 {
		t.Errorf("token endpoint calls = %d, want 0", got)
	}
	if got := tr.Refreshes(); got != 0 {
		t.Errorf("Refreshes() = %d, want 0", got)
	}
}

func TestNonReplayableBodyIsNotRetried(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t, "at-0")
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))

	req, err := http.NewRequest(http.MethodPost, api.URL+"/api/notes", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(strings.NewReader("payload")) // GetBody stays nil
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !IsExpiredHint(resp) {
		t.Errorf("status = %d, hint = %v; want the 401 hint passed through", resp.StatusCode, IsExpiredHint(resp))
	}
	if body := readAll(t, resp); !strings.Contains(body, "invalid_token") {
		t.Errorf("body = %q, want the API's error body", body)
	}
	if got := as.calls.Load(); got != 0 {
		t.Errorf("token endpoint calls = %d, want 0", got)
	}
	if got := api.calls.Load(); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
	if _, bodies := api.seen(); !reflect.DeepEqual(bodies, []string{"payload"}) {
		t.Errorf("API saw bodies %q, want [payload]", bodies)
	}
}

func TestReplayableBodyIsResent(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t, "at-0")
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))

	req, err := http.NewRequest(http.MethodPost, api.URL+"/api/notes", strings.NewReader(`{"note":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.GetBody == nil {
		t.Fatal("http.NewRequest did not set GetBody")
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "hello at-1" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "hello at-1")
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	tokens, bodies := api.seen()
	if !reflect.DeepEqual(tokens, []string{"at-0", "at-1"}) {
		t.Errorf("API saw tokens %q, want [at-0 at-1]", tokens)
	}
	if want := []string{`{"note":"hi"}`, `{"note":"hi"}`}; !reflect.DeepEqual(bodies, want) {
		t.Errorf("API saw bodies %q, want %q", bodies, want)
	}
}

func TestRetryRefusedAgainIsReturned(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t)
	api.setExpired(func(string) bool { return true }) // every token is "expired"
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))

	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/api/me")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if resp.StatusCode != http.StatusUnauthorized || !IsExpiredHint(resp) {
		t.Errorf("status = %d, want the second 401 with the hint", resp.StatusCode)
	}
	if body := readAll(t, resp); !strings.Contains(body, "expired") {
		t.Errorf("body = %q, want the API's error body", body)
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if got := api.calls.Load(); got != 2 {
		t.Errorf("API calls = %d, want 2", got)
	}
	if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0", "at-1"}) {
		t.Errorf("API saw tokens %q, want [at-0 at-1]", tokens)
	}
}

func TestConcurrentRequestsShareOneRefresh(t *testing.T) {
	const n = 50
	as := newAuthServer(t, nil)
	api := newAPIServer(t)
	// Hold every request carrying the stale token until all n have arrived,
	// so that all of them really are sent with it and refused.
	var stale atomic.Int64
	allIn := make(chan struct{})
	api.setExpired(func(tok string) bool {
		if tok != "at-0" {
			return false
		}
		if stale.Add(1) == n {
			close(allIn)
		}
		select {
		case <-allIn:
		case <-time.After(10 * time.Second):
		}
		return true
	})
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))
	client := &http.Client{Transport: tr}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			resp, err := client.Get(api.URL + "/api/me")
			if err != nil {
				errs <- err
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "hello at-1" {
				errs <- fmt.Errorf("got %d %q", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if got := tr.Refreshes(); got != 1 {
		t.Errorf("Refreshes() = %d, want 1", got)
	}
	if got := stale.Load(); got != n {
		t.Errorf("requests sent with the stale token = %d, want %d", got, n)
	}
	if got := api.calls.Load(); got != 2*n {
		t.Errorf("API calls = %d, want %d", got, 2*n)
	}
}

func TestRefreshFailureIsReturnedAsError(t *testing.T) {
	as := newAuthServer(t, func(s *authServer) { s.fail = true })
	api := newAPIServer(t, "at-0")
	base := &trackingTransport{}
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()), WithBase(base))

	req, err := http.NewRequest(http.MethodGet, api.URL+"/api/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("RoundTrip succeeded with %d, want an error", resp.StatusCode)
	}
	if resp != nil {
		t.Errorf("RoundTrip returned a response with its error")
	}
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Errorf("error %v does not wrap an invalid_grant *oauth2.RetrieveError", err)
	}
	if !strings.HasPrefix(err.Error(), "oauth2guard: refreshing token: ") {
		t.Errorf("error = %q, want the oauth2guard prefix", err)
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if got := api.calls.Load(); got != 1 {
		t.Errorf("API calls = %d, want 1 (no retry)", got)
	}
	if got := tr.Refreshes(); got != 0 {
		t.Errorf("Refreshes() = %d, want 0", got)
	}
	if tok := tr.Token(); tok.AccessToken != "at-0" || tok.RefreshToken != "rt-0" {
		t.Errorf("Token() = %q/%q, want the old at-0/rt-0 kept", tok.AccessToken, tok.RefreshToken)
	}
	if len(base.bodies) != 1 || !base.bodies[0].closed {
		t.Errorf("the 401's body was not closed")
	}
}

func TestLocallyExpiredTokenIsRefreshedBeforeSending(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t, "at-0")
	stale := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	tr := NewTransport(stale, ConfigRefresher(as.config()))

	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/api/me")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "hello at-1" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "hello at-1")
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-1"}) {
		t.Errorf("API saw tokens %q, want [at-1]", tokens)
	}
	if stale.AccessToken != "at-0" {
		t.Error("NewTransport's token argument was modified")
	}
}

func TestLocalRefreshFailureClosesRequestBody(t *testing.T) {
	as := newAuthServer(t, func(s *authServer) { s.fail = true })
	api := newAPIServer(t)
	stale := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	tr := NewTransport(stale, ConfigRefresher(as.config()))

	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, api.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.RoundTrip(req); err == nil {
		t.Fatal("RoundTrip succeeded, want an error")
	}
	if !body.closed {
		t.Error("request body not closed on error")
	}
	if got := api.calls.Load(); got != 0 {
		t.Errorf("API calls = %d, want 0", got)
	}
}

// A DPoP proof that cannot be signed (an HSM or KMS down) fails the
// request before anything is sent, and the request's body is closed as on
// any error: net/http's RoundTripper contract. Found by a review.
func TestProofFailureClosesRequestBody(t *testing.T) {
	api := newAPIServer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := NewDPoPKey(failingSigner{key}, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(&oauth2.Token{AccessToken: "at-0", TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, errors.New("no refresh") },
		WithDPoP(dk))

	body := &closeRecorder{Reader: strings.NewReader("payload")}
	req, err := http.NewRequest(http.MethodPost, api.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := tr.RoundTrip(req)
	if resp != nil || !errors.Is(err, errSignerDown) {
		t.Fatalf("RoundTrip with a signer that fails: %v, %v; want no response and the signer's error", resp, err)
	}
	if !body.closed {
		t.Error("request body not closed on error")
	}
	if got := api.calls.Load(); got != 0 {
		t.Errorf("API calls = %d, want 0", got)
	}
}

var errSignerDown = errors.New("HSM unavailable")

// failingSigner is a key whose Sign always fails.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errSignerDown
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRefreshKeepsRefreshTokenWhenNoneReturned(t *testing.T) {
	as := newAuthServer(t, func(s *authServer) { s.omitRefresh = true })
	api := newAPIServer(t, "at-0")
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))
	clock := newFakeClock(tr)
	client := &http.Client{Transport: tr}

	for _, want := range []string{"hello at-1", "hello at-2"} {
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if body := readAll(t, resp); body != want {
			t.Errorf("body = %q, want %q", body, want)
		}
		api.setExpired(func(tok string) bool { return tok != "at-2" }) // at-1 expires in turn
		clock.advance(DefaultRefreshCooldown)                          // ... once it is old enough to
	}
	if got := as.sentRefreshTokens(); !reflect.DeepEqual(got, []string{"rt-0", "rt-0"}) {
		t.Errorf("refresh tokens sent = %q, want [rt-0 rt-0]", got)
	}
	if tok := tr.Token(); tok.RefreshToken != "rt-0" {
		t.Errorf("Token().RefreshToken = %q, want rt-0", tok.RefreshToken)
	}
}

// The request that starts a refresh may give up; the refresh goes on for
// the others waiting on it.
func TestCancelledStarterDoesNotCancelSharedRefresh(t *testing.T) {
	as := newAuthServer(t, func(s *authServer) {
		s.entered = make(chan struct{}, 4)
		s.gate = make(chan struct{})
	})
	api := newAPIServer(t, "at-0")
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	aErr := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api.URL, nil)
		resp, err := tr.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		aErr <- err
	}()
	<-as.entered // A's refresh is at the token endpoint, held by the gate

	type result struct {
		status int
		body   string
		err    error
	}
	bRes := make(chan result, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get(api.URL)
		if err != nil {
			bRes <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bRes <- result{status: resp.StatusCode, body: string(b)}
	}()

	cancel()
	select {
	case err := <-aErr:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled request: err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancelled request still waiting for the refresh")
	}

	close(as.gate)
	r := <-bRes
	if r.err != nil || r.status != http.StatusOK || r.body != "hello at-1" {
		t.Errorf("waiting request: got %d %q %v, want 200 %q", r.status, r.body, r.err, "hello at-1")
	}
	if got := as.calls.Load(); got != 1 {
		t.Errorf("token endpoint calls = %d, want 1", got)
	}
	if got := tr.Refreshes(); got != 1 {
		t.Errorf("Refreshes() = %d, want 1", got)
	}
}

func TestConfigRefresherWithoutRefreshToken(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t)
	tr := NewTransport(nil, ConfigRefresher(as.config()))
	_, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err == nil || !strings.Contains(err.Error(), "no refresh token") {
		t.Errorf("err = %v, want a missing refresh token error", err)
	}
	if as.calls.Load() != 0 || api.calls.Load() != 0 {
		t.Errorf("calls: token endpoint %d, API %d; want 0, 0", as.calls.Load(), api.calls.Load())
	}
}

func TestRefreshFuncReturningNoToken(t *testing.T) {
	api := newAPIServer(t, "at-0")
	tr := NewTransport(liveToken("at-0", "rt-0"), func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		return &oauth2.Token{}, nil
	})
	_, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err == nil || !strings.Contains(err.Error(), "no access token") {
		t.Errorf("err = %v, want a no access token error", err)
	}
	if got := api.calls.Load(); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
}

func TestIsExpiredHint(t *testing.T) {
	const exp = `error="invalid_token", error_description="The access token expired"`
	tests := []struct {
		name   string
		status int
		values []string
		want   bool
	}{
		{"exact", 401, []string{expiredChallenge}, true},
		{"no realm", 401, []string{"Bearer " + exp}, true},
		{"reversed order", 401, []string{`Bearer error_description="The access token expired", realm="api", error="invalid_token"`}, true},
		{"scheme case", 401, []string{"bEaReR " + exp}, true},
		{"param name case", 401, []string{`Bearer ERROR="invalid_token", Error_Description="The access token expired"`}, true},
		{"token error value", 401, []string{`Bearer error=invalid_token, error_description="The access token expired"`}, true},
		{"bws around =", 401, []string{"Bearer error = \"invalid_token\",\terror_description\t=\"The access token expired\""}, true},
		{"empty list elements", 401, []string{`, Bearer error="invalid_token" , , error_description="The access token expired",, Basic realm="x",`}, true},
		{"escaped chars", 401, []string{`Bearer error="invalid\_token", error_description="The \access token \expired"`}, true},
		{"escaped quotes elsewhere", 401, []string{`Bearer realm="a \"quoted\", realm", ` + exp}, true},
		{"escaped quote in description", 401, []string{`Bearer error="invalid_token", error_description="The access token expired\""`}, false},
		{"after another challenge", 401, []string{`Basic realm="x", Bearer ` + exp}, true},
		{"before another challenge", 401, []string{`Bearer ` + exp + `, Basic realm="x"`}, true},
		{"after a token68 challenge", 401, []string{`Negotiate a87421000492aa874209af8bc028==, Bearer ` + exp}, true},
		{"after a bare scheme", 401, []string{`Negotiate, Bearer ` + exp}, true},
		{"second header", 401, []string{`Basic realm="x"`, `Bearer ` + exp}, true},
		{"first header", 401, []string{`Bearer ` + exp, `Basic realm="x"`}, true},
		{"garbage header then hint", 401, []string{`@@@ "`, `Bearer ` + exp}, true},
		{"hint on another scheme", 401, []string{`Basic realm="x", ` + exp}, false}, // the params belong to Basic
		{"bearer token68", 401, []string{`Bearer aW52YWxpZF90b2tlbg==`}, false},
		{"bearer bare", 401, []string{`Bearer`}, false},
		{"scheme prefix", 401, []string{"Bearerx " + exp}, false},
		{"other scheme", 401, []string{"MAC " + exp}, false},
		{"DPoP scheme (a DPoP-bound token expired)", 401, []string{"DPoP " + exp}, true},
		{"DPoP scheme after a bare Bearer", 401, []string{`Bearer realm="api"`, "DPoP " + exp}, true},
		{"description lower case", 401, []string{`Bearer error="invalid_token", error_description="the access token expired"`}, false},
		{"description trailing space", 401, []string{`Bearer error="invalid_token", error_description="The access token expired "`}, false},
		{"error value case", 401, []string{`Bearer error="Invalid_Token", error_description="The access token expired"`}, false},
		{"missing error", 401, []string{`Bearer error_description="The access token expired"`}, false},
		{"other error", 401, []string{`Bearer error="invalid_request", error_description="The access token expired"`}, false},
		{"duplicate error param", 401, []string{`Bearer error="insufficient_scope", ` + exp}, false},
		{"unterminated quote", 401, []string{`Bearer error="invalid_token", error_description="The access token expired`}, false},
		{"trailing garbage", 401, []string{`Bearer ` + exp + ` junk`}, false},
		{"missing comma", 401, []string{`Bearer error="invalid_token" error_description="The access token expired"`}, false},
		{"no value", 401, []string{`Bearer error=, error_description="The access token expired"`}, false},
		{"control char", 401, []string{"Bearer error=\"invalid_token\", error_description=\"The access\x01token expired\""}, false},
		{"garbage", 401, []string{`"=,=,"`}, false},
		{"only commas", 401, []string{`,,,`}, false},
		{"empty", 401, []string{""}, false},
		{"no header", 401, nil, false},
		{"403 with hint", 403, []string{expiredChallenge}, false},
		{"400 with hint", 400, []string{expiredChallenge}, false},
		{"200 with hint", 200, []string{expiredChallenge}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}}
			for _, v := range tt.values {
				resp.Header.Add("WWW-Authenticate", v)
			}
			if got := IsExpiredHint(resp); got != tt.want {
				t.Errorf("IsExpiredHint(%d, %q) = %v, want %v", tt.status, tt.values, got, tt.want)
			}
		})
	}
	if IsExpiredHint(nil) {
		t.Error("IsExpiredHint(nil) = true")
	}
}

// The parser splits the RFC 9110 §11.6.1 example correctly.
func TestParseChallengesRFCExample(t *testing.T) {
	got, _, _ := parseWithin(`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`)
	want := []challenge{
		{scheme: "Newauth", params: map[string]string{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
		{scheme: "Basic", params: map[string]string{"realm": "simple"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseChallenges = %+v, want %+v", got, want)
	}
}

// A redirect that leaves the origin of the caller's request gets no token,
// and its expired hint no refresh: http.Client strips Authorization on such
// hops, and the Transport must not add it back.
func TestTokenStaysWithItsOrigin(t *testing.T) {
	var strangerAuth atomic.Value
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strangerAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("WWW-Authenticate", expiredChallenge)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	t.Cleanup(stranger.Close)
	redirects := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, stranger.URL+"/steal", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			fmt.Fprintf(w, "final %s", r.Header.Get("Authorization"))
		}
	}))
	t.Cleanup(redirects.Close)
	as := newAuthServer(t, nil)
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))
	client := &http.Client{Transport: tr}

	resp, err := client.Get(redirects.URL + "/away")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want the stranger's 401 returned as it is", resp.StatusCode)
	}
	if got := strangerAuth.Load(); got != "" {
		t.Fatalf("the other origin received Authorization %q", got)
	}
	if n := as.calls.Load(); n != 0 {
		t.Fatalf("%d refreshes for another origin's expired hint, want 0", n)
	}
	// A redirect within the origin keeps the token.
	resp, err = client.Get(redirects.URL + "/here")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); body != "final Bearer at-0" {
		t.Fatalf("same-origin redirect: body = %q", body)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"https://api.example/x", "https://api.example/y?q", true},
		{"https://API.example:443/", "https://api.example/", true},
		{"http://api.example:80/", "http://api.example/", true},
		{"https://api.example/", "http://api.example/", false}, // a downgrade
		{"http://api.example/", "https://api.example/", false},
		{"https://api.example/", "https://api.example:8443/", false},
		{"https://api.example/", "https://evil.example/", false},
		{"https://api.example/", "https://api.example.evil.example/", false},
	} {
		a, _ := url.Parse(tc.a)
		b, _ := url.Parse(tc.b)
		if got := sameOrigin(a, b); got != tc.want {
			t.Errorf("sameOrigin(%s, %s) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// A server that calls every token expired cannot make every request cost a
// refresh: a token obtained within the cooldown is not refreshed again, and
// the 401 comes back to the caller; once the cooldown has passed, the hint
// is believed again.
func TestExpiredHintForAFreshTokenIsNotRefreshed(t *testing.T) {
	as := newAuthServer(t, nil)
	api := newAPIServer(t)
	api.setExpired(func(string) bool { return true })
	tr := NewTransport(liveToken("at-0", "rt-0"), ConfigRefresher(as.config()))
	clock := newFakeClock(tr)
	client := &http.Client{Transport: tr}
	for i := range 20 {
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		readAll(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || !IsExpiredHint(resp) {
			t.Fatalf("request %d: status %d, want the 401 with the hint returned", i, resp.StatusCode)
		}
	}
	if n := tr.Refreshes(); n != 1 {
		t.Fatalf("20 requests spent %d refreshes, want 1 (for the first token only)", n)
	}
	clock.advance(DefaultRefreshCooldown - time.Second)
	resp, _ := client.Get(api.URL)
	readAll(t, resp)
	if n := tr.Refreshes(); n != 1 {
		t.Fatalf("within the cooldown: %d refreshes, want 1", n)
	}
	clock.advance(time.Second)
	resp, _ = client.Get(api.URL)
	readAll(t, resp)
	if n := tr.Refreshes(); n != 2 {
		t.Fatalf("after the cooldown: %d refreshes, want 2", n)
	}
}

// A nil RefreshFunc or Option is a mistake of the set-up, said so there:
// NewTransport has no error to return.
func TestNewTransportPanicsOnNil(t *testing.T) {
	refresh := func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, nil }
	for _, tc := range []struct {
		name string
		new  func()
		want string
	}{
		{"nil RefreshFunc", func() { NewTransport(nil, nil) }, "oauth2guard: NewTransport with a nil RefreshFunc"},
		{"nil Option", func() { NewTransport(nil, refresh, WithRefreshCooldown(time.Second), nil) }, "oauth2guard: NewTransport with a nil Option"},
	} {
		func() {
			defer func() {
				if got := recover(); got != tc.want {
					t.Errorf("%s: recovered %v, want %q", tc.name, got, tc.want)
				}
			}()
			tc.new()
		}()
	}
}

// A RefreshFunc may hand back the token the server just refused (a token
// cache in front of the token endpoint, an authorization server whose clock
// still calls it valid). Sending it again would only earn the same 401:
// RoundTrip says that the refresh renewed nothing, and sends nothing more.
func TestRefreshReturningTheRefusedTokenIsNotResent(t *testing.T) {
	for name, refresh := range map[string]RefreshFunc{
		"the stale token itself": func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
			return stale, nil
		},
		"a new value of the same access token": func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return liveToken("at-0", "rt-1"), nil
		},
	} {
		t.Run(name, func(t *testing.T) {
			api := newAPIServer(t, "at-0")
			tr := NewTransport(liveToken("at-0", "rt-0"), refresh)
			resp, err := (&http.Client{Transport: tr}).Get(api.URL)
			if err == nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrTokenNotRenewed) {
				t.Fatalf("err = %v, want ErrTokenNotRenewed", err)
			}
			if got := api.calls.Load(); got != 1 {
				t.Errorf("API calls = %d, want 1: the refused token was sent again", got)
			}
		})
	}
}

// A token refused before the first send (expired by the local clock) that
// the refresh returns unchanged is still sent: only the server can say it
// is expired, and it has not yet.
func TestLocallyExpiredTokenReturnedUnchangedIsSent(t *testing.T) {
	api := newAPIServer(t)
	stale := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	tr := NewTransport(stale, func(_ context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		return old, nil
	})
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusOK || body != "hello at-0" {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, "hello at-0")
	}
}

// get sends a GET of url through tr and returns the error, closing any
// response.
func get(tr http.RoundTripper, url string) error {
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// Once a refresh has handed back the token the server refused, that token
// is not sent again: within the cooldown every request fails as the first
// did, with no call to the API; after it, a refresh comes first.
func TestTokenNotRenewedIsNotSentAgain(t *testing.T) {
	api := newAPIServer(t, "at-0")
	var refreshes atomic.Int64
	renewed := atomic.Bool{}
	tr := NewTransport(liveToken("at-0", "rt-0"), func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		n := refreshes.Add(1)
		if renewed.Load() {
			return liveToken("at-9", fmt.Sprintf("rt-%d", n)), nil
		}
		return liveToken("at-0", fmt.Sprintf("rt-%d", n)), nil
	})
	clk := newFakeClock(tr)
	if err := get(tr, api.URL); !errors.Is(err, ErrTokenNotRenewed) {
		t.Fatalf("first request: err = %v, want ErrTokenNotRenewed", err)
	}
	if err := get(tr, api.URL); !errors.Is(err, ErrTokenNotRenewed) {
		t.Fatalf("a request within the cooldown: err = %v, want ErrTokenNotRenewed", err)
	}
	if got, want := api.calls.Load(), int64(1); got != want {
		t.Errorf("API calls = %d, want %d: the refused token was sent again", got, want)
	}
	if got := refreshes.Load(); got != 1 {
		t.Errorf("refreshes = %d within the cooldown, want 1", got)
	}
	// The refresh may have rotated the refresh token: it is kept.
	if rt := tr.Token().RefreshToken; rt != "rt-1" {
		t.Errorf("refresh token = %q, want the rotated rt-1", rt)
	}

	// After the cooldown: refreshed before sending, and still not sent
	// while the refresh hands it back.
	clk.advance(DefaultRefreshCooldown)
	if err := get(tr, api.URL); !errors.Is(err, ErrTokenNotRenewed) {
		t.Fatalf("after the cooldown, the same token again: err = %v, want ErrTokenNotRenewed", err)
	}
	if got := api.calls.Load(); got != 1 || refreshes.Load() != 2 {
		t.Errorf("API calls = %d, refreshes = %d; want 1 and 2", got, refreshes.Load())
	}
	clk.advance(DefaultRefreshCooldown)
	renewed.Store(true)
	if err := get(tr, api.URL); err != nil {
		t.Fatalf("after the cooldown, a new token: %v", err)
	}
	if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0", "at-9"}) {
		t.Errorf("API saw %q, want [at-0 at-9]", tokens)
	}
	// A new token clears the mark: refused in its turn, it is refreshed.
	if err := get(tr, api.URL); err != nil {
		t.Fatalf("the new token: %v", err)
	}
}

// A token expired by the local clock that the refresh returned unchanged,
// and that the server then refuses, was not renewed either: that is the
// error, and it is not sent again within the cooldown.
func TestLocallyExpiredTokenReturnedUnchangedThenRefused(t *testing.T) {
	api := newAPIServer(t, "at-0")
	stale := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	tr := NewTransport(stale, func(_ context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		return old, nil
	})
	for i := range 2 {
		if err := get(tr, api.URL); !errors.Is(err, ErrTokenNotRenewed) {
			t.Fatalf("request %d: err = %v, want ErrTokenNotRenewed", i, err)
		}
	}
	if got := api.calls.Load(); got != 1 {
		t.Errorf("API calls = %d, want 1", got)
	}
}

// doneSignal is a context that says when someone first waits on it: usable
// waits on the request's context only while a refresh is under way.
type doneSignal struct {
	context.Context
	once    sync.Once
	waiting chan struct{}
}

func (c *doneSignal) Done() <-chan struct{} {
	c.once.Do(func() { close(c.waiting) })
	return c.Context.Done()
}

// roundTrip sends a GET of url with ctx through tr, and returns the error
// or, for any status but 200, one naming it.
func roundTrip(ctx context.Context, tr http.RoundTripper, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// A request that waits on the refresh of a refused token, and one that
// comes while the refresh hands its token out (WithOnRefresh runs then),
// do not send that token either when the refresh gives it back. Found by
// a review.
func TestNoRequestSendsATokenGivenBack(t *testing.T) {
	t.Run("waiting on the refresh", func(t *testing.T) {
		api := newAPIServer(t, "at-0")
		entered, gate := make(chan struct{}), make(chan struct{})
		tr := NewTransport(liveToken("at-0", "rt-0"), func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			close(entered)
			<-gate
			return liveToken("at-0", "rt-1"), nil
		})
		errA := make(chan error, 1)
		go func() { errA <- get(tr, api.URL) }()
		<-entered // A was refused, and its refresh runs
		ctx := &doneSignal{Context: context.Background(), waiting: make(chan struct{})}
		errB := make(chan error, 1)
		go func() { errB <- roundTrip(ctx, tr, api.URL) }()
		<-ctx.waiting // B waits on A's refresh
		close(gate)
		if err := <-errA; !errors.Is(err, ErrTokenNotRenewed) {
			t.Fatalf("A: %v, want ErrTokenNotRenewed", err)
		}
		if err := <-errB; !errors.Is(err, ErrTokenNotRenewed) {
			t.Fatalf("B: %v, want ErrTokenNotRenewed", err)
		}
		if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0"}) {
			t.Errorf("API saw %q, want [at-0]: the refused token was sent again", tokens)
		}
	})
	t.Run("between the refresh and its answer", func(t *testing.T) {
		api := newAPIServer(t, "at-0")
		var tr *Transport
		var errB error
		tr = NewTransport(liveToken("at-0", "rt-0"), func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			return liveToken("at-0", "rt-1"), nil
		}, WithOnRefresh(func(_, _ *oauth2.Token) { errB = get(tr, api.URL) }))
		if err := get(tr, api.URL); !errors.Is(err, ErrTokenNotRenewed) {
			t.Fatalf("A: %v, want ErrTokenNotRenewed", err)
		}
		if !errors.Is(errB, ErrTokenNotRenewed) {
			t.Fatalf("B: %v, want ErrTokenNotRenewed", errB)
		}
		if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0"}) {
			t.Errorf("API saw %q, want [at-0]: the refused token was sent again", tokens)
		}
	})
}

// A token that a refresh handed back unchanged and the server then
// refuses earns one more refresh, even within the cooldown: that refresh
// obtained nothing, and asked again, a cache with a smaller expiry margin
// than x/oauth2's gives a new token.
func TestTokenHandedBackThenRefusedIsRefreshedOnce(t *testing.T) {
	api := newAPIServer(t, "at-0")
	var refreshes atomic.Int64
	stale := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(-time.Minute)}
	tr := NewTransport(stale, func(_ context.Context, old *oauth2.Token) (*oauth2.Token, error) {
		if refreshes.Add(1) == 1 {
			return old, nil
		}
		return liveToken("at-1", "rt-1"), nil
	})
	if err := get(tr, api.URL); err != nil {
		t.Fatal(err)
	}
	if tokens, _ := api.seen(); !reflect.DeepEqual(tokens, []string{"at-0", "at-1"}) || refreshes.Load() != 2 {
		t.Errorf("API saw %q after %d refreshes, want [at-0 at-1] after 2", tokens, refreshes.Load())
	}
}
