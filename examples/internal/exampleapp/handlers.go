package exampleapp

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/jwtguard/jwtguard/claims"
)

// Scopes and routes of the example API; every server registers exactly these.
const (
	ScopeNotesRead  = "notes:read"
	ScopeNotesWrite = "notes:write"
	ScopeAdmin      = "admin"
	ScopeTransfers  = "transfers:write"
	// ACRMFA is the authentication level POST /api/transfers asks for, and
	// StepUpMaxAge how recent the authentication must be (RFC 9470).
	ACRMFA       = "urn:example:acr:mfa"
	StepUpMaxAge = 300 * time.Second
)

// MaxNotes is how many notes the API keeps: adding one more drops the
// oldest. An example is what users copy, and a list that grows with every
// POST (and is returned whole by every GET) is a memory leak and a
// slowdown.
const MaxNotes = 100

// API holds the example's state: the last MaxNotes notes, in memory.
type API struct {
	mu      sync.Mutex
	notes   []Note
	created int // notes ever added: the next note's ID
}

// Note is one entry of /api/notes.
type Note struct {
	ID     int    `json:"id"`
	Text   string `json:"text"`
	Author string `json:"author"`
}

// NewAPI returns an API with one note in it.
func NewAPI() *API {
	return &API{notes: []Note{{ID: 1, Text: "Access tokens are verified locally.", Author: "jwtguard"}}, created: 1}
}

// Healthz answers GET /healthz.
func (a *API) Healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

type me struct {
	Iss      string   `json:"iss"`
	Sub      string   `json:"sub"`
	ClientID string   `json:"client_id,omitempty"`
	Scopes   []string `json:"scopes"`
}

// Me answers GET /api/me with who the token says the caller is.
func (a *API) Me(w http.ResponseWriter, r *http.Request) {
	c, _ := claims.FromContext(r.Context())
	scopes := []string(c.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	writeJSON(w, http.StatusOK, me{Iss: c.Issuer, Sub: c.Subject, ClientID: c.ClientID, Scopes: scopes})
}

// ListNotes answers GET /api/notes: the last MaxNotes notes, oldest
// first.
func (a *API) ListNotes(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	notes := append([]Note{}, a.notes...)
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, notes)
}

// CreateNote answers POST /api/notes with 201 and the new note; the
// oldest is dropped once MaxNotes are kept. IDs keep counting.
func (a *API) CreateNote(w http.ResponseWriter, r *http.Request) {
	c, _ := claims.FromContext(r.Context())
	var in struct {
		Text string `json:"text"`
	}
	// The body is optional: an empty or non-JSON body makes an empty note.
	_ = json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in)
	a.mu.Lock()
	a.created++
	n := Note{ID: a.created, Text: in.Text, Author: c.Subject}
	if len(a.notes) == MaxNotes {
		copy(a.notes, a.notes[1:])
		a.notes = a.notes[:MaxNotes-1]
	}
	a.notes = append(a.notes, n)
	a.mu.Unlock()
	writeJSON(w, http.StatusCreated, n)
}

// Transfer answers POST /api/transfers, once the token has passed the
// scope and step-up rules, with 201 {"status":"accepted"}.
func (a *API) Transfer(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusCreated, map[string]string{"status": "accepted"})
}

// Stats answers GET /admin/stats: the notes kept, and ever added.
func (a *API) Stats(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	n, created := len(a.notes), a.created
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]int{"notes": n, "created": created})
}

// writeJSON writes v as the whole body, with no newline after it: the
// contract fixes some bodies byte for byte ({"status":"accepted"}), as
// the refusals' are.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the handlers' values always marshal
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
