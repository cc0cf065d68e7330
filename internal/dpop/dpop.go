// Package dpop verifies DPoP proofs (RFC 9449 §4.3) without a request: the
// proof's shape, header, public key and signature (Parse), then its claims
// against what the request and the token say (Proof.Check). The
// middleware's "bind to request" stage will call it; it is internal until
// that wiring fixes its API.
//
// The proof's key is the only key ever taken from a JWS header in this
// module: access tokens are never verified with a header-supplied key.
package dpop

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/jwtguard/jwtguard/internal/jsonscan"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// Why a proof is refused. Each matches with errors.Is.
var (
	ErrMalformed = errors.New("dpop: malformed proof")                     // not a compact JWS of JSON objects, or too large
	ErrType      = errors.New("dpop: typ is not dpop+jwt")                 // RFC 9449 §4.2
	ErrAlgorithm = errors.New("dpop: algorithm not allowed")               // none, HS*, or outside the list
	ErrKey       = errors.New("dpop: unusable jwk")                        // missing, private, unsupported, or not fitting alg
	ErrSignature = errors.New("dpop: signature does not verify")           // with the proof's own jwk
	ErrClaims    = errors.New("dpop: claims missing or of the wrong type") // htm, htu, iat, jti
	ErrMethod    = errors.New("dpop: htm is not the request's method")
	ErrURI       = errors.New("dpop: htu is not the request's URL")
	ErrTime      = errors.New("dpop: iat outside the window")
	ErrATH       = errors.New("dpop: ath does not match the access token")
	ErrBinding   = errors.New("dpop: proof key is not the token's cnf.jkt")
)

// MaxProofSize bounds a proof: an RSA-4096 jwk and the claims fit in a
// few kilobytes.
const MaxProofSize = 8 << 10

// maxJTI is the longest jti accepted (RFC 9449 leaves it open; a replay
// store keys on it).
const maxJTI = 256

// maxRSABytes bounds an RSA proof key's modulus: 4096 bits.
const maxRSABytes = 512

// privateMembers are JWK members of private or symmetric keys: a proof's
// jwk holding any of them is refused, whatever else it holds.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// A Proof is a DPoP proof whose header, key and signature are verified.
type Proof struct {
	Alg   string    // the proof's alg
	JKT   string    // RFC 7638 SHA-256 thumbprint of its jwk, base64url
	HTM   string    // the method it was made for
	HTU   string    // the URL it was made for, as written
	IAT   time.Time // when it was made, by its own clock
	JTI   string    // its unique ID, for the replay store
	ATH   string    // base64url SHA-256 of the access token it goes with; "" if none
	Nonce string    // the server nonce it carries; "" if none
}

// Parse verifies proof's structure, its header (typ dpop+jwt exactly, an
// alg from algs, a public jwk that fits the alg: RSA of at least 2048
// bits, EC on the alg's curve, Ed25519 not of small order), its signature
// with that jwk, and the types of its claims. It never panics, whatever
// proof is.
func Parse(proof string, algs []string) (*Proof, error) {
	if len(proof) > MaxProofSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrMalformed, MaxProofSize)
	}
	h64, rest, ok1 := strings.Cut(proof, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, fmt.Errorf("%w: not a compact JWS", ErrMalformed)
	}
	h, err := headers.get(h64)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(algs, h.alg.Name) {
		return nil, ErrAlgorithm
	}
	payload, err1 := decodeB64(p64)
	sig, err2 := decodeB64(s64)
	if err1 != nil || err2 != nil || !jsonscan.ValidUTF8(payload) { // RFC 7515 §5.2: UTF-8 JSON
		return nil, fmt.Errorf("%w: bad base64url or JSON", ErrMalformed)
	}
	alg, pub, jkt, algName := h.alg, h.pub, h.jkt, h.alg.Name
	if !alg.Verify(readOnlyBytes(proof[:len(h64)+1+len(p64)]), sig, pub) {
		return nil, ErrSignature
	}
	p := &Proof{Alg: algName, JKT: jkt}
	if err := p.readClaims(payload); err != nil {
		return nil, err
	}
	return p, nil
}

// The members Parse reads, in the order of its arrays.
var (
	headerNames = []string{"typ", "alg", "jwk", "crit"}
	claimNames  = []string{"htm", "htu", "jti", "iat", "ath", "nonce"}
)

// pick sets out[i] to the raw value of obj's member names[i] (nil when
// absent), refusing an object jsonscan.Members refuses (a repeated name
// among them). No map: a proof is read on every request.
func pick(obj []byte, names []string, out [][]byte) bool {
	return jsonscan.Members(obj, func(name, value []byte) bool {
		for i, n := range names {
			if string(name) == n {
				out[i] = value
				break
			}
		}
		return true
	})
}

// readClaims reads the claims of payload, which must be a buffer of the
// proof's own that nothing changes afterwards: the strings it sets share
// its bytes.
func (p *Proof) readClaims(payload []byte) error {
	var cm [6][]byte // htm, htu, jti, iat, ath, nonce
	if !pick(payload, claimNames, cm[:]) {
		return fmt.Errorf("%w: claims are not an object with unique members", ErrMalformed)
	}
	var okHTM, okHTU, okJTI bool
	p.HTM, okHTM = stringView(cm[0])
	p.HTU, okHTU = stringView(cm[1])
	p.JTI, okJTI = stringView(cm[2])
	if !okHTM || !okHTU || p.HTM == "" || p.HTU == "" {
		return fmt.Errorf("%w: htm and htu must be non-empty strings", ErrClaims)
	}
	if !okJTI || p.JTI == "" || len(p.JTI) > maxJTI {
		return fmt.Errorf("%w: jti must be a string of 1 to %d bytes", ErrClaims, maxJTI)
	}
	iat, ok := number(cm[3])
	if !ok {
		return fmt.Errorf("%w: iat must be a number of seconds", ErrClaims)
	}
	p.IAT = time.Unix(int64(iat), int64((iat-math.Floor(iat))*1e9)).UTC()
	for i, field := range [2]*string{&p.ATH, &p.Nonce} {
		if v := cm[4+i]; v != nil {
			s, ok := stringView(v)
			if !ok || s == "" {
				return fmt.Errorf("%w: %s must be a non-empty string", ErrClaims, claimNames[4+i])
			}
			*field = s
		}
	}
	return nil
}

// Expect is what a proof must agree with.
type Expect struct {
	Method string        // the request's method
	URL    string        // the request's public URL (scheme, host, path)
	Now    time.Time     // the server's clock
	Window time.Duration // how far iat may be from Now, either way
	// AccessToken is the token the proof goes with: ath must be its
	// base64url SHA-256. "" expects no ath.
	AccessToken string
	// AccessTokenSum, when not nil, is AccessToken's SHA-256, computed
	// once by a caller that keeps it (the verified-token cache).
	AccessTokenSum *[32]byte
	// JKT is the token's cnf.jkt: the proof's key must have that
	// thumbprint. "" skips the check (a token endpoint's proof).
	JKT string
}

// Check compares the proof with the request and the token: htm, htu (query
// and fragment dropped from both, after NormalizeURI), iat within the
// window, ath, and the key's thumbprint. The replay check (jti) and the
// nonce are the caller's, after every other check passed.
func (p *Proof) Check(e Expect) error {
	if p.HTM != e.Method {
		return ErrMethod
	}
	if !sameURI(p.HTU, e.URL) {
		return ErrURI
	}
	if d := p.IAT.Sub(e.Now); d > e.Window || d < -e.Window {
		return ErrTime
	}
	if e.AccessToken != "" {
		var sum [32]byte
		if e.AccessTokenSum != nil {
			sum = *e.AccessTokenSum
		} else {
			sum = sha256.Sum256(readOnlyBytes(e.AccessToken))
		}
		// The length first: Decode writes as much as the input holds.
		var ath [sha256.Size]byte
		if len(p.ATH) != base64.RawURLEncoding.EncodedLen(len(ath)) {
			return ErrATH
		}
		// Decoded in place, not with decodeB64: a skipped line break
		// leaves n short of the length.
		n, err := base64.RawURLEncoding.Strict().Decode(ath[:], readOnlyBytes(p.ATH))
		if err != nil || n != len(ath) || ath != sum {
			return ErrATH
		}
	}
	if e.JKT != "" && p.JKT != e.JKT {
		return ErrBinding
	}
	return nil
}

// PublicKey reads a public JWK (RSA, EC on P-256/P-384/P-521, OKP Ed25519)
// and returns the key and its RFC 7638 thumbprint, computed from the
// required members exactly as published. EC coordinates must have the
// curve's fixed length (RFC 7518 §6.2.1.2), so the published members are
// the canonical ones: a thumbprint of big.Int.Bytes() would differ for
// about one key in 256. A JWK with a private member is refused.
func PublicKey(raw []byte) (crypto.PublicKey, string, error) {
	if !jsonscan.Valid(raw) { // Members checks structure, not grammar
		return nil, "", fmt.Errorf("%w: jwk is not JSON", ErrKey)
	}
	m, ok := members(raw)
	if !ok {
		return nil, "", fmt.Errorf("%w: jwk is not an object with unique members", ErrKey)
	}
	for _, name := range privateMembers {
		if _, present := m[name]; present {
			return nil, "", fmt.Errorf("%w: jwk has the private member %q", ErrKey, name)
		}
	}
	str := func(name string) (string, []byte, bool) {
		s, ok := jsonscan.String(m[name])
		if !ok || s == "" {
			return "", nil, false
		}
		b, err := decodeB64(s)
		return s, b, err == nil
	}
	kty, _ := jsonscan.String(m["kty"])
	switch kty {
	case "RSA":
		n, nb, ok1 := str("n")
		e, eb, ok2 := str("e")
		if !ok1 || !ok2 || len(nb) == 0 || nb[0] == 0 || len(eb) == 0 || len(eb) > 4 || eb[0] == 0 {
			return nil, "", fmt.Errorf("%w: RSA n and e must be minimal base64url integers", ErrKey)
		}
		// A proof's key is the client's choice, and checking a signature
		// costs with the modulus's size and the exponent's: a 20,000-bit
		// key with e = 2^31-1 (still under 8 KiB) would cost 200 times an
		// ES256 proof, from anyone with any genuine token.
		if len(nb) > maxRSABytes {
			return nil, "", fmt.Errorf("%w: an RSA proof key of more than %d bits", ErrKey, 8*maxRSABytes)
		}
		exp := new(big.Int).SetBytes(eb).Int64()
		if exp != 65537 {
			return nil, "", fmt.Errorf("%w: RSA exponent %d, not 65537", ErrKey, exp)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(exp)}
		return pub, thumbprint(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`), nil
	case "EC":
		crv, _ := jsonscan.String(m["crv"])
		var curve elliptic.Curve
		var dh ecdh.Curve
		switch crv {
		case "P-256":
			curve, dh = elliptic.P256(), ecdh.P256()
		case "P-384":
			curve, dh = elliptic.P384(), ecdh.P384()
		case "P-521":
			curve, dh = elliptic.P521(), ecdh.P521()
		default:
			return nil, "", fmt.Errorf("%w: EC curve %q", ErrKey, crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, xb, ok1 := str("x")
		y, yb, ok2 := str("y")
		if !ok1 || !ok2 || len(xb) != size || len(yb) != size {
			return nil, "", fmt.Errorf("%w: EC x and y must be %d bytes each", ErrKey, size)
		}
		// ecdh checks the point is on the curve (and not the identity).
		if _, err := dh.NewPublicKey(append(append([]byte{4}, xb...), yb...)); err != nil {
			return nil, "", fmt.Errorf("%w: EC point not on %s", ErrKey, crv)
		}
		pub := &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(xb), Y: new(big.Int).SetBytes(yb)}
		return pub, thumbprint(`{"crv":"` + crv + `","kty":"EC","x":"` + x + `","y":"` + y + `"}`), nil
	case "OKP":
		crv, _ := jsonscan.String(m["crv"])
		x, xb, ok := str("x")
		if crv != "Ed25519" || !ok || len(xb) != ed25519.PublicKeySize || keyalg.SmallOrderEd25519(xb) {
			return nil, "", fmt.Errorf("%w: OKP must be an Ed25519 key of 32 bytes, not of small order", ErrKey)
		}
		return ed25519.PublicKey(bytes.Clone(xb)), thumbprint(`{"crv":"Ed25519","kty":"OKP","x":"` + x + `"}`), nil
	}
	return nil, "", fmt.Errorf("%w: kty %q", ErrKey, kty)
}

// A proofHeader is what a proof's header says once checked: its alg, and
// its jwk's key and thumbprint.
type proofHeader struct {
	alg *keyalg.Alg
	pub crypto.PublicKey
	jkt string
}

// parseHeader checks a proof's encoded header: base64url of a JSON object
// with typ dpop+jwt exactly, no crit, an asymmetric alg, and a public jwk
// that fits it.
func parseHeader(h64 string) (*proofHeader, error) {
	header, err := decodeB64(h64)
	if err != nil || !jsonscan.ValidUTF8(header) {
		return nil, fmt.Errorf("%w: bad base64url or JSON", ErrMalformed)
	}
	var hm [4][]byte // typ, alg, jwk, crit
	if !pick(header, headerNames, hm[:]) {
		return nil, fmt.Errorf("%w: header is not an object with unique members", ErrMalformed)
	}
	if typ, ok := jsonscan.String(hm[0]); !ok || typ != "dpop+jwt" {
		return nil, ErrType
	}
	if hm[3] != nil {
		return nil, fmt.Errorf("%w: crit names extensions this verifier does not understand", ErrMalformed)
	}
	algName, ok := jsonscan.String(hm[1])
	alg := keyalg.Lookup(algName)
	if !ok || alg == nil {
		return nil, ErrAlgorithm
	}
	if hm[2] == nil {
		return nil, fmt.Errorf("%w: no jwk", ErrKey)
	}
	pub, jkt, err := PublicKey(hm[2])
	if err != nil {
		return nil, err
	}
	if !alg.Fits(pub) {
		return nil, fmt.Errorf("%w: a %T does not fit %s", ErrKey, pub, algName)
	}
	return &proofHeader{alg, pub, jkt}, nil
}

// headerCache remembers checked proof headers by their encoded bytes: a
// client's proofs all have one header (its key's), and checking it again
// costs more than the rest of a proof (base64 and JSON of the jwk, an RSA
// modulus prepared for each new *rsa.PublicKey, an EC point validated).
// Bounded in entries and in the size of what it keeps; full, it starts
// over. A header's verdict is a function of its bytes alone, so nobody can
// poison it, only make it miss; refusals are not kept.
type headerCache struct {
	mu sync.Mutex
	m  map[string]*proofHeader
}

const (
	maxCachedHeaders    = 1024
	maxCachedHeaderSize = 2048 // an RSA-4096 proof's header is about 1 KiB encoded
)

var headers = &headerCache{m: map[string]*proofHeader{}}

func (c *headerCache) get(h64 string) (*proofHeader, error) {
	if len(h64) > maxCachedHeaderSize {
		return parseHeader(h64)
	}
	c.mu.Lock()
	h, ok := c.m[h64]
	c.mu.Unlock()
	if ok {
		return h, nil
	}
	h, err := parseHeader(h64)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedHeaders {
		clear(c.m)
	}
	c.m[strings.Clone(h64)] = h // not a substring of the proof, which it would keep alive
	c.mu.Unlock()
	return h, nil
}

// thumbprint is RFC 7638 §3: base64url SHA-256 of the canonical JSON.
// The members were checked to be base64url (no character JSON escapes).
func thumbprint(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// members reads a JSON object's members, refusing repeated names.
func members(obj []byte) (map[string][]byte, bool) {
	m := map[string][]byte{}
	ok := jsonscan.Members(obj, func(name, value []byte) bool {
		m[string(name)] = value
		return true
	})
	return m, ok
}

// number reads a JSON number of seconds that fits in int64 seconds.
func number(v []byte) (float64, bool) {
	if len(v) == 0 || !(v[0] == '-' || v[0] >= '0' && v[0] <= '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v), len(v)), 64) // only read
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || f > 1<<62 || f < -(1<<62) {
		return 0, false
	}
	return f, true
}

// stringView is the JSON string value v as a string sharing v's bytes when
// it has no escapes (v must never change afterwards), else unescaped by
// jsonscan.String; ok is false for anything but a string.
// decodeB64 decodes unpadded base64url, strictly: encoding/base64 skips
// '\r' and '\n' even in Strict mode, so "AAAA\n" (a JSON "\n" in a jwk
// member) decoded as "AAAA" while its thumbprint was made of the text with
// the line break: two texts of one key, two thumbprints.
func decodeB64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, base64.CorruptInputError(strings.IndexAny(s, "\r\n"))
	}
	return base64.RawURLEncoding.Strict().DecodeString(s)
}

func stringView(v []byte) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return jsonscan.String(v)
	}
	return unsafe.String(unsafe.SliceData(inner), len(inner)), true
}

// readOnlyBytes is s as a byte slice without a copy, for functions that
// only read their input (hashes, signature checks, base64 decoding):
// every proof costs them, and a copy of the signed text is most of a
// proof's allocation.
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
