package interop_test

// The major identity providers' access-token shapes, verified with the
// middleware's general options alone, without a preset (presets_test.go
// tests those): each token has the claim layout its provider documents
// (the URL is above each test), re-signed by jwtguard's test issuer
// (jwks/jwkstest) served at an issuer URL of the provider's form, and each
// test shows the configuration that verifies it and reads its scopes.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// ---- helpers ----

// newIssuer starts a test issuer whose identifier is its loopback URL
// followed by path, standing in for the provider's issuer URL.
func newIssuer(t *testing.T, path string) *jwkstest.Issuer {
	t.Helper()
	iss := jwkstest.NewIssuer(jwkstest.WithPath(path))
	t.Cleanup(iss.Close)
	return iss
}

// sign signs the provider-shaped header and claims with the issuer's
// current RS256 key, exactly as given (the kid is the test key's).
func sign(t *testing.T, iss *jwkstest.Issuer, header, payload map[string]any) string {
	t.Helper()
	if header["alg"] == nil {
		t.Fatal("fixture header without alg")
	}
	header["kid"] = iss.SigningKID(header["alg"].(string))
	tok := iss.Sign(header["kid"].(string), header, payload)
	return tok
}

// waitReady fails the test unless the key cache was made (err is nil) and
// has fetched its first key set within 10 s; the cache is closed when the
// test ends.
func waitReady(t *testing.T, keys *jwks.Cache, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := keys.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
}

// guard is middleware.New, failing the test on a configuration error.
func guard(t *testing.T, keys middleware.KeySet, issuer string, audiences []string, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	g, err := middleware.New(keys, issuer, audiences, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// outcome is what a route protected by g.Require(reqs...) answered.
type outcome struct {
	Status    int
	Challenge string
	Claims    *claims.Claims // the verified claims the handler saw; nil unless 200
}

func call(t *testing.T, g *middleware.Guard, tok string, reqs ...middleware.Requirement) outcome {
	t.Helper()
	var seen *claims.Claims
	h := g.Require(reqs...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = claims.FromContext(r.Context())
	}))
	req := httptest.NewRequest("GET", "/api/notes", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return outcome{rec.Code, rec.Header().Get("WWW-Authenticate"), seen}
}

// wantOK checks a 200 whose verified claims carry exactly scopes.
func wantOK(t *testing.T, what string, o outcome, scopes ...string) *claims.Claims {
	t.Helper()
	if o.Status != 200 || o.Claims == nil {
		t.Fatalf("%s: %d %s, want 200", what, o.Status, o.Challenge)
	}
	if !slices.Equal([]string(o.Claims.Scopes), scopes) {
		t.Fatalf("%s: scopes %q, want %q", what, o.Claims.Scopes, scopes)
	}
	return o.Claims
}

// wantRefused checks a refusal's status and challenge against the
// library's one table (internal/guardtest).
func wantRefused(t *testing.T, what string, o outcome, want guardtest.Response) {
	t.Helper()
	if o.Status != want.Status || o.Challenge != want.Challenges[0] {
		t.Fatalf("%s: %d %s, want %d with %s", what, o.Status, o.Challenge, want.Status, want.Challenges[0])
	}
}

var notMeantForUs = guardtest.Invalid(guardtest.DescAudience)

func lacks(scope string) guardtest.Response { return guardtest.Forbidden(scope) }

// times returns iat and exp for a token valid for the next hour.
func times() (iat, exp int64) {
	now := time.Now().Unix()
	return now, now + 3600
}

// ---- the providers ----

// Auth0: https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
// (both profiles' sample tokens) and
// https://auth0.com/docs/get-started/apis/enable-role-based-access-control-for-apis
// (RBAC "Add Permissions in the Access Token": a "permissions" array).
// The issuer is https://{yourDomain}/ WITH its trailing slash; aud is an
// array holding the API identifier and the /userinfo audience.
func TestAuth0(t *testing.T) {
	iss := newIssuer(t, "/") // https://my-domain.auth0.com/
	keys := iss.NewCache()   // jwks.New(ctx, issuer): discovery, as at start-up
	const apiID = "https://notes.example.com"
	iat, exp := times()
	t.Run("access_token_authz profile", func(t *testing.T) {
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
			"iss":         iss.URL(),
			"sub":         "auth0|5f7c8ec7c33c6c004bbafe82",
			"aud":         []string{apiID, iss.URL() + "userinfo"},
			"azp":         "my_client_id",
			"iat":         iat,
			"exp":         exp,
			"scope":       "openid profile read:notes",
			"permissions": []string{"read:notes", "write:notes"},
		})
		g := guard(t, keys, iss.URL(), []string{apiID}, middleware.WithScopeClaims("permissions"))
		wantOK(t, "scope and permissions", call(t, g, tok, middleware.Scopes("write:notes")),
			"openid", "profile", "read:notes", "write:notes")
		// Without the option, a permission that is not also a scope is
		// not seen.
		plain := guard(t, keys, iss.URL(), []string{apiID})
		wantRefused(t, "permissions without WithScopeClaims", call(t, plain, tok, middleware.Scopes("write:notes")), lacks("write:notes"))
	})
	t.Run("rfc9068_profile machine-to-machine", func(t *testing.T) {
		// The RFC 9068 profile: typ at+jwt and client_id instead of azp,
		// so WithStrictType can be on. A client-credentials token's sub is
		// "<client_id>@clients".
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "at+jwt"}, map[string]any{
			"iss":       iss.URL(),
			"sub":       "my_client_id@clients",
			"aud":       apiID,
			"client_id": "my_client_id",
			"iat":       iat,
			"exp":       exp,
			"jti":       "73WakrfVbNJBaAmhQtEeDv",
			"scope":     "read:notes",
			"gty":       "client-credentials",
		})
		g := guard(t, keys, iss.URL(), []string{apiID}, middleware.WithStrictType(), middleware.WithScopeClaims("permissions"))
		c := wantOK(t, "M2M token", call(t, g, tok, middleware.Scopes("read:notes")), "read:notes")
		if c.ClientID != "my_client_id" {
			t.Fatalf("client_id %q", c.ClientID)
		}
	})
	t.Run("issuer without its trailing slash is another issuer", func(t *testing.T) {
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
			"iss": iss.URL(), "sub": "auth0|1", "aud": apiID, "iat": iat, "exp": exp,
		})
		g := guard(t, keys, strings.TrimSuffix(iss.URL(), "/"), []string{apiID})
		wantRefused(t, "issuer configured without the slash", call(t, g, tok), guardtest.Invalid(guardtest.DescIssuer))
	})
}

// Okta (custom authorization server): https://developer.okta.com/docs/reference/api/oidc/#access-token
// ("Reserved claims in the payload section": ver, jti "AT.…", iss, aud, iat,
// exp, cid, uid, scp as an ARRAY, auth_time, sub). The issuer is
// https://{yourOktaDomain}/oauth2/{authorizationServerId} ("default" for the
// default server), whose default audience is api://default. The header has
// no typ. Okta names the client "cid", not client_id.
func TestOkta(t *testing.T) {
	iss := newIssuer(t, "/oauth2/default")
	issuer := iss.ServerURL() + "/oauth2/default" // "https://{yourOktaDomain}/oauth2/default"
	keys := iss.NewCache()                        // jwks.New(ctx, issuer): discovery, as at start-up
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256"}, map[string]any{
		"ver":       1,
		"jti":       "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE",
		"iss":       issuer,
		"aud":       "api://default",
		"iat":       iat,
		"exp":       exp,
		"cid":       "0oa1234567890abcdef",
		"uid":       "00u1234567890abcdef",
		"scp":       []string{"openid", "notes:read"},
		"auth_time": iat - 60,
		"sub":       "alice@example.com",
	})
	g := guard(t, keys, issuer, []string{"api://default"})
	c := wantOK(t, "scp array", call(t, g, tok, middleware.Scopes("notes:read")), "openid", "notes:read")
	wantRefused(t, "missing scope", call(t, g, tok, middleware.Scopes("notes:write")), lacks("notes:write"))
	// client_id is empty: the client is in "cid".
	if cid, err := claims.Get[string](c, "cid"); c.ClientID != "" || err != nil || cid != "0oa1234567890abcdef" {
		t.Fatalf("ClientID %q, cid %q %v", c.ClientID, cid, err)
	}
}

// Microsoft Entra ID: https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference
// (header typ always "JWT", x5t only in v1.0; scp "a space separated list
// of scopes" for user tokens; roles an array, used by the client
// credentials flow "in place of user scopes"; aud in v2.0 "always the
// client ID of the API", in v1.0 the client ID or the App ID URI; iss of a
// v2.0 token ends in /v2.0).
const (
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraAPI    = "6e74172b-be56-4843-9ff4-e66a39bb12e3" // the API's application (client) ID
)

// Entra ID v2.0 tokens: issuer https://login.microsoftonline.com/{tenant}/v2.0.
func TestEntraIDv2(t *testing.T) {
	iss := newIssuer(t, "/"+entraTenant+"/v2.0")
	// "https://login.microsoftonline.com/" + tenant + "/v2.0"
	issuer := iss.ServerURL() + "/" + entraTenant + "/v2.0"
	keys := iss.NewCache()
	g := guard(t, keys, issuer, []string{entraAPI}, middleware.WithScopeClaims("roles"))
	iat, exp := times()
	base := func() map[string]any {
		return map[string]any{
			"aud": entraAPI, "iss": issuer, "iat": iat, "nbf": iat, "exp": exp,
			"aio": "AWQAm/8TAAAA", "azp": "1950a258-227b-4e31-a9cf-717495945fc2", "azpacr": "1",
			"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "rh": "0.AAAA",
			"tid": entraTenant, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
		}
	}
	t.Run("delegated: scp string", func(t *testing.T) {
		payload := base()
		payload["sub"] = "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ"
		payload["name"] = "Abe Lincoln"
		payload["preferred_username"] = "abeli@microsoft.com"
		payload["scp"] = "Notes.Read Notes.Write"
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, payload)
		wantOK(t, "user token", call(t, g, tok, middleware.Scopes("Notes.Write")), "Notes.Read", "Notes.Write")
	})
	t.Run("app-only: roles", func(t *testing.T) {
		payload := base()
		payload["sub"] = payload["oid"]
		payload["idtyp"] = "app"
		payload["roles"] = []string{"Notes.Read.All"}
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, payload)
		wantOK(t, "app token", call(t, g, tok, middleware.Scopes("Notes.Read.All")), "Notes.Read.All")
		plain := guard(t, keys, issuer, []string{entraAPI})
		wantRefused(t, "roles without WithScopeClaims", call(t, plain, tok, middleware.Scopes("Notes.Read.All")), lacks("Notes.Read.All"))
	})
	t.Run("a token for another API", func(t *testing.T) {
		payload := base()
		payload["sub"] = "x"
		payload["aud"] = "00000003-0000-0000-c000-000000000000" // Microsoft Graph
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, payload)
		wantRefused(t, "Graph token", call(t, g, tok), notMeantForUs)
	})
}

// Multi-tenant Entra ID: an app registration open to other organisations
// gets tokens whose iss names each caller's tenant
// (https://login.microsoftonline.com/{tid}/v2.0), all signed with the keys
// at the common endpoint (https://login.microsoftonline.com/common/discovery/v2.0/keys,
// jwks.NewFromJWKSURL). The issuer template matches iss against the token's
// own tid, and WithTenants names the organisations allowed in.
func TestEntraIDMultiTenant(t *testing.T) {
	iss := newIssuer(t, "/common/v2.0")
	// One key set for every tenant, as at the common endpoint.
	keys, err := jwks.NewFromJWKSURL(context.Background(), iss.JWKSURL(), jwks.WithLogger(slog.New(slog.DiscardHandler)))
	waitReady(t, keys, err)
	const (
		contoso  = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		fabrikam = "9188040d-6c67-4c5b-b112-36a304b66dad"
		stranger = "00000000-0000-0000-0000-0000000000ff"
	)
	// "https://login.microsoftonline.com/{tenantid}/v2.0"
	template := iss.ServerURL() + "/{tenantid}/v2.0"
	issFor := func(tid string) string { return iss.ServerURL() + "/" + tid + "/v2.0" }
	g := guard(t, keys, iss.URL(), []string{entraAPI},
		middleware.WithIssuerTemplate(keys, template, middleware.WithTenants(contoso, fabrikam), middleware.WithScopeClaims("roles")))
	iat, exp := times()
	tok := func(issuer, tid string) string {
		return sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
			"aud": entraAPI, "iss": issuer, "iat": iat, "nbf": iat, "exp": exp, "tid": tid,
			"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "scp": "Notes.Read", "ver": "2.0",
		})
	}
	for _, tid := range []string{contoso, fabrikam} {
		c := wantOK(t, "tenant "+tid, call(t, g, tok(issFor(tid), tid), middleware.Scopes("Notes.Read")), "Notes.Read")
		if c.Issuer != issFor(tid) {
			t.Fatalf("iss %q", c.Issuer)
		}
	}
	notOurIssuer := guardtest.Invalid(guardtest.DescIssuer)
	wantRefused(t, "a tenant not allowed", call(t, g, tok(issFor(stranger), stranger)), notOurIssuer)
	wantRefused(t, "tid and iss disagree", call(t, g, tok(issFor(contoso), stranger)), notOurIssuer)
}

// Entra ID v1.0 tokens: issuer https://sts.windows.net/{tenant}/ — another
// host than the v2.0 one, and WITH a trailing slash; typ "JWT" and the legacy
// x5t header; aud here the App ID URI. jwks.New discovers from
// https://sts.windows.net/{tenant}/.well-known/openid-configuration; if that
// is not reachable from your network, jwks.NewFromJWKSURL with
// https://login.microsoftonline.com/{tenant}/discovery/keys gives the same
// keys, and the Guard still checks this issuer.
func TestEntraIDv1(t *testing.T) {
	iss := newIssuer(t, "/"+entraTenant+"/")
	// Exactly "https://sts.windows.net/" + tenant + "/", trailing slash
	// included: without it every token is refused (wrong issuer).
	issuer := iss.ServerURL() + "/" + entraTenant + "/"
	keys := iss.NewCache()
	const appIDURI = "api://" + entraAPI
	iat, exp := times()
	header := map[string]any{"alg": "RS256", "typ": "JWT", "x5t": "nOo3ZDrODXEK1jKWhXslHR_KXEg"}
	tok := sign(t, iss, header, map[string]any{
		"aud": appIDURI, "iss": issuer, "iat": iat, "nbf": iat, "exp": exp,
		"acr": "1", "aio": "AVQAq/8TAAAA", "amr": []string{"pwd", "mfa"},
		"appid": "1950a258-227b-4e31-a9cf-717495945fc2", "appidacr": "0",
		"family_name": "Lincoln", "given_name": "Abe", "ipaddr": "203.0.113.7",
		"name": "Abe Lincoln", "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "rh": "0.AAAA",
		"scp": "Notes.Read", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
		"tid": entraTenant, "unique_name": "abeli@microsoft.com", "upn": "abeli@microsoft.com",
		"uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0",
	})
	g := guard(t, keys, issuer, []string{appIDURI, entraAPI}, middleware.WithScopeClaims("roles"))
	c := wantOK(t, "v1 token", call(t, g, tok, middleware.Scopes("Notes.Read")), "Notes.Read")
	if !slices.Equal(c.AMR, []string{"pwd", "mfa"}) {
		t.Fatalf("amr %q", c.AMR)
	}
	noSlash := guard(t, keys, strings.TrimSuffix(issuer, "/"), []string{appIDURI})
	wantRefused(t, "issuer configured without the trailing slash", call(t, noSlash, tok), guardtest.Invalid(guardtest.DescIssuer))
}

// Keycloak: https://www.keycloak.org/docs/latest/server_admin/#_audience
// (aud is "account" unless an Audience mapper adds the API's client) and
// https://www.keycloak.org/docs/latest/server_admin/#_role_mappings (realm
// roles in realm_access.roles, client roles in resource_access.<client>.roles).
// The issuer is https://{host}/realms/{realm} (before Keycloak 17:
// /auth/realms/{realm}); scope is a string; the payload also has a "typ":
// "Bearer" claim.
//
// This fixture also turns the issuer's OIDC discovery document off: the keys
// are then found only through RFC 8414 §3.1's form, with the issuer's path
// after the well-known one: <host>/.well-known/oauth-authorization-server/realms/demo.
func TestKeycloak(t *testing.T) {
	iss := newIssuer(t, "/realms/demo")
	iss.SetDiscovery(false, true)
	issuer := iss.ServerURL() + "/realms/demo" // "https://{host}/realms/" + realm
	keys := iss.NewCache()                     // jwks.New(ctx, issuer): discovery, as at start-up
	if n := iss.DiscoveryFetches(); n < 2 {
		t.Fatalf("discovery fetches %d: the RFC 8414 form was not tried after the OIDC one", n)
	}
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"exp": exp, "iat": iat, "auth_time": iat - 10,
		"jti": "6c0e2a4b-6c79-4f8e-8e0a-4a2b9f7f1c2d", "iss": issuer,
		"aud": []string{"notes-api", "account"}, "sub": "f:5d6c:alice", "typ": "Bearer",
		"azp": "web-app", "sid": "0a1b2c3d", "acr": "1",
		"allowed-origins": []string{"https://app.example.com"},
		"realm_access":    map[string]any{"roles": []string{"notes-reader", "offline_access", "uma_authorization"}},
		"resource_access": map[string]any{
			"notes-api": map[string]any{"roles": []string{"notes-writer"}},
			"account":   map[string]any{"roles": []string{"manage-account", "view-profile"}},
		},
		"scope": "openid email profile", "email_verified": true, "preferred_username": "alice",
	})
	g := guard(t, keys, issuer, []string{"notes-api"},
		middleware.WithScopeClaims("realm_access.roles", "resource_access.notes-api.roles"))
	wantOK(t, "realm and client roles", call(t, g, tok, middleware.Scopes("notes-reader", "notes-writer")),
		"openid", "email", "profile", "notes-reader", "offline_access", "uma_authorization", "notes-writer")
	// The default audience "account" is Keycloak's own account console.
	account := guard(t, keys, issuer, []string{"notes"})
	wantRefused(t, "API not in aud", call(t, account, tok), notMeantForUs)
}

// AWS Cognito user pools: https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html
// (header kid and alg only; payload sub, cognito:groups, iss, version,
// client_id, origin_jti, event_id, token_use "access", scope, auth_time,
// exp, iat, jti, username — and NO aud) and
// https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html
// (check client_id for access tokens, token_use). Issuer:
// https://cognito-idp.{region}.amazonaws.com/{userPoolId}.
func TestCognito(t *testing.T) {
	iss := newIssuer(t, "/us-east-1_EXAMPLE")
	issuer := iss.ServerURL() + "/us-east-1_EXAMPLE" // "https://cognito-idp.us-east-1.amazonaws.com/" + userPoolID
	keys := iss.NewCache()                           // jwks.New(ctx, issuer): discovery, as at start-up
	const appClientID = "1example23456789"
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256"}, map[string]any{
		"sub":            "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"device_key":     "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"cognito:groups": []string{"admin"},
		"iss":            issuer,
		"version":        2,
		"client_id":      appClientID,
		"origin_jti":     "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"event_id":       "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"token_use":      "access",
		"scope":          "phone openid profile notes-api/notes.read email",
		"auth_time":      iat,
		"exp":            exp,
		"iat":            iat,
		"jti":            "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
		"username":       "my-test-user",
	})
	g := guard(t, keys, issuer, []string{appClientID}, middleware.WithClientIDAsAudience(),
		middleware.WithScopeClaims("cognito:groups"), middleware.WithClaimsCheck(cognitoAccessTokensOnly))
	wantOK(t, "custom scope and group", call(t, g, tok, middleware.Scopes("notes-api/notes.read", "admin")),
		"phone", "openid", "profile", "notes-api/notes.read", "email", "admin")
	plain := guard(t, keys, issuer, []string{appClientID})
	wantRefused(t, "no aud without WithClientIDAsAudience", call(t, plain, tok), notMeantForUs)
	other := guard(t, keys, issuer, []string{"another-app-client"}, middleware.WithClientIDAsAudience())
	wantRefused(t, "another app client", call(t, other, tok), notMeantForUs)
}

// Google: https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload
// and https://cloud.google.com/docs/authentication/get-id-token. Google's
// access tokens are opaque; what a Go API verifies locally is a Google-signed
// ID token sent as the bearer token (Cloud Run and Cloud Functions
// service-to-service calls, API Gateway): iss https://accounts.google.com,
// aud the target service's URL (or the client ID), azp, sub, email. There
// are no scopes: authorize on the caller's email or sub.
func TestGoogle(t *testing.T) {
	iss := newIssuer(t, "") // https://accounts.google.com
	keys := iss.NewCache()  // jwks.New(ctx, issuer): discovery, as at start-up
	const service = "https://notes-api-abcdefghij-uc.a.run.app"
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"aud": service, "azp": "112233445566778899000",
		"email": "caller@my-project.iam.gserviceaccount.com", "email_verified": true,
		"exp": exp, "iat": iat, "iss": iss.URL(), "sub": "112233445566778899000",
	})
	g := guard(t, keys, iss.URL(), []string{service})
	c := wantOK(t, "ID token for the service", call(t, g, tok)) // no scopes
	if email, err := claims.Get[string](c, "email"); err != nil || email != "caller@my-project.iam.gserviceaccount.com" {
		t.Fatalf("email %q %v", email, err)
	}
	wantRefused(t, "a scope requirement", call(t, g, tok, middleware.Scopes("notes:read")), lacks("notes:read"))
}

// ZITADEL: https://zitadel.com/docs/apis/openidoauth/claims (a JWT access
// token carries aud, azp/client_id, exp, iat, iss, jti, nbf, sub and, when
// requested or configured, urn:zitadel:iam:org:project:roles — an OBJECT
// {role: {orgId: orgDomain}}, not a list; no scope claim) and
// https://zitadel.com/docs/apis/openidoauth/scopes (aud holds the project ID
// and the client IDs). Issuer: https://{instance}.zitadel.cloud (no path).
func TestZitadel(t *testing.T) {
	iss := newIssuer(t, "")
	keys := iss.NewCache()
	const projectID = "277788123456789012"
	iat, exp := times()
	roles := map[string]any{"notes.read": map[string]string{"277788000000000001": "acme.zitadel.cloud"}}
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"iss": iss.URL(), "sub": "277788981234567890",
		"aud":       []string{projectID, "277788234567890123@notes"},
		"client_id": "277788234567890123@notes", "azp": "277788234567890123@notes",
		"exp": exp, "iat": iat, "nbf": iat, "jti": "277789012345678901",
		"urn:zitadel:iam:org:project:roles":                   roles,
		"urn:zitadel:iam:org:project:" + projectID + ":roles": roles,
	})
	g := guard(t, keys, iss.URL(), []string{projectID})
	c := wantOK(t, "project audience", call(t, g, tok)) // no scopes
	// The roles are read in the handler here; with WithScopeClaims,
	// Require(Scopes(...)) can use them too (see TestZitadelRoles).
	var got map[string]map[string]string
	if err := c.Decode("urn:zitadel:iam:org:project:roles", &got); err != nil || got["notes.read"] == nil {
		t.Fatalf("roles %v %v", got, err)
	}
}

// Ory Hydra / Ory Network with strategies.access_token=jwt:
// https://www.ory.sh/docs/oauth2-oidc/jwt-access-token (custom claims under
// "ext", mirrored at the top level when allowed) and
// https://www.ory.sh/docs/hydra/guides/audiences (aud holds only the
// audiences the client requested, and may be empty) and
// https://www.ory.sh/docs/hydra/guides/jwt (example access token:
// iss "https://$PROJECT_SLUG.projects.oryapis.com/" with a trailing slash,
// scp ["read"]). Scopes are in "scp", an ARRAY, by default;
// strategies.jwt.scope_claim = string | both switches to or adds a "scope"
// string. Configure the issuer exactly as the discovery document names it.
func TestOryHydra(t *testing.T) {
	iss := newIssuer(t, "/") // https://{slug}.projects.oryapis.com/
	keys := iss.NewCache()   // jwks.New(ctx, issuer): discovery, as at start-up
	const apiID = "https://api.example.com"
	iat, exp := times()
	payload := func(scopeClaims map[string]any, aud []string) map[string]any {
		p := map[string]any{
			"aud": aud, "client_id": "c355ce15-7e3d-4124-98f9-263f3ba7f49a",
			"exp": exp, "ext": map[string]any{}, "iat": iat, "iss": iss.URL(),
			"jti": "0b5a6a5c-4f0e-4a0c-9d3e-2f0c4b7a1e9d", "nbf": iat, "sub": "foo@bar.com",
		}
		for k, v := range scopeClaims {
			p[k] = v
		}
		return p
	}
	g := guard(t, keys, iss.URL(), []string{apiID})
	for _, tc := range []struct {
		name   string
		claims map[string]any
	}{
		{"scope_claim list (default)", map[string]any{"scp": []string{"notes:read", "offline"}}},
		{"scope_claim string", map[string]any{"scope": "notes:read offline"}},
		{"scope_claim both", map[string]any{"scp": []string{"notes:read", "offline"}, "scope": "notes:read offline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, payload(tc.claims, []string{apiID}))
			wantOK(t, tc.name, call(t, g, tok, middleware.Scopes("notes:read")), "notes:read", "offline")
		})
	}
	t.Run("no audience requested", func(t *testing.T) {
		tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, payload(map[string]any{"scp": []string{"notes:read"}}, []string{}))
		wantRefused(t, "aud []", call(t, g, tok), notMeantForUs)
	})
}

// ---- provider quirks that need an option, each shown with and without it ----

// ZITADEL's roles claim is an object keyed by role name; WithScopeClaims
// reads its member names as scopes, so Require(Scopes(...)) can use them.
func TestZitadelRoles(t *testing.T) {
	iss := newIssuer(t, "")
	keys := iss.NewCache()
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"iss": iss.URL(), "sub": "1", "aud": "project", "client_id": "c", "iat": iat, "exp": exp,
		"urn:zitadel:iam:org:project:roles": map[string]any{"notes.read": map[string]string{"org": "acme"}},
	})
	g := guard(t, keys, iss.URL(), []string{"project"}, middleware.WithScopeClaims("urn:zitadel:iam:org:project:roles"))
	wantOK(t, "object-valued roles claim", call(t, g, tok, middleware.Scopes("notes.read")), "notes.read")
	wantRefused(t, "a role not granted", call(t, g, tok, middleware.Scopes("notes.write")), lacks("notes.write"))
}

// A Keycloak client ID with a dot (commonly a URL or a domain) is named in a
// WithScopeClaims path with its dots escaped; unescaped, the dots split it.
func TestKeycloakDottedClientID(t *testing.T) {
	iss := newIssuer(t, "/realms/demo")
	keys := iss.NewCache()
	iat, exp := times()
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"iss": iss.URL(), "sub": "1", "aud": "api.example.com", "iat": iat, "exp": exp,
		"resource_access": map[string]any{"api.example.com": map[string]any{"roles": []string{"notes-writer"}}},
	})
	g := guard(t, keys, iss.URL(), []string{"api.example.com"}, middleware.WithScopeClaims(`resource_access.api\.example\.com.roles`))
	wantOK(t, "client roles under a dotted client ID", call(t, g, tok, middleware.Scopes("notes-writer")), "notes-writer")
	unescaped := guard(t, keys, iss.URL(), []string{"api.example.com"}, middleware.WithScopeClaims("resource_access.api.example.com.roles"))
	wantRefused(t, "unescaped dots", call(t, unescaped, tok, middleware.Scopes("notes-writer")), lacks("notes-writer"))
}

// cognitoAccessTokensOnly is AWS's "check the token_use claim" rule: a
// Cognito ID token has aud = the app client ID and would otherwise pass.
func cognitoAccessTokensOnly(c *claims.Claims) error {
	if use, _ := claims.Get[string](c, "token_use"); use != "access" {
		return errors.New("token_use is not access") // no claim values: errors are logged
	}
	return nil
}

// A Cognito ID token (token_use "id", aud = the app client ID) is refused
// by the configuration TestCognito uses, even on a route without scopes;
// without the check it would pass there.
func TestCognitoIDTokenRefused(t *testing.T) {
	iss := newIssuer(t, "/us-east-1_EXAMPLE")
	keys := iss.NewCache()
	const appClientID = "1example23456789"
	iat, exp := times()
	idToken := sign(t, iss, map[string]any{"alg": "RS256"}, map[string]any{
		"sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "aud": appClientID, "email_verified": true,
		"token_use": "id", "auth_time": iat, "iss": iss.URL(), "cognito:username": "my-test-user",
		"exp": exp, "iat": iat, "email": "my-test-user@example.com",
	})
	g := guard(t, keys, iss.URL(), []string{appClientID},
		middleware.WithClientIDAsAudience(), middleware.WithClaimsCheck(cognitoAccessTokensOnly))
	wantRefused(t, "ID token on a route without scopes", call(t, g, idToken), guardtest.Invalid(guardtest.DescNotAccepted))
	unchecked := guard(t, keys, iss.URL(), []string{appClientID}, middleware.WithClientIDAsAudience())
	wantOK(t, "ID token without the check (why it is needed)", call(t, unchecked, idToken))
}

// Google documents iss as "https://accounts.google.com" OR
// "accounts.google.com"; WithIssuerAliases accepts the scheme-less form as
// one more exact spelling, and without it such tokens are refused.
func TestGoogleIssuerWithoutScheme(t *testing.T) {
	iss := newIssuer(t, "")
	keys := iss.NewCache()
	iat, exp := times()
	bare := strings.TrimPrefix(iss.URL(), "http://") // "accounts.google.com"
	tok := sign(t, iss, map[string]any{"alg": "RS256", "typ": "JWT"}, map[string]any{
		"iss": bare, "aud": "svc", "sub": "1", "iat": iat, "exp": exp,
	})
	g := guard(t, keys, iss.URL(), []string{"svc"}, middleware.WithIssuerAliases(bare))
	wantOK(t, "scheme-less iss with the alias", call(t, g, tok))
	strict := guard(t, keys, iss.URL(), []string{"svc"})
	wantRefused(t, "scheme-less iss without the alias", call(t, strict, tok), guardtest.Invalid(guardtest.DescIssuer))
}

var update = flag.Bool("update", false, "rewrite PROVIDERS.md from the provider table")

// TestProvidersTable keeps PROVIDERS.md, and README's copy of it, equal to
// the preset table rendered from presetCases.
func TestProvidersTable(t *testing.T) {
	want := renderProviders()
	if *update {
		if err := os.WriteFile("PROVIDERS.md", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("PROVIDERS.md")
	if err != nil {
		t.Fatalf("%v: generate it with go test -run TestProvidersTable -update", err)
	}
	if string(got) != want {
		t.Fatalf("PROVIDERS.md differs from the table (regenerate with go test -run TestProvidersTable -update):\n%s", lineDiff(string(got), want))
	}
	// README's "Identity providers" section carries the same table.
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(want, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.Contains(string(readme), line) {
			t.Errorf("README.md lacks the provider row: %s", line)
		}
	}
}

// lineDiff lists the lines only in a (-) and only in b (+), in order.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Longest common subsequence, small inputs.
	n, m := len(al), len(bl)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&out, "+ %s\n", bl[j])
			j++
		default:
			fmt.Fprintf(&out, "- %s\n", al[i])
			i++
		}
	}
	return out.String()
}
