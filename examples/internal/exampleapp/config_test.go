package exampleapp

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/checkout"
)

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want Config
		bad  bool
	}{
		{"defaults: dev mode", nil, nil, Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"env fallback", nil, map[string]string{"ADDR": ":9", "OAUTH_ISSUER": "https://i", "OAUTH_JWKS_URL": "https://i/k", "OAUTH_AUDIENCE": "https://a", "OAUTH_ADMIN_AUDIENCE": "https://b", "OAUTH_LEEWAY": "1m"},
			Config{Addr: ":9", Issuers: []string{"https://i"}, JWKSURL: "https://i/k", Audience: "https://a", AdminAudience: "https://b", Leeway: time.Minute, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"several issuers from the environment", nil, map[string]string{"OAUTH_ISSUER": " https://a  https://b "},
			Config{Addr: "127.0.0.1:8080", Issuers: []string{"https://a", "https://b"}, Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"several -issuer flags win over the environment", []string{"-issuer", "https://a", "-issuer", "https://b"}, map[string]string{"OAUTH_ISSUER": "https://env"},
			Config{Addr: "127.0.0.1:8080", Issuers: []string{"https://a", "https://b"}, Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"blank OAUTH_ISSUER is dev mode", nil, map[string]string{"OAUTH_ISSUER": "   "}, Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"jwks url with two issuers", []string{"-jwks-url", "https://i/k", "-issuer", "https://a", "-issuer", "https://b"}, nil, Config{}, true},
		{"empty -issuer", []string{"-issuer", ""}, nil, Config{}, true},
		{"flag wins over env", []string{"-audience", "https://flag", "-leeway", "0s"}, map[string]string{"OAUTH_AUDIENCE": "https://env", "OAUTH_LEEWAY": "1m"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://flag", AdminAudience: "https://flag/admin", Leeway: 0, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"empty env is unset", nil, map[string]string{"OAUTH_AUDIENCE": "", "ADDR": ""}, Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"bad leeway", []string{"-leeway", "soon"}, nil, Config{}, true},
		{"unknown-kid cooldown", []string{"-unknown-kid-cooldown", "2s"}, map[string]string{"OAUTH_UNKNOWN_KID_COOLDOWN": "9s"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 2 * time.Second, ReplayStore: "memory"}, false},
		{"unknown-kid cooldown from the environment", nil, map[string]string{"OAUTH_UNKNOWN_KID_COOLDOWN": "9s"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 9 * time.Second, ReplayStore: "memory"}, false},
		{"bad unknown-kid cooldown", []string{"-unknown-kid-cooldown", "-1s"}, nil, Config{}, true},
		{"negative leeway", []string{"-leeway", "-1s"}, nil, Config{}, true},
		{"jwks url without issuer", []string{"-jwks-url", "https://i/k"}, nil, Config{}, true},
		{"stray argument", []string{"extra"}, nil, Config{}, true},
		{"DPoP flags", []string{"-dpop-nonce", "-replay-store", "redis://127.0.0.1:6379/2"}, nil,
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, DPoPNonce: true, ReplayStore: "redis://127.0.0.1:6379/2"}, false},
		{"DPoP env", nil, map[string]string{"OAUTH_DPOP_NONCE": "true", "OAUTH_REPLAY_STORE": "redis://r:1"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, DPoPNonce: true, ReplayStore: "redis://r:1"}, false},
		{"-dpop-nonce=false wins over env", []string{"-dpop-nonce=false"}, map[string]string{"OAUTH_DPOP_NONCE": "true"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"bad OAUTH_DPOP_NONCE", nil, map[string]string{"OAUTH_DPOP_NONCE": "yes please"}, Config{}, true},
		{"OAUTH_DPOP_NONCE is true or false, not 1", nil, map[string]string{"OAUTH_DPOP_NONCE": "1"}, Config{}, true},
		{"a bad OAUTH_DPOP_NONCE is not read when the flag is given", []string{"-dpop-nonce=false"}, map[string]string{"OAUTH_DPOP_NONCE": "yes"},
			Config{Addr: "127.0.0.1:8080", Audience: "https://api.example.com", AdminAudience: "https://api.example.com/admin", Leeway: 30 * time.Second, UnknownKIDCooldown: 30 * time.Second, ReplayStore: "memory"}, false},
		{"replay store of another kind", []string{"-replay-store", "memcached://m:1"}, nil, Config{}, true},
		{"redis URL without a port", []string{"-replay-store", "redis://r"}, nil, Config{}, true},
		{"redis URL with a bad db", []string{"-replay-store", "redis://r:1/x"}, nil, Config{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseFlags("x", tc.args, env(tc.env), io.Discard)
			if tc.bad {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestFlagsAreDocumented: every flag, and the variable it falls back to,
// is named where the servers are described: README.md's paragraph on
// them, examples/README.md's table, and examples/grpc/README.md (the gRPC
// server takes the same flags). A flag added here and not there is one
// that no user finds.
func TestFlagsAreDocumented(t *testing.T) {
	root := checkout.Root(t) // examples/grpc is a module of its own
	var usage strings.Builder
	if _, err := ParseFlags("example", []string{"-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	flags := regexp.MustCompile(`(?m)^  -(\S+)`).FindAllStringSubmatch(usage.String(), -1)
	envs := regexp.MustCompile(`env ([A-Z_]+)`).FindAllStringSubmatch(usage.String(), -1)
	if len(flags) == 0 || len(envs) != len(flags) {
		t.Fatalf("usage lists %d flags and %d variables:\n%s", len(flags), len(envs), usage.String())
	}
	read := func(path string) string {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	readme, _, _ := strings.Cut(read("README.md"), "## Development")
	_, readme, _ = strings.Cut(readme, "## The example servers")
	table, grpc := read("examples/README.md"), read("examples/grpc/README.md")
	_, grpc, _ = strings.Cut(grpc, "The flags and environment variables are the HTTP examples'")
	grpc, _, _ = strings.Cut(grpc, ")")
	for i, f := range flags {
		name, env := "`-"+f[1]+"`", "`"+envs[i][1]+"`"
		if !strings.Contains(readme, name) || !strings.Contains(readme, env) {
			t.Errorf("README.md's example servers do not name %s and %s", name, env)
		}
		if !strings.Contains(table, "| "+name+" | "+env+" |") {
			t.Errorf("examples/README.md's table has no row for %s, %s", name, env)
		}
		if f[1] != "addr" && !strings.Contains(grpc, name) { // -addr is said apart: its default differs
			t.Errorf("examples/grpc/README.md's list of flags does not name %s", name)
		}
	}
}
