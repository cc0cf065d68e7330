package middleware

import (
	"net/http"
	"strings"
)

// extract is the pipeline's first stage: it finds the request's bearer
// token (RFC 6750 §2) and returns it and -1, or the reason to refuse. A
// token from the Authorization header comes back unchecked against RFC
// 6750's b64token: verify checks it after the token cache, since a token
// found there was checked when it was cached, and the scan is most of a
// cache hit's cost.
//
// The Authorization header's scheme is Bearer, or DPoP when the Guard
// accepts it; the scheme comes back even with a refusal, whose challenges
// depend on it.
func (g *Guard) extract(r *http.Request) (credentials, reason) {
	cr := credentials{found: true}
	var rsn reason
	cr.token, cr.unchecked, cr.scheme, rsn = g.findToken(r)
	return cr, rsn
}

func (g *Guard) findToken(r *http.Request) (tok string, unchecked bool, sch scheme, _ reason) {
	sources := 0
	if g.tokenHeader != "" {
		switch vals := r.Header[g.tokenHeader]; len(vals) {
		case 0:
		case 1:
			if len(vals[0]) > g.maxToken || !isB64Token(vals[0]) {
				return "", false, sch, rMalformedRequest
			}
			tok, sources = vals[0], 1
		default:
			return "", false, sch, rMalformedRequest
		}
	} else {
		switch vals := r.Header["Authorization"]; len(vals) {
		case 0:
		case 1:
			t, s, rsn := parseAuthorization(vals[0], g.maxToken, g.dpop.policy != DPoPOff)
			if rsn >= 0 {
				return "", false, s, rsn
			}
			if t != "" {
				tok, sources, unchecked, sch = t, 1, true, s
			}
		default:
			// More than one header: malformed, answered on the scheme
			// they all name (Bearer when they differ or name another).
			sch = schemeOf(vals[0], g.dpop.policy != DPoPOff)
			for _, v := range vals[1:] {
				if schemeOf(v, g.dpop.policy != DPoPOff) != sch {
					sch = schemeBearer
				}
			}
			return "", false, sch, rMalformedRequest
		}
	}
	if g.cookie != "" {
		switch cks := r.CookiesNamed(g.cookie); len(cks) {
		case 0:
		case 1:
			if !isB64Token(cks[0].Value) {
				return "", false, sch, rMalformedRequest
			}
			tok, sources, unchecked = cks[0].Value, sources+1, false
		default:
			// Cookie tossing: a sibling host can add a cookie of the same
			// name, and the order in which they arrive is not the user's.
			return "", false, sch, rMalformedRequest
		}
	}
	if g.query != "" {
		if vals, ok := r.URL.Query()[g.query]; ok {
			if len(vals) != 1 || !isB64Token(vals[0]) {
				return "", false, sch, rMalformedRequest
			}
			tok, sources, unchecked = vals[0], sources+1, false
		}
	}
	switch sources {
	case 0:
		return "", false, sch, rNoToken
	case 1:
		return tok, unchecked, sch, -1
	}
	// RFC 6750 §2: a client must not use more than one method.
	return "", false, sch, rMalformedRequest
}

// parseAuthorization parses one Authorization header value, of the Bearer
// scheme or (when dpop) the DPoP scheme (RFC 9449 §7.1, the same token
// syntax). It returns "" and -1 for any other scheme (no credentials
// here), whatever its size: a Negotiate ticket can be larger than any
// access token, and it is not ours to judge. The token it returns is not
// yet checked against b64token.
//
// One limit governs a Bearer or DPoP header: the maximum token size. A
// token over it is a malformed request, and so is a header longer than it
// by more than authorizationSlack, whatever it holds, so that no header is
// scanned beyond a bound the server chose.
func parseAuthorization(v string, maxToken int, dpop bool) (string, scheme, reason) {
	name, rest, _ := strings.Cut(v, " ")
	var sch scheme
	switch {
	case strings.EqualFold(name, "Bearer"):
	case dpop && strings.EqualFold(name, "DPoP"):
		sch = schemeDPoP
	default:
		return "", sch, -1
	}
	if len(v) > maxToken+authorizationSlack {
		return "", sch, rMalformedRequest
	}
	// One or more spaces may separate the scheme from the token; the
	// server already trimmed the value's ends.
	rest = strings.TrimLeft(rest, " ")
	if rest == "" || len(rest) > maxToken {
		return "", sch, rMalformedRequest
	}
	return rest, sch, -1
}

// schemeOf is the scheme an Authorization header value names, for its
// challenges: DPoP (when dpop) or, for any other, Bearer.
func schemeOf(v string, dpop bool) scheme {
	name, _, _ := strings.Cut(v, " ")
	if dpop && strings.EqualFold(name, "DPoP") {
		return schemeDPoP
	}
	return schemeBearer
}

// authorizationSlack is what a header may hold beside its token: the
// scheme, and the spaces RFC 6750 allows after it.
const authorizationSlack = 256

// isB64Token reports whether s matches RFC 6750 §2.1's b64token:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
// It runs on every request over the whole token, hence the table.
func isB64Token(s string) bool {
	n := len(s)
	for n > 0 && s[n-1] == '=' {
		n--
	}
	if n == 0 {
		return false
	}
	for i := 0; i < n; i++ {
		if !b64tokenChar[s[i]] {
			return false
		}
	}
	return true
}

// b64tokenChar is the b64token alphabet; it is never written after
// initialisation.
var b64tokenChar = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "-._~+/" {
		t[c] = true
	}
	return t
}()
