// Package exampleapp is the small API the example servers share: flags,
// routes' handlers, the dev issuer and start-up, so that the net/http, Echo
// and Gin servers stay identical (see shared/spec/http-contract.md).
package exampleapp

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// Config is what the flags and their environment fallbacks set.
type Config struct {
	Addr          string
	Issuer        string
	JWKSURL       string
	Audience      string
	AdminAudience string
	Leeway        time.Duration
}

// Dev reports whether no issuer was given, so the server runs its own
// in-process dev authorization server.
func (c Config) Dev() bool { return c.Issuer == "" }

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
	var leeway string
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (env ADDR)")
	fs.StringVar(&c.Issuer, "issuer", env("OAUTH_ISSUER", ""), "expected iss; JWKS found by discovery; empty: dev mode (env OAUTH_ISSUER)")
	fs.StringVar(&c.JWKSURL, "jwks-url", env("OAUTH_JWKS_URL", ""), "JWKS URL; skips discovery (env OAUTH_JWKS_URL)")
	fs.StringVar(&c.Audience, "audience", env("OAUTH_AUDIENCE", "https://api.example.com"), "audience every /api/ route requires (env OAUTH_AUDIENCE)")
	fs.StringVar(&c.AdminAudience, "admin-audience", env("OAUTH_ADMIN_AUDIENCE", ""), "audience /admin/ routes require; default <audience>/admin (env OAUTH_ADMIN_AUDIENCE)")
	fs.StringVar(&leeway, "leeway", env("OAUTH_LEEWAY", "30s"), "clock-skew leeway for exp/nbf/iat (env OAUTH_LEEWAY)")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	d, err := time.ParseDuration(leeway)
	if err != nil || d < 0 {
		return Config{}, fmt.Errorf("-leeway: %q is not a non-negative Go duration", leeway)
	}
	c.Leeway = d
	if c.AdminAudience == "" {
		c.AdminAudience = c.Audience + "/admin"
	}
	if c.Audience == "" {
		return Config{}, errors.New("-audience must not be empty")
	}
	if c.JWKSURL != "" && c.Issuer == "" {
		return Config{}, errors.New("-jwks-url needs -issuer: the issuer is still checked in every token")
	}
	return c, nil
}

// ParseOSFlags is ParseFlags over os.Args and the process environment.
func ParseOSFlags() (Config, error) {
	return ParseFlags(os.Args[0], os.Args[1:], os.Getenv, os.Stderr)
}
