// The adapter is its own module so that users of the core never download
// Echo v5. It requires the core at the version they are released together
// as; in the repository, go.work points that version at the checkout (see
// CONTRIBUTING.md), so this file has no replace and works as published.
module github.com/jwtguard/jwtguard/adapters/echov5guard

go 1.25.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/labstack/echo/v5 v5.4.4
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)
