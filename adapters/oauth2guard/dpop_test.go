package oauth2guard_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/internal/dpop"
	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// dpopWorld is a jwtguard API that requires DPoP nonces, and a token
// endpoint that binds tokens to the key of the proof it is sent (cnf.jkt)
// and asks for its own nonce first, as RFC 9449 §8 describes.
type dpopWorld struct {
	iss       *jwkstest.Issuer
	api       *httptest.Server
	tokenURL  string
	apiCalls  atomic.Int32
	tokenHits atomic.Int32
	lifetime  atomic.Int64 // of the tokens the endpoint issues, in seconds
}

func newDPoPWorld(t *testing.T) *dpopWorld {
	t.Helper()
	w := &dpopWorld{}
	w.lifetime.Store(3600)
	w.iss = jwkstest.NewIssuer(jwkstest.WithAudience("https://api.test"))
	t.Cleanup(w.iss.Close)
	g, err := middleware.New(w.iss.NewCache(), w.iss.URL(), []string{"https://api.test"}, middleware.WithDPoPNonce(nil, 0))
	if err != nil {
		t.Fatal(err)
	}
	me := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "ok") })
	w.api = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.apiCalls.Add(1)
		g.Handler(me).ServeHTTP(rw, r)
	}))
	t.Cleanup(w.api.Close)
	const asNonce = "as-nonce-1"
	token := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.tokenHits.Add(1)
		p, err := dpop.Parse(r.Header.Get("DPoP"), keyalg.Supported)
		if err != nil || p.HTM != "POST" || p.ATH != "" {
			http.Error(rw, `{"error":"invalid_dpop_proof"}`, http.StatusBadRequest)
			return
		}
		if p.Nonce != asNonce {
			rw.Header().Set("DPoP-Nonce", asNonce)
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusBadRequest)
			io.WriteString(rw, `{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}`)
			return
		}
		_ = r.ParseForm()
		if r.Form.Get("grant_type") != "refresh_token" || r.Form.Get("refresh_token") != "rt" {
			http.Error(rw, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		tok := w.iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithExpiresIn(time.Duration(w.lifetime.Load())*time.Second))
		rw.Header().Set("Content-Type", "application/json")
		json.NewEncoder(rw).Encode(map[string]any{"access_token": tok, "token_type": "DPoP", "expires_in": w.lifetime.Load(), "refresh_token": "rt"})
	}))
	t.Cleanup(token.Close)
	w.tokenURL = token.URL
	return w
}

func newDPoPKey(t *testing.T) *oauth2guard.DPoPKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := oauth2guard.NewDPoPKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// The whole life of a DPoP-bound token: obtained with a proof (after the
// authorization server's nonce), sent with proofs (after the API's
// nonce), refreshed with a proof on the expired hint, and still bound.
func TestDPoPTokenLife(t *testing.T) {
	w := newDPoPWorld(t)
	k := newDPoPKey(t)
	cfg := &oauth2.Config{ClientID: "cli", Endpoint: oauth2.Endpoint{TokenURL: w.tokenURL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, k.TokenClient(nil))
	first, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: "rt"}).Token()
	if err != nil {
		t.Fatal(err)
	}
	if first.TokenType != "DPoP" || w.tokenHits.Load() != 2 {
		t.Fatalf("token %q after %d token requests; want DPoP after 2 (the nonce retry)", first.TokenType, w.tokenHits.Load())
	}
	tr := oauth2guard.NewTransport(first, oauth2guard.ConfigRefresher(cfg), oauth2guard.WithDPoP(k), oauth2guard.WithRefreshCooldown(0))
	client := &http.Client{Transport: tr}
	get := func() (int, string) {
		t.Helper()
		resp, err := client.Get(w.api.URL + "/api/me?x=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != 200 || body != "ok" || w.apiCalls.Load() != 2 {
		t.Fatalf("first call: %d %q after %d API requests; want 200 after 2 (the nonce retry)", code, body, w.apiCalls.Load())
	}
	if code, _ := get(); code != 200 || w.apiCalls.Load() != 3 {
		t.Fatalf("second call: %d after %d API requests; want 200 after 3 (the nonce kept)", code, w.apiCalls.Load())
	}

	// An expired bound token: the hint comes on the DPoP challenge, the
	// refresh carries a proof, and the new token is bound to the same key.
	expired := &oauth2.Token{AccessToken: w.iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": k.JKT()}), jwkstest.WithExpiresIn(-time.Minute)),
		TokenType: "DPoP", RefreshToken: "rt", Expiry: time.Now().Add(time.Hour)}
	tr = oauth2guard.NewTransport(expired, oauth2guard.ConfigRefresher(cfg), oauth2guard.WithDPoP(k), oauth2guard.WithRefreshCooldown(0))
	client.Transport = tr
	if code, body := get(); code != 200 || body != "ok" || tr.Refreshes() != 1 {
		t.Fatalf("expired: %d %q after %d refreshes", code, body, tr.Refreshes())
	}
	if tr.Token().TokenType != "DPoP" {
		t.Errorf("refreshed token type %q", tr.Token().TokenType)
	}
}

// A Bearer token is sent as one even with a DPoP key; a token with no
// type is sent with DPoP.
func TestDPoPSchemeFollowsTokenType(t *testing.T) {
	var got []string
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		got = append(got, strings.Fields(r.Header.Get("Authorization"))[0]+" proof="+boolString(r.Header.Get("DPoP") != ""))
	}))
	defer api.Close()
	k := newDPoPKey(t)
	for _, typ := range []string{"Bearer", "bearer", "DPoP", ""} {
		tr := oauth2guard.NewTransport(&oauth2.Token{AccessToken: "t", TokenType: typ, Expiry: time.Now().Add(time.Hour)},
			func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(k))
		resp, err := (&http.Client{Transport: tr}).Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []string{"Bearer proof=false", "Bearer proof=false", "DPoP proof=true", "DPoP proof=true"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("schemes %q, want %q", got, want)
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// A server that keeps asking for a nonce gets one retry, not a loop; a
// nonce that is not an RFC 9449 NQCHAR string is never sent back.
func TestDPoPNonceRetryIsBounded(t *testing.T) {
	var calls atomic.Int32
	var lastNonce atomic.Value
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if p, err := dpop.Parse(r.Header.Get("DPoP"), keyalg.Supported); err == nil {
			lastNonce.Store(p.Nonce)
		}
		rw.Header().Set("DPoP-Nonce", "n"+strings.Repeat("x", int(n)))
		if r.URL.Path == "/bad" {
			rw.Header().Set("DPoP-Nonce", "bad nonce\"")
		}
		rw.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce"`)
		rw.WriteHeader(http.StatusUnauthorized)
	}))
	defer api.Close()
	tr := oauth2guard.NewTransport(&oauth2.Token{AccessToken: "t", TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(newDPoPKey(t)))
	resp, err := (&http.Client{Transport: tr}).Get(api.URL + "/loop")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || calls.Load() != 2 || lastNonce.Load() != "nx" {
		t.Fatalf("%d after %d calls, last nonce %v; want 401 after 2 with nonce nx", resp.StatusCode, calls.Load(), lastNonce.Load())
	}
	calls.Store(0)
	tr2 := oauth2guard.NewTransport(&oauth2.Token{AccessToken: "t", TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(newDPoPKey(t)))
	resp, err = (&http.Client{Transport: tr2}).Get(api.URL + "/bad")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls.Load() != 1 {
		t.Errorf("a malformed nonce caused a retry: %d calls", calls.Load())
	}
}

// Requests in flight when the nonce changes each get their one retry with
// it, though another request's answer stored it first. Found by a review.
func TestDPoPConcurrentRequestsEachRetryWithTheNonce(t *testing.T) {
	w := newDPoPWorld(t)
	k := newDPoPKey(t)
	tok := &oauth2.Token{AccessToken: w.iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": k.JKT()})), TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)}
	client := &http.Client{Transport: oauth2guard.NewTransport(tok, func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(k))}
	const n = 8
	codes := make(chan int, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			resp, err := client.Get(w.api.URL + "/api/me")
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	close(start)
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("a request that met the nonce with others in flight: %d", c)
		}
	}
}

// The token client keeps the nonce of every answer, its retry's too, as
// the Transport does: with a server that gives a new nonce with each
// token, only the first token request needs a retry. Found by a review.
func TestDPoPTokenClientKeepsTheNonceOfTheRetriedAnswer(t *testing.T) {
	var mu sync.Mutex
	cur, rounds := 1, 0
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		rounds++
		want := fmt.Sprint("n", cur)
		if p, err := dpop.Parse(r.Header.Get("DPoP"), keyalg.Supported); err != nil || p.Nonce != want {
			rw.Header().Set("DPoP-Nonce", want)
			rw.Header().Set("Content-Type", "application/json")
			rw.WriteHeader(http.StatusBadRequest)
			io.WriteString(rw, `{"error":"use_dpop_nonce"}`)
			return
		}
		cur++
		rw.Header().Set("DPoP-Nonce", fmt.Sprint("n", cur))
		rw.Header().Set("Content-Type", "application/json")
		io.WriteString(rw, `{"access_token":"at","token_type":"DPoP"}`)
	}))
	defer srv.Close()
	c := newDPoPKey(t).TokenClient(nil)
	for i := range 2 {
		resp, err := c.Post(srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("token request %d: %d, want 200", i, resp.StatusCode)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if rounds != 3 || cur != 3 {
		t.Errorf("two token requests took %d round trips (%d tokens), want 3 (2): the nonce the retry's answer gave was not kept", rounds, cur-1)
	}
}

// A token endpoint's 400 that carries a new DPoP-Nonce but another error
// (invalid_grant) reaches the caller whole, though only its start is read
// to tell, and closing it closes the base's body; x/oauth2 then finds its
// error code. Found by a review.
func TestDPoPTokenClientKeepsAnErrorBodyWhole(t *testing.T) {
	description := strings.Repeat("x", 5000)
	want := `{"error":"invalid_grant","error_description":"` + description + `"}`
	base := &cannedTokenEndpoint{body: want}
	req, _ := http.NewRequest("POST", "https://as.test/token", strings.NewReader("grant_type=refresh_token"))
	resp, err := newDPoPKey(t).TokenClient(base).Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(got) != want {
		t.Errorf("the 400's body: %d bytes (err %v), want the %d the server sent", len(got), err, len(want))
	}
	if base.calls != 1 || !base.sent.closed {
		t.Errorf("%d calls, the base's body closed %v; want 1 call and its body closed", base.calls, base.sent.closed)
	}

	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("DPoP-Nonce", "n1")
		rw.Header().Set("Content-Type", "application/json")
		rw.WriteHeader(http.StatusBadRequest)
		io.WriteString(rw, want)
	}))
	defer srv.Close()
	cfg := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: srv.URL, AuthStyle: oauth2.AuthStyleInParams}}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, newDPoPKey(t).TokenClient(nil)) // no nonce yet, as for a first refresh
	_, err = oauth2guard.ConfigRefresher(cfg)(ctx, &oauth2.Token{RefreshToken: "r"})
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("a refresh refused with invalid_grant: %T, want an *oauth2.RetrieveError", err)
	}
	if re.ErrorCode != "invalid_grant" || re.ErrorDescription != description {
		t.Errorf("a refresh refused with invalid_grant: ErrorCode %q, a %d-byte ErrorDescription; want invalid_grant and the %d bytes sent", re.ErrorCode, len(re.ErrorDescription), len(description))
	}
}

// cannedTokenEndpoint answers every request with a 400 carrying a
// DPoP-Nonce and body, and keeps the last body it gave.
type cannedTokenEndpoint struct {
	body  string
	calls int
	sent  *closeRecorder
}

func (c *cannedTokenEndpoint) RoundTrip(r *http.Request) (*http.Response, error) {
	c.calls++
	c.sent = &closeRecorder{Reader: strings.NewReader(c.body)}
	return &http.Response{
		StatusCode: http.StatusBadRequest,
		Header:     http.Header{"Dpop-Nonce": {"n1"}, "Content-Type": {"application/json"}},
		Body:       c.sent,
		Request:    r,
	}, nil
}

// htu names the Host a request is sent with, as the server sees it; and
// the token client closes the caller's body. Found by a review.
func TestDPoPProofFollowsHostAndTokenClientClosesBody(t *testing.T) {
	var htu string
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if p, err := dpop.Parse(r.Header.Get("DPoP"), keyalg.Supported); err == nil {
			htu = p.HTU
		}
	}))
	defer srv.Close()
	k := newDPoPKey(t)
	tr := oauth2guard.NewTransport(&oauth2.Token{AccessToken: "t", TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(k))
	req, _ := http.NewRequest("GET", srv.URL+"/api/me?x=1", nil)
	req.Host = "api.test"
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := "http://api.test/api/me"; htu != want {
		t.Errorf("htu %q, want %q", htu, want)
	}
	// User information never goes into htu (found by a review).
	req, _ = http.NewRequest("GET", strings.Replace(srv.URL, "http://", "http://client:s3cret@", 1)+"/api/me", nil)
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if strings.Contains(htu, "s3cret") || strings.Contains(htu, "@") {
		t.Errorf("htu %q carries the URL's user information", htu)
	}

	body := &closeRecorder{Reader: strings.NewReader("grant_type=client_credentials")}
	req, _ = http.NewRequest("POST", srv.URL+"/token", body)
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("grant_type=client_credentials")), nil
	}
	resp, err = k.TokenClient(nil).Transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !body.closed {
		t.Error("the token client did not close the request's own body")
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// A DPoPKey holds the nonces of at most 64 servers, whatever the servers
// send.
func TestDPoPKeyNoncesAreBounded(t *testing.T) {
	k := newDPoPKey(t)
	var servers []*httptest.Server
	for i := range 70 {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			rw.Header().Set("DPoP-Nonce", "n"+strings.Repeat("x", i+1))
		}))
		defer srv.Close()
		servers = append(servers, srv)
	}
	tr := oauth2guard.NewTransport(&oauth2.Token{AccessToken: "t", TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }, oauth2guard.WithDPoP(k))
	for _, srv := range servers {
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := oauth2guard.NoncesHeld(k); n > 64 {
		t.Errorf("the key holds %d servers' nonces, want at most 64", n)
	}
}

// A generated key signs ES256 proofs whose thumbprint is its JKT, and can
// be kept (Signer) and given back to NewDPoPKey for the same thumbprint.
func TestGenerateDPoPKey(t *testing.T) {
	k, err := oauth2guard.GenerateDPoPKey()
	if err != nil {
		t.Fatal(err)
	}
	proof, err := k.Proof("GET", "https://api.test/x", "tok")
	if err != nil {
		t.Fatal(err)
	}
	p, err := dpop.Parse(proof, []string{"ES256"})
	if err != nil || p.JKT != k.JKT() {
		t.Fatalf("proof %+v, %v; JKT %s", p, err, k.JKT())
	}
	again, err := oauth2guard.NewDPoPKey(k.Signer(), "")
	if err != nil || again.JKT() != k.JKT() {
		t.Errorf("the kept key's thumbprint %v, %v; want %s", again, err, k.JKT())
	}
}

// net/http's client sends a Request with no Method as GET, and the
// Transport sees "": its proof must say GET, or every such request is
// refused by an RFC 9449 server (htm "" matches nothing).
func TestDPoPProofOfAnEmptyMethodIsGET(t *testing.T) {
	w := newDPoPWorld(t)
	k := newDPoPKey(t)
	tok := w.iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": k.JKT()}), jwkstest.WithExpiresIn(time.Hour))
	noRefresh := func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, errors.New("no refresh") }
	tr := oauth2guard.NewTransport(&oauth2.Token{AccessToken: tok, TokenType: "DPoP", Expiry: time.Now().Add(time.Hour)},
		noRefresh, oauth2guard.WithDPoP(k))
	client := &http.Client{Transport: tr}
	for _, method := range []string{"", http.MethodGet} {
		req, err := http.NewRequest(http.MethodGet, w.api.URL+"/api/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Method = method
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Errorf("Method %q: %d %q %s", method, resp.StatusCode, resp.Header.Values("WWW-Authenticate"), body)
		}
	}
	proof, err := k.Proof("", w.api.URL+"/api/me", tok)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := dpop.Parse(proof, keyalg.Supported); err != nil {
		t.Errorf("DPoPKey.Proof with no method: %v", err)
	} else if p.HTM != http.MethodGet {
		t.Errorf("DPoPKey.Proof with no method: htm %q", p.HTM)
	}
}
