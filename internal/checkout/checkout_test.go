package checkout

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// write creates the files (name to content) under a new directory.
func write(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const work = `// a comment
go 1.26.0

use ./single // trailing comment

use (
	.
	./adapters/a
	"./quoted dir"
)

replace example.com/x v1.0.0 => ./notused
`

func TestUsesReadsEveryForm(t *testing.T) {
	dir := write(t, map[string]string{"go.work": work})
	got, err := uses(filepath.Join(dir, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"./single", ".", "./adapters/a", "./quoted dir"}; !slices.Equal(got, want) {
		t.Fatalf("uses = %q, want %q", got, want)
	}
}

// A module zip holds go.work but not the modules it uses besides the
// root's: that is no checkout. With them all there, it is one.
func TestCompleteNeedsEveryModule(t *testing.T) {
	zip := map[string]string{"go.work": work, "go.mod": "module x\n"}
	dir := write(t, zip)
	err := complete(dir, filepath.Join(dir, "go.work"))
	if !errors.Is(err, ErrNotCheckout) {
		t.Fatalf("without the other modules: %v, want ErrNotCheckout", err)
	}
	want := ErrNotCheckout.Error() + ": " + filepath.Join(dir, "go.work") + " uses ./single, which is not there (a module zip leaves out the other modules)"
	if err.Error() != want {
		t.Fatalf("error:\n got %s\nwant %s", err, want)
	}
	zip["single/go.mod"], zip["adapters/a/go.mod"], zip["quoted dir/go.mod"] = "module s\n", "module a\n", "module q\n"
	dir = write(t, zip)
	if err := complete(dir, filepath.Join(dir, "go.work")); err != nil {
		t.Fatalf("with every module: %v", err)
	}
}

func TestFindFromASubdirectory(t *testing.T) {
	dir := write(t, map[string]string{"go.work": "use .\n", "go.mod": "module x\n", "sub/pkg/x.go": "package pkg\n"})
	t.Chdir(filepath.Join(dir, "sub", "pkg"))
	got, err := Find()
	if err != nil || got != dir {
		t.Fatalf("Find() = %q, %v; want %q", got, err, dir)
	}
}

func TestFindWithoutGoWork(t *testing.T) {
	dir := write(t, map[string]string{"go.mod": "module x\n"})
	t.Chdir(dir)
	if _, err := Find(); !errors.Is(err, ErrNotCheckout) {
		t.Fatalf("Find() without go.work: %v, want ErrNotCheckout", err)
	}
}
