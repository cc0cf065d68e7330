package middleware

import (
	"fmt"
	"strings"

	"github.com/jwtguard/jwtguard/claims"
)

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
	for _, path := range is.scopeClaims {
		for _, v := range c.Values(path...) {
			if v != "" && !c.Scopes.Has(v) {
				c.Scopes = append(c.Scopes, v)
			}
		}
	}
}
