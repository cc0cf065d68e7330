package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/jwtguard/jwtguard/examples/grpc/internal/servertest"
)

func config(env *servertest.Env, expiresIn time.Duration) Config {
	return Config{Addr: env.Addr, TokenURL: env.Issuer.TokenURL(), ClientID: "grpc-example-test",
		Audience: servertest.Audience, AdminAudience: servertest.AdminAudience, ExpiresIn: expiresIn, MaxWait: 20 * time.Second}
}

func run(t *testing.T, cfg Config) (*Report, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	rep, err := Run(ctx, cfg, &out)
	if err != nil {
		t.Fatalf("Run: %v\noutput:\n%s", err, out.String())
	}
	return rep, out.String()
}

func (a Attempt) String() string { return fmt.Sprintf("%s %v %s", a.Method, a.Code, a.Reason) }

// TestWalkThrough runs the client against a real server: each refusal is
// the one notes.proto promises, and after the token expires the server
// says so once, the client refreshes once and the retry passes.
func TestWalkThrough(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, 0)
	rep, out := run(t, config(env, 3*time.Second))
	var got []string
	for _, a := range rep.Attempts {
		got = append(got, a.String())
	}
	want := []string{
		"Check OK ",
		"Me Unauthenticated NO_TOKEN",
		"Me OK ",
		"ListNotes OK ",
		"AddNote PermissionDenied ACCESS_TOKEN_SCOPE_INSUFFICIENT",
		"AddNote OK ",
		"Transfer Unauthenticated INSUFFICIENT_USER_AUTHENTICATION",
		"Stats PermissionDenied AUDIENCE",
		"Stats OK ",
		"Me Unauthenticated ACCESS_TOKEN_EXPIRED",
		"Me OK ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("attempts:\n%s\nwant:\n%s\noutput:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
	if rep.Refreshes != 1 {
		t.Errorf("%d refreshes, want 1", rep.Refreshes)
	}
	if rep.Me.GetSub() != "user-123" || rep.Me.GetIss() != env.Issuer.URL() {
		t.Errorf("Me after the refresh = %v", rep.Me)
	}
	for _, line := range []string{
		`client → server: AddNote → PermissionDenied ACCESS_TOKEN_SCOPE_INSUFFICIENT (`,
		`scope="notes:write")`,
		`Transfer needs a new login (acr_values "urn:example:acr:mfa", max_age 300 s)`,
		"client → server: Me → Unauthenticated ACCESS_TOKEN_EXPIRED",
		"client → authorization server: POST /token (grant_type=refresh_token) → a new access token; retrying the call once\nclient → server: Me → OK",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

// TestWalkThroughLeeway: a server with leeway accepts the token a while
// past its exp; the client keeps calling, quietly, until the server calls
// it expired, and refreshes once.
func TestWalkThroughLeeway(t *testing.T) {
	t.Parallel()
	env := servertest.Start(t, 2*time.Second)
	rep, out := run(t, config(env, 2*time.Second))
	if rep.Refreshes != 1 {
		t.Errorf("%d refreshes, want 1\n%s", rep.Refreshes, out)
	}
	// After Stats: Me passes at least once within the leeway, then the
	// expired refusal, then the retry.
	var tail []string
	for i, a := range rep.Attempts {
		if a.Method == "Stats" && a.Code == codes.OK {
			for _, b := range rep.Attempts[i+1:] {
				tail = append(tail, b.String())
			}
		}
	}
	n := len(tail)
	if n < 3 || tail[0] != "Me OK " || tail[n-2] != "Me Unauthenticated ACCESS_TOKEN_EXPIRED" || tail[n-1] != "Me OK " {
		t.Errorf("attempts after Stats: %q", tail)
	}
	for _, a := range tail[:n-2] {
		if a != "Me OK " {
			t.Errorf("attempts after Stats: %q", tail)
		}
	}
	if strings.Count(out, "client → server: Me → OK\n") != 2 || strings.Count(out, "the server still accepts the token") != 1 {
		t.Errorf("the calls within the leeway were printed:\n%s", out)
	}
}

func TestLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50051":        true,
		"127.0.0.2:1":            true,
		"[::1]:50051":            true,
		"localhost:50051":        true,
		"notes.example.com:443":  false,
		"192.0.2.1:50051":        false,
		"[2001:db8::1]:50051":    false,
		"localhost.example:1234": false,
	} {
		got, err := (&client{cfg: Config{Addr: addr}}).loopback()
		if err != nil || got != want {
			t.Errorf("loopback(%s) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := (&client{cfg: Config{Addr: "no-port"}}).loopback(); err == nil {
		t.Error("an address without a port passed")
	}
}

func TestExpiresInWholeSeconds(t *testing.T) {
	if _, err := Run(context.Background(), Config{Addr: "127.0.0.1:1", ExpiresIn: 500 * time.Millisecond}, &bytes.Buffer{}); err == nil {
		t.Error("an expires-in under a second passed")
	}
}
