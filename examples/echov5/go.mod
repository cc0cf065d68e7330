// The Echo v5 example server is its own module so that the repository's
// root module, which holds the Echo v4 adapter and example, does not also
// require Echo v5. It requires the core and the adapter at the version
// they are released together as; in the repository, go.work points those
// versions at the checkout (see CONTRIBUTING.md), so this file has no
// replace.
module github.com/jwtguard/jwtguard/examples/echov5

go 1.25.0

require (
	github.com/jwtguard/jwtguard v0.1.0
	github.com/jwtguard/jwtguard/adapters/echov5guard v0.1.0
	github.com/labstack/echo/v5 v5.4.4
)

require (
	github.com/MicahParks/jwkset v0.11.3 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/time v0.15.0 // indirect
)
