package oauth2guard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
)

// refreshTimeout bounds a shared refresh. The refresh is detached from the
// request that started it (so one caller giving up does not fail the others
// waiting on it), so it needs a deadline of its own.
const refreshTimeout = 30 * time.Second

// drainLimit is how much of a refused response's body is read before it is
// closed, so the connection can be reused without reading an unbounded body.
const drainLimit = 4 << 10

// RefreshFunc obtains a new token given the stale one (which carries the
// refresh token). stale is nil only if the Transport was created without a
// token. It must return a token with a non-empty AccessToken or an error.
//
// ctx carries the values of the request that triggered the refresh (so
// oauth2.HTTPClient set on it is honoured) but not its cancellation: the
// refresh is shared by every request waiting for it.
type RefreshFunc func(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error)

// ConfigRefresher refreshes with the refresh_token grant at cfg's token
// endpoint. If the server does not return a new refresh token, the old one
// is kept, so the next refresh still has one to use.
//
// With cfg.Endpoint.AuthStyle left at oauth2.AuthStyleAutoDetect, x/oauth2
// tries the client credentials in the header first and, on any error, again
// in the body, so a refused refresh costs two calls to the token endpoint;
// set the AuthStyle your server uses to avoid that.
func ConfigRefresher(cfg *oauth2.Config) RefreshFunc {
	return func(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		if stale == nil || stale.RefreshToken == "" {
			return nil, errors.New("oauth2guard: no refresh token")
		}
		// A token without an access token is never Valid, so the token
		// source goes straight to the refresh_token grant.
		tok, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: stale.RefreshToken}).Token()
		if err != nil {
			return nil, err
		}
		if tok.RefreshToken == "" {
			// x/oauth2 already does this today; do not depend on it.
			c := *tok
			c.RefreshToken = stale.RefreshToken
			tok = &c
		}
		return tok, nil
	}
}

// An Option configures a Transport.
type Option func(*Transport)

// WithBase sets the RoundTripper that sends the requests. Default (and when
// rt is nil): http.DefaultTransport.
func WithBase(rt http.RoundTripper) Option {
	return func(t *Transport) {
		if rt != nil {
			t.base = rt
		}
	}
}

// ErrTokenNotRenewed is what RoundTrip returns (http.Client wraps it in a
// *url.Error: match it with errors.Is) when the server refused a token
// with the expired hint and a refresh brought back that same access
// token: sending it again would earn the same 401. A RefreshFunc that
// answers from a cache, or an authorization server whose clock still
// calls the token valid, does this. That token is not sent again: within
// the refresh cooldown every request fails so, without a call to the API;
// after it, a request refreshes before it sends.
var ErrTokenNotRenewed = errors.New("oauth2guard: the refresh returned the access token the server refused")

// DefaultRefreshCooldown is how long a token obtained by a refresh is
// trusted not to need another: see WithRefreshCooldown.
const DefaultRefreshCooldown = 10 * time.Second

// WithRefreshCooldown sets how young a refreshed token must be for the
// Transport to refuse to refresh it again: a 401 with the expired hint for a
// token obtained less than d ago is returned to the caller as it is. A
// genuine API cannot find a token expired seconds after it was issued (clock
// skew aside, which a refresh would not fix), so only a broken or hostile
// server sees this, and it can then no longer make every request cost a
// refresh. Likewise a token obtained within the cooldown is sent even when
// the local clock already calls it expired (a token endpoint that issues
// tokens living less than oauth2's ten-second expiry margin). Default:
// DefaultRefreshCooldown. Zero turns the check off.
func WithRefreshCooldown(d time.Duration) Option {
	return func(t *Transport) { t.cooldown = max(d, 0) }
}

// WithOnRefresh calls f after each successful refresh with copies of the
// old token (nil if there was none) and the new one, for logs and metrics,
// and for saving a rotated refresh token. A refresh that gives back the
// access token the server refused counts as one: its refresh token is
// kept, while the request fails with ErrTokenNotRenewed.
// Requests waiting for that refresh resume only after f returns, so it must
// not block long.
func WithOnRefresh(f func(old, new *oauth2.Token)) Option {
	return func(t *Transport) { t.onRefresh = f }
}

// Transport is an http.RoundTripper that sends requests with a Bearer
// access token and, when the API answers with the expired hint (see
// IsExpiredHint), refreshes the token once and retries the request once.
// It also refreshes before sending when the cached token has expired by the
// local clock, as oauth2.Transport does.
//
// Requests that are refused with the same stale token share a single
// refresh. A Transport is safe for concurrent use; create it with
// NewTransport.
type Transport struct {
	base      http.RoundTripper
	refresh   RefreshFunc
	onRefresh func(old, new *oauth2.Token)
	cooldown  time.Duration
	now       func() time.Time
	dpop      *DPoPKey // nil: bearer tokens only

	mu       sync.Mutex
	tok      *oauth2.Token // never mutated; replaced on refresh
	tokAt    time.Time     // when a refresh obtained tok; zero for the first
	tokSame  bool          // that refresh gave back the access token it was to replace
	inflight *refreshCall  // non-nil while a refresh runs
	// unrenewed is an access token the server refused with the expired
	// hint and a refresh then gave back: it is never sent again. "" when
	// there is none.
	unrenewed string

	refreshes atomic.Int64
}

// refreshCall is one shared refresh. tok and err are written before done is
// closed and only read after.
type refreshCall struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
	// staleAT is the access token being replaced; refused, that a request
	// waits on the refresh because the server refused that token, which
	// then must not come back. t.mu guards refused.
	staleAT string
	refused bool
}

// NewTransport returns a Transport that starts with (a copy of) tok and
// obtains new tokens with refresh. tok may be nil, in which case the first
// request refreshes with a nil stale token. It panics if refresh is nil: a
// Transport that can never refresh is oauth2.Transport with a static source;
// and if an Option is nil.
func NewTransport(tok *oauth2.Token, refresh RefreshFunc, opts ...Option) *Transport {
	if refresh == nil {
		panic("oauth2guard: NewTransport with a nil RefreshFunc")
	}
	t := &Transport{base: http.DefaultTransport, refresh: refresh, cooldown: DefaultRefreshCooldown, now: time.Now}
	if tok != nil {
		c := *tok
		t.tok = &c
	}
	for _, o := range opts {
		if o == nil { // NewTransport returns no error: a panic that says so, at set-up
			panic("oauth2guard: NewTransport with a nil Option")
		}
		o(t)
	}
	return t
}

// Token returns a copy of the current token, or nil if there is none yet.
// Persist it to reuse the refresh token across runs.
func (t *Transport) Token() *oauth2.Token {
	t.mu.Lock()
	defer t.mu.Unlock()
	return copyToken(t.tok)
}

// Refreshes returns how many refreshes have succeeded so far, counting
// those that gave back the refused access token (see WithOnRefresh).
func (t *Transport) Refreshes() int64 {
	return t.refreshes.Load()
}

// RoundTrip sends req with the current access token. If the response is the
// expired hint and req's body can be sent again (no body, http.NoBody, or
// GetBody set), it drains and closes that response, refreshes the token
// (or waits for the refresh already under way, or picks up the token
// another request already obtained) and sends req once more with a fresh
// body. The second response is returned whatever it is, so a server that
// keeps refusing cannot cause a loop. Any other response is returned
// untouched.
//
// If that refresh fails, RoundTrip returns an error wrapping the
// RefreshFunc's error (e.g. an *oauth2.RetrieveError for invalid_grant)
// rather than the first 401: the 401 only said "refresh", and the error
// says why that is impossible, which is what the caller must act on (for
// example by signing the user in again). The same happens if the cached
// token is expired locally and cannot be refreshed before the first send.
// A refresh that brings back the access token the server refused is such
// a failure too: ErrTokenNotRenewed, and that token is not sent again,
// even where another replica of the API might have accepted it. (A token
// expired by the local clock alone that the refresh returns unchanged is
// still sent: only the server can say it is expired.)
//
// The token goes only to the origin (scheme, host and port) of the request
// the caller made: a hop of a redirect that leaves it, to another host or
// from https to http, is sent without a token (as http.Client itself would
// send it) and its response, whatever it says, never causes a refresh.
// Nor does the expired hint for a token a refresh obtained within the
// refresh cooldown (WithRefreshCooldown): that 401 is returned as it is.
// (A refresh that gave back the token it was to replace obtained none.)
//
// req is never modified: each attempt is sent as a clone.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if orig := originalRequest(req); orig == nil || !sameOrigin(req.URL, orig.URL) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.usable(ctx, nil)
	if err != nil {
		// The RoundTripper contract: the body is closed even on errors.
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, refreshError(err)
	}

	resp, err := t.send(req, tok, false)
	if su := stepUpOf(resp, err); su != nil {
		return nil, su
	}
	if err != nil || !IsExpiredHint(resp) || !replayable(req) || t.justRefreshed(tok) {
		return resp, err
	}

	// The 401 is discarded either way; read a little so the connection can
	// be reused, but never an unbounded body.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()

	refused := tok
	tok, err = t.usable(ctx, refused)
	if err != nil {
		return nil, refreshError(err)
	}
	if tok.AccessToken == refused.AccessToken {
		// Compared by value: another request's refresh, or a RefreshFunc
		// answering from a cache, may hand the same token back in a new
		// *oauth2.Token.
		t.markUnrenewed(refused.AccessToken)
		return nil, ErrTokenNotRenewed
	}
	resp, err = t.send(req, tok, true)
	// The renewed token may still be too weak for the route: an expired
	// token is refused for its age first, then for its level.
	if su := stepUpOf(resp, err); su != nil {
		return nil, su
	}
	return resp, err
}

// stepUpOf returns the step-up request of a response, having drained and
// closed it, or nil (the response untouched) for any other. A refresh
// cannot raise the authentication level: the decision is the
// application's, as an error it can act on.
func stepUpOf(resp *http.Response, err error) *StepUpError {
	if err != nil {
		return nil
	}
	su, ok := StepUp(resp)
	if !ok {
		return nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
	return su
}

// justRefreshed reports whether tok is the current token and a refresh
// obtained it less than the cooldown ago, so that its refusal earns no
// refresh. A refresh that gave back the token it was to replace obtained
// nothing new: refused, that token is refreshed once more, and if it
// comes back again it is never sent again.
func (t *Transport) justRefreshed(tok *oauth2.Token) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.youngLocked(tok) && !t.tokSame
}

// markUnrenewed records that a refresh gave back at, an access token the
// server refused with the expired hint.
func (t *Transport) markUnrenewed(at string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && t.tok.AccessToken == at {
		t.unrenewed = at
	}
}

// refreshError is the error of a request whose token could not be
// renewed: ErrTokenNotRenewed as it is, a RefreshFunc's error wrapped.
func refreshError(err error) error {
	if errors.Is(err, ErrTokenNotRenewed) {
		return err
	}
	return fmt.Errorf("oauth2guard: refreshing token: %w", err)
}

// youngLocked is justRefreshed with t.mu held.
func (t *Transport) youngLocked(tok *oauth2.Token) bool {
	return tok != nil && tok == t.tok && tok.AccessToken != "" && !t.tokAt.IsZero() && t.now().Sub(t.tokAt) < t.cooldown
}

// usable returns a token to send. rejected is the token the server just
// refused with the expired hint, or nil before the first send.
//
//   - A refresh is under way: wait for its result. The current token is
//     being replaced because the server refused it, so it is not worth
//     sending.
//   - The current token is one a refresh gave back after the server had
//     refused it: within the cooldown, ErrTokenNotRenewed; after it, a
//     refresh.
//   - The current token is not the rejected one and is valid by the local
//     clock: use it (another request has already refreshed).
//   - Otherwise start a refresh and wait for it.
//
// Waiting respects ctx; the refresh itself goes on for the other waiters.
func (t *Transport) usable(ctx context.Context, rejected *oauth2.Token) (*oauth2.Token, error) {
	t.mu.Lock()
	call := t.inflight
	if call == nil {
		cur := t.tok
		switch {
		case cur != nil && t.unrenewed != "" && cur.AccessToken == t.unrenewed:
			if t.youngLocked(cur) {
				t.mu.Unlock()
				return nil, ErrTokenNotRenewed
			}
		case cur != rejected && (cur.Valid() || t.youngLocked(cur)):
			// A token a refresh obtained within the cooldown is sent even
			// if the local clock calls it expired: an issuer of tokens that
			// live less than oauth2's expiry margin must not cost a refresh
			// per request.
			t.mu.Unlock()
			return cur, nil
		}
		call = t.startRefresh(ctx)
	}
	if rejected != nil && rejected.AccessToken == call.staleAT {
		call.refused = true
	}
	t.mu.Unlock()

	select {
	case <-call.done:
		return call.tok, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// startRefresh starts a refresh of the current token in its own goroutine.
// It runs with ctx's values but not its cancellation, under refreshTimeout,
// because other requests may come to wait on it. t.mu must be held.
func (t *Transport) startRefresh(ctx context.Context) *refreshCall {
	call := &refreshCall{done: make(chan struct{})}
	t.inflight = call
	stale := t.tok
	if stale != nil {
		call.staleAT = stale.AccessToken
	}
	go func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
		defer cancel()
		if _, ok := rctx.Value(oauth2.HTTPClient).(*http.Client); !ok && t.dpop != nil {
			// The refreshed token must be bound to the same key.
			rctx = context.WithValue(rctx, oauth2.HTTPClient, t.dpop.TokenClient(nil))
		}
		tok, err := t.refresh(rctx, copyToken(stale))
		if err == nil && (tok == nil || tok.AccessToken == "") {
			err = errors.New("oauth2guard: RefreshFunc returned no access token")
		}
		if err == nil {
			// Keep a private copy: the RefreshFunc's caller-visible value
			// must not be able to change what we send.
			tok = copyToken(tok)
		} else {
			tok = nil
		}

		t.mu.Lock()
		var unrenewed bool
		if err == nil {
			// Kept even when it is the token the server refused: it may
			// bring a rotated refresh token, the old one now spent.
			t.tok, t.tokAt = tok, t.now()
			t.tokSame = stale != nil && tok.AccessToken == stale.AccessToken
			unrenewed = t.unrenewed != "" && tok.AccessToken == t.unrenewed ||
				call.refused && tok.AccessToken == call.staleAT
			if unrenewed {
				t.unrenewed = tok.AccessToken
			} else {
				t.unrenewed = ""
			}
			t.refreshes.Add(1)
		}
		t.inflight = nil
		t.mu.Unlock()

		if err == nil && t.onRefresh != nil {
			t.onRefresh(copyToken(stale), copyToken(tok))
		}
		if unrenewed {
			tok, err = nil, ErrTokenNotRenewed
		}
		call.tok, call.err = tok, err
		close(call.done)
	}()
	return call
}

// send sends a clone of req with tok, its body req's own unless rewind
// asks for a fresh one (GetBody). A DPoP request whose answer asks for a
// nonce the Transport did not have is sent once more with it (RFC 9449
// §9), when its body can be sent again.
func (t *Transport) send(req *http.Request, tok *oauth2.Token, rewind bool) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r, sent, err := t.authorized(req, tok)
		if err != nil {
			if !rewind && attempt == 0 && req.Body != nil {
				// req's own body was to go with this attempt, so no base
				// RoundTripper has it to close; a RoundTripper closes it
				// even on an error. (Later attempts send copies, and base
				// closed the original.)
				req.Body.Close()
			}
			return nil, err
		}
		if (rewind || attempt > 0) && req.Body != nil && req.Body != http.NoBody {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, fmt.Errorf("oauth2guard: rewinding request body: %w", err)
			}
		}
		resp, err := t.base.RoundTrip(r)
		if err == nil && resp.Request == nil {
			// http.Client follows a redirect chain through Response.Request,
			// and so does originalRequest; a base that leaves it unset (many
			// mocks and wrappers do) would break the chain.
			resp.Request = r
		}
		if err != nil || !t.usesDPoP(tok) {
			return resp, err
		}
		// Sent once more when the API asks for a nonce other than the one
		// this proof carried (another request's answer may already have
		// brought it), never twice.
		n := t.dpop.remember(targetURL(req), resp.Header)
		if attempt > 0 || n == "" || n == sent || !isNonceChallenge(resp) || !replayable(req) {
			return resp, nil
		}
		drain(resp)
	}
}

// authorized clones req (sharing its body) with tok in the Authorization
// header: the Bearer scheme, or DPoP with a fresh proof (WithDPoP),
// whatever else token_type says.
// The nonce the proof carries comes back too.
func (t *Transport) authorized(req *http.Request, tok *oauth2.Token) (*http.Request, string, error) {
	r := req.Clone(req.Context())
	if !t.usesDPoP(tok) {
		r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		return r, "", nil
	}
	proof, nonce, err := t.dpop.proof(req.Method, targetURL(req), tok.AccessToken)
	if err != nil {
		return nil, "", fmt.Errorf("oauth2guard: %w", err)
	}
	r.Header.Set("Authorization", "DPoP "+tok.AccessToken)
	r.Header.Set("DPoP", proof)
	return r, nonce, nil
}

// originalRequest follows a redirect chain back to the request the caller
// made: http.Client sets Response on each later hop, and Response.Request
// is the hop before. It returns nil when the chain is broken (a response
// without its request): then no origin can be trusted, and no token is sent.
func originalRequest(req *http.Request) *http.Request {
	for req.Response != nil {
		if req.Response.Request == nil {
			return nil
		}
		req = req.Response.Request
	}
	return req
}

// sameOrigin reports whether a and b have the same scheme, host and port
// (RFC 6454), the port defaulted from the scheme; names compare
// case-insensitively.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		portOf(a) == portOf(b)
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// replayable reports whether req can be sent a second time.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

func copyToken(tok *oauth2.Token) *oauth2.Token {
	if tok == nil {
		return nil
	}
	c := *tok
	return &c
}
