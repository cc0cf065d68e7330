package middleware

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/dpop"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// DPoPPolicy says whether a Guard accepts DPoP-bound access tokens (RFC
// 9449): tokens whose cnf.jkt names a key, sent with "Authorization: DPoP"
// and a proof of that key in the DPoP header. Whatever the policy, a
// token with cnf.jkt is never accepted as a bearer token.
type DPoPPolicy int

const (
	// DPoPAllowed, the default, accepts bearer tokens and DPoP-bound
	// tokens with their proofs. Every 401 and 403 then carries two
	// challenges: the request's scheme first, with the error, then the
	// other.
	DPoPAllowed DPoPPolicy = iota
	// DPoPRequired accepts DPoP-bound tokens only: a bearer token is
	// refused (ErrDPoPRequired), and challenges name DPoP alone. FAPI 2.0
	// asks for sender-constrained tokens.
	DPoPRequired
	// DPoPOff accepts bearer tokens only: the DPoP scheme is a request
	// without credentials, and challenges name Bearer alone.
	DPoPOff
)

// Defaults of the DPoP options.
const (
	// DefaultDPoPProofWindow is how far a proof's iat may be from the
	// Guard's clock, either way. A proof is remembered by the replay store
	// until its iat plus the window and a second: twice the window and a
	// second after the Guard accepted it at the most. A store other than a
	// MemoryReplayStore keeps it the leeway instead of the second (see
	// WithReplayStore).
	DefaultDPoPProofWindow = 60 * time.Second
	// DefaultDPoPNonceLifetime is how long a nonce the Guard issued is
	// accepted (WithDPoPNonce).
	DefaultDPoPNonceLifetime = dpop.DefaultNonceLifetime
	// DefaultMaxReplayProofs bounds the default in-memory replay store.
	DefaultMaxReplayProofs = dpop.DefaultMaxProofs
)

// WithDPoP sets the DPoP policy. Default: DPoPAllowed.
func WithDPoP(p DPoPPolicy) Option {
	return guardOption("WithDPoP", func(c *config) { c.dpop = p })
}

// WithDPoPAlgorithms sets the algorithms accepted for DPoP proofs, which
// the client chooses (not the issuer): they are the challenges' algs and
// the metadata's dpop_signing_alg_values_supported, in this order. Only
// asymmetric ones can be named. Default: all of them (RS256 to EdDSA).
func WithDPoPAlgorithms(algs ...string) Option {
	return guardOption("WithDPoPAlgorithms", func(c *config) { c.dpopAlgs = append([]string{}, algs...) }) // never nil: none given is an error
}

// WithDPoPProofWindow sets how far a proof's iat may be from now, either
// way: from 1 second to 10 minutes, or 0 for DefaultDPoPProofWindow (the
// default); New fails for any other d. A proof is remembered until about
// the window past its iat, so a wider one holds more of them.
func WithDPoPProofWindow(d time.Duration) Option {
	return guardOption("WithDPoPProofWindow", func(c *config) { c.proofWindow = d })
}

// WithDPoPNonce requires every DPoP proof to carry a nonce the Guard
// issued (RFC 9449 §8-9): a proof without one, or with one older than
// lifetime (DefaultDPoPNonceLifetime when 0), is refused 401
// use_dpop_nonce with a fresh nonce in the DPoP-Nonce header, and every
// response to a DPoP request carries one. It defeats proofs made in
// advance by whoever briefly held the client's key.
//
// Nonces are stateless: an issue time sealed with an HMAC key. With secret
// nil, the keys are this process's own (a replica does not accept another's
// nonces, and a client retries once with the new one); replicas given the
// same secret, of at least 32 random bytes, accept each other's nonces
// with no shared state.
func WithDPoPNonce(secret []byte, lifetime time.Duration) Option {
	return guardOption("WithDPoPNonce", func(c *config) {
		c.nonceOn, c.nonceSecret, c.nonceLife = true, slices.Clone(secret), lifetime
	})
}

// A ReplayStore remembers the DPoP proofs a Guard accepted, so that each
// is accepted once (RFC 9449 §11.1). The Guard records a proof
// (CheckAndSet) only for a request that passed every other check, so
// traffic without a valid token and proof never reaches the store. Keys
// are at most 300 bytes. An error means the store cannot say, and the
// request is refused 503 (see WithInsecureReplayStoreFailOpen).
//
// A store shared by replicas (adapters/redisreplay) makes a proof accepted
// by one a replay at every other; the default, in memory, is this
// process's alone.
//
// Both methods are given the request's context and are waited for: a
// store over the network must heed its deadline and bound each call itself
// (redisreplay's is 500 ms), since a request without a deadline (net/http
// sets none) would otherwise wait as long as the store does.
type ReplayStore interface {
	// CheckAndSet records key until the given time and reports whether
	// it was already there: a replay. It must be atomic: of two calls
	// with one key, one reports the replay.
	CheckAndSet(ctx context.Context, key string, until time.Time) (replayed bool, err error)
	// Seen reports whether key is recorded, without recording it: asked
	// about the proof sent with an expired token, so that a used proof
	// never earns the expired hint.
	Seen(ctx context.Context, key string) (bool, error)
}

// MemoryReplayStore is the in-process ReplayStore, the default: bounded
// in entries, and so in memory (about 84 bytes each, measured by bench's
// BenchmarkReplayStore), each forgotten once its proof expires. A full
// store refuses new proofs (503) rather than forget one early. It is not
// shared between replicas.
type MemoryReplayStore struct{ s *dpop.MemoryStore }

// NewMemoryReplayStore returns a MemoryReplayStore holding at most
// maxProofs unexpired proofs (DefaultMaxReplayProofs when ≤ 0), on the
// clock now (nil: time.Now).
func NewMemoryReplayStore(maxProofs int, now func() time.Time) *MemoryReplayStore {
	return &MemoryReplayStore{dpop.NewMemoryStore(maxProofs, now)}
}

// CheckAndSet implements ReplayStore.
func (m *MemoryReplayStore) CheckAndSet(ctx context.Context, key string, until time.Time) (bool, error) {
	return m.s.CheckAndSet(ctx, key, until)
}

// Seen implements ReplayStore.
func (m *MemoryReplayStore) Seen(_ context.Context, key string) (bool, error) {
	return m.s.Seen(key), nil
}

// Len reports how many proofs the store holds.
func (m *MemoryReplayStore) Len() int { return m.s.Len() }

// WithReplayStore sets where accepted DPoP proofs are remembered.
// Default: a MemoryReplayStore of DefaultMaxReplayProofs, on the Guard's
// clock. Replicas behind one load balancer need a shared store, or a proof
// accepted by one can be replayed at another. A store that is not a
// MemoryReplayStore is taken to be shared by replicas whose clocks differ
// by up to the Guard's leeway (WithLeeway; a second at least, 10 minutes
// at most here): it keeps each proof that much longer, since a replica
// whose clock is behind still accepts the proof's iat then; keep
// replicas' clocks closer than that. Two Guards nested in one
// request that share a backend must be given the same store value: the
// inner one then knows the outer's record for this request's own, while
// two handles on one backend look like two stores, and the inner Guard
// refuses the proof as used.
func WithReplayStore(s ReplayStore) Option {
	return guardOption("WithReplayStore", func(c *config) { c.replay = s })
}

// WithInsecureReplayStoreFailOpen makes a ReplayStore error accept the
// proof unrecorded (and log it) instead of refusing the request 503.
// Insecure: while the store is down, every proof can be replayed for as
// long as its iat is within the window. For a deployment that prefers
// availability to that guarantee, knowingly.
func WithInsecureReplayStoreFailOpen() Option {
	return guardOption("WithInsecureReplayStoreFailOpen", func(c *config) { c.replayFailOpen = true })
}

// WithExternalURL sets the scheme, host and path prefix under which
// clients reach this server, for checking a DPoP proof's htu behind a
// proxy that terminates TLS or rewrites the host: htu must then be base
// followed by the request's path. Without it (and WithTrustedProxies),
// the URL is the request's own: https when it came over TLS, else http,
// its Host header, its path.
func WithExternalURL(base string) Option {
	return guardOption("WithExternalURL", func(c *config) { c.externalURL, c.externalURLSet = base, true })
}

// WithTrustedProxies lets requests whose peer address is in one of
// prefixes say, in Forwarded's proto= (RFC 7239) or X-Forwarded-Proto,
// the scheme the client used (a proxy that terminated TLS), for checking
// a DPoP proof's htu. The last value is taken: the one the nearest proxy
// wrote. Requests from any other address have those headers ignored:
// trusting them by default would let any client choose the URL its proof
// is checked against. A request with both Forwarded and
// X-Forwarded-Proto uses neither: a proxy that writes one and passes the
// other on would let the client choose. The host is always the Host
// header: proxies pass it on as the client's connection named it, while
// several pass a client's X-Forwarded-Host through untouched; behind a
// proxy that rewrites Host, use WithExternalURL, which wins.
func WithTrustedProxies(prefixes ...netip.Prefix) Option {
	return guardOption("WithTrustedProxies", func(c *config) { c.trustedProxies = slices.Clone(prefixes) })
}

// maxProofWindow bounds WithDPoPProofWindow: a longer window is a proof
// that can be used for longer, and a replay store that holds more.
const maxProofWindow = 10 * time.Minute

// dpopState is what New compiled of the DPoP options.
type dpopState struct {
	policy   DPoPPolicy
	algs     []string // proof algorithms, in order
	window   time.Duration
	keep     time.Duration // how long past its iat a proof is recorded
	nonces   *dpop.Nonces  // nil: nonces off
	store    ReplayStore
	failOpen bool
	external *url.URL // nil: the request's own
	proxies  []netip.Prefix
}

func (c *config) compileDPoP() (dpopState, error) {
	st := dpopState{policy: c.dpop, window: c.proofWindow, store: c.replay, failOpen: c.replayFailOpen, proxies: c.trustedProxies}
	if st.policy < DPoPAllowed || st.policy > DPoPOff {
		return st, errors.New("middleware: unknown DPoP policy")
	}
	if st.window == 0 {
		st.window = DefaultDPoPProofWindow
	}
	if st.window < time.Second || st.window > maxProofWindow {
		return st, errors.New("middleware: the DPoP proof window must be between 1s and 10m")
	}
	st.algs = c.dpopAlgs
	if st.algs == nil {
		st.algs = keyalg.Supported
	}
	if len(st.algs) == 0 {
		return st, errors.New("middleware: at least one DPoP algorithm is required")
	}
	for _, a := range st.algs {
		if keyalg.Lookup(a) == nil {
			return st, fmt.Errorf("middleware: DPoP algorithm %q is not allowed: only asymmetric algorithms (%s) are", a, strings.Join(keyalg.Supported, ", "))
		}
	}
	if c.nonceOn {
		if c.nonceLife < 0 {
			return st, errors.New("middleware: the DPoP nonce lifetime must not be negative")
		}
		if c.nonceSecret == nil {
			st.nonces = dpop.NewNonces(c.nonceLife, c.now)
		} else {
			n, err := dpop.NewSharedNonces(c.nonceSecret, c.nonceLife, c.now)
			if err != nil {
				return st, fmt.Errorf("middleware: WithDPoPNonce: %w", err)
			}
			st.nonces = n
		}
	}
	if c.externalURLSet {
		u, err := url.Parse(c.externalURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return st, fmt.Errorf("middleware: WithExternalURL needs an absolute http or https URL without query or fragment, not %q", c.externalURL)
		}
		u.Path, u.RawPath = strings.TrimSuffix(u.Path, "/"), strings.TrimSuffix(u.RawPath, "/")
		st.external = u
	}
	for _, p := range st.proxies {
		if !p.IsValid() {
			return st, errors.New("middleware: WithTrustedProxies: invalid prefix")
		}
	}
	if st.store == nil && st.policy != DPoPOff {
		st.store = NewMemoryReplayStore(0, c.now)
	}
	// A second past the last moment Check accepts a proof (iat+window,
	// inclusive), so the store never forgets one that still passes. A
	// store of other processes' too is read against their clocks, and a
	// replica whose clock is behind accepts the proof later: the leeway,
	// the skew the Guard allows for, is added, within the bounds of the
	// window's (a leeway of a day must not keep every proof a day).
	st.keep = st.window + time.Second
	if _, inProcess := st.store.(*MemoryReplayStore); !inProcess {
		st.keep = st.window + min(max(c.leeway, time.Second), maxProofWindow)
	}
	return st, nil
}

// The schemes a request may name.
type scheme uint8

const (
	schemeBearer scheme = iota // Bearer, or none, or a token from a cookie, query or WithTokenHeader
	schemeDPoP
)

// A proofRecord is what the replay store is told once a request passed.
type proofRecord struct {
	key   string
	until time.Time
}

// bind is the pipeline's "bind the token to the request" stage: a token
// bound to a key (cnf) is accepted only with the proof of that key the
// request's scheme calls for, and an unbound one only as policy allows. It
// runs after the token verified (or verified and expired: then it decides
// whether the expired hint may be given), and returns what the replay
// store must record once the request passed every check.
func (g *Guard) bind(ctx context.Context, c *claims.Claims, cr credentials, r *http.Request, expired bool) (*proofRecord, error) {
	cnf := c.Confirmation
	if cnf != nil && (len(cnf.Others) > 0 || cnf.JKT == "" && cnf.X5TS256 == "") {
		// Bound in a way nothing here can check: by a method this module
		// does not know, or by none at all ("cnf":{}), which says the
		// issuer meant to bind the token, not that it is a bearer token.
		return nil, g.refusals[rBoundToken]
	}
	if cnf != nil && cnf.X5TS256 != "" && !certificateMatches(r, cnf.X5TS256) {
		return nil, g.refusals[rCertificateBinding]
	}
	if cr.scheme != schemeDPoP {
		switch {
		case cnf != nil && cnf.JKT != "":
			return nil, g.refusals[rBoundToken]
		case g.dpop.policy == DPoPRequired:
			return nil, g.refusals[rDPoPRequired]
		}
		return nil, nil
	}
	proofs := r.Header["Dpop"]
	if len(proofs) != 1 {
		return nil, g.refusals[rDPoPProof]
	}
	p, err := dpop.Parse(proofs[0], g.dpop.algs)
	if err != nil {
		return nil, g.refuse(rDPoPProof, err)
	}
	now := g.now()
	err = p.Check(dpop.Expect{Method: r.Method, URL: g.requestURL(r), Now: now, Window: g.dpop.window, AccessToken: cr.token, AccessTokenSum: cr.tokenSum})
	if err != nil {
		return nil, g.refuse(rDPoPProof, err)
	}
	if g.dpop.nonces != nil {
		if p.Nonce == "" {
			return nil, g.refusals[rDPoPNonce]
		}
		if err := g.dpop.nonces.Check(p.Nonce); err != nil {
			return nil, g.refuse(rDPoPNonce, err)
		}
	}
	if cnf == nil || subtle.ConstantTimeCompare([]byte(cnf.JKT), []byte(p.JKT)) != 1 {
		return nil, g.refusals[rDPoPBinding]
	}
	rec := &proofRecord{key: p.JKT + ":" + p.JTI, until: p.IAT.Add(g.dpop.keep)}
	if expired {
		// Not recorded (the request does not pass), but a proof already
		// used earns no hint, nor one the store cannot vouch for.
		switch seen, err := g.dpop.store.Seen(ctx, rec.key); {
		case err != nil:
			return nil, g.refuse(rReplayUnavailable, err)
		case seen:
			return nil, g.refusals[rDPoPReplay]
		}
	}
	return rec, nil
}

// remember records an accepted proof: the last check of a DPoP request.
func (g *Guard) remember(ctx context.Context, r *http.Request, rec *proofRecord) error {
	if rec == nil || r != nil && g.recordedInRequest(r.Context(), rec.key) {
		// An outer Guard recorded this request's proof in this same store:
		// it is in use once, by this request.
		return nil
	}
	replayed, err := g.dpop.store.CheckAndSet(ctx, rec.key, rec.until)
	switch {
	case err != nil && g.dpop.failOpen:
		g.log.WarnContext(ctx, "middleware: the DPoP replay store failed; the proof is accepted unrecorded (WithInsecureReplayStoreFailOpen)", "path", r.URL.Path, "error", err)
		return nil
	case err != nil:
		return g.refuse(rReplayUnavailable, err)
	case replayed:
		return g.refusals[rDPoPReplay]
	}
	return nil
}

// recordedInRequest reports whether a Guard that verified this request
// further out recorded the proof key as used, in g's store: another
// store (an outer Guard's own memory, an inner one's shared Redis) must
// still learn of it.
func (g *Guard) recordedInRequest(ctx context.Context, key string) bool {
	v, ok := ctx.Value(verifiedKey{}).(*verified)
	for ok {
		if v.rec != nil && v.rec.key == key && sameStore(v.guard.dpop.store, g.dpop.store) {
			return true
		}
		v, ok = v.Context.Value(verifiedKey{}).(*verified)
	}
	return false
}

// sameStore reports whether a and b are one store value. Values == cannot
// compare (a struct holding a map, directly or in an interface field) are
// never taken for one.
func sameStore(a, b ReplayStore) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.IsValid() && vb.IsValid() && va.Type() == vb.Type() && va.Comparable() && vb.Comparable() && va.Equal(vb)
}

// certificateMatches reports whether r came over TLS with a client
// certificate whose SHA-256 thumbprint (RFC 8705 §3.1) is x5t.
func certificateMatches(r *http.Request, x5t string) bool {
	if r == nil || r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return false
	}
	sum := sha256.Sum256(r.TLS.PeerCertificates[0].Raw)
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(x5t)) == 1
}

// requestURL is the URL the client sent r to, for htu: the configured
// external base, or what a trusted proxy says, or r's own scheme and Host;
// then the path as the client sent it (before any http.StripPrefix). The
// query is left in; the proof check drops it from both sides.
func (g *Guard) requestURL(r *http.Request) string {
	path := r.RequestURI
	switch {
	case path == "":
		// A request made in code: its URL is all there is.
		path = r.URL.EscapedPath()
	case path[0] != '/':
		// The absolute form (a proxy request): its path as sent, before
		// any http.StripPrefix.
		if u, err := url.ParseRequestURI(path); err == nil {
			path = u.EscapedPath()
		} else {
			path = r.URL.EscapedPath()
		}
	default:
		// The target as sent, up to its query. A "#" in it is part of the
		// path to net/http (a client sends no fragment), so it stays one:
		// the proof's htu, whose fragment is dropped, must name it too.
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		path = strings.ReplaceAll(path, "#", "%23")
	}
	if ext := g.dpop.external; ext != nil {
		return ext.Scheme + "://" + ext.Host + ext.EscapedPath() + path
	}
	proto, host := "http", r.Host
	if !validAuthority(host) {
		// HTTP/2's :authority (and gRPC's) is not validated as HTTP/1's
		// Host is: a '/', '?' or '#' in it would move the request's path
		// out of the URL the proof is compared with.
		return ""
	}
	if r.TLS != nil {
		proto = "https"
	}
	if len(g.dpop.proxies) > 0 && g.trustedPeer(r) {
		if p, ok := forwardedProto(r.Header); ok {
			proto = p
		}
	}
	return proto + "://" + host + path
}

// validAuthority reports whether h is a bare host[:port] (RFC 3986
// authority without userinfo): nothing that ends the authority early.
func validAuthority(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c <= ' ' || c >= 0x7f, c == '/', c == '?', c == '#', c == '@', c == '\\', c == '%':
			return false
		}
	}
	return true
}

func (g *Guard) trustedPeer(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap()
	for _, p := range g.dpop.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedProto reads the scheme a trusted proxy wrote: proto= of the
// last element of Forwarded, or else the last X-Forwarded-Proto; it must
// be http or https. Both families present: neither is used, since a proxy
// that writes one and passes the other on would let the client choose.
// The host is never taken from these headers: several proxies pass a
// client's X-Forwarded-Host or Forwarded host= on untouched, while the
// Host header they forward is the one the client's connection named.
func forwardedProto(h http.Header) (string, bool) {
	fwd, xf := h.Values("Forwarded"), h.Values("X-Forwarded-Proto")
	var proto string
	switch {
	case len(fwd) > 0 && len(xf) > 0:
		return "", false
	case len(fwd) > 0:
		last := fwd[len(fwd)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		for _, pair := range strings.Split(last, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(pair), "="); strings.EqualFold(k, "proto") {
				proto = strings.ToLower(strings.Trim(v, `"`))
			}
		}
	default:
		proto = strings.ToLower(lastListValue(xf))
	}
	return proto, proto == "http" || proto == "https"
}

func lastListValue(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	last := vals[len(vals)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	return strings.TrimSpace(last)
}

// DPoPNonce returns the nonce to send in the DPoP-Nonce header of a
// response to r, a request a Rule of g let through, or "" when none is
// due (nonces off, or r not a DPoP request). Rule.Serve and the
// middleware set it; an adapter that calls Check itself sets it.
func (g *Guard) DPoPNonce(r *http.Request) string {
	v, ok := r.Context().Value(verifiedKey{}).(*verified)
	if !ok || v.guard != g || v.scheme != schemeDPoP || g.dpop.nonces == nil {
		return ""
	}
	return g.dpop.nonces.Issue()
}

// IssueDPoPNonce returns a fresh nonce for a DPoP-Nonce header, or "" when
// nonces are off (no WithDPoPNonce). RFC 9449 §8 lets a server send one in
// any response; the Guard sends one with each response to a DPoP request
// it checks, and a server that wants every response to a DPoP request to
// carry one (its public routes', its router's 404 and 405) sets this on
// the others.
func (g *Guard) IssueDPoPNonce() string {
	if g.dpop.nonces == nil {
		return ""
	}
	return g.dpop.nonces.Issue()
}

// forRequest turns err, a refusal built for a Bearer request, into the
// one for r's scheme: the DPoP challenge first for a DPoP request, and a
// fresh DPoP-Nonce when nonces are on. A copy is made only when it must
// carry something of this request alone.
func (g *Guard) forRequest(err error, sch scheme) error {
	e, ok := err.(*Error)
	if !ok || sch != schemeDPoP {
		return err
	}
	fresh := e.cause != nil // Guard.refuse's own copy, this request's alone
	if e.alt != nil {
		if fresh {
			e.challenges, e.alt = e.alt.challenges, nil
		} else {
			e = e.alt
		}
	}
	if g.dpop.nonces != nil {
		if !fresh {
			c := *e
			e = &c
		}
		e.nonce = g.dpop.nonces.Issue()
	}
	return e
}
