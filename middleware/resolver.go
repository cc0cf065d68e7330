package middleware

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of ResolverLimits.
const (
	DefaultResolverKeySets   = 100
	DefaultResolverAnswers   = 10_000
	DefaultResolverTTL       = time.Minute
	DefaultResolverPerSecond = 20
)

// resolverTimeout bounds one resolution: the call of the allow function,
// the making of the key set and the wait for its first keys. A call of
// allow or keys that is still running then (deaf to its context) is given
// up, and the token's request waits no longer.
const resolverTimeout = 2 * time.Second

// maxAbandoned bounds the calls of allow or keys given up on but still
// running: each holds a goroutine (and what it holds) until it returns,
// which for a database that hangs may be never. Past it, issuers not held
// are 503 without a call.
const maxAbandoned = 64

// maxAbandonedCloses bounds the key sets' Close calls given up on (still
// running past the resolver's timeout) as maxAbandoned bounds those of
// allow and keys: a user's Close that hangs holds a goroutine for good.
// Past it, a key set the resolver drops is not closed (logged at Error
// level): its goroutines, if it has any, are left running, which a hung
// Close would hold anyway.
const maxAbandonedCloses = 64

// maxResolvedIssuer is the longest iss a resolver is asked about; a longer
// one is refused as unknown, unasked and unremembered.
const maxResolvedIssuer = 1024

// ResolverLimits bounds what WithIssuerResolver holds and does, so that a
// flood of tokens naming made-up issuers costs neither memory nor calls of
// the resolver without bound. A zero field takes its default.
type ResolverLimits struct {
	// KeySets is how many resolved issuers' key sets are held at once; the
	// least recently used is closed and dropped first. A key set no token
	// has verified with yet (made for a token that may be forged: a
	// tenant's name is public, and a token naming it needs no key to make)
	// is held apart, with at most as many others, until one does; forged
	// tokens naming real tenants then churn those alone, never the key
	// sets of the tenants in use. Default DefaultResolverKeySets.
	KeySets int
	// Answers is how many answers (refusals included) are remembered.
	// Default DefaultResolverAnswers.
	Answers int
	// TTL is how long an answer is believed before allow is asked again;
	// a key set is kept across a renewed yes. Default DefaultResolverTTL.
	TTL time.Duration
	// PerSecond is how many calls of allow may start per second (with a
	// burst of twice that); past it, a token of an issuer not yet known is
	// answered 503 with Retry-After. Tokens naming made-up issuers, which
	// need no key to make, spend it too, so during a flood of them a new
	// tenant's first token is 503 until the flood ends; an issuer allow
	// said yes to before, whose key set was dropped for the KeySets bound,
	// is asked about again from a budget of its own, of the same rate,
	// that made-up issuers cannot reach (forged tokens naming more than
	// KeySets dropped tenants in turn can spend it). Default
	// DefaultResolverPerSecond.
	PerSecond float64
}

// WithIssuerResolver accepts tokens from issuers decided at run time, for an
// API whose tenants live in a database: when a token's iss matches no issuer
// given to New, WithIssuer or WithIssuerTemplate, allow(ctx, iss) says
// whether to accept it, and for a yes, keys(iss) makes its key set, once
// (typically jwks.New, whose discovery also checks that the metadata names
// exactly that issuer). opts are issuer options, applied to every issuer
// the resolver accepts. Only an issuer template (WithIssuerTemplate) ties
// a token's tid to the tenant its iss names; a resolved issuer, like a
// literal one, verifies a token whose iss names one tenant and whose tid
// another (as Microsoft.IdentityModel does with a literal valid issuer),
// so a handler that decides the tenant by tid should check it against iss
// (WithClaimsCheck), or read the tenant from iss.
//
// The answers are remembered for ResolverLimits.TTL, key sets are created
// lazily and held in a bounded least-recently-used set (closed, if they have
// a Close method, when dropped and by Guard.Close: so keys must give each
// issuer a key set of its own, and one shared by several, say Entra's
// common keys, must be wrapped in a type whose Close does nothing, or the
// first drop would stop it for them all), and calls of allow are
// rate-limited; see ResolverLimits and WithResolverLimits. An iss allow
// refuses is 401 invalid_token, with no key set made and no request sent;
// an error from allow or keys is 503 (the token may be fine), not
// remembered, and so is a panic in either (logged at Error level with its
// stack: allow is asked about an iss before any signature is checked, so
// one that panics on some input must not take the server down) and a call
// of either still running after two seconds (given up on; it is not waited
// for, and a key set it makes late is closed). A key set's Close is the
// user's code too: it runs on a goroutine of its own, never on a request's
// path nor before a resolution is done; a panic in it is logged as one in
// allow is, and a Close still running after two seconds is given up on
// (logged at Warn level); while 64 are, a key set dropped is not closed
// (logged at Error level). Guard.Close waits for the Closes under way at
// most two seconds, then returns, logging those it gave up on. The checks
// that need neither key nor issuer (audience, subject, exp present, nbf
// and iat) run before allow is asked, with the issuer options given here;
// a token refused by them is counted without an issuer. An expired token
// of an issuer not yet known is resolved like any other (its key is then
// looked up without a refresh), so that it can be told to refresh.
func WithIssuerResolver(allow func(ctx context.Context, iss string) (bool, error), keys func(iss string) (KeySet, error), opts ...Option) Option {
	return func(c *config) {
		ic := issuerConfig{kind: resolvedIssuer, keys: placeholderKeys{}}
		addIssuer(ic, opts)(c)
		last := &c.issuers[len(c.issuers)-1]
		c.issuers = c.issuers[:len(c.issuers)-1]
		if c.resolver != nil {
			c.errs = append(c.errs, errors.New("middleware: more than one WithIssuerResolver"))
		}
		if allow == nil || keys == nil {
			c.errs = append(c.errs, errors.New("middleware: WithIssuerResolver with a nil function"))
		}
		c.resolver = &resolverConfig{allow: allow, keys: keys, shape: *last}
	}
}

// WithResolverLimits sets the bounds of WithIssuerResolver. Default: the
// ResolverLimits defaults.
func WithResolverLimits(l ResolverLimits) Option {
	return guardOption("WithResolverLimits", func(c *config) { c.resolverLimits = l })
}

type resolverConfig struct {
	allow func(context.Context, string) (bool, error)
	keys  func(string) (KeySet, error)
	shape issuerConfig
}

// placeholderKeys stands in for the key set of a resolver's issuer shape,
// which is compiled for its options only.
type placeholderKeys struct{ KeySet }

// resolver holds the answers of WithIssuerResolver: a bounded set of
// issuers with key sets, a bounded set of refusals, both least recently
// used first out, and at most one call of allow per iss at a time.
type resolver struct {
	allow   func(context.Context, string) (bool, error)
	newKeys func(string) (KeySet, error)
	shape   issuerConfig
	proto   *issuer // the shape compiled: the token-shape rules of every resolved issuer
	limits  ResolverLimits
	limiter *rate.Limiter
	now     func() time.Time

	again    *rate.Limiter // for the issuers in was: made-up ones cannot spend it
	log      *slog.Logger
	onRetire func(*issuer) // told of every issuer taken out of service
	timeout  time.Duration // resolverTimeout; shorter in tests

	// base ends at close, and with it every resolution in flight, which
	// close waits for (wg).
	base   context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	yes       lru // iss → *answer with an issuer a token verified with
	pending   lru // iss → *answer with an issuer no token has verified with yet
	no        lru // iss → *answer without one
	was       lru // iss → *answer: in yes before, its key set dropped for the KeySets bound
	inflight  map[string]*resolveCall
	abandoned int                    // calls of allow or keys given up on, still running
	closing   map[*keyClose]struct{} // key sets' Close calls running
	hung      int                    // of those, how many were given up on
}

// keyClose is a call of a key set's Close, run out of hand (closeKeys).
type keyClose struct {
	iss     string
	done    chan struct{} // closed when Close returns
	givenUp bool          // running past the resolver's timeout; rv.mu guards it
}

type answer struct {
	iss     string
	until   time.Time
	is      *issuer   // nil for a refusal
	nextTry time.Time // a stale yes is not asked again before (after a failed re-ask)
}

// retryDelay is how long a stale yes waits before it is asked again after a
// re-ask failed (allow's error, timeout): a database that is down must not
// cost a call per request.
const retryDelay = 2 * time.Second

type resolveCall struct {
	done chan struct{}
	is   *issuer
	rsn  reason
}

func newResolver(rc *resolverConfig, l ResolverLimits, now func() time.Time, log *slog.Logger, onRetire func(*issuer)) (*resolver, error) {
	if l.KeySets == 0 {
		l.KeySets = DefaultResolverKeySets
	}
	if l.Answers == 0 {
		l.Answers = DefaultResolverAnswers
	}
	if l.TTL == 0 {
		l.TTL = DefaultResolverTTL
	}
	if l.PerSecond == 0 {
		l.PerSecond = DefaultResolverPerSecond
	}
	if l.KeySets < 0 || l.Answers < 0 || l.TTL < 0 || l.PerSecond < 0 {
		return nil, errors.New("middleware: negative ResolverLimits")
	}
	// Compile the shape once: New fails on bad issuer options, and the key
	// checks before a resolution use its rules.
	proto, err := rc.shape.compile()
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	return &resolver{
		allow: rc.allow, newKeys: rc.keys, shape: rc.shape, proto: proto, limits: l, now: now,
		limiter:  rate.NewLimiter(rate.Limit(l.PerSecond), max(1, int(2*l.PerSecond))),
		again:    rate.NewLimiter(rate.Limit(l.PerSecond), max(1, int(2*l.PerSecond))),
		log:      log,
		onRetire: onRetire,
		timeout:  resolverTimeout,
		base:     base,
		cancel:   cancel,
		yes:      newLRU(),
		pending:  newLRU(),
		no:       newLRU(),
		was:      newLRU(),
		inflight: map[string]*resolveCall{},
		closing:  map[*keyClose]struct{}{},
	}, nil
}

// resolve returns the issuer for iss, or the reason to refuse: rIssuer when
// allow said no, rKeysUnavailable when it could not be asked (rate limit,
// error, timeout) or the key set could not be made.
//
// A yes past its TTL still serves while it is asked again in the background
// (renewals are not rate-limited by PerSecond: there is at most one per
// held issuer per TTL, and after a failed one, one per retryDelay), but not
// past a second TTL: then the request waits for the answer, or is 503.
func (rv *resolver) resolve(ctx context.Context, iss string) (*issuer, reason) {
	if len(iss) > maxResolvedIssuer {
		return nil, rIssuer
	}
	now := rv.now()
	rv.mu.Lock()
	if a := rv.yes.get(iss); a != nil {
		return rv.heldLocked(ctx, a, now)
	}
	if a := rv.pending.get(iss); a != nil && now.Before(a.until) {
		// Made for an earlier token of iss, which may have been forged:
		// this one may verify with it, and put it in yes.
		rv.mu.Unlock()
		return a.is, -1
	}
	if a := rv.no.get(iss); a != nil && now.Before(a.until) {
		rv.mu.Unlock()
		return nil, rIssuer
	}
	call := rv.inflight[iss]
	if call == nil {
		budget := rv.limiter
		if rv.was.get(iss) != nil {
			budget = rv.again
		}
		if rv.closed || rv.abandoned >= maxAbandoned || !budget.AllowN(now, 1) {
			rv.mu.Unlock()
			return nil, rKeysUnavailable
		}
		// A copy: iss is a substring of the token's payload, which a
		// remembered answer must not keep alive.
		call = rv.startLocked(ctx, strings.Clone(iss), nil)
	}
	rv.mu.Unlock()
	return rv.wait(ctx, call)
}

// heldLocked is resolve's answer for a held yes a: its issuer while a is
// usable (asking again in the background once it is stale), else the
// answer of asking again. rv.mu must be held; heldLocked releases it.
func (rv *resolver) heldLocked(ctx context.Context, a *answer, now time.Time) (*issuer, reason) {
	fresh, usable := now.Before(a.until), now.Before(a.until.Add(rv.limits.TTL))
	call := rv.inflight[a.iss]
	if !fresh && call == nil && !rv.closed && rv.abandoned < maxAbandoned && !now.Before(a.nextTry) {
		call = rv.startLocked(ctx, a.iss, a.is)
	}
	rv.mu.Unlock()
	if fresh || usable {
		return a.is, -1
	}
	return rv.wait(ctx, call)
}

// startLocked starts asking about iss (kept: the key set of a yes being
// renewed), detached from the request that started it, since others may
// wait on it, but not from close. rv.mu must be held, and rv not closed.
func (rv *resolver) startLocked(ctx context.Context, iss string, kept *issuer) *resolveCall {
	call := &resolveCall{done: make(chan struct{})}
	rv.inflight[iss] = call
	rv.wg.Add(1)
	go rv.run(context.WithoutCancel(ctx), iss, call, kept)
	return call
}

// wait waits for call, but no longer than a resolution may take (allow may
// ignore its deadline) nor than ctx allows.
func (rv *resolver) wait(ctx context.Context, call *resolveCall) (*issuer, reason) {
	if call == nil {
		return nil, rKeysUnavailable
	}
	timer := time.NewTimer(2*resolverTimeout + time.Second)
	defer timer.Stop()
	select {
	case <-call.done:
		return call.is, call.rsn
	case <-timer.C:
		return nil, rKeysUnavailable
	case <-ctx.Done():
		return nil, rKeysUnavailable
	}
}

func (rv *resolver) run(ctx context.Context, iss string, call *resolveCall, kept *issuer) {
	defer rv.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, rv.timeout)
	defer cancel()
	defer context.AfterFunc(rv.base, cancel)()
	is, rsn, remember := rv.ask(ctx, iss, kept)
	var drop []*issuer
	rv.mu.Lock()
	delete(rv.inflight, iss)
	if kept != nil && is == kept {
		// Renewed: only if the key set is still the one held (it may have
		// been evicted and closed meanwhile, and must not come back).
		if a := rv.yes.peek(iss); a == nil || a.is != kept {
			is, rsn, remember = nil, rKeysUnavailable, false
		}
	}
	if !remember && kept != nil {
		if a := rv.yes.peek(iss); a != nil && a.is == kept {
			a.nextTry = rv.now().Add(retryDelay)
		}
	}
	switch {
	case !remember || rv.closed:
		if is != nil && is != kept {
			drop = append(drop, is) // not kept: closed meanwhile, or not remembered
		}
		if rv.closed {
			is, rsn = nil, rKeysUnavailable
		}
	case is != nil && is == kept:
		rv.yes.put(&answer{iss: iss, until: rv.now().Add(rv.limits.TTL), is: is})
	case is != nil:
		// A new key set waits in pending until a token verifies with it
		// (promote): one made for a forged token (a tenant's name is
		// public, and a token naming it needs no key to make) must not
		// push a tenant in use out of yes. Forged tokens churn pending
		// alone, and a repeated one finds its key set there, unasked.
		rv.no.remove(iss)
		if old := rv.pending.remove(iss); old != nil {
			drop = append(drop, old.is)
		}
		if y := rv.yes.peek(iss); y != nil {
			// A token verified with a key set made earlier (its pending
			// answer stale) while this one was made: keep that one.
			drop = append(drop, is)
			is = y.is
			break
		}
		rv.pending.put(&answer{iss: iss, until: rv.now().Add(rv.limits.TTL), is: is})
		for rv.pending.len() > rv.limits.KeySets {
			drop = append(drop, rv.pending.evict().is)
		}
	default:
		if a := rv.yes.remove(iss); a != nil {
			drop = append(drop, a.is) // no longer allowed
		}
		if a := rv.pending.remove(iss); a != nil {
			drop = append(drop, a.is)
		}
		rv.was.remove(iss)
		rv.no.put(&answer{iss: iss, until: rv.now().Add(rv.limits.TTL)})
		for rv.no.len() > rv.limits.Answers {
			rv.no.evict()
		}
	}
	rv.mu.Unlock()
	for _, d := range drop {
		rv.retire(d)
	}
	call.is, call.rsn = is, rsn
	close(call.done)
}

// promote moves is from pending to yes once a token verified with its
// keys (the Guard calls it for a resolved issuer whose pending flag is
// set), dropping the least recently used key set of yes past the KeySets
// bound. An issuer no longer pending (dropped meanwhile, or promoted by
// another request) is left as it is.
func (rv *resolver) promote(is *issuer) {
	rv.mu.Lock()
	a := rv.pending.peek(is.name)
	if a == nil || a.is != is || rv.closed {
		rv.mu.Unlock()
		return
	}
	// Counted as a resolution is, so that Guard.Close, which waits for
	// them before it waits for the Closes begun, sees the Close of a key
	// set this drops.
	rv.wg.Add(1)
	defer rv.wg.Done()
	is.pending.Store(false)
	rv.pending.remove(is.name)
	rv.was.remove(is.name)
	var drop []*issuer
	if old := rv.yes.peek(is.name); old != nil && old.is != is {
		drop = append(drop, old.is) // put replaces it
	}
	rv.yes.put(a)
	for rv.yes.len() > rv.limits.KeySets {
		old := rv.yes.evict()
		drop = append(drop, old.is)
		rv.was.put(&answer{iss: old.iss})
		for rv.was.len() > rv.limits.Answers {
			rv.was.evict()
		}
	}
	rv.mu.Unlock()
	for _, d := range drop {
		rv.retire(d)
	}
}

// retire takes an issuer out of service: its cached tokens no longer count
// (and are dropped, here and now, so that they do not keep its key set
// alive), and its key set is closed, out of hand (closeKeys): retire runs
// on a request's path (promote) and before a resolution is done.
func (rv *resolver) retire(is *issuer) {
	is.retired.Store(true)
	if rv.onRetire != nil {
		rv.onRetire(is)
	}
	rv.closeKeys(is.name, is.keys)
}

// outOfHand runs f, the user's allow or keys (what names it), on a
// goroutine of its own, and returns its result, or false when it panicked
// (logged) or ctx ended first. A call given up on is counted in
// rv.abandoned until it returns; late is then given what it made, to close
// it.
func outOfHand[T any](rv *resolver, ctx context.Context, what, iss string, f func() T, late func(T)) (T, bool) {
	type result struct {
		v     T
		panic any
		stack []byte
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if r.panic = recover(); r.panic != nil {
				r.stack = debug.Stack()
			}
			done <- r
		}()
		r.v = f()
	}()
	returned := func(r result) (T, bool) {
		if r.panic != nil {
			rv.log.Error("middleware: the issuer resolver's "+what+" function panicked; its token is answered 503",
				"iss", iss, "panic", r.panic, "stack", string(r.stack))
			var zero T
			return zero, false
		}
		return r.v, true
	}
	select {
	case r := <-done:
		return returned(r)
	case <-ctx.Done():
	}
	// A function that heeds ctx returns at its end: give it a moment
	// before calling it deaf.
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case r := <-done:
		return returned(r)
	case <-grace.C:
	}
	rv.mu.Lock()
	rv.abandoned++
	rv.mu.Unlock()
	if rv.base.Err() == nil {
		rv.log.Warn("middleware: the issuer resolver's "+what+" function did not return in time, deaf to its context; given up on, its token is answered 503", "iss", iss)
	}
	go func() {
		r := <-done
		// Handed on before the count drops, so that no moment shows the
		// call returned while what it made is not yet being closed.
		if r.panic == nil && late != nil {
			late(r.v)
		}
		rv.mu.Lock()
		rv.abandoned--
		rv.mu.Unlock()
	}()
	var zero T
	return zero, false
}

// abandonGrace is how long past its context's end a call of the user's is
// waited for before it is given up on.
const abandonGrace = 100 * time.Millisecond

// ask calls allow and, for a new yes, makes the key set and waits (bounded)
// for its first keys. remember is false for answers not to be cached.
func (rv *resolver) ask(ctx context.Context, iss string, kept *issuer) (_ *issuer, _ reason, remember bool) {
	type answered struct {
		ok  bool
		err error
	}
	a, done := outOfHand(rv, ctx, "allow", iss, func() answered {
		ok, err := rv.allow(ctx, iss)
		return answered{ok, err}
	}, nil)
	switch {
	case !done || a.err != nil:
		return nil, rKeysUnavailable, false
	case !a.ok:
		return nil, rIssuer, true
	case kept != nil:
		return kept, -1, true
	case ctx.Err() != nil: // out of time, or closed: make no key set
		return nil, rKeysUnavailable, false
	}
	type made struct {
		keys KeySet
		err  error
	}
	m, done := outOfHand(rv, ctx, "keys", iss, func() made {
		keys, err := rv.newKeys(iss)
		return made{keys, err}
	}, func(late made) {
		if late.keys != nil {
			rv.closeKeys(iss, late.keys)
		}
	})
	keys := m.keys
	if !done || m.err != nil || keys == nil {
		if keys != nil {
			rv.closeKeys(iss, keys)
		}
		return nil, rKeysUnavailable, false
	}
	ic := rv.shape
	ic.name, ic.keys = iss, keys
	is, err := ic.compile()
	if err != nil { // the shape compiled at New; this cannot fail
		rv.closeKeys(iss, keys)
		return nil, rKeysUnavailable, false
	}
	is.resolved = true
	is.pending.Store(true) // until a token verifies with its keys
	if w, ok := keys.(interface{ WaitReady(context.Context) error }); ok {
		// Not ready in time: 503 until it is. A KeySet of the user's may
		// panic here, or not heed ctx, as allow and keys may.
		_, done := outOfHand(rv, ctx, "key set's WaitReady", iss, func() error { return w.WaitReady(ctx) }, nil)
		if !done && ctx.Err() == nil {
			rv.closeKeys(iss, keys)
			return nil, rKeysUnavailable, false
		}
	}
	return is, -1, true
}

// close ends the resolutions in flight, waits for them, and drops every
// key set the resolver made, waiting for their Close calls (and those of
// key sets dropped before) no longer than the resolver's timeout; those
// still running then are logged and left. Calls of allow or keys given up
// on are not waited for (a key set one makes late is closed when it
// returns).
func (rv *resolver) close() {
	rv.mu.Lock()
	rv.closed = true
	rv.mu.Unlock()
	rv.cancel()
	rv.wg.Wait()
	rv.mu.Lock()
	var drop []*issuer
	for rv.yes.len() > 0 {
		drop = append(drop, rv.yes.evict().is)
	}
	for rv.pending.len() > 0 {
		drop = append(drop, rv.pending.evict().is)
	}
	rv.mu.Unlock()
	for _, d := range drop {
		rv.retire(d)
	}
	rv.waitCloses()
}

// waitCloses waits for the key sets' Close calls running, as a whole no
// longer than the resolver's timeout, and logs those it gave up on.
func (rv *resolver) waitCloses() {
	rv.mu.Lock()
	calls := make([]*keyClose, 0, len(rv.closing))
	for c := range rv.closing {
		calls = append(calls, c)
	}
	rv.mu.Unlock()
	if len(calls) == 0 {
		return
	}
	timer := time.NewTimer(rv.timeout)
	defer timer.Stop()
	expired := false
	var left []string
	for _, c := range calls {
		if !expired {
			select {
			case <-c.done:
				continue
			case <-timer.C:
				expired = true
			}
		}
		select {
		case <-c.done:
		default:
			left = append(left, c.iss)
		}
	}
	if len(left) > 0 {
		rv.log.Warn("middleware: Guard.Close gave up waiting for the issuer resolver's key sets' Close; they are left running", "iss", left)
	}
}

// known is resolve for claims verified earlier (Rule.Authorize): an iss
// the resolver holds a yes for is answered as resolve answers it, so that
// a tenant revoked since is refused once its yes is stale, as its cached
// tokens are; any other iss is rIssuer, unasked, since nothing this Guard
// verified can name an issuer it does not hold, and asking would let
// claims made elsewhere start resolutions.
func (rv *resolver) known(ctx context.Context, iss string) (*issuer, reason) {
	now := rv.now()
	rv.mu.Lock()
	a := rv.yes.get(iss)
	if a == nil {
		rv.mu.Unlock()
		return nil, rIssuer
	}
	return rv.heldLocked(ctx, a, now)
}

// held reports how many answers of each kind are held, for tests.
func (rv *resolver) held() (keySets, refusals int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.yes.len(), rv.no.len()
}

// closeKeys closes a key set the resolver made, out of hand as allow, keys
// and WaitReady are called: its Close is the user's code, which may block
// (it must not hold the request or the resolution that dropped the key
// set, nor Guard.Close past its wait) or panic (recovered and logged, not
// the process's end). It runs on a goroutine of its own; one still running
// after the resolver's timeout is given up on (logged) and counted, and
// while maxAbandonedCloses are, the key set is not closed (logged).
func (rv *resolver) closeKeys(iss string, k KeySet) {
	if !hasClose(k) {
		return
	}
	rv.mu.Lock()
	if rv.hung >= maxAbandonedCloses {
		rv.mu.Unlock()
		rv.log.Error("middleware: the issuer resolver's key set is dropped without its Close: too many Close calls given up on are still running", "iss", iss, "given_up", maxAbandonedCloses)
		return
	}
	c := &keyClose{iss: iss, done: make(chan struct{})}
	rv.closing[c] = struct{}{}
	rv.mu.Unlock()
	go func() {
		giveUp := time.AfterFunc(rv.timeout, func() {
			rv.mu.Lock()
			_, running := rv.closing[c]
			if running {
				c.givenUp = true
				rv.hung++
			}
			rv.mu.Unlock()
			if running {
				rv.log.Warn("middleware: the issuer resolver's key set's Close did not return in time; given up on", "iss", iss)
			}
		})
		defer func() {
			giveUp.Stop()
			if p := recover(); p != nil {
				rv.log.Error("middleware: the issuer resolver's key set's Close panicked", "iss", iss, "panic", p, "stack", string(debug.Stack()))
			}
			rv.mu.Lock()
			delete(rv.closing, c)
			if c.givenUp {
				rv.hung--
			}
			rv.mu.Unlock()
			close(c.done)
		}()
		closeKeys(k)
	}()
}

func hasClose(k KeySet) bool {
	switch k.(type) {
	case interface{ Close() }, interface{ Close() error }:
		return true
	}
	return false
}

func closeKeys(k KeySet) {
	switch c := k.(type) {
	case interface{ Close() }:
		c.Close()
	case interface{ Close() error }:
		_ = c.Close()
	}
}

// lru is a map with least-recently-used order; the resolver's lock guards it.
type lru struct {
	m map[string]*list.Element
	l *list.List
}

func newLRU() lru { return lru{m: map[string]*list.Element{}, l: list.New()} }

func (c lru) len() int { return c.l.Len() }

// peek returns k's answer without touching its place in the order.
func (c lru) peek(k string) *answer {
	if e := c.m[k]; e != nil {
		return e.Value.(*answer)
	}
	return nil
}

func (c lru) get(k string) *answer {
	e := c.m[k]
	if e == nil {
		return nil
	}
	c.l.MoveToFront(e)
	return e.Value.(*answer)
}

func (c lru) put(a *answer) {
	if e := c.m[a.iss]; e != nil {
		e.Value = a
		c.l.MoveToFront(e)
		return
	}
	c.m[a.iss] = c.l.PushFront(a)
}

func (c lru) remove(k string) *answer {
	e := c.m[k]
	if e == nil {
		return nil
	}
	delete(c.m, k)
	return c.l.Remove(e).(*answer)
}

func (c lru) evict() *answer {
	e := c.l.Back()
	a := c.l.Remove(e).(*answer)
	delete(c.m, a.iss)
	return a
}
