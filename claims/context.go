package claims

import (
	"context"

	"github.com/jwtguard/jwtguard/internal/claimsctx"
)

// The key is internal (claimsctx.Key) and zero-sized, so that no code
// outside this module can read or overwrite the claims in a context, and
// storing it does not allocate.

// NewContext returns a copy of ctx carrying c, so that middleware that has
// verified a token can hand its claims to the handlers downstream. The
// claims are shared, not copied: treat them as read-only after this call.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, claimsctx.Key{}, c)
}

// FromContext returns the claims stored by NewContext. The boolean is false
// when there are none (or a nil *Claims was stored), which a handler should
// treat as "not authenticated" rather than as an empty claim set. The same
// *Claims may be handed to many requests at once (the middleware caches
// verified tokens), so never modify it.
func FromContext(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(claimsctx.Key{}).(*Claims)
	return c, ok && c != nil
}
