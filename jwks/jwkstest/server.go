package jwkstest

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	wellKnownOpenID = "/.well-known/openid-configuration"
	wellKnownOAuth  = "/.well-known/oauth-authorization-server"
)

// metadata is the (deliberately small) discovery document.
type metadata struct {
	Issuer                            string   `json:"issuer"`
	JWKSURI                           string   `json:"jwks_uri"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
}

// route dispatches requests to the endpoints.
func (i *Issuer) route(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case i.basePath + wellKnownOpenID:
		i.serveMetadata(w, r, true)
	case wellKnownOAuth + i.basePath:
		i.serveMetadata(w, r, false)
	case i.basePath + "/jwks.json":
		i.serveJWKS(w, r)
	case "/token":
		i.serveToken(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (i *Issuer) serveMetadata(w http.ResponseWriter, r *http.Request, openid bool) {
	i.discoveryFetches.Add(1)
	if i.applyFault(w, r, false) || !allowGet(w, r) {
		return
	}
	i.mu.RLock()
	disabled := (openid && i.noOpenID) || (!openid && i.noOAuth)
	iss, jwksURI := i.metaIssuer, i.jwksURI
	i.mu.RUnlock()
	if disabled {
		http.NotFound(w, r)
		return
	}
	if iss == "" {
		iss = i.URL()
	}
	if jwksURI == "" {
		jwksURI = i.JWKSURL()
	}
	writeJSON(w, http.StatusOK, metadata{
		Issuer:                            iss,
		JWKSURI:                           jwksURI,
		TokenEndpoint:                     i.TokenURL(),
		GrantTypesSupported:               []string{"client_credentials", "refresh_token"},
		ResponseTypesSupported:            []string{"token"},
		IDTokenSigningAlgValuesSupported:  i.publishedAlgs(),
		TokenEndpointAuthMethodsSupported: []string{"none"},
	})
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.jwksFetches.Add(1)
	if i.applyFault(w, r, true) || !allowGet(w, r) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(i.jwksBody())
}

// allowGet answers 405 and returns false unless r is a GET or HEAD request.
func allowGet(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// applyFault applies the current fault. It returns true if the request has
// been dealt with and must not be answered normally.
func (i *Issuer) applyFault(w http.ResponseWriter, r *http.Request, jwks bool) bool {
	switch Fault(i.fault.Load()) {
	case FaultDown:
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic(http.ErrAbortHandler)
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		_ = conn.Close()
		return true
	case FaultStatus503:
		unavailable(w)
		return true
	case FaultSlow:
		t := time.NewTimer(time.Duration(i.slowDelay.Load()))
		defer t.Stop()
		select {
		case <-t.C:
			return false
		case <-r.Context().Done():
			return true
		case <-i.done:
			unavailable(w)
			return true
		}
	case FaultGarbage:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"keys": [`))
		return true
	case FaultEmpty:
		if !jwks {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"keys":[]}`))
		return true
	case FaultHuge:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(hugeBody())
		return true
	}
	return false
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	http.Error(w, "jwkstest: service unavailable (injected fault)", http.StatusServiceUnavailable)
}

// hugeBody is a valid JSON object a little larger than 2 MiB.
var hugeBody = sync.OnceValue(func() []byte {
	const size = 2<<20 + 64<<10
	return []byte(`{"keys":[],"pad":"` + strings.Repeat("x", size) + `"}`)
})

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
