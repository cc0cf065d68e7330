// Package clock gives the key cache a clock that tests can drive.
//
// jwks.Cache reads the time for its cooldowns, negative cache, freshness
// and staleness, and sleeps on timers for its refresh schedule. With the
// real clock, tests of those rules would have to sleep and poll, and flake
// on a loaded machine; with Fake they step time forward and wait for the
// cache's own goroutine to arm its next timer, which is an event, not a
// guess. The clock travels in the context given to jwks.New, under a key of
// this internal package, so the library's exported API does not grow an
// option only tests can use.
package clock

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer the cache uses.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

type ctxKey struct{}

// NewContext returns a context that carries c.
func NewContext(ctx context.Context, c Clock) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// From returns the clock ctx carries, or the real one.
func From(ctx context.Context) Clock {
	if c, ok := ctx.Value(ctxKey{}).(Clock); ok {
		return c
	}
	return Real
}

// Real is the system clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }

// Fake is a clock that moves only when Advance is called. Its timers fire
// during Advance, in deadline order. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	armed   map[*fakeTimer]struct{}
	fired   map[*fakeTimer]struct{} // fired, and not Reset or Stopped since
	changed chan struct{}           // closed and replaced whenever armed or fired changes
}

// NewFake returns a Fake clock reading start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, armed: map[*fakeTimer]struct{}{}, fired: map[*fakeTimer]struct{}{}, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once Advance reaches now+d; with d
// ≤ 0 it has fired already, as time.NewTimer(0) has in effect.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock forward by d and fires every timer due by then.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	due := make([]*fakeTimer, 0, len(f.armed))
	for t := range f.armed {
		if !t.when.After(f.now) {
			due = append(due, t)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
	for _, t := range due {
		f.fireLocked(t)
	}
}

// Armed reports how many timers wait to fire.
func (f *Fake) Armed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.armed)
}

// Deadlines returns how far ahead of now each armed timer fires, soonest
// first.
func (f *Fake) Deadlines() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Duration, 0, len(f.armed))
	for t := range f.armed {
		out = append(out, t.when.Sub(f.now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// WaitArmed blocks until at least n timers wait to fire, or ctx ends.
// A goroutine that arms its next timer once its work is done (the cache's
// refresh loop) has then finished that work.
func (f *Fake) WaitArmed(ctx context.Context, n int) error {
	return f.waitFor(ctx, func() bool { return len(f.armed) >= n })
}

// settleBound keeps a bug from hanging a test: Settle fails after it.
const settleBound = 10 * time.Second

// Settle waits until at least one timer is armed and every timer that has
// fired has been Reset or Stopped since: the goroutines that own them have
// done what the firing set off. A cache's refresh loop resets its timer
// once the fetch in progress is installed, and LookupOrRefresh stops its
// wait timer as it returns, so after Settle their outcomes are visible.
func (f *Fake) Settle() error {
	ctx, cancel := context.WithTimeout(context.Background(), settleBound)
	defer cancel()
	if f.waitFor(ctx, func() bool { return len(f.armed) > 0 && len(f.fired) == 0 }) != nil {
		return errors.New("clock: timers not settled within 10 s (is the refresh loop stuck?)")
	}
	return nil
}

// waitFor blocks until cond, read under f.mu, holds, or ctx ends.
func (f *Fake) waitFor(ctx context.Context, cond func() bool) error {
	for {
		f.mu.Lock()
		if cond() {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Step advances the clock by d, then settles: whatever d set off is done.
func (f *Fake) Step(d time.Duration) error {
	f.Advance(d)
	return f.Settle()
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *Fake) fireLocked(t *fakeTimer) {
	delete(f.armed, t)
	f.fired[t] = struct{}{}
	select {
	case t.c <- f.now:
	default: // a value not yet received: time.Timer drops the second too
	}
	f.notifyLocked()
}

type fakeTimer struct {
	f    *Fake
	c    chan time.Time
	when time.Time
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	_, was := t.f.armed[t]
	delete(t.f.armed, t)
	delete(t.f.fired, t)
	t.f.notifyLocked()
	t.drain()
	return was
}

// Reset rearms the timer, dropping a fired value not yet received (the
// behaviour of time.Timer since Go 1.23).
func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	_, was := t.f.armed[t]
	delete(t.f.fired, t)
	t.drain()
	t.when = t.f.now.Add(d)
	if d <= 0 {
		t.f.fireLocked(t)
		return was
	}
	t.f.armed[t] = struct{}{}
	t.f.notifyLocked()
	return was
}

func (t *fakeTimer) drain() {
	select {
	case <-t.c:
	default:
	}
}
