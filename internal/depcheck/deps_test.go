package depcheck

import (
	"os/exec"
	"strings"
	"testing"
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
		{mod + "/claims", []string{"github.com/golang-jwt/jwt/v5", mod + "/internal/jsonscan", mod + "/internal/memsize", mod + "/internal/claimsctx"}},
		{mod + "/middleware", []string{"github.com/golang-jwt/jwt/v5", "golang.org/x/time/", mod + "/claims", mod + "/internal/keyalg", mod + "/internal/jsonscan", mod + "/internal/memsize", mod + "/internal/claimsctx", mod + "/internal/loopback", mod + "/internal/dpop"}},
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
