// Package redisreplay is a middleware.ReplayStore in Redis, so that every
// replica of an API shares one memory of the DPoP proofs it accepted (RFC
// 9449 §11.1): a proof accepted by one replica is a replay at all others.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	guard, err := middleware.New(keys, issuer, audiences,
//		middleware.WithReplayStore(redisreplay.New(rdb)))
//
// Each accepted proof costs one command, SET key <random> NX PX <ms> GET:
// atomic, so of two replicas that see one proof at once exactly one
// accepts it, and the key expires by itself when no replica would accept
// the proof any more (the Guard keeps it its leeway, a second to ten
// minutes, past the proof window, for replicas whose clocks differ by that
// much). GET makes
// the command safe to send again: go-redis resends a command whose reply
// was lost (Options.MaxRetries, 3 by default), and the resend finds the
// key its first attempt made; the value it gets back is then its own, so
// the proof is no replay. SET with both NX and GET needs Redis 7.0 or
// later; an older server refuses the command, and the Guard with it every
// DPoP request (503). While Redis cannot be reached the Guard refuses DPoP
// requests 503 with Retry-After rather than accept replays
// (middleware.WithInsecureReplayStoreFailOpen says otherwise).
//
// # Redis must not evict
//
// Give the Store a Redis of its own, or one whose maxmemory-policy is
// noeviction. With any other policy a Redis that reaches maxmemory drops
// keys before they expire, without telling anyone: the volatile-* policies
// pick exactly the keys that have a TTL, as every proof's has, and
// allkeys-* any key. A dropped proof is accepted again, a replay. Under
// noeviction a full Redis refuses the SET instead (OOM), and the Guard
// answers 503: it fails closed.
//
// So the Store asks CONFIG GET maxmemory-policy before its first command,
// and again every DefaultPolicyRecheck (WithPolicyRecheck), since the
// policy can be changed at runtime (CONFIG SET, a managed service's
// parameter change, a failover to a node configured otherwise). A re-check
// that gets no answer leaves the last answer in force, and is asked again
// after a short delay that doubles at each failure, up to the interval: an
// unreachable node costs a few more questions, not one per request. Of a
// Cluster or Ring it asks every node it knows. While any says other than
// noeviction, every CheckAndSet and Seen fails with ErrEvictingPolicy (503
// at the Guard), whatever maxmemory is: a maxmemory set later (by CONFIG
// SET, or a resize) starts evicting with no change to the policy.
// WithInsecureAllowEviction turns the check off. A managed Redis that
// renames or forbids CONFIG cannot say: when CONFIG GET is refused for good
// (NOPERM from an ACL, or an unknown command or subcommand), the Store
// works, and logs a warning once (WithLogger); make sure of the policy in
// its settings. Any other error reply is a reply of the moment (BUSY while
// a Lua script runs, LOADING after a restart) and says nothing of the
// policy: it is no answer, like a Redis that cannot be reached, and the
// question is asked again.
//
// A Ring skips the shards it has marked down, in the question as in routing
// keys; but a shard that comes back takes keys at once, with its policy
// unheard. So an answer that left a shard out is not final: the Store asks
// again on a short delay, even with re-checks off, until every shard has
// answered; and while the Ring has more shards up than answered, every call
// waits for a new answer, as for the first.
//
// # A restarted Redis has forgotten
//
// A Redis restarted empty (no persistence, or a failover to a replica that
// had not yet received the latest writes) has forgotten every proof: a
// proof accepted before is accepted once more, until its record would have
// expired, the proof window plus the Guard's leeway after its iat (a
// minute and a half by default). For the proofs to outlive a restart, turn
// on persistence (appendonly yes with appendfsync always keeps every
// acknowledged SET; everysec may lose the last second's); else accept that
// window after each restart, or keep the API's replicas from serving DPoP
// requests until it has passed.
package redisreplay

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtguard/jwtguard/middleware"
)

// DefaultPrefix is put before every key, so that the proofs share a Redis
// database with other data safely.
const DefaultPrefix = "jwtguard:dpop:"

// DefaultTimeout bounds each command: a request waits no longer on Redis,
// whatever the client's own timeouts. Give the client
// Options.ContextTimeoutEnabled too, so that it also stops waiting then.
const DefaultTimeout = 500 * time.Millisecond

// DefaultPolicyRecheck is how often the Store asks Redis its
// maxmemory-policy again after the first time: a policy changed to one that
// evicts is refused within about that long, at the cost of one CONFIG GET
// per interval and process (a few more while re-checks go unanswered),
// sent beside the requests rather than before one.
const DefaultPolicyRecheck = time.Minute

// policyRetry is the delay after a re-check that got no answer, doubled at
// each one more: short, for a blip to be over soon, and growing, so that a
// node out of reach for long costs a few questions, not one per request.
const policyRetry = 100 * time.Millisecond

// policyRetryMax bounds that delay while an answer is not final (a Ring's
// shard was not asked), re-checks or not: that shard may be up and taking
// keys again any time.
const policyRetryMax = 10 * time.Second

// ErrEvictingPolicy is the error of every CheckAndSet and Seen while Redis
// (a node of it) has a maxmemory-policy other than noeviction: it could drop
// a proof's record early, and accept the proof again. The error wraps it
// with the node and its policy. See the package doc.
var ErrEvictingPolicy = errors.New("redisreplay: Redis may evict proofs before they expire (its maxmemory-policy is not noeviction)")

// Store is a middleware.ReplayStore in Redis. It is safe for concurrent
// use; the client is the caller's to close.
type Store struct {
	rdb           redis.UniversalClient
	ring          *redis.Ring // rdb, when it is one: its shards up are counted before each command
	prefix        string
	timeout       time.Duration
	allowEviction bool
	recheck       time.Duration
	log           *slog.Logger
	policy        policyState
}

// policyState is what the Store last learnt of Redis's maxmemory-policy.
type policyState struct {
	mu     sync.Mutex
	known  bool          // an answer came: noeviction, evicting, or that CONFIG is refused for good
	err    error         // that answer: nil, or one wrapping ErrEvictingPolicy
	shards int           // how many nodes answered: for a Ring, the shards the answer covers
	final  bool          // every node was asked: a Ring's shard down then was not
	due    time.Time     // when to ask again, once known
	retry  time.Duration // the delay after the last question unanswered or not final; 0 after a final answer
	asking chan struct{} // closed when the question in flight is answered; nil when none is
	failed error         // why the last question failed, for callers that waited on it; nil after an answer
	warned bool          // the warning that CONFIG is refused was logged
}

var _ middleware.ReplayStore = (*Store)(nil)

// An Option configures a Store.
type Option func(*Store)

// WithPrefix sets the prefix of every key. Default: DefaultPrefix.
// Replicas sharing proofs must use the same one.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithTimeout bounds each command (on top of the request's context).
// Default: DefaultTimeout.
func WithTimeout(d time.Duration) Option { return func(s *Store) { s.timeout = d } }

// WithInsecureAllowEviction lets the Store use a Redis whose
// maxmemory-policy evicts, and never asks it. Insecure: once that Redis is
// full, it drops proofs' records before they expire and each such proof
// can be replayed. For a deployment that has made sure otherwise that its
// Redis never reaches maxmemory, knowingly.
func WithInsecureAllowEviction() Option { return func(s *Store) { s.allowEviction = true } }

// WithPolicyRecheck sets how often Redis's maxmemory-policy is asked again
// after the first time. Default: DefaultPolicyRecheck. d ≤ 0: only the
// first time; but of a Ring with a shard down then, until every shard has
// answered (see the package doc).
func WithPolicyRecheck(d time.Duration) Option { return func(s *Store) { s.recheck = d } }

// WithLogger sets where the Store logs the one warning it has: that Redis
// refused CONFIG GET, so its maxmemory-policy is not known. Default:
// slog.Default() at the time (nil is the same), so that the warning is
// seen somewhere unless it is discarded on purpose.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// New returns a Store over rdb: a *redis.Client, *redis.ClusterClient,
// *redis.Ring or failover client. That Redis must not evict keys: a
// dedicated one, or one with maxmemory-policy noeviction; until the Store
// has seen that it is (see the package doc), CheckAndSet and Seen fail,
// with ErrEvictingPolicy when the policy evicts. New sends nothing, so that
// a Redis not up yet at start-up is no error: the first check asks, and
// waits for the answer (under the Store's timeout too) before its own
// command.
//
// It panics if an Option is nil.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, timeout: DefaultTimeout, recheck: DefaultPolicyRecheck}
	s.ring, _ = rdb.(*redis.Ring)
	for _, o := range opts {
		if o == nil { // New returns no error: a panic that says so, at set-up
			panic("redisreplay: New with a nil Option")
		}
		o(s)
	}
	return s
}

// Prefix is the prefix of the Store's keys.
func (s *Store) Prefix() string { return s.prefix }

// CheckAndSet implements middleware.ReplayStore: SET key v NX PX GET, where
// v is new to this call and the key's life runs until until (at least a
// millisecond).
func (s *Store) CheckAndSet(ctx context.Context, key string, until time.Time) (bool, error) {
	if err := s.checkPolicy(ctx); err != nil {
		return false, err
	}
	ms := max((time.Until(until) + time.Millisecond - 1).Milliseconds(), 1) // rounded up
	// go-redis may send the command more than once (when a reply is lost,
	// after Redis applied it); the value tells this call's own key from
	// one that another request set.
	mine := rand.Text()
	var old string
	err := s.bounded(ctx, func(ctx context.Context) (err error) {
		old, err = s.rdb.Do(ctx, "SET", s.prefix+key, mine, "NX", "PX", strconv.FormatInt(ms, 10), "GET").Text()
		return err
	})
	switch {
	case errors.Is(err, redis.Nil): // GET: there was no key, and now ours is
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisreplay: %w", err)
	}
	// NX: the key was there. If the value is ours, an earlier attempt of
	// this very call set it and its reply was lost: a first use.
	return old != mine, nil
}

// Seen implements middleware.ReplayStore: EXISTS key.
func (s *Store) Seen(ctx context.Context, key string) (bool, error) {
	// An evicting Redis may have dropped the key: no answer is better than
	// a "not seen" that earns a used proof the expired token's hint.
	if err := s.checkPolicy(ctx); err != nil {
		return false, err
	}
	var n int64
	err := s.bounded(ctx, func(ctx context.Context) (err error) {
		n, err = s.rdb.Exists(ctx, s.prefix+key).Result()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("redisreplay: %w", err)
	}
	return n > 0, nil
}

// checkPolicy returns nil when Redis is known not to evict (or cannot say),
// and the error to fail with otherwise. The first call, and every call
// while no answer has come, waits for one: until then nothing says that a
// record would stay. So does every call while the answer leaves out a
// Ring's shard that is up (uncovered), since the command may go to it.
// Otherwise, once an answer is known, a due question is asked in the
// background and the calls go on under the last answer meanwhile, so that
// a request never waits on a re-check.
func (s *Store) checkPolicy(ctx context.Context) error {
	if s.allowEviction {
		return nil
	}
	p := &s.policy
	p.mu.Lock()
	if p.known && !s.uncovered() {
		if p.asking == nil && (s.recheck > 0 || !p.final) && !time.Now().Before(p.due) {
			p.asking = make(chan struct{})
			go s.askPolicy(p.asking)
		}
		err := p.err
		p.mu.Unlock()
		return err
	}
	if p.asking == nil {
		p.asking = make(chan struct{})
		go s.askPolicy(p.asking)
	}
	asking := p.asking
	p.mu.Unlock()
	select {
	case <-asking: // within the Store's timeout: askPolicy is bounded
	case <-ctx.Done():
		return fmt.Errorf("redisreplay: maxmemory-policy: %w", ctx.Err())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case !p.known:
		return p.failed
	case s.uncovered(): // the question failed, or a shard came up after it was asked
		return cmp.Or(p.failed, errors.New("redisreplay: maxmemory-policy: a shard of the Ring came up after the question"))
	}
	return p.err
}

// uncovered reports whether the Store's client is a Ring with more shards
// up than the last answer covers: a shard down at the question, and so not
// asked, is up and takes keys. An answer that already refuses (evicting)
// is true of the Ring whatever that shard says. The Ring counts its shards
// up at each rebalance, where it also starts routing keys to them, so this
// sees a shard no later than a command can go to it. Called with
// s.policy.mu held.
func (s *Store) uncovered() bool {
	return s.ring != nil && s.policy.err == nil && s.ring.Len() > s.policy.shards
}

// retryLimit is the longest delay before the next question after one that
// got no answer, or one not final: the re-check interval, and at most
// policyRetryMax, even with re-checks off, while a Ring's shard has not
// been asked.
func (s *Store) retryLimit(final bool) time.Duration {
	switch {
	case s.recheck <= 0:
		return policyRetryMax
	case final:
		return s.recheck
	}
	return min(s.recheck, policyRetryMax)
}

// askPolicy asks Redis its policy, records the answer, and closes done. It
// runs on a context of its own, not a request's: the request that set it
// off may end first, and the callers waiting on it would then see an error
// that is not theirs.
func (s *Store) askPolicy(done chan struct{}) {
	evicting, refused, shards, err := s.readPolicy()
	p := &s.policy
	p.mu.Lock()
	defer p.mu.Unlock()
	defer close(done)
	p.asking = nil
	if err != nil {
		p.failed = fmt.Errorf("redisreplay: maxmemory-policy: %w", err)
		// With no answer yet, or one that leaves out a Ring's shard now up,
		// the next call asks again (and waits, as this one's callers did).
		// Otherwise the calls go on under the last answer, and leaving due
		// in the past would send a question with every request until the
		// node answers again: the next waits a while instead.
		if p.known {
			p.retry = min(max(2*p.retry, policyRetry), s.retryLimit(p.final))
			p.due = time.Now().Add(p.retry)
		}
		return
	}
	p.known, p.err, p.shards, p.failed = true, evicting, shards, nil
	// A Ring's ForEachShard skips the shards marked down, so fewer answers
	// than shards configured leave one out. It takes no key while down, but
	// any once up, with its policy unheard: such an answer is not final, and
	// is asked again soon, re-checks or not. (Options().Addrs is the Ring's
	// shards as made; uncovered sees those SetAddrs adds.)
	p.final = s.ring == nil || shards >= len(s.ring.Options().Addrs)
	if p.final {
		p.due, p.retry = time.Now().Add(s.recheck), 0
	} else {
		p.retry = min(max(2*p.retry, policyRetry), s.retryLimit(false))
		p.due = time.Now().Add(p.retry)
	}
	if refused != nil && evicting == nil && !p.warned {
		p.warned = true
		l := cmp.Or(s.log, slog.Default())
		l.Warn("redisreplay: Redis refused CONFIG GET maxmemory-policy; make sure it is noeviction, or a DPoP proof whose record Redis evicts can be replayed", "error", refused)
	}
}

// readPolicy asks every node of the client its maxmemory-policy. evicting
// (wrapping ErrEvictingPolicy) names a node that evicts; refused, a node
// that refuses CONFIG GET for good (configRefused), so that its policy is
// not known; answered, how many nodes answered; err, that some node did
// not answer at all or answered with another error, or none was there to
// ask. One evicting node is enough to refuse: a proof's key may be on it.
func (s *Store) readPolicy() (evicting, refused error, answered int, err error) {
	var mu sync.Mutex
	ask := func(ctx context.Context, c redis.Cmdable, node string) error {
		policy, perr := c.ConfigGet(ctx, "maxmemory-policy").Result()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case configRefused(perr):
			answered++
			refused = fmt.Errorf("%s: %w", node, perr)
		case perr != nil: // no reply, or one of the moment (BUSY, LOADING)
			err = fmt.Errorf("%s: %w", node, perr)
		case policy["maxmemory-policy"] == "":
			// A server that keeps no such setting (a Redis look-alike)
			// cannot say either.
			answered++
			refused = fmt.Errorf("%s: CONFIG GET maxmemory-policy: no such setting", node)
		case policy["maxmemory-policy"] != "noeviction":
			answered++
			evicting = fmt.Errorf("%w: %s has %s", ErrEvictingPolicy, node, policy["maxmemory-policy"])
		default:
			answered++
		}
		return nil
	}
	each := func(ctx context.Context, c *redis.Client) error { return ask(ctx, c, c.Options().Addr) }
	berr := s.bounded(context.Background(), func(ctx context.Context) error {
		switch c := s.rdb.(type) {
		case *redis.ClusterClient: // masters and replicas: a replica may be promoted
			return c.ForEachShard(ctx, each)
		case *redis.Ring: // the shards up: askPolicy sees one left out
			return c.ForEachShard(ctx, each)
		case *redis.Client:
			return each(ctx, c)
		default:
			return ask(ctx, c, "Redis")
		}
	})
	mu.Lock()
	defer mu.Unlock()
	switch {
	case evicting != nil:
		return evicting, refused, answered, nil
	case berr != nil: // the timeout, or a Cluster's topology not loaded
		return nil, nil, 0, berr
	case err != nil:
		return nil, nil, 0, err
	case answered == 0: // a Ring with no shard up
		return nil, nil, 0, errors.New("no Redis node to ask")
	}
	return nil, refused, answered, nil
}

// configRefused reports whether err is Redis refusing CONFIG GET for good,
// so that asking again would only be refused again: an ACL that forbids it
// (Redis 7: "NOPERM this user has no permissions to run the 'config|get'
// command"), or a server without it, CONFIG renamed or removed by
// rename-command as managed services do ("ERR unknown command 'CONFIG',
// with args beginning with: ...", quoted with backticks before Redis 7) or
// a look-alike with no GET ("ERR unknown subcommand"). Any other error
// reply is of the moment, such as BUSY while a Lua script runs past
// busy-reply-threshold or LOADING while a restarted Redis reads its data:
// taking one for a refusal would record a policy never heard as harmless,
// and an evicting Redis would be used.
func configRefused(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	return strings.HasPrefix(msg, "NOPERM ") ||
		strings.HasPrefix(msg, "ERR unknown command ") ||
		strings.HasPrefix(msg, "ERR unknown subcommand ")
}

// bounded runs one command under the Store's timeout. go-redis reads and
// writes sockets under its own ReadTimeout and WriteTimeout (3 s by
// default), and heeds a context's deadline only with
// Options.ContextTimeoutEnabled; so the command runs in a goroutine of
// its own, and a request waits for it no longer than the timeout
// whatever the client's options. The goroutine ends when go-redis gives
// up: with ContextTimeoutEnabled at the timeout, otherwise at its
// ReadTimeout (never, with -1), so against a Redis that hangs at most
// PoolSize of them wait.
func (s *Store) bounded(ctx context.Context, cmd func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
