package oauth2guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrInsufficientScope is what ClientCredentials.Authorize returns for a
// 403: the token lacks a scope the operation needs, and a new token for
// the same client and scopes would lack it too.
var ErrInsufficientScope = errors.New("oauth2guard: the token lacks a scope the API requires")

// ClientCredentials is the OAuth side of a machine client (RFC 6749 §4.4)
// that learns everything from the API it calls: on the first 401 it reads
// the challenge's resource_metadata (RFC 9728), fetches that document
// (whose resource must be the URL called), finds the authorization
// server's token endpoint (RFC 8414), and gets a token for that resource
// (RFC 8707); on the expired hint it gets a new one. Its methods are
// those of the MCP Go SDK's auth.OAuthHandler, so it plugs into
// mcp.StreamableClientTransport's OAuthHandler; a client of any API can
// drive it the same way: send TokenSource's token, and on a 401 or 403
// call Authorize and, if it returns nil, retry once.
//
// It is safe for concurrent use.
type ClientCredentials struct {
	id, secret string
	scopes     []string
	client     *http.Client

	mu       sync.Mutex
	tok      *oauth2.Token
	cfg      *clientcredentials.Config // once discovered
	resource string
}

// NewClientCredentials is a ClientCredentials for the client id and
// secret (empty for a public client), asking for scopes. client makes the
// discovery and token requests; nil means http.DefaultClient.
func NewClientCredentials(client *http.Client, id, secret string, scopes ...string) *ClientCredentials {
	if client == nil {
		client = http.DefaultClient
	}
	return &ClientCredentials{id: id, secret: secret, scopes: scopes, client: client}
}

// TokenSource returns the current token, or nil before the first
// Authorize (the first request goes without one and learns where to get
// it).
func (c *ClientCredentials) TokenSource(context.Context) (oauth2.TokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok == nil {
		return nil, nil
	}
	return oauth2.StaticTokenSource(c.tok), nil
}

// Authorize acts on a refused response to req (and closes its body): on
// the expired hint it gets a new token from the endpoint found before; on
// another 401 it discovers the authorization server from the challenge's
// resource_metadata and gets a token for the resource; a 403 is
// ErrInsufficientScope, naming the scope the challenge asks for. A nil
// error means: retry req once.
func (c *ClientCredentials) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	c.mu.Lock()
	defer c.mu.Unlock()
	if resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: it asks for %q", ErrInsufficientScope, challengeScope(resp))
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("oauth2guard: status %d is not a refusal a token can answer", resp.StatusCode)
	}
	if IsExpiredHint(resp) && c.cfg != nil {
		return c.fetch(ctx)
	}
	metaURL, ok := ResourceMetadataURL(resp)
	if !ok {
		return errors.New("oauth2guard: the 401 names no resource_metadata to discover the authorization server from")
	}
	u := *req.URL
	u.RawQuery, u.Fragment = "", ""
	meta, err := FetchResourceMetadata(ctx, c.client, metaURL, u.String())
	if err != nil {
		return err
	}
	tokenURL, err := c.tokenEndpoint(ctx, meta.AuthorizationServers[0])
	if err != nil {
		return err
	}
	c.resource = meta.Resource
	c.cfg = &clientcredentials.Config{
		ClientID: c.id, ClientSecret: c.secret, TokenURL: tokenURL, Scopes: c.scopes,
		EndpointParams: url.Values{"resource": {meta.Resource}},
		AuthStyle:      oauth2.AuthStyleInParams,
	}
	if c.secret != "" {
		c.cfg.AuthStyle = oauth2.AuthStyleInHeader
	}
	return c.fetch(ctx)
}

// fetch gets a new token; c.mu is held.
func (c *ClientCredentials) fetch(ctx context.Context) error {
	tok, err := c.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, c.client))
	if err != nil {
		return fmt.Errorf("oauth2guard: token request for %s: %w", c.resource, err)
	}
	c.tok = tok
	return nil
}

// tokenEndpoint reads the token endpoint from the authorization server's
// RFC 8414 metadata (the OpenID Connect location second), whose issuer
// must be the one the resource named.
func (c *ClientCredentials) tokenEndpoint(ctx context.Context, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("oauth2guard: authorization server %q is not a URL", issuer)
	}
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	candidates := []string{u.Scheme + "://" + u.Host + "/.well-known/oauth-authorization-server" + path,
		strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"}
	var last error
	for _, m := range candidates {
		var doc struct {
			Issuer        string `json:"issuer"`
			TokenEndpoint string `json:"token_endpoint"`
		}
		if last = c.getJSON(ctx, m, &doc); last != nil {
			continue
		}
		if doc.Issuer != issuer {
			return "", fmt.Errorf("oauth2guard: %s names issuer %q, not %q", m, doc.Issuer, issuer)
		}
		if doc.TokenEndpoint == "" {
			return "", fmt.Errorf("oauth2guard: %s names no token_endpoint", m)
		}
		return doc.TokenEndpoint, nil
	}
	return "", fmt.Errorf("oauth2guard: no authorization server metadata for %s: %w", issuer, last)
}

func (c *ClientCredentials) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// challengeScope is the scope parameter of resp's challenge, or "".
func challengeScope(resp *http.Response) string {
	for _, field := range resp.Header.Values("WWW-Authenticate") {
		for _, ch := range parseChallenges(field) {
			if s, ok := ch.params["scope"]; ok {
				return s
			}
		}
	}
	return ""
}
