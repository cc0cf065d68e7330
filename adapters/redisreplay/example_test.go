package redisreplay_test

import (
	"context"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/jwtguard/jwtguard/adapters/redisreplay"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/middleware"
)

// Every replica of the API is given the same Redis: a DPoP proof one of
// them accepted is refused by all.
func Example() {
	ctx := context.Background()
	keys, err := jwks.New(ctx, "https://idp.example.com")
	if err != nil {
		log.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379", ContextTimeoutEnabled: true})
	guard, err := middleware.New(keys, "https://idp.example.com", []string{"https://api.example.com"},
		middleware.WithReplayStore(redisreplay.New(rdb)),
		// Nonces sealed with one secret are valid at every replica too.
		middleware.WithDPoPNonce([]byte("a secret of at least 32 random bytes, from your vault"), 0))
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("/api/", guard.Handler(http.NotFoundHandler()))
}
