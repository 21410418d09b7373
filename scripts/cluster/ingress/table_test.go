package main

import (
	"math"
	"net/http/httptest"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
)

func split(name string, percent int, headers map[string]string) v1alpha1.IngressBackendSplit {
	return v1alpha1.IngressBackendSplit{
		IngressBackend: v1alpha1.IngressBackend{ServiceNamespace: "default", ServiceName: name, ServicePort: intstr.FromInt(80)},
		Percent:        percent,
		AppendHeaders:  headers,
	}
}

func kingress(name string, rules ...v1alpha1.IngressRule) *v1alpha1.Ingress {
	return &v1alpha1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 3},
		Spec:       v1alpha1.IngressSpec{Rules: rules},
	}
}

func rule(vis v1alpha1.IngressVisibility, hosts []string, paths ...v1alpha1.HTTPIngressPath) v1alpha1.IngressRule {
	return v1alpha1.IngressRule{Hosts: hosts, Visibility: vis, HTTP: &v1alpha1.HTTPIngressRuleValue{Paths: paths}}
}

// A KIngress as Knative Serving makes it for a ksvc "hello" with a tag "beta" and tag-header routing on.
func helloIngress() *v1alpha1.Ingress {
	rev1 := split("hello-00001", 90, map[string]string{"Knative-Serving-Namespace": "default", "Knative-Serving-Revision": "hello-00001"})
	rev2 := split("hello-00002", 10, map[string]string{"Knative-Serving-Namespace": "default", "Knative-Serving-Revision": "hello-00002"})
	beta := split("hello-00002", 100, map[string]string{"Knative-Serving-Namespace": "default", "Knative-Serving-Revision": "hello-00002"})
	return kingress("hello",
		rule(v1alpha1.IngressVisibilityClusterLocal, []string{"hello.default", "hello.default.svc", "hello.default.svc.cluster.local"},
			v1alpha1.HTTPIngressPath{Headers: map[string]v1alpha1.HeaderMatch{"knative-serving-tag": {Exact: "beta"}},
				AppendHeaders: map[string]string{"Knative-Serving-Tag": "beta"}, Splits: []v1alpha1.IngressBackendSplit{beta}},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{rev1, rev2}}),
		rule(v1alpha1.IngressVisibilityExternalIP, []string{"hello.default.example.com"},
			v1alpha1.HTTPIngressPath{Path: "/api", AppendHeaders: map[string]string{"Knative-Serving-Tag": "beta"},
				Splits: []v1alpha1.IngressBackendSplit{beta}},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{rev1, rev2}}),
		rule(v1alpha1.IngressVisibilityClusterLocal, []string{"beta-hello.default.svc.cluster.local"},
			v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{beta}}),
	)
}

func match(t *Table, internal bool, target, host string, hdr map[string]string) *Route {
	r := httptest.NewRequest("GET", target, nil)
	r.Host = host
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	return t.Match(r, internal)
}

func TestVisibility(t *testing.T) {
	tbl := BuildTable([]*v1alpha1.Ingress{helloIngress()})
	cases := []struct {
		host     string
		internal bool
		want     bool
	}{
		{"hello.default.example.com", false, true},
		{"hello.default.example.com", true, true}, // ExternalIP rules are served on the internal listener too
		{"hello.default.svc.cluster.local", false, false},
		{"hello.default.svc.cluster.local", true, true},
		{"hello.default.svc", true, true}, // short forms, listed by Serving
		{"hello.default", true, true},
		{"hello.default", false, false},
		{"beta-hello.default.svc.cluster.local", true, true},
		{"beta-hello.default", true, false}, // hosts are served as listed, not expanded (as in Kourier)
		{"unknown.example.com", false, false},
		{"unknown.example.com", true, false},
	}
	for _, c := range cases {
		got := match(tbl, c.internal, "/", c.host, nil) != nil
		if got != c.want {
			t.Errorf("host %s internal=%v: matched=%v, want %v", c.host, c.internal, got, c.want)
		}
	}
}

func TestHostNormalisation(t *testing.T) {
	tbl := BuildTable([]*v1alpha1.Ingress{helloIngress()})
	for _, h := range []string{"hello.default.example.com:8080", "HELLO.default.Example.com", "hello.default.example.com.", "hello.default.example.com.:80"} {
		if match(tbl, false, "/", h, nil) == nil {
			t.Errorf("host %q did not match hello.default.example.com", h)
		}
	}
}

func TestPathAndHeaderMatching(t *testing.T) {
	tbl := BuildTable([]*v1alpha1.Ingress{helloIngress()})
	ext := "hello.default.example.com"
	if r := match(tbl, false, "/api/v1?x=1", ext, nil); r == nil || r.PathPrefix != "/api" {
		t.Fatalf("/api/v1 should take the /api route, got %+v", r)
	}
	if r := match(tbl, false, "/other", ext, nil); r == nil || r.PathPrefix != "/" || len(r.Splits) != 2 {
		t.Fatalf("/other should take the catch-all route, got %+v", r)
	}
	local := "hello.default.svc.cluster.local"
	if r := match(tbl, true, "/", local, map[string]string{"Knative-Serving-Tag": "beta"}); r == nil || len(r.Splits) != 1 || r.Splits[0].Service != "hello-00002" {
		t.Fatalf("tag header should select the tag route, got %+v", r)
	}
	if r := match(tbl, true, "/", local, map[string]string{"Knative-Serving-Tag": "gamma"}); r == nil || len(r.Splits) != 2 {
		t.Fatalf("an unknown tag value should fall through to the default route, got %+v", r)
	}
	if r := match(tbl, true, "/", local, nil); r == nil || len(r.Splits) != 2 {
		t.Fatalf("no tag header should take the default route, got %+v", r)
	}
}

func TestEmptyExactHeaderMeansPresent(t *testing.T) {
	ing := kingress("p", rule(v1alpha1.IngressVisibilityExternalIP, []string{"p.example.com"},
		v1alpha1.HTTPIngressPath{Headers: map[string]v1alpha1.HeaderMatch{"X-Debug": {}}, Splits: []v1alpha1.IngressBackendSplit{split("debug", 100, nil)}},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("main", 100, nil)}}))
	tbl := BuildTable([]*v1alpha1.Ingress{ing})
	if r := match(tbl, false, "/", "p.example.com", map[string]string{"X-Debug": "anything"}); r == nil || r.Splits[0].Service != "debug" {
		t.Errorf("present header should match an empty exact value, got %+v", r)
	}
	if r := match(tbl, false, "/", "p.example.com", nil); r == nil || r.Splits[0].Service != "main" {
		t.Errorf("absent header should fall through, got %+v", r)
	}
}

func TestFirstRuleWinsAndWildcards(t *testing.T) {
	a := kingress("a", rule(v1alpha1.IngressVisibilityExternalIP, []string{"*.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("wild", 100, nil)}}))
	b := kingress("b", rule(v1alpha1.IngressVisibilityExternalIP, []string{"x.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("exact", 0, nil)}}))
	tbl := BuildTable([]*v1alpha1.Ingress{b, a})
	if r := match(tbl, false, "/", "x.example.com", nil); r == nil || r.Splits[0].Service != "exact" {
		t.Errorf("exact host should win over the wildcard, got %+v", r)
	}
	if r := match(tbl, false, "/", "y.example.com", nil); r == nil || r.Splits[0].Service != "wild" {
		t.Errorf("wildcard host should match y.example.com, got %+v", r)
	}
	if r := match(tbl, false, "/", "example.org", nil); r != nil {
		t.Errorf("example.org should not match, got %+v", r)
	}
	// A single split without a percent carries all the traffic.
	if r := match(tbl, false, "/", "x.example.com", nil); r.Pick().Service != "exact" {
		t.Error("single split with percent 0 should be picked")
	}
	if tbl.ready["default/a"] != 3 || tbl.ready["default/b"] != 3 {
		t.Errorf("table should record the generations it serves, got %v", tbl.ready)
	}
}

func TestSplitDistribution(t *testing.T) {
	tbl := BuildTable([]*v1alpha1.Ingress{helloIngress()})
	r := match(tbl, false, "/", "hello.default.example.com", nil)
	const n = 20000
	counts := map[string]int{}
	for range n {
		counts[r.Pick().Service]++
	}
	// 10% of 20000: mean 2000, sd sqrt(n p (1-p)) = 42; allow 5 sd.
	if got := counts["hello-00002"]; math.Abs(float64(got)-2000) > 5*42 {
		t.Errorf("hello-00002 got %d of %d picks, want about 2000 (10%%)", got, n)
	}
	if counts["hello-00001"]+counts["hello-00002"] != n {
		t.Errorf("picks went elsewhere: %v", counts)
	}
}

func TestZeroPercentSplitNeverPicked(t *testing.T) {
	ing := kingress("z", rule(v1alpha1.IngressVisibilityExternalIP, []string{"z.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("never", 0, nil), split("always", 100, nil)}}))
	r := match(BuildTable([]*v1alpha1.Ingress{ing}), false, "/", "z.example.com", nil)
	for range 2000 {
		if s := r.Pick().Service; s != "always" {
			t.Fatalf("picked %s", s)
		}
	}
}
