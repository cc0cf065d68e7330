package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// A resource server with one open route, one route for any valid token and
// one that needs a scope. The issuer here is the in-process test issuer.
func Example() {
	iss, _ := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.example.com"))
	defer iss.Close()

	ctx := context.Background()
	keys, err := jwks.New(ctx, iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		panic(err)
	}
	defer keys.Close()
	_ = keys.WaitReady(ctx) // optional: serve at once and answer 503 until keys arrive

	g, err := middleware.New(keys, iss.URL(), []string{"https://api.example.com"})
	if err != nil {
		panic(err)
	}
	me := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := claims.FromContext(r.Context())
		fmt.Fprintf(w, "hello %s", c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /api/me", g.Handler(me))
	mux.Handle("GET /api/notes", g.Require(middleware.Scopes("notes:read"))(me))

	call := func(path, token string) {
		req := httptest.NewRequest("GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
	}
	tok, _ := iss.Mint()
	call("/api/me", tok)
	call("/api/notes", tok)
	call("/api/me", "")
	// Output:
	// 200  hello user-123
	// 403 Bearer realm="api", error="insufficient_scope", scope="notes:read" {"error":"insufficient_scope","error_description":"The access token does not grant the scope this resource requires"}
	// 401 Bearer realm="api" {"error":"unauthorized"}
}

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
	iss, _ := jwkstest.NewIssuer()
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
		tok, _ := iss.Mint(opt)
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// invalid: middleware: invalid token: audience not accepted
	// expired: the client will refresh
}
