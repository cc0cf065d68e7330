package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
)

// TestRun plays the walk-through and checks each step's outcome, in order.
func TestRun(t *testing.T) {
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	// The walk-through waits for two tokens to expire: a lifetime of two
	// seconds keeps every step and shortens the wait by two. (Whole
	// seconds: exp and expires_in are, and a token of 1.5 s would be
	// slept past by its expires_in, 1, and not by its exp.)
	rep, err := Run(ctx, &out, 2*time.Second)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("walk-through took %v, promised under 20 s", d)
	}
	type step struct {
		to, method, path string
		status           int
		challenge        string
	}
	// The refusals come from the library's one table (internal/guardtest),
	// on the walk-through's API.
	on := func(r guardtest.Response) string { return guardtest.OnResource(r, audience).Challenges[0] }
	want := []step{
		{"authorization server", "POST", "/token", 200, ""},                          // 1. tokens issued
		{"API", "GET", "/api/me", 200, ""},                                           // 2. verified locally
		{"API", "GET", "/api/me", 401, on(guardtest.Invalid(guardtest.DescExpired))}, // 3. expired hint
		{"authorization server", "POST", "/token", 200, ""},                          //    refresh
		{"API", "GET", "/api/me", 200, ""},                                           //    retry
		{"API", "POST", "/api/notes", 403, on(guardtest.Forbidden("notes:write"))},   // 4. scope
		{"authorization server", "POST", "/token", 200, ""},                          // 5. token from the new key
		{"API", "GET", "/api/me", 200, ""},                                           //    verified after rotation
		{"API", "POST", "/api/transfers", 401, on(guardtest.StepUp(guardtest.DescLevel, `acr_values="urn:example:acr:mfa"`, `max_age="300"`))}, // 6. step-up
		{"API", "POST", "/api/transfers", 201, ""},                                                     //    after a multi-factor login
		{"authorization server", "POST", "/token", 200, ""},                                            // 7. a DPoP-bound token
		{"API", "GET", "/api/me", 200, ""},                                                             //    with a proof
		{"API", "GET", "/api/me", 401, on(guardtest.Invalid(guardtest.DescBound))},                     // a stolen copy
		{"API", "GET", "/api/me", 401, on(guardtest.OnDPoP(guardtest.Invalid(guardtest.DescExpired)))}, // expired hint, on DPoP
		{"authorization server", "POST", "/token", 200, ""},                                            //    refresh with a proof
		{"API", "GET", "/api/me", 200, ""},                                                             //    retry, bound to the same key
	}
	if len(rep.Exchanges) != len(want) {
		t.Fatalf("%d exchanges, want %d:\n%s", len(rep.Exchanges), len(want), out.String())
	}
	for i, w := range want {
		g := rep.Exchanges[i]
		if g.To != w.to || g.Method != w.method || g.Path != w.path || g.Status != w.status || g.Challenge != w.challenge {
			t.Errorf("exchange %d: got %+v, want %+v", i+1, g, w)
		}
	}
	if rep.Refreshes != 1 {
		t.Errorf("client refreshed %d times, want 1", rep.Refreshes)
	}
	if rep.RotatedKID == "" || rep.RotatedKID == rep.FirstKID {
		t.Errorf("kids: first %q, rotated %q", rep.FirstKID, rep.RotatedKID)
	}
	if rep.StepUp == nil || len(rep.StepUp.ACRValues) != 1 || rep.StepUp.ACRValues[0] != "urn:example:acr:mfa" || rep.StepUp.MaxAge != 300*time.Second {
		t.Errorf("step-up request %+v", rep.StepUp)
	}
	if rep.DPoPTokenType != "DPoP" || rep.StolenStatus != 401 || rep.DPoPRefreshes != 1 {
		t.Errorf("DPoP: token type %q, a stolen copy got %d, %d refreshes; want DPoP, 401, 1", rep.DPoPTokenType, rep.StolenStatus, rep.DPoPRefreshes)
	}
	// 8. One fetch at start-up, one for the rotated kid; eleven requests.
	if rep.JWKSFetches != 2 || rep.APIRequests != 11 {
		t.Errorf("JWKS fetches %d, API requests %d; want 2 and 11", rep.JWKSFetches, rep.APIRequests)
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if !strings.Contains(line, ":") {
			t.Errorf("line is not 'who → whom: what': %q", line)
		}
	}
	if !strings.Contains(out.String(), "counts: the API verified 11 requests locally and fetched the issuer's keys 2 times") {
		t.Errorf("counts line missing:\n%s", out.String())
	}
}
