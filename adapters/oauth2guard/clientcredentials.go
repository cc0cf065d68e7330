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
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// ErrInsufficientScope is what ClientCredentials.Authorize returns for a
// 403: the token lacks a scope the operation needs, and a new token for
// the same client and scopes would lack it too.
var ErrInsufficientScope = errors.New("oauth2guard: the token lacks a scope the API requires")

// failedRequestDelay is how long a failed discovery or token request is
// answered with its error, not asked again: an authorization server that
// fails must not be asked once per call.
const failedRequestDelay = time.Second

// ErrRefusedNewToken is what ClientCredentials.Authorize returns for a 401
// to a token it obtained, less than DefaultRefreshCooldown ago and within
// its expires_in, because the API refused one itself less than
// DefaultRefreshCooldown old: a server that
// refuses every token (one configured for another audience, say, or whose
// clock runs ahead) would otherwise cost the authorization server a token
// request for every call. The first refusal of a token always gets a new
// one (its signing key may have been withdrawn); once the cooldown has
// passed, so does the next.
var ErrRefusedNewToken = errors.New("oauth2guard: the API refused a token obtained moments ago; not asking for another within the cooldown")

// ClientCredentials is the OAuth side of a machine client (RFC 6749 §4.4)
// that learns everything from the API it calls: on the first 401 it reads
// the Bearer challenge's resource_metadata (RFC 9728; it gets bearer
// tokens, so a DPoP challenge's is not for it), fetches that document
// (whose resource must be the URL called), finds the authorization
// server's token endpoint (RFC 8414), and gets a token for that resource
// (RFC 8707); on the expired hint it gets a new one. Its methods are
// those of the MCP Go SDK's auth.OAuthHandler, so it plugs into
// mcp.StreamableClientTransport's OAuthHandler; a client of any API can
// drive it the same way: send TokenSource's token, and on a 401 or 403
// call Authorize and, if it returns nil, retry once.
//
// Everything it sends the client secret to, or learns the token endpoint
// from, must be https (http only on loopback), redirects included: the
// resource metadata, the authorization server and its token endpoint.
//
// It is safe for concurrent use. Requests refused at once share one token
// request, and one refused with a token older than the current one is
// told to retry with the current one without asking for another.
type ClientCredentials struct {
	id, secret string
	scopes     []string
	client     *http.Client // with the https rule on every redirect

	now func() time.Time // time.Now; tests set it

	mu       sync.Mutex
	tok      *oauth2.Token
	got      time.Time // when tok was obtained
	replaced bool      // tok was asked for because the API refused a young one
	failed   error     // the last token request's error, for failedRequestDelay
	failedAt time.Time
	cfg      *clientcredentials.Config // once discovered
	resource string
	flight   *flight // the token request in progress, if any
}

// A flight is a token request that concurrent Authorize calls share.
type flight struct {
	done chan struct{}
	err  error // set before done is closed
}

// NewClientCredentials is a ClientCredentials for the client id and
// secret (empty for a public client), asking for scopes. client makes the
// discovery and token requests; nil means http.DefaultClient.
func NewClientCredentials(client *http.Client, id, secret string, scopes ...string) *ClientCredentials {
	if client == nil {
		client = http.DefaultClient
	}
	return &ClientCredentials{id: id, secret: secret, scopes: scopes, client: secureRedirects(client, "authorization server"), now: time.Now}
}

// TokenSource returns the current token, or nil before the first
// Authorize (the first request goes without one and learns where to get
// it). It never waits for a token request in progress.
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
// another 401 it discovers the authorization server from the Bearer
// challenge's resource_metadata and gets a token for the resource; a 403 is
// ErrInsufficientScope, naming the scope the challenge asks for. A nil
// error means: retry req once. When req carried another token than the
// current one (another call renewed it meanwhile), it asks for nothing;
// when the current token, obtained less than DefaultRefreshCooldown ago
// for the refusal of one itself that young, and not past its expires_in,
// is refused, it
// asks for nothing either and returns ErrRefusedNewToken; and for a second
// after a discovery or token request failed, a refusal gets that error
// again without another.
//
// The token request runs with ctx's values but not its cancellation,
// bounded by a timeout of its own, so that the calls sharing it are not
// failed by the one that started it giving up; each call waits at most
// until its own ctx is done.
func (c *ClientCredentials) Authorize(ctx context.Context, req *http.Request, resp *http.Response) error {
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("%w: it asks for %q", ErrInsufficientScope, challengeScope(resp))
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("oauth2guard: status %d is not a refusal a token can answer", resp.StatusCode)
	}
	sent := sentToken(req)
	c.mu.Lock()
	if c.tok != nil && c.tok.AccessToken != sent {
		c.mu.Unlock()
		return nil
	}
	now := c.now()
	if c.tok != nil && c.replaced && now.Sub(c.got) < DefaultRefreshCooldown && (c.tok.Expiry.IsZero() || now.Before(c.tok.Expiry)) {
		// A token that has outlived its expires_in is renewed whatever
		// its age: a token endpoint may issue tokens of a few seconds.
		c.mu.Unlock()
		return ErrRefusedNewToken
	}
	if c.failed != nil && now.Sub(c.failedAt) < failedRequestDelay {
		err := c.failed
		c.mu.Unlock()
		return err
	}
	f := c.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		c.flight = f
		renew := IsExpiredHint(resp) && c.cfg != nil
		// A replacement is a token asked for because a young one was
		// refused: the one that replaces a token renewed on the hour
		// may itself be replaced at once (its key withdrawn).
		replacing := c.tok != nil && now.Sub(c.got) < DefaultRefreshCooldown
		cfg, resource := c.cfg, c.resource
		u := *req.URL
		u.RawQuery, u.Fragment = "", ""
		metaURL, dpopMeta := resourceMetadataURLs(resp)
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), refreshTimeout)
			defer cancel()
			var err error
			if !renew {
				cfg, resource, err = c.discover(fctx, u.String(), metaURL, dpopMeta)
			}
			var tok *oauth2.Token
			if err == nil {
				// Config.Token asks the endpoint on every call; its
				// TokenSource would give back the token refused until
				// the local clock calls it expired.
				tok, err = cfg.Token(context.WithValue(fctx, oauth2.HTTPClient, c.client))
				if err != nil {
					err = fmt.Errorf("oauth2guard: token request for %s: %w", resource, err)
				}
			}
			c.mu.Lock()
			if err == nil {
				c.tok, c.cfg, c.resource, c.got, c.replaced = tok, cfg, resource, c.now(), replacing
				c.failed = nil
			} else {
				c.failed, c.failedAt = err, c.now()
			}
			c.flight = nil
			c.mu.Unlock()
			f.err = err
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sentToken is the bearer token req carried, or "".
func sentToken(req *http.Request) string {
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// discover finds the token endpoint for the resource at resource (the
// URL called, without query) from the metadata URL of the refusal's
// Bearer challenge, and returns the client credentials configuration for
// it. dpopMeta is its DPoP challenge's, only to say why there is none: an
// API that names it for DPoP alone takes DPoP-bound tokens, and a bearer
// token from the server it names would be refused, each refusal costing
// another token request.
func (c *ClientCredentials) discover(ctx context.Context, resource, metaURL, dpopMeta string) (*clientcredentials.Config, string, error) {
	switch {
	case metaURL == "" && dpopMeta != "":
		return nil, "", errors.New("oauth2guard: the 401 names resource_metadata on a DPoP challenge alone: the API takes DPoP-bound tokens, and ClientCredentials gets bearer tokens")
	case metaURL == "":
		return nil, "", errors.New("oauth2guard: the 401 names no resource_metadata to discover the authorization server from")
	}
	meta, err := FetchResourceMetadata(ctx, c.client, metaURL, resource)
	if err != nil {
		return nil, "", err
	}
	tokenURL, err := c.tokenEndpoint(ctx, meta.AuthorizationServers[0])
	if err != nil {
		return nil, "", err
	}
	cfg := &clientcredentials.Config{
		ClientID: c.id, ClientSecret: c.secret, TokenURL: tokenURL, Scopes: c.scopes,
		EndpointParams: url.Values{"resource": {meta.Resource}},
		AuthStyle:      oauth2.AuthStyleInParams,
	}
	if c.secret != "" {
		cfg.AuthStyle = oauth2.AuthStyleInHeader
	}
	return cfg, meta.Resource, nil
}

// tokenEndpoint reads the token endpoint from the authorization server's
// RFC 8414 metadata (the OpenID Connect location second), whose issuer
// must be the one the resource named.
func (c *ClientCredentials) tokenEndpoint(ctx context.Context, issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("oauth2guard: authorization server %q is not a URL", issuer)
	}
	if !secure(u) {
		return "", fmt.Errorf("oauth2guard: authorization server %q must be https (or http on loopback)", issuer)
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
		// The client secret goes there: it must be as safe as the
		// issuer's own URL.
		if tu, err := url.Parse(doc.TokenEndpoint); err != nil || !secure(tu) {
			return "", fmt.Errorf("oauth2guard: %s names token_endpoint %q, which is not https (or http on loopback)", m, doc.TokenEndpoint)
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
	for ch := range challenges(resp.Header) {
		if s, ok := ch.params["scope"]; ok {
			return s
		}
	}
	return ""
}
