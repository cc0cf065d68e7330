package dpop

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// ErrStoreFull: the replay store holds as many unexpired proofs as it may.
// The proof is refused (a store that forgot one to make room would let it
// be replayed); the caller answers 503 and the client retries.
var ErrStoreFull = errors.New("dpop: replay store full")

// A ReplayStore remembers the proofs a server accepted until they expire.
// CheckAndSet records key, to be forgotten at until, and reports whether it
// was already there: a replay. It is called only for a request that passed
// every other check, so unauthenticated traffic cannot fill it. An error
// means the store could not say: the caller refuses the request rather
// than risk accepting a replay.
type ReplayStore interface {
	CheckAndSet(ctx context.Context, key string, until time.Time) (replayed bool, err error)
}

// DefaultMaxProofs bounds a MemoryStore: 40 bytes of key and expiry each
// in the map and the queue, about 84 with their overhead (measured).
const DefaultMaxProofs = 1_000_000

// MemoryStore is the in-process ReplayStore: bounded in entries (and so
// in memory: each key is kept as a 128-bit keyed hash), each forgotten once
// expired. It is not shared between replicas. The zero value is not
// usable; make one with NewMemoryStore.
type MemoryStore struct {
	mu    sync.Mutex
	seeds [2]maphash.Seed
	max   int
	now   func() time.Time
	seen  map[[16]byte]int64 // key hash → expiry (unix nanoseconds)
	queue []entry            // in insertion order, which is expiry order for one window
	head  int
}

type entry struct {
	key   [16]byte
	until int64
}

// NewMemoryStore returns a MemoryStore holding at most max proofs (max ≤ 0
// means DefaultMaxProofs); now is its clock (nil: time.Now).
func NewMemoryStore(max int, now func() time.Time) *MemoryStore {
	if max <= 0 {
		max = DefaultMaxProofs
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, max: max, now: now, seen: make(map[[16]byte]int64)}
}

// CheckAndSet implements ReplayStore.
func (s *MemoryStore) CheckAndSet(_ context.Context, key string, until time.Time) (bool, error) {
	// Two 64-bit hashes with seeds of this process: 128 bits no client can
	// aim a collision at (it does not know the seeds), at a tenth of a
	// SHA-256's cost.
	k := s.hash(key)
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	if exp, ok := s.seen[k]; ok && exp > now {
		return true, nil
	}
	if len(s.seen) >= s.max {
		return false, ErrStoreFull
	}
	u := until.UnixNano()
	s.seen[k] = u
	s.queue = append(s.queue, entry{k, u})
	return false, nil
}

// Len reports how many proofs the store holds.
func (s *MemoryStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// expireLocked forgets the proofs expired by now, from the front of the
// queue: with one proof window, entries expire in the order they came.
// An entry whose expiry is later than the next's (a longer window given
// since) waits for its turn, which only keeps it a little longer.
func (s *MemoryStore) expireLocked(now int64) {
	for s.head < len(s.queue) && s.queue[s.head].until <= now {
		e := s.queue[s.head]
		if s.seen[e.key] == e.until {
			delete(s.seen, e.key)
		}
		s.head++
	}
	// Reclaim the consumed front once it is most of the slice.
	if s.head > 1024 && s.head*2 > len(s.queue) {
		s.queue = append(s.queue[:0:0], s.queue[s.head:]...)
		s.head = 0
	}
}

// Seen reports whether the store holds key, unexpired, without recording
// it.
func (s *MemoryStore) Seen(key string) bool {
	k := s.hash(key)
	now := s.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.seen[k]
	return ok && exp > now
}

func (s *MemoryStore) hash(key string) [16]byte {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:8], maphash.String(s.seeds[0], key))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(s.seeds[1], key))
	return k
}
