// Package guardtest is the one table of requests and answers that every
// entry point of this library is held to: net/http, Echo, Gin, the example
// servers, and each later adapter or transport through its own
// translation. Each case has its exact response (status, challenges,
// content type, body), the sentinel error the user's error hook must see
// and the reason the metrics record. Compare also checks, for every case,
// the properties every entry point must have: the claims reach the final
// handler, the user's error hook runs, and a refusal stops the chain. A
// break in the core therefore fails the table for every entry point at
// once.
//
// The refusal rules are written here and nowhere else; the other tests
// keep what only they can test (real HTTP, flags, fetches, attacks).
package guardtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// Audiences used by the table.
const (
	Audience      = "https://api.example.com"
	AdminAudience = "https://api.example.com/admin"
)

// Routes of the table, the same as the example servers':
//   - PathMe needs a token;
//   - PathNotes needs notes:read; in the reference, inside the Guard's
//     Handler, which verifies first and sees the route's rule (so a DPoP
//     proof refused for the scope is not recorded as used);
//   - PathAdmin needs the admin audience and the admin scope.
//
// And four that only an Env has:
//   - PathScoped needs notes:read, a rule on its own (no group);
//   - PathAny needs a or b, inside the group;
//   - PathClaim needs the claim "repository" to be "octo-org/app", inside
//     the group;
//   - PathStrict is a rule of the Env's Strict Guard inside the group of
//     its default one: it verifies the token again under its own policy.
const (
	PathMe    = "/api/me"
	PathNotes = "/api/notes"
	PathAdmin = "/admin/stats"
	PathAny   = "/api/any"
	// PathTransfers, for POST, needs transfers:write, then acr MFA and an
	// authentication at most StepUpMaxAge old (RFC 9470 step-up).
	PathTransfers = "/api/transfers"
	PathScoped    = "/scoped"
	PathClaim     = "/api/deploy"
	PathStrict    = "/api/strict"
)

// Env is a running test issuer, key cache and Guard.
type Env struct {
	Issuer *jwkstest.Issuer
	Keys   *jwks.Cache
	Guard  *middleware.Guard
	// Strict is a Guard over the same keys with WithStrictType, for
	// PathStrict.
	Strict *middleware.Guard

	mu      sync.Mutex
	reason  string // the last Outcome the Guards' metrics recorded
	hookErr error  // the last error the error hook saw
	reached int    // how often the final handler ran
}

// Outcome records a refusal's reason, or "ok" (middleware.Metrics).
func (e *Env) Outcome(_, reason string) { e.mu.Lock(); e.reason = reason; e.mu.Unlock() }

// TokenCache is part of middleware.Metrics; the table does not count hits.
func (e *Env) TokenCache(bool) {}

// New starts an Env; opts are added to the default Guard's, after the
// table's own metrics and error hook (an option that replaces those breaks
// the table's checks).
func New(t testing.TB, opts ...middleware.Option) *Env {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(Audience))
	t.Cleanup(iss.Close)
	// No ES256 key yet: Refusals makes one after the cache's first fetch,
	// so the table also covers a key found by an unknown-kid refresh.
	e := &Env{Issuer: iss, Keys: iss.NewCache()}
	hook := middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		e.mu.Lock()
		e.hookErr = err
		e.mu.Unlock()
		middleware.WriteError(w, r, err)
	})
	var err error
	meta := middleware.WithResourceMetadata(middleware.ResourceMetadata{})
	e.Guard, err = middleware.New(e.Keys, iss.URL(), []string{Audience}, append([]middleware.Option{middleware.WithMetrics(e), hook, meta}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	e.Strict, err = middleware.New(e.Keys, iss.URL(), []string{Audience}, middleware.WithMetrics(e), hook, meta, middleware.WithStrictType())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Final is the handler every route of the table ends in. It writes the
// subject and scopes from the claims in the request context, proving they
// got there, and counts that it ran, so a refusal that did not stop the
// chain shows.
func (e *Env) Final() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.reached++
		e.mu.Unlock()
		c, ok := claims.FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "sub="+c.Subject+" scopes="+c.Scopes.String())
	})
}

// Reference returns the net/http version of the table's routes.
func (e *Env) Reference() http.Handler {
	g, final := e.Guard, e.Final()
	mux := http.NewServeMux()
	mux.Handle("GET "+PathMe, g.Handler(final))
	mux.Handle("GET "+PathNotes, g.Handler(g.Require(middleware.Scopes("notes:read"))(final)))
	mux.Handle("GET "+PathScoped, g.Require(middleware.Scopes("notes:read"))(final))
	mux.Handle("GET "+PathAny, g.Handler(g.Require(middleware.AnyScope("a", "b"))(final)))
	mux.Handle("GET "+PathClaim, g.Handler(g.Require(ClaimRule)(final)))
	mux.Handle("GET "+PathStrict, g.Handler(e.Strict.Require()(final)))
	mux.Handle("GET "+PathAdmin, g.Require(middleware.Audience(AdminAudience), middleware.Scopes("admin"))(final))
	mux.Handle("POST "+PathTransfers, g.Handler(g.Require(TransferRules...)(final)))
	return mux
}

// The step-up rule of PathTransfers.
const (
	MFA          = "urn:example:acr:mfa"
	StepUpMaxAge = 300 * time.Second
)

// TransferRules are PathTransfers' requirements.
var TransferRules = []middleware.Requirement{middleware.Scopes("transfers:write"), middleware.ACR(MFA), middleware.MaxAge(StepUpMaxAge)}

// ClaimRule is PathClaim's requirement.
var ClaimRule = middleware.ClaimIn("repository", "octo-org/app")

// A Case is one request of the table and what every entry point must
// answer.
type Case struct {
	Name string
	// Path is the request's path, after its method and a space when it is
	// not GET ("POST /api/transfers").
	Path   string
	Header http.Header
	Want   Response
	// Err is the sentinel the error hook must see (errors.Is); nil for a
	// request that passes.
	Err error
	// Reason is what the metrics record: "ok", or the refusal's reason
	// (Error.Reason).
	Reason string
}

// Response is what a handler answered, in the parts the contract fixes.
type Response struct {
	Status     int
	Challenges []string // the WWW-Authenticate values, in order
	CType      string
	Body       string
	RetryAfter string // only a 503 has one
	// Nonce says the response carries a DPoP-Nonce header (its value
	// changes; a test that needs it reads the header).
	Nonce bool
}

// The refusals, byte for byte as the example servers send them
// (examples/README.md).
const realm = `Bearer realm="api"`

// Invalid is the 401 invalid_token refusal with desc.
func Invalid(desc string) Response {
	return Response{401, []string{realm + `, error="invalid_token", error_description="` + desc + `"`}, "application/json",
		`{"error":"invalid_token","error_description":"` + desc + `"}`, "", false}
}

// Forbidden is the 403 insufficient_scope refusal naming scope.
func Forbidden(scope string) Response {
	return Response{403, []string{realm + `, error="insufficient_scope", scope="` + scope + `"`}, "application/json",
		`{"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}`, "", false}
}

// StepUp is the RFC 9470 401 with desc and the challenge's extra params
// (acr_values, max_age), in that order.
func StepUp(desc string, params ...string) Response {
	ch := realm + `, error="insufficient_user_authentication", error_description="` + desc + `"`
	for _, p := range params {
		ch += ", " + p
	}
	return Response{401, []string{ch}, "application/json",
		`{"error":"insufficient_user_authentication","error_description":"` + desc + `"}`, "", false}
}

// The step-up descriptions (RFC 9470 §3).
const (
	DescLevel  = "A different authentication level is required"
	DescRecent = "More recent authentication is required"
)

// ClaimRefused is the 403 of a claim requirement (ClaimIn): no scope would
// help, so the challenge names none.
var ClaimRefused = Response{403, []string{realm + `, error="insufficient_scope"`}, "application/json",
	`{"error":"insufficient_scope","error_description":"The access token does not carry the claims this resource requires"}`, "", false}

// DescUnavailable is the description of a Guard's 503 for keys never
// fetched.
const DescUnavailable = "The signing keys of the authorization server are not available yet"

// Unavailable is the 503 of a Guard whose issuer's keys were never
// fetched, with its Retry-After value.
func Unavailable(retryAfter string) Response {
	return Response{503, nil, "application/json",
		`{"error":"temporarily_unavailable","error_description":"` + DescUnavailable + `"}`, retryAfter, false}
}

// The refusals without a token error.
var (
	NoCredentials = Response{401, []string{realm}, "application/json", `{"error":"unauthorized"}`, "", false}
	BadRequest    = Response{400, []string{realm + `, error="invalid_request"`}, "application/json",
		`{"error":"invalid_request","error_description":"The request does not carry exactly one well-formed bearer token"}`, "", false}
)

func ok(scopes string) Response {
	return Response{200, nil, "text/plain; charset=utf-8", "sub=" + Subject + " scopes=" + scopes, "", false}
}

// The descriptions of the invalid_token refusals (error_description), as
// the example servers send them (examples/README.md). Tests name these
// rather than write the words again.
const (
	DescExpired     = "The access token expired"
	DescSignature   = "The access token signature is invalid"
	DescAudience    = "The access token is not meant for this resource"
	DescIssuer      = "The access token issuer is not accepted"
	DescMalformed   = "The access token is malformed"
	DescTooLarge    = "The access token is too large"
	DescClaims      = "The access token claims are malformed"
	DescUnknownKey  = "The access token signing key is unknown"
	DescKeyMismatch = "The access token signing key does not match its algorithm or issuer"
	DescAlgorithm   = "The access token signature algorithm is not accepted"
	DescType        = "The access token type is not accepted"
	DescCritical    = "The access token uses an unsupported critical header"
	DescNoKeyID     = "The access token does not name its signing key"
	DescSubject     = "The access token has no subject"
	DescNoExpiry    = "The access token has no expiry time"
	DescNotYetValid = "The access token is not valid yet"
	DescFuture      = "The access token was issued in the future"
	// DescNotAccepted is a WithClaimsCheck refusal's.
	DescNotAccepted = "The access token is not accepted by this resource"
	// DescInvalid is WriteError's for an error that is not the Guard's.
	DescInvalid = "The access token is invalid"
)

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func authz(v ...string) http.Header { return http.Header{"Authorization": v} }

// Refusals returns the table's refusals on PathMe, PathNotes and
// PathAdmin: those every entry point answers the same whatever its
// handlers write, the example servers included. iss must mint for
// Audience; its ES256 key is made if it has none (before the verifier's
// first fetch is best: otherwise the first case that uses it costs an
// unknown-kid refresh).
func Refusals(iss *jwkstest.Issuer) []Case {
	mint := iss.Mint
	past := jwkstest.WithExpiresIn(-2 * time.Minute)
	kid := iss.SigningKID("RS256")
	esKID := iss.SigningKID("ES256")
	if esKID == "" {
		esKID = iss.Rotate("ES256")
	}
	now := time.Now().Unix()
	header := func(over map[string]any) map[string]any {
		return jwkjson.Override(map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": kid}, over)
	}
	payload := func(over map[string]any) map[string]any {
		return jwkjson.Override(map[string]any{"iss": iss.URL(), "sub": "user-123", "aud": Audience, "iat": now, "exp": now + 300, "client_id": "c"}, over)
	}
	sign := func(h, p map[string]any) http.Header { return bearer(iss.Sign(kid, header(h), payload(p))) }
	read := mint(jwkstest.WithScopes("notes:read"))
	strangerRSA, strangerEC := strangerKeys()
	invalid := func(name string, h http.Header, desc string, err error, reason string) Case {
		return Case{name, PathMe, h, Invalid(desc), err, reason}
	}
	malformedRequest := func(name string, h http.Header) Case {
		return Case{name, PathMe, h, BadRequest, middleware.ErrMalformedRequest, "malformed_request"}
	}
	acrValues, maxAge := `acr_values="`+MFA+`"`, `max_age="`+strconv.Itoa(int(StepUpMaxAge/time.Second))+`"`
	stepUp := func(name string, acr, authTime any, want Response) Case {
		return Case{"step-up, " + name, "POST " + PathTransfers,
			bearer(mint(jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", acr), jwkstest.WithClaim("auth_time", authTime))),
			want, middleware.ErrInsufficientUserAuthentication, "insufficient_user_authentication"}
	}
	return withResourceMetadata([]Case{
		// Where the token is read from, and how.
		{"no token", PathMe, nil, NoCredentials, middleware.ErrNoToken, "no_token"},
		{"another scheme", PathMe, authz("Basic dTpw"), NoCredentials, middleware.ErrNoToken, "no_token"},
		{"another scheme, over the maximum token size", PathMe, authz("Negotiate " + strings.Repeat("a", middleware.DefaultMaxTokenSize+300)), NoCredentials, middleware.ErrNoToken, "no_token"},
		{"query token is not read", PathMe + "?access_token=" + read, nil, NoCredentials, middleware.ErrNoToken, "no_token"},
		{"group without token", PathNotes, nil, NoCredentials, middleware.ErrNoToken, "no_token"},
		malformedRequest("bearer without token", authz("Bearer")),
		malformedRequest("bearer with spaces only", authz("Bearer    ")),
		malformedRequest("two tokens", authz("Bearer "+read+" "+read)),
		malformedRequest("equals inside", authz("Bearer ab=cd")),
		malformedRequest("non-b64token byte", authz("Bearer abc,def")),
		malformedRequest("two headers", authz("Bearer "+read, "Bearer "+read)),
		malformedRequest("a Bearer header and another", authz("Bearer "+read, "Basic dTpw")),
		malformedRequest("token over the maximum token size", bearer(strings.Repeat("a", middleware.DefaultMaxTokenSize+1))),
		malformedRequest("header over the maximum token size with spaces", authz("Bearer"+strings.Repeat(" ", middleware.DefaultMaxTokenSize+300)+"a")),
		invalid("trailing padding allowed by b64token", bearer(read+"=="), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),

		// The token's shape and header.
		invalid("garbage", bearer("a.b.c"), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		invalid("base64 that is not JSON", bearer("abc.def.ghi"), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		invalid("two parts", bearer("abc.def"), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		invalid("five parts (JWE)", bearer("a.b.c.d.e"), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		// RFC 7515 §5.2: the header must be UTF-8 JSON; encoding/json
		// would read the bytes as U+FFFD. A fifth review found it taken.
		invalid("header not UTF-8, signed", sign(map[string]any{"x": json.RawMessage("\"\xff\xfe\"")}, nil), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		// A \u escape of a lone surrogate is the same in ASCII: U+FFFD to
		// encoding/json. A sixth review found it taken, here and in the
		// claims ("a\ud800" was the subject "a\ufffd").
		invalid("a lone surrogate escape in the header, signed", sign(map[string]any{"x": json.RawMessage(`"\udfff"`)}, nil), DescMalformed, middleware.ErrMalformedToken, "malformed_token"),
		invalid("alg none", sign(map[string]any{"alg": "none"}, nil), DescAlgorithm, middleware.ErrAlgorithm, "algorithm"),
		invalid("alg HS256", bearer(Unsigned(header(map[string]any{"alg": "HS256", "typ": "JWT"}), payload(nil))), DescAlgorithm, middleware.ErrAlgorithm, "algorithm"),
		invalid("alg missing", bearer(Unsigned(header(map[string]any{"alg": nil}), payload(nil))), DescAlgorithm, middleware.ErrAlgorithm, "algorithm"),
		invalid("typ JOSE", sign(map[string]any{"typ": "JOSE"}, nil), DescType, middleware.ErrTokenType, "type"),
		invalid("typ not a string", sign(map[string]any{"typ": 1}, nil), DescType, middleware.ErrTokenType, "type"),
		invalid("nested JWT", sign(map[string]any{"cty": "JWT"}, nil), DescType, middleware.ErrTokenType, "type"),
		invalid("crit", sign(map[string]any{"crit": []string{"exp"}}, nil), DescCritical, middleware.ErrCritical, "critical_header"),
		invalid("b64 false", sign(map[string]any{"b64": false}, nil), DescCritical, middleware.ErrCritical, "critical_header"),
		invalid("b64 not a boolean", sign(map[string]any{"b64": "false"}, nil), DescCritical, middleware.ErrCritical, "critical_header"),
		invalid("no kid", sign(map[string]any{"kid": nil}, nil), DescNoKeyID, middleware.ErrNoKID, "no_kid"),
		invalid("kid not a string", sign(map[string]any{"kid": 7}, nil), DescNoKeyID, middleware.ErrNoKID, "no_kid"),

		// The key and the signature.
		invalid("unknown kid", bearer(mint(jwkstest.WithKID("no-such-key"))), DescUnknownKey, middleware.ErrUnknownKey, "unknown_key"),
		invalid("path-like kid", bearer(mint(jwkstest.WithKID("../../etc/passwd"))), DescUnknownKey, middleware.ErrUnknownKey, "unknown_key"),
		invalid("huge kid", bearer(mint(jwkstest.WithKID(strings.Repeat("k", 1000)))), DescUnknownKey, middleware.ErrUnknownKey, "unknown_key"),
		invalid("forged", bearer(Forge(read)), DescSignature, middleware.ErrSignature, "signature"),
		invalid("signed by a stranger under a known kid", bearer(mint(jwkstest.WithSigningKey(strangerRSA), jwkstest.WithKID(kid))), DescSignature, middleware.ErrSignature, "signature"),
		invalid("EC key under an RSA kid", bearer(mint(jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithSigningKey(strangerEC), jwkstest.WithKID(kid))), DescKeyMismatch, middleware.ErrKeyMismatch, "key_mismatch"),
		invalid("ES384 header on a P-256 key", bearer(Unsigned(map[string]any{"alg": "ES384", "kid": esKID}, payload(nil))), DescKeyMismatch, middleware.ErrKeyMismatch, "key_mismatch"),
		invalid("RS384 header on a JWK that says RS256", sign(map[string]any{"alg": "RS384"}, nil), DescKeyMismatch, middleware.ErrKeyMismatch, "key_mismatch"),
		invalid("ES512 header on a token an RSA key signed", bearer(mint(jwkstest.WithHeader("alg", "ES512"))), DescKeyMismatch, middleware.ErrKeyMismatch, "key_mismatch"),
		invalid("RS256 header on an EC key", bearer(Unsigned(map[string]any{"alg": "RS256", "kid": esKID}, payload(nil))), DescKeyMismatch, middleware.ErrKeyMismatch, "key_mismatch"),

		// The claims.
		invalid("wrong issuer", bearer(mint(jwkstest.WithClaim("iss", "https://stranger.example"))), DescIssuer, middleware.ErrIssuer, "issuer"),
		invalid("issuer with a trailing slash", bearer(mint(jwkstest.WithClaim("iss", iss.URL()+"/"))), DescIssuer, middleware.ErrIssuer, "issuer"),
		invalid("wrong audience", bearer(mint(jwkstest.WithClaim("aud", "https://x"))), DescAudience, middleware.ErrAudience, "audience"),
		invalid("audience array without ours", bearer(mint(jwkstest.WithClaim("aud", []string{"x", "y"}))), DescAudience, middleware.ErrAudience, "audience"),
		invalid("no subject", sign(nil, map[string]any{"sub": nil}), DescSubject, middleware.ErrSubject, "subject"),
		invalid("empty subject", sign(nil, map[string]any{"sub": ""}), DescSubject, middleware.ErrSubject, "subject"),
		invalid("no exp", sign(nil, map[string]any{"exp": nil}), "The access token has no expiry time", middleware.ErrNoExpiry, "no_expiry"),
		invalid("exp as a string", sign(nil, map[string]any{"exp": "9999999999"}), DescClaims, middleware.ErrMalformedClaims, "malformed_claims"),
		invalid("exp beyond int64", sign(nil, map[string]any{"exp": json.RawMessage("1e19")}), DescClaims, middleware.ErrMalformedClaims, "malformed_claims"),
		invalid("exp far beyond int64", sign(nil, map[string]any{"exp": 1e300}), DescClaims, middleware.ErrMalformedClaims, "malformed_claims"),
		invalid("aud null", sign(nil, map[string]any{"aud": json.RawMessage("null")}), DescClaims, middleware.ErrMalformedClaims, "malformed_claims"),
		invalid("a lone surrogate escape in the claims, signed", sign(nil, map[string]any{"sub": json.RawMessage(`"user-123\ud800"`)}), DescClaims, middleware.ErrMalformedClaims, "malformed_claims"),
		invalid("nbf in the future", sign(nil, map[string]any{"nbf": now + 120}), "The access token is not valid yet", middleware.ErrNotYetValid, "not_yet_valid"),
		invalid("iat in the future", sign(nil, map[string]any{"iat": now + 120}), "The access token was issued in the future", middleware.ErrIssuedInFuture, "issued_in_future"),

		// The expired hint: only for a token genuine in every other way.
		invalid("expired", bearer(mint(past)), DescExpired, middleware.ErrTokenExpired, "expired"),
		invalid("expired, exp far in the past", bearer(mint(jwkstest.WithClaim("exp", -1), jwkstest.WithClaim("iat", -100))), DescExpired, middleware.ErrTokenExpired, "expired"),
		invalid("expired and forged", bearer(Forge(mint(past))), DescSignature, middleware.ErrSignature, "signature"),
		invalid("expired, signed by a stranger under a known kid", bearer(mint(past, jwkstest.WithSigningKey(strangerRSA), jwkstest.WithKID(kid))), DescSignature, middleware.ErrSignature, "signature"),
		invalid("expired, signed by a stranger's EC key", bearer(mint(past, jwkstest.WithTokenAlgorithm("ES256"), jwkstest.WithSigningKey(strangerEC))), DescSignature, middleware.ErrSignature, "signature"),
		invalid("expired, wrong issuer", bearer(mint(past, jwkstest.WithClaim("iss", "https://other.example"))), DescIssuer, middleware.ErrIssuer, "issuer"),
		invalid("expired, wrong audience", bearer(mint(past, jwkstest.WithClaim("aud", "https://x"))), DescAudience, middleware.ErrAudience, "audience"),
		invalid("expired, bad typ", bearer(mint(past, jwkstest.WithHeader("typ", "JOSE"))), DescType, middleware.ErrTokenType, "type"),
		invalid("expired, unknown kid", bearer(mint(past, jwkstest.WithKID("unknown"))), DescUnknownKey, middleware.ErrUnknownKey, "unknown_key"),
		invalid("expired, no subject", bearer(mint(past, jwkstest.WithClaim("sub", nil))), DescSubject, middleware.ErrSubject, "subject"),
		{"expired admin token at the admin route", PathAdmin, bearer(mint(past, jwkstest.WithClaim("aud", AdminAudience), jwkstest.WithScopes("admin"))), Invalid(DescExpired), middleware.ErrTokenExpired, "expired"},
		{"expired API token at the admin route", PathAdmin, bearer(mint(past, jwkstest.WithScopes("admin"))), Invalid(DescAudience), middleware.ErrAudience, "audience"},

		// Step-up (RFC 9470), after the scope.
		stepUp("acr absent", nil, now-10, StepUp(DescLevel, acrValues)),
		stepUp("another acr, authentication too old", "urn:example:acr:pwd", now-400, StepUp(DescLevel, acrValues, maxAge)),
		stepUp("acr right, auth_time absent", MFA, nil, StepUp(DescRecent, maxAge)),
		stepUp("acr right, authentication too old", MFA, now-int64(StepUpMaxAge/time.Second)-31-5, StepUp(DescRecent, maxAge)),
		// Past the leeway in the future, it would pass for the token's life.
		stepUp("acr right, authentication in the future", MFA, now+60, StepUp(DescRecent, maxAge)),
		{"step-up route, scope first", "POST " + PathTransfers, bearer(mint(jwkstest.WithClaim("acr", "urn:example:acr:pwd"))), Forbidden("transfers:write"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"step-up route, auth_time not a number", "POST " + PathTransfers, bearer(mint(jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", MFA), jwkstest.WithClaim("auth_time", "yesterday"))), Invalid(DescClaims), middleware.ErrMalformedClaims, "malformed_claims"},
		{"step-up route, expired", "POST " + PathTransfers, bearer(mint(past, jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", MFA), jwkstest.WithClaim("auth_time", now))), Invalid(DescExpired), middleware.ErrTokenExpired, "expired"},
		{"step-up route, no token", "POST " + PathTransfers, nil, NoCredentials, middleware.ErrNoToken, "no_token"},

		// Audiences and scopes.
		{"scope missing", PathNotes, bearer(mint()), Forbidden("notes:read"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"another scope only", PathNotes, bearer(mint(jwkstest.WithScopes("notes:write"))), Forbidden("notes:read"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"scopes match exactly", PathNotes, bearer(mint(jwkstest.WithScopes("notes:readonly"))), Forbidden("notes:read"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"forged token with the scope", PathNotes, bearer(Forge(read)), Invalid(DescSignature), middleware.ErrSignature, "signature"},
		{"admin token at the API", PathMe, bearer(mint(jwkstest.WithClaim("aud", AdminAudience), jwkstest.WithScopes("admin"))), Invalid(DescAudience), middleware.ErrAudience, "audience"},
		{"API token at the admin route", PathAdmin, bearer(mint(jwkstest.WithScopes("admin"))), Invalid(DescAudience), middleware.ErrAudience, "audience"},
		{"admin scope missing", PathAdmin, bearer(mint(jwkstest.WithClaim("aud", AdminAudience))), Forbidden("admin"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"both audiences, admin scope missing", PathAdmin, bearer(mint(jwkstest.WithClaim("aud", []string{Audience, AdminAudience}))), Forbidden("admin"), middleware.ErrInsufficientScope, "insufficient_scope"},
	})
}

// withResourceMetadata completes each case's response for its route's
// resource (OnResource): the admin audience's on PathAdmin, the API's
// elsewhere.
func withResourceMetadata(cases []Case) []Case {
	for i := range cases {
		_, path := MethodPath(cases[i].Path)
		res := Audience
		if strings.HasPrefix(path, PathAdmin) {
			res = AdminAudience
		}
		cases[i].Want = OnResource(cases[i].Want, res)
	}
	return cases
}

// Algs are the DPoP proof algorithms a Guard accepts by default, as its
// challenges name them.
const Algs = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

// OnDPoP is r as answered to a request of the DPoP scheme: its challenge
// names DPoP instead of Bearer. Give it a response of this package's
// constructors, before OnResource.
func OnDPoP(r Response) Response {
	r.Challenges = slices.Clone(r.Challenges)
	r.Challenges[0] = "DPoP" + strings.TrimPrefix(r.Challenges[0], "Bearer")
	return r
}

// OnResource completes r, as this package's constructors (and OnDPoP)
// make it, for a route of resource under a Guard that accepts Bearer and
// DPoP (the default) with resource metadata on: a DPoP challenge gets
// algs, every challenge the resource's resource_metadata (when it has a
// metadata URL), and a 401 or 403 then names the other scheme, bare.
func OnResource(r Response, resource string) Response {
	if len(r.Challenges) == 0 {
		return r
	}
	rm := ""
	if u := middleware.MetadataURL(resource); u != "" {
		rm = `, resource_metadata="` + u + `"`
	}
	first := r.Challenges[0]
	dpopFirst := strings.HasPrefix(first, "DPoP")
	if dpopFirst {
		first += `, algs="` + Algs + `"`
	}
	r.Challenges = []string{first + rm}
	switch {
	case r.Status == http.StatusBadRequest:
	case dpopFirst:
		r.Challenges = append(r.Challenges, realm+rm)
	default:
		r.Challenges = append(r.Challenges, `DPoP realm="api", algs="`+Algs+`"`+rm)
	}
	return r
}

// Default is r as a Guard with its default options answers it: Bearer and
// DPoP accepted, no resource metadata, so a 401 or 403 also names DPoP
// with its algs. Give it a response of this package's constructors.
func Default(r Response) Response { return OnResource(r, "") }

// strangerKeys are keys no issuer publishes, made once: RSA generation is
// slow, and the table is built for every entry point.
var strangerKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	rk := testkeys.RSA()
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return rk, ek
})

// Cases returns Refusals and the cases that need the Env's routes and
// final handler: the requests that pass, PathAny and PathStrict.
func (e *Env) Cases() []Case {
	mint := e.Issuer.Mint
	read := mint(jwkstest.WithScopes("notes:read"))
	pass := func(name, path string, h http.Header, scopes string) Case {
		return Case{name, path, h, ok(scopes), nil, "ok"}
	}
	cases := withResourceMetadata([]Case{
		pass("step-up met", "POST "+PathTransfers, bearer(mint(jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", MFA), jwkstest.WithClaim("auth_time", time.Now().Unix()-60))), "transfers:write"),
		pass("step-up met within the leeway", "POST "+PathTransfers, bearer(mint(jwkstest.WithScopes("transfers:write"), jwkstest.WithClaim("acr", MFA), jwkstest.WithClaim("auth_time", time.Now().Unix()-int64(StepUpMaxAge/time.Second)-20))), "transfers:write"),
		pass("ok", PathMe, bearer(read), "notes:read"),
		pass("lowercase scheme", PathMe, authz("bearer "+read), "notes:read"),
		pass("upper-case scheme", PathMe, authz("BEARER "+read), "notes:read"),
		pass("several spaces", PathMe, authz("Bearer    "+read), "notes:read"),
		pass("typ JWT", PathMe, bearer(mint(jwkstest.WithHeader("typ", "JWT"))), ""),
		pass("typ in mixed case", PathMe, bearer(mint(jwkstest.WithHeader("typ", "Application/AT+JWT"))), ""),
		// RFC 7515 §4.1.9: "application/JWT" is the type "JWT" names.
		pass("typ JWT with application/", PathMe, bearer(mint(jwkstest.WithHeader("typ", "application/jwt"))), ""),
		{"typ application/ alone", PathMe, bearer(mint(jwkstest.WithHeader("typ", "application/"))), Invalid(DescType), middleware.ErrTokenType, "type"},
		{"typ with a second slash", PathMe, bearer(mint(jwkstest.WithHeader("typ", "application/x/jwt"))), Invalid(DescType), middleware.ErrTokenType, "type"},
		pass("scope ok", PathNotes, bearer(read), "notes:read"),
		pass("scp as an array", PathNotes, bearer(mint(jwkstest.WithClaim("scp", []string{"notes:read"}))), "notes:read"),
		pass("scp as a string", PathNotes, bearer(mint(jwkstest.WithClaim("scp", "x notes:read"))), "x notes:read"),
		pass("scope ok, rule on its own", PathScoped, bearer(read), "notes:read"),
		{"scope missing, rule on its own", PathScoped, bearer(mint(jwkstest.WithScopes("notes:write"))), Forbidden("notes:read"), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"no token, rule on its own", PathScoped, nil, NoCredentials, middleware.ErrNoToken, "no_token"},
		{"expired, rule on its own", PathScoped, bearer(mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithScopes("notes:read"))), Invalid(DescExpired), middleware.ErrTokenExpired, "expired"},
		pass("any scope", PathAny, bearer(mint(jwkstest.WithScopes("b"))), "b"),
		{"any scope missing", PathAny, bearer(mint(jwkstest.WithScopes("c"))), Forbidden("a b"), middleware.ErrInsufficientScope, "insufficient_scope"},
		pass("admin", PathAdmin, bearer(mint(jwkstest.WithClaim("aud", AdminAudience), jwkstest.WithScopes("admin"))), "admin"),
		pass("claim requirement met", PathClaim, bearer(mint(jwkstest.WithClaim("repository", "octo-org/app"))), ""),
		pass("claim requirement met by an array", PathClaim, bearer(mint(jwkstest.WithClaim("repository", []string{"x", "octo-org/app"}), jwkstest.WithScopes("s"))), "s"),
		{"claim requirement, other value", PathClaim, bearer(mint(jwkstest.WithClaim("repository", "octo-org/app2"))), ClaimRefused, middleware.ErrClaimRequirement, "claim_requirement"},
		{"claim requirement, value with a space is not split", PathClaim, bearer(mint(jwkstest.WithClaim("repository", "octo-org/app other"))), ClaimRefused, middleware.ErrClaimRequirement, "claim_requirement"},
		{"claim requirement, claim absent", PathClaim, bearer(read), ClaimRefused, middleware.ErrClaimRequirement, "claim_requirement"},
		{"claim requirement, forged", PathClaim, bearer(Forge(mint(jwkstest.WithClaim("repository", "octo-org/app")))), Invalid(DescSignature), middleware.ErrSignature, "signature"},
		pass("stricter nested Guard, typ at+jwt", PathStrict, bearer(read), "notes:read"),
		pass("stricter nested Guard, typ application/at+jwt", PathStrict, bearer(mint(jwkstest.WithHeader("typ", "application/at+jwt"))), ""),
		{"stricter nested Guard, typ application/jwt", PathStrict, bearer(mint(jwkstest.WithHeader("typ", "application/jwt"))), Invalid(DescType), middleware.ErrTokenType, "type"},
		{"stricter nested Guard, typ JWT", PathStrict, bearer(mint(jwkstest.WithHeader("typ", "JWT"))), Invalid(DescType), middleware.ErrTokenType, "type"},
		{"stricter nested Guard, no token", PathStrict, nil, NoCredentials, middleware.ErrNoToken, "no_token"},
	})
	cases = append(cases, Refusals(e.Issuer)...)
	return append(cases, DPoP(e.Issuer, "http://example.com")...) // httptest.NewRequest's host
}

// Forge flips a bit of tok's signature, keeping it canonical base64url.
func Forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sig[len(sig)/2] ^= 0xff
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// Unsigned encodes header and payload with a junk signature: for checks
// that must refuse a token before its signature is looked at.
func Unsigned(header, payload map[string]any) string {
	h, _ := json.Marshal(header)
	p, _ := json.Marshal(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + enc.EncodeToString([]byte("junk-signature"))
}

// Tenants of Microsoft Entra ID for the tests of keys bound to an issuer:
// two organisations, and the consumer accounts' own tenant (whose key was
// the one accepted for other tenants' tokens in Storm-0558).
const (
	EntraTenantA    = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	EntraTenantB    = "00000000-0000-0000-0000-0000000000b2"
	EntraConsumers  = "9188040d-6c67-4c5b-b112-36a304b66dad"
	EntraV2Template = "https://login.microsoftonline.com/{tenantid}/v2.0"
)

// EntraIssuer is Entra ID's v2.0 issuer of tenant tid.
func EntraIssuer(tid string) string { return "https://login.microsoftonline.com/" + tid + "/v2.0" }

// PublishBound makes iss serve, as its whole JWKS, the public keys of its
// own kids in bound (from Rotate), each bound to the issuer it maps to by
// the non-standard "issuer" member Microsoft Entra ID writes on its JWKs;
// "" leaves the member out. A token minted with jwkstest.WithKID(kid) is
// signed by that key.
func PublishBound(iss *jwkstest.Issuer, bound map[string]string) {
	var keys []json.RawMessage
	for kid, issuer := range bound {
		var over map[string]any
		if issuer != "" {
			over = map[string]any{"issuer": issuer}
		}
		keys = append(keys, jwkstest.PublicJWK(iss.PublicKey(kid), kid, over))
	}
	body, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	hostile.Of(iss).SetJWKSBody(body)
}

// MethodPath splits a Case's Path into the method and the path.
func MethodPath(p string) (method, path string) {
	if m, rest, ok := strings.Cut(p, " "); ok {
		return m, rest
	}
	return http.MethodGet, p
}

// Serve runs c through h.
func Serve(h http.Handler, c Case) Response {
	method, path := MethodPath(c.Path)
	req := httptest.NewRequest(method, path, nil)
	for k, v := range c.Header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	// Result's header is what was sent with the status: a header set after
	// WriteHeader would be in rec.Header() but never reach a client.
	return Read(rec.Result())
}

// Read is resp in the parts the contract fixes. It reads and closes the
// body.
func Read(resp *http.Response) Response {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{resp.StatusCode, resp.Header.Values("Www-Authenticate"), resp.Header.Get("Content-Type"), string(b),
		resp.Header.Get("Retry-After"), resp.Header.Get("Dpop-Nonce") != ""}
}

// Subject is the subject of the tokens an Env's Issuer mints by default.
const Subject = "user-123"

// Get serves a GET of path through h with a bearer token of the Env's
// Issuer, of its default claims (Subject, the table's Audience, no
// scopes): for an adapter's test of what its handlers see of a request
// that passes.
func (e *Env) Get(h http.Handler, path string) Response {
	return Serve(h, Case{Path: path, Header: bearer(e.Issuer.Mint())})
}

// Equal reports whether got is exactly want.
func (want Response) Equal(got Response) bool {
	return got.Status == want.Status && got.CType == want.CType && got.Body == want.Body &&
		slices.Equal(got.Challenges, want.Challenges) && got.RetryAfter == want.RetryAfter && got.Nonce == want.Nonce
}

// Compare holds the net/http reference and h (an adapter's version of the
// Reference routes, built on Final; nil for the reference alone) to every
// case of the table, and checks on each that:
//   - the response is exactly the case's;
//   - the metrics record the case's reason;
//   - the error hook saw the case's sentinel (and an invalid_token refusal
//     is ErrInvalidToken; only the expired hint is ErrTokenExpired), or
//     nothing for a request that passes;
//   - the final handler ran once for a request that passes, and never for
//     a refusal.
func (e *Env) Compare(t *testing.T, h http.Handler) {
	t.Helper()
	e.compare(t, h, e.Cases)
}

// CompareRefusals is Compare on the table's Refusals alone, for an entry
// point whose final handler cannot be Final (an MCP endpoint's handlers
// see no claims in the context): h serves PathMe, PathNotes, PathAdmin
// and POST PathTransfers with their Reference rules.
func (e *Env) CompareRefusals(t *testing.T, h http.Handler) {
	t.Helper()
	e.compare(t, h, func() []Case { return Refusals(e.Issuer) })
}

// CompareDPoPRefusals is CompareRefusals for the table's DPoP cases
// (DPoP), for the same entry points: h serves their paths (PathMe,
// PathNotes, POST PathTransfers) with their Reference rules. The cases
// that pass are sent too, in order, since a replay needs its proof used
// before; of those, only what the Guard decided is checked (the metrics,
// the error hook, the final handler reached), not what the handler wrote.
func (e *Env) CompareDPoPRefusals(t *testing.T, h http.Handler) {
	t.Helper()
	e.compare(t, h, func() []Case {
		cases := DPoP(e.Issuer, "http://example.com")
		for i := range cases {
			if cases[i].Err == nil {
				cases[i].Want = Response{} // not compared
			}
		}
		return cases
	})
}

// compare runs the cases made anew for each entry point: a DPoP case's
// proof is good once.
func (e *Env) compare(t *testing.T, h http.Handler, cases func() []Case) {
	t.Helper()
	entries := []struct {
		name string
		h    http.Handler
	}{{"net/http reference", e.Reference()}}
	if h != nil {
		entries = append(entries, struct {
			name string
			h    http.Handler
		}{"adapter", h})
	}
	for _, entry := range entries {
		for _, c := range cases() {
			e.mu.Lock()
			e.reason, e.hookErr, e.reached = "", nil, 0
			e.mu.Unlock()
			got := Serve(entry.h, c)
			e.mu.Lock()
			reason, hookErr, reached := e.reason, e.hookErr, e.reached
			e.mu.Unlock()
			if c.Err == nil && c.Want.Status == 0 {
				got = Response{} // a pass whose response is not the table's to judge
			}
			if !c.Want.Equal(got) || reason != c.Reason {
				t.Errorf("%s, %s:\n got  %+v (reason %q)\n want %+v (reason %q)", entry.name, c.Name, got, reason, c.Want, c.Reason)
			}
			if msg := checkHook(c, hookErr); msg != "" {
				t.Errorf("%s, %s: error hook %s", entry.name, c.Name, msg)
			}
			if want := boolInt(c.Err == nil); reached != want {
				t.Errorf("%s, %s: the final handler ran %d times, want %d", entry.name, c.Name, reached, want)
			}
		}
	}
}

func checkHook(c Case, err error) string {
	switch {
	case c.Err == nil && err != nil:
		return "saw " + err.Error() + " for a request that passes"
	case c.Err == nil:
		return ""
	case !errors.Is(err, c.Err):
		return "saw " + errString(err) + ", want " + c.Err.Error()
	case strings.Contains(strings.Join(c.Want.Challenges, ""), `error="invalid_token"`) && !errors.Is(err, middleware.ErrInvalidToken):
		return "saw " + err.Error() + ", which is not ErrInvalidToken"
	case errors.Is(err, middleware.ErrTokenExpired) != (c.Err == middleware.ErrTokenExpired):
		return "saw " + err.Error() + ": ErrTokenExpired must mean the expired hint, and only it"
	}
	var me *middleware.Error
	if !errors.As(err, &me) {
		return "saw " + err.Error() + ", which is not a *middleware.Error"
	}
	if me.Status() != c.Want.Status {
		return "saw an Error with status " + http.StatusText(me.Status()) + ", but the response is " + http.StatusText(c.Want.Status)
	}
	if want := scopeParam(c.Want.Challenges); strings.Join(me.Scopes(), " ") != want {
		return "saw an Error with Scopes " + strings.Join(me.Scopes(), " ") + ", but the challenge names " + want
	}
	return ""
}

// scopeParam is the scope parameter of the challenges, or "".
func scopeParam(challenges []string) string {
	for _, ch := range challenges {
		if _, after, ok := strings.Cut(ch, `scope="`); ok {
			v, _, _ := strings.Cut(after, `"`)
			return v
		}
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "nothing"
	}
	return err.Error()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
