package claims

import (
	"slices"
	"strings"
)

// Scopes is a list of OAuth 2.0 scope tokens (RFC 6749 §3.3, RFC 8693 §4.2).
// It exists so that authorization checks are written as exact set tests
// (Has, HasAll, HasAny) rather than substring searches on the raw "scope"
// string, where "notes:read" would wrongly match "notes:readonly".
type Scopes []string

// ParseScopes splits a space-separated scope string, the wire form of the
// "scope" claim and of OAuth scope parameters, into its tokens. Runs of
// spaces are treated as one separator and empty tokens are dropped; only the
// space character (%x20, the RFC 6749 delimiter) separates tokens. Tokens are
// kept in order and are not de-duplicated. It returns nil for a string with
// no tokens.
func ParseScopes(s string) Scopes {
	n := countFields(s)
	if n == 0 {
		return nil
	}
	out := make(Scopes, 0, n)
	for s != "" {
		var f string
		f, s = nextField(s)
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// nextField returns the first space-delimited token of s (skipping leading
// spaces; "" if there is none) and the rest of s after it.
func nextField(s string) (field, rest string) {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	s = s[i:]
	if j := strings.IndexByte(s, ' '); j >= 0 {
		return s[:j], s[j+1:]
	}
	return s, ""
}

func countFields(s string) int {
	n := 0
	for s != "" {
		var f string
		f, s = nextField(s)
		if f != "" {
			n++
		}
	}
	return n
}

// Has reports whether the token carries scope, compared exactly and
// case-sensitively: "notes:readonly" does not satisfy "notes:read", and no
// wildcard or hierarchy is implied. Exactness is what makes scopes safe to
// use for authorization.
func (s Scopes) Has(scope string) bool {
	return slices.Contains(s, scope)
}

// HasAll reports whether every one of scopes is present (exact match). It is
// the usual check for an endpoint that needs several permissions. With no
// arguments it returns true, like "for all" over an empty set, so a route
// declared with no required scopes admits any valid token.
func (s Scopes) HasAll(scopes ...string) bool {
	for _, want := range scopes {
		if !s.Has(want) {
			return false
		}
	}
	return true
}

// HasAny reports whether at least one of scopes is present (exact match),
// for endpoints that accept alternative permissions (say "notes:read" or
// "notes:admin"). With no arguments it returns false: an empty list of
// alternatives grants nothing.
func (s Scopes) HasAny(scopes ...string) bool {
	for _, want := range scopes {
		if s.Has(want) {
			return true
		}
	}
	return false
}

// String returns the scopes joined by single spaces, the RFC 6749 wire form,
// for logs and for WWW-Authenticate "scope" parameters.
func (s Scopes) String() string {
	return strings.Join(s, " ")
}
