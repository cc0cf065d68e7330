package jwks

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshness(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"none", http.Header{}, 0, false},
		{"max-age", http.Header{"Cache-Control": {"public, max-age=300"}}, 300 * time.Second, true},
		{"quoted max-age", http.Header{"Cache-Control": {`max-age="60"`}}, time.Minute, true},
		{"MAX-AGE case", http.Header{"Cache-Control": {"MAX-AGE=5"}}, 5 * time.Second, true},
		{"no-cache", http.Header{"Cache-Control": {"no-cache, max-age=300"}}, 0, true},
		{"no-store", http.Header{"Cache-Control": {"no-store"}}, 0, true},
		{"bad max-age ignored, Expires used", http.Header{"Cache-Control": {"max-age=soon"}, "Date": {at(0)}, "Expires": {at(time.Hour)}}, time.Hour, true},
		{"max-age wins over Expires", http.Header{"Cache-Control": {"max-age=10"}, "Expires": {at(time.Hour)}}, 10 * time.Second, true},
		{"Expires relative to Date", http.Header{"Date": {at(-time.Minute)}, "Expires": {at(time.Minute)}}, 2 * time.Minute, true},
		{"Expires in the past", http.Header{"Date": {at(0)}, "Expires": {at(-time.Hour)}}, 0, true},
		{"invalid Expires", http.Header{"Expires": {"0"}}, 0, true},
		{"huge max-age capped at a year", http.Header{"Cache-Control": {"max-age=99999999999999"}}, 365 * 24 * time.Hour, true},
		{"s-maxage is for shared caches", http.Header{"Cache-Control": {"s-maxage=60"}}, 0, false},
	} {
		got, ok := freshness(tc.header, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: freshness = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}
