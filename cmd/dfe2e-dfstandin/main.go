// Command dfe2e-dfstandin is the entrypoint of the Dragonfly-contract
// stand-in image (redis-server behind a Dragonfly-compatible front). Build it
// with CGO_ENABLED=0: the image has no libc for it.
package main

import (
	"os"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dfstandin"
)

func main() { os.Exit(dfstandin.Main(os.Args[1:])) }
