package middleware

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/claims"
)

// A Requirement is a per-route condition on a verified token, made by
// Audience, Scopes, AnyScope or ClaimIn and applied by Guard.Require.
type Requirement struct {
	kind   requirementKind
	values []string
	path   string        // ClaimIn's
	maxAge time.Duration // MaxAge's
}

type requirementKind int

const (
	reqAudience requirementKind = iota + 1
	reqAllScopes
	reqAnyScope
	reqClaim
	reqACR
	reqMaxAge
)

// Audience requires the token's aud to contain one of auds instead of the
// Guard's own audiences, for routes that belong to another resource (an
// admin API, say). The expired hint still needs this audience to match.
func Audience(auds ...string) Requirement {
	return Requirement{kind: reqAudience, values: slices.Clone(auds)}
}

// IsAudience reports whether r was made by Audience. An adapter that
// composes requirements of its own with a user's (per operation, over a
// whole endpoint's) needs it: several Audience requirements in one Rule
// mean any one of them, so an operation's own audience must not be put
// beside the endpoint's.
func (r Requirement) IsAudience() bool { return r.kind == reqAudience }

// IsScopes reports whether r was made by Scopes or AnyScope. An adapter
// that composes per-operation rules with an endpoint's needs it too: a
// rule's 403 names the scopes of its own requirements only, so an
// operation's rule that holds the endpoint's scope requirements names
// what a token needs for both.
func (r Requirement) IsScopes() bool { return r.kind == reqAllScopes || r.kind == reqAnyScope }

// Scopes requires every one of scopes (RFC 6749 §3.3); a token missing any
// is refused 403 insufficient_scope. The challenge's scope parameter names
// every scope of the rule's Scopes and AnyScope requirements together,
// whichever failed, so that a client asking for what it is told gets a
// token the rule accepts. Requirements split over nested rules (a group's
// and its route's) are each named by their own rule's refusal: give a
// route its scopes in one rule.
func Scopes(scopes ...string) Requirement {
	return Requirement{kind: reqAllScopes, values: slices.Clone(scopes)}
}

// AnyScope requires at least one of scopes. Its refusal names all of them
// (see Scopes), so a client asking for what it is told asks for every
// alternative; an authorization server may grant fewer.
func AnyScope(scopes ...string) Requirement {
	return Requirement{kind: reqAnyScope, values: slices.Clone(scopes)}
}

// ClaimIn requires the claim at path to hold one of values, compared
// exactly: a string claim must equal one (it is never split, as scopes
// are), an array claim must contain one, and true, false and numbers are
// compared as their JSON text ("true"). path is a claim name, or names
// separated by dots into nested objects, with a dot inside a name escaped
// as `\.`, as for WithScopeClaims:
//
//	middleware.ClaimIn("repository", "octo-org/app")                 // GitHub Actions
//	middleware.ClaimIn(`kubernetes\.io.namespace`, "payments")      // Kubernetes
//	middleware.ClaimIn("email", "deployer@project.iam.gserviceaccount.com")
//
// Claims are read as the token wrote them (claims.Claims.Strings): a sub
// or client_id that WithSubjectClaim or WithClientIDClaims filled from
// another claim is not seen, and "scope" and "scp", merged into Scopes,
// cannot be named (Rule panics; use Scopes or AnyScope).
//
// A token that fails it is refused 403 insufficient_scope with no scope
// parameter (ErrClaimRequirement): it is valid, and no scope would help.
// It is how one Guard lets different callers reach different routes, where
// an issuer's WithClaimsCheck applies to every route alike.
func ClaimIn(path string, values ...string) Requirement {
	return Requirement{kind: reqClaim, path: path, values: slices.Clone(values)}
}

// ACR requires the token's acr claim to be one of values (RFC 9470 step-up):
// a token with another acr, or none, is refused 401
// insufficient_user_authentication with acr_values naming them, and the
// client sends the user to log in again at that level. It is checked
// after the scopes: a token without the route's scope is 403 first. Give
// it once per rule, with every acceptable value (Rule panics on a second).
func ACR(values ...string) Requirement {
	return Requirement{kind: reqACR, values: slices.Clone(values)}
}

// MaxAge requires the user to have authenticated at most d before now, by
// the token's auth_time (leeway applied; RFC 9470 step-up): an older
// authentication, or none stated, is refused 401
// insufficient_user_authentication with max_age in whole seconds. A
// malformed auth_time is an invalid token, never a step-up refusal, and
// one in the future (beyond the leeway) proves no recent login. d is
// rounded down to whole seconds and must be at least one; give it once
// per rule.
func MaxAge(d time.Duration) Requirement {
	return Requirement{kind: reqMaxAge, maxAge: d}
}

// Require returns middleware that verifies the token and then checks reqs.
// It composes on single routes and on groups:
//
//	mux.Handle("GET /api/notes", g.Require(middleware.Scopes("notes:read"))(notes))
//	r.With(g.Require(middleware.Scopes("admin"))).Get("/stats", stats) // chi
//
// Inside g.Handler, or another rule of the same Guard, the token is not
// verified again: the rule checks its own audience (401 invalid_token when
// the token lacks it) and then its scopes. Claims that another Guard
// verified, or that application code put in the context with
// claims.NewContext, are never taken on trust: the token is verified again
// under this Guard's own policy (unless WithInsecureContextClaims says
// otherwise).
//
// Require panics on the programming errors Rule describes.
func (g *Guard) Require(reqs ...Requirement) func(http.Handler) http.Handler {
	return g.Rule(reqs...).Middleware
}

// A Rule is a set of requirements compiled by Guard.Rule: everything a
// route needs checked, with its refusals precomputed. Framework adapters
// call Check; net/http code uses Middleware (or Guard.Require). A Rule is
// safe for concurrent use.
type Rule struct {
	g         *Guard
	audiences []string // the audiences a token must have one of
	scopes    []Requirement
	scopeRef  *Error // the 403 of every scope requirement: it names them all
	claimReqs []claimRequirement
	claimRef  *Error         // ClaimIn's 403
	acr       []string       // ACR's values; nil: any
	maxAge    time.Duration  // MaxAge's; 0: any
	stepUp    [3]*Error      // the step-up refusals: acr, acr and max_age, max_age
	res       *resourceEntry // the rule's resource, when it has metadata; nil: none
	routes    http.Handler   // Guard.Handler's next (a ServeMux or a rule), to find the route's rule
}

// Rule compiles reqs for use with Check or Middleware.
//
// Rule panics if a requirement names no values, an empty value, or a scope
// that RFC 6749 §3.3 does not allow (a space, quote, backslash or control
// character): these are programming errors, found at start-up, like an
// invalid pattern given to http.ServeMux.
func (g *Guard) Rule(reqs ...Requirement) *Rule {
	ru := &Rule{g: g, audiences: g.audiences}
	var auds []string
	for _, rq := range reqs {
		if rq.kind != 0 && rq.kind != reqMaxAge && (len(rq.values) == 0 || slices.Contains(rq.values, "")) {
			panic(fmt.Sprintf("middleware: requirement %d with no or empty values", rq.kind))
		}
		switch rq.kind {
		case reqAudience:
			auds = append(auds, rq.values...)
		case reqAllScopes, reqAnyScope:
			for _, s := range rq.values {
				if !validScopeToken(s) {
					panic(fmt.Sprintf("middleware: invalid scope %q", s))
				}
			}
			ru.scopes = append(ru.scopes, rq)
		case reqClaim:
			names, ok := splitPath(rq.path)
			if !ok {
				panic(fmt.Sprintf("middleware: invalid claim path %q", rq.path))
			}
			if len(names) == 1 && (names[0] == "scope" || names[0] == "scp") {
				panic("middleware: ClaimIn on scope or scp, which are merged into Scopes; use Scopes or AnyScope")
			}
			ru.claimReqs = append(ru.claimReqs, claimRequirement{path: names, values: slices.Clone(rq.values)})
		case reqACR:
			// Given twice, would both have to hold, or either? Neither
			// reading is safe to guess, so it is an error.
			if ru.acr != nil {
				panic("middleware: ACR given twice in one rule; list every acceptable value in one")
			}
			for _, v := range rq.values {
				if !validQuotedText(v) || strings.Contains(v, " ") {
					panic(fmt.Sprintf("middleware: invalid acr value %q", v))
				}
			}
			ru.acr = slices.Clone(rq.values)
		case reqMaxAge:
			if ru.maxAge != 0 {
				panic("middleware: MaxAge given twice in one rule")
			}
			if rq.maxAge < time.Second {
				panic("middleware: MaxAge under one second")
			}
			ru.maxAge = rq.maxAge.Truncate(time.Second)
		default:
			panic("middleware: zero Requirement; use Audience, Scopes, AnyScope, ClaimIn, ACR or MaxAge")
		}
	}
	if auds != nil {
		ru.audiences = auds
	}
	var scopes []string
	for _, rq := range ru.scopes {
		for _, v := range rq.values {
			if !slices.Contains(scopes, v) {
				scopes = append(scopes, v)
			}
		}
	}
	ru.res = g.resourceFor(ru.audiences, scopes)
	var params []param
	ru.claimRef = g.claimRefusal
	if ru.res != nil {
		params, ru.claimRef = ru.res.params, ru.res.claimRef
	}
	if ru.acr != nil || ru.maxAge > 0 {
		ru.stepUp = stepUpRefusals(g.schemes, ru.acr, ru.maxAge, params)
	}
	if len(ru.scopes) > 0 {
		// One 403 names every scope the rule names (RFC 6750 §3: "the
		// required scope"), whichever requirement failed: a client that
		// asks for exactly the scope it is told (as MCP clients do) would
		// otherwise trade one requirement's scope for another's for ever.
		ru.scopeRef = refusal{
			err: ErrInsufficientScope, idx: -1, reason: "insufficient_scope", status: http.StatusForbidden,
			code: "insufficient_scope", desc: "The access token does not grant the scope this resource requires",
			scopes: scopes, resource: params,
		}.build(g.schemes)
	}
	return ru
}

// Check verifies the request's token for the rule's audiences and checks the
// rule's scopes. It returns r with the claims in its context, or an *Error
// to hand to Guard.Fail with the request it returns, which has no claims
// (claims.FromContext finds none of the refused token's). If a rule of the same Guard already let r through
// (an outer Handler or group middleware), the token is not verified again:
// only the rule's audience and scopes are checked.
//
// Each request is counted once in the Guard's Metrics: by the rule that
// verified it, as "ok" or its refusal, which for Guard.Handler directly
// over a rule of the same Guard (and, for a DPoP request, over a
// ServeMux's route of one) is that rule's own. Any other nested rule that
// refuses the request counts again: its refusal besides the outer "ok".
func (ru *Rule) Check(r *http.Request) (*http.Request, error) {
	ctx := r.Context()
	r, is, err, verifiedHere := ru.check(r)
	if verifiedHere || err != nil {
		ru.g.count(ctx, is, err)
	}
	if err != nil && ru.g.log.Enabled(ctx, slog.LevelDebug) {
		// For Fail's log line, the issuer the refusal is counted under
		// (none too, over an earlier refusal's); only when that line is
		// written, so that a refusal costs no allocation more otherwise.
		r = r.WithContext(context.WithValue(r.Context(), refusedKey{}, refusedBy{ru.g, is}))
	}
	return r, err
}

// VerifyToken verifies token for the rule's audiences and checks its
// requirements, as Check does for a request; see Guard.VerifyToken. It is
// what a transport with per-method requirements (a gRPC interceptor, say)
// calls. The request is counted once in the Guard's Metrics.
func (ru *Rule) VerifyToken(ctx context.Context, token string) (*claims.Claims, error) {
	c, is, err, _ := ru.run(ctx, nil, credentials{token: token, found: true, unchecked: true})
	ru.g.count(ctx, is, err)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Authorize checks the rule's requirements against claims that its Guard
// already verified (with VerifyToken), for a transport that verifies once
// and then decides per operation, as an MCP server does per tool: the
// audience, then the token's time (nbf and iat, then exp, with the
// leeway: it may have expired since it was verified, in a long stream, or
// the clock stepped back), then the scopes, in
// VerifyToken's order, so the expired hint goes only to claims the rule
// would accept once renewed. It
// returns nil or the *Error to refuse with: ErrNoToken for nil claims,
// ErrIssuer for claims of an issuer the Guard does not hold (including a
// resolved tenant dropped since). A resolved tenant's issuer is answered
// as VerifyToken answers a repeated token of it: once its resolver's yes
// is stale, the resolver is asked again (with ctx's values, not its
// cancellation, since other calls may wait on the same answer); a tenant
// it now refuses is ErrIssuer and one it cannot be asked about is
// ErrKeysUnavailable. Once the yes is past twice its TTL, Authorize waits
// for that answer, a few seconds at most, and ErrKeysUnavailable when ctx
// is done first: give it the operation's context. A refusal is counted in
// the Guard's Metrics, with ctx for a ContextMetrics. Claims are not
// verified here: Authorize only reads them, so give it only what
// VerifyToken returned.
func (ru *Rule) Authorize(ctx context.Context, c *claims.Claims) error {
	g := ru.g
	if c == nil {
		err := ru.local(g.refusals[rNoToken])
		g.count(ctx, nil, err)
		return err
	}
	// The issuer must be one of the Guard's: claims of any other (another
	// Guard's, made up, or a resolved tenant dropped or revoked since) are
	// refused as from an unknown issuer.
	is, rsn := g.knownIssuer(ctx, c)
	if rsn >= 0 {
		err := ru.local(g.refusals[rsn])
		g.count(ctx, nil, err)
		return err
	}
	now := g.now()
	var err error
	switch rsn := g.notYet(c, now); {
	case !is.audienceOK(c, ru.audiences):
		err = g.refusals[rAudience]
	case rsn >= 0:
		err = g.refusals[rsn]
	case g.expired(c, now):
		err = g.refusals[rExpired]
	default:
		err = ru.authorizeScopes(c)
	}
	if err != nil {
		err = ru.local(err)
		g.count(ctx, is, err)
	}
	return err
}

// check is Check before counting; its refusals name the rule's resource,
// or, for Guard.Handler over a ServeMux, the resource of the route's own
// rule, whose audience the route is for, and have the challenges of the
// request's scheme.
func (ru *Rule) check(r *http.Request) (*http.Request, *issuer, error, bool) {
	r2, o := ru.checkShared(r)
	_, nextIsRule := ru.routes.(*ruleHandler)
	if o.err == nil && (o.rec != nil || o.verifiedHere && nextIsRule) {
		// The route's own rule decides here too, when this Handler can see
		// it (a rule of this Guard as its next, or as the route of its
		// ServeMux): a DPoP proof is recorded only once the request passed
		// every check, and a request the route refuses is counted once,
		// as that refusal, not also as this rule's "ok". For a bearer
		// token the ServeMux is not asked (its lookup would cost more than
		// a cached token's whole check): its route's refusal counts again,
		// as does that of a rule the Handler cannot see (behind an Echo
		// or Gin group, another router, a wrapper), which decides after a
		// proof was recorded.
		if inner := ru.routeRule(r); inner != nil {
			o.err = inner.local(inner.authorize(o.is, o.claims)) // the route's resource, as the route would say
		}
		if o.err == nil && o.rec != nil {
			if o.err = ru.g.remember(r.Context(), r, o.rec); o.err == nil {
				attached(r2.Context(), ru.g).rec = o.rec
			}
		}
	}
	if o.err == nil && o.claims != nil {
		// Only a request that passed every check here vouches for its
		// claims to nested rules and Guards: a refused Check's request,
		// carried on by application code, must not.
		attached(r2.Context(), ru.g).passed = true
	}
	if o.err != nil && ru.routes != nil {
		if inner := ru.routeRule(r); inner != nil && !ru.ownAudienceRefusal(inner, o.err) {
			return r2, o.is, ru.g.forRequest(inner.local(o.err), o.scheme), o.verifiedHere
		}
	}
	return r2, o.is, ru.g.forRequest(ru.local(o.err), o.scheme), o.verifiedHere
}

// ownAudienceRefusal reports whether err is this (outer) rule's refusal of
// the token's audience, not one the inner route's rule decided
// (routeVerdict hands those out already in the inner rule's form): that
// one names the outer resource, the audience the token lacks.
func (ru *Rule) ownAudienceRefusal(inner *Rule, err error) bool {
	e, ok := err.(*Error)
	if !ok || e.idx != rAudience || inner.res == nil {
		return false
	}
	return e != inner.res.table[rAudience]
}

// An outcome is what one pass of the pipeline decided, before its refusal
// is put in the rule's and the request's terms.
type outcome struct {
	claims       *claims.Claims // the verified token's, when nothing refused it
	is           *issuer        // the token's, when it named one of the Guard's
	err          error          // the refusal, or nil
	verifiedHere bool           // the token was verified in this pass, whatever the verdict
	scheme       scheme         // the request's, for the challenges
	rec          *proofRecord   // the DPoP proof to record as used, once nothing else refuses
}

// checkShared is check before the refusal is put in the rule's and the
// request's terms, and before the proof is remembered.
func (ru *Rule) checkShared(r *http.Request) (*http.Request, outcome) {
	g := ru.g
	if v := verifiedOf(r.Context(), g); v != nil {
		// Verified (and bound) by a rule of this Guard: only authorize.
		return r, outcome{is: v.is, err: ru.authorize(v.is, v.claims), scheme: v.scheme}
	}
	if g.trustContext {
		if cc, ok := claims.FromContext(r.Context()); ok {
			// Vouched for by application code: only authorize.
			is, rsn := g.knownIssuer(r.Context(), cc)
			if rsn >= 0 {
				return r, outcome{err: g.refusals[rsn]}
			}
			if err := is.runChecks(cc); err != nil {
				return r, outcome{is: is, err: g.refuse(rClaimsRejected, err)}
			}
			// Nothing proves the key of a sender-constrained token that
			// application code vouches for, and the policy still holds;
			// claims another Guard of this module verified were bound to
			// the request by it, on the request's scheme.
			sch, proven := schemeBearer, false
			if v := verifiedWith(r.Context(), cc); v != nil {
				sch, proven = v.scheme, true
			}
			switch {
			case cc.Confirmation != nil && !proven:
				return r, outcome{is: is, err: g.refusals[rBoundToken], scheme: sch}
			case g.dpop.policy == DPoPRequired && sch != schemeDPoP:
				return r, outcome{is: is, err: g.refusals[rDPoPRequired], scheme: sch}
			}
			return r, outcome{is: is, err: ru.authorize(is, cc), scheme: sch}
		}
	}
	o := ru.runShared(r.Context(), r, credentials{})
	if o.claims != nil {
		r = r.WithContext(&verified{Context: r.Context(), claims: o.claims, guard: g, is: o.is, scheme: o.scheme})
	}
	return r, o
}

// knownIssuer is the issuer of claims verified elsewhere: a configured
// one, or one a resolver already accepted and still does (asked again, as
// for a cached token, once its answer is stale); otherwise the reason to
// refuse, rIssuer for any other issuer.
func (g *Guard) knownIssuer(ctx context.Context, c *claims.Claims) (*issuer, reason) {
	if is := g.staticIssuer(c); is != nil {
		return is, -1
	}
	if g.resolver != nil {
		return g.resolver.known(ctx, c.Issuer)
	}
	return nil, rIssuer
}

// credentials are what the extract stage found: the token, the scheme
// it came with, and whether it still needs RFC 6750's b64token check.
// found is false until extract ran.
type credentials struct {
	token     string
	found     bool
	unchecked bool
	scheme    scheme
	tokenSum  *[32]byte // the token's SHA-256 when the token cache holds it, for ath
}

// run is the pipeline; its refusals name the rule's resource.
func (ru *Rule) run(ctx context.Context, r *http.Request, cr credentials) (*claims.Claims, *issuer, error, bool) {
	o := ru.runShared(ctx, r, cr)
	if o.err == nil {
		if o.err = ru.g.remember(ctx, r, o.rec); o.err != nil {
			o.claims = nil
		}
	}
	return o.claims, o.is, ru.g.forRequest(ru.local(o.err), o.scheme), o.verifiedHere
}

// runShared is the request pipeline, the one place that decides the order
// of the stages: extract the credentials (from r, unless the transport
// already did), verify the token, bind it to the request (the proof of a
// sender-constrained token's key), authorize it for the rule, and last
// hand back the DPoP proof for the caller to record as used, once
// nothing else refuses the request.
func (ru *Rule) runShared(ctx context.Context, r *http.Request, cr credentials) outcome {
	g := ru.g
	if !cr.found {
		var rsn reason
		if cr, rsn = g.extract(r); rsn >= 0 {
			return outcome{err: g.refusals[rsn], verifiedHere: true, scheme: cr.scheme}
		}
	}
	o := outcome{verifiedHere: true, scheme: cr.scheme}
	c, is, sum, err := g.verify(ctx, cr.token, cr.unchecked, ru.audiences)
	cr.tokenSum = sum
	o.is = is
	if err != nil {
		if err == g.refusals[rExpired] {
			// The hint is only for a token that a refresh would make
			// pass: bound as the request proves, for the route asked.
			if _, berr := g.bind(ctx, c, cr, r, true); berr != nil {
				o.err = berr
				return o
			}
			if ru.routes != nil && r != nil {
				err = ru.routeVerdict(r, is, c, err)
			}
		}
		o.err = err
		return o
	}
	o.rec, o.err = g.bind(ctx, c, cr, r, false)
	if o.err == nil {
		o.err = ru.authorizeScopes(c) // verify checked the audience
	}
	if o.err != nil {
		o.rec = nil
		return o
	}
	o.claims = c
	return o
}

// authorize is the pipeline's last stage: the rule's audience, then its
// scopes, against verified claims.
func (ru *Rule) authorize(is *issuer, c *claims.Claims) error {
	if !is.audienceOK(c, ru.audiences) {
		return ru.g.refusals[rAudience]
	}
	return ru.authorizeScopes(c)
}

func (ru *Rule) authorizeScopes(c *claims.Claims) error {
	for _, rq := range ru.scopes {
		if (rq.kind == reqAllScopes && !c.Scopes.HasAll(rq.values...)) ||
			(rq.kind == reqAnyScope && !c.Scopes.HasAny(rq.values...)) {
			return ru.scopeRef
		}
	}
	for _, cr := range ru.claimReqs {
		if !cr.met(c) {
			return ru.claimRef
		}
	}
	return ru.authorizeStepUp(c)
}

// authorizeStepUp applies ACR and MaxAge (RFC 9470), after the scopes.
func (ru *Rule) authorizeStepUp(c *claims.Claims) error {
	if ru.acr == nil && ru.maxAge == 0 {
		return nil
	}
	acrOK := ru.acr == nil || (c.ACR != "" && slices.Contains(ru.acr, c.ACR))
	now := ru.g.now()
	// An auth_time in the future (beyond the leeway) proves no recent
	// login: it would pass for the whole life of the token.
	ageOK := ru.maxAge == 0 || (!c.AuthTime.IsZero() &&
		!now.After(c.AuthTime.Add(ru.maxAge+ru.g.leeway)) && !c.AuthTime.After(now.Add(ru.g.leeway)))
	switch {
	case !acrOK && !ageOK:
		return ru.stepUp[1]
	case !acrOK:
		return ru.stepUp[0]
	case !ageOK:
		return ru.stepUp[2]
	}
	return nil
}

// stepUpRefusals are a rule's three RFC 9470 refusals: a wrong acr, a wrong
// acr and too old an authentication, too old an authentication alone.
func stepUpRefusals(sch schemes, acr []string, maxAge time.Duration, resource []param) [3]*Error {
	build := func(desc string, acr []string, maxAge time.Duration) *Error {
		return refusal{err: ErrInsufficientUserAuthentication, idx: -1, reason: "insufficient_user_authentication",
			status: http.StatusUnauthorized, code: "insufficient_user_authentication",
			desc: desc, acr: acr, maxAge: maxAge, resource: resource}.build(sch)
	}
	const level, recent = "A different authentication level is required", "More recent authentication is required"
	var out [3]*Error
	if acr != nil {
		out[0] = build(level, acr, 0)
		out[1] = out[0]
		if maxAge > 0 {
			out[1] = build(level, acr, maxAge)
		}
	}
	if maxAge > 0 {
		out[2] = build(recent, nil, maxAge)
	}
	return out
}

// claimRequirement is a compiled ClaimIn.
type claimRequirement struct {
	path   []string
	values []string
}

func (cr claimRequirement) met(c *claims.Claims) bool {
	for _, v := range c.Strings(cr.path...) {
		if slices.Contains(cr.values, v) {
			return true
		}
	}
	return false
}

// routeVerdict turns the expired refusal of Guard.Handler into the audience
// refusal when the ServeMux route r asks for is a rule of the same Guard
// that would refuse c's audience even once renewed: the hint is only for a
// token that would then pass.
func (ru *Rule) routeVerdict(r *http.Request, is *issuer, c *claims.Claims, expired error) error {
	if inner := ru.routeRule(r); inner != nil && !is.audienceOK(c, inner.audiences) {
		return inner.local(ru.g.refusals[rAudience]) // the route's resource, whose audience the token lacks
	}
	return expired
}

// routeRule is the rule of the same Guard that the ServeMux route r asks
// for has, below this one (Guard.Handler's), or nil when there is none or
// it cannot be seen.
func (ru *Rule) routeRule(r *http.Request) *Rule {
	h := ru.routes
	if h == nil || r == nil {
		return nil
	}
	for range 5 { // muxes nested in muxes, within reason
		switch next := h.(type) {
		case *ruleHandler:
			if next.ru.g == ru.g {
				return next.ru
			}
			return nil
		case *http.ServeMux:
			h, _ = next.Handler(r)
		default:
			return nil
		}
	}
	return nil
}

// Middleware returns next wrapped so that it runs only for requests that
// pass Check; others are refused through the Guard's error handler.
func (ru *Rule) Middleware(next http.Handler) http.Handler {
	return &ruleHandler{ru: ru, next: next}
}

// ruleHandler is what Middleware returns: a type of its own, so that
// Guard.Handler can recognise a route's rule in a ServeMux.
type ruleHandler struct {
	ru   *Rule
	next http.Handler
}

func (h *ruleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r, ok := h.ru.Serve(w, r); ok {
		h.next.ServeHTTP(w, r)
	}
}

// Serve is Check for code that then calls the next handler itself, as a
// framework adapter does: on a refusal it writes the response through the
// Guard's error handler and returns false; otherwise it sets the headers
// a passing response carries (a fresh DPoP-Nonce, with WithDPoPNonce, for
// a DPoP request) and returns the request to pass on, with the claims in
// its context.
func (ru *Rule) Serve(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	r, err := ru.Check(r)
	if err != nil {
		ru.g.Fail(w, r, err)
		return r, false
	}
	ru.g.SetPassHeaders(w.Header(), r)
	return r, true
}

// SetPassHeaders sets in h, the headers of the response to r (a request a
// Rule of g let through, as Check returned it), what Rule.Serve sets
// there: a fresh DPoP-Nonce (WithDPoPNonce) for a DPoP request, and
// Cache-Control: private for a token read from the URL
// (WithQueryParameter, RFC 6750 §2.3). An adapter that calls Check and
// writes its own response calls it before the response's headers go out.
func (g *Guard) SetPassHeaders(h http.Header, r *http.Request) {
	if n := g.DPoPNonce(r); n != "" {
		h.Set("DPoP-Nonce", n)
	}
	if g.query != "" && r.URL.Query().Has(g.query) {
		// The token came from the URL (a request with another as well
		// was refused).
		markPrivate(h)
	}
}

// markPrivate makes h's Cache-Control say private, unless it already
// keeps the answer from shared caches.
func markPrivate(h http.Header) {
	cc := h.Get("Cache-Control")
	for d := range strings.SplitSeq(cc, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d == "private" || d == "no-store" {
			return
		}
	}
	if cc == "" {
		h.Set("Cache-Control", "private")
	} else {
		h.Set("Cache-Control", cc+", private")
	}
}

// validScopeToken reports whether s is an RFC 6749 §3.3 scope-token:
// 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == '"' || c == '\\' || c > 0x7e {
			return false
		}
	}
	return true
}
