package jsonscan

import (
	"encoding/json"
	"strings"
	"testing"
)

var validCases = []string{
	``, ` `, `{}`, `[]`, `""`, `0`, `-0`, `-`, `01`, `1.`, `1.5`, `1e5`, `1E+5`, `1e`, `1e+`, `.5`, `+1`, `-1.5e-3`,
	`true`, `false`, `null`, `tru`, `nul`, `truex`, `{"a":1}`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{,}`, `[1,]`, `[,1]`, `[1 2]`,
	`{"a":[1,{"b":null}],"c":"\u00e9\n\"\\\/"}`, `"\x"`, `"\u12"`, `"\u12G4"`, "\"a\tb\"", "\"\x7f\"", "\"\xff\"",
	` {"a" : [ true , false ] } `, `{"a":1}{`, `[1]]`, `"abc`, `{"a":1`, `[`, `{`, "\x00", `1 2`, `"\uD800"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`{"iss":"https://issuer.example","aud":["a","b"],"exp":1700003600,"scope":"notes:read notes:write"}`,
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range validCases {
		if got, want := Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%.60q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range validCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := Valid(b), json.Valid(b); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json says %v", b, got, want)
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
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			json.Valid(payload)
		}
	})
}
