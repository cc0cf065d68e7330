package middleware

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The resolver's remembered answers stay within their bounds however many
// issuers it is asked about, and a refusal is remembered for its TTL only.
func TestResolverHoldsBoundedAnswers(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	asked := 0
	rc := &resolverConfig{
		allow: func(_ context.Context, iss string) (bool, error) { asked++; return false, nil },
		keys:  func(string) (KeySet, error) { t.Fatal("keys made for a refused issuer"); return nil, nil },
		shape: issuerConfig{kind: resolvedIssuer, keys: placeholderKeys{}},
	}
	rv, err := newResolver(rc, ResolverLimits{Answers: 100, TTL: time.Minute, PerSecond: 1e9}, clock)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if _, rsn := rv.resolve(context.Background(), fmt.Sprintf("https://t%d.example", i)); rsn != rIssuer {
			t.Fatalf("issuer %d: reason %d, want rIssuer", i, rsn)
		}
	}
	if yes, no := rv.held(); yes != 0 || no != 100 {
		t.Fatalf("held %d key sets and %d refusals, want 0 and 100", yes, no)
	}
	// The last one is remembered: asking again costs no call...
	asked = 0
	rv.resolve(context.Background(), "https://t4999.example")
	if asked != 0 {
		t.Fatalf("a remembered refusal asked the resolver %d times", asked)
	}
	// ...until its TTL has passed.
	now = now.Add(time.Minute)
	rv.resolve(context.Background(), "https://t4999.example")
	if asked != 1 {
		t.Fatalf("after the TTL: asked %d times, want 1", asked)
	}
}
