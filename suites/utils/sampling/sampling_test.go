package sampling

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

func TestPodsSamplesUntilStopped(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df-0",
		Labels: map[string]string{dfapi.AppLabel: "df", dfapi.RoleLabel: "master"}}}
	c := fakecluster.Client(pod)

	stop := Pods(context.Background(), c, "db", "df", time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	got := stop()
	if len(got) < 2 {
		t.Fatalf("%d samples in 20ms at 1ms", len(got))
	}
	if p := got[0].Pods; len(p) != 1 || p[0].Name != "df-0" || p[0].Role != "master" {
		t.Fatalf("first sample: %+v", p)
	}
	if again := stop(); len(again) != len(got) {
		t.Fatalf("sampling went on after stop: %d then %d", len(got), len(again))
	}
}
