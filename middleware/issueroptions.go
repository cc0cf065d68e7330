package middleware

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jwtguard/jwtguard/claims"
)

// WithClaimsCheck adds a check that a token's claims must pass, for rules a
// profile of the issuer adds: AWS Cognito's token_use must be "access" (its
// ID tokens carry the app client ID as aud and would otherwise pass), or a
// tenant claim must name yours. Checks run once the signature has verified
// and every built-in claim check has passed, before the expiry verdict: an
// expired token that fails a check is refused as ErrClaimsRejected, not
// told to refresh. They see Scopes with WithScopeClaims already merged, and
// a Rule of this Guard runs them on claims an outer Guard verified too.
//
// A non-nil error refuses the request with 401 invalid_token and
// ErrClaimsRejected; the error becomes the refusal's Cause, which is logged
// (at debug level) and never sent to the client, so keep claim values out
// of it. A check must be safe for concurrent use, must not modify the
// claims, and must depend on them alone (not on the request or the time):
// a verified token is cached, and its checks are not run again while the
// cache holds it. Checks run in the order given; nil checks are ignored.
func WithClaimsCheck(check func(*claims.Claims) error) Option {
	return issuerOption(func(ic *issuerConfig) {
		if check != nil {
			ic.checks = append(ic.checks, check)
		}
	})
}

// WithIssuerAliases accepts tokens whose iss is one of aliases as well as
// the issuer given to New, for an issuer that documents more than one
// spelling of itself: Google's ID tokens carry "https://accounts.google.com"
// or "accounts.google.com". Each alias is compared exactly, like the issuer;
// the keys still come from the one key set, so an alias must name the same
// authorization server, never another one. An empty alias makes New fail.
// Default: none.
func WithIssuerAliases(aliases ...string) Option {
	return issuerOption(func(ic *issuerConfig) { ic.aliases = append(ic.aliases, aliases...) })
}

// WithScopeClaims names claims whose values also count as scopes for
// Scopes and AnyScope requirements, for issuers that put permissions
// elsewhere: Auth0's "permissions", Microsoft Entra ID's "roles",
// Keycloak's "realm_access.roles", ZITADEL's
// "urn:zitadel:iam:org:project:roles". A path is a claim name, or names
// separated by dots into nested objects; a name that itself holds a dot
// escapes it with a backslash, as in Keycloak's client roles for a client
// ID with dots: `resource_access.api\.example\.com.roles` (and `\\` is a
// backslash; any other backslash makes New fail). The value found must be
// an array of strings, a space-separated string, or an object whose member
// names are the scopes (ZITADEL's shape), read by claims.Claims.Values, the
// same rule for every claim; any other shape is ignored. The
// values are merged into the verified claims' Scopes. Default: none; only
// "scope" and "scp" are read.
func WithScopeClaims(paths ...string) Option {
	return issuerOption(func(ic *issuerConfig) { ic.scopeClaims = append(ic.scopeClaims, paths...) })
}

// WithClientIDAsAudience accepts a token that has no "aud" claim at all when
// its "client_id" is one of the route's audiences. AWS Cognito access tokens
// carry the app client ID that way instead of an audience. Off by default:
// client_id names who asked for the token, not who it is for, so use it
// only for such issuers, with their app client ID as the audience.
func WithClientIDAsAudience() Option {
	return issuerOption(func(ic *issuerConfig) { ic.clientIDAudience = true })
}

// splitScopePaths splits each path into its member names, undoing the
// backslash escapes. It refuses empty names and dangling or unknown escapes,
// so that a typo in a path fails New instead of silently matching nothing.
func splitScopePaths(paths []string) ([][]string, error) {
	out := make([][]string, 0, len(paths))
	for _, p := range paths {
		names, ok := splitPath(p)
		if !ok {
			return nil, fmt.Errorf("middleware: invalid scope claim path %q", p)
		}
		out = append(out, names)
	}
	return out, nil
}

func splitPath(p string) ([]string, bool) {
	var names []string
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '\\':
			if i+1 == len(p) || (p[i+1] != '.' && p[i+1] != '\\') {
				return nil, false
			}
			i++
			b.WriteByte(p[i])
		case '.':
			if b.Len() == 0 {
				return nil, false
			}
			names = append(names, b.String())
			b.Reset()
		default:
			b.WriteByte(p[i])
		}
	}
	if b.Len() == 0 {
		return nil, false
	}
	return append(names, b.String()), true
}

// addScopeClaims merges the values found at the configured paths into
// c.Scopes, keeping the order of first appearance and no duplicates.
func (is *issuer) addScopeClaims(c *claims.Claims) {
	add := func(vals []string) {
		for _, v := range vals {
			if v != "" && !c.Scopes.Has(v) {
				c.Scopes = append(c.Scopes, v)
			}
		}
	}
	for _, path := range is.scopeClaims {
		add(c.Values(path...))
	}
	for _, f := range is.scopeFuncs {
		add(f(c))
	}
}

// WithScopesFrom merges what f returns into the verified claims' Scopes,
// for permissions that no claim path reads as they are: ZITADEL's roles
// of one organisation, say, which sit in an object keyed by role whose
// values name the organisations that granted each. f runs once per
// verified token (not on a token-cache hit), after the signature, and
// must not keep c. An issuer option.
func WithScopesFrom(f func(c *claims.Claims) []string) Option {
	return issuerOption(func(ic *issuerConfig) {
		if f == nil {
			ic.errs = append(ic.errs, errors.New("middleware: WithScopesFrom(nil)"))
			return
		}
		ic.scopeFuncs = append(ic.scopeFuncs, f)
	})
}

// WithClientIDClaims names the claims that give Claims.ClientID, tried in
// order; the first that holds a non-empty string wins, and
// Claims.ClientIDFrom names it unless it is "client_id" itself (ClaimIn and
// WithClientIDAsAudience read only the token's own client_id). Providers name the
// client differently: RFC 9068's "client_id" (the default, alone), "azp"
// (Auth0's default profile, Entra ID v2, Azure AD B2C, Keycloak, Google),
// "cid" (Okta), "appid" (Entra ID v1, AD FS). An issuer option.
func WithClientIDClaims(names ...string) Option {
	return issuerOption(func(ic *issuerConfig) {
		ic.clientIDClaims = append(make([]string, 0, len(names)), names...)
	})
}

// WithSubjectClaim names the claim that gives Claims.Subject when a token
// has no "sub", as client-credentials tokens of Duende IdentityServer do
// (name "client_id" there). The Subject then names a client, not a user:
// Claims.SubjectFrom says so (it names the claim), and ClaimIn("sub", …)
// and Claims.Strings("sub") see no sub. A handler that maps Subject to a
// user account must check SubjectFrom, or a client whose ID equals a
// user's sub would act as that user. A token with a "sub" keeps it.
// Without this option a token without "sub" is refused (RFC 9068 §2.2
// requires it). An issuer option.
func WithSubjectClaim(name string) Option {
	return issuerOption(func(ic *issuerConfig) { ic.subjectClaim = name })
}

// fillIdentity applies the issuer's WithClientIDClaims and
// WithSubjectClaim to c. It runs before the checks that read them.
func (is *issuer) fillIdentity(c *claims.Claims) {
	clientID := c.ClientID // the token's own client_id
	if c.ClientIDFrom != "" {
		clientID = "" // filled before: not the token's
	}
	if is.clientIDClaims != nil {
		c.ClientID, c.ClientIDFrom = "", ""
		for _, name := range is.clientIDClaims {
			if v := stringClaim(c, name, clientID); v != "" {
				c.ClientID = v
				if name != "client_id" {
					c.ClientIDFrom = name
				}
				break
			}
		}
	}
	if (c.Subject == "" || c.SubjectFrom != "") && is.subjectClaim != "" {
		c.Subject, c.SubjectFrom = stringClaim(c, is.subjectClaim, clientID), is.subjectClaim
		if c.Subject == "" {
			c.SubjectFrom = ""
		}
	}
}

// stringClaim is the claim name of c when it is a JSON string, or "";
// clientID is the token's own client_id, which has a field.
func stringClaim(c *claims.Claims, name, clientID string) string {
	if name == "client_id" {
		return clientID
	}
	v, _ := claims.Get[string](c, name)
	return v
}
