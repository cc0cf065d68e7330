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
// object of more than 4096 members, and it refuses what Valid refuses. It
// reads v twice, in time linear in its length.
func FoldUnique(v []byte) bool { return unique(v, fold) }

// Unique is FoldUnique with names compared exactly, as encoding/json
// matches map keys: decoding {"role":"user","role":"admin"} into a map
// (or an interface) reads "admin", where Members, and so a rule, refuses
// the repeat.
func Unique(v []byte) bool { return unique(v, func(name []byte) []byte { return name }) }

func unique(v []byte, key func([]byte) []byte) bool {
	if !Valid(v) {
		return false
	}
	end, ok := uniqueAt(v, SkipWS(v, 0), key)
	return ok && SkipWS(v, end) == len(v)
}

// uniqueAt checks the value at v[i] and returns the index after it.
// Its recursion is bounded by the nesting Valid allows.
func uniqueAt(v []byte, i int, key func([]byte) []byte) (int, bool) {
	if i >= len(v) {
		return i, false
	}
	switch v[i] {
	case '{':
		return walkObject(v, i, key, func(_ []byte, at int) (int, bool) { return uniqueAt(v, at, key) })
	case '[':
		j := SkipWS(v, i+1)
		if j < len(v) && v[j] == ']' {
			return j + 1, true
		}
		for j < len(v) {
			end, ok := uniqueAt(v, j, key)
			if !ok {
				return end, false
			}
			var done bool
			if j, done, ok = nextElement(v, end, ']'); !ok || done {
				return j, ok
			}
		}
		return j, false
	default:
		end := SkipValue(v, i)
		return end, end > i
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
