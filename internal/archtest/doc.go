// Package archtest holds the tests of the tree's import rules; it has no code
// of its own.
package archtest
