package redisreplay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtguard/jwtguard/adapters/redisreplay"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/redistest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
	"github.com/jwtguard/jwtguard/middleware"
)

func client(t *testing.T, srv *redistest.Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestStore(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	st := redisreplay.New(rdb, redisreplay.WithPrefix(fmt.Sprintf("test:%d:", time.Now().UnixNano())))
	ctx := context.Background()
	until := time.Now().Add(300 * time.Millisecond)
	redistest.CheckReplay(t, st, "k", until)
	if seen, _ := st.Seen(ctx, "other"); seen {
		t.Fatal("Seen a key never set")
	}
	// The key expires by itself when the proof does (PX).
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	if replayed, _ := st.CheckAndSet(ctx, "k", time.Now().Add(time.Minute)); replayed {
		t.Fatal("the key outlived its proof")
	}
	ttl, err := rdb.PTTL(ctx, st.Prefix()+"k").Result()
	if err != nil || ttl <= 59*time.Second || ttl > time.Minute {
		t.Fatalf("PTTL %v %v, want about a minute", ttl, err)
	}
}

// Of many replicas that see one proof at once, exactly one accepts it.
func TestStoreIsAtomic(t *testing.T) {
	srv := redistest.Start(t)
	st := redisreplay.New(client(t, srv), redisreplay.WithPrefix(fmt.Sprintf("atomic:%d:", time.Now().UnixNano())))
	var accepted atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replayed, err := st.CheckAndSet(context.Background(), "one-proof", time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if !replayed {
				accepted.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d of 32 accepted one proof", n)
	}
}

// Two Guards sharing one Redis are two replicas: a proof one accepted is a
// replay at the other. When Redis goes away, DPoP requests are 503 with
// Retry-After, never accepted unrecorded.
func TestReplicasShareProofs(t *testing.T) {
	srv := redistest.Start(t)
	prefix := fmt.Sprintf("replicas:%d:", time.Now().UnixNano())
	a := guardtest.New(t, middleware.WithReplayStore(redisreplay.New(client(t, srv), redisreplay.WithPrefix(prefix))))
	b, err := middleware.New(a.Keys, a.Issuer.URL(), []string{guardtest.Audience},
		middleware.WithReplayStore(redisreplay.New(client(t, srv), redisreplay.WithPrefix(prefix))))
	if err != nil {
		t.Fatal(err)
	}
	p := guardtest.NewProver("ES256")
	tok := a.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	send := func(h http.Handler, proof string) *http.Response {
		req := httptest.NewRequest("GET", guardtest.PathMe, nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		req.Header.Set("DPoP", proof)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	ha, hb := a.Guard.Handler(a.Final()), b.Handler(a.Final())
	proof := p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil)
	if resp := send(ha, proof); resp.StatusCode != 200 {
		t.Fatalf("replica A: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	resp := send(hb, proof)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `DPoP realm="api", error="invalid_dpop_proof", error_description="`+guardtest.DescReplay+`", algs="`+guardtest.Algs+`"` {
		t.Fatalf("replica B, the same proof: %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
	}
	if resp := send(hb, p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil)); resp.StatusCode != 200 {
		t.Fatalf("replica B, a new proof: %d", resp.StatusCode)
	}

	srv.Stop()
	resp = send(ha, p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || len(resp.Header.Values("WWW-Authenticate")) != 0 {
		t.Fatalf("Redis down: %d %v", resp.StatusCode, resp.Header)
	}
	req := httptest.NewRequest("GET", guardtest.PathMe, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil))
	if _, err := b.Verify(req); !errors.Is(err, middleware.ErrReplayStoreUnavailable) {
		t.Fatalf("Redis down: %v", err)
	}
}

// A Redis that accepts and never answers holds a request no longer than
// the Store's timeout, whatever the client's options (go-redis heeds a
// context's deadline only with ContextTimeoutEnabled). Found by a review.
func TestTimeoutBoundsACommand(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1})
	defer rdb.Close()
	st := redisreplay.New(rdb, redisreplay.WithTimeout(200*time.Millisecond))
	start := time.Now()
	_, err = st.CheckAndSet(context.Background(), "k", time.Now().Add(time.Minute))
	if d := time.Since(start); err == nil || d > time.Second {
		t.Fatalf("CheckAndSet against a silent Redis: %v after %v, want an error within the timeout", err, d)
	}
	if _, err := st.Seen(context.Background(), "k"); err == nil {
		t.Error("Seen against a silent Redis succeeded")
	}
}

// lossyProxy forwards to the Redis at to, except that on the first
// connection whose client side sends marker it passes that command on,
// lets Redis apply it, and then drops the connection without the reply: a
// reply lost to a network blip or a proxy restart. tripped reports whether
// it did.
func lossyProxy(t *testing.T, to string, marker []byte) (addr string, tripped *atomic.Bool) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tripped = new(atomic.Bool)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			var drop atomic.Bool
			var once sync.Once
			closeBoth := func() { once.Do(func() { c.Close(); s.Close() }) }
			go func() { // Redis → client
				buf := make([]byte, 4096)
				for {
					n, err := s.Read(buf)
					if n > 0 && !drop.Load() {
						_, _ = c.Write(buf[:n])
					}
					if err != nil {
						closeBoth()
						return
					}
				}
			}()
			go func() { // client → Redis
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if bytes.Contains(buf[:n], marker) && tripped.CompareAndSwap(false, true) {
							drop.Store(true)
							_, _ = s.Write(buf[:n])
							time.Sleep(50 * time.Millisecond) // Redis applies it
							closeBoth()
							return
						}
						_, _ = s.Write(buf[:n])
					}
					if err != nil {
						closeBoth()
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), tripped
}

// A SET whose reply is lost after Redis applied it is no replay. go-redis
// by default (MaxRetries 3) sends it again, and the resend finds the key
// its own first attempt made: that first use is accepted, and the proof is
// a replay from then on. Without retries the lost reply is an error (503),
// never a replay. Found by a review.
func TestLostReplyIsNotAReplay(t *testing.T) {
	for _, tc := range []struct {
		name       string
		maxRetries int
		wantErr    bool
	}{
		{"go-redis defaults, resent", 0, false},
		{"no retries", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := redistest.Start(t)
			addr, tripped := lossyProxy(t, srv.Addr, []byte("lost:fresh-proof"))
			rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: tc.maxRetries})
			t.Cleanup(func() { rdb.Close() })
			st := redisreplay.New(rdb, redisreplay.WithPrefix("lost:"))
			ctx := context.Background()
			replayed, err := st.CheckAndSet(ctx, "fresh-proof", time.Now().Add(time.Minute))
			if !tripped.Load() {
				t.Fatal("the proxy never dropped a reply")
			}
			if replayed || (err != nil) != tc.wantErr {
				t.Fatalf("first CheckAndSet of a fresh key, its reply lost: replayed=%v err=%v, want no replay (an error: %v)", replayed, err, tc.wantErr)
			}
			if replayed, err := st.CheckAndSet(ctx, "fresh-proof", time.Now().Add(time.Minute)); !replayed || err != nil {
				t.Fatalf("the same key again: replayed=%v err=%v, want a replay", replayed, err)
			}
		})
	}
}

// A Redis restarted without persistence has forgotten every proof, and
// accepts a used one again: a limit of the store, not of this code, that
// the package doc states with what to do about it. This test keeps the
// doc true. Found by a review.
func TestRestartedRedisForgetsProofs(t *testing.T) {
	srv := redistest.Start(t)
	st := redisreplay.New(client(t, srv))
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if replayed, err := st.CheckAndSet(ctx, "used", until); replayed || err != nil {
		t.Fatalf("first use: %v %v", replayed, err)
	}
	srv.Restart(t)
	var replayed bool
	var err error
	for range 3 { // the first commands may meet the pool's dead connection
		if replayed, err = st.CheckAndSet(ctx, "used", until); err == nil {
			break
		}
	}
	if replayed || err != nil {
		t.Fatalf("after a restart: replayed=%v err=%v; if Redis now keeps proofs across restarts, the package doc is wrong", replayed, err)
	}
}
