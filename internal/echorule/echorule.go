// Package echorule is the Echo middleware that the Echo adapters
// (echoguard for Echo v4, echov5guard for Echo v5) make of a
// middleware.Rule, written once so that both majors answer alike. Their
// contexts differ in type (an interface in v4, a *echo.Context struct in
// v5, whose Response methods return different types too), so each adapter
// instantiates Middleware with its own context and handler types and hands
// over the response writer in a closure. It is tested through both
// adapters, whose tests hold it to the guardtest table on a real Echo.
//
// Adapter modules compile against this package (echov5guard), and a user
// may build one against a later core than the one it was released with:
// change its exported names only by addition (see CONTRIBUTING.md).
package echorule

import (
	"net/http"

	"github.com/jwtguard/jwtguard/middleware"
)

// Context is what Middleware uses of an Echo context besides its response
// writer: Echo v4's echo.Context and Echo v5's *echo.Context both have it.
type Context interface {
	Request() *http.Request
	SetRequest(*http.Request)
}

// Middleware returns Echo middleware (func(next H) H, which is the major's
// echo.MiddlewareFunc) that serves rule for every request skip does not
// skip (nil skips none; a skipped request reaches next unverified):
//   - a refusal is written, by the Guard's error handler, through
//     response(c): whatever writer the chain has so far (Echo's, or one an
//     earlier middleware wrapped it in), the same a handler's response
//     would go through. The chain stops with a nil error, which keeps the
//     refusal out of Echo's HTTPErrorHandler (it would drop the challenge
//     header);
//   - a request that passes goes on to next as rule.Serve returns it, with
//     the claims in its context (and a passing response's DPoP-Nonce set).
func Middleware[C Context, H ~func(C) error](rule *middleware.Rule, skip func(C) bool, response func(C) http.ResponseWriter) func(next H) H {
	return func(next H) H {
		return func(c C) error {
			if skip != nil && skip(c) {
				return next(c)
			}
			r, ok := rule.Serve(response(c), c.Request())
			if !ok {
				return nil
			}
			c.SetRequest(r)
			return next(c)
		}
	}
}
