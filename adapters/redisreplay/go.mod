// The adapter is its own module so that users of the core never download
// go-redis. The replace below applies only while this module is the main
// module (working in the repository: go test, go mod tidy); a build that
// depends on it ignores it, as the go command ignores every dependency's
// replace. A release sets the require to the tagged version.
module github.com/jwtguard/jwtguard/adapters/redisreplay

go 1.26.0

replace github.com/jwtguard/jwtguard => ../..

require (
	github.com/jwtguard/jwtguard v0.0.0-00010101000000-000000000000
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
