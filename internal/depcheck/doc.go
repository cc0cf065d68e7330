// Package depcheck holds a test that the library's import graph points
// inward: claims needs only golang-jwt, middleware never imports jwks, and
// no core package pulls in a web framework.
package depcheck
