package middleware

import (
	"crypto/sha256"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/memsize"
)

// Defaults of the verified-token cache.
const (
	// DefaultTokenCacheEntries bounds the number of cached tokens.
	DefaultTokenCacheEntries = 10_000
	// DefaultTokenCacheBytes bounds the bytes of cached tokens (16 MiB).
	DefaultTokenCacheBytes = 16 << 20
	// MaxCachedTokenSize is the longest token cached (4 KiB); longer ones
	// are verified every time.
	MaxCachedTokenSize = 4 << 10
	// entryOverhead covers what one entry costs besides the token, its
	// claims and their lists: sync.Map's trie node and boxed key, and the
	// kid's copy. TestTokenCacheMemoryBound measured 10 to 140 bytes.
	entryOverhead = 320
)

// WithTokenCache sets the bounds of the verified-token cache: at most
// entries tokens and about bytes bytes of memory, counting what each entry
// really keeps alive: the token, the copy of its payload, its decoded claims
// and their lists, and the map entry. A repeated token is then answered
// without checking its signature again, in well under a microsecond, as
// long as its issuer's key set has not changed. Default:
// DefaultTokenCacheEntries, DefaultTokenCacheBytes. An entries or bytes of
// 0 or less turns the cache off, as WithoutTokenCache does: a bound of
// nothing can hold no token.
//
// The cache is keyed by the exact token and compares it in full; exp and
// nbf are checked against the clock on every hit, and the route's audience
// and scopes as always. An entry counts only while its issuer's key set is
// at the version the token verified against (so a removed key cannot keep
// tokens alive, and one issuer's rotation leaves the others' entries be);
// the cache starts over when it is full. Tokens are cached only for issuers
// whose KeySet is a VersionedKeySet (jwks.Cache is one); a
// KeySet that wraps a *jwks.Cache must implement KeysVersion too, or every
// token of that issuer is verified.
func WithTokenCache(entries int, bytes int64) Option {
	return guardOption("WithTokenCache", func(c *config) { c.cacheEntries, c.cacheBytes = entries, bytes })
}

// WithoutTokenCache verifies every request's signature, for deployments
// that want no per-process token state.
func WithoutTokenCache() Option {
	return guardOption("WithoutTokenCache", func(c *config) { c.cacheEntries = -1 })
}

// VersionedKeySet is a KeySet that can say when its keys change; only with
// one are verified tokens cached (jwks.Cache is one). KeysVersion must
// strictly increase whenever the keys change, and a new version must be
// visible no earlier than the keys it describes: a token is cached under the
// version read before it was verified, and a cache entry is used only while
// the version is unchanged.
type VersionedKeySet interface {
	KeySet
	// KeysVersion is the version of the keys as they are now.
	KeysVersion() uint64
}

// tokenCache maps exact tokens to what they verified to. Readers take no
// lock (sync.Map loads are lock-free), so the hit path scales across cores.
// An entry is good only while its issuer's key set is at the version it
// verified against, so a change in one issuer's keys drops that issuer's
// entries alone; a generation is replaced whole when it is full.
type tokenCache struct {
	gen        atomic.Pointer[cacheGen]
	maxEntries int64
	maxBytes   int64
}

type cacheGen struct {
	entries sync.Map // token → *cacheEntry
	n       atomic.Int64
	bytes   atomic.Int64
}

// cacheEntry is one verified token: its claims, its issuer, and the version
// of that issuer's key set it verified against.
type cacheEntry struct {
	claims  *claims.Claims
	is      *issuer
	version uint64
	// ath is the token's SHA-256, for the DPoP proofs of a bound token
	// (cnf.jkt): hashed once per cached token, not per request.
	ath   [32]byte
	bound bool
}

// newCacheEntry is the entry of tok, verified with claims c.
func newCacheEntry(tok string, c *claims.Claims, is *issuer, version uint64) *cacheEntry {
	e := &cacheEntry{claims: c, is: is, version: version}
	if c.Confirmation != nil && c.Confirmation.JKT != "" {
		e.ath, e.bound = sha256.Sum256([]byte(tok)), true
	}
	return e
}

// tokenSum is the entry's SHA-256 of its token, or nil when it is not
// bound (or there is no entry).
func (e *cacheEntry) tokenSum() *[32]byte {
	if e == nil || !e.bound {
		return nil
	}
	return &e.ath
}

func newTokenCache(entries int, bytes int64) *tokenCache {
	tc := &tokenCache{maxEntries: int64(entries), maxBytes: bytes}
	tc.gen.Store(&cacheGen{})
	return tc
}

// get returns tok's entry, if its issuer's keys have not changed since and
// the issuer is still accepted.
func (tc *tokenCache) get(tok string) *cacheEntry {
	v, ok := tc.gen.Load().entries.Load(tok)
	if !ok {
		return nil
	}
	e := v.(*cacheEntry)
	if e.is.versions.KeysVersion() != e.version || e.is.retired.Load() {
		// Verified against keys that have since changed, or an issuer a
		// resolver no longer accepts.
		tc.drop(tok)
		return nil
	}
	return e
}

// put caches e for tok. The key is a copy: tok may be a substring of a far
// larger string (a Cookie header, a request line) that must not stay alive.
func (tc *tokenCache) put(tok string, e *cacheEntry) {
	tok = strings.Clone(tok)
	g := tc.gen.Load()
	if g.n.Load() >= tc.maxEntries || g.bytes.Load() >= tc.maxBytes {
		fresh := &cacheGen{}
		if !tc.gen.CompareAndSwap(g, fresh) {
			return // someone else started a generation; skip this one
		}
		g = fresh
	}
	if _, loaded := g.entries.LoadOrStore(tok, e); !loaded {
		g.n.Add(1)
		g.bytes.Add(entrySize(tok, e.claims))
		if e.is.retired.Load() {
			// Retired while this token was being verified: dropIssuer
			// (which runs after the flag is set) may have walked the
			// cache before this entry was in it.
			g.drop(tok)
		}
	}
}

// dropIssuer forgets every token of is, which a resolver took out of
// service: its entries would never be used again, but they would keep its
// key set (snapshot, storage, HTTP client) alive, which neither the
// resolver's KeySets bound nor the cache's byte bound counts. It walks the
// generation, so it is for retirements (bounded by the resolver's rate
// limits), not per request.
// is.retired must be set first: put drops a token of a retired issuer
// that it stores after this walk, and a generation started during it
// holds only tokens put since.
func (tc *tokenCache) dropIssuer(is *issuer) {
	g := tc.gen.Load()
	g.entries.Range(func(tok, v any) bool {
		if v.(*cacheEntry).is == is {
			g.drop(tok.(string))
		}
		return true
	})
}

// drop forgets tok (an expired entry must not outlive its token).
func (tc *tokenCache) drop(tok string) { tc.gen.Load().drop(tok) }

func (g *cacheGen) drop(tok string) {
	if v, ok := g.entries.LoadAndDelete(tok); ok {
		g.n.Add(-1)
		g.bytes.Add(-entrySize(tok, v.(*cacheEntry).claims))
	}
}

// entrySize is what one cached token keeps alive: the token (the map's
// key, a copy), the jws its claims are part of, the copy of the payload the
// claims' strings point into and the kid (together at most the decoded size
// of the token's first two parts, bounded by 3/4 of its length), the claims'
// lists, the entry and the map's own.
func entrySize(tok string, c *claims.Claims) int64 {
	return int64(memsize.Alloc(len(tok)) + memsize.Alloc(len(tok)*3/4) +
		memsize.Alloc(int(unsafe.Sizeof(jws{}))) + memsize.Alloc(int(unsafe.Sizeof(cacheEntry{}))) +
		c.MemSize() + entryOverhead)
}
