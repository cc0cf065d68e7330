package claims

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/jwtguard/jwtguard/internal/claimsdecode"
	"github.com/jwtguard/jwtguard/internal/jsonscan"
	"github.com/jwtguard/jwtguard/internal/memsize"
)

// ErrMalformed is wrapped by every error UnmarshalJSON returns for a payload
// it refuses, and by Decode/Get when a custom claim cannot be decoded into the
// requested type. Callers test for it with errors.Is and answer 401: a token
// whose claims cannot be read unambiguously must never be trusted. The error
// text names the offending claim but never repeats its value, so it is safe to
// log.
var ErrMalformed = errors.New("claims: malformed claims")

// ErrNotPresent is returned by Decode and Get when the token does not carry
// the named custom claim, so callers can tell "absent" (often a 403 or a
// default) apart from "present but malformed" (ErrMalformed).
var ErrNotPresent = errors.New("claims: claim not present")

// Claims is the claim set of an RFC 9068 JWT access token (RFC 9068 §2.2),
// decoded strictly by UnmarshalJSON.
//
// It exists so that a resource server can read the registered and RFC 9068
// claims through typed fields instead of map look-ups and type assertions,
// and so that golang-jwt can validate exp/nbf/iat/iss/aud through the
// jwt.Claims interface. Claims that are not listed here are kept as raw JSON
// and are reached through Raw, Decode and Get.
//
// A zero time.Time in ExpiresAt, NotBefore, IssuedAt or AuthTime means the
// claim was absent; a nil slice means the claim was absent, while an empty
// non-nil slice means it was present but empty (for example "aud":[]).
//
// A Claims value placed in a context with NewContext is shared by everything
// that handles the request and must be treated as read-only.
type Claims struct {
	Issuer    string    // "iss" (RFC 7519 §4.1.1): who issued the token.
	Subject   string    // "sub" (RFC 7519 §4.1.2): the resource owner or client the token is about.
	Audience  []string  // "aud" (RFC 7519 §4.1.3): a single string is normalised to a one-element list.
	ExpiresAt time.Time // "exp" (RFC 7519 §4.1.4); zero when absent.
	NotBefore time.Time // "nbf" (RFC 7519 §4.1.5); zero when absent.
	IssuedAt  time.Time // "iat" (RFC 7519 §4.1.6); zero when absent.
	ID        string    // "jti" (RFC 7519 §4.1.7): unique token identifier, useful for replay caches and audit logs.
	ClientID  string    // "client_id" (RFC 8693 §4.3): the OAuth client the token was issued to.

	// SubjectFrom and ClientIDFrom name the claim that Subject and ClientID
	// were taken from when a verifier filled them from another one
	// (middleware.WithSubjectClaim, WithClientIDClaims); "" when they are
	// the token's own "sub" and "client_id". A Subject taken from
	// "client_id" names a client, not a user: a handler that maps Subject
	// to a user account must check SubjectFrom, or a client whose ID equals
	// a user's sub would act as that user.
	SubjectFrom, ClientIDFrom string

	// Scopes is the union of "scope" (RFC 8693 §4.2 and RFC 9068: a
	// space-separated string; Duende IdentityServer and Spring
	// Authorization Server write an array of strings, which is accepted
	// too) and "scp" (an array of strings or a space-separated string, as
	// issued by several providers). Order is that of first appearance,
	// "scope" first; duplicates and empty items are removed. Array elements
	// are taken verbatim and never split, so an element containing a space
	// grants nothing that an exact-match check could ask for.
	Scopes Scopes

	// Confirmation is the "cnf" claim (RFC 7800) of a sender-constrained
	// token: the key the sender must prove it holds. nil when absent.
	Confirmation *Confirmation

	AuthTime time.Time // "auth_time" (RFC 9068 §2.2.1): when the user last authenticated; zero when absent.
	ACR      string    // "acr" (RFC 9068 §2.2.1): authentication context class reference.
	AMR      []string  // "amr" (RFC 9068 §2.2.1): authentication methods references.

	// Groups, Roles and Entitlements are the RFC 9068 §2.2.3.1 authorization
	// attributes (defined by RFC 7643 §4.1.2). An array of strings is
	// expected; a single string is accepted as a one-element list.
	Groups, Roles, Entitlements []string

	// stringForm has a bit (1<<kGroups etc.) for each of Groups, Roles and
	// Entitlements that the token gave as one string rather than an array,
	// so that Values can split it as it splits any other string.
	stringForm uint32

	// ownSubject and ownClientID are "sub" and "client_id" as the token
	// wrote them, whatever a verifier filled Subject and ClientID with:
	// Strings reads these.
	ownSubject, ownClientID string

	// extra holds every claim not decoded into a field above, sorted by
	// name. raw is a substring of a private copy of the payload, so it does
	// not alias the caller's (possibly reused) input buffer.
	extra []extraClaim
}

type extraClaim struct {
	name string // unescaped member name
	raw  string // the member's raw JSON value
}

var _ jwt.Claims = (*Claims)(nil)

// attribute is the field of the authorization attribute k: kGroups,
// kRoles or kEntitlements.
func (c *Claims) attribute(k int) *[]string {
	switch k {
	case kRoles:
		return &c.Roles
	case kEntitlements:
		return &c.Entitlements
	}
	return &c.Groups
}

// Indices of the claims decoded into fields; used for the duplicate bitmask.
const (
	kIss = iota
	kSub
	kAud
	kExp
	kNbf
	kIat
	kJti
	kClientID
	kScope
	kScp
	kAuthTime
	kACR
	kAMR
	kGroups
	kRoles
	kEntitlements
	numKnown
)

var knownNames = [numKnown]string{
	kIss:          "iss",
	kSub:          "sub",
	kAud:          "aud",
	kExp:          "exp",
	kNbf:          "nbf",
	kIat:          "iat",
	kJti:          "jti",
	kClientID:     "client_id",
	kScope:        "scope",
	kScp:          "scp",
	kAuthTime:     "auth_time",
	kACR:          "acr",
	kAMR:          "amr",
	kGroups:       "groups",
	kRoles:        "roles",
	kEntitlements: "entitlements",
}

func knownIndex(name string) int {
	switch name {
	case "iss":
		return kIss
	case "sub":
		return kSub
	case "aud":
		return kAud
	case "exp":
		return kExp
	case "nbf":
		return kNbf
	case "iat":
		return kIat
	case "jti":
		return kJti
	case "client_id":
		return kClientID
	case "scope":
		return kScope
	case "scp":
		return kScp
	case "auth_time":
		return kAuthTime
	case "acr":
		return kACR
	case "amr":
		return kAMR
	case "groups":
		return kGroups
	case "roles":
		return kRoles
	case "entitlements":
		return kEntitlements
	}
	return -1
}

// maxStoredSec is the latest NumericDate stored as it is; any later value
// that still fits in int64 is stored as this one. time.Unix wraps a few
// billion seconds below math.MaxInt64 (a huge "nbf" would compare as past),
// and the margin keeps adding a leeway to "exp" from overflowing.
const maxStoredSec = math.MaxInt64 - 62135596800 - 1<<40

// minStoredSec is the earliest NumericDate stored as it is: one second after
// the zero time.Time (0001-01-01), which stands for "absent"; earlier values
// are stored as this one, so a present exp is never mistaken for none.
const minStoredSec = -62135596800 + 1

// Reasons for refusal. They never contain claim values.
const (
	reasonString        = "must be a string"
	reasonObject        = "must be an object with distinct members"
	reasonStringOrArray = "must be a string or an array of strings"
	reasonArray         = "must be an array of strings"
	reasonNumber        = "must be a number"
	reasonRange         = "is out of range"
	reasonDuplicate     = "duplicate claim"
	reasonEscape        = "invalid string escape"
)

func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformed, reason)
}

func malformedClaim(name, reason string) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, name, reason)
}

// UnmarshalJSON decodes an access-token claim set strictly. It is what
// json.Unmarshal, and therefore golang-jwt's parsers, call for *Claims.
//
// Strictness matters because the claims decide authorization: the payload
// must be valid UTF-8 JSON whose top level is an object, member names must be
// unique after unescaping (two readers that disagree on a duplicate are an
// attack vector), and every claim listed in Claims must have exactly its
// specified JSON type. Any violation yields an error wrapping ErrMalformed
// and leaves c zeroed, so a partly decoded claim set is never observed.
// The receiver is always reset first, so a *Claims can be reused.
//
// NumericDate claims (exp, nbf, iat, auth_time) must be JSON numbers that fit
// in int64 seconds; a fraction is kept (RFC 7519 §2 allows one), to the
// microsecond or so a float64 holds, so that "nbf":1700000000.9 is not
// passed as 1700000000, nearly a second early. Values beyond what
// package time can represent (about 292 billion years) are stored as the
// latest representable time, which is what they mean to a verifier.
//
// The input is not retained: the method keeps one private copy of it.
//
// Beware that json.Unmarshal, and so golang-jwt, never calls UnmarshalJSON
// for a payload that is the JSON literal null: it reports success and leaves
// the *Claims untouched. Always decode into a fresh (or explicitly zeroed)
// Claims, and require exp, iss and aud in the validator, so that such a token
// carries no stale or default claims and is refused.
func (c *Claims) UnmarshalJSON(data []byte) error {
	if c == nil {
		return errors.New("claims: UnmarshalJSON on nil *Claims")
	}
	*c = Claims{}
	if err := c.decode(string(data), nil); err != nil {
		*c = Claims{}
		return err
	}
	return nil
}

func init() {
	claimsdecode.Decode = func(c any, payload string, p *claimsdecode.Pending) error {
		cl := c.(*Claims)
		*cl = Claims{}
		*p = claimsdecode.Pending{}
		if err := cl.decode(payload, p); err != nil {
			*cl, *p = Claims{}, claimsdecode.Pending{}
			return err
		}
		return nil
	}
	claimsdecode.Finish = func(c any, p *claimsdecode.Pending) error {
		cl := c.(*Claims)
		err := cl.scopes(p.Src, span{p.Scope.Start, p.Scope.End}, span{p.Scp.Start, p.Scp.End})
		*p = claimsdecode.Pending{}
		return err
	}
}

type span struct{ start, end int }

// decode fills c from s, the one copy of the payload: every unescaped
// string value and every raw custom claim is a substring of it. With p,
// the scope members' shapes are checked but Scopes is left for
// claimsdecode.Finish, with what it needs in p.
func (c *Claims) decode(s string, p *claimsdecode.Pending) error {
	// encoding/json.Valid's answer, in half the time, and UTF-8 text; the
	// bytes are read, never written. encoding/json silently replaces invalid
	// UTF-8 with U+FFFD, and a \u escape of a lone surrogate too: refusing
	// the one keeps our zero-copy string fast path identical to
	// encoding/json, refusing the other keeps "a\ud800", "a\udfff" and
	// "a\ufffd" three strings, as the issuer wrote them (RFC 8725 §3.7).
	if b := unsafe.Slice(unsafe.StringData(s), len(s)); !jsonscan.ValidUTF8(b) {
		if !jsonscan.Valid(b) {
			return malformed("invalid JSON")
		}
		return malformed("invalid UTF-8")
	}

	i := jsonscan.SkipWS(s, 0)
	if s[i] != '{' {
		return malformed("top level is not an object")
	}
	var seen uint32
	var spans [numKnown]span

	i = jsonscan.SkipWS(s, i+1)
	if s[i] != '}' {
		for {
			keyEnd, esc := jsonscan.ScanString(s, i)
			name := s[i+1 : keyEnd-1]
			if esc {
				var err error
				if name, err = unescape(s[i:keyEnd]); err != nil {
					return malformed(reasonEscape)
				}
			}
			i = jsonscan.SkipWS(s, keyEnd) // at ':'
			vs := jsonscan.SkipWS(s, i+1)
			ve := jsonscan.SkipValue(s, vs)

			if k := knownIndex(name); k >= 0 {
				if seen&(1<<k) != 0 {
					return malformedClaim(knownNames[k], reasonDuplicate)
				}
				seen |= 1 << k
				spans[k] = span{vs, ve}
			} else {
				if c.extra == nil {
					c.extra = make([]extraClaim, 0, 4)
				}
				c.extra = append(c.extra, extraClaim{name: name, raw: s[vs:ve]})
			}

			i = jsonscan.SkipWS(s, ve)
			if s[i] == '}' {
				break
			}
			i = jsonscan.SkipWS(s, i+1) // past ','
		}
	}

	if len(c.extra) > 1 {
		slices.SortFunc(c.extra, func(a, b extraClaim) int { return strings.Compare(a.name, b.name) })
		for j := 1; j < len(c.extra); j++ {
			if c.extra[j].name == c.extra[j-1].name {
				// The name is attacker-controlled: do not echo it.
				return malformed(reasonDuplicate)
			}
		}
	}

	for k := range numKnown {
		if seen&(1<<k) == 0 {
			continue
		}
		sp := spans[k]
		var reason string
		switch k {
		case kIss:
			c.Issuer, reason = stringValue(s, sp)
		case kSub:
			c.Subject, reason = stringValue(s, sp)
			c.ownSubject = c.Subject
		case kJti:
			c.ID, reason = stringValue(s, sp)
		case kClientID:
			c.ClientID, reason = stringValue(s, sp)
			c.ownClientID = c.ClientID
		case kACR:
			c.ACR, reason = stringValue(s, sp)
		case kAud:
			c.Audience, reason = stringOrArray(s, sp)
		case kGroups, kRoles, kEntitlements:
			*c.attribute(k), reason = stringOrArray(s, sp)
			if s[sp.start] == '"' {
				c.stringForm |= 1 << k
			}
		case kAMR:
			c.AMR, reason = stringArray(s, sp)
		case kExp:
			c.ExpiresAt, reason = numericDate(s, sp)
		case kNbf:
			c.NotBefore, reason = numericDate(s, sp)
		case kIat:
			c.IssuedAt, reason = numericDate(s, sp)
		case kAuthTime:
			c.AuthTime, reason = numericDate(s, sp)
		case kScope, kScp:
			// Combined below, "scope" first whatever the member order.
		}
		if reason != "" {
			return malformedClaim(knownNames[k], reason)
		}
	}

	if raw, ok := c.lookup("cnf"); ok {
		cnf, reason := confirmation(raw)
		if reason != "" {
			return malformedClaim("cnf", reason)
		}
		c.Confirmation = cnf
	}

	if seen&(1<<kScope|1<<kScp) == 0 {
		return nil
	}
	if p == nil {
		return c.scopes(s, spans[kScope], spans[kScp])
	}
	for _, k := range [...]int{kScope, kScp} {
		if seen&(1<<k) != 0 && !scopeShape(s, spans[k]) {
			return malformedClaim(knownNames[k], reasonStringOrArray)
		}
	}
	sc, sp := spans[kScope], spans[kScp]
	*p = claimsdecode.Pending{Src: s, Scope: claimsdecode.Span{Start: sc.start, End: sc.end}, Scp: claimsdecode.Span{Start: sp.start, End: sp.end}}
	return nil
}

// scopes fills c.Scopes from the "scope" and "scp" values at scope and scp
// in s (start 0: absent).
func (c *Claims) scopes(s string, scope, scp span) error {
	var name, reason string
	c.Scopes, name, reason = scopesValue(s, scope.start != 0, scope, scp.start != 0, scp)
	if reason != "" {
		return malformedClaim(name, reason)
	}
	return nil
}

// scopeShape reports, without reading the scopes, whether a scope member's
// value is a string or an array of strings, the shapes scopesValue reads.
func scopeShape(s string, sp span) bool {
	switch s[sp.start] {
	case '"':
		return true
	case '[':
		_, ok := countStrings(s, sp.start)
		return ok
	}
	return false
}

// The decoder runs only on input that jsonscan.ValidUTF8 (which accepts
// only what json.Valid does) accepted, so the scanner's token ends are
// always found; it does not re-check the grammar.
// unescape decodes a quoted JSON string that contains escapes (rare path).
func unescape(quoted string) (string, error) {
	s, ok := jsonscan.Unquote(quoted)
	if !ok {
		return "", errBadEscape
	}
	return s, nil
}

var errBadEscape = errors.New("claims: invalid string escape")

// quoted returns the value of the JSON string s[start:end] (quotes included);
// a substring of s when there is nothing to unescape.
func quoted(s string, start, end int, esc bool) (string, string) {
	if !esc {
		return s[start+1 : end-1], ""
	}
	v, err := unescape(s[start:end])
	if err != nil {
		return "", reasonEscape
	}
	return v, ""
}

func stringValue(s string, sp span) (string, string) {
	if s[sp.start] != '"' {
		return "", reasonString
	}
	end, esc := jsonscan.ScanString(s, sp.start)
	return quoted(s, sp.start, end, esc)
}

func stringOrArray(s string, sp span) ([]string, string) {
	switch s[sp.start] {
	case '"':
		v, reason := stringValue(s, sp)
		if reason != "" {
			return nil, reason
		}
		return []string{v}, ""
	case '[':
		return stringArray(s, sp)
	}
	return nil, reasonStringOrArray
}

// countStrings checks that the value at s[i] is an array whose elements are
// all strings and returns how many there are.
func countStrings(s string, i int) (int, bool) {
	if s[i] != '[' {
		return 0, false
	}
	n := 0
	i = jsonscan.SkipWS(s, i+1)
	if s[i] == ']' {
		return 0, true
	}
	for {
		if s[i] != '"' {
			return 0, false
		}
		end, _ := jsonscan.ScanString(s, i)
		n++
		i = jsonscan.SkipWS(s, end)
		if s[i] == ']' {
			return n, true
		}
		i = jsonscan.SkipWS(s, i+1) // past ','
	}
}

// addArray adds each element of an array already accepted by countStrings.
func (u *uniq) addArray(s string, i int) string {
	i = jsonscan.SkipWS(s, i+1)
	for s[i] != ']' {
		end, esc := jsonscan.ScanString(s, i)
		v, reason := quoted(s, i, end, esc)
		if reason != "" {
			return reason
		}
		u.add(v)
		i = jsonscan.SkipWS(s, end)
		if s[i] == ',' {
			i = jsonscan.SkipWS(s, i+1)
		}
	}
	return ""
}

func stringArray(s string, sp span) ([]string, string) {
	n, ok := countStrings(s, sp.start)
	if !ok {
		return nil, reasonArray
	}
	out := make([]string, 0, n) // non-nil even when empty: "present but empty"
	i := jsonscan.SkipWS(s, sp.start+1)
	for s[i] != ']' {
		end, esc := jsonscan.ScanString(s, i)
		v, reason := quoted(s, i, end, esc)
		if reason != "" {
			return nil, reason
		}
		out = append(out, v)
		i = jsonscan.SkipWS(s, end)
		if s[i] == ',' {
			i = jsonscan.SkipWS(s, i+1)
		}
	}
	return out, ""
}

// numericDate decodes an RFC 7519 NumericDate without allocating.
func numericDate(s string, sp span) (time.Time, string) {
	num := s[sp.start:sp.end]
	if c := num[0]; c != '-' && (c < '0' || c > '9') {
		return time.Time{}, reasonNumber
	}
	var sec, nsec int64
	if strings.ContainsAny(num, ".eE") {
		f, err := strconv.ParseFloat(num, 64)
		// -2^63 is an int64; 2^63 is not. NaN fails both comparisons.
		if err != nil || !(f >= math.MinInt64 && f < math.MaxInt64) {
			return time.Time{}, reasonRange
		}
		whole, frac := math.Modf(f) // frac has whole's sign
		sec, nsec = int64(whole), int64(frac*1e9)
	} else {
		var err error
		if sec, err = strconv.ParseInt(num, 10, 64); err != nil {
			return time.Time{}, reasonRange
		}
	}
	if sec >= maxStoredSec || sec <= minStoredSec {
		sec, nsec = max(min(sec, maxStoredSec), minStoredSec), 0
	}
	return time.Unix(sec, nsec).UTC(), ""
}

// smallScopeSet is the size up to which duplicate scopes are found by a
// linear scan; larger (attacker-sized) sets use a map to stay O(n).
const smallScopeSet = 16

// scopeMember is one of "scope" and "scp" as found: a space-separated
// string, or an array whose elements are taken verbatim.
type scopeMember struct {
	str     string
	array   bool
	arrayAt int
}

// readScopeMember reads a scope claim's value, a string or an array of
// strings; it returns the number of scopes it may hold.
func readScopeMember(s string, sp span) (scopeMember, int, string) {
	switch s[sp.start] {
	case '"':
		str, reason := stringValue(s, sp)
		if reason != "" {
			return scopeMember{}, 0, reason
		}
		return scopeMember{str: str}, countFields(str), ""
	case '[':
		n, ok := countStrings(s, sp.start)
		if !ok {
			return scopeMember{}, 0, reasonStringOrArray
		}
		return scopeMember{array: true, arrayAt: sp.start}, n, ""
	}
	return scopeMember{}, 0, reasonStringOrArray
}

func scopesValue(s string, hasScope bool, scope span, hasScp bool, scp span) (Scopes, string, string) {
	var members [2]scopeMember
	names := [2]string{"scope", "scp"}
	total := 0
	for i, m := range [2]struct {
		has bool
		sp  span
	}{{hasScope, scope}, {hasScp, scp}} {
		if !m.has {
			continue
		}
		sm, n, reason := readScopeMember(s, m.sp)
		if reason != "" {
			return nil, names[i], reason
		}
		members[i], total = sm, total+n
	}
	if total == 0 {
		return nil, "", ""
	}

	u := uniq{out: make(Scopes, 0, total)}
	if total > smallScopeSet {
		u.set = make(map[string]struct{}, total)
	}
	for i, m := range members {
		if !m.array {
			u.addFields(m.str)
		} else if reason := u.addArray(s, m.arrayAt); reason != "" {
			return nil, names[i], reason
		}
	}
	if len(u.out) == 0 { // e.g. "scp":[""]: no scopes, same as absent
		return nil, "", ""
	}
	return u.out, "", ""
}

type uniq struct {
	out Scopes
	set map[string]struct{}
}

func (u *uniq) add(v string) {
	if v == "" {
		return
	}
	if u.set != nil {
		if _, dup := u.set[v]; dup {
			return
		}
		u.set[v] = struct{}{}
	} else if slices.Contains(u.out, v) {
		return
	}
	u.out = append(u.out, v)
}

func (u *uniq) addFields(list string) {
	for list != "" {
		var f string
		f, list = nextField(list)
		u.add(f)
	}
}

// HasAudience reports whether aud is one of the token's audiences, compared
// exactly (no prefix, case or URL normalisation), so a resource server can
// refuse tokens minted for another service (RFC 9068 §4).
func (c *Claims) HasAudience(aud string) bool {
	return c != nil && slices.Contains(c.Audience, aud)
}

func (c *Claims) lookup(name string) (string, bool) {
	if c == nil {
		return "", false
	}
	i, ok := slices.BinarySearchFunc(c.extra, name, func(e extraClaim, name string) int {
		return strings.Compare(e.name, name)
	})
	if !ok {
		return "", false
	}
	return c.extra[i].raw, true
}

// Raw returns the raw JSON of a custom claim, one that is not decoded into a
// Claims field, so that applications can read provider-specific claims
// (tenant IDs, feature flags, ...) without this package knowing about them.
// It reports false when the claim is absent, and also for the claims that
// have a field (use the field). The returned bytes are a fresh copy the
// caller may keep or modify.
func (c *Claims) Raw(name string) (json.RawMessage, bool) {
	raw, ok := c.lookup(name)
	if !ok {
		return nil, false
	}
	return json.RawMessage(raw), true
}

// Values returns the strings held by the claim at path (a claim name, then
// member names into nested objects), read by one rule whatever the claim:
// an array of strings gives its elements verbatim, a string is split on
// spaces as a scope string is, and an object gives its member names in
// sorted order (ZITADEL's roles). Any other shape, an absent claim, or an
// array holding anything but strings gives nil. It is how claims other
// than "scope" and "scp" are read as scopes or roles.
func (c *Claims) Values(path ...string) []string {
	if c == nil || len(path) == 0 {
		return nil
	}
	if len(path) == 1 {
		if v, ok := c.fieldValues(path[0]); ok {
			return v
		}
	}
	raw, ok := c.at(path)
	if !ok {
		return nil
	}
	var list []string
	if json.Unmarshal([]byte(raw), &list) == nil {
		return list
	}
	var str string
	if json.Unmarshal([]byte(raw), &str) == nil {
		return ParseScopes(str)
	}
	var names []string
	if !jsonscan.Members([]byte(raw), func(n, _ []byte) bool {
		names = append(names, string(n))
		return true
	}) {
		return nil
	}
	slices.Sort(names)
	return names
}

// at returns the raw JSON of the custom claim at path. Nested objects are
// walked with the same scanner as the top level, which refuses a repeated
// member name (encoding/json would take the last one); the payload was
// validated when it was decoded.
func (c *Claims) at(path []string) (string, bool) {
	raw, ok := c.lookup(path[0])
	if !ok {
		return "", false
	}
	for _, name := range path[1:] {
		found := false
		if !jsonscan.Members([]byte(raw), func(n, v []byte) bool {
			if string(n) == name {
				raw, found = string(v), true
			}
			return true
		}) || !found {
			return "", false
		}
	}
	return raw, true
}

// Strings returns the claim at path exactly as written, for comparing it
// with expected values: a string is one value, never split (unlike
// Values); an array of strings gives its elements; true, false and a
// number give their JSON text ("true", "42"). Any other shape, or an
// absent claim, gives nil. The claims decoded into fields are read from
// them: "iss", "sub", "jti", "client_id" and "acr" as one string (nil when
// empty, and for "sub" and "client_id" when a verifier filled them from
// another claim: see SubjectFrom), "aud", "amr", "groups", "roles" and
// "entitlements" as written (a string one value, not split); the dates,
// "scope" and "scp" (merged into Scopes) give nil.
func (c *Claims) Strings(path ...string) []string {
	if c == nil || len(path) == 0 {
		return nil
	}
	if len(path) == 1 {
		switch k := knownIndex(path[0]); k {
		case -1:
		case kIss, kSub, kJti, kClientID, kACR:
			// sub and client_id as the token wrote them, not as a verifier
			// may have filled Subject and ClientID from other claims.
			s := [...]string{kIss: c.Issuer, kSub: c.ownSubject, kJti: c.ID, kClientID: c.ownClientID, kACR: c.ACR}[k]
			if s == "" {
				return nil
			}
			return []string{s}
		case kAud:
			return slices.Clone(c.Audience)
		case kAMR:
			return slices.Clone(c.AMR)
		case kGroups, kRoles, kEntitlements:
			return slices.Clone(*c.attribute(k)) // as written: a string form is one value
		default:
			// The dates, and "scope" and "scp": merged into Scopes, they
			// are no longer as written (use a scope requirement).
			return nil
		}
	}
	raw, ok := c.at(path)
	if !ok {
		return nil
	}
	switch raw[0] {
	case '"':
		var str string
		if json.Unmarshal([]byte(raw), &str) != nil {
			return nil
		}
		return []string{str}
	case '[':
		var list []string
		if json.Unmarshal([]byte(raw), &list) != nil {
			return nil
		}
		return list
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return []string{raw}
	}
	return nil
}

// fieldValues is Values for the claims decoded into fields; ok is false
// for any other name.
func (c *Claims) fieldValues(name string) (v []string, ok bool) {
	var str string
	switch k := knownIndex(name); k {
	case kGroups, kRoles, kEntitlements:
		v = *c.attribute(k)
		if c.stringForm&(1<<k) != 0 && len(v) == 1 {
			return ParseScopes(v[0]), true
		}
		return v, true
	case kScope, kScp:
		return c.Scopes, true
	case kAud:
		return c.Audience, true
	case kAMR:
		return c.AMR, true
	case kIss:
		str = c.Issuer
	case kSub:
		str = c.Subject
	case kJti:
		str = c.ID
	case kClientID:
		str = c.ClientID
	case kACR:
		str = c.ACR
	case -1:
		return nil, false
	default:
		return nil, true // the dates are numbers
	}
	if str == "" {
		return nil, true
	}
	return ParseScopes(str), true
}

// MemSize estimates the bytes c holds beyond the Claims struct and the one
// copy of the payload that its strings point into: the backing arrays of
// its lists (Audience, Scopes, AMR, Groups, Roles, Entitlements) and of its
// index of custom claims, rounded up to the allocator's size classes. A
// string that had escapes is a copy of its own, not counted. For caches
// that bound the memory of the claims they keep.
func (c *Claims) MemSize() int {
	if c == nil {
		return 0
	}
	const header = int(unsafe.Sizeof(""))
	n := 0
	for _, l := range [...][]string{c.Audience, c.Scopes, c.AMR, c.Groups, c.Roles, c.Entitlements} {
		n += memsize.Alloc(cap(l) * header)
	}
	if cnf := c.Confirmation; cnf != nil { // its strings are copies of their own
		n += memsize.Alloc(int(unsafe.Sizeof(*cnf))) + memsize.Alloc(len(cnf.JKT)) + memsize.Alloc(len(cnf.X5TS256)) + memsize.Alloc(cap(cnf.Others)*header)
		for _, o := range cnf.Others {
			n += memsize.Alloc(len(o))
		}
	}
	return n + memsize.Alloc(cap(c.extra)*int(unsafe.Sizeof(extraClaim{})))
}

// Decode json.Unmarshals the custom claim name into v (a non-nil pointer), so
// that structured provider-specific claims can be read with ordinary Go
// types. It returns an error wrapping ErrNotPresent when the claim is absent
// (as for the claims that have a field; use the field), and one wrapping
// ErrMalformed when the claim's JSON does not fit v. The error text does not
// include the claim's value; the underlying encoding/json error is still
// reachable with errors.As.
//
// Decoded into a struct (or a type that holds one, or decodes itself), a
// claim holding an object, at any depth, whose member names repeat when
// compared without case ({"ID":"a","id":"b"}) is malformed: encoding/json
// would fill a struct field from the last of them, where ClaimIn, Strings
// and Values (which compare names exactly, and refuse an exact repeat)
// read the first, so a rule and the handler would read two values from
// one claim. Into a map, an interface or a json.RawMessage the names are
// kept apart, as those read them. A name repeated exactly, at any depth
// ({"role":"user","role":"admin"}), is malformed whatever v is:
// encoding/json would read the last, where Values, Strings and ClaimIn
// refuse the repeat.
func (c *Claims) Decode(name string, v any) error {
	raw, ok := c.lookup(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotPresent, name)
	}
	if t := reflect.TypeOf(v); t != nil && t.Kind() == reflect.Pointer {
		switch {
		case mayFold(reflect.ValueOf(v)):
			if !jsonscan.FoldUnique([]byte(raw)) {
				return fmt.Errorf("%w: %q: member names repeat when compared without case", ErrMalformed, name)
			}
		case !jsonscan.Unique([]byte(raw)):
			// Into a map or an interface the last of them wins, where
			// Values and ClaimIn refuse the repeat.
			return fmt.Errorf("%w: %q: member names repeat", ErrMalformed, name)
		}
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		var inv *json.InvalidUnmarshalError
		if errors.As(err, &inv) {
			return err // a programming error (v is not a non-nil pointer)
		}
		return &decodeError{name: name, err: err}
	}
	return nil
}

// mayFold reports whether encoding/json, decoding into the value p points
// to, may fold member names into struct fields: by its type (foldsNames),
// or through an interface in it that holds a non-nil pointer, which
// encoding/json decodes into (a *any holding a *struct folds as the
// struct does). An interface holding anything else is replaced, and a
// map's elements are made anew, so only those reached through pointers,
// slices (their whole capacity: elements are reused), arrays and
// interfaces count.
func mayFold(p reflect.Value) bool {
	if foldsNames(p.Type().Elem()) {
		return true
	}
	return !p.IsNil() && heldPointer(p.Elem(), 0)
}

// heldPointer reports whether v holds, at most a few levels down, an
// interface holding a non-nil pointer; past that it answers yes, so that
// a value too deep to walk is checked.
func heldPointer(v reflect.Value, depth int) bool {
	if depth > 16 {
		return true
	}
	switch v.Kind() {
	case reflect.Interface:
		if v.IsNil() {
			return false
		}
		e := v.Elem()
		if e.Kind() == reflect.Pointer {
			return !e.IsNil()
		}
		return false
	case reflect.Pointer:
		return !v.IsNil() && heldPointer(v.Elem(), depth+1)
	case reflect.Slice:
		v = v.Slice(0, v.Cap())
		fallthrough
	case reflect.Array:
		if !hasInterface(v.Type().Elem()) {
			return false
		}
		for i := range v.Len() {
			if heldPointer(v.Index(i), depth+1) {
				return true
			}
		}
	}
	return false
}

// hasInterface reports whether t holds an interface through pointers,
// slices and arrays, where a decoded value may be reused.
func hasInterface(t reflect.Type) bool {
	for {
		switch t.Kind() {
		case reflect.Interface:
			return true
		case reflect.Pointer, reflect.Slice, reflect.Array:
			t = t.Elem()
		default:
			return false
		}
	}
}

// folds caches foldsNames' answers: a type's answer never changes.
var folds sync.Map // reflect.Type → bool

// foldsNames reports whether encoding/json, decoding into a t, may match
// an object's member to a struct field by folding case: t holds a struct
// (through pointers, slices, arrays and map values) or decodes itself
// (UnmarshalJSON may decode into one); json.RawMessage, interfaces (maps
// of exact names) and maps of such do not.
func foldsNames(t reflect.Type) bool {
	if v, ok := folds.Load(t); ok {
		return v.(bool)
	}
	f := foldsIn(t, map[reflect.Type]bool{})
	folds.Store(t, f)
	return f
}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
)

func foldsIn(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a cycle: what it holds is answered where it began
	}
	seen[t] = true
	switch {
	case t == rawMessageType:
		return false
	case t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType):
		return true
	}
	switch t.Kind() {
	case reflect.Struct:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return foldsIn(t.Elem(), seen)
	}
	return false
}

// decodeError hides the encoding/json message, which can quote the claim's
// value ("cannot unmarshal number 1.5 ..."), while keeping it unwrappable.
type decodeError struct {
	name string
	err  error
}

func (e *decodeError) Error() string {
	return ErrMalformed.Error() + ": " + strconv.Quote(e.name) + ": does not fit the requested type"
}

func (e *decodeError) Unwrap() []error { return []error{ErrMalformed, e.err} }

// Get is the generic form of Decode: it returns custom claim name decoded as
// a T, so a handler can write Get[string](c, "tenant") without declaring a
// variable first. On error it returns the zero T, never a partly decoded one.
func Get[T any](c *Claims, name string) (T, error) {
	var v T
	if err := c.Decode(name, &v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func numericDatePtr(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return &jwt.NumericDate{Time: t}
}

// GetExpirationTime implements jwt.Claims so that golang-jwt's validator can
// enforce "exp". It returns nil, nil when the claim is absent; use
// jwt.WithExpirationRequired to refuse such tokens.
func (c *Claims) GetExpirationTime() (*jwt.NumericDate, error) {
	if c == nil {
		return nil, nil
	}
	return numericDatePtr(c.ExpiresAt), nil
}

// GetIssuedAt implements jwt.Claims so that golang-jwt's validator can check
// "iat" (with jwt.WithIssuedAt). It returns nil, nil when the claim is absent.
func (c *Claims) GetIssuedAt() (*jwt.NumericDate, error) {
	if c == nil {
		return nil, nil
	}
	return numericDatePtr(c.IssuedAt), nil
}

// GetNotBefore implements jwt.Claims so that golang-jwt's validator can
// enforce "nbf". It returns nil, nil when the claim is absent.
func (c *Claims) GetNotBefore() (*jwt.NumericDate, error) {
	if c == nil {
		return nil, nil
	}
	return numericDatePtr(c.NotBefore), nil
}

// GetIssuer implements jwt.Claims so that golang-jwt's validator can enforce
// jwt.WithIssuer. It returns "" when the claim is absent.
func (c *Claims) GetIssuer() (string, error) {
	if c == nil {
		return "", nil
	}
	return c.Issuer, nil
}

// GetSubject implements jwt.Claims so that golang-jwt's validator can enforce
// jwt.WithSubject. It returns "" when the claim is absent.
func (c *Claims) GetSubject() (string, error) {
	if c == nil {
		return "", nil
	}
	return c.Subject, nil
}

// GetAudience implements jwt.Claims so that golang-jwt's validator can
// enforce jwt.WithAudience. It returns nil when the claim is absent.
func (c *Claims) GetAudience() (jwt.ClaimStrings, error) {
	if c == nil {
		return nil, nil
	}
	return jwt.ClaimStrings(c.Audience), nil
}

// Confirmation is a token's "cnf" claim (RFC 7800 §3.1): what binds it to
// a key its sender must prove to hold. A verifier that finds members it
// cannot check (Others), or no member at all ("cnf":{}), must refuse the
// token rather than take it as a bearer token.
type Confirmation struct {
	// JKT is "jkt" (RFC 9449 §6.1): the RFC 7638 SHA-256 thumbprint of the
	// DPoP key, base64url.
	JKT string
	// X5TS256 is "x5t#S256" (RFC 8705 §3.1): the SHA-256 thumbprint of the
	// client's TLS certificate, base64url.
	X5TS256 string
	// Others names the other members ("jwk", "jku", "kid", …), in order:
	// confirmation methods no verifier of this module checks.
	Others []string
}

// confirmation decodes a "cnf" value: an object whose "jkt" and
// "x5t#S256", when present, are non-empty strings.
func confirmation(raw string) (*Confirmation, string) {
	cnf := &Confirmation{}
	bad := ""
	ok := jsonscan.Members([]byte(raw), func(name, value []byte) bool {
		var dst *string
		switch string(name) {
		case "jkt":
			dst = &cnf.JKT
		case "x5t#S256":
			dst = &cnf.X5TS256
		default:
			cnf.Others = append(cnf.Others, string(name))
			return true
		}
		v, ok := jsonscan.String(value)
		if !ok || v == "" {
			bad = reasonString
			return false
		}
		*dst = v
		return true
	})
	switch {
	case bad != "":
		return nil, bad
	case !ok:
		return nil, reasonObject
	}
	return cnf, ""
}
