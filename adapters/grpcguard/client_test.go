package grpcguard_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// TestClientLocalExpiryCoolsDown: a token expired by the local clock is
// renewed at most once per cooldown, when the renewal fails or brings a
// token the local clock already calls expired (with a rotating refresh
// token, every call would rotate the grant). Found by a review.
func TestClientLocalExpiryCoolsDown(t *testing.T) {
	for _, c := range []struct {
		name    string
		refresh func(n int32) (*oauth2.Token, error)
	}{
		{"refresh fails", func(int32) (*oauth2.Token, error) {
			return nil, errors.New("invalid_grant")
		}},
		{"refreshed token already expired locally", func(n int32) (*oauth2.Token, error) {
			return &oauth2.Token{AccessToken: "a", RefreshToken: "R" + string(rune('0'+n)), Expiry: time.Now().Add(-time.Second)}, nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var n atomic.Int32
			src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "first", RefreshToken: "R0", Expiry: time.Now().Add(-time.Minute)})
			creds := grpcguard.NewCredentials(src, func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
				return c.refresh(n.Add(1))
			}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
			ctx := context.Background()
			_, _ = creds.GetRequestMetadata(ctx) // the first token, expired locally
			for range 10 {
				_, _ = creds.GetRequestMetadata(ctx)
			}
			if got := n.Load(); got != 1 {
				t.Errorf("%d refreshes for 10 calls within an hour's cooldown", got)
			}
		})
	}
}

// TestClientRefreshGetsCallValues: the RefreshFunc contract (oauth2guard):
// ctx carries the values of the call that triggered it (oauth2.HTTPClient),
// not its cancellation.
func TestClientRefreshGetsCallValues(t *testing.T) {
	client := &http.Client{}
	var got atomic.Value
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x", RefreshToken: "R", Expiry: time.Now().Add(-time.Minute)}),
		func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
			got.Store(ctx.Value(oauth2.HTTPClient) != nil)
			return &oauth2.Token{AccessToken: "y", Expiry: time.Now().Add(time.Hour)}, nil
		}, grpcguard.WithInsecure())
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	_, _ = creds.GetRequestMetadata(ctx) // first token (expired)
	if _, err := creds.GetRequestMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Load().(bool); !v {
		t.Error("the refresh did not see the call's oauth2.HTTPClient")
	}
}

// TestClientCanceledWaiterLeavesNoError: a caller that gives up while a
// renewal is in flight leaves the renewal's own outcome, not its context
// error, for the calls in the cooldown that follow.
func TestClientCanceledWaiterLeavesNoError(t *testing.T) {
	e := guardtest.New(t)
	addr := serve(t, e, tableGuard(e))
	release := make(chan struct{})
	var n atomic.Int32
	creds := grpcguard.NewCredentials(
		oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour)), RefreshToken: "R0", Expiry: time.Now().Add(time.Hour)}),
		func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
			n.Add(1)
			<-release
			return nil, errors.New("invalid_grant")
		}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
	cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cc.Invoke(ctx, guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
	}()
	for n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	close(release)
	time.Sleep(20 * time.Millisecond) // the renewal ends with invalid_grant, nobody waiting
	err := cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
	if errors.Is(err, context.Canceled) {
		t.Errorf("a call with a live context is told: %v", err)
	}
}

// TestClientRefreshesOnExpiry: the client's credentials refresh once and
// retry once on ACCESS_TOKEN_EXPIRED, and not on any other refusal.
func TestClientRefreshesOnExpiry(t *testing.T) {
	e := guardtest.New(t)
	addr := serve(t, e, tableGuard(e))
	var refreshes atomic.Int32
	fresh := e.Issuer.Mint(jwkstest.WithScopes("notes:read"))
	creds := grpcguard.NewCredentials(
		oauth2.StaticTokenSource(&oauth2.Token{AccessToken: e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithScopes("notes:read")), Expiry: time.Now().Add(time.Hour)}),
		func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
			refreshes.Add(1)
			return &oauth2.Token{AccessToken: fresh, Expiry: time.Now().Add(time.Hour)}, nil
		}, grpcguard.WithInsecure())
	cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathNotes), &emptypb.Empty{}, out); err != nil {
		t.Fatalf("after refresh: %v", err)
	}
	if refreshes.Load() != 1 || out.GetValue() != "sub=user-123 scopes=notes:read" {
		t.Fatalf("refreshes %d, reply %q", refreshes.Load(), out.GetValue())
	}
	// A refusal a refresh cannot help is returned, with no refresh.
	err := cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathAdmin), &emptypb.Empty{}, out)
	if status.Code(err) != codes.PermissionDenied || refreshes.Load() != 1 {
		t.Fatalf("admin: %v, refreshes %d", err, refreshes.Load())
	}
}

// countingSource is a TokenSource that counts its calls.
type countingSource struct {
	n   atomic.Int32
	tok func() *oauth2.Token
}

func (s *countingSource) Token() (*oauth2.Token, error) { s.n.Add(1); return s.tok(), nil }

// TestClientOwnsTheToken: after the first token the source is not asked
// again (it would spend a refresh token already rotated): every renewal,
// for a local expiry or the server's hint, goes through refresh with the
// token held; concurrent calls share one renewal; and a server that says
// every token expired costs one renewal per cooldown, not one per call.
func TestClientOwnsTheToken(t *testing.T) {
	e := guardtest.New(t)
	addr := serve(t, e, tableGuard(e))
	src := &countingSource{tok: func() *oauth2.Token {
		return &oauth2.Token{AccessToken: e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour)), RefreshToken: "R0", Expiry: time.Now().Add(time.Hour)}
	}}
	var mu sync.Mutex
	var seen []string // the refresh tokens spent, in order
	expiredToo := atomic.Bool{}
	creds := grpcguard.NewCredentials(src, func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		mu.Lock()
		seen = append(seen, stale.RefreshToken)
		next := fmt.Sprintf("R%d", len(seen))
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // long enough for the calls to meet
		opts := []jwkstest.MintOption{}
		if expiredToo.Load() {
			opts = append(opts, jwkstest.WithExpiresIn(-time.Hour))
		}
		return &oauth2.Token{AccessToken: e.Issuer.Mint(opts...), RefreshToken: next, Expiry: time.Now().Add(time.Hour)}, nil
	}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
	cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
	callMe := func() error {
		return cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- callMe() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("call: %v", err)
		}
	}
	if src.n.Load() != 1 || strings.Join(seen, ",") != "R0" {
		t.Fatalf("source asked %d times, refresh tokens spent %q: want 1 and one renewal of R0", src.n.Load(), seen)
	}
	// A server whose clock runs ahead refuses every token: one renewal,
	// then the refusal, until the cooldown passes.
	expiredToo.Store(true)
	creds2 := grpcguard.NewCredentials(src, creds2Refresh(e, &seen, &mu), grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
	cc2 := dial(t, addr, grpc.WithPerRPCCredentials(creds2), grpc.WithUnaryInterceptor(creds2.UnaryClientInterceptor()))
	mu.Lock()
	seen = nil
	mu.Unlock()
	for range 5 {
		err := cc2.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
		if !grpcguard.IsExpired(err) {
			t.Fatalf("a server that says every token expired: %v", err)
		}
	}
	if len(seen) != 1 {
		t.Fatalf("%d renewals for 5 calls within the cooldown, want 1", len(seen))
	}
}

// creds2Refresh always returns a token the server says expired.
func creds2Refresh(e *guardtest.Env, seen *[]string, mu *sync.Mutex) oauth2guard.RefreshFunc {
	return func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		mu.Lock()
		*seen = append(*seen, stale.RefreshToken)
		mu.Unlock()
		return &oauth2.Token{AccessToken: e.Issuer.Mint(jwkstest.WithExpiresIn(-time.Hour)), RefreshToken: "again", Expiry: time.Now().Add(time.Hour)}, nil
	}
}

// TestClientNoToken: a source that gives no token is an error, not a
// call without credentials or a panic.
func TestClientNoToken(t *testing.T) {
	e := guardtest.New(t)
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(nil), nil, grpcguard.WithInsecure())
	cc := dial(t, serve(t, e, tableGuard(e)), grpc.WithPerRPCCredentials(creds))
	err := cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
	if err == nil || !strings.Contains(err.Error(), "no access token") {
		t.Fatalf("%v", err)
	}
}

// A nil option is a mistake of the set-up, said so there: neither New nor
// NewCredentials has an error to return.
func TestNilOptionPanics(t *testing.T) {
	e := guardtest.New(t)
	src := oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x"})
	for _, tc := range []struct {
		name string
		new  func()
		want string
	}{
		{"New", func() { grpcguard.New(e.Guard, grpcguard.WithPublic("/grpc.health.v1.Health/Check"), nil) },
			"grpcguard: New with a nil Option"},
		{"NewCredentials", func() { grpcguard.NewCredentials(src, nil, grpcguard.WithInsecure(), nil) },
			"grpcguard: NewCredentials with a nil CredentialsOption"},
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

// recordingSource records the access tokens its source hands out.
type recordingSource struct {
	src oauth2.TokenSource
	mu  sync.Mutex
	got []string
}

func (s *recordingSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token()
	if err == nil {
		s.mu.Lock()
		s.got = append(s.got, tok.AccessToken)
		s.mu.Unlock()
	}
	return tok, err
}

// TestClientCredentialsAfterRefusal: with the server's and the issuer's
// clocks ahead of the client's, the server calls a client credentials
// token expired while the client's clock does not. A nil refresh asks the
// source again, and clientcredentials.Config.TokenSource, an
// oauth2.ReuseTokenSource, gives back the very token refused: the call
// fails saying so (not that a token "renewed moments ago" was refused,
// nor after resending the dead token), and so do the calls that follow
// within the cooldown. Config.Token as the refresh asks the issuer anew,
// as NewCredentials says. A real issuer, token endpoint, server and
// client. Found by a review.
func TestClientCredentialsAfterRefusal(t *testing.T) {
	e := guardtest.New(t)  // the service
	var ahead atomic.Int64 // how far the server's and the issuer's clocks run ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(guardtest.Audience), jwkstest.WithClock(clock))
	t.Cleanup(iss.Close)
	g, err := middleware.New(iss.NewCache(), iss.URL(), []string{guardtest.Audience}, middleware.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int32 // calls that reached the server
	addr := serve(t, e, grpcguard.New(g, grpcguard.WithMethod(guardtest.Procedure(guardtest.PathMe))),
		grpc.InTapHandle(func(ctx context.Context, _ *tap.Info) (context.Context, error) {
			sent.Add(1)
			return ctx, nil
		}))
	cfg := &clientcredentials.Config{ClientID: "svc", TokenURL: iss.TokenURL(), AuthStyle: oauth2.AuthStyleInParams}
	call := func(cc *grpc.ClientConn) error {
		return cc.Invoke(context.Background(), guardtest.Procedure(guardtest.PathMe), &emptypb.Empty{}, new(wrapperspb.StringValue))
	}

	t.Run("a reuse-wrapped source and no refresh", func(t *testing.T) {
		ahead.Store(0)
		src := &recordingSource{src: cfg.TokenSource(context.Background())}
		creds := grpcguard.NewCredentials(src, nil, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
		cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
		if err := call(cc); err != nil {
			t.Fatalf("with the clocks together: %v", err)
		}
		ahead.Store(int64(time.Hour)) // the token's 5 minutes are over, by the server's clock
		sent.Store(0)
		for i := range 3 {
			err := call(cc)
			// The first call is refused; the others fail without a send,
			// so the server says nothing of them.
			if grpcguard.IsExpired(err) != (i == 0) || !errors.Is(err, oauth2guard.ErrTokenNotRenewed) ||
				status.Code(err) != codes.Unauthenticated || !strings.Contains(err.Error(), "the token source gave back the token the server refused") {
				t.Fatalf("call %d: %v", i, err)
			}
			if strings.Contains(err.Error(), "renewed moments ago") {
				t.Fatalf("call %d says a renewal happened: %v", i, err)
			}
		}
		src.mu.Lock()
		defer src.mu.Unlock()
		if len(src.got) != 2 || src.got[0] != src.got[1] {
			t.Fatalf("the source handed out %d tokens, want the first and then the same again", len(src.got))
		}
		if n := sent.Load(); n != 1 {
			t.Errorf("%d sends for 3 calls: the dead token was sent again", n)
		}
	})

	t.Run("a refresh that gives back the refused token", func(t *testing.T) {
		ahead.Store(0)
		creds := grpcguard.NewCredentials(cfg.TokenSource(context.Background()), func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
			return stale, nil
		}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
		cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
		if err := call(cc); err != nil {
			t.Fatalf("with the clocks together: %v", err)
		}
		ahead.Store(int64(time.Hour))
		if err := call(cc); !grpcguard.IsExpired(err) || !strings.Contains(err.Error(), "the refresh function gave back the token the server refused") {
			t.Fatalf("%v", err)
		}
	})

	t.Run("a refresh that gives back the refused token with a rotated refresh token", func(t *testing.T) {
		// The refresh token it brings is kept even though the call fails:
		// the one it replaced may be spent (RFC 9700 §4.14.2), and the next
		// renewal must not present it again.
		ahead.Store(0)
		first, err := cfg.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		first.RefreshToken = "rt-0"
		rot := &rotating{}
		creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(first), rot.refresh,
			grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(0)) // a renewal per refusal
		cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
		ahead.Store(int64(time.Hour))
		for i := range 2 {
			// The second call renews before it sends, and is given the
			// dead token back once more.
			err := call(cc)
			if grpcguard.IsExpired(err) != (i == 0) || !errors.Is(err, oauth2guard.ErrTokenNotRenewed) ||
				!strings.Contains(err.Error(), "the refresh function gave back the token the server refused") {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if spent, want := rot.spentTokens(), []string{"rt-0", "rt-1"}; !slices.Equal(spent, want) {
			t.Errorf("refresh tokens spent %q, want %q: the rotated one was dropped", spent, want)
		}
	})

	t.Run("Config.Token as the refresh", func(t *testing.T) {
		ahead.Store(0)
		src := &recordingSource{src: cfg.TokenSource(context.Background())}
		var refreshes atomic.Int32
		creds := grpcguard.NewCredentials(src, func(ctx context.Context, _ *oauth2.Token) (*oauth2.Token, error) {
			refreshes.Add(1)
			return cfg.Token(ctx)
		}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
		cc := dial(t, addr, grpc.WithPerRPCCredentials(creds), grpc.WithUnaryInterceptor(creds.UnaryClientInterceptor()))
		if err := call(cc); err != nil {
			t.Fatalf("with the clocks together: %v", err)
		}
		ahead.Store(int64(time.Hour))
		for i := range 2 {
			if err := call(cc); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if n := refreshes.Load(); n != 1 {
			t.Errorf("%d refreshes, want 1", n)
		}
	})
}
