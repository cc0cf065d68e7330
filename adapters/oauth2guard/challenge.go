package oauth2guard

import (
	"iter"
	"net/http"
	"strings"
)

// ExpiredDescription is the exact error_description the expired hint
// carries. jwtguard's middleware sends it only for a token that is genuine
// in every other way, which is what makes it safe to act on; any other
// description, even a close one, is not the hint.
const ExpiredDescription = "The access token expired"

// IsExpiredHint reports whether resp is a 401 carrying exactly the expired
// hint: a Bearer or DPoP challenge (in any WWW-Authenticate field, among
// any other challenges) with error="invalid_token" and
// error_description="The access token expired". It is exported so that
// clients that do not use Transport can make the same decision.
//
// Challenges are parsed per RFC 9110 §11.6.1: scheme and parameter names are
// case-insensitive, values may be tokens or quoted-strings with backslash
// escapes, and parameters may come in any order. Parameter values are
// compared exactly. A WWW-Authenticate field that does not parse is ignored
// as a whole, as is a challenge that repeats a parameter: when in doubt the
// answer is false, because a false "yes" would spend a refresh token on
// every bad response. What a hostile server could make costly is not
// read: only the first 16 fields, 16 KiB, 32 challenges and 64 parameters
// of them are; a field that would go past one of these is ignored.
func IsExpiredHint(resp *http.Response) bool {
	if resp == nil || resp.StatusCode != http.StatusUnauthorized {
		return false
	}
	for c := range challenges(resp.Header) {
		if (strings.EqualFold(c.scheme, "Bearer") || strings.EqualFold(c.scheme, "DPoP")) &&
			c.params["error"] == "invalid_token" &&
			c.params["error_description"] == ExpiredDescription {
			return true
		}
	}
	return false
}

// The bounds on what a refusal's challenges may make the client parse,
// per reading of a response. A response may come from anyone; jwtguard's
// own refusals are one or two fields of two challenges, a few hundred
// bytes and at most eight parameters each, far inside these.
const (
	maxChallengeFields = 16       // WWW-Authenticate fields read; the rest are ignored
	maxChallengeBytes  = 16 << 10 // in all the fields read; a longer field is skipped
	maxChallenges      = 32       // in all the fields read, dropped ones counted
	maxChallengeParams = 64       // in all the fields read, dropped ones counted
)

// A budget is what is left of the bounds in one reading of a response.
type budget struct{ bytes, challenges, params int }

// challenges yields the challenges of h's WWW-Authenticate fields, in
// order, within the bounds above: a field longer than the bytes left is
// skipped unread; one whose challenges or parameters go past what is
// left is ignored, and with it every field after it (parsing it spent
// them). A field is parsed only when the one before is used up, so a
// caller that stops at its match parses no more.
func challenges(h http.Header) iter.Seq[challenge] {
	return func(yield func(challenge) bool) {
		b := budget{bytes: maxChallengeBytes, challenges: maxChallenges, params: maxChallengeParams}
		fields := h.Values("WWW-Authenticate")
		for _, field := range fields[:min(len(fields), maxChallengeFields)] {
			if len(field) > b.bytes {
				continue // skipped unread, so it costs nothing
			}
			b.bytes -= len(field)
			cs, ok := parseChallenges(field, &b)
			if !ok {
				if b.challenges < 0 || b.params < 0 {
					return
				}
				continue
			}
			for _, c := range cs {
				if !yield(c) {
					return
				}
			}
		}
	}
}

// challenge is one parsed auth challenge. params is nil for a challenge
// with a token68 or nothing after the scheme; names are lower-cased.
type challenge struct {
	scheme string
	params map[string]string
}

// parseChallenges parses one WWW-Authenticate field value:
//
//	WWW-Authenticate = #challenge
//	challenge   = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//	auth-param  = token BWS "=" BWS ( token / quoted-string )
//	token68     = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The grammar is ambiguous at a comma (a parameter of this challenge or the
// scheme of the next one?); a token followed by "=" is a parameter,
// otherwise it starts a new challenge. It reports false if the value is
// malformed anywhere or takes more challenges or parameters than b has
// left (every one counts, kept or not), and drops challenges that repeat
// a parameter name (RFC 9110 says each may occur only once, so which one
// counts is unclear).
func parseChallenges(s string, b *budget) ([]challenge, bool) {
	p := parser{s: s}
	var out []challenge
	for {
		p.skipListSeparators()
		if p.eof() {
			return out, true
		}
		scheme := p.token()
		if b.challenges--; scheme == "" || b.challenges < 0 {
			return nil, false
		}
		c := challenge{scheme: scheme}
		dup := false
		if p.eof() || p.peek() == ',' {
			out = append(out, c)
			continue
		}
		if p.peek() != ' ' {
			return nil, false // the scheme must be followed by SP, "," or the end
		}
		p.skipOWS()
		if p.eof() || p.peek() == ',' {
			out = append(out, c)
			continue
		}
		if p.token68() {
			out = append(out, c)
			continue
		}
		c.params = map[string]string{}
		for {
			name, value, ok := p.authParam()
			if b.params--; !ok || b.params < 0 {
				return nil, false
			}
			name = strings.ToLower(name)
			if _, seen := c.params[name]; seen {
				dup = true
			}
			c.params[name] = value
			p.skipOWS()
			if p.eof() {
				break
			}
			if p.peek() != ',' {
				return nil, false
			}
			p.skipListSeparators()
			if p.eof() || !p.atAuthParam() {
				break // the end, or the next challenge's scheme
			}
		}
		if !dup {
			out = append(out, c)
		}
	}
}

// parser is a cursor over one header field value.
type parser struct {
	s string
	i int
}

func (p *parser) eof() bool  { return p.i >= len(p.s) }
func (p *parser) peek() byte { return p.s[p.i] }

// skipOWS skips optional whitespace (SP / HTAB); BWS is the same thing.
func (p *parser) skipOWS() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t') {
		p.i++
	}
}

// skipListSeparators skips OWS and commas: RFC 9110 §5.6.1 lets recipients
// ignore empty list elements.
func (p *parser) skipListSeparators() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == ',') {
		p.i++
	}
}

// token consumes and returns a token (1*tchar), or "" if none is here.
func (p *parser) token() string {
	start := p.i
	for !p.eof() && isTchar(p.peek()) {
		p.i++
	}
	return p.s[start:p.i]
}

// token68 consumes a token68 if the text at the cursor is one that ends the
// challenge (followed by OWS and then "," or the end); otherwise it
// consumes nothing and reports false.
func (p *parser) token68() bool {
	j := p.i
	for j < len(p.s) && isToken68Char(p.s[j]) {
		j++
	}
	if j == p.i {
		return false
	}
	for j < len(p.s) && p.s[j] == '=' {
		j++
	}
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t') {
		j++
	}
	if j < len(p.s) && p.s[j] != ',' {
		return false
	}
	p.i = j
	return true
}

// atAuthParam reports, without consuming anything, whether the cursor is
// at "token BWS =" — an auth-param rather than the next challenge's scheme.
func (p *parser) atAuthParam() bool {
	q := *p
	if q.token() == "" {
		return false
	}
	q.skipOWS()
	return !q.eof() && q.peek() == '='
}

// authParam consumes token BWS "=" BWS ( token / quoted-string ).
func (p *parser) authParam() (name, value string, ok bool) {
	name = p.token()
	if name == "" {
		return "", "", false
	}
	p.skipOWS()
	if p.eof() || p.peek() != '=' {
		return "", "", false
	}
	p.i++
	p.skipOWS()
	if p.eof() {
		return "", "", false
	}
	if p.peek() == '"' {
		value, ok = p.quotedString()
		return name, value, ok
	}
	value = p.token()
	return name, value, value != ""
}

// quotedString consumes a quoted-string (RFC 9110 §5.6.4) and returns its
// unescaped content.
func (p *parser) quotedString() (string, bool) {
	p.i++ // opening DQUOTE
	var b strings.Builder
	for !p.eof() {
		c := p.peek()
		p.i++
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\':
			if p.eof() || !isQuotedPairChar(p.peek()) {
				return "", false
			}
			b.WriteByte(p.peek())
			p.i++
		case isQdtext(c):
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return "", false // unterminated
}

// isTchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA.
func isTchar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68Char: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
func isToken68Char(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("-._~+/", c) >= 0
}

// isQdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
func isQdtext(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || 0x23 <= c && c <= 0x5b || 0x5d <= c && c <= 0x7e || c >= 0x80
}

// isQuotedPairChar: HTAB / SP / VCHAR / obs-text.
func isQuotedPairChar(c byte) bool {
	return c == '\t' || c == ' ' || 0x21 <= c && c <= 0x7e || c >= 0x80
}
