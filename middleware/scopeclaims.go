package middleware

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jwtguard/jwtguard/claims"
)

// WithScopeClaims names claims whose values also count as scopes for
// Scopes and AnyScope requirements, for issuers that put permissions
// elsewhere: Auth0's "permissions", Microsoft Entra ID's "roles",
// Keycloak's "realm_access.roles", ZITADEL's
// "urn:zitadel:iam:org:project:roles". A path is a claim name, or names
// separated by dots into nested objects; its value must be an array of
// strings, a space-separated string, or an object whose member names are
// the scopes (ZITADEL's shape); any other shape is ignored.
// The values are merged into the verified claims' Scopes. Default: none;
// only "scope" and "scp" are read.
func WithScopeClaims(paths ...string) Option {
	return func(c *config) { c.scopeClaims = append(c.scopeClaims, paths...) }
}

// WithClientIDAsAudience accepts a token that has no "aud" claim at all when
// its "client_id" is one of the route's audiences. AWS Cognito access tokens
// carry the app client ID that way instead of an audience. Off by default:
// client_id names who asked for the token, not who it is for, so use it
// only for such issuers, with their app client ID as the audience.
func WithClientIDAsAudience() Option {
	return func(c *config) { c.clientIDAudience = true }
}

func validScopePaths(paths []string) error {
	for _, p := range paths {
		if p == "" || slices.Contains(strings.Split(p, "."), "") {
			return fmt.Errorf("middleware: invalid scope claim path %q", p)
		}
	}
	return nil
}

// addScopeClaims merges the values found at the configured paths into
// c.Scopes, keeping the order of first appearance and no duplicates.
func (g *Guard) addScopeClaims(c *claims.Claims) {
	for _, path := range g.scopeClaims {
		for _, v := range scopeClaimValues(c, path) {
			if v != "" && !c.Scopes.Has(v) {
				c.Scopes = append(c.Scopes, v)
			}
		}
	}
}

func scopeClaimValues(c *claims.Claims, path string) []string {
	first, rest, nested := strings.Cut(path, ".")
	if !nested {
		switch first {
		case "roles":
			return c.Roles
		case "groups":
			return c.Groups
		case "entitlements":
			return c.Entitlements
		case "scope", "scp":
			return nil // already in Scopes
		}
	}
	raw, ok := c.Raw(first)
	if !ok {
		return nil
	}
	if nested {
		for _, name := range strings.Split(rest, ".") {
			var obj map[string]json.RawMessage
			if json.Unmarshal(raw, &obj) != nil {
				return nil
			}
			if raw, ok = obj[name]; !ok {
				return nil
			}
		}
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return claims.ParseScopes(s)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		names := make([]string, 0, len(obj))
		for name := range obj {
			names = append(names, name)
		}
		slices.Sort(names) // a stable order for Scopes
		return names
	}
	return nil
}
