package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jwtguard/jwtguard/internal/jsonscan"
)

// ErrIssuerMismatch: the discovery metadata names an issuer other than the
// configured one. RFC 8414 §3.3 requires the exact match; it is what stops a
// mix-up attack where one issuer's metadata points at another's keys.
var ErrIssuerMismatch = errors.New("jwks: metadata issuer does not match the configured issuer")

// ErrDiscovery: no metadata document gave a usable jwks_uri.
var ErrDiscovery = errors.New("jwks: discovery failed")

// metadataURLs returns the two places an issuer's metadata may be, in the
// order tried: OpenID Connect Discovery 1.0 §4 appends the well-known path to
// the issuer; RFC 8414 §3.1 inserts it between the host and the issuer's path.
func metadataURLs(issuer *url.URL) []string {
	base := strings.TrimSuffix(issuer.String(), "/")
	oidc := base + "/.well-known/openid-configuration"
	u := *issuer
	u.Path = "/.well-known/oauth-authorization-server" + strings.TrimSuffix(issuer.Path, "/")
	u.RawPath = ""
	return []string{oidc, u.String()}
}

type metadata struct {
	Issuer  string
	JWKSURI string
}

// parseMetadata decodes a discovery document and checks it against the
// configured issuer. It returns the JWKS URL. Member names are matched
// exactly and must not repeat: encoding/json would also take "ISSUER" for
// "issuer", or the last of two, and the mix-up defence is only as strict as
// this read.
func parseMetadata(body []byte, issuer string, insecure bool) (string, error) {
	var m metadata
	// Valid, not ValidUTF8 as for a token: only issuer and jwks_uri are
	// read, and invalid UTF-8 or a lone surrogate escape there (U+FFFD once
	// read) can only make the issuer differ from the configured one or the
	// URL another; refusing the document for one in any other member would
	// stop discovery and gain nothing.
	if !jsonscan.Valid(body) {
		return "", fmt.Errorf("%w: metadata is not JSON", ErrDiscovery)
	}
	bad := ""
	ok := jsonscan.Members(body, func(name, value []byte) bool {
		var field *string
		switch string(name) {
		case "issuer":
			field = &m.Issuer
		case "jwks_uri":
			field = &m.JWKSURI
		default:
			return true
		}
		s, isStr := jsonscan.String(value)
		if !isStr {
			bad = string(name)
			return false
		}
		*field = s
		return true
	})
	switch {
	case bad != "":
		return "", fmt.Errorf("%w: metadata %q is not a string", ErrDiscovery, bad)
	case !ok:
		return "", fmt.Errorf("%w: metadata is not a JSON object with unique member names", ErrDiscovery)
	}
	if m.Issuer != issuer {
		return "", fmt.Errorf("%w: metadata says %q, configured %q", ErrIssuerMismatch, m.Issuer, issuer)
	}
	if m.JWKSURI == "" {
		return "", fmt.Errorf("%w: metadata has no jwks_uri", ErrDiscovery)
	}
	u, err := checkURL(m.JWKSURI, insecure)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(issuer, "https:") && u.Scheme != "https" {
		return "", fmt.Errorf("%w: https issuer with plain http jwks_uri %q", ErrInsecureURL, m.JWKSURI)
	}
	return u.String(), nil
}

// discover finds the JWKS URL from the issuer's metadata, trying both
// well-known locations (or only WithDiscoveryURL's). The errors of both are joined, so a mismatch found
// at either one still matches ErrIssuerMismatch.
func (c *Cache) discover(ctx context.Context) (string, error) {
	var errs []error
	urls := metadataURLs(c.issuerURL)
	if c.discoveryURL != "" {
		urls = []string{c.discoveryURL}
	}
	for _, u := range urls {
		resp, err := c.get(ctx, u, acceptMetadata, "", "")
		if err == nil {
			var jwksURL string
			if jwksURL, err = parseMetadata(resp.body, c.issuer, c.cfg.insecureHTTP); err == nil {
				return jwksURL, nil
			}
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", fmt.Errorf("%w for issuer %q: %w", ErrDiscovery, c.issuer, errors.Join(errs...))
}
