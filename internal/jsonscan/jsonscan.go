// Package jsonscan is the one strict JSON scanner of this module: the JOSE
// header, the claims and the discovery document are all read with it. Valid
// checks the grammar (as encoding/json.Valid, in one pass); ValidUTF8 checks
// it and that the text is UTF-8, no \u escape a lone surrogate (as a
// token's JSON must be); SkipWS, ScanString and SkipValue find the ends of
// tokens in text already known to be valid, in strings or byte slices
// alike, without copying; Members walks an object's members and refuses one
// that repeats a name; FoldUnique refuses a value with an object whose
// names repeat as encoding/json matches struct fields (without case).
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
	i := SkipWS(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	_, ok := walkObject(obj, i, nil, func(name []byte, at int) (int, bool) {
		end := SkipValue(obj, at)
		return end, end >= 0 && fn(name, obj[at:end])
	})
	return ok
}

// walkObject walks the object at obj[i] == '{' and returns the index just
// past it. Of each member it reads the name, unescaped, and refuses one
// that is not valid UTF-8 (encoding/json reads every invalid byte as
// U+FFFD, so two different byte strings can be one name to it), one that
// repeats an earlier name as compared through key (nil: byte for byte),
// and the 4097th; then value reads the member's value at index at and
// returns the index after it, or false to stop the walk.
func walkObject(obj []byte, i int, key func([]byte) []byte, value func(name []byte, at int) (int, bool)) (int, bool) {
	var names nameSet
	i = SkipWS(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return i + 1, true
	}
	for i < len(obj) {
		if obj[i] != '"' || names.n == maxMembers {
			return i, false
		}
		end, escaped := ScanString(obj, i)
		if end < 0 {
			return i, false
		}
		name := obj[i+1 : end-1]
		if !utf8.Valid(name) {
			return i, false
		}
		if escaped {
			s, ok := Unquote(obj[i:end])
			if !ok {
				return i, false
			}
			name = []byte(s)
		}
		compared := name
		if key != nil {
			compared = key(name)
		}
		if !names.add(compared) {
			return i, false
		}
		if i = SkipWS(obj, end); i >= len(obj) || obj[i] != ':' {
			return i, false
		}
		end, ok := value(name, SkipWS(obj, i+1))
		if !ok {
			return end, false
		}
		var done bool
		if i, done, ok = nextElement(obj, end, '}'); !ok || done {
			return i, ok
		}
	}
	return i, false
}

// nextElement reads what follows an element of an array or object that
// ends at end: a comma (it returns the index of the next element) or the
// closing byte (done, and the index past it); anything else is refused.
func nextElement(b []byte, end int, closing byte) (i int, done, ok bool) {
	if i = SkipWS(b, end); i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case ',':
		return SkipWS(b, i+1), false, true
	case closing:
		return i + 1, true, true
	}
	return i, false, false
}

// nameSet holds the member names of one object: compared pairwise while
// they are few, in a map past linearMembers (a metadata document, or a
// hostile header), so that the check stays linear.
type nameSet struct {
	first [linearMembers][]byte
	n     int
	more  map[string]struct{}
}

// add records name and reports whether it was new.
func (s *nameSet) add(name []byte) bool {
	if s.n < linearMembers {
		for _, k := range s.first[:s.n] {
			if bytes.Equal(k, name) {
				return false
			}
		}
		s.first[s.n] = name
		s.n++
		return true
	}
	if s.more == nil {
		s.more = make(map[string]struct{}, 2*linearMembers)
		for _, k := range s.first {
			s.more[string(k)] = struct{}{}
		}
	}
	if _, dup := s.more[string(name)]; dup {
		return false
	}
	s.more[string(name)] = struct{}{}
	s.n++
	return true
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
