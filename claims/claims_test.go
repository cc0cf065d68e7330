package claims

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/claimsdecode"
)

func unix(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

type acceptCase struct {
	name  string
	input string
	check func(t *testing.T, c *Claims)
}

func wantStrings(t *testing.T, field string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", field, got, want)
	}
}

func wantTime(t *testing.T, field string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) || got.IsZero() != want.IsZero() {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
}

const typicalPayload = `{"iss":"https://issuer.example","sub":"user-42","aud":"https://api.example",` +
	`"exp":1700003600,"iat":1700000000,"nbf":1700000000,"jti":"b7f9c2a0-1d4e-4c8a-9f1e-2a3b4c5d6e7f",` +
	`"client_id":"notes-web","scope":"notes:read notes:write"}`

var acceptCases = []acceptCase{
	// The contract: NumericDates are JSON numbers that fit in int64 seconds.
	{"negative dates fit in int64", `{"exp":-1,"iat":-5,"nbf":-0.5,"auth_time":-1e3}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, unix(-1))
		wantTime(t, "IssuedAt", c.IssuedAt, unix(-5))
		wantTime(t, "NotBefore", c.NotBefore, time.Unix(0, -5e8).UTC())
		wantTime(t, "AuthTime", c.AuthTime, unix(-1000))
	}},
	{"dates after year 9999", `{"exp":253402300800,"nbf":2.534023008e11,"iat":1000000000000000}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, unix(253402300800))
		wantTime(t, "NotBefore", c.NotBefore, unix(253402300800))
		wantTime(t, "IssuedAt", c.IssuedAt, unix(1000000000000000))
	}},
	{"int64 max is clamped to the latest representable time, never wrapped", `{"exp":9223372036854775807,"nbf":-9223372036854775808}`, func(t *testing.T, c *Claims) {
		if !c.ExpiresAt.After(time.Now().AddDate(1_000_000_000, 0, 0)) || !c.ExpiresAt.Add(time.Hour).After(c.ExpiresAt) {
			t.Errorf("ExpiresAt = %v: wrapped or too close to overflow", c.ExpiresAt)
		}
		if !c.NotBefore.Before(time.Unix(0, 0)) {
			t.Errorf("NotBefore = %v, want far past", c.NotBefore)
		}
	}},
	{"typical RFC 9068 payload", typicalPayload, func(t *testing.T, c *Claims) {
		if c.Issuer != "https://issuer.example" || c.Subject != "user-42" || c.ID != "b7f9c2a0-1d4e-4c8a-9f1e-2a3b4c5d6e7f" || c.ClientID != "notes-web" {
			t.Errorf("string claims wrong: %+v", c)
		}
		wantStrings(t, "Audience", c.Audience, []string{"https://api.example"})
		wantTime(t, "ExpiresAt", c.ExpiresAt, unix(1700003600))
		wantTime(t, "IssuedAt", c.IssuedAt, unix(1700000000))
		wantTime(t, "NotBefore", c.NotBefore, unix(1700000000))
		wantTime(t, "AuthTime", c.AuthTime, time.Time{})
		wantStrings(t, "Scopes", c.Scopes, []string{"notes:read", "notes:write"})
		if c.AMR != nil || c.Groups != nil || c.Roles != nil || c.Entitlements != nil || c.ACR != "" {
			t.Errorf("absent claims not zero: %+v", c)
		}
	}},
	{"empty object", `{}`, func(t *testing.T, c *Claims) {
		if !reflect.DeepEqual(*c, Claims{}) {
			t.Errorf("got %+v, want zero", c)
		}
	}},
	{"whitespace everywhere", " \t\n{ \"iss\" : \"a\" ,\r\n \"aud\" : [ \"x\" , \"y\" ] } \n", func(t *testing.T, c *Claims) {
		if c.Issuer != "a" {
			t.Errorf("Issuer = %q", c.Issuer)
		}
		wantStrings(t, "Audience", c.Audience, []string{"x", "y"})
	}},
	{"aud string", `{"aud":"a"}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Audience", c.Audience, []string{"a"})
	}},
	{"aud array", `{"aud":["a","b"]}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Audience", c.Audience, []string{"a", "b"})
	}},
	{"aud empty array", `{"aud":[]}`, func(t *testing.T, c *Claims) {
		if c.Audience == nil || len(c.Audience) != 0 {
			t.Errorf("Audience = %#v, want empty non-nil", c.Audience)
		}
		if c.HasAudience("") {
			t.Error("HasAudience(\"\") on empty aud")
		}
	}},
	{"scope and scp union, dedup, scope first", `{"scp":["c","a","d",""],"scope":"a  b a c"}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"a", "b", "c", "d"})
	}},
	{"scp string", `{"scp":" x  y x "}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"x", "y"})
	}},
	{"scope as an array (Duende, Spring Authorization Server)", `{"scope":["api1","openid","api1"],"scp":"x"}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"api1", "openid", "x"})
	}},
	{"scope array element kept verbatim", `{"scope":["a b"]}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"a b"})
	}},
	{"scp array element kept verbatim", `{"scp":["a b"]}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"a b"})
		if c.Scopes.Has("a") {
			t.Error(`"a b" must not grant "a"`)
		}
	}},
	{"empty scope", `{"scope":"   ","scp":["",""]}`, func(t *testing.T, c *Claims) {
		if c.Scopes != nil {
			t.Errorf("Scopes = %#v, want nil", c.Scopes)
		}
	}},
	{"many scopes use the map path", `{"scope":"` + strings.Repeat("s1 s2 s3 s4 s5 s6 s7 s8 s9 s10 ", 3) + `","scp":["s11","s1"]}`, func(t *testing.T, c *Claims) {
		wantStrings(t, "Scopes", c.Scopes, []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11"})
	}},
	{"escaped strings", `{"iss":"a\"b\\c\u00e9\ud83d\ude00","scope":"r\u0020w","aud":["\/x"]}`, func(t *testing.T, c *Claims) {
		if c.Issuer != "a\"b\\cé😀" {
			t.Errorf("Issuer = %q", c.Issuer)
		}
		wantStrings(t, "Scopes", c.Scopes, []string{"r", "w"})
		wantStrings(t, "Audience", c.Audience, []string{"/x"})
	}},
	{"escaped known key", `{"\u0069ss":"x"}`, func(t *testing.T, c *Claims) {
		if c.Issuer != "x" {
			t.Errorf("Issuer = %q", c.Issuer)
		}
	}},
	// A fraction is kept, as far as a float64 holds it: .999 of 1.7e9 to
	// 72 ns.
	{"a negative fraction is kept too", `{"exp":-1.25}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, time.Unix(-1, -25e7).UTC())
	}},
	{"fractions kept", `{"exp":1700000000.999,"nbf":0.5,"iat":1e0}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, time.Unix(1700000000, 999000072).UTC())
		wantTime(t, "NotBefore", c.NotBefore, time.Unix(0, 5e8).UTC())
		wantTime(t, "IssuedAt", c.IssuedAt, unix(1))
	}},
	{"exponent forms", `{"exp":1.7e9,"nbf":17E8,"iat":1.7e+9,"auth_time":17000000000e-1}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, unix(1700000000))
		wantTime(t, "NotBefore", c.NotBefore, unix(1700000000))
		wantTime(t, "IssuedAt", c.IssuedAt, unix(1700000000))
		wantTime(t, "AuthTime", c.AuthTime, unix(1700000000))
	}},
	{"zero and negative zero", `{"exp":0,"nbf":-0,"iat":-0.0}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, unix(0))
		wantTime(t, "NotBefore", c.NotBefore, unix(0))
		wantTime(t, "IssuedAt", c.IssuedAt, unix(0))
	}},
	{"largest NumericDate", `{"exp":253402300799,"nbf":253402300799.9}`, func(t *testing.T, c *Claims) {
		wantTime(t, "ExpiresAt", c.ExpiresAt, time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))
		wantTime(t, "NotBefore", c.NotBefore, time.Date(9999, 12, 31, 23, 59, 59, 899993896, time.UTC))
	}},
	{"authentication and authorization claims", `{"auth_time":1699999000,"acr":"urn:mace:incommon:iap:silver","amr":["pwd","mfa"],` +
		`"groups":"admins","roles":["editor","viewer"],"entitlements":[]}`, func(t *testing.T, c *Claims) {
		wantTime(t, "AuthTime", c.AuthTime, unix(1699999000))
		if c.ACR != "urn:mace:incommon:iap:silver" {
			t.Errorf("ACR = %q", c.ACR)
		}
		wantStrings(t, "AMR", c.AMR, []string{"pwd", "mfa"})
		wantStrings(t, "Groups", c.Groups, []string{"admins"})
		wantStrings(t, "Roles", c.Roles, []string{"editor", "viewer"})
		if c.Entitlements == nil || len(c.Entitlements) != 0 {
			t.Errorf("Entitlements = %#v, want empty non-nil", c.Entitlements)
		}
	}},
	{"empty strings are values", `{"iss":"","sub":""}`, func(t *testing.T, c *Claims) {
		if c.Issuer != "" || c.Subject != "" {
			t.Errorf("%+v", c)
		}
	}},
	{"custom claims of every type kept raw", `{"tenant":"t1","n":1.5e3,"b":true,"z":null,"o":{"k":["}",{"x":"]"}]},"a":[1,"\"]"],"EXP":"not exp"}`,
		func(t *testing.T, c *Claims) {
			for name, want := range map[string]string{
				"tenant": `"t1"`, "n": `1.5e3`, "b": `true`, "z": `null`,
				"o": `{"k":["}",{"x":"]"}]}`, "a": `[1,"\"]"]`, "EXP": `"not exp"`,
			} {
				got, ok := c.Raw(name)
				if !ok || string(got) != want {
					t.Errorf("Raw(%q) = %s, %v; want %s", name, got, ok, want)
				}
			}
			if !c.ExpiresAt.IsZero() {
				t.Error(`"EXP" must not set ExpiresAt`)
			}
		}},
	{"escaped custom key", `{"ten\u0061nt":"t1"}`, func(t *testing.T, c *Claims) {
		if got, ok := c.Raw("tenant"); !ok || string(got) != `"t1"` {
			t.Errorf("Raw(tenant) = %s, %v", got, ok)
		}
	}},
	{"surrogate pair escapes", `{"sub":"\ud83d\ude00","tenant":"\uD83D\uDE00"}`, func(t *testing.T, c *Claims) {
		if c.Subject != "\U0001F600" {
			t.Errorf("Subject = %q", c.Subject)
		}
		wantStrings(t, "tenant", c.Strings("tenant"), []string{"\U0001F600"})
	}},
	{"U+FFFD as such", `{"sub":"alice\ufffd","tenant":"a` + "\ufffd" + `"}`, func(t *testing.T, c *Claims) {
		if c.Subject != "alice\ufffd" {
			t.Errorf("Subject = %q", c.Subject)
		}
		wantStrings(t, "tenant", c.Strings("tenant"), []string{"a\ufffd"})
	}},
	{"deeply nested custom claim", `{"deep":` + strings.Repeat("[", 500) + strings.Repeat("]", 500) + `,"iss":"i"}`, func(t *testing.T, c *Claims) {
		if c.Issuer != "i" {
			t.Errorf("Issuer = %q", c.Issuer)
		}
	}},
}

var refuseCases = []struct {
	name  string
	input string
}{
	{"invalid JSON", `{"iss":"a"`},
	{"trailing garbage", `{"iss":"a"} x`},
	{"two objects", `{}{}`},
	{"empty input", ``},
	{"top-level array", `[{"iss":"a"}]`},
	{"top-level string", `"iss"`},
	{"top-level null", `null`},
	{"top-level number", `1`},
	{"invalid UTF-8 in value", "{\"iss\":\"a\xffb\"}"},
	{"invalid UTF-8 in custom claim", "{\"x\":\"\xc3\"}"},
	// A \u escape of a lone surrogate is invalid UTF-8 written in ASCII:
	// encoding/json reads it as U+FFFD, so "alice\ud800", "alice\udfff"
	// and "alice\ufffd", three subjects to the issuer, would be one.
	{"lone high surrogate escape in sub", `{"sub":"alice\ud800"}`},
	{"lone low surrogate escape in sub", `{"sub":"alice\udfff"}`},
	{"lone surrogate escape in groups", `{"groups":["admins\udbff"]}`},
	{"lone surrogate escape in aud", `{"aud":"https://api.example\uDC00"}`},
	{"lone surrogate escape in custom claim", `{"tenant":"a\udc00"}`},
	{"lone surrogate escape in a nested custom claim", `{"realm_access":{"roles":["admin\ud800"]}}`},
	{"lone surrogate escape in a name", `{"tenant\ud800":"a"}`},
	{"surrogate escapes in the wrong order", `{"sub":"\ude00\ud83d"}`},
	{"high surrogate escape before another escape", `{"sub":"\ud83d\u0041"}`},
	{"high surrogate escape before a plain low one", `{"sub":"\ud83d` + "\xed\xb8\x80" + `"}`},
	{"duplicate known key", `{"exp":1,"exp":2}`},
	{"duplicate known key, escaped", `{"exp":1,"\u0065xp":2}`},
	{"duplicate known key, both escaped", `{"\u0073ub":"a","su\u0062":"b"}`},
	{"duplicate custom key", `{"x":1,"y":2,"x":3}`},
	{"duplicate custom key, escaped", `{"tenant":"a","\u0074enant":"b"}`},
	{"duplicate scope", `{"scope":"a","scope":"b"}`},
	{"exp string", `{"exp":"1700000000"}`},
	{"exp bool", `{"exp":true}`},
	{"exp null", `{"exp":null}`},
	{"exp object", `{"exp":{}}`},
	{"exp array", `{"exp":[1]}`},
	{"exp 1e20", `{"exp":1e20}`},
	{"exp 1e400", `{"exp":1e400}`},
	{"exp 2^63", `{"exp":9223372036854775808}`},
	{"exp huge integer", `{"exp":123456789012345678901234567890}`},
	{"exp huge negative integer", `{"exp":-123456789012345678901234567890}`},
	{"nbf string", `{"nbf":"0"}`},
	{"auth_time bool", `{"auth_time":false}`},
	{"iss number", `{"iss":1}`},
	{"iss null", `{"iss":null}`},
	{"iss array", `{"iss":["a"]}`},
	{"sub object", `{"sub":{}}`},
	{"jti number", `{"jti":5}`},
	{"client_id bool", `{"client_id":true}`},
	{"acr array", `{"acr":["a"]}`},
	{"aud null", `{"aud":null}`},
	{"aud number", `{"aud":1}`},
	{"aud object", `{"aud":{"a":"b"}}`},
	{"aud [1]", `{"aud":[1]}`},
	{"aud array with null", `{"aud":["a",null]}`},
	{"aud nested array", `{"aud":[["a"]]}`},
	{"scope array with a number", `{"scope":["a",2]}`},
	{"scope array with null", `{"scope":["a",null]}`},
	{"scope null", `{"scope":null}`},
	{"scope number", `{"scope":1}`},
	{"scp number", `{"scp":1}`},
	{"scp null", `{"scp":null}`},
	{"scp array with number", `{"scp":["a",2]}`},
	{"scp object", `{"scp":{}}`},
	{"amr string", `{"amr":"pwd"}`},
	{"amr [1]", `{"amr":[1]}`},
	{"groups number", `{"groups":1}`},
	{"roles null", `{"roles":null}`},
	{"entitlements [true]", `{"entitlements":[true]}`},
	{"bad type after valid claims", `{"iss":"a","aud":"b","x":{},"exp":"soon"}`},
}

func TestUnmarshalAccepts(t *testing.T) {
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			var c Claims
			if err := c.UnmarshalJSON([]byte(tc.input)); err != nil {
				t.Fatalf("UnmarshalJSON: %v", err)
			}
			tc.check(t, &c)

			// json.Unmarshal (what golang-jwt calls) must agree.
			var c2 Claims
			if err := json.Unmarshal([]byte(tc.input), &c2); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if !reflect.DeepEqual(c, c2) {
				t.Errorf("json.Unmarshal decoded differently:\n%+v\n%+v", c, c2)
			}

			// And the middleware's two steps, scopes after the signature.
			c3, err := deferred(tc.input)
			if err != nil {
				t.Fatalf("deferred: %v", err)
			}
			if !reflect.DeepEqual(c, c3) {
				t.Errorf("the deferred decode differs:\n%+v\n%+v", c, c3)
			}
		})
	}
}

// deferred decodes input as the middleware does: claimsdecode.Decode before
// the signature check, which leaves Scopes empty, and Finish after it.
func deferred(input string) (Claims, error) {
	var c Claims
	var p claimsdecode.Pending
	if err := claimsdecode.Decode(&c, input, &p); err != nil {
		if !reflect.DeepEqual(c, Claims{}) || p != (claimsdecode.Pending{}) {
			return c, fmt.Errorf("not zeroed after %w", err)
		}
		return c, err
	}
	if c.Scopes != nil {
		return c, errors.New("Scopes filled before Finish")
	}
	err := claimsdecode.Finish(&c, &p)
	if p != (claimsdecode.Pending{}) {
		return c, errors.New("Finish left its Pending")
	}
	return c, err
}

func TestUnmarshalRefuses(t *testing.T) {
	for _, tc := range refuseCases {
		t.Run(tc.name, func(t *testing.T) {
			c := Claims{Issuer: "stale", Scopes: Scopes{"stale"}}
			err := c.UnmarshalJSON([]byte(tc.input))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), "claims: malformed claims") {
				t.Errorf("error text %q", err)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Errorf("claims not zeroed after error: %+v", c)
			}
			// The middleware's first step refuses it alike, before any
			// signature check.
			if _, derr := deferred(tc.input); derr == nil || derr.Error() != err.Error() {
				t.Errorf("deferred: %v, want %v", derr, err)
			}
		})
	}
}

func TestErrorsDoNotLeakValues(t *testing.T) {
	for _, input := range []string{
		`{"exp":"SECRETVALUE"}`,
		`{"iss":["SECRETVALUE"]}`,
		`{"SECRETVALUE":1,"SECRETVALUE":2}`,
		`{"aud":{"SECRETVALUE":1}}`,
		`{"exp":1e999}`,
	} {
		var c Claims
		err := c.UnmarshalJSON([]byte(input))
		if err == nil {
			t.Fatalf("%s: no error", input)
		}
		if strings.Contains(err.Error(), "SECRETVALUE") || strings.Contains(err.Error(), "999") {
			t.Errorf("%s: error leaks a value: %v", input, err)
		}
	}
	// Decode type errors neither.
	var c Claims
	if err := c.UnmarshalJSON([]byte(`{"n":31337.5}`)); err != nil {
		t.Fatal(err)
	}
	_, err := Get[int](&c, "n")
	if !errors.Is(err, ErrMalformed) || strings.Contains(err.Error(), "31337") {
		t.Errorf("Get[int] error = %v", err)
	}
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		t.Errorf("underlying json error not reachable: %v", err)
	}
}

// TestDecodeAgreesWithTheRules: a nested object whose names repeat but
// for case is two members to ClaimIn and Strings, which read "ID"
// exactly, and one to encoding/json, which fills a field tagged "ID" from
// the last of them: Decode refuses it rather than read another value than
// the rule checked. Found by a fifth review.
func TestDecodeAgreesWithTheRules(t *testing.T) {
	var c Claims
	if err := c.UnmarshalJSON([]byte(`{"org":{"ID":"a","id":"b"},"ok":{"ID":"a","name":"n"},"list":[{"ID":"a","id":"b"}]}`)); err != nil {
		t.Fatal(err)
	}
	if got := c.Strings("org", "ID"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf(`Strings("org", "ID") = %q`, got)
	}
	type org struct {
		ID string `json:"ID"`
	}
	if o, err := Get[org](&c, "org"); !errors.Is(err, ErrMalformed) || o.ID != "" {
		t.Errorf(`Get(org) = %+v, %v; want ErrMalformed`, o, err)
	}
	if o, err := Get[org](&c, "ok"); err != nil || o.ID != "a" {
		t.Errorf(`Get(ok) = %+v, %v`, o, err)
	}
	if o, err := Get[[]*org](&c, "list"); !errors.Is(err, ErrMalformed) || o != nil {
		t.Errorf(`Get[[]*org](list) = %+v, %v; want ErrMalformed`, o, err)
	}
	// encoding/json folds names only to match struct fields: into a map,
	// an interface or a json.RawMessage "ID" and "id" stay two names, as
	// Strings reads them, and the claim decodes. Found by a review of
	// this session's fixes.
	if m, err := Get[map[string]string](&c, "org"); err != nil || m["ID"] != "a" || m["id"] != "b" {
		t.Errorf(`Get[map](org) = %v, %v`, m, err)
	}
	if m, err := Get[any](&c, "org"); err != nil || len(m.(map[string]any)) != 2 {
		t.Errorf(`Get[any](org) = %v, %v`, m, err)
	}
	if r, err := Get[json.RawMessage](&c, "org"); err != nil || string(r) != `{"ID":"a","id":"b"}` {
		t.Errorf(`Get[json.RawMessage](org) = %s, %v`, r, err)
	}
	// But encoding/json decodes into what an interface points to: a *any
	// holding a *org folds as the org does, and so does a slice's element
	// it reuses. Found by a second review of this session's fixes.
	o := &org{}
	var dst any = o
	if err := c.Decode("org", &dst); !errors.Is(err, ErrMalformed) || o.ID != "" {
		t.Errorf("Decode(org) into a *any holding a *org = %v, ID %q; want ErrMalformed", err, o.ID)
	}
	o2 := &org{}
	list := []any{o2}
	if err := c.Decode("list", &list); !errors.Is(err, ErrMalformed) || o2.ID != "" {
		t.Errorf("Decode(list) into a []any holding a *org = %v, ID %q; want ErrMalformed", err, o2.ID)
	}
	// A name repeated exactly, at any depth: encoding/json reads the last
	// into any target, where Values (and so ClaimIn) refuses the repeat.
	// Found by a sixth review.
	var d Claims
	if err := d.UnmarshalJSON([]byte(`{"ext":{"role":"user","role":"admin"},"deep":[{"a":{"b":1,"b":2}}]}`)); err != nil {
		t.Fatal(err)
	}
	if got := d.Values("ext", "role"); got != nil {
		t.Fatalf(`Values("ext", "role") = %q, want nil`, got)
	}
	for _, name := range []string{"ext", "deep"} {
		if m, err := Get[map[string]any](&d, name); !errors.Is(err, ErrMalformed) {
			t.Errorf("Get[map](%s) = %v, %v; want ErrMalformed", name, m, err)
		}
		if v, err := Get[any](&d, name); !errors.Is(err, ErrMalformed) {
			t.Errorf("Get[any](%s) = %v, %v; want ErrMalformed", name, v, err)
		}
		if r, err := Get[json.RawMessage](&d, name); !errors.Is(err, ErrMalformed) {
			t.Errorf("Get[json.RawMessage](%s) = %s, %v; want ErrMalformed", name, r, err)
		}
	}
}

func TestNamedErrorIdentifiesClaim(t *testing.T) {
	var c Claims
	err := c.UnmarshalJSON([]byte(`{"iss":"a","nbf":"later"}`))
	if err == nil || !strings.Contains(err.Error(), "nbf") {
		t.Errorf("err = %v, want it to name nbf", err)
	}
}

func TestCustomClaims(t *testing.T) {
	var c Claims
	if err := json.Unmarshal([]byte(`{"iss":"i","tenant":"acme","quota":42,"flags":{"beta":true},"tags":["a","b"]}`), &c); err != nil {
		t.Fatal(err)
	}

	tenant, err := Get[string](&c, "tenant")
	if err != nil || tenant != "acme" {
		t.Errorf("Get[string](tenant) = %q, %v", tenant, err)
	}
	quota, err := Get[int](&c, "quota")
	if err != nil || quota != 42 {
		t.Errorf("Get[int](quota) = %d, %v", quota, err)
	}
	type flags struct{ Beta bool }
	f, err := Get[flags](&c, "flags")
	if err != nil || !f.Beta {
		t.Errorf("Get[flags] = %+v, %v", f, err)
	}
	var tags []string
	if err := c.Decode("tags", &tags); err != nil || !slices.Equal(tags, []string{"a", "b"}) {
		t.Errorf("Decode(tags) = %v, %v", tags, err)
	}

	// Absent.
	if _, ok := c.Raw("missing"); ok {
		t.Error("Raw(missing) reported present")
	}
	if err := c.Decode("missing", new(string)); !errors.Is(err, ErrNotPresent) {
		t.Errorf("Decode(missing) = %v, want ErrNotPresent", err)
	}
	if s, err := Get[string](&c, "missing"); !errors.Is(err, ErrNotPresent) || s != "" {
		t.Errorf("Get(missing) = %q, %v", s, err)
	}
	// Registered claims are fields, not custom claims.
	if _, ok := c.Raw("iss"); ok {
		t.Error(`Raw("iss") reported present`)
	}
	// Wrong type: ErrMalformed, zero value.
	if n, err := Get[int](&c, "tenant"); !errors.Is(err, ErrMalformed) || n != 0 {
		t.Errorf("Get[int](tenant) = %d, %v", n, err)
	}
	if f, err := Get[flags](&c, "tags"); !errors.Is(err, ErrMalformed) || f.Beta {
		t.Errorf("Get[flags](tags) = %+v, %v", f, err)
	}
	// Not a pointer: a programming error, reported as such.
	var notPtr string
	err = c.Decode("tenant", notPtr)
	var inv *json.InvalidUnmarshalError
	if !errors.As(err, &inv) || errors.Is(err, ErrMalformed) {
		t.Errorf("Decode(non-pointer) = %v", err)
	}
	// A nil *Claims has no claims.
	var nilc *Claims
	if _, err := Get[string](nilc, "tenant"); !errors.Is(err, ErrNotPresent) {
		t.Errorf("Get on nil = %v", err)
	}
}

func TestRawIsCopied(t *testing.T) {
	buf := []byte(`{"iss":"issuer","x":{"k":"v"},"scope":"a b"}`)
	var c Claims
	if err := c.UnmarshalJSON(buf); err != nil {
		t.Fatal(err)
	}
	for i := range buf {
		buf[i] = ' '
	}
	if raw, _ := c.Raw("x"); string(raw) != `{"k":"v"}` {
		t.Errorf("Raw(x) aliases the input: %q", raw)
	}
	if c.Issuer != "issuer" || c.Scopes.String() != "a b" {
		t.Errorf("fields alias the input: %+v", c)
	}
	// Modifying what Raw returned does not affect the claims.
	raw, _ := c.Raw("x")
	raw[0] = '['
	if again, _ := c.Raw("x"); string(again) != `{"k":"v"}` {
		t.Errorf("Raw result aliases internal state: %q", again)
	}
}

func TestReuseResets(t *testing.T) {
	var c Claims
	full := `{"iss":"a","sub":"b","aud":["c"],"exp":1,"nbf":2,"iat":3,"jti":"d","client_id":"e","scope":"f",` +
		`"auth_time":4,"acr":"g","amr":["h"],"groups":["i"],"roles":["j"],"entitlements":["k"],"custom":1}`
	if err := c.UnmarshalJSON([]byte(full)); err != nil {
		t.Fatal(err)
	}
	if err := c.UnmarshalJSON([]byte(`{"sub":"z"}`)); err != nil {
		t.Fatal(err)
	}
	var fresh Claims
	if err := fresh.UnmarshalJSON([]byte(`{"sub":"z"}`)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, fresh) || c.Subject != "z" || c.Issuer != "" {
		t.Errorf("reused Claims kept old values: %+v", c)
	}
	if _, ok := c.Raw("custom"); ok {
		t.Error("reused Claims kept an old custom claim")
	}
	// json.Unmarshal into a reused value behaves the same.
	if err := json.Unmarshal([]byte(full), &c); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(`{}`), &c); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Claims{}) {
		t.Errorf("reused Claims kept old values: %+v", c)
	}
}

func TestUnmarshalNilReceiver(t *testing.T) {
	var c *Claims
	if err := c.UnmarshalJSON([]byte(`{}`)); err == nil {
		t.Error("no error for nil receiver")
	}
}

func TestScopes(t *testing.T) {
	s := ParseScopes("  notes:read   notes:write profile ")
	if !slices.Equal(s, Scopes{"notes:read", "notes:write", "profile"}) {
		t.Fatalf("ParseScopes = %#v", s)
	}
	if got := s.String(); got != "notes:read notes:write profile" {
		t.Errorf("String = %q", got)
	}

	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"Has exact", s.Has("notes:read"), true},
		{"Has prefix is not a match", ParseScopes("notes:readonly").Has("notes:read"), false},
		{"Has longer is not a match", s.Has("notes:read:all"), false},
		{"Has is case-sensitive", s.Has("Notes:Read"), false},
		{"Has empty string", s.Has(""), false},
		{"HasAll all present", s.HasAll("profile", "notes:read"), true},
		{"HasAll one missing", s.HasAll("notes:read", "notes:delete"), false},
		{"HasAll no args", s.HasAll(), true},
		{"HasAll on nil, no args", Scopes(nil).HasAll(), true},
		{"HasAll on nil", Scopes(nil).HasAll("a"), false},
		{"HasAny one present", s.HasAny("notes:delete", "profile"), true},
		{"HasAny none present", s.HasAny("a", "b"), false},
		{"HasAny no args", s.HasAny(), false},
		{"HasAny on nil", Scopes(nil).HasAny("a"), false},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}

	for _, in := range []string{"", " ", "    "} {
		if got := ParseScopes(in); got != nil {
			t.Errorf("ParseScopes(%q) = %#v, want nil", in, got)
		}
	}
	if got := ParseScopes("a\tb"); !slices.Equal(got, Scopes{"a\tb"}) {
		t.Errorf("only spaces separate: %#v", got)
	}
	if got := ParseScopes("a a"); !slices.Equal(got, Scopes{"a", "a"}) {
		t.Errorf("ParseScopes dedups: %#v", got)
	}
	if got := Scopes(nil).String(); got != "" {
		t.Errorf("nil String = %q", got)
	}
}

func TestHasAudience(t *testing.T) {
	c := &Claims{Audience: []string{"https://api.example", "other"}}
	for aud, want := range map[string]bool{
		"https://api.example":  true,
		"other":                true,
		"https://api.example/": false,
		"https://API.example":  false,
		"https://api":          false,
		"":                     false,
	} {
		if got := c.HasAudience(aud); got != want {
			t.Errorf("HasAudience(%q) = %v, want %v", aud, got, want)
		}
	}
	if (*Claims)(nil).HasAudience("x") {
		t.Error("nil Claims has an audience")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if c, ok := FromContext(ctx); ok || c != nil {
		t.Errorf("FromContext(empty) = %v, %v", c, ok)
	}
	want := &Claims{Subject: "u"}
	got, ok := FromContext(NewContext(ctx, want))
	if !ok || got != want {
		t.Errorf("FromContext = %p, %v; want %p", got, ok, want)
	}
	if c, ok := FromContext(NewContext(ctx, nil)); ok || c != nil {
		t.Errorf("FromContext(nil claims) = %v, %v", c, ok)
	}
	// A string key with a plausible name does not collide.
	type stringKey string
	ctx2 := context.WithValue(ctx, stringKey("claims"), want)
	if _, ok := FromContext(ctx2); ok {
		t.Error("FromContext found claims under a foreign key")
	}
}

func TestJWTInterface(t *testing.T) {
	var empty Claims
	if d, err := empty.GetExpirationTime(); d != nil || err != nil {
		t.Errorf("GetExpirationTime = %v, %v", d, err)
	}
	if d, err := empty.GetIssuedAt(); d != nil || err != nil {
		t.Errorf("GetIssuedAt = %v, %v", d, err)
	}
	if d, err := empty.GetNotBefore(); d != nil || err != nil {
		t.Errorf("GetNotBefore = %v, %v", d, err)
	}
	if a, err := empty.GetAudience(); a != nil || err != nil {
		t.Errorf("GetAudience = %v, %v", a, err)
	}
	if s, err := empty.GetIssuer(); s != "" || err != nil {
		t.Errorf("GetIssuer = %q, %v", s, err)
	}
	if s, err := empty.GetSubject(); s != "" || err != nil {
		t.Errorf("GetSubject = %q, %v", s, err)
	}
	var nilc *Claims
	if d, err := nilc.GetExpirationTime(); d != nil || err != nil {
		t.Errorf("nil GetExpirationTime = %v, %v", d, err)
	}

	var c Claims
	if err := c.UnmarshalJSON([]byte(`{"iss":"i","sub":"s","aud":"a","exp":0,"nbf":2,"iat":3}`)); err != nil {
		t.Fatal(err)
	}
	exp, _ := c.GetExpirationTime()
	nbf, _ := c.GetNotBefore()
	iat, _ := c.GetIssuedAt()
	// exp:0 is present (the epoch), not absent.
	if exp == nil || exp.Unix() != 0 || nbf == nil || nbf.Unix() != 2 || iat == nil || iat.Unix() != 3 {
		t.Errorf("dates = %v %v %v", exp, nbf, iat)
	}
	iss, _ := c.GetIssuer()
	sub, _ := c.GetSubject()
	aud, _ := c.GetAudience()
	if iss != "i" || sub != "s" || !slices.Equal(aud, jwt.ClaimStrings{"a"}) {
		t.Errorf("strings = %q %q %v", iss, sub, aud)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestGolangJWTIntegration(t *testing.T) {
	token := b64(`{"alg":"RS256","typ":"at+jwt","kid":"k1"}`) + "." + b64(typicalPayload+"\n") + "." + b64("sig")
	var c Claims
	tok, _, err := jwt.NewParser().ParseUnverified(token, &c)
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if tok.Claims != jwt.Claims(&c) {
		t.Error("token.Claims is not our *Claims")
	}
	if c.Subject != "user-42" || !c.HasAudience("https://api.example") || !c.Scopes.HasAll("notes:read", "notes:write") {
		t.Errorf("claims = %+v", c)
	}

	// The validator reads our interface methods: this token expired in 2023.
	v := jwt.NewValidator(jwt.WithAudience("https://api.example"), jwt.WithIssuer("https://issuer.example"))
	if err := v.Validate(&c); !errors.Is(err, jwt.ErrTokenExpired) {
		t.Errorf("Validate = %v, want ErrTokenExpired", err)
	}
	v = jwt.NewValidator(jwt.WithTimeFunc(func() time.Time { return unix(1700001000) }),
		jwt.WithAudience("https://api.example"), jwt.WithIssuer("https://issuer.example"), jwt.WithExpirationRequired())
	if err := v.Validate(&c); err != nil {
		t.Errorf("Validate at a valid time = %v", err)
	}

	// Malformed claims surface as both jwt.ErrTokenMalformed and ErrMalformed.
	bad := b64(`{"alg":"RS256"}`) + "." + b64(`{"exp":1,"\u0065xp":99999999999}`) + "." + b64("sig")
	_, _, err = jwt.NewParser().ParseUnverified(bad, &Claims{})
	if !errors.Is(err, jwt.ErrTokenMalformed) || !errors.Is(err, ErrMalformed) {
		t.Errorf("duplicate exp: err = %v", err)
	}

	// encoding/json never calls UnmarshalJSON for a "null" payload, so
	// golang-jwt reports success. A fresh Claims then stays zero, and a
	// validator requiring exp refuses it (see the UnmarshalJSON docs).
	var fresh Claims
	null := b64(`{"alg":"RS256"}`) + "." + b64(`null`) + "." + b64("sig")
	if _, _, err := jwt.NewParser().ParseUnverified(null, &fresh); err == nil {
		if !reflect.DeepEqual(fresh, Claims{}) {
			t.Errorf("null payload produced claims: %+v", fresh)
		}
		if err := jwt.NewValidator(jwt.WithExpirationRequired()).Validate(&fresh); err == nil {
			t.Error("null payload passed a validator requiring exp")
		}
	}
}

func TestUnmarshalAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	data := []byte(typicalPayload)
	var c Claims
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.UnmarshalJSON(data); err != nil {
			t.Fatal(err)
		}
	})
	// One payload copy, the aud list and the scope list.
	if allocs > 3 {
		t.Errorf("UnmarshalJSON allocates %v times per call, want <= 3", allocs)
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data := []byte(typicalPayload)
	var c Claims
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalViaJSON(b *testing.B) {
	data := []byte(typicalPayload)
	b.ReportAllocs()
	for b.Loop() {
		var c Claims
		if err := json.Unmarshal(data, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalCustomClaims(b *testing.B) {
	data := []byte(typicalPayload[:len(typicalPayload)-1] + `,"tenant":"acme","roles":["a","b"],"ext":{"x":[1,2,3]}}`)
	var c Claims
	b.ReportAllocs()
	for b.Loop() {
		if err := c.UnmarshalJSON(data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, tc := range acceptCases {
		f.Add([]byte(tc.input))
	}
	for _, tc := range refuseCases {
		f.Add([]byte(tc.input))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		input := slices.Clone(data)
		var c Claims
		err := c.UnmarshalJSON(data)
		if !slices.Equal(input, data) {
			t.Fatal("UnmarshalJSON modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf("claims not zeroed after error: %+v", c)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatal("accepted invalid JSON")
		}
		// Differential check against encoding/json.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted input that encoding/json cannot read as an object: %v", err)
		}
		// Every string encoding/json reads is the one the issuer wrote: a
		// U+FFFD in one (names included) was written as such, never read
		// for invalid UTF-8 or a lone surrogate escape.
		var all any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber() // a custom claim may be 1e700
		if err := dec.Decode(&all); err != nil {
			t.Fatal(err)
		}
		if got, written := replacements(all), strings.Count(string(data), "\ufffd")+strings.Count(strings.ToLower(string(data)), `\ufffd`); got > written {
			t.Fatalf("encoding/json reads %d U+FFFD in accepted claims that write %d", got, written)
		}
		for name, got := range map[string]string{"iss": c.Issuer, "sub": c.Subject, "jti": c.ID, "client_id": c.ClientID} {
			raw, ok := m[name]
			if !ok {
				if got != "" {
					t.Fatalf("%s = %q but absent for encoding/json", name, got)
				}
				continue
			}
			var want string
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("accepted %s that encoding/json rejects as a string: %v", name, err)
			}
			if got != want {
				t.Fatalf("%s = %q, encoding/json says %q", name, got, want)
			}
		}
		if raw, ok := m["aud"]; ok {
			var want jwt.ClaimStrings
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("accepted aud that golang-jwt rejects: %v", err)
			}
			if len(want) != len(c.Audience) || (len(want) > 0 && !slices.Equal([]string(want), c.Audience)) {
				t.Fatalf("aud = %q, golang-jwt says %q", c.Audience, want)
			}
		}
		if raw, ok := m["exp"]; ok {
			var num json.Number
			if err := json.Unmarshal(raw, &num); err != nil {
				t.Fatalf("accepted exp that encoding/json rejects as a number: %v", err)
			}
			// Integers are compared exactly (a float64 loses digits past
			// 2^53); others through float64, to the nanosecond of its
			// whole and fractional parts.
			want, err := num.Int64()
			var wantNsec int64
			if err != nil {
				f, ferr := num.Float64()
				if ferr != nil {
					t.Fatalf("accepted exp %s that encoding/json cannot read: %v", raw, ferr)
				}
				whole, frac := math.Modf(f)
				want, wantNsec = int64(whole), int64(frac*1e9)
			}
			if want >= maxStoredSec || want <= minStoredSec {
				want, wantNsec = max(min(want, maxStoredSec), minStoredSec), 0
			}
			if c.ExpiresAt.IsZero() || !c.ExpiresAt.Equal(time.Unix(want, wantNsec)) {
				t.Fatalf("exp = %v, encoding/json says %v", c.ExpiresAt, num)
			}
		}
		// Scopes: a naive reference union built from encoding/json values.
		var want Scopes
		addScope := func(v string) {
			if v != "" && !want.Has(v) {
				want = append(want, v)
			}
		}
		for _, name := range []string{"scope", "scp"} {
			raw, ok := m[name]
			if !ok {
				continue
			}
			var s string
			var list []string
			if json.Unmarshal(raw, &s) == nil {
				list = strings.Split(s, " ")
			} else if err := json.Unmarshal(raw, &list); err != nil || list == nil {
				t.Fatalf("accepted %s that is neither string nor array: %s", name, raw)
			}
			for _, v := range list {
				addScope(v)
			}
		}
		if !slices.Equal(c.Scopes, want) || (c.Scopes == nil) != (want == nil) {
			t.Fatalf("Scopes = %q, reference says %q", c.Scopes, want)
		}
		// Every other member is available raw, byte-identical to what
		// encoding/json sees (modulo surrounding whitespace).
		for name, raw := range m {
			if knownIndex(name) >= 0 {
				if _, ok := c.Raw(name); ok {
					t.Fatalf("registered claim %q reported as custom", name)
				}
				continue
			}
			got, ok := c.Raw(name)
			if !ok {
				t.Fatalf("custom claim %q missing", name)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(raw)) {
				t.Fatalf("custom claim %q = %s, encoding/json says %s", name, got, raw)
			}
		}
	})
}

// replacements counts the U+FFFD in every string and member name of v, a
// value encoding/json decoded into any.
func replacements(v any) int {
	n := 0
	switch v := v.(type) {
	case string:
		n = strings.Count(v, "\ufffd")
	case []any:
		for _, e := range v {
			n += replacements(e)
		}
	case map[string]any:
		for k, e := range v {
			n += strings.Count(k, "\ufffd") + replacements(e)
		}
	}
	return n
}

// Values reads every claim by one rule: arrays verbatim, strings split,
// objects by member names, anything else nil.
func TestValues(t *testing.T) {
	var c Claims
	payload := `{"sub":"u","scope":"a b","roles":"r1 r2","groups":["g 1","g2"],"entitlements":"e",` +
		`"perms":"p1  p2","list":["x y"],"obj":{"k2":1,"k1":2},"deep":{"in":{"roles":"d1 d2"}},` +
		`"num":1,"mixed":["a",1],"exp":5}`
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want []string
	}{
		{[]string{"roles"}, []string{"r1", "r2"}},
		{[]string{"groups"}, []string{"g 1", "g2"}},
		{[]string{"entitlements"}, []string{"e"}},
		{[]string{"perms"}, []string{"p1", "p2"}},
		{[]string{"list"}, []string{"x y"}},
		{[]string{"obj"}, []string{"k1", "k2"}},
		{[]string{"deep", "in", "roles"}, []string{"d1", "d2"}},
		{[]string{"scope"}, []string{"a", "b"}},
		{[]string{"sub"}, []string{"u"}},
		{[]string{"num"}, nil},
		{[]string{"mixed"}, nil},
		{[]string{"exp"}, nil},
		{[]string{"absent"}, nil},
		{[]string{"roles", "x"}, nil},
		{nil, nil},
	} {
		if got := c.Values(tc.path...); !reflect.DeepEqual([]string(got), tc.want) {
			t.Errorf("Values(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
	// A name repeated inside a nested object is refused, as at the top.
	var dup Claims
	if err := json.Unmarshal([]byte(`{"deep":{"in":{"roles":"a"},"in":{"roles":"b"}},"obj":{"k":1,"k":2}}`), &dup); err != nil {
		t.Fatal(err)
	}
	if got := dup.Values("deep", "in", "roles"); got != nil {
		t.Errorf("a repeated nested member was read: %q", got)
	}
	if got := dup.Values("obj"); got != nil {
		t.Errorf("an object with a repeated name gave %q", got)
	}
	// A one-element array whose element has a space stays one value.
	var arr Claims
	if err := json.Unmarshal([]byte(`{"roles":["r1 r2"]}`), &arr); err != nil {
		t.Fatal(err)
	}
	if got := arr.Values("roles"); !reflect.DeepEqual(got, []string{"r1 r2"}) {
		t.Errorf("array element split: %q", got)
	}
}

func TestStrings(t *testing.T) {
	var c Claims
	payload := `{"sub":"repo:octo/app:ref:refs/heads/main","aud":["a","b"],"email":"x y@example.com","roles":"user admin",` +
		`"email_verified":true,"n":42,"list":["x y","z"],"kubernetes.io":{"namespace":"prod","serviceaccount":{"name":"api"}},` +
		`"mixed":["a",1],"obj":{"k":"v"},"scope":"s1 s2","exp":5}`
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path []string
		want []string
	}{
		{[]string{"sub"}, []string{"repo:octo/app:ref:refs/heads/main"}},
		{[]string{"aud"}, []string{"a", "b"}},
		{[]string{"email"}, []string{"x y@example.com"}}, // not split, unlike Values
		{[]string{"roles"}, []string{"user admin"}},      // a field, still as written
		{[]string{"email_verified"}, []string{"true"}},
		{[]string{"n"}, []string{"42"}},
		{[]string{"list"}, []string{"x y", "z"}},
		{[]string{"kubernetes.io", "namespace"}, []string{"prod"}},
		{[]string{"kubernetes.io", "serviceaccount", "name"}, []string{"api"}},
		{[]string{"scope"}, nil}, // merged into Scopes: no longer as written
		{[]string{"mixed"}, nil},
		{[]string{"obj"}, nil},
		{[]string{"exp"}, nil},
		{[]string{"jti"}, nil},
		{[]string{"absent"}, nil},
		{[]string{"kubernetes.io", "absent"}, nil},
		{nil, nil},
	} {
		if got := c.Strings(tc.path...); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Strings(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestStringsOfFilledIdentity(t *testing.T) {
	var c Claims
	if err := c.UnmarshalJSON([]byte(`{"client_id":"own"}`)); err != nil {
		t.Fatal(err)
	}
	// What a verifier's WithSubjectClaim and WithClientIDClaims do.
	c.Subject, c.SubjectFrom, c.ClientID, c.ClientIDFrom = "own", "client_id", "from-azp", "azp"
	if c.Strings("sub") != nil || !reflect.DeepEqual(c.Strings("client_id"), []string{"own"}) {
		t.Fatalf("filled identity read as written: sub %q, client_id %q", c.Strings("sub"), c.Strings("client_id"))
	}
}
