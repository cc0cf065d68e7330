// Package redistest starts a real redis-server for tests: the DPoP replay
// stores (adapters/redisreplay, the example servers' -replay-store) are
// tested against Redis itself, never a mock.
package redistest

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A Server is a redis-server on a loopback port.
type Server struct {
	Addr string // host:port
	cmd  *exec.Cmd
}

// URL is the server's redis:// URL, database db.
func (s *Server) URL(db int) string { return "redis://" + s.Addr + "/" + strconv.Itoa(db) }

// Start runs redis-server on a free loopback port, without persistence,
// and stops it when the test ends. Without redis-server on the PATH the
// test is skipped, unless JWTGUARD_REQUIRE_REDIS is set (CI sets it:
// there a missing server fails the test, never skips it).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("JWTGUARD_REQUIRE_REDIS") != "" {
			t.Fatal("redis-server is required (JWTGUARD_REQUIRE_REDIS) and not on the PATH")
		}
		t.Skip("no redis-server on the PATH (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	s := &Server{Addr: "127.0.0.1:" + port}
	s.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.waitUp(t)
	return s
}

// Restart stops the server and starts a new one on the same port: an
// outage that ends, with every connection to the old one gone.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin, _ := exec.LookPath("redis-server")
	_, port, _ := net.SplitHostPort(s.Addr)
	s.Stop()
	s.cmd = exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.waitUp(t)
}

func (s *Server) waitUp(t testing.TB) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !s.ping(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer PING in 10 s")
		}
	}
}

// Stop kills the server (an outage, for a test that needs one).
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	s.cmd = nil
}

func (s *Server) ping() bool {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// Store is what a DPoP replay store offers: middleware.ReplayStore's
// methods, named here so that this package imports no part of the library.
type Store interface {
	CheckAndSet(ctx context.Context, key string, until time.Time) (replayed bool, err error)
	Seen(ctx context.Context, key string) (bool, error)
}

// CheckReplay checks the rule every replay store keeps, on a key st does
// not hold yet: the first CheckAndSet (until the given time) is no replay,
// the second is one, and Seen then finds the key.
func CheckReplay(t testing.TB, st Store, key string, until time.Time) {
	t.Helper()
	ctx := context.Background()
	if replayed, err := st.CheckAndSet(ctx, key, until); replayed || err != nil {
		t.Fatalf("first: %v %v", replayed, err)
	}
	if replayed, err := st.CheckAndSet(ctx, key, until); !replayed || err != nil {
		t.Fatalf("second: %v %v", replayed, err)
	}
	if seen, err := st.Seen(ctx, key); !seen || err != nil {
		t.Fatalf("Seen: %v %v", seen, err)
	}
}
