package dpop

import (
	"errors"
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
