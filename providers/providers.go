// Package providers holds ready, safe configurations of the identity
// providers whose access tokens resource servers verify: where each keeps
// its keys, the exact iss it writes, where it puts scopes, roles and the
// client ID, how its ID tokens are told apart from its access tokens, and
// the allow-lists without which its tokens would admit callers from
// anywhere. Each constructor cites the provider's own documentation.
//
//	auth0, err := providers.Auth0("my-tenant.eu.auth0.com")
//	...
//	guard, err := providers.New(ctx, []string{"https://notes.example.com"}, []*providers.Preset{auth0})
//	...
//	defer guard.Close() // closes the presets' key caches
//
// A preset is built from the middleware's general options (WithIssuer,
// WithScopeClaims, WithClientIDClaims, WithSubjectClaim, WithClaimsCheck,
// WithTokenHeader, ...) and jwks's (WithDiscoveryURL), so everything a
// preset does can be done, or changed, without it.
package providers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/jwtguard/jwtguard/internal/loopback"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/middleware"
)

// ErrNotLocallyVerifiable: the provider's access tokens cannot be verified
// by a resource server on its own (Okta's org authorization server signs
// them with keys it does not publish for that purpose); introspect them,
// or use the provider's custom authorization server.
var ErrNotLocallyVerifiable = errors.New("providers: these access tokens cannot be verified locally")

// ErrAllowListRequired: the preset would accept tokens from every project,
// repository, namespace or tenant of the provider without an allow-list,
// and none was given.
var ErrAllowListRequired = errors.New("providers: an allow-list is required")

// ErrIDToken is the cause (Error.Cause) of a refusal of a token that the
// provider's rules show to be an ID token, or another token that is not an
// access token for an API: 401 invalid_token, reason "claims_rejected".
var ErrIDToken = errors.New("providers: not an access token")

// ErrNotAllowed is the cause of a refusal of a token from a caller outside
// the preset's allow-list.
var ErrNotAllowed = errors.New("providers: caller not in the allow-list")

// A Preset is one identity provider's configuration. Build it with a
// constructor of this package, then hand it to New, or use Keys and
// Option to add it to a Guard of your own.
type Preset struct {
	name         string
	issuer       string // the exact iss, or the template of a multi-tenant issuer
	template     bool
	discoveryURL string // metadata elsewhere than at the issuer; "" for the well-known places
	jwksURL      string // keys without discovery; "" to discover
	issuerOpts   []middleware.Option
	tokenHeader  string // a proxy's header holding the token; "" for Authorization
	doc          string
}

// Name is the provider's name, for logs.
func (p *Preset) Name() string { return p.name }

// Issuer is the iss the provider writes (for a multi-tenant preset, the
// template with middleware.TenantPlaceholder).
func (p *Preset) Issuer() string { return p.issuer }

// Doc is the provider's documentation this preset follows.
func (p *Preset) Doc() string { return p.doc }

// Keys returns a key cache for the provider's signing keys, found as the
// provider documents: discovery at the issuer, metadata at another URL, or
// a JWKS URL. It does no I/O (see jwks.New); Close it to stop it, and give
// it a ctx that lives as long as the server (see jwks.New).
func (p *Preset) Keys(ctx context.Context, opts ...jwks.Option) (*jwks.Cache, error) {
	if p.jwksURL != "" {
		return jwks.NewFromJWKSURL(ctx, p.jwksURL, opts...)
	}
	if p.discoveryURL != "" {
		opts = append([]jwks.Option{jwks.WithDiscoveryURL(p.discoveryURL)}, opts...)
	}
	return jwks.New(ctx, p.issuer, opts...)
}

// Option returns the preset as one issuer of a Guard, verified with keys
// (from Keys): middleware.WithIssuer, or WithIssuerTemplate for a
// multi-tenant preset, with the preset's issuer options. A preset that
// reads the token from a proxy's header needs GuardOptions too, and a
// Guard of its own: without them the proxy's tokens would be taken from
// the Authorization header, from anyone.
func (p *Preset) Option(keys middleware.KeySet) middleware.Option {
	if p.template {
		return middleware.WithIssuerTemplate(keys, p.issuer, p.issuerOpts...)
	}
	return middleware.WithIssuer(keys, p.issuer, p.issuerOpts...)
}

// GuardOptions are the options the preset needs from the whole Guard: the
// token's header, for the providers that put it in one of their own.
func (p *Preset) GuardOptions() []middleware.Option {
	if p.tokenHeader == "" {
		return nil
	}
	return []middleware.Option{middleware.WithTokenHeader(p.tokenHeader)}
}

// Option configures New.
type Option func(*settings)

type settings struct {
	keyOpts   []jwks.Option
	guardOpts []middleware.Option
}

// WithKeyOptions are given to every preset's key cache (an HTTP client
// with a proxy, a logger, metrics).
func WithKeyOptions(opts ...jwks.Option) Option {
	return func(s *settings) { s.keyOpts = append(s.keyOpts, opts...) }
}

// WithGuardOptions are given to the Guard after the presets' own.
func WithGuardOptions(opts ...middleware.Option) Option {
	return func(s *settings) { s.guardOpts = append(s.guardOpts, opts...) }
}

// New returns a Guard that accepts the access tokens of each preset, for
// audiences, each issuer with its own key cache: the Guard's Close closes
// them (ctx, as jwks.New's, must live as long as the Guard; a ctx that
// ends first freezes the keys, and each cache logs that). It fails for no presets, for presets that read the token
// from different places (a proxy's header, such as Google IAP's, proves
// the request came through that proxy only when that header is all the
// Guard reads), and for anything middleware.New refuses.
func New(ctx context.Context, audiences []string, presets []*Preset, opts ...Option) (*middleware.Guard, error) {
	var s settings
	for _, o := range opts {
		if o == nil { // an error here, not a nil-pointer panic inside New
			return nil, errors.New("providers: nil Option")
		}
		o(&s)
	}
	if len(presets) == 0 {
		return nil, errors.New("providers: no presets")
	}
	var guardOpts []middleware.Option
	var caches []*jwks.Cache
	header := ""
	for i, p := range presets {
		if p == nil {
			closeAll(caches)
			return nil, errors.New("providers: nil preset")
		}
		if i > 0 && p.tokenHeader != header {
			closeAll(caches)
			return nil, fmt.Errorf("providers: %s reads the token from %s, another preset from %s: make a Guard for each", p.name, source(p.tokenHeader), source(header))
		}
		header = p.tokenHeader
		keys, err := p.Keys(ctx, s.keyOpts...)
		if err != nil {
			closeAll(caches)
			return nil, fmt.Errorf("providers: %s: %w", p.name, err)
		}
		caches = append(caches, keys)
		guardOpts = append(guardOpts, p.Option(keys))
	}
	if header != "" {
		guardOpts = append(guardOpts, middleware.WithTokenHeader(header))
	}
	guardOpts = append(guardOpts, middleware.WithOnClose(func() { closeAll(caches) }))
	g, err := middleware.New(nil, "", audiences, append(guardOpts, s.guardOpts...)...)
	if err != nil {
		closeAll(caches) // nothing else holds them
		return nil, err
	}
	return g, nil
}

func source(header string) string {
	if header == "" {
		return "the Authorization header"
	}
	return header
}

func closeAll(caches []*jwks.Cache) {
	for _, c := range caches {
		c.Close()
	}
}

// ---- checks the presets share ----

// requireClaim refuses tokens whose claim name is not one of values
// (compared exactly, as middleware.ClaimIn does), with cause.
func requireClaim(name string, cause error, values ...string) middleware.Option {
	return requireClaimAt([]string{name}, cause, values...)
}

// requireClaimAt is requireClaim for a claim at a path into nested objects.
func requireClaimAt(path []string, cause error, values ...string) middleware.Option {
	return middleware.WithClaimsCheck(func(c *claims.Claims) error {
		for _, v := range c.Strings(path...) {
			if slices.Contains(values, v) {
				return nil
			}
		}
		return fmt.Errorf("%w: %s is not %s", cause, strings.Join(path, "."), strings.Join(values, " or "))
	})
}

// refuseClaims refuses tokens that carry any of names: claims a provider
// puts in its ID tokens and never in its access tokens.
func refuseClaims(names ...string) middleware.Option {
	return middleware.WithClaimsCheck(func(c *claims.Claims) error {
		for _, n := range names {
			if present(c, n) {
				return fmt.Errorf("%w: it carries %s", ErrIDToken, n)
			}
		}
		return nil
	})
}

// requireOneOf refuses tokens that carry none of names.
func requireOneOf(cause error, names ...string) middleware.Option {
	return middleware.WithClaimsCheck(func(c *claims.Claims) error {
		for _, n := range names {
			if present(c, n) {
				return nil
			}
		}
		return fmt.Errorf("%w: it carries none of %s", cause, strings.Join(names, ", "))
	})
}

// present reports whether the token carries the claim name.
func present(c *claims.Claims, name string) bool {
	switch name {
	case "auth_time":
		return !c.AuthTime.IsZero()
	case "acr":
		return c.ACR != ""
	case "amr":
		return c.AMR != nil
	}
	_, ok := c.Raw(name)
	return ok || c.Strings(name) != nil
}

// label checks a constructor's arguments that go into a host name or a
// path segment: not empty, and none of the characters that would move it
// elsewhere in the URL. They are given as pairs, what the argument is and
// its value, and the first bad one, in that order, is reported.
func label(preset string, whatValue ...string) error {
	if len(whatValue)%2 != 0 {
		panic("providers: label needs pairs of what and value")
	}
	for i := 0; i < len(whatValue); i += 2 {
		what, v := whatValue[i], whatValue[i+1]
		if v == "" || strings.ContainsAny(v, "/?#@:\\ \t\r\n") {
			return fmt.Errorf("providers: %s: invalid %s %q", preset, what, v)
		}
	}
	return nil
}

// checkURL checks a constructor's argument that is a URL of the provider's
// own deployment (a self-hosted server): absolute https (http only on
// loopback, for development), without query or fragment.
func checkURL(preset, v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		(u.Scheme != "https" && !(u.Scheme == "http" && loopback.Host(u.Hostname()))) {
		return fmt.Errorf("providers: %s: %q must be an absolute https URL", preset, v)
	}
	return nil
}

func allowList(preset, what string, list []string) error {
	if len(list) == 0 {
		return fmt.Errorf("%w: %s needs the %s allowed", ErrAllowListRequired, preset, what)
	}
	for _, v := range list {
		if v == "" {
			return fmt.Errorf("providers: %s: an empty %s in the allow-list", preset, what)
		}
	}
	return nil
}
