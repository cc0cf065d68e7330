package oauth2guard

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// A hostile refusal cannot make the client parse more than the bounds: a
// huge field, one of many challenges or parameters, or many fields cost
// next to nothing, and the hint is read only within the bounds.
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
		{"32 parameters", []string{params(30)}, true},
		{"33 parameters", []string{params(31)}, false},
		{"the hint in the 16th field", fields(16, hint), true},
		{"the hint in the 17th field", fields(17, hint), false},
		{"a field of 16 KiB", []string{hint + strings.Repeat(" ", 16<<10-len(hint))}, true},
		{"a field of 16 KiB and a byte", []string{hint + strings.Repeat(" ", 16<<10-len(hint)+1)}, false},
	} {
		resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{"Www-Authenticate": tc.fields}}
		if got := IsExpiredHint(resp); got != tc.want {
			t.Errorf("%s: IsExpiredHint %v, want %v", tc.name, got, tc.want)
		}
	}

	for name, h := range map[string][]string{
		"4 MiB of empty challenges": {strings.Repeat("a,", 2<<20)},
		"4 MiB of parameters":       {params(400_000)},
		"1,000 fields of 8 KiB":     slices.Repeat([]string{strings.Repeat("a,", 4<<10)}, 1000),
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
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: reading the refusal allocated %d bytes", name, n)
		}
	}
}
