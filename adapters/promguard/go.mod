// The adapter is its own module so that users of the core never download
// client_golang. It requires the core at the version they are released together
// as; in the repository, go.work points that version at the checkout (see
// CONTRIBUTING.md), so this file has no replace and works as published.
module github.com/jwtguard/jwtguard/adapters/promguard

go 1.25.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/prometheus/client_golang v1.24.1
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	github.com/kylelemons/godebug v1.1.0 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.2 // indirect
	github.com/prometheus/common v0.70.1 // indirect
	github.com/prometheus/procfs v0.21.1 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/protobuf v1.36.11 // indirect
)
