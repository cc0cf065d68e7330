package jwkstest

import (
	"errors"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/internal/dpop"
	"github.com/jwtguard/jwtguard/internal/keyalg"
)

// tokenResponse is the RFC 6749 §5.1 access token response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// tokenErrorResponse is the RFC 6749 §5.2 error response.
type tokenErrorResponse struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// serveToken implements the token endpoint. Parameters are read from the form
// body (and, leniently, from the query string).
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "cannot parse form: "+err.Error())
		return
	}

	var (
		g            grant
		refreshToken string
		isNew        bool
	)
	switch gt := r.Form.Get("grant_type"); gt {
	case "", "client_credentials":
		g = grant{
			scope:    strings.Join(strings.Fields(r.Form.Get("scope")), " "),
			resource: r.Form["resource"],
			sub:      r.Form.Get("sub"),
			lifetime: i.cfg.lifetime,
		}
		if g.sub == "" {
			g.sub = defaultSubject
		}
		refreshToken = randomHex(24)
		isNew = true
	case "refresh_token":
		refreshToken = r.Form.Get("refresh_token")
		if refreshToken == "" {
			tokenError(w, http.StatusBadRequest, "invalid_request", "missing refresh_token")
			return
		}
		var ok bool
		i.mu.RLock()
		g, ok = i.refresh[refreshToken]
		i.mu.RUnlock()
		if !ok {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "unknown refresh token")
			return
		}
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type "+strconv.Quote(gt))
		return
	}

	// DPoP (RFC 9449 §5): a request with a proof gets a token bound to the
	// proof's key, and its refresh token stays bound to that key.
	jkt, ok := i.tokenProof(w, r)
	if !ok {
		return
	}
	switch {
	case isNew:
		g.jkt = jkt
	case g.jkt != jkt:
		tokenError(w, http.StatusBadRequest, "invalid_grant", "the refresh token is bound to another DPoP key, or to none")
		return
	}

	lifetime := g.lifetime
	if s := r.Form.Get("expires_in"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			tokenError(w, http.StatusBadRequest, "invalid_request", "expires_in must be an integer number of seconds")
			return
		}
		lifetime = time.Duration(n) * time.Second
		if isNew {
			g.lifetime = lifetime
		}
	}

	opts := []MintOption{WithClaim("sub", g.sub), WithExpiresIn(lifetime)}
	switch len(g.resource) {
	case 0:
	case 1:
		opts = append(opts, WithClaim("aud", g.resource[0]))
	default:
		opts = append(opts, WithClaim("aud", g.resource))
	}
	if g.scope != "" {
		opts = append(opts, WithClaim("scope", g.scope))
	}
	tokenType := "Bearer"
	if g.jkt != "" {
		opts = append(opts, WithClaim("cnf", map[string]any{"jkt": g.jkt}))
		tokenType = "DPoP"
	}
	token, err := i.mintToken(opts...)
	if err != nil {
		tokenError(w, http.StatusInternalServerError, "server_error", err.Error())
		return
	}
	if isNew {
		i.mu.Lock()
		i.refresh[refreshToken] = g
		i.mu.Unlock()
	}

	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if acceptsTextPlain(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(token))
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  token,
		TokenType:    tokenType,
		ExpiresIn:    int64(lifetime / time.Second),
		Scope:        g.scope,
		RefreshToken: refreshToken,
	})
}

// acceptsTextPlain reports whether the Accept header lists text/plain.
func acceptsTextPlain(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == "text/plain" {
				return true
			}
		}
	}
	return false
}

func tokenError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, status, tokenErrorResponse{Error: code, Description: description})
}

// tokenProof checks a token request's DPoP proof, when it has one, and
// returns the thumbprint of its key; ok is false when it refused the
// request. The proof must be for POST to this token endpoint, made within
// a minute, without ath (RFC 9449 §4.3).
func (i *Issuer) tokenProof(w http.ResponseWriter, r *http.Request) (jkt string, ok bool) {
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return "", true
	case 1:
	default:
		tokenError(w, http.StatusBadRequest, "invalid_dpop_proof", "more than one DPoP header")
		return "", false
	}
	p, err := dpop.Parse(proofs[0], keyalg.Supported)
	if err == nil {
		err = p.Check(dpop.Expect{Method: http.MethodPost, URL: i.TokenURL(), Now: i.cfg.now(), Window: time.Minute})
	}
	if err == nil && p.ATH != "" {
		err = errors.New("a token request's proof has no ath")
	}
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_dpop_proof", err.Error())
		return "", false
	}
	return p.JKT, true
}
