// Package checkout finds the repository checkout that a test reading the
// repository's other files (README.md, the other modules, the example
// servers) runs in, and skips such a test outside one.
//
// The core's tests can also be run from the module cache (go test
// github.com/jwtguard/jwtguard/...), where the module's zip holds go.work
// but none of the modules it uses besides the core: a zip drops every
// directory that has a go.mod of its own. So go.work alone does not mark
// a checkout; go.work with every module it uses present does. In a clone
// nothing is skipped, and CI (JWTGUARD_REQUIRE_CHECKOUT) fails instead of
// skipping, so that these tests cannot quietly stop running there.
package checkout

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ErrNotCheckout is why Find fails outside a repository checkout.
var ErrNotCheckout = errors.New("not in a checkout of the jwtguard repository")

// Find returns the repository's root: the nearest directory at or above
// the working directory that holds go.work, when every module that go.work
// uses is there too. Otherwise its error wraps ErrNotCheckout and says what
// is missing.
func Find() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; {
		work := filepath.Join(dir, "go.work")
		if _, err := os.Stat(work); err == nil {
			return dir, complete(dir, work)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%w: no go.work at or above %s", ErrNotCheckout, wd)
		}
		dir = parent
	}
}

// complete checks that every module go.work uses has its go.mod.
func complete(root, work string) error {
	uses, err := uses(work)
	if err != nil {
		return err
	}
	for _, u := range uses {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(u), "go.mod")); err != nil {
			return fmt.Errorf("%w: %s uses %s, which is not there (a module zip leaves out the other modules)", ErrNotCheckout, work, u)
		}
	}
	return nil
}

// uses reads the directories of go.work's use directives, single or in a
// block, each one path, quoted or not. A parser of its own rather than
// golang.org/x/mod's, which the core would then require for its users.
func uses(work string) ([]string, error) {
	f, err := os.Open(work)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dirs []string
	inBlock := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		dir := strings.TrimSpace(line)
		switch rest, isUse := strings.CutPrefix(dir, "use"); {
		case dir == "":
			continue
		case inBlock:
			if dir == ")" {
				inBlock = false
				continue
			}
		case isUse && strings.TrimSpace(rest) == "(":
			inBlock = true
			continue
		case isUse && rest != strings.TrimLeft(rest, " \t"):
			dir = strings.TrimSpace(rest)
		default:
			continue
		}
		if u, err := strconv.Unquote(dir); err == nil {
			dir = u
		}
		dirs = append(dirs, dir)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%s uses no module", work)
	}
	return dirs, nil
}

// Root is Find for a test: outside a checkout it skips t, saying why,
// unless JWTGUARD_REQUIRE_CHECKOUT is set (CI sets it), when it fails t.
func Root(t testing.TB) string {
	t.Helper()
	root, err := Find()
	if err != nil {
		Skip(t, err)
	}
	return root
}

// Skip ends t for err, what Find returned: a skip for ErrNotCheckout
// (a failure where JWTGUARD_REQUIRE_CHECKOUT is set), else a failure.
func Skip(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotCheckout) || os.Getenv("JWTGUARD_REQUIRE_CHECKOUT") != "" {
		t.Fatal(err)
	}
	t.Skipf("this test reads the repository beyond the core module: %v", err)
}
