// Package promguard exports jwtguard's key-cache and verification counts as
// Prometheus metrics. It is its own Go module, so users who do not want
// Prometheus never download client_golang.
//
//	m := promguard.New()
//	prometheus.MustRegister(m)
//	keys, _ := jwks.New(ctx, issuer, jwks.WithMetrics(m))
//	g, _ := middleware.New(keys, issuer, audiences, middleware.WithMetrics(m))
//
// Metrics (namespace "jwtguard"):
//
//	jwtguard_jwks_fetches_total{issuer, result="ok|not_modified|error"}
//	jwtguard_jwks_keys{issuer}              usable keys after the last successful fetch
//	jwtguard_jwks_unknown_kid_refreshes_total{issuer}
//	jwtguard_verifications_total{issuer, outcome="ok|expired|signature|insufficient_scope|…"}
//	jwtguard_token_cache_hits_total, jwtguard_token_cache_misses_total
//
// The issuer label is the configured issuer (a template, for
// middleware.WithIssuerTemplate; the JWKS URL for a cache made by
// jwks.NewFromJWKSURL), or empty for a refusal before any issuer was
// named. With middleware.WithIssuerResolver it takes a value for every
// issuer the resolver ever accepted in the process's life (series are never
// deleted), not only those it holds now.
package promguard

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/middleware"
)

// Collector implements jwks.Metrics, middleware.Metrics and
// prometheus.Collector. Register it once, and pass it to both packages.
type Collector struct {
	fetches     *prometheus.CounterVec
	keys        *prometheus.GaugeVec
	unknownKID  *prometheus.CounterVec
	outcomes    *prometheus.CounterVec
	cacheHits   prometheus.Counter
	cacheMisses prometheus.Counter
}

var (
	_ jwks.Metrics         = (*Collector)(nil)
	_ middleware.Metrics   = (*Collector)(nil)
	_ prometheus.Collector = (*Collector)(nil)
)

// New returns a Collector with every metric at zero.
func New() *Collector {
	return &Collector{
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jwtguard", Subsystem: "jwks", Name: "fetches_total",
			Help: "JWKS fetches by result: ok, not_modified or error.",
		}, []string{"issuer", "result"}),
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "jwtguard", Subsystem: "jwks", Name: "keys",
			Help: "Usable keys in the set after the last successful fetch.",
		}, []string{"issuer"}),
		unknownKID: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jwtguard", Subsystem: "jwks", Name: "unknown_kid_refreshes_total",
			Help: "Refreshes triggered by a token with an unknown kid.",
		}, []string{"issuer"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jwtguard", Name: "verifications_total",
			Help: "Requests checked by the middleware, by issuer and outcome: ok or the refusal reason.",
		}, []string{"issuer", "outcome"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "jwtguard", Subsystem: "token_cache", Name: "hits_total",
			Help: "Requests answered from the verified-token cache.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "jwtguard", Subsystem: "token_cache", Name: "misses_total",
			Help: "Cacheable requests whose token had to be verified.",
		}),
	}
}

// Fetch implements jwks.Metrics.
func (c *Collector) Fetch(issuer, result string) { c.fetches.WithLabelValues(issuer, result).Inc() }

// KeysLoaded implements jwks.Metrics.
func (c *Collector) KeysLoaded(issuer string, n int) { c.keys.WithLabelValues(issuer).Set(float64(n)) }

// UnknownKIDRefresh implements jwks.Metrics.
func (c *Collector) UnknownKIDRefresh(issuer string) { c.unknownKID.WithLabelValues(issuer).Inc() }

// Outcome implements middleware.Metrics.
func (c *Collector) Outcome(issuer, reason string) {
	c.outcomes.WithLabelValues(issuer, reason).Inc()
}

// TokenCache implements middleware.Metrics.
func (c *Collector) TokenCache(hit bool) {
	if hit {
		c.cacheHits.Inc()
	} else {
		c.cacheMisses.Inc()
	}
}

// metrics lists the Collector's own collectors, in the order Describe and
// Collect go through them: one list, so that a metric added to the
// Collector is both described and collected.
func (c *Collector) metrics() []prometheus.Collector {
	return []prometheus.Collector{c.fetches, c.keys, c.unknownKID, c.outcomes, c.cacheHits, c.cacheMisses}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.metrics() {
		m.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.metrics() {
		m.Collect(ch)
	}
}
