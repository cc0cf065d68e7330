package otelguard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/jwtguard/jwtguard/adapters/otelguard"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

const aud = "https://api.example.com"

// setup is a Recorder on an SDK MeterProvider with a ManualReader, a fake
// issuer, a real key cache over it and a Guard, both reporting to the
// Recorder.
type setup struct {
	reader *sdkmetric.ManualReader
	rec    *otelguard.Recorder
	iss    *jwkstest.Issuer
	guard  *middleware.Guard
}

func newSetup(t *testing.T, opts ...jwks.Option) *setup {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	rec, err := otelguard.New(otelguard.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	keys := iss.NewCache(append([]jwks.Option{jwks.WithMetrics(rec)}, opts...)...)
	g, err := middleware.New(keys, iss.URL(), []string{aud}, middleware.WithMetrics(rec))
	if err != nil {
		t.Fatal(err)
	}
	return &setup{reader: reader, rec: rec, iss: iss, guard: g}
}

// call sends one request with tok (none for "") through h.
func call(h http.Handler, tok string) int {
	req := httptest.NewRequest("GET", "/", nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code
}

func (s *setup) handler() http.Handler {
	return s.guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
}

// collect returns the Recorder's metrics, the reader's only scope.
func (s *setup) collect(t *testing.T) metricdata.ScopeMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 {
		t.Fatalf("%d scopes, want 1: %+v", len(rm.ScopeMetrics), rm.ScopeMetrics)
	}
	return rm.ScopeMetrics[0]
}

func attrs(kvs ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kvs...) }

func counter(name, unit, desc string, points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: name, Unit: unit, Description: desc, Data: metricdata.Sum[int64]{
		DataPoints: points, Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
	}}
}

func point(v int64, kvs ...attribute.KeyValue) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{Attributes: attrs(kvs...), Value: v}
}

// The instruments' names, units and descriptions, as documented.
func fetches(points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return counter("jwtguard.jwks.fetches", "{fetch}", "JWKS fetches by result: ok, not_modified or error.", points...)
}

func keysGauge(points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return metricdata.Metrics{Name: "jwtguard.jwks.keys", Unit: "{key}",
		Description: "Usable keys in the set after the last successful fetch.",
		Data:        metricdata.Gauge[int64]{DataPoints: points}}
}

func unknownKID(points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return counter("jwtguard.jwks.unknown_kid_refreshes", "{refresh}", "Refreshes triggered by a token with an unknown kid.", points...)
}

func verifications(points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return counter("jwtguard.verifications", "{request}", "Requests checked by the middleware, by issuer and outcome: ok or the refusal reason.", points...)
}

func cacheLookups(points ...metricdata.DataPoint[int64]) metricdata.Metrics {
	return counter("jwtguard.token_cache.lookups", "{lookup}", "Lookups in the verified-token cache, by result: hit or miss.", points...)
}

var (
	issuer  = otelguard.IssuerKey.String
	outcome = otelguard.OutcomeKey.String
	result  = otelguard.ResultKey.String
)

func TestCountsFromARealCacheAndGuard(t *testing.T) {
	s := newSetup(t)
	h := s.handler()
	good := s.iss.Mint()
	expired := s.iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	unknown := s.iss.Mint(jwkstest.WithKID("nope"))
	for _, c := range []struct {
		tok    string
		status int
	}{{good, 200}, {good, 200}, {expired, 401}, {unknown, 401}, {"", 401}} {
		if got := call(h, c.tok); got != c.status {
			t.Fatalf("status %d, want %d", got, c.status)
		}
	}

	u := s.iss.URL()
	got := s.collect(t)
	if got.Scope.Name != otelguard.ScopeName {
		t.Errorf("scope %q, want %q", got.Scope.Name, otelguard.ScopeName)
	}
	want := metricdata.ScopeMetrics{Scope: got.Scope, Metrics: []metricdata.Metrics{
		fetches(point(2, issuer(u), result("ok"))), // the first, and the unknown kid's
		keysGauge(point(1, issuer(u))),
		unknownKID(point(1, issuer(u))),
		verifications(
			point(2, issuer(u), outcome("ok")),
			point(1, issuer(u), outcome("expired")),
			point(1, issuer(u), outcome("unknown_key")),
			point(1, issuer(""), outcome("no_token")),
		),
		cacheLookups(point(1, result("hit")), point(3, result("miss"))),
	}}
	metricdatatest.AssertEqual(t, want, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestFetchErrorsAndKeyGauge(t *testing.T) {
	const cooldown = 10 * time.Millisecond
	s := newSetup(t, jwks.WithUnknownKIDCooldown(cooldown))
	h := s.handler()
	u := s.iss.URL()

	// The issuer is down when a token names a kid the cache lacks: the
	// refresh it triggers fails, the old keys stay (and so does the gauge).
	// (Down, not 503: a 503's Retry-After would hold the next refresh.)
	s.iss.SetFault(jwkstest.FaultDown)
	if got := call(h, s.iss.Mint(jwkstest.WithKID("rotated-in"))); got != 401 {
		t.Fatalf("unknown kid with the issuer down: status %d, want 401", got)
	}
	got := s.collect(t)
	want := metricdata.ScopeMetrics{Scope: got.Scope, Metrics: []metricdata.Metrics{
		fetches(point(1, issuer(u), result("ok")), point(1, issuer(u), result("error"))),
		keysGauge(point(1, issuer(u))),
		unknownKID(point(1, issuer(u))),
		verifications(point(1, issuer(u), outcome("unknown_key"))),
		cacheLookups(point(1, result("miss"))),
	}}
	metricdatatest.AssertEqual(t, want, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())

	// Back up, with a second key: a token signed with it refreshes the
	// set, and the gauge follows.
	s.iss.SetFault(jwkstest.FaultNone)
	s.iss.Rotate("RS256")
	time.Sleep(2 * cooldown)
	if got := call(h, s.iss.Mint()); got != 200 {
		t.Fatalf("token of the rotated-in key: status %d, want 200", got)
	}
	got = s.collect(t)
	want.Metrics = []metricdata.Metrics{
		fetches(point(2, issuer(u), result("ok")), point(1, issuer(u), result("error"))),
		keysGauge(point(2, issuer(u))),
		unknownKID(point(2, issuer(u))),
		verifications(point(1, issuer(u), outcome("unknown_key")), point(1, issuer(u), outcome("ok"))),
		cacheLookups(point(2, result("miss"))),
	}
	metricdatatest.AssertEqual(t, want, got, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
}

func TestNewWithoutAProvider(t *testing.T) {
	if _, err := otelguard.New(otelguard.WithMeterProvider(nil)); err == nil {
		t.Fatal("New with a nil MeterProvider did not fail")
	}
	// A nil Option is an error too, not a nil-pointer panic inside New.
	mp := sdkmetric.NewMeterProvider()
	if _, err := otelguard.New(otelguard.WithMeterProvider(mp), nil); err == nil || err.Error() != "otelguard: nil Option" {
		t.Errorf("New with a nil Option: %v", err)
	}
	// The global provider (a no-op here) is the default: every method is
	// safe to call on it.
	r, err := otelguard.New()
	if err != nil {
		t.Fatal(err)
	}
	r.Fetch("i", "ok")
	r.KeysLoaded("i", 1)
	r.UnknownKIDRefresh("i")
	r.Outcome("i", "ok")
	r.OutcomeContext(context.Background(), "i", "expired")
	r.TokenCache(true)
}

// Past the attribute sets it keeps for reuse (a resolver accepting tenant
// after tenant), every outcome is still counted.
func TestManyIssuersAllCounted(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(100_000))
	r, err := otelguard.New(otelguard.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		r.Outcome(fmt.Sprintf("https://tenant-%d.example.com", i), "ok")
		r.Outcome(fmt.Sprintf("https://tenant-%d.example.com", i), "ok")
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	pts := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints
	if len(pts) != n {
		t.Fatalf("%d series, want %d", len(pts), n)
	}
	for _, p := range pts {
		if p.Value != 2 {
			t.Fatalf("%v counted %d, want 2", p.Attributes.ToSlice(), p.Value)
		}
	}
}
