// Command ratios reads the raw output of the bench module's BenchmarkVerify
// (go test -bench, any -count) and writes a markdown table: per algorithm,
// each contender's median serial ns/op as a multiple of floor-crypto's,
// RS256 ns/op, B/op and allocs/op, and the parallel speedup (median serial
// ns/op ÷ median parallel ns/op).
//
//	go run ./cmd/ratios -in results/raw.txt -out results/table.md -svg results/chart.svg
//
// With -svg it also draws the same ratios as a chart: per algorithm, one bar
// per contender for its cost as a multiple of floor-crypto's, serial and
// parallel (each against floor-crypto's own serial or parallel time).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

const (
	prefix    = "BenchmarkVerify/"
	floorName = "floor-crypto"
	focus     = "jwtguard" // contenders with this prefix are shown in bold
)

// key names one benchmark: BenchmarkVerify/<alg>/<contender>/<mode>.
type key struct{ alg, contender, mode string }

type samples struct{ ns, cpu, bytes, allocs []float64 }

type data struct {
	algs, contenders []string // in order of first appearance
	runs             map[key]*samples
	procs            map[string]bool
	header           []string // goos, goarch, pkg, cpu lines
}

func main() {
	in := flag.String("in", "results/raw.txt", "raw go test -bench output")
	out := flag.String("out", "", "markdown output file (default stdout)")
	svgOut := flag.String("svg", "", "also write the ratios as an SVG chart to this file")
	flag.Parse()
	f, err := os.Open(*in)
	if err != nil {
		fatal(err)
	}
	d, err := parse(f)
	f.Close()
	if err != nil {
		fatal(err)
	}
	var w io.Writer = os.Stdout
	if *out != "" {
		o, err := os.Create(*out)
		if err != nil {
			fatal(err)
		}
		defer o.Close()
		w = o
	}
	if err := render(w, d, *in); err != nil {
		fatal(err)
	}
	if *svgOut != "" {
		if err := os.WriteFile(*svgOut, []byte(chart(d)), 0o644); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "ratios:", err)
	os.Exit(1)
}

func parse(r io.Reader) (*data, error) {
	d := &data{runs: map[key]*samples{}, procs: map[string]bool{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, h := range []string{"goos:", "goarch:", "cpu:"} {
			if strings.HasPrefix(line, h) {
				d.header = append(d.header, strings.TrimSpace(line))
			}
		}
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 {
			continue
		}
		name := strings.TrimPrefix(fields[0], prefix)
		if i := strings.LastIndexByte(name, '-'); i > strings.LastIndexByte(name, '/') {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				d.procs[name[i+1:]] = true
				name = name[:i]
			}
		}
		parts := strings.Split(name, "/")
		if len(parts) != 3 {
			continue
		}
		k := key{parts[0], parts[1], parts[2]}
		s := d.runs[k]
		if s == nil {
			s = &samples{}
			d.runs[k] = s
			if !slices.Contains(d.algs, k.alg) {
				d.algs = append(d.algs, k.alg)
			}
			if !slices.Contains(d.contenders, k.contender) {
				d.contenders = append(d.contenders, k.contender)
			}
		}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err != nil {
				continue
			}
			switch fields[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "cpu-ns/op":
				s.cpu = append(s.cpu, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(d.runs) == 0 {
		return nil, errors.New("no BenchmarkVerify results in input")
	}
	if len(d.procs) > 1 {
		return nil, errors.New("results for several -cpu values; run with one")
	}
	return d, nil
}

func median(v []float64) (float64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

func (d *data) med(alg, contender, mode string, pick func(*samples) []float64) (float64, bool) {
	s := d.runs[key{alg, contender, mode}]
	if s == nil {
		return 0, false
	}
	return median(pick(s))
}

func ns(s *samples) []float64     { return s.ns }
func cpu(s *samples) []float64    { return s.cpu }
func bytes(s *samples) []float64  { return s.bytes }
func allocs(s *samples) []float64 { return s.allocs }

func render(w io.Writer, d *data, src string) error {
	b := &strings.Builder{}
	runs := 0
	for _, s := range d.runs {
		runs = max(runs, len(s.ns))
	}
	procs := ""
	for p := range d.procs {
		procs = p
	}
	fmt.Fprintf(b, "# BenchmarkVerify: medians of %d run(s) from %s\n\n", runs, src)
	if len(d.header) > 0 {
		fmt.Fprintf(b, "%s", strings.Join(uniq(d.header), ", "))
		if procs != "" {
			fmt.Fprintf(b, ", GOMAXPROCS=%s", procs)
		}
		fmt.Fprintf(b, "\n\n")
	}

	// Serial ratios.
	detail := "RS256"
	if !slices.Contains(d.algs, detail) {
		detail = d.algs[0]
	}
	fmt.Fprintf(b, "## Serial: median ns/op ÷ floor-crypto's (lower is better)\n\n")
	table(b, d, func(a, c string) string { return ratio(d, a, c, ns) },
		detail, measure{"ns/op", ns}, measure{"B/op", bytes}, measure{"allocs/op", allocs})
	fmt.Fprintf(b, "\nfloor-crypto median serial ns/op:")
	for i, a := range d.algs {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Fprintf(b, "%s %s %s", sep, a, num(d.med(a, floorName, "serial", ns)))
	}
	fmt.Fprintf(b, ". — = not run (skipped, or missing from the input).\n\n")
	if busy := d.busy(); len(busy) > 0 {
		fmt.Fprintf(b, "**The machine was busy**: wall time exceeded CPU time by more than 15%% for %s; trust the CPU-time table below more than this one.\n\n", strings.Join(busy, ", "))
	}

	// Serial ratios on CPU time, if measured.
	if d.hasCPU() {
		fmt.Fprintf(b, "## Serial, CPU time: median cpu-ns/op ÷ floor-crypto's (steadier on a shared machine)\n\n")
		table(b, d, func(a, c string) string { return ratio(d, a, c, cpu) }, detail, measure{"cpu-ns/op", cpu})
		fmt.Fprintf(b, "\ncpu-ns/op is the process's CPU time (all threads, GC included) per operation.\n\n")
	}

	// Parallel speedup.
	fmt.Fprintf(b, "## Parallel speedup: median serial ns/op ÷ median parallel ns/op (higher is better; ideal = GOMAXPROCS)\n\n")
	table(b, d, func(a, c string) string {
		s, okS := d.med(a, c, "serial", ns)
		p, okP := d.med(a, c, "parallel", ns)
		if !okS || !okP || p == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f×", s/p)
	}, "")
	_, err := io.WriteString(w, b.String())
	return err
}

// A measure is a column of detailed figures: the median of pick over the
// serial runs of one algorithm, in unit.
type measure struct {
	unit string
	pick func(*samples) []float64
}

// table writes the markdown table every section has: a row per contender,
// a column per algorithm filled by cell, then a column per measure of the
// algorithm alg.
func table(b *strings.Builder, d *data, cell func(alg, contender string) string, alg string, measures ...measure) {
	fmt.Fprintf(b, "| contender |")
	for _, a := range d.algs {
		fmt.Fprintf(b, " %s |", a)
	}
	for _, m := range measures {
		fmt.Fprintf(b, " %s %s |", alg, m.unit)
	}
	fmt.Fprintf(b, "\n|---|")
	for range len(d.algs) + len(measures) {
		fmt.Fprintf(b, "---:|")
	}
	fmt.Fprintf(b, "\n")
	for _, c := range d.contenders {
		fmt.Fprintf(b, "| %s |", bold(c))
		for _, a := range d.algs {
			fmt.Fprintf(b, " %s |", cell(a, c))
		}
		for _, m := range measures {
			fmt.Fprintf(b, " %s |", num(d.med(alg, c, "serial", m.pick)))
		}
		fmt.Fprintf(b, "\n")
	}
}

func ratio(d *data, alg, c string, pick func(*samples) []float64) string {
	v, ok := d.med(alg, c, "serial", pick)
	f, okF := d.med(alg, floorName, "serial", pick)
	if !ok || !okF || f == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", v/f)
}

// hasCPU reports whether any result carries cpu-ns/op.
func (d *data) hasCPU() bool {
	for _, s := range d.runs {
		if len(s.cpu) > 0 {
			return true
		}
	}
	return false
}

// busy lists the serial benchmarks whose median wall time exceeds their
// median CPU time by more than 15%: time the process spent waiting for a CPU.
func (d *data) busy() []string {
	var out []string
	for _, a := range d.algs {
		for _, c := range d.contenders {
			w, okW := d.med(a, c, "serial", ns)
			p, okP := d.med(a, c, "serial", cpu)
			if okW && okP && p > 0 && w > 1.15*p {
				out = append(out, a+"/"+c)
			}
		}
	}
	return out
}

func num(v float64, ok bool) string {
	if !ok {
		return "—"
	}
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func bold(c string) string {
	if strings.HasPrefix(c, focus) {
		return "**" + c + "**"
	}
	return c
}

func uniq(s []string) []string {
	var out []string
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
