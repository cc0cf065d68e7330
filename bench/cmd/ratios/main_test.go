package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
cpu: Test CPU
BenchmarkVerify/RS256/floor-crypto/serial-2   	 100	 1000 ns/op	 1000 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkVerify/RS256/floor-crypto/serial-2   	 100	 3000 ns/op	 1000 cpu-ns/op	 10 B/op	 1 allocs/op
BenchmarkVerify/RS256/floor-crypto/parallel-2 	 100	 1000 ns/op	 10 B/op	 1 allocs/op
BenchmarkVerify/RS256/jwtguard/serial-2       	 100	 3000 ns/op	 1500 cpu-ns/op	 50 B/op	 5 allocs/op
BenchmarkVerify/RS256/jwtguard/serial-2       	 100	 5000 ns/op	 50 B/op	 5 allocs/op
BenchmarkVerify/RS256/jwtguard/serial-2       	 100	 4000 ns/op	 50 B/op	 5 allocs/op
BenchmarkVerify/RS256/jwtguard/parallel-2     	 100	 2000 ns/op	 60 B/op	 6 allocs/op
PASS
`

func TestRender(t *testing.T) {
	d, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := render(&b, d, "x"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	// floor median 2000 (even count), jwtguard median 4000: 2.00×; speedup 4000/2000.
	for _, want := range []string{
		"| **jwtguard** | 2.00× | 4000 | 50 | 5 |",
		"| floor-crypto | 1.00× | 2000 | 10 | 1 |",
		"| **jwtguard** | 2.00× |\n",
		"| floor-crypto | 2.00× |\n",
		"GOMAXPROCS=2",
		// cpu: floor median 1000, jwtguard 1500 (one sample).
		"| **jwtguard** | 1.50× | 1500 |",
		"The machine was busy**: wall time exceeded CPU time by more than 15% for RS256/floor-crypto, RS256/jwtguard;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestChart(t *testing.T) {
	d, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	svg := chart(d)
	// serial: floor 2000, jwtguard 4000 (2.00×); parallel: 1000 and 2000.
	for _, want := range []string{
		`<svg xmlns="http://www.w3.org/2000/svg"`,
		">Serial: median ns/op",
		">Parallel: median ns/op",
		">RS256</text>",
		`fill="#d9480f"/><text x="`, // jwtguard in the accent colour
		">2.00×</text>",
		">1.00×</text>",
		"</svg>",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Count(svg, "<rect x=") != 4 { // two contenders, two modes
		t.Errorf("%d bars, want 4", strings.Count(svg, "<rect x="))
	}
}
