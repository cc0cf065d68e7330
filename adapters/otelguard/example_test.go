package otelguard_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/jwtguard/jwtguard/adapters/otelguard"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func Example() {
	ctx := context.Background()
	iss := jwkstest.NewIssuer() // stands in for your authorization server
	defer iss.Close()
	reader := sdkmetric.NewManualReader() // yours: a PeriodicReader with an OTLP exporter, say
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	m, err := otelguard.New(otelguard.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jwks.New(ctx, iss.URL(), jwks.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithMetrics(m))
	if err != nil {
		log.Fatal(err)
	}
	// Served inside otelhttp.NewHandler, each request's span also gets a
	// "jwtguard.verification" event: its issuer and outcome, never the token.
	api := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))

	if err := keys.WaitReady(ctx); err != nil {
		log.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/notes", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Mint())
	api.ServeHTTP(httptest.NewRecorder(), req)
	printMetrics(reader)
	// Output:
	// jwtguard.jwks.fetches {jwtguard.issuer=ISSUER,jwtguard.result=ok} 1
	// jwtguard.jwks.keys {jwtguard.issuer=ISSUER} 1
	// jwtguard.verifications {jwtguard.issuer=ISSUER,jwtguard.outcome=ok} 1
	// jwtguard.token_cache.lookups {jwtguard.result=miss} 1
}

// printMetrics prints each data point the reader collects, with the
// issuer's URL (a new port each run) written ISSUER.
func printMetrics(reader *sdkmetric.ManualReader) {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		log.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				var attrs []string
				for _, kv := range p.Attributes.ToSlice() {
					v := kv.Value.String()
					if kv.Key == otelguard.IssuerKey {
						v = "ISSUER"
					}
					attrs = append(attrs, string(kv.Key)+"="+v)
				}
				fmt.Printf("%s {%s} %d\n", m.Name, strings.Join(attrs, ","), p.Value)
			}
		}
	}
}
