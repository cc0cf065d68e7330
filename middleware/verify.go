package middleware

import "errors"

// errBadSignature is the cause recorded for a signature that does not
// verify; the refusal the client sees is the fixed ErrSignature text.
var errBadSignature = errors.New("signature does not verify")
