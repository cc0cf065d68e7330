package oauth2guard

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtguard/jwtguard/internal/dpop"
)

// A DPoPKey is a client's DPoP key (RFC 9449): it signs a proof for each
// request, and keeps the nonce each server last gave (the DPoP-Nonce
// header) to put in the next proof to that server. Give it to
// NewTransport with WithDPoP, and use TokenClient for the token endpoint,
// so that the authorization server binds the tokens to it (cnf.jkt). It
// is safe for concurrent use.
type DPoPKey struct {
	s   *dpop.Signer
	now func() time.Time

	mu     sync.Mutex
	nonces map[string]string // by origin (scheme://host:port)
}

// maxNonceOrigins bounds the nonces a DPoPKey keeps: a client talks to a
// few servers, and a server cannot make it hold more.
const maxNonceOrigins = 64

// maxNonceLength bounds a nonce kept: RFC 9449 §8.1 makes it a short
// NQCHAR string.
const maxNonceLength = 512

// NewDPoPKey returns a DPoPKey signing with key (any crypto.Signer: in
// memory, an HSM, a KMS) and alg, or the usual algorithm for the key when
// alg is "": ES256, ES384, ES512 by curve, EdDSA, PS256 for RSA. Make a
// key with ecdsa.GenerateKey(elliptic.P256(), rand.Reader) and keep it as
// long as its tokens: a token bound to it is useless with another.
func NewDPoPKey(key crypto.Signer, alg string) (*DPoPKey, error) {
	s, err := dpop.NewSigner(key, alg)
	if err != nil {
		return nil, fmt.Errorf("oauth2guard: %w", err)
	}
	return &DPoPKey{s: s, now: time.Now, nonces: map[string]string{}}, nil
}

// GenerateDPoPKey makes a DPoPKey with a new ECDSA P-256 key (ES256), for
// a client that has none yet. Keep it as long as its tokens: a token bound
// to it is useless with another (Signer gives the key, to store it).
func GenerateDPoPKey() (*DPoPKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oauth2guard: %w", err)
	}
	return NewDPoPKey(key, "ES256")
}

// Signer is the key the proofs are signed with.
func (k *DPoPKey) Signer() crypto.Signer { return k.s.Key() }

// JKT is the key's RFC 7638 thumbprint: the cnf.jkt of tokens bound to it
// (and the dpop_jkt parameter of an authorization request, RFC 9449 §10).
func (k *DPoPKey) JKT() string { return k.s.JKT() }

// Proof signs a proof for a request with method to url, going with
// accessToken (its ath; "" for a token request), with the nonce last seen
// from url's origin. A method of "" is GET, as for net/http's client.
// Nonces are seen by the Transport and token client this key is given to
// (WithDPoP), which read each response's DPoP-Nonce; a proof signed here
// for a request sent another way carries a nonce only if one of those
// has already seen that origin's.
func (k *DPoPKey) Proof(method, url, accessToken string) (string, error) {
	proof, _, err := k.proof(method, url, accessToken)
	return proof, err
}

// proof is Proof, with the nonce it carries.
func (k *DPoPKey) proof(method, url, accessToken string) (proof, nonce string, err error) {
	if method == "" {
		// http.Client sends a Request with no Method as GET, and its
		// RoundTripper still sees "": htm must say what goes on the wire.
		method = http.MethodGet
	}
	nonce = k.nonceFor(url)
	proof, err = k.s.Proof(method, url, accessToken, nonce, k.now())
	return proof, nonce, err
}

// targetURL is the URL a request is sent to as the server sees it: its
// URL, with the Host the request names when it names one (RFC 9110
// §7.1), which is what the server checks htu against.
func targetURL(req *http.Request) string {
	u := *req.URL
	u.User = nil // a password in the URL is no part of htu, and no server would take it
	if req.Host != "" {
		u.Host = req.Host
	}
	return u.String()
}

// originOf is scheme://host[:port] of a URL, lower-cased, the port
// defaulted from the scheme.
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + portOf(u)
}

func (k *DPoPKey) nonceFor(url string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.nonces[originOf(url)]
}

// remember keeps the DPoP-Nonce a response from url's origin carries, and
// returns it ("" when there is none, or it is not a valid nonce).
func (k *DPoPKey) remember(url string, h http.Header) string {
	n := h.Get("DPoP-Nonce")
	if n == "" || len(n) > maxNonceLength || !validNonce(n) {
		return ""
	}
	o := originOf(url)
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.nonces[o]; !ok && len(k.nonces) >= maxNonceOrigins {
		clear(k.nonces) // rare: start over rather than grow
	}
	k.nonces[o] = n
	return n
}

// validNonce: RFC 9449 §8.1, nonce = 1*NQCHAR (%x21 / %x23-5B / %x5D-7E).
func validNonce(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}

// WithDPoP makes the Transport send DPoP-bound tokens (token type "DPoP",
// or any token when the server gave no type) with the DPoP scheme and a
// fresh proof of k for each request; a Bearer token is still sent as one.
// When the API asks for a nonce (use_dpop_nonce), the request is sent once
// more with it. The refresh goes through k.TokenClient, unless the
// request's context carries an oauth2.HTTPClient of its own.
func WithDPoP(k *DPoPKey) Option {
	return func(t *Transport) { t.dpop = k }
}

// TokenClient returns an http.Client for the authorization server's token
// endpoint (give it to oauth2 in the context: context.WithValue(ctx,
// oauth2.HTTPClient, k.TokenClient(nil))): each POST carries a proof of k
// (no ath), so the tokens issued are bound to k, and a 400
// use_dpop_nonce answer is retried once with the server's nonce (RFC 9449
// §8). base sends the requests (nil: http.DefaultTransport).
func (k *DPoPKey) TokenClient(base http.RoundTripper) *http.Client {
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{Transport: &tokenTransport{k: k, base: base}}
}

type tokenTransport struct {
	k    *DPoPKey
	base http.RoundTripper
}

func (tt *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.GetBody != nil {
		// Each attempt sends a copy; the caller's own is closed, as a
		// RoundTripper must.
		defer req.Body.Close()
	}
	fail := func(err error) (*http.Response, error) {
		if req.Body != nil && req.GetBody == nil {
			req.Body.Close() // not sent: closed here, as on any error
		}
		return nil, err
	}
	target := targetURL(req)
	var sent string // the nonce the last proof carried
	send := func() (*http.Response, error) {
		proof, nonce, err := tt.k.proof(req.Method, target, "")
		if err != nil {
			return fail(err)
		}
		sent = nonce
		r := req.Clone(req.Context())
		r.Header.Set("DPoP", proof)
		if req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		return tt.base.RoundTrip(r)
	}
	resp, err := send()
	if err != nil {
		return resp, err
	}
	// Retried once when the answer is a nonce other than the one sent:
	// another request's answer may have brought it already.
	if n := tt.k.remember(target, resp.Header); n == "" || n == sent || !isTokenNonceError(resp) || (req.Body != nil && req.GetBody == nil) {
		return resp, nil
	}
	drain(resp)
	// The retry's answer may bring the next nonce (a server may give a
	// new one with each token it issues): kept, as from any answer, so
	// that the next token request does not start with a stale one.
	resp, err = send()
	if err == nil {
		tt.k.remember(target, resp.Header)
	}
	return resp, err
}

// isTokenNonceError reports whether resp is an authorization server's
// "use_dpop_nonce" (RFC 9449 §8: 400 with that error in the JSON body and
// a DPoP-Nonce header); the body is restored for the caller if not.
func isTokenNonceError(resp *http.Response) bool {
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("DPoP-Nonce") == "" {
		return false
	}
	// A use_dpop_nonce answer is short, so only its start is read; but
	// another 400 (invalid_grant) goes back to the caller whole, what was
	// read and then the rest: x/oauth2 parses all of it for its
	// RetrieveError, and a cut one loses its error code.
	b, err := io.ReadAll(io.LimitReader(resp.Body, drainLimit))
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
	var body struct {
		Error string `json:"error"`
	}
	return err == nil && json.Unmarshal(b, &body) == nil && body.Error == "use_dpop_nonce"
}

// readCloser reads from Reader and closes Closer.
type readCloser struct {
	io.Reader
	io.Closer
}

// isNonceChallenge reports whether resp is a resource server's 401 with a
// DPoP challenge asking for a nonce (RFC 9449 §9).
func isNonceChallenge(resp *http.Response) bool {
	if resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	for c := range challenges(resp.Header) {
		if strings.EqualFold(c.scheme, "DPoP") && c.params["error"] == "use_dpop_nonce" {
			return true
		}
	}
	return false
}

// usesDPoP reports whether tok is sent with the DPoP scheme.
func (t *Transport) usesDPoP(tok *oauth2.Token) bool {
	return t.dpop != nil && (tok.TokenType == "" || strings.EqualFold(tok.TokenType, "DPoP"))
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	resp.Body.Close()
}
