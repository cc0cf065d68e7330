// Package exampletest builds and runs the example servers for the black-box
// tests that drive them over HTTP (examples/contract, examples/soak, and
// interop, which is a module of its own and so cannot import a package
// under examples/internal): one way to build them, modules of their own
// included, and one way to start one and wait until it serves. Its Buffer
// also holds the output of a server a test runs in-process (examples/grpc).
package exampletest

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtguard/jwtguard/internal/checkout"
)

// Build builds the named example servers (examples/<name>) and returns the
// directory that holds them. It may be called from any directory of the
// repository: a server of the core module is built in it, with the
// caller's environment (GOWORK included); a server that is a module of its
// own is built in the repository's workspace (go.work), against this
// checkout. Outside a repository checkout (the core's tests run from the
// module cache) the error wraps checkout.ErrNotCheckout: the modules of
// their own are not there to build.
//
// The directory is kept between runs, under the user's cache directory:
// go build caches compiled packages but links a program anew into a new
// place, a second or more each, while it leaves a binary that is up to
// date (by its build ID, which covers every input) alone. It is the
// calling package's own, for the go environment of the call, so that no
// other configuration's binary is found there; and go build's temporary
// directory is inside it, so that a binary is moved into place whole (a
// rename, never a copy that a kill could leave half-written).
func Build(names ...string) (string, error) {
	root, err := checkout.Find()
	if err != nil {
		return "", err
	}
	dir, err := buildDir()
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", err
	}
	// The builds run side by side: each is mostly a link, one core's work.
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, s := range names {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, s), "./examples/"+s)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOTMPDIR="+tmp)
		if _, err := os.Stat(filepath.Join(root, "examples", s, "go.mod")); err == nil {
			cmd = exec.Command("go", "build", "-o", filepath.Join(dir, s), ".")
			cmd.Dir = filepath.Join(root, "examples", s)
			cmd.Env = append(os.Environ(), "GOTMPDIR="+tmp, "GOWORK="+filepath.Join(root, "go.work"))
		}
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		wg.Go(func() {
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("building examples/%s: %w", s, err)
				return
			}
			if err := consultSources(root, cmd.Dir, cmd.Env, cmd.Args[len(cmd.Args)-1]); err != nil {
				errs[i] = fmt.Errorf("listing the sources of examples/%s: %w", s, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	return dir, nil
}

// sources are the files of the repository that the example servers built
// so far are built from (consultSources).
var sources struct {
	sync.Mutex
	files []string
}

// consultSources stats every file of the repository that the package pkg
// (run from dir, with env) is built from, and keeps their names for
// Start. go test caches a passing run by the files the test consulted,
// and a binary it runs is not one of them: without this, an example
// broken after a passing run would be reported "ok (cached)" without
// being run. A stat is enough, as go test keys a stat on size and
// modification time; but go test records only what is consulted while
// the tests run, not in TestMain before them (where Main builds), so
// Start stats them again.
func consultSources(root, dir string, env []string, pkg string) error {
	const tmpl = `{{if not .Standard}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}` +
		`{{with .Module}}{{"\n"}}|{{.GoMod}}{{end}}{{"\n"}}{{end}}`
	cmd := exec.Command("go", "list", "-deps", "-f", tmpl, pkg)
	cmd.Dir, cmd.Env, cmd.Stderr = dir, env, os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	// go.work too, which the examples of modules of their own are built
	// in, and each package's directory, whose modification time a file
	// added to it changes.
	files := []string{filepath.Join(root, "go.work"), filepath.Join(root, "go.work.sum")}
	for line := range strings.Lines(string(out)) {
		parts := strings.Split(strings.TrimSuffix(line, "\n"), "|")
		if parts[0] != "" && strings.HasPrefix(parts[0], root+string(filepath.Separator)) {
			files = append(files, parts[0])
		}
		for _, f := range parts[1:] {
			if f = filepath.Join(parts[0], f); !strings.HasPrefix(f, root+string(filepath.Separator)) {
				continue
			}
			files = append(files, f)
			if strings.HasSuffix(f, ".mod") {
				files = append(files, strings.TrimSuffix(f, ".mod")+".sum")
			}
		}
	}
	statAll(files)
	sources.Lock()
	sources.files = append(sources.files, files...)
	sources.Unlock()
	return nil
}

// statAll stats files, for go test's record of what a test consulted; a
// file that is missing is recorded as missing, which is what matters.
func statAll(files []string) {
	for _, f := range files {
		_, _ = os.Stat(f)
	}
}

// consultOnce makes Start record the example servers' sources once per
// test binary: go test's record is the whole process's.
var consultOnce sync.Once

// buildDir is the directory of the calling package's example binaries
// for the go environment it runs in (GOWORK, GOFLAGS, GOOS, ...). Without
// a user cache directory it is a new temporary one, which nobody else can
// have made beforehand.
func buildDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return os.MkdirTemp("", "jwtguard-examples")
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(wd))
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GO") || strings.HasPrefix(kv, "CGO_") {
			h.Write([]byte{0})
			h.Write([]byte(kv))
		}
	}
	dir := filepath.Join(base, "jwtguard-examples", hex.EncodeToString(h.Sum(nil)[:8]))
	return dir, os.MkdirAll(dir, 0o700)
}

// unbuilt is why Main built no servers: it ran outside a repository
// checkout (checkout.ErrNotCheckout). Built skips the tests then.
var unbuilt error

// Main is the whole TestMain of a test that runs example servers: it
// builds the named ones (Build), sets *binDir to the directory that holds
// them, runs the tests, Parallel of them at once unless -test.parallel is
// given, and exits with the tests' status. A failed build
// exits 1 before any test runs; outside a repository checkout nothing is
// built, and every test that calls Start or Built is skipped, saying why
// (see package checkout).
func Main(m *testing.M, binDir *string, names ...string) {
	dir, err := Build(names...)
	switch {
	case errors.Is(err, checkout.ErrNotCheckout):
		unbuilt = err
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*binDir = dir
	waitingParallel()
	os.Exit(m.Run())
}

// Parallel is how many parallel tests Main lets run at once unless
// -test.parallel is given. The go command's default, GOMAXPROCS, suits
// tests that compute; these mostly wait: on servers that run in processes
// of their own, and on those servers' timers (an unknown kid's two-second
// wait, a failed fetch's backoff). On a two-core machine that default
// would run their waits two at a time.
const Parallel = 8

// waitingParallel raises -test.parallel to Parallel, unless the command
// line set it.
func waitingParallel() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < Parallel {
		if err := flag.Set("test.parallel", strconv.Itoa(Parallel)); err != nil {
			panic(err) // the testing package renamed its flag: fix Main
		}
	}
}

// Built skips t (see checkout.Skip) when Main built no servers because the
// tests run outside a repository checkout. Start calls it; a test that
// runs a binary of Main's directory itself calls it first.
func Built(t testing.TB) {
	t.Helper()
	if unbuilt != nil {
		checkout.Skip(t, unbuilt)
	}
}

// Server is one running example binary.
type Server struct {
	URL    string
	Pid    int
	Stdout *Buffer // what it printed: dev mode's instructions
}

// Buffer is a strings.Builder safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String is what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var readyLine = regexp.MustCompile(`msg=ready url=(\S+)`)

// Start runs bin with -addr 127.0.0.1:0, then args, and env added to the
// environment; waits for its ready log line; and stops it (SIGINT) when
// the test ends, logging its output if the test failed.
func Start(t testing.TB, bin string, env []string, args ...string) *Server {
	t.Helper()
	Built(t)
	consultOnce.Do(func() {
		sources.Lock()
		defer sources.Unlock()
		statAll(sources.files)
	})
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	s := &Server{Stdout: &Buffer{}}
	cmd.Stdout = s.Stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Pid = cmd.Process.Pid
	var logs Buffer
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = logs.Write([]byte(sc.Text() + "\n"))
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s %v stderr:\n%s\nstdout:\n%s", filepath.Base(bin), args, logs.String(), s.Stdout.String())
		}
	})
	select {
	case s.URL = <-urlc:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not log its ready line", filepath.Base(bin))
	}
	return s
}
