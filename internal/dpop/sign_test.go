package dpop

import (
	"errors"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// A Signer's proofs pass Parse and Check for every algorithm, with the
// thumbprint an independent computation gives.
func TestSignerProofsVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, alg := range keyalg.Supported {
		k := newTestKey(t, alg)
		s, err := NewSigner(k.priv, alg)
		if err != nil {
			t.Fatal(err)
		}
		if s.JKT() != independentThumbprint(k.jwk) {
			t.Errorf("%s: JKT %s, want %s", alg, s.JKT(), independentThumbprint(k.jwk))
		}
		proof, err := s.Proof("GET", "https://API.test:443/a/b?x=1#f", "tok", "n-1", now)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(proof, keyalg.Supported)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if p.HTU != "https://API.test:443/a/b" || p.Nonce != "n-1" || p.JKT != s.JKT() || len(p.JTI) != 22 {
			t.Errorf("%s: proof %+v", alg, p)
		}
		if err := p.Check(Expect{Method: "GET", URL: "https://api.test/a/b", Now: now, Window: time.Minute, AccessToken: "tok", JKT: s.JKT()}); err != nil {
			t.Errorf("%s: %v", alg, err)
		}
		if err := p.Check(Expect{Method: "GET", URL: "https://api.test/a/b", Now: now, Window: time.Minute, AccessToken: "tok2"}); !errors.Is(err, ErrATH) {
			t.Errorf("%s: another token: %v", alg, err)
		}
	}
}

func TestNewSignerDefaults(t *testing.T) {
	for alg, want := range map[string]string{"RS256": "PS256", "ES384": "ES384", "ES512": "ES512", "EdDSA": "EdDSA", "ES256": "ES256"} {
		s, err := NewSigner(newTestKey(t, alg).priv, "")
		if err != nil || s.Alg() != want {
			t.Errorf("a %s key: %v, %v; want %s", alg, s, err, want)
		}
	}
	if _, err := NewSigner(newTestKey(t, "ES256").priv, "RS256"); err == nil {
		t.Error("an EC key signs RS256")
	}
	if _, err := NewSigner(nil, ""); err == nil {
		t.Error("nil key accepted")
	}
	// A proof without a token has no ath.
	s, _ := NewSigner(newTestKey(t, "ES256").priv, "")
	proof, _ := s.Proof("POST", "https://as.test/token", "", "", time.Now())
	p, err := Parse(proof, []string{"ES256"})
	if err != nil || p.ATH != "" {
		t.Errorf("token request proof: %+v, %v", p, err)
	}

}
