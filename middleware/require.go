package middleware

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/jwtguard/jwtguard/claims"
)

// A Requirement is a per-route condition on a verified token, made by
// Audience, Scopes or AnyScope and applied by Guard.Require.
type Requirement struct {
	kind   requirementKind
	values []string
}

type requirementKind int

const (
	reqAudience requirementKind = iota + 1
	reqAllScopes
	reqAnyScope
)

// Audience requires the token's aud to contain one of auds instead of the
// Guard's own audiences, for routes that belong to another resource (an
// admin API, say). The expired hint still needs this audience to match.
func Audience(auds ...string) Requirement {
	return Requirement{kind: reqAudience, values: slices.Clone(auds)}
}

// Scopes requires every one of scopes (RFC 6749 §3.3); a token missing any
// is refused 403 insufficient_scope naming them all.
func Scopes(scopes ...string) Requirement {
	return Requirement{kind: reqAllScopes, values: slices.Clone(scopes)}
}

// AnyScope requires at least one of scopes.
func AnyScope(scopes ...string) Requirement {
	return Requirement{kind: reqAnyScope, values: slices.Clone(scopes)}
}

// Require returns middleware that verifies the token (unless an outer
// Guard handler already put claims in the request context) and then checks
// reqs. It composes on single routes and on groups:
//
//	mux.Handle("GET /api/notes", g.Require(middleware.Scopes("notes:read"))(notes))
//	r.With(g.Require(middleware.Scopes("admin"))).Get("/stats", stats) // chi
//
// When claims are already in the context (an outer Guard handler verified the
// token), the signature is not checked again, but the issuer and the rule's
// audience are (401 invalid_token when they do not match), and then the
// scopes. Claims that application code puts in the context with
// claims.NewContext are trusted the same way.
//
// Require panics on the programming errors Rule describes.
func (g *Guard) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return g.Rule(reqs...).Middleware
}

// A Rule is a set of requirements compiled by Guard.Rule: everything a
// route needs checked, with its refusals precomputed. Framework adapters
// call Check; net/http code uses Middleware (or Guard.Require). A Rule is
// safe for concurrent use.
type Rule struct {
	g         *Guard
	audiences []string // the audiences a token must have one of
	scopes    []Requirement
	refusals  []*Error // one 403 per scope requirement
}

// Rule compiles reqs for use with Check or Middleware.
//
// Rule panics if a requirement names no values, an empty value, or a scope
// that RFC 6749 §3.3 does not allow (a space, quote, backslash or control
// character): these are programming errors, found at start-up, like an
// invalid pattern given to http.ServeMux.
func (g *Guard) Rule(reqs ...Requirement) *Rule {
	ru := &Rule{g: g, audiences: g.audiences}
	var auds []string
	for _, rq := range reqs {
		if rq.kind != 0 && (len(rq.values) == 0 || slices.Contains(rq.values, "")) {
			panic(fmt.Sprintf("middleware: requirement %d with no or empty values", rq.kind))
		}
		switch rq.kind {
		case reqAudience:
			auds = append(auds, rq.values...)
		case reqAllScopes, reqAnyScope:
			for _, s := range rq.values {
				if !validScopeToken(s) {
					panic(fmt.Sprintf("middleware: invalid scope %q", s))
				}
			}
			ru.scopes = append(ru.scopes, rq)
			ref := newRefusal(g.realm, ErrInsufficientScope, http.StatusForbidden,
				"insufficient_scope", "The access token does not grant the scope this resource requires", rq.values, 0)
			ref.Reason = "insufficient_scope"
			ru.refusals = append(ru.refusals, ref)
		default:
			panic("middleware: zero Requirement; use Audience, Scopes or AnyScope")
		}
	}
	if auds != nil {
		ru.audiences = auds
	}
	return ru
}

// Check verifies the request's token for the rule's audiences, unless claims
// are already in r's context (then it checks their issuer and audience and
// runs the Guard's WithClaimsCheck checks on them), and checks the rule's
// scopes. It returns r with
// the claims in its context, or an *Error to hand to Guard.Fail.
func (ru *Rule) Check(r *http.Request) (*http.Request, error) {
	r, err := ru.check(r)
	ru.g.count(err)
	return r, err
}

func (ru *Rule) check(r *http.Request) (*http.Request, error) {
	c, ok := claims.FromContext(r.Context())
	if ok {
		// Claims from an outer guard: trust their signature check, but not
		// that it was made for this issuer, this route's audience, or this
		// Guard's own claims checks.
		if !ru.g.issuerOK(c.Issuer) {
			return r, ru.g.refusals[rIssuer]
		}
		if !ru.g.audienceOK(c, ru.audiences) {
			return r, ru.g.refusals[rAudience]
		}
		if err := ru.g.runChecks(c); err != nil {
			return r, ru.g.refuse(rClaimsRejected, err)
		}
	} else {
		var err error
		if c, err = ru.g.verifyFor(r, ru.audiences); err != nil {
			return r, err
		}
		r = r.WithContext(claims.NewContext(r.Context(), c))
	}
	for i, rq := range ru.scopes {
		if (rq.kind == reqAllScopes && !c.Scopes.HasAll(rq.values...)) ||
			(rq.kind == reqAnyScope && !c.Scopes.HasAny(rq.values...)) {
			return r, ru.refusals[i]
		}
	}
	return r, nil
}

// Middleware returns next wrapped so that it runs only for requests that
// pass Check; others are refused through the Guard's error handler.
func (ru *Rule) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := ru.Check(r)
		if err != nil {
			ru.g.Fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}
