// Package claimsdecode lets the middleware decode a token's claims in two
// steps: everything but the scope set before the signature is checked, and
// the scope set after. Splitting, unescaping and de-duplicating thousands
// of scopes costs several times a signature check, and a forged token must
// not make the server pay for it.
//
// Package claims sets the functions in its init. They are internal so that
// no user can come by a Claims whose Scopes wait to be filled.
package claimsdecode

// Pending is what Decode leaves for Finish: the payload's one copy and where
// in it the "scope" and "scp" values are (Start 0 when the member is absent,
// since a value can never start a JSON object).
type Pending struct {
	Src   string
	Scope Span
	Scp   Span
}

// Span is a value's place in Pending.Src: Src[Start:End].
type Span struct{ Start, End int }

var (
	// Decode is (*claims.Claims).UnmarshalJSON with the scope members'
	// shapes checked but Scopes left for Finish; c is a *claims.Claims.
	// The payload is a string, the copy that c's strings will point into,
	// so that a caller's buffer never escapes through this indirect call.
	Decode func(c any, payload string, p *Pending) error

	// Finish fills c's Scopes from what Decode left in p, and clears p.
	Finish func(c any, p *Pending) error
)
