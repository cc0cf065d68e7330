package guardtest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/jwtguard/jwtguard/claims"
	"github.com/jwtguard/jwtguard/middleware"
)

// Answer is a case as an RPC transport (gRPC, Connect) must answer it:
// the status code (gRPC's numbers, which Connect's equal), the
// google.rpc.ErrorInfo reason, and the HTTP refusal's headers as response
// metadata. The code and reason are this table's reading of the contract,
// written out here rather than derived from the adapters' own mapping.
type Answer struct {
	Code   int // 0 for a call that passes
	Reason string
	// Info is the ErrorInfo metadata: error and error_description as the
	// HTTP refusal has them, and the scope, acr_values and max_age its
	// challenge names.
	Info map[string]string
	// Status is the status message: the description, or a fixed sentence
	// for a request with no token.
	Status     string
	Challenges []string // www-authenticate
	RetryAfter string
	Nonce      bool   // dpop-nonce is set
	Message    string // what the final handler returns for a call that passes
}

// The status codes of gRPC.
const (
	CodeOK               = 0
	CodeInvalidArgument  = 3
	CodePermissionDenied = 7
	CodeUnavailable      = 14
	CodeUnauthenticated  = 16
)

// RPC is c's answer over an RPC transport: a 401 is Unauthenticated, a
// 403 PermissionDenied, a 503 Unavailable, a 400 InvalidArgument; a token
// for another audience is PermissionDenied. The reason is
// ACCESS_TOKEN_EXPIRED for the expired hint alone,
// ACCESS_TOKEN_SCOPE_INSUFFICIENT for a missing scope, else the metrics
// reason in upper case.
func RPC(c Case) Answer {
	if c.Err == nil {
		return Answer{Message: c.Want.Body, Nonce: c.Want.Nonce}
	}
	a := Answer{Challenges: c.Want.Challenges, RetryAfter: c.Want.RetryAfter, Nonce: c.Want.Nonce, Info: map[string]string{}}
	var body struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	if err := json.Unmarshal([]byte(c.Want.Body), &body); err != nil {
		panic("guardtest: the body of refusal " + c.Name + " is not JSON: " + err.Error())
	}
	a.Status = body.Desc
	if a.Status == "" {
		a.Status = "The request carries no access token"
	}
	if body.Desc != "" {
		a.Info["error_description"] = body.Desc
	}
	if len(c.Want.Challenges) == 0 {
		a.Info["error"] = body.Error // a 503's temporarily_unavailable
	} else {
		// What the first challenge names, which a request with no token
		// (body error "unauthorized") has none of.
		for _, name := range []string{"error", "scope", "acr_values", "max_age"} {
			if v := param(c.Want.Challenges[0], name); v != "" {
				a.Info[name] = v
			}
		}
	}
	switch c.Want.Status {
	case http.StatusUnauthorized:
		a.Code = CodeUnauthenticated
	case http.StatusForbidden:
		a.Code = CodePermissionDenied
	case http.StatusServiceUnavailable:
		a.Code = CodeUnavailable
	case http.StatusBadRequest:
		a.Code = CodeInvalidArgument
	}
	switch c.Reason {
	case "audience":
		a.Code = CodePermissionDenied
		a.Reason = "AUDIENCE"
	case "expired":
		a.Reason = "ACCESS_TOKEN_EXPIRED"
	case "insufficient_scope":
		a.Reason = "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
	default:
		a.Reason = strings.ToUpper(c.Reason)
	}
	return a
}

// param is the value of the auth-param name of challenge, or "". The
// table's challenges quote every value and escape none.
func param(challenge, name string) string {
	_, after, ok := strings.Cut(challenge, " "+name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, `"`)
	return v
}

// Procedure is the RPC procedure (a gRPC full method name) that stands for
// a path of the table: "/api/me" is "/guardtest.Table/api.me".
func Procedure(path string) string {
	return "/guardtest.Table/" + strings.ReplaceAll(strings.Trim(path, "/"), "/", ".")
}

// RPCCases are the cases of Cases an RPC transport runs, each at its
// Procedure: all but the DPoP ones (their proofs name an HTTP method and
// path; an RPC adapter tests DPoP with proofs for its procedures) and
// PathStrict's (a Guard nested in another is an http.Handler
// composition).
func (e *Env) RPCCases() []Case {
	var out []Case
	for _, c := range e.Cases() {
		_, path := MethodPath(c.Path)
		if path == PathStrict || strings.Contains(path, "?") || isDPoP(c) {
			continue
		}
		out = append(out, c)
	}
	return out
}

func isDPoP(c Case) bool {
	if c.Header.Get("Dpop") != "" {
		return true
	}
	for _, v := range c.Header.Values("Authorization") {
		if len(v) >= 4 && strings.EqualFold(v[:4], "dpop") {
			return true
		}
	}
	return false
}

// RPCRoutes are the requirements of the table's procedures, as an RPC
// adapter configures them: each Procedure of a path of Reference with its
// rules (none for PathMe: the Guard's audiences alone).
func (e *Env) RPCRoutes() map[string][]middleware.Requirement {
	return map[string][]middleware.Requirement{
		Procedure(PathMe):        nil,
		Procedure(PathNotes):     {middleware.Scopes("notes:read")},
		Procedure(PathScoped):    {middleware.Scopes("notes:read")},
		Procedure(PathAny):       {middleware.AnyScope("a", "b")},
		Procedure(PathClaim):     {ClaimRule},
		Procedure(PathAdmin):     {middleware.Audience(AdminAudience), middleware.Scopes("admin")},
		Procedure(PathTransfers): TransferRules,
	}
}

// FinalRPC is Final for an RPC transport: it counts that it ran and
// returns what Final writes, from the claims in ctx.
func (e *Env) FinalRPC(ctx context.Context) (string, error) {
	e.mu.Lock()
	e.reached++
	e.mu.Unlock()
	c, ok := claims.FromContext(ctx)
	if !ok {
		return "", errors.New("no claims")
	}
	return "sub=" + c.Subject + " scopes=" + c.Scopes.String(), nil
}

// Observed returns what the last request left, and clears it: the
// metrics reason, how many times the final handler ran, and what the
// error hook saw.
func (e *Env) Observed() (reason string, reached int, hookErr error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	reason, reached, hookErr = e.reason, e.reached, e.hookErr
	e.reason, e.hookErr, e.reached = "", nil, 0
	return reason, reached, hookErr
}

// CheckObserved checks what the last request of c left (Observed), as
// Compare does: "" when it is right, else what is wrong.
func (e *Env) CheckObserved(c Case) string {
	reason, reached, hookErr := e.Observed()
	if reason != c.Reason {
		return "metrics reason " + reason + ", want " + c.Reason
	}
	if msg := checkHook(c, hookErr); msg != "" {
		return "error hook " + msg
	}
	if want := boolInt(c.Err == nil); reached != want {
		return "the final handler ran " + strconv.Itoa(reached) + " times, want " + strconv.Itoa(want)
	}
	return ""
}
