// Package rpcerr translates a refusal (*middleware.Error) into the terms
// of the RPC transports (gRPC and Connect, whose codes share numbers):
// the status code, the google.rpc.ErrorInfo reason and metadata, and the
// response metadata that carries the HTTP refusal's headers. The adapters
// that use it turn these into their own types, so both answer alike.
//
// Adapter modules compile against this package (grpcguard and
// connectguard), and a user may build one against a later core than the
// one it was released with: change its exported names only by addition
// (see CONTRIBUTING.md).
package rpcerr

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/middleware"
)

// The status codes of gRPC (google.rpc.Code), which Connect's codes equal.
const (
	InvalidArgument  = 3
	PermissionDenied = 7
	Unavailable      = 14
	Unauthenticated  = 16
)

// Domain is the ErrorInfo domain of every refusal: the product that
// decided it, as google.rpc.ErrorInfo asks.
const Domain = "jwtguard.github.io"

// The ErrorInfo reasons gRPC clients already know (google.api.ErrorReason);
// every other refusal's reason is its Error.Reason in upper snake case.
const (
	ReasonExpired           = "ACCESS_TOKEN_EXPIRED"
	ReasonScopeInsufficient = "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
)

// Code is the status code of e. A 401 is Unauthenticated (the caller
// should get a new token or a new proof), a 403 PermissionDenied, a 503
// Unavailable (retryable: the token may be fine), and a 400 (more than one
// token, or an unreadable one) InvalidArgument. A token for another
// audience is PermissionDenied: it is genuine, and a new token from the
// same request would be refused alike.
func Code(e *middleware.Error) int {
	switch e.Status() {
	case http.StatusForbidden:
		return PermissionDenied
	case http.StatusServiceUnavailable:
		return Unavailable
	case http.StatusBadRequest:
		return InvalidArgument
	}
	if e.Reason() == "audience" {
		return PermissionDenied
	}
	return Unauthenticated
}

// Reason is e's ErrorInfo reason: ReasonExpired exactly for the expired
// hint (the one refusal a client answers by refreshing),
// ReasonScopeInsufficient for a missing scope, otherwise e.Reason() in
// upper case ("SIGNATURE", "NO_TOKEN", "DPOP_REPLAY", …).
func Reason(e *middleware.Error) string {
	switch e.Reason() {
	case "expired":
		return ReasonExpired
	case "insufficient_scope":
		return ReasonScopeInsufficient
	}
	return strings.ToUpper(e.Reason())
}

// Info is e's ErrorInfo metadata: the OAuth error code and description
// (as the HTTP refusal has them), the scopes an insufficient_scope refusal
// requires, space-separated, and a step-up refusal's acr_values
// (space-separated) and max_age (whole seconds), named as RFC 9470's
// challenge names them.
func Info(e *middleware.Error) map[string]string {
	m := map[string]string{}
	if e.Code() != "" {
		m["error"] = e.Code()
	}
	if e.Description() != "" {
		m["error_description"] = e.Description()
	}
	if s := e.Scopes(); len(s) > 0 {
		m["scope"] = strings.Join(s, " ")
	}
	if acr := e.ACRValues(); len(acr) > 0 {
		m["acr_values"] = strings.Join(acr, " ")
	}
	if d := e.MaxAge(); d > 0 {
		m["max_age"] = strconv.Itoa(int(d / time.Second))
	}
	return m
}

// Message is the status message: the description, or for a request with
// no token (which has none) a fixed sentence.
func Message(e *middleware.Error) string {
	if e.Description() != "" {
		return e.Description()
	}
	return "The request carries no access token"
}

// Header is the response metadata of e, as lower-case keys: the
// challenges (www-authenticate, one value each), retry-after for a 503,
// and dpop-nonce when e carries one. They go out as response headers
// (gRPC header metadata), never as HTTP trailers, where net/http drops
// WWW-Authenticate (RFC 9110 §6.5.1 forbids it there).
func Header(e *middleware.Error) map[string][]string {
	h := map[string][]string{}
	if c := e.Challenges(); len(c) > 0 {
		h["www-authenticate"] = c
	}
	if e.Status() == http.StatusServiceUnavailable {
		// Every 503 has one, as over HTTP; WithRetryAfter(0) makes it "0".
		h["retry-after"] = []string{strconv.Itoa(int(e.RetryAfter().Seconds()))}
	}
	if n := e.DPoPNonce(); n != "" {
		h["dpop-nonce"] = []string{n}
	}
	return h
}
