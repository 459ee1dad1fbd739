// Package capfilter removes, from OCI runtime specs, the capabilities that
// the calling process cannot hold because they are absent from its bounding
// set. Some VMs (Firecracker guests here) lack CAP_SYS_RESOURCE in the
// bounding set, and engines that ask for every capability the kernel knows
// (Debian's Docker 20.10 for --privileged) then fail with "unable to apply
// caps". Dropping what cannot be granted anyway changes nothing else.
package capfilter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// names maps capability names to their bit numbers (linux/capability.h).
var names = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3,
	"CAP_FSETID": 4, "CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8,
	"CAP_LINUX_IMMUTABLE": 9, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11,
	"CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13, "CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15,
	"CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19,
	"CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23,
	"CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25, "CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27,
	"CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29, "CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31,
	"CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33, "CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35,
	"CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37, "CAP_PERFMON": 38, "CAP_BPF": 39,
	"CAP_CHECKPOINT_RESTORE": 40,
}

// Bounding reads the CapBnd mask of the current process.
func Bounding() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return ParseCapBnd(f)
}

// ParseCapBnd extracts the CapBnd mask from a /proc/<pid>/status text.
func ParseCapBnd(r io.Reader) (uint64, error) {
	s := bufio.NewScanner(r)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if ok && k == "CapBnd" {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no CapBnd line in process status")
}

// Missing lists the known capabilities absent from mask, e.g. [CAP_SYS_RESOURCE].
func Missing(mask uint64) []string {
	var out []string
	for n, bit := range names {
		if mask&(1<<uint(bit)) == 0 {
			out = append(out, n)
		}
	}
	return out
}

// allowed reports whether capability name can be granted under mask; names
// this package does not know are left alone (the runtime decides).
func allowed(name string, mask uint64) bool {
	bit, ok := names[strings.ToUpper(name)]
	return !ok || mask&(1<<uint(bit)) != 0
}

// FilterProcess edits an OCI process object (the "process" of config.json,
// or a whole `runc exec --process` file) in place. It reports what it removed.
func FilterProcess(proc map[string]any, mask uint64) []string {
	caps, _ := proc["capabilities"].(map[string]any)
	var removed []string
	seen := map[string]bool{}
	for set, v := range caps {
		list, ok := v.([]any)
		if !ok {
			continue
		}
		kept := make([]any, 0, len(list))
		for _, c := range list {
			if name, ok := c.(string); ok && !allowed(name, mask) {
				if !seen[name] {
					seen[name] = true
					removed = append(removed, name)
				}
				continue
			}
			kept = append(kept, c)
		}
		caps[set] = kept
	}
	return removed
}

// FilterFile rewrites an OCI JSON file: config.json (isProcess false) or an
// exec process spec (isProcess true). The file is left untouched when there is
// nothing to remove. Numbers are kept verbatim.
func FilterFile(path string, isProcess bool, mask uint64) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	proc := doc
	if !isProcess {
		p, ok := doc["process"].(map[string]any)
		if !ok {
			return nil, nil
		}
		proc = p
	}
	removed := FilterProcess(proc, mask)
	if len(removed) == 0 {
		return nil, nil
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return removed, os.WriteFile(path, out, info.Mode().Perm())
}
