// Command grpc is the example API of examples/README.md as a gRPC service,
// Notes (notes/v1/notes.proto), behind jwtguard's grpcguard interceptors:
// each method has the requirements of the HTTP route it mirrors, the
// health service needs no token, and the handlers read the verified
// claims with claims.FromContext. With no -issuer it starts an in-process
// dev authorization server and prints how to get a token and call it:
//
//	cd examples/grpc && go run .
//	go run ./client -addr 127.0.0.1:50051 -token-url <printed>   # in another terminal
//
// The flags and their environment fallbacks are the HTTP examples', but
// -addr (ADDR) defaults to 127.0.0.1:50051. It serves plaintext gRPC, so
// keep it on loopback or behind a proxy that terminates TLS: a token is a
// password. It is a module of its own so that the examples' module does
// not require grpc.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jwtguard/jwtguard/examples/grpc/internal/server"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
)

// DefaultAddr is the listen address without -addr or ADDR: loopback, the
// port gRPC examples use.
const DefaultAddr = "127.0.0.1:50051"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command: it parses args (with getenv's fallbacks), serves
// until ctx is done, and returns the exit status: 2 for bad flags, as the
// HTTP examples, 1 when the server cannot start or fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	app, err := exampleapp.New(ctx, cfg, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	defer app.Close()
	if err := serve(ctx, app, stdout, log); err != nil {
		log.Error("server failed", "error", err)
		return 1
	}
	return 0
}

// parseFlags reads the HTTP examples' flags, whose -addr default is an
// HTTP port: an unset (or empty) ADDR reads as DefaultAddr instead. The
// server names no RFC 9728 metadata: it serves gRPC alone, and a
// challenge would point clients to a document nobody serves.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (exampleapp.Config, error) {
	env := func(key string) string {
		if v := getenv(key); key != "ADDR" || v != "" {
			return v
		}
		return DefaultAddr
	}
	cfg, err := exampleapp.ParseFlags("grpc", args, env, stderr)
	cfg.NoResourceMetadata = true
	return cfg, err
}

// serve listens on the configured address, prints the dev instructions in
// dev mode, logs one line (msg=ready) when it serves, and serves until
// ctx is done; then the health service says NOT_SERVING and calls in
// flight get 5 s to finish.
func serve(ctx context.Context, app *exampleapp.App, stdout io.Writer, log *slog.Logger) error {
	ln, err := net.Listen("tcp", app.Config.Addr)
	if err != nil {
		return err
	}
	// Reflection (public, so that grpcurl works without the proto) in dev
	// mode only: a real deployment need not describe itself to strangers.
	srv, hs := server.New(app.Guard, app.Config.AdminAudience, server.NewService(), app.Dev != nil)
	addr := ln.Addr().String()
	if err := app.WaitDevKeys(ctx); err != nil {
		ln.Close()
		return err
	}
	if app.Dev != nil {
		PrintDevInstructions(stdout, app.Dev.TokenURL(), addr, app.Config)
	}
	// With a real issuer the server starts whatever the issuer's state: the
	// key caches retry in the background, calls get Unavailable until keys
	// arrive, and the health service answers all along.
	log.Info("ready", "addr", addr, "issuers", strings.Join(app.Guard.Issuers(), " "), "dev", app.Dev != nil)
	return exampleapp.ServeUntil(ctx, func() error { return srv.Serve(ln) }, func() error {
		hs.Shutdown()
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
			<-stopped
		}
		return nil
	}, net.ErrClosed)
}

// PrintDevInstructions prints how to get tokens from the dev issuer and
// call the service: with the example client, or by hand with curl and
// grpcurl (the dev server has reflection on).
func PrintDevInstructions(w io.Writer, tokenURL, addr string, cfg exampleapp.Config) {
	aud := ""
	if cfg.Audience != "https://api.example.com" || cfg.AdminAudience != cfg.Audience+"/admin" {
		aud = fmt.Sprintf(" -audience %s -admin-audience %s", cfg.Audience, cfg.AdminAudience)
	}
	fmt.Fprintf(w, `Dev mode: an in-process authorization server issues tokens at %s
Run the example client (in examples/grpc): it gets its tokens there, calls each method and shows the refresh on expiry:
  go run ./client -addr %s -token-url %s%s
`, tokenURL, addr, tokenURL, aud)
	if cfg.Leeway > 0 {
		fmt.Fprintf(w, "  (this server accepts a token for -leeway %v past its expiry: start it with -leeway 0 to see the refresh sooner)\n", cfg.Leeway)
	}
	fmt.Fprintf(w, `Or by hand, with curl and grpcurl (tokens live 5 minutes):
  TOKEN=$(curl -s -H 'Accept: text/plain' -d 'scope=%s' -d 'resource=%s' %s)
  grpcurl -plaintext -H "authorization: Bearer $TOKEN" %s %s/ListNotes  # OK
  grpcurl -plaintext -H "authorization: Bearer $TOKEN" -d '{"text":"hi"}' %s %s/AddNote  # PermissionDenied, ACCESS_TOKEN_SCOPE_INSUFFICIENT
  grpcurl -plaintext %s %s/Me  # Unauthenticated, NO_TOKEN
  grpcurl -plaintext %s grpc.health.v1.Health/Check  # SERVING, with no token
`, exampleapp.ScopeNotesRead, cfg.Audience, tokenURL, addr, service, addr, service, addr, service, addr)
}

// service is the Notes service's full name, as grpcurl wants it.
const service = "jwtguard.examples.notes.v1.Notes"
