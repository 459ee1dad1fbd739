// Package tail cuts command output and logs to their last lines, for error
// messages: the end of a failed build or a crashed container says why.
package tail

import "strings"

// Lines is the last n lines of s, without the trailing newlines.
func Lines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
