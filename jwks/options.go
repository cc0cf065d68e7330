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
	// DefaultMinBackoff and DefaultMaxBackoff bound the retry delay after a
	// failed fetch (exponential, with jitter). keyfunc does not retry a failed
	// first fetch at all.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
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
	insecureHTTP       bool
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

// WithRefreshInterval sets how often keys are re-fetched after a success.
// Shorter means a removed key stops verifying sooner, at the cost of more
// requests to the issuer. Default: DefaultRefreshInterval.
func WithRefreshInterval(d time.Duration) Option {
	return func(cfg *config) { cfg.refreshInterval = d }
}

// WithFetchTimeout bounds each outbound request. Default: DefaultFetchTimeout.
func WithFetchTimeout(d time.Duration) Option {
	return func(cfg *config) { cfg.fetchTimeout = d }
}

// WithMaxResponseSize caps the size of discovery and JWKS responses in bytes;
// a larger body fails the fetch and the previous keys stay in use. Raise it
// only for an issuer that publishes very large sets. Default:
// DefaultMaxResponseSize.
func WithMaxResponseSize(n int64) Option {
	return func(cfg *config) { cfg.maxResponseSize = n }
}

// WithUnknownKIDCooldown sets the least time between refreshes caused by
// tokens with a kid the cache does not know. This caps what a flood of
// made-up kids can cost the issuer: one request per cooldown per process.
// Default: DefaultUnknownKIDCooldown.
func WithUnknownKIDCooldown(d time.Duration) Option {
	return func(cfg *config) { cfg.unknownKIDCooldown = d }
}

// WithUnknownKIDWait bounds how long a request waits for the refresh its
// unknown kid triggered (the request's own context may end it sooner).
// Default: DefaultUnknownKIDWait.
func WithUnknownKIDWait(d time.Duration) Option {
	return func(cfg *config) { cfg.unknownKIDWait = d }
}

// WithBackoff sets the bounds of the exponential, jittered delay between
// retries after a failed fetch. Default: DefaultMinBackoff, DefaultMaxBackoff.
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
