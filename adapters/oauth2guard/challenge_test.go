package oauth2guard

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// A hostile refusal cannot make the client parse more than the bounds,
// which hold for a whole reading of it: a huge field, many challenges
// (kept or dropped) or parameters, or many fields cost next to nothing,
// and the hint is read only within the bounds.
func TestChallengeBounds(t *testing.T) {
	const hint = `Bearer error="invalid_token", error_description="The access token expired"`
	params := func(n int) string {
		var b strings.Builder
		b.WriteString("Bearer ")
		for i := range n {
			fmt.Fprintf(&b, "p%d=v, ", i)
		}
		return b.String() + `error="invalid_token", error_description="The access token expired"`
	}
	fields := func(n int, last string) []string {
		f := slices.Repeat([]string{`Basic realm="x"`}, n-1)
		return append(f, last)
	}
	for _, tc := range []struct {
		name   string
		fields []string
		want   bool
	}{
		{"32 challenges, the hint last", []string{strings.Repeat("a, ", 31) + hint}, true},
		{"33 challenges, the hint last", []string{strings.Repeat("a, ", 32) + hint}, false},
		{"64 parameters", []string{params(62)}, true},
		{"65 parameters", []string{params(63)}, false},
		{"dropped challenges count too", []string{strings.Repeat("a b=1, b=1, ", 31) + hint}, true},
		{"dropped challenges count too, one more", []string{strings.Repeat("a b=1, b=1, ", 32) + hint}, false},
		{"the hint in the 16th field", fields(16, hint), true},
		{"the hint in the 17th field", fields(17, hint), false},
		{"16 KiB", []string{hint + strings.Repeat(" ", 16<<10-len(hint))}, true},
		{"16 KiB and a byte", []string{hint + strings.Repeat(" ", 16<<10-len(hint)+1)}, false},
		{"16 KiB in all, the hint in the third field", []string{strings.Repeat(" ", 8<<10), strings.Repeat(" ", 8<<10), hint}, false},
		{"a malformed field, then the hint", []string{`Bearer realm="unterminated`, hint}, true},
		{"a field past the bounds hides those after it", []string{strings.Repeat("a, ", 33), hint}, false},
		{"a field too long is skipped unread", []string{strings.Repeat(" ", 1<<20), hint}, true},
	} {
		resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": tc.fields}}
		if got := IsExpiredHint(resp); got != tc.want {
			t.Errorf("%s: IsExpiredHint %v, want %v", tc.name, got, tc.want)
		}
	}

	dropped := strings.Repeat("a b=1, b=1, ", (16<<10)/12)
	var wide strings.Builder // 32 challenges of 32 parameters
	for i := range 32 {
		fmt.Fprintf(&wide, "S%d ", i)
		for j := range 32 {
			fmt.Fprintf(&wide, "p%d=v, ", j)
		}
	}
	for name, h := range map[string][]string{
		"4 MiB of empty challenges":                   {strings.Repeat("a,", 2<<20)},
		"4 MiB of parameters":                         {"Bearer " + strings.Repeat("p=v, ", 800_000)},
		"1,000 fields of 8 KiB":                       slices.Repeat([]string{strings.Repeat("a,", 4<<10)}, 1000),
		"16 fields of dropped challenges":             slices.Repeat([]string{dropped}, 16),
		"16 fields of 32 challenges of 32 parameters": slices.Repeat([]string{wide.String()}, 16),
	} {
		resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": h}}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 3 { // as a DPoP refusal is read: step-up, the hint, a nonce
			_, _ = StepUp(resp)
			_ = IsExpiredHint(resp)
			_ = isNonceChallenge(resp)
		}
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
			t.Errorf("%s: reading the refusal allocated %d bytes", name, n)
		} else {
			t.Logf("%s: reading the refusal three times allocated %d bytes", name, n)
		}
	}
}
