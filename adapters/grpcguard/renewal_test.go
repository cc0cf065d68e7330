package grpcguard_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/internal/rpcerr"
)

// expiredStatus is the server's refusal with the expired hint, as
// grpcguard's server side writes it.
func expiredStatus(t *testing.T) error {
	t.Helper()
	st, err := status.New(codes.Unauthenticated, "expired").WithDetails(&errdetails.ErrorInfo{Reason: rpcerr.ReasonExpired, Domain: rpcerr.Domain})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// Two calls in flight with the first token (rt-0). The first is refused,
// and its renewal gives back the access token with a rotated refresh token
// (rt-1), which is kept. The second is refused after that: its renewal
// must present rt-1, not rt-0, which the rotation spent (RFC 9700
// §4.14.2: a server that detects reuse revokes the grant). Found by a
// review.
func TestLateRefusalPresentsTheRotatedRefreshToken(t *testing.T) {
	first := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(time.Hour)}
	rot := &rotating{}
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(first), rot.refresh,
		grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(0)) // a renewal per refusal
	icpt := creds.UnaryClientInterceptor()
	refused := expiredStatus(t)
	invoker := func(sent, release chan struct{}) grpc.UnaryInvoker {
		return func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
			if _, err := creds.GetRequestMetadata(ctx); err != nil {
				return err
			}
			if sent != nil {
				close(sent)
				<-release
			}
			return refused
		}
	}
	sentB, releaseB := make(chan struct{}), make(chan struct{})
	errB := make(chan error, 1)
	go func() { errB <- icpt(context.Background(), "/m", nil, nil, nil, invoker(sentB, releaseB)) }()
	<-sentB // B carries at-0 with rt-0
	if err := icpt(context.Background(), "/m", nil, nil, nil, invoker(nil, nil)); !grpcguard.IsExpired(err) {
		t.Fatalf("A: %v, want the expired refusal", err)
	}
	close(releaseB)
	if err := <-errB; !grpcguard.IsExpired(err) {
		t.Fatalf("B: %v, want the expired refusal", err)
	}
	if spent, want := rot.spentTokens(), []string{"rt-0", "rt-1"}; !slices.Equal(spent, want) {
		t.Errorf("refresh tokens spent %q, want %q", spent, want)
	}
}

// rotating is a refresh that gives back the access token it was to
// replace with a new refresh token, rt-1, rt-2…, as a server that rotates
// refresh tokens does for a token its clock still calls valid; it records
// the refresh tokens spent.
type rotating struct {
	mu    sync.Mutex
	spent []string
}

func (r *rotating) refresh(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.spent = append(r.spent, stale.RefreshToken)
	renewed := *stale
	renewed.RefreshToken = fmt.Sprintf("rt-%d", len(r.spent))
	return &renewed, nil
}

func (r *rotating) spentTokens() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.spent)
}

// server is an invoker that plays the server: it records the access
// token each call carries (GetRequestMetadata, as grpc's transport asks)
// and refuses those in dead with the expired hint.
type server struct {
	creds   *grpcguard.Credentials
	refusal error
	dead    func(at string) bool
	mu      sync.Mutex
	got     []string
}

func (s *server) invoke(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
	md, err := s.creds.GetRequestMetadata(ctx)
	if err != nil {
		return err
	}
	at := strings.TrimPrefix(md["authorization"], "Bearer ")
	s.mu.Lock()
	s.got = append(s.got, at)
	s.mu.Unlock()
	if s.dead(at) {
		return s.refusal
	}
	return nil
}

func (s *server) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

// A token the server refused with the expired hint and the renewal then
// gave back is not sent again, as oauth2guard.Transport does not: within
// the cooldown every call fails at once with ErrTokenNotRenewed; after
// it, a call renews before it sends, and sends the new token. Found by a
// review: each call within the cooldown sent the dead token once more.
func TestGivenBackTokenIsNotSentAgain(t *testing.T) {
	first := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(time.Hour)}

	t.Run("within the cooldown", func(t *testing.T) {
		rot := &rotating{}
		creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(first), rot.refresh,
			grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(time.Hour))
		srv := &server{creds: creds, refusal: expiredStatus(t), dead: func(string) bool { return true }}
		unary, stream := creds.UnaryClientInterceptor(), creds.StreamClientInterceptor()
		streamer := func(ctx context.Context, _ *grpc.StreamDesc, _ *grpc.ClientConn, method string, _ ...grpc.CallOption) (grpc.ClientStream, error) {
			return nil, srv.invoke(ctx, method, nil, nil, nil)
		}
		for i := range 3 {
			err := unary(context.Background(), "/m", nil, nil, nil, srv.invoke)
			if !errors.Is(err, oauth2guard.ErrTokenNotRenewed) {
				t.Fatalf("unary call %d: %v, want ErrTokenNotRenewed", i, err)
			}
		}
		if _, err := stream(context.Background(), &grpc.StreamDesc{}, nil, "/s", streamer); !errors.Is(err, oauth2guard.ErrTokenNotRenewed) {
			t.Fatalf("stream: %v, want ErrTokenNotRenewed", err)
		}
		if _, err := creds.GetRequestMetadata(context.Background()); !errors.Is(err, oauth2guard.ErrTokenNotRenewed) {
			t.Fatalf("GetRequestMetadata: %v, want ErrTokenNotRenewed", err)
		}
		if got, want := srv.received(), []string{"at-0"}; !slices.Equal(got, want) {
			t.Errorf("the server received %q, want %q: the dead token was sent again", got, want)
		}
		if spent, want := rot.spentTokens(), []string{"rt-0"}; !slices.Equal(spent, want) {
			t.Errorf("refresh tokens spent %q, want %q: one renewal per cooldown", spent, want)
		}
	})

	t.Run("after the cooldown", func(t *testing.T) {
		var refreshes []string
		var mu sync.Mutex
		creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(first), func(_ context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
			mu.Lock()
			defer mu.Unlock()
			refreshes = append(refreshes, stale.RefreshToken)
			renewed := *stale // the first renewal gives the dead token back
			renewed.RefreshToken = fmt.Sprintf("rt-%d", len(refreshes))
			if len(refreshes) > 1 {
				renewed.AccessToken = "at-1"
			}
			return &renewed, nil
		}, grpcguard.WithInsecure(), grpcguard.WithRefreshCooldown(0))
		srv := &server{creds: creds, refusal: expiredStatus(t), dead: func(at string) bool { return at == "at-0" }}
		unary := creds.UnaryClientInterceptor()
		if err := unary(context.Background(), "/m", nil, nil, nil, srv.invoke); !errors.Is(err, oauth2guard.ErrTokenNotRenewed) || !grpcguard.IsExpired(err) {
			t.Fatalf("first call: %v, want the refusal and ErrTokenNotRenewed", err)
		}
		if err := unary(context.Background(), "/m", nil, nil, nil, srv.invoke); err != nil {
			t.Fatalf("second call: %v", err)
		}
		if got, want := srv.received(), []string{"at-0", "at-1"}; !slices.Equal(got, want) {
			t.Errorf("the server received %q, want %q", got, want)
		}
		mu.Lock()
		defer mu.Unlock()
		if want := []string{"rt-0", "rt-1"}; !slices.Equal(refreshes, want) {
			t.Errorf("refresh tokens spent %q, want %q", refreshes, want)
		}
	})
}
