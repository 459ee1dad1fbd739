// Command dfe2e is the CLI of dragonfly-e2e: static conformance of a GitOps
// tree (lint), the bundled operator (render), the cluster suites (e2e), the
// RESP load generator (load) and run reports (report).
//
// Exit codes are shared by every subcommand: 0 success, 1 a check failed or a
// regression was found, 2 bad input (flags, files, unreachable targets),
// 3 nothing failed but something was blocked.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFailed   = 1
	exitBadInput = 2
	exitBlocked  = 3
)

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// badInput wraps err as a bad-input error (exit 2).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// failed wraps err as a failed-check error (exit 1).
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

// withCode exits with code after printing nothing more (the subcommand already reported).
func withCode(code int) error { return &exitError{code: code} }

var root = &cobra.Command{
	Use:           "dfe2e",
	Short:         "End-to-end conformance and performance suite for the Dragonfly operator installed with Flux",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	err := root.Execute()
	if err == nil {
		return
	}
	code := exitBadInput // cobra's own errors are flag/usage errors
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		err = ee.err
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dfe2e:", err)
	}
	os.Exit(code)
}
