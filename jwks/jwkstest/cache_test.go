package jwkstest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
)

func TestNewCacheIsReadyAndClosesWithTheIssuer(t *testing.T) {
	t.Parallel()
	iss := NewIssuer(WithDefaultAlgorithm("ES256"))
	c := iss.NewCache(jwks.WithRefreshInterval(time.Hour))
	if !c.Ready() {
		t.Fatal("NewCache returned a cache without keys")
	}
	if _, alg, _, ok := c.LookupKey(iss.SigningKID("ES256"), "ES256"); !ok || alg != "ES256" {
		t.Fatalf("signing key: alg %q, found %v", alg, ok)
	}
	iss.Close()
	// A closed cache reports ErrClosed once its context is done; an open
	// one would block on WaitReady's context instead.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady after Close = %v, want nil (it had keys)", err)
	}
	if c.LookupOrRefresh(ctx, "unknown", "RS256"); ctx.Err() != nil {
		t.Fatal("LookupOrRefresh on a closed cache waited for its context")
	}
}

func TestNewCachePanicsWithoutKeys(t *testing.T) {
	t.Parallel()
	iss := NewIssuer()
	defer iss.Close()
	iss.SetFault(FaultStatus503)
	defer func() {
		r, _ := recover().(string)
		if !strings.Contains(r, "no keys from "+iss.URL()) || !strings.Contains(r, "503") {
			t.Fatalf("panic %q, want one naming the issuer and the 503", r)
		}
	}()
	iss.NewCache(jwks.WithBackoff(time.Hour, time.Hour))
	t.Fatal("NewCache returned without keys")
}
