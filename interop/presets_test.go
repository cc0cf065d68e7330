package interop_test

// The provider presets (package providers), each tested against tokens
// laid out as its provider documents them, served over HTTPS under the
// provider's real host names (fakeWeb), with discovery paths, jwks_uri
// values and key sets (x5c, x5t, an encryption key beside the signing key)
// as the provider publishes them. For each: a valid access token accepted
// with the right subject, scopes and client ID; the provider's ID token
// refused; another tenant's (realm, pool, project, repository, namespace)
// refused; expired → the hint; a missing scope or claim rule → 403. Where
// the provider binds its keys to issuers (Entra ID v2.0), a key bound to
// another tenant, and a tid not the tenant of the iss, are refused. The
// README's provider table is generated from presetCases.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/middleware"
	"github.com/jwtguard/jwtguard/providers"
)

type presetCase struct {
	name     string // the provider, with its doc link, for the README
	call     string // the constructor call, for the README
	build    func() (*providers.Preset, error)
	audience string
	alg      string // the signing algorithm; RS256 when ""
	typ      any    // the header's typ; nil leaves it out
	header   string // the proxy header the token comes in; "" for Authorization

	// discovery is the metadata URL, served with the issuer and jwksURI;
	// "" when the preset reads jwksURI directly.
	discovery, jwksURI string
	issuer             string // the iss of the provider's tokens
	// keyIssuer is the non-standard "issuer" member Microsoft Entra ID
	// writes on each key of its v2.0 JWKS, the issuer that key signs for
	// (every tenant's, {tenantid}, for the keys all tenants share); ""
	// leaves it out, as Entra's v1.0 keys and every other provider's do.
	keyIssuer string
	// otherKeyIssuer, when set, adds to the JWKS a second signing key
	// bound to that issuer alone (one tenant's, as the consumer tenant's
	// keys are at the common endpoint): the access token, naming the
	// configured tenant, signed by it is refused as a key that does not fit.
	otherKeyIssuer string
	// tidMismatch is an access token whose tid is not the tenant its iss
	// names, signed by the provider's key; its refusal's
	// error_description is tidRefusal.
	tidMismatch func() map[string]any
	tidRefusal  string

	access                func() map[string]any // a valid access token's claims
	sub, client           string
	scopes                []string
	idToken               func() map[string]any // the provider's ID token; nil when its tokens are ID tokens by design
	foreign               func() map[string]any // another tenant's (realm's, ...) token
	foreignIs             string                // what foreign is, for the README
	rule                  middleware.Requirement
	lacking               func() map[string]any // an access token the rule refuses: 403
	naiveAcceptsIDToken   bool                  // a setup with issuer and audience alone accepts idToken
	naiveAcceptsForeign   bool                  // ... and foreign
	naiveAcceptsEverybody bool                  // the preset refuses to be built without an allow-list
	// also runs checks of the provider's own, with tokens signed by its key
	// and sent as it sends them.
	also func(t *testing.T, sign func(map[string]any) string, call func(string) (int, *claims.Claims))
}

// claimsAt returns base, with iat now and exp in an hour unless base has
// them, and over applied (nil removes).
func claimsAt(base map[string]any, over map[string]any) map[string]any {
	now := time.Now().Unix()
	m := map[string]any{"iat": now, "exp": now + 3600}
	maps.Copy(m, base)
	return jwkjson.Override(m, over)
}

const (
	entraTID   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	fabrikam   = "3f7b9a1e-2c44-4d55-9b1a-6a0f2d8e1c33"
	entraAPIID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	b2cTID     = "775527ff-9a37-4307-8b3d-cc311f58d925"

	// The issuers Entra ID's v2.0 JWKS (.../common/discovery/v2.0/keys
	// and each tenant's .../{tid}/discovery/v2.0/keys) bind its keys to:
	// every tenant's for the shared keys, and the consumer (MSA) tenant's
	// own for the keys that sign only its tokens.
	entraSharedKeys   = "https://login.microsoftonline.com/{tenantid}/v2.0"
	entraConsumerKeys = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0"
)

var presetCases = []presetCase{
	func() presetCase {
		iss := "https://notes-demo.eu.auth0.com/"
		base := map[string]any{"iss": iss, "sub": "auth0|5f7c8ec7c33c6c004bbafe82", "aud": []string{"https://notes.example.com", iss + "userinfo"},
			"azp": "my_client_id", "scope": "openid read:notes", "permissions": []string{"read:notes", "write:notes"}}
		return presetCase{
			name: "[Auth0](https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles)", call: `providers.Auth0("{tenant}.auth0.com")`,
			build: func() (*providers.Preset, error) { return providers.Auth0("notes-demo.eu.auth0.com") }, audience: "https://notes.example.com", typ: "JWT",
			discovery: "https://notes-demo.eu.auth0.com/.well-known/openid-configuration", jwksURI: "https://notes-demo.eu.auth0.com/.well-known/jwks.json", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "auth0|5f7c8ec7c33c6c004bbafe82", client: "my_client_id",
			scopes: []string{"openid", "read:notes", "write:notes"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"aud": "my_client_id", "nonce": "n-0S6_WzA2Mj", "scope": nil, "permissions": nil})
			},
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://other-tenant.eu.auth0.com/"})
			}, foreignIs: "another tenant",
			rule: middleware.Scopes("write:notes"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"permissions": []string{"read:notes"}}) },
		}
	}(),
	func() presetCase {
		iss := "https://dev-1234.okta.com/oauth2/default"
		base := map[string]any{"ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE", "iss": iss, "aud": "api://default",
			"cid": "0oa1234567890abcdef", "uid": "00u1234567890abcdef", "scp": []string{"openid", "notes:read"}, "sub": "alice@example.com"}
		return presetCase{
			name:  "[Okta](https://developer.okta.com/docs/reference/api/oidc/#access-token) (custom authorization server; the org server: `OktaOrg` fails with `ErrNotLocallyVerifiable`)",
			call:  `providers.Okta("{domain}", "default")`,
			build: func() (*providers.Preset, error) { return providers.Okta("dev-1234.okta.com", "default") }, audience: "api://default",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/v1/keys", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "alice@example.com", client: "0oa1234567890abcdef", scopes: []string{"openid", "notes:read"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"aud": "0oa1234567890abcdef", "nonce": "n", "amr": []string{"pwd"}, "scp": nil, "cid": nil})
			},
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://dev-1234.okta.com/oauth2/aus9other"})
			},
			foreignIs: "another authorization server",
			rule:      middleware.Scopes("notes:read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scp": []string{"openid"}}) },
		}
	}(),
	func() presetCase {
		iss := "https://login.microsoftonline.com/" + entraTID + "/v2.0"
		base := map[string]any{"iss": iss, "aud": entraAPIID, "azp": "a4d5b2c1-0000-4000-8000-00000000c1e7", "azpacr": "0", "scp": "notes.read",
			"tid": entraTID, "oid": "00000000-0000-0000-66f3-3332eca7ea81", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "ver": "2.0"}
		return presetCase{
			name: "[Microsoft Entra ID](https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference) v2.0", call: `providers.EntraID("{tenant ID}")`,
			build: func() (*providers.Preset, error) { return providers.EntraID(entraTID) }, audience: entraAPIID, typ: "JWT",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: "https://login.microsoftonline.com/" + entraTID + "/discovery/v2.0/keys", issuer: iss,
			keyIssuer: entraSharedKeys, otherKeyIssuer: entraConsumerKeys,
			// The tenant's iss with another tenant's tid: the shared key, filled
			// with that tid, is bound to the other tenant's issuer.
			tidMismatch: func() map[string]any { return claimsAt(base, map[string]any{"tid": fabrikam}) }, tidRefusal: guardtest.DescKeyMismatch,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", client: "a4d5b2c1-0000-4000-8000-00000000c1e7", scopes: []string{"notes.read"},
			// An app registration that is also the API: its ID token has the same aud and typ.
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"azp": nil, "azpacr": nil, "scp": nil, "nonce": "n", "preferred_username": "alice@contoso.com"})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://login.microsoftonline.com/" + fabrikam + "/v2.0", "tid": fabrikam})
			}, foreignIs: "another tenant",
			rule: middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scp": "profile"}) },
		}
	}(),
	func() presetCase {
		iss := "https://sts.windows.net/" + entraTID + "/"
		base := map[string]any{"iss": iss, "aud": "api://notes", "appid": "a4d5b2c1-0000-4000-8000-00000000c1e7", "appidacr": "1", "roles": []string{"Notes.Read.All"},
			"tid": entraTID, "oid": "2d4e8f00-0000-0000-0000-00000000a11c", "sub": "2d4e8f00-0000-0000-0000-00000000a11c", "ver": "1.0"}
		return presetCase{
			name: "[Microsoft Entra ID](https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference) v1.0 (metadata at login.microsoftonline.com)", call: `providers.EntraIDv1("{tenant ID}")`,
			build: func() (*providers.Preset, error) { return providers.EntraIDv1(entraTID) }, audience: "api://notes", typ: "JWT",
			// The v1.0 keys carry no "issuer" member (keyIssuer "").
			discovery: "https://login.microsoftonline.com/" + entraTID + "/.well-known/openid-configuration", jwksURI: "https://login.microsoftonline.com/" + entraTID + "/discovery/keys", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "2d4e8f00-0000-0000-0000-00000000a11c", client: "a4d5b2c1-0000-4000-8000-00000000c1e7", scopes: []string{"Notes.Read.All"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"appid": nil, "appidacr": nil, "roles": nil, "nonce": "n"})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://sts.windows.net/" + fabrikam + "/", "tid": fabrikam})
			}, foreignIs: "another tenant",
			rule: middleware.Scopes("Notes.Read.All"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"roles": []string{"Notes.List"}}) },
		}
	}(),
	func() presetCase {
		iss := "https://login.microsoftonline.com/" + entraTID + "/v2.0"
		const outsider = "0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f"
		base := map[string]any{"iss": iss, "aud": entraAPIID, "azp": "a4d5b2c1-0000-4000-8000-00000000c1e7", "scp": "notes.read", "tid": entraTID, "sub": "s-1", "ver": "2.0"}
		return presetCase{
			name: "[Microsoft Entra ID](https://learn.microsoft.com/en-us/entra/identity-platform/howto-convert-app-to-be-multi-tenant) multi-tenant",
			call: `providers.EntraIDMultiTenant("{tenant ID}", …)`, naiveAcceptsEverybody: true,
			build: func() (*providers.Preset, error) { return providers.EntraIDMultiTenant(entraTID, fabrikam) }, audience: entraAPIID, typ: "JWT",
			jwksURI: "https://login.microsoftonline.com/common/discovery/v2.0/keys", issuer: iss,
			keyIssuer: entraSharedKeys, otherKeyIssuer: entraConsumerKeys,
			// Both tenants allowed, but the tid is not the iss's: the template
			// matches iss against the token's own tid (as it did before keys
			// were bound); a literal issuer, as the naive setup has, refuses
			// it by the shared key's binding.
			tidMismatch: func() map[string]any { return claimsAt(base, map[string]any{"tid": fabrikam}) }, tidRefusal: guardtest.DescIssuer,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "s-1", client: "a4d5b2c1-0000-4000-8000-00000000c1e7", scopes: []string{"notes.read"},
			idToken:             func() map[string]any { return claimsAt(base, map[string]any{"azp": nil, "scp": nil, "nonce": "n"}) },
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://login.microsoftonline.com/" + outsider + "/v2.0", "tid": outsider})
			}, foreignIs: "a tenant not listed",
			rule: middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scp": "profile"}) },
		}
	}(),
	func() presetCase {
		iss := "https://contosob2c.b2clogin.com/" + b2cTID + "/v2.0/"
		base := map[string]any{"iss": iss, "aud": entraAPIID, "azp": "9b2c0c1f-0000-4000-8000-0000000b2c01", "scp": "notes.read", "tfp": "B2C_1_signupsignin",
			"sub": "a1b2c3d4-0000-4000-8000-0000000000b2", "ver": "1.0"}
		return presetCase{
			name: "[Azure AD B2C](https://learn.microsoft.com/en-us/azure/active-directory-b2c/tokens-overview) (per user flow)",
			call: `providers.AzureADB2C("{tenant}", "{tenant ID}", "{policy}")`,
			build: func() (*providers.Preset, error) {
				return providers.AzureADB2C("contosob2c", b2cTID, "B2C_1_signupsignin")
			}, audience: entraAPIID, typ: "JWT",
			discovery: "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/B2C_1_signupsignin/v2.0/.well-known/openid-configuration",
			jwksURI:   "https://contosob2c.b2clogin.com/contosob2c.onmicrosoft.com/b2c_1_signupsignin/discovery/v2.0/keys", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "a1b2c3d4-0000-4000-8000-0000000000b2", client: "9b2c0c1f-0000-4000-8000-0000000b2c01", scopes: []string{"notes.read"},
			idToken:             func() map[string]any { return claimsAt(base, map[string]any{"azp": nil, "scp": nil, "nonce": "n"}) },
			naiveAcceptsIDToken: true,
			foreign:             func() map[string]any { return claimsAt(base, map[string]any{"tfp": "B2C_1_passwordreset"}) },
			foreignIs:           "another user flow", naiveAcceptsForeign: true,
			rule: middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scp": "profile"}) },
		}
	}(),
	func() presetCase {
		iss := "https://keycloak.example.com/realms/notes"
		base := map[string]any{"iss": iss, "typ": "Bearer", "azp": "notes-web", "aud": []string{"notes-api", "account"}, "sub": "f1e2d3c4-0000-4000-8000-00000000k001",
			"realm_access": map[string]any{"roles": []string{"user"}}, "resource_access": map[string]any{"notes-api": map[string]any{"roles": []string{"editor"}}},
			"scope": "openid profile", "sid": "9a8b7c6d", "jti": "onrtac:1"}
		return presetCase{
			name: "[Keycloak](https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_and_saml_assertion_mappings)",
			call: `providers.Keycloak("https://{host}", "{realm}", "{client with roles}")`,
			build: func() (*providers.Preset, error) {
				return providers.Keycloak("https://keycloak.example.com", "notes", "notes-api")
			}, audience: "notes-api", typ: "JWT",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/protocol/openid-connect/certs", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "f1e2d3c4-0000-4000-8000-00000000k001", client: "notes-web",
			scopes: []string{"openid", "profile", "user", "editor"},
			// An ID token whose aud includes the API (an audience mapper added to ID tokens too).
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"typ": "ID", "nonce": "n", "at_hash": "x"})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://keycloak.example.com/realms/other"})
			}, foreignIs: "another realm",
			rule: middleware.Scopes("editor"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"resource_access": map[string]any{}}) },
		}
	}(),
	func() presetCase {
		iss := "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
		base := map[string]any{"iss": iss, "client_id": "7abcdefghijklmnopqrstu1234", "token_use": "access", "scope": "notes/read",
			"cognito:groups": []string{"admins"}, "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "username": "alice", "auth_time": time.Now().Unix() - 60, "origin_jti": "o", "event_id": "e"}
		return presetCase{
			name:  "[Amazon Cognito](https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html)",
			call:  `providers.Cognito("{region}", "{user pool ID}")`,
			build: func() (*providers.Preset, error) { return providers.Cognito("eu-west-1", "eu-west-1_AbCdEf123") }, audience: "7abcdefghijklmnopqrstu1234",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/.well-known/jwks.json", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", client: "7abcdefghijklmnopqrstu1234",
			scopes: []string{"notes/read", "admins"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"aud": "7abcdefghijklmnopqrstu1234", "token_use": "id", "client_id": nil, "scope": nil, "email": "alice@example.com"})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other0001"})
			}, foreignIs: "another user pool",
			rule: middleware.Scopes("notes/read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scope": "openid"}) },
		}
	}(),
	func() presetCase {
		const runURL = "https://notes-abc123-ew.a.run.app"
		base := map[string]any{"iss": "https://accounts.google.com", "aud": runURL, "azp": "112233445566778899001", "email": "deployer@notes-prod.iam.gserviceaccount.com",
			"email_verified": true, "sub": "112233445566778899001"}
		return presetCase{
			name: "[Google](https://cloud.google.com/run/docs/authenticating/service-to-service) (ID tokens between services: Cloud Run, Functions, Scheduler)",
			call: `providers.Google("{caller}@{project}.iam.gserviceaccount.com", …)`, naiveAcceptsEverybody: true,
			build: func() (*providers.Preset, error) {
				return providers.Google("deployer@notes-prod.iam.gserviceaccount.com")
			}, audience: runURL, typ: "JWT",
			discovery: "https://accounts.google.com/.well-known/openid-configuration", jwksURI: "https://www.googleapis.com/oauth2/v3/certs", issuer: "https://accounts.google.com",
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "112233445566778899001", client: "112233445566778899001",
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"email": "anyone@evil-project.iam.gserviceaccount.com", "sub": "999", "azp": "999"})
			}, foreignIs: "another project's account", naiveAcceptsForeign: true,
			rule: middleware.ClaimIn("azp", "112233445566778899001"), lacking: nil,
		}
	}(),
	func() presetCase {
		const aud = "/projects/1234567890/apps/notes-prod"
		base := map[string]any{"iss": "https://cloud.google.com/iap", "aud": aud, "sub": "accounts.google.com:118133858486581853996", "email": "alice@example.com", "hd": "example.com"}
		return presetCase{
			name: "[Google IAP](https://cloud.google.com/iap/docs/signed-headers-howto) (token in `X-Goog-IAP-JWT-Assertion`)", call: `providers.GoogleIAP()`,
			build: providers.GoogleIAP, audience: aud, alg: "ES256", header: "X-Goog-IAP-JWT-Assertion",
			jwksURI: "https://www.gstatic.com/iap/verify/public_key-jwk", issuer: "https://cloud.google.com/iap",
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "accounts.google.com:118133858486581853996",
			foreign:   func() map[string]any { return claimsAt(base, map[string]any{"aud": "/projects/999/apps/other"}) },
			foreignIs: "another project",
			rule:      middleware.ClaimIn("hd", "example.com"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"hd": "gmail.com"}) },
		}
	}(),
	func() presetCase {
		iss := "https://securetoken.google.com/notes-prod"
		base := map[string]any{"iss": iss, "aud": "notes-prod", "sub": "Kh1xq2Fqf3YjR0v9mZ", "user_id": "Kh1xq2Fqf3YjR0v9mZ", "auth_time": time.Now().Unix() - 60,
			"email": "alice@example.com", "email_verified": true, "firebase": map[string]any{"sign_in_provider": "password"}}
		return presetCase{
			name: "[Firebase Authentication](https://firebase.google.com/docs/auth/admin/verify-id-tokens)", call: `providers.Firebase("{project ID}")`,
			build: func() (*providers.Preset, error) { return providers.Firebase("notes-prod") }, audience: "notes-prod",
			jwksURI: "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "Kh1xq2Fqf3YjR0v9mZ",
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://securetoken.google.com/other", "aud": "other"})
			}, foreignIs: "another project",
			rule: middleware.ClaimIn("email_verified", "true"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"email_verified": false}) },
		}
	}(),
	func() presetCase {
		iss := "https://token.actions.githubusercontent.com"
		base := map[string]any{"iss": iss, "aud": "notes-deploy", "sub": "repo:octo-org/notes:ref:refs/heads/main", "repository": "octo-org/notes", "repository_id": "74",
			"repository_owner": "octo-org", "ref": "refs/heads/main", "event_name": "push", "job_workflow_ref": "octo-org/notes/.github/workflows/deploy.yml@refs/heads/main",
			"jti": "example-id", "nbf": time.Now().Unix() - 10}
		return presetCase{
			name: "[GitHub Actions](https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect)",
			call: `providers.GitHubActions(providers.GitHubRule{Repositories: []string{"{owner}/{repo}"}, RepositoryIDs: []string{"{id}"}})`, naiveAcceptsEverybody: true,
			build: func() (*providers.Preset, error) {
				return providers.GitHubActions(providers.GitHubRule{Repositories: []string{"octo-org/notes"}, RepositoryIDs: []string{"74"}})
			}, audience: "notes-deploy", typ: "JWT",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/.well-known/jwks", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "repo:octo-org/notes:ref:refs/heads/main",
			// The name re-registered after the repository was deleted: another ID.
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"repository_id": "9001"})
			}, foreignIs: "another repository under a recycled name", naiveAcceptsForeign: true,
			rule: middleware.ClaimIn("ref", "refs/heads/main"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"ref": "refs/heads/feature"}) },
		}
	}(),
	func() presetCase {
		iss := "https://oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
		sa := func(ns, name string) map[string]any {
			return map[string]any{"namespace": ns, "serviceaccount": map[string]any{"name": name, "uid": "c9e3f1a2-0000-4000-8000-0000000005a1"},
				"pod": map[string]any{"name": name + "-7d9f8", "uid": "p"}}
		}
		base := map[string]any{"iss": iss, "aud": []string{"notes-api"}, "sub": "system:serviceaccount:payments:api", "kubernetes.io": sa("payments", "api"),
			"nbf": time.Now().Unix() - 10}
		return presetCase{
			name: "[Kubernetes](https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/) service accounts",
			call: `providers.Kubernetes("{service-account issuer}", providers.KubernetesRule{Namespaces: []string{"{ns}"}})`, naiveAcceptsEverybody: true,
			build: func() (*providers.Preset, error) {
				return providers.Kubernetes(iss, providers.KubernetesRule{Namespaces: []string{"payments"}})
			}, audience: "notes-api",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/keys", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "system:serviceaccount:payments:api",
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"sub": "system:serviceaccount:default:default", "kubernetes.io": sa("default", "default")})
			}, foreignIs: "another namespace", naiveAcceptsForeign: true,
			rule: middleware.ClaimIn(`kubernetes\.io.serviceaccount.name`, "api"),
			lacking: func() map[string]any {
				return claimsAt(base, map[string]any{"sub": "system:serviceaccount:payments:worker", "kubernetes.io": sa("payments", "worker")})
			},
		}
	}(),
	func() presetCase {
		iss := "https://practical-swirles-whg26u2ofh.projects.oryapis.com/"
		base := map[string]any{"iss": iss, "aud": []string{"notes-api"}, "client_id": "c-notes", "scp": []string{"notes.read", "offline"}, "sub": "u-1", "ext": map[string]any{}, "jti": "j"}
		return presetCase{
			name: "[Ory Network / Ory Hydra](https://www.ory.sh/docs/oauth2-oidc/jwt-access-token) (JWT strategy; self-hosted: `OryHydra(issuer)`)", call: `providers.OryNetwork("{project slug}")`,
			build: func() (*providers.Preset, error) { return providers.OryNetwork("practical-swirles-whg26u2ofh") }, audience: "notes-api", typ: "JWT",
			discovery: iss + ".well-known/openid-configuration", jwksURI: iss + ".well-known/jwks.json", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "u-1", client: "c-notes", scopes: []string{"notes.read", "offline"},
			// An ID token requested with the API as an extra audience.
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"client_id": nil, "scp": nil, "at_hash": "x", "sid": "s", "rat": 1})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://other-project.projects.oryapis.com/"})
			}, foreignIs: "another project",
			rule: middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scp": []string{"offline"}}) },
		}
	}(),
	func() presetCase {
		iss := "https://notes-abc.zitadel.cloud"
		const org, project = "231848297847848", "231848295418212"
		roles := "urn:zitadel:iam:org:project:roles"
		base := map[string]any{"iss": iss, "aud": []string{project, "231848296541231@notes"}, "client_id": "231848296541231@notes", "sub": "231848297847849", "jti": "j",
			roles: map[string]any{"editor": map[string]any{org: "acme.notes-abc.zitadel.cloud"}, "admin": map[string]any{"999999999999999": "other.notes-abc.zitadel.cloud"}}}
		return presetCase{
			name: "[ZITADEL](https://zitadel.com/docs/apis/openidoauth/claims) (roles of one organisation)", call: `providers.Zitadel("https://{instance}", "{organisation ID}")`,
			build: func() (*providers.Preset, error) { return providers.Zitadel(iss, org) }, audience: project, typ: "JWT",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/oauth/v2/keys", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "231848297847849", client: "231848296541231@notes", scopes: []string{"editor"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"client_id": nil, "jti": nil, "azp": "231848296541231@notes", "amr": []string{"pwd"}, "auth_time": time.Now().Unix() - 60})
			},
			naiveAcceptsIDToken: true,
			foreign:             func() map[string]any { return claimsAt(base, map[string]any{"iss": "https://other.zitadel.cloud"}) },
			foreignIs:           "another instance",
			rule:                middleware.Scopes("editor"),
			lacking: func() map[string]any {
				return claimsAt(base, map[string]any{roles: map[string]any{"editor": map[string]any{"999999999999999": "other"}}})
			},
		}
	}(),
	func() presetCase {
		iss := "https://notes-team.cloudflareaccess.com"
		const tag = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2"
		base := map[string]any{"iss": iss, "aud": []string{tag}, "email": "alice@example.com", "sub": "7335d417-61da-459d-899c-0a01c76a2f94", "type": "app",
			"identity_nonce": "6ei69kawdKzMIAPF", "country": "DE", "nbf": time.Now().Unix() - 10}
		return presetCase{
			name:  "[Cloudflare Access](https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/) (token in `Cf-Access-Jwt-Assertion`)",
			call:  `providers.CloudflareAccess("{team}")`,
			build: func() (*providers.Preset, error) { return providers.CloudflareAccess("notes-team") }, audience: tag, typ: "JWT", header: "Cf-Access-Jwt-Assertion",
			jwksURI: iss + "/cdn-cgi/access/certs", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "7335d417-61da-459d-899c-0a01c76a2f94",
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://other-team.cloudflareaccess.com"})
			}, foreignIs: "another team",
			idToken:             func() map[string]any { return claimsAt(base, map[string]any{"type": "org"}) }, // an organisation token, not the application's
			naiveAcceptsIDToken: true,
			// A service token (a machine behind Access): empty sub, its ID in common_name.
			also: func(t *testing.T, sign func(map[string]any) string, call func(string) (int, *claims.Claims)) {
				tok := sign(claimsAt(base, map[string]any{"sub": "", "email": nil, "common_name": "b6f2c1a9e3d4.access"}))
				if st, c := call(tok); st != 200 || c.Subject != "b6f2c1a9e3d4.access" || c.SubjectFrom != "common_name" {
					t.Errorf("service token: %d %+v", st, c)
				}
			},
			rule: middleware.ClaimIn("country", "DE"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"country": "US"}) },
		}
	}(),
	func() presetCase {
		iss := "https://demo.duendesoftware.com"
		// Client credentials: no sub, scope as a JSON array.
		base := map[string]any{"iss": iss, "aud": "api", "client_id": "m2m", "scope": []string{"api", "notes.read"}, "jti": "7B2A8F3E", "nbf": time.Now().Unix() - 10}
		return presetCase{
			name: "[Duende IdentityServer](https://docs.duendesoftware.com/identityserver/tokens/jwt/) (and IdentityServer4)", call: `providers.Duende("https://{authority}")`,
			build: func() (*providers.Preset, error) { return providers.Duende(iss) }, audience: "api", typ: "at+jwt",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/.well-known/openid-configuration/jwks", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "m2m", client: "m2m", scopes: []string{"api", "notes.read"},
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"client_id": nil, "scope": nil, "sub": "88421113", "nonce": "n", "at_hash": "x", "sid": "s"})
			},
			naiveAcceptsIDToken: true,
			foreign: func() map[string]any {
				return claimsAt(base, map[string]any{"iss": "https://other.duendesoftware.com"})
			},
			foreignIs: "another authority",
			rule:      middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scope": []string{"api"}}) },
		}
	}(),
	func() presetCase {
		iss := "https://auth.example.com"
		base := map[string]any{"iss": iss, "aud": "notes-client", "sub": "notes-client", "scope": []string{"notes.read"}, "jti": "j", "nbf": time.Now().Unix() - 10}
		return presetCase{
			name: "[Spring Authorization Server](https://docs.spring.io/spring-authorization-server/reference/core-model-components.html)", call: `providers.SpringAuthorizationServer("https://{issuer}")`,
			build: func() (*providers.Preset, error) { return providers.SpringAuthorizationServer(iss) }, audience: "notes-client", typ: "JWT",
			discovery: iss + "/.well-known/openid-configuration", jwksURI: iss + "/oauth2/jwks", issuer: iss,
			access: func() map[string]any { return claimsAt(base, nil) }, sub: "notes-client", scopes: []string{"notes.read"},
			// Same aud as an access token: the client ID.
			idToken: func() map[string]any {
				return claimsAt(base, map[string]any{"sub": "alice", "scope": nil, "azp": "notes-client", "sid": "s", "auth_time": time.Now().Unix() - 60})
			},
			naiveAcceptsIDToken: true,
			foreign:             func() map[string]any { return claimsAt(base, map[string]any{"iss": "https://other.example.com"}) },
			foreignIs:           "another issuer",
			rule:                middleware.Scopes("notes.read"), lacking: func() map[string]any { return claimsAt(base, map[string]any{"scope": []string{"openid"}}) },
		}
	}(),
}

var quiet = slog.New(slog.DiscardHandler)

func TestPresets(t *testing.T) {
	web := newFakeWeb(t)
	for _, pc := range presetCases {
		t.Run(pc.call, func(t *testing.T) {
			alg := pc.alg
			if alg == "" {
				alg = "RS256"
			}
			keys := newProviderKeys(t, alg)
			if pc.discovery != "" {
				web.put(t, pc.discovery, map[string]any{"issuer": pc.issuer, "jwks_uri": pc.jwksURI,
					"id_token_signing_alg_values_supported": []string{alg}, "response_types_supported": []string{"code"}})
			}
			if pc.header == "Cf-Access-Jwt-Assertion" {
				// Cloudflare's certs endpoint also lists PEM certificates.
				keys.jwks["public_cert"] = map[string]any{"kid": keys.kid, "cert": "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----"}
				keys.jwks["public_certs"] = []any{keys.jwks["public_cert"]}
			}
			if pc.keyIssuer != "" {
				keys.sig["issuer"] = pc.keyIssuer
			}
			var otherKey *providerKeys
			if pc.otherKeyIssuer != "" {
				otherKey = keys.addKey(t, "key-of-another-tenant", map[string]any{"issuer": pc.otherKeyIssuer})
			}
			web.put(t, pc.jwksURI, keys.jwks)
			p, err := pc.build()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			g, err := providers.New(ctx, []string{pc.audience}, []*providers.Preset{p},
				providers.WithKeyOptions(jwks.WithHTTPClient(web.client), jwks.WithLogger(quiet)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Close)
			valid := keys.sign(t, pc.typ, pc.access())
			waitForKeys(t, g, valid)

			// The valid access token: subject, scopes, client ID.
			st, ch, c := callPreset(g, pc, valid)
			if st != 200 || c == nil {
				t.Fatalf("access token: %d %s", st, ch)
			}
			if c.Subject != pc.sub || c.ClientID != pc.client || !slices.Equal([]string(c.Scopes), pc.scopes) && !(len(c.Scopes) == 0 && len(pc.scopes) == 0) {
				t.Fatalf("claims: sub %q client %q scopes %q, want %q %q %q", c.Subject, c.ClientID, c.Scopes, pc.sub, pc.client, pc.scopes)
			}
			// Expired: the hint.
			expired := keys.sign(t, pc.typ, claimsAt(pc.access(), map[string]any{"exp": time.Now().Unix() - 3600, "iat": time.Now().Unix() - 7200}))
			if st, ch, _ := callPreset(g, pc, expired); st != 401 || !strings.Contains(ch, `error_description="The access token expired"`) {
				t.Fatalf("expired: %d %s, want the expired hint", st, ch)
			}
			// The ID token and the foreign one: 401 invalid_token, never the hint.
			naive := naiveGuard(t, ctx, web, pc)
			for what, mk := range map[string]func() map[string]any{"the ID token": pc.idToken, pc.foreignIs: pc.foreign} {
				if mk == nil {
					continue
				}
				tok := keys.sign(t, pc.typ, mk())
				if st, ch, _ := callPreset(g, pc, tok); st != 401 || !strings.Contains(ch, `error="invalid_token"`) || strings.Contains(ch, "expired") {
					t.Errorf("%s: %d %s, want 401 invalid_token", what, st, ch)
				}
				naiveOK := naive != nil && verifies(naive, tok)
				wantNaive := (what == "the ID token" && pc.naiveAcceptsIDToken) || (what == pc.foreignIs && pc.naiveAcceptsForeign)
				if naiveOK != wantNaive {
					t.Errorf("%s: issuer and audience alone accept it: %v, the table says %v", what, naiveOK, wantNaive)
				}
			}
			// A key bound to another tenant's issuer, signing a token of the
			// configured tenant (Storm-0558), and the shared key signing a
			// token whose tid is not its iss's tenant: refused. Issuer and
			// audience alone refuse them too, as the key set binds the keys,
			// so the table does not list them.
			type refusal struct{ what, tok, desc string }
			var refusals []refusal
			if otherKey != nil {
				refusals = append(refusals, refusal{"a key bound to " + pc.otherKeyIssuer, otherKey.sign(t, pc.typ, pc.access()), guardtest.DescKeyMismatch})
			}
			if pc.tidMismatch != nil {
				refusals = append(refusals, refusal{"a tid not the tenant of the iss", keys.sign(t, pc.typ, pc.tidMismatch()), pc.tidRefusal})
			}
			for _, r := range refusals {
				if st, ch, _ := callPreset(g, pc, r.tok); st != 401 || !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, `error_description="`+r.desc+`"`) {
					t.Errorf("%s: %d %s, want 401 invalid_token %q", r.what, st, ch, r.desc)
				}
				if naive != nil && verifies(naive, r.tok) {
					t.Errorf("%s: issuer and audience alone accept it", r.what)
				}
			}
			// The route's rule refuses a token without what it needs: 403.
			if pc.lacking != nil {
				if st, ch, _ := callPreset(g, pc, keys.sign(t, pc.typ, pc.lacking())); st != 403 || !strings.Contains(ch, `error="insufficient_scope"`) {
					t.Errorf("lacking the rule: %d %s, want 403 insufficient_scope", st, ch)
				}
			}
			if pc.also != nil {
				pc.also(t, func(m map[string]any) string { return keys.sign(t, pc.typ, m) },
					func(tok string) (int, *claims.Claims) { st, _, c := callPreset(g, pc, tok); return st, c })
			}
			if pc.naiveAcceptsEverybody {
				if _, err := buildWithout(pc); !errors.Is(err, providers.ErrAllowListRequired) {
					t.Errorf("built without its allow-list: %v, want ErrAllowListRequired", err)
				}
			}
		})
	}
}

// waitForKeys waits until the Guard's key cache has its first keys: until
// then a token is 503.
func waitForKeys(t *testing.T, g *middleware.Guard, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := g.VerifyToken(context.Background(), tok)
		if !errors.Is(err, middleware.ErrKeysUnavailable) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no keys in 10 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // polling a real HTTPS fetch, bounded above
	}
}

// callPreset sends tok as the provider sends it to a route with the
// case's rule, and returns the status, the challenge and the claims the
// handler saw.
func callPreset(g *middleware.Guard, pc presetCase, tok string) (int, string, *claims.Claims) {
	var seen *claims.Claims
	h := g.Require(pc.rule)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = claims.FromContext(r.Context())
	}))
	req := httptest.NewRequest("GET", "/api/notes", nil)
	if pc.header != "" {
		req.Header.Set(pc.header, tok)
		req.Header.Set("Authorization", "Bearer not-this-one")
	} else {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("WWW-Authenticate"), seen
}

// naiveGuard is the setup a user would write without the preset: the
// issuer and the audience, over the same keys; nil for a multi-tenant
// issuer, which has no one iss to configure.
func naiveGuard(t *testing.T, ctx context.Context, web *fakeWeb, pc presetCase) *middleware.Guard {
	t.Helper()
	var keys *jwks.Cache
	var err error
	if pc.discovery != "" {
		keys, err = jwks.New(ctx, pc.issuer, jwks.WithDiscoveryURL(pc.discovery), jwks.WithHTTPClient(web.client), jwks.WithLogger(quiet))
	} else {
		keys, err = jwks.NewFromJWKSURL(ctx, pc.jwksURI, jwks.WithHTTPClient(web.client), jwks.WithLogger(quiet))
	}
	waitReady(t, keys, err)
	opts := []middleware.Option{}
	if pc.header != "" {
		opts = append(opts, middleware.WithTokenHeader(pc.header))
	}
	if strings.HasPrefix(pc.issuer, "https://cognito-idp.") {
		opts = append(opts, middleware.WithClientIDAsAudience())
	}
	if strings.HasPrefix(pc.issuer, "https://demo.duendesoftware.com") {
		opts = append(opts, middleware.WithSubjectClaim("client_id"))
	}
	g, err := middleware.New(keys, pc.issuer, []string{pc.audience}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func verifies(g *middleware.Guard, tok string) bool {
	_, err := g.VerifyToken(context.Background(), tok)
	return err == nil
}

// buildWithout builds the case's preset with its allow-list emptied.
func buildWithout(pc presetCase) (*providers.Preset, error) {
	switch {
	case strings.Contains(pc.call, "EntraIDMultiTenant"):
		return providers.EntraIDMultiTenant()
	case strings.Contains(pc.call, "Google("):
		return providers.Google()
	case strings.Contains(pc.call, "GitHubActions"):
		return providers.GitHubActions(providers.GitHubRule{})
	case strings.Contains(pc.call, "Kubernetes"):
		return providers.Kubernetes(pc.issuer, providers.KubernetesRule{})
	}
	return nil, fmt.Errorf("no allow-list in %s", pc.call)
}

// ---- the table ----

// refusedBeyondNaive says what the preset refuses that the issuer and the
// audience alone would accept, as TestPresets shows it.
func (pc presetCase) refusedBeyondNaive() string {
	var parts []string
	if pc.naiveAcceptsIDToken {
		parts = append(parts, "its ID tokens")
	}
	if pc.naiveAcceptsForeign {
		parts = append(parts, "tokens of "+pc.foreignIs)
	}
	if pc.naiveAcceptsEverybody {
		parts = append(parts, "built only with its allow-list")
	}
	if pc.header != "" {
		parts = append(parts, "reads `"+pc.header+"`, which the Authorization header cannot carry")
	}
	if len(parts) == 0 {
		return "nothing more (issuer and audience suffice; the preset sets where keys, scopes and client ID are)"
	}
	return strings.Join(parts, "; ")
}

func renderProviders() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from presetCases in interop/presets_test.go: go test -run TestProvidersTable -update (in interop/). Do not edit. -->\n")
	b.WriteString("| provider | preset | refuses what issuer and audience alone accept |\n")
	b.WriteString("|---|---|---|\n")
	for _, pc := range presetCases {
		fmt.Fprintf(&b, "| %s | `%s` | %s |\n", pc.name, pc.call, pc.refusedBeyondNaive())
	}
	return b.String()
}
