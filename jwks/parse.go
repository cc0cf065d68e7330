package jwks

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/MicahParks/jwkset"

	"github.com/jwtguard/jwtguard/internal/jsonscan"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// ErrNoUsableKeys: the JWKS parsed but held no key this package would use.
// It fails the refresh, so the previous keys stay in use: an issuer that
// briefly publishes an empty set must not lock every client out.
var ErrNoUsableKeys = errors.New("jwks: no usable keys in JWKS")

// ErrMalformedJWKS: the body is not a JSON object with a "keys" array.
var ErrMalformedJWKS = errors.New("jwks: malformed JWKS")

// MinRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3 requires
// 2048 bits or larger for RS* and PS*); smaller keys are skipped.
const MinRSABits = keyalg.MinRSABits

// MaxRSABits is the largest RSA modulus accepted, and MaxRSAExponent the
// largest public exponent; a key over either is skipped. A signature
// check's cost grows with both, and a forged token naming the key costs
// that check: a 65,536-bit key would make each cost 200 ms, not 50 µs.
const (
	MaxRSABits     = keyalg.MaxRSABits
	MaxRSAExponent = keyalg.MaxRSAExponent
)

// key is one usable verification key.
type key struct {
	pub    crypto.PublicKey
	alg    string // the JWK's "alg"; "" when absent
	issuer string // the JWK's "issuer" (Microsoft Entra ID's); "" when absent
	// fits has bit i set when the key may verify a token signed with
	// keyalg.Supported[i]: its type, curve and size fit it, and alg, if
	// any, names it. Worked out once, so a lookup compares bits.
	fits uint32
}

// newKey returns the key pub with what its JWK says, and what it fits.
func newKey(pub crypto.PublicKey, alg, issuer string) key {
	k := key{pub: pub, alg: alg, issuer: issuer}
	for _, name := range keyalg.Supported {
		if (alg == "" || alg == name) && keyalg.Compatible(name, pub) {
			k.fits |= bitOf(name)
		}
	}
	return k
}

// bitOf is the bit of the algorithm named alg in key.fits; 0 for one that
// is not supported, which no key fits.
func bitOf(alg string) uint32 {
	i := keyalg.Index(alg)
	if i < 0 {
		return 0
	}
	return 1 << (i & 31) // TestKeyFitsHasABitPerAlgorithm: fewer than 32
}

// snapshot is an immutable set of keys; readers load it without locking.
type snapshot struct {
	// keys holds, by kid, the kid's keys in the JWKS's order, no two of
	// which fit one algorithm (their fits bits are disjoint), so a token's
	// alg picks at most one: at most one per supported algorithm. Nearly
	// always there is one.
	keys    map[string][]key
	n       int // the number of keys
	jwks    []jwkset.JWK
	version uint64
}

// find returns the key under kid for a token signed with tokenAlg: the one
// that fits it (fits true); else, when kid is known, its first key
// (known true, fits false), which the caller's own check refuses; else
// nothing. It allocates nothing.
func (s *snapshot) find(kid, tokenAlg string) (k *key, known, fits bool) {
	ks := s.keys[kid]
	if len(ks) == 0 {
		return nil, false, false
	}
	bit := bitOf(tokenAlg)
	for i := range ks {
		if ks[i].fits&bit != 0 {
			return &ks[i], true, true
		}
	}
	return &ks[0], true, false
}

// lookup is find for LookupKey.
func (s *snapshot) lookup(kid, tokenAlg string) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	k, known, _ := s.find(kid, tokenAlg)
	return k.result(known)
}

// result is k as LookupKey returns it: its key, what its JWK says, and
// known as ok; nothing when k is nil.
func (k *key) result(known bool) (pub crypto.PublicKey, alg, issuer string, ok bool) {
	if k == nil {
		return nil, "", "", false
	}
	return k.pub, k.alg, k.issuer, known
}

// skipped describes a JWK that was left out and why; it is only logged.
type skipped struct {
	kid    string
	reason string
}

// parseJWKS turns a JWKS document into a snapshot. One bad or unsupported
// entry is skipped, never fatal to the rest (keyfunc fails the whole set).
func parseJWKS(body []byte) (*snapshot, []skipped, error) {
	var doc struct {
		Keys []json.RawMessage
	}
	// Member names are case-sensitive (RFC 7517 §4, RFC 8259): the set is
	// the member named exactly "keys", where encoding/json would take the
	// last of "keys", "KEYS" and the like.
	var keys []byte
	if !jsonscan.Valid(body) || !jsonscan.Members(body, func(name, value []byte) bool {
		if string(name) == "keys" {
			keys = value
		}
		return true
	}) {
		return nil, nil, fmt.Errorf("%w: not a JSON object with unique member names", ErrMalformedJWKS)
	}
	if keys != nil {
		if err := json.Unmarshal(keys, &doc.Keys); err != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrMalformedJWKS, err)
		}
	}
	if doc.Keys == nil {
		return nil, nil, fmt.Errorf("%w: no \"keys\" array", ErrMalformedJWKS)
	}
	s := &snapshot{keys: make(map[string][]key, len(doc.Keys))}
	var skips []skipped
	for _, raw := range doc.Keys {
		kid, k, jwk, reason := parseJWK(raw)
		if reason == "" && slices.ContainsFunc(s.keys[kid], func(o key) bool { return o.fits&k.fits != 0 }) {
			// One kid may name keys of different types (RFC 7517 §4.5),
			// or of one type whose JWK algs differ, which the token's alg
			// tells apart; two that some algorithm could use both of would
			// make the choice of key depend on their order. Keep the first
			// and say so.
			reason = "duplicate kid"
		}
		if reason != "" {
			skips = append(skips, skipped{kid: kid, reason: reason})
			continue
		}
		s.keys[kid] = append(s.keys[kid], k)
		s.n++
		s.jwks = append(s.jwks, jwk)
	}
	if s.n == 0 {
		return nil, skips, fmt.Errorf("%w (%d entries, all skipped)", ErrNoUsableKeys, len(doc.Keys))
	}
	return s, skips, nil
}

// parseJWK parses one JWK with jwkset and applies this package's rules. It
// returns a non-empty reason when the key must not be used.
func parseJWK(raw json.RawMessage) (kid string, k key, jwk jwkset.JWK, reason string) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", key{}, jwk, "not a JWK object"
	}
	// encoding/json matches member names without case, the last one
	// winning: {"use":"enc","USE":"sig"} would read as a signing key,
	// where RFC 7517 §4 has "USE" an unknown member and the key's use enc.
	if !jsonscan.FoldUnique(raw) {
		return m.KID, key{}, jwk, "member names repeat when compared without case"
	}
	kid = m.KID
	switch {
	case kid == "":
		return kid, key{}, jwk, "no kid"
	case m.KTY == jwkset.KtyOct:
		// A symmetric key in a public JWKS is a published secret; using it
		// would let anyone mint tokens (algorithm confusion).
		return kid, key{}, jwk, "symmetric key"
	case m.USE != "" && m.USE != jwkset.UseSig:
		return kid, key{}, jwk, fmt.Sprintf("use %q is not sig", m.USE)
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return kid, key{}, jwk, "key_ops lacks verify"
	}
	if m.ALG != "" && !keyalg.IsSupported(string(m.ALG)) {
		return kid, key{}, jwk, fmt.Sprintf("unsupported alg %q", m.ALG)
	}
	issuer, ok := jwkIssuer(raw)
	if !ok {
		return kid, key{}, jwk, "issuer is not a non-empty string"
	}
	// Private: false drops any private members an issuer published by mistake.
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		if errors.Is(err, jwkset.ErrUnsupportedKey) {
			return kid, key{}, jwk, fmt.Sprintf("unsupported key type %q", m.KTY)
		}
		return kid, key{}, jwk, "invalid key material"
	}
	pub := jwk.Key()
	if rsaKey, ok := pub.(*rsa.PublicKey); ok {
		if problem := keyalg.RSAKeyProblem(rsaKey); problem != "" {
			return kid, key{}, jwk, problem
		}
	}
	if ed, ok := pub.(ed25519.PublicKey); ok && keyalg.SmallOrderEd25519(ed) {
		// Verifies forged signatures for chosen messages (keyalg explains).
		return kid, key{}, jwk, "Ed25519 key of small order"
	}
	if !keyalg.Usable(pub) {
		return kid, key{}, jwk, fmt.Sprintf("unsupported key type %q", m.KTY)
	}
	if m.ALG != "" && !keyalg.Compatible(string(m.ALG), pub) {
		return kid, key{}, jwk, fmt.Sprintf("alg %q does not fit the key", m.ALG)
	}
	return kid, newKey(pub, string(m.ALG), issuer), jwk, ""
}

// jwkIssuer returns the JWK's "issuer" member, which is not in RFC 7517:
// Microsoft Entra ID binds each key of its JWKS to the issuer it signs for
// (https://login.microsoftonline.com/{tenantid}/v2.0 for the keys all
// tenants share, one tenant's own issuer for a key of that tenant alone),
// and the middleware holds tokens to it. The name is matched exactly, as
// JSON names are (encoding/json would also take "Issuer" into a struct
// field); a member that is not a non-empty string makes the key unusable,
// not unbound. ok is true, and issuer "", when there is no such member.
func jwkIssuer(raw json.RawMessage) (issuer string, ok bool) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return "", false
	}
	v, has := members["issuer"]
	if !has {
		return "", true
	}
	issuer, ok = jsonscan.String(v)
	return issuer, ok && issuer != ""
}
