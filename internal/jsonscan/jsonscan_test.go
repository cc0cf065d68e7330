package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestHasDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{}`, false},
		{` { } `, false},
		{`{"alg":"RS256","kid":"k","typ":"JWT"}`, false},
		{`{"alg":"RS256","alg":"none"}`, true},
		{`{"alg":"RS256","\u0061lg":"none"}`, true},
		{`{"a":{"b":1,"b":2}}`, false}, // nested duplicates are the value's business
		{`{"a":[1,{"x":"}"}],"b":"\"","c":true,"d":null,"e":-1.5e3}`, false},
		{`{"a":1 , "b" : 2 ,"a":3}`, true},
		{`{"k\"":1,"k\"":2}`, true},
		{`[]`, true},
		{`"x"`, true},
		{`{"a":1,}`, true},
		{`{"a" 1}`, true},
		{`{"a":"unterminated}`, true},
		{"{" + strings.Repeat(`"k":1,`, 0) + `"z":1}`, false},
		{"{\"\x8b\":0,\"\x80\":0}", true}, // both U+FFFD to encoding/json: refused
	} {
		if got := HasDuplicateKeys([]byte(tc.in)); got != tc.want {
			t.Errorf("HasDuplicateKeys(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
	var many strings.Builder
	many.WriteString("{")
	for i := range maxMembers + 1 {
		if i > 0 {
			many.WriteString(",")
		}
		b, _ := json.Marshal(strings.Repeat("k", i+1))
		many.Write(b)
		many.WriteString(":1")
	}
	many.WriteString("}")
	if !HasDuplicateKeys([]byte(many.String())) {
		t.Error("an object with too many members must be refused")
	}
}

func FuzzHasDuplicateKeys(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1,"a":2}`, `{"a":{"a":1},"b":[1,"]"]}`, `{"\u0061":1,"a":2}`, `{"\ud800":1,"\udfff":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m map[string]json.RawMessage
		if json.Unmarshal(b, &m) != nil {
			return
		}
		// Property: on a valid object, no duplicates reported means the
		// member count equals the map size (and never panics).
		var raw json.RawMessage = b
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		// json.Unmarshal takes "null" into a map too; only an object is
		// this property's business (HasDuplicateKeys refuses the rest).
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return
		}
		count := 0
		for dec.More() {
			if _, err := dec.Token(); err != nil {
				return
			}
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				return
			}
			count++
		}
		dup := HasDuplicateKeys(b)
		if !utf8.Valid(b) {
			return // names with invalid UTF-8 are refused outright (see Members)
		}
		if !dup && count != len(m) {
			t.Fatalf("missed a duplicate in %s", b)
		}
		if dup && count == len(m) && count <= maxMembers {
			t.Fatalf("false duplicate in %s", b)
		}
	})
}

// The scanner reads strings and byte slices alike, and finds the same ends.
func TestScannerOnStringsAndBytes(t *testing.T) {
	for _, tc := range []struct {
		in      string
		at, end int
		escaped bool
	}{
		{`"abc",`, 0, 5, false},
		{`"a\"b"]`, 0, 6, true},
		{`"\u00e9"`, 0, 8, true},
		{`{"a":[1,{"b":"}"}]} `, 0, 19, false},
		{`[1, "]", [2]]`, 0, 13, false},
		{`  true,`, 2, 6, false},
		{`-1.5e3}`, 0, 6, false},
		{`"open`, 0, -1, false},
		{`[1, 2`, 0, -1, false},
	} {
		if got := SkipValue(tc.in, tc.at); got != tc.end {
			t.Errorf("SkipValue(%q) = %d, want %d", tc.in, got, tc.end)
		}
		if got := SkipValue([]byte(tc.in), tc.at); got != tc.end {
			t.Errorf("SkipValue([]byte(%q)) = %d, want %d", tc.in, got, tc.end)
		}
		if tc.in[tc.at] == '"' {
			end, esc := ScanString(tc.in, tc.at)
			if end != tc.end || esc != tc.escaped {
				t.Errorf("ScanString(%q) = %d, %v", tc.in, end, esc)
			}
		}
	}
	if i := SkipWS(" \t\r\n x", 0); i != 5 {
		t.Errorf("SkipWS = %d", i)
	}
	if s, ok := Unquote(`"a\nb"`); !ok || s != "a\nb" {
		t.Errorf("Unquote = %q %v", s, ok)
	}
	if _, ok := Unquote(`"\x"`); ok {
		t.Error("Unquote accepted a bad escape")
	}
}
