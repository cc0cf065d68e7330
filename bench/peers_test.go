package bench

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	keyfunc "github.com/MicahParks/keyfunc/v3"
	jwtmiddleware "github.com/auth0/go-jwt-middleware/v2"
	auth0jwks "github.com/auth0/go-jwt-middleware/v2/jwks"
	"github.com/auth0/go-jwt-middleware/v2/validator"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
	echojwt "github.com/labstack/echo-jwt/v4"
	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// ---- jwtguard ----

// setupJWTGuard: the full middleware path. Keys come from the issuer's JWKS
// (jwks.NewFromJWKSURL, fetched over HTTP before the timer starts); the
// Guard is narrowed to the fixture's algorithm like every other contender.
//
// With secondIssuer, the Guard is configured with another issuer first and
// the fixture's issuer second (WithIssuer): a token from the second of two
// issuers must cost what a token from the only one does.
func setupJWTGuard(cacheOn, secondIssuer bool) func(testing.TB, *fixture) (func(string) func() bool, string) {
	return func(b testing.TB, f *fixture) (func(string) func() bool, string) {
		keys := readyKeys(b, f.iss.JWKSURL())
		opts := append([]middleware.Option{middleware.WithAlgorithms(f.alg)}, jwtguardOptions(cacheOn)...)
		first, firstKeys := f.issuer, keys
		if secondIssuer {
			other := jwkstest.NewIssuer(jwkstest.WithDefaultAlgorithm(f.alg))
			b.Cleanup(other.Close)
			first, firstKeys = other.URL(), readyKeys(b, other.JWKSURL())
			opts = append(opts, middleware.WithIssuer(keys, f.issuer))
		}
		g, err := middleware.New(firstKeys, first, []string{audience}, opts...)
		if err != nil {
			b.Fatal(err)
		}
		h := g.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := claims.FromContext(r.Context())
			if !ok {
				protected(w, "", false)
				return
			}
			protected(w, c.Subject, true)
		}))
		return handlerOp(h), ""
	}
}

// readyKeys is a key cache for the JWKS at url, with its first keys.
func readyKeys(b testing.TB, url string) *jwks.Cache {
	ctx := context.Background()
	keys, err := jwks.NewFromJWKSURL(ctx, url, jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(keys.Close)
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := keys.WaitReady(wctx); err != nil {
		b.Fatal(err)
	}
	return keys
}

// ---- hand-written net/http middleware shared by the "by hand" peers ----

type ctxKey struct{}

// bearer extracts the token of "Authorization: Bearer <token>".
func bearer(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	if len(auth) < 7 || !strings.EqualFold(auth[:7], "Bearer ") || len(auth) == 7 {
		return "", false
	}
	return auth[7:], true
}

// byHand is the minimal middleware a user writes around a verifier library:
// extract the bearer token, verify it, 401 on failure, else put the result
// in the request context for the handler, which reads the subject back.
func byHand[T any](verify func(ctx context.Context, tok string) (T, error), sub func(T) string) http.Handler {
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, ok := r.Context().Value(ctxKey{}).(T)
		if !ok {
			protected(w, "", false)
			return
		}
		protected(w, sub(v), true)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		v, err := verify(r.Context(), tok)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
	})
}

// ---- golang-jwt/jwt/v5 + MicahParks/keyfunc/v3 ----

// peerClaims is what a golang-jwt user typically decodes an access token
// into: the registered claims plus scope and client_id.
type peerClaims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope,omitempty"`
	ClientID string `json:"client_id,omitempty"`
}

// newKeyfunc: keyfunc's default JWKS client on iss.JWKSURL().
func newKeyfunc(b testing.TB, f *fixture) keyfunc.Keyfunc {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{f.iss.JWKSURL()})
	if err != nil {
		b.Fatal(err)
	}
	return kf
}

// newJWTParser: the same checks as the Guard's, as golang-jwt options.
func newJWTParser(f *fixture) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{f.alg}),
		jwt.WithIssuer(f.issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
}

func setupGolangJWT(b testing.TB, f *fixture) (func(string) func() bool, string) {
	kf, p := newKeyfunc(b, f), newJWTParser(f)
	h := byHand(func(_ context.Context, tok string) (*peerClaims, error) {
		c := new(peerClaims)
		if _, err := p.ParseWithClaims(tok, c, kf.Keyfunc); err != nil {
			return nil, err
		}
		return c, nil
	}, func(c *peerClaims) string { return c.Subject })
	return handlerOp(h), ""
}

// ---- labstack/echo-jwt/v4 + keyfunc, through an echo.Echo ----

// setupEchoJWT: echo-jwt's default parser checks no iss or aud, so it is
// given ParseTokenFunc with the same golang-jwt parser as above.
func setupEchoJWT(b testing.TB, f *fixture) (func(string) func() bool, string) {
	kf, p := newKeyfunc(b, f), newJWTParser(f)
	e := echo.New()
	mw := echojwt.WithConfig(echojwt.Config{
		ParseTokenFunc: func(_ echo.Context, auth string) (any, error) {
			t, err := p.ParseWithClaims(auth, new(peerClaims), kf.Keyfunc)
			if err != nil {
				return nil, err
			}
			return t, nil
		},
	})
	e.GET(routePath, func(c echo.Context) error {
		t, ok := c.Get("user").(*jwt.Token)
		if !ok {
			return c.NoContent(http.StatusInternalServerError)
		}
		pc, ok := t.Claims.(*peerClaims)
		if !ok || pc.Subject != subject {
			return c.NoContent(http.StatusInternalServerError)
		}
		markReached(c.Response().Writer)
		return c.NoContent(http.StatusOK)
	}, mw)
	return handlerOp(e), ""
}

// ---- coreos/go-oidc/v3 ----

// setupGoOIDC: an IDTokenVerifier (ClientID = the audience, so the aud check
// is on) over a RemoteKeySet on iss.JWKSURL(). go-oidc has no leeway for exp.
func setupGoOIDC(b testing.TB, f *fixture) (func(string) func() bool, string) {
	ks := oidc.NewRemoteKeySet(context.Background(), f.iss.JWKSURL())
	v := oidc.NewVerifier(f.issuer, ks, &oidc.Config{
		ClientID:             audience,
		SupportedSigningAlgs: []string{f.alg},
	})
	h := byHand(func(ctx context.Context, tok string) (*oidc.IDToken, error) {
		return v.Verify(ctx, tok)
	}, func(t *oidc.IDToken) string { return t.Subject })
	return handlerOp(h), ""
}

// ---- auth0/go-jwt-middleware/v2 ----

// setupAuth0: the full middleware (CheckJWT) with validator.New over a
// CachingProvider on iss.JWKSURL() (the JWKS is fetched once and cached for
// an hour). Its validator does not require exp.
func setupAuth0(b testing.TB, f *fixture) (func(string) func() bool, string) {
	issURL, err := url.Parse(f.issuer)
	if err != nil {
		b.Fatal(err)
	}
	jwksURL, err := url.Parse(f.iss.JWKSURL())
	if err != nil {
		b.Fatal(err)
	}
	p := auth0jwks.NewCachingProvider(issURL, time.Hour, auth0jwks.WithCustomJWKSURI(jwksURL))
	v, err := validator.New(p.KeyFunc, validator.SignatureAlgorithm(f.alg), f.issuer, []string{audience},
		validator.WithAllowedClockSkew(leeway))
	if err != nil {
		b.Fatal(err)
	}
	m := jwtmiddleware.New(v.ValidateToken)
	h := m.CheckJWT(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vc, ok := r.Context().Value(jwtmiddleware.ContextKey{}).(*validator.ValidatedClaims)
		if !ok {
			protected(w, "", false)
			return
		}
		protected(w, vc.RegisteredClaims.Subject, true)
	}))
	return handlerOp(h), ""
}

// ---- lestrrat-go/jwx/v3 ----

// setupJWX: jwt.ParseString with a jwk.CachedSet (jwk.Cache on
// iss.JWKSURL(), fetched before the timer), validation on, iss, aud and a
// required exp.
func setupJWX(b testing.TB, f *fixture) (func(string) func() bool, string) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	cache, err := jwk.NewCache(ctx, httprc.NewClient())
	if err != nil {
		b.Fatal(err)
	}
	if err := cache.Register(ctx, f.iss.JWKSURL()); err != nil {
		b.Fatal(err)
	}
	set, err := cache.CachedSet(f.iss.JWKSURL())
	if err != nil {
		b.Fatal(err)
	}
	opts := []jwxjwt.ParseOption{
		jwxjwt.WithKeySet(set),
		jwxjwt.WithValidate(true),
		jwxjwt.WithIssuer(f.issuer),
		jwxjwt.WithAudience(audience),
		jwxjwt.WithRequiredClaim("exp"),
		jwxjwt.WithAcceptableSkew(leeway),
	}
	h := byHand(func(_ context.Context, tok string) (jwxjwt.Token, error) {
		return jwxjwt.ParseString(tok, opts...)
	}, func(t jwxjwt.Token) string { s, _ := t.Subject(); return s })
	return handlerOp(h), ""
}
