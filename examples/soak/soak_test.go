//go:build soak

package soak

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/exampletest"
	"github.com/jwtguard/jwtguard/internal/guardtest"
	"github.com/jwtguard/jwtguard/jwks/jwkstest"
)

var (
	duration = flag.Duration("soak.duration", 20*time.Second, "how long each server is driven")
	clients  = flag.Int("soak.clients", 16, "concurrent keep-alive clients")
	maxReqs  = flag.Int64("soak.requests", 5_000_000, "the most requests sent to one server")
	servers  = flag.String("soak.servers", "nethttp,echo,gin,echov5", "the example servers to drive, in turn")
	peakMiB  = flag.Int("soak.peak-mib", 256, "the most resident memory (VmHWM) a server may reach, MiB")
)

const (
	aud      = "https://api.example.com"
	leeway   = time.Second
	cooldown = 2 * time.Second
	// grace is how long after the proxy served a key set the server may
	// still answer by the one before: the install follows the fetch at
	// once, and a request sent just before may be answered just after.
	grace = 250 * time.Millisecond
	// hang is the JWKS delay of the hang phase: past the server's 5 s
	// fetch timeout.
	hang = 6 * time.Second
)

var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	exampletest.Main(m, &binDir, strings.Split(*servers, ",")...)
}

func TestSoak(t *testing.T) {
	for _, s := range strings.Split(*servers, ",") {
		t.Run(s, func(t *testing.T) { soak(t, s) })
	}
}

// A served is one JWKS response the proxy passed on, and the kids of a
// body that is a key set (none for garbage or an error).
type served struct {
	at     time.Time
	status int
	kids   []string
}

// proxy stands between the server and the issuer's JWKS, recording what
// it served and when, and counting fetches.
type proxy struct {
	target  string
	fetches atomic.Int64
	mu      sync.Mutex
	log     []served
	starts  []time.Time // when each fetch began, answered or not
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	p.starts = append(p.starts, time.Now())
	p.mu.Unlock()
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, p.target, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	var kids []string
	if resp.StatusCode == 200 && json.Unmarshal(body, &set) == nil {
		for _, k := range set.Keys {
			kids = append(kids, k.Kid)
		}
	}
	p.mu.Lock()
	p.log = append(p.log, served{time.Now(), resp.StatusCode, kids})
	p.mu.Unlock()
}

// firstServed is when the proxy first served, after from, a key set for
// which has is true.
func (p *proxy) firstServed(from time.Time, has func([]string) bool) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.log {
		if !s.at.Before(from) && len(s.kids) > 0 && has(s.kids) {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// A phase is a stretch of the run with one JWKS behaviour.
type phase struct {
	name  string
	at    float64 // of the run's duration
	apply func()
}

// An answer is what a request got.
type answer struct {
	status int
	hint   bool   // the expired hint, and so error="invalid_token"
	code   string // the challenge's error, "" for none
}

// A class is one kind of request of the corpus: how to make it, and what
// it must get (judge returns "" when the answer is right).
type class struct {
	name  string
	make  func() (tok, proof string)
	judge func(sent time.Time, a answer) string
	pass  atomic.Int64
	fail  atomic.Int64
}

type sample struct {
	sent    time.Time
	latency time.Duration
}

var errorParam = regexp.MustCompile(`error="([^"]*)"`)

func soak(t *testing.T, name string) {
	iss := jwkstest.NewIssuer(jwkstest.WithAudience(aud))
	defer iss.Close()
	k1 := iss.SigningKID("RS256")
	ke := iss.Rotate("ES256") // the unique tokens' key: cheap to sign
	k2 := iss.Rotate("EdDSA") // removed mid-run
	var knew atomic.Value     // the RS256 key added mid-run
	knew.Store("")
	other := jwkstest.NewIssuer(jwkstest.WithAudience(aud)) // a foreign issuer
	defer other.Close()

	p := &proxy{target: iss.JWKSURL()}
	proxySrv := httptest.NewServer(p)
	defer proxySrv.Close()

	srv, pid := start(t, name, "-issuer", iss.URL(), "-jwks-url", proxySrv.URL+"/jwks", "-audience", aud,
		"-leeway", leeway.String(), "-unknown-kid-cooldown", cooldown.String())
	waitKeys(t, srv, iss.Mint())
	begin := time.Now()
	end := begin.Add(*duration)
	// exp is whole seconds: the judge must use what the token says.
	shortExp := time.Unix(begin.Add(*duration*45/100).Unix(), 0)

	sign := func(kid, alg string, claims map[string]any) string {
		return iss.Sign(kid, map[string]any{"alg": alg, "kid": kid, "typ": "at+jwt"}, claims)
	}
	var jti atomic.Int64
	claimsUntil := func(exp time.Time, extra ...any) map[string]any {
		c := map[string]any{"iss": iss.URL(), "sub": "soak", "aud": aud, "exp": exp.Unix(), "iat": time.Now().Unix() - 1,
			"jti": strconv.FormatInt(jti.Add(1), 10), "scope": "notes:read"}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}
	hour := time.Now().Add(time.Hour)
	valid := sign(k1, "RS256", claimsUntil(hour))
	expired := sign(k1, "RS256", claimsUntil(time.Now().Add(-time.Hour)))
	removed := sign(k2, "EdDSA", claimsUntil(hour))
	short := sign(k1, "RS256", claimsUntil(shortExp))
	prover := guardtest.NewProver("ES256")
	bound := sign(k1, "RS256", claimsUntil(hour, "cnf", map[string]any{"jkt": prover.JKT}))
	replayed := prover.Proof("GET", srv+"/api/me", bound, nil, nil)
	var newTok atomic.Value
	newTok.Store("")

	refused := func(wantCode string) func(time.Time, answer) string {
		return func(_ time.Time, a answer) string {
			if a.status != 401 || a.hint || a.code != wantCode {
				return fmt.Sprintf("want 401 %s without the hint", wantCode)
			}
			return ""
		}
	}
	ok200 := func(_ time.Time, a answer) string {
		if a.status != 200 {
			return "want 200"
		}
		return ""
	}
	var replayPassed atomic.Int64
	classes := []*class{
		{name: "valid, repeated", make: func() (string, string) { return valid, "" }, judge: ok200},
		{name: "valid, used once", make: func() (string, string) { return sign(ke, "ES256", claimsUntil(hour)), "" }, judge: ok200},
		{name: "expired", make: func() (string, string) { return expired, "" }, judge: func(_ time.Time, a answer) string {
			if a.status != 401 || !a.hint {
				return "want 401 with the expired hint"
			}
			return ""
		}},
		{name: "forged", make: func() (string, string) { return guardtest.Forge(valid), "" }, judge: refused("invalid_token")},
		{name: "forged and expired", make: func() (string, string) { return guardtest.Forge(expired), "" }, judge: refused("invalid_token")},
		{name: "foreign issuer", make: func() (string, string) { return other.Mint(), "" }, judge: refused("invalid_token")},
		{name: "unknown kid", make: func() (string, string) {
			return guardtest.Unsigned(map[string]any{"alg": "RS256", "kid": "unknown-" + strconv.FormatInt(jti.Add(1), 10), "typ": "at+jwt"}, claimsUntil(hour)), ""
		}, judge: refused("invalid_token")},
		// Over the maximum token size (16 KiB): a malformed request.
		{name: "oversized", make: func() (string, string) {
			return sign(k1, "RS256", claimsUntil(hour, "pad", strings.Repeat("a", 17<<10))), ""
		},
			judge: func(_ time.Time, a answer) string {
				if a.status != 400 || a.code != "invalid_request" {
					return "want 400 invalid_request"
				}
				return ""
			}},
		{name: "missing", make: func() (string, string) { return "", "" }, judge: refused("")},
		{name: "removed key", make: func() (string, string) { return removed, "" }, judge: func(sent time.Time, a answer) string {
			gone, ok := p.firstServed(begin, func(kids []string) bool { return !slices.Contains(kids, k2) })
			if ok && sent.After(gone.Add(grace)) {
				if a.status != 401 || a.hint {
					return fmt.Sprintf("want 401 without the hint: a key set without the key was served %v before", sent.Sub(gone).Round(time.Millisecond))
				}
				return ""
			}
			if a.status != 200 && (a.status != 401 || a.hint) {
				return "want 200 (key still held) or 401 without the hint"
			}
			return ""
		}},
		{name: "added key", make: func() (string, string) { return newTok.Load().(string), "" }, judge: func(sent time.Time, a answer) string {
			kid := knew.Load().(string)
			here, ok := p.firstServed(begin, func(kids []string) bool { return slices.Contains(kids, kid) })
			if ok && sent.After(here.Add(grace)) {
				if a.status != 200 {
					return fmt.Sprintf("want 200: a key set with the key was served %v before", sent.Sub(here).Round(time.Millisecond))
				}
				return ""
			}
			if a.status != 200 && (a.status != 401 || a.hint) {
				return "want 200 or 401 (key not fetched yet) without the hint"
			}
			return ""
		}},
		{name: "expiring mid-run, repeated", make: func() (string, string) { return short, "" }, judge: func(sent time.Time, a answer) string {
			switch {
			case sent.Before(shortExp.Add(leeway - 500*time.Millisecond)):
				if a.status != 200 {
					return "want 200 before its expiry and leeway"
				}
			case sent.After(shortExp.Add(leeway + 500*time.Millisecond)):
				if a.status != 401 || !a.hint {
					return "want 401 with the expired hint after its expiry and leeway"
				}
			case a.status != 200 && (a.status != 401 || !a.hint):
				return "want 200 or the expired hint at its expiry"
			}
			return ""
		}},
		{name: "DPoP, fresh proof", make: func() (string, string) { return bound, prover.Proof("GET", srv+"/api/me", bound, nil, nil) }, judge: ok200},
		{name: "DPoP, replayed proof", make: func() (string, string) { return bound, replayed }, judge: func(_ time.Time, a answer) string {
			if a.status == 200 && replayPassed.Add(1) == 1 {
				return "" // its first use
			}
			if a.status != 401 || a.hint || a.code != "invalid_dpop_proof" {
				return "want 401 invalid_dpop_proof"
			}
			return ""
		}},
	}

	// The hang comes last: its fetch lasts the server's whole fetch
	// timeout, and would swallow a phase after it.
	phases := []phase{
		{"healthy", 0, func() {}},
		{"rotated", 0.2, func() {
			iss.RemoveKey(k2)
			kid := iss.Rotate("RS256")
			newTok.Store(sign(kid, "RS256", claimsUntil(time.Now().Add(time.Hour))))
			knew.Store(kid)
		}},
		{"jwks 503", 0.35, func() { iss.SetFault(jwkstest.FaultStatus503) }},
		{"jwks garbage", 0.5, func() { iss.SetFault(jwkstest.FaultGarbage) }},
		{"jwks hangs", 0.65, func() { iss.SetSlowDelay(hang); iss.SetFault(jwkstest.FaultSlow) }},
		{"recovered", 0.85, func() { iss.SetFault(jwkstest.FaultNone) }},
	}
	phaseAt := func(at time.Time) int {
		f := float64(at.Sub(begin)) / float64(*duration)
		i := 0
		for j, ph := range phases {
			if f >= ph.at {
				i = j
			}
		}
		return i
	}
	go func() {
		for _, ph := range phases[1:] {
			time.Sleep(time.Until(begin.Add(time.Duration(ph.at * float64(*duration)))))
			ph.apply()
		}
	}()

	var sent atomic.Int64
	var mu sync.Mutex
	samples := make([][]sample, len(phases))
	var failures []string
	fivexx := atomic.Int64{}
	var wg sync.WaitGroup
	for c := range *clients {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
			var mine [][]sample = make([][]sample, len(phases))
			for i := c; time.Now().Before(end) && sent.Add(1) <= *maxReqs; i++ {
				cl := classes[i%len(classes)]
				tok, proof := cl.make()
				if tok == "" && cl.name == "added key" {
					continue // before the rotation
				}
				req, _ := http.NewRequest(http.MethodGet, srv+"/api/me", nil)
				switch {
				case proof != "":
					req.Header.Set("Authorization", "DPoP "+tok)
					req.Header.Set("DPoP", proof)
				case tok != "":
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				at := time.Now()
				resp, err := client.Do(req)
				lat := time.Since(at)
				if err != nil {
					cl.fail.Add(1)
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s: %v", cl.name, err))
					mu.Unlock()
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				ch := strings.Join(resp.Header.Values("Www-Authenticate"), "\n")
				a := answer{status: resp.StatusCode, hint: strings.Contains(ch, `error_description="The access token expired"`)}
				if first, _, _ := strings.Cut(ch, "\n"); first != "" {
					if m := errorParam.FindStringSubmatch(first); m != nil {
						a.code = m[1]
					}
				}
				if a.status >= 500 {
					fivexx.Add(1)
				}
				if why := cl.judge(at, a); why != "" {
					cl.fail.Add(1)
					mu.Lock()
					if len(failures) < 50 {
						failures = append(failures, fmt.Sprintf("%s at +%v (%s): got %d hint=%v error=%q; %s", cl.name,
							at.Sub(begin).Round(time.Millisecond), phases[phaseAt(at)].name, a.status, a.hint, a.code, why))
					}
					mu.Unlock()
				} else {
					cl.pass.Add(1)
				}
				ph := phaseAt(at)
				mine[ph] = append(mine[ph], sample{at, lat})
			}
			mu.Lock()
			for i := range mine {
				samples[i] = append(samples[i], mine[i]...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	peak := vmHWM(pid)

	// Throughput and latency per phase.
	var answered int64
	for _, cl := range classes {
		answered += cl.pass.Load() + cl.fail.Load()
	}
	t.Logf("%s: %d requests in %v, %d clients", name, answered, elapsed.Round(time.Millisecond), *clients)
	t.Logf("%-14s %9s %8s %8s %8s %8s", "phase", "req/s", "p50", "p95", "p99", "max")
	for i, ph := range phases {
		from := time.Duration(ph.at * float64(*duration))
		to := *duration
		if i+1 < len(phases) {
			to = time.Duration(phases[i+1].at * float64(*duration))
		}
		lats := make([]time.Duration, len(samples[i]))
		for j, s := range samples[i] {
			lats[j] = s.latency
		}
		slices.Sort(lats)
		t.Logf("%-14s %9.0f %8v %8v %8v %8v", ph.name, float64(len(lats))/(to-from).Seconds(),
			pct(lats, 50), pct(lats, 95), pct(lats, 99), pct(lats, 100))
	}
	var passed, failed int64
	for _, cl := range classes {
		t.Logf("  %-28s pass %8d  fail %d", cl.name, cl.pass.Load(), cl.fail.Load())
		passed += cl.pass.Load()
		failed += cl.fail.Load()
	}
	fetches := p.fetches.Load()
	limit := 2 + int64(math.Ceil(float64(elapsed)/float64(cooldown)))
	t.Logf("%s: %d passed, %d failed; %d JWKS fetches (at most %d: one at start, one per %v cooldown); peak RSS %d MiB",
		name, passed, failed, fetches, limit, cooldown, peak>>20)

	for _, f := range failures {
		t.Error(f)
	}
	if fivexx.Load() > 0 {
		t.Errorf("%d answers were 5xx", fivexx.Load())
	}
	if fetches > limit {
		t.Errorf("%d JWKS fetches in %v, more than one per %v cooldown", fetches, elapsed.Round(time.Second), cooldown)
	}
	// Each fault must have met a fetch, or the run proved nothing of it.
	p.mu.Lock()
	met := make([]int, len(phases))
	for _, at := range p.starts {
		met[phaseAt(at)]++
	}
	p.mu.Unlock()
	for i, ph := range phases {
		if strings.HasPrefix(ph.name, "jwks ") && met[i] == 0 {
			t.Errorf("no JWKS fetch during %q: the run is too short to test it", ph.name)
		}
	}
	if _, ok := p.firstServed(begin, func(kids []string) bool { return !slices.Contains(kids, k2) }); !ok {
		t.Error("no key set without the removed key was ever fetched: the rotation went unseen")
	}
	for _, cl := range classes {
		if cl.pass.Load()+cl.fail.Load() == 0 {
			t.Errorf("class %q was never sent", cl.name)
		}
	}
	if peak > int64(*peakMiB)<<20 {
		t.Errorf("peak RSS %d MiB, more than %d", peak>>20, *peakMiB)
	}
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p + 99) / 100
	i = min(max(i-1, 0), len(sorted)-1)
	return sorted[i].Round(10 * time.Microsecond)
}

// vmHWM is the peak resident set size of process pid, from /proc, or 0
// where there is none.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// start runs the named server and returns its URL and pid.
// waitKeys waits until the server has its first key set: it is ready
// before that, and until then answers every token 503, as its contract
// says, which no phase of the soak is about (a request at +7 ms once met
// it).
func waitKeys(t *testing.T, srv, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", srv+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the server got no keys in 10 s")
		}
		time.Sleep(20 * time.Millisecond) // polling the server's first fetch, bounded above
	}
}

func start(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	s := exampletest.Start(t, filepath.Join(binDir, name), nil, args...)
	return s.URL, s.Pid
}
