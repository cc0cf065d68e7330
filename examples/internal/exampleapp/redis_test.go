package exampleapp

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/redistest"
)

// The store speaks to a real redis-server: SET NX PX, EXISTS, the
// database of the URL, and a restart of Redis costs no request (the
// connections kept from before are replaced, not failed on). The last
// found by a review.
func TestRedisStore(t *testing.T) {
	srv := redistest.Start(t)
	st, err := parseRedisURL(srv.URL(3))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	redistest.CheckReplay(t, st, "k", until)
	other, _ := parseRedisURL(srv.URL(4))
	if seen, _ := other.Seen(ctx, "k"); seen {
		t.Fatal("another database sees the key")
	}

	// A kept connection is reused while alive, and found dead once the
	// server is gone, before any command is sent on it.
	c := <-st.idle
	if !alive(c) {
		t.Fatal("a live connection found dead")
	}
	// Past the last command's deadline too (found by a review).
	_ = c.SetDeadline(time.Now().Add(10 * time.Millisecond))
	time.Sleep(30 * time.Millisecond)
	if !alive(c) {
		t.Fatal("a live connection past its last deadline found dead")
	}
	st.idle <- c
	srv.Restart(t)
	if alive(c) && runtime.GOOS == "linux" {
		t.Fatal("a connection to a restarted server found alive")
	}
	for i := range 20 { // more than the connections kept
		if _, err := st.CheckAndSet(ctx, "after-"+string(rune('a'+i)), until); err != nil {
			t.Fatalf("command %d after a restart: %v", i, err)
		}
	}
}
