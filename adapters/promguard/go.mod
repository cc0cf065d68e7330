// The adapter is its own module so that users of the core never download
// client_golang. The replace below applies only while this module is the
// main module (working in the repository: go test, go mod tidy); a build
// that depends on it ignores it, as the go command ignores every
// dependency's replace. A release sets the require to the tagged version.
module github.com/jwtguard/jwtguard/adapters/promguard

go 1.25.0

replace github.com/jwtguard/jwtguard => ../..

require (
	github.com/jwtguard/jwtguard v0.0.0-00010101000000-000000000000
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
