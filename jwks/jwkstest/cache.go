package jwkstest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jwtguard/jwtguard/jwks"
)

// readyWithin bounds how long NewCache waits for the first keys: far
// beyond a loopback round trip, short of a test binary's timeout.
const readyWithin = 10 * time.Second

// NewCache returns a key cache for the issuer, found through its metadata
// as jwks.New finds a real issuer's, with its first keys already fetched.
// Its logger discards, so a test's output shows only the test's own lines;
// opts come after that default and may replace it. Closing the issuer
// closes the cache.
//
// It is the usual first line of a test of a protected handler:
//
//	iss := jwkstest.NewIssuer()
//	t.Cleanup(iss.Close)
//	guard, err := middleware.New(iss.NewCache(), iss.URL(), []string{"https://api.example.com"})
//
// Like NewIssuer, it panics when it fails: bad options, or a first fetch
// that fails (the issuer set to fail, say) or brings no keys within 10 s. A
// test that wants the cache before its keys, or a failing one, calls
// jwks.New itself.
func (i *Issuer) NewCache(opts ...jwks.Option) *jwks.Cache {
	opts = append([]jwks.Option{jwks.WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	c, err := jwks.New(context.Background(), i.URL(), opts...)
	if err != nil {
		panic(fmt.Sprintf("jwkstest: NewCache: %v", err))
	}
	if err := firstFetch(c); err != nil {
		c.Close()
		panic(fmt.Sprintf("jwkstest: NewCache: no keys from %s: %v", i.URL(), err))
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		c.Close()
		panic("jwkstest: NewCache after Close")
	}
	i.caches = append(i.caches, c)
	return c
}

// firstFetch waits for the outcome of the cache's first fetch: nil once it
// has keys, the fetch's error if it failed. A loopback issuer answers at
// once, so a failure here is the test's setup, and retrying would only
// delay saying so.
func firstFetch(c *jwks.Cache) error {
	deadline := time.Now().Add(readyWithin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := c.WaitReady(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if st := c.Status(); st.ConsecutiveFailures > 0 {
			return st.LastError
		}
		if time.Now().After(deadline) {
			return err
		}
	}
}
