package clients

import (
	"testing"

	"k8s.io/client-go/rest"
)

func TestConfigBoundsRequestsAndLeavesTheOriginal(t *testing.T) {
	orig := &rest.Config{Host: "https://127.0.0.1:6443", QPS: 5, Burst: 10}
	rc := Config(orig)
	if rc.Timeout != RequestTimeout || rc.QPS != 100 || rc.Burst != 200 || rc.Host != orig.Host {
		t.Fatalf("Config: %+v", rc)
	}
	if orig.Timeout != 0 || orig.QPS != 5 {
		t.Fatal("the streams' config must keep no timeout")
	}
}
