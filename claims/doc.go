// Package claims decodes and inspects the claims of an OAuth 2.0 JWT access
// token as profiled by RFC 9068, for use by a resource server.
//
// [Claims] carries the registered claims of RFC 9068 §2.2 (iss, sub, aud,
// exp, nbf, iat, jti, client_id), the authentication claims of §2.2.1
// (auth_time, acr, amr), the scopes of §2.2.3 ("scope", RFC 8693 §4.2, plus
// the common "scp" variant, merged into one [Scopes] list) and the
// authorization attributes of §2.2.3.1 (groups, roles, entitlements). Any
// other claim is kept as raw JSON and read with [Claims.Raw],
// [Claims.Decode] or [Get]. *Claims implements golang-jwt's jwt.Claims, so
// it is passed straight to the parser, which validates exp/nbf/iss/aud.
//
// Quick start:
//
//	var c claims.Claims
//	_, err := jwt.ParseWithClaims(token, &c, keyFunc,
//		jwt.WithValidMethods([]string{"RS256", "ES256"}),
//		jwt.WithIssuer("https://issuer.example"),
//		jwt.WithAudience("https://api.example"),
//		jwt.WithExpirationRequired(),
//	)
//	if err != nil {
//		return err // 401: invalid token (errors.Is(err, claims.ErrMalformed) for bad claims)
//	}
//	if !c.Scopes.HasAll("notes:read") {
//		return errForbidden // 403: insufficient_scope
//	}
//	ctx = claims.NewContext(ctx, &c)
//
//	// later, in a handler:
//	c, ok := claims.FromContext(ctx)
//	tenant, err := claims.Get[string](c, "tenant_id")
//
// This package does not verify signatures or check the "typ" header
// ("at+jwt", RFC 9068 §4); that is the verifier's job.
//
// # Strict decoding
//
// Claims decide authorization, so [Claims.UnmarshalJSON] refuses, with an
// error wrapping [ErrMalformed], anything two JSON readers might interpret
// differently or that does not have the type the RFCs specify: invalid JSON
// or UTF-8, a \u escape of a lone surrogate ("\ud800", read as U+FFFD)
// included; a top level that is not an object; duplicate member names, also
// when they differ only by escaping ({"exp":1,"\u0065xp":2}); iss, sub, jti,
// client_id, acr or scope that are not strings (null included); aud, groups,
// roles, entitlements that are neither a string nor an array of strings; scp
// that is neither an array of strings nor a string; amr that is not an
// array of strings; exp, nbf, iat, auth_time that are not JSON numbers or
// do not fit in int64 seconds. Member names are
// case-sensitive: "EXP" is a custom claim, not "exp".
//
// Decoding is allocation-light: it validates the JSON (with the same answer
// as json.Valid, in one tight pass, but for a \u escape of a lone surrogate,
// refused as invalid UTF-8 is), then walks the bytes with a small
// scanner, keeping one copy of the payload that all string fields and raw
// custom claims share.
package claims
