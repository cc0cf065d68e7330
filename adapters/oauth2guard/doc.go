// Package oauth2guard is the client side of jwtguard's expired-token hint:
// an http.RoundTripper, built on golang.org/x/oauth2, that refreshes the
// access token when an API protected by jwtguard says it has expired, and
// retries the request once.
//
// A jwtguard API answers an expired access token with
//
//	HTTP/1.1 401 Unauthorized
//	WWW-Authenticate: Bearer realm="api", error="invalid_token", error_description="The access token expired"
//
// oauth2.Transport refreshes only when its own clock says the token has
// expired, so clock skew, a shortened lifetime or a server-side policy
// leaves it sending a dead token until the next local expiry. Transport
// acts on the server's word as well. It acts only on that exact hint: the
// API sends it only for a token that is genuine apart from its age, while
// any other 401 (bad signature, wrong audience, no token) means a refresh
// cannot help, and refreshing on every 401 would spend refresh tokens, and
// load the authorization server, on requests that will fail anyway.
//
// Quick start:
//
//	cfg := &oauth2.Config{
//		ClientID: "cli",
//		Endpoint: oauth2.Endpoint{
//			TokenURL:  "https://idp.example.com/oauth/token",
//			AuthStyle: oauth2.AuthStyleInParams,
//		},
//	}
//	tok, err := cfg.Exchange(ctx, code) // or a token saved earlier
//	if err != nil {
//		return err
//	}
//	tr := oauth2guard.NewTransport(tok, oauth2guard.ConfigRefresher(cfg),
//		oauth2guard.WithOnRefresh(func(old, new *oauth2.Token) {
//			log.Printf("access token refreshed, expires %v", new.Expiry)
//		}))
//	client := &http.Client{Transport: tr}
//	resp, err := client.Get("https://api.example.com/api/me")
//	// ...
//	save(tr.Token()) // keep the latest refresh token
//
// A request is retried only if its body can be sent again: no body,
// http.NoBody, or GetBody set (http.NewRequest sets it for bytes.Buffer,
// bytes.Reader and strings.Reader bodies). Otherwise the 401 is returned
// as it came. Requests refused with the same stale token share one
// refresh.
//
// DPoP (RFC 9449): with a DPoPKey, the Transport sends DPoP-bound tokens
// with the DPoP scheme and a fresh proof for each request (its ath over
// the token, its htu the request's URL without query), answers the API's
// use_dpop_nonce by sending once more with the nonce, keeps each server's
// latest nonce for the next proof, and refreshes through the key's
// TokenClient, so that the new token is bound to the same key:
//
//	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
//	dk, err := oauth2guard.NewDPoPKey(key, "")
//	ctx = context.WithValue(ctx, oauth2.HTTPClient, dk.TokenClient(nil))
//	tok, err := cfg.Exchange(ctx, code, oauth2.SetAuthURLParam("dpop_jkt", dk.JKT()))
//	tr := oauth2guard.NewTransport(tok, oauth2guard.ConfigRefresher(cfg), oauth2guard.WithDPoP(dk))
package oauth2guard
