package writer

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
)

func slice(svc string, pods ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: svc + "-x",
		Labels: map[string]string{"kubernetes.io/service-name": svc}}, AddressType: discoveryv1.AddressTypeIPv4}
	for _, p := range pods {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}, TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: p}})
	}
	return s
}

func TestPodIsTheOneTheServiceRoutesTo(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(slice("one", "df-0"), slice("two", "df-0", "df-1"), slice("none"))
	if p, err := NewForwards(c, nil, nil, "db", "one").Pod(ctx); err != nil || p != "df-0" {
		t.Errorf("one: %q %v", p, err)
	}
	for svc, want := range map[string]string{"two": "routes to 2 pods [df-0 df-1], want exactly the master", "none": "routes to 0 pods"} {
		_, err := NewForwards(c, nil, nil, "db", svc).Pod(ctx)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", svc, err, want)
		}
	}
}

func TestNoForwardBeforeResolve(t *testing.T) {
	f := NewForwards(fakecluster.Client(), nil, nil, "db", "one")
	if f.AddrOf("df-0") != "" {
		t.Error("no forward was opened")
	}
	f.Close()
	// Resolving a Service with no endpoint fails before any port-forward.
	if _, err := f.Resolve(context.Background()); err == nil {
		t.Error("Resolve without an endpoint")
	}
}
