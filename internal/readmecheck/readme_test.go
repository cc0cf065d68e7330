package readmecheck

import (
	"os"
	"path/filepath"
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

// TestPackagesGoVersions: the Go column of README's package table is the
// go line of each package's module, so that a dependency that raises an
// adapter's minimum Go cannot leave the README promising less.
func TestPackagesGoVersions(t *testing.T) {
	root := checkout.Root(t) // the adapter modules' go.mod are theirs
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "## Packages\n\n| package | job | Go |\n|---|---|---|\n")
	if !ok {
		t.Fatal("README has no Packages table with a Go column")
	}
	rows := 0
	for line := range strings.Lines(table) {
		if !strings.HasPrefix(line, "|") {
			break
		}
		rows++
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		_, pkg, _ := strings.Cut(cells[0], "`")
		pkg, _, _ = strings.Cut(pkg, "`")
		got := strings.TrimSpace(cells[len(cells)-1])
		if want := moduleGo(t, root, pkg); got != want {
			t.Errorf("README: %s needs Go %s, says %s", pkg, want, got)
		}
	}
	if rows == 0 {
		t.Fatal("README's Packages table has no rows")
	}
}

// moduleGo is the language version (1.N) of the go line of the module
// that holds the package in dir pkg of root.
func moduleGo(t *testing.T, root, pkg string) string {
	t.Helper()
	for dir := filepath.Join(root, filepath.FromSlash(pkg)); strings.HasPrefix(dir, root); dir = filepath.Dir(dir) {
		src, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(src)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
				major, rest, _ := strings.Cut(v, ".")
				minor, _, _ := strings.Cut(rest, ".")
				return major + "." + minor
			}
		}
		t.Fatalf("%s/go.mod has no go line", dir)
	}
	t.Fatalf("no go.mod holds %s", pkg)
	return ""
}
