package jsonscan

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestFoldUnique(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, true},
		{`"x"`, true},
		{` 42 `, true},
		{`[]`, true},
		{`{"id":"a","org":"b"}`, true},
		{`{"ID":"a","id":"b"}`, false},
		{`{"a":{"ID":"a","id":"b"}}`, false},
		{`[1,{"x":[{"Kind":1,"kind":2}]}]`, false},
		{`{"k\u0041":1,"Ka":2}`, false},         // after unescaping
		{"{\"sk\":1,\"\u017fK\":2}", false},     // ſ folds to s, as encoding/json has it
		{"{\"k\":1,\"\u212a\":2}", false},       // the Kelvin sign folds to k
		{`{"a":{"b":1,"b":2}}`, false},          // an exact repeat too
		{`{"a":[{"b":1},{"b":2}],"B":0}`, true}, // names repeat across objects, not within one
		{`{"a":1}x`, false},
		{`{"a":[1,2}`, false},
		// Not JSON: refused, as Valid refuses it (a second review found
		// these taken).
		{`[{"":}]`, false},
		{`{"a":}`, false},
		{`[1,,2]`, false},
		{`[,]`, false},
		{`{"a":nope}`, false},
		{`[tru]`, false},
		{`["\x"]`, false},
		{"{\"a\x01\":1}", false},
	} {
		if got := FoldUnique([]byte(tc.in)); got != tc.want {
			t.Errorf("FoldUnique(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
	// Past the names compared pairwise, the map finds the repeat too.
	var b strings.Builder
	b.WriteString("{")
	for i := range 2 * linearMembers {
		b.WriteString(`"n` + strings.Repeat("x", i) + `":0,`)
	}
	if b.WriteString(`"N":0}`); FoldUnique([]byte(b.String())) {
		t.Error("a folded repeat past the first names was missed")
	}
}

// Unique is FoldUnique without the folding: names that differ only in
// case are two, an exact repeat at any depth is refused.
func TestUnique(t *testing.T) {
	for in, want := range map[string]bool{
		`{"ID":"a","id":"b"}`:            true,
		"{\"k\":1,\"\u212a\":2}":         true,
		`{"role":"user","role":"admin"}`: false,
		`{"a":{"b":1,"b":2}}`:            false,
		`[1,{"x":[{"k":1,"k":2}]}]`:      false,
		`{"k\u0041":1,"kA":2}`:           false, // after unescaping
		`{"a":[{"b":1},{"b":2}],"b":0}`:  true,
		`{"a":}`:                         false,
	} {
		if got := Unique([]byte(in)); got != want {
			t.Errorf("Unique(%s) = %v, want %v", in, got, want)
		}
	}
}

// TestFoldIsEncodingJSONs: two names fold alike exactly when encoding/json
// decodes one into a struct field named the other.
func TestFoldIsEncodingJSONs(t *testing.T) {
	names := []string{"id", "ID", "Id", "iD", "sk", "SK", "\u017fk", "s\u212a", "k", "K", "\u212a", "é", "É", "ß", "ẞ", "σ", "Σ", "ς", "x"}
	for _, a := range names {
		typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[int](), Tag: reflect.StructTag(`json:"` + a + `"`)}})
		for _, b := range names {
			v := reflect.New(typ)
			doc, _ := json.Marshal(map[string]int{b: 1})
			if err := json.Unmarshal(doc, v.Interface()); err != nil {
				t.Fatal(err)
			}
			matched := v.Elem().Field(0).Int() == 1
			if same := string(fold([]byte(a))) == string(fold([]byte(b))); same != matched {
				t.Errorf("%q and %q: fold says same %v, encoding/json matched %v", a, b, same, matched)
			}
		}
	}
}

// BenchmarkFoldUniqueNested: a claim of nested objects, as large as a
// 16 KiB token can hold, is read once: its cost grows with its length,
// not with depth times length.
func BenchmarkFoldUniqueNested(b *testing.B) {
	for _, depth := range []int{100, 2400} {
		v := []byte(strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth))
		b.Run(strconv.Itoa(depth), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				if !FoldUnique(v) {
					b.Fatal("refused")
				}
			}
		})
	}
}

// FuzzFoldUnique: FoldUnique accepts only what Valid accepts, and for an
// object (Members' view) it refuses whatever Members refuses.
func FuzzFoldUnique(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"ID":"a","id":"b"}`, `[{"":}]`, `[1,,2]`, `{"a":[{"b":{"c":null}}]}`, `"x"`, `{"k":1,"\u212a":2}`, `{"k\ud800":1,"k\ufffd":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if FoldUnique(b) && !Valid(b) {
			t.Fatalf("FoldUnique accepted %q, which is not JSON", b)
		}
		if Valid(b) && FoldUnique(b) && SkipWS(b, 0) < len(b) && b[SkipWS(b, 0)] == '{' && !Members(b, func(_, _ []byte) bool { return true }) {
			t.Fatalf("FoldUnique accepted %q, whose members Members refuses", b)
		}
	})
}
