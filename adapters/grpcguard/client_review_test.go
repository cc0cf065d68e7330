package grpcguard_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
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
