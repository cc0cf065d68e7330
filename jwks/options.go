package jwks

import (
	"log/slog"
	"net/http"
	"time"
)

// Defaults. Each is the value used when the matching option is not given.
const (
	// DefaultRefreshInterval is how often keys are re-fetched in the
	// background. It bounds how long a key the issuer has removed keeps
	// verifying. keyfunc's default is one hour; rotation is handled by the
	// unknown-kid refresh, so this only needs to be short enough for revocation.
	DefaultRefreshInterval = 15 * time.Minute
	// DefaultFetchTimeout bounds one outbound request (discovery or JWKS).
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxResponseSize caps discovery and JWKS response bodies (1 MiB).
	DefaultMaxResponseSize = 1 << 20
	// DefaultUnknownKIDCooldown is the least time between two refreshes caused
	// by tokens with an unknown kid. keyfunc allows one per five minutes,
	// which delays a legitimate rotation for that long after any stray kid.
	DefaultUnknownKIDCooldown = 30 * time.Second
	// DefaultUnknownKIDWait bounds how long a request with an unknown kid
	// waits for the refresh it triggered. keyfunc makes callers wait up to a
	// minute; a request should fail fast instead.
	DefaultUnknownKIDWait = 2 * time.Second
	// DefaultMinBackoff is the first retry delay after a failed fetch; it
	// doubles, with jitter, up to DefaultMaxBackoff. keyfunc does not retry
	// a failed first fetch at all.
	DefaultMinBackoff = time.Second
	// DefaultMaxBackoff caps that delay, so an issuer that comes back is
	// noticed within a minute.
	DefaultMaxBackoff = time.Minute
	// DefaultMinFreshness and DefaultMaxFreshness clamp the refresh interval
	// an issuer asks for with Cache-Control max-age or Expires: not so often
	// that a misconfigured issuer is hammered, not so rarely that a removed
	// key keeps verifying for a day.
	DefaultMinFreshness = time.Minute
	DefaultMaxFreshness = time.Hour
	// DefaultNegativeTTL is how long a kid that a refresh did not find is
	// answered "unknown" without another refresh.
	DefaultNegativeTTL = 30 * time.Second
	// maxNegative bounds the negative cache; a flood of random kids cannot
	// grow it further.
	maxNegative = 4096
)

// An Option configures a Cache. Options are applied in order by New and
// NewFromJWKSURL; a Cache cannot be reconfigured after construction.
type Option func(*config)

type config struct {
	client             *http.Client
	logger             *slog.Logger
	refreshInterval    time.Duration
	fetchTimeout       time.Duration
	maxResponseSize    int64
	unknownKIDCooldown time.Duration
	unknownKIDWait     time.Duration
	minBackoff         time.Duration
	maxBackoff         time.Duration
	minFreshness       time.Duration
	maxFreshness       time.Duration
	maxStaleness       time.Duration
	negativeTTL        time.Duration
	insecureHTTP       bool
	metrics            Metrics
	discoveryURL       string
}

func defaultConfig() config {
	return config{
		refreshInterval:    DefaultRefreshInterval,
		fetchTimeout:       DefaultFetchTimeout,
		maxResponseSize:    DefaultMaxResponseSize,
		unknownKIDCooldown: DefaultUnknownKIDCooldown,
		unknownKIDWait:     DefaultUnknownKIDWait,
		minBackoff:         DefaultMinBackoff,
		maxBackoff:         DefaultMaxBackoff,
		minFreshness:       DefaultMinFreshness,
		maxFreshness:       DefaultMaxFreshness,
		negativeTTL:        DefaultNegativeTTL,
	}
}

// WithHTTPClient sets the client used for discovery and JWKS requests, for
// example to add a proxy or custom TLS roots. Default: a client built on
// http.DefaultTransport. If the client has no CheckRedirect, the Cache adds
// one that refuses redirects to another host or from https to http.
func WithHTTPClient(c *http.Client) Option {
	return func(cfg *config) { cfg.client = c }
}

// WithLogger sets where refresh failures and skipped keys are logged. Each
// failure streak is logged once, not once per attempt. Default: slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) { cfg.logger = l }
}

// WithRefreshInterval sets how often keys are re-fetched after a success
// when the issuer's response says nothing about freshness (no
// Cache-Control max-age or Expires). Shorter means a removed key stops
// verifying sooner, at the cost of more requests to the issuer. Default:
// DefaultRefreshInterval. New fails for a d of 0 or less: there is no
// "never" (a key set that is never refreshed keeps a removed key).
func WithRefreshInterval(d time.Duration) Option {
	return func(cfg *config) { cfg.refreshInterval = d }
}

// WithFetchTimeout bounds each outbound request. Default:
// DefaultFetchTimeout. New fails for a d of 0 or less: an unbounded
// request to a hung issuer would stall every refresh after it.
func WithFetchTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.fetchTimeout = d }
}

// WithMaxResponseSize caps the size of discovery and JWKS responses in bytes;
// a larger body fails the fetch and the previous keys stay in use. Raise it
// only for an issuer that publishes very large sets. Default:
// DefaultMaxResponseSize. New fails for an n of 0 or less.
func WithMaxResponseSize(n int64) Option {
	return func(cfg *config) { cfg.maxResponseSize = n }
}

// WithUnknownKIDCooldown sets the least time between refreshes caused by
// tokens with a kid the cache does not know, or knows with no key of the
// token's alg (Cache.LookupOrRefresh), both under one cooldown. This caps what a flood of
// made-up kids can cost the issuer: one request per cooldown per process.
// Default: DefaultUnknownKIDCooldown. Zero means no cooldown: a kid not in
// the negative cache (WithNegativeTTL) may start a refresh whenever none
// is in flight. New fails for a negative d.
func WithUnknownKIDCooldown(d time.Duration) Option {
	return func(cfg *config) { cfg.unknownKIDCooldown = d }
}

// WithUnknownKIDWait bounds how long a request waits for the refresh its
// unknown kid triggered (the request's own context may end it sooner).
// Default: DefaultUnknownKIDWait. Zero means the request does not wait: the
// kid is unknown to it, and the refresh it started serves later requests.
// New fails for a negative d.
func WithUnknownKIDWait(d time.Duration) Option {
	return func(cfg *config) { cfg.unknownKIDWait = d }
}

// WithBackoff sets the bounds of the exponential, jittered delay between
// retries after a failed fetch. A 429 or 503 whose Retry-After asks for
// longer than the delay is retried after the Retry-After instead, but
// never later than max, and no unknown kid triggers a fetch before then.
// Default: DefaultMinBackoff, DefaultMaxBackoff. New fails unless
// 0 < min <= max.
func WithBackoff(min, max time.Duration) Option {
	return func(cfg *config) { cfg.minBackoff, cfg.maxBackoff = min, max }
}

// InsecureAllowHTTP allows plain-http issuer, discovery and JWKS URLs on
// hosts other than loopback. Keys fetched over plain http can be replaced by
// anyone on the network path, so use it only in development. Loopback
// addresses (localhost, 127.0.0.0/8, ::1) are always allowed over http.
func InsecureAllowHTTP() Option {
	return func(cfg *config) { cfg.insecureHTTP = true }
}

// WithFreshnessBounds clamps the refresh interval an issuer asks for with
// Cache-Control max-age or Expires (RFC 9111 §4.2.1) to [min, max].
// Default: DefaultMinFreshness, DefaultMaxFreshness. New fails unless
// 0 < min <= max.
func WithFreshnessBounds(min, max time.Duration) Option {
	return func(cfg *config) { cfg.minFreshness, cfg.maxFreshness = min, max }
}

// WithMaxStaleness makes the Cache report itself not ready (so the
// middleware answers 503 with Retry-After) once its last successful fetch
// is older than d, for deployments that would rather stop than verify with
// keys that may have been revoked long ago. Default: 0, never: the last good
// keys serve for as long as the issuer is down. New fails for a negative d.
func WithMaxStaleness(d time.Duration) Option {
	return func(cfg *config) { cfg.maxStaleness = d }
}

// WithNegativeTTL sets how long a kid that a refresh did not find is
// answered "unknown" at once, and a kid it found with no key of the
// token's alg is answered with its key that does not fit, for that alg
// alone, without waiting for or triggering another refresh. Default: DefaultNegativeTTL. Zero disables the negative cache;
// New fails for a negative d.
func WithNegativeTTL(d time.Duration) Option {
	return func(cfg *config) { cfg.negativeTTL = d }
}

// Metrics receives the Cache's counts, for a metrics backend (see
// adapters/promguard). Methods are called synchronously from fetches and
// lookups: they must be fast and safe for concurrent use. Each names the
// cache's issuer (its JWKS URL, for a Cache made by NewFromJWKSURL), so one
// Metrics can serve the caches of several issuers.
type Metrics interface {
	// Fetch counts one JWKS fetch by result: "ok", "not_modified" or "error".
	Fetch(issuer, result string)
	// KeysLoaded reports the number of usable keys after a successful fetch.
	KeysLoaded(issuer string, n int)
	// UnknownKIDRefresh counts refreshes triggered by an unknown kid, or
	// by a known one with no key of the token's alg.
	UnknownKIDRefresh(issuer string)
}

// WithMetrics sets where the Cache reports fetches, key counts and
// unknown-kid refreshes. Default: none.
func WithMetrics(m Metrics) Option {
	return func(cfg *config) { cfg.metrics = m }
}

// noMetrics is the default Metrics.
type noMetrics struct{}

func (noMetrics) Fetch(string, string)     {}
func (noMetrics) KeysLoaded(string, int)   {}
func (noMetrics) UnknownKIDRefresh(string) {}

// WithDiscoveryURL makes New read the issuer's metadata from u instead of
// the two well-known locations derived from the issuer, for providers that
// serve it elsewhere: Azure AD B2C per user flow
// (https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration),
// Entra ID v1 at login.microsoftonline.com for the issuer
// https://sts.windows.net/{tenant}/. The document's "issuer" must still
// equal the configured issuer exactly (RFC 8414 §3.3). u must be https (or
// http on loopback, or with InsecureAllowHTTP). NewFromJWKSURL ignores it.
func WithDiscoveryURL(u string) Option {
	return func(c *config) { c.discoveryURL = u }
}
