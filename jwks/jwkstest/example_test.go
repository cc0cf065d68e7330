package jwkstest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// fetchKeys downloads a JWKS and parses it with jwkset.
func fetchKeys(jwksURL string) (jwkset.Storage, error) {
	resp, err := http.Get(jwksURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, err
	}
	return set.ToStorage()
}

// Mint a token and verify it with golang-jwt, using the key published in the
// issuer's JWKS.
func ExampleIssuer_Mint() {
	iss := jwkstest.NewIssuer(jwkstest.WithDefaultAlgorithm("ES256"))
	defer iss.Close()

	token := iss.Mint(jwkstest.WithScopes("notes:read", "notes:write"))
	fmt.Println("parts:", len(strings.Split(token, ".")))

	keys, err := fetchKeys(iss.JWKSURL())
	if err != nil {
		log.Fatal(err)
	}
	_, err = keys.KeyRead(context.Background(), iss.SigningKID("ES256"))
	fmt.Println("JWKS has the signing key:", err == nil)

	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, err := keys.KeyRead(context.Background(), kid)
		if err != nil {
			return nil, err
		}
		return k.Key(), nil
	},
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(iss.URL()),
		jwt.WithAudience("https://api.example.com"),
	)
	fmt.Println("valid:", err == nil)
	fmt.Println("scope:", claims["scope"])
	// Output:
	// parts: 3
	// JWKS has the signing key: true
	// valid: true
	// scope: notes:read notes:write
}

// Rotate keys: the new key signs, the old one stays published until removed.
func ExampleIssuer_Rotate() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()

	oldKID := iss.SigningKID("RS256")
	newKID := iss.Rotate("RS256")
	published := func(kid string) bool {
		keys, err := fetchKeys(iss.JWKSURL())
		if err != nil {
			log.Fatal(err)
		}
		_, err = keys.KeyRead(context.Background(), kid)
		return err == nil
	}
	fmt.Println("new key signs:", iss.SigningKID("RS256") == newKID)
	fmt.Println("old key published:", published(oldKID))
	iss.RemoveKey(oldKID)
	fmt.Println("old key published after RemoveKey:", published(oldKID))
	// Output:
	// new key signs: true
	// old key published: true
	// old key published after RemoveKey: false
}

// Simulate an outage of the key server.
func ExampleIssuer_SetFault() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()

	iss.SetFault(jwkstest.FaultStatus503)
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status, "Retry-After:", resp.Header.Get("Retry-After"))
	fmt.Println("JWKS fetches:", iss.JWKSFetches())
	// Output:
	// 503 Service Unavailable Retry-After: 1
	// JWKS fetches: 1
}

// Get a token from the token endpoint, as a client or a shell script would.
func ExampleIssuer_TokenURL() {
	iss := jwkstest.NewIssuer()
	defer iss.Close()

	resp, err := http.PostForm(iss.TokenURL(), url.Values{
		"grant_type": {"client_credentials"},
		"scope":      {"notes:read"},
		"resource":   {"https://notes.example"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		log.Fatal(err)
	}
	fmt.Println(tr.TokenType, tr.ExpiresIn, tr.Scope, strings.Count(tr.AccessToken, "."))

	// With "Accept: text/plain" the body is just the token.
	req, _ := http.NewRequest(http.MethodPost, iss.TokenURL(), strings.NewReader("scope=notes:read"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp2.Body.Close()
	body, _ := io.ReadAll(resp2.Body)
	fmt.Println("plain token parts:", len(strings.Split(string(body), ".")))
	// Output:
	// Bearer 300 notes:read 2
	// plain token parts: 3
}
