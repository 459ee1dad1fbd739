package rollout

import (
	"strings"
	"testing"
	"time"
)

// sampler builds samples of pods df-0 (master), df-1, df-2 step by step.
type sampler struct {
	t0      time.Time
	pods    map[string]Pod
	samples []Sample
}

func newSampler() *sampler {
	s := &sampler{t0: time.Date(2026, 12, 2, 4, 0, 0, 0, time.UTC), pods: map[string]Pod{}}
	for i, role := range []string{"master", "replica", "replica"} {
		n := "df-" + string(rune('0'+i))
		s.pods[n] = Pod{Name: n, Revision: "old", Role: role, Ready: true}
	}
	s.snap()
	return s
}

func (s *sampler) snap() {
	var ps []Pod
	for _, n := range []string{"df-0", "df-1", "df-2"} {
		if p, ok := s.pods[n]; ok {
			ps = append(ps, p)
		}
	}
	s.samples = append(s.samples, Sample{At: s.t0.Add(time.Duration(len(s.samples)) * time.Second), Pods: ps})
}

func (s *sampler) del(n string) { delete(s.pods, n); s.snap() }
func (s *sampler) recreate(n, role string, ready bool) {
	s.pods[n] = Pod{Name: n, Revision: "new", Role: role, Ready: ready}
	s.snap()
}
func (s *sampler) role(n, role string) {
	p := s.pods[n]
	p.Role = role
	s.pods[n] = p
	s.snap()
}

// The operator's documented order: replicas one at a time, takeover to an
// updated replica, the old master last.
func goodRollout() *sampler {
	s := newSampler()
	for _, n := range []string{"df-1", "df-2"} {
		s.del(n)
		s.recreate(n, "", false)
		s.recreate(n, "replica", true)
	}
	s.role("df-0", "replica")
	s.role("df-1", "master")
	s.del("df-0")
	s.recreate("df-0", "", false)
	s.recreate("df-0", "replica", true)
	return s
}

func TestOneAtATimeRolloutPasses(t *testing.T) {
	s := goodRollout()
	r := Judge(s.samples, "old", "new", 3)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if r.NewMaster != "df-1" || r.OldMaster != "df-0" || r.MostUnavailable != 1 || r.Takeover.IsZero() {
		t.Fatalf("result %+v", r)
	}
}

// Planted defect: every replica deleted at once (as a past operator release
// did); the judgement names the pods and the moment.
func TestAllReplicasAtOnceFailsNamingThem(t *testing.T) {
	s := newSampler()
	delete(s.pods, "df-1")
	delete(s.pods, "df-2")
	s.snap()
	s.recreate("df-1", "replica", true)
	s.recreate("df-2", "replica", true)
	s.role("df-0", "replica")
	s.role("df-1", "master")
	s.del("df-0")
	s.recreate("df-0", "replica", true)
	err := Judge(s.samples, "old", "new", 3).Err()
	if err == nil || !strings.Contains(err.Error(), "2 of 3 pods were not serving (2 missing)") || !strings.Contains(err.Error(), "not replaced one at a time") {
		t.Fatalf("got %v", err)
	}
}

// Planted defect: the master deleted first, while old replicas remain.
func TestMasterFirstFailsNamingTheOldReplicas(t *testing.T) {
	s := newSampler()
	s.del("df-0")
	s.recreate("df-0", "", false)
	s.recreate("df-0", "replica", true)
	s.role("df-1", "master")
	err := Judge(s.samples, "old", "new", 3).Err()
	if err == nil || !strings.Contains(err.Error(), "the old master df-0 went") || !strings.Contains(err.Error(), "(df-1, df-2)") {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "no pod of the new revision new ever became master") {
		t.Fatalf("a takeover to an old-revision pod counted: %v", err)
	}
}

// Planted defect: the rollout stalls with a pod left on the old revision.
func TestUnfinishedRolloutFails(t *testing.T) {
	s := newSampler()
	s.del("df-1")
	s.recreate("df-1", "replica", true)
	err := Judge(s.samples, "old", "new", 3).Err()
	if err == nil || !strings.Contains(err.Error(), "df-0 (revision old, ready true)") {
		t.Fatalf("got %v", err)
	}
}
