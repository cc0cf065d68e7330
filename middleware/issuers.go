package middleware

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// TenantPlaceholder is the part of an issuer template (WithIssuerTemplate),
// and of the issuer a key is bound to (KeySet), that a token's "tid" claim
// fills in.
const TenantPlaceholder = keyalg.TenantPlaceholder

// issuerConfig is what the issuer options set: for New's own issuer, and for
// each WithIssuer, WithIssuerTemplate and WithIssuerResolver.
type issuerConfig struct {
	kind             issuerKind
	name             string // the iss, or the template
	keys             KeySet
	aliases          []string
	scopeClaims      []string
	clientIDAudience bool
	clientIDClaims   []string
	subjectClaim     string
	scopeFuncs       []func(*claims.Claims) []string
	errs             []error
	checks           []func(*claims.Claims) error
	tenants          []string
	tenantsSet       bool
}

type issuerKind uint8

const (
	literalIssuer issuerKind = iota
	templateIssuer
	resolvedIssuer
)

// issuer is one authorization server of a Guard, compiled by New: its key
// set (never shared with another issuer) and the token-shape rules that are
// its own. It never changes after it is built.
type issuer struct {
	name             string // the iss it was configured with (the template, for one)
	keys             KeySet
	versions         VersionedKeySet // keys, when it reports changes; else nil
	scopeClaims      [][]string      // member names, escapes undone
	clientIDAudience bool
	clientIDClaims   []string // where Claims.ClientID comes from, in order; nil: client_id
	subjectClaim     string   // where Subject comes from when sub is absent; "": nowhere
	scopeFuncs       []func(*claims.Claims) []string
	checks           []func(*claims.Claims) error
	aliases          []string
	// A template matches iss = prefix + tid + suffix, for the token's own
	// "tid", and (when tenants is not nil) only for the tenants listed.
	prefix, suffix string
	tenants        map[string]bool
	// resolved marks an issuer a resolver accepted: its cached tokens ask
	// the resolver (a lock and a map lookup while the answer is fresh), so
	// a revocation reaches a token that is only ever repeated.
	resolved bool
	// retired is set when a resolver drops the issuer (evicted, refused on
	// asking again, or the Guard closed): its cached tokens no longer count.
	retired atomic.Bool
	// pending is set for a resolved issuer until a token verifies with its
	// keys: the resolver holds it apart from the key sets in use until then.
	pending atomic.Bool
}

// WithIssuer accepts tokens from one more issuer besides the one given to
// New: tokens whose iss is exactly issuer (or one of its aliases) are
// verified with keys, and only with keys. Its opts are issuer options
// (listed under Option), and they apply to this issuer alone; New fails if
// any other option is among them, or if two issuers claim the same iss.
//
// A token names its issuer in iss, before anything is verified: the Guard
// looks that name up among the configured issuers only, so an unknown iss
// costs no key lookup and no network request, and a key of one issuer can
// never verify a token that names another. A literal issuer (New's or
// WithIssuer's) wins over a template that would also match its iss.
func WithIssuer(keys KeySet, issuer string, opts ...Option) Option {
	return addIssuer(issuerConfig{kind: literalIssuer, name: issuer, keys: keys}, opts)
}

// WithIssuerTemplate accepts tokens from every tenant of a multi-tenant
// issuer that signs them all with one key set, such as Microsoft Entra ID:
//
//	middleware.WithIssuerTemplate(commonKeys, "https://login.microsoftonline.com/{tenantid}/v2.0",
//		middleware.WithTenants("72f988bf-86f1-41af-91ab-2d7cd011db47"))
//
// A token matches when template with TenantPlaceholder replaced by the
// token's "tid" claim is exactly its iss; a token without tid, or whose tid
// is not the tenant its iss names, is refused as from an unknown issuer. With
// WithTenants only the tenants listed are accepted; without it, any tenant
// is, which suits an API open to every organisation (then check the tenant
// yourself where it matters). The template must hold TenantPlaceholder once,
// and opts are issuer options, as for WithIssuer.
//
// One key set serving every tenant is what makes a key of one tenant a
// danger to the others; Entra ID binds each of its keys to the issuer it
// signs for, and the Guard holds every token to its key's issuer (KeySet),
// so a key bound to one tenant never verifies another's tokens.
func WithIssuerTemplate(keys KeySet, template string, opts ...Option) Option {
	return addIssuer(issuerConfig{kind: templateIssuer, name: template, keys: keys}, opts)
}

// WithTenants limits an issuer template (WithIssuerTemplate) to the tenants
// listed, by their tid. An issuer option; New fails if it is given to an
// issuer that is not a template, or with no tenant at all.
func WithTenants(tids ...string) Option {
	return issuerOption(func(ic *issuerConfig) {
		ic.tenants, ic.tenantsSet = append(ic.tenants, tids...), true
	})
}

// addIssuer is the Option for one more issuer: opts are applied to a config
// of their own, and any that is not an issuer option makes New fail.
func addIssuer(ic issuerConfig, opts []Option) Option {
	return func(c *config) {
		scratch := config{iss: &ic}
		for _, o := range opts {
			if o == nil {
				c.errs = append(c.errs, fmt.Errorf("middleware: nil Option among the options of %s", ic.option()))
				continue
			}
			o(&scratch)
		}
		if len(scratch.issuers) > 0 || scratch.resolver != nil {
			c.errs = append(c.errs, fmt.Errorf("middleware: %s was given another issuer among its options; give each issuer to New", ic.option()))
		}
		if n := len(scratch.guardOptions); n > 0 {
			what := "the Guard option "
			if n > 1 {
				what = "the Guard options "
			}
			c.errs = append(c.errs, fmt.Errorf("middleware: %s was given %s%s; give Guard options to New",
				ic.option(), what, strings.Join(scratch.guardOptions, ", ")))
		}
		c.errs = append(c.errs, scratch.errs...)
		c.issuers = append(c.issuers, ic)
	}
}

// option is the Option that configures ic, as a caller wrote it, for
// errors.
func (ic *issuerConfig) option() string {
	switch ic.kind {
	case templateIssuer:
		return fmt.Sprintf("WithIssuerTemplate(%q)", ic.name)
	case resolvedIssuer:
		return "WithIssuerResolver"
	}
	return fmt.Sprintf("WithIssuer(%q)", ic.name)
}

// issuerOption makes an Option that sets the issuer being configured.
func issuerOption(f func(*issuerConfig)) Option {
	return func(c *config) {
		c.issuerOptions++
		f(c.iss)
	}
}

// compile checks an issuer's configuration and builds it.
func (ic *issuerConfig) compile() (*issuer, error) {
	switch {
	case ic.keys == nil:
		return nil, fmt.Errorf("middleware: nil key set for issuer %q", ic.name)
	case ic.name == "" && ic.kind != resolvedIssuer:
		return nil, errors.New("middleware: issuer is required")
	case slices.Contains(ic.aliases, ""):
		return nil, errors.New("middleware: empty issuer alias")
	case len(ic.errs) > 0:
		return nil, errors.Join(ic.errs...)
	case slices.Contains(ic.clientIDClaims, "") || (ic.clientIDClaims != nil && len(ic.clientIDClaims) == 0):
		return nil, fmt.Errorf("middleware: WithClientIDClaims for %q names no claim, or an empty one", ic.name)
	case ic.subjectClaim == "sub":
		return nil, fmt.Errorf("middleware: WithSubjectClaim for %q names sub itself", ic.name)
	case ic.tenantsSet && ic.kind != templateIssuer:
		return nil, fmt.Errorf("middleware: WithTenants for %q, which is not an issuer template", ic.name)
	case ic.tenantsSet && (len(ic.tenants) == 0 || slices.Contains(ic.tenants, "")):
		return nil, fmt.Errorf("middleware: WithTenants for %q names no tenant, or an empty one", ic.name)
	}
	paths, err := splitScopePaths(ic.scopeClaims)
	if err != nil {
		return nil, err
	}
	is := &issuer{
		name:             ic.name,
		keys:             ic.keys,
		scopeClaims:      paths,
		clientIDAudience: ic.clientIDAudience,
		clientIDClaims:   slices.Clone(ic.clientIDClaims),
		subjectClaim:     ic.subjectClaim,
		scopeFuncs:       slices.Clone(ic.scopeFuncs),
		checks:           slices.Clone(ic.checks),
		aliases:          slices.Clone(ic.aliases),
	}
	is.versions, _ = ic.keys.(VersionedKeySet)
	if ic.kind == templateIssuer {
		if strings.Count(ic.name, TenantPlaceholder) != 1 {
			return nil, fmt.Errorf("middleware: issuer template %q must hold %s exactly once", ic.name, TenantPlaceholder)
		}
		if len(ic.aliases) > 0 {
			return nil, fmt.Errorf("middleware: issuer template %q cannot have aliases", ic.name)
		}
		is.prefix, is.suffix, _ = strings.Cut(ic.name, TenantPlaceholder)
		if ic.tenantsSet {
			is.tenants = make(map[string]bool, len(ic.tenants))
			for _, t := range ic.tenants {
				is.tenants[t] = true
			}
		}
	}
	return is, nil
}

// matchTemplate reports whether the template issuer is accepts c: iss is
// the template filled with c's own tid, and that tenant is allowed.
func (is *issuer) matchTemplate(c *claims.Claims) bool {
	iss := c.Issuer
	if len(iss) <= len(is.prefix)+len(is.suffix) || !strings.HasPrefix(iss, is.prefix) || !strings.HasSuffix(iss, is.suffix) {
		return false
	}
	tenant := iss[len(is.prefix) : len(iss)-len(is.suffix)]
	if !unreserved(tenant) {
		return false
	}
	if is.tenants != nil && !is.tenants[tenant] {
		return false
	}
	tid, err := claims.Get[string](c, "tid")
	return err == nil && tid == tenant
}

// keyIssuerFits reports whether a key bound to issuer bound may verify c:
// c's iss is bound, with TenantPlaceholder filled by c's tid
// (keyalg.IssuerFits). tid is read only for a bound issuer that names a
// tenant, so a key bound to one issuer costs a string comparison.
func keyIssuerFits(bound string, c *claims.Claims) bool {
	tid := ""
	if strings.Contains(bound, TenantPlaceholder) {
		tid, _ = claims.Get[string](c, "tid")
	}
	return keyalg.IssuerFits(bound, c.Issuer, tid)
}

// unreserved reports whether s is made of RFC 3986 unreserved characters
// only: a tenant ID is one path segment, never a path, query or pattern.
func unreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// staticIssuer finds the configured issuer (or template) for c, without
// any I/O; nil when there is none.
func (g *Guard) staticIssuer(c *claims.Claims) *issuer {
	if is := g.byIss[c.Issuer]; is != nil {
		return is
	}
	for _, is := range g.templates {
		if is.matchTemplate(c) {
			return is
		}
	}
	return nil
}

// anyReady reports whether any issuer's keys have arrived (always true with
// a resolver, whose issuers are not known in advance). While none has, every
// token is answered 503: the client's token may be fine.
func (g *Guard) anyReady() bool {
	if g.resolver != nil {
		return true
	}
	for _, is := range g.all {
		if is.keys.Ready() {
			return true
		}
	}
	return false
}

// Issuers returns the issuers the Guard accepts tokens from, as configured:
// each literal issuer (New's first), then each template; not their aliases,
// and not the issuers a resolver accepts.
func (g *Guard) Issuers() []string {
	names := make([]string, len(g.all))
	for i, is := range g.all {
		names[i] = is.name
	}
	return names
}
