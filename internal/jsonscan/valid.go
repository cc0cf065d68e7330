package jsonscan

import "unicode/utf8"

// maxDepth is encoding/json's nesting limit; Valid agrees with it.
const maxDepth = 10000

// Valid reports whether b is one JSON value, surrounded by optional white
// space: exactly what encoding/json.Valid answers, found in one tight pass
// rather than through its per-byte state machine. Token payloads are
// validated on every request, so the difference is a measurable share of
// verification. Like encoding/json, it does not check UTF-8, and it takes a
// \u escape of a lone surrogate: ValidUTF8 refuses both.
func Valid(b []byte) bool {
	i, ok := value(b, SkipWS(b, 0), 0, false)
	return ok && SkipWS(b, i) == len(b)
}

// ValidUTF8 reports whether b is valid JSON (Valid) that is UTF-8 text
// throughout, as RFC 8725 §3.7 requires of a JWT and RFC 7493 §2.1 of
// I-JSON: its bytes are valid UTF-8, and no \u escape is a lone surrogate
// (\uD800 to \uDBFF not followed by an escape of \uDC00 to \uDFFF, or one
// of \uDC00 to \uDFFF not after such an escape). encoding/json reads either
// as U+FFFD, so "a\ud800", "a\udfff" and "a\ufffd" (three strings to a
// JavaScript, Java or Python issuer) would be one; what ValidUTF8 accepts,
// encoding/json decodes without replacing anything. The surrogate check
// reads only \u escapes, so a string without them costs what Valid's does.
func ValidUTF8(b []byte) bool {
	i, ok := value(b, SkipWS(b, 0), 0, true)
	return ok && SkipWS(b, i) == len(b) && utf8.Valid(b)
}

// value validates the value starting at b[i] and returns the index after it;
// strict refuses a \u escape of a lone surrogate.
func value(b []byte, i, depth int, strict bool) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i, strict)
	case c == '{' || c == '[':
		// An object and an array are one loop: an object's element is a
		// string, a colon and a value; an array's is a value.
		closing := byte(']')
		if c == '{' {
			closing = '}'
		}
		if depth++; depth > maxDepth {
			return i, false
		}
		i = SkipWS(b, i+1)
		if i < len(b) && b[i] == closing {
			return i + 1, true
		}
		for {
			var ok bool
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				if i, ok = validString(b, i, strict); !ok {
					return i, false
				}
				if i = SkipWS(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = SkipWS(b, i+1)
			}
			if i, ok = value(b, i, depth, strict); !ok {
				return i, false
			}
			if i = SkipWS(b, i); i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				i = SkipWS(b, i+1)
			case closing:
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		return validNumber(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	}
	return i, false
}

func literal(b []byte, i int, lit string) (int, bool) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, false
	}
	return i + len(lit), true
}

// validString validates the string starting at b[i] == '"'; strict refuses
// a \u escape of a lone surrogate.
func validString(b []byte, i int, strict bool) (int, bool) {
	for i++; i < len(b); i++ {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(b)-i < 5 || !hex4(b[i+1:i+5]) {
					return i, false
				}
				if strict && surrogate(b[i+1:i+5]) {
					// Only a high half, with an escape of a low half
					// right after it, names a character.
					if !high(b[i+1:i+5]) || len(b)-i < 11 || b[i+5] != '\\' || b[i+6] != 'u' ||
						!hex4(b[i+7:i+11]) || !surrogate(b[i+7:i+11]) || high(b[i+7:i+11]) {
						return i, false
					}
					i += 6
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

// hex4 reports whether h (four bytes) is four hexadecimal digits.
func hex4(h []byte) bool {
	for _, c := range h[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// surrogate reports whether the four hexadecimal digits h are a UTF-16
// surrogate, D800 to DFFF: d, then 8 to f (all of which are >= '8').
func surrogate(h []byte) bool { return h[0]|0x20 == 'd' && h[1] >= '8' }

// high reports whether the surrogate h is a high (leading) one, D800 to
// DBFF: its second digit is 8, 9, a or b, below c.
func high(h []byte) bool { return h[1]|0x20 < 'c' }

// validNumber validates RFC 8259 §6's number starting at b[i].
func validNumber(b []byte, i int) (int, bool) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	default:
		return i, false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return i, false
		}
		for i++; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		}
	}
	return i, true
}
