package depcheck

import (
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/internal/checkout"
)

const mod = "github.com/jwtguard/jwtguard"

// deps lists the non-standard packages pkg imports, directly or not
// (tests excluded).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	var list []string
	for _, l := range strings.Fields(string(out)) {
		if l != pkg {
			list = append(list, l)
		}
	}
	return list
}

// TestAdaptersImportOnlyTheirFramework: the Echo adapter never brings in
// Gin, and the other way round.
func TestAdaptersImportOnlyTheirFramework(t *testing.T) {
	for pkg, foreign := range map[string]string{
		mod + "/adapters/echoguard": "github.com/gin-gonic/",
		mod + "/adapters/ginguard":  "github.com/labstack/",
	} {
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, foreign) {
				t.Errorf("%s imports %s", pkg, d)
			}
		}
	}
}

func TestImportsPointInward(t *testing.T) {
	for _, tc := range []struct {
		pkg     string
		allowed []string // prefixes
	}{
		{mod + "/claims", []string{"github.com/golang-jwt/jwt/v5", mod + "/internal/jsonscan", mod + "/internal/memsize", mod + "/internal/claimsctx", mod + "/internal/claimsdecode"}},
		{mod + "/middleware", []string{"github.com/golang-jwt/jwt/v5", "golang.org/x/time/", mod + "/claims", mod + "/internal/keyalg", mod + "/internal/jsonscan", mod + "/internal/memsize", mod + "/internal/claimsctx", mod + "/internal/claimsdecode", mod + "/internal/loopback", mod + "/internal/dpop"}},
		{mod + "/jwks", []string{"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/", "golang.org/x/", mod + "/internal/keyalg", mod + "/internal/jsonscan", mod + "/internal/clock", mod + "/internal/loopback"}},
		// The client's DPoP proofs are signed by the code that checks them.
		{mod + "/adapters/oauth2guard", []string{"golang.org/x/oauth2", mod + "/internal/loopback", mod + "/internal/dpop", mod + "/internal/keyalg", mod + "/internal/jsonscan"}},
		{mod + "/providers", []string{"github.com/golang-jwt/jwt/v5", "github.com/MicahParks/", "golang.org/x/", mod + "/claims", mod + "/jwks", mod + "/middleware", mod + "/internal/"}},
	} {
		for _, d := range deps(t, tc.pkg) {
			ok := false
			for _, a := range tc.allowed {
				ok = ok || strings.HasPrefix(d, a)
			}
			if !ok {
				t.Errorf("%s imports %s", tc.pkg, d)
			}
		}
	}
}

// crossModule are the internal packages of the core that the code of the
// adapter modules imports. Go allows it (the import paths share the
// prefix), but each adapter is published and required on its own, so a
// user can build an adapter of one release against the core of a later
// one: these packages' exported names are an API between the modules,
// changed only by addition (see CONTRIBUTING.md). A new entry is a
// promise too.
var crossModule = map[string][]string{
	mod + "/internal/echorule": {"adapters/echov5guard"},
	mod + "/internal/jsonscan": {"adapters/mcpguard"},
	mod + "/internal/rpcerr":   {"adapters/connectguard", "adapters/grpcguard"},
}

// TestOtherModulesImportOnlyTheirInternalAPI: the non-test code of every
// adapter module imports no internal package of the core but those of
// crossModule, each from the modules it names. Tests, the examples'
// modules (commands, built with their own requirements) and the test-only
// bench and interop may use any: they are supported only against the core
// of their own release (CONTRIBUTING.md), so they promise nothing to a
// later one.
func TestOtherModulesImportOnlyTheirInternalAPI(t *testing.T) {
	root := checkout.Root(t) // the adapter modules are not in the core's zip
	mods, err := filepath.Glob(filepath.Join(root, "adapters", "*", "go.mod"))
	if err != nil || len(mods) == 0 {
		t.Fatalf("no adapter modules found: %v", err)
	}
	got := map[string][]string{}
	for _, gomod := range mods {
		dir := filepath.Dir(gomod)
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			for _, spec := range f.Imports {
				p, _ := strconv.Unquote(spec.Path.Value)
				core := strings.HasPrefix(p, mod+"/") && !strings.HasPrefix(p, mod+"/"+rel+"/")
				if core && strings.Contains(p, "/internal/") && !slices.Contains(got[p], rel) {
					got[p] = append(got[p], rel)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for p := range got {
		slices.Sort(got[p])
	}
	if !maps.EqualFunc(got, crossModule, slices.Equal) {
		t.Fatalf("internal packages of the core imported by adapter modules' code:\n got %v\nwant %v\n(each is an API between modules: list it in crossModule and CONTRIBUTING.md)", got, crossModule)
	}
}
