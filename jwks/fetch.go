package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// Errors a fetch can fail with. They are reported by Status, WaitReady and
// the log, and match with errors.Is.
var (
	// ErrInsecureURL: a URL is plain http on a non-loopback host and
	// InsecureAllowHTTP was not given, or an https issuer points to an http
	// JWKS, or the URL is not an absolute http(s) URL.
	ErrInsecureURL = errors.New("jwks: insecure or invalid URL")
	// ErrHTTPStatus: the server answered with a status other than 200.
	ErrHTTPStatus = errors.New("jwks: unexpected HTTP status")
	// ErrResponseTooLarge: the body exceeded the configured maximum size.
	ErrResponseTooLarge = errors.New("jwks: response too large")
	// ErrRedirect: a redirect to another host or from https to http was refused.
	ErrRedirect = errors.New("jwks: redirect refused")
)

// checkURL accepts https URLs, and http URLs whose host is loopback (or any
// host when insecure is set).
func checkURL(raw string, insecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %w", ErrInsecureURL, raw, err)
	}
	if !u.IsAbs() || u.Host == "" || u.User != nil || u.Fragment != "" {
		return nil, fmt.Errorf("%w: %q must be an absolute http(s) URL without user info or fragment", ErrInsecureURL, raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !insecure && !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("%w: %q uses plain http on a non-loopback host", ErrInsecureURL, raw)
		}
	default:
		return nil, fmt.Errorf("%w: %q: scheme must be https", ErrInsecureURL, raw)
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refuseCrossHostRedirect keeps a redirect from moving key fetches to a host
// the configuration did not name, or from https down to http.
func refuseCrossHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("%w: too many redirects", ErrRedirect)
	}
	prev := via[len(via)-1].URL
	if req.URL.Host != prev.Host {
		return fmt.Errorf("%w: from host %q to %q", ErrRedirect, prev.Host, req.URL.Host)
	}
	if prev.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: from https to %s", ErrRedirect, req.URL.Scheme)
	}
	return nil
}

// get fetches u and returns its body, read through a size limit.
func (c *Cache) get(ctx context.Context, u string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; never much.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("%w: GET %s: %s", ErrHTTPStatus, u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: reading body: %w", u, err)
	}
	if int64(len(body)) > c.cfg.maxResponseSize {
		return nil, fmt.Errorf("%w: GET %s: more than %d bytes", ErrResponseTooLarge, u, c.cfg.maxResponseSize)
	}
	return body, nil
}
