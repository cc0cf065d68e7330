package keyalg

import "strings"

// TenantPlaceholder stands for a tenant, in an issuer template and in the
// "issuer" that Microsoft Entra ID's JWKS binds each key to: the token's
// "tid" claim fills it in.
const TenantPlaceholder = "{tenantid}"

// IssuerFits reports whether a key bound to issuer bound (a JWK's
// "issuer" member) may verify a token whose iss and tid claims are iss and
// tid: iss must be bound with each TenantPlaceholder in it replaced by tid,
// which must then not be empty (Microsoft.IdentityModel's signing key
// issuer check, the answer to Storm-0558). It allocates nothing.
func IssuerFits(bound, iss, tid string) bool {
	for {
		before, after, found := strings.Cut(bound, TenantPlaceholder)
		if !found {
			return iss == bound
		}
		if tid == "" || !strings.HasPrefix(iss, before) {
			return false
		}
		iss = iss[len(before):]
		if !strings.HasPrefix(iss, tid) {
			return false
		}
		iss, bound = iss[len(tid):], after
	}
}
