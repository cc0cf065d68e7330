// Package jwkjson writes the JSON objects of JOSE for tests: public keys as
// JWKs, and JWKs, headers or claims sets with members changed or removed,
// for the test issuer and for tests that build hostile tokens and keys.
// It lives apart from jwkstest so that the jwks package's own tests can
// use it: jwkstest imports jwks, and jwks's internal tests cannot import
// jwkstest back.
package jwkjson

import (
	"crypto"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/MicahParks/jwkset"
)

// Public marshals pub as a JWK with kid, using jwkset, then applies
// override: each member is set to its value, or removed when the value is
// nil.
func Public(pub crypto.PublicKey, kid string, override map[string]any) (json.RawMessage, error) {
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid}})
	if err != nil {
		return nil, fmt.Errorf("jwkjson: building JWK: %w", err)
	}
	raw, err := json.Marshal(j.Marshal())
	if err != nil {
		return nil, fmt.Errorf("jwkjson: marshaling JWK: %w", err)
	}
	if len(override) == 0 {
		return raw, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("jwkjson: reading JWK: %w", err)
	}
	return json.Marshal(Override(m, override))
}

// Override returns a copy of base with each member of over set, or
// removed when its value is nil: an object one step from a valid one.
func Override(base, over map[string]any) map[string]any {
	m := maps.Clone(base)
	if m == nil {
		m = map[string]any{}
	}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}
