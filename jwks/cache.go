package jwks

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/jwtguard/jwtguard/internal/clock"
)

// ErrClosed is reported by WaitReady once the Cache is closed or its
// context is done, and is Status().Stopped after Close.
var ErrClosed = errors.New("jwks: cache closed")

// ErrStopped is Status().Stopped once the context given to New or
// NewFromJWKSURL ended before Close: the keys no longer change, so a key
// the issuer withdraws keeps verifying and one it rotates in is never
// found. It is joined with the context's cause.
var ErrStopped = errors.New("jwks: cache stopped: its context ended before Close")

// ErrNotReady is returned by WaitReady when its context ends before the
// first key set arrived; it is joined with the last fetch error.
var ErrNotReady = errors.New("jwks: no key set fetched yet")

// Cache holds an issuer's public keys, fetched from its JWKS and kept fresh
// in the background. Lookups read an immutable snapshot and never block on
// the network; only LookupOrRefresh may wait, briefly, for a refresh that an
// unknown kid triggered. All methods are safe for concurrent use.
//
// A Cache has no usable zero value: create it with New or NewFromJWKSURL,
// with a context that lives as long as the server, and stop it with Close.
type Cache struct {
	cfg          config
	clock        clock.Clock // from New's context; the real clock but in tests
	client       *http.Client
	ownClient    bool // the client is ours, so Close may close its connections
	log          *slog.Logger
	issuer       string   // "" when built from a JWKS URL
	label        string   // the issuer, or the JWKS URL: what metrics name
	issuerURL    *url.URL // nil when built from a JWKS URL
	discoveryURL string   // WithDiscoveryURL's, checked; "" for the well-known ones

	snap        atomic.Pointer[snapshot]
	version     atomic.Uint64 // bumped with each new snapshot
	lastSuccess atomic.Int64  // unix nanoseconds; read by Ready without the lock
	metrics     Metrics
	storage     *jwkset.MemoryJWKSet // mirror of snap for jwkset/keyfunc users
	ready       chan struct{}        // closed when the first key set arrives

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu             sync.Mutex
	closed         bool
	jwksURL        string
	inflight       *flight
	lastKIDRefresh time.Time
	lastBodyHash   [sha256.Size]byte
	etag           string // validators of the last JWKS response
	lastModified   string
	nextRefresh    time.Duration // from the last response's freshness
	nextScheduled  time.Time     // when the background loop fetches next
	holdUntil      time.Time     // no fetch before: the issuer's Retry-After, capped at the max backoff
	negative       map[negKey]time.Time
	status         Status
}

// flight is one fetch in progress; everyone who needs it waits on done.
type flight struct {
	done chan struct{}
	err  error
	// scheduled: the background loop waits on it, and retries after a
	// failure; a flight started for an unknown kid alone does not.
	scheduled bool
	// logFailure is the failure to log once the loop knows when it
	// retries (a scheduled flight that began a failure streak); nil
	// otherwise.
	logFailure func(retryIn time.Duration)
}

// New returns a Cache for the keys of issuer, whose JWKS URL is found by
// discovery: first <issuer>/.well-known/openid-configuration (OpenID Connect
// Discovery), then the RFC 8414 form
// <scheme>://<host>/.well-known/oauth-authorization-server<issuer path>. The
// metadata's "issuer" must equal issuer exactly (RFC 8414 §3.3).
//
// New does no I/O and fails only for a bad issuer URL or bad options: an
// unreachable issuer must not stop a resource server from starting. Keys are
// fetched in the background, with backoff until the first success; see Ready,
// WaitReady and Status.
//
// ctx bounds the Cache's whole life, not its start-up: it must live as long
// as the server that verifies tokens with it (context.Background, or the
// server's own), and Close stops the Cache. Never give it a start-up
// context with a timeout (the one given to WaitReady, say): once ctx ends
// the background refresh stops and the keys stay as last fetched, so a key
// the issuer withdraws keeps verifying and one it rotates in is never
// found. A ctx that ends before Close is therefore logged once, at Error
// level, and reported by Status().Stopped (ErrStopped); Ready does not
// change (see Ready).
func New(ctx context.Context, issuer string, opts ...Option) (*Cache, error) {
	c, u, err := newCache(ctx, opts, issuer, "issuer")
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		c.cancel() // the Cache never starts: its context must not outlive New
		return nil, fmt.Errorf("%w: issuer %q must not have a query (RFC 8414 §2)", ErrInsecureURL, issuer)
	}
	c.issuer, c.issuerURL, c.label = issuer, u, issuer
	if c.cfg.discoveryURL != "" {
		d, err := checkURL(c.cfg.discoveryURL, c.cfg.insecureHTTP)
		if err != nil {
			c.cancel()
			return nil, fmt.Errorf("jwks: discovery URL: %w", err)
		}
		c.discoveryURL = d.String()
	}
	c.start()
	return c, nil
}

// NewFromJWKSURL returns a Cache for the keys published at jwksURL, with no
// discovery. Like New it does no I/O and fetches in the background, and
// ctx must, as New's, live as long as the server.
func NewFromJWKSURL(ctx context.Context, jwksURL string, opts ...Option) (*Cache, error) {
	c, u, err := newCache(ctx, opts, jwksURL, "JWKS URL")
	if err != nil {
		return nil, err
	}
	c.jwksURL = u.String()
	c.status.JWKSURL, c.label = c.jwksURL, c.jwksURL
	c.start()
	return c, nil
}

// newCache checks ctx and the options, then rawURL (named what in the
// error) as checkURL does under the options' InsecureAllowHTTP, and
// returns the Cache, not started, with the parsed URL: what New and
// NewFromJWKSURL both begin with.
func newCache(ctx context.Context, opts []Option, rawURL, what string) (*Cache, *url.URL, error) {
	if ctx == nil {
		return nil, nil, errors.New("jwks: nil context")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil { // an error here, not a nil-pointer panic inside New
			return nil, nil, errors.New("jwks: nil Option")
		}
		o(&cfg)
	}
	switch {
	case cfg.refreshInterval <= 0:
		return nil, nil, errors.New("jwks: refresh interval must be positive")
	case cfg.fetchTimeout <= 0:
		return nil, nil, errors.New("jwks: fetch timeout must be positive")
	case cfg.maxResponseSize <= 0:
		return nil, nil, errors.New("jwks: max response size must be positive")
	case cfg.unknownKIDCooldown < 0 || cfg.unknownKIDWait < 0:
		return nil, nil, errors.New("jwks: unknown-kid cooldown and wait must not be negative")
	case cfg.minBackoff <= 0 || cfg.maxBackoff < cfg.minBackoff:
		return nil, nil, errors.New("jwks: backoff bounds must be positive and ordered")
	case cfg.minFreshness <= 0 || cfg.maxFreshness < cfg.minFreshness:
		return nil, nil, errors.New("jwks: freshness bounds must be positive and ordered")
	case cfg.maxStaleness < 0 || cfg.negativeTTL < 0:
		return nil, nil, errors.New("jwks: max staleness and negative TTL must not be negative")
	}
	u, err := checkURL(rawURL, cfg.insecureHTTP)
	if err != nil {
		return nil, nil, fmt.Errorf("jwks: %s: %w", what, err)
	}
	c := &Cache{
		cfg:     cfg,
		log:     cfg.logger,
		storage: jwkset.NewMemoryStorage(),
		ready:   make(chan struct{}),
		metrics: cfg.metrics,
		clock:   clock.From(ctx),
	}
	if c.metrics == nil {
		c.metrics = noMetrics{}
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	// Our own transport, not http.DefaultTransport: Close must be able to
	// close its idle connections so no goroutine outlives the Cache.
	client := http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	c.ownClient = true
	if cfg.client != nil {
		client, c.ownClient = *cfg.client, false
	}
	if client.CheckRedirect == nil {
		client.CheckRedirect = refuseCrossHostRedirect
	}
	c.client = &client
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c, u, nil
}

func (c *Cache) start() {
	c.wg.Add(1)
	go c.run()
}

// Close stops the background refresh and waits for every goroutine the Cache
// started to return. Keys already fetched stay readable. Close is idempotent.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	if c.status.Stopped == nil {
		c.status.Stopped = ErrClosed
	}
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	c.closeIdle()
}

// closeIdle closes the idle connections of the Cache's own client, whose
// read and write goroutines would otherwise outlive it.
func (c *Cache) closeIdle() {
	if c.ownClient {
		c.client.CloseIdleConnections()
	}
}

// run refreshes at the configured interval after a success and with
// exponential, jittered backoff after a failure.
func (c *Cache) run() {
	defer c.wg.Done()
	defer c.closeIdle()
	defer c.stopped()
	backoff := c.cfg.minBackoff
	timer := c.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-timer.C():
		}
		// A refresh for an unknown kid may have been told to wait since
		// the timer was set; that holds this fetch too.
		c.mu.Lock()
		now := c.clock.Now()
		hold := c.holdUntil.Sub(now)
		if hold > 0 {
			c.nextScheduled = c.holdUntil
		}
		c.mu.Unlock()
		if hold > 0 {
			timer.Reset(hold)
			continue
		}
		f := c.startFlight(true)
		select {
		case <-c.ctx.Done():
			return
		case <-f.done:
		}
		var next time.Duration
		if f.err != nil {
			next = jitter(backoff)
			backoff = min(backoff*2, c.cfg.maxBackoff)
		} else {
			backoff = c.cfg.minBackoff
			c.mu.Lock()
			next = jitter(c.nextRefresh)
			c.mu.Unlock()
		}
		c.mu.Lock()
		now = c.clock.Now()
		if f.err != nil {
			// The backoff, or the issuer's Retry-After when longer.
			next = max(next, c.holdUntil.Sub(now))
		}
		c.nextScheduled = now.Add(next)
		c.mu.Unlock()
		if f.logFailure != nil {
			f.logFailure(next)
		}
		timer.Reset(next)
	}
}

// stopped records, as the refresh loop ends, why it did. The loop ends
// only with c.ctx; if Close did not end it, the context given to New did,
// and the keys are frozen from now on, which no other line or status would
// show: the fetches simply stop.
func (c *Cache) stopped() {
	c.mu.Lock()
	if c.closed || c.status.Stopped != nil {
		c.mu.Unlock()
		return
	}
	err := fmt.Errorf("%w: %w", ErrStopped, context.Cause(c.ctx))
	c.status.Stopped = err
	url, keys := c.status.JWKSURL, c.status.Keys
	c.mu.Unlock()
	c.log.Error("jwks: the cache's context ended before Close; keys are no longer refreshed, so a withdrawn key keeps verifying and a rotated-in one is never found; "+
		"harmless if the process is shutting down, else give New a context that lives as long as the server",
		"issuer", c.issuer, "url", url, "error", err, "keys", keys)
}

// jitter spreads d over [0.8d, 1.2d) so a fleet of replicas started together
// does not refresh in lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// startFlight joins the fetch in progress or starts one; scheduled says
// the background loop is the caller. The fetch is detached from any
// request: it runs under the Cache's own context, so one caller giving up
// does not cancel it for the others.
func (c *Cache) startFlight(scheduled bool) *flight {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.startFlightLocked()
	f.scheduled = f.scheduled || scheduled
	return f
}

func (c *Cache) startFlightLocked() *flight {
	if c.inflight != nil {
		return c.inflight
	}
	f := &flight{done: make(chan struct{})}
	if c.closed || c.ctx.Err() != nil {
		f.err = ErrClosed
		close(f.done)
		return f
	}
	c.inflight = f
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		res, err := c.fetch()
		// Metrics before the install: while this is still the only
		// flight (a later one's gauge must not be overwritten by this
		// one's), and before readiness, which the install signals.
		if err == nil && !res.notModified {
			n := 0
			if res.snap != nil {
				n = res.snap.n
			} else if s := c.snap.Load(); s != nil {
				n = s.n
			}
			c.metrics.KeysLoaded(c.label, n)
		}
		if err == nil || c.ctx.Err() == nil {
			// A fetch cut short by Close is not the issuer's failure:
			// neither Status nor the metrics count it.
			c.metrics.Fetch(c.label, fetchResult(res, err))
		}
		c.mu.Lock()
		c.inflight = nil
		logIt := c.installLocked(res, err, f)
		c.mu.Unlock()
		logIt()
		if c.ctx.Err() != nil {
			c.closeIdle() // the connection this fetch returned to the pool
		}
		f.err = err
		close(f.done)
	}()
	return f
}

// rediscoverAfter is how many failed fetches in a row of a JWKS that
// answers, but not with keys, make the cache ask the metadata again.
const rediscoverAfter = 3

// fetched is what one fetch learned. fetch only reads the cache's state;
// install applies all of it at once, under the lock, so the order of the
// updates is written in one place.
type fetched struct {
	jwksURL      string    // the JWKS URL used, or found by discovery ("" if discovery failed)
	snap         *snapshot // the new key set; nil when the keys did not change
	sum          [sha256.Size]byte
	etag         string
	lastModified string
	next         time.Duration // when to refresh next, from the response's freshness
	notModified  bool
	unreachable  bool // the JWKS URL did not answer with a key set (not: answered garbage)
}

// fetch discovers the JWKS URL if needed, then fetches and parses the keys.
// It changes nothing: a failure leaves the cache as it was, and a success
// is installed by install.
func (c *Cache) fetch() (res fetched, err error) {
	c.mu.Lock()
	jwksURL, etag, lastModified, lastSum := c.jwksURL, c.etag, c.lastModified, c.lastBodyHash
	c.mu.Unlock()
	haveKeys := c.snap.Load() != nil
	if !haveKeys {
		etag, lastModified = "", "" // nothing to keep: ask for the whole set
	}
	if jwksURL == "" {
		u, err := c.discover(c.ctx)
		if err != nil {
			return res, err
		}
		jwksURL = u
		etag, lastModified = "", ""
	}
	res.jwksURL = jwksURL
	resp, err := c.get(c.ctx, jwksURL, acceptJWKS, etag, lastModified)
	if err != nil {
		res.unreachable = true
		return res, err
	}
	res.next = c.cfg.refreshInterval
	if d, ok := freshness(resp.header, c.clock.Now()); ok {
		res.next = min(max(d, c.cfg.minFreshness), c.cfg.maxFreshness)
	}
	if resp.notModified {
		res.notModified = true
		return res, nil
	}
	res.sum, res.etag, res.lastModified = sha256.Sum256(resp.body), resp.etag, resp.lastModified
	if res.sum == lastSum && haveKeys {
		return res, nil
	}
	s, skips, err := parseJWKS(resp.body)
	for i, sk := range skips {
		if i == maxSkipLogs {
			// A 1 MiB body of "{}" entries would otherwise log some
			// 350,000 lines a fetch, and an unknown kid can ask for one.
			c.log.Warn("jwks: skipping more keys", "count", len(skips)-i, "url", jwksURL)
			break
		}
		c.log.Warn("jwks: skipping key", "kid", sk.kid, "reason", sk.reason, "url", jwksURL)
	}
	if err != nil {
		return res, err
	}
	res.snap = s
	return res, nil
}

// maxSkipLogs is how many skipped keys a fetch logs one by one; the rest
// are counted in one line.
const maxSkipLogs = 10

// install applies the outcome of a fetch and updates Status. It returns
// what to log, to be called once c.mu is released.
func (c *Cache) installLocked(res fetched, err error, f *flight) (logIt func()) {
	if res.jwksURL != "" && c.jwksURL == "" {
		if res.jwksURL != c.status.JWKSURL {
			c.etag, c.lastModified = "", "" // validators of another URL
		}
		c.jwksURL, c.status.JWKSURL = res.jwksURL, res.jwksURL
	}
	switch {
	case err != nil:
		// The issuer may have moved its keys: ask its metadata again on the
		// next attempt when the JWKS URL did not answer, and after every
		// rediscoverAfter answers in a row that did not parse (a moved
		// set's old URL may answer 200 with a page, or an empty set).
		if c.issuerURL != nil && (res.unreachable || (c.status.ConsecutiveFailures+1)%rediscoverAfter == 0) {
			c.jwksURL = ""
		}
		if d := retryAfterOf(err); d > 0 && c.ctx.Err() == nil {
			c.holdUntil = c.clock.Now().Add(min(d, c.cfg.maxBackoff))
		}
	case res.notModified:
		c.nextRefresh = res.next
	default:
		if res.snap != nil {
			_ = c.storage.KeyReplaceAll(c.ctx, res.snap.jwks) // MemoryJWKSet never fails.
			res.snap.version = c.version.Add(1)
			c.snap.Store(res.snap)
			c.negative = nil // a kid missing before may be here now
		}
		c.lastBodyHash, c.etag, c.lastModified, c.nextRefresh = res.sum, res.etag, res.lastModified, res.next
	}
	if err == nil {
		c.holdUntil = time.Time{} // the issuer answers again
	}
	return c.recordLocked(err, f)
}

// fetchResult is the metrics label of a fetch's outcome.
func fetchResult(res fetched, err error) string {
	switch {
	case err != nil:
		return "error"
	case res.notModified:
		return "not_modified"
	}
	return "ok"
}

// recordLocked updates Status after f's fetch. It returns what to log, to
// be called once c.mu is released (a slow log handler must not stall
// lookups): each failure streak is logged once, at its start, and at its
// end. Each line says what the cache does next: a scheduled fetch's
// failure is logged by the loop, which knows when it retries; a fetch for
// an unknown kid is not retried, and its line says so.
func (c *Cache) recordLocked(err error, f *flight) (logIt func()) {
	now := c.clock.Now()
	logIt = func() {}
	if err == nil {
		if n, url := c.status.ConsecutiveFailures, c.status.JWKSURL; n > 0 {
			logIt = func() { c.log.Info("jwks: key refresh recovered", "url", url, "failures", n) }
		}
		c.status.ConsecutiveFailures = 0
		c.status.LastSuccess = now
		c.lastSuccess.Store(now.UnixNano())
		c.status.LastError = nil
		if s := c.snap.Load(); s != nil {
			c.status.Keys = s.n
		}
		select {
		case <-c.ready:
		default:
			close(c.ready)
		}
		return logIt
	}
	if c.ctx.Err() != nil {
		return logIt // closing: not a failure of the issuer
	}
	c.status.ConsecutiveFailures++
	c.status.LastError = err
	c.status.LastFailure = now
	if c.status.ConsecutiveFailures != 1 {
		return logIt
	}
	url, haveKeys := c.status.JWKSURL, c.snap.Load() != nil
	keep := "no keys yet"
	if haveKeys {
		keep = "keeping the last good keys"
	}
	if f.scheduled {
		maxBackoff := c.cfg.maxBackoff
		f.logFailure = func(retryIn time.Duration) {
			c.log.Error(fmt.Sprintf("jwks: key refresh failed; %s; retrying in %s, then with backoff up to %s", keep, retryIn.Round(time.Millisecond), maxBackoff),
				"issuer", c.issuer, "url", url, "error", err, "have_keys", haveKeys, "retry_in", retryIn.Round(time.Millisecond))
		}
		return logIt
	}
	// A Retry-After holds both the scheduled refresh and unknown kids.
	hold := c.holdUntil.Sub(now)
	scheduledIn := max(c.nextScheduled.Sub(now), hold, 0).Round(time.Second)
	cooldown, kidAfter := c.cfg.unknownKIDCooldown, c.cfg.unknownKIDCooldown
	if hold > kidAfter {
		kidAfter = hold.Round(time.Second)
	}
	return func() {
		c.log.Error(fmt.Sprintf("jwks: key refresh for an unknown kid failed; %s; no retry until the scheduled refresh in %s, or a request with an unknown kid after %s", keep, scheduledIn, kidAfter),
			"issuer", c.issuer, "url", url, "error", err, "have_keys", haveKeys, "scheduled_refresh_in", scheduledIn, "unknown_kid_cooldown", cooldown)
	}
}

// LookupKey returns the cached key for kid that verifies tokens signed with
// tokenAlg (the token's header "alg"), the "alg" its JWK names and the
// issuer it is bound to, its JWK's non-standard "issuer" member (Microsoft
// Entra ID's; "" for either when there is none), all from one key set. It
// never does I/O, and allocates nothing.
//
// A JWKS may publish one kid for keys of different types (RFC 7517 §4.5:
// an RSA and an EC key the issuer treats as alternatives); the cache keeps
// under a kid keys no two of which fit one algorithm (of different types
// and curves, or of one whose JWK algs differ: RS256 and PS256), a second
// that an algorithm could use as well as one kept being skipped as a
// duplicate, and LookupKey returns the one whose type, curve and size fit tokenAlg and
// whose JWK "alg", if any, is tokenAlg. ok reports whether kid is known:
// when it is but none of its keys fits, LookupKey returns the first one
// the JWKS listed, which the caller's check of the key against tokenAlg
// (the middleware's, Keyfunc's) refuses as a mismatch, as it would a
// kid's only key of another type.
func (c *Cache) LookupKey(kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	s := c.snap.Load()
	if s == nil {
		return nil, "", "", false
	}
	return s.lookup(kid, tokenAlg)
}

// find is the current snapshot's find; known and fits are false before the
// first key set.
func (c *Cache) find(kid, tokenAlg string) (k *key, known, fits bool) {
	if s := c.snap.Load(); s != nil {
		return s.find(kid, tokenAlg)
	}
	return nil, false, false
}

// LookupOrRefresh is LookupKey, except that a kid the cache does not know
// triggers one refresh of the key set and waits for it, so that a key the
// issuer has just rotated in verifies on the first request that uses it.
// Callers should call it only for tokens that passed every check that needs
// no key, so forged or foreign tokens cannot make the cache fetch.
//
// A kid the cache knows, but with no key that fits tokenAlg, is treated as
// an unknown kid (the issuer may have added a key of another type under
// it), under the same rules; when the refresh brings no such key either,
// the result is LookupKey's: the kid's first key, which does not fit.
//
// Refreshes caused this way are shared by all concurrent callers and happen
// at most once per unknown-kid cooldown, whichever kids and algorithms
// caused them; within the cooldown, or for a kid the issuer's last answer
// lacked (WithNegativeTTL), an unknown kid is reported missing at
// once. The wait is bounded by the unknown-kid wait and by ctx.
func (c *Cache) LookupOrRefresh(ctx context.Context, kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	k, known, fits := c.find(kid, tokenAlg)
	if fits || c.isNegative(negativeKey(kid, tokenAlg, known)) {
		return k.result(known)
	}
	wait := c.clock.NewTimer(c.cfg.unknownKIDWait)
	defer wait.Stop()
	// At most two rounds: a fetch already in flight may have started before
	// the issuer published this kid, so after joining one that did not have
	// it, start our own (cooldown permitting).
	for range 2 {
		c.mu.Lock()
		f, started := c.inflight, false
		if f == nil {
			now := c.clock.Now()
			// Within the cooldown, or while the issuer's Retry-After
			// holds fetches off, the kid is unknown without asking.
			if now.Before(c.holdUntil) || !c.lastKIDRefresh.IsZero() && now.Sub(c.lastKIDRefresh) < c.cfg.unknownKIDCooldown {
				c.mu.Unlock()
				return c.LookupKey(kid, tokenAlg)
			}
			c.lastKIDRefresh = now
			f, started = c.startFlightLocked(), true
			c.metrics.UnknownKIDRefresh(c.label)
		}
		c.mu.Unlock()

		select {
		case <-f.done:
		case <-wait.C():
			return c.LookupKey(kid, tokenAlg)
		case <-ctx.Done():
			return c.LookupKey(kid, tokenAlg)
		}
		if _, known, fits := c.find(kid, tokenAlg); fits || started {
			if !fits && f.err == nil {
				c.addNegative(negativeKey(kid, tokenAlg, known)) // the issuer answered, and has no such key
			}
			return c.LookupKey(kid, tokenAlg)
		}
	}
	return c.LookupKey(kid, tokenAlg)
}

// A negKey is what a refresh found missing: a kid the key set lacked
// (alg ""), or a kid it holds with no key for the token algorithm alg.
// Keyed by the algorithm too, so that one forged token naming a known kid
// with an algorithm none of its keys fit does not hide, for the negative
// TTL, a key of another type the issuer adds under that kid later.
type negKey struct{ kid, alg string }

// negativeKey is the negKey of a lookup of kid for tokenAlg that found no
// key: per algorithm only for a known kid, since a kid the key set lacks
// it lacks for every algorithm.
func negativeKey(kid, tokenAlg string, known bool) negKey {
	if !known {
		return negKey{kid: kid}
	}
	return negKey{kid, tokenAlg}
}

// isNegative reports whether a refresh within the negative TTL found k
// missing.
func (c *Cache) isNegative(k negKey) bool {
	if c.cfg.negativeTTL == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	until, ok := c.negative[k]
	return ok && c.clock.Now().Before(until)
}

func (c *Cache) addNegative(k negKey) {
	if c.cfg.negativeTTL == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.negative == nil || len(c.negative) >= maxNegative {
		// Start over rather than track ages: a full cache means a flood,
		// which the cooldown already contains.
		c.negative = make(map[negKey]time.Time)
	}
	c.negative[k] = c.clock.Now().Add(c.cfg.negativeTTL)
}

// Ready reports whether a key set has been fetched at least once (and, with
// WithMaxStaleness, recently enough). Until then a resource server should
// answer 503, not 401: the token may be fine.
//
// A Cache stopped by Close or by its context (Status().Stopped) stays
// ready: its keys are the issuer's latest it saw, and a server whose
// shutdown ends that context must not answer 503 to the requests it is
// still draining. WithMaxStaleness bounds a stopped Cache as it bounds an
// issuer that is down: it stops being ready once its last fetch is that
// old.
func (c *Cache) Ready() bool {
	if c.snap.Load() == nil {
		return false
	}
	if c.cfg.maxStaleness > 0 {
		return c.clock.Now().Sub(time.Unix(0, c.lastSuccess.Load())) <= c.cfg.maxStaleness
	}
	return true
}

// WaitReady blocks until the first key set arrives, ctx ends, or the Cache
// is closed. It is for start-up code that prefers to wait a little; the
// error then says why no keys came (for example ErrIssuerMismatch).
func (c *Cache) WaitReady(ctx context.Context) error {
	select {
	case <-c.ready:
		return nil
	case <-ctx.Done():
		return errors.Join(ErrNotReady, c.Status().LastError, ctx.Err())
	case <-c.ctx.Done():
		if c.Ready() {
			return nil
		}
		return errors.Join(ErrClosed, c.Status().LastError)
	}
}

// Status is a point-in-time report for health endpoints and debugging.
type Status struct {
	Ready               bool      // a key set has been fetched at least once
	Keys                int       // usable keys in the current set
	JWKSURL             string    // "" until discovery has found it
	LastSuccess         time.Time // zero until the first success
	LastFailure         time.Time // zero if no fetch has failed
	LastError           error     // error of the latest fetch; nil after a success
	ConsecutiveFailures int       // failed fetches since the last success
	// Stopped is why the background refresh ended, nil while it runs:
	// ErrClosed after Close, ErrStopped (joined with the context's cause)
	// when the context given to New ended first. Once it is set the keys
	// no longer change.
	Stopped error
}

// Status returns the cache's current state.
func (c *Cache) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Ready = c.Ready()
	return s
}

// KeysVersion returns a number that changes whenever the set of keys does
// (0 before the first). The middleware's verified-token cache holds a token
// only while its issuer's version is the one it verified against, so a key
// the issuer removed cannot keep a cached token alive; and it caches tokens
// only for key sets that have this method. A type that wraps a *Cache and
// is given to middleware.New must forward KeysVersion too, or every token
// of that issuer is verified in full.
func (c *Cache) KeysVersion() uint64 {
	if s := c.snap.Load(); s != nil {
		return s.version
	}
	return 0
}

// Storage returns the keys the cache holds as jwkset storage, for code built
// on github.com/MicahParks/jwkset (to serve them again, say); it holds
// exactly the keys the cache kept, in the order the JWKS listed them (a kid
// may name two or more, of different types, of which jwkset's KeyRead
// returns the first), and
// is replaced in place after each successful refresh. Treat it as
// read-only: a key written to it is never used by the cache, and is gone
// after the next refresh.
//
// It is not a verifier: jwkset's JWK has no place for the issuer a key is
// bound to (Entra ID's "issuer" member), so a key served again from it,
// or a keyfunc.New over it, verifies tokens of any issuer, and keyfunc
// tries every key for a token without kid. To verify with golang-jwt, use
// Keyfunc, which applies this package's rules.
func (c *Cache) Storage() jwkset.Storage {
	return c.storage
}
