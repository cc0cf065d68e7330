package keyalg

import "testing"

func TestIssuerFits(t *testing.T) {
	const (
		shared = "https://login.microsoftonline.com/{tenantid}/v2.0"
		a      = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		issA   = "https://login.microsoftonline.com/" + a + "/v2.0"
	)
	for _, tc := range []struct {
		bound, iss, tid string
		want            bool
	}{
		{shared, issA, a, true},
		{shared, issA, "", false}, // no tid: refused, not filled with nothing
		{shared, issA, "00000000-0000-0000-0000-0000000000b2", false},
		{shared, "https://login.microsoftonline.com//v2.0", "", false},
		{shared, issA + "x", a, false},
		{shared, "x" + issA, a, false},
		{issA, issA, "", true}, // a key bound to one issuer needs no tid
		{issA, issA, "another", true},
		{issA, "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0", "", false},
		{"https://x/{tenantid}/{tenantid}", "https://x/t/t", "t", true}, // each placeholder, as Microsoft replaces them all
		{"https://x/{tenantid}/{tenantid}", "https://x/t/u", "t", false},
		{"https://x/{tenantid}", "https://x/", "", false},
	} {
		if got := IssuerFits(tc.bound, tc.iss, tc.tid); got != tc.want {
			t.Errorf("IssuerFits(%q, %q, %q) = %v", tc.bound, tc.iss, tc.tid, got)
		}
	}
}
