package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/networking/pkg/ingress"
)

// echo is what the test backends answer: the request as they saw it.
type echo struct {
	Backend string
	Proto   string
	Host    string
	Path    string
	Header  http.Header
}

func echoBackend(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(echo{Backend: name, Proto: r.Proto, Host: r.Host, Path: r.URL.Path, Header: r.Header})
	}))
	t.Cleanup(s.Close)
	return s
}

func addrOf(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

// fakeResolve maps service names to backends; a missing name has no ready endpoints.
type fakeResolve map[string][]Backend

func (f fakeResolve) resolve(ns, name string, port intstr.IntOrString) ([]Backend, error) {
	if bs := f[name]; len(bs) > 0 {
		return bs, nil
	}
	return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s port %s has no ready endpoints", ns, name, port.String())}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startIngress serves the given KIngresses on an external and an internal test listener.
func startIngress(t *testing.T, res fakeResolve, ings ...*v1alpha1.Ingress) (ext, internal *httptest.Server) {
	rt := NewRouter(res.resolve, quietLog())
	rt.SetTable(BuildTable(ings))
	start := func(h http.Handler) *httptest.Server {
		s := httptest.NewUnstartedServer(h)
		s.Config = NewServer("", h)
		s.Start()
		t.Cleanup(s.Close)
		return s
	}
	return start(rt.Handler(false)), start(rt.Handler(true))
}

func get(t *testing.T, c *http.Client, base, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+path, nil)
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s%s (Host %s): %v", base, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func decode(t *testing.T, body string) echo {
	t.Helper()
	var e echo
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	return e
}

func TestProxyAppendHeadersHostAndVisibility(t *testing.T) {
	b1, b2 := echoBackend(t, "rev1"), echoBackend(t, "rev2")
	ext, internal := startIngress(t, fakeResolve{
		"hello-00001": {{Addr: addrOf(b1)}},
		"hello-00002": {{Addr: addrOf(b2)}},
	}, helloIngress())

	resp, body := get(t, http.DefaultClient, ext.URL, "hello.default.example.com:80", "/api/x?q=1", map[string]string{
		"Knative-Serving-Revision": "spoofed"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	e := decode(t, body)
	if e.Backend != "rev2" || e.Path != "/api/x" {
		t.Errorf("/api should go to rev2 with the path kept, got %+v", e)
	}
	if e.Host != "hello.default.example.com:80" {
		t.Errorf("backend should see the client's Host, got %q", e.Host)
	}
	if got := e.Header.Values("Knative-Serving-Revision"); len(got) != 1 || got[0] != "hello-00002" {
		t.Errorf("split appendHeaders should replace the client's value, got %v", got)
	}
	if got := e.Header.Get("Knative-Serving-Tag"); got != "beta" {
		t.Errorf("path appendHeaders: Knative-Serving-Tag = %q", got)
	}
	if got := e.Header.Get("Knative-Serving-Namespace"); got != "default" {
		t.Errorf("Knative-Serving-Namespace = %q", got)
	}
	if e.Header.Get("X-Forwarded-For") == "" {
		t.Error("X-Forwarded-For missing")
	}

	// Path-level appendHeaders (tag header route) on the internal listener only.
	_, body = get(t, http.DefaultClient, internal.URL, "hello.default.svc.cluster.local", "/", map[string]string{"Knative-Serving-Tag": "beta"})
	if e := decode(t, body); e.Backend != "rev2" || e.Header.Get("Knative-Serving-Tag") != "beta" {
		t.Errorf("tag route: %+v", e)
	}
	if resp, body := get(t, http.DefaultClient, ext.URL, "hello.default.svc.cluster.local", "/", nil); resp.StatusCode != 404 {
		t.Errorf("a cluster-local host on the external listener should be 404, got %d %s", resp.StatusCode, body)
	}
}

// The probe routes of knative.dev/networking: K-Network-Hash: override is replaced by the KIngress's hash, any
// other value passes through (what the conformance test headers/probe checks).
func TestProxyProbeHash(t *testing.T) {
	b := echoBackend(t, "rev1")
	ing := helloIngress()
	ext, _ := startIngress(t, fakeResolve{"hello-00001": {{Addr: addrOf(b)}}, "hello-00002": {{Addr: addrOf(b)}}}, ing)
	sum, err := ingress.ComputeHash(ing)
	if err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(sum[:])
	_, body := get(t, http.DefaultClient, ext.URL, "hello.default.example.com", "/", map[string]string{"K-Network-Probe": "probe", "K-Network-Hash": "override"})
	if got := decode(t, body).Header.Get("K-Network-Hash"); got != want {
		t.Errorf("K-Network-Hash = %q, want the KIngress hash %q", got, want)
	}
	_, body = get(t, http.DefaultClient, ext.URL, "hello.default.example.com", "/", map[string]string{"K-Network-Probe": "probe", "K-Network-Hash": "abc"})
	if got := decode(t, body).Header.Get("K-Network-Hash"); got != "abc" {
		t.Errorf("K-Network-Hash = %q, want the client's abc", got)
	}
}

func TestProxyRewriteHost(t *testing.T) {
	b := echoBackend(t, "b")
	ing := kingress("dm", rule(v1alpha1.IngressVisibilityExternalIP, []string{"app.example.com"},
		v1alpha1.HTTPIngressPath{RewriteHost: "hello.default.svc.cluster.local", Splits: []v1alpha1.IngressBackendSplit{split("hello", 100, nil)}}))
	ext, _ := startIngress(t, fakeResolve{"hello": {{Addr: addrOf(b)}}}, ing)
	_, body := get(t, http.DefaultClient, ext.URL, "app.example.com", "/", nil)
	if e := decode(t, body); e.Host != "hello.default.svc.cluster.local" {
		t.Errorf("rewriteHost: backend saw Host %q", e.Host)
	}
}

func TestProxy404And503(t *testing.T) {
	ing := kingress("cold", rule(v1alpha1.IngressVisibilityExternalIP, []string{"cold.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("cold-00001", 100, nil)}}))
	ext, _ := startIngress(t, fakeResolve{}, ing)
	if resp, body := get(t, http.DefaultClient, ext.URL, "nobody.example.com", "/", nil); resp.StatusCode != 404 || !strings.Contains(body, "nobody.example.com") {
		t.Errorf("unknown host: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, http.DefaultClient, ext.URL, "cold.example.com", "/", nil); resp.StatusCode != 503 || !strings.Contains(body, "no ready endpoints") {
		t.Errorf("no endpoints: %d %q", resp.StatusCode, body)
	}
}

func TestProxyUpstreamDown502(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	ing := kingress("dead", rule(v1alpha1.IngressVisibilityExternalIP, []string{"dead.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("dead", 100, nil)}}))
	ext, _ := startIngress(t, fakeResolve{"dead": {{Addr: dead}}}, ing)
	if resp, body := get(t, http.DefaultClient, ext.URL, "dead.example.com", "/", nil); resp.StatusCode != 502 {
		t.Errorf("refused upstream: %d %q", resp.StatusCode, body)
	}
}

// The first bytes must reach the client while the backend is still writing (no buffering), both for a chunked
// response and for one with a Content-Length (which net/http/httputil would otherwise buffer).
func TestProxyStreams(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("content-length=%v", fixed), func(t *testing.T) {
			release := make(chan struct{})
			b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-ndjson")
				if fixed {
					w.Header().Set("Content-Length", "25")
				}
				fmt.Fprint(w, "{\"n\":1}\n")
				w.(http.Flusher).Flush()
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				fmt.Fprint(w, "{\"n\":2, \"end\":1}\n")
			}))
			defer b.Close()
			defer close(release)
			ing := kingress("stream", rule(v1alpha1.IngressVisibilityExternalIP, []string{"stream.example.com"},
				v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("stream", 100, nil)}}))
			ext, _ := startIngress(t, fakeResolve{"stream": {{Addr: addrOf(b)}}}, ing)

			// The request and the first read both run under the deadline: without flushing, even the response
			// headers stay in the proxy's buffer until the backend finishes.
			line := make(chan string, 1)
			go func() {
				req, _ := http.NewRequest("GET", ext.URL+"/", nil)
				req.Host = "stream.example.com"
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					line <- "error: " + err.Error()
					return
				}
				defer resp.Body.Close()
				l, _ := bufio.NewReader(resp.Body).ReadString('\n')
				line <- l
			}()
			select {
			case l := <-line:
				if l != "{\"n\":1}\n" {
					t.Errorf("first line %q", l)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("first line did not arrive while the backend was still writing: the proxy buffers")
			}
		})
	}
}

func TestProxyWebsocket(t *testing.T) {
	up := websocket.Upgrader{}
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			c.WriteMessage(mt, append([]byte("echo:"), msg...))
		}
	}))
	defer b.Close()
	ing := kingress("ws", rule(v1alpha1.IngressVisibilityExternalIP, []string{"ws.example.com"},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("ws", 100, nil)}}))
	ext, _ := startIngress(t, fakeResolve{"ws": {{Addr: addrOf(b)}}}, ing)

	u, _ := url.Parse(ext.URL)
	d := websocket.Dialer{NetDial: func(network, _ string) (net.Conn, error) { return net.Dial(network, u.Host) }}
	c, resp, err := d.Dial("ws://ws.example.com/socket", nil)
	if err != nil {
		t.Fatalf("websocket dial through the ingress: %v (response %v)", err, resp)
	}
	defer c.Close()
	for _, m := range []string{"one", "two"} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, got, err := c.ReadMessage()
		if err != nil || string(got) != "echo:"+m {
			t.Fatalf("round trip %q: got %q, %v", m, got, err)
		}
	}
}

func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr}
}

// h2c towards the ingress (prior knowledge), HTTP/1.1 or h2c towards the backend depending on the port.
func TestProxyH2C(t *testing.T) {
	h1 := echoBackend(t, "h1")
	h2 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(echo{Backend: "h2", Proto: r.Proto, Host: r.Host, Header: r.Header})
	}))
	h2.Config.Protocols = new(http.Protocols)
	h2.Config.Protocols.SetUnencryptedHTTP2(true)
	h2.Start()
	defer h2.Close()
	ing := kingress("grpc", rule(v1alpha1.IngressVisibilityExternalIP, []string{"grpc.example.com"},
		v1alpha1.HTTPIngressPath{Path: "/h1", Splits: []v1alpha1.IngressBackendSplit{split("h1", 100, nil)}},
		v1alpha1.HTTPIngressPath{Splits: []v1alpha1.IngressBackendSplit{split("h2", 100, map[string]string{"Knative-Serving-Revision": "grpc-00001"})}}))
	ext, _ := startIngress(t, fakeResolve{"h1": {{Addr: addrOf(h1)}}, "h2": {{Addr: addrOf(h2), H2C: true}}}, ing)

	resp, body := get(t, h2cClient(), ext.URL, "grpc.example.com", "/", nil)
	if resp.ProtoMajor != 2 {
		t.Errorf("client to ingress should be HTTP/2, got %s", resp.Proto)
	}
	if e := decode(t, body); e.Proto != "HTTP/2.0" || e.Host != "grpc.example.com" || e.Header.Get("Knative-Serving-Revision") != "grpc-00001" {
		t.Errorf("h2c backend saw %+v", e)
	}
	resp, body = get(t, h2cClient(), ext.URL, "grpc.example.com", "/h1", nil)
	if e := decode(t, body); resp.ProtoMajor != 2 || e.Proto != "HTTP/1.1" {
		t.Errorf("h2 client to an HTTP/1 backend: client %s, backend %s", resp.Proto, e.Proto)
	}
}
