// Package middleware verifies OAuth 2.0 access tokens (RFC 6750, RFC 9068;
// DPoP-bound ones, RFC 9449) in net/http servers, locally: no call to the authorization
// server per request, only a signature check against its cached keys.
//
// A Guard checks, in this order: the Authorization header (RFC 6750 §2.1);
// the token's shape and size; the algorithm against an allow-list of
// asymmetric algorithms; typ, crit and nested tokens; kid; iss (exact);
// aud; sub; exp, nbf and iat, with leeway; then the key, chosen by kid and,
// among keys of different types under one kid (RFC 7517 §4.5), by alg (jku,
// x5u, jwk and x5c are never used), whose type and curve must fit the
// algorithm; then the signature. Checks that need no key come first, so a
// forged or foreign token never makes the key cache fetch. A token that
// passes everything but exp gets the hint clients act on:
//
//	WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="The access token expired"
//
// and no other refusal ever says "expired".
//
// Quick start, with keys from the issuer's JWKS (package jwks):
//
//	keys, err := jwks.New(ctx, "https://idp.example.com/")
//	if err != nil { ... }
//	defer keys.Close()
//	g, err := middleware.New(keys, "https://idp.example.com/", []string{"https://api.example.com"})
//	if err != nil { ... }
//	mux := http.NewServeMux()
//	mux.Handle("GET /api/me", g.Handler(me))
//	mux.Handle("GET /api/notes", g.Require(middleware.Scopes("notes:read"))(notes))
//	mux.Handle("GET /admin/stats", g.Require(
//		middleware.Audience("https://api.example.com/admin"),
//		middleware.Scopes("admin"),
//	)(stats))
//
//	// in a handler:
//	c, _ := claims.FromContext(r.Context())
//
// Refusals follow RFC 6750 §3: 401 without an error code when there are no
// credentials, 400 invalid_request for malformed credentials, 401
// invalid_token, 403 insufficient_scope naming the required scopes (or no
// scope, for a claim requirement no scope would meet), and 503 with
// Retry-After while no keys have ever been fetched. Each is an *Error
// matching one sentinel (ErrNoToken, ErrMalformedRequest, ErrInvalidToken
// and its reasons, ErrTokenExpired, ErrInsufficientScope and
// ErrClaimRequirement, ErrKeysUnavailable) for custom error handlers.
//
// Sender-constrained tokens are accepted only with the proof of their key:
// a DPoP-bound token (cnf.jkt, RFC 9449) with "Authorization: DPoP" and a
// fresh proof in the DPoP header, checked after the token and remembered
// by a ReplayStore so it is accepted once; a certificate-bound token
// (cnf x5t#S256, RFC 8705) only over a TLS connection that presented that
// certificate. A bound token is never accepted as a bearer token. With
// DPoP allowed (the default; WithDPoP), each 401 and 403 names both
// schemes, the request's first. WithDPoPNonce adds server nonces.
//
// The package never imports a key cache: it consumes the small KeySet
// interface, which jwks.Cache implements.
package middleware
