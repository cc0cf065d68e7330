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
// to encoding/json beside a reader that compares names exactly. v must
// already be valid JSON; on anything else the answer is false.
func FoldUnique(v []byte) bool {
	i := SkipWS(v, 0)
	end, ok := foldUnique(v, i)
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
		end := SkipValue(v, i)
		if end < 0 {
			return i, false
		}
		var folded map[string]struct{}
		var names [linearMembers][]byte
		n := 0
		ok := Members(v[i:end], func(name, value []byte) bool {
			f := fold(name)
			if n < linearMembers {
				for _, g := range names[:n] {
					if string(g) == string(f) {
						return false
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
					return false
				}
				folded[string(f)] = struct{}{}
			}
			n++
			_, ok := foldUnique(value, 0)
			return ok
		})
		return end, ok
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
			j = SkipWS(v, end)
			if j >= len(v) {
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
		end := SkipValue(v, i)
		return end, end >= 0
	}
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
