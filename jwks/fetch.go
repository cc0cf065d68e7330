package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/internal/loopback"
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
		if !insecure && !loopback.Host(u.Hostname()) {
			return nil, fmt.Errorf("%w: %q uses plain http on a non-loopback host", ErrInsecureURL, raw)
		}
	default:
		return nil, fmt.Errorf("%w: %q: scheme must be https", ErrInsecureURL, raw)
	}
	return u, nil
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

// response is what a fetch brought back.
type response struct {
	body         []byte
	notModified  bool   // 304: the validators matched; keep what we have
	etag         string // validators for the next conditional request
	lastModified string
	header       http.Header
}

// The media types a request accepts. A JWKS is application/jwk-set+json
// (RFC 7517 §8.5), which a server that negotiates strictly may refuse
// (406) to a request accepting only application/json; most issuers serve
// application/json, so both are named. Metadata is application/json
// (RFC 8414 §3.2, OpenID Connect Discovery 1.0 §4.2).
const (
	acceptJWKS     = "application/jwk-set+json, application/json"
	acceptMetadata = "application/json"
)

// get fetches u, accepting the media types accept names, read through a
// size limit. With a validator it makes a conditional request (RFC 9110
// §13) and accepts 304.
func (c *Cache) get(ctx context.Context, u, accept, etag, lastModified string) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", u, err)
	}
	req.Header.Set("Accept", accept)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	if lastModified != "" {
		req.Header.Set("If-Modified-Since", lastModified)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	r := &response{header: resp.Header, etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}
	if resp.StatusCode == http.StatusNotModified && (etag != "" || lastModified != "") {
		r.notModified = true
		return r, nil
	}
	if resp.StatusCode != http.StatusOK {
		// Drain a little so the connection can be reused; never much.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			// RFC 9110 §10.2.3 (and RFC 6585 §4 for 429): how long the
			// server asks to be left alone. A fleet of replicas retrying
			// on their own backoff would keep a rate-limited or
			// recovering issuer down.
			if d, ok := retryAfter(resp.Header, c.clock.Now()); ok {
				return nil, &retryAfterError{err: fmt.Errorf("%w: GET %s: %s, Retry-After %s", ErrHTTPStatus, u, resp.Status, d), after: d}
			}
		}
		return nil, fmt.Errorf("%w: GET %s: %s", ErrHTTPStatus, u, resp.Status)
	}
	// One byte more than allowed tells a body over the limit; MaxInt64
	// ("no limit") must not overflow into a limit of nothing.
	r.body, err = io.ReadAll(io.LimitReader(resp.Body, min(c.cfg.maxResponseSize, math.MaxInt64-1)+1))
	if err != nil {
		return nil, fmt.Errorf("jwks: GET %s: reading body: %w", u, err)
	}
	if int64(len(r.body)) > c.cfg.maxResponseSize {
		return nil, fmt.Errorf("%w: GET %s: more than %d bytes", ErrResponseTooLarge, u, c.cfg.maxResponseSize)
	}
	return r, nil
}

// retryAfterError is an ErrHTTPStatus whose 429 or 503 said, with
// Retry-After, how long to wait before asking again.
type retryAfterError struct {
	err   error
	after time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// retryAfterOf returns the longest Retry-After among the errors err wraps
// (discovery joins the answers of both metadata locations), or 0.
func retryAfterOf(err error) time.Duration {
	switch e := err.(type) {
	case *retryAfterError:
		return e.after
	case interface{ Unwrap() []error }:
		var d time.Duration
		for _, e := range e.Unwrap() {
			d = max(d, retryAfterOf(e))
		}
		return d
	case interface{ Unwrap() error }:
		return retryAfterOf(e.Unwrap())
	}
	return 0
}

// retryAfter reads Retry-After (RFC 9110 §10.2.3): delay-seconds, or an
// HTTP-date taken from the response's Date when it has one (as Expires is
// in freshness), so that a clock skewed against the server's does not
// stretch or cancel the wait. ok is false without one, for a malformed
// one, and for a time already past.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	const maxSecs = 365 * 24 * 3600 // the caller caps the wait far lower; this only keeps it from overflowing
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil || secs > maxSecs { // err: out of range, all digits being valid
			secs = maxSecs
		}
		return time.Duration(secs) * time.Second, secs > 0
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	base := now
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		base = d
	}
	d := min(t.Sub(base), maxSecs*time.Second)
	return d, d > 0
}

// freshness returns how long the response may be used (RFC 9111 §4.2.1:
// Cache-Control max-age, else Expires minus Date), and whether it said so.
// no-cache and no-store mean "now". s-maxage is for shared caches, not us.
func freshness(h http.Header, now time.Time) (time.Duration, bool) {
	for _, v := range h.Values("Cache-Control") {
		for _, dir := range strings.Split(v, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
			switch strings.ToLower(name) {
			case "no-cache", "no-store":
				return 0, true
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || secs < 0 {
					continue
				}
				return time.Duration(min(secs, int64(365*24*3600))) * time.Second, true
			}
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0, true // an invalid Expires means "already expired"
		}
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		return max(t.Sub(base), 0), true
	}
	return 0, false
}
