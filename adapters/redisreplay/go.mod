// The adapter is its own module so that users of the core never download
// go-redis. It requires the core at the version they are released together
// as; in the repository, go.work points that version at the checkout (see
// CONTRIBUTING.md), so this file has no replace and works as published.
module github.com/jwtguard/jwtguard/adapters/redisreplay

go 1.26.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/redis/go-redis/v9 v9.23.0
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
