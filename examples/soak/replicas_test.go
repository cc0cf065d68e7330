//go:build soak

package soak

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/internal/redistest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

// TestSoakIssuersAndReplicas drives two replicas of each server, which
// accept two issuers and share their DPoP replay store in Redis, for half
// the run's duration: tokens of both issuers must pass while the second
// issuer is down (from a quarter of the run to three quarters), a proof
// accepted by one replica must be refused by the other, and a fresh proof
// must pass on either.
func TestSoakIssuersAndReplicas(t *testing.T) {
	for i, s := range strings.Split(*servers, ",") {
		t.Run(s, func(t *testing.T) { soakReplicas(t, s, i) })
	}
}

func soakReplicas(t *testing.T, name string, db int) {
	redis := redistest.Start(t)
	a := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer a.Close()
	b := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer b.Close()
	args := []string{"-issuer", a.URL(), "-issuer", b.URL(), "-audience", aud, "-leeway", leeway.String(),
		"-unknown-kid-cooldown", cooldown.String(), "-replay-store", redis.URL(db)}
	r1, _ := start(t, name, args...)
	r2, _ := start(t, name, args...)
	// One public URL in front of both, as a load balancer is: the Host
	// the client sent is passed on, so both replicas see the same htu, and
	// only the shared store can tell a proof the other replica accepted.
	// X-Replica picks the replica.
	var backends []*url.URL
	for _, r := range []string{r1, r2} {
		u, _ := url.Parse(r)
		backends = append(backends, u)
	}
	lb := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		i, _ := strconv.Atoi(pr.In.Header.Get("X-Replica"))
		pr.SetURL(backends[i%2])
		pr.Out.Host = pr.In.Host
	}})
	defer lb.Close()
	tokA, tokB := a.Mint(jwkstest.WithExpiresIn(time.Hour)), b.Mint(jwkstest.WithExpiresIn(time.Hour))
	// The run starts once both replicas hold both issuers' keys: before
	// that, the contract's answer to a token is 503.
	for _, r := range []string{r1, r2} {
		for _, tok := range []string{tokA, tokB} {
			waitFor(t, r, tok)
		}
	}
	run := *duration / 2
	begin := time.Now()
	end := begin.Add(run)
	go func() {
		time.Sleep(run / 4)
		b.SetFault(jwkstest.FaultStatus503)
		time.Sleep(run / 2)
		b.SetFault(jwkstest.FaultNone)
	}()

	prover := guardtest.NewProver("ES256")
	bound := b.Mint(jwkstest.WithExpiresIn(time.Hour), jwkstest.WithClaim("cnf", map[string]any{"jkt": prover.JKT}))
	var n, passed, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(format string, args ...any) {
		failed.Add(1)
		mu.Lock()
		if len(failures) < 30 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	type reply struct {
		status int
		code   string
		desc   string
	}
	do := func(client *http.Client, replica int, scheme, tok, proof string) (reply, error) {
		req, _ := http.NewRequest(http.MethodGet, lb.URL+"/api/me", nil)
		req.Header.Set("X-Replica", strconv.Itoa(replica))
		req.Header.Set("Authorization", scheme+" "+tok)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		resp, err := client.Do(req)
		if err != nil {
			return reply{}, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r := reply{status: resp.StatusCode}
		ch := resp.Header.Get("Www-Authenticate")
		if m := errorParam.FindStringSubmatch(ch); m != nil {
			r.code = m[1]
		}
		if _, d, ok := strings.Cut(ch, `error_description="`); ok {
			r.desc, _, _ = strings.Cut(d, `"`)
		}
		return r, nil
	}
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, Timeout: 30 * time.Second}
			for i := c; time.Now().Before(end); i++ {
				n.Add(1)
				here, there := i%2, (i+1)%2
				at := time.Since(begin).Round(time.Millisecond)
				switch i % 3 {
				case 0, 1: // a bearer token of each issuer, whether b is up or down
					tok, who := tokA, "a"
					if i%3 == 1 {
						tok, who = tokB, "b"
					}
					r, err := do(client, here, "Bearer", tok, "")
					if err != nil || r.status != 200 {
						fail("issuer %s's token at +%v: %d %v, want 200", who, at, r.status, err)
						continue
					}
				case 2: // a fresh proof passes on one replica; replayed on the other, it is refused
					proof := prover.Proof("GET", lb.URL+"/api/me", bound, nil, nil)
					r, err := do(client, here, "DPoP", bound, proof)
					if err != nil || r.status != 200 {
						fail("fresh proof at +%v: %d %v, want 200", at, r.status, err)
						continue
					}
					refused := true
					for _, replica := range []int{there, here} {
						r, err = do(client, replica, "DPoP", bound, proof)
						if err != nil || r.status != 401 || r.code != "invalid_dpop_proof" || r.desc != guardtest.DescReplay {
							fail("proof replayed on replica %d (accepted by %d) at +%v: %d %q %q %v, want 401 invalid_dpop_proof, already used", replica, here, at, r.status, r.code, r.desc, err)
							refused = false
						}
					}
					if !refused {
						continue
					}
				}
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	t.Logf("%s, two replicas, two issuers (one down half the time), Redis replay store: %d rounds, %d passed, %d failed; issuer b served %d JWKS",
		name, n.Load(), passed.Load(), failed.Load(), b.JWKSFetches())
	for _, f := range failures {
		t.Error(f)
	}
}

// waitFor waits, 10 s at most, until the server at base accepts tok.
func waitFor(t *testing.T, base, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not accept the token in 10 s: %v", base, err)
		}
		time.Sleep(20 * time.Millisecond) // polling a separate process's first key fetch
	}
}
