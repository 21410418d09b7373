package main

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	kubefake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	netfake "knative.dev/networking/pkg/client/clientset/versioned/fake"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The whole program against fake API clients: informers -> table -> status -> proxy -> EndpointSlice backends,
// following a revision from no endpoints (503) to ready endpoints (200), a spec change and a deletion (404).
func TestServeEndToEnd(t *testing.T) {
	backend := echoBackend(t, "rev1")
	host, portStr, _ := net.SplitHostPort(addrOf(backend))
	bport, _ := strconv.Atoi(portStr)

	const class = "test.ingress.networking.knative.dev"
	ing := kingress("hello", rule(v1alpha1.IngressVisibilityExternalIP, []string{"hello.default.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("hello-00001", 100,
			map[string]string{"Knative-Serving-Namespace": "default", "Knative-Serving-Revision": "hello-00001"})}}))
	ing.Generation = 1
	ing.Annotations = map[string]string{networking.IngressClassAnnotationKey: class}
	kube := kubefake.NewClientset(service("default", "hello-00001",
		corev1.ServicePort{Name: "http", Port: 80, TargetPort: intstr.FromInt(bport)}))
	netc := netfake.NewSimpleClientset(ing)

	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	o := options{class: class, externalAddr: "127.0.0.1:0", internalAddr: "127.0.0.1:0",
		publicDomain: "pub.example", privateDomain: "priv.example", clusterDomain: "cluster.local"}
	go func() {
		done <- serve(ctx, o, quietLog(), kube, netc, func(e, i net.Addr) { addrs <- [2]net.Addr{e, i} })
	}()
	var ext string
	select {
	case a := <-addrs:
		ext = "http://" + a[0].String()
	case err := <-done:
		t.Fatalf("serve ended early: %v", err)
	}

	status := func(host, path string) int {
		req, _ := http.NewRequest("GET", ext+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	kingressReady := func(gen int64) func() bool {
		return func() bool {
			got, err := netc.NetworkingV1alpha1().Ingresses("default").Get(ctx, "hello", metav1.GetOptions{})
			return err == nil && got.IsReady() && got.Status.ObservedGeneration == gen
		}
	}

	eventually(t, "KIngress Ready at generation 1", kingressReady(1))
	if c := status("hello.default.example.com", "/"); c != 503 {
		t.Errorf("Ready KIngress without endpoints: status %d, want 503", c)
	}

	// The revision's endpoints appear (as the EndpointSlice mirroring of Knative's Endpoints would write them).
	es := slice("default", "hello-00001", "hello-00001-abc", map[string]int32{"http": int32(bport)}, endpoint(ptr.To(true), host))
	if _, err := kube.DiscoveryV1().EndpointSlices("default").Create(ctx, es, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "200 once the endpoint is ready", func() bool { return status("hello.default.example.com", "/") == 200 })
	_, body := get(t, http.DefaultClient, ext, "hello.default.example.com", "/x", nil)
	if e := decode(t, body); e.Header.Get("Knative-Serving-Revision") != "hello-00001" || e.Path != "/x" {
		t.Errorf("backend saw %+v", e)
	}

	// The endpoint goes not ready: 503 again.
	es.Endpoints[0].Conditions.Ready = ptr.To(false)
	if _, err := kube.DiscoveryV1().EndpointSlices("default").Update(ctx, es, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "503 once the endpoint is not ready", func() bool { return status("hello.default.example.com", "/") == 503 })
	es.Endpoints[0].Conditions.Ready = ptr.To(true)
	kube.DiscoveryV1().EndpointSlices("default").Update(ctx, es, metav1.UpdateOptions{})

	// A spec change: new host, new generation.
	cur, _ := netc.NetworkingV1alpha1().Ingresses("default").Get(ctx, "hello", metav1.GetOptions{})
	cur.Spec.Rules[0].Hosts = []string{"hello2.default.example.com"}
	cur.Generation = 2
	if _, err := netc.NetworkingV1alpha1().Ingresses("default").Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "KIngress Ready at generation 2", kingressReady(2))
	if c := status("hello2.default.example.com", "/"); c != 200 {
		t.Errorf("new host: %d", c)
	}
	if c := status("hello.default.example.com", "/"); c != 404 {
		t.Errorf("old host after the change: %d, want 404", c)
	}

	if err := netc.NetworkingV1alpha1().Ingresses("default").Delete(ctx, "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "404 after deletion", func() bool { return status("hello2.default.example.com", "/") == 404 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v on shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("serve did not return after cancel")
	}
}
