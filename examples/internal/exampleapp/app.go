package exampleapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// Realm is the realm every example server names in its challenges.
const Realm = "api"

// App is everything a server needs besides its router.
type App struct {
	Config Config
	API    *API
	// Guard verifies tokens for Config.Audience; routes under /admin/ add
	// middleware.Audience(Config.AdminAudience).
	Guard *middleware.Guard
	// Keys holds one key cache per issuer, in the order of Config.Issuers.
	Keys []*jwks.Cache
	// Dev is the in-process authorization server in dev mode, else nil.
	Dev *jwkstest.Issuer
	// Instructions prints what dev mode offers (Run calls it once ready,
	// with the dev issuer's token URL and the server's base URL); nil is
	// PrintDevInstructions, the notes API's curl commands.
	Instructions func(w io.Writer, tokenURL, base string)
	// Listener, when set, is where Run serves, rather than a listener of
	// its own on Config.Addr: for a server whose configuration needs the
	// port it listens on (an audience that is its own URL).
	Listener net.Listener
}

// New builds the key cache, the Guard and, in dev mode, the dev issuer. It
// does not wait for keys: an unreachable issuer is retried in the
// background, and tokens are answered 503 until keys arrive.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*App, error) {
	a := &App{Config: cfg, API: NewAPI()}
	issuers := cfg.Issuers
	if cfg.Dev() {
		dev := jwkstest.NewIssuer(jwkstest.WithAudience(cfg.Audience))
		a.Dev, issuers = dev, []string{dev.URL()}
	}
	// Each issuer has its own discovery, key set, refresh and cooldown.
	// The caches live until Close, not until ctx (the signal that starts
	// the shutdown) ends: requests still draining then keep their keys
	// fresh, and a cache whose context ends before Close logs that its
	// keys froze.
	ctx = context.WithoutCancel(ctx)
	opts := []jwks.Option{jwks.WithLogger(log), jwks.WithUnknownKIDCooldown(cfg.UnknownKIDCooldown)}
	for _, iss := range issuers {
		var keys *jwks.Cache
		var err error
		if cfg.JWKSURL != "" { // exactly one issuer, ParseFlags made sure
			keys, err = jwks.NewFromJWKSURL(ctx, cfg.JWKSURL, opts...)
		} else {
			keys, err = jwks.New(ctx, iss, opts...)
		}
		if err != nil {
			a.Close()
			return nil, err
		}
		a.Keys = append(a.Keys, keys)
	}
	gopts := []middleware.Option{middleware.WithLeeway(cfg.Leeway), middleware.WithRealm(Realm), middleware.WithLogger(log)}
	if !cfg.NoResourceMetadata {
		// Each resource identifier (-audience, -admin-audience) that is an
		// https URL gets its RFC 9728 document, named in every challenge.
		gopts = append(gopts, middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	}
	for i, iss := range issuers[1:] {
		gopts = append(gopts, middleware.WithIssuer(a.Keys[i+1], iss))
	}
	// DPoP (RFC 9449) is accepted beside bearer tokens, the library's
	// default; these choose its nonces and where proofs are remembered.
	if cfg.DPoPNonce {
		gopts = append(gopts, middleware.WithDPoPNonce(nil, 0))
	}
	if cfg.ReplayStore != "" && cfg.ReplayStore != "memory" {
		st, err := parseRedisURL(cfg.ReplayStore)
		if err != nil {
			a.Close()
			return nil, err
		}
		gopts = append(gopts, middleware.WithReplayStore(st))
	}
	var err error
	a.Guard, err = middleware.New(a.Keys[0], issuers[0], []string{cfg.Audience}, gopts...)
	if err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// Close stops the key caches and the dev issuer, and closes Listener.
func (a *App) Close() {
	if a.Listener != nil {
		a.Listener.Close()
	}
	for _, k := range a.Keys {
		k.Close()
	}
	if a.Dev != nil {
		a.Dev.Close()
	}
}

// Run listens on the configured address (or serves on Listener), logs one
// line when ready, prints the dev instructions in dev mode, and serves h
// until ctx is done.
func (a *App) Run(ctx context.Context, h http.Handler, stdout io.Writer, log *slog.Logger) error {
	ln := a.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", a.Config.Addr); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: a.withDPoPNonce(h), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	base := "http://" + ln.Addr().String()
	if err := a.WaitDevKeys(ctx); err != nil {
		ln.Close()
		return err
	}
	if a.Dev != nil {
		if a.Instructions != nil {
			a.Instructions(stdout, a.Dev.TokenURL(), base)
		} else {
			PrintDevInstructions(stdout, a.Dev.TokenURL(), base, a.Config)
		}
	}
	log.Info("ready", "url", base, "issuers", strings.Join(a.Guard.Issuers(), " "), "dev", a.Dev != nil)
	return ServeUntil(ctx, func() error { return srv.Serve(ln) }, func() error {
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}, http.ErrServerClosed)
}

// withDPoPNonce gives every response to a DPoP request a DPoP-Nonce when
// the Guard asks proofs for nonces (-dpop-nonce), the public routes' and
// the router's own answers included; a guarded route's response replaces
// it with the Guard's.
func (a *App) withDPoPNonce(h http.Handler) http.Handler {
	if a.Guard.IssueDPoPNonce() == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, v := range r.Header.Values("Authorization") {
			if scheme, _, _ := strings.Cut(v, " "); strings.EqualFold(scheme, "DPoP") {
				w.Header().Set("DPoP-Nonce", a.Guard.IssueDPoPNonce())
				break
			}
		}
		h.ServeHTTP(w, r)
	})
}

// WaitDevKeys waits, in dev mode, the moment the in-process dev issuer
// takes to serve its keys (at most 5 s), so that the first call a user
// pastes does not meet a 503 (Unavailable over gRPC). With a real issuer
// it returns at once: the server starts whatever the issuer's state, and
// the key caches retry in the background.
func (a *App) WaitDevKeys(ctx context.Context) error {
	if a.Dev == nil {
		return nil
	}
	wait, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := a.Keys[0].WaitReady(wait); err != nil {
		return fmt.Errorf("dev issuer keys: %w", err)
	}
	return nil
}

// ServeUntil runs serve until ctx is done, then calls stop, which makes
// serve return. It returns serve's error if serve ends first; else stop's
// error, or the error serve ended with unless that is closed (errors.Is):
// what serve returns once stopped (http.ErrServerClosed, net.ErrClosed).
func ServeUntil(ctx context.Context, serve, stop func() error, closed error) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := stop(); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, closed) {
		return err
	}
	return nil
}

// PrintDevInstructions prints curl commands that get tokens from the dev
// issuer and call each route.
func PrintDevInstructions(w io.Writer, tokenURL, api string, cfg Config) {
	get := func(scope, resource string) string {
		return fmt.Sprintf("$(curl -s -H 'Accept: text/plain' -d 'scope=%s' -d 'resource=%s' %s)", scope, resource, tokenURL)
	}
	fmt.Fprintf(w, `Dev mode: an in-process authorization server issues tokens at %s
Get tokens (they live 5 minutes):
  TOKEN=%s
  ADMIN=%s
Call the API:
  curl -i -H "Authorization: Bearer $TOKEN" %s/api/me                      # 200
  curl -i -H "Authorization: Bearer $TOKEN" %s/api/notes                   # 200
  curl -i -X POST -H "Authorization: Bearer $TOKEN" %s/api/notes           # 403 insufficient_scope
  curl -i -H "Authorization: Bearer $ADMIN" %s/admin/stats                 # 200
  curl -i %s/api/me                                                        # 401
`, tokenURL, get(ScopeNotesRead, cfg.Audience), get(ScopeAdmin, cfg.AdminAudience), api, api, api, api, api)
}

// Main is the whole main function of an example server: flags, logger,
// signals, start-up and serving. Only the router differs between servers.
func Main(router func(*App) http.Handler) {
	cfg, err := ParseOSFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app, err := New(ctx, cfg, log)
	if err != nil {
		log.Error("start-up failed", "error", err)
		os.Exit(1)
	}
	defer app.Close()
	if err := app.Run(ctx, router(app), os.Stdout, log); err != nil {
		log.Error("server failed", "error", err)
		app.Close()
		os.Exit(1)
	}
}
