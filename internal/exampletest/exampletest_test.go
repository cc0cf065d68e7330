package exampletest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/internal/checkout"
)

// The sources go test must see consulted are the example's closure in the
// repository: its own files, the packages it imports from this
// repository (in its module or another of the workspace's), and the
// modules' go.mod and go.sum; nothing outside the repository.
func TestConsultSourcesIsTheExampleClosure(t *testing.T) {
	root := checkout.Root(t)
	work := append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	for _, tc := range []struct {
		dir, pkg string
		want     []string
	}{
		{root, "./examples/nethttp", []string{
			"examples/nethttp/main.go",
			"examples/internal/exampleapp/handlers.go",
			"middleware/guard.go",
			"jwks/cache.go",
			"go.mod", "go.sum",
		}},
		{filepath.Join(root, "examples", "mcp"), ".", []string{
			"examples/mcp/main.go",
			"adapters/mcpguard/mcpguard.go",
			"middleware/guard.go",
			"examples/mcp/go.mod", "examples/mcp/go.sum",
			"adapters/mcpguard/go.mod",
			"go.mod",
		}},
	} {
		sources.files = nil
		if err := consultSources(root, tc.dir, work, tc.pkg); err != nil {
			t.Fatal(err)
		}
		got := sources.files
		// A file added to a package changes its directory; go.work is
		// what the modules of their own are built in.
		tc.want = append(tc.want, "examples/internal/exampleapp", "middleware", "go.work", "go.work.sum")
		for _, f := range tc.want {
			if !slices.Contains(got, filepath.Join(root, filepath.FromSlash(f))) {
				t.Errorf("%s: %s not consulted", tc.pkg, f)
			}
		}
		for _, f := range got {
			if !strings.HasPrefix(f, root+string(filepath.Separator)) {
				t.Errorf("%s: %s is outside the repository", tc.pkg, f)
			}
			if strings.HasSuffix(f, "_test.go") {
				t.Errorf("%s: %s is a test file, not a source of the binary", tc.pkg, f)
			}
		}
	}
}
