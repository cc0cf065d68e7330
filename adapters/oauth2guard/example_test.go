package oauth2guard_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtguard/jwtguard/adapters/oauth2guard"
)

func Example() {
	// An authorization server whose token endpoint answers the
	// refresh_token grant with at-1, at-2, ... and no new refresh token.
	var issued atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") != "rt-0" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"at-%d","token_type":"Bearer","expires_in":3600}`, issued.Add(1))
	}))
	defer idp.Close()

	// An API for which at-0 has expired, though the client's clock
	// still thinks it has an hour to live.
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if tok == "at-0" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="api", error="invalid_token", error_description="The access token expired"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "hello, %s", tok)
	}))
	defer api.Close()

	cfg := &oauth2.Config{
		ClientID: "cli",
		Endpoint: oauth2.Endpoint{TokenURL: idp.URL, AuthStyle: oauth2.AuthStyleInParams},
	}
	saved := &oauth2.Token{AccessToken: "at-0", RefreshToken: "rt-0", Expiry: time.Now().Add(time.Hour)}
	tr := oauth2guard.NewTransport(saved, oauth2guard.ConfigRefresher(cfg),
		oauth2guard.WithOnRefresh(func(old, new *oauth2.Token) {
			fmt.Printf("refreshed %s -> %s\n", old.AccessToken, new.AccessToken)
		}))
	client := &http.Client{Transport: tr}

	resp, err := client.Get(api.URL + "/api/me")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	fmt.Println("refreshes:", tr.Refreshes())
	fmt.Println("refresh token kept:", tr.Token().RefreshToken)
	// Output:
	// refreshed at-0 -> at-1
	// 200 OK hello, at-1
	// refreshes: 1
	// refresh token kept: rt-0
}

func ExampleIsExpiredHint() {
	resp := &http.Response{StatusCode: http.StatusUnauthorized, Header: http.Header{}}
	resp.Header.Set("WWW-Authenticate", `Basic realm="x", Bearer error_description="The access token expired", error="invalid_token"`)
	fmt.Println(oauth2guard.IsExpiredHint(resp))

	resp.Header.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="The access token signature is invalid"`)
	fmt.Println(oauth2guard.IsExpiredHint(resp))
	// Output:
	// true
	// false
}
