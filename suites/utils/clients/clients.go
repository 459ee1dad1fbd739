// Package clients makes the suites' API clients from a cluster's config.
package clients

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RequestTimeout bounds every API request the specs make.
const RequestTimeout = 30 * time.Second

// Config is cfg for the specs' requests: no single request may hang a spec
// (the suite must stop, not stall), and client-go's default 5 QPS would pace
// the ~90 SubjectAccessReviews of one RBAC pass over 18 s on a kubeconfig
// cluster (envtest sets its own). cfg itself is left as it is: port-forwards
// and execs are long-lived streams bounded by their contexts.
func Config(cfg *rest.Config) *rest.Config {
	rc := rest.CopyConfig(cfg)
	rc.Timeout = RequestTimeout
	rc.QPS, rc.Burst = 100, 200
	return rc
}

// New makes the controller-runtime client (client-go's scheme) and the
// clientset, both from Config(cfg).
func New(cfg *rest.Config) (client.Client, kubernetes.Interface, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, nil, err
	}
	rc := Config(cfg)
	c, err := client.New(rc, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	return c, cs, nil
}
