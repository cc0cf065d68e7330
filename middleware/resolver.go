package middleware

import (
	"container/list"
	"context"
	"errors"
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

// resolverTimeout bounds one call of the allow function and the wait for a
// new key set's first keys; the token's request waits at most this long.
const resolverTimeout = 2 * time.Second

// ResolverLimits bounds what WithIssuerResolver holds and does, so that a
// flood of tokens naming made-up issuers costs neither memory nor calls of
// the resolver without bound. A zero field takes its default.
type ResolverLimits struct {
	// KeySets is how many resolved issuers' key sets are held at once; the
	// least recently used is closed and dropped first. Default
	// DefaultResolverKeySets.
	KeySets int
	// Answers is how many answers (refusals included) are remembered.
	// Default DefaultResolverAnswers.
	Answers int
	// TTL is how long an answer is believed before allow is asked again;
	// a key set is kept across a renewed yes. Default DefaultResolverTTL.
	TTL time.Duration
	// PerSecond is how many calls of allow may start per second (with a
	// burst of twice that); past it, a token of an issuer not yet known is
	// answered 503 with Retry-After. Default DefaultResolverPerSecond.
	PerSecond float64
}

// WithIssuerResolver accepts tokens from issuers decided at run time, for an
// API whose tenants live in a database: when a token's iss matches no issuer
// given to New, WithIssuer or WithIssuerTemplate, allow(ctx, iss) says
// whether to accept it, and for a yes, keys(iss) makes its key set, once
// (typically jwks.New, whose discovery also checks that the metadata names
// exactly that issuer). opts are issuer options, applied to every issuer
// the resolver accepts.
//
// The answers are remembered for ResolverLimits.TTL, key sets are created
// lazily and held in a bounded least-recently-used set (closed, if they have
// a Close method, when dropped and by Guard.Close), and calls of allow are
// rate-limited; see ResolverLimits and WithResolverLimits. An iss allow
// refuses is 401 invalid_token, with no key set made and no request sent;
// an error from allow or keys is 503 (the token may be fine), not
// remembered.
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
	return guardOption(func(c *config) { c.resolverLimits = l })
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
	limits  ResolverLimits
	limiter *rate.Limiter
	now     func() time.Time

	mu       sync.Mutex
	closed   bool
	yes      lru // iss → *answer with an issuer
	no       lru // iss → *answer without one
	inflight map[string]*resolveCall
}

type answer struct {
	iss   string
	until time.Time
	is    *issuer // nil for a refusal
}

type resolveCall struct {
	done chan struct{}
	is   *issuer
	rsn  reason
}

func newResolver(rc *resolverConfig, l ResolverLimits, now func() time.Time) (*resolver, error) {
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
	// Compile the shape once, to fail New on bad issuer options.
	if _, err := rc.shape.compile(); err != nil {
		return nil, err
	}
	return &resolver{
		allow: rc.allow, newKeys: rc.keys, shape: rc.shape, limits: l, now: now,
		limiter:  rate.NewLimiter(rate.Limit(l.PerSecond), max(1, int(2*l.PerSecond))),
		yes:      newLRU(),
		no:       newLRU(),
		inflight: map[string]*resolveCall{},
	}, nil
}

// resolve returns the issuer for iss, or the reason to refuse: rIssuer when
// allow said no, rKeysUnavailable when it could not be asked (rate limit,
// error, timeout) or the key set could not be made.
func (rv *resolver) resolve(ctx context.Context, iss string) (*issuer, reason) {
	now := rv.now()
	rv.mu.Lock()
	if a := rv.yes.get(iss); a != nil {
		if !now.Before(a.until) && rv.inflight[iss] == nil && !rv.closed && rv.limiter.AllowN(now, 1) {
			// Ask again in the background; the key set serves meanwhile.
			call := &resolveCall{done: make(chan struct{})}
			rv.inflight[iss] = call
			go rv.run(context.WithoutCancel(ctx), iss, call, a.is)
		}
		rv.mu.Unlock()
		return a.is, -1
	}
	if a := rv.no.get(iss); a != nil && now.Before(a.until) {
		rv.mu.Unlock()
		return nil, rIssuer
	}
	call := rv.inflight[iss]
	if call == nil {
		if rv.closed || !rv.limiter.AllowN(now, 1) {
			rv.mu.Unlock()
			return nil, rKeysUnavailable
		}
		call = &resolveCall{done: make(chan struct{})}
		rv.inflight[iss] = call
		// Detached from the request that started it (others may wait on
		// it), bounded by its own deadline.
		go rv.run(context.WithoutCancel(ctx), iss, call, nil)
	}
	rv.mu.Unlock()
	select {
	case <-call.done:
		return call.is, call.rsn
	case <-ctx.Done():
		return nil, rKeysUnavailable
	}
}

func (rv *resolver) run(ctx context.Context, iss string, call *resolveCall, kept *issuer) {
	ctx, cancel := context.WithTimeout(ctx, resolverTimeout)
	defer cancel()
	is, rsn, remember := rv.ask(ctx, iss, kept)
	var drop []*issuer
	rv.mu.Lock()
	delete(rv.inflight, iss)
	if remember && !rv.closed {
		until := rv.now().Add(rv.limits.TTL)
		if is != nil {
			rv.no.remove(iss)
			rv.yes.put(&answer{iss: iss, until: until, is: is})
			for rv.yes.len() > rv.limits.KeySets {
				drop = append(drop, rv.yes.evict().is)
			}
		} else {
			if a := rv.yes.remove(iss); a != nil {
				drop = append(drop, a.is) // no longer allowed
			}
			rv.no.put(&answer{iss: iss, until: until})
			for rv.no.len() > rv.limits.Answers {
				rv.no.evict()
			}
		}
	} else if is != nil && is != kept {
		drop = append(drop, is) // closed meanwhile
	}
	rv.mu.Unlock()
	for _, d := range drop {
		closeKeys(d.keys)
	}
	call.is, call.rsn = is, rsn
	close(call.done)
}

// ask calls allow and, for a new yes, makes the key set and waits (bounded)
// for its first keys. remember is false for answers not to be cached.
func (rv *resolver) ask(ctx context.Context, iss string, kept *issuer) (_ *issuer, _ reason, remember bool) {
	ok, err := rv.allow(ctx, iss)
	switch {
	case err != nil:
		return nil, rKeysUnavailable, false
	case !ok:
		return nil, rIssuer, true
	case kept != nil:
		return kept, -1, true
	}
	keys, err := rv.newKeys(iss)
	if err != nil || keys == nil {
		return nil, rKeysUnavailable, false
	}
	ic := rv.shape
	ic.name, ic.keys = iss, keys
	is, err := ic.compile()
	if err != nil { // the shape compiled at New; this cannot fail
		closeKeys(keys)
		return nil, rKeysUnavailable, false
	}
	if w, ok := keys.(interface{ WaitReady(context.Context) error }); ok {
		_ = w.WaitReady(ctx) // not ready in time: 503 until it is
	}
	return is, -1, true
}

// close drops every key set the resolver made.
func (rv *resolver) close() {
	rv.mu.Lock()
	rv.closed = true
	var drop []*issuer
	for rv.yes.len() > 0 {
		drop = append(drop, rv.yes.evict().is)
	}
	rv.mu.Unlock()
	for _, d := range drop {
		closeKeys(d.keys)
	}
}

// peek returns a remembered issuer for iss without calling anything.
func (rv *resolver) peek(iss string) *issuer {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if a := rv.yes.get(iss); a != nil {
		return a.is
	}
	return nil
}

// held reports how many answers of each kind are held, for tests.
func (rv *resolver) held() (keySets, refusals int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.yes.len(), rv.no.len()
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
