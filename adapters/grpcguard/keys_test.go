package grpcguard_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// downKeys is a key cache for an issuer that is down: no keys yet.
func downKeys(t *testing.T, iss *jwkstest.Issuer) *jwks.Cache {
	t.Helper()
	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	return keys
}
