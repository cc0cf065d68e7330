package middleware_test

import (
	"testing"

	"github.com/jwtguard/jwtguard/internal/guardtest"
)

// TestContractTable holds net/http, the reference every adapter is
// compared with, to the one table of requests and answers.
func TestContractTable(t *testing.T) {
	t.Parallel() // CPU-bound and self-contained: it runs beside the other parallel tests
	guardtest.New(t).Compare(t, nil)
}
