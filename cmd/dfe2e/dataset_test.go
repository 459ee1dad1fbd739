package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
)

func runDatasetCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	cmd := newDatasetCmd()
	var out bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitBadInput
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if ee == nil || ee.err != nil {
			out.WriteString(err.Error())
		}
	}
	return code, out.String()
}

func TestDatasetWriteVerifyAndPlantedLoss(t *testing.T) {
	addr := startLoadRedis(t, "")
	args := []string{"--addr", addr, "--keys", "3000", "--seed", "9"}
	if code, out := runDatasetCmd(t, append([]string{"write"}, args...)...); code != 0 {
		t.Fatalf("write: exit %d: %s", code, out)
	}
	if code, out := runDatasetCmd(t, append([]string{"verify"}, args...)...); code != 0 || !strings.HasPrefix(out, "CLEAN") {
		t.Fatalf("verify of a fresh dataset: exit %d: %s", code, out)
	}
	// Planted: one key deleted.
	c, err := dataset.Connect(context.Background(), addr, "", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	victim := dataset.Spec{Keys: 3000, Seed: 9}.Name(123)
	if err := c.Del(context.Background(), victim).Err(); err != nil {
		t.Fatal(err)
	}
	code, out := runDatasetCmd(t, append([]string{"verify"}, args...)...)
	if code != exitFailed || !strings.Contains(out, "1 missing ["+victim+"]") {
		t.Fatalf("verify after deleting %s: exit %d: %s", victim, code, out)
	}
}

func TestDatasetBadInputExits2(t *testing.T) {
	cases := map[string][]string{
		"zero keys":     {"verify", "--keys", "0"},
		"remote addr":   {"write", "--addr", "10.0.0.1:6379"},
		"not host:port": {"write", "--addr", "nowhere"},
		"unreachable":   {"verify", "--addr", "127.0.0.1:1", "--keys", "10"},
		"empty prefix":  {"write", "--prefix", ""},
	}
	for name, args := range cases {
		code, out := runDatasetCmd(t, args...)
		if code != exitBadInput || out == "" {
			t.Errorf("%s: exit %d (%q), want 2 with a message", name, code, out)
		}
	}
}
