package jsonscan

import (
	"unicode"
	"unicode/utf8"
)

// FoldUnique reports whether the JSON value v holds no object, at any
// depth, whose member names repeat, compared as encoding/json matches
// struct fields: case folded (its foldName), after unescaping. Decoding
// {"ID":"a","id":"b"} into a struct with field ID reads "b", where
// Members (and so a rule that reads a nested claim with it) sees two
// names and takes "a": a value that is not FoldUnique must not be given
// to encoding/json for a struct beside a reader that compares names
// exactly. Like Members it refuses a name that is not valid UTF-8 and an
// object of more than 4096 members. It reads v once, in time linear in
// its length. v must already be valid JSON; on anything else the answer
// is false.
func FoldUnique(v []byte) bool {
	end, ok := foldUnique(v, SkipWS(v, 0))
	return ok && SkipWS(v, end) == len(v)
}

// foldUnique checks the value at v[i] and returns the index after it.
// Its recursion is bounded by the nesting Valid allows.
func foldUnique(v []byte, i int) (int, bool) {
	if i >= len(v) {
		return i, false
	}
	switch v[i] {
	case '{':
		return foldObject(v, i)
	case '[':
		j := SkipWS(v, i+1)
		if j < len(v) && v[j] == ']' {
			return j + 1, true
		}
		for j < len(v) {
			end, ok := foldUnique(v, j)
			if !ok {
				return end, false
			}
			if j = SkipWS(v, end); j >= len(v) {
				return j, false
			}
			switch v[j] {
			case ',':
				j = SkipWS(v, j+1)
			case ']':
				return j + 1, true
			default:
				return j, false
			}
		}
		return j, false
	default:
		// SkipValue finds a scalar's end without judging it; the value
		// is checked here so that FoldUnique refuses what Valid would.
		end := SkipValue(v, i)
		return end, end > i && Valid(v[i:end])
	}
}

// foldObject checks the object at v[i] == '{', member by member: each
// name folded and compared with the others (pairwise for the first few,
// then in a map, as Members does), each value checked in the same pass.
func foldObject(v []byte, i int) (int, bool) {
	var names [linearMembers][]byte
	var folded map[string]struct{}
	n := 0
	j := SkipWS(v, i+1)
	if j < len(v) && v[j] == '}' {
		return j + 1, true
	}
	for j < len(v) {
		if v[j] != '"' || n == maxMembers {
			return j, false
		}
		end, escaped := ScanString(v, j)
		if end < 0 || !Valid(v[j:end]) {
			return j, false
		}
		name := v[j+1 : end-1]
		if !utf8.Valid(name) {
			return j, false
		}
		if escaped {
			s, ok := Unquote(v[j:end])
			if !ok {
				return j, false
			}
			name = []byte(s)
		}
		f := fold(name)
		if n < linearMembers {
			for _, g := range names[:n] {
				if string(g) == string(f) {
					return j, false
				}
			}
			names[n] = f
		} else {
			if folded == nil {
				folded = make(map[string]struct{}, 2*linearMembers)
				for _, g := range names {
					folded[string(g)] = struct{}{}
				}
			}
			if _, dup := folded[string(f)]; dup {
				return j, false
			}
			folded[string(f)] = struct{}{}
		}
		n++
		if j = SkipWS(v, end); j >= len(v) || v[j] != ':' {
			return j, false
		}
		end, ok := foldUnique(v, SkipWS(v, j+1))
		if !ok {
			return end, false
		}
		if j = SkipWS(v, end); j >= len(v) {
			return j, false
		}
		switch v[j] {
		case ',':
			j = SkipWS(v, j+1)
		case '}':
			return j + 1, true
		default:
			return j, false
		}
	}
	return j, false
}

// fold is encoding/json's foldName: ASCII letters in upper case, every
// other rune the smallest of its Unicode fold set (so 'K', 'k' and the
// Kelvin sign are one).
func fold(name []byte) []byte {
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return out
}
