package claims

import (
	"errors"
	"slices"
	"testing"
)

func TestConfirmation(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    *Confirmation
		bad     bool
	}{
		{`{"sub":"a"}`, nil, false},
		{`{"cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}`, &Confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}, false},
		{`{"cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}`, &Confirmation{X5TS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}, false},
		{`{"cnf":{"jkt":"a","x5t#S256":"b","jwk":{"kty":"EC"},"kid":"k"}}`, &Confirmation{JKT: "a", X5TS256: "b", Others: []string{"jwk", "kid"}}, false},
		{`{"cnf":{}}`, &Confirmation{}, false},
		{`{"cnf":{"\u006akt":"a"}}`, &Confirmation{JKT: "a"}, false}, // the name as JSON reads it
		{`{"cnf":"a"}`, nil, true},
		{`{"cnf":null}`, nil, true},
		{`{"cnf":{"jkt":1}}`, nil, true},
		{`{"cnf":{"jkt":""}}`, nil, true},
		{`{"cnf":{"jkt":["a"]}}`, nil, true},
		{`{"cnf":{"jkt":"a","jkt":"b"}}`, nil, true}, // which would a verifier check?
		{`{"cnf":{"x5t#S256":false}}`, nil, true},
	} {
		var c Claims
		err := c.UnmarshalJSON([]byte(tc.payload))
		if tc.bad {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: err = %v, want ErrMalformed", tc.payload, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.payload, err)
		}
		got := c.Confirmation
		if (got == nil) != (tc.want == nil) || got != nil && (got.JKT != tc.want.JKT || got.X5TS256 != tc.want.X5TS256 || !slices.Equal(got.Others, tc.want.Others)) {
			t.Errorf("%s: Confirmation = %+v, want %+v", tc.payload, got, tc.want)
		}
		if got != nil {
			if _, ok := c.Raw("cnf"); !ok {
				t.Errorf("%s: Raw(cnf) lost", tc.payload)
			}
		}
	}
}
