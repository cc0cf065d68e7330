package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// chart draws, as a standalone SVG, each contender's median cost as a
// multiple of floor-crypto's: one panel per mode (serial, parallel), one
// group of bars per algorithm, one bar per contender, with the 1.0× line
// drawn across. jwtguard's contenders are drawn in the accent colour. The
// axis is cut at 3×; a longer bar is marked with its value.
func chart(d *data) string {
	const (
		left, barH, gap, groupGap, panelGap = 190, 14, 3, 16, 36
		plotW, maxRatio, top                = 520, 3.0, 40
	)
	modes := []string{"serial", "parallel"}
	var b strings.Builder
	y := top
	var body strings.Builder
	for _, mode := range modes {
		fmt.Fprintf(&body, `<text x="10" y="%d" font-weight="bold">%s: median ns/op ÷ floor-crypto's (%s), lower is better</text>`+"\n",
			y, strings.ToUpper(mode[:1])+mode[1:], mode)
		y += 14
		for _, alg := range d.algs {
			floor, ok := d.med(alg, floorName, mode, ns)
			if !ok || floor == 0 {
				continue
			}
			fmt.Fprintf(&body, `<text x="10" y="%d" font-style="italic">%s</text>`+"\n", y+barH, alg)
			y += barH + gap
			start := y
			for _, c := range d.contenders {
				v, ok := d.med(alg, c, mode, ns)
				if !ok {
					continue
				}
				r := v / floor
				w := math.Min(r, maxRatio) / maxRatio * plotW
				fill := "#9aa5b1"
				if strings.HasPrefix(c, focus) {
					fill = "#d9480f"
				}
				fmt.Fprintf(&body, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+barH-3, html.EscapeString(c))
				fmt.Fprintf(&body, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, math.Max(w, 1), barH, fill)
				label := fmt.Sprintf("%.2f×", r)
				if r < 0.1 {
					label = fmt.Sprintf("%.3f×", r)
				}
				fmt.Fprintf(&body, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(left)+math.Max(w, 1)+4, y+barH-3, label)
				y += barH + gap
			}
			one := float64(left) + plotW/maxRatio
			fmt.Fprintf(&body, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#333" stroke-dasharray="3,3"/>`+"\n", one, start-2, one, y)
			y += groupGap
		}
		y += panelGap - groupGap
	}
	width := left + plotW + 80
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, y)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="18" font-size="13" font-weight="bold">One token verified: cost ÷ the bare signature check (dashed: 1×; bars cut at %g×)</text>`+"\n", maxRatio)
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
	return b.String()
}
