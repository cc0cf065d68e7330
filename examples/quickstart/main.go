// Command quickstart plays the whole life of an access token in one process,
// in a few seconds, printing each step as "who → whom: what":
//
//	go run ./examples/quickstart
//
// A dev authorization server issues a short-lived access token and a refresh
// token; a client calls an API protected by jwtguard; the token expires and
// the API answers 401 with the expired hint; the client refreshes and
// retries; a missing scope gets 403; the authorization server rotates its
// signing key and the API picks the new key up without a restart; and at the
// end, the counts show the API verified every request locally, fetching the
// issuer's keys only a couple of times.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if _, err := Run(ctx, os.Stdout, DefaultTokenLife); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}
