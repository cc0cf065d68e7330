package bench

import "net/http"

// discardWriter is the http.ResponseWriter every middleware contender writes
// to. It is reused across iterations (one per goroutine) and allocates
// nothing, so the B/op and allocs/op reported are the verifier's and its
// framework's, not httptest.ResponseRecorder's. It records the status code
// (the first WriteHeader, or 200 on the first Write) and discards the body.
type discardWriter struct {
	h    http.Header
	code int
	n    int
	// reached is set by the protected handler: the middleware let the request through.
	reached bool
}

func newDiscardWriter() *discardWriter { return &discardWriter{h: make(http.Header)} }

func (w *discardWriter) Header() http.Header { return w.h }

func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

// reset prepares the writer for the next request without allocating.
func (w *discardWriter) reset() {
	clear(w.h)
	w.code = 0
	w.n = 0
	w.reached = false
}
