package middleware

import (
	"context"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/claimsctx"
)

// verified is the context a Rule puts on a request it let through: the
// claims, which claims.FromContext finds, and the proof of which Guard
// verified them, which no code outside this package can make. A nested Rule
// of the same Guard then only authorizes; any other Rule verifies the token
// again under its own Guard's policy. It is one allocation, as
// context.WithValue would be.
type verified struct {
	context.Context
	claims *claims.Claims
	guard  *Guard
	is     *issuer
	scheme scheme       // the request's, for the challenges of a nested rule's refusal
	rec    *proofRecord // the DPoP proof it recorded as used: a nested Guard on the same store does not record it again
	passed bool         // the rule that attached it let the request through: only then does it vouch
}

type verifiedKey struct{}

// Value answers for the claims key, once the rule let the request
// through, and for the proof; anything else is the parent's. Until then
// the claims are not the request's: a refused Check's request (which
// Guard.Fail and the error handler are given, and which application code
// may carry on with, serving it anonymously) must not show the refused
// token's subject to claims.FromContext.
func (v *verified) Value(key any) any {
	switch key.(type) {
	case claimsctx.Key:
		if v.passed {
			return v.claims
		}
	case verifiedKey:
		return v
	}
	return v.Context.Value(key)
}

// String describes the context without its claims, as context.WithValue's
// contexts do for their values.
func (v *verified) String() string { return "middleware.verified" }

// WithoutClaims returns ctx without what Guards put in it: claims.FromContext
// finds no claims in it, and no Rule takes it as verified. It is for
// handing a request's context to work that outlives the request and
// serves later ones (the MCP SDK runs a session's every call under the
// context of the request that opened it): those must not be seen, or
// authorized, with the first request's token.
func WithoutClaims(ctx context.Context) context.Context { return withoutClaims{ctx} }

type withoutClaims struct{ context.Context }

func (w withoutClaims) Value(key any) any {
	switch key.(type) {
	case claimsctx.Key, verifiedKey:
		return nil
	}
	return w.Context.Value(key)
}

func (withoutClaims) String() string { return "middleware.WithoutClaims" }

// verifiedOf returns what g put in ctx when it verified its token and
// let the request through, or nil.
func verifiedOf(ctx context.Context, g *Guard) *verified {
	if v := attached(ctx, g); v != nil && v.passed {
		return v
	}
	return nil
}

// attached is the verified context g put in ctx last, passed or not.
func attached(ctx context.Context, g *Guard) *verified {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	if !ok || v.guard != g {
		return nil
	}
	return v
}

// refusedKey holds, in the context of a request a Rule refused, a
// refusedBy: the issuer the refusal was counted under, for Guard.Fail's
// log line. It is put there only when that line is logged.
type refusedKey struct{}

type refusedBy struct {
	guard *Guard
	is    *issuer
}

// refusedIssuer is the issuer g's refusal of the request with ctx was
// counted under, or nil for none.
func refusedIssuer(ctx context.Context, g *Guard) *issuer {
	if v, ok := ctx.Value(refusedKey{}).(refusedBy); ok && v.guard == g {
		return v.is
	}
	if v := attached(ctx, g); v != nil {
		// Passed or not: a route's rule that Handler asked early refused
		// a request whose token this Guard verified.
		return v.is
	}
	return nil
}

// verifiedWith returns the verified context in ctx that holds c, put there
// by any Guard, or nil when c came from elsewhere (claims.NewContext).
func verifiedWith(ctx context.Context, c *claims.Claims) *verified {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	for ok {
		if v.claims == c && v.passed {
			return v
		}
		v, ok = v.Context.Value(verifiedKey{}).(*verified)
	}
	return nil
}
