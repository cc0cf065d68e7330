package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// A Signer makes DPoP proofs with one key, as a client does (RFC 9449
// §4.2). It is safe for concurrent use.
type Signer struct {
	key crypto.Signer
	alg *keyalg.Alg
	jwk json.RawMessage // the public JWK, fixed-length EC coordinates
	jkt string
}

// NewSigner returns a Signer for key with alg, or with the usual
// algorithm for the key when alg is "": ES256, ES384 or ES512 by curve,
// EdDSA, and PS256 for RSA (FAPI 2.0 allows no RS256).
func NewSigner(key crypto.Signer, alg string) (*Signer, error) {
	if key == nil {
		return nil, errors.New("dpop: nil key")
	}
	pub := key.Public()
	if alg == "" {
		switch k := pub.(type) {
		case *ecdsa.PublicKey:
			alg = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[k.Curve.Params().Name]
		case ed25519.PublicKey:
			alg = "EdDSA"
		case *rsa.PublicKey:
			alg = "PS256"
		}
	}
	a := keyalg.Lookup(alg)
	if a == nil || !a.Fits(pub) {
		return nil, fmt.Errorf("dpop: the key does not fit the algorithm %q", alg)
	}
	jwk, err := publicJWK(pub)
	if err != nil {
		return nil, err
	}
	_, jkt, err := PublicKey(jwk)
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, alg: a, jwk: jwk, jkt: jkt}, nil
}

// JKT is the RFC 7638 thumbprint of the Signer's key: the cnf.jkt of the
// tokens bound to it.
func (s *Signer) JKT() string { return s.jkt }

// Key is the Signer's key.
func (s *Signer) Key() crypto.Signer { return s.key }

// Alg is the proofs' algorithm.
func (s *Signer) Alg() string { return s.alg.Name }

// Proof makes a proof for a request with method to url (its query and
// fragment left out of htu, RFC 9449 §4.2), made at iat, with a fresh
// random jti; ath covers accessToken unless it is "" (a token request),
// and nonce is the server's, or "".
func (s *Signer) Proof(method, url, accessToken, nonce string, iat time.Time) (string, error) {
	if i := strings.IndexAny(url, "?#"); i >= 0 {
		url = url[:i]
	}
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	claims := struct {
		JTI   string `json:"jti"`
		HTM   string `json:"htm"`
		HTU   string `json:"htu"`
		IAT   int64  `json:"iat"`
		ATH   string `json:"ath,omitempty"`
		Nonce string `json:"nonce,omitempty"`
	}{JTI: enc.EncodeToString(jti[:]), HTM: method, HTU: url, IAT: iat.Unix(), Nonce: nonce}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims.ATH = enc.EncodeToString(sum[:])
	}
	header := struct {
		Typ string          `json:"typ"`
		Alg string          `json:"alg"`
		JWK json.RawMessage `json:"jwk"`
	}{"dpop+jwt", s.alg.Name, s.jwk}
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := s.alg.Sign(s.key, []byte(input))
	if err != nil {
		return "", fmt.Errorf("dpop: signing the proof: %w", err)
	}
	return input + "." + enc.EncodeToString(sig), nil
}

var enc = base64.RawURLEncoding

// publicJWK is the JWK of pub with the members RFC 7638 needs, EC
// coordinates at the curve's fixed length.
func publicJWK(pub crypto.PublicKey) (json.RawMessage, error) {
	var m map[string]string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m = map[string]string{"kty": "RSA", "n": enc.EncodeToString(k.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		b, err := k.Bytes() // uncompressed: 0x04 || x || y, each of size bytes
		if err != nil {
			return nil, fmt.Errorf("dpop: %w", err)
		}
		m = map[string]string{"kty": "EC", "crv": k.Curve.Params().Name, "x": enc.EncodeToString(b[1 : 1+size]), "y": enc.EncodeToString(b[1+size:])}
	case ed25519.PublicKey:
		m = map[string]string{"kty": "OKP", "crv": "Ed25519", "x": enc.EncodeToString(k)}
	default:
		return nil, fmt.Errorf("dpop: unsupported key type %T", pub)
	}
	return json.Marshal(m)
}
