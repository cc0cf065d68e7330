package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"sync"
	"time"
)

// ErrNonce: a proof's nonce was not issued here, or is too old (RFC 9449
// §8: the server answers use_dpop_nonce with a fresh one).
var ErrNonce = errors.New("dpop: nonce not issued here or too old")

// DefaultNonceLifetime is how long a nonce is accepted.
const DefaultNonceLifetime = 5 * time.Minute

// Nonces issues and checks server nonces (RFC 9449 §8-9) with no state: a
// nonce is its issue time sealed with an HMAC key, so any server holding
// the key can check it. Keys rotate every lifetime; a nonce stays valid
// for its lifetime across a rotation, because the previous key is kept.
// Replicas given the same secret (NewSharedNonces) accept each other's
// nonces with no shared store.
type Nonces struct {
	life   time.Duration
	now    func() time.Time
	secret []byte // non-nil: keys are derived from it per period, the same on every replica

	mu        sync.Mutex
	cur, prev [32]byte
	period    int64 // the period cur belongs to
}

// NewNonces returns Nonces with keys of this process alone, valid for life
// (DefaultNonceLifetime when ≤ 0); now is the clock (nil: time.Now).
func NewNonces(life time.Duration, now func() time.Time) *Nonces {
	n := newNonces(life, now)
	n.rotateLocked(n.periodOf(n.now()))
	return n
}

// NewSharedNonces is NewNonces with keys derived from secret (at least 32
// bytes): every replica given it issues and accepts the same nonces.
func NewSharedNonces(secret []byte, life time.Duration, now func() time.Time) (*Nonces, error) {
	if len(secret) < 32 {
		return nil, errors.New("dpop: a nonce secret must be at least 32 bytes")
	}
	n := newNonces(life, now)
	n.secret = append([]byte(nil), secret...)
	n.rotateLocked(n.periodOf(n.now()))
	return n, nil
}

func newNonces(life time.Duration, now func() time.Time) *Nonces {
	if life <= 0 {
		life = DefaultNonceLifetime
	}
	if now == nil {
		now = time.Now
	}
	return &Nonces{life: life, now: now, period: -1}
}

func (n *Nonces) periodOf(t time.Time) int64 { return t.UnixNano() / int64(n.life) }

// keyFor is the key of period p: derived from the secret, or random.
func (n *Nonces) keyFor(p int64) [32]byte {
	var k [32]byte
	if n.secret == nil {
		_, _ = rand.Read(k[:])
		return k
	}
	m := hmac.New(sha256.New, n.secret)
	_ = binary.Write(m, binary.BigEndian, p)
	copy(k[:], m.Sum(nil))
	return k
}

// rotateLocked makes p's key current, keeping the one before it. The
// period before the current one changes nothing: it comes from a
// goroutine that read the clock before another rotated past a boundary,
// and going back would draw new keys, forgetting the ones that sealed
// every nonce still within its lifetime. A clock stepped back further (a
// correction of one that ran ahead) starts again at p, as a gap forward
// does: nonces from the ahead clock are lost, one retry for their
// clients, and those of other replicas on the right time are taken.
func (n *Nonces) rotateLocked(p int64) {
	switch {
	case p == n.period, p == n.period-1:
		return
	case p == n.period+1:
		n.prev = n.cur
	default:
		n.prev = n.keyFor(p - 1)
	}
	n.cur, n.period = n.keyFor(p), p
}

// keyOfLocked is the key that seals a nonce stamped in period p, if it is
// still kept.
func (n *Nonces) keyOfLocked(p int64) ([32]byte, bool) {
	switch p {
	case n.period:
		return n.cur, true
	case n.period - 1:
		return n.prev, true
	}
	return [32]byte{}, false
}

// Issue returns a fresh nonce.
func (n *Nonces) Issue() string {
	now := n.now()
	n.mu.Lock()
	p := n.periodOf(now)
	n.rotateLocked(p)
	key, _ := n.keyOfLocked(p) // p is the current period or the one before, now
	n.mu.Unlock()
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(now.UnixNano()))
	return base64.RawURLEncoding.EncodeToString(append(msg[:], seal(key, msg[:])...))
}

// Check reports whether nonce was issued by a holder of the keys within
// the lifetime: ErrNonce otherwise.
func (n *Nonces) Check(nonce string) error {
	raw, err := decodeB64(nonce)
	if err != nil || len(raw) != 8+sha256.Size {
		return ErrNonce
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	now := n.now()
	if age := now.Sub(issued); age < 0 || age > n.life {
		return ErrNonce
	}
	n.mu.Lock()
	n.rotateLocked(n.periodOf(now))
	// The key of the nonce's own period, not of now's: the two differ
	// when another goroutine rotated between this one's clock reading and
	// its lock.
	key, ok := n.keyOfLocked(n.periodOf(issued))
	n.mu.Unlock()
	if !ok || !hmac.Equal(raw[8:], seal(key, raw[:8])) {
		return ErrNonce
	}
	return nil
}

func seal(key [32]byte, msg []byte) []byte {
	m := hmac.New(sha256.New, key[:])
	m.Write(msg)
	return m.Sum(nil)
}
