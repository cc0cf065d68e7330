// Package jwks keeps an OAuth 2.0 issuer's public signing keys (its JSON Web
// Key Set, RFC 7517) cached for a resource server, so that tokens are
// verified locally and the issuer is not called per request.
//
// It is built on github.com/MicahParks/jwkset, which parses and stores the
// keys (Cache.Storage hands them over in jwkset's form), and gives code that
// calls golang-jwt directly a Keyfunc with the middleware's key rules
// (Cache.Keyfunc). The refresh policy is this package's own, because the
// defaults of github.com/MicahParks/keyfunc/v3 suit a resource server badly:
//
//   - Construction never waits on the network and never fails because the
//     issuer is down; the first fetch is retried in the background with
//     exponential, jittered backoff (keyfunc does not retry it).
//   - A token with an unknown kid (or a known one with no key of the
//     token's alg) triggers one refresh that all concurrent callers share, at most once per cooldown (default 30 s, keyfunc: 5
//     minutes), and a caller waits for it at most 2 s (keyfunc: 1 minute).
//   - A failed refresh (refused, 5xx, timeout, malformed or oversized body,
//     no usable key) keeps the last good keys. A successful one replaces
//     them all, so a key the issuer removed stops verifying.
//   - A 429 or 503 with Retry-After (seconds or a date) holds every fetch,
//     the retries and the unknown-kid refreshes alike, until then, up to
//     the maximum backoff (1 minute by default): a fleet of replicas must
//     not keep a rate-limited or recovering issuer down.
//   - One bad JWK is skipped and logged, not fatal to the set (keyfunc fails
//     the whole refresh). Keys never used: use other than "sig", key_ops
//     without "verify", symmetric keys, RSA under 2048 bits or over 8192
//     or with an exponent over 65537 (MaxRSABits), curves other
//     than P-256/P-384/P-521 and Ed25519, a JWK "alg" that does not fit the
//     key, an "issuer" member (Microsoft Entra ID binds its keys to issuers
//     with it; see LookupKey) that is not a non-empty string. One kid may
//     name keys of different types (RFC 7517 §4.5), among which the token's
//     alg chooses; a second key of one kid that an algorithm could use as
//     well as one kept (one type and curve, no JWK alg telling them apart)
//     is skipped.
//   - Requests have a timeout (5 s), bodies a size cap (1 MiB), and URLs must
//     be https except on loopback (InsecureAllowHTTP relaxes that for
//     development). Redirects to another host are refused.
//
// Quick start:
//
//	keys, err := jwks.New(ctx, "https://idp.example.com/") // discovery; ctx lives as long as the server
//	if err != nil {
//		return err // a malformed issuer URL or bad option, never the network
//	}
//	defer keys.Close()
//	guard, err := middleware.New(keys, "https://idp.example.com/", []string{"https://api.example.com"})
//
// Discovery tries <issuer>/.well-known/openid-configuration (OpenID Connect
// Discovery 1.0 §4), then <scheme>://<host>/.well-known/oauth-authorization-server<path>
// (RFC 8414 §3.1), and requires the metadata's issuer to equal the
// configured one exactly (RFC 8414 §3.3). NewFromJWKSURL skips discovery.
//
// Ready, WaitReady and Status report whether keys have arrived, for
// readiness probes and for answering 503 rather than 401 until they do.
package jwks
