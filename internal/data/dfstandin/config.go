package dfstandin

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// DefaultDBFilename is Dragonfly's default --dbfilename: the macro becomes a
// sortable time on every save, so snapshots accumulate.
const DefaultDBFilename = "dump-{timestamp}"

// Config is what the stand-in takes from Dragonfly's flags and DFLY_* env.
type Config struct {
	Port        int    // --port, the main RESP port
	Bind        string // --bind; empty: all interfaces
	AdminPort   int    // --admin_port; 0: no admin port
	AdminBind   string // --admin_bind
	AdminNopass bool   // --admin_nopass: the admin port needs no AUTH
	RequirePass string // --requirepass / DFLY_requirepass
	MasterAuth  string // --masterauth: password for the master's port
	Dir         string // --dir; empty: the working directory
	DBFilename  string // --dbfilename; empty: no snapshot on shutdown, none loaded
	// SnapshotCron is --snapshot_cron (5 fields, or 6 with seconds first).
	SnapshotCron string
	MaxMemory    string // --maxmemory, passed to redis-server
	// BreakReplicationOnMasterRestart is accepted but not enforced: redis
	// re-syncs from a restarted master.
	BreakReplicationOnMasterRestart bool
	Version                         bool // --version: print and exit

	// Notes are log lines about flags that were ignored or only accepted.
	Notes []string
}

type flagKind int

const (
	kindBool flagKind = iota
	kindString
	kindInt
)

// flagSpec: known flags and their kinds; "accepted" ones are parsed but
// not modelled by redis-server.
var flagSpec = map[string]flagKind{
	"port": kindInt, "bind": kindString, "admin_port": kindInt, "admin_bind": kindString,
	"admin_nopass": kindBool, "requirepass": kindString, "masterauth": kindString,
	"dir": kindString, "dbfilename": kindString, "snapshot_cron": kindString,
	"maxmemory": kindString, "break_replication_on_master_restart": kindBool,
	"version": kindBool, "alsologtostderr": kindBool, "logtostderr": kindBool,
	"primary_port_http_enabled": kindBool,
	// Accepted and logged: the operator may pass them, redis has no match.
	"memcached_port": kindInt, "aclfile": kindString, "tiered_prefix": kindString,
	"tls": kindBool, "tls_cert_file": kindString, "tls_key_file": kindString,
	"tls_ca_cert_file": kindString, "no_tls_on_admin_port": kindBool,
	"proactor_threads": kindInt, "cache_mode": kindBool, "cluster_mode": kindString,
	"df_snapshot_format": kindBool, "v": kindInt, "vmodule": kindString,
}

// notModelled flags are accepted with a log line saying they do nothing.
var notModelled = map[string]bool{
	"memcached_port": true, "aclfile": true, "tiered_prefix": true, "tls": true,
	"tls_cert_file": true, "tls_key_file": true, "tls_ca_cert_file": true,
	"no_tls_on_admin_port": true, "proactor_threads": true, "cache_mode": true,
	"cluster_mode": true, "df_snapshot_format": true, "break_replication_on_master_restart": true,
}

// ParseArgs reads Dragonfly's flags (after the entrypoint's "dragonfly"
// word) and DFLY_<flag> variables from env ("K=V" entries). Command-line
// flags win over env. Unknown flags are noted, never fatal; a known flag
// with a malformed value is an error.
func ParseArgs(args, env []string) (Config, error) {
	c := Config{Port: 6379, DBFilename: DefaultDBFilename}
	var envKeys []string
	envVals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "DFLY_") {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(k, "DFLY_"))
		envKeys = append(envKeys, name)
		envVals[name] = v
	}
	sort.Strings(envKeys)
	for _, name := range envKeys {
		if _, known := flagSpec[name]; !known {
			c.Notes = append(c.Notes, fmt.Sprintf("ignoring DFLY_%s: not a flag the stand-in knows", name))
			continue
		}
		if err := c.set(name, envVals[name], true); err != nil {
			return c, fmt.Errorf("DFLY_%s: %w", name, err)
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			c.Notes = append(c.Notes, fmt.Sprintf("ignoring positional argument %q", a))
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		kind, known := flagSpec[name]
		if !known && !hasVal && strings.HasPrefix(name, "no") {
			if k, ok := flagSpec[name[2:]]; ok && k == kindBool {
				name, val, hasVal, kind, known = name[2:], "false", true, kindBool, true
			}
		}
		if !known {
			c.Notes = append(c.Notes, fmt.Sprintf("ignoring flag %s: not modelled by the stand-in", a))
			continue
		}
		if !hasVal {
			if kind == kindBool {
				val = "true"
			} else if i+1 < len(args) {
				i++
				val = args[i]
			} else {
				return c, fmt.Errorf("flag --%s needs a value", name)
			}
		}
		if err := c.set(name, val, false); err != nil {
			return c, fmt.Errorf("--%s: %w", name, err)
		}
	}
	return c, nil
}

var memRE = regexp.MustCompile(`^(?i)[0-9]+(b|k|kb|m|mb|g|gb)?$`)

func (c *Config) set(name, val string, fromEnv bool) error {
	kind := flagSpec[name]
	var b bool
	var n int
	var err error
	switch kind {
	case kindBool:
		if b, err = strconv.ParseBool(val); err != nil {
			return fmt.Errorf("not a boolean: %q", val)
		}
	case kindInt:
		if n, err = strconv.Atoi(val); err != nil {
			return fmt.Errorf("not an integer: %q", val)
		}
	}
	if notModelled[name] {
		c.Notes = append(c.Notes, fmt.Sprintf("accepted --%s=%s, not modelled by redis-server", name, redact(name, val)))
	}
	switch name {
	case "port":
		c.Port = n
	case "bind":
		c.Bind = val
	case "admin_port":
		c.AdminPort = n
	case "admin_bind":
		c.AdminBind = val
	case "admin_nopass":
		c.AdminNopass = b
	case "requirepass":
		c.RequirePass = val
	case "masterauth":
		c.MasterAuth = val
	case "dir":
		c.Dir = val
	case "dbfilename":
		c.DBFilename = val
	case "snapshot_cron":
		if val != "" {
			if _, err := parseCron(val); err != nil {
				return err
			}
		}
		c.SnapshotCron = val
	case "maxmemory":
		if !memRE.MatchString(val) {
			return fmt.Errorf("not a memory size: %q", val)
		}
		c.MaxMemory = strings.ToLower(val)
	case "break_replication_on_master_restart":
		c.BreakReplicationOnMasterRestart = b
	case "version":
		c.Version = b
	}
	return nil
}

func redact(name, val string) string {
	if strings.Contains(name, "pass") || strings.Contains(name, "auth") {
		return "<redacted>"
	}
	return val
}
