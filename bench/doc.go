// Package bench compares the per-request cost of jwtguard's token
// verification with the bare standard-library signature check and with other
// Go JWT verifiers. Everything lives in the _test.go files of this package;
// see README.md.
package bench
