package grpcguard_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
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
