// Package redisserver starts a throwaway redis-server on a free loopback port
// (no persistence, its own temp dir) for loadgen's tests and benchmark.
package redisserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Server is a running redis-server.
type Server struct {
	Addr string
	cmd  *exec.Cmd
	dir  string
	log  *bytes.Buffer
	done chan struct{}
}

// Options for Start.
type Options struct {
	// Password sets requirepass when non-empty.
	Password string
	// CPUs pins the server with taskset (e.g. "0"); empty: not pinned.
	CPUs string
	// TLS, when set, serves TLS only (no plaintext port) with these PEM files.
	TLS *TLSFiles
	// Extra are more redis-server arguments.
	Extra []string
}

// TLSFiles are the server's certificate, key and the CA that signed them.
type TLSFiles struct{ Cert, Key, CA string }

// Start launches redis-server and waits until it answers PING. Call Stop.
func Start(ctx context.Context, o Options) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server not found: run `make deps` (apt-get install -y redis-server redis-tools)")
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken between probe and bind
		s, err := start(ctx, bin, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, bin string, o Options) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dfe2e-redis-")
	if err != nil {
		return nil, err
	}
	portArgs := []string{"--port", strconv.Itoa(port)}
	if o.TLS != nil {
		portArgs = []string{"--port", "0", "--tls-port", strconv.Itoa(port), "--tls-cert-file", o.TLS.Cert,
			"--tls-key-file", o.TLS.Key, "--tls-ca-cert-file", o.TLS.CA, "--tls-auth-clients", "no"}
	}
	args := append(portArgs, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning")
	if o.Password != "" {
		args = append(args, "--requirepass", o.Password)
	}
	args = append(args, o.Extra...)
	name := bin
	if o.CPUs != "" {
		args = append([]string{"-c", o.CPUs, bin}, args...)
		name = "taskset"
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, log: &bytes.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(name, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting redis-server: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	_, err = wait.For(ctx, "redis-server on "+s.Addr+" to accept connections", wait.ServerReachable,
		func(ctx context.Context) (bool, string, error) {
			select {
			case <-s.done:
				return false, "", fmt.Errorf("redis-server exited: %s", strings.TrimSpace(s.log.String()))
			default:
			}
			var c net.Conn
			if o.TLS != nil {
				c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.Addr, &tls.Config{InsecureSkipVerify: true}) // readiness only
			} else {
				c, err = net.DialTimeout("tcp", s.Addr, time.Second)
			}
			if err != nil {
				return false, err.Error(), nil
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				return false, err.Error(), nil
			}
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			// +PONG, or -NOAUTH when a password is set: either way it serves RESP.
			return n > 0 && (buf[0] == '+' || buf[0] == '-'), string(buf[:n]), nil
		})
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// Pid is the server's process id (of taskset's exec'd redis-server when pinned).
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
