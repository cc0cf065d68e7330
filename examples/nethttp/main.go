// Command nethttp is the example resource server on plain net/http. With no
// -issuer it starts an in-process dev authorization server and prints curl
// commands that get a token and call each route:
//
//	go run ./examples/nethttp
//
// Its HTTP behaviour is fixed by shared/spec/http-contract.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"
	"github.com/jwtguard/jwtguard/middleware"
)

func main() {
	cfg, err := exampleapp.ParseOSFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := exampleapp.New(ctx, cfg, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	defer app.Close()
	if err := app.Run(ctx, routes(app), os.Stdout, log); err != nil {
		log.Error("server failed", "error", err)
		os.Exit(1)
	}
}

// routes wires the contract's routes: the Guard on every /api/ and /admin/
// route, scopes and the admin audience per route.
func routes(a *exampleapp.App) http.Handler {
	g, api := a.Guard, a.API
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", api.Healthz)
	mux.Handle("GET /api/me", g.Handler(http.HandlerFunc(api.Me)))
	mux.Handle("GET /api/notes", g.Require(middleware.Scopes(exampleapp.ScopeNotesRead))(http.HandlerFunc(api.ListNotes)))
	mux.Handle("POST /api/notes", g.Require(middleware.Scopes(exampleapp.ScopeNotesWrite))(http.HandlerFunc(api.CreateNote)))
	mux.Handle("GET /admin/stats", g.Require(
		middleware.Audience(a.Config.AdminAudience),
		middleware.Scopes(exampleapp.ScopeAdmin),
	)(http.HandlerFunc(api.Stats)))
	return mux
}
