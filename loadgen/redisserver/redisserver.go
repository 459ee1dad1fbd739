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
)

// DefaultReady bounds the wait for a started server to answer PING when
// Options.Ready is zero.
const DefaultReady = 30 * time.Second

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
	// Ready bounds the wait for the server to answer PING; zero:
	// DefaultReady. A harness passes its own named timeout here.
	Ready time.Duration
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
	err = s.waitReady(ctx, o)
	if err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls until the server answers RESP on its port, it exits, ctx
// ends, or o.Ready passes.
func (s *Server) waitReady(ctx context.Context, o Options) error {
	bound := o.Ready
	if bound <= 0 {
		bound = DefaultReady
	}
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	interval := 50 * time.Millisecond
	last := ""
	for {
		select {
		case <-s.done:
			return fmt.Errorf("redis-server exited: %s", strings.TrimSpace(s.log.String()))
		default:
		}
		ok, state := s.ping(o.TLS != nil)
		if ok {
			return nil
		}
		last = state
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("timed out after %s waiting for redis-server on %s to accept connections (last seen: %s)", bound, s.Addr, last)
			}
			return fmt.Errorf("waiting for redis-server on %s: %w", s.Addr, ctx.Err())
		case <-t.C:
		}
		if interval < time.Second {
			interval *= 2
		}
	}
}

// ping reports whether the server answers a PING, and what it saw.
func (s *Server) ping(useTLS bool) (bool, string) {
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", s.Addr, &tls.Config{InsecureSkipVerify: true}) // readiness only
	} else {
		c, err = net.DialTimeout("tcp", s.Addr, time.Second)
	}
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false, err.Error()
	}
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	// +PONG, or -NOAUTH when a password is set: either way it serves RESP.
	return n > 0 && (buf[0] == '+' || buf[0] == '-'), string(buf[:n])
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
