package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// The outcome classes of a refused request. Every *Error a Guard produces
// matches exactly one of them with errors.Is, so an error handler can tell
// them apart without parsing messages.
var (
	// ErrNoToken: the request carries no bearer token (no Authorization
	// header, another scheme, and no opted-in cookie or query token).
	// Answered 401 with a challenge that names no error (RFC 6750 §3.1).
	ErrNoToken = errors.New("middleware: no bearer token")
	// ErrMalformedRequest: the credentials are not a single well-formed
	// bearer token. Answered 400 invalid_request.
	ErrMalformedRequest = errors.New("middleware: malformed request")
	// ErrInvalidToken: the token is not acceptable. Answered 401
	// invalid_token. Every reason below wraps it.
	ErrInvalidToken = errors.New("middleware: invalid token")
	// ErrTokenExpired: the token is genuine in every other way (signature,
	// issuer, audience, type, claims) but its exp has passed, leeway
	// included. It wraps ErrInvalidToken and is the only refusal whose
	// description tells the client to refresh: "The access token expired".
	ErrTokenExpired = fmt.Errorf("%w: token expired", ErrInvalidToken)
	// ErrInsufficientScope: the token is valid but lacks a scope the route
	// requires. Answered 403 insufficient_scope naming the scopes.
	ErrInsufficientScope = errors.New("middleware: insufficient scope")
	// ErrKeysUnavailable: the key set is not ready: none has ever been
	// fetched, or (with jwks.WithMaxStaleness) the last is too old. Answered
	// 503 with Retry-After: the token may be fine, and a 401 would send the
	// client to refresh for nothing.
	ErrKeysUnavailable = errors.New("middleware: signing keys unavailable")
)

// Reasons a token is invalid. Each wraps ErrInvalidToken, so a handler can
// count refusals by reason and still treat them alike.
var (
	// ErrTokenMalformed: not a compact JWS, or bad base64url or JSON.
	ErrTokenMalformed = fmt.Errorf("%w: malformed", ErrInvalidToken)
	// ErrTokenTooLarge: longer than the maximum token size.
	ErrTokenTooLarge = fmt.Errorf("%w: too large", ErrInvalidToken)
	// ErrAlgorithm: alg missing or outside the allow-list (none, HS*, …).
	ErrAlgorithm = fmt.Errorf("%w: algorithm not allowed", ErrInvalidToken)
	// ErrTokenType: typ outside the accepted set, or a nested JWT (cty JWT).
	ErrTokenType = fmt.Errorf("%w: type not accepted", ErrInvalidToken)
	// ErrCritical: a crit header (no extension is understood, RFC 7515
	// §4.1.11) or an unencoded payload (RFC 7797 b64 false).
	ErrCritical = fmt.Errorf("%w: critical header", ErrInvalidToken)
	// ErrNoKeyID: the header names no key; keys are never tried in turn.
	ErrNoKeyID = fmt.Errorf("%w: no kid", ErrInvalidToken)
	// ErrUnknownKey: no key with that kid, even after a refresh.
	ErrUnknownKey = fmt.Errorf("%w: unknown key", ErrInvalidToken)
	// ErrKeyMismatch: the key's type, curve or size, or its JWK alg, does
	// not fit the token's alg (algorithm confusion).
	ErrKeyMismatch = fmt.Errorf("%w: key does not fit algorithm", ErrInvalidToken)
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = fmt.Errorf("%w: bad signature", ErrInvalidToken)
	// ErrIssuer: iss is not exactly the configured issuer.
	ErrIssuer = fmt.Errorf("%w: issuer not accepted", ErrInvalidToken)
	// ErrAudience: aud holds none of the route's audiences.
	ErrAudience = fmt.Errorf("%w: audience not accepted", ErrInvalidToken)
	// ErrSubject: sub is missing or empty.
	ErrSubject = fmt.Errorf("%w: no subject", ErrInvalidToken)
	// ErrNoExpiry: exp is missing; a token that never expires is refused.
	ErrNoExpiry = fmt.Errorf("%w: no expiry", ErrInvalidToken)
	// ErrNotYetValid: nbf is in the future, leeway applied.
	ErrNotYetValid = fmt.Errorf("%w: not yet valid", ErrInvalidToken)
	// ErrIssuedInFuture: iat is in the future, leeway applied.
	ErrIssuedInFuture = fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	// ErrClaimsMalformed: a claim of the wrong JSON type or range, or a
	// duplicate claim name.
	ErrClaimsMalformed = fmt.Errorf("%w: malformed claims", ErrInvalidToken)
	// ErrClaimsRejected: a check added with WithClaimsCheck refused the
	// claims (its error is the Error's Cause, for logs only).
	ErrClaimsRejected = fmt.Errorf("%w: claims rejected", ErrInvalidToken)
)

// Error is a refusal: why the request was refused and exactly what the
// response says. Guards pass it to the error handler; WriteError writes it.
// The descriptions are fixed strings chosen by this package, never token
// content or library error text, so nothing a client sends can reach the
// WWW-Authenticate header or the body.
type Error struct {
	// Err is the reason: one of this package's sentinel errors.
	Err error
	// Cause is the underlying error, if any (a base64, JSON or claims error).
	// It is for logs only and is never sent to the client.
	Cause error
	// Status is the HTTP status code: 400, 401, 403 or 503.
	Status int
	// Code is the RFC 6750 §3.1 error code ("invalid_request",
	// "invalid_token", "insufficient_scope"), "temporarily_unavailable" for
	// 503, and "" when the request had no credentials.
	Code string
	// Description is the error_description sent to the client.
	Description string
	// Scopes are the scopes the route requires, for insufficient_scope.
	Scopes []string
	// Reason names the refusal in lower snake case ("expired",
	// "signature", "insufficient_scope", …), for metrics labels.
	Reason string

	challenge  string // whole WWW-Authenticate value; "" for none
	retryAfter string
	body       []byte
}

// Error returns the reason, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Err.Error() + ": " + e.Cause.Error()
	}
	return e.Err.Error()
}

// Unwrap lets errors.Is and errors.As see both the reason and the cause.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// WriteError is the default error handler. It writes err's status,
// WWW-Authenticate and Retry-After headers and JSON body. A custom handler
// can log and then delegate to it. An error that is not an *Error is
// written as a generic 401 invalid_token without a realm.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) || e.body == nil {
		e = genericInvalid
	}
	h := w.Header()
	if e.challenge != "" {
		h["Www-Authenticate"] = []string{e.challenge}
	}
	if e.retryAfter != "" {
		h["Retry-After"] = []string{e.retryAfter}
	}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(e.Status)
	_, _ = w.Write(e.body)
}

var genericInvalid = func() *Error {
	e := newRefusal(DefaultRealm, ErrInvalidToken, http.StatusUnauthorized, "invalid_token", "The access token is invalid", nil, 0)
	e.Reason = "invalid_token"
	return e
}()

// newRefusal precomputes a refusal's header and body, once per Guard, so
// refusing a request only copies a struct.
func newRefusal(realm string, reason error, status int, code, desc string, scopes []string, retryAfter int) *Error {
	e := &Error{Err: reason, Status: status, Code: code, Description: desc, Scopes: scopes}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}
	body.Error, body.Description = code, desc
	switch status {
	case http.StatusServiceUnavailable:
		e.retryAfter = strconv.Itoa(retryAfter)
	default:
		e.challenge = challenge(realm, code, desc, scopes)
	}
	if code == "" {
		body.Error = "unauthorized"
	}
	e.body, _ = json.Marshal(body) // two strings never fail to marshal
	return e
}

// challenge builds an RFC 6750 §3 WWW-Authenticate value. Only invalid_token
// carries a description in the header; the contract fixes that 400 and 403
// name only their error (and, for 403, the scopes).
func challenge(realm, code, desc string, scopes []string) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	param := func(name, value string) {
		b.WriteString(sep)
		b.WriteString(name)
		b.WriteString(`="`)
		b.WriteString(quote(value))
		b.WriteByte('"')
		sep = ", "
	}
	if realm != "" {
		param("realm", realm)
	}
	if code != "" {
		param("error", code)
	}
	switch code {
	case "invalid_token":
		param("error_description", desc)
	case "insufficient_scope":
		param("scope", strings.Join(scopes, " "))
	}
	return b.String()
}

// quote escapes a value for an RFC 9110 §5.6.4 quoted-string. Values are
// checked at construction to hold no control characters, so only the
// backslash and the double quote need escaping.
func quote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// validQuotedText reports whether s may appear in a quoted-string: visible
// ASCII and spaces only (RFC 6750 §3 restricts error_description and scope
// to %x20-21 / %x23-5B / %x5D-7E; quote escapes the rest of realm).
func validQuotedText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
