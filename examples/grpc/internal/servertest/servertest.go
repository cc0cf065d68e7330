// Package servertest starts the example's gRPC server for a test, as the
// command does in dev mode: a real server on a loopback listener, an
// in-process dev authorization server beside it.
package servertest

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/examples/grpc/internal/server"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// The audiences the test server requires: the HTTP examples' defaults.
const (
	Audience      = "https://api.example.com"
	AdminAudience = Audience + "/admin"
)

// Env is a running server.
type Env struct {
	Addr   string           // host:port on loopback
	Issuer *jwkstest.Issuer // the dev issuer: its token endpoint, and Mint for tokens it would not give
	App    *exampleapp.App
}

// Start serves the example in dev mode with the given leeway until the
// test ends.
func Start(t testing.TB, leeway time.Duration) *Env {
	t.Helper()
	cfg := exampleapp.Config{Addr: "127.0.0.1:0", Audience: Audience, AdminAudience: AdminAudience, Leeway: leeway, ReplayStore: "memory", NoResourceMetadata: true}
	app, err := exampleapp.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(app.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := app.Keys[0].WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := server.New(app.Guard, cfg.AdminAudience, server.NewService(), false)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop) // before app.Close: cleanups run last first
	return &Env{Addr: lis.Addr().String(), Issuer: app.Dev, App: app}
}

// Dial connects to the server without a token.
func (e *Env) Dial(t testing.TB, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(e.Addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// DialToken connects to the server sending token on every call, through
// grpcguard's credentials and nothing else (no refresh).
func (e *Env) DialToken(t testing.TB, token string) *grpc.ClientConn {
	t.Helper()
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}), nil, grpcguard.WithInsecure())
	return e.Dial(t, grpc.WithPerRPCCredentials(creds))
}
