package main

import "testing"

func TestSpecFile(t *testing.T) {
	for _, c := range []struct {
		args    []string
		file    string
		process bool
	}{
		{[]string{"--root", "/run/runc", "--log", "l.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "p", "id"}, "/b/config.json", false},
		{[]string{"--systemd-cgroup", "create", "--bundle=/b", "id"}, "/b/config.json", false},
		{[]string{"run", "-b", "/x", "id"}, "/x/config.json", false},
		{[]string{"--root", "/r", "exec", "--process", "/tmp/p.json", "--detach", "id"}, "/tmp/p.json", true},
		{[]string{"exec", "id", "sh"}, "", false},
		{[]string{"--root", "/r", "delete", "id"}, "", false},
		{[]string{"--version"}, "", false},
	} {
		f, p := specFile(c.args)
		if f != c.file || p != c.process {
			t.Errorf("specFile(%q) = %q,%v want %q,%v", c.args, f, p, c.file, c.process)
		}
	}
}
