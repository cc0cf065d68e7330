package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// A resource server with routes for any valid token, for a scope, and for
// another audience. The issuer here is the in-process test issuer.
func Example() {
	iss := jwkstest.NewIssuer() // stands in for your authorization server
	defer iss.Close()
	ctx, issuer, admin := context.Background(), iss.URL(), "https://api.example.com/admin"

	keys, err := jwks.New(ctx, issuer) // discovery; never blocks, never fails for the network
	if err != nil {
		log.Fatal(err) // a malformed issuer URL or a bad option
	}
	defer keys.Close()
	g, err := middleware.New(keys, issuer, []string{"https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", g.Handler(me)) // any valid token for the audience
	mux.Handle("GET /api/notes", g.Require(middleware.Scopes("notes:read"))(notes))
	mux.Handle("GET /admin/stats", g.Require(middleware.Audience(admin), middleware.Scopes("admin"))(stats))

	_ = keys.WaitReady(ctx) // optional: serve at once and answer 503 until keys arrive
	call := func(path, token string) {
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	tok := iss.Mint()
	call("/api/me", tok)
	call("/api/notes", tok)
	call("/admin/stats", tok)
	call("/api/me", "")
	// Output:
	// 200  hello user-123
	// 403 Bearer realm="api", error="insufficient_scope", scope="notes:read" {"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}
	// 401 Bearer realm="api", error="invalid_token", error_description="The access token is not meant for this resource" {"error":"invalid_token","error_description":"The access token is not meant for this resource"}
	// 401 Bearer realm="api" {"error":"unauthorized"}
}

var me = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	// in a handler:
	c, _ := claims.FromContext(r.Context()) // c.Subject, c.ClientID, c.Scopes.Has("notes:read")
	fmt.Fprintf(w, "hello %s", c.Subject)
})

var notes, stats = me, me

// A custom error handler can tell refusals apart with errors.Is, then
// delegate to WriteError for the standard response.
func ExampleWithErrorHandler() {
	onError := func(w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case errors.Is(err, middleware.ErrTokenExpired):
			fmt.Println("expired: the client will refresh")
		case errors.Is(err, middleware.ErrInvalidToken):
			fmt.Println("invalid:", err)
		}
		middleware.WriteError(w, r, err)
	}
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	keys, _ := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	defer keys.Close()
	_ = keys.WaitReady(context.Background())
	g, _ := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithErrorHandler(onError))

	h := g.Handler(http.NotFoundHandler())
	for _, opt := range []jwkstest.MintOption{
		jwkstest.WithClaim("aud", "https://elsewhere.example"),
		jwkstest.WithExpiresIn(-5 * time.Minute),
	} {
		tok := iss.Mint(opt)
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// invalid: middleware: invalid token: audience not accepted
	// expired: the client will refresh
}

// A profile rule on top of the built-in checks: AWS Cognito ID tokens carry
// the app client ID as aud, so only tokens with token_use "access" pass.
func ExampleWithClaimsCheck() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	keys, _ := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	defer keys.Close()
	_ = keys.WaitReady(context.Background())

	accessOnly := func(c *claims.Claims) error {
		if use, _ := claims.Get[string](c, "token_use"); use != "access" {
			return errors.New("token_use is not access") // no claim values: errors are logged
		}
		return nil
	}
	g, _ := middleware.New(keys, iss.URL(), []string{"https://api.example.com"}, middleware.WithClaimsCheck(accessOnly))
	for _, use := range []string{"access", "id"} {
		tok := iss.Mint(jwkstest.WithClaim("token_use", use))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		_, err := g.Verify(req)
		fmt.Println(use, errors.Is(err, middleware.ErrClaimsRejected), err)
	}
	// Output:
	// access false <nil>
	// id true middleware: invalid token: claims rejected: token_use is not access
}

// A transport that is not net/http (a gRPC interceptor, an MCP tool call, a
// message consumer) takes the token out of its own envelope, verifies it
// once, and authorizes each operation against the verified claims. The
// *Error says how to refuse, in the transport's own terms.
func ExampleGuard_VerifyToken() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	ctx := context.Background()
	keys, _ := jwks.New(ctx, iss.URL())
	defer keys.Close()
	_ = keys.WaitReady(ctx)
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	write := g.Rule(middleware.Scopes("notes:write"))

	tok := iss.Mint(jwkstest.WithScopes("notes:read"))
	c, err := g.VerifyToken(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("verified:", c.Subject, c.Scopes)
	var refusal *middleware.Error
	if err := write.Authorize(ctx, c); errors.As(err, &refusal) {
		fmt.Println("refused:", refusal.Status(), refusal.Code(), refusal.Scopes())
	}
	expired := iss.Mint(jwkstest.WithExpiresIn(-time.Hour))
	if _, err := g.VerifyToken(ctx, expired); errors.Is(err, middleware.ErrTokenExpired) {
		fmt.Println("expired: tell the client to refresh")
	}
	// Output:
	// verified: user-123 notes:read
	// refused: 403 insufficient_scope [notes:write]
	// expired: tell the client to refresh
}

// One Guard for two authorization servers, each with its own key set and
// its own token shape; here two test issuers stand in for Auth0 and Entra ID.
func ExampleWithIssuer() {
	a := jwkstest.NewIssuer()
	defer a.Close()
	b := jwkstest.NewIssuer()
	defer b.Close()
	ctx, api := context.Background(), "https://api.example.com"
	// auth0 = "https://example.us.auth0.com/", entra = "https://login.microsoftonline.com/<tenant>/v2.0"
	auth0, entra := a.URL(), b.URL()
	auth0Keys, _ := jwks.New(ctx, auth0)
	entraKeys, _ := jwks.New(ctx, entra)
	defer auth0Keys.Close()
	defer entraKeys.Close()
	g, err := middleware.New(auth0Keys, auth0, []string{api},
		middleware.WithScopeClaims("permissions"), // Auth0's, for this issuer only
		middleware.WithIssuer(entraKeys, entra, middleware.WithScopeClaims("roles")))
	if err != nil {
		log.Fatal(err)
	}
	_ = auth0Keys.WaitReady(ctx)
	_ = entraKeys.WaitReady(ctx)

	admin := g.Rule(middleware.Scopes("admin"))
	fromA := a.Mint(jwkstest.WithClaim("permissions", []string{"admin"}))
	fromB := b.Mint(jwkstest.WithClaim("roles", []string{"admin"}))
	roleAtA := a.Mint(jwkstest.WithClaim("roles", []string{"admin"}))
	for _, tok := range []string{fromA, fromB, roleAtA} {
		c, err := admin.VerifyToken(ctx, tok)
		fmt.Println(c != nil && (c.Issuer == auth0 || c.Issuer == entra), errors.Is(err, middleware.ErrInsufficientScope))
	}
	// Output:
	// true false
	// true false
	// false true
}

// DPoP-bound tokens (RFC 9449) are accepted beside bearer tokens by
// default; these options require them, ask for server nonces that
// replicas share, and keep the proofs every replica has seen in one
// store (adapters/redisreplay in production).
func ExampleWithDPoP() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	keys := iss.NewCache()
	secret := []byte("32 random bytes or more, from your vault")
	store := middleware.NewMemoryReplayStore(0, nil) // redisreplay.New(rdb) across replicas
	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"},
		middleware.WithDPoP(middleware.DPoPRequired),
		middleware.WithDPoPNonce(secret, 0),
		middleware.WithReplayStore(store),
		middleware.WithExternalURL("https://api.example.com")) // htu behind a TLS-terminating proxy
	if err != nil {
		log.Fatal(err)
	}
	rec := httptest.NewRecorder()
	g.Handler(me).ServeHTTP(rec, httptest.NewRequest("GET", "/api/me", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"
}
