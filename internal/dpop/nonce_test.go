package dpop

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonces(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	n := NewNonces(5*time.Minute, clock)
	a := n.Issue()
	if err := n.Check(a); err != nil {
		t.Fatalf("a fresh nonce: %v", err)
	}
	now = now.Add(5 * time.Minute) // still valid at the end of its life, across a rotation
	if err := n.Check(a); err != nil {
		t.Fatalf("a nonce at its lifetime: %v", err)
	}
	now = now.Add(time.Second)
	if err := n.Check(a); !errors.Is(err, ErrNonce) {
		t.Fatalf("a nonce past its lifetime: %v", err)
	}
	b := n.Issue()
	// One sealed character changed: the last but one carries only data
	// bits, whatever the length, and it must differ from b's own (a fixed
	// "AA" suffix was b itself once in 4,096 runs).
	tampered, i := []byte(b), len(b)-2
	if tampered[i] == 'A' {
		tampered[i] = 'B'
	} else {
		tampered[i] = 'A'
	}
	for name, bad := range map[string]string{
		"empty": "", "not base64": "!!", "short": "AAAA",
		"another server's":  NewNonces(5*time.Minute, clock).Issue(),
		"tampered":          string(tampered),
		"with a line break": b[:4] + "\n" + b[4:],
	} {
		if err := n.Check(bad); !errors.Is(err, ErrNonce) {
			t.Errorf("%s nonce: %v", name, err)
		}
	}
	// A nonce from the future (a forged time) is refused even if sealed.
	now = now.Add(-time.Hour)
	if err := n.Check(b); !errors.Is(err, ErrNonce) {
		t.Errorf("a nonce issued after now: %v", err)
	}
}

func TestSharedNonces(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	secret := []byte("a secret of at least thirty-two bytes!!")
	r1, err := NewSharedNonces(secret, time.Minute, clock)
	if err != nil {
		t.Fatal(err)
	}
	r2, _ := NewSharedNonces(secret, time.Minute, clock)
	other, _ := NewSharedNonces([]byte("another secret of thirty-two bytes or more"), time.Minute, clock)
	nonce := r1.Issue()
	if err := r2.Check(nonce); err != nil {
		t.Fatalf("a replica with the same secret: %v", err)
	}
	if err := other.Check(nonce); !errors.Is(err, ErrNonce) {
		t.Fatalf("a server with another secret: %v", err)
	}
	now = now.Add(50 * time.Second) // r2 rotates into the next period first
	if err := r2.Check(nonce); err != nil {
		t.Fatalf("after a rotation: %v", err)
	}
	if _, err := NewSharedNonces([]byte("short"), time.Minute, clock); err == nil {
		t.Fatal("a short secret accepted")
	}
}

// A goroutine that read the clock just before a period boundary, and took
// the lock just after another rotated past it, must not rotate back:
// for keys of this process alone that drew new ones, and every nonce
// still within its lifetime was refused. The clock pins down that order,
// which a busy server meets at every boundary.
func TestNonceRotationRace(t *testing.T) {
	life := time.Minute
	boundary := time.Unix(0, (time.Unix(1_700_000_000, 0).UnixNano()/int64(life)+1)*int64(life))
	before, after := boundary.Add(-time.Millisecond), boundary.Add(time.Millisecond)
	var calls atomic.Int32
	entered, gate := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	cur := before.Add(-30 * time.Second)
	clock := func() time.Time {
		if calls.Add(1) == 3 { // the racing Issue: it read "before", then waits
			close(entered)
			<-gate
			return before
		}
		mu.Lock()
		defer mu.Unlock()
		return cur
	}
	n := NewNonces(life, clock) // clock call 1
	early := n.Issue()          // call 2: 30 s before the boundary
	raced := make(chan string)
	go func() { raced <- n.Issue() }() // call 3
	<-entered
	mu.Lock()
	cur = after
	mu.Unlock()
	fresh := n.Issue() // call 4: rotates past the boundary
	close(gate)
	late := <-raced
	for name, nonce := range map[string]string{"issued 30 s ago": early, "issued now": fresh, "the raced one": late} {
		if err := n.Check(nonce); err != nil {
			t.Errorf("a nonce %s, lifetime 60 s: %v", name, err)
		}
	}
}

// A wall clock corrected back by more than a period (it ran ahead) must
// not leave the Nonces ahead: what they issue is valid at once, and for
// its lifetime only, and replicas on the right time are taken.
func TestNoncesClockSteppedBack(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	n := NewNonces(time.Minute, func() time.Time { return now })
	_ = n.Issue()
	now = now.Add(-time.Hour) // the correction
	issued := now
	fresh := n.Issue()
	if err := n.Check(fresh); err != nil {
		t.Errorf("a nonce just issued: %v", err)
	}
	now = issued.Add(time.Minute + time.Second)
	if err := n.Check(fresh); !errors.Is(err, ErrNonce) {
		t.Errorf("a nonce past its lifetime, issued after the correction: %v", err)
	}
	if err := n.Check(n.Issue()); err != nil {
		t.Errorf("a nonce just issued, a period later: %v", err)
	}

	secret := []byte("0123456789abcdef0123456789abcdef")
	real := time.Unix(1_700_000_000, 0)
	skew := time.Hour
	ahead, _ := NewSharedNonces(secret, time.Minute, func() time.Time { return real.Add(skew) })
	right, _ := NewSharedNonces(secret, time.Minute, func() time.Time { return real })
	_ = ahead.Issue()
	skew = 0
	if err := ahead.Check(right.Issue()); err != nil {
		t.Errorf("the corrected replica refuses the other's fresh nonce: %v", err)
	}
	if err := right.Check(ahead.Issue()); err != nil {
		t.Errorf("the other replica refuses the corrected one's fresh nonce: %v", err)
	}
}
