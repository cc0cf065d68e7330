// Command nethttp is the example resource server on plain net/http. With no
// -issuer it starts an in-process dev authorization server and prints curl
// commands that get a token and call each route:
//
//	go run ./examples/nethttp
//
// Its HTTP behaviour is described in examples/README.md; the routes are
// in exampleapp.App.NetHTTPHandler.
package main

import "github.com/jwtguard/jwtguard/examples/internal/exampleapp"

func main() {
	exampleapp.Main((*exampleapp.App).NetHTTPHandler)
}
