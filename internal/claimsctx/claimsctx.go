// Package claimsctx holds the context key under which claims.FromContext
// finds the claims of a request. It is internal so that no user can read or
// overwrite it, yet middleware can answer for it from a context type of its
// own, which carries the claims and the proof of which Guard verified them
// in one allocation.
package claimsctx

// Key is the context key of the claims; its value is a *claims.Claims.
type Key struct{}
