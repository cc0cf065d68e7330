// Command client calls the example Notes service (examples/grpc) the way
// a client of a jwtguard-protected gRPC API does, printing each step as
// "who → whom: what":
//
//	go run ./client -addr 127.0.0.1:50051 -token-url http://127.0.0.1:PORT/token
//
// (the server prints the command, with its dev issuer's token URL). It gets
// an access token and a refresh token by the client credentials grant,
// sends it with grpcguard.Credentials, checks the health service without
// one, meets each refusal the service gives (a missing scope, a step-up, a
// token for another audience) and reads its ErrorInfo, and then waits for
// the token to expire: the server answers ACCESS_TOKEN_EXPIRED, and the
// credentials' interceptor spends the refresh token once (the
// refresh_token grant) and retries the call once.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/jwtguard/jwtguard/adapters/grpcguard"
	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
	"github.com/jwtguard/jwtguard/examples/internal/exampleapp"

	notesv1 "github.com/jwtguard/jwtguard/examples/grpc/notes/v1"
)

// Config is what the flags set.
type Config struct {
	Addr          string        // the server
	TokenURL      string        // the authorization server's token endpoint
	ClientID      string        // this client's id there
	Audience      string        // the server's -audience: the resource the tokens are for
	AdminAudience string        // the server's -admin-audience
	ExpiresIn     time.Duration // the access tokens' lifetime asked for (expires_in)
	MaxWait       time.Duration // how long to wait for the server to call the token expired
}

// Attempt is one call the client sent, as it saw the answer: each retry
// is an attempt of its own.
type Attempt struct {
	Method string // the method's short name: "Me", "Check", …
	Code   codes.Code
	Reason string // the ErrorInfo reason of a refusal, or ""
}

// Report is what happened, for the test to check.
type Report struct {
	Attempts  []Attempt
	Refreshes int64 // refresh_token grants the credentials made
	// Me is the answer to the call after the token expired: the one the
	// refreshed token got.
	Me *notesv1.MeResponse
}

func main() {
	var cfg Config
	flag.StringVar(&cfg.Addr, "addr", "127.0.0.1:50051", "the Notes server (plaintext on a loopback address, else TLS)")
	flag.StringVar(&cfg.TokenURL, "token-url", "", "the token endpoint (the server prints its dev issuer's); required")
	flag.StringVar(&cfg.ClientID, "client-id", "grpc-example", "the client id sent to the token endpoint")
	flag.StringVar(&cfg.Audience, "audience", "https://api.example.com", "the server's -audience")
	flag.StringVar(&cfg.AdminAudience, "admin-audience", "", "the server's -admin-audience; default <audience>/admin")
	flag.DurationVar(&cfg.ExpiresIn, "expires-in", 5*time.Second, "the lifetime of the access tokens asked for (whole seconds)")
	flag.DurationVar(&cfg.MaxWait, "max-wait", 2*time.Minute, "how long to wait, after expiry, for the server to call the token expired")
	flag.Parse()
	if cfg.TokenURL == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: client -token-url URL [-addr host:port] (see -h)")
		os.Exit(2)
	}
	if cfg.AdminAudience == "" {
		cfg.AdminAudience = cfg.Audience + "/admin"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	_, err := Run(ctx, cfg, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		os.Exit(1)
	}
}

// Run plays the walk-through against the server, printing each step to
// out. It fails when the service does not answer as notes.proto says.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	if cfg.ExpiresIn < time.Second {
		return nil, fmt.Errorf("-expires-in %v: the token endpoint counts whole seconds", cfg.ExpiresIn)
	}
	c := &client{cfg: cfg, out: out, rep: &Report{}}
	tc, err := c.transport()
	if err != nil {
		return nil, err
	}
	c.tc = tc

	// 1. The health service needs no token: a connection without
	// credentials.
	plain, err := grpc.NewClient(cfg.Addr, grpc.WithTransportCredentials(tc), grpc.WithUnaryInterceptor(c.trace(nil)))
	if err != nil {
		return nil, err
	}
	defer plain.Close()
	hr, err := healthpb.NewHealthClient(plain).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return nil, fmt.Errorf("health check: %w", err)
	}
	c.say("client: the health service needs no token: %s", hr.GetStatus())
	_, err = notesv1.NewNotesClient(plain).Me(ctx, &notesv1.MeRequest{})
	if err := c.want(err, codes.Unauthenticated, "NO_TOKEN"); err != nil {
		return nil, err
	}
	c.say("client: every Notes method needs one")

	// 2. An access token for the API, with a refresh token.
	scopes := []string{exampleapp.ScopeNotesRead, exampleapp.ScopeTransfers}
	tok, err := c.token(ctx, cfg.Audience, scopes...)
	if err != nil {
		return nil, err
	}
	// The server is the judge of expiry: a client's clock drifts, and the
	// server allows its own leeway. So this client holds the token as if
	// it never expired (a real one would also renew ahead of exp, as
	// oauth2's token sources do by the local clock) and refreshes it when
	// the server says ACCESS_TOKEN_EXPIRED, the one refusal a refresh
	// answers.
	expiry := tok.Expiry
	tok.Expiry = time.Time{}
	refresh := oauth2guard.ConfigRefresher(&oauth2.Config{ClientID: cfg.ClientID, Endpoint: oauth2.Endpoint{TokenURL: cfg.TokenURL}})
	var quiet atomic.Bool
	creds := grpcguard.NewCredentials(oauth2.StaticTokenSource(tok), func(ctx context.Context, stale *oauth2.Token) (*oauth2.Token, error) {
		c.rep.Refreshes++ // on the calling goroutine: the credentials refresh one at a time
		n, err := refresh(ctx, stale)
		if err != nil {
			return nil, err
		}
		c.say("client → authorization server: POST /token (grant_type=refresh_token) → a new access token; retrying the call once")
		quiet.Store(false)
		n.Expiry = time.Time{}
		return n, nil
	}, c.credsOptions()...)
	api, err := c.dial(creds, &quiet)
	if err != nil {
		return nil, err
	}
	defer api.Close()
	notes := notesv1.NewNotesClient(api)

	me, err := notes.Me(ctx, &notesv1.MeRequest{})
	if err != nil {
		return nil, fmt.Errorf("calling Me: %w", err)
	}
	c.say("client: the server says I am %q (client_id %q, scopes %q), verified by %s", me.GetSub(), me.GetClientId(), me.GetScopes(), me.GetIss())
	list, err := notes.ListNotes(ctx, &notesv1.ListNotesRequest{})
	if err != nil {
		return nil, fmt.Errorf("calling ListNotes: %w", err)
	}
	c.say("client: %d note(s); the first: %q", len(list.GetNotes()), first(list.GetNotes()))

	// 3. A missing scope: PermissionDenied, which a refresh cannot mend (a
	// refreshed token has the same scopes), so the interceptor returns it.
	_, err = notes.AddNote(ctx, &notesv1.AddNoteRequest{Text: "hello over gRPC"})
	if err := c.want(err, codes.PermissionDenied, "ACCESS_TOKEN_SCOPE_INSUFFICIENT"); err != nil {
		return nil, err
	}
	info, _ := grpcguard.ErrorInfo(err)
	c.say("client: AddNote needs scope %q (ErrorInfo metadata scope): asking the authorization server for a token with it", info.GetMetadata()["scope"])
	writer, err := c.dialFor(ctx, cfg.Audience, exampleapp.ScopeNotesWrite)
	if err != nil {
		return nil, err
	}
	defer writer.Close()
	added, err := notesv1.NewNotesClient(writer).AddNote(ctx, &notesv1.AddNoteRequest{Text: "hello over gRPC"})
	if err != nil {
		return nil, fmt.Errorf("calling AddNote: %w", err)
	}
	c.say("client: added note %d by %q", added.GetNote().GetId(), added.GetNote().GetAuthor())

	// 4. A step-up (RFC 9470): the scope is there, the login is not strong
	// or recent enough. The ErrorInfo says what to ask for, as the
	// challenge in the response metadata does; a refresh cannot raise the
	// level.
	_, err = notes.Transfer(ctx, &notesv1.TransferRequest{})
	if err := c.want(err, codes.Unauthenticated, "INSUFFICIENT_USER_AUTHENTICATION"); err != nil {
		return nil, err
	}
	info, _ = grpcguard.ErrorInfo(err)
	acr, maxAge := info.GetMetadata()["acr_values"], info.GetMetadata()["max_age"]
	if acr == "" && maxAge == "" {
		return nil, fmt.Errorf("calling Transfer: no acr_values or max_age in the ErrorInfo metadata %v", info.GetMetadata())
	}
	c.say("client: Transfer needs a new login (acr_values %q, max_age %s s): a user would log in again; a client credentials grant cannot", acr, maxAge)

	// 5. Stats is for the admin audience: the API's token is refused as
	// another resource's, and a token for the admin audience passes.
	_, err = notes.Stats(ctx, &notesv1.StatsRequest{})
	if err := c.want(err, codes.PermissionDenied, "AUDIENCE"); err != nil {
		return nil, err
	}
	c.say("client: Stats is another resource (%s): asking for a token for it", cfg.AdminAudience)
	admin, err := c.dialFor(ctx, cfg.AdminAudience, exampleapp.ScopeAdmin)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	st, err := notesv1.NewNotesClient(admin).Stats(ctx, &notesv1.StatsRequest{})
	if err != nil {
		return nil, fmt.Errorf("calling Stats: %w", err)
	}
	c.say("client: the server holds %d note(s), %d added since it started", st.GetNotes(), st.GetAdded())

	// 6. The first token expires. The server allows its -leeway of clock
	// skew past exp, so the client calls once a second until the server
	// says ACCESS_TOKEN_EXPIRED; then the credentials refresh and retry.
	c.say("… the access token expires at %s; the server may accept it for its -leeway longer …", expiry.Format(time.TimeOnly))
	if err := sleep(ctx, time.Until(expiry)+100*time.Millisecond); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(cfg.MaxWait)
	before, waiting := c.rep.Refreshes, false
	for {
		quiet.Store(true) // the calls the leeway lets through are not printed
		me, err = notes.Me(ctx, &notesv1.MeRequest{})
		quiet.Store(false)
		if err != nil {
			return nil, fmt.Errorf("calling Me after expiry: %w", err)
		}
		if c.rep.Refreshes > before {
			break
		}
		if !waiting {
			c.say("client → server: Me → OK: the server still accepts the token (its -leeway); calling once a second until it says expired")
			waiting = true
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the server still accepted the token %v after its expiry (its -leeway is longer than -max-wait?)", cfg.MaxWait)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	c.rep.Me = me
	c.say("client: the call passed with the refreshed token (%d refresh in all); the code that called Me saw only its answer", c.rep.Refreshes)
	return c.rep, nil
}

type client struct {
	cfg Config
	tc  credentials.TransportCredentials
	out io.Writer
	mu  sync.Mutex // out and rep.Attempts
	rep *Report
}

func (c *client) say(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, format+"\n", args...)
}

// loopback reports whether the server is on this machine: only there may
// a token travel without TLS.
func (c *client) loopback() (bool, error) {
	host, _, err := net.SplitHostPort(c.cfg.Addr)
	if err != nil {
		return false, fmt.Errorf("-addr %q: %w", c.cfg.Addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}

func (c *client) transport() (credentials.TransportCredentials, error) {
	lo, err := c.loopback()
	if err != nil {
		return nil, err
	}
	if lo {
		return insecure.NewCredentials(), nil
	}
	return credentials.NewTLS(nil), nil
}

func (c *client) credsOptions() []grpcguard.CredentialsOption {
	if lo, _ := c.loopback(); lo {
		return []grpcguard.CredentialsOption{grpcguard.WithInsecure()}
	}
	return nil
}

// dial connects with creds: the token on every call, and the credentials'
// interceptor outside the trace, so the trace sees each attempt, a retry
// included.
func (c *client) dial(creds *grpcguard.Credentials, quiet *atomic.Bool) (*grpc.ClientConn, error) {
	return grpc.NewClient(c.cfg.Addr,
		grpc.WithTransportCredentials(c.tc),
		grpc.WithPerRPCCredentials(creds),
		grpc.WithChainUnaryInterceptor(creds.UnaryClientInterceptor(), c.trace(quiet)))
}

// dialFor gets a new access token for resource with scopes and connects
// with it, without refresh: a connection for the calls that the first
// token's scopes or audience do not allow.
func (c *client) dialFor(ctx context.Context, resource string, scopes ...string) (*grpc.ClientConn, error) {
	tok, err := c.token(ctx, resource, scopes...)
	if err != nil {
		return nil, err
	}
	return c.dial(grpcguard.NewCredentials(oauth2.StaticTokenSource(tok), nil, c.credsOptions()...), nil)
}

// trace records and prints each attempt and its answer; while quiet is
// set, only refusals are printed.
func (c *client) trace(quiet *atomic.Bool) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		a := Attempt{Method: method[strings.LastIndexByte(method, '/')+1:], Code: status.Code(err)}
		what := a.Code.String()
		if info, ok := grpcguard.ErrorInfo(err); ok {
			a.Reason = info.GetReason()
			what += " " + a.Reason + metaString(info.GetMetadata())
		} else if err != nil {
			what += ": " + status.Convert(err).Message()
		}
		c.mu.Lock()
		c.rep.Attempts = append(c.rep.Attempts, a)
		c.mu.Unlock()
		if err != nil || quiet == nil || !quiet.Load() {
			c.say("client → server: %s → %s", a.Method, what)
		}
		return err
	}
}

func metaString(md map[string]string) string {
	if len(md) == 0 {
		return ""
	}
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(md[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// want checks that err is the refusal notes.proto promises.
func (c *client) want(err error, code codes.Code, reason string) error {
	info, _ := grpcguard.ErrorInfo(err)
	if status.Code(err) != code || info.GetReason() != reason {
		return fmt.Errorf("got %v (reason %q), want %v with reason %s", err, info.GetReason(), code, reason)
	}
	return nil
}

// token gets an access token for resource by the client credentials grant.
func (c *client) token(ctx context.Context, resource string, scopes ...string) (*oauth2.Token, error) {
	cc := clientcredentials.Config{ClientID: c.cfg.ClientID, TokenURL: c.cfg.TokenURL, Scopes: scopes,
		EndpointParams: url.Values{"resource": {resource}, "expires_in": {strconv.Itoa(int(c.cfg.ExpiresIn / time.Second))}}}
	tok, err := cc.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("client credentials grant: %w", err)
	}
	if tok.RefreshToken == "" {
		return nil, errors.New("the token endpoint gave no refresh token")
	}
	c.say("client → authorization server: POST /token (grant_type=client_credentials, scope %q, resource %s) → an access token for %v and a refresh token",
		strings.Join(scopes, " "), resource, time.Until(tok.Expiry).Round(time.Second))
	return tok, nil
}

func first(notes []*notesv1.Note) string {
	if len(notes) == 0 {
		return ""
	}
	return notes[0].GetText()
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
