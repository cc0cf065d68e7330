package readmecheck

import (
	"os"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/internal/checkout"
)

// snippets maps a README heading to the Example file its Go snippet must
// come from, line for line (indentation aside).
var snippets = map[string]string{
	"## Use with net/http": "../../middleware/example_test.go",
	"## Use with Echo":     "../../adapters/echoguard/example_test.go",
	"## Use with Gin":      "../../adapters/ginguard/example_test.go",
	"## Use with Echo v5":  "../../adapters/echov5guard/example_test.go",
	"## MCP servers":       "../../adapters/mcpguard/example_test.go",
	"## gRPC":              "../../adapters/grpcguard/example_test.go",
	"## Several issuers":   "../../middleware/example_test.go",
	"## Sender-constrained tokens: DPoP and mTLS": "../../middleware/example_test.go",
}

func TestREADMESnippetsAreExamples(t *testing.T) {
	checkout.Root(t) // the snippets of the adapter modules are theirs
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for heading, file := range snippets {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(src), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		_, after, ok := strings.Cut(string(readme), heading+"\n")
		if !ok {
			t.Errorf("README has no %q section", heading)
			continue
		}
		_, block, ok := strings.Cut(after, "```go\n")
		block, _, ok2 := strings.Cut(block, "```")
		if !ok || !ok2 {
			t.Errorf("%s: no Go code block", heading)
			continue
		}
		n := 0
		for _, l := range strings.Split(block, "\n") {
			if l = strings.TrimSpace(l); l == "" {
				continue
			}
			n++
			if !lines[l] {
				t.Errorf("%s: line not in %s: %s", heading, file, l)
			}
		}
		if n >= 20 {
			t.Errorf("%s: snippet has %d lines, promised under 20", heading, n)
		}
	}
}
