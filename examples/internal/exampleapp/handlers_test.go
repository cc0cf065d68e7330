package exampleapp

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/jwtguard/jwtguard/claims"
)

// TestNotesAreBounded: the API keeps the last MaxNotes notes, oldest
// first, with IDs that keep counting, and says how many were ever added.
func TestNotesAreBounded(t *testing.T) {
	a := NewAPI()
	ctx := claims.NewContext(t.Context(), &claims.Claims{Subject: "u"})
	for i := range MaxNotes + 50 {
		rec := httptest.NewRecorder()
		a.CreateNote(rec, httptest.NewRequest("POST", "/api/notes", strings.NewReader(`{"text":"n`+strconv.Itoa(i)+`"}`)).WithContext(ctx))
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d", rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	a.ListNotes(rec, httptest.NewRequest("GET", "/api/notes", nil))
	var notes []Note
	if err := json.Unmarshal(rec.Body.Bytes(), &notes); err != nil {
		t.Fatal(err)
	}
	if len(notes) != MaxNotes || notes[0].ID != 52 || notes[MaxNotes-1].ID != MaxNotes+51 || notes[MaxNotes-1].Text != "n149" {
		t.Fatalf("%d notes, first %+v, last %+v", len(notes), notes[0], notes[len(notes)-1])
	}
	rec = httptest.NewRecorder()
	a.Stats(rec, httptest.NewRequest("GET", "/admin/stats", nil))
	if got := strings.TrimSpace(rec.Body.String()); got != `{"created":151,"notes":100}` {
		t.Fatalf("stats %s", got)
	}
}
