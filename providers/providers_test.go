package providers_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
	"github.com/jwtguard/jwtguard/providers"
)

func TestConstructorsRefuseBadArguments(t *testing.T) {
	for name, build := range map[string]func() (*providers.Preset, error){
		"Auth0 empty":           func() (*providers.Preset, error) { return providers.Auth0("") },
		"Auth0 with a path":     func() (*providers.Preset, error) { return providers.Auth0("evil.example/x") },
		"Okta without server":   func() (*providers.Preset, error) { return providers.Okta("dev.okta.com", "") },
		"EntraID with a slash":  func() (*providers.Preset, error) { return providers.EntraID("a/b") },
		"B2C without policy":    func() (*providers.Preset, error) { return providers.AzureADB2C("t", "id", "") },
		"Keycloak over http":    func() (*providers.Preset, error) { return providers.Keycloak("http://kc.example.com", "r") },
		"Keycloak empty client": func() (*providers.Preset, error) { return providers.Keycloak("https://kc.example.com", "r", "") },
		"Cognito without pool":  func() (*providers.Preset, error) { return providers.Cognito("eu-west-1", "") },
		"Kubernetes with a query": func() (*providers.Preset, error) {
			return providers.Kubernetes("https://k8s?x=1", providers.KubernetesRule{Namespaces: []string{"a"}})
		},
		"Zitadel without org":        func() (*providers.Preset, error) { return providers.Zitadel("https://i.zitadel.cloud", "") },
		"Duende with user info":      func() (*providers.Preset, error) { return providers.Duende("https://u:p@id.example.com") },
		"Google with an empty email": func() (*providers.Preset, error) { return providers.Google("") },
		"GitHub with an empty ID": func() (*providers.Preset, error) {
			return providers.GitHubActions(providers.GitHubRule{RepositoryIDs: []string{""}})
		},
	} {
		if p, err := build(); err == nil {
			t.Errorf("%s: built %+v", name, p)
		}
	}
}

func TestAllowListsAreRequired(t *testing.T) {
	for name, build := range map[string]func() (*providers.Preset, error){
		"Entra multi-tenant": func() (*providers.Preset, error) { return providers.EntraIDMultiTenant() },
		"Google":             func() (*providers.Preset, error) { return providers.Google() },
		"GitHub Actions": func() (*providers.Preset, error) {
			return providers.GitHubActions(providers.GitHubRule{Refs: []string{"refs/heads/main"}})
		},
		"Kubernetes": func() (*providers.Preset, error) {
			return providers.Kubernetes("https://k8s.example.com", providers.KubernetesRule{ServiceAccounts: []string{"api"}})
		},
	} {
		if _, err := build(); !errors.Is(err, providers.ErrAllowListRequired) {
			t.Errorf("%s: %v, want ErrAllowListRequired", name, err)
		}
	}
	if _, err := providers.OktaOrg("dev.okta.com"); !errors.Is(err, providers.ErrNotLocallyVerifiable) {
		t.Errorf("OktaOrg: %v, want ErrNotLocallyVerifiable", err)
	}
}

func TestNewRefuses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	iap, _ := providers.GoogleIAP()
	cf, _ := providers.CloudflareAccess("team")
	auth0, _ := providers.Auth0("t.auth0.com")
	for name, presets := range map[string][]*providers.Preset{
		"no presets":                      nil,
		"a nil preset":                    {nil},
		"two presets reading two headers": {iap, cf},
		"the same issuer twice":           {auth0, auth0},
	} {
		if _, err := providers.New(ctx, []string{"https://api.example.com"}, presets); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := providers.New(ctx, nil, []*providers.Preset{auth0}); err == nil {
		t.Error("no audience accepted")
	}
	if _, err := providers.New(ctx, []string{"https://api.example.com"}, []*providers.Preset{auth0}, nil); err == nil || err.Error() != "providers: nil Option" {
		t.Errorf("a nil Option: %v", err)
	}
	okta, _ := providers.Okta("dev.okta.com", "default")
	g, err := providers.New(ctx, []string{"https://api.example.com"}, []*providers.Preset{auth0, okta})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Issuers(); len(got) != 2 || got[0] != "https://t.auth0.com/" || got[1] != "https://dev.okta.com/oauth2/default" {
		t.Fatalf("Issuers() = %q", got)
	}
	if iap.GuardOptions() == nil || auth0.GuardOptions() != nil {
		t.Fatal("GuardOptions: only IAP reads another header")
	}
	if auth0.Issuer() != "https://t.auth0.com/" || auth0.Name() != "Auth0" || auth0.Doc() == "" {
		t.Fatalf("accessors: %q %q %q", auth0.Issuer(), auth0.Name(), auth0.Doc())
	}
}

// A Guard over two providers; each preset's keys are fetched in the
// background, and cancelling ctx stops them.
func ExampleNew() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	auth0, err := providers.Auth0("my-tenant.eu.auth0.com")
	if err != nil {
		panic(err)
	}
	entra, err := providers.EntraIDMultiTenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
	if err != nil {
		panic(err)
	}
	guard, err := providers.New(ctx, []string{"https://notes.example.com"}, []*providers.Preset{auth0, entra})
	if err != nil {
		panic(err)
	}
	_ = guard.Require(middleware.Scopes("notes:read")) // protect routes as with any Guard
}

// Of several bad allow-lists, GitHub Actions reports the first in the
// order its rule lists them, every time (it used to walk a map).
func TestGitHubActionsReportsTheFirstBadList(t *testing.T) {
	for range 20 {
		_, err := providers.GitHubActions(providers.GitHubRule{Repositories: []string{""}, Refs: []string{""}, Environments: []string{""}})
		if err == nil || !strings.Contains(err.Error(), "an empty repository values") {
			t.Fatalf("%v, want the repositories named", err)
		}
	}
}

// The Guard New returns closes the key caches New made: they are stopped
// with it, and nothing else can reach them (a context cancelled instead
// would log that their keys froze). Found by a fifth review.
func TestGuardCloseClosesThePresetsCaches(t *testing.T) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience("https://api.example.com"))
	t.Cleanup(iss.Close)
	p, err := providers.SpringAuthorizationServer(iss.URL())
	if err != nil {
		t.Fatal(err)
	}
	g, err := providers.New(context.Background(), []string{"https://api.example.com"}, []*providers.Preset{p},
		providers.WithKeyOptions(jwks.WithLogger(slog.New(slog.DiscardHandler)), jwks.WithUnknownKIDCooldown(time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	valid := iss.Mint()
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, err := g.VerifyToken(ctx, valid)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys never arrived: %v", err)
		}
		time.Sleep(5 * time.Millisecond) // polling the first fetch, bounded above
	}
	g.Close()
	before := iss.JWKSFetches()
	// An unknown kid would make an open cache fetch.
	if _, err := g.VerifyToken(ctx, iss.Mint(jwkstest.WithKID("rotated-in"))); err == nil {
		t.Fatal("a token of an unknown kid was accepted")
	}
	if n := iss.JWKSFetches() - before; n != 0 {
		t.Errorf("after the Guard's Close its preset's cache fetched %d times", n)
	}
}

// Entra ID's JWKS binds each key to the issuer it signs for: every
// tenant's (https://login.microsoftonline.com/{tenantid}/v2.0) or one
// tenant's alone, such as the consumer accounts' (Storm-0558 was such a
// key accepted for enterprise tenants' tokens). Each preset holds a token
// to its key's issuer, as Microsoft.IdentityModel does; a key bound to no
// issuer is unaffected. Found by a sixth review.
func TestEntraPresetsHoldTokensToTheirKeysIssuer(t *testing.T) {
	const (
		a, b, msa = guardtest.EntraTenantA, guardtest.EntraTenantB, guardtest.EntraConsumers
		api       = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	)
	issFor := guardtest.EntraIssuer
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(api))
	t.Cleanup(iss.Close)
	shared, scoped, ownB, plain := iss.Rotate("RS256"), iss.Rotate("RS256"), iss.Rotate("ES256"), iss.Rotate("RS256")
	guardtest.PublishBound(iss, map[string]string{shared: issFor(middleware.TenantPlaceholder), scoped: issFor(msa), ownB: issFor(b), plain: ""})
	keys := iss.NewCache()
	guard := func(p *providers.Preset, err error) *middleware.Guard {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		g, err := middleware.New(nil, "", []string{api}, p.Option(keys))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Close)
		return g
	}
	multi := guard(providers.EntraIDMultiTenant(a, b))
	single := guard(providers.EntraID(a))
	tok := func(kid, tenant string, tid any) string {
		return iss.Mint(jwkstest.WithKID(kid), jwkstest.WithHeader("typ", "JWT"), jwkstest.WithClaim("azp", "a4d5b2c1-0000-4000-8000-00000000c1e7"),
			jwkstest.WithClaim("iss", issFor(tenant)), jwkstest.WithClaim("tid", tid))
	}
	for _, tc := range []struct {
		name string
		g    *middleware.Guard
		tok  string
		want error
	}{
		{"multi-tenant, shared key, tenant a", multi, tok(shared, a, a), nil},
		{"multi-tenant, shared key, tenant b", multi, tok(shared, b, b), nil},
		{"multi-tenant, consumer tenant's key, tenant a", multi, tok(scoped, a, a), middleware.ErrKeyMismatch},
		{"multi-tenant, tenant b's key, tenant a", multi, tok(ownB, a, a), middleware.ErrKeyMismatch},
		{"multi-tenant, tenant b's key, its own", multi, tok(ownB, b, b), nil},
		{"multi-tenant, unbound key", multi, tok(plain, a, a), nil},
		{"single tenant, shared key", single, tok(shared, a, a), nil},
		{"single tenant, shared key, another tid", single, tok(shared, a, b), middleware.ErrKeyMismatch},
		{"single tenant, shared key, no tid", single, tok(shared, a, nil), middleware.ErrKeyMismatch},
		{"single tenant, consumer tenant's key", single, tok(scoped, a, a), middleware.ErrKeyMismatch},
		{"single tenant, unbound key, no tid", single, tok(plain, a, nil), nil},
	} {
		_, err := tc.g.VerifyToken(context.Background(), tc.tok)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
