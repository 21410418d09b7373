package main

import (
	"context"
	"net/http/httptest"
	"sort"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/pkg/apis"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	netfake "knative.dev/networking/pkg/client/clientset/versioned/fake"
	netlisters "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
)

func service(ns, name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func slice(ns, svc, name string, ports map[string]int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   eps,
	}
	for n, p := range ports {
		es.Ports = append(es.Ports, discoveryv1.EndpointPort{Name: ptr.To(n), Port: ptr.To(p)})
	}
	return es
}

func endpoint(ready *bool, addrs ...string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: addrs, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
}

func newResolver(t *testing.T, objs ...any) *Resolver {
	svcs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	slices := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		switch o.(type) {
		case *corev1.Service:
			svcs.Add(o)
		case *discoveryv1.EndpointSlice:
			slices.Add(o)
		default:
			t.Fatalf("unexpected %T", o)
		}
	}
	return &Resolver{Services: corelisters.NewServiceLister(svcs), EndpointSlices: discoverylisters.NewEndpointSliceLister(slices)}
}

func addrs(bs []Backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Addr)
	}
	sort.Strings(out)
	return out
}

func TestResolver(t *testing.T) {
	r := newResolver(t,
		// A Knative revision's public Service: http 80 -> 8012, http2 81 -> 8013 (port names from networking).
		service("default", "hello-00001",
			corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt(8012)},
			corev1.ServicePort{Name: "http2", Port: 81, TargetPort: intstr.FromInt(8013)}),
		slice("default", "hello-00001", "hello-00001-a", map[string]int32{"http": 8012, "http2": 8013},
			endpoint(nil, "10.244.0.5"), endpoint(ptr.To(true), "10.244.0.6"), endpoint(ptr.To(false), "10.244.0.7")),
		slice("default", "hello-00001", "hello-00001-b", map[string]int32{"http": 8012, "http2": 8013},
			endpoint(ptr.To(true), "10.244.0.8")),
		// Same name, other namespace: must not leak in.
		slice("other", "hello-00001", "hello-00001-x", map[string]int32{"http": 8012}, endpoint(nil, "10.244.0.99")),
		service("default", "cold"),
		service("default", "cold-00001", corev1.ServicePort{Name: "http", Port: 80}),
		slice("default", "cold-00001", "cold-00001-a", map[string]int32{"http": 8012}, endpoint(ptr.To(false), "10.244.0.9")),
		// A domain mapping's target: the Route's ExternalName Service pointing at the cluster-local gateway.
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "hello"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "kourier-internal.kourier-system.svc.cluster.local"}},
		service("kourier-system", "kourier-internal", corev1.ServicePort{Name: "http2", Port: 80, TargetPort: intstr.FromInt(8081)}),
		slice("kourier-system", "kourier-internal", "kourier-internal-1", map[string]int32{"http2": 8081}, endpoint(nil, "10.250.0.1")),
	)
	bs, err := r.Resolve("default", "hello-00001", intstr.FromInt(80))
	if err != nil {
		t.Fatal(err)
	}
	if got := addrs(bs); len(got) != 3 || got[0] != "10.244.0.5:8012" || got[1] != "10.244.0.6:8012" || got[2] != "10.244.0.8:8012" {
		t.Errorf("port 80: ready endpoints of both slices, not-ready left out; got %v", got)
	}
	if bs[0].H2C {
		t.Error("port named http is not h2c")
	}
	bs, err = r.Resolve("default", "hello-00001", intstr.FromString("http2"))
	if err != nil || !bs[0].H2C || addrs(bs)[0] != "10.244.0.5:8013" {
		t.Errorf("port by name http2: %v %v", bs, err)
	}
	if _, err := r.Resolve("default", "cold-00001", intstr.FromInt(80)); err == nil {
		t.Error("only not-ready endpoints: want an error")
	}
	if _, err := r.Resolve("default", "hello-00001", intstr.FromInt(8080)); err == nil {
		t.Error("unknown service port: want an error")
	}
	if _, err := r.Resolve("default", "missing", intstr.FromInt(80)); err == nil {
		t.Error("missing service: want an error")
	}
	bs, err = r.Resolve("default", "hello", intstr.FromInt(80))
	if err != nil || addrs(bs)[0] != "10.250.0.1:8081" {
		t.Errorf("ExternalName to a cluster Service should resolve to its endpoints: %v %v", bs, err)
	}
}

func TestControllerSyncMarksReadyAfterTableIsLive(t *testing.T) {
	const class = "kourier.ingress.networking.knative.dev"
	mine := helloIngress()
	mine.Annotations = map[string]string{networking.IngressClassAnnotationKey: class}
	other := kingress("other", rule(v1alpha1.IngressVisibilityExternalIP, []string{"other.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("x", 100, nil)}}))
	other.Annotations = map[string]string{networking.IngressClassAnnotationKey: "istio.ingress.networking.knative.dev"}

	client := netfake.NewSimpleClientset(mine, other)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	idx.Add(mine)
	idx.Add(other)
	router := NewRouter(fakeResolve{}.resolve, quietLog())
	// Ready must not be written before the rule is served: check the live table when the status update is sent.
	liveAtUpdate := false
	client.PrependReactor("update", "ingresses", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			r := httptest.NewRequest("GET", "/", nil)
			r.Host = "hello.default.example.com"
			liveAtUpdate = router.Table().Match(r, false) != nil
		}
		return false, nil, nil
	})
	c := &Controller{Class: class, PublicDomain: "kourier.kourier-system.svc.cluster.local",
		PrivateDomain: "kourier-internal.kourier-system.svc.cluster.local",
		Lister:        netlisters.NewIngressLister(idx), Client: client, Router: router, Log: quietLog()}
	if !c.Sync(context.Background()) {
		t.Fatal("sync reported a failure")
	}

	if !liveAtUpdate {
		t.Error("status was written before the routing table served the KIngress")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Host = "hello.default.example.com"
	if router.Table().Match(req, false) == nil {
		t.Error("own class not served")
	}
	req.Host = "other.example.com"
	if router.Table().Match(req, true) != nil {
		t.Error("another class's KIngress is served")
	}

	got, _ := client.NetworkingV1alpha1().Ingresses("default").Get(context.Background(), "hello", metav1.GetOptions{})
	if !got.IsReady() {
		t.Errorf("KIngress not Ready: %+v", got.Status)
	}
	if got.Status.ObservedGeneration != 3 {
		t.Errorf("observedGeneration %d", got.Status.ObservedGeneration)
	}
	for _, ct := range []apis.ConditionType{v1alpha1.IngressConditionNetworkConfigured, v1alpha1.IngressConditionLoadBalancerReady} {
		if cond := got.Status.GetCondition(ct); cond == nil || !cond.IsTrue() {
			t.Errorf("%s not true", ct)
		}
	}
	if lb := got.Status.PublicLoadBalancer; lb == nil || lb.Ingress[0].DomainInternal != "kourier.kourier-system.svc.cluster.local" {
		t.Errorf("public LB %+v", lb)
	}
	if lb := got.Status.PrivateLoadBalancer; lb == nil || lb.Ingress[0].DomainInternal != "kourier-internal.kourier-system.svc.cluster.local" {
		t.Errorf("private LB %+v", lb)
	}
	o, _ := client.NetworkingV1alpha1().Ingresses("default").Get(context.Background(), "other", metav1.GetOptions{})
	if len(o.Status.Conditions) != 0 {
		t.Errorf("another class's status was touched: %+v", o.Status)
	}

	// A second sync with the updated object writes nothing.
	idx.Update(got)
	n := len(client.Actions())
	c.Sync(context.Background())
	if len(client.Actions()) != n {
		t.Errorf("an unchanged KIngress was written again: %v", client.Actions()[n:])
	}
}
