package grpcguard

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
)

// Credentials are per-RPC credentials that send an access token as
// Bearer and replace it when the server says it expired: the client half
// of the expired hint. Use them with grpc.WithPerRPCCredentials and their
// UnaryClientInterceptor (and StreamClientInterceptor). They are safe for
// concurrent use.
//
// The first token comes from the source; from then on Credentials own it:
// when it expires by the local clock, or the server says it expired, it
// is replaced by the refresh function, once for all the calls waiting on
// it, and never more often than the cooldown allows. The source is not
// asked again, so a rotated refresh token is never sent twice. The source
// itself has no deadline (oauth2.TokenSource takes no context): give it
// an HTTP client with a timeout.
type Credentials struct {
	src      oauth2.TokenSource
	refresh  oauth2guard.RefreshFunc
	insecure bool
	cooldown time.Duration
	now      func() time.Time

	mu       sync.Mutex
	tok      *oauth2.Token
	inflight *renewal  // the renewal under way, or nil
	renewed  time.Time // when the last renewal ended
	failed   error     // its error, returned to calls in the cooldown
	// unrenewed is an access token the server refused with the expired
	// hint and a renewal then gave back: never sent again. "" when there
	// is none.
	unrenewed string
}

// A renewal is one fetch of a token, which every call that needs it
// waits for.
type renewal struct {
	done chan struct{}
	tok  *oauth2.Token
	err  error
	// refused: a call waits on it because the server refused the token
	// it replaces, so that token back is no renewal. Written and read
	// with c.mu held.
	refused bool
}

// A CredentialsOption configures NewCredentials.
type CredentialsOption func(*Credentials)

// WithInsecure lets the token travel over a connection without transport
// security: for loopback tests and development only.
func WithInsecure() CredentialsOption {
	return func(c *Credentials) { c.insecure = true }
}

// WithRefreshCooldown sets the least time between two renewals: a server
// whose clock runs ahead says every token expired, a refresh may fail or
// bring a token the local clock calls old, and each call would spend a
// refresh. Default: oauth2guard.DefaultRefreshCooldown.
func WithRefreshCooldown(d time.Duration) CredentialsOption {
	return func(c *Credentials) { c.cooldown = d }
}

// NewCredentials sends src's first token, and then tokens from refresh
// (oauth2guard.ConfigRefresher spends the refresh token). With a nil
// refresh, src is asked for every new token, so it must give a new one
// when asked: a renewal for a token the server refused that brings back
// that same token fails the call with an error that is
// oauth2guard.ErrTokenNotRenewed to errors.Is, rather than send it again;
// a refresh that does so fails it too. That token is not sent again:
// within the cooldown that follows every call fails so, without reaching
// the server; after it, a call renews before it sends. clientcredentials.Config.TokenSource (x/oauth2)
// is such a cache: an oauth2.ReuseTokenSource, it hands back its token
// until that expires by the local clock, and a server whose clock runs
// ahead refuses it sooner. For client credentials, pass the Config's
// Token method, which asks the token endpoint on every call, as refresh:
//
//	creds := grpcguard.NewCredentials(cfg.TokenSource(ctx), func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
//		return cfg.Token(ctx)
//	})
//
// Nor is a source that refreshes on its own (oauth2.Config.TokenSource)
// one for a nil refresh: give ConfigRefresher.
//
// It panics if a CredentialsOption is nil.
func NewCredentials(src oauth2.TokenSource, refresh oauth2guard.RefreshFunc, opts ...CredentialsOption) *Credentials {
	c := &Credentials{src: src, refresh: refresh, cooldown: oauth2guard.DefaultRefreshCooldown, now: time.Now}
	for _, o := range opts {
		if o == nil { // NewCredentials returns no error: a panic that says so, at set-up
			panic("grpcguard: NewCredentials with a nil CredentialsOption")
		}
		o(c)
	}
	return c
}

var _ credentials.PerRPCCredentials = (*Credentials)(nil)

// sentKey holds, in a call's context, the token its metadata carried, so
// the interceptor renews exactly what the server refused.
type sentKey struct{}

type sent struct {
	mu  sync.Mutex
	tok *oauth2.Token
}

// GetRequestMetadata is part of credentials.PerRPCCredentials.
func (c *Credentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	if s, ok := ctx.Value(sentKey{}).(*sent); ok {
		s.mu.Lock()
		s.tok = tok
		s.mu.Unlock()
	}
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

// RequireTransportSecurity is part of credentials.PerRPCCredentials: a
// token is a password, so it needs TLS unless WithInsecure.
func (c *Credentials) RequireTransportSecurity() bool { return !c.insecure }

// current is the token to send: the one held while it has not expired by
// the local clock, else a new one; but within the cooldown of the last
// renewal, that renewal's token (even if the local clock calls it
// expired) or its error, so that a refresh that fails, or returns a token
// already old, is not repeated on every call. A token a renewal gave back
// after the server had refused it is never sent: within the cooldown the
// call fails with that renewal's error, after it the call renews first.
func (c *Credentials) current(ctx context.Context) (*oauth2.Token, error) {
	c.mu.Lock()
	tok := c.tok
	if tok != nil && c.unrenewed != "" && tok.AccessToken == c.unrenewed {
		if c.inflight == nil && c.inCooldown() {
			err := c.failed
			c.mu.Unlock()
			if err == nil { // unreachable: the renewal that marked it failed
				err = c.gaveBackRefused()
			}
			return nil, err
		}
		r := c.start(ctx, tok)
		c.mu.Unlock()
		return r.wait(ctx)
	}
	if tok != nil && (tok.Expiry.IsZero() || c.now().Before(tok.Expiry)) {
		c.mu.Unlock()
		return tok, nil
	}
	if c.inflight == nil && c.inCooldown() {
		err := c.failed
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		return tok, nil
	}
	r := c.start(ctx, tok)
	c.mu.Unlock()
	return r.wait(ctx)
}

// inCooldown reports whether the last renewal ended within the cooldown;
// c.mu is held.
func (c *Credentials) inCooldown() bool {
	return !c.renewed.IsZero() && c.now().Sub(c.renewed) < c.cooldown
}

// renew replaces stale, the token the server said expired, unless it was
// replaced already; within the cooldown of the last renewal it answers
// with that renewal's result instead of fetching again.
func (c *Credentials) renew(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	c.mu.Lock()
	// Compared by value: a renewal that gave back the refused access
	// token still replaced the value held.
	if c.tok != nil && (stale == nil || c.tok.AccessToken != stale.AccessToken) {
		tok := c.tok
		c.mu.Unlock()
		return tok, nil
	}
	if c.inflight == nil && c.inCooldown() {
		err := c.failed
		if err == nil {
			err = errors.New("grpcguard: the server refused a token renewed moments ago; not renewing again within the cooldown")
		}
		c.mu.Unlock()
		return nil, err
	}
	old := stale
	if c.tok != nil {
		old = c.tok // its access token is stale's; its refresh token may be newer
	}
	r := c.start(ctx, old)
	r.refused = true
	c.mu.Unlock()
	return r.wait(ctx)
}

// start begins fetching the token that replaces old, or joins the fetch
// under way; c.mu is held. The fetch runs without the lock, so calls that
// have a token are never held up by it, and outlives the call that
// started it (others wait on it, and a refresh cut halfway may have spent
// the grant), with that call's values (oauth2.HTTPClient) and at most a
// minute. A renewal's end and error (not the first token's) start the
// cooldown.
func (c *Credentials) start(ctx context.Context, old *oauth2.Token) *renewal {
	if c.inflight != nil {
		return c.inflight
	}
	r := &renewal{done: make(chan struct{})}
	c.inflight = r
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	go func() {
		defer cancel()
		var tok *oauth2.Token
		var err error
		if old == nil || c.refresh == nil {
			tok, err = c.src.Token()
		} else {
			tok, err = c.refresh(ctx, old)
		}
		if err == nil && (tok == nil || tok.AccessToken == "") {
			err = errors.New("grpcguard: the token source returned no access token")
		}
		c.mu.Lock()
		if err == nil && (r.refused && old != nil && tok.AccessToken == old.AccessToken ||
			c.unrenewed != "" && tok.AccessToken == c.unrenewed) {
			// Sent again, it would be refused again; and the cooldown
			// would then blame a renewal that renewed nothing. The token
			// is kept all the same: it may bring a rotated refresh token,
			// the one it replaced now spent (RFC 9700 §4.14.2).
			err = c.gaveBackRefused()
			c.tok, c.unrenewed = tok, tok.AccessToken
		}
		if err == nil {
			c.tok, c.unrenewed = tok, ""
		}
		c.inflight = nil
		if old != nil { // the first token is no renewal: nothing to cool down from
			c.renewed, c.failed = c.now(), err
		}
		c.mu.Unlock()
		r.tok, r.err = tok, err
		close(r.done)
	}()
	return r
}

// gaveBackRefused is the error of a renewal that brought back the token
// the server refused.
func (c *Credentials) gaveBackRefused() error {
	if c.refresh == nil {
		return notRenewed("grpcguard: the token source gave back the token the server refused, where a new one was needed (clientcredentials.Config.TokenSource hands back its token until the local clock calls it expired: see NewCredentials)")
	}
	return notRenewed("grpcguard: the refresh function gave back the token the server refused, where a new one was needed")
}

// notRenewed is the error of a call whose token a renewal gave back after
// the server had refused it. It is oauth2guard.ErrTokenNotRenewed to
// errors.Is, the one name for it across the clients; and a status
// (Unauthenticated) to grpc, which then hands it from GetRequestMetadata
// to the caller as it is, where a plain error would be flattened to text.
type notRenewed string

func (e notRenewed) Error() string { return string(e) }

func (e notRenewed) Is(target error) bool { return target == oauth2guard.ErrTokenNotRenewed }

func (e notRenewed) GRPCStatus() *status.Status { return status.New(codes.Unauthenticated, string(e)) }

func (r *renewal) wait(ctx context.Context) (*oauth2.Token, error) {
	select {
	case <-r.done:
		return r.tok, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// UnaryClientInterceptor retries a unary call once, with a renewed
// token, when the server answers with the expired hint
// (ACCESS_TOKEN_EXPIRED). Any other refusal is returned as it came: a
// refresh cannot help it.
func (c *Credentials) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		s := &sent{}
		err := invoker(context.WithValue(ctx, sentKey{}, s), method, req, reply, cc, opts...)
		if !IsExpired(err) {
			return err
		}
		s.mu.Lock()
		stale := s.tok
		s.mu.Unlock()
		if _, rerr := c.renew(ctx, stale); rerr != nil {
			return errors.Join(err, rerr)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor renews the token when a stream is refused with
// the expired hint and returns the refusal: a stream may have sent
// messages already, so it is not retried, but the next one the
// application opens carries the new token.
func (c *Credentials) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		snt := &sent{}
		s, err := streamer(context.WithValue(ctx, sentKey{}, snt), desc, cc, method, opts...)
		if err != nil {
			if IsExpired(err) {
				_, rerr := c.renew(ctx, snt.token())
				err = errors.Join(err, rerr)
			}
			return nil, err
		}
		return &clientStream{ClientStream: s, c: c, ctx: ctx, sent: snt}, nil
	}
}

func (s *sent) token() *oauth2.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tok
}

// clientStream sees the refusal of a stream, which arrives with its first
// message.
type clientStream struct {
	grpc.ClientStream
	c    *Credentials
	ctx  context.Context
	sent *sent
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if IsExpired(err) {
		if _, rerr := s.c.renew(s.ctx, s.sent.token()); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}
