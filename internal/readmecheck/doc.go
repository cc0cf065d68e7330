// Package readmecheck holds a test that the code snippets in README.md are
// taken from Example tests, which compile and run, so they cannot rot.
package readmecheck
