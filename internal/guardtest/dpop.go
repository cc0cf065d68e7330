package guardtest

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jwtguard/jwtguard/internal/dpop"
	"github.com/jwtguard/jwtguard/internal/jwkjson"
	"github.com/jwtguard/jwtguard/internal/keyalg"
	"github.com/jwtguard/jwtguard/internal/testkeys"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

// A Prover makes DPoP proofs with one key, as a client does, and any
// malformed proof a test needs.
type Prover struct {
	Alg string
	Key crypto.Signer
	JWK map[string]any // the public JWK the proofs carry
	JKT string         // its RFC 7638 thumbprint: the cnf.jkt of tokens bound to it
}

// NewProver makes a Prover with a new key for alg; it panics on failure,
// as a test helper should.
func NewProver(alg string) *Prover {
	key := testkeys.For(alg)
	s, err := dpop.NewSigner(key, alg)
	if err != nil {
		panic(err)
	}
	// The JWK as jwkset writes it: another implementation than the
	// Signer's, whose thumbprint the Guard must agree with.
	raw, err := jwkjson.Public(key.Public(), "", nil)
	if err != nil {
		panic(err)
	}
	var jwk map[string]any
	if err := json.Unmarshal(raw, &jwk); err != nil {
		panic(err)
	}
	return &Prover{Alg: alg, Key: key, JWK: jwk, JKT: s.JKT()}
}

var jtis struct {
	sync.Mutex
	n int
}

// Proof is a proof for method and url (kept as given in htu) going with
// tok (ath), made now, with a jti never used before; claims and header
// override its members (nil removes one).
func (p *Prover) Proof(method, url, tok string, claims, header map[string]any) string {
	jtis.Lock()
	jtis.n++
	jti := "jti-" + time.Now().Format("150405.000000") + "-" + itoa(jtis.n)
	jtis.Unlock()
	sum := sha256.Sum256([]byte(tok))
	c := jwkjson.Override(map[string]any{"jti": jti, "htm": method, "htu": url, "iat": time.Now().Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])}, claims)
	h := jwkjson.Override(map[string]any{"typ": "dpop+jwt", "alg": p.Alg, "jwk": p.JWK}, header)
	return p.Sign(h, c)
}

// Sign signs header and claims as given, with the Prover's key and alg.
func (p *Prover) Sign(header, claims map[string]any) string {
	enc := base64.RawURLEncoding
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := enc.EncodeToString(hb) + "." + enc.EncodeToString(cb)
	sig, err := keyalg.Lookup(p.Alg).Sign(p.Key, []byte(input))
	if err != nil {
		panic(err)
	}
	return input + "." + enc.EncodeToString(sig)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The DPoP refusals, as constructors of this package make them (OnResource
// completes them).
func InvalidProof(desc string) Response {
	return Response{401, []string{`DPoP realm="api", error="invalid_dpop_proof", error_description="` + desc + `"`}, "application/json",
		`{"error":"invalid_dpop_proof","error_description":"` + desc + `"}`, "", false}
}

// UseNonce is the 401 use_dpop_nonce, which carries a DPoP-Nonce.
var UseNonce = Response{401, []string{`DPoP realm="api", error="use_dpop_nonce", error_description="` + DescUseNonce + `"`}, "application/json",
	`{"error":"use_dpop_nonce","error_description":"` + DescUseNonce + `"}`, "", true}

// Descriptions of the DPoP refusals.
const (
	DescProof     = "The DPoP proof is invalid"
	DescReplay    = "The DPoP proof was already used"
	DescUseNonce  = "Resource server requires nonce in DPoP proof"
	DescBound     = "The access token is bound to a key that the request does not prove"
	DescDPoPBound = "The access token is not bound to the key of the DPoP proof"
)

// DPoP returns the table's DPoP cases (RFC 9449) for a server reached at
// base (scheme and host, as the client names it: the proofs' htu): iss
// mints the tokens, bound to a Prover's key by cnf.jkt. Some cases depend
// on those before them (a proof replayed after it was accepted): run them
// in order, once.
func DPoP(iss *jwkstest.Issuer, base string) []Case {
	return dpopCases(iss, func(method, path string) (string, string) { return method, base + path })
}

// RPCDPoP is DPoP for an RPC transport: the same cases, their proofs
// with the htm and htu that target gives for the call to a procedure
// (the Procedure of a case's path): for gRPC, POST and the :authority's
// URL of the procedure. A case's Path is the table's path; the call goes
// to its Procedure. The cases that only HTTP has (a query in htu) are
// left out.
func RPCDPoP(iss *jwkstest.Issuer, target func(procedure string) (htm, htu string)) []Case {
	var out []Case
	for _, c := range dpopCases(iss, func(_, path string) (string, string) { return target(Procedure(path)) }) {
		if !strings.Contains(c.Path, "?") {
			out = append(out, c)
		}
	}
	return out
}

// dpopCases are the DPoP cases, with proofs whose htm and htu target
// gives for a request's method and path: the request the case makes.
func dpopCases(iss *jwkstest.Issuer, target func(method, path string) (htm, htu string)) []Case {
	mint := iss.Mint
	p := NewProver("ES256")
	other := NewProver("EdDSA")
	cnf := func(jkt string) jwkstest.MintOption { return jwkstest.WithClaim("cnf", map[string]any{"jkt": jkt}) }
	past := jwkstest.WithExpiresIn(-2 * time.Minute)
	bound := mint(cnf(p.JKT), jwkstest.WithScopes("notes:read"))
	boundExpired := mint(cnf(p.JKT), past)
	unbound := mint(jwkstest.WithScopes("notes:read"))
	unboundExpired := mint(past)
	boundOther := mint(cnf(other.JKT))
	htm, url := target("GET", PathMe)
	_, notesURL := target("GET", PathNotes)
	// base and path of url, for the cases that change one of them.
	i := strings.Index(url, "://") + 3
	i += strings.IndexByte(url[i:], '/')
	base, path := url[:i], url[i:]
	// Another method than the proofs': for an RPC call's POST, the GET
	// that HTTP requests default to.
	otherMethod := "POST"
	if htm == "POST" {
		otherMethod = "GET"
	}
	req := func(tok string, proofs ...string) http.Header {
		h := http.Header{"Authorization": {"DPoP " + tok}}
		if len(proofs) > 0 {
			h["Dpop"] = proofs
		}
		return h
	}
	proof := func(tok string, claims, header map[string]any) string {
		return p.Proof(htm, url, tok, claims, header)
	}
	pass := func(name, path string, h http.Header, scopes string) Case {
		return Case{"DPoP, " + name, path, h, ok(scopes), nil, "ok"}
	}
	bad := func(name string, h http.Header) Case {
		return Case{"DPoP, " + name, PathMe, h, InvalidProof(DescProof), middleware.ErrInvalidDPoPProof, "dpop_proof"}
	}
	badClaims := func(name string, claims, header map[string]any) Case {
		return bad(name, req(bound, proof(bound, claims, header)))
	}
	invalid := func(name string, h http.Header, desc string, err error, reason string) Case {
		return Case{"DPoP, " + name, PathMe, h, OnDPoP(Invalid(desc)), err, reason}
	}
	replayed := proof(bound, nil, nil)
	scopeless := mint(cnf(p.JKT))
	retried := p.Proof(htm, notesURL, scopeless, nil, nil)
	now := time.Now().Unix()
	withPrivate := jwkjson.Override(p.JWK, map[string]any{"d": "AAAA"})
	es384 := NewProver("ES384")
	return withResourceMetadata([]Case{
		pass("ok", PathMe, req(bound, proof(bound, nil, nil)), "notes:read"),
		pass("scheme in lower case", PathMe, http.Header{"Authorization": {"dpop " + bound}, "Dpop": {proof(bound, nil, nil)}}, "notes:read"),
		pass("a route with a scope", PathNotes, req(bound, p.Proof(htm, notesURL, bound, nil, nil)), "notes:read"),
		pass("htu with the query kept", PathMe+"?x=1", req(bound, proof(bound, map[string]any{"htu": url + "?x=1#f"}, nil)), "notes:read"),
		pass("htu's scheme and host in upper case, and the default port", PathMe, req(bound, proof(bound, map[string]any{"htu": withDefaultPort(strings.ToUpper(base)) + path}, nil)), "notes:read"),
		pass("iat 50 s old", PathMe, req(bound, proof(bound, map[string]any{"iat": now - 50}, nil)), "notes:read"),
		pass("an EdDSA proof", PathMe, req(boundOther, other.Proof(htm, url, boundOther, nil, nil)), ""),

		// The proof itself.
		bad("no proof", req(bound)),
		bad("two proofs", req(bound, proof(bound, nil, nil), proof(bound, nil, nil))),
		bad("proof not a JWS", req(bound, "not-a-proof")),
		badClaims("typ JWT", nil, map[string]any{"typ": "JWT"}),
		badClaims("typ in another case", nil, map[string]any{"typ": "DPoP+jwt"}),
		badClaims("alg none", nil, map[string]any{"alg": "none"}),
		badClaims("alg HS256", nil, map[string]any{"alg": "HS256"}),
		badClaims("jwk with a private member", nil, map[string]any{"jwk": withPrivate}),
		badClaims("no jwk", nil, map[string]any{"jwk": nil}),
		badClaims("jwk of another key", nil, map[string]any{"jwk": other.JWK}),
		badClaims("jwk of another curve than alg", nil, map[string]any{"jwk": es384.JWK}),
		badClaims("htm of another method", map[string]any{"htm": otherMethod}, nil),
		badClaims("htu of another path", map[string]any{"htu": notesURL}, nil),
		badClaims("htu of another host", map[string]any{"htu": "https://elsewhere.example" + path}, nil),
		badClaims("iat 70 s old", map[string]any{"iat": now - 70}, nil),
		badClaims("iat 70 s ahead", map[string]any{"iat": now + 70}, nil),
		badClaims("iat a string", map[string]any{"iat": "now"}, nil),
		badClaims("no jti", map[string]any{"jti": nil}, nil),
		badClaims("jti of 257 bytes", map[string]any{"jti": strings.Repeat("j", 257)}, nil),
		badClaims("no ath", map[string]any{"ath": nil}, nil),
		badClaims("ath longer than a SHA-256", map[string]any{"ath": strings.Repeat("A", 64)}, nil),
		badClaims("ath of one byte more", map[string]any{"ath": strings.Repeat("A", 44)}, nil),
		badClaims("ath with padding", map[string]any{"ath": strings.Repeat("A", 43) + "="}, nil),
		bad("ath of another token", req(bound, proof(unbound, nil, nil))),
		bad("a signature that does not verify", req(bound, Forge(proof(bound, nil, nil)))),

		// The replay store: only a request that passed is remembered.
		pass("a proof once", PathMe, req(bound, replayed), "notes:read"),
		{"DPoP, the same proof again", PathMe, req(bound, replayed), InvalidProof(DescReplay), middleware.ErrDPoPReplay, "dpop_replay"},
		{"DPoP, a proof refused for its scope", PathNotes, req(scopeless, retried), OnDPoP(Forbidden("notes:read")), middleware.ErrInsufficientScope, "insufficient_scope"},
		{"DPoP, the same proof again is not a replay", PathNotes, req(scopeless, retried), OnDPoP(Forbidden("notes:read")), middleware.ErrInsufficientScope, "insufficient_scope"},

		// The binding.
		invalid("an unbound token", req(unbound, proof(unbound, nil, nil)), DescDPoPBound, middleware.ErrDPoPBinding, "dpop_binding"),
		invalid("a token bound to another key", req(boundOther, proof(boundOther, nil, nil)), DescDPoPBound, middleware.ErrDPoPBinding, "dpop_binding"),
		{"DPoP, a bound token as a bearer token", PathMe, bearer(bound), Invalid(DescBound), middleware.ErrBoundToken, "bound_token"},
		{"DPoP, a bound token as a bearer token, with a proof", PathMe, http.Header{"Authorization": {"Bearer " + bound}, "Dpop": {proof(bound, nil, nil)}}, Invalid(DescBound), middleware.ErrBoundToken, "bound_token"},
		{"DPoP, a token bound in a way nothing checks", PathMe, bearer(mint(jwkstest.WithClaim("cnf", map[string]any{"jwk": other.JWK}))), Invalid(DescBound), middleware.ErrBoundToken, "bound_token"},
		{"DPoP, cnf empty", PathMe, bearer(mint(jwkstest.WithClaim("cnf", map[string]any{}))), Invalid(DescBound), middleware.ErrBoundToken, "bound_token"},
		{"DPoP, cnf not an object", PathMe, bearer(mint(jwkstest.WithClaim("cnf", "jkt"))), Invalid(DescClaims), middleware.ErrMalformedClaims, "malformed_claims"},

		// The expired hint: only for a bound token whose proof passes.
		invalid("a bound token expired", req(boundExpired, proof(boundExpired, nil, nil)), DescExpired, middleware.ErrTokenExpired, "expired"),
		{"DPoP, a bound token expired, as a bearer token", PathMe, bearer(boundExpired), Invalid(DescBound), middleware.ErrBoundToken, "bound_token"},
		{"DPoP, a bound token expired, proof of another method", PathMe, req(boundExpired, proof(boundExpired, map[string]any{"htm": otherMethod}, nil)), InvalidProof(DescProof), middleware.ErrInvalidDPoPProof, "dpop_proof"},
		invalid("a bound token expired, proof of another key", req(boundExpired, other.Proof(htm, url, boundExpired, nil, nil)), DescDPoPBound, middleware.ErrDPoPBinding, "dpop_binding"),
		invalid("an unbound token expired", req(unboundExpired, proof(unboundExpired, nil, nil)), DescDPoPBound, middleware.ErrDPoPBinding, "dpop_binding"),

		// A token that fails a check needing no key: the proof is not looked at.
		invalid("a token of another issuer, no proof", req(mint(cnf(p.JKT), jwkstest.WithClaim("iss", "https://stranger.example"))), DescIssuer, middleware.ErrIssuer, "issuer"),
		invalid("a token for another audience, a bad proof", req(mint(cnf(p.JKT), jwkstest.WithClaim("aud", "https://x")), "junk"), DescAudience, middleware.ErrAudience, "audience"),
		invalid("a forged token", req(Forge(bound), proof(Forge(bound), nil, nil)), DescSignature, middleware.ErrSignature, "signature"),

		// The request.
		{"DPoP, scheme without a token", PathMe, http.Header{"Authorization": {"DPoP"}}, OnDPoP(BadRequest), middleware.ErrMalformedRequest, "malformed_request"},
		{"DPoP, two tokens", PathMe, http.Header{"Authorization": {"DPoP " + bound + " " + bound}}, OnDPoP(BadRequest), middleware.ErrMalformedRequest, "malformed_request"},
		{"DPoP, two headers", PathMe, http.Header{"Authorization": {"DPoP " + bound, "dpop " + bound}, "Dpop": {proof(bound, nil, nil)}}, OnDPoP(BadRequest), middleware.ErrMalformedRequest, "malformed_request"},
		{"DPoP, a DPoP header and a Bearer one", PathMe, http.Header{"Authorization": {"DPoP " + bound, "Bearer " + bound}, "Dpop": {proof(bound, nil, nil)}}, BadRequest, middleware.ErrMalformedRequest, "malformed_request"},
		{"DPoP, a step-up route", "POST " + PathTransfers, func() http.Header {
			tok := mint(cnf(p.JKT), jwkstest.WithScopes("transfers:write"))
			htm, htu := target("POST", PathTransfers)
			return req(tok, p.Proof(htm, htu, tok, nil, nil))
		}(), OnDPoP(StepUp(DescLevel, `acr_values="`+MFA+`"`, `max_age="300"`)), middleware.ErrInsufficientUserAuthentication, "insufficient_user_authentication"},
	})
}

// withDefaultPort is base with its scheme's default port, when it names
// no port.
func withDefaultPort(base string) string {
	host := base[strings.Index(base, "://")+3:]
	if strings.Contains(host, ":") {
		return base
	}
	if strings.HasPrefix(strings.ToLower(base), "https:") {
		return base + ":443"
	}
	return base + ":80"
}
