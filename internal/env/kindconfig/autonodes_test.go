package kindconfig

import (
	"errors"
	"strings"
	"testing"
)

func TestChooseNodes(t *testing.T) {
	for _, c := range []struct {
		name      string
		requested int
		avail     uint64
		err       error
		want      int
		reason    []string
	}{
		{"--nodes wins over memory", 1, 20 << 30, nil, 1, []string{"--nodes 1"}},
		{"--nodes wins over a small host", 4, 1 << 30, nil, 4, []string{"--nodes 4"}},
		{"enough memory", 0, 20 << 30, nil, 3, []string{"MemAvailable 20.0 GiB ≥ 8.0 GiB", "1 control plane + 2 workers"}},
		{"exactly enough", 0, MultiNodeMinAvailable, nil, 3, []string{"≥ 8.0 GiB"}},
		{"too little", 0, 5<<30 + 512<<20, nil, 1, []string{"MemAvailable 5.5 GiB < 8.0 GiB needed"}},
		{"unknown", 0, 0, errors.New("no /proc"), 1, []string{"host memory unknown (no /proc)", "--nodes 3"}},
	} {
		got := ChooseNodes(c.requested, c.avail, c.err)
		if got.Nodes != c.want {
			t.Errorf("%s: %d nodes, want %d (%s)", c.name, got.Nodes, c.want, got.Reason)
		}
		for _, w := range c.reason {
			if !strings.Contains(got.Reason, w) {
				t.Errorf("%s: reason %q lacks %q", c.name, got.Reason, w)
			}
		}
		if err := CheckNodes(got.Nodes); err != nil {
			t.Errorf("%s: chose an invalid count: %v", c.name, err)
		}
	}
}

func TestParseMemAvailable(t *testing.T) {
	got, err := parseMemAvailable(strings.NewReader("MemTotal:       24576000 kB\nMemFree:         1000 kB\nMemAvailable:   20971520 kB\n"))
	if err != nil || got != 20<<30 {
		t.Fatalf("%d, %v; want 20 GiB", got, err)
	}
	// Planted defects: no MemAvailable (kernels before 3.14), a bad number.
	if _, err := parseMemAvailable(strings.NewReader("MemTotal: 1 kB\n")); err == nil || !strings.Contains(err.Error(), "no MemAvailable") {
		t.Fatalf("missing line: %v", err)
	}
	if _, err := parseMemAvailable(strings.NewReader("MemAvailable: x kB\n")); err == nil || !strings.Contains(err.Error(), `MemAvailable "x"`) {
		t.Fatalf("bad number: %v", err)
	}
	if _, err := MemAvailable(); err != nil {
		t.Skipf("this host: %v", err)
	}
}
