package grpcguard

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
)

// Credentials are per-RPC credentials that send an access token as
// Bearer and replace it when the server says it expired: the client half
// of the expired hint. Use them with grpc.WithPerRPCCredentials and their
// UnaryClientInterceptor. They are safe for concurrent use.
type Credentials struct {
	src      oauth2.TokenSource
	refresh  oauth2guard.RefreshFunc
	insecure bool

	mu  sync.Mutex
	tok *oauth2.Token
}

// A CredentialsOption configures NewCredentials.
type CredentialsOption func(*Credentials)

// WithInsecure lets the token travel over a connection without transport
// security: for loopback tests and development only.
func WithInsecure() CredentialsOption {
	return func(c *Credentials) { c.insecure = true }
}

// NewCredentials sends src's tokens. refresh is how a token the server
// says expired is replaced (oauth2guard.ConfigRefresher spends the
// refresh token): a TokenSource alone cannot be told that its token, valid
// by the local clock, is dead. With a nil refresh the token is taken from
// src again, which helps only a source that mints anew each time.
func NewCredentials(src oauth2.TokenSource, refresh oauth2guard.RefreshFunc, opts ...CredentialsOption) *Credentials {
	c := &Credentials{src: src, refresh: refresh}
	for _, o := range opts {
		o(c)
	}
	return c
}

var _ credentials.PerRPCCredentials = (*Credentials)(nil)

// GetRequestMetadata is part of credentials.PerRPCCredentials.
func (c *Credentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := c.current()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok.AccessToken}, nil
}

// RequireTransportSecurity is part of credentials.PerRPCCredentials: a
// token is a password, so it needs TLS unless WithInsecure.
func (c *Credentials) RequireTransportSecurity() bool { return !c.insecure }

func (c *Credentials) current() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != nil && c.tok.Valid() {
		return c.tok, nil
	}
	tok, err := c.src.Token()
	if err != nil {
		return nil, err
	}
	c.tok = tok
	return tok, nil
}

// renew replaces stale, unless another call replaced it already.
func (c *Credentials) renew(ctx context.Context, stale *oauth2.Token) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok != stale {
		return nil
	}
	var tok *oauth2.Token
	var err error
	if c.refresh != nil {
		tok, err = c.refresh(ctx, stale)
	} else {
		tok, err = c.src.Token()
	}
	if err != nil {
		return err
	}
	if tok == nil || tok.AccessToken == "" {
		return errors.New("grpcguard: the refresh returned no access token")
	}
	c.tok = tok
	return nil
}

// UnaryClientInterceptor retries a unary call once, with a refreshed
// token, when the server answers with the expired hint
// (ACCESS_TOKEN_EXPIRED). Any other refusal is returned as it came: a
// refresh cannot help it.
func (c *Credentials) UnaryClientInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		sent, err := c.current()
		if err != nil {
			return err
		}
		err = invoker(ctx, method, req, reply, cc, opts...)
		if !IsExpired(err) {
			return err
		}
		if rerr := c.renew(ctx, sent); rerr != nil {
			return errors.Join(err, rerr)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

// StreamClientInterceptor refreshes the token when a stream is refused
// with the expired hint and returns the refusal: a stream may have sent
// messages already, so it is not retried, but the next one the
// application opens carries the new token.
func (c *Credentials) StreamClientInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		sent, err := c.current()
		if err != nil {
			return nil, err
		}
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			if IsExpired(err) {
				err = errors.Join(err, c.renew(ctx, sent))
			}
			return nil, err
		}
		return &clientStream{ClientStream: s, c: c, ctx: ctx, sent: sent}, nil
	}
}

// clientStream sees the refusal of a stream, which arrives with its first
// message.
type clientStream struct {
	grpc.ClientStream
	c    *Credentials
	ctx  context.Context
	sent *oauth2.Token
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if IsExpired(err) {
		if rerr := s.c.renew(s.ctx, s.sent); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	return err
}
