package middleware_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// issuerOptions are the package's options made by issuerOption: those that
// configure one issuer rather than the Guard.
func issuerOptions(t *testing.T) (names []string, optionDoc string) {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == "Option" {
						optionDoc = d.Doc.Text()
					}
				}
			case *ast.FuncDecl:
				if d.Recv != nil || !d.Name.IsExported() || d.Body == nil {
					continue
				}
				ast.Inspect(d.Body, func(n ast.Node) bool {
					if r, ok := n.(*ast.ReturnStmt); ok && len(r.Results) == 1 {
						if c, ok := r.Results[0].(*ast.CallExpr); ok {
							if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "issuerOption" && !slices.Contains(names, d.Name.Name) {
								names = append(names, d.Name.Name)
							}
						}
					}
					return true
				})
			}
		}
	}
	if len(names) == 0 || optionDoc == "" {
		t.Fatalf("found issuer options %v, Option's doc %q", names, optionDoc)
	}
	return names, optionDoc
}

// TestIssuerOptionsAreListed: Option's doc and README name exactly the
// issuer options, since New refuses an issuer option where only a Guard
// option may go and the other way round: a user must be able to tell
// which is which.
func TestIssuerOptionsAreListed(t *testing.T) {
	t.Parallel()
	names, doc := issuerOptions(t)
	slices.Sort(names)
	_, list, _ := strings.Cut(strings.Join(strings.Fields(doc), " "), "Some are issuer options (")
	list, _, _ = strings.Cut(list, ")")
	if got := sortedFields(list, ", "); !slices.Equal(got, names) {
		t.Errorf("Option's doc lists the issuer options\n %v\nwant\n %v", got, names)
	}

	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sentence string
	for _, para := range strings.Split(string(readme), "\n\n") {
		if before, _, ok := strings.Cut(strings.Join(strings.Fields(para), " "), " are *issuer options*:"); ok {
			sentence = before
		}
	}
	if sentence == "" {
		t.Fatal("README has no paragraph naming the issuer options")
	}
	var got []string
	for i, part := range strings.Split(sentence, "`") {
		if i%2 == 1 {
			got = append(got, part)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, names) {
		t.Errorf("README names the issuer options\n %v\nwant\n %v", got, names)
	}
}

// sortedFields is s split at sep, trimmed, without a leading "and ", sorted.
func sortedFields(s, sep string) []string {
	var out []string
	for _, f := range strings.Split(s, sep) {
		out = append(out, strings.TrimPrefix(strings.TrimSpace(f), "and "))
	}
	slices.Sort(out)
	return out
}

// TestGuardOptionsNameThemselves: the name each Guard option records, for
// the error of one given to an issuer, is its own function's.
func TestGuardOptionsNameThemselves(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(node ast.Node) bool {
				c, ok := node.(*ast.CallExpr)
				if !ok {
					return true
				}
				if id, ok := c.Fun.(*ast.Ident); !ok || id.Name != "guardOption" {
					return true
				}
				n++
				if lit, ok := c.Args[0].(*ast.BasicLit); !ok || lit.Value != strconv.Quote(fd.Name.Name) {
					t.Errorf("%s: guardOption named %s", fd.Name.Name, types.ExprString(c.Args[0]))
				}
				return true
			})
		}
	}
	if n == 0 {
		t.Fatal("no guardOption call found")
	}
}
