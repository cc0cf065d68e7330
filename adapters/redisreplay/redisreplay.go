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
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
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

// Store is a middleware.ReplayStore in Redis. It is safe for concurrent
// use; the client is the caller's to close.
type Store struct {
	rdb     redis.UniversalClient
	prefix  string
	timeout time.Duration
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

// New returns a Store over rdb: a *redis.Client, *redis.ClusterClient,
// *redis.Ring or failover client.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultPrefix, timeout: DefaultTimeout}
	for _, o := range opts {
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
