package otelguard_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtguard/jwtguard/adapters/otelguard"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// traced starts a server span around next, as an HTTP server
// instrumentation (otelhttp) would.
func traced(tp trace.TracerProvider, next http.Handler) http.Handler {
	tr := tp.Tracer("test")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, span := tr.Start(r.Context(), "GET /notes", trace.WithSpanKind(trace.SpanKindServer))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func TestSpanEventPerVerificationWithoutTheToken(t *testing.T) {
	s := newSetup(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	api := s.guard.Require(middleware.Scopes("notes:read"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv := httptest.NewServer(traced(tp, s.guard.Handler(api)))
	t.Cleanup(srv.Close)

	const secret = "s3cr3t-claim-value"
	good := s.iss.Mint(jwkstest.WithScopes("notes:read"), jwkstest.WithClaim("secret", secret))
	noScope := s.iss.Mint(jwkstest.WithClaim("secret", secret))
	expired := s.iss.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithClaim("secret", secret))
	forged := good[:strings.LastIndexByte(good, '.')+1] + "AAAA" + good[strings.LastIndexByte(good, '.')+5:]
	u := s.iss.URL()
	cases := []struct {
		tok    string
		status int
		events [][2]string // issuer, outcome
	}{
		{good, 200, [][2]string{{u, "ok"}}},
		// The route's rule, which Handler sees, refuses it: one event,
		// as the metrics count it.
		{noScope, 403, [][2]string{{u, "insufficient_scope"}}},
		{expired, 401, [][2]string{{u, "expired"}}},
		{forged, 401, [][2]string{{u, "signature"}}},
		{"", 401, [][2]string{{"", "no_token"}}},
	}
	for _, c := range cases {
		req, _ := http.NewRequest("GET", srv.URL+"/notes", nil)
		if c.tok != "" {
			req.Header.Set("Authorization", "Bearer "+c.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
		}
	}

	ended := spans.Ended()
	if len(ended) != len(cases) {
		t.Fatalf("%d spans, want %d", len(ended), len(cases))
	}
	// What must never reach a span: the token, each of its parts, and
	// every claim but the issuer.
	var secrets []string
	for _, tok := range []string{good, noScope, expired, forged} {
		secrets = append(secrets, tok)
		secrets = append(secrets, strings.Split(tok, ".")...)
	}
	secrets = append(secrets, secret, "user-123", "test-client", "notes:read", aud)
	for i, sp := range ended {
		c := cases[i]
		var got [][2]string
		all := slices.Clone(sp.Attributes())
		for _, ev := range sp.Events() {
			if ev.Name != otelguard.EventName {
				t.Errorf("span %d: event %q", i, ev.Name)
				continue
			}
			set := attribute.NewSet(ev.Attributes...)
			if set.Len() != 2 || len(ev.Attributes) != 2 {
				t.Errorf("span %d: event attributes %v, want the issuer and the outcome only", i, ev.Attributes)
			}
			iss, _ := set.Value(otelguard.IssuerKey)
			out, _ := set.Value(otelguard.OutcomeKey)
			got = append(got, [2]string{iss.AsString(), out.AsString()})
			all = append(all, ev.Attributes...)
		}
		if !slices.Equal(got, c.events) {
			t.Errorf("span %d: events %q, want %q", i, got, c.events)
		}
		for _, kv := range all {
			v := kv.Value.String()
			for _, sec := range secrets {
				if sec != "" && strings.Contains(v, sec) {
					t.Errorf("span %d: attribute %s = %q holds %q, from the token", i, kv.Key, v, sec)
				}
			}
		}
	}

	// The verification was counted with the request's context: the SDK
	// links the count to the trace with an exemplar.
	traceIDs := map[[16]byte]bool{}
	for _, sp := range ended {
		traceIDs[sp.SpanContext().TraceID()] = true
	}
	for _, m := range s.collect(t).Metrics {
		if m.Name != "jwtguard.verifications" {
			continue
		}
		for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
			if len(p.Exemplars) == 0 {
				t.Errorf("%v: no exemplar", p.Attributes.ToSlice())
			}
			for _, ex := range p.Exemplars {
				if !traceIDs[[16]byte(ex.TraceID)] {
					t.Errorf("%v: exemplar of trace %x, not one of the requests'", p.Attributes.ToSlice(), ex.TraceID)
				}
			}
		}
	}
}

// A span that is not recording gets nothing, and the count is still made.
func TestNoEventOnANonRecordingSpan(t *testing.T) {
	s := newSetup(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans), sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	if got := call(traced(tp, s.handler()), s.iss.Mint()); got != 200 {
		t.Fatalf("status %d", got)
	}
	if n := len(spans.Ended()); n != 0 {
		t.Fatalf("%d spans recorded with NeverSample", n)
	}
	for _, m := range s.collect(t).Metrics {
		if m.Name == "jwtguard.verifications" {
			pts := m.Data.(metricdata.Sum[int64]).DataPoints
			if len(pts) != 1 || pts[0].Value != 1 {
				t.Fatalf("verifications %+v, want one ok", pts)
			}
			return
		}
	}
	t.Fatal("no verifications counted")
}
