package dfstandin

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/hosttools"
)

// TestMain lets the SIGTERM test run this test binary as the entrypoint.
func TestMain(m *testing.M) {
	if on, _ := config.FromEnv().StandInEntrypointEnabled(); on {
		os.Exit(Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func needRedis(t testing.TB) string {
	t.Helper()
	hosttools.Require(t, map[string]string{"redis-server": "redis-server"})
	p, _ := exec.LookPath("redis-server")
	return p
}

func loopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// start runs a stand-in on ephemeral loopback ports (main and admin).
func start(t testing.TB, cfg Config, opts ...Option) *Server {
	t.Helper()
	needRedis(t)
	run, err := os.MkdirTemp("", "dfs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	var out io.Writer = io.Discard
	if config.FromEnv().StandInVerbose != "" {
		out = os.Stderr
	}
	all := append([]Option{WithListeners(loopback(t), loopback(t)), WithRunDir(run),
		WithRedisOutput(out), WithLogf(t.Logf)}, opts...)
	s, err := Start(cfg, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(false) })
	return s
}

func dial(t testing.TB, addr string) *Conn {
	t.Helper()
	c, err := Dial("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func do(t testing.TB, c *Conn, args ...string) Value {
	t.Helper()
	v, err := c.Do(args...)
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return v
}

func waitFor(t testing.TB, what string, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// operatorArgs are the args operator v1.6.1 gives every Dragonfly pod, then
// what a spec with a snapshot adds.
var operatorArgs = []string{"--alsologtostderr", "--break_replication_on_master_restart=true",
	"--primary_port_http_enabled=false", "--admin_port=9999", "--admin_nopass",
	"--dir=/dragonfly/snapshots", "--snapshot_cron=*/5 * * * *"}

func TestParseArgsAcceptsTheOperatorsArgsAndEnv(t *testing.T) {
	args := append(append([]string{}, operatorArgs...), "--memcached_port=11211", "--made_up_flag=7", "--maxmemory", "1gb")
	c, err := ParseArgs(args, []string{"DFLY_requirepass=s3cret", "DFLY_not_a_flag=1", "HEALTHCHECK_PORT=9999"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 6379 || c.AdminPort != 9999 || !c.AdminNopass || c.RequirePass != "s3cret" ||
		c.Dir != "/dragonfly/snapshots" || c.SnapshotCron != "*/5 * * * *" || c.DBFilename != DefaultDBFilename ||
		c.MaxMemory != "1gb" || !c.BreakReplicationOnMasterRestart {
		t.Fatalf("parsed %+v", c)
	}
	notes := strings.Join(c.Notes, "\n")
	for _, want := range []string{"--made_up_flag=7", "DFLY_not_a_flag", "memcached_port"} {
		if !strings.Contains(notes, want) {
			t.Errorf("no note about %s in:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "s3cret") {
		t.Errorf("a note shows the password:\n%s", notes)
	}
	// Flags win over env; --noflag clears a boolean; --dbfilename= is empty.
	c, err = ParseArgs([]string{"--requirepass=flag", "--noadmin_nopass", "--dbfilename="}, []string{"DFLY_requirepass=env", "DFLY_admin_nopass=true"})
	if err != nil || c.RequirePass != "flag" || c.AdminNopass || c.DBFilename != "" {
		t.Fatalf("precedence: %+v %v", c, err)
	}
	for _, bad := range [][]string{{"--port=x"}, {"--snapshot_cron=* *"}, {"--admin_port"}} {
		if _, err := ParseArgs(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEntrypointConvention(t *testing.T) {
	for _, args := range [][]string{{"dragonfly", "--version"}, {"--version"}} {
		if code := Main(args); code != 0 {
			t.Errorf("Main(%q) = %d", args, code)
		}
	}
	if code := Main([]string{"dragonfly", "--port=nope"}); code != 2 {
		t.Errorf("a malformed known flag: exit %d, want 2", code)
	}
}

func TestCron(t *testing.T) {
	every5, err := parseCron("*/5 * * * *")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 10, 5, 0, 0, time.UTC) // a Sunday
	if !every5.matches(at) || every5.matches(at.Add(time.Second)) || every5.matches(at.Add(time.Minute)) {
		t.Error("*/5 * * * * fires at minute 5 second 0 only")
	}
	sunday, _ := parseCron("0 0 * * 0")
	if !sunday.matches(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || sunday.matches(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
		t.Error("0 0 * * 0 is midnight on Sundays")
	}
	secs, _ := parseCron("*/2 * * * * *")
	if !secs.matches(at) || secs.matches(at.Add(time.Second)) {
		t.Error("six fields start with seconds")
	}
}

func TestBothPortsAnswerWithDragonflyAuthRules(t *testing.T) {
	s := start(t, Config{RequirePass: "pw", AdminNopass: true, DBFilename: DefaultDBFilename})
	main := dial(t, s.Addr())
	if v, _ := main.DoRaw("PING"); !strings.HasPrefix(v.Err, "NOAUTH") {
		t.Fatalf("main port without AUTH: %+v", v)
	}
	if v, _ := main.DoRaw("AUTH", "wrong"); !strings.HasPrefix(v.Err, "WRONGPASS") {
		t.Fatalf("wrong password: %+v", v)
	}
	do(t, main, "AUTH", "pw")
	do(t, main, "SET", "k", "v")
	admin := dial(t, s.AdminAddr())
	// What the operator's go-redis client sends: HELLO 3 with its name, no password.
	if v := do(t, admin, "HELLO", "3", "SETNAME", "dragonfly-operator"); len(v.Array) == 0 {
		t.Fatalf("HELLO 3: %+v", v)
	}
	if v := do(t, admin, "PING"); v.Str != "PONG" {
		t.Fatalf("admin PING: %+v", v)
	}
	if v := do(t, admin, "GET", "k"); v.Str != "v" {
		t.Fatalf("admin sees %+v", v)
	}
	p := do(t, admin, "INFO", "persistence").Str
	if infoField(p, "loading") != "0" {
		t.Fatalf("INFO persistence: %s", p)
	}
	hello := dial(t, s.Addr())
	if v := do(t, hello, "HELLO", "3", "AUTH", "default", "pw"); len(v.Array) == 0 {
		t.Fatalf("HELLO AUTH: %+v", v)
	}
	if v := do(t, hello, "GET", "k"); v.Str != "v" {
		t.Fatalf("after HELLO AUTH: %+v", v)
	}
}

func replInfo(t *testing.T, c *Conn) string { return do(t, c, "INFO", "replication").Str }

func TestSlaveOfTheMastersAdminPortReplicates(t *testing.T) {
	a := start(t, Config{AdminNopass: true, RequirePass: "pw"})
	b := start(t, Config{AdminNopass: true, RequirePass: "pw"})
	aMain, aAdmin, bAdmin := dial(t, a.Addr()), dial(t, a.AdminAddr()), dial(t, b.AdminAddr())
	do(t, aMain, "AUTH", "pw")
	do(t, aMain, "SET", "before", "1")
	host, port, _ := net.SplitHostPort(a.AdminAddr())
	for i := 0; i < 2; i++ {
		// Exactly OK, also when repeated (redis would add "Already connected").
		if v := do(t, bAdmin, "SLAVEOF", host, port); v.Str != "OK" {
			t.Fatalf("SLAVEOF #%d: %q", i+1, v.Str)
		}
	}
	waitFor(t, "the replica's link to come up", 20*time.Second, func() bool {
		return infoField(replInfo(t, bAdmin), "master_link_status") == "up"
	})
	do(t, aMain, "SET", "after", "2")
	waitFor(t, "writes to reach the replica", 10*time.Second, func() bool {
		return do(t, bAdmin, "GET", "before").Str == "1" && do(t, bAdmin, "GET", "after").Str == "2"
	})
	info := replInfo(t, bAdmin)
	want := map[string]string{"role": "slave", "master_host": host, "master_port": port,
		"master_link_status": "up", "master_sync_in_progress": "0"}
	for k, v := range want {
		if got := infoField(info, k); got != v {
			t.Errorf("replica INFO %s = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{"master_last_io_seconds_ago", "slave_repl_offset"} {
		if _, err := strconv.Atoi(infoField(info, k)); err != nil {
			t.Errorf("replica INFO %s = %q, want a number", k, infoField(info, k))
		}
	}
	if infoField(replInfo(t, aAdmin), "role") != "master" {
		t.Error("the master does not say role:master")
	}
	// The master lists the replication link under a repl_ name, which the
	// operator spares when it disconnects a demoted master's clients.
	if list := do(t, aAdmin, "CLIENT", "LIST").Str; !strings.Contains(list, "name=repl_") {
		t.Errorf("no repl_ client on the master:\n%s", list)
	}
	if v, _ := bAdmin.DoRaw("SET", "x", "1"); !strings.HasPrefix(v.Err, "READONLY") {
		t.Errorf("write to a replica: %+v", v)
	}
	if v := do(t, bAdmin, "SLAVEOF", "NO", "ONE"); v.Str != "OK" {
		t.Fatalf("SLAVEOF NO ONE: %q", v.Str)
	}
	if r := infoField(replInfo(t, bAdmin), "role"); r != "master" {
		t.Fatalf("after SLAVEOF NO ONE role %q", r)
	}
	do(t, bAdmin, "SET", "x", "1")
	if v := do(t, bAdmin, "GET", "after"); v.Str != "2" {
		t.Errorf("promoted replica lost data: %+v", v)
	}
}

func TestReplTakeoverKeepsEveryAcknowledgedWrite(t *testing.T) {
	a := start(t, Config{AdminNopass: true})
	b := start(t, Config{AdminNopass: true})
	bAdmin := dial(t, b.AdminAddr())
	host, port, _ := net.SplitHostPort(a.AdminAddr())
	do(t, bAdmin, "REPLICAOF", host, port)
	waitFor(t, "the replica's link", 20*time.Second, func() bool {
		return infoField(replInfo(t, bAdmin), "master_link_status") == "up"
	})
	if v := do(t, dial(t, a.AdminAddr()), "REPLTAKEOVER", "10"); v.Str != "OK" {
		t.Fatalf("REPLTAKEOVER on a master is a no-op OK: %+v", v)
	}
	w := dial(t, a.Addr())
	var mu sync.Mutex
	var acked []int
	stopped := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			if _, err := w.Do("SET", "k"+strconv.Itoa(i), strconv.Itoa(i)); err != nil {
				stopped <- err
				return
			}
			mu.Lock()
			acked = append(acked, i)
			mu.Unlock()
		}
	}()
	waitFor(t, "some acknowledged writes", 10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 200
	})
	if v := do(t, bAdmin, "REPLTAKEOVER", "10000"); v.Str != "OK" {
		t.Fatalf("REPLTAKEOVER: %q", v.Str)
	}
	select {
	case err := <-stopped:
		t.Logf("writer stopped on the old master: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("the old master still takes writes after the takeover")
	}
	select {
	case <-a.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("the old master did not shut down after the takeover")
	}
	if r := infoField(replInfo(t, bAdmin), "role"); r != "master" {
		t.Fatalf("new master role %q", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if err := checkAcked(bAdmin, acked); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged writes all on the new master", len(acked))
}

// checkAcked fails naming the first acknowledged write the node lacks.
func checkAcked(c *Conn, acked []int) error {
	for _, i := range acked {
		v, err := c.Do("GET", "k"+strconv.Itoa(i))
		if err != nil {
			return err
		}
		if v.Str != strconv.Itoa(i) {
			return fmt.Errorf("acknowledged write k%d lost in the takeover (got %+v)", i, v)
		}
	}
	return nil
}

var dumpRE = regexp.MustCompile(`^dump-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.rdb$`)

func dumps(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if dumpRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// checkNewestLoaded: a restarted stand-in must serve the newest snapshot's
// value of key "v".
func checkNewestLoaded(s *Server, c *Conn, newest, want string) error {
	v, err := c.Do("GET", "v")
	if err != nil {
		return err
	}
	if v.Str != want || s.Loaded() != newest {
		return fmt.Errorf("the stand-in did not load the newest snapshot %s: loaded %q, v=%q, want %q", newest, s.Loaded(), v.Str, want)
	}
	return nil
}

func TestDumpTimestampNamingAndNewestLoadedAtRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, DBFilename: DefaultDBFilename, AdminNopass: true}
	s1 := start(t, cfg)
	c := dial(t, s1.AdminAddr())
	for i, v := range []string{"old", "new"} {
		if i > 0 {
			time.Sleep(1100 * time.Millisecond) // names have one-second resolution
		}
		do(t, c, "SET", "v", v)
		if r := do(t, c, "SAVE"); r.Str != "OK" {
			t.Fatalf("SAVE: %+v", r)
		}
	}
	files := dumps(t, dir)
	if len(files) != 2 {
		t.Fatalf("want two dump-{timestamp}.rdb files, have %q", files)
	}
	if v := do(t, c, "CONFIG", "GET", "dbfilename"); len(v.Array) != 2 || v.Array[1].Str != DefaultDBFilename {
		t.Errorf("CONFIG GET dbfilename: %+v", v)
	}
	s1.Shutdown(false)
	if got := dumps(t, dir); len(got) != 2 {
		t.Fatalf("Shutdown(false) wrote a snapshot: %q", got)
	}
	newest := files[1]

	s2 := start(t, cfg)
	if err := checkNewestLoaded(s2, dial(t, s2.AdminAddr()), newest, "new"); err != nil {
		t.Fatal(err)
	}
	s2.Shutdown(false)

	// Planted defect: a stand-in that loads the oldest snapshot must fail
	// the same check, naming the snapshot it should have loaded.
	oldest := func(f []string) string { return f[0] }
	s3 := start(t, cfg, withSnapshotPicker(oldest))
	err := checkNewestLoaded(s3, dial(t, s3.AdminAddr()), newest, "new")
	if err == nil || !strings.Contains(err.Error(), "did not load the newest snapshot "+newest) {
		t.Fatalf("the oldest-snapshot defect went unnoticed: %v", err)
	}
	t.Logf("planted defect caught: %v", err)
}

func TestFixedDBFilenameAndEmptyDBFilename(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{Dir: dir, DBFilename: "dump", AdminNopass: true})
	c := dial(t, s.AdminAddr())
	do(t, c, "SET", "v", "1")
	do(t, c, "SAVE")
	do(t, c, "SAVE")
	if _, err := os.Stat(filepath.Join(dir, "dump.rdb")); err != nil {
		t.Fatalf("--dbfilename=dump keeps one file dump.rdb: %v", err)
	}
	s.Shutdown(false)

	empty := t.TempDir()
	s = start(t, Config{Dir: empty, DBFilename: "", AdminNopass: true})
	c = dial(t, s.AdminAddr())
	do(t, c, "SET", "v", "1")
	if v, _ := c.DoRaw("SAVE"); v.Err == "" {
		t.Error("SAVE with an empty dbfilename succeeded")
	}
	s.Shutdown(true)
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("empty dbfilename, yet shutdown wrote %v", ents)
	}
}

func TestSnapshotCronViaConfigSet(t *testing.T) {
	dir := t.TempDir()
	s := start(t, Config{Dir: dir, DBFilename: DefaultDBFilename, AdminNopass: true})
	c := dial(t, s.AdminAddr())
	do(t, c, "SET", "v", "1")
	time.Sleep(1500 * time.Millisecond)
	if got := dumps(t, dir); len(got) != 0 {
		t.Fatalf("snapshots without a cron: %q", got)
	}
	if v := do(t, c, "CONFIG", "SET", "snapshot_cron", "* * * * * *"); v.Str != "OK" {
		t.Fatalf("CONFIG SET snapshot_cron: %+v", v)
	}
	if v := do(t, c, "CONFIG", "GET", "snapshot_cron"); len(v.Array) != 2 || v.Array[1].Str != "* * * * * *" {
		t.Errorf("CONFIG GET snapshot_cron: %+v", v)
	}
	waitFor(t, "two scheduled snapshots", 10*time.Second, func() bool { return len(dumps(t, dir)) >= 2 })
	if v := do(t, c, "CONFIG", "SET", "snapshot_cron", ""); v.Str != "OK" {
		t.Fatalf("clearing snapshot_cron: %+v", v)
	}
	time.Sleep(1200 * time.Millisecond) // a save already under way may finish
	n := len(dumps(t, dir))
	time.Sleep(2500 * time.Millisecond)
	if m := len(dumps(t, dir)); m != n {
		t.Fatalf("snapshots continue after snapshot_cron was cleared: %d then %d", n, m)
	}
	if v, _ := c.DoRaw("CONFIG", "SET", "snapshot_cron", "not a cron"); v.Err == "" {
		t.Error("a malformed cron was accepted")
	}
}

func TestClientListShowsRealAddressesAndKillDisconnects(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	app, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	appConn := &Conn{c: app, r: bufio.NewReader(app)}
	do(t, appConn, "CLIENT", "SETNAME", "app")
	op := dial(t, s.AdminAddr())
	do(t, op, "HELLO", "3", "SETNAME", "dragonfly-operator")
	list := do(t, op, "CLIENT", "LIST").Str
	appAddr := app.LocalAddr().String()
	if !strings.Contains(list, "addr="+appAddr+" ") || !strings.Contains(list, "laddr="+s.Addr()+" ") {
		t.Fatalf("CLIENT LIST does not show the app at %s on %s:\n%s", appAddr, s.Addr(), list)
	}
	if strings.Contains(list, ".sock") {
		t.Errorf("CLIENT LIST leaks the private socket:\n%s", list)
	}
	if v := do(t, op, "CLIENT", "KILL", appAddr); v.Str != "OK" {
		t.Fatalf("CLIENT KILL: %+v", v)
	}
	app.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := appConn.Do("PING"); err == nil {
		t.Fatal("the killed client still gets answers")
	}
	if v, _ := op.DoRaw("CLIENT", "KILL", "10.0.0.1:1"); v.Err == "" {
		t.Error("killing an unknown address succeeded")
	}
}

// entrypoint runs this test binary as the image's entrypoint.
func entrypoint(t *testing.T, args []string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), config.EnvStandInEntrypoint+"=1"), env...)
	if config.FromEnv().StandInVerbose != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func freePort(t testing.TB) string {
	ln := loopback(t)
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func TestEntrypointSavesOnSIGTERMAndHealthcheckHolds(t *testing.T) {
	// The healthcheck script runs redis-cli.
	hosttools.Require(t, map[string]string{"redis-server": "redis-server", "redis-cli": "redis-tools"})
	dir := t.TempDir()
	mainPort, adminPort := freePort(t), freePort(t)
	args := append([]string{"dragonfly"}, operatorArgs[:4]...)
	args = append(args, "--admin_port="+adminPort, "--admin_nopass", "--port="+mainPort, "--bind=127.0.0.1",
		"--admin_bind=127.0.0.1", "--dir="+dir, "--tiered_prefix=/x", "--made_up=1")
	cmd := entrypoint(t, args, "DFLY_requirepass=pw", "HEALTHCHECK_PORT="+adminPort)
	var c *Conn
	waitFor(t, "the entrypoint's admin port", 30*time.Second, func() bool {
		var err error
		c, err = Dial("tcp", "127.0.0.1:"+adminPort, time.Second)
		return err == nil
	})
	defer c.Close()
	do(t, c, "SET", "v", "kept")
	if v, _ := dial(t, "127.0.0.1:"+mainPort).DoRaw("GET", "v"); !strings.HasPrefix(v.Err, "NOAUTH") {
		t.Errorf("DFLY_requirepass not enforced on the main port: %+v", v)
	}
	script := filepath.Join(t.TempDir(), "healthcheck.sh")
	os.WriteFile(script, []byte(HealthcheckScript), 0o755)
	hc := exec.Command("/bin/sh", script)
	hc.Env = append(os.Environ(), "HEALTHCHECK_PORT="+adminPort)
	if out, err := hc.CombinedOutput(); err != nil {
		t.Errorf("healthcheck on the admin port: %v %s", err, out)
	}
	// Planted defect: probing the password-protected main port must fail.
	hc = exec.Command("/bin/sh", script)
	hc.Env = append(os.Environ(), "HEALTHCHECK_PORT="+mainPort)
	if err := hc.Run(); err == nil {
		t.Error("healthcheck passed against a port that answers NOAUTH")
	}
	if n := len(dumps(t, dir)); n != 0 {
		t.Fatalf("%d snapshots before SIGTERM", n)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit within 20 s of SIGTERM")
	}
	files := dumps(t, dir)
	if len(files) != 1 {
		t.Fatalf("SIGTERM left %q, want one dump-{timestamp}.rdb", files)
	}
	s := start(t, Config{Dir: dir, DBFilename: DefaultDBFilename, AdminNopass: true})
	if err := checkNewestLoaded(s, dial(t, s.AdminAddr()), files[0], "kept"); err != nil {
		t.Fatal(err)
	}
}
