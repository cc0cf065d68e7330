// Command tokens fetches access tokens from a token endpoint (the example
// servers' dev issuer) for the wrk runs: one per line.
//
//	go run ./cmd/tokens -url http://127.0.0.1:PORT/token -n 30000 > tokens.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

func main() {
	tokenURL := flag.String("url", "", "token endpoint")
	n := flag.Int("n", 1, "how many tokens")
	scope := flag.String("scope", "notes:read", "scope to ask for")
	workers := flag.Int("workers", 8, "concurrent requests")
	flag.Parse()
	if *tokenURL == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var mu sync.Mutex
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed error
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				tok, err := fetch(*tokenURL, *scope)
				mu.Lock()
				if err != nil {
					failed = err
				} else {
					fmt.Fprintln(out, tok)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if failed != nil {
		fmt.Fprintln(os.Stderr, "tokens:", failed)
		os.Exit(1)
	}
}

func fetch(tokenURL, scope string) (string, error) {
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(url.Values{"scope": {scope}, "expires_in": {"3600"}}.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s %s", tokenURL, resp.Status, b)
	}
	return strings.TrimSpace(string(b)), nil
}
