package middleware

import (
	"encoding/base64"
	"errors"
	"strings"
	"unsafe"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/internal/claimsdecode"
	"github.com/jwtguard/jwtguard/internal/jsonscan"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// b64 is RFC 7515 §2's base64url: no padding, and strict, so non-zero
// trailing bits are refused. (Go's decoder would skip CR and LF; they never
// get here, since the token has passed RFC 6750's b64token check.)
var b64 = base64.RawURLEncoding.Strict()

// jws is a compact JWS split and decoded, nothing verified yet.
type jws struct {
	alg, kid, typ string
	hasAlg        bool
	hasKID        bool
	hasTyp        bool
	headerReason  reason        // the first header rule broken, or -1
	signed        string        // header.payload, what the signature covers
	claims        claims.Claims // in the same allocation as the rest

	// scopes is where the claims' Scopes wait for the signature
	// (finishClaims).
	scopes claimsdecode.Pending
}

// parseJWS decodes a compact JWS. golang-jwt's parser would decode the
// header into a map (a dozen allocations, and a repeated member silently
// wins); this reads the few members that matter straight from the bytes,
// refuses repeats, and hands the payload to the claims decoder directly.
//
// The signature is decoded into sigBuf, which the caller keeps on its stack
// (one allocation less per request), and returned as sig.
func parseJWS(tok string, sigBuf []byte) (t *jws, sig []byte, _ reason, _ error) {
	i1 := strings.IndexByte(tok, '.')
	i2 := strings.LastIndexByte(tok, '.')
	if i1 < 0 || i1 == i2 || strings.IndexByte(tok[i1+1:i2], '.') >= 0 {
		return nil, nil, rTokenMalformed, nil // JWE (five parts) lands here too
	}
	enc := tok[:i1]
	if len(enc) > maxHeaderSize {
		return nil, nil, rTokenMalformed, nil
	}
	// Sized exactly: the header's bytes reach a callback, so the compiler
	// would move any stack buffer to the heap anyway.
	hdr := make([]byte, b64.DecodedLen(len(enc)))
	n, err := b64.Decode(hdr, bytesOf(enc))
	if err != nil {
		return nil, nil, rTokenMalformed, err
	}
	hdr = hdr[:n]
	if !jsonscan.ValidUTF8(hdr) { // RFC 7515 §5.2 step 3: UTF-8 JSON
		return nil, nil, rTokenMalformed, errors.New("header is not UTF-8 JSON")
	}
	t = &jws{headerReason: -1, signed: tok[:i2]}
	if !jsonscan.Members(hdr, t.headerMember) {
		return nil, nil, rTokenMalformed, errors.New("header is not an object with unique members")
	}

	// The claims keep the one string copy made here, so a typical payload
	// can be decoded into a buffer on the stack.
	var pbuf [2048]byte
	payload := pbuf[:]
	if n := b64.DecodedLen(i2 - i1 - 1); n > len(pbuf) {
		payload = make([]byte, n)
	}
	n, err = b64.Decode(payload, bytesOf(tok[i1+1:i2]))
	if err != nil {
		return nil, nil, rTokenMalformed, err
	}
	if err := claimsdecode.Decode(&t.claims, string(payload[:n]), &t.scopes); err != nil {
		if errors.Is(err, claims.ErrMalformed) {
			return nil, nil, rClaims, err
		}
		return nil, nil, rTokenMalformed, err
	}

	if n := b64.DecodedLen(len(tok) - i2 - 1); n > len(sigBuf) {
		sigBuf = make([]byte, n)
	}
	n, err = b64.Decode(sigBuf, bytesOf(tok[i2+1:]))
	if err != nil {
		return nil, nil, rTokenMalformed, err
	}
	return t, sigBuf[:n], -1, nil
}

// finishClaims fills the claims' Scopes, which parseJWS left for after the
// signature: a forged token with thousands of scopes costs no more than
// reading it.
func (t *jws) finishClaims() error {
	return claimsdecode.Finish(&t.claims, &t.scopes)
}

// headerMember records one header member. The rules that need no key are
// decided here: typ, cty, crit and b64 (jku, x5u, jwk and x5c are never
// read, so they can never select a key).
func (t *jws) headerMember(name, value []byte) bool {
	fail := func(r reason) {
		if t.headerReason < 0 {
			t.headerReason = r
		}
	}
	switch string(name) {
	case "alg":
		t.alg, t.hasAlg = intern(value, knownAlgs)
	case "kid":
		t.kid, t.hasKID = jsonscan.String(value)
	case "typ":
		var ok bool
		if t.typ, ok = intern(value, knownTypes); !ok {
			fail(rType)
		}
		t.hasTyp = true
	case "cty":
		// A nested JWT (RFC 7519 §5.2) is not an access token. RFC 7515
		// §4.1.10: "application/JWT" and "JWT" are the same media type.
		s, ok := jsonscan.String(value)
		if !ok || strings.EqualFold(mediaType(s), "JWT") {
			fail(rType)
		}
	case "crit":
		fail(rCritical) // RFC 7515 §4.1.11: we understand no extension
	case "b64":
		if string(value) != "true" {
			fail(rCritical) // RFC 7797 unencoded payloads are never accepted
		}
	}
	return true
}

// mediaType is a typ or cty value in the short form RFC 7515 §4.1.9 has
// recipients read it in: "application/" left off when no other '/'
// follows, so that "application/at+jwt" and "at+jwt" are one type.
func mediaType(s string) string {
	const app = "application/"
	if len(s) > len(app) && strings.EqualFold(s[:len(app)], app) && !strings.Contains(s[len(app):], "/") {
		return s[len(app):]
	}
	return s
}

// knownAlgs and knownTypes are the values intern returns without
// allocating: nearly every token carries one of them.
var (
	knownAlgs = func() []string {
		q := make([]string, len(keyalg.Supported))
		for i, a := range keyalg.Supported {
			q[i] = `"` + a + `"`
		}
		return q
	}()
	knownTypes = []string{`"JWT"`, `"at+jwt"`, `"application/at+jwt"`, `"jwt"`, `"AT+JWT"`}
)

// intern decodes a JSON string value, returning a shared string when the
// raw value is one of known (quoted) rather than allocating a new one.
func intern(value []byte, known []string) (string, bool) {
	for _, k := range known {
		if string(value) == k {
			return k[1 : len(k)-1], true
		}
	}
	return jsonscan.String(value)
}

// bytesOf views s as bytes without copying. Only for reading: Decode never
// writes to its source, and the token string outlives the call.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
