package suites

import "testing"

func TestDepth(t *testing.T) {
	t.Setenv(DepthEnvVar, "")
	if d, err := Depth(); err != nil || d != DefaultDepth {
		t.Fatalf("default: %v %v", d, err)
	}
	t.Setenv(DepthEnvVar, "9")
	if _, err := Depth(); err == nil {
		t.Fatal("out-of-range depth accepted")
	}
	if SkipReason(Low, Medium) == "" || SkipReason(High, Medium) != "" {
		t.Fatal("SkipReason: specs above the depth skip, others run")
	}
}
