// Package jwkstest runs a fake OAuth 2.0 authorization server (a token issuer)
// for tests and for local development.
//
// An [Issuer] starts a real [net/http/httptest.Server] on the loopback
// interface (plain HTTP) that serves:
//
//   - OpenID Connect discovery at <issuer>/.well-known/openid-configuration,
//   - RFC 8414 authorization server metadata at
//     <server>/.well-known/oauth-authorization-server<issuer path>,
//   - a JSON Web Key Set at <issuer>/jwks.json (built with
//     github.com/MicahParks/jwkset),
//   - a tiny client-credentials / refresh-token endpoint at <server>/token;
//     a request with a DPoP proof (RFC 9449 §5) gets a token bound to the
//     proof's key (cnf.jkt, token_type DPoP), and its refresh token is
//     honoured only with a proof of the same key.
//
// Tokens are real JWTs signed with real keys (RSA 2048, ECDSA
// P-256/P-384/P-521, Ed25519); nothing about the cryptography is mocked.
// Keys are freshly generated, except RSA keys in a test binary
// (testing.Testing): an RSA key takes a tenth of a second to generate, so
// there each is built from a pair of primes of a fixed, published set that
// no other key in the process uses. Every key is distinct and an issuer
// starts in a millisecond, but whoever reads this library's source can
// factor those keys, and every test process starts with the same ones.
// Tests can rotate and remove keys, inject outages and broken answers
// ([Fault]), switch discovery documents off and count fetches, and
// [Issuer.NewCache] gives them a ready jwks.Cache over the issuer: enough
// to test verifiers, caches and middleware end to end. It is modelled on
// github.com/coreos/go-oidc's oidctest package.
//
// The package is meant for the tests of this library, for the tests of its
// users and for the "dev mode" of example servers. It is NOT an authorization
// server for production: it authenticates no clients, keeps private keys in
// memory and hands a token to anyone who asks.
//
// All methods of [Issuer] are safe for concurrent use. NewIssuer, NewCache,
// Mint, Sign, Rotate and PublicJWK panic on failure, as httptest.NewServer does:
// a helper that returned an error would be wrapped by every test, and a
// failure turned into an empty token by `tok, _ :=`.
//
// Quick start:
//
//	func TestAPI(t *testing.T) {
//		iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.example.com"))
//		defer iss.Close()
//
//		// Point the code under test at iss.URL() (discovery) or iss.JWKSURL().
//		handler := newAPIHandler(iss.URL())
//
//		token := iss.Mint(jwkstest.WithScopes("notes:read")) // panics, like httptest, rather than fail quietly
//		req := httptest.NewRequest(http.MethodGet, "/notes", nil)
//		req.Header.Set("Authorization", "Bearer "+token)
//		rec := httptest.NewRecorder()
//		handler.ServeHTTP(rec, req)
//		if rec.Code != http.StatusOK {
//			t.Fatalf("status = %d", rec.Code)
//		}
//	}
//
// From a shell (dev mode), a token can be fetched with:
//
//	TOKEN=$(curl -s -H 'Accept: text/plain' -d scope=notes:read http://127.0.0.1:PORT/token)
package jwkstest
