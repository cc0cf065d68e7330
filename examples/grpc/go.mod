// The gRPC example is its own module so that the examples' module, like
// the core, never requires grpc. It requires the core and the adapter at
// the version they are released together as; in the repository, go.work
// points those versions at the checkout (see CONTRIBUTING.md), so this
// file has no replace.
module github.com/jwtguard/jwtguard/examples/grpc

go 1.26.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/jwtguard/jwtguard/adapters/grpcguard v0.1.0
	golang.org/x/oauth2 v0.36.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/text v0.42.0 // indirect
	golang.org/x/time v0.15.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c // indirect
)
