package oauth2guard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// noRequestRT is a base RoundTripper that, like many mocks, recorders and
// caching layers, returns responses without Response.Request.
type noRequestRT struct{}

func (noRequestRT) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if resp != nil {
		resp.Request = nil
	}
	return resp, err
}

func TestTokenStaysWithItsOriginWhateverTheBase(t *testing.T) {
	var strangerAuth atomic.Value
	strangerAuth.Store("")
	stranger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		strangerAuth.Store(r.Header.Get("Authorization"))
	}))
	t.Cleanup(stranger.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, stranger.URL+"/steal", http.StatusFound)
	}))
	t.Cleanup(api.Close)
	tr := NewTransport(liveToken("at-0", "rt-0"), func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		return liveToken("at-1", "rt-1"), nil
	}, WithBase(noRequestRT{}))
	resp, err := (&http.Client{Transport: tr}).Get(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := strangerAuth.Load().(string); got != "" {
		t.Fatalf("the other origin received Authorization %q", got)
	}
}

// A token endpoint that issues short-lived tokens (expires_in below
// oauth2's 10 s expiry delta) makes every request cost a refresh: the
// cooldown only covers the expired hint, not the local-clock path.
func TestShortLivedTokensAreNotRefreshedPerRequest(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(api.Close)
	var n atomic.Int64
	tr := NewTransport(nil, func(context.Context, *oauth2.Token) (*oauth2.Token, error) {
		n.Add(1)
		return &oauth2.Token{AccessToken: "at", RefreshToken: "rt", Expiry: time.Now().Add(5 * time.Second)}, nil
	})
	client := &http.Client{Transport: tr}
	for range 20 {
		resp, err := client.Get(api.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n.Load() > 2 {
		t.Fatalf("20 requests cost %d refreshes", n.Load())
	}
}
