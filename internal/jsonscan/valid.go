package jsonscan

// maxDepth is encoding/json's nesting limit; Valid agrees with it.
const maxDepth = 10000

// Valid reports whether b is one JSON value, surrounded by optional white
// space: exactly what encoding/json.Valid answers, found in one tight pass
// rather than through its per-byte state machine. Token payloads are
// validated on every request, so the difference is a measurable share of
// verification. Like encoding/json, it does not check UTF-8.
func Valid(b []byte) bool {
	i, ok := value(b, SkipWS(b, 0), 0)
	return ok && SkipWS(b, i) == len(b)
}

// value validates the value starting at b[i] and returns the index after it.
func value(b []byte, i, depth int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '"':
		return validString(b, i)
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
				if i, ok = validString(b, i); !ok {
					return i, false
				}
				if i = SkipWS(b, i); i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = SkipWS(b, i+1)
			}
			if i, ok = value(b, i, depth); !ok {
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

// validString validates the string starting at b[i] == '"'.
func validString(b []byte, i int) (int, bool) {
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
				if len(b)-i < 5 {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

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
