// Package soak drives the example servers under load while their
// issuer's keys rotate and its JWKS endpoint fails, and checks every
// answer. Its test is behind the soak build tag, so that a plain go test
// ./... stays fast:
//
//	go test -tags soak ./examples/soak                          # 20 s per server, as CI runs it
//	go test -tags soak ./examples/soak -soak.duration 3m -soak.clients 64 -v
//
// For each server in turn it starts a test issuer behind a recording
// proxy for the JWKS, the server (-jwks-url pointing at the proxy, a 1 s
// leeway, a 2 s unknown-kid cooldown), and concurrent keep-alive clients
// over a corpus of tokens, each with its expected answer. The JWKS goes
// through a schedule: healthy; a key removed and one added; 503; a hang
// longer than the server's fetch timeout; garbage; healthy again. It
// checks every response (status, whether the expired hint is there), that
// the removed key is refused once a JWKS without it was served and the
// added key accepted once one with it was, that a token expiring mid-run
// is refused after its expiry and leeway, at most one JWKS fetch per
// cooldown, no 5xx, and the server's peak resident memory; and prints
// throughput and latency per phase and a pass/fail count per class.
//
// A second test runs two replicas of each server behind one URL, with two
// issuers and a DPoP replay store in Redis they share: tokens of both
// issuers must pass while the second is down, and a proof one replica
// accepted must be refused by both. It needs redis-server on the PATH
// (JWTGUARD_REQUIRE_REDIS=1 makes its absence a failure, not a skip).
package soak
