package middleware

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// KeySet is what a Guard needs from a key cache. jwks.Cache implements it;
// so can anything else that holds an issuer's public keys by kid (and, for
// a kid that names keys of several types, by the token's algorithm).
//
// A key comes with what its JWK says it may be used for: the "alg" it
// names, and the issuer it is bound to. Both travel with the key in one
// lookup, so a KeySet that wraps another (a *jwks.Cache, say) hands them
// on as it hands on the key, and neither can come from another version of
// the set than the key. A key bound to an issuer verifies only tokens whose
// iss is that issuer, with TenantPlaceholder in it, if any, filled by the
// token's "tid" claim (which must then be there); any other token is
// refused as one its key does not fit (ErrKeyMismatch). That is Microsoft
// Entra ID's rule for the non-standard "issuer" member of its JWKs, which
// jwks.Cache reads: since Storm-0558 a key of one tenant (the consumer
// accounts' tenant, say) must not sign for another, though the common JWKS
// that every tenant's tokens are verified with holds both. A key bound to
// no issuer ("") verifies for whichever issuer the KeySet was given to.
type KeySet interface {
	// LookupKey returns the key for kid that a token signed with tokenAlg
	// (its header's "alg", one of keyalg's supported names) is to be
	// verified with, the "alg" its JWK names and the issuer it is bound to
	// ("" for either when there is none), from what is already held,
	// without I/O. RFC 7517 §4.5 lets a set publish one kid for keys of
	// different types (an RSA and an EC key, say), so kid alone may not
	// name one key: a KeySet that holds several under kid returns the one
	// tokenAlg can use. ok reports whether kid is known: when it is but
	// none of its keys fits tokenAlg, a KeySet returns one of them with ok
	// true (jwks.Cache: the first the JWKS listed), and the Guard refuses
	// the token as one its key does not fit (ErrKeyMismatch), as it does
	// when a kid's only key is of another type; ok false would make it an
	// unknown key (ErrUnknownKey). The Guard checks the key it gets
	// against tokenAlg whatever the KeySet did.
	LookupKey(kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool)
	// LookupOrRefresh is LookupKey, but may refresh the set once (bounded
	// and rate-limited by the implementation) when kid is unknown, and
	// when kid is known but has no key for tokenAlg (the issuer may just
	// have added one of another type under it): jwks.Cache treats the two
	// alike, under one unknown-kid cooldown, so forged tokens cost the
	// issuer no more fetches either way. The Guard calls it only for
	// tokens that passed every check needing no key.
	LookupOrRefresh(ctx context.Context, kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool)
	// Ready reports whether keys have ever been loaded.
	Ready() bool
}

// maxKIDLength bounds the kid looked up; a longer one is an unknown key
// without any lookup or refresh.
const maxKIDLength = 256

// maxHeaderSize bounds the encoded JOSE header (8 KiB); real ones are a
// few hundred bytes.
const maxHeaderSize = 8 << 10

// Guard verifies bearer access tokens (RFC 6750, RFC 9068) locally, against
// their issuer's keys, and refuses requests as RFC 6750 §3 describes. It
// accepts tokens from one issuer or several (WithIssuer, WithIssuerTemplate,
// WithIssuerResolver), each with its own key set. New does all the work that
// does not depend on a request, so each request is only parsing, lookups
// and one signature check. A Guard is safe for concurrent use and cannot be
// changed after New.
type Guard struct {
	closeOnce    sync.Once
	onClose      []func()
	audiences    []string
	algs         map[string]*keyalg.Alg // the allowed ones
	types        []string
	strict       bool
	leeway       time.Duration
	cookie       string
	query        string
	tokenHeader  string // WithTokenHeader's, canonical; "" reads Authorization
	maxToken     int
	now          func() time.Time
	log          *slog.Logger
	onError      ErrorHandler
	metrics      Metrics
	ctxMetrics   ContextMetrics
	cache        *tokenCache // nil when off
	realm        string
	trustContext bool // WithInsecureContextClaims
	refusals     [numReasons]*Error
	claimRefusal *Error            // ClaimIn's 403
	retryAfter   int               // seconds, for the 503
	metadata     *ResourceMetadata // nil: RFC 9728 off
	res          resources
	rule         *Rule // the Guard's own audiences, no scopes: Handler, Verify, VerifyToken
	dpop         dpopState
	schemes      schemes // what every challenge is built from

	first     *issuer            // New's own
	all       []*issuer          // literal issuers (first first), then templates
	byIss     map[string]*issuer // literal issuers by iss and by alias
	templates []*issuer
	resolver  *resolver // nil without WithIssuerResolver
}

// New returns a Guard that accepts tokens signed by a key in keys, whose iss
// claim is exactly iss (or one of its WithIssuerAliases) and whose aud
// contains at least one of audiences; WithIssuer and its kin add more
// issuers. The issuer and the audiences are required: an empty value is an
// error, never "skip the check". The one exception: keys nil and iss ""
// together, when opts add every issuer (WithIssuer, WithIssuerTemplate,
// WithIssuerResolver), as the provider presets do; issuer options among
// opts are then an error, since there is no issuer of New's for them.
func New(keys KeySet, iss string, audiences []string, opts ...Option) (*Guard, error) {
	first := issuerConfig{kind: literalIssuer, name: iss, keys: keys}
	cfg := config{
		iss:          &first,
		leeway:       DefaultLeeway,
		algorithms:   keyalg.Supported,
		realm:        DefaultRealm,
		types:        defaultTypes,
		maxTokenSize: DefaultMaxTokenSize,
		retryAfter:   DefaultRetryAfter,
		cacheEntries: DefaultTokenCacheEntries,
		cacheBytes:   DefaultTokenCacheBytes,
		now:          time.Now,
		onError:      WriteError,
	}
	for _, o := range opts {
		if o == nil { // an error here, not a nil-pointer panic inside New
			return nil, errors.New("middleware: nil Option")
		}
		o(&cfg)
	}
	own := keys != nil || iss != "" // New's own issuer, or only the options'
	switch {
	case !own && len(cfg.issuers) == 0 && cfg.resolver == nil:
		return nil, errors.New("middleware: an issuer is required")
	case !own && cfg.issuerOptions > 0:
		return nil, errors.New("middleware: issuer options given to New without an issuer of its own; give them to WithIssuer")
	case own && keys == nil:
		return nil, errors.New("middleware: nil key set")
	case own && iss == "":
		return nil, errors.New("middleware: issuer is required")
	case len(audiences) == 0:
		return nil, errors.New("middleware: at least one audience is required")
	case cfg.leeway < 0:
		return nil, errors.New("middleware: leeway must not be negative")
	case cfg.maxTokenSize <= 0 || cfg.maxTokenSize > maxMaxTokenSize:
		return nil, errors.New("middleware: max token size must be positive and at most 1 MiB")
	case cfg.tokenHeaderSet && (cfg.tokenHeader == "" || strings.EqualFold(cfg.tokenHeader, "Authorization")):
		return nil, errors.New("middleware: WithTokenHeader needs a header name other than Authorization")
	case cfg.tokenHeaderSet && (cfg.cookie != "" || cfg.query != "" || cfg.tokenHeaders > 1):
		// A proxy's header proves the proxy only when it is all the Guard
		// reads: a cookie or a query parameter anyone can set.
		return nil, errors.New("middleware: WithTokenHeader is the Guard's only token source: not with WithCookie, WithQueryParameter or a second WithTokenHeader")
	case cfg.retryAfter < 0:
		return nil, errors.New("middleware: retry-after must not be negative")
	case cfg.now == nil || cfg.onError == nil:
		return nil, errors.New("middleware: nil clock or error handler")
	case !validQuotedText(cfg.realm):
		return nil, errors.New("middleware: realm must be printable ASCII")
	case len(cfg.algorithms) == 0:
		return nil, errors.New("middleware: at least one algorithm is required")
	case len(cfg.types) == 0:
		return nil, errors.New("middleware: WithTypes with no type would refuse every token that names one")
	case cfg.strictType && slices.Contains(cfg.guardOptions, "WithTypes"):
		return nil, errors.New("middleware: WithTypes and WithStrictType together: WithStrictType accepts at+jwt alone; give one of them")
	case len(cfg.errs) > 0:
		return nil, errors.Join(cfg.errs...)
	}
	for _, a := range audiences {
		if a == "" {
			return nil, errors.New("middleware: empty audience")
		}
	}
	dp, err := cfg.compileDPoP()
	if err != nil {
		return nil, err
	}
	g := &Guard{
		audiences:    append([]string(nil), audiences...),
		algs:         make(map[string]*keyalg.Alg, len(cfg.algorithms)),
		strict:       cfg.strictType,
		leeway:       cfg.leeway,
		cookie:       cfg.cookie,
		tokenHeader:  cfg.tokenHeader,
		metadata:     cfg.metadata,
		res:          resources{byID: map[string]*resourceEntry{}, byPath: map[string]*resourceEntry{}},
		query:        cfg.query,
		maxToken:     cfg.maxTokenSize,
		now:          cfg.now,
		log:          cfg.logger,
		onError:      cfg.onError,
		metrics:      cfg.metrics,
		realm:        cfg.realm,
		trustContext: cfg.trustContext,
		onClose:      cfg.onClose,
		byIss:        map[string]*issuer{},
		dpop:         dp,
		schemes:      schemes{realm: cfg.realm, policy: dp.policy, algs: strings.Join(dp.algs, " ")},
	}
	issuers := cfg.issuers
	if own {
		issuers = append([]issuerConfig{first}, issuers...)
	}
	if err := g.addIssuers(issuers); err != nil {
		return nil, err
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if cfg.resolver != nil {
		rv, err := newResolver(cfg.resolver, cfg.resolverLimits, cfg.now, g.log, func(is *issuer) {
			if g.cache != nil {
				g.cache.dropIssuer(is)
			}
		})
		if err != nil {
			return nil, err
		}
		g.resolver = rv
	}
	if g.metrics == nil {
		g.metrics = noMetrics{}
	}
	g.ctxMetrics, _ = g.metrics.(ContextMetrics) // nil unless it is one; asked once, not per request
	versioned := g.resolver != nil
	for _, is := range g.all {
		versioned = versioned || is.versions != nil
	}
	if versioned && cfg.cacheEntries > 0 && cfg.cacheBytes > 0 {
		g.cache = newTokenCache(cfg.cacheEntries, cfg.cacheBytes)
	}
	for _, a := range cfg.algorithms {
		alg := keyalg.Lookup(a)
		if alg == nil {
			return nil, fmt.Errorf("middleware: algorithm %q is not allowed: only asymmetric algorithms (%s) are", a, strings.Join(keyalg.Supported, ", "))
		}
		g.algs[a] = alg
	}
	if g.strict {
		g.types = []string{"at+jwt"}
	} else {
		for _, t := range cfg.types {
			g.types = append(g.types, mediaType(t))
		}
	}
	g.retryAfter = int(math.Ceil(cfg.retryAfter.Seconds()))
	for r := range numReasons {
		g.refusals[r] = g.tableRefusal(r, nil)
	}
	g.claimRefusal = claimRefusal(nil).build(g.schemes)
	g.rule = g.Rule()
	return g, nil
}

// addIssuers compiles the literal issuers and templates, refusing two that
// would claim the same iss: which key set verifies a token must never depend
// on the order of the options.
func (g *Guard) addIssuers(ics []issuerConfig) error {
	for i := range ics {
		is, err := ics[i].compile()
		if err != nil {
			return err
		}
		if ics[i].kind == templateIssuer {
			for _, t := range g.templates {
				if t.prefix == is.prefix && t.suffix == is.suffix {
					return fmt.Errorf("middleware: issuer template %q configured twice", is.name)
				}
			}
			g.templates = append(g.templates, is)
		} else {
			for _, name := range append([]string{is.name}, is.aliases...) {
				if g.byIss[name] != nil {
					return fmt.Errorf("middleware: issuer %q configured twice", name)
				}
				g.byIss[name] = is
			}
		}
		g.all = append(g.all, is)
	}
	if len(g.all) > 0 {
		g.first = g.all[0]
	}
	// Literal issuers first in g.all, as Issuers documents.
	slices.SortStableFunc(g.all, func(a, b *issuer) int {
		return boolInt(a.prefix != "" || a.suffix != "") - boolInt(b.prefix != "" || b.suffix != "")
	})
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Close releases what the Guard made itself: the key sets of the issuers a
// WithIssuerResolver accepted, waiting for their Close methods (and those of
// key sets dropped before) at most two seconds; one still running then is
// given up on, logged, and left running. Key sets given to New and
// WithIssuer are the caller's to close, unless WithOnClose closes them. A
// Guard without a resolver or WithOnClose needs no Close. Calls after the
// first do nothing.
func (g *Guard) Close() {
	g.closeOnce.Do(g.close)
}

func (g *Guard) close() {
	if g.resolver != nil {
		g.resolver.close()
	}
	for _, f := range g.onClose {
		f()
	}
}

// reason indexes the refusals a Guard precomputes.
type reason int

const (
	rNoToken reason = iota
	rMalformedRequest
	rKeysUnavailable
	rExpired
	rTokenMalformed
	rTooLarge
	rAlgorithm
	rType
	rCritical
	rNoKID
	rUnknownKey
	rKeyMismatch
	rSignature
	rIssuer
	rAudience
	rSubject
	rNoExpiry
	rNotYetValid
	rIssuedInFuture
	rClaims
	rClaimsRejected
	rBoundToken
	rCertificateBinding
	rDPoPRequired
	rDPoPBinding
	rDPoPProof
	rDPoPReplay
	rDPoPNonce
	rReplayUnavailable
	numReasons
)

// reasonTable fixes each refusal's status, code and description. The
// descriptions are for people reading logs and client errors; only
// "The access token expired" is meant for programs, and only rExpired
// carries it.
var reasonTable = [numReasons]struct {
	err    error
	name   string // for metrics: Error.Reason
	status int
	code   string
	desc   string
}{
	rNoToken:          {ErrNoToken, "no_token", http.StatusUnauthorized, "", ""},
	rMalformedRequest: {ErrMalformedRequest, "malformed_request", http.StatusBadRequest, "invalid_request", "The request does not carry exactly one well-formed bearer token"},
	rKeysUnavailable:  {ErrKeysUnavailable, "keys_unavailable", http.StatusServiceUnavailable, "temporarily_unavailable", "The signing keys of the authorization server are not available yet"},
	rExpired:          {ErrTokenExpired, "expired", http.StatusUnauthorized, "invalid_token", "The access token expired"},
	rTokenMalformed:   {ErrMalformedToken, "malformed_token", http.StatusUnauthorized, "invalid_token", "The access token is malformed"},
	rTooLarge:         {ErrTokenTooLarge, "too_large", http.StatusUnauthorized, "invalid_token", "The access token is too large"},
	rAlgorithm:        {ErrAlgorithm, "algorithm", http.StatusUnauthorized, "invalid_token", "The access token signature algorithm is not accepted"},
	rType:             {ErrTokenType, "type", http.StatusUnauthorized, "invalid_token", "The access token type is not accepted"},
	rCritical:         {ErrCritical, "critical_header", http.StatusUnauthorized, "invalid_token", "The access token uses an unsupported critical header"},
	rNoKID:            {ErrNoKID, "no_kid", http.StatusUnauthorized, "invalid_token", "The access token does not name its signing key"},
	rUnknownKey:       {ErrUnknownKey, "unknown_key", http.StatusUnauthorized, "invalid_token", "The access token signing key is unknown"},
	rKeyMismatch:      {ErrKeyMismatch, "key_mismatch", http.StatusUnauthorized, "invalid_token", "The access token signing key does not match its algorithm or issuer"},
	rSignature:        {ErrSignature, "signature", http.StatusUnauthorized, "invalid_token", "The access token signature is invalid"},
	rIssuer:           {ErrIssuer, "issuer", http.StatusUnauthorized, "invalid_token", "The access token issuer is not accepted"},
	rAudience:         {ErrAudience, "audience", http.StatusUnauthorized, "invalid_token", "The access token is not meant for this resource"},
	rSubject:          {ErrSubject, "subject", http.StatusUnauthorized, "invalid_token", "The access token has no subject"},
	rNoExpiry:         {ErrNoExpiry, "no_expiry", http.StatusUnauthorized, "invalid_token", "The access token has no expiry time"},
	rNotYetValid:      {ErrNotYetValid, "not_yet_valid", http.StatusUnauthorized, "invalid_token", "The access token is not valid yet"},
	rIssuedInFuture:   {ErrIssuedInFuture, "issued_in_future", http.StatusUnauthorized, "invalid_token", "The access token was issued in the future"},
	rClaims:           {ErrMalformedClaims, "malformed_claims", http.StatusUnauthorized, "invalid_token", "The access token claims are malformed"},
	rClaimsRejected:   {ErrClaimsRejected, "claims_rejected", http.StatusUnauthorized, "invalid_token", "The access token is not accepted by this resource"},

	rBoundToken:         {ErrBoundToken, "bound_token", http.StatusUnauthorized, "invalid_token", "The access token is bound to a key that the request does not prove"},
	rCertificateBinding: {ErrCertificateBinding, "certificate_binding", http.StatusUnauthorized, "invalid_token", "The access token is bound to a client certificate that the connection did not present"},
	rDPoPRequired:       {ErrDPoPRequired, "dpop_required", http.StatusUnauthorized, "invalid_token", "The access token must be sent with a DPoP proof"},
	rDPoPBinding:        {ErrDPoPBinding, "dpop_binding", http.StatusUnauthorized, "invalid_token", "The access token is not bound to the key of the DPoP proof"},
	rDPoPProof:          {ErrInvalidDPoPProof, "dpop_proof", http.StatusUnauthorized, "invalid_dpop_proof", "The DPoP proof is invalid"},
	rDPoPReplay:         {ErrDPoPReplay, "dpop_replay", http.StatusUnauthorized, "invalid_dpop_proof", "The DPoP proof was already used"},
	rDPoPNonce:          {ErrUseDPoPNonce, "dpop_nonce", http.StatusUnauthorized, "use_dpop_nonce", "Resource server requires nonce in DPoP proof"},
	rReplayUnavailable:  {ErrReplayStoreUnavailable, "replay_store_unavailable", http.StatusServiceUnavailable, "temporarily_unavailable", "The DPoP replay store is not available"},
}

// tableRefusal builds the refusal of reasonTable's row r, with params
// added to its challenge (a resource's resource_metadata).
func (g *Guard) tableRefusal(r reason, params []param) *Error {
	d := reasonTable[r]
	return refusal{err: d.err, idx: r, reason: d.name, status: d.status, code: d.code, desc: d.desc,
		retryAfter: g.retryAfter, resource: params}.build(g.schemes)
}

// claimRefusal is ClaimIn's 403, with resource's params added to its
// challenges.
func claimRefusal(resource []param) refusal {
	return refusal{
		err: ErrClaimRequirement, idx: -1, reason: "claim_requirement", status: http.StatusForbidden,
		code: "insufficient_scope", desc: "The access token does not carry the claims this resource requires",
		resource: resource,
	}
}

// refuse returns the precomputed refusal for r, with cause attached.
func (g *Guard) refuse(r reason, cause error) *Error {
	if cause == nil {
		return g.refusals[r]
	}
	e := *g.refusals[r]
	e.cause = cause
	return &e
}

// Verify extracts the request's bearer token and verifies it for the
// Guard's audiences. It returns the token's claims, or an *Error that says
// how to refuse the request. Rule.Check does the same with per-route
// requirements; it is what the Echo and Gin adapters call.
func (g *Guard) Verify(r *http.Request) (*claims.Claims, error) {
	c, is, err, _ := g.rule.run(r.Context(), r, credentials{})
	g.count(r.Context(), is, err)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// VerifyToken verifies token, the bare access token from any transport
// (gRPC metadata, an MCP request, a message header), for the Guard's
// audiences, exactly as Handler would verify it from an Authorization
// header: the same checks, the same token cache, the same *Error values
// to translate into the transport's own refusal. Getting the token out of
// the transport is the caller's job; it is not checked for a scheme.
// There is no request to prove a key with, so a sender-constrained token
// (DPoP or certificate-bound) is refused (ErrBoundToken,
// ErrCertificateBinding). Rule.VerifyToken does the same for a route's
// requirements.
func (g *Guard) VerifyToken(ctx context.Context, token string) (*claims.Claims, error) {
	return g.rule.VerifyToken(ctx, token)
}

// count reports a verification outcome to the Metrics, under the issuer
// the token named when it is one of the Guard's (the template, for one),
// with the request's context when the Metrics is a ContextMetrics.
func (g *Guard) count(ctx context.Context, is *issuer, err error) {
	var name string
	if is != nil {
		name = is.name
	}
	reason := "ok"
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			return
		}
		reason = e.reason
	}
	if g.ctxMetrics != nil {
		g.ctxMetrics.OutcomeContext(ctx, name, reason)
		return
	}
	g.metrics.Outcome(name, reason)
}

// verify is the pipeline's "verify the token" stage: tok for audiences,
// through the token cache. unchecked says tok has not been checked against
// RFC 6750's b64token yet (the scan is skipped for a cached token, which
// was checked when it was cached). It returns the issuer the token named
// when that is one of the Guard's, even with a refusal. With the expired
// refusal it also returns the claims (genuine in every other way), so that
// a caller can still tell which route would refuse them for another reason.
//
// For a bound token it cached, it also returns the token's SHA-256, which
// the DPoP stage needs for ath.
func (g *Guard) verify(ctx context.Context, tok string, unchecked bool, audiences []string) (*claims.Claims, *issuer, *[32]byte, error) {
	cacheable := g.cache != nil && len(tok) <= MaxCachedTokenSize
	if cacheable {
		e := g.cache.get(tok)
		if e != nil && e.is.resolved {
			// Ask the resolver again, so that a revoked tenant's token is
			// refused even if it is only ever repeated.
			is, rsn := g.resolver.resolve(ctx, e.claims.Issuer)
			switch {
			case rsn >= 0:
				g.cache.drop(tok)
				return nil, e.is, nil, g.refusals[rsn]
			case is != e.is:
				g.cache.drop(tok) // another key set now: verify again
				e = nil
			}
		}
		if e != nil {
			g.metrics.TokenCache(true)
			if !e.is.keys.Ready() { // stale beyond WithMaxStaleness
				return nil, e.is, nil, g.refusals[rKeysUnavailable]
			}
			c, err := g.checkCached(tok, e, audiences)
			return c, e.is, e.tokenSum(), err
		}
	}
	if unchecked && !isB64Token(tok) {
		// Several tokens, or bytes outside b64token.
		return nil, nil, nil, g.refusals[rMalformedRequest]
	}
	if cacheable {
		g.metrics.TokenCache(false)
	}
	// A token that arrives before any key set was fetched is
	// answered 503, whatever it holds; the client should retry, not refresh.
	if !g.anyReady() {
		return nil, nil, nil, g.refusals[rKeysUnavailable]
	}
	v, rsn, cause := g.verifyToken(ctx, tok, audiences)
	if (rsn < 0 || rsn == rExpired) && v.is != nil && v.is.pending.Load() {
		g.resolver.promote(v.is) // its keys verified a token: a tenant in use
	}
	if rsn >= 0 {
		return v.claims, v.is, nil, g.refuse(rsn, cause) // claims are nil unless rsn is rExpired
	}
	var e *cacheEntry
	if cacheable && v.cacheable {
		e = newCacheEntry(tok, v.claims, v.is, v.version)
		g.cache.put(tok, e)
	}
	return v.claims, v.is, e.tokenSum(), nil
}

// checkCached applies to a cached token the checks that depend on the
// moment and the route: the signature, issuer, type and claim shapes were
// verified when it was cached, against its issuer's key set still in use.
func (g *Guard) checkCached(tok string, e *cacheEntry, audiences []string) (*claims.Claims, error) {
	c := e.claims
	if !e.is.audienceOK(c, audiences) {
		return nil, g.refusals[rAudience]
	}
	now := g.now()
	if rsn := g.notYet(c, now); rsn >= 0 {
		return nil, g.refusals[rsn]
	}
	if g.expired(c, now) {
		g.cache.drop(tok)
		return c, g.refusals[rExpired] // genuine: it verified, and its key is still published
	}
	return c, nil
}

// notYet is the clock's verdict on c before expiry: nbf or iat after now,
// the leeway allowed. Every path asks it before expired, so that
// "expired" (which sends the client to refresh) is said only of a token
// the clock finds nothing else wrong with.
func (g *Guard) notYet(c *claims.Claims, now time.Time) reason {
	if !c.NotBefore.IsZero() && now.Add(g.leeway).Before(c.NotBefore) {
		return rNotYetValid
	}
	if !c.IssuedAt.IsZero() && now.Add(g.leeway).Before(c.IssuedAt) {
		return rIssuedInFuture
	}
	return -1
}

// expired reports whether c's exp has passed at now, the leeway allowed
// (RFC 7519 §4.1.4: now must be before exp).
func (g *Guard) expired(c *claims.Claims, now time.Time) bool {
	return !now.Before(c.ExpiresAt.Add(g.leeway))
}

// verified is what verifyToken found: the claims and the issuer, and the
// version of that issuer's key set read before its key was looked up (a
// token may be cached under it only if the key set reports versions).
type verdict struct {
	claims    *claims.Claims
	is        *issuer
	version   uint64
	cacheable bool
}

// verifyToken runs every check. The order matters: checks that need no key
// come first, so that tokens failing them never reach a key set (and never
// trigger a refresh); the issuer is chosen by the unverified iss among the
// configured ones only, so an unknown iss costs nothing; the expiry is
// decided early but reported last, so that "expired" is only ever said of a
// token whose signature verified.
func (g *Guard) verifyToken(ctx context.Context, tok string, audiences []string) (verdict, reason, error) {
	var v verdict
	if len(tok) > g.maxToken {
		return v, rTooLarge, nil
	}
	var sigBuf [512]byte // RSA-4096 and ES512 signatures fit
	t, sig, rsn, err := parseJWS(tok, sigBuf[:])
	if rsn >= 0 {
		return v, rsn, err
	}
	c := &t.claims
	alg := g.algs[t.alg]
	if !t.hasAlg || alg == nil {
		return v, rAlgorithm, nil
	}
	if t.headerReason >= 0 {
		return v, t.headerReason, nil
	}
	if rsn := g.checkType(t); rsn >= 0 {
		return v, rsn, nil
	}
	kid := t.kid
	if !t.hasKID || kid == "" {
		return v, rNoKID, nil
	}
	// The issuer: a configured one, by iss alone. One a resolver may accept
	// is asked about only after every check below that needs no key, so a
	// token that would fail them costs the resolver nothing.
	is := g.staticIssuer(c)
	shape := is
	switch {
	case is != nil:
		if !is.keys.Ready() {
			v.is = is
			return v, rKeysUnavailable, nil
		}
	case g.resolver != nil && c.Issuer != "":
		shape = g.resolver.proto
	default:
		return v, rIssuer, nil
	}
	if rsn := g.checkClaims(shape, c, audiences); rsn >= 0 {
		v.is = is
		return v, rsn, nil
	}
	if is == nil {
		var rsn reason
		if is, rsn = g.resolver.resolve(ctx, c.Issuer); rsn >= 0 {
			return v, rsn, nil
		}
		if !is.keys.Ready() {
			v.is = is
			return v, rKeysUnavailable, nil
		}
	}
	v.is = is
	expired := g.expired(c, g.now())

	if len(kid) > maxKIDLength {
		return v, rUnknownKey, nil
	}
	if is.versions != nil {
		// Read before the key: if the keys change meanwhile, the entry is
		// cached under a version that is already stale.
		v.version, v.cacheable = is.versions.KeysVersion(), true
	}
	var (
		pub           crypto.PublicKey
		jwkAlg, bound string
		ok            bool
	)
	if expired {
		// An expired token is refused whatever its key; it must not cost
		// the issuer a refresh.
		pub, jwkAlg, bound, ok = is.keys.LookupKey(kid, alg.Name)
	} else {
		pub, jwkAlg, bound, ok = is.keys.LookupOrRefresh(ctx, kid, alg.Name)
	}
	if !ok {
		return v, rUnknownKey, nil
	}
	// A key bound to an issuer (KeySet) signs for that one alone, whatever
	// issuer the token was matched to; a cached token passed this check
	// with the same key, which cannot change without the version.
	if (jwkAlg != "" && jwkAlg != alg.Name) || !alg.Fits(pub) || (bound != "" && !keyIssuerFits(bound, c)) {
		return v, rKeyMismatch, nil
	}
	if !alg.Verify(bytesOf(t.signed), sig, pub) {
		return v, rSignature, errBadSignature
	}
	// The token cache may keep t (its claims live in it): let go of the
	// signed text, a substring of whatever the token came in (a whole
	// Cookie header, say).
	t.signed = ""
	if err := t.finishClaims(); err != nil {
		return v, rClaims, err
	}
	if len(is.scopeClaims) > 0 || len(is.scopeFuncs) > 0 {
		is.addScopeClaims(c)
	}
	// The caller's checks come before the expiry verdict, so that "expired"
	// (which sends the client to refresh) is said only of a token that
	// would otherwise be accepted.
	if err := is.runChecks(c); err != nil {
		return v, rClaimsRejected, err
	}
	v.claims = c
	if expired {
		return v, rExpired, nil
	}
	return v, -1, nil
}

// checkClaims applies the claim rules that need no key, with the token
// shape of issuer is (for WithClientIDAsAudience): audience, subject,
// expiry present, nbf and iat not in the future.
func (g *Guard) checkClaims(is *issuer, c *claims.Claims, audiences []string) reason {
	is.fillIdentity(c)
	if !is.audienceOK(c, audiences) {
		return rAudience
	}
	if c.Subject == "" {
		return rSubject
	}
	if c.ExpiresAt.IsZero() {
		return rNoExpiry
	}
	return g.notYet(c, g.now())
}

// runChecks runs the issuer's WithClaimsCheck checks in order; the first
// error wins.
func (is *issuer) runChecks(c *claims.Claims) error {
	for _, check := range is.checks {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

// audienceOK reports whether c is meant for one of audiences: by aud, or,
// with the issuer's WithClientIDAsAudience, by client_id when aud is absent.
func (is *issuer) audienceOK(c *claims.Claims, audiences []string) bool {
	if is.clientIDAudience && c.Audience == nil {
		own := c.Strings("client_id") // the token's own client_id, never azp
		return len(own) == 1 && slices.Contains(audiences, own[0])
	}
	return hasAnyAudience(c, audiences)
}

// checkType applies the typ rule: absent is fine unless strict, present
// must be in the accepted set, compared case-insensitively.
func (g *Guard) checkType(t *jws) reason {
	if !t.hasTyp {
		if g.strict {
			return rType
		}
		return -1
	}
	typ := mediaType(t.typ)
	for _, want := range g.types {
		if strings.EqualFold(typ, want) {
			return -1
		}
	}
	return rType
}

func hasAnyAudience(c *claims.Claims, audiences []string) bool {
	for _, want := range audiences {
		if c.HasAudience(want) {
			return true
		}
	}
	return false
}

// Handler returns next wrapped so that it runs only for requests with a
// valid token for the Guard's audiences, with the claims in the request
// context (claims.FromContext). It has the func(http.Handler) http.Handler
// shape, so it composes with net/http, chi, alice and the like.
//
// Rules of the same Guard inside next (Require on a route or group) then
// only authorize, without verifying the token again. When next is such a
// rule, or an *http.ServeMux whose route (or a mux registered in it) is
// one directly, the Handler sees the route's rule: an expired token is
// told to refresh only if that rule's audience would accept a renewed
// one (otherwise it is not meant for this resource, as the route would
// say on its own), and a DPoP proof is remembered as used only once that
// rule let the request through. The Handler cannot see a rule behind
// another router or wrapper (http.StripPrefix, a logging handler); such a
// rule's refusal of a DPoP request comes after its proof was recorded, so
// the client makes a new proof to retry, as it would anyway. Register
// routes of another audience outside it.
func (g *Guard) Handler(next http.Handler) http.Handler {
	ru := *g.rule
	switch next.(type) {
	case *http.ServeMux, *ruleHandler:
		ru.routes = next
	}
	return ru.Middleware(next)
}

// Fail writes a refusal through the Guard's error handler and logs it.
// The log line names the issuer the refusal was counted under in the
// Metrics (see WithLogger) when r is the request Rule.Check returned with
// the refusal.
func (g *Guard) Fail(w http.ResponseWriter, r *http.Request, err error) {
	if g.log.Enabled(r.Context(), slog.LevelDebug) {
		iss := ""
		if is := refusedIssuer(r.Context(), g); is != nil {
			iss = is.name
		}
		g.log.DebugContext(r.Context(), "middleware: request refused", "method", r.Method, "path", r.URL.Path, "issuer", iss, "error", err)
	}
	g.onError(w, r, err)
}

// Leeway is the clock skew the Guard allows on exp, nbf and iat
// (WithLeeway): a token is accepted until its exp plus Leeway. A
// transport that checks expiry again on its own (the MCP SDK's
// middleware, say) needs it to agree with the Guard.
func (g *Guard) Leeway() time.Duration { return g.leeway }

// Issuer returns the issuer given to New (not its WithIssuerAliases, nor
// the issuers added with WithIssuer and its kin: see Issuers); given none,
// the first WithIssuer's (or template's), or "" for a resolver alone.
func (g *Guard) Issuer() string {
	if g.first == nil {
		return ""
	}
	return g.first.name
}
