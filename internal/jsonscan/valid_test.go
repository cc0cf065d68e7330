package jsonscan

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `1e5`, `1E+5`, `1e`, `1e+`, `.5`, `+1`, `-1.5e-3`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{,}`, `[1,]`, `[,1]`, `[1 2]`,
	`{"a":[1,{"b":null}],"c":"\u00e9\n\"\\\/"}`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"\x7f\"", "\"\xff\"",
	` {"a" : [ true , false ] } `, `{"a":1}{`, `[1]]`, `"abc`, `{"a":1`, `[`, `{`, "\x00", `1 2`, `"\uD800"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"iss":"https://issuer.example","aud":["a","b"],"exp":1700003600,"scope":"notes:read notes:write"}`,
	// Surrogate escapes: JSON's grammar takes them all, so Valid does;
	// ValidUTF8 refuses those that are not a high half and a low one.
	`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\uDBFF\uDFFF"`, `"a\ud800"`, `"a\udfff"`, `"\udc00\ud800"`, `"\ud800\ud800\udc00"`,
	`"\ud800\u0041"`, `"\ud800\\udc00"`, `"\ud800x\udc00"`, `"\ud800\udc0"`, `"\ud800\udcxx"`, `"\ud800\`, `"\ud7ff\ue000"`,
	`{"sub":"alice\ud800"}`, `{"a\udbff":1}`, `["admins\udbff"]`, `"\\ud800"`, `"\ufffd"`,
}

// loneSurrogate reports whether the valid JSON b holds a \u escape of a
// lone surrogate: read through unicode/utf16, not digit by digit.
func loneSurrogate(b []byte) bool {
	inString, high := false, rune(-1) // high: a high half waiting for its low one
	for i := 0; i < len(b); i++ {
		if !inString {
			inString = b[i] == '"'
			continue
		}
		r := rune(-1) // not a \u escape
		switch b[i] {
		case '"':
			inString = false
		case '\\':
			if i++; b[i] == 'u' {
				n, _ := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
				r, i = rune(n), i+4
			}
		}
		switch {
		case high >= 0:
			if utf16.DecodeRune(high, r) == unicode.ReplacementChar {
				return true
			}
			high = -1
		case utf16.IsSurrogate(r) && r >= 0xdc00:
			return true
		case utf16.IsSurrogate(r):
			high = r
		}
	}
	return false
}

// validUTF8 is ValidUTF8's specification: encoding/json's Valid, UTF-8, and
// no lone surrogate escape (the one answer ValidUTF8 gives that
// encoding/json cannot: it reads such an escape as U+FFFD).
func validUTF8(b []byte) bool { return json.Valid(b) && utf8.Valid(b) && !loneSurrogate(b) }

func TestValidUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{`{"sub":"alice"}`, true},
		{`{"sub":"\u00e9\ud83d\ude00"}`, true},
		{`"\uDBFF\uDFFF"`, true},
		{`"\ud7ff\ue000\ufffd"`, true},
		{`"\\ud800"`, true}, // a backslash, then the letters
		{`{"sub":"alice\ud800"}`, false},
		{`{"sub":"alice\udfff"}`, false},
		{`{"groups":["admins\udbff"]}`, false},
		{`{"tenant":"a\udc00"}`, false},
		{`{"x\ud800":1}`, false},
		{`"\udc00\ud800"`, false},
		{`"\ud800\ud800\udc00"`, false},
		{`"\ud800\u0041"`, false},
		{`"\ud800x\udc00"`, false},
		{"\"a\xffb\"", false},
		{`{"a":1`, false},
	} {
		if got := ValidUTF8([]byte(tc.in)); got != tc.want {
			t.Errorf("ValidUTF8(%s) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, s := range validCases {
		if got, want := ValidUTF8([]byte(s)), validUTF8([]byte(s)); got != want {
			t.Errorf("ValidUTF8(%.60q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.60q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

// FuzzValid: Valid answers as encoding/json.Valid, and ValidUTF8 as that
// with UTF-8 and no lone surrogate escape.
func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
		}
		if got, want := ValidUTF8(b), validUTF8(b); got != want {
			t.Fatalf("ValidUTF8(%q) = %v, want %v", b, got, want)
		}
	})
}

func BenchmarkValid(b *testing.B) {
	payload := []byte(`{"iss":"https://issuer.example","sub":"user-42","aud":"https://api.example","exp":1700003600,"iat":1700000000,"nbf":1700000000,"jti":"b7f9c2a0-1d4e-4c8a-9f1e-2a3b4c5d6e7f","client_id":"notes-web","scope":"notes:read notes:write"}`)
	b.Run("jsonscan", func(b *testing.B) {
		for b.Loop() {
			Valid(payload)
		}
	})
	b.Run("ValidUTF8", func(b *testing.B) {
		for b.Loop() {
			ValidUTF8(payload)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(payload)
		}
	})
}
