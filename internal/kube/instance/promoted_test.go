package instance

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func promotedPod(name, node string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name)},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func TestPromotedNamesWhatIsMissing(t *testing.T) {
	old := promotedPod("df-0", "n1", true)
	for _, c := range []struct {
		name   string
		master *corev1.Pod
		node   string
		want   string
	}{
		{"no master", nil, "", "no pod labelled role=master"},
		{"old still master", old, "", "old master df-0 is still labelled master"},
		{"master on the failed node", promotedPod("df-1", "n1", true), "n1", "on the failed node n1"},
		{"not Ready", promotedPod("df-1", "n2", false), "", "df-1 not Ready"},
		{"promoted", promotedPod("df-1", "n2", true), "n1", ""},
	} {
		got, why := Roles{Master: c.master}.Promoted(old, c.node)
		if c.want == "" {
			if got == nil || why != "" {
				t.Errorf("%s: got %v, %q; want the new master", c.name, got, why)
			}
			continue
		}
		if got != nil || !strings.Contains(why, c.want) {
			t.Errorf("%s: got %v, %q; want nil and a reason containing %q", c.name, got, why, c.want)
		}
	}
}
