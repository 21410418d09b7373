package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestProbeCounter(t *testing.T) {
	var c probeCounter
	r := false
	// successThreshold 2: one success is not enough.
	if r = c.observe(true, 2, 3, r); r {
		t.Fatal("ready after one success with successThreshold 2")
	}
	if r = c.observe(true, 2, 3, r); !r {
		t.Fatal("not ready after two successes")
	}
	// failureThreshold 3: two failures keep it ready, the third flips it.
	r = c.observe(false, 2, 3, r)
	r = c.observe(false, 2, 3, r)
	if !r {
		t.Fatal("not ready after two failures with failureThreshold 3")
	}
	// A success in between resets the failure count.
	r = c.observe(true, 2, 3, r)
	r = c.observe(false, 2, 3, r)
	r = c.observe(false, 2, 3, r)
	if !r {
		t.Fatal("failure count was not reset by a success")
	}
	if r = c.observe(false, 2, 3, r); r {
		t.Fatal("still ready after three failures")
	}
	// Zero thresholds behave as 1.
	var z probeCounter
	if !z.observe(true, 0, 0, false) || z.observe(false, 0, 0, true) {
		t.Error("zero thresholds")
	}
}

func hostPort(t *testing.T, raw string) (string, int) {
	u, _ := url.Parse(raw)
	h, p, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return h, n
}

func TestHTTPProbe(t *testing.T) {
	var got http.Header
	var gotHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, gotHost = r.Header.Clone(), r.Host
		if r.Header.Get("K-Network-Probe") != "queue" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	ip, port := hostPort(t, srv.URL)
	c := &corev1.Container{Name: "queue-proxy", Ports: []corev1.ContainerPort{{Name: "queue-port", ContainerPort: int32(port)}}}
	h := &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("queue-port"),
		HTTPHeaders: []corev1.HTTPHeader{{Name: "K-Network-Probe", Value: "queue"}, {Name: "Host", Value: "probe.example"}}}
	ok, msg := doHTTPGet(context.Background(), h, ip, c, probeUserAgent, time.Second)
	if !ok {
		t.Fatalf("probe failed: %s", msg)
	}
	if got.Get("User-Agent") != "kube-probe/1.35" || got.Get("K-Network-Probe") != "queue" || gotHost != "probe.example" {
		t.Errorf("headers: %v host %q", got, gotHost)
	}
	h.Path = "/redirect"
	if ok, msg := doHTTPGet(context.Background(), h, ip, c, probeUserAgent, time.Second); !ok {
		t.Errorf("a redirect counts as success: %s", msg)
	}
	h.HTTPHeaders = nil
	if ok, _ := doHTTPGet(context.Background(), h, ip, c, probeUserAgent, time.Second); ok {
		t.Error("a 503 must fail the probe")
	}
	h.Port = intstr.FromString("nope")
	if ok, _ := doHTTPGet(context.Background(), h, ip, c, probeUserAgent, time.Second); ok {
		t.Error("an unknown port name must fail")
	}
}

func TestHTTPSProbeSkipsVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }))
	defer srv.Close()
	ip, port := hostPort(t, srv.URL)
	h := &corev1.HTTPGetAction{Scheme: corev1.URISchemeHTTPS, Port: intstr.FromInt(port)}
	if ok, msg := doHTTPGet(context.Background(), h, ip, &corev1.Container{}, probeUserAgent, time.Second); !ok {
		t.Errorf("https probe against a self-signed server failed: %s", msg)
	}
}

func TestTCPAndExecHandlers(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	h := corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(port)}}
	if ok, msg := runHandler(context.Background(), h, "127.0.0.1", &corev1.Container{}, probeUserAgent, time.Second, nil); !ok {
		t.Errorf("tcp: %s", msg)
	}
	l.Close()
	if ok, _ := runHandler(context.Background(), h, "127.0.0.1", &corev1.Container{}, probeUserAgent, time.Second, nil); ok {
		t.Error("tcp to a closed port must fail")
	}
	exec := func(_ context.Context, cmd []string) (string, int, error) {
		if cmd[0] == "ok" {
			return "", 0, nil
		}
		return "boom", 2, nil
	}
	if ok, _ := runHandler(context.Background(), corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"ok"}}}, "", nil, "", time.Second, exec); !ok {
		t.Error("exec exit 0 must succeed")
	}
	if ok, msg := runHandler(context.Background(), corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"bad"}}}, "", nil, "", time.Second, exec); ok || msg == "" {
		t.Error("exec exit 2 must fail with a message")
	}
	if ok, _ := runHandler(context.Background(), corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 1}}, "", nil, "", time.Second, exec); ok {
		t.Error("grpc is not implemented and must not pass")
	}
}

func TestShouldRestart(t *testing.T) {
	if !shouldRestart(corev1.RestartPolicyAlways, 0) || !shouldRestart("", 0) {
		t.Error("Always restarts after exit 0")
	}
	if shouldRestart(corev1.RestartPolicyOnFailure, 0) || !shouldRestart(corev1.RestartPolicyOnFailure, 1) {
		t.Error("OnFailure")
	}
	if shouldRestart(corev1.RestartPolicyNever, 1) {
		t.Error("Never")
	}
}
