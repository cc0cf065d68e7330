// Package jsonscan is the one strict JSON scanner of this module: the JOSE
// header, the claims and the discovery document are all read with it. Valid
// checks the grammar (as encoding/json.Valid, in one pass); SkipWS,
// ScanString and SkipValue find the ends of tokens in text already known to
// be valid, in strings or byte slices alike, without copying; Members walks
// an object's members and refuses one that repeats a name; FoldUnique
// refuses a value with an object whose names repeat as encoding/json
// matches struct fields (without case).
//
// Refusing repeated names is our choice, for defence in depth: RFC 7515 §4
// lets a JOSE parser either refuse such a header or take the last member,
// and RFC 8259 §4 leaves duplicate names' meaning open. A header with two
// "alg" members is read one way by one parser and another way by the next,
// which is how signature checks get bypassed, so we refuse it.
//
// Adapter modules compile against this package (mcpguard), and a user may
// build one against a later core than the one it was released with: change
// its exported names only by addition (see CONTRIBUTING.md).
package jsonscan

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// maxMembers bounds the members of one object: more is refused. Discovery
// documents have dozens, JOSE headers a handful.
const maxMembers = 4096

// linearMembers is how many names are compared pairwise; past that (a large
// metadata document, or a hostile header) a map keeps the check linear.
const linearMembers = 32

// HasDuplicateKeys reports whether the JSON object obj has two top-level
// members with the same name, compared after unescaping. obj must already
// be known to be valid JSON (for example, decoded without error); on
// anything else the answer is true, so a caller refuses it.
func HasDuplicateKeys(obj []byte) bool {
	return !Members(obj, func(_, _ []byte) bool { return true })
}

// Members calls fn with the name (unescaped) and raw value of each
// top-level member of the JSON object obj, in order, until fn returns
// false. It returns false when obj is not an object it can walk, repeats a
// member name, has a name that is not valid UTF-8, has more than 4096
// members, or fn stopped it. obj must already
// be valid JSON (json.Valid); Members checks structure, not grammar.
func Members(obj []byte, fn func(name, value []byte) bool) bool {
	var keys [linearMembers][]byte
	var seen map[string]struct{}
	n := 0
	i := SkipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = SkipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		if obj[i] != '"' || n == maxMembers {
			return false
		}
		end, escaped := ScanString(obj, i)
		if end < 0 {
			return false
		}
		key := obj[i+1 : end-1]
		if !utf8.Valid(key) {
			// encoding/json reads every invalid byte as U+FFFD, so two
			// different byte strings can be one name to it: refuse rather
			// than disagree about which members repeat.
			return false
		}
		if escaped {
			s, ok := Unquote(obj[i:end])
			if !ok {
				return false
			}
			key = []byte(s)
		}
		if n < linearMembers {
			for _, k := range keys[:n] {
				if bytes.Equal(k, key) {
					return false
				}
			}
			keys[n] = key
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*linearMembers)
				for _, k := range keys {
					seen[string(k)] = struct{}{}
				}
			}
			if _, dup := seen[string(key)]; dup {
				return false
			}
			seen[string(key)] = struct{}{}
		}
		n++
		i = SkipWS(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		start := SkipWS(obj, i+1)
		if i = SkipValue(obj, start); i < 0 {
			return false
		}
		if !fn(key, obj[start:i]) {
			return false
		}
		i = SkipWS(obj, i)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case ',':
			i = SkipWS(obj, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

// String decodes a raw JSON value that must be a string. Strings without
// escapes cost one allocation (the result); others go through encoding/json.
func String(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return "", false
	}
	inner := value[1 : len(value)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	return Unquote(value)
}

// Text is what the scanner reads: a string (the claims' zero-copy payload)
// or a byte slice.
type Text interface{ ~string | ~[]byte }

// SkipWS returns the index of the first byte at or after i that is not JSON
// white space.
func SkipWS[T Text](b T, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// ScanString returns the index just past the closing quote of the string
// starting at b[i] == '"' (-1 if it has none), and whether it holds a
// backslash escape (\uXXXX digits are plain bytes).
func ScanString[T Text](b T, i int) (end int, escaped bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// SkipValue returns the index just past the value starting at b[i], or -1
// if it does not end. Nesting is counted, not recursed into.
func SkipValue[T Text](b T, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := ScanString(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := ScanString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// Unquote decodes a quoted JSON string that holds escapes (the rare path:
// encoding/json does the decoding).
func Unquote[T Text](quoted T) (string, bool) {
	var s string
	if json.Unmarshal([]byte(quoted), &s) != nil {
		return "", false
	}
	return s, true
}
