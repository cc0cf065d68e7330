package jwks_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// A Cache for an issuer found by discovery. New returns at once; keys come
// in the background.
func ExampleNew() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()

	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer keys.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		panic(err)
	}
	_, alg, _, ok := keys.LookupKey(iss.SigningKID("RS256"), "RS256")
	st := keys.Status()
	fmt.Println(ok, alg, st.Ready, st.Keys, st.JWKSURL == iss.JWKSURL())
	// Output: true RS256 true 1 true
}

// Status tells a health endpoint why keys are missing.
func ExampleCache_Status() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	iss.SetFault(jwkstest.FaultStatus503)

	keys, _ := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	defer keys.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := keys.WaitReady(ctx)
	fmt.Println(keys.Ready(), err != nil)
	// Output: false true
}
