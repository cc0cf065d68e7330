package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// DefaultTokenLife is the access-token lifetime of the walk-through: short,
// so that it expires while you watch. Not shorter: exp is whole seconds, so
// a refreshed token may live a second less than this, and the retry and the
// next call must both land inside it even on a loaded machine.
const DefaultTokenLife = 3 * time.Second

const audience = "https://api.example.com"

// Exchange is one HTTP exchange the client made, as the client saw it.
type Exchange struct {
	To        string // "API" or "authorization server"
	Method    string
	Path      string
	Status    int
	Challenge string // WWW-Authenticate, if any
}

// Report is what happened, for the test to check.
type Report struct {
	Exchanges   []Exchange
	Refreshes   int64                    // refresh-token grants the client made
	FirstKID    string                   // signing key before the rotation
	RotatedKID  string                   // signing key after it
	JWKSFetches int64                    // JWKS requests the API made, in all
	APIRequests int64                    // requests the API verified locally
	StepUp      *oauth2guard.StepUpError // what the transfer with a password login was asked for
	// The DPoP variant: the type of the bound token, what a stolen copy
	// sent as a bearer token got, and the bound token's refreshes.
	DPoPTokenType string
	StolenStatus  int
	DPoPRefreshes int64
}

// Run plays the walk-through, printing each step to out.
func Run(ctx context.Context, out io.Writer, life time.Duration) (*Report, error) {
	rep := &Report{}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	// The authorization server, and the API that trusts it.
	if life <= 0 {
		return nil, fmt.Errorf("quickstart: token lifetime must be positive, got %v", life)
	}
	iss := jwkstest.NewIssuer(jwkstest.WithTokenLifetime(life), jwkstest.WithAudience(audience))
	defer iss.Close()
	cfg := exampleapp.Config{Issuers: []string{iss.URL()}, Audience: audience, AdminAudience: audience + "/admin", Leeway: 0}
	app, err := exampleapp.New(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer app.Close()
	var apiRequests atomic.Int64
	h := app.NetHTTPHandler()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiRequests.Add(1)
		h.ServeHTTP(w, r)
	}))
	defer api.Close()
	say("setup: authorization server at %s, API at %s (access tokens live %v, no leeway)", iss.URL(), api.URL, life)

	// Every exchange the client makes is printed as it happens.
	record := func(to string) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				return nil, err
			}
			ex := Exchange{To: to, Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Challenge: resp.Header.Get("WWW-Authenticate")}
			mu.Lock()
			rep.Exchanges = append(rep.Exchanges, ex)
			mu.Unlock()
			what := resp.Status
			if ex.Challenge != "" {
				what += ` (WWW-Authenticate: ` + ex.Challenge + `)`
			}
			if to == "authorization server" && req.Body != nil && req.GetBody != nil {
				if b, err := req.GetBody(); err == nil {
					form, _ := io.ReadAll(b)
					if v, err := url.ParseQuery(string(form)); err == nil {
						what = "(grant_type=" + v.Get("grant_type") + ") → " + what
					}
				}
			}
			sep := " → "
			if strings.HasPrefix(what, "(") {
				sep = " "
			}
			say("client → %s: %s %s%s%s", to, req.Method, req.URL.Path, sep, what)
			return resp, nil
		})
	}
	tokenCtx := context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: record("authorization server")})

	// 1. The client gets an access token and a refresh token.
	cc := clientcredentials.Config{ClientID: "quickstart", TokenURL: iss.TokenURL(), Scopes: []string{"notes:read"},
		EndpointParams: url.Values{"resource": {audience}}}
	tok, err := cc.Token(tokenCtx)
	if err != nil {
		return nil, fmt.Errorf("getting a token: %w", err)
	}
	rep.FirstKID = iss.SigningKID("RS256")
	say("authorization server → client: access token (scope %q, expires in %v, signed with key %s) and a refresh token",
		"notes:read", time.Until(tok.Expiry).Round(time.Second), rep.FirstKID)

	// This client does not track expiry (many don't, and clocks drift): the
	// API is the one to tell it, with the expired hint.
	expiry := tok.Expiry
	tok.Expiry = time.Time{}
	refresh := oauth2guard.ConfigRefresher(&oauth2.Config{ClientID: "quickstart", Endpoint: oauth2.Endpoint{TokenURL: iss.TokenURL()}})
	tr := oauth2guard.NewTransport(tok, func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		n, err := refresh(tokenCtx, stale) // token-endpoint calls go through the recording client
		if n != nil {
			n.Expiry = time.Time{}
		}
		return n, err
	}, oauth2guard.WithBase(record("API")), oauth2guard.WithOnRefresh(func(_, _ *oauth2.Token) {
		say("client: the hint said expired, so it used its refresh token; new access token in hand, retrying once")
	}))
	client := &http.Client{Transport: tr}
	call := func(method, path string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, method, api.URL+path, strings.NewReader(`{"text":"hello"}`))
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	// 2. The client calls the API; the API checks the token locally.
	if err := app.Keys[0].WaitReady(ctx); err != nil {
		return nil, err
	}
	if _, err := call("GET", "/api/me"); err != nil {
		return nil, err
	}

	// 3. The token expires; the API says so; the client refreshes and retries.
	say("… %v pass: the access token expires …", life)
	if err := sleepPast(ctx, expiry); err != nil {
		return nil, err
	}
	if _, err := call("GET", "/api/me"); err != nil {
		return nil, err
	}

	// 4. A route that needs a scope the token lacks.
	if _, err := call("POST", "/api/notes"); err != nil {
		return nil, err
	}

	// 5. The authorization server rotates its signing key.
	kid := iss.Rotate("RS256")
	rep.RotatedKID = kid
	say("authorization server: rotates its signing key (new kid %s); the API is not told", kid)
	fetches := iss.JWKSFetches()
	tok2, err := cc.Token(tokenCtx)
	if err != nil {
		return nil, err
	}
	client = &http.Client{Transport: oauth2guard.NewTransport(tok2, refresh, oauth2guard.WithBase(record("API")))}
	if _, err := call("GET", "/api/me"); err != nil {
		return nil, err
	}
	say("API → authorization server: fetched the key set %d time(s) on seeing the unknown kid; no restart", iss.JWKSFetches()-fetches)

	// 6. A transfer needs a recent multi-factor login (RFC 9470 step-up):
	// a token from a password-only login an hour ago is refused with the
	// level and age asked for, and a refresh would not help.
	now := time.Now().Unix()
	pwd := iss.Mint(jwkstest.WithScopes(exampleapp.ScopeTransfers), jwkstest.WithClaim("acr", "urn:example:acr:pwd"), jwkstest.WithClaim("auth_time", now-3600))
	client = &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: pwd}, refresh, oauth2guard.WithBase(record("API")))}
	_, err = call("POST", "/api/transfers")
	var su *oauth2guard.StepUpError
	if !errors.As(err, &su) {
		return nil, fmt.Errorf("transfer after a password login: %v, want a step-up request", err)
	}
	rep.StepUp = su
	say("client: the API asks the user to log in again (acr_values %q, max_age %v); no refresh, a refresh cannot raise the level",
		strings.Join(su.ACRValues, " "), su.MaxAge)
	mfa := iss.Mint(jwkstest.WithScopes(exampleapp.ScopeTransfers), jwkstest.WithClaim("acr", exampleapp.ACRMFA), jwkstest.WithClaim("auth_time", time.Now().Unix()))
	say("authorization server → client: after a multi-factor login, an access token with acr %q and auth_time now", exampleapp.ACRMFA)
	client = &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: mfa}, refresh, oauth2guard.WithBase(record("API")))}
	if _, err := call("POST", "/api/transfers"); err != nil {
		return nil, err
	}

	// 7. The DPoP variant (RFC 9449): the token is bound to a key only the
	// client holds (cnf.jkt), and each request carries a fresh proof of it.
	// A stolen copy of the token is refused; the expired hint and the
	// refresh work as before, the refresh with a proof, so the new token is
	// bound to the same key.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	dk, err := oauth2guard.NewDPoPKey(key, "")
	if err != nil {
		return nil, err
	}
	dpopCtx := context.WithValue(ctx, oauth2.HTTPClient, dk.TokenClient(record("authorization server")))
	dtok, err := cc.Token(dpopCtx)
	if err != nil {
		return nil, fmt.Errorf("getting a DPoP-bound token: %w", err)
	}
	rep.DPoPTokenType = dtok.TokenType
	say("authorization server → client: a %s access token bound to the client's key (cnf.jkt %s), and a refresh token bound to it too",
		dtok.TokenType, dk.JKT())
	dexpiry := dtok.Expiry
	dtok.Expiry = time.Time{}
	stolen := dtok.AccessToken
	dtr := oauth2guard.NewTransport(dtok, func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		n, err := refresh(dpopCtx, stale) // with a proof of the same key
		if n != nil {
			n.Expiry = time.Time{}
		}
		return n, err
	}, oauth2guard.WithBase(record("API")), oauth2guard.WithDPoP(dk), oauth2guard.WithOnRefresh(func(_, _ *oauth2.Token) {
		say("client: the hint said expired, so it refreshed with a proof of its key; retrying once with a new proof")
	}))
	client = &http.Client{Transport: dtr}
	if _, err := call("GET", "/api/me"); err != nil {
		return nil, err
	}
	client = &http.Client{Transport: oauth2guard.NewTransport(&oauth2.Token{AccessToken: stolen, TokenType: "Bearer"}, refresh, oauth2guard.WithBase(record("API")))}
	say("thief: sends a stolen copy of the DPoP-bound token, without the key")
	if rep.StolenStatus, err = call("GET", "/api/me"); err != nil {
		return nil, err
	}
	say("… %v pass: the DPoP-bound token expires …", life)
	if err := sleepPast(ctx, dexpiry); err != nil {
		return nil, err
	}
	client = &http.Client{Transport: dtr}
	if _, err := call("GET", "/api/me"); err != nil {
		return nil, err
	}

	// 8. Counts.
	rep.Refreshes = tr.Refreshes()
	rep.DPoPRefreshes = dtr.Refreshes()
	rep.JWKSFetches = iss.JWKSFetches()
	rep.APIRequests = apiRequests.Load()
	say("counts: the API verified %d requests locally and fetched the issuer's keys %d times; the clients refreshed their tokens %d time(s)",
		rep.APIRequests, rep.JWKSFetches, rep.Refreshes+rep.DPoPRefreshes)
	if rep.JWKSFetches >= rep.APIRequests {
		return rep, errors.New("the API fetched keys as often as it served requests")
	}
	return rep, nil
}

// sleepPast waits until a moment after t, or until ctx is done.
func sleepPast(ctx context.Context, t time.Time) error {
	select {
	case <-time.After(time.Until(t) + 100*time.Millisecond):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
