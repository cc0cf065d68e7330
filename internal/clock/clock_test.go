package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeFiresInDeadlineOrderDuringAdvance(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	late, early := f.NewTimer(2*time.Second), f.NewTimer(time.Second)
	f.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("fired before its deadline")
	default:
	}
	f.Advance(2 * time.Second)
	e, l := <-early.C(), <-late.C()
	if !e.Equal(time.Unix(2, 999e6)) || !l.Equal(e) || f.Armed() != 0 {
		t.Fatalf("fired at %v and %v, %d still armed", e, l, f.Armed())
	}
}

func TestFakeResetAndStopDropAValueNotReceived(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	tm := f.NewTimer(0) // fired at once, as time.NewTimer(0) in effect
	if got := <-tm.C(); !got.Equal(time.Unix(0, 0)) {
		t.Fatalf("NewTimer(0) fired at %v", got)
	}
	tm.Reset(time.Second)
	f.Advance(time.Second) // fires; nobody receives
	if tm.Reset(time.Minute) {
		t.Fatal("Reset of a fired timer reported it armed")
	}
	select {
	case <-tm.C():
		t.Fatal("Reset kept a stale value")
	default:
	}
	if !tm.Stop() || tm.Stop() || f.Armed() != 0 {
		t.Fatal("Stop: want true once, then false, and nothing armed")
	}
}

func TestWaitArmed(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	done := make(chan error)
	go func() { done <- f.WaitArmed(context.Background(), 1) }()
	f.NewTimer(time.Hour)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := f.Deadlines(); len(d) != 1 || d[0] != time.Hour {
		t.Fatalf("Deadlines = %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.WaitArmed(ctx, 2); err != context.Canceled {
		t.Fatalf("WaitArmed with a cancelled context = %v", err)
	}
}

func TestFromContext(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	if From(context.Background()) != Real || From(NewContext(context.Background(), f)) != f {
		t.Fatal("From does not return the clock the context carries")
	}
}

// Settle waits for the owner of a fired timer, even while another timer
// is armed (found by a review: it used to return as soon as any timer was
// armed, before the fetch a step set off was installed).
func TestSettleWaitsForAFiredTimerWhileAnotherIsArmed(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	f.NewTimer(time.Hour) // someone else's, armed throughout
	loop := f.NewTimer(time.Second)
	done := make(chan struct{})
	go func() {
		<-loop.C()
		time.Sleep(50 * time.Millisecond) // the owner's work: real time, which Settle must wait out
		close(done)
		loop.Reset(time.Second)
	}()
	f.Advance(time.Second)
	if err := f.Settle(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	default:
		t.Fatal("Settle returned before the fired timer's owner reset it")
	}
}
