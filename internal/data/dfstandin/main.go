package dfstandin

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// Main is the image's entrypoint. Like Dragonfly's entrypoint.sh it accepts
// "dragonfly <flags>" or bare flags; any other first word is a command to
// exec (a shell for debugging). It returns the process exit code.
func Main(args []string) int {
	logger := log.New(os.Stderr, "dfstandin: ", log.LstdFlags|log.Lmicroseconds)
	if len(args) > 0 && args[0] == "dragonfly" {
		args = args[1:]
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, err := exec.LookPath(args[0])
		if err != nil {
			logger.Printf("%v", err)
			return 127
		}
		err = syscall.Exec(path, args, os.Environ())
		logger.Printf("exec %s: %v", path, err)
		return 126
	}
	cfg, err := ParseArgs(args, os.Environ())
	if err != nil {
		logger.Printf("bad arguments: %v", err)
		return 2
	}
	if cfg.Version {
		fmt.Println("dfe2e-dfstandin: Dragonfly-contract stand-in (redis-server behind a Dragonfly-compatible front), not Dragonfly")
		return 0
	}
	logger.Printf("starting the Dragonfly-contract stand-in: this is redis-server, not Dragonfly; args %q", redactArgs(args))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	s, err := Start(cfg, WithLogf(logger.Printf))
	if err != nil {
		logger.Printf("start: %v", err)
		return 1
	}
	select {
	case sig := <-sigs:
		logger.Printf("%v: shutting down", sig)
		s.Shutdown(true)
		return 0
	case <-s.Done():
		if err := s.ExitErr(); err != nil {
			logger.Printf("stopped: %v", err)
			return 1
		}
		return 0
	}
}

func redactArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if name, _, ok := strings.Cut(strings.TrimLeft(a, "-"), "="); ok && (strings.Contains(name, "pass") || strings.Contains(name, "auth")) {
			a = a[:strings.Index(a, "=")+1] + "<redacted>"
		}
		out[i] = a
	}
	return out
}
