package dfstandin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// frontConn is one client of a front, proxied 1:1 to its own backend link,
// so MULTI, blocking commands and client state behave as in redis.
type frontConn struct {
	s      *Server
	c      net.Conn
	cr     *bufio.Reader
	cw     *bufio.Writer // replies wait here until the client could be waiting for them
	b      *Conn
	admin  bool
	id     int64 // the backend's client id, for CLIENT LIST/KILL
	authed bool
	proto3 bool
	once   sync.Once

	batch     [][]byte // raw commands of the batch being sent
	held      *command // read while batching, runs after the batch
	heldErr   error    // the read that ended a batch failed
	lateFlush bool     // planted defect: see withLateFlush
}

func (f *frontConn) close() {
	f.once.Do(func() {
		f.c.Close()
		f.b.Close()
	})
}

func (s *Server) serve(c net.Conn, admin bool) {
	b, err := s.backendConn()
	if err != nil {
		c.Write(errReply("ERR stand-in backend unavailable: " + err.Error()))
		c.Close()
		return
	}
	f := &frontConn{s: s, c: c, cr: bufio.NewReaderSize(c, 64<<10), cw: bufio.NewWriterSize(c, 64<<10),
		b: b, admin: admin, lateFlush: s.lateFlush}
	f.authed = s.cfg.RequirePass == "" || (admin && s.cfg.AdminNopass)
	id, err := b.Do("CLIENT", "ID")
	if err != nil {
		c.Close()
		b.Close()
		return
	}
	f.id = id.Int
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		f.close()
		return
	default:
	}
	s.clients[f.id] = f
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.clients, f.id)
		s.mu.Unlock()
		f.close()
	}()
	f.run()
}

// run serves commands until the client leaves: pass-through commands in
// batches, the rest one by one after every earlier reply has been sent.
func (f *frontConn) run() {
	for {
		cmd, err := f.next()
		if err != nil {
			f.readFailed(err)
			return
		}
		if cmd.name == "" {
			continue
		}
		if f.passThrough(cmd) {
			if err := f.pipeline(cmd); err != nil {
				return
			}
			continue
		}
		if err := f.cw.Flush(); err != nil {
			return
		}
		splice, quit, err := f.handle(cmd)
		if err != nil || quit {
			return
		}
		if splice {
			f.splice()
			return
		}
	}
}

func (f *frontConn) readFailed(err error) {
	if f.cw.Flush() != nil {
		return
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && strings.HasPrefix(err.Error(), "protocol error") {
		f.reply(errReply("ERR " + err.Error()))
	}
}

// splice hands the connection over to a raw byte pipe: replication streams,
// pub/sub and MONITOR push data without requests.
func (f *frontConn) splice() {
	if f.cw.Flush() != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		if n := f.cr.Buffered(); n > 0 {
			buf, _ := f.cr.Peek(n)
			f.b.c.Write(buf)
			f.cr.Discard(n)
		}
		io.Copy(f.b.c, f.c)
		done <- struct{}{}
	}()
	go func() {
		if n := f.b.r.Buffered(); n > 0 {
			buf, _ := f.b.r.Peek(n)
			f.c.Write(buf)
			f.b.r.Discard(n)
		}
		io.Copy(f.c, f.b.c)
		done <- struct{}{}
	}()
	<-done
	f.close()
	<-done
}

// forward sends raw to the backend and returns its reply; RESP3 push
// messages before the reply go to the client first.
func (f *frontConn) forward(raw []byte) ([]byte, error) {
	if _, err := f.b.c.Write(raw); err != nil {
		return nil, err
	}
	for {
		rep, err := readReply(f.b.r)
		if err != nil {
			return nil, err
		}
		if rep[0] != '>' {
			return rep, nil
		}
		if _, err := f.cw.Write(rep); err != nil {
			return nil, err
		}
	}
}

// reply sends the front's own answer at once: what follows an intercepted
// command (a close, a shutdown, a splice) must not overtake it.
func (f *frontConn) reply(b []byte) error {
	if _, err := f.cw.Write(b); err != nil {
		return err
	}
	return f.cw.Flush()
}

func (f *frontConn) relay(raw []byte) error {
	rep, err := f.forward(raw)
	if err != nil {
		return err
	}
	return f.reply(rep)
}

var noAuthAllowed = map[string]bool{"AUTH": true, "HELLO": true, "QUIT": true}

// handler runs a command the front answers itself, in full or in part;
// splice asks the caller to switch to a raw pipe, quit to close.
type handler func(f *frontConn, c command) (splice, quit bool, err error)

// answer is a handler that keeps the connection as it is.
func answer(h func(f *frontConn, c command) error) handler {
	return func(f *frontConn, c command) (bool, bool, error) { return false, false, h(f, c) }
}

// intercepted are the commands the front handles; all others go to the
// backend unchanged, and in batches when pipelined.
var intercepted = map[string]handler{
	"QUIT": func(f *frontConn, _ command) (bool, bool, error) {
		f.reply(simple("OK"))
		return false, true, nil
	},
	"AUTH":         answer((*frontConn).auth),
	"HELLO":        answer((*frontConn).hello),
	"SLAVEOF":      answer((*frontConn).replicaOf),
	"REPLICAOF":    answer((*frontConn).replicaOf),
	"REPLTAKEOVER": answer((*frontConn).replTakeover),
	"DFSTANDIN":    (*frontConn).internal,
	"CONFIG":       answer((*frontConn).config),
	"CLIENT":       answer((*frontConn).client),
	"SAVE":         answer((*frontConn).saveNow),
	"BGSAVE":       answer((*frontConn).saveNow),
	"SHUTDOWN":     (*frontConn).shutdown,
	"SYNC":         (*frontConn).replicate,
	"PSYNC":        (*frontConn).replicate,
	"SUBSCRIBE":    (*frontConn).stream,
	"PSUBSCRIBE":   (*frontConn).stream,
	"SSUBSCRIBE":   (*frontConn).stream,
	"MONITOR":      (*frontConn).stream,
}

// passThrough: the backend's answer is the client's, so the command can
// join a batch.
func (f *frontConn) passThrough(c command) bool {
	return f.authed && intercepted[c.name] == nil
}

// handle runs one command that is not part of a batch.
func (f *frontConn) handle(c command) (splice, quit bool, err error) {
	if !f.authed && !noAuthAllowed[c.name] {
		return false, false, f.reply(errReply("NOAUTH Authentication required."))
	}
	if h := intercepted[c.name]; h != nil {
		return h(f, c)
	}
	return false, false, f.relay(c.raw)
}

func (f *frontConn) saveNow(c command) error {
	file, err := f.s.save(c.name == "BGSAVE")
	if err != nil {
		return f.reply(errReply(err.Error()))
	}
	f.s.logf("snapshot on request: %s", file)
	if c.name == "BGSAVE" {
		return f.reply(simple("Background saving started"))
	}
	return f.reply(simple("OK"))
}

func (f *frontConn) shutdown(c command) (bool, bool, error) {
	save := c.sub() != "NOSAVE"
	f.s.logf("SHUTDOWN requested by %s", f.c.RemoteAddr())
	go f.s.stop(save)
	return false, true, nil
}

// replicate starts a replica's full sync, then splices the stream. The link
// is named like Dragonfly's replication links, which the operator spares
// when it disconnects clients of a demoted master.
func (f *frontConn) replicate(c command) (bool, bool, error) {
	if _, err := f.forward(encodeCommand(strArgs("CLIENT", "SETNAME", "repl_standin"))); err != nil {
		return false, false, err
	}
	return f.stream(c)
}

// stream hands pub/sub, MONITOR and replication over to a splice.
func (f *frontConn) stream(c command) (bool, bool, error) {
	_, err := f.b.c.Write(c.raw)
	return err == nil, false, err
}

func (f *frontConn) client(c command) error {
	switch c.sub() {
	case "LIST":
		return f.clientList(c.raw)
	case "KILL":
		return f.clientKill(c.args, c.raw)
	}
	return f.relay(c.raw)
}

func (f *frontConn) checkPass(user, pass string) bool {
	return (user == "" || user == "default") && pass == f.s.cfg.RequirePass
}

func (f *frontConn) auth(c command) error {
	args := c.args
	var user, pass string
	switch len(args) {
	case 2:
		pass = string(args[1])
	case 3:
		user, pass = string(args[1]), string(args[2])
	default:
		return f.reply(errReply("ERR wrong number of arguments for 'auth' command"))
	}
	if f.s.cfg.RequirePass == "" {
		return f.reply(errReply("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
	}
	if !f.checkPass(user, pass) {
		return f.reply(errReply("WRONGPASS invalid username-password pair or user is disabled."))
	}
	f.authed = true
	return f.reply(simple("OK"))
}

// hello checks and strips HELLO's AUTH option (the backend link is
// already authenticated) and forwards the rest.
func (f *frontConn) hello(c command) error {
	args := c.args
	out := [][]byte{args[0]}
	authOK := f.authed
	for i := 1; i < len(args); i++ {
		if strings.EqualFold(string(args[i]), "AUTH") && i+2 < len(args) {
			if f.s.cfg.RequirePass != "" && !f.checkPass(string(args[i+1]), string(args[i+2])) {
				return f.reply(errReply("WRONGPASS invalid username-password pair or user is disabled."))
			}
			authOK = true
			i += 2
			continue
		}
		out = append(out, args[i])
	}
	if !authOK {
		return f.reply(errReply("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"))
	}
	rep, err := f.forward(encodeCommand(out))
	if err != nil {
		return err
	}
	if rep[0] != '-' {
		f.authed = true
		if len(out) > 1 {
			f.proto3 = string(out[1]) == "3"
		}
	}
	return f.reply(rep)
}

// replicaOf: Dragonfly replicas sync from the master's admin port, and the
// stand-in keeps that literally — redis-server is told REPLICAOF host 9999
// unchanged. The master's admin front proxies the handshake (PING, REPLCONF,
// PSYNC) to its redis-server and then splices the stream, so no port is
// translated, the NetworkPolicy's 9999 rule is what replication really uses,
// and --admin_nopass covers the replica's unauthenticated link. The reply is
// exactly OK: redis answers "OK Already connected to specified master" on a
// repeat, which the operator would reject.
func (f *frontConn) replicaOf(c command) error {
	args := c.args
	if len(args) != 3 {
		return f.reply(errReply("ERR wrong number of arguments for 'replicaof' command"))
	}
	host, port := string(args[1]), string(args[2])
	noOne := strings.EqualFold(host, "NO") && strings.EqualFold(port, "ONE")
	rep, err := f.forward(encodeCommand(strArgs("REPLICAOF", host, port)))
	if err != nil {
		return err
	}
	if rep[0] == '-' {
		return f.reply(rep)
	}
	if noOne {
		f.s.setMaster("", "")
		f.s.logf("REPLICAOF NO ONE: now master")
	} else {
		f.s.setMaster(host, port)
		f.s.logf("REPLICAOF %s %s: replicating from that admin port", host, port)
	}
	return f.reply(simple("OK"))
}

func (f *frontConn) replTakeover(c command) error {
	args := c.args
	if len(args) < 2 || len(args) > 3 {
		return f.reply(errReply("ERR wrong number of arguments for 'repltakeover' command"))
	}
	secs, err := strconv.ParseFloat(string(args[1]), 64)
	if err != nil || secs < 0 {
		return f.reply(errReply("ERR invalid timeout"))
	}
	save := len(args) == 3 && strings.EqualFold(string(args[2]), "SAVE")
	if len(args) == 3 && !save {
		return f.reply(errReply("ERR syntax error"))
	}
	if err := f.s.takeover(time.Duration(secs*float64(time.Second)), save); err != nil {
		return f.reply(errReply(err.Error()))
	}
	return f.reply(simple("OK"))
}

// internal serves the stand-in's own takeover protocol, sent by a replica's
// stand-in to this master's admin port.
func (f *frontConn) internal(c command) (bool, bool, error) {
	args := c.args
	if len(args) < 2 {
		return false, false, f.reply(errReply("ERR DFSTANDIN needs a subcommand"))
	}
	switch strings.ToUpper(string(args[1])) {
	case "TAKEOVER-PAUSE":
		ms := "10000"
		if len(args) > 2 {
			ms = string(args[2])
		}
		// Writes wait (never fail) while the replica catches up; a write
		// still waiting when the master stops is never acknowledged.
		if _, err := f.s.ctlDo("CLIENT", "PAUSE", ms, "WRITE"); err != nil {
			return false, false, f.reply(errReply(err.Error()))
		}
		f.s.logf("takeover: writes paused for %s ms by %s", ms, f.c.RemoteAddr())
		return false, false, f.reply(simple("OK"))
	case "TAKEOVER-ABORT":
		f.s.ctlDo("CLIENT", "UNPAUSE")
		f.s.logf("takeover aborted by %s: writes resumed", f.c.RemoteAddr())
		return false, false, f.reply(simple("OK"))
	case "TAKEOVER-DONE":
		save := len(args) > 2 && strings.EqualFold(string(args[2]), "SAVE")
		f.s.logf("takeover by %s complete: shutting down (snapshot: %v)", f.c.RemoteAddr(), save)
		err := f.reply(simple("OK"))
		// As Dragonfly: the old master shuts down once taken over,
		// saving only when REPLTAKEOVER was given SAVE.
		go f.s.stop(save)
		return false, true, err
	}
	return false, false, f.reply(errReply("ERR unknown DFSTANDIN subcommand"))
}

const maxTakeoverWait = 110 * time.Second

// takeover runs REPLTAKEOVER on this replica: pause the master's writes,
// wait until this replica has applied the master's whole offset, become
// master, and let the old master shut down.
func (s *Server) takeover(timeout time.Duration, save bool) error {
	info, err := s.ctlDo("INFO", "replication")
	if err != nil {
		return err
	}
	if infoField(info.Str, "role") == "master" {
		return nil
	}
	s.mu.Lock()
	host, port := s.masterHost, s.masterPort
	s.mu.Unlock()
	if host == "" {
		host, port = infoField(info.Str, "master_host"), infoField(info.Str, "master_port")
	}
	// The master's pause must outlast the wait, or writes resumed there
	// could be acknowledged and lost; a dead replica must not leave the
	// master paused for hours (the operator asks for 10000 s).
	if timeout > maxTakeoverWait {
		timeout = maxTakeoverWait
	}
	deadline := time.Now().Add(timeout)
	m, err := Dial("tcp", net.JoinHostPort(host, port), 10*time.Second)
	if err != nil {
		return fmt.Errorf("ERR Couldn't execute takeover: master %s:%s: %v", host, port, err)
	}
	defer m.Close()
	m.SetDeadline(deadline.Add(10 * time.Second))
	if s.cfg.MasterAuth != "" {
		if _, err := m.Do("AUTH", s.cfg.MasterAuth); err != nil {
			return fmt.Errorf("ERR Couldn't execute takeover: %v", err)
		}
	}
	ms := strconv.FormatInt(timeout.Milliseconds()+10000, 10)
	if _, err := m.Do("DFSTANDIN", "TAKEOVER-PAUSE", ms); err != nil {
		return fmt.Errorf("ERR Couldn't execute takeover: %v", err)
	}
	for {
		mi, err := m.Do("INFO", "replication")
		if err != nil {
			return fmt.Errorf("ERR Couldn't execute takeover: %v", err)
		}
		ri, err := s.ctlDo("INFO", "replication")
		if err != nil {
			m.Do("DFSTANDIN", "TAKEOVER-ABORT")
			return err
		}
		mo, _ := strconv.ParseInt(infoField(mi.Str, "master_repl_offset"), 10, 64)
		ro, _ := strconv.ParseInt(infoField(ri.Str, "slave_repl_offset"), 10, 64)
		if infoField(ri.Str, "master_link_status") == "up" && ro >= mo {
			s.logf("takeover: caught up with %s:%s at offset %d", host, port, mo)
			break
		}
		if time.Now().After(deadline) {
			m.Do("DFSTANDIN", "TAKEOVER-ABORT")
			return fmt.Errorf("ERR Couldn't execute takeover: replica at offset %d, master at %d after %s", ro, mo, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := s.ctlDo("REPLICAOF", "NO", "ONE"); err != nil {
		m.Do("DFSTANDIN", "TAKEOVER-ABORT")
		return err
	}
	s.setMaster("", "")
	done := []string{"DFSTANDIN", "TAKEOVER-DONE"}
	if save {
		done = append(done, "SAVE")
	}
	if _, err := m.Do(done...); err != nil {
		s.logf("takeover: telling the old master to stop: %v", err)
	}
	s.logf("takeover: now master")
	return nil
}

// config answers CONFIG GET/SET for the settings the stand-in owns and
// leaves the rest to redis.
func (f *frontConn) config(c command) error {
	if handled, err := f.ownConfig(c.sub(), c.args); handled {
		return err
	}
	return f.relay(c.raw)
}

func (f *frontConn) ownConfig(sub string, args [][]byte) (bool, error) {
	if len(args) < 3 {
		return false, nil
	}
	key := strings.ToLower(string(args[2]))
	if key != "snapshot_cron" && key != "dbfilename" {
		return false, nil
	}
	s := f.s
	switch {
	case sub == "GET" && len(args) == 3:
		s.mu.Lock()
		val := s.cronExpr
		if key == "dbfilename" {
			val = s.template
		}
		s.mu.Unlock()
		if f.proto3 {
			return true, f.reply(append([]byte("%1\r\n"), append(bulk(key), bulk(val)...)...))
		}
		return true, f.reply(append([]byte("*2\r\n"), append(bulk(key), bulk(val)...)...))
	case sub == "SET" && len(args) == 4:
		val := string(args[3])
		if key == "dbfilename" {
			s.mu.Lock()
			s.template = val
			s.mu.Unlock()
			return true, f.reply(simple("OK"))
		}
		var sched *cron
		if val != "" {
			var err error
			if sched, err = parseCron(val); err != nil {
				return true, f.reply(errReply("ERR Invalid argument: " + err.Error()))
			}
		}
		s.mu.Lock()
		s.cronExpr, s.cronSched = val, sched
		s.mu.Unlock()
		s.logf("snapshot_cron set to %q", val)
		return true, f.reply(simple("OK"))
	}
	return false, nil
}

var (
	idRE    = regexp.MustCompile(`(?:^| )id=(\d+)`)
	addrRE  = regexp.MustCompile(`(^| )addr=\S*`)
	laddrRE = regexp.MustCompile(`(^| )laddr=\S*`)
)

// clientList shows proxied clients with their real addresses (the backend
// sees them all on its unix socket); the stand-in's own links appear as
// loopback, which the operator never disconnects.
func (f *frontConn) clientList(raw []byte) error {
	rep, err := f.forward(raw)
	if err != nil {
		return err
	}
	v, err := parseValue(rep)
	if err != nil || v.Err != "" {
		return f.reply(rep)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimRight(v.Str, "\n"), "\n") {
		addr, laddr := "127.0.0.1:0", "127.0.0.1:0"
		if m := idRE.FindStringSubmatch(line); m != nil {
			id, _ := strconv.ParseInt(m[1], 10, 64)
			f.s.mu.Lock()
			if c := f.s.clients[id]; c != nil {
				addr, laddr = c.c.RemoteAddr().String(), c.c.LocalAddr().String()
			}
			f.s.mu.Unlock()
		}
		line = addrRE.ReplaceAllString(line, "${1}addr="+addr)
		line = laddrRE.ReplaceAllString(line, "${1}laddr="+laddr)
		out = append(out, line)
	}
	return f.reply(bulk(strings.Join(out, "\n") + "\n"))
}

// clientKill maps the real addresses CLIENT LIST showed back to the proxied
// connections and closes them (front and backend link together).
func (f *frontConn) clientKill(args [][]byte, raw []byte) error {
	s := f.s
	if len(args) == 3 {
		addr := string(args[2])
		var victim *frontConn
		s.mu.Lock()
		for _, c := range s.clients {
			if c.c.RemoteAddr().String() == addr {
				victim = c
			}
		}
		s.mu.Unlock()
		if victim == nil {
			return f.reply(errReply("ERR No such client"))
		}
		victim.close()
		return f.reply(simple("OK"))
	}
	if (len(args)-2)%2 != 0 {
		return f.relay(raw)
	}
	skipMe := true
	match := func(c *frontConn) bool { return true }
	for i := 2; i+1 < len(args); i += 2 {
		k, v := strings.ToUpper(string(args[i])), string(args[i+1])
		prev := match
		switch k {
		case "ADDR":
			match = func(c *frontConn) bool { return prev(c) && c.c.RemoteAddr().String() == v }
		case "LADDR":
			match = func(c *frontConn) bool { return prev(c) && c.c.LocalAddr().String() == v }
		case "ID":
			match = func(c *frontConn) bool { return prev(c) && strconv.FormatInt(c.id, 10) == v }
		case "SKIPME":
			skipMe = !strings.EqualFold(v, "no")
		default:
			// TYPE, USER, MAXAGE: redis knows these better.
			return f.relay(raw)
		}
	}
	var victims []*frontConn
	s.mu.Lock()
	for _, c := range s.clients {
		if (c != f || !skipMe) && match(c) {
			victims = append(victims, c)
		}
	}
	s.mu.Unlock()
	if err := f.reply(integer(int64(len(victims)))); err != nil {
		return err
	}
	for _, c := range victims {
		c.close()
	}
	return nil
}
