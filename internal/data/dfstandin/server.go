// Package dfstandin is the entrypoint of the Dragonfly-contract stand-in
// image: Debian's redis-server on a private unix socket, behind a RESP front
// on the main and admin ports that behaves where the operator relies on
// Dragonfly behaving differently from redis (replication from the admin
// port, REPLTAKEOVER, snapshot naming, loading and scheduling, exact "OK"
// replies). It is not Dragonfly and says so in its log.
package dfstandin

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Server is a running stand-in: redis-server plus its fronts.
type Server struct {
	cfg       Config
	logf      func(string, ...any)
	redisBin  string
	redisOut  io.Writer
	runDir    string
	pick      func([]string) string
	dir       string
	sock      string
	cmd       *exec.Cmd
	redisDone chan struct{}
	ln, admin net.Listener
	loaded    string

	ctlMu sync.Mutex
	ctl   *Conn

	saveMu sync.Mutex

	mu         sync.Mutex
	clients    map[int64]*frontConn
	template   string // --dbfilename as configured now
	cronExpr   string
	cronSched  *cron
	masterHost string // set by SLAVEOF, for REPLTAKEOVER
	masterPort string

	lateFlush bool // planted defect, see withLateFlush

	stopOnce sync.Once
	stopping atomic.Bool
	done     chan struct{}
	exitErr  error
}

// Option adjusts Start.
type Option func(*Server)

// WithListeners serves the main and admin fronts on ready listeners instead
// of binding --bind:--port and --admin_bind:--admin_port (admin may be nil).
func WithListeners(main, admin net.Listener) Option {
	return func(s *Server) { s.ln, s.admin = main, admin }
}

// WithLogf sends the stand-in's log lines to f.
func WithLogf(f func(string, ...any)) Option { return func(s *Server) { s.logf = f } }

// WithRedisServer runs the given redis-server binary (default: PATH).
func WithRedisServer(path string) Option { return func(s *Server) { s.redisBin = path } }

// WithRedisOutput receives redis-server's own log (default: stderr).
func WithRedisOutput(w io.Writer) Option { return func(s *Server) { s.redisOut = w } }

// WithRunDir holds the backend's unix socket (default: the temp dir).
func WithRunDir(dir string) Option { return func(s *Server) { s.runDir = dir } }

// withSnapshotPicker replaces the choice of the snapshot loaded at start;
// tests plant a wrong choice to prove their check notices it.
func withSnapshotPicker(f func([]string) string) Option { return func(s *Server) { s.pick = f } }

var sockSeq atomic.Int64

// Start launches redis-server and the fronts. The newest snapshot matching
// --dbfilename in --dir is loaded before any front accepts a command.
func Start(cfg Config, opts ...Option) (*Server, error) {
	s := &Server{cfg: cfg, logf: func(string, ...any) {}, redisOut: os.Stderr, runDir: os.TempDir(),
		pick: pickNewest, clients: map[int64]*frontConn{}, template: cfg.DBFilename,
		done: make(chan struct{}), redisDone: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.redisBin == "" {
		p, err := exec.LookPath("redis-server")
		if err != nil {
			return nil, fmt.Errorf("redis-server not found: %w", err)
		}
		s.redisBin = p
	}
	for _, n := range cfg.Notes {
		s.logf("%s", n)
	}
	if cfg.SnapshotCron != "" {
		sched, err := parseCron(cfg.SnapshotCron)
		if err != nil {
			return nil, err
		}
		s.cronExpr, s.cronSched = cfg.SnapshotCron, sched
	}
	dir := cfg.Dir
	if dir == "" {
		dir = "."
	}
	var err error
	if s.dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot dir: %w", err)
	}
	// redis loads exactly one fixed dbfilename at start; Dragonfly loads the
	// newest snapshot of the template, so the chosen file becomes redis'
	// dbfilename for start-up only (every save sets its own name).
	initial := ".dfstandin-no-snapshot.rdb"
	if cfg.DBFilename != "" {
		files, err := snapshotFiles(s.dir, cfg.DBFilename)
		if err != nil {
			return nil, err
		}
		if s.loaded = s.pick(files); s.loaded != "" {
			initial = s.loaded
			s.logf("loading snapshot %s (newest of %d matching %q in %s)", s.loaded, len(files), cfg.DBFilename, s.dir)
		} else {
			s.logf("no snapshot matching %q in %s: starting empty", cfg.DBFilename, s.dir)
		}
	}
	if err := s.startRedis(initial); err != nil {
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.killRedis()
		return nil, err
	}
	go s.watchRedis()
	go s.cronLoop()
	return s, nil
}

func (s *Server) startRedis(dbfilename string) error {
	s.sock = filepath.Join(s.runDir, fmt.Sprintf("dfstandin-%d-%d.sock", os.Getpid(), sockSeq.Add(1)))
	_ = os.Remove(s.sock)
	args := []string{
		"--port", "0", "--unixsocket", s.sock, "--unixsocketperm", "700",
		"--protected-mode", "no", "--daemonize", "no", "--logfile", "",
		// Saves happen only when the stand-in asks (SAVE, cron, shutdown),
		// each under its own name.
		"--save", "", "--appendonly", "no",
		"--dir", s.dir, "--dbfilename", dbfilename,
		// Every save sets its own dbfilename; only the stand-in reaches
		// this socket.
		"--enable-protected-configs", "yes",
		// Diskless both ways: a full sync neither waits five seconds nor
		// writes the master's data into the snapshot dir under the name of
		// the snapshot that was loaded.
		"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0",
		"--repl-diskless-load", "swapdb",
	}
	if s.cfg.RequirePass != "" {
		args = append(args, "--requirepass", s.cfg.RequirePass)
	}
	if s.cfg.MasterAuth != "" {
		args = append(args, "--masterauth", s.cfg.MasterAuth)
	}
	if s.cfg.MaxMemory != "" {
		args = append(args, "--maxmemory", s.cfg.MaxMemory)
	}
	s.cmd = exec.Command(s.redisBin, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.redisOut, s.redisOut
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	go func() {
		s.exitErr = s.cmd.Wait()
		close(s.redisDone)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := s.backendConn()
		if err == nil {
			s.ctl = c
			return nil
		}
		select {
		case <-s.redisDone:
			return fmt.Errorf("redis-server exited at start: %v", s.exitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.killRedis()
			return fmt.Errorf("redis-server did not open %s: %w", s.sock, err)
		}
	}
}

// backendConn is an authenticated link to redis-server: the front enforces
// --requirepass itself, so every backend link is already past AUTH.
func (s *Server) backendConn() (*Conn, error) {
	c, err := Dial("unix", s.sock, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if s.cfg.RequirePass != "" {
		if _, err := c.Do("AUTH", s.cfg.RequirePass); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (s *Server) listen() error {
	var err error
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", net.JoinHostPort(s.cfg.Bind, strconv.Itoa(s.cfg.Port))); err != nil {
			return err
		}
	}
	if s.admin == nil && s.cfg.AdminPort > 0 {
		if s.admin, err = net.Listen("tcp", net.JoinHostPort(s.cfg.AdminBind, strconv.Itoa(s.cfg.AdminPort))); err != nil {
			s.ln.Close()
			return err
		}
	}
	go s.accept(s.ln, false)
	if s.admin != nil {
		go s.accept(s.admin, true)
	}
	adm := "none"
	if s.admin != nil {
		adm = s.admin.Addr().String()
	}
	s.logf("Dragonfly-contract stand-in (not Dragonfly): %s on %s behind fronts on %s (admin %s, nopass %v); snapshots %s/%s",
		s.redisBin, s.sock, s.ln.Addr(), adm, s.cfg.AdminNopass, s.dir, s.cfg.DBFilename)
	return nil
}

// Addr is the main front's address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// AdminAddr is the admin front's address ("" without one).
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.Addr().String()
}

// Loaded is the snapshot file loaded at start ("" when none).
func (s *Server) Loaded() string { return s.loaded }

// Dir is the snapshot directory.
func (s *Server) Dir() string { return s.dir }

// Done is closed once the stand-in has stopped.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) watchRedis() {
	select {
	case <-s.redisDone:
		if !s.stopping.Load() {
			s.logf("redis-server exited: %v", s.exitErr)
		}
		s.stop(false)
	case <-s.done:
	}
}

// Shutdown is SIGTERM: stop accepting, disconnect clients, save a snapshot
// (when --dbfilename is set and save is true), stop redis-server.
func (s *Server) Shutdown(save bool) { s.stop(save) }

func (s *Server) stop(save bool) {
	s.stopOnce.Do(func() {
		s.stopping.Store(true)
		s.ln.Close()
		if s.admin != nil {
			s.admin.Close()
		}
		// Clients go first, so the snapshot holds every acknowledged write
		// and nothing acknowledged after it.
		s.mu.Lock()
		for _, f := range s.clients {
			f.close()
		}
		s.mu.Unlock()
		if save && s.currentTemplate() != "" {
			select {
			case <-s.redisDone:
			default:
				if name, err := s.save(false); err != nil {
					s.logf("snapshot on shutdown failed: %v", err)
				} else {
					s.logf("snapshot on shutdown: %s", name)
				}
			}
		}
		s.killRedis()
		_ = os.Remove(s.sock)
		close(s.done)
	})
}

func (s *Server) killRedis() {
	select {
	case <-s.redisDone:
		return
	default:
	}
	// No save points are configured, so SIGTERM makes redis exit without
	// writing anything of its own.
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.redisDone:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.redisDone
	}
}

// ExitErr is why redis-server stopped (nil after a clean shutdown).
func (s *Server) ExitErr() error { return s.exitErr }

func (s *Server) ctlDo(args ...string) (Value, error) {
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if s.ctl == nil {
		c, err := s.backendConn()
		if err != nil {
			return Value{}, err
		}
		s.ctl = c
	}
	v, err := s.ctl.Do(args...)
	if err != nil && v.Err == "" {
		// A broken link: reconnect on the next call.
		s.ctl.Close()
		s.ctl = nil
	}
	return v, err
}

func (s *Server) currentTemplate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.template
}

// save writes a snapshot named from the current --dbfilename template.
func (s *Server) save(background bool) (string, error) {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	tmpl := s.currentTemplate()
	if tmpl == "" {
		return "", errors.New("ERR dbfilename is empty: snapshots are off")
	}
	name := snapshotName(tmpl, time.Now())
	if _, err := s.ctlDo("CONFIG", "SET", "dbfilename", name); err != nil {
		return "", err
	}
	cmd := "SAVE"
	if background {
		cmd = "BGSAVE"
	}
	if _, err := s.ctlDo(cmd); err != nil {
		return "", err
	}
	return name, nil
}

// cronLoop takes the --snapshot_cron snapshots; it checks every second it
// slept through, so a slow tick never skips a scheduled time.
func (s *Server) cronLoop() {
	last := time.Now().Truncate(time.Second)
	for {
		next := last.Add(time.Second)
		select {
		case <-s.done:
			return
		case <-time.After(time.Until(next)):
		}
		now := time.Now().Truncate(time.Second)
		s.mu.Lock()
		sched := s.cronSched
		s.mu.Unlock()
		due := false
		for t := last.Add(time.Second); !t.After(now); t = t.Add(time.Second) {
			if sched != nil && sched.matches(t) {
				due = true
			}
		}
		last = now
		if due {
			if name, err := s.save(false); err != nil {
				s.logf("scheduled snapshot failed: %v", err)
			} else {
				s.logf("scheduled snapshot: %s", name)
			}
		}
	}
}

func (s *Server) setMaster(host, port string) {
	s.mu.Lock()
	s.masterHost, s.masterPort = host, port
	s.mu.Unlock()
}

func (s *Server) accept(ln net.Listener, admin bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go s.serve(c, admin)
	}
}
