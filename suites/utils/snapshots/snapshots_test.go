package snapshots

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

func TestDatasetSpec(t *testing.T) {
	got, err := DatasetSpec(config.Settings{})
	if err != nil || got != (dataset.Spec{Keys: dataset.DefaultKeys, Seed: Seed}) {
		t.Errorf("default: %+v %v", got, err)
	}
	got, err = DatasetSpec(config.Settings{DatasetKeys: "500"})
	if err != nil || got.Keys != 500 || got.Seed != Seed {
		t.Errorf("DFE2E_DATASET_KEYS=500: %+v %v", got, err)
	}
	if _, err := DatasetSpec(config.Settings{DatasetKeys: "many"}); err == nil {
		t.Error("a bad key count must fail")
	}
}

func TestNewPicksTheTargetAndItsSelection(t *testing.T) {
	env := &targets.Env{}
	metric := func(reports.Metric) {}
	d := New(targets.DragonflyKey, "", env, metric)
	if df, ok := d.Target.(*targets.Dragonfly); !ok || df.Name != instances.Snapshot || df.Env != env || d.Skip != "" {
		t.Errorf("dragonfly: %#v skip %q", d.Target, d.Skip)
	}
	s := New(targets.StandInKey, "", env, metric)
	if st, ok := s.Target.(*targets.StandIn); !ok || st.Options.Namespace != instances.Namespace || st.Options.Dir != standin.SnapshotDir {
		t.Errorf("stand-in: %#v", s.Target)
	}
	if !strings.Contains(s.Skip, "not selected") {
		t.Errorf("the stand-in runs only when selected: %q", s.Skip)
	}
	if s := New(targets.StandInKey, "dragonfly,redis-standin", env, metric); s.Skip != "" {
		t.Errorf("selected: %q", s.Skip)
	}
}

func TestBounded(t *testing.T) {
	if err := Bounded("/data/snapshots", []string{"dump.rdb"}, []string{"dump.rdb"}); err != nil {
		t.Error(err)
	}
	err := Bounded("/data/snapshots", []string{"dump-1.rdb"}, []string{"dump-1.rdb", "dump-2.rdb"})
	if err == nil || !strings.Contains(err.Error(), "snapshot dir /data/snapshots grows with every snapshot: 1 files after one SAVE, 2 after five (dump-1.rdb dump-2.rdb)") {
		t.Errorf("growing dir: %v", err)
	}
}

// masterAt is a target whose master is pod (or err).
type masterAt struct {
	targets.Target
	pod *corev1.Pod
	err error
}

func (m masterAt) Master(context.Context, time.Time) (*corev1.Pod, error) { return m.pod, m.err }

// Connect goes to the target's current master; neither a missing master
// nor an unreachable one yields a client, and the error says which.
func TestConnectReachesTheCurrentMaster(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:1", Timeout: 5 * time.Second}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &Run{Env: &targets.Env{Config: cfg, Clientset: cs}}
	r.Target = masterAt{err: errors.New("no Ready pod")}
	if c, _, _, err := r.Connect(context.Background(), 6379, 1, time.Time{}); c != nil || err == nil || !strings.Contains(err.Error(), "no Ready pod") {
		t.Fatalf("no master: client %v, err %v", c, err)
	}
	r.Target = masterAt{pod: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df-0"}, Spec: corev1.PodSpec{NodeName: "n1"}}}
	if c, _, _, err := r.Connect(context.Background(), 9999, 1, time.Time{}); c != nil || err == nil || !strings.Contains(err.Error(), "db/df-0:9999") {
		t.Fatalf("unreachable master: client %v, err %v", c, err)
	}
	if r.PodNode != "" {
		t.Errorf("PodNode %q set although no forward opened", r.PodNode)
	}
}
