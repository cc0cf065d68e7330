package exampleapp

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jwtguard/jwtguard/middleware"
)

// redisStore is the example servers' -replay-store redis://…: the two
// Redis commands a middleware.ReplayStore needs (SET NX PX, EXISTS),
// spoken over RESP with the standard library alone. The examples live in
// the core module, which must never require go-redis; an application
// uses adapters/redisreplay, the same commands through go-redis, and the
// contract tests hold both to a real redis-server.
type redisStore struct {
	addr string
	db   int
	idle chan net.Conn // connections at rest, at most cap of them
}

var _ middleware.ReplayStore = (*redisStore)(nil)

// redisTimeout bounds each command, connecting included.
const redisTimeout = 500 * time.Millisecond

// redisKeyPrefix is adapters/redisreplay's default: replicas mixing the
// two share proofs.
const redisKeyPrefix = "jwtguard:dpop:"

// parseRedisURL reads redis://host:port[/db].
func parseRedisURL(raw string) (*redisStore, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "redis" || u.Hostname() == "" || u.Port() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is neither memory nor a redis://host:port/db URL", raw)
	}
	s := &redisStore{addr: u.Host, idle: make(chan net.Conn, 16)}
	if p := strings.TrimPrefix(u.Path, "/"); p != "" {
		if s.db, err = strconv.Atoi(p); err != nil || s.db < 0 {
			return nil, fmt.Errorf("%q: the database must be a number", raw)
		}
	}
	return s, nil
}

func (s *redisStore) CheckAndSet(ctx context.Context, key string, until time.Time) (bool, error) {
	ms := max((time.Until(until) + time.Millisecond - 1).Milliseconds(), 1) // rounded up
	reply, err := s.do(ctx, "SET", redisKeyPrefix+key, "1", "NX", "PX", strconv.FormatInt(ms, 10))
	if err != nil {
		return false, err
	}
	return reply == nilReply, nil // NX: the key was there
}

func (s *redisStore) Seen(ctx context.Context, key string) (bool, error) {
	reply, err := s.do(ctx, "EXISTS", redisKeyPrefix+key)
	return reply == "1", err
}

// nilReply stands for RESP's null bulk string.
const nilReply = "\x00nil"

// do sends one command and reads its reply: a simple string, an integer
// or a bulk string, as text; an error reply is an error.
func (s *redisStore) do(ctx context.Context, args ...string) (string, error) {
	deadline := time.Now().Add(redisTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var c net.Conn
	select {
	case c = <-s.idle:
		if !alive(c) {
			// Closed by the server while kept (Redis restarted, or an idle
			// timeout): found before the command is sent, never after, so
			// no command is ever sent twice (a second SET NX would call a
			// first use a replay).
			c.Close()
			c = nil
		}
	default:
	}
	if c == nil {
		var err error
		if c, err = s.dial(ctx, deadline); err != nil {
			return "", err
		}
	}
	reply, err := command(c, deadline, args...)
	if err != nil {
		c.Close() // its state is unknown
		return "", fmt.Errorf("redis %s: %w", args[0], err)
	}
	select {
	case s.idle <- c:
	default:
		c.Close()
	}
	return reply, nil
}

func (s *redisStore) dial(ctx context.Context, deadline time.Time) (net.Conn, error) {
	d := net.Dialer{Deadline: deadline}
	c, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	if s.db != 0 {
		if _, err := command(c, deadline, "SELECT", strconv.Itoa(s.db)); err != nil {
			c.Close()
			return nil, fmt.Errorf("redis SELECT: %w", err)
		}
	}
	return c, nil
}

// command writes args as a RESP array of bulk strings and reads one reply.
func command(c net.Conn, deadline time.Time, args ...string) (string, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReaderSize(c, 512)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	if r.Buffered() > 0 && line[0] != '$' {
		return "", errors.New("unexpected bytes after the reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n > 512 {
			return "", errors.New("malformed bulk reply")
		}
		if n < 0 {
			return nilReply, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if r.Buffered() > 0 {
			return "", errors.New("unexpected bytes after the reply")
		}
		return string(buf[:n]), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line[:1])
}
