package interop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/internal/guardtest"
)

// TestDPoPWithOIDCProvider: oidc-provider (its DPoP feature, on by
// default) binds an access token to the key of the client's proofs, made
// by oauth2guard's DPoPKey; every example server accepts it with a fresh
// proof, through oauth2guard's Transport (with -dpop-nonce too, after its
// nonce round trip), refuses it as a bearer token, and refuses a
// replayed proof.
func TestDPoPWithOIDCProvider(t *testing.T) {
	p := needProvider(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := oauth2guard.NewDPoPKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: "svc-es256", ClientSecret: secret, TokenURL: p.TokenURL, Scopes: []string{"notes:read"},
		EndpointParams: url.Values{"resource": {api}}, AuthStyle: oauth2.AuthStyleInHeader}
	tok, err := cc.Token(context.WithValue(context.Background(), oauth2.HTTPClient, dk.TokenClient(nil)))
	if err != nil {
		t.Fatal(err)
	}
	_, claims := jwtParts(t, tok.AccessToken)
	cnf, _ := claims["cnf"].(map[string]any)
	if !strings.EqualFold(tok.TokenType, "DPoP") || cnf["jkt"] != dk.JKT() {
		t.Fatalf("oidc-provider issued a %q token with cnf %v; want DPoP bound to %s", tok.TokenType, claims["cnf"], dk.JKT())
	}
	none := func(context.Context, *oauth2.Token) (*oauth2.Token, error) { return nil, io.EOF }
	for _, name := range servers {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name, "-issuer", p.Issuer, "-audience", api)
			nonces := startServer(t, name, "-issuer", p.Issuer, "-audience", api, "-dpop-nonce")
			bearer := p.clientCredentials(t, "svc-es256", api, "notes:read")
			s.waitKeys(t, bearer)
			nonces.waitKeys(t, bearer)
			want := me(p.Issuer, "svc-es256", "svc-es256", "notes:read")
			for _, srv := range []*server{s, nonces} {
				client := &http.Client{Transport: oauth2guard.NewTransport(tok, none, oauth2guard.WithDPoP(dk))}
				resp, err := client.Get(srv.URL + "/api/me")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != want.Body {
					t.Fatalf("with a proof: %d %s %q", resp.StatusCode, b, resp.Header.Values("WWW-Authenticate"))
				}
				// -dpop-nonce: the answer carries the next nonce, so the
				// Transport went through the round trip to get here.
				if got := resp.Header.Get("DPoP-Nonce") != ""; got != (srv == nonces) {
					t.Errorf("a DPoP-Nonce on the answer: %v, want %v", got, srv == nonces)
				}
			}
			expect(t, "the bound token as a bearer token", s.do(t, "GET", "/api/me", tok.AccessToken),
				invalid(guardtest.DescBound))

			proof, err := dk.Proof("GET", s.URL+"/api/me", tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			for i, wantStatus := range []int{200, 401} {
				req, _ := http.NewRequest("GET", s.URL+"/api/me", nil)
				req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
				req.Header.Set("DPoP", proof)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				ch := resp.Header.Get("WWW-Authenticate")
				if resp.StatusCode != wantStatus || i == 1 && !strings.HasPrefix(ch, guardtest.InvalidProof(guardtest.DescReplay).Challenges[0]) {
					t.Fatalf("proof sent %d times: %d %q", i+1, resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
				}
			}
		})
	}
}
