package oauth2guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/internal/loopback"
)

// StepUpError is what Transport returns, instead of the response, when the
// API asks for a stronger or more recent login (RFC 9470: a 401 Bearer
// challenge with error="insufficient_user_authentication"). A refresh
// cannot raise the authentication level, so Transport does not try one:
// send the user through the authorization server again, asking for
// ACRValues (acr_values) and MaxAge (max_age), then retry with the new
// token. Found with errors.As.
type StepUpError struct {
	ACRValues   []string      // acceptable authentication levels; nil when the API named none
	MaxAge      time.Duration // how recent the login must be; -1 when the API named none
	Description string        // the API's error_description, for logs
}

// Error says what login the API asks for, and its description.
func (e *StepUpError) Error() string {
	var parts []string
	if e.ACRValues != nil {
		parts = append(parts, "acr_values "+strings.Join(e.ACRValues, " "))
	}
	if e.MaxAge >= 0 {
		parts = append(parts, "max_age "+e.MaxAge.String())
	}
	return "oauth2guard: the API asks for a new login (" + strings.Join(parts, ", ") + "): " + e.Description
}

// StepUp returns the step-up request resp carries: a 401 with a Bearer (or
// DPoP) challenge whose error is insufficient_user_authentication (RFC
// 9470 §3). ok is false for any other response, and for a challenge whose
// max_age is not a number of seconds.
func StepUp(resp *http.Response) (e *StepUpError, ok bool) {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		return nil, false
	}
	for c := range challenges(resp.Header) {
		if !(strings.EqualFold(c.scheme, "Bearer") || strings.EqualFold(c.scheme, "DPoP")) || c.params["error"] != "insufficient_user_authentication" {
			continue
		}
		e := &StepUpError{MaxAge: -1, Description: c.params["error_description"]}
		if v := strings.Fields(c.params["acr_values"]); len(v) > 0 {
			e.ACRValues = v
		}
		if v, ok := c.params["max_age"]; ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || n > int64(100*365*24*3600) {
				continue // a max_age that is not seconds: not a request we can act on
			}
			e.MaxAge = time.Duration(n) * time.Second
		}
		return e, true
	}
	return nil, false
}

// ResourceMetadataURL returns the resource_metadata parameter (RFC 9728
// §5.1) of resp's Bearer challenge, else of its DPoP challenge: where the
// API's metadata document is. RFC 9728 defines it as a WWW-Authenticate
// parameter of any scheme, and an API that accepts only DPoP-bound tokens
// (jwtguard's under DPoPRequired) sends it on its DPoP challenge alone.
// Bearer comes first whatever the order of the challenges, as it did when
// it was the only one read.
func ResourceMetadataURL(resp *http.Response) (string, bool) {
	bearer, dpop := resourceMetadataURLs(resp)
	if bearer != "" {
		return bearer, true
	}
	return dpop, dpop != ""
}

// resourceMetadataURLs returns the first non-empty resource_metadata of
// resp's Bearer challenges and of its DPoP ones, "" for none: a client
// that sends bearer tokens only (ClientCredentials) must tell an API that
// names it for DPoP alone from one that names it nowhere.
func resourceMetadataURLs(resp *http.Response) (bearer, dpop string) {
	if resp == nil {
		return "", ""
	}
	for c := range challenges(resp.Header) {
		v := c.params["resource_metadata"]
		switch {
		case v == "":
		case strings.EqualFold(c.scheme, "Bearer"):
			return v, dpop
		case dpop == "" && strings.EqualFold(c.scheme, "DPoP"):
			dpop = v
		}
	}
	return "", dpop
}

// ResourceMetadata is the part of an RFC 9728 protected resource metadata
// document a client acts on.
type ResourceMetadata struct {
	// Resource is the API's resource identifier; FetchResourceMetadata
	// checks it is exactly the one asked about.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers whose tokens the API accepts,
	// at least one: ask one of them for a token.
	AuthorizationServers []string `json:"authorization_servers"`
	// ScopesSupported are the scopes a client may ask for to use the API;
	// nil when the document lists none.
	ScopesSupported []string `json:"scopes_supported"`
	// BearerMethods are how the API takes a token ("header", "body",
	// "query"); nil when the document lists none.
	BearerMethods []string `json:"bearer_methods_supported"`
	// ResourceName is the API's name for people, for display; "" when
	// the document gives none.
	ResourceName string `json:"resource_name"`
}

// ErrResourceMismatch: a metadata document names another resource than the
// one the client asked about (RFC 9728 §3.3). Using it would let whoever
// served the document send the client to their authorization server.
var ErrResourceMismatch = errors.New("oauth2guard: metadata names another resource")

// maxMetadataSize bounds a metadata document; real ones are a few hundred
// bytes.
const maxMetadataSize = 64 << 10

// FetchResourceMetadata GETs the metadata document at metadataURL (from
// ResourceMetadataURL, or formed from the resource identifier as RFC 9728
// §3.1 says) and checks it: a 200 with a JSON object whose resource is
// exactly resource, the identifier of the API the client is calling
// (ErrResourceMismatch otherwise), and at least one authorization server.
// metadataURL must be https (http only on loopback). client nil means
// http.DefaultClient.
func FetchResourceMetadata(ctx context.Context, client *http.Client, metadataURL, resource string) (*ResourceMetadata, error) {
	if client == nil {
		client = http.DefaultClient
	}
	if u, err := url.Parse(metadataURL); err != nil || !secure(u) {
		return nil, fmt.Errorf("oauth2guard: metadata URL %q must be https (or http on loopback)", metadataURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return nil, fmt.Errorf("oauth2guard: metadata: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	// Every hop must meet the rule the first URL met: a redirect to plain
	// http would let anyone on that path answer with their own
	// authorization servers.
	resp, err := secureRedirects(client, "metadata").Do(req)
	if err != nil {
		return nil, fmt.Errorf("oauth2guard: metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oauth2guard: metadata %s: %s", metadataURL, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
		return nil, fmt.Errorf("oauth2guard: metadata %s: content type %q, not application/json", metadataURL, mt)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return nil, fmt.Errorf("oauth2guard: metadata: %w", err)
	}
	if len(body) > maxMetadataSize {
		return nil, fmt.Errorf("oauth2guard: metadata %s: more than %d bytes", metadataURL, maxMetadataSize)
	}
	var m ResourceMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("oauth2guard: metadata %s: %w", metadataURL, err)
	}
	if m.Resource != resource {
		return nil, fmt.Errorf("%w: %q, asked about %q", ErrResourceMismatch, m.Resource, resource)
	}
	if len(m.AuthorizationServers) == 0 {
		return nil, fmt.Errorf("oauth2guard: metadata %s names no authorization server", metadataURL)
	}
	return &m, nil
}

// secureRedirects is a copy of client that follows a redirect only to a
// URL secure accepts, then as client would; what names the requests in
// the error.
func secureRedirects(client *http.Client, what string) *http.Client {
	c := *client
	next := c.CheckRedirect
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if !secure(r.URL) {
			return fmt.Errorf("oauth2guard: %s redirect to %s: not https", what, r.URL.Redacted())
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return fmt.Errorf("oauth2guard: %s: too many redirects", what)
		}
		return nil
	}
	return &c
}

// secure reports whether u is https, or http on loopback.
func secure(u *url.URL) bool {
	return u.Host != "" && (u.Scheme == "https" || u.Scheme == "http" && loopback.Host(u.Hostname()))
}
