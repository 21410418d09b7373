package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	probeUserAgent     = "kube-probe/1.35"
	lifecycleUserAgent = "kube-lifecycle/1.35"
)

// probeCounter turns single probe outcomes into a result the way the kubelet does: the result
// changes only after successThreshold consecutive successes or failureThreshold consecutive failures.
type probeCounter struct {
	successes, failures int32
}

func (pc *probeCounter) observe(ok bool, successThreshold, failureThreshold int32, current bool) bool {
	successThreshold = max(successThreshold, 1)
	failureThreshold = max(failureThreshold, 1)
	if ok {
		pc.successes++
		pc.failures = 0
		if pc.successes >= successThreshold {
			return true
		}
		return current
	}
	pc.failures++
	pc.successes = 0
	if pc.failures >= failureThreshold {
		return false
	}
	return current
}

// resolvePort turns a probe's port (a number or a container port name) into a number.
func resolvePort(p intstr.IntOrString, c *corev1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port %d", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("container %q has no port named %q", c.Name, p.StrVal)
}

// probeRequest builds the request of an httpGet probe or hook: the spec's headers are passed
// through (Knative's queue-proxy needs K-Network-Probe), a Host header sets the request's host.
func probeRequest(ctx context.Context, h *corev1.HTTPGetAction, podIP string, c *corev1.Container, ua string) (*http.Request, error) {
	port, err := resolvePort(h.Port, c)
	if err != nil {
		return nil, err
	}
	host := h.Host
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(string(h.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if path == "" || path[0] != '/' {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return nil, fmt.Errorf("probe URL: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set("Accept", "*/*")
	for _, hh := range h.HTTPHeaders {
		if strings.EqualFold(hh.Name, "Host") {
			req.Host = hh.Value
			continue
		}
		req.Header.Set(hh.Name, hh.Value)
	}
	return req, nil
}

// doHTTPGet performs an httpGet probe or hook. HTTPS is not verified (the kubelet does not
// either). Redirects are not followed; 2xx and 3xx count as success.
func doHTTPGet(ctx context.Context, h *corev1.HTTPGetAction, podIP string, c *corev1.Container, ua string, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := probeRequest(ctx, h, podIP, c, ua)
	if err != nil {
		return false, err.Error()
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // kubelet probes skip verification too
		DisableKeepAlives: true,
		Proxy:             nil,
	}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10*1024))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return true, ""
	}
	return false, fmt.Sprintf("HTTP probe failed with statuscode: %d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

func doTCP(ctx context.Context, t *corev1.TCPSocketAction, podIP string, c *corev1.Container, timeout time.Duration) (bool, string) {
	port, err := resolvePort(t.Port, c)
	if err != nil {
		return false, err.Error()
	}
	host := t.Host
	if host == "" {
		host = podIP
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false, err.Error()
	}
	_ = conn.Close()
	return true, ""
}

// execFunc runs a command in a container's context (its pod's network namespace, mounts and
// environment) and returns its combined output and exit code.
type execFunc func(ctx context.Context, cmd []string) (output string, exitCode int, err error)

// runHandler runs one probe or lifecycle handler once.
func runHandler(ctx context.Context, h corev1.ProbeHandler, podIP string, c *corev1.Container, ua string, timeout time.Duration, exec execFunc) (bool, string) {
	switch {
	case h.HTTPGet != nil:
		return doHTTPGet(ctx, h.HTTPGet, podIP, c, ua, timeout)
	case h.TCPSocket != nil:
		return doTCP(ctx, h.TCPSocket, podIP, c, timeout)
	case h.Exec != nil:
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, code, err := exec(ctx, h.Exec.Command)
		if err != nil {
			return false, err.Error()
		}
		if code != 0 {
			return false, fmt.Sprintf("command exited with %d: %s", code, strings.TrimSpace(out))
		}
		return true, ""
	case h.GRPC != nil:
		return false, "grpc probes are not implemented by kfn-agent; use httpGet, tcpSocket or exec"
	}
	return false, "probe has no handler"
}

func probeTimeout(p *corev1.Probe) time.Duration {
	if p.TimeoutSeconds <= 0 {
		return time.Second
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

func probePeriod(p *corev1.Probe) time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}
