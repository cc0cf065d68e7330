package middleware

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
)

// Defaults used when the matching option is not given.
const (
	// DefaultLeeway absorbs clock skew between the issuer and this server
	// when checking exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultRealm is the realm named in every challenge.
	DefaultRealm = "api"
	// DefaultMaxTokenSize caps the token length (16 KiB); longer tokens are
	// refused before any decoding, and in an Authorization header as a
	// malformed request. A Microsoft Entra ID token with the most group IDs
	// Entra puts in one (200) is about 12 KB.
	DefaultMaxTokenSize = 16 << 10
	// maxMaxTokenSize bounds WithMaxTokenSize: a bearer token of a megabyte
	// is an attack, and the header bound (the size plus a little) must
	// not overflow.
	maxMaxTokenSize = 1 << 20
	// DefaultRetryAfter is the Retry-After sent with 503 while no keys have
	// been fetched.
	DefaultRetryAfter = 5 * time.Second
)

// defaultTypes are the accepted typ header values unless WithTypes says
// otherwise.
var defaultTypes = []string{"JWT", "at+jwt"}

// An ErrorHandler writes the response for a refused request. err is always
// an *Error; it matches one of the package's sentinel errors. WriteError is
// the default. The *Error is shared by every request refused for the same
// reason: read it, never modify it.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

// An Option configures a Guard. Options are applied in order by New.
//
// Some are issuer options (WithIssuerAliases, WithScopeClaims,
// WithScopesFrom, WithClientIDClaims, WithSubjectClaim,
// WithClientIDAsAudience, WithClaimsCheck, WithTenants): given to New they
// apply to New's own issuer; given to WithIssuer, WithIssuerTemplate or
// WithIssuerResolver, to that issuer alone. Every other option is the
// Guard's, and New fails if one is given to an issuer.
type Option func(*config)

// guardOption makes an Option that is the Guard's, not an issuer's. name
// is the option's own (its function's), for the error New returns when it
// is given to an issuer: an Option is a func, which cannot say what it is.
func guardOption(name string, f func(*config)) Option {
	return func(c *config) {
		c.guardOptions = append(c.guardOptions, name)
		f(c)
	}
}

type config struct {
	iss            *issuerConfig // the issuer that issuer options set
	issuers        []issuerConfig
	resolver       *resolverConfig
	resolverLimits ResolverLimits
	guardOptions   []string // the names of the Guard options applied
	onClose        []func()
	issuerOptions  int     // how many issuer options were applied to iss
	errs           []error // found while applying options

	leeway         time.Duration
	algorithms     []string
	realm          string
	types          []string
	strictType     bool
	cookie         string
	query          string
	tokenHeader    string
	tokenHeaderSet bool
	tokenHeaders   int // how many WithTokenHeader were given
	metadata       *ResourceMetadata
	logger         *slog.Logger
	now            func() time.Time
	onError        ErrorHandler
	maxTokenSize   int
	retryAfter     time.Duration
	metrics        Metrics
	cacheEntries   int
	cacheBytes     int64
	trustContext   bool

	dpop           DPoPPolicy
	dpopAlgs       []string
	proofWindow    time.Duration
	nonceOn        bool
	nonceSecret    []byte
	nonceLife      time.Duration
	replay         ReplayStore
	replayFailOpen bool
	externalURL    string
	externalURLSet bool
	trustedProxies []netip.Prefix
}

// Metrics receives each request's verification outcome, for a metrics
// backend (see adapters/promguard). Outcome is called once per checked
// request, synchronously (Rule.Check says when a nested rule's refusal
// is counted besides an outer rule's "ok"): it must be fast and safe for
// concurrent use.
type Metrics interface {
	// Outcome counts one request: "ok", or the refused request's
	// Error.Reason ("expired", "signature", "insufficient_scope", …),
	// under the issuer its token named when that is one of the Guard's (for
	// a template, the template), else "".
	Outcome(issuer, reason string)
	// TokenCache counts one lookup in the verified-token cache.
	TokenCache(hit bool)
}

// ContextMetrics is a Metrics that also wants each request's context, for a
// tracing backend (see adapters/otelguard) that records the outcome on the
// request's span. When the Metrics given to WithMetrics implements it, a
// Guard calls OutcomeContext, with the request's context, instead of
// Outcome, once per checked request: the context of the *http.Request for
// Handler, Verify and Rule.Check, the one given for VerifyToken and
// Rule.Authorize. Like Outcome, it is called synchronously: it must be
// fast and safe for concurrent use.
type ContextMetrics interface {
	Metrics
	// OutcomeContext counts one request as Outcome does, with the request's
	// context.
	OutcomeContext(ctx context.Context, issuer, reason string)
}

// WithMetrics sets where verification outcomes are counted. Default: none.
func WithMetrics(m Metrics) Option {
	return guardOption("WithMetrics", func(c *config) { c.metrics = m })
}

type noMetrics struct{}

func (noMetrics) Outcome(string, string) {}
func (noMetrics) TokenCache(bool)        {}

// WithLeeway sets the clock-skew allowance for exp, nbf and iat. Default:
// DefaultLeeway. Keep it small: it extends every token's life.
func WithLeeway(d time.Duration) Option {
	return guardOption("WithLeeway", func(c *config) { c.leeway = d })
}

// WithAlgorithms restricts the accepted signature algorithms. Only
// asymmetric algorithms can be named (RS256/384/512, PS256/384/512,
// ES256/384/512, EdDSA); New refuses anything else, including HS* and none,
// because a resource server that accepts a shared secret lets anyone holding
// it mint tokens. Default: all of them. Narrow it to what your issuer uses.
func WithAlgorithms(algs ...string) Option {
	return guardOption("WithAlgorithms", func(c *config) { c.algorithms = algs })
}

// WithRealm sets the realm named in WWW-Authenticate challenges (RFC 6750
// §3). Default: DefaultRealm. An empty realm omits the parameter, except
// from a challenge that would then have none (a request without a token,
// with no resource metadata): RFC 6750 §3 requires one, so that challenge
// is `Bearer realm=""`.
func WithRealm(realm string) Option {
	return guardOption("WithRealm", func(c *config) { c.realm = realm })
}

// WithTypes sets the accepted typ header values, compared
// case-insensitively and, as RFC 7515 §4.1.9 has recipients do, with an
// "application/" prefix or without it alike ("JWT" accepts
// "application/jwt" too). Default: "JWT" and "at+jwt"; a token without typ
// is also accepted unless WithStrictType is given. New refuses WithTypes
// with no type, and WithTypes given with WithStrictType (which accepts
// at+jwt alone).
func WithTypes(types ...string) Option {
	return guardOption("WithTypes", func(c *config) { c.types = types })
}

// WithStrictType requires typ to be present and "at+jwt" or
// "application/at+jwt", as RFC 9068 §4 asks of access tokens. It stops an ID
// token or other JWT from the same issuer being accepted as an access
// token; enable it when your issuer sets typ (most RFC 9068 issuers do).
func WithStrictType() Option {
	return guardOption("WithStrictType", func(c *config) { c.strictType = true })
}

// WithCookie also reads the token from the named cookie. A request that
// carries a token there and another in the Authorization header (or the
// query) is refused 400 invalid_request, as RFC 6750 §2 has a client send
// its token one way only; an Authorization header of another scheme
// (Basic, say) holds no token and does not count. So a browser client
// that authenticates with the cookie must not also send a bearer header.
// Off by default: cookies are sent automatically by browsers, which makes
// CSRF protection your concern.
func WithCookie(name string) Option {
	return guardOption("WithCookie", func(c *config) { c.cookie = name })
}

// WithQueryParameter also reads the token from the named query parameter
// (RFC 6750 §2.3 uses "access_token"). Off by default: URLs end up in logs,
// histories and Referer headers. A request that passes with its token
// there gets Cache-Control: private before its handler runs (added to one
// an earlier handler set), as RFC 6750 §2.3 has it, so that no shared
// cache keeps the answer under a URL that holds the token; the handler
// may still set its own.
func WithQueryParameter(name string) Option {
	return guardOption("WithQueryParameter", func(c *config) { c.query = name })
}

// WithTokenHeader reads the token from the named request header instead of
// Authorization: the header holds the bare JWT, with no scheme, as Google
// IAP's "X-Goog-IAP-JWT-Assertion" and Cloudflare Access's
// "Cf-Access-Jwt-Assertion" do. The Authorization header is then not read
// at all (behind such a proxy it may carry another token, meant for the
// application). A request without the header has no credentials; two of
// them, or a value that is not one b64token within the maximum token
// size, is a malformed request. Only for a header that the proxy in front
// sets and strips from what clients send: otherwise a client chooses it.
// It is the Guard's only source: New refuses it beside WithCookie,
// WithQueryParameter or another WithTokenHeader.
func WithTokenHeader(name string) Option {
	return guardOption("WithTokenHeader", func(c *config) {
		c.tokenHeader, c.tokenHeaderSet = http.CanonicalHeaderKey(name), true
		c.tokenHeaders++
	})
}

// WithOnClose has Guard.Close call f, once, after releasing what the
// Guard made itself: for what was made for the Guard alone and should end
// with it, such as key sets no other Guard shares (providers.New closes
// its caches this way). Functions given in several options run in order.
func WithOnClose(f func()) Option {
	return guardOption("WithOnClose", func(c *config) {
		if f != nil {
			c.onClose = append(c.onClose, f)
		}
	})
}

// WithLogger sets where refusals are logged, at debug level, with their
// reason and cause (never the token), and the issuer the Metrics count
// them under: the verified token's, or, for a token refused before it
// was verified (a bad signature, an unknown key), the issuer it claims
// when that is one of the Guard's; "" when the token names none of them,
// or there is no token. Default: a logger that discards.
func WithLogger(l *slog.Logger) Option {
	return guardOption("WithLogger", func(c *config) { c.logger = l })
}

// WithClock sets the clock for exp, nbf and iat checks; for tests.
// Default: time.Now.
func WithClock(now func() time.Time) Option {
	return guardOption("WithClock", func(c *config) { c.now = now })
}

// WithErrorHandler sets the function that writes refusals, for example to
// count them or to log and then call WriteError. Default: WriteError.
func WithErrorHandler(h ErrorHandler) Option {
	return guardOption("WithErrorHandler", func(c *config) { c.onError = h })
}

// WithMaxTokenSize caps the token length in bytes: the one limit on the
// Authorization header too, which may hold besides the token only its
// scheme and a few spaces. At most 1 MiB. Default: DefaultMaxTokenSize.
func WithMaxTokenSize(n int) Option {
	return guardOption("WithMaxTokenSize", func(c *config) { c.maxTokenSize = n })
}

// WithRetryAfter sets the Retry-After of the 503 sent while no keys have
// been fetched; it is rounded up to whole seconds. Default:
// DefaultRetryAfter.
func WithRetryAfter(d time.Duration) Option {
	return guardOption("WithRetryAfter", func(c *config) { c.retryAfter = d })
}

// WithInsecureContextClaims makes the Guard's rules accept claims that
// application code put in the request context with claims.NewContext (after
// checking a token some other way, say) without verifying a token: they
// check the claims' issuer, the Guard's claims checks, the route's audience
// and scopes, but not any signature, type or algorithm; claims with a cnf
// (a sender-constrained token) are refused, as is everything under
// DPoPRequired, since no proof goes with them. Off by default, and
// insecure: anything that can reach the context before the rule vouches for
// whoever it likes. Claims a rule of this Guard verified are always
// recognised without it, and claims another Guard verified never are.
func WithInsecureContextClaims() Option {
	return guardOption("WithInsecureContextClaims", func(c *config) { c.trustContext = true })
}
