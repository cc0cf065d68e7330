// The adapter is its own module so that users of the core never download
// Connect or the genproto types. It requires the core at the version they
// are released together as; in the repository, go.work points that version
// at the checkout (see CONTRIBUTING.md), so this file has no replace and
// works as published.
module github.com/jwtguard/jwtguard/adapters/connectguard

go 1.26.0

require (
	connectrpc.com/connect v1.21.1
	github.com/jwtguard/jwtguard v0.1.0
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261110000943-09e21b237f2c
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)
