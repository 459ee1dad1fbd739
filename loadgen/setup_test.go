package loadgen

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestWorkloadValidationNamesTheProblem(t *testing.T) {
	ok := Workload{Pipeline: 1, Duration: time.Second}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("default workload rejected: %v", err)
	}
	cases := []struct {
		name string
		edit func(*Workload)
		want string
	}{
		{"pipeline 0", func(w *Workload) { w.Pipeline = 0 }, "pipeline must be ≥ 1"},
		{"ratio 0:0", func(w *Workload) { w.GetRatio, w.SetRatio = 0, 0 }, "0:0"},
		{"duration and requests", func(w *Workload) { w.Requests = 10 }, "exclusive"},
		{"neither duration nor requests", func(w *Workload) { w.Duration = 0 }, "positive duration or a positive request count"},
		{"unknown distribution", func(w *Workload) { w.KeyDist = "gauss" }, `"gauss" is unknown`},
		{"negative rate", func(w *Workload) { w.Rate = -1 }, "rate must be ≥ 0"},
		{"zero connections", func(w *Workload) { w.Connections = 0 }, "connections must be ≥ 1"},
		{"huge keyspace", func(w *Workload) { w.Keyspace = MaxKeyspace + 1 }, "keyspace must be"},
		{"sub-millisecond ttl", func(w *Workload) { w.TTL = time.Microsecond }, "ttl must be"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := ok
			tc.edit(&w)
			err := w.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	// Run refuses before touching the network.
	_, err := Run(context.Background(), Target{Addr: "127.0.0.1:1"}, Workload{Pipeline: 0, Duration: time.Second}, Options{})
	var ie *InputError
	if !errors.As(err, &ie) || !IsBadInput(err) {
		t.Fatalf("Run with pipeline 0 = %v, want an InputError", err)
	}
}

func TestParseRatio(t *testing.T) {
	for in, want := range map[string][2]int{"1:1": {1, 1}, "9:1": {9, 1}, "0:1": {0, 1}, " 3:2 ": {3, 2}} {
		g, s, err := ParseRatio(in)
		if err != nil || g != want[0] || s != want[1] {
			t.Errorf("ParseRatio(%q) = %d,%d,%v; want %v", in, g, s, err, want)
		}
	}
	for _, in := range []string{"0:0", "1", "a:b", "-1:2", "1:1:1", ""} {
		if _, _, err := ParseRatio(in); err == nil {
			t.Errorf("ParseRatio(%q) accepted", in)
		}
	}
}

func setupKind(t *testing.T, err error) string {
	t.Helper()
	var se *SetupError
	if !errors.As(err, &se) {
		t.Fatalf("got %v (%T), want a *SetupError", err, err)
	}
	if !IsBadInput(err) {
		t.Fatalf("IsBadInput(%v) = false", err)
	}
	return se.Kind
}

var quick = Workload{Connections: 1, Pipeline: 1, Requests: 10}

func TestUnreachableServerIsASetupError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	_, err = Run(context.Background(), Target{Addr: addr, DialTimeout: 2 * time.Second}, quick, Options{})
	if k := setupKind(t, err); k != "unreachable" {
		t.Errorf("kind %q, want unreachable: %v", k, err)
	}
	if !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "is the server running") {
		t.Errorf("message does not name the address and what to do: %v", err)
	}
}

func TestNonRESPServerIsASetupError(t *testing.T) {
	for name, answer := range map[string]string{
		"http":   "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"silent": "",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						buf := make([]byte, 1024)
						_, _ = c.Read(buf)
						if answer != "" {
							_, _ = c.Write([]byte(answer))
							return
						}
						_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
						_, _ = c.Read(buf) // say nothing until the client gives up
					}()
				}
			}()
			_, err = Run(context.Background(), Target{Addr: ln.Addr().String(), DialTimeout: time.Second}, quick, Options{})
			if k := setupKind(t, err); k != "not-resp" {
				t.Errorf("kind %q, want not-resp: %v", k, err)
			}
			if !strings.Contains(err.Error(), "Redis/Dragonfly port") {
				t.Errorf("message does not say what to check: %v", err)
			}
		})
	}
}

func TestAuthFailuresAreSetupErrors(t *testing.T) {
	s := startRedis(t, "s3cret")
	ctx := context.Background()
	_, err := Run(ctx, Target{Addr: s.Addr, Password: "wrong"}, quick, Options{})
	if k := setupKind(t, err); k != "auth" || !strings.Contains(err.Error(), "check --password") {
		t.Errorf("wrong password: kind %q: %v", k, err)
	}
	_, err = Run(ctx, Target{Addr: s.Addr}, quick, Options{})
	if k := setupKind(t, err); k != "auth" || !strings.Contains(err.Error(), "requires a password") {
		t.Errorf("no password: kind %q: %v", k, err)
	}
	m, err := Run(ctx, Target{Addr: s.Addr, Password: "s3cret"}, quick, Options{})
	if err != nil || m.Result.Requests != 10 {
		t.Fatalf("right password: %v (requests %v)", err, m)
	}
}
