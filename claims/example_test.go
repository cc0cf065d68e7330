package claims_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jwtguard/jwtguard/claims"
)

func ExampleClaims_UnmarshalJSON() {
	payload := []byte(`{
		"iss": "https://issuer.example",
		"sub": "user-42",
		"aud": "https://api.example",
		"exp": 1700003600,
		"client_id": "notes-web",
		"scope": "notes:read notes:write",
		"scp": ["notes:read", "profile"]
	}`)

	var c claims.Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Subject, c.Audience, c.ExpiresAt)
	fmt.Println(c.Scopes)

	// Strict: a duplicate claim, even spelled with an escape, is refused.
	err := json.Unmarshal([]byte(`{"exp":1,"\u0065xp":99999999999}`), &c)
	fmt.Println(errors.Is(err, claims.ErrMalformed), err)
	// Output:
	// user-42 [https://api.example] 2023-11-14 23:13:20 +0000 UTC
	// notes:read notes:write profile
	// true claims: malformed claims: exp: duplicate claim
}

func ExampleScopes_HasAll() {
	s := claims.ParseScopes("notes:readonly profile")

	fmt.Println(s.HasAll("notes:read")) // exact match only
	fmt.Println(s.HasAll("notes:readonly", "profile"))
	fmt.Println(s.HasAny("notes:write", "profile"))
	fmt.Println(s.HasAll(), s.HasAny()) // no requirement / no alternative
	// Output:
	// false
	// true
	// true
	// true false
}

func ExampleGet() {
	var c claims.Claims
	payload := `{"sub":"user-42","tenant":"acme","limits":{"notes":100}}`
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		fmt.Println(err)
		return
	}

	tenant, err := claims.Get[string](&c, "tenant")
	fmt.Println(tenant, err)

	type limits struct {
		Notes int `json:"notes"`
	}
	l, err := claims.Get[limits](&c, "limits")
	fmt.Println(l.Notes, err)

	_, err = claims.Get[string](&c, "region")
	fmt.Println(errors.Is(err, claims.ErrNotPresent))

	raw, ok := c.Raw("limits")
	fmt.Println(string(raw), ok)
	// Output:
	// acme <nil>
	// 100 <nil>
	// true
	// {"notes":100} true
}

func ExampleFromContext() {
	// Middleware, after verifying the token:
	verified := &claims.Claims{Subject: "user-42", Scopes: claims.ParseScopes("notes:read")}
	ctx := claims.NewContext(context.Background(), verified)

	// Handler:
	c, ok := claims.FromContext(ctx)
	fmt.Println(ok, c.Subject, c.Scopes.Has("notes:read"))

	_, ok = claims.FromContext(context.Background())
	fmt.Println(ok)
	// Output:
	// true user-42 true
	// false
}
