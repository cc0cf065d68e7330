// Package otelguard exports jwtguard's key-cache and verification counts as
// OpenTelemetry metrics, and marks each verification on the request's
// span. It is its own Go module, so users who do not want OpenTelemetry
// never download it.
//
//	m, err := otelguard.New(otelguard.WithMeterProvider(mp))
//	keys, _ := jwks.New(ctx, issuer, jwks.WithMetrics(m))
//	g, _ := middleware.New(keys, issuer, audiences, middleware.WithMetrics(m))
//
// Instruments (meter ScopeName), with their attributes:
//
//	jwtguard.jwks.fetches                counter {fetch}         jwtguard.issuer, jwtguard.result="ok|not_modified|error"
//	jwtguard.jwks.keys                   gauge   {key}           jwtguard.issuer: usable keys after the last successful fetch
//	jwtguard.jwks.unknown_kid_refreshes  counter {refresh}       jwtguard.issuer
//	jwtguard.verifications               counter {request}       jwtguard.issuer, jwtguard.outcome="ok|expired|signature|insufficient_scope|…"
//	jwtguard.token_cache.lookups         counter {lookup}        jwtguard.result="hit|miss"
//
// They are the metrics of adapters/promguard, in OpenTelemetry's style:
// dotted names, no _total (a Prometheus exporter adds it), units, and the
// token cache's hits and misses as one counter with a result.
//
// Spans: for each checked request, a Guard given the Recorder adds the
// event "jwtguard.verification", with jwtguard.issuer and
// jwtguard.outcome, to the span in the request's context (the one an HTTP
// server instrumentation such as otelhttp started), when that span is
// recording. Nothing else about the request goes on the span: never the
// token, nor any claim but the issuer. The Recorder starts no spans of
// its own. The verifications counter is recorded with the same context,
// so an SDK that keeps exemplars links them to the trace.
//
// The issuer attribute is the configured issuer (a template, for
// middleware.WithIssuerTemplate; the JWKS URL for a cache made by
// jwks.NewFromJWKSURL), or empty for a refusal before any issuer was
// named. With middleware.WithIssuerResolver it takes a value for every
// issuer the resolver ever accepted in the process's life, not only those
// it holds now (the SDK's cardinality limit bounds the series).
package otelguard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/middleware"
)

// ScopeName is the name of the Meter the Recorder's instruments belong to,
// its instrumentation scope: the package's import path.
const ScopeName = "github.com/jwtguard/jwtguard/adapters/otelguard"

// The attribute keys.
const (
	// IssuerKey names the issuer: the configured one, or "" for a refusal
	// before any issuer was named.
	IssuerKey = attribute.Key("jwtguard.issuer")
	// OutcomeKey is a verification's outcome: "ok" or the refusal's
	// middleware.Error.Reason.
	OutcomeKey = attribute.Key("jwtguard.outcome")
	// ResultKey is a JWKS fetch's result ("ok", "not_modified", "error")
	// or a token-cache lookup's ("hit", "miss").
	ResultKey = attribute.Key("jwtguard.result")
)

// EventName is the name of the span event added for each verification.
const EventName = "jwtguard.verification"

// maxCachedOutcomes bounds the attribute sets kept for reuse, one per
// issuer and outcome seen; past it (a resolver accepting tenant after
// tenant), outcomes are recorded with a set made for the call.
const maxCachedOutcomes = 4096

// Recorder implements jwks.Metrics and middleware.ContextMetrics with
// OpenTelemetry instruments. Make it once, with New, and pass it to both
// packages. It is safe for concurrent use.
type Recorder struct {
	fetches    metric.Int64Counter
	keys       metric.Int64Gauge
	unknownKID metric.Int64Counter
	outcomes   metric.Int64Counter
	cache      metric.Int64Counter
	cacheHit   metric.AddOption
	cacheMiss  metric.AddOption

	sets  sync.Map // outcomeKey → *outcomeAttrs
	nsets atomic.Int64
}

var (
	_ jwks.Metrics              = (*Recorder)(nil)
	_ middleware.ContextMetrics = (*Recorder)(nil)
)

// An Option configures New.
type Option func(*config)

type config struct {
	provider metric.MeterProvider
}

// WithMeterProvider sets the MeterProvider the instruments are made with.
// Default: the global one, otel.GetMeterProvider() (a no-op until
// otel.SetMeterProvider is called, after which it delegates to that one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.provider = mp }
}

// New returns a Recorder whose instruments belong to the Meter ScopeName
// of the MeterProvider (see WithMeterProvider). It fails only if an
// Option is nil, or if the provider refuses an instrument, or is nil.
func New(opts ...Option) (*Recorder, error) {
	cfg := config{provider: otel.GetMeterProvider()}
	for _, o := range opts {
		if o == nil { // an error here, not a nil-pointer panic inside New
			return nil, errors.New("otelguard: nil Option")
		}
		o(&cfg)
	}
	if cfg.provider == nil {
		return nil, errors.New("otelguard: nil MeterProvider")
	}
	m := cfg.provider.Meter(ScopeName)
	r := &Recorder{
		cacheHit:  metric.WithAttributeSet(attribute.NewSet(ResultKey.String("hit"))),
		cacheMiss: metric.WithAttributeSet(attribute.NewSet(ResultKey.String("miss"))),
	}
	// Each instrument is made even when one before it failed, so that the
	// error names every instrument the provider refused.
	var err error
	counter := func(name, unit, description string) metric.Int64Counter {
		c, e := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(description))
		err = errors.Join(err, e)
		return c
	}
	r.fetches = counter("jwtguard.jwks.fetches", "{fetch}",
		"JWKS fetches by result: ok, not_modified or error.")
	var e error
	r.keys, e = m.Int64Gauge("jwtguard.jwks.keys",
		metric.WithUnit("{key}"),
		metric.WithDescription("Usable keys in the set after the last successful fetch."))
	err = errors.Join(err, e)
	r.unknownKID = counter("jwtguard.jwks.unknown_kid_refreshes", "{refresh}",
		"Refreshes triggered by a token with an unknown kid.")
	r.outcomes = counter("jwtguard.verifications", "{request}",
		"Requests checked by the middleware, by issuer and outcome: ok or the refusal reason.")
	r.cache = counter("jwtguard.token_cache.lookups", "{lookup}",
		"Lookups in the verified-token cache, by result: hit or miss.")
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Fetch implements jwks.Metrics.
func (r *Recorder) Fetch(issuer, result string) {
	r.fetches.Add(context.Background(), 1, metric.WithAttributes(IssuerKey.String(issuer), ResultKey.String(result)))
}

// KeysLoaded implements jwks.Metrics.
func (r *Recorder) KeysLoaded(issuer string, n int) {
	r.keys.Record(context.Background(), int64(n), metric.WithAttributes(IssuerKey.String(issuer)))
}

// UnknownKIDRefresh implements jwks.Metrics.
func (r *Recorder) UnknownKIDRefresh(issuer string) {
	r.unknownKID.Add(context.Background(), 1, metric.WithAttributes(IssuerKey.String(issuer)))
}

// Outcome implements middleware.Metrics: it counts the verification, with
// no span to mark. A Guard calls OutcomeContext instead.
func (r *Recorder) Outcome(issuer, reason string) {
	r.OutcomeContext(context.Background(), issuer, reason)
}

// OutcomeContext implements middleware.ContextMetrics: it counts the
// verification and, when the span in ctx is recording, adds the event
// EventName to it with the issuer and the outcome, and nothing else.
func (r *Recorder) OutcomeContext(ctx context.Context, issuer, reason string) {
	a := r.attrs(issuer, reason)
	r.outcomes.Add(ctx, 1, a.metric)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(EventName, a.event)
	}
}

// TokenCache implements middleware.Metrics.
func (r *Recorder) TokenCache(hit bool) {
	if hit {
		r.cache.Add(context.Background(), 1, r.cacheHit)
	} else {
		r.cache.Add(context.Background(), 1, r.cacheMiss)
	}
}

type outcomeKey struct{ issuer, reason string }

// outcomeAttrs are one issuer and outcome's attributes, made once: the
// options are only read, so concurrent calls share them.
type outcomeAttrs struct {
	metric metric.AddOption
	event  trace.EventOption
}

func newOutcomeAttrs(issuer, reason string) *outcomeAttrs {
	return &outcomeAttrs{
		metric: metric.WithAttributeSet(attribute.NewSet(IssuerKey.String(issuer), OutcomeKey.String(reason))),
		event:  trace.WithAttributes(IssuerKey.String(issuer), OutcomeKey.String(reason)),
	}
}

// attrs returns the attributes for issuer and reason, from the ones kept
// for reuse while there is room.
func (r *Recorder) attrs(issuer, reason string) *outcomeAttrs {
	k := outcomeKey{issuer, reason}
	if a, ok := r.sets.Load(k); ok {
		return a.(*outcomeAttrs)
	}
	a := newOutcomeAttrs(issuer, reason)
	if r.nsets.Load() >= maxCachedOutcomes {
		return a
	}
	if got, loaded := r.sets.LoadOrStore(k, a); loaded {
		return got.(*outcomeAttrs)
	}
	r.nsets.Add(1)
	return a
}
