// Package hostile reaches the test issuer's settings that only this
// library's own attack tests need: a JWKS served verbatim, raw JWKs added
// to it, discovery metadata that names another issuer or key URL, and the
// private keys. A user's test needs none of them, so jwkstest's exported
// surface stays what httptest's is to net/http (an issuer, its keys,
// rotation, minting, the common faults), and the attacks keep their tools.
//
// jwkstest registers each Issuer here when it starts; Of hands the settings
// back, after Close too, as the Issuer's other methods keep working then.
// The registry only grows: it lives in test binaries, and holds one small
// entry per test issuer.
package hostile

import (
	"crypto"
	"encoding/json"
	"fmt"
	"sync"
)

// Knobs are one test issuer's hostile settings.
type Knobs struct {
	// SetJWKSBody makes the JWKS endpoint serve exactly body (as
	// application/json). nil restores the generated JWKS; an empty non-nil
	// body serves an empty response.
	SetJWKSBody func(body []byte)
	// AddRawJWK appends raw, verbatim, to the generated JWKS's "keys",
	// after the issuer's own keys. Invalid JSON makes the whole document
	// invalid.
	AddRawJWK func(raw json.RawMessage)
	// SetMetadataIssuer sets the "issuer" both discovery documents serve,
	// for mix-up tests; "" restores the real one. Minted tokens keep the
	// real iss.
	SetMetadataIssuer func(iss string)
	// SetJWKSURI sets the "jwks_uri" both discovery documents serve; ""
	// restores the real one.
	SetJWKSURI func(u string)
	// PrivateKey returns the private key of kid, or nil for a kid the
	// issuer never created. Removed keys are still known.
	PrivateKey func(kid string) crypto.Signer
}

var issuers sync.Map // *jwkstest.Issuer (as any) → *Knobs

// Register records iss's knobs; jwkstest calls it.
func Register(iss any, k *Knobs) { issuers.Store(iss, k) }

// Of returns the knobs of a running test issuer. It panics for anything
// else, as jwkstest's helpers do on misuse.
func Of(iss any) *Knobs {
	k, ok := issuers.Load(iss)
	if !ok {
		panic(fmt.Sprintf("hostile: %T is not a running jwkstest.Issuer", iss))
	}
	return k.(*Knobs)
}
