// Package exampleapp is the small API the example servers share: flags,
// routes' handlers, the dev issuer and start-up, so that the net/http, Echo
// and Gin servers stay identical (examples/README.md says how they behave).
package exampleapp

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// Config is what the flags and their environment fallbacks set.
type Config struct {
	Addr string
	// Issuers are the accepted issuers, in the order given: -issuer once
	// each, or OAUTH_ISSUER separated by spaces. None: dev mode.
	Issuers       []string
	JWKSURL       string
	Audience      string
	AdminAudience string
	Leeway        time.Duration
	// UnknownKIDCooldown is the least time between two key refreshes
	// caused by tokens naming a kid the cache does not know.
	UnknownKIDCooldown time.Duration
	// DPoPNonce makes DPoP proofs carry a nonce this server issued.
	DPoPNonce bool
	// ReplayStore is where DPoP proofs' jtis are remembered: "memory", or
	// a redis:// URL that replicas share.
	ReplayStore string
	// NoResourceMetadata leaves out RFC 9728: a server that cannot serve
	// the metadata documents (the gRPC example serves no HTTP) must not
	// name them in its challenges.
	NoResourceMetadata bool
}

// Dev reports whether no issuer was given, so the server runs its own
// in-process dev authorization server.
func (c Config) Dev() bool { return len(c.Issuers) == 0 }

// Equal reports whether c and d are the same configuration.
func (c Config) Equal(d Config) bool {
	return c.Addr == d.Addr && slices.Equal(c.Issuers, d.Issuers) && c.JWKSURL == d.JWKSURL &&
		c.Audience == d.Audience && c.AdminAudience == d.AdminAudience && c.Leeway == d.Leeway &&
		c.UnknownKIDCooldown == d.UnknownKIDCooldown && c.DPoPNonce == d.DPoPNonce && c.ReplayStore == d.ReplayStore &&
		c.NoResourceMetadata == d.NoResourceMetadata
}

// ParseFlags reads args (without the program name), falling back to the
// environment for each flag that is not given; an empty environment
// variable counts as unset, and a flag always wins.
func ParseFlags(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var leeway, cooldown string
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (env ADDR)")
	fs.Func("issuer", "an accepted iss, JWKS found by discovery; repeat for several; none: dev mode (env OAUTH_ISSUER, space-separated)", func(v string) error {
		if v == "" {
			return errors.New("empty issuer")
		}
		c.Issuers = append(c.Issuers, v)
		return nil
	})
	fs.StringVar(&c.JWKSURL, "jwks-url", env("OAUTH_JWKS_URL", ""), "JWKS URL; skips discovery (env OAUTH_JWKS_URL)")
	fs.StringVar(&c.Audience, "audience", env("OAUTH_AUDIENCE", "https://api.example.com"), "audience every /api/ route requires (env OAUTH_AUDIENCE)")
	fs.StringVar(&c.AdminAudience, "admin-audience", env("OAUTH_ADMIN_AUDIENCE", ""), "audience /admin/ routes require; default <audience>/admin (env OAUTH_ADMIN_AUDIENCE)")
	fs.StringVar(&leeway, "leeway", env("OAUTH_LEEWAY", "30s"), "clock-skew leeway for exp/nbf/iat (env OAUTH_LEEWAY)")
	fs.StringVar(&cooldown, "unknown-kid-cooldown", env("OAUTH_UNKNOWN_KID_COOLDOWN", "30s"), "least time between key refreshes caused by unknown kids (env OAUTH_UNKNOWN_KID_COOLDOWN)")
	fs.BoolVar(&c.DPoPNonce, "dpop-nonce", false, "DPoP proofs must carry a nonce this server issued (env OAUTH_DPOP_NONCE: true or false)")
	fs.StringVar(&c.ReplayStore, "replay-store", env("OAUTH_REPLAY_STORE", "memory"), "where DPoP proof jtis are remembered: memory, or redis://host:port/db shared by replicas (env OAUTH_REPLAY_STORE)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	nonceFlag := false
	fs.Visit(func(f *flag.Flag) { nonceFlag = nonceFlag || f.Name == "dpop-nonce" })
	if !nonceFlag { // the flag wins; only without it is the variable read
		switch v := getenv("OAUTH_DPOP_NONCE"); v {
		case "", "false":
		case "true":
			c.DPoPNonce = true
		default:
			return Config{}, fmt.Errorf("OAUTH_DPOP_NONCE: %q is neither true nor false", v)
		}
	}
	if c.ReplayStore != "memory" {
		if _, err := parseRedisURL(c.ReplayStore); err != nil {
			return Config{}, fmt.Errorf("-replay-store: %w", err)
		}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if c.Issuers == nil { // no -issuer flag: the environment's, if any
		c.Issuers = strings.Fields(getenv("OAUTH_ISSUER"))
		if len(c.Issuers) == 0 {
			c.Issuers = nil
		}
	}
	d, err := time.ParseDuration(leeway)
	if err != nil || d < 0 {
		return Config{}, fmt.Errorf("-leeway: %q is not a non-negative Go duration", leeway)
	}
	c.Leeway = d
	if d, err = time.ParseDuration(cooldown); err != nil || d < 0 {
		return Config{}, fmt.Errorf("-unknown-kid-cooldown: %q is not a non-negative Go duration", cooldown)
	}
	c.UnknownKIDCooldown = d
	if c.AdminAudience == "" {
		c.AdminAudience = c.Audience + "/admin"
	}
	if c.Audience == "" {
		return Config{}, errors.New("-audience must not be empty")
	}
	if c.JWKSURL != "" && len(c.Issuers) != 1 {
		return Config{}, fmt.Errorf("-jwks-url needs exactly one -issuer (got %d): the issuer is still checked in every token, and each issuer has its own keys", len(c.Issuers))
	}
	return c, nil
}

// ParseOSFlags is ParseFlags over os.Args and the process environment.
func ParseOSFlags() (Config, error) {
	return ParseFlags(os.Args[0], os.Args[1:], os.Getenv, os.Stderr)
}
