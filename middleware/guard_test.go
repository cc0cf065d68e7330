package middleware_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

const (
	aud      = "https://api.example.com"
	adminAud = "https://api.example.com/admin"
)

type env struct {
	iss   *jwkstest.Issuer
	keys  *jwks.Cache
	guard *middleware.Guard
	srv   *httptest.Server
	// last is the error the guard's error handler last saw.
	last error
}

// newEnv starts a test issuer, a real key cache over HTTP, a Guard, and a
// server with the contract's routes.
func newEnv(t *testing.T, opts ...middleware.Option) *env {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	t.Cleanup(iss.Close)
	return newEnvFor(t, iss, true, opts...)
}

func newEnvFor(t *testing.T, iss *jwkstest.Issuer, wait bool, opts ...middleware.Option) *env {
	t.Helper()
	var keys *jwks.Cache
	if wait {
		keys = iss.NewCache(jwks.WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	} else {
		keys = cacheFor(t, iss)
	}
	var err error
	e := &env{iss: iss, keys: keys}
	opts = append([]middleware.Option{middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		e.last = err
		middleware.WriteError(w, r, err)
	})}, opts...)
	e.guard, err = middleware.New(keys, iss.URL(), []string{aud}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, found := claims.FromContext(r.Context())
		if !found {
			http.Error(w, "no claims in context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, c.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("/api/me", e.guard.Handler(ok))
	mux.Handle("/api/notes", e.guard.Require(middleware.Scopes("notes:read"))(ok))
	mux.Handle("/api/any", e.guard.Require(middleware.AnyScope("a", "b"))(ok))
	mux.Handle("/admin/stats", e.guard.Require(middleware.Audience(adminAud), middleware.Scopes("admin"))(ok))
	// A group: the outer Guard verifies, the inner Require only checks scopes.
	mux.Handle("/group/", e.guard.Handler(e.guard.Require(middleware.Scopes("notes:read"))(ok)))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// response is the contract's view of an answer: the table
// (internal/guardtest) writes the expected refusals, byte for byte.
type response = guardtest.Response

func (e *env) do(t *testing.T, method, path string, headers ...string) response {
	t.Helper()
	e.last = nil
	req, _ := http.NewRequest(method, e.srv.URL+path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return guardtest.Read(resp)
}

func bearer(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// The refusals of a Guard with its default options (Bearer and DPoP
// accepted), from the contract table's constructors.
func invalid(desc string) response { return guardtest.Default(guardtest.Invalid(desc)) }

func forbidden(scope string) response { return guardtest.Default(guardtest.Forbidden(scope)) }

func check(t *testing.T, got, want response) {
	t.Helper()
	if !want.Equal(got) {
		t.Fatalf("response:\n got  %+v\n want %+v", got, want)
	}
}

var (
	noCredentials = guardtest.Default(guardtest.NoCredentials)
	badRequest    = guardtest.BadRequest
	expired       = invalid(guardtest.DescExpired)
)

// The maximum token size is the one limit: it refuses a longer token in
// the Authorization header as a malformed request, lifts the header's
// bound with it (a 12 KB Entra ID token passes by default), and refuses a
// longer token from another source, or given to VerifyToken, as too large.
func TestTokenSizeCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithMaxTokenSize(64))
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...), badRequest)
	if !errors.Is(e.last, middleware.ErrMalformedRequest) {
		t.Fatalf("error = %v", e.last)
	}
	if _, err := e.guard.VerifyToken(context.Background(), e.iss.Mint()); !errors.Is(err, middleware.ErrTokenTooLarge) {
		t.Fatalf("VerifyToken: %v, want ErrTokenTooLarge", err)
	}
	def := newEnvFor(t, e.iss, true)
	groups := make([]string, 200) // the most Entra ID puts in a token
	for i := range groups {
		groups[i] = fmt.Sprintf("%08x-86f1-41af-91ab-%012x", i, i)
	}
	big := e.iss.Mint(jwkstest.WithClaim("groups", groups))
	if len(big) < 10_000 || len(big) > middleware.DefaultMaxTokenSize {
		t.Fatalf("the 200-group token is %d bytes", len(big))
	}
	check(t, def.do(t, "GET", "/api/me", bearer(big)...), accepted)
	raised := newEnvFor(t, e.iss, true, middleware.WithMaxTokenSize(32<<10))
	huge := e.iss.Mint(jwkstest.WithClaim("groups", append(groups, groups...)))
	check(t, def.do(t, "GET", "/api/me", bearer(huge)...), badRequest)
	check(t, raised.do(t, "GET", "/api/me", bearer(huge)...), accepted)
}

func TestOptInTokenSources(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithQueryParameter("access_token"), middleware.WithCookie("at"))
	tok := e.iss.Mint()
	check(t, e.do(t, "GET", "/api/me?access_token="+tok), accepted)
	check(t, e.do(t, "GET", "/api/me", "Cookie", "at="+tok), accepted)
	// RFC 6750 §2: more than one method is a malformed request.
	check(t, e.do(t, "GET", "/api/me?access_token="+tok, bearer(tok)...), badRequest)
	check(t, e.do(t, "GET", "/api/me?access_token=a&access_token=b"), badRequest)
	// Cookie tossing: a sibling subdomain can set a second cookie of the
	// same name, and which one a reader takes first is not the user's
	// choice. Two are malformed, as two query parameters are.
	check(t, e.do(t, "GET", "/api/me", "Cookie", "at="+tok+"; at="+tok), badRequest)
	check(t, e.do(t, "GET", "/api/me", "Cookie", "at="+tok, "Cookie", "other=1; at="+tok), badRequest)
	check(t, e.do(t, "GET", "/api/me", "Cookie", "other=1; at="+tok+"; at2=x"), accepted)
	// A bearer header and the cookie are two methods too, even with the
	// same token; a header of another scheme holds no token.
	check(t, e.do(t, "GET", "/api/me", "Cookie", "at="+tok, "Authorization", "Bearer "+tok), badRequest)
	check(t, e.do(t, "GET", "/api/me", "Cookie", "at="+tok, "Authorization", "Basic dTpw"), accepted)
}

// RFC 6750 §2.3: a success answered for a token in the URL SHOULD be
// Cache-Control private, so that no shared cache keeps it under that URL.
// Found by a fifth (standards) review.
func TestQueryTokenAnswerIsPrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithQueryParameter("access_token"))
	tok := e.iss.Mint()
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, c := range []struct{ before, path, authz, want string }{
		{"", "/?access_token=" + tok, "", "private"},
		{"max-age=60", "/?access_token=" + tok, "", "max-age=60, private"},
		{"no-store", "/?access_token=" + tok, "", "no-store"},
		{"", "/", "Bearer " + tok, ""}, // not in the URL
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		if c.authz != "" {
			req.Header.Set("Authorization", c.authz)
		}
		rec := httptest.NewRecorder()
		if c.before != "" {
			rec.Header().Set("Cache-Control", c.before)
		}
		e.guard.Handler(ok).ServeHTTP(rec, req)
		if got := rec.Result().Header.Get("Cache-Control"); rec.Code != 200 || got != c.want {
			t.Errorf("%s with Cache-Control %q before: %d, Cache-Control %q, want %q", c.path[:min(len(c.path), 20)], c.before, rec.Code, got, c.want)
		}
	}
}

func TestValidTokenPutsClaimsInContext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var got *claims.Claims
	h := e.guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = claims.FromContext(r.Context())
	}))
	tok := e.iss.Mint(jwkstest.WithScopes("notes:read", "notes:write"), jwkstest.WithClaim("scp", []string{"extra"}))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || got == nil {
		t.Fatalf("status %d, claims %v", rec.Code, got)
	}
	if got.Subject != "user-123" || got.Issuer != e.iss.URL() || got.ClientID != "test-client" ||
		strings.Join(got.Scopes, " ") != "notes:read notes:write extra" {
		t.Fatalf("claims = %+v", got)
	}
	c, err := e.guard.Verify(req)
	if err != nil || c.Subject != "user-123" {
		t.Fatalf("Verify = %v, %v", c, err)
	}
}

func TestEveryAlgorithm(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	e := newEnv(t)
	algs := keyalg.Supported
	// The keys are new to the cache: the first request's unknown-kid
	// refresh finds them all (later ones fall within the cooldown).
	for _, alg := range algs {
		e.iss.Rotate(alg)
	}
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithTokenAlgorithm(alg)))...)
			if r.Status != 200 {
				t.Fatalf("%s: %+v (%v)", alg, r, e.last)
			}
		})
	}
}

// payload is a valid claims set with over applied (jwkjson.Override).
func (e *env) payload(over map[string]any) map[string]any {
	now := time.Now().Unix()
	return jwkjson.Override(map[string]any{"iss": e.iss.URL(), "sub": "user-123", "aud": aud, "iat": now, "exp": now + 300, "client_id": "c"}, over)
}

func TestExpiredUnknownKIDCausesNoFetch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.iss.JWKSFetches()
	e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithKID("new")))...)
	e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("iss", "https://x"), jwkstest.WithKID("new2")))...)
	if n := e.iss.JWKSFetches() - before; n != 0 {
		t.Fatalf("tokens failing key-free checks caused %d fetches", n)
	}
}

func TestLeeway(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithLeeway(30*time.Second))
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithExpiresIn(-10*time.Second)))...); r.Status != 200 {
		t.Fatalf("token 10s past exp within 30s leeway: %+v", r)
	}
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithExpiresIn(-31*time.Second)))...), expired)
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("nbf", time.Now().Add(20*time.Second).Unix())))...); r.Status != 200 {
		t.Fatalf("nbf 20s ahead within leeway: %+v", r)
	}
	// A fixed clock moves the window.
	fixed := newEnvFor(t, e.iss, true, middleware.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	check(t, fixed.do(t, "GET", "/api/me", bearer(e.iss.Mint())...), expired)
}

func TestKeysUnavailable(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	iss.SetFault(jwkstest.FaultDown)
	e := newEnvFor(t, iss, false, middleware.WithRetryAfter(7*time.Second))
	tok := e.iss.Mint()
	unavailable := guardtest.Unavailable("7")
	check(t, e.do(t, "GET", "/api/me", bearer(tok)...), unavailable)
	if !errors.Is(e.last, middleware.ErrKeysUnavailable) {
		t.Fatalf("error = %v", e.last)
	}
	var me *middleware.Error
	if !errors.As(e.last, &me) || me.RetryAfter() != 7*time.Second {
		t.Fatalf("RetryAfter of %v, want 7s", e.last)
	}
	// Whatever the token holds: the contract says a token that arrives
	// before any keys gets 503.
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour)))...), unavailable)
	check(t, e.do(t, "GET", "/api/me", bearer("not.a.jwt")...), unavailable)
	// A malformed request is still 400.
	check(t, e.do(t, "GET", "/api/me", "Authorization", "Bearer a b"), badRequest)
	// No token is still "no credentials", not 503.
	check(t, e.do(t, "GET", "/api/me"), noCredentials)
	iss.SetFault(jwkstest.FaultNone)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	check(t, e.do(t, "GET", "/api/me", bearer(tok)...), accepted)
}

func TestKeyRotationPickedUpOnFirstRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before := e.iss.JWKSFetches()
	e.iss.Rotate("RS256")
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...), accepted)
	if n := e.iss.JWKSFetches() - before; n != 1 {
		t.Fatalf("rotation cost %d fetches, want 1", n)
	}
}

// RFC 7517 §4.5: a JWKS may publish one kid for keys of different types
// that the issuer treats as alternatives. A token verifies with the key of
// its alg's type whichever the JWKS lists first, from the token cache too;
// a token whose alg fits none of the kid's keys is refused as any key
// mismatch is, and its refreshes are those of an unknown kid (at most one
// per cooldown, for every kid and alg together).
func TestOneKIDForKeysOfTwoTypes(t *testing.T) {
	t.Parallel()
	const kid = "k1"
	rsaKey, ecKey := testkeys.RSA(), testkeys.For("ES256")
	rsaJWK := jwkstest.PublicJWK(rsaKey.Public(), kid, map[string]any{"alg": "RS256"})
	ecJWK := jwkstest.PublicJWK(ecKey.Public(), kid, nil)
	for name, keys := range map[string][]json.RawMessage{
		"RSA first": {rsaJWK, ecJWK},
		"EC first":  {ecJWK, rsaJWK},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
			t.Cleanup(iss.Close)
			body, _ := json.Marshal(map[string]any{"keys": keys})
			hostile.Of(iss).SetJWKSBody(body)
			e := newEnvFor(t, iss, true)
			tok := func(alg string, key crypto.Signer) string {
				return iss.Mint(jwkstest.WithKID(kid), jwkstest.WithTokenAlgorithm(alg), jwkstest.WithSigningKey(key))
			}
			before := iss.JWKSFetches()
			for range 2 { // the second time from the token cache
				for alg, key := range map[string]crypto.Signer{"RS256": rsaKey, "ES256": ecKey} {
					if r := e.do(t, "GET", "/api/me", bearer(tok(alg, key))...); r.Status != 200 {
						t.Fatalf("a %s token: %+v (%v)", alg, r, e.last)
					}
				}
			}
			if n := iss.JWKSFetches() - before; n != 0 {
				t.Fatalf("tokens of the kid's keys caused %d fetches", n)
			}
			// ES384 and EdDSA fit neither key, PS256 not the RSA key's JWK
			// alg: each is refused as a key of another type always was.
			for range 2 {
				for alg, key := range map[string]crypto.Signer{"ES384": testkeys.For("ES384"), "EdDSA": testkeys.For("EdDSA"), "PS256": rsaKey} {
					check(t, e.do(t, "GET", "/api/me", bearer(tok(alg, key))...), invalid(guardtest.DescKeyMismatch))
					if !errors.Is(e.last, middleware.ErrKeyMismatch) {
						t.Fatalf("a %s token: %v, want ErrKeyMismatch", alg, e.last)
					}
				}
			}
			if n := iss.JWKSFetches() - before; n > 1 {
				t.Fatalf("tokens the kid has no key for caused %d fetches within the cooldown, want at most 1", n)
			}
		})
	}
}

func TestStrictType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithStrictType())
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...); r.Status != 200 {
		t.Fatalf("at+jwt refused in strict mode: %+v", r)
	}
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithHeader("typ", "Application/AT+JWT")))...); r.Status != 200 {
		t.Fatalf("typ compared case-sensitively: %+v", r)
	}
	for _, typ := range []any{"JWT", nil} {
		check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithHeader("typ", typ)))...), invalid(guardtest.DescType))
	}
	lax := newEnvFor(t, e.iss, true)
	for _, typ := range []any{"JWT", "jwt", nil} {
		if r := lax.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithHeader("typ", typ)))...); r.Status != 200 {
			t.Fatalf("typ %v refused by default: %+v", typ, r)
		}
	}
}

func TestAlgorithmAllowList(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithAlgorithms("ES256"))
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...), invalid(guardtest.DescAlgorithm))
	e.iss.Rotate("ES256")
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithTokenAlgorithm("ES256")))...); r.Status != 200 {
		t.Fatalf("allowed ES256 refused: %+v", r)
	}
}

func TestNewRefusesUnsafeConfiguration(t *testing.T) {
	t.Parallel()
	iss := jwkstest.NewIssuer()
	defer iss.Close()
	keys, err := jwks.New(context.Background(), iss.URL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	for name, tc := range map[string]struct {
		keys middleware.KeySet
		iss  string
		aud  []string
		opts []middleware.Option
	}{
		"nil keys":     {nil, "https://i", []string{"a"}, nil},
		"no issuer":    {keys, "", []string{"a"}, nil},
		"no audience":  {keys, "https://i", nil, nil},
		"empty aud":    {keys, "https://i", []string{""}, nil},
		"HS256":        {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithAlgorithms("RS256", "HS256")}},
		"none":         {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithAlgorithms("none")}},
		"no algs":      {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithAlgorithms()}},
		"CRLF realm":   {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithRealm("a\r\nX-Evil: 1")}},
		"neg leeway":   {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithLeeway(-time.Second)}},
		"nil handler":  {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithErrorHandler(nil)}},
		"zero maxsize": {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithMaxTokenSize(0)}},
		// Each would refuse tokens the user meant to accept, silently.
		"no types":          {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithTypes()}},
		"types with strict": {keys, "https://i", []string{"a"}, []middleware.Option{middleware.WithTypes("JWT"), middleware.WithStrictType()}},
	} {
		if _, err := middleware.New(tc.keys, tc.iss, tc.aud, tc.opts...); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestChallengeEscapesRealm(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithRealm(`my "quoted" \realm`))
	r := e.do(t, "GET", "/api/me")
	if want := []string{`Bearer realm="my \"quoted\" \\realm"`, `DPoP realm="my \"quoted\" \\realm", algs="` + guardtest.Algs + `"`}; !slices.Equal(r.Challenges, want) {
		t.Fatalf("challenges = %q, want %q", r.Challenges, want)
	}
}

// Without a realm, a challenge that would have no other parameter keeps
// an empty one: RFC 6750 §3 has the Bearer scheme followed by at least one
// auth-param. Found by a fifth review.
func TestEmptyRealmLeavesNoChallengeBare(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithRealm(""))
	if got, want := e.do(t, "GET", "/api/me").Challenges, []string{`Bearer realm=""`, `DPoP algs="` + guardtest.Algs + `"`}; !slices.Equal(got, want) {
		t.Errorf("no credentials: challenges %q, want %q", got, want)
	}
	if got := e.do(t, "GET", "/api/me", "Authorization", "Bearer a.b.c").Challenges; !strings.HasPrefix(got[0], `Bearer error="invalid_token"`) {
		t.Errorf("a refused token: challenges %q, want no realm", got)
	}
}

func TestRequirePanicsOnProgrammingErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, req := range map[string]middleware.Requirement{
		"no scopes":        middleware.Scopes(),
		"empty scope":      middleware.Scopes(""),
		"scope with space": middleware.Scopes("a b"),
		"scope with quote": middleware.AnyScope(`a"`),
		"no audience":      middleware.Audience(),
		"zero value":       {},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Require did not panic", name)
				}
			}()
			e.guard.Require(req)
		}()
	}
}

func TestWriteErrorWithForeignError(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	middleware.WriteError(rec, httptest.NewRequest("GET", "/", nil), errors.New("something else"))
	if got := rec.Result().Header.Values("WWW-Authenticate"); rec.Code != 401 || !slices.Equal(got, guardtest.Invalid(guardtest.DescInvalid).Challenges) {
		t.Fatalf("%d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

func TestLogsNeverContainTheToken(t *testing.T) {
	t.Parallel()
	var logs strings.Builder
	e := newEnv(t, middleware.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	tok := guardtest.Forge(e.iss.Mint())
	e.do(t, "GET", "/api/me", bearer(tok)...)
	out := logs.String()
	if !strings.Contains(out, "request refused") {
		t.Fatalf("refusal not logged: %s", out)
	}
	for _, part := range strings.Split(tok, ".") {
		if strings.Contains(out, part) {
			t.Fatalf("log contains a token part %q: %s", part, out)
		}
	}
	if strings.Contains(out, tok[:40]) {
		t.Fatalf("log contains the token: %s", out)
	}
}

// Keys named by the token itself are never fetched or used: a stranger
// serves a JWKS with the token's kid, and the token points at it (and
// embeds the key) in every way JOSE allows.
func TestHeaderSuppliedKeysAreNeverUsed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	stranger := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer stranger.Close()
	jwksBody, _ := http.Get(stranger.JWKSURL())
	raw, _ := io.ReadAll(jwksBody.Body)
	jwksBody.Body.Close()
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("stranger JWKS: %s", raw)
	}
	stranger.ResetCounters()
	for name, hdr := range map[string]any{
		"jku": stranger.JWKSURL(),
		"x5u": stranger.JWKSURL(),
		"jwk": set.Keys[0],
		"x5c": []string{base64.StdEncoding.EncodeToString([]byte("not a cert, and never read"))},
	} {
		t.Run(name, func(t *testing.T) {
			tok := stranger.Mint(jwkstest.WithClaim("iss", e.iss.URL()), jwkstest.WithHeader(name, hdr))
			check(t, e.do(t, "GET", "/api/me", bearer(tok)...), invalid(guardtest.DescUnknownKey))
			// The same, under a kid our issuer does publish: the signature fails.
			tok = stranger.Mint(jwkstest.WithClaim("iss", e.iss.URL()), jwkstest.WithHeader(name, hdr), jwkstest.WithHeader("kid", e.iss.SigningKID("RS256")))
			check(t, e.do(t, "GET", "/api/me", bearer(tok)...), invalid(guardtest.DescSignature))
		})
	}
	if n := stranger.JWKSFetches() + stranger.DiscoveryFetches(); n != 0 {
		t.Fatalf("the stranger's server was asked %d times", n)
	}
}

// An outer Guard for one issuer does not vouch for a route of another.
func TestNestedGuardsCheckIssuerAndAudience(t *testing.T) {
	t.Parallel()
	a := newEnv(t)
	b := newEnv(t)
	inner := b.guard.Require(middleware.Scopes("x"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	h := a.guard.Handler(inner)
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+a.iss.Mint(jwkstest.WithScopes("x")))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "issuer is not accepted") {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Same issuer, but the inner rule wants another audience.
	inner = a.guard.Require(middleware.Audience(adminAud))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rec = httptest.NewRecorder()
	a.guard.Handler(inner).ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "not meant for this resource") {
		t.Fatalf("%d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// TestNestedGuardsHonourAliasesAndChecks: claims from an outer Guard meet
// the inner Guard's own issuer aliases and its WithClaimsCheck checks.
func TestNestedGuardsHonourAliasesAndChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	serve := func(h http.Handler, tok string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})

	aliased, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithIssuerAliases("issuer.example"))
	if err != nil {
		t.Fatal(err)
	}
	tok := e.iss.Mint(jwkstest.WithClaim("iss", "issuer.example"), jwkstest.WithScopes("x"))
	if rec := serve(aliased.Handler(aliased.Require(middleware.Scopes("x"))(ok)), tok); rec.Code != 200 {
		t.Fatalf("alias through a nested rule: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}

	refuseAll := errors.New("refused by the inner check")
	checked, err := middleware.New(e.keys, e.iss.URL(), []string{aud},
		middleware.WithClaimsCheck(func(*claims.Claims) error { return refuseAll }))
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(e.guard.Handler(checked.Require()(ok)), e.iss.Mint())
	if rec.Code != 401 || !strings.Contains(rec.Header().Get("WWW-Authenticate"), "not accepted by this resource") {
		t.Fatalf("inner claims check skipped: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

func TestB64TrueIsHarmless(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithHeader("b64", true)))...); r.Status != 200 {
		t.Fatalf("b64 true refused: %+v", r)
	}
}

func TestScopeClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithScopeClaims("permissions", "realm_access.roles", "roles", "groups", "entitlements", "tenant.perms",
		`resource_access.api\.example\.com.roles`, `odd\\name`))
	for name, opt := range map[string]jwkstest.MintOption{
		"Auth0 permissions":      jwkstest.WithClaim("permissions", []string{"x", "notes:read"}),
		"Keycloak realm roles":   jwkstest.WithClaim("realm_access", map[string]any{"roles": []string{"notes:read"}}),
		"Entra ID roles":         jwkstest.WithClaim("roles", []string{"notes:read"}),
		"nested space-separated": jwkstest.WithClaim("tenant", map[string]any{"perms": "a notes:read"}),
		"escaped dots (Keycloak client roles)": jwkstest.WithClaim("resource_access",
			map[string]any{"api.example.com": map[string]any{"roles": []string{"notes:read"}}}),
		"escaped backslash": jwkstest.WithClaim(`odd\name`, []string{"notes:read"}),
		// One rule for every claim: a space-separated string is split,
		// whether the claims package has a field for the claim or not.
		"custom space-separated":       jwkstest.WithClaim("permissions", "a notes:read"),
		"roles space-separated":        jwkstest.WithClaim("roles", "a notes:read"),
		"groups space-separated":       jwkstest.WithClaim("groups", "notes:read b"),
		"entitlements space-separated": jwkstest.WithClaim("entitlements", "a notes:read b"),
	} {
		t.Run(name, func(t *testing.T) {
			check(t, e.do(t, "GET", "/api/notes", bearer(e.iss.Mint(opt))...), accepted)
		})
	}
	forbidden := forbidden("notes:read")
	for name, opt := range map[string]jwkstest.MintOption{
		"unlisted claim":       jwkstest.WithClaim("authorities", []string{"notes:read"}),
		"wrong shape":          jwkstest.WithClaim("permissions", 42),
		"numbers":              jwkstest.WithClaim("realm_access", map[string]any{"roles": []int{1}}),
		"path stops too early": jwkstest.WithClaim("realm_access", []string{"notes:read"}),
		// Array elements are taken verbatim, never split, for every claim.
		"roles element with a space":  jwkstest.WithClaim("roles", []string{"a notes:read"}),
		"custom element with a space": jwkstest.WithClaim("permissions", []string{"a notes:read"}),
		// The escaped path names one member "api.example.com", not three.
		"unescaped nesting": jwkstest.WithClaim("resource_access",
			map[string]any{"api": map[string]any{"example": map[string]any{"com": map[string]any{"roles": []string{"notes:read"}}}}}),
	} {
		t.Run(name, func(t *testing.T) {
			check(t, e.do(t, "GET", "/api/notes", bearer(e.iss.Mint(opt))...), forbidden)
		})
	}
	// Without the option, permissions are not scopes.
	plain := newEnvFor(t, e.iss, true)
	check(t, plain.do(t, "GET", "/api/notes", bearer(e.iss.Mint(jwkstest.WithClaim("permissions", []string{"notes:read"})))...), forbidden)
	for _, bad := range []string{"", "a..b", ".a", "a.", `a\`, `a\b`, `\`} {
		if _, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithScopeClaims(bad)); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
}

func TestClientIDAsAudience(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithClientIDAsAudience())
	wrongAud := invalid(guardtest.DescAudience)
	cognito := e.iss.Mint(jwkstest.WithClaim("aud", nil), jwkstest.WithClaim("client_id", aud))
	check(t, e.do(t, "GET", "/api/me", bearer(cognito)...), accepted)
	// An aud that is present decides, whatever client_id says.
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("aud", "https://other"), jwkstest.WithClaim("client_id", aud)))...), wrongAud)
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("aud", nil), jwkstest.WithClaim("client_id", "someone-else")))...), wrongAud)
	// Off by default.
	plain := newEnvFor(t, e.iss, true)
	check(t, plain.do(t, "GET", "/api/me", bearer(cognito)...), wrongAud)
}

var errNotAccessToken = errors.New("token_use is not access")

// TestClaimsCheck: a caller's check (here AWS Cognito's token_use rule)
// refuses a genuine token, with its error kept for logs only, and decides
// before the expiry so an expired ID token is never told to refresh.
func TestClaimsCheck(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	accessOnly := func(c *claims.Claims) error {
		calls.Add(1)
		if use, _ := claims.Get[string](c, "token_use"); use != "access" {
			return errNotAccessToken
		}
		return nil
	}
	e := newEnv(t, middleware.WithClaimsCheck(nil), middleware.WithClaimsCheck(accessOnly))
	rejected := invalid(guardtest.DescNotAccepted)

	access := e.iss.Mint(jwkstest.WithClaim("token_use", "access"))
	check(t, e.do(t, "GET", "/api/me", bearer(access)...), accepted)
	check(t, e.do(t, "GET", "/api/me", bearer(access)...), accepted) // from the token cache
	if n := calls.Load(); n != 1 {
		t.Fatalf("check ran %d times for one token, want 1 (the cache holds checked tokens)", n)
	}

	for name, tok := range map[string]string{
		"ID token":         e.iss.Mint(jwkstest.WithClaim("token_use", "id")),
		"no token_use":     e.iss.Mint(),
		"expired ID token": e.iss.Mint(jwkstest.WithClaim("token_use", "id"), jwkstest.WithExpiresIn(-time.Hour)),
	} {
		t.Run(name, func(t *testing.T) {
			check(t, e.do(t, "GET", "/api/me", bearer(tok)...), rejected)
			if !errors.Is(e.last, middleware.ErrClaimsRejected) || !errors.Is(e.last, middleware.ErrInvalidToken) ||
				!errors.Is(e.last, errNotAccessToken) {
				t.Fatalf("error = %v, want ErrClaimsRejected wrapping the check's error", e.last)
			}
			var me *middleware.Error
			if !errors.As(e.last, &me) || me.Reason() != "claims_rejected" {
				t.Fatalf("Reason = %+v", me)
			}
		})
	}
	// A token the check would pass still gets the expiry hint when expired.
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("token_use", "access"), jwkstest.WithExpiresIn(-time.Hour)))...),
		invalid(guardtest.DescExpired))
	// A forged token never reaches the check.
	before := calls.Load()
	check(t, e.do(t, "GET", "/api/me", bearer(guardtest.Forge(e.iss.Mint(jwkstest.WithClaim("token_use", "id"))))...),
		invalid(guardtest.DescSignature))
	if calls.Load() != before {
		t.Fatal("the check ran on a token whose signature failed")
	}
}

// TestIssuerAliases: an alias is one more exact spelling of the issuer, not
// a looser comparison.
func TestIssuerAliases(t *testing.T) {
	t.Parallel()
	e := newEnv(t, middleware.WithIssuerAliases("issuer.example", "accounts.example"))
	wrongIss := invalid(guardtest.DescIssuer)
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint())...), accepted)
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("iss", "issuer.example")))...), accepted)
	check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("iss", "accounts.example")))...), accepted)
	for _, iss := range []string{"issuer.example/", "ISSUER.EXAMPLE", "https://issuer.example", ""} {
		check(t, e.do(t, "GET", "/api/me", bearer(e.iss.Mint(jwkstest.WithClaim("iss", iss)))...), wrongIss)
		if !errors.Is(e.last, middleware.ErrIssuer) {
			t.Fatalf("iss %q: error %v, want ErrIssuer", iss, e.last)
		}
	}
	if _, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithIssuerAliases("")); err == nil {
		t.Fatal("an empty alias was accepted")
	}
	if got := e.guard.Issuer(); got != e.iss.URL() {
		t.Fatalf("Issuer() = %q", got)
	}
}

// serveOnce sends one request with tok as its bearer token through h.
func serveOnce(h http.Handler, path, tok string) response {
	return guardtest.Serve(h, guardtest.Case{Path: path, Header: http.Header{"Authorization": {"Bearer " + tok}}})
}

// A nested rule of another Guard verifies the token again under its own
// policy: an outer default Guard does not vouch for what the inner one's
// WithStrictType or WithAlgorithms would refuse on its own.
func TestNestedGuardKeepsItsOwnHeaderPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	strict, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithStrictType())
	if err != nil {
		t.Fatal(err)
	}
	esOnly, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithAlgorithms("ES256"))
	if err != nil {
		t.Fatal(err)
	}
	jwtTyped := e.iss.Mint(jwkstest.WithHeader("typ", "JWT"))
	for name, tc := range map[string]struct {
		inner *middleware.Guard
		tok   string
		want  error
	}{
		"strict type, typ JWT": {strict, jwtTyped, middleware.ErrTokenType},
		"ES256 only, RS256":    {esOnly, e.iss.Mint(), middleware.ErrAlgorithm},
	} {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Header.Set("Authorization", "Bearer "+tc.tok)
			if _, err := tc.inner.Verify(req); !errors.Is(err, tc.want) {
				t.Fatalf("the inner Guard on its own: %v, want %v", err, tc.want)
			}
			alone := serveOnce(tc.inner.Handler(ok), "/", tc.tok)
			nested := serveOnce(e.guard.Handler(tc.inner.Require()(ok)), "/", tc.tok)
			if nested.Status != 401 || !alone.Equal(nested) {
				t.Fatalf("nested: %+v\n alone: %+v", nested, alone)
			}
			// The outer Guard alone accepts it: the refusal is the inner one's.
			if rec := serveOnce(e.guard.Handler(ok), "/", tc.tok); rec.Status != 200 {
				t.Fatalf("outer alone: %d", rec.Status)
			}
		})
	}
}

// Scopes that an outer Guard's WithScopeClaims merged in are the outer
// Guard's business: a nested Guard that never opted in grants nothing from
// a role.
func TestNestedGuardDoesNotInheritScopeClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	roles, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithScopeClaims("roles"))
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	tok := e.iss.Mint(jwkstest.WithClaim("roles", []string{"admin"}))
	if rec := serveOnce(e.guard.Require(middleware.Scopes("admin"))(ok), "/", tok); rec.Status != 403 {
		t.Fatalf("alone: %d, want 403", rec.Status)
	}
	if rec := serveOnce(roles.Handler(e.guard.Require(middleware.Scopes("admin"))(ok)), "/", tok); rec.Status != 403 {
		t.Fatalf("nested under a Guard with WithScopeClaims(roles): %d, want 403", rec.Status)
	}
	// The outer Guard's own rules still see the role.
	if rec := serveOnce(roles.Handler(roles.Require(middleware.Scopes("admin"))(ok)), "/", tok); rec.Status != 200 {
		t.Fatalf("the opted-in Guard's own rule: %d, want 200", rec.Status)
	}
}

// The expired hint is only for a token that would pass once renewed: an
// Audience route nested in the same Guard's Handler refuses an expired
// token for another audience as not meant for it, as it does on its own.
func TestExpiredHintOnlyWhereTheRouteWouldAccept(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/admin/stats", e.guard.Require(middleware.Audience(adminAud), middleware.Scopes("admin"))(ok))
	mux.Handle("/api/me", ok)
	sub := http.NewServeMux()
	sub.Handle("/deep/admin", e.guard.Require(middleware.Audience(adminAud))(ok))
	mux.Handle("/deep/", sub)
	h := e.guard.Handler(mux)
	expired := e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithScopes("admin"))
	hint, notMeant := invalid(guardtest.DescExpired), invalid(guardtest.DescAudience)
	for path, want := range map[string]response{
		"/admin/stats": notMeant, // as alone
		"/deep/admin":  notMeant, // through a mux in the mux
		"/api/me":      hint,     // the Guard's own audience: a renewed token passes
	} {
		if got := serveOnce(h, path, expired); !want.Equal(got) {
			t.Errorf("%s:\n got  %+v\n want %+v", path, got, want)
		}
	}
	if got := serveOnce(e.guard.Require(middleware.Audience(adminAud))(ok), "/", expired); !notMeant.Equal(got) {
		t.Fatalf("the route alone: %+v", got)
	}
	// An expired admin token on the admin route gets the hint.
	adminExpired := e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour), jwkstest.WithClaim("aud", []string{aud, adminAud}), jwkstest.WithScopes("admin"))
	if got := serveOnce(h, "/admin/stats", adminExpired); !hint.Equal(got) {
		t.Fatalf("expired token with both audiences: %+v, want the hint", got)
	}
}

// Claims put in the context by application code are not a verified token:
// a rule verifies the request's own token unless the Guard opts in.
func TestContextClaimsAreNotTrustedByDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var got *claims.Claims
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got, _ = claims.FromContext(r.Context()) })
	planted := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := &claims.Claims{Issuer: e.iss.URL(), Subject: "mallory", Audience: []string{aud}, Scopes: claims.Scopes{"admin"}}
			next.ServeHTTP(w, r.WithContext(claims.NewContext(r.Context(), c)))
		})
	}
	rule := e.guard.Require(middleware.Scopes("admin"))(ok)
	req := httptest.NewRequest("GET", "/", nil)
	rec := httptest.NewRecorder()
	planted(rule).ServeHTTP(rec, req)
	if rec.Code != 401 || got != nil {
		t.Fatalf("planted claims without a token: %d (claims %v), want 401", rec.Code, got)
	}
	trusting, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithInsecureContextClaims())
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	planted(trusting.Require(middleware.Scopes("admin"))(ok)).ServeHTTP(rec, req)
	if rec.Code != 200 || got == nil || got.Subject != "mallory" {
		t.Fatalf("opted in: %d %v, want 200", rec.Code, got)
	}
	// Opted in, the issuer and audience still count.
	rec = httptest.NewRecorder()
	planted(trusting.Require(middleware.Audience(adminAud))(ok)).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("opted in, other audience: %d, want 401", rec.Code)
	}
}

// outcomeLog records every Metrics.Outcome call; reasons, issuers and
// pairs each return what the calls since the last of them said.
type outcomeLog struct {
	mu  sync.Mutex
	got []outcome
}

type outcome struct{ issuer, reason string }

func (o *outcomeLog) Outcome(iss, r string) {
	o.mu.Lock()
	o.got = append(o.got, outcome{iss, r})
	o.mu.Unlock()
}
func (o *outcomeLog) TokenCache(bool) {}

func (o *outcomeLog) take(f func(outcome) string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, c := range o.got {
		out = append(out, f(c))
	}
	o.got = nil
	return out
}

func (o *outcomeLog) reasons() []string { return o.take(func(c outcome) string { return c.reason }) }
func (o *outcomeLog) issuers() []string { return o.take(func(c outcome) string { return c.issuer }) }

// pairs gives each call as "issuer reason".
func (o *outcomeLog) pairs() []string {
	return o.take(func(c outcome) string { return c.issuer + " " + c.reason })
}

// One rule's 403 names every scope its requirements name, whichever of
// them failed (RFC 6750 §3: "the required scope"): a client that asks for
// exactly what it is told would otherwise trade one requirement's scope
// for the other's for ever. Found by a fifth review.
func TestOneRuleNamesAllItsScopes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := e.guard.Require(middleware.Scopes("a"), middleware.Scopes("b", "a"), middleware.AnyScope("c", "d"))(ok)
	for _, have := range []string{"a", "b", "a b", "a c d", ""} {
		var opts []jwkstest.MintOption
		if have != "" {
			opts = append(opts, jwkstest.WithScopes(strings.Fields(have)...))
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Authorization", "Bearer "+e.iss.Mint(opts...))
		check(t, guardtest.Serve(h, guardtest.Case{Path: "/", Header: req.Header}), forbidden("a b c d"))
	}
}

// A request that passes nested rules of one Guard is counted once, and so
// is one the rule directly inside Handler refuses: as that refusal, not
// also as "ok". A route of a ServeMux, or a rule behind the application's
// own handler, counts its refusal besides the Handler's "ok" (a bearer
// request's route is not looked up: that costs more than a cached
// token's check).
func TestNestedRulesCountARequestOnce(t *testing.T) {
	t.Parallel()
	m := &outcomeLog{}
	e := newEnv(t, middleware.WithMetrics(m))
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := e.guard.Handler(e.guard.Require(middleware.Scopes("notes:read"))(e.guard.Require(middleware.AnyScope("notes:read"))(ok)))
	serveOnce(h, "/", e.iss.Mint(jwkstest.WithScopes("notes:read")))
	if got := m.reasons(); !slices.Equal(got, []string{"ok"}) {
		t.Fatalf("passed three rules: outcomes %q, want [ok]", got)
	}
	serveOnce(h, "/", e.iss.Mint())
	if got := m.reasons(); !slices.Equal(got, []string{"insufficient_scope"}) {
		t.Fatalf("refused by a nested rule: outcomes %q", got)
	}
	mux := http.NewServeMux()
	mux.Handle("/notes", e.guard.Require(middleware.Scopes("notes:write"))(ok))
	serveOnce(e.guard.Handler(mux), "/notes", e.iss.Mint())
	if got := m.reasons(); !slices.Equal(got, []string{"ok", "insufficient_scope"}) {
		t.Fatalf("refused by a route of the Handler's ServeMux: outcomes %q", got)
	}
	hidden := e.guard.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.guard.Require(middleware.Scopes("notes:write"))(ok).ServeHTTP(w, r)
	}))
	serveOnce(hidden, "/", e.iss.Mint())
	if got := m.reasons(); !slices.Equal(got, []string{"ok", "insufficient_scope"}) {
		t.Fatalf("refused by a rule behind an application handler: outcomes %q", got)
	}
}

// The *Error an error handler gets is shared by every request refused for
// the same reason; nothing a handler does with it or with the response's
// header can change what the next refusal says.
func TestRefusalsAreImmutable(t *testing.T) {
	t.Parallel()
	env := newEnv(t, middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		var me *middleware.Error
		if errors.As(err, &me) {
			if s := me.Scopes(); len(s) > 0 {
				s[0] = "hijacked"
			}
			if c := me.Challenges(); len(c) > 0 {
				c[0] = "Bearer hijacked"
			}
		}
		middleware.WriteError(w, r, err)
		if v := w.Header()["Www-Authenticate"]; len(v) > 0 {
			v[0] = "Bearer hijacked" // too late for this response: it was written
		}
	}))
	for range 3 {
		check(t, env.do(t, "GET", "/api/notes", bearer(env.iss.Mint())...), forbidden("notes:read"))
		check(t, env.do(t, "GET", "/api/me", bearer(guardtest.Forge(env.iss.Mint()))...), invalid(guardtest.DescSignature))
	}
}

// The transport-free calls give the same verdicts, and the same *Error
// values, as the HTTP entry points, and share the token cache.
func TestVerifyTokenWithoutARequest(t *testing.T) {
	t.Parallel()
	m := &cacheCounter{}
	e := newEnv(t, middleware.WithMetrics(m))
	ctx := context.Background()
	tok := e.iss.Mint(jwkstest.WithScopes("notes:read"))
	c, err := e.guard.VerifyToken(ctx, tok)
	if err != nil || c.Subject != "user-123" || !c.Scopes.Has("notes:read") {
		t.Fatalf("VerifyToken = %+v, %v", c, err)
	}
	if _, err := e.guard.VerifyToken(ctx, tok); err != nil || m.hits.Load() != 1 {
		t.Fatalf("second VerifyToken: %v, cache hits %d, want 1", err, m.hits.Load())
	}
	for name, tc := range map[string]struct {
		tok  string
		want error
		path string
	}{
		"expired": {e.iss.Mint(jwkstest.WithExpiresIn(-time.Hour)), middleware.ErrTokenExpired, "/api/me"},
		"forged":  {guardtest.Forge(tok), middleware.ErrSignature, "/api/me"},
		"garbage": {"not.a.jwt", middleware.ErrMalformedToken, "/api/me"},
		"bytes":   {"a b", middleware.ErrMalformedRequest, "/api/me"},
	} {
		_, err := e.guard.VerifyToken(ctx, tc.tok)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
			continue
		}
		if tc.tok == "a b" {
			continue // not a header value a client could send as one token
		}
		var me *middleware.Error
		errors.As(err, &me)
		if got := e.do(t, "GET", tc.path, bearer(tc.tok)...); !slices.Equal(got.Challenges, me.Challenges()) || got.Status != me.Status() {
			t.Errorf("%s: HTTP said %d %q, VerifyToken %d %q", name, got.Status, got.Challenges, me.Status(), me.Challenges())
		}
	}
	admin := e.guard.Rule(middleware.Audience(adminAud), middleware.Scopes("admin"))
	adminTok := e.iss.Mint(jwkstest.WithClaim("aud", adminAud), jwkstest.WithScopes("admin"))
	if _, err := admin.VerifyToken(ctx, adminTok); err != nil {
		t.Fatalf("admin rule: %v", err)
	}
	if _, err := admin.VerifyToken(ctx, tok); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("admin rule, API token: %v", err)
	}
	if _, err := e.guard.VerifyToken(ctx, adminTok); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("Guard, admin token: %v", err)
	}
	// Verify once, authorize per operation.
	write := e.guard.Rule(middleware.Scopes("notes:write"))
	var se *middleware.Error
	if err := write.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrInsufficientScope) || !errors.As(err, &se) || !slices.Equal(se.Scopes(), []string{"notes:write"}) {
		t.Fatalf("Authorize: %v", err)
	}
	if err := e.guard.Rule(middleware.Scopes("notes:read")).Authorize(t.Context(), c); err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	if err := admin.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("Authorize for another audience: %v", err)
	}
}

// Authorize checks the time too: claims verified once may expire during a
// long exchange, or the clock step back before their iat; nil claims are
// no credentials. As VerifyToken does, it
// checks the audience first: the expired hint would send the client to
// refresh a token the rule refuses anyway.
func TestAuthorizeChecksTheTime(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	e := newEnv(t, middleware.WithClock(clock))
	c, err := e.guard.VerifyToken(context.Background(), e.iss.Mint(jwkstest.WithExpiresIn(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	ru := e.guard.Rule()
	if err := ru.Authorize(t.Context(), c); err != nil {
		t.Fatalf("fresh claims: %v", err)
	}
	now = now.Add(2 * time.Minute) // past exp and the 30 s leeway
	if err := ru.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrTokenExpired) {
		t.Fatalf("claims past exp: %v, want ErrTokenExpired", err)
	}
	admin := e.guard.Rule(middleware.Audience(adminAud))
	if err := admin.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("claims past exp, for another audience: %v, want ErrAudience", err)
	}
	if _, err := admin.VerifyToken(t.Context(), e.iss.Mint(jwkstest.WithExpiresIn(-time.Minute))); !errors.Is(err, middleware.ErrAudience) {
		t.Fatalf("VerifyToken of an expired token for another audience: %v, want ErrAudience", err)
	}
	if err := ru.Authorize(t.Context(), nil); !errors.Is(err, middleware.ErrNoToken) {
		t.Fatalf("nil claims: %v, want ErrNoToken", err)
	}
	// The clock stepped back before iat: what VerifyToken says.
	now = now.Add(-time.Hour)
	if err := ru.Authorize(t.Context(), c); !errors.Is(err, middleware.ErrIssuedInFuture) {
		t.Fatalf("claims issued an hour from now: %v, want ErrIssuedInFuture", err)
	}
}

func TestLeewayAccessor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.guard.Leeway(); got != middleware.DefaultLeeway {
		t.Errorf("default: %v", got)
	}
	g, err := middleware.New(e.keys, e.iss.URL(), []string{aud}, middleware.WithLeeway(7*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Leeway(); got != 7*time.Second {
		t.Errorf("WithLeeway(7s): %v", got)
	}
}

// The debug line of a refusal names the issuer of a token the Guard
// verified, whichever rule refused it: a route's rule that Handler asks
// early included.
func TestRefusalLogNamesTheVerifiedIssuer(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := newEnv(t, middleware.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/notes", e.guard.Require(middleware.Scopes("notes:write"))(ok))
	for name, h := range map[string]http.Handler{
		"over a ServeMux":        e.guard.Handler(mux),
		"directly over the rule": e.guard.Handler(e.guard.Require(middleware.Scopes("notes:write"))(ok)),
	} {
		buf.Reset()
		if resp := serveOnce(h, "/notes", e.iss.Mint()); resp.Status != http.StatusForbidden {
			t.Fatalf("%s: %d", name, resp.Status)
		}
		if line := buf.String(); !strings.Contains(line, "issuer="+e.iss.URL()) {
			t.Errorf("%s: the refusal is logged without the token's issuer: %s", name, strings.TrimSpace(line))
		}
	}
	// A token that names none of the Guard's issuers: none named (a forged
	// token of one of them names it: TestRefusalLogNamesTheIssuerMetricsDo).
	buf.Reset()
	serveOnce(e.guard.Handler(ok), "/", e.iss.Mint(jwkstest.WithClaim("iss", "https://stranger.example")))
	if line := buf.String(); !strings.Contains(line, `issuer=""`) {
		t.Errorf("the refusal of a stranger's token names an issuer: %s", strings.TrimSpace(line))
	}
}

// The debug line of a refusal by one Require route names the issuer its
// metrics do: the verified token's (expired, a 403, a DPoP proof
// refused), the one a forged token claims (it is one of the Guard's; the
// signature refused it), and none without a token. It said issuer=""
// for all of them. Found by a review.
func TestRefusalLogNamesTheIssuerMetricsDo(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	m := &outcomeLog{}
	e := newEnv(t, middleware.WithMetrics(m), middleware.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	h := e.guard.Require(middleware.Scopes("notes:read"))(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	p := guardtest.NewProver("ES256")
	bound := e.iss.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}), jwkstest.WithScopes("notes:read"))
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	for _, c := range []struct {
		name   string
		header http.Header
		status int
		issuer string
	}{
		{"expired", bearer(e.iss.Mint(jwkstest.WithScopes("notes:read"), jwkstest.WithExpiresIn(-time.Hour))), 401, e.iss.URL()},
		{"insufficient scope", bearer(e.iss.Mint()), 403, e.iss.URL()},
		{"DPoP proof for another method", http.Header{"Authorization": {"DPoP " + bound},
			"Dpop": {p.Proof("POST", "http://example.com/notes", bound, nil, nil)}}, 401, e.iss.URL()},
		{"forged", bearer(guardtest.Forge(e.iss.Mint(jwkstest.WithScopes("notes:read")))), 401, e.iss.URL()},
		{"no token", nil, 401, ""},
	} {
		buf.Reset()
		if resp := guardtest.Serve(h, guardtest.Case{Path: "/notes", Header: c.header}); resp.Status != c.status {
			t.Fatalf("%s: %d, want %d", c.name, resp.Status, c.status)
		}
		if got := m.issuers(); !slices.Equal(got, []string{c.issuer}) {
			t.Errorf("%s: metrics issuers %q, want %q", c.name, got, c.issuer)
		}
		want := "issuer=" + c.issuer + " "
		if c.issuer == "" {
			want = `issuer="" `
		}
		if line := buf.String(); !strings.Contains(line, "request refused") || !strings.Contains(line, want) {
			t.Errorf("%s: want %s in the refusal's log line: %s", c.name, want, strings.TrimSpace(line))
		}
	}
}

// A NumericDate's fraction counts (RFC 7519 §2): with no leeway, a token
// whose nbf is 0.9 s away is not valid yet, and one whose exp passed
// 0.1 s ago is expired, on the fresh path and from the token cache.
// (Truncated to the second, the nbf let it in 0.9 s early.)
func TestFractionalDatesAreExact(t *testing.T) {
	t.Parallel()
	iss, keys := issuerWithKeys(t)
	now := time.Unix(1_800_000_000, 0)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	g := newGuard(t, keys, iss.URL(), middleware.WithLeeway(0), middleware.WithClock(func() time.Time { return time.Unix(0, clock.Load()) }))
	early := iss.Mint(jwkstest.WithClaim("nbf", float64(now.Unix())+0.9), jwkstest.WithClaim("exp", float64(now.Unix())+60))
	if _, err := verifyWith(g, early); !errors.Is(err, middleware.ErrNotYetValid) {
		t.Fatalf("nbf 0.9 s away: %v", err)
	}
	late := iss.Mint(jwkstest.WithClaim("exp", float64(now.Unix())+0.5))
	if _, err := verifyWith(g, late); err != nil {
		t.Fatalf("exp 0.5 s away: %v", err)
	}
	clock.Store(now.Add(600 * time.Millisecond).UnixNano()) // cached now
	if _, err := verifyWith(g, late); !errors.Is(err, middleware.ErrTokenExpired) {
		t.Fatalf("exp 0.1 s past, from the cache: %v", err)
	}
	if _, err := verifyWith(g, early); !errors.Is(err, middleware.ErrNotYetValid) {
		t.Fatalf("nbf 0.3 s away: %v", err)
	}
	clock.Store(now.Add(950 * time.Millisecond).UnixNano())
	if _, err := verifyWith(g, early); err != nil {
		t.Fatalf("nbf 0.05 s past: %v", err)
	}
}
