package main

import (
	"strings"
	"testing"
)

func TestRenderHosts(t *testing.T) {
	svcs := []service{
		{Name: "autoscaler", Namespace: "knative-serving", ClusterIP: "10.96.0.20"},
		{Name: "hello-00001", Namespace: "default", ClusterIP: "10.96.0.30"},
		{Name: "kourier-internal", Namespace: "kourier-system", ClusterIP: "10.96.0.40"},
		// Knative's route Service: ExternalName to the cluster-local ingress.
		{Name: "hello", Namespace: "default", ExternalName: "kourier-internal.kourier-system.svc.cluster.local"},
		{Name: "ext", Namespace: "default", ExternalName: "example.com"},
		{Name: "hl", Namespace: "default", ClusterIP: "None", Endpoints: []endpoint{{IP: "10.244.0.9", Hostname: "web-0"}, {IP: "10.244.0.8"}}},
	}
	got := renderHosts(hostsPod{Namespace: "default", Name: "hello-00001-deployment-abc", IP: "10.244.0.5"}, "cluster.local", svcs)
	for _, line := range []string{
		"127.0.0.1\tlocalhost",
		"10.244.0.5\thello-00001-deployment-abc",
		"10.96.0.20\tautoscaler.knative-serving.svc.cluster.local autoscaler.knative-serving.svc autoscaler.knative-serving\n",
		"10.96.0.30\thello-00001.default.svc.cluster.local hello-00001.default.svc hello-00001.default hello-00001\n",
		"10.96.0.40\thello.default.svc.cluster.local hello.default.svc hello.default hello\n",
		"10.244.0.8\thl.default.svc.cluster.local",
		"10.244.0.9\tweb-0.hl.default.svc.cluster.local\n",
	} {
		if !strings.Contains(got, line) {
			t.Errorf("hosts file lacks %q:\n%s", line, got)
		}
	}
	if strings.Contains(got, "ext.default") {
		t.Errorf("an ExternalName outside the cluster must not appear:\n%s", got)
	}
	// The short name only resolves in the pod's own namespace.
	if strings.Contains(got, "autoscaler.knative-serving autoscaler\n") {
		t.Errorf("short name of another namespace's Service:\n%s", got)
	}
	// Same input in another order gives the same bytes (no rewrite when nothing changed).
	rev := append([]service(nil), svcs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if again := renderHosts(hostsPod{Namespace: "default", Name: "hello-00001-deployment-abc", IP: "10.244.0.5"}, "cluster.local", rev); again != got {
		t.Errorf("output depends on input order")
	}
}

func TestClusterTarget(t *testing.T) {
	for in, want := range map[string][2]string{
		"kourier-internal.kourier-system.svc.cluster.local":  {"kourier-internal", "kourier-system"},
		"kourier-internal.kourier-system.svc.cluster.local.": {"kourier-internal", "kourier-system"},
		"a.b.svc": {"a", "b"},
		"a.b":     {"a", "b"},
	} {
		n, ns, ok := clusterTarget(in, "cluster.local")
		if !ok || n != want[0] || ns != want[1] {
			t.Errorf("clusterTarget(%q) = %q %q %v", in, n, ns, ok)
		}
	}
	if _, _, ok := clusterTarget("www.example.com", "cluster.local"); ok {
		t.Error("www.example.com is not a cluster Service")
	}
}

func TestRenderResolvConf(t *testing.T) {
	got := renderResolvConf("default", "cluster.local", "")
	want := "nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n"
	if got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
