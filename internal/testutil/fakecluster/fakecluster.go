// Package fakecluster is the fake API server the unit tests of the cluster
// helpers run against: a controller-runtime fake client that knows the
// built-in kinds.
package fakecluster

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// Client is a fake client holding objs. Each call has a scheme of its own,
// so no test sees another's registrations.
func Client(objs ...client.Object) client.Client {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err) // the built-in kinds always register
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}
