package redisreplay_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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
	// The opt-out, so that what waits is the SET itself: the default Store
	// asks the policy first, and that question is bounded too.
	for name, st := range map[string]*redisreplay.Store{
		"the SET":                  redisreplay.New(rdb, redisreplay.WithTimeout(200*time.Millisecond), redisreplay.WithInsecureAllowEviction()),
		"the policy's first check": redisreplay.New(rdb, redisreplay.WithTimeout(200*time.Millisecond)),
	} {
		start := time.Now()
		_, err = st.CheckAndSet(context.Background(), "k", time.Now().Add(time.Minute))
		if d := time.Since(start); err == nil || d > time.Second {
			t.Fatalf("%s: CheckAndSet against a silent Redis: %v after %v, want an error within the timeout", name, err, d)
		}
		if _, err := st.Seen(context.Background(), "k"); err == nil {
			t.Errorf("%s: Seen against a silent Redis succeeded", name)
		}
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

// evictingPolicies are every maxmemory-policy of Redis 7 but noeviction.
var evictingPolicies = []string{
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	"allkeys-lru", "allkeys-lfu", "allkeys-random",
}

// setPolicy sets Redis's maxmemory-policy, and a maxmemory that fill
// reaches.
func setPolicy(t *testing.T, rdb *redis.Client, policy string) {
	t.Helper()
	ctx := context.Background()
	if err := rdb.ConfigSet(ctx, "maxmemory", "3mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
		t.Fatal(err)
	}
}

// fill writes other data with a TTL into Redis, as the rest of an
// application sharing it would, until Redis refuses (OOM) or well past
// setPolicy's maxmemory; it returns the refusal.
func fill(t *testing.T, rdb *redis.Client) error {
	t.Helper()
	val := strings.Repeat("x", 4096)
	for i := range 3000 {
		if err := rdb.Set(context.Background(), fmt.Sprintf("app:cache:%d", i), val, time.Hour).Err(); err != nil {
			return err
		}
	}
	return nil
}

// A Redis whose maxmemory-policy evicts drops proofs' records once full
// (volatile-* picks exactly the keys with a TTL, as every proof's has) and
// would accept a replay: the Store refuses to use it, before writing
// anything, whatever maxmemory is. Found by a review.
func TestEvictingPolicyIsRefused(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	ctx := context.Background()
	for _, policy := range evictingPolicies {
		t.Run(policy, func(t *testing.T) {
			setPolicy(t, rdb, policy)
			st := redisreplay.New(rdb)
			replayed, err := st.CheckAndSet(ctx, policy, time.Now().Add(time.Minute))
			if replayed || !errors.Is(err, redisreplay.ErrEvictingPolicy) || !strings.Contains(err.Error(), srv.Addr+" has "+policy) {
				t.Fatalf("CheckAndSet: replayed=%v err=%v, want %v naming the node and %s", replayed, err, redisreplay.ErrEvictingPolicy, policy)
			}
			if seen, err := st.Seen(ctx, policy); seen || !errors.Is(err, redisreplay.ErrEvictingPolicy) {
				t.Fatalf("Seen: %v %v, want %v", seen, err, redisreplay.ErrEvictingPolicy)
			}
			if n, err := rdb.DBSize(ctx).Result(); n != 0 || err != nil {
				t.Fatalf("DBSIZE %d %v: the Store wrote to an evicting Redis", n, err)
			}
		})
	}
}

// At the Guard, an evicting Redis is a store that cannot vouch for a
// proof: 503 with Retry-After, and the cause says why.
func TestEvictingRedisIsUnavailable(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	setPolicy(t, rdb, "allkeys-lru")
	env := guardtest.New(t, middleware.WithReplayStore(redisreplay.New(rdb)))
	p := guardtest.NewProver("ES256")
	tok := env.Issuer.Mint(jwkstest.WithClaim("cnf", map[string]any{"jkt": p.JKT}))
	req := httptest.NewRequest("GET", guardtest.PathMe, nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	req.Header.Set("DPoP", p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil))
	rec := httptest.NewRecorder()
	env.Guard.Handler(env.Final()).ServeHTTP(rec, req)
	if resp := rec.Result(); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %v, want 503 with Retry-After", resp.StatusCode, resp.Header)
	}
	req.Header.Set("DPoP", p.Proof("GET", "http://example.com"+guardtest.PathMe, tok, nil, nil))
	if _, err := env.Guard.Verify(req); !errors.Is(err, middleware.ErrReplayStoreUnavailable) || !errors.Is(err, redisreplay.ErrEvictingPolicy) {
		t.Fatalf("Verify: %v, want %v caused by %v", err, middleware.ErrReplayStoreUnavailable, redisreplay.ErrEvictingPolicy)
	}
}

// One evicting node of several is enough to refuse: a proof's key may be
// the one it holds.
func TestEvictingNodeOfARingIsRefused(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	setPolicy(t, client(t, b), "volatile-lru")
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}, MaxRetries: -1})
	t.Cleanup(func() { ring.Close() })
	_, err := redisreplay.New(ring).CheckAndSet(context.Background(), "k", time.Now().Add(time.Minute))
	if !errors.Is(err, redisreplay.ErrEvictingPolicy) || !strings.Contains(err.Error(), b.Addr+" has volatile-lru") {
		t.Fatalf("%v, want %v naming %s", err, redisreplay.ErrEvictingPolicy, b.Addr)
	}
}

// ringOf is a Ring of the shards a and b that sees a shard go down or come
// back within a few heartbeats of 20 ms. waitUp waits until exactly the
// given servers are its shards up.
// ringShardBDown is a Store (re-checks off) over a Ring of two shards, a
// up and b down when the Store is made.
func ringShardBDown(t *testing.T) (a, b *redistest.Server, st *redisreplay.Store, waitUp func(...*redistest.Server)) {
	a, b = redistest.Start(t), redistest.Start(t)
	b.Stop()
	ring, waitUp := ringOf(t, a, b)
	waitUp(a)
	return a, b, redisreplay.New(ring, redisreplay.WithPolicyRecheck(0)), waitUp
}

func ringOf(t *testing.T, a, b *redistest.Server) (ring *redis.Ring, waitUp func(...*redistest.Server)) {
	ring = redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": a.Addr, "b": b.Addr}, MaxRetries: -1, HeartbeatFrequency: 20 * time.Millisecond})
	t.Cleanup(func() { ring.Close() })
	return ring, func(want ...*redistest.Server) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			var mu sync.Mutex
			up := map[string]bool{}
			_ = ring.ForEachShard(context.Background(), func(_ context.Context, c *redis.Client) error {
				mu.Lock()
				defer mu.Unlock()
				up[c.Options().Addr] = true
				return nil
			})
			same := len(up) == len(want) && ring.Len() == len(want)
			for _, srv := range want {
				same = same && up[srv.Addr]
			}
			if same {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the Ring has %v up, want %d shards", up, len(want))
			}
		}
	}
}

// configGets is how many CONFIG GETs srv has served.
func configGets(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	stats, err := client(t, srv).Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(stats, "cmdstat_config|get:calls=")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
	return n
}

// A Ring's shard down at the question is not asked (go-redis skips it),
// and takes keys once it is back: from then on the calls wait for an
// answer that covers it, re-checks or not, and none reaches it before.
// Found by a review: with WithPolicyRecheck(0) it was never asked, and
// the Store accepted proofs that an evicting shard held.
func TestRingShardDownAtTheCheckIsAskedOnceUp(t *testing.T) {
	a, b, st, waitUp := ringShardBDown(t)
	ctx := context.Background()
	if _, err := st.CheckAndSet(ctx, "first", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	b.Restart(t)
	setPolicy(t, client(t, b), "volatile-lru")
	waitUp(a, b)
	for i := range 50 {
		replayed, err := st.CheckAndSet(ctx, fmt.Sprint("k", i), time.Now().Add(time.Minute))
		if !errors.Is(err, redisreplay.ErrEvictingPolicy) || !strings.Contains(err.Error(), b.Addr+" has volatile-lru") {
			t.Fatalf("proof %d, shard b back with volatile-lru: replayed=%v err=%v, want %v naming b", i, replayed, err, redisreplay.ErrEvictingPolicy)
		}
	}
	if n, err := client(t, b).DBSize(ctx).Result(); n != 0 || err != nil {
		t.Fatalf("DBSIZE of b %d %v: the Store wrote to an evicting shard", n, err)
	}
}

// An answer that left a shard out is not final: it is asked again on a
// short delay, re-checks or not, so that a shard back in place of another
// (as many shards up as answered, but not the same ones) is heard too.
func TestRingShardDownAtTheCheckIsAskedAgain(t *testing.T) {
	a, b, st, waitUp := ringShardBDown(t)
	ctx := context.Background()
	if _, err := st.CheckAndSet(ctx, "first", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	b.Restart(t)
	setPolicy(t, client(t, b), "volatile-lru")
	waitUp(b)
	for i := 0; ; i++ {
		_, err := st.CheckAndSet(ctx, fmt.Sprint("k", i), time.Now().Add(time.Minute))
		if errors.Is(err, redisreplay.ErrEvictingPolicy) {
			break
		}
		if i == 300 {
			t.Fatalf("a, the shard asked, down and b back with volatile-lru, after 300 proofs: %v, want %v", err, redisreplay.ErrEvictingPolicy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The answer is final once every shard has answered: with re-checks off
// the questions repeated while a shard was down then stop.
func TestRingAnswerIsFinalOnceEveryShardAnswered(t *testing.T) {
	a, b, st, waitUp := ringShardBDown(t)
	ctx := context.Background()
	i := 0
	serve := func(d time.Duration) {
		t.Helper()
		for start := time.Now(); time.Since(start) < d; i++ {
			if _, err := st.CheckAndSet(ctx, fmt.Sprint("k", i), time.Now().Add(time.Minute)); err != nil {
				t.Fatalf("proof %d: %v", i, err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	serve(time.Second)
	if n := configGets(t, a); n < 3 {
		t.Fatalf("a asked %d times in a second while b was down, want it asked again", n)
	}
	b.Restart(t)
	waitUp(a, b)
	serve(100 * time.Millisecond) // b is asked, and answers
	before := configGets(t, a) + configGets(t, b)
	serve(time.Second)
	if n := configGets(t, a) + configGets(t, b) - before; n != 0 {
		t.Fatalf("%d more questions once every shard had answered, with re-checks off", n)
	}
}

// noeviction is the policy that fails closed: Redis keeps every proof's
// record until it expires, and once full refuses to record more (OOM, so
// 503 at the Guard) rather than make room.
func TestFullNoevictionRedisFailsClosed(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	setPolicy(t, rdb, "noeviction")
	st := redisreplay.New(rdb)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	accepted := []string{"used"}
	if replayed, err := st.CheckAndSet(ctx, "used", until); replayed || err != nil {
		t.Fatalf("first use: %v %v", replayed, err)
	}
	if err := fill(t, rdb); !redis.HasErrorPrefix(err, "OOM") {
		t.Fatalf("fill: %v, want OOM", err)
	}
	// Redis takes writes again while a write's freeing leaves it under
	// maxmemory; new proofs soon take it over, and are refused.
	for i := 0; ; i++ {
		key := fmt.Sprint("new", i)
		replayed, err := st.CheckAndSet(ctx, key, until)
		if redis.HasErrorPrefix(err, "OOM") {
			break
		}
		if replayed || err != nil || i == 10000 {
			t.Fatalf("new proof %d: replayed=%v err=%v, want a first use until OOM", i, replayed, err)
		}
		accepted = append(accepted, key)
	}
	for _, key := range accepted {
		if replayed, err := st.CheckAndSet(ctx, key, until); !replayed && !redis.HasErrorPrefix(err, "OOM") {
			t.Fatalf("%s, accepted before, again: replayed=%v err=%v, want a replay or OOM", key, replayed, err)
		}
	}
}

// WithInsecureAllowEviction is what its name says: the Store never asks
// the policy, and once Redis is full a used proof is accepted again.
func TestInsecureAllowEvictionForgetsProofs(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	setPolicy(t, rdb, "volatile-ttl")
	st := redisreplay.New(rdb, redisreplay.WithInsecureAllowEviction())
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if replayed, err := st.CheckAndSet(ctx, "used", until); replayed || err != nil {
		t.Fatalf("first use: %v %v", replayed, err)
	}
	if err := fill(t, rdb); err != nil {
		t.Fatalf("fill: %v, want eviction, no OOM", err)
	}
	if replayed, err := st.CheckAndSet(ctx, "used", until); replayed || err != nil {
		t.Fatalf("the used proof once Redis evicted: replayed=%v err=%v; if Redis no longer evicts it, the option's doc is wrong", replayed, err)
	}
	stats, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil || strings.Contains(stats, "cmdstat_config|get:") {
		t.Fatalf("the Store asked the policy (%v):\n%s", err, stats)
	}
}

// The policy can change at runtime: the Store asks again every
// WithPolicyRecheck, refuses once it evicts, and serves again once it no
// longer does.
func TestPolicyChangedAtRuntime(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	st := redisreplay.New(rdb, redisreplay.WithPolicyRecheck(20*time.Millisecond))
	redistest.CheckReplay(t, st, "before", time.Now().Add(time.Minute))
	// until reports when CheckAndSet of new keys first fails as want says.
	until := func(want func(error) bool) {
		t.Helper()
		for i := 0; ; i++ {
			_, err := st.CheckAndSet(context.Background(), fmt.Sprint("k", i), time.Now().Add(time.Minute))
			if want(err) {
				return
			}
			if i == 200 {
				t.Fatalf("after 200 checks: %v", err)
			}
			time.Sleep(10 * time.Millisecond) // lets the re-check come due; not a timer of the Store's to wait out exactly
		}
	}
	setPolicy(t, rdb, "allkeys-lfu")
	until(func(err error) bool { return errors.Is(err, redisreplay.ErrEvictingPolicy) })
	setPolicy(t, rdb, "noeviction")
	until(func(err error) bool { return err == nil })
}

// A re-check that gets no answer (CONFIG GET timing out) leaves the last
// answer in force, and is asked again after a short delay that grows up to
// the interval: not with every request, as when a failed re-check left it
// due. Found by a review, which saw 200 CONFIG GETs in 661 ms.
func TestUnansweredRecheckBacksOff(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	var configs atomic.Int32
	var failing atomic.Bool
	rdb.AddHook(configHook{n: &configs, reply: func() error {
		if failing.Load() {
			return &net.OpError{Op: "read", Net: "tcp", Err: errors.New("i/o timeout")}
		}
		return nil
	}})
	const recheck = 400 * time.Millisecond
	st := redisreplay.New(rdb, redisreplay.WithPolicyRecheck(recheck))
	ctx := context.Background()
	if _, err := st.CheckAndSet(ctx, "first", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	failing.Store(true)
	time.Sleep(recheck + 50*time.Millisecond) // the re-check is due
	configs.Store(0)
	start, i := time.Now(), 0
	for ; time.Since(start) < 3*recheck; i++ {
		if _, err := st.CheckAndSet(ctx, fmt.Sprint("k", i), time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("request %d, re-checks unanswered: %v, want the last answer kept", i, err)
		}
		time.Sleep(time.Millisecond)
	}
	// One question per interval, and a few before the delay reaches it.
	elapsed := time.Since(start)
	if n, want := configs.Load(), int32(elapsed/recheck)+4; n > want || n < 2 {
		t.Fatalf("%d CONFIG GETs for %d requests in %v of unanswered re-checks (interval %v), want 2 to %d", n, i, elapsed.Round(time.Millisecond), recheck, want)
	}
	// Still asked: the node answers again, and its new policy is heard
	// within the interval.
	setPolicy(t, client(t, srv), "allkeys-lru")
	failing.Store(false)
	for deadline := time.Now().Add(recheck + time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, err := st.CheckAndSet(ctx, fmt.Sprint("k", i), time.Now().Add(time.Minute))
		if errors.Is(err, redisreplay.ErrEvictingPolicy) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("once CONFIG GET is answered again: %v, want %v within the interval", err, redisreplay.ErrEvictingPolicy)
		}
		i++
	}
}

// A first question that gets no answer (Redis down) is an error, and is
// asked again: it says neither that Redis evicts nor that it does not.
func TestPolicyAskedAgainAfterAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	st := redisreplay.New(client(t, srv))
	srv.Stop()
	_, err := st.CheckAndSet(context.Background(), "k", time.Now().Add(time.Minute))
	var opErr *net.OpError
	if !errors.As(err, &opErr) || errors.Is(err, redisreplay.ErrEvictingPolicy) {
		t.Fatalf("Redis down: %v, want a connection error", err)
	}
	srv.Restart(t)
	for range 3 { // the first commands may meet the pool's dead connection
		if _, err = st.CheckAndSet(context.Background(), "k", time.Now().Add(time.Minute)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("Redis back: %v", err)
	}
}

// A managed Redis that renames or forbids CONFIG cannot say its policy:
// the Store works, and warns once.
func TestConfigRefusedWarnsOnce(t *testing.T) {
	srv := redistest.Start(t)
	admin := client(t, srv)
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "app", Password: "secret", MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	log, logged := captureLog()
	st := redisreplay.New(rdb, redisreplay.WithLogger(log), redisreplay.WithPolicyRecheck(time.Millisecond))
	for i := range 20 {
		redistest.CheckReplay(t, st, fmt.Sprint("k", i), time.Now().Add(time.Minute))
		time.Sleep(2 * time.Millisecond) // so that re-checks come due and are refused again
	}
	if out := logged(); strings.Count(out, "level=WARN") != 1 || !strings.Contains(out, "refused CONFIG GET maxmemory-policy") || !strings.Contains(out, "NOPERM") {
		t.Fatalf("%d warnings, want one about CONFIG GET, NOPERM:\n%s", strings.Count(out, "level=WARN"), out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// captureLog is a logger for a Store, and what it has logged so far.
func captureLog() (*slog.Logger, func() string) {
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	return log, func() string {
		mu.Lock()
		defer mu.Unlock()
		return logs.String()
	}
}

// configHook counts the CONFIG commands a client sends, and while reply
// returns an error answers them with it instead of Redis.
type configHook struct {
	n     *atomic.Int32
	reply func() error
}

func (configHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h configHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "config" {
			return next(ctx, cmd)
		}
		h.n.Add(1)
		if err := h.reply(); err != nil {
			cmd.SetErr(err)
			return err
		}
		return next(ctx, cmd)
	}
}

func (configHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// replyError is an error reply as go-redis returns one from Redis.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// A Redis busy running a slow Lua script answers every command but a few
// with BUSY, CONFIG GET too: a reply of the moment, not a refusal of
// CONFIG. The first check then has no answer and fails, and the Store
// asks again: an evicting Redis is refused once it answers, never taken
// for one that cannot say. Found by a review.
func TestBusyRedisIsNoAnswer(t *testing.T) {
	srv := redistest.Start(t)
	admin := client(t, srv)
	ctx := context.Background()
	setPolicy(t, admin, "allkeys-lru")
	if err := admin.ConfigSet(ctx, "busy-reply-threshold", "50").Err(); err != nil {
		t.Fatal(err)
	}
	go client(t, srv).Eval(ctx, "while true do end", nil)
	for deadline := time.Now().Add(5 * time.Second); !redis.HasErrorPrefix(admin.Ping(ctx).Err(), "BUSY"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Redis never got busy")
		}
	}
	log, logs := captureLog()
	st := redisreplay.New(client(t, srv), redisreplay.WithLogger(log))
	replayed, err := st.CheckAndSet(ctx, "during", time.Now().Add(time.Minute))
	if replayed || err == nil || !strings.Contains(err.Error(), "BUSY") || errors.Is(err, redisreplay.ErrEvictingPolicy) {
		t.Fatalf("while Redis is busy: replayed=%v err=%v, want the BUSY reply", replayed, err)
	}
	if err := admin.Do(ctx, "SCRIPT", "KILL").Err(); err != nil {
		t.Fatal(err)
	}
	for admin.Ping(ctx).Err() != nil {
		time.Sleep(10 * time.Millisecond)
	}
	if replayed, err := st.CheckAndSet(ctx, "after", time.Now().Add(time.Minute)); !errors.Is(err, redisreplay.ErrEvictingPolicy) {
		t.Fatalf("allkeys-lru Redis, no longer busy: replayed=%v err=%v, want %v", replayed, err, redisreplay.ErrEvictingPolicy)
	}
	if l := logs(); l != "" {
		t.Fatalf("logged, as if CONFIG were refused:\n%s", l)
	}
}

// Only a reply that refuses CONFIG GET for good lets the Store work
// without knowing the policy: NOPERM, or CONFIG unknown (renamed or
// removed, as managed services do). Every other error reply is no answer:
// the check fails, warns of nothing, and is asked again. The texts are
// those of Redis 7.0 (and 6, for the backticks).
func TestConfigErrorReplies(t *testing.T) {
	srv := redistest.Start(t)
	for _, tc := range []struct {
		name, reply string
		refused     bool // for good: the Store works, and warns
	}{
		{"NOPERM", "NOPERM this user has no permissions to run the 'config|get' command", true},
		{"unknown command", "ERR unknown command 'CONFIG', with args beginning with: 'GET' 'maxmemory-policy' ", true},
		{"unknown command, Redis 6", "ERR unknown command `CONFIG`, with args beginning with: `GET`, `maxmemory-policy`, ", true},
		{"unknown subcommand", "ERR unknown subcommand 'GET'. Try CONFIG HELP.", true},
		{"BUSY", "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", false},
		{"LOADING", "LOADING Redis is loading the dataset in memory", false},
		{"MASTERDOWN", "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.", false},
		{"max clients", "ERR max number of clients reached", false},
		{"NOAUTH", "NOAUTH Authentication required.", false},
		{"other ERR", "ERR unknown", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rdb := client(t, srv)
			var replying atomic.Bool
			replying.Store(true)
			rdb.AddHook(configHook{n: new(atomic.Int32), reply: func() error {
				if replying.Load() {
					return replyError(tc.reply)
				}
				return nil
			}})
			log, logs := captureLog()
			st := redisreplay.New(rdb, redisreplay.WithLogger(log), redisreplay.WithPrefix(fmt.Sprintf("replies:%d:", time.Now().UnixNano())))
			ctx := context.Background()
			_, err := st.CheckAndSet(ctx, "k", time.Now().Add(time.Minute))
			if tc.refused {
				if err != nil || strings.Count(logs(), "level=WARN") != 1 || !strings.Contains(logs(), tc.reply) {
					t.Fatalf("CheckAndSet: %v, want none, and one warning naming the reply; logged:\n%s", err, logs())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.reply) || logs() != "" {
				t.Fatalf("CheckAndSet: %v, want the reply as the error, and no warning; logged:\n%s", err, logs())
			}
			replying.Store(false)
			if _, err := st.CheckAndSet(ctx, "k", time.Now().Add(time.Minute)); err != nil {
				t.Fatalf("once CONFIG GET is answered: %v", err)
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

// A nil Option is a mistake of the set-up, said so there: New has no
// error to return (and sends nothing, so no Redis is needed here).
func TestNilOptionPanics(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"})
	t.Cleanup(func() { rdb.Close() })
	defer func() {
		if got := recover(); got != "redisreplay: New with a nil Option" {
			t.Fatalf("recovered %v", got)
		}
	}()
	redisreplay.New(rdb, redisreplay.WithPrefix("test:"), nil)
	t.Fatal("New accepted a nil Option")
}
