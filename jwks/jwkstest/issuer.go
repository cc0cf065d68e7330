package jwkstest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"

	"github.com/jwtguard/jwtguard/internal/hostile"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks"
)

func supportedAlg(alg string) bool { return keyalg.IsSupported(alg) }

const (
	defaultAlg      = "RS256"
	defaultLifetime = 5 * time.Minute
	defaultAudience = "https://api.example.com"
	defaultSubject  = "user-123"
	defaultClientID = "test-client"
	defaultSlow     = 10 * time.Second
)

// config is the configuration assembled by the [Option] values given to
// [NewIssuer].
type config struct {
	path     string
	alg      string
	lifetime time.Duration
	audience string
	now      func() time.Time
}

// Option configures an [Issuer] created by [NewIssuer].
type Option func(*config)

// WithPath sets the path component of the issuer identifier: the issuer URL is
// the server URL followed by p, e.g. "/realms/demo". A missing leading slash is
// added. The default is "" (the issuer is the bare server URL, without a
// trailing slash).
func WithPath(p string) Option {
	return func(c *config) { c.path = p }
}

// WithDefaultAlgorithm sets the algorithm of the issuer's first signing key,
// which [Issuer.Mint] (without [WithTokenAlgorithm]) and the token endpoint
// use. It must be one of "RS256", "RS384", "RS512", "PS256",
// "PS384", "PS512", "ES256", "ES384", "ES512" or "EdDSA". The default is
// "RS256".
func WithDefaultAlgorithm(alg string) Option {
	return func(c *config) { c.alg = alg }
}

// WithTokenLifetime sets the default lifetime (exp - iat) of tokens issued by
// [Issuer.Mint] and the token endpoint. It must be positive. The default is
// five minutes.
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.lifetime = d }
}

// WithAudience sets the default "aud" claim of tokens issued by [Issuer.Mint]
// and the token endpoint. The default is "https://api.example.com".
func WithAudience(aud string) Option {
	return func(c *config) { c.audience = aud }
}

// WithClock sets the clock used for the "iat" and "exp" claims. The default is
// [time.Now].
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// Fault makes the discovery and JWKS endpoints misbehave, to simulate outages.
// Faults never apply to the token endpoint. Set one with [Issuer.SetFault].
type Fault int

const (
	// FaultNone: the endpoints answer normally.
	FaultNone Fault = iota
	// FaultDown: the connection is hijacked and closed without a response,
	// so the client sees a connection error.
	FaultDown
	// FaultStatus503: the endpoints answer 503 Service Unavailable with
	// "Retry-After: 1" and a short text body.
	FaultStatus503
	// FaultSlow: the endpoints wait for the delay set with
	// [Issuer.SetSlowDelay] (10s by default) before answering normally. They
	// give up early when the request's context is done (for example when the
	// client times out) or when the issuer is closed.
	FaultSlow
	// FaultGarbage: the endpoints answer 200 with Content-Type
	// application/json and the truncated JSON body `{"keys": [`.
	FaultGarbage
	// FaultEmpty: the JWKS endpoint answers 200 with `{"keys":[]}`. Discovery
	// answers normally.
	FaultEmpty
	// FaultHuge: the endpoints answer 200 with a valid JSON object larger
	// than 2 MiB ({"keys":[],"pad":"xxx…"}).
	FaultHuge
)

// keyEntry is one key created by the issuer. All fields except published are
// immutable after creation; published is guarded by Issuer.mu.
type keyEntry struct {
	kid       string
	alg       string
	priv      crypto.Signer
	pub       crypto.PublicKey
	jwk       []byte // the public JWK, as served
	published bool
}

// grant is what the token endpoint remembers about a refresh token.
type grant struct {
	scope    string
	resource []string
	sub      string
	lifetime time.Duration
	jkt      string // the DPoP key its tokens and refresh token are bound to; "" for bearer
}

// Issuer is a fake OAuth 2.0 authorization server running on a loopback
// [httptest.Server]. Create one with [NewIssuer] and stop it with
// [Issuer.Close]. All methods are safe for concurrent use.
type Issuer struct {
	cfg       config
	basePath  string // cfg.path without trailing slashes, used for routing
	srv       *httptest.Server
	done      chan struct{}
	closeOnce sync.Once

	// genMu serializes key creation per algorithm; the map is immutable
	// after NewIssuer.
	genMu map[string]*sync.Mutex

	mu           sync.RWMutex
	keys         map[string]*keyEntry
	order        []string          // kids in creation order
	signing      map[string]string // alg -> kid
	rawJWKs      [][]byte
	jwksOverride []byte // non-nil: served verbatim as the JWKS
	metaIssuer   string
	jwksURI      string
	noOpenID     bool
	noOAuth      bool
	refresh      map[string]grant
	caches       []*jwks.Cache // made by NewCache; closed by Close
	closed       bool          // Close has run: NewCache refuses

	fault            atomic.Int64
	slowDelay        atomic.Int64
	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
}

// NewIssuer starts a fake authorization server on a loopback address and
// creates one signing key for the default algorithm. Call [Issuer.Close] when
// done, typically with t.Cleanup(iss.Close).
//
// Like httptest.NewServer, it panics when it cannot start (an invalid
// option, no loopback port): a test helper that returned an error would be
// wrapped by every caller, and a failure turned into an empty value.
func NewIssuer(opts ...Option) *Issuer {
	i, err := startIssuer(opts...)
	if err != nil {
		panic(err)
	}
	return i
}

func startIssuer(opts ...Option) (*Issuer, error) {
	cfg := config{
		alg:      defaultAlg,
		lifetime: defaultLifetime,
		audience: defaultAudience,
		now:      time.Now,
	}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if !supportedAlg(cfg.alg) {
		return nil, fmt.Errorf("jwkstest: unsupported algorithm %q", cfg.alg)
	}
	if cfg.lifetime <= 0 {
		return nil, fmt.Errorf("jwkstest: token lifetime must be positive, got %v", cfg.lifetime)
	}
	if cfg.now == nil {
		return nil, errors.New("jwkstest: WithClock: nil clock")
	}
	if strings.ContainsAny(cfg.path, "?# \t\r\n") {
		return nil, fmt.Errorf("jwkstest: invalid issuer path %q", cfg.path)
	}
	if cfg.path != "" && !strings.HasPrefix(cfg.path, "/") {
		cfg.path = "/" + cfg.path
	}

	i := &Issuer{
		cfg:      cfg,
		basePath: strings.TrimRight(cfg.path, "/"),
		done:     make(chan struct{}),
		genMu:    make(map[string]*sync.Mutex, len(keyalg.Supported)),
		keys:     make(map[string]*keyEntry),
		signing:  make(map[string]string),
		refresh:  make(map[string]grant),
	}
	for _, a := range keyalg.Supported {
		i.genMu[a] = new(sync.Mutex)
	}
	i.slowDelay.Store(int64(defaultSlow))
	if _, err := i.rotate(cfg.alg); err != nil {
		return nil, err
	}
	// Assign before starting: a client still retrying against a previous
	// server on the same port may reach the handler at once.
	i.srv = httptest.NewUnstartedServer(http.HandlerFunc(i.route))
	i.srv.Start()
	hostile.Register(i, &hostile.Knobs{
		SetJWKSBody:       i.setJWKSBody,
		AddRawJWK:         i.addRawJWK,
		SetMetadataIssuer: i.setMetadataIssuer,
		SetJWKSURI:        i.setJWKSURI,
		PrivateKey:        i.privateKey,
	})
	return i, nil
}

// Close closes the caches made by [Issuer.NewCache] and stops the server.
// Requests held by [FaultSlow] are released. Close is
// idempotent. Minting and key management keep working after Close.
func (i *Issuer) Close() {
	i.closeOnce.Do(func() {
		i.mu.Lock()
		caches := i.caches
		i.caches, i.closed = nil, true
		i.mu.Unlock()
		for _, c := range caches {
			c.Close()
		}
		close(i.done)
		i.srv.Close()
	})
}

// URL returns the issuer identifier: the server URL followed by the path set
// with [WithPath]. It is the "iss" claim of minted tokens.
func (i *Issuer) URL() string { return i.srv.URL + i.cfg.path }

// JWKSURL returns the URL of the JWKS endpoint, <issuer>/jwks.json.
func (i *Issuer) JWKSURL() string { return i.srv.URL + i.basePath + "/jwks.json" }

// ServerURL returns the base URL of the server, scheme://host:port.
func (i *Issuer) ServerURL() string { return i.srv.URL }

// TokenURL returns the URL of the token endpoint, <server>/token.
func (i *Issuer) TokenURL() string { return i.srv.URL + "/token" }

// SigningKID returns the key ID of the current signing key for alg, or "" if
// alg has no signing key (yet).
func (i *Issuer) SigningKID(alg string) string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.signing[alg]
}

// Rotate generates a new key for alg, publishes it in the JWKS and makes it the
// signing key for alg. Previously published keys stay published. It returns
// the new key ID, and panics for an unsupported alg.
func (i *Issuer) Rotate(alg string) string {
	kid, err := i.rotate(alg)
	if err != nil {
		panic(err)
	}
	return kid
}

func (i *Issuer) rotate(alg string) (kid string, err error) {
	mu, ok := i.genMu[alg]
	if !ok {
		return "", fmt.Errorf("jwkstest: unsupported algorithm %q", alg)
	}
	mu.Lock()
	defer mu.Unlock()
	e, err := i.addKey(alg)
	if err != nil {
		return "", err
	}
	return e.kid, nil
}

// RemoveKey unpublishes the key kid from the JWKS, so tokens signed with it
// stop verifying once a verifier refreshes its key set. If it was the signing
// key of its algorithm, that algorithm has no signing key until [Issuer.Rotate]
// is called or [Issuer.Mint] needs one (Mint then generates a new key). The
// key material stays available through [Issuer.PublicKey], [WithKID] and
// [Issuer.Sign]. RemoveKey reports whether
// the key was published.
func (i *Issuer) RemoveKey(kid string) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	e, ok := i.keys[kid]
	if !ok || !e.published {
		return false
	}
	e.published = false
	if i.signing[e.alg] == kid {
		delete(i.signing, e.alg)
	}
	return true
}

// PublicKey returns the public key of kid (*rsa.PublicKey, *ecdsa.PublicKey or
// ed25519.PublicKey), or nil if the issuer never created a key with that ID.
// Removed keys are still known.
func (i *Issuer) PublicKey(kid string) crypto.PublicKey {
	if e := i.lookup(kid); e != nil {
		return e.pub
	}
	return nil
}

// privateKey returns the private key of kid (*rsa.PrivateKey,
// *ecdsa.PrivateKey or ed25519.PrivateKey), or nil if the issuer never created
// a key with that ID. Removed keys are still known.
func (i *Issuer) privateKey(kid string) crypto.Signer {
	if e := i.lookup(kid); e != nil {
		return e.priv
	}
	return nil
}

// setJWKSBody makes the JWKS endpoint serve exactly body (with Content-Type
// application/json), to test malformed key sets. A nil body restores the
// generated JWKS; an empty non-nil body serves an empty response.
func (i *Issuer) setJWKSBody(body []byte) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksOverride = bytes.Clone(body)
}

// addRawJWK appends raw, verbatim, to the "keys" array of the generated JWKS,
// after the issuer's own keys. raw may be an unsupported or malformed JWK; if
// it is not valid JSON the whole JWKS document becomes invalid JSON.
func (i *Issuer) addRawJWK(raw json.RawMessage) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rawJWKs = append(i.rawJWKs, bytes.Clone(raw))
}

// setMetadataIssuer sets the "issuer" value served in both discovery
// documents, for issuer mix-up tests. "" restores the real issuer. Minted
// tokens keep using [Issuer.URL] as "iss".
func (i *Issuer) setMetadataIssuer(iss string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.metaIssuer = iss
}

// setJWKSURI sets the "jwks_uri" value served in both discovery documents.
// "" restores the real one ([Issuer.JWKSURL]).
func (i *Issuer) setJWKSURI(u string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksURI = u
}

// SetDiscovery selects which metadata documents are served: the OpenID
// Connect one (<issuer>/.well-known/openid-configuration) and the RFC 8414 one
// (<server>/.well-known/oauth-authorization-server<issuer path>). Both are
// served by default; a disabled document answers 404.
func (i *Issuer) SetDiscovery(openid, oauth bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.noOpenID, i.noOAuth = !openid, !oauth
}

// SetFault makes the discovery and JWKS endpoints misbehave as described by f
// until it is called again with [FaultNone].
func (i *Issuer) SetFault(f Fault) { i.fault.Store(int64(f)) }

// SetSlowDelay sets how long [FaultSlow] delays responses (default 10s).
// Negative values count as zero.
func (i *Issuer) SetSlowDelay(d time.Duration) { i.slowDelay.Store(int64(max(d, 0))) }

// JWKSFetches returns the number of requests to the JWKS endpoint, including
// requests answered by a [Fault]. Note that Go's HTTP client may transparently
// retry a GET on a reused connection closed by [FaultDown], which counts
// twice.
func (i *Issuer) JWKSFetches() int64 { return i.jwksFetches.Load() }

// DiscoveryFetches returns the number of requests to either metadata document,
// including requests answered by a [Fault] or by 404 because the document is
// disabled.
func (i *Issuer) DiscoveryFetches() int64 { return i.discoveryFetches.Load() }

// ResetCounters sets [Issuer.JWKSFetches] and [Issuer.DiscoveryFetches] to
// zero.
func (i *Issuer) ResetCounters() {
	i.jwksFetches.Store(0)
	i.discoveryFetches.Store(0)
}

// lookup returns the key with ID kid, published or not, or nil.
func (i *Issuer) lookup(kid string) *keyEntry {
	i.mu.RLock()
	defer i.mu.RUnlock()
	return i.keys[kid]
}

// signingKey returns the signing key for alg, generating one if alg has none.
func (i *Issuer) signingKey(alg string) (*keyEntry, error) {
	i.mu.RLock()
	e := i.keys[i.signing[alg]]
	i.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	mu, ok := i.genMu[alg]
	if !ok {
		return nil, fmt.Errorf("jwkstest: unsupported algorithm %q", alg)
	}
	mu.Lock()
	defer mu.Unlock()
	i.mu.RLock()
	e = i.keys[i.signing[alg]]
	i.mu.RUnlock()
	if e != nil {
		return e, nil
	}
	return i.addKey(alg)
}

// addKey generates and publishes a new signing key for alg. The caller holds
// i.genMu[alg] but not i.mu.
func (i *Issuer) addKey(alg string) (*keyEntry, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("jwkstest: generating %s key: %w", alg, err)
	}
	e := &keyEntry{alg: alg, priv: priv, pub: priv.Public(), published: true}

	i.mu.Lock()
	defer i.mu.Unlock()
	for {
		e.kid = strings.ToLower(alg) + "-" + randomHex(4)
		if _, dup := i.keys[e.kid]; !dup {
			break
		}
	}
	j, err := jwkset.NewJWKFromKey(e.pub, jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{
			KID: e.kid,
			ALG: jwkset.ALG(alg),
			USE: jwkset.UseSig,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jwkstest: building JWK: %w", err)
	}
	if e.jwk, err = json.Marshal(j.Marshal()); err != nil {
		return nil, fmt.Errorf("jwkstest: marshaling JWK: %w", err)
	}
	i.keys[e.kid] = e
	i.order = append(i.order, e.kid)
	i.signing[alg] = e.kid
	return e, nil
}

// generateKey creates a private key suitable for alg. In a test binary RSA
// keys come from testkeys, which builds a distinct one in a fraction of a
// millisecond instead of generating it in a tenth of a second; anywhere
// else (an example server's dev mode) they are generated, so that no
// process signs with a key whose primes are published.
func generateKey(alg string) (crypto.Signer, error) {
	a := keyalg.Lookup(alg)
	if a == nil {
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if testing.Testing() {
		return testkeys.For(alg), nil
	}
	return a.GenerateKey(testkeys.Bits)
}

// randomHex returns 2n random hex digits.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}

// jwksBody returns the JWKS document currently served.
func (i *Issuer) jwksBody() []byte {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if i.jwksOverride != nil {
		return i.jwksOverride
	}
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	n := 0
	for _, kid := range i.order {
		e := i.keys[kid]
		if !e.published {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(e.jwk)
		n++
	}
	for _, raw := range i.rawJWKs {
		if n > 0 {
			b.WriteByte(',')
		}
		b.Write(raw)
		n++
	}
	b.WriteString("]}")
	return b.Bytes()
}

// publishedAlgs returns the algorithms of the published keys, in canonical
// order.
func (i *Issuer) publishedAlgs() []string {
	i.mu.RLock()
	defer i.mu.RUnlock()
	seen := make(map[string]bool)
	for _, e := range i.keys {
		if e.published {
			seen[e.alg] = true
		}
	}
	algs := []string{}
	for _, a := range keyalg.Supported {
		if seen[a] {
			algs = append(algs, a)
		}
	}
	return algs
}

// PublicJWK marshals pub as a JWK (with jwkset, as the issuer's own keys
// are) with the given kid, then sets each member of override, deleting
// those whose value is nil: the entries of a JWKS for jwks.NewStatic, or
// odd ones (a key whose "alg", "use" or "key_ops" does not fit, a member
// removed) for a test of what a verifier refuses. It panics for a key
// jwkset cannot marshal.
func PublicJWK(pub crypto.PublicKey, kid string, override map[string]any) json.RawMessage {
	raw, err := publicJWK(pub, kid, override)
	if err != nil {
		panic(err)
	}
	return raw
}

func publicJWK(pub crypto.PublicKey, kid string, override map[string]any) (json.RawMessage, error) {
	return jwkjson.Public(pub, kid, override)
}
