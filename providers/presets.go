package providers

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/middleware"
)

// Auth0 is an Auth0 tenant's API access tokens
// (https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles).
// domain is the tenant's domain ("my-tenant.eu.auth0.com", or a custom
// domain); the iss is https://{domain}/ with its trailing slash. RBAC
// permissions count as scopes; the client ID comes from client_id (the RFC
// 9068 profile) or azp (the default one). ID tokens are refused by the
// audience: theirs is the client ID, never the API identifier.
func Auth0(domain string) (*Preset, error) {
	if err := label("Auth0", "domain", domain); err != nil {
		return nil, err
	}
	return &Preset{
		name:   "Auth0",
		issuer: "https://" + domain + "/",
		issuerOpts: []middleware.Option{
			middleware.WithScopeClaims("permissions"),
			middleware.WithClientIDClaims("client_id", "azp"),
		},
		doc: "https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles",
	}, nil
}

// Okta is an Okta custom authorization server's access tokens
// (https://developer.okta.com/docs/reference/api/oidc/#access-token):
// iss https://{domain}/oauth2/{authServerID} ("default" for the default
// server, whose audience is api://default), scopes in the scp array, the
// client in cid. ID tokens are refused by the audience (theirs is the
// client ID). Okta's org authorization server is OktaOrg.
func Okta(domain, authServerID string) (*Preset, error) {
	if err := label("Okta", "domain", domain, "authorization server ID", authServerID); err != nil {
		return nil, err
	}
	return &Preset{
		name:       "Okta",
		issuer:     "https://" + domain + "/oauth2/" + authServerID,
		issuerOpts: []middleware.Option{middleware.WithClientIDClaims("cid", "client_id")},
		doc:        "https://developer.okta.com/docs/reference/api/oidc/#access-token",
	}, nil
}

// OktaOrg always fails with ErrNotLocallyVerifiable: access tokens of an
// Okta org authorization server (iss https://{domain}) are for Okta's own
// APIs, and Okta documents that resource servers must not validate them
// locally (https://developer.okta.com/docs/concepts/auth-servers/#org-authorization-server).
func OktaOrg(domain string) (*Preset, error) {
	return nil, fmt.Errorf("%w: Okta's org authorization server (%s); use a custom authorization server (Okta)", ErrNotLocallyVerifiable, domain)
}

// entraAccessOnly refuses Entra ID tokens: an access token always names
// the client that asked for it in azp (v2.0) or appid (v1.0), an ID token
// never does, and for an app registration that is also the API both have
// the same aud and typ "JWT".
var entraAccessOnly = requireOneOf(ErrIDToken, "azp", "appid")

// EntraID is Microsoft Entra ID v2.0 access tokens of one tenant
// (https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference):
// iss https://login.microsoftonline.com/{tenantID}/v2.0, the audience the
// API's client ID (a GUID), delegated scopes in scp and app roles in
// roles, the client in azp. ID tokens are refused (no azp). The tenant's
// JWKS binds its keys to issuers, as EntraIDMultiTenant's does, and a
// token is held to its key's: one whose tid is not the tenant its iss
// names is refused.
func EntraID(tenantID string) (*Preset, error) {
	if err := label("Entra ID", "tenant ID", tenantID); err != nil {
		return nil, err
	}
	return &Preset{
		name:   "Microsoft Entra ID",
		issuer: "https://login.microsoftonline.com/" + tenantID + "/v2.0",
		issuerOpts: []middleware.Option{
			middleware.WithScopeClaims("roles"),
			middleware.WithClientIDClaims("azp"),
			entraAccessOnly,
		},
		doc: "https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference",
	}, nil
}

// EntraIDv1 is Microsoft Entra ID v1.0 access tokens of one tenant: iss
// https://sts.windows.net/{tenantID}/ (trailing slash included), whose
// metadata and keys live at login.microsoftonline.com, not at the issuer
// (https://login.microsoftonline.com/{tenantID}/.well-known/openid-configuration);
// the audience the App ID URI or client ID; scp and roles; the client in
// appid. ID tokens are refused (no appid).
func EntraIDv1(tenantID string) (*Preset, error) {
	if err := label("Entra ID v1", "tenant ID", tenantID); err != nil {
		return nil, err
	}
	return &Preset{
		name:         "Microsoft Entra ID v1.0",
		issuer:       "https://sts.windows.net/" + tenantID + "/",
		discoveryURL: "https://login.microsoftonline.com/" + tenantID + "/.well-known/openid-configuration",
		issuerOpts: []middleware.Option{
			middleware.WithScopeClaims("roles"),
			middleware.WithClientIDClaims("appid"),
			entraAccessOnly,
		},
		doc: "https://learn.microsoft.com/en-us/entra/identity-platform/access-token-claims-reference",
	}, nil
}

// EntraIDMultiTenant is Microsoft Entra ID v2.0 access tokens from the
// tenants listed, for an app registration open to other organisations
// (https://learn.microsoft.com/en-us/entra/identity-platform/howto-convert-app-to-be-multi-tenant):
// each token's iss names its own tenant, which must be its tid, and all
// are signed with the keys at
// https://login.microsoftonline.com/common/discovery/v2.0/keys. The
// tenants are required: without them every Entra ID organisation's users
// get in (ErrAllowListRequired).
//
// That JWKS binds each key to the issuer it signs for, in a non-standard
// "issuer" member: https://login.microsoftonline.com/{tenantid}/v2.0 for
// the keys every tenant shares, one tenant's own issuer for a key of that
// tenant alone (the consumer accounts' tenant,
// 9188040d-6c67-4c5b-b112-36a304b66dad, has its own). A token verifies
// only with a key bound to its iss, {tenantid} filled by its tid, as
// Microsoft.IdentityModel's signing key issuer check has it since
// Storm-0558, so a key of another tenant is refused
// (middleware.ErrKeyMismatch) even for a token naming an allowed one. The
// *jwks.Cache that Keys returns reads that member; a KeySet of your own
// given to Option must return it as LookupKey's issuer (middleware.KeySet).
func EntraIDMultiTenant(tenantIDs ...string) (*Preset, error) {
	if err := allowList("Entra ID multi-tenant", "tenant IDs", tenantIDs); err != nil {
		return nil, err
	}
	return &Preset{
		name:     "Microsoft Entra ID multi-tenant",
		issuer:   "https://login.microsoftonline.com/" + middleware.TenantPlaceholder + "/v2.0",
		template: true,
		jwksURL:  "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		issuerOpts: []middleware.Option{
			middleware.WithTenants(tenantIDs...),
			middleware.WithScopeClaims("roles"),
			middleware.WithClientIDClaims("azp"),
			entraAccessOnly,
		},
		doc: "https://learn.microsoft.com/en-us/entra/identity-platform/howto-convert-app-to-be-multi-tenant",
	}, nil
}

// AzureADB2C is Azure AD B2C access tokens of one user flow (policy)
// (https://learn.microsoft.com/en-us/azure/active-directory-b2c/tokens-overview):
// metadata at
// https://{tenant}.b2clogin.com/{tenant}.onmicrosoft.com/{policy}/v2.0/.well-known/openid-configuration,
// iss https://{tenant}.b2clogin.com/{tenantID}/v2.0/, the audience the
// API's client ID, scopes in scp, the client in azp. Tokens of another
// user flow (tfp or acr) and ID tokens (no azp) are refused.
func AzureADB2C(tenant, tenantID, policy string) (*Preset, error) {
	if err := label("Azure AD B2C", "tenant name", tenant, "tenant ID", tenantID, "policy", policy); err != nil {
		return nil, err
	}
	host := "https://" + tenant + ".b2clogin.com/"
	return &Preset{
		name:         "Azure AD B2C",
		issuer:       host + tenantID + "/v2.0/",
		discoveryURL: host + tenant + ".onmicrosoft.com/" + policy + "/v2.0/.well-known/openid-configuration",
		issuerOpts: []middleware.Option{
			middleware.WithClientIDClaims("azp"),
			requireOneOf(ErrIDToken, "azp"),
			middleware.WithClaimsCheck(func(c *claims.Claims) error {
				flow := c.ACR
				if v := c.Strings("tfp"); len(v) == 1 {
					flow = v[0]
				}
				if !strings.EqualFold(flow, policy) {
					return fmt.Errorf("%w: user flow %q, not %q", ErrNotAllowed, flow, policy)
				}
				return nil
			}),
		},
		doc: "https://learn.microsoft.com/en-us/azure/active-directory-b2c/tokens-overview",
	}, nil
}

// Keycloak is a Keycloak realm's access tokens
// (https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_and_saml_assertion_mappings):
// iss {baseURL}/realms/{realm}; realm roles, and the roles of each client
// in clientRoles, count as scopes; the client in azp. Keycloak marks each
// token with a typ claim: only "Bearer" (an access token) passes, never
// "ID" or "Refresh", though an ID token's aud may include the API. The
// audience needs an Audience mapper on the client.
func Keycloak(baseURL, realm string, clientRoles ...string) (*Preset, error) {
	if err := checkURL("Keycloak", baseURL); err != nil {
		return nil, err
	}
	if err := label("Keycloak", "realm", realm); err != nil {
		return nil, err
	}
	paths := []string{"realm_access.roles"}
	for _, cl := range clientRoles {
		if cl == "" {
			return nil, fmt.Errorf("providers: Keycloak: empty client ID")
		}
		esc := strings.NewReplacer(`\`, `\\`, `.`, `\.`).Replace(cl)
		paths = append(paths, "resource_access."+esc+".roles")
	}
	return &Preset{
		name:   "Keycloak",
		issuer: strings.TrimSuffix(baseURL, "/") + "/realms/" + realm,
		issuerOpts: []middleware.Option{
			middleware.WithScopeClaims(paths...),
			middleware.WithClientIDClaims("client_id", "azp"),
			requireClaim("typ", ErrIDToken, "Bearer"),
		},
		doc: "https://www.keycloak.org/docs/latest/server_admin/#_oidc_token_and_saml_assertion_mappings",
	}, nil
}

// Cognito is an Amazon Cognito user pool's access tokens
// (https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html):
// iss https://cognito-idp.{region}.amazonaws.com/{userPoolID}. They have no
// aud: the audience to configure is the app client ID, matched against
// client_id. Groups count as scopes. token_use must be "access": ID tokens
// carry the client ID as aud and would pass otherwise.
func Cognito(region, userPoolID string) (*Preset, error) {
	if err := label("Cognito", "region", region, "user pool ID", userPoolID); err != nil {
		return nil, err
	}
	return &Preset{
		name:   "Amazon Cognito",
		issuer: "https://cognito-idp." + region + ".amazonaws.com/" + userPoolID,
		issuerOpts: []middleware.Option{
			middleware.WithClientIDAsAudience(),
			middleware.WithScopeClaims("cognito:groups"),
			requireClaim("token_use", ErrIDToken, "access"),
		},
		doc: "https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html",
	}, nil
}

// Google is Google-signed ID tokens used as bearer tokens, as Cloud Run,
// Cloud Functions and Cloud Scheduler send them between services
// (https://cloud.google.com/run/docs/authenticating/service-to-service):
// iss https://accounts.google.com (or accounts.google.com), the audience
// the receiving service's URL. Any Google account can mint one for any
// audience, so the callers' emails are required (a service account's, or a
// user's), and the email must be verified.
func Google(emails ...string) (*Preset, error) {
	if err := allowList("Google", "caller emails", emails); err != nil {
		return nil, err
	}
	allowed := slices.Clone(emails)
	return &Preset{
		name:   "Google",
		issuer: "https://accounts.google.com",
		issuerOpts: []middleware.Option{
			middleware.WithIssuerAliases("accounts.google.com"),
			middleware.WithClientIDClaims("azp"),
			emailAllowed(allowed),
		},
		doc: "https://cloud.google.com/run/docs/authenticating/service-to-service",
	}, nil
}

// emailAllowed requires a verified email among allowed.
func emailAllowed(allowed []string) middleware.Option {
	return middleware.WithClaimsCheck(func(c *claims.Claims) error {
		email := c.Strings("email")
		if len(email) != 1 || !slices.Contains(allowed, email[0]) {
			return fmt.Errorf("%w: email %q", ErrNotAllowed, email)
		}
		if v := c.Strings("email_verified"); len(v) != 1 || v[0] != "true" {
			return fmt.Errorf("%w: email %q not verified", ErrNotAllowed, email[0])
		}
		return nil
	})
}

// GoogleIAP is Identity-Aware Proxy's signed headers
// (https://cloud.google.com/iap/docs/signed-headers-howto): the JWT in
// X-Goog-IAP-JWT-Assertion (the Authorization header is then not read),
// iss https://cloud.google.com/iap, ES256 keys from
// https://www.gstatic.com/iap/verify/public_key-jwk, the audience
// /projects/{number}/global/backendServices/{id} or
// /projects/{number}/apps/{projectID}. IAP has admitted the user; the
// token proves the request came through IAP.
func GoogleIAP() (*Preset, error) {
	return &Preset{
		name:        "Google IAP",
		issuer:      "https://cloud.google.com/iap",
		jwksURL:     "https://www.gstatic.com/iap/verify/public_key-jwk",
		tokenHeader: "X-Goog-IAP-JWT-Assertion",
		doc:         "https://cloud.google.com/iap/docs/signed-headers-howto",
	}, nil
}

// Firebase is Firebase Authentication ID tokens, which Firebase clients
// send to their backends (https://firebase.google.com/docs/auth/admin/verify-id-tokens#verify_id_tokens_using_a_third-party_jwt_library):
// iss https://securetoken.google.com/{projectID}, the audience the project
// ID, keys from Google's securetoken service account. Only the project's
// own users hold them.
func Firebase(projectID string) (*Preset, error) {
	if err := label("Firebase", "project ID", projectID); err != nil {
		return nil, err
	}
	return &Preset{
		name:    "Firebase Authentication",
		issuer:  "https://securetoken.google.com/" + projectID,
		jwksURL: "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com",
		doc:     "https://firebase.google.com/docs/auth/admin/verify-id-tokens",
	}, nil
}

// GitHubRule says which GitHub Actions workflows may call. The
// repositories are required, by name (owner/name) or, better, by ID
// (repository_id, which a repository keeps when renamed and which nobody
// can take over by registering a deleted name); given both, a token must
// match both. Refs (refs/heads/main) and environments, when given, must
// match too. Per-route rules are middleware.ClaimIn on the same claims.
type GitHubRule struct {
	// Repositories are the allowed values of the repository claim,
	// owner/name.
	Repositories []string
	// RepositoryIDs are the allowed values of the repository_id claim,
	// which survive a rename.
	RepositoryIDs []string
	// Refs, when given, are the allowed values of the ref claim
	// (refs/heads/main, refs/tags/v1).
	Refs []string
	// Environments, when given, are the allowed values of the environment
	// claim (a token of a job without one has none, and is refused).
	Environments []string
}

// GitHubActions is GitHub Actions OIDC tokens
// (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect):
// iss https://token.actions.githubusercontent.com. Every repository on
// GitHub can ask for any audience, so the repositories are required
// (ErrAllowListRequired); and give the workflow an audience of this API's
// own (the default, https://github.com/{owner}, is the same for every
// service the owner's workflows call).
func GitHubActions(rule GitHubRule) (*Preset, error) {
	if len(rule.Repositories) == 0 && len(rule.RepositoryIDs) == 0 {
		return nil, fmt.Errorf("%w: GitHub Actions needs the repositories allowed", ErrAllowListRequired)
	}
	var opts []middleware.Option
	// In a fixed order: the first bad list is the one reported, every time,
	// and the claim checks run in the order written here.
	for _, c := range []struct {
		claim string
		list  []string
	}{{"repository", rule.Repositories}, {"repository_id", rule.RepositoryIDs}, {"ref", rule.Refs}, {"environment", rule.Environments}} {
		if len(c.list) == 0 {
			continue
		}
		if err := allowList("GitHub Actions", c.claim+" values", c.list); err != nil {
			return nil, err
		}
		opts = append(opts, requireClaim(c.claim, ErrNotAllowed, c.list...))
	}
	return &Preset{
		name:       "GitHub Actions",
		issuer:     "https://token.actions.githubusercontent.com",
		issuerOpts: opts,
		doc:        "https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect",
	}, nil
}

// KubernetesRule says which service accounts may call: namespaces are
// required; service accounts (names), when given, must match too.
type KubernetesRule struct {
	// Namespaces are the allowed namespaces, as the token's kubernetes.io
	// claim names its own (kubernetes.io.namespace); at least one.
	Namespaces []string
	// ServiceAccounts, when given, are the allowed service account names
	// (kubernetes.io.serviceaccount.name), in any of the Namespaces.
	ServiceAccounts []string
}

// Kubernetes is Kubernetes service-account tokens (projected volumes)
// (https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/#service-account-issuer-discovery):
// iss the cluster's --service-account-issuer, discovered there; the
// audience the one the projected volume asks for. Every service account
// of the cluster holds one, so the namespaces are required.
func Kubernetes(issuer string, rule KubernetesRule) (*Preset, error) {
	if err := checkURL("Kubernetes", issuer); err != nil {
		return nil, err
	}
	if err := allowList("Kubernetes", "namespaces", rule.Namespaces); err != nil {
		return nil, err
	}
	opts := []middleware.Option{requireClaimAt([]string{"kubernetes.io", "namespace"}, ErrNotAllowed, rule.Namespaces...)}
	if len(rule.ServiceAccounts) > 0 {
		opts = append(opts, requireClaimAt([]string{"kubernetes.io", "serviceaccount", "name"}, ErrNotAllowed, rule.ServiceAccounts...))
	}
	return &Preset{
		name:       "Kubernetes",
		issuer:     issuer,
		issuerOpts: opts,
		doc:        "https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/",
	}, nil
}

// OryHydra is Ory Hydra's JWT access tokens (the jwt strategy)
// (https://www.ory.sh/docs/oauth2-oidc/jwt-access-token): issuer exactly as
// Hydra's urls.self.issuer (and its discovery) spells it, scopes in scp,
// the client in client_id, which ID tokens lack (theirs is aud).
func OryHydra(issuer string) (*Preset, error) {
	if err := checkURL("Ory Hydra", issuer); err != nil {
		return nil, err
	}
	return &Preset{
		name:       "Ory Hydra",
		issuer:     issuer,
		issuerOpts: []middleware.Option{requireOneOf(ErrIDToken, "client_id")},
		doc:        "https://www.ory.sh/docs/oauth2-oidc/jwt-access-token",
	}, nil
}

// OryNetwork is Ory Network's JWT access tokens: OryHydra at
// https://{slug}.projects.oryapis.com/ (as its discovery names it).
func OryNetwork(slug string) (*Preset, error) {
	if err := label("Ory Network", "project slug", slug); err != nil {
		return nil, err
	}
	p, err := OryHydra("https://" + slug + ".projects.oryapis.com/")
	if err != nil {
		return nil, err
	}
	p.name = "Ory Network"
	return p, nil
}

// zitadelRoles is where ZITADEL asserts a project's roles: an object keyed
// by role, each holding the IDs of the organisations that granted it.
const zitadelRoles = "urn:zitadel:iam:org:project:roles"

// Zitadel is ZITADEL's JWT access tokens (https://zitadel.com/docs/apis/openidoauth/claims):
// iss the instance URL, the audience the project ID; the roles granted in
// orgID count as scopes, and those of every other organisation do not. ID
// tokens, whose aud also holds the project ID, are refused by the claims
// only they carry (amr, auth_time, preferred_username) and the one they
// lack (jti). Users of every organisation of the instance get in, with
// no roles from other organisations: require the roles that matter.
func Zitadel(instanceURL, orgID string) (*Preset, error) {
	if err := checkURL("ZITADEL", instanceURL); err != nil {
		return nil, err
	}
	if err := label("ZITADEL", "organisation ID", orgID); err != nil {
		return nil, err
	}
	return &Preset{
		name:   "ZITADEL",
		issuer: strings.TrimSuffix(instanceURL, "/"),
		issuerOpts: []middleware.Option{
			middleware.WithClientIDClaims("client_id", "azp"),
			refuseClaims("amr", "auth_time", "preferred_username"),
			requireOneOf(ErrIDToken, "jti"), // only ZITADEL's JWT access tokens carry one
			middleware.WithScopesFrom(func(c *claims.Claims) []string {
				var roles []string
				for _, role := range c.Values(zitadelRoles) {
					if c.Strings(zitadelRoles, role, orgID) != nil {
						roles = append(roles, role)
					}
				}
				return roles
			}),
		},
		doc: "https://zitadel.com/docs/apis/openidoauth/claims",
	}, nil
}

// CloudflareAccess is Cloudflare Access application tokens
// (https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/):
// the JWT in Cf-Access-Jwt-Assertion (the Authorization header is then
// not read), iss https://{team}.cloudflareaccess.com, keys at its
// /cdn-cgi/access/certs, the audience the application's AUD tag, type
// "app". A service token's subject is its common_name (Claims.SubjectFrom
// says so).
func CloudflareAccess(team string) (*Preset, error) {
	if err := label("Cloudflare Access", "team", team); err != nil {
		return nil, err
	}
	host := "https://" + team + ".cloudflareaccess.com"
	return &Preset{
		name:        "Cloudflare Access",
		issuer:      host,
		jwksURL:     host + "/cdn-cgi/access/certs",
		tokenHeader: "Cf-Access-Jwt-Assertion",
		issuerOpts: []middleware.Option{
			// A service token's sub is empty; its common_name is the token's ID.
			middleware.WithSubjectClaim("common_name"),
			requireClaim("type", ErrIDToken, "app"), // not an organisation token
		},
		doc: "https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/",
	}, nil
}

// Duende is Duende IdentityServer (and IdentityServer4) access tokens
// (https://docs.duendesoftware.com/identityserver/tokens/jwt/): iss the
// authority, typ at+jwt, scope as a JSON array, the client in client_id.
// Client-credentials tokens have no sub: their subject is the client ID.
// ID tokens are refused by the audience (theirs is the client ID) and by
// the claims only they carry (nonce, at_hash).
func Duende(authority string) (*Preset, error) {
	if err := checkURL("Duende IdentityServer", authority); err != nil {
		return nil, err
	}
	return &Preset{
		name:   "Duende IdentityServer",
		issuer: authority,
		issuerOpts: []middleware.Option{
			middleware.WithSubjectClaim("client_id"),
			refuseClaims("nonce", "at_hash"),
		},
		doc: "https://docs.duendesoftware.com/identityserver/tokens/jwt/",
	}, nil
}

// SpringAuthorizationServer is Spring Authorization Server's JWT access
// tokens (https://docs.spring.io/spring-authorization-server/reference/core-model-components.html#oauth2-token-customizer):
// iss as configured, scope as a JSON array; for client credentials, sub
// is the client ID. Its ID tokens have the same aud (the client ID, unless
// a customizer sets the API's) and carry azp, which its access tokens
// never do: they are refused by it.
func SpringAuthorizationServer(issuer string) (*Preset, error) {
	if err := checkURL("Spring Authorization Server", issuer); err != nil {
		return nil, err
	}
	return &Preset{
		name:       "Spring Authorization Server",
		issuer:     issuer,
		issuerOpts: []middleware.Option{refuseClaims("azp", "nonce")},
		doc:        "https://docs.spring.io/spring-authorization-server/reference/core-model-components.html",
	}, nil
}
