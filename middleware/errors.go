package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
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
	// ErrClaimRequirement: the token is valid but a claim the route
	// requires (ClaimIn) is absent or holds none of the values it accepts.
	// Answered 403 insufficient_scope without a scope parameter: RFC 6750
	// §3.1's "the request requires higher privileges than provided by the
	// access token", where no scope would grant them. It wraps
	// ErrInsufficientScope, so code that treats that as "403" goes on
	// working.
	ErrClaimRequirement = fmt.Errorf("%w: claim requirement not met", ErrInsufficientScope)
	// ErrInsufficientUserAuthentication: the token is valid but the user's
	// authentication is not strong enough (ACR) or not recent enough
	// (MaxAge) for the route: RFC 9470 step-up. Answered 401
	// insufficient_user_authentication with acr_values and/or max_age, so
	// the client sends the user through the authorization server again (a
	// refresh cannot raise the level).
	ErrInsufficientUserAuthentication = errors.New("middleware: insufficient user authentication")
	// ErrKeysUnavailable: the key set is not ready: none has ever been
	// fetched, or (with jwks.WithMaxStaleness) the last is too old. Answered
	// 503 with Retry-After: the token may be fine, and a 401 would send the
	// client to refresh for nothing.
	ErrKeysUnavailable = errors.New("middleware: signing keys unavailable")
	// ErrInvalidDPoPProof: a DPoP request's proof is missing, repeated, or
	// fails a rule of RFC 9449 §4.3 (shape, typ, alg, key, signature, htm,
	// htu, iat, ath, or a replay: ErrDPoPReplay). Answered 401
	// invalid_dpop_proof on a DPoP challenge.
	ErrInvalidDPoPProof = errors.New("middleware: invalid DPoP proof")
	// ErrDPoPReplay: the proof was already accepted (by this Guard, or a
	// replica sharing its ReplayStore). It wraps ErrInvalidDPoPProof.
	ErrDPoPReplay = fmt.Errorf("%w: replayed", ErrInvalidDPoPProof)
	// ErrUseDPoPNonce: with WithDPoPNonce, the proof carries no nonce, or
	// one this Guard did not issue or that is too old. Answered 401
	// use_dpop_nonce with a fresh nonce in the DPoP-Nonce header, which the
	// client puts in a new proof and retries with (RFC 9449 §9).
	ErrUseDPoPNonce = errors.New("middleware: DPoP nonce required")
	// ErrReplayStoreUnavailable: the ReplayStore could not say whether the
	// proof was seen (an outage, or the in-memory store full). Answered
	// 503 with Retry-After, rather than risk accepting a replay.
	ErrReplayStoreUnavailable = errors.New("middleware: DPoP replay store unavailable")
)

// Reasons a token is invalid. Each wraps ErrInvalidToken, so a handler can
// count refusals by reason and still treat them alike.
var (
	// ErrMalformedToken: not a compact JWS, or bad base64url or JSON.
	ErrMalformedToken = fmt.Errorf("%w: malformed", ErrInvalidToken)
	// ErrTokenTooLarge: longer than the maximum token size.
	ErrTokenTooLarge = fmt.Errorf("%w: too large", ErrInvalidToken)
	// ErrAlgorithm: alg missing or outside the allow-list (none, HS*, …).
	ErrAlgorithm = fmt.Errorf("%w: algorithm not allowed", ErrInvalidToken)
	// ErrTokenType: typ outside the accepted set, or a nested JWT (cty JWT).
	ErrTokenType = fmt.Errorf("%w: type not accepted", ErrInvalidToken)
	// ErrCritical: a crit header (no extension is understood, RFC 7515
	// §4.1.11) or an unencoded payload (RFC 7797 b64 false).
	ErrCritical = fmt.Errorf("%w: critical header", ErrInvalidToken)
	// ErrNoKID: the header names no key; keys are never tried in turn.
	ErrNoKID = fmt.Errorf("%w: no kid", ErrInvalidToken)
	// ErrUnknownKey: no key with that kid, even after a refresh.
	ErrUnknownKey = fmt.Errorf("%w: unknown key", ErrInvalidToken)
	// ErrKeyMismatch: the key's type, curve or size, or its JWK alg, does
	// not fit the token's alg (algorithm confusion); or the key is bound to
	// an issuer (KeySet) that is not the token's.
	ErrKeyMismatch = fmt.Errorf("%w: key does not fit algorithm or issuer", ErrInvalidToken)
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
	// ErrMalformedClaims: a claim of the wrong JSON type or range, or a
	// duplicate claim name.
	ErrMalformedClaims = fmt.Errorf("%w: malformed claims", ErrInvalidToken)
	// ErrClaimsRejected: a check added with WithClaimsCheck refused the
	// claims (its error is the Error's Cause, for logs only).
	ErrClaimsRejected = fmt.Errorf("%w: claims rejected", ErrInvalidToken)
	// ErrBoundToken: the token is sender-constrained (it has a cnf) and
	// the request does not prove its key: a DPoP-bound token sent as a
	// bearer token or through VerifyToken, a cnf method this module
	// cannot check, or a cnf naming no method at all. A stolen bound token
	// is worth nothing without its key.
	ErrBoundToken = fmt.Errorf("%w: bound to a key", ErrInvalidToken)
	// ErrCertificateBinding: the token is bound to a TLS client
	// certificate (cnf x5t#S256, RFC 8705) that the connection did not
	// present.
	ErrCertificateBinding = fmt.Errorf("%w: bound to another client certificate", ErrInvalidToken)
	// ErrDPoPRequired: with DPoPRequired, a token sent without a proof.
	ErrDPoPRequired = fmt.Errorf("%w: DPoP required", ErrInvalidToken)
	// ErrDPoPBinding: a DPoP request with a valid proof, but a token
	// whose cnf.jkt is absent or names another key.
	ErrDPoPBinding = fmt.Errorf("%w: not bound to the proof's key", ErrInvalidToken)
)

// Error is a refusal: why the request was refused and exactly what the
// response says. Guards pass it to the error handler; WriteError writes it.
// The descriptions are fixed strings chosen by this package, never token
// content or library error text, so nothing a client sends can reach the
// WWW-Authenticate header or the body.
//
// An Error is immutable: its parts are read through methods, and one
// handler cannot change what later refusals say (the same *Error may be
// handed to many requests at once).
type Error struct {
	err        error  // one of this package's sentinel errors
	idx        reason // its row of reasonTable, or -1 for a rule's own (scope, claim, step-up)
	cause      error
	status     int
	code       string
	desc       string
	scopes     []string
	acr        []string      // a step-up refusal's acr_values
	maxAge     time.Duration // a step-up refusal's max_age
	reason     string
	challenges []string // whole WWW-Authenticate values, in order; none for 503
	retryAfter string
	body       []byte
	alt        *Error // the same refusal for a request of the DPoP scheme; nil when DPoP is off
	nonce      string // a DPoP-Nonce for this response alone
}

// Error returns the reason, followed by the cause when there is one.
func (e *Error) Error() string {
	if e.cause != nil {
		return e.err.Error() + ": " + e.cause.Error()
	}
	return e.err.Error()
}

// Unwrap lets errors.Is and errors.As see both the reason (one of this
// package's sentinel errors) and the cause.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}

// Cause is the underlying error, if any (a base64, JSON or claims error, or
// a WithClaimsCheck check's). It is for logs only and never sent to the
// client.
func (e *Error) Cause() error { return e.cause }

// Status is the HTTP status code: 400, 401, 403 or 503.
func (e *Error) Status() int { return e.status }

// Code is the RFC 6750 §3.1 error code ("invalid_request",
// "invalid_token", "insufficient_scope"), "temporarily_unavailable" for
// 503, and "" when the request had no credentials.
func (e *Error) Code() string { return e.code }

// Description is the error_description sent to the client.
func (e *Error) Description() string { return e.desc }

// Scopes returns (a copy of) the scopes the route requires, for
// insufficient_scope.
func (e *Error) Scopes() []string { return slices.Clone(e.scopes) }

// ACRValues returns (a copy of) the authentication context classes the
// route accepts, for an insufficient_user_authentication refusal that
// names them (RFC 9470 acr_values); nil otherwise.
func (e *Error) ACRValues() []string { return slices.Clone(e.acr) }

// MaxAge is the greatest age of the user's authentication the route
// accepts, in whole seconds, for an insufficient_user_authentication
// refusal that names one (RFC 9470 max_age); 0 otherwise.
func (e *Error) MaxAge() time.Duration { return e.maxAge }

// Reason names the refusal in lower snake case ("expired", "signature",
// "insufficient_scope", …), for metrics labels.
func (e *Error) Reason() string { return e.reason }

// Challenges returns (a copy of) the WWW-Authenticate values the response
// carries, each its own header field, in order; none for a 503.
func (e *Error) Challenges() []string { return slices.Clone(e.challenges) }

// RetryAfter is the Retry-After the response carries, in whole seconds:
// set for a 503 (keys or the replay store unavailable), 0 otherwise.
// Transports without HTTP headers (gRPC, Connect) send it their own way.
func (e *Error) RetryAfter() time.Duration {
	n, _ := strconv.Atoi(e.retryAfter)
	return time.Duration(n) * time.Second
}

// DPoPNonce is the nonce the response carries in its DPoP-Nonce header
// (RFC 9449 §8), or "": set for every refusal of a DPoP request when
// WithDPoPNonce is on.
func (e *Error) DPoPNonce() string { return e.nonce }

// WriteError is the default error handler. It writes err's status,
// WWW-Authenticate and Retry-After headers and JSON body. A custom handler
// can log and then delegate to it. An error that is not an *Error is
// written as a generic 401 invalid_token with the default realm.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) || e.body == nil {
		e = genericInvalid
	}
	h := w.Header()
	if len(e.challenges) > 0 {
		h["Www-Authenticate"] = slices.Clone(e.challenges)
	}
	if e.retryAfter != "" {
		h["Retry-After"] = []string{e.retryAfter}
	}
	if e.nonce != "" {
		h["Dpop-Nonce"] = []string{e.nonce}
	}
	h["Content-Type"] = []string{"application/json"}
	w.WriteHeader(e.status)
	_, _ = w.Write(e.body)
}

var genericInvalid = refusal{
	err: ErrInvalidToken, idx: -1, reason: "invalid_token", status: http.StatusUnauthorized,
	code: "invalid_token", desc: "The access token is invalid",
}.build(schemes{realm: DefaultRealm, policy: DPoPOff})

// A refusal is what New (and Rule) know of a refusal before any request:
// build turns it into the precomputed *Error, so refusing a request only
// hands out a pointer (or copies the struct to attach a cause).
type refusal struct {
	err        error
	idx        reason // the reasonTable row; -1 for a rule's own refusal
	reason     string
	status     int
	code, desc string
	scopes     []string      // insufficient_scope
	retryAfter int           // seconds, for 503
	acr        []string      // step-up: acr_values, after the code
	maxAge     time.Duration // step-up: max_age (whole seconds), after acr_values
	resource   []param       // the resource's (resource_metadata), last in every challenge
}

// schemes is what every challenge of a Guard is built from: the realm,
// and which schemes the Guard accepts (DPoP with its algs).
type schemes struct {
	realm  string
	policy DPoPPolicy
	algs   string // space-separated
}

// A param is one auth-param of a challenge (RFC 9110 §11.2), its value
// always sent as a quoted-string.
type param struct{ name, value string }

func (rf refusal) build(sch schemes) *Error {
	e := rf.buildFor(sch, schemeBearer)
	if sch.policy != DPoPOff {
		e.alt = rf.buildFor(sch, schemeDPoP)
	}
	return e
}

// buildFor builds the refusal of a request that used scheme used (Bearer
// for none): its challenge comes first, with the error; a 401 or 403 then
// names the other scheme the Guard accepts, bare (RFC 9449 §7.1). A 503
// has no challenge.
func (rf refusal) buildFor(sch schemes, used scheme) *Error {
	e := &Error{err: rf.err, idx: rf.idx, reason: rf.reason, status: rf.status, code: rf.code, desc: rf.desc,
		scopes: rf.scopes, acr: rf.acr, maxAge: rf.maxAge}
	var body struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}
	body.Error, body.Description = rf.code, rf.desc
	if rf.code == "" {
		body.Error = "unauthorized"
	}
	e.body, _ = json.Marshal(body) // two strings never fail to marshal
	if rf.status == http.StatusServiceUnavailable {
		e.retryAfter = strconv.Itoa(rf.retryAfter)
		return e
	}
	if sch.policy == DPoPRequired {
		used = schemeDPoP // Bearer is not accepted: it is never offered
	}
	e.challenges = []string{rf.challenge(sch, used, true)}
	if rf.status == http.StatusBadRequest || sch.policy != DPoPAllowed {
		return e
	}
	other := schemeDPoP
	if used == schemeDPoP {
		other = schemeBearer
	}
	e.challenges = append(e.challenges, rf.challenge(sch, other, false))
	return e
}

// challenge is one challenge of the refusal, for scheme s: realm, then
// (withError) the error's parameters, then algs for DPoP, then the
// resource's.
func (rf refusal) challenge(sch schemes, s scheme, withError bool) string {
	c := newChallenge("Bearer")
	if s == schemeDPoP {
		c = newChallenge("DPoP")
	}
	c.param("realm", sch.realm)
	if withError {
		c.param("error", rf.code)
		// invalid_token, insufficient_user_authentication and the DPoP
		// errors describe themselves in the header (examples/README.md);
		// 400 and 403 name their error (and 403 the scopes) alone.
		switch rf.code {
		case "invalid_token", "insufficient_user_authentication", "invalid_dpop_proof", "use_dpop_nonce":
			c.param("error_description", rf.desc)
		case "insufficient_scope":
			c.param("scope", strings.Join(rf.scopes, " "))
		}
		c.param("acr_values", strings.Join(rf.acr, " "))
		if rf.maxAge > 0 {
			c.param("max_age", strconv.Itoa(int(rf.maxAge/time.Second)))
		}
	}
	if s == schemeDPoP {
		c.param("algs", sch.algs)
	}
	for _, p := range rf.resource {
		c.param(p.name, p.value)
	}
	if c.sep == " " {
		// No parameter at all (no realm, no error, no metadata): RFC 6750
		// §3 has the scheme followed by at least one.
		c.b.WriteString(` realm=""`)
	}
	return c.String()
}

// challenge builds one WWW-Authenticate challenge (RFC 9110 §11.6.1): the
// scheme, then auth-params with quoted values; a parameter with an empty
// value is left out. Every challenge this package sends is built here, from
// values fixed at New, never from token content.
type challenge struct {
	b   strings.Builder
	sep string
}

func newChallenge(scheme string) *challenge {
	c := &challenge{sep: " "}
	c.b.WriteString(scheme)
	return c
}

func (c *challenge) param(name, value string) {
	if value == "" {
		return
	}
	c.b.WriteString(c.sep)
	c.b.WriteString(name)
	c.b.WriteString(`="`)
	c.b.WriteString(quote(value))
	c.b.WriteByte('"')
	c.sep = ", "
}

func (c *challenge) String() string { return c.b.String() }

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
