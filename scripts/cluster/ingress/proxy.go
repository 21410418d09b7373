package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// ResolveFunc returns the ready endpoints of a split's Service port (Resolver.Resolve in production).
type ResolveFunc func(namespace, name string, port intstr.IntOrString) ([]Backend, error)

// Router holds the live routing table and proxies requests through it.
type Router struct {
	table   atomic.Pointer[Table]
	resolve ResolveFunc
	log     *slog.Logger
	http1   *httputil.ReverseProxy
	h2c     *httputil.ReverseProxy
}

type ctxKey struct{}

type target struct {
	backend Backend
	route   *Route
	split   *Split
}

// NewRouter returns a router with an empty table (every host 404) and two upstream transports: HTTP/1.1 (with
// Upgrade, hence websockets) and HTTP/2 with prior knowledge for h2c ports.
func NewRouter(resolve ResolveFunc, log *slog.Logger) *Router {
	rt := &Router{resolve: resolve, log: log}
	rt.table.Store(BuildTable(nil))
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	h1 := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          1000,
		MaxIdleConnsPerHost:   100,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		Protocols:             new(http.Protocols),
	}
	h1.Protocols.SetHTTP1(true)
	h2 := &http.Transport{
		DialContext:     dialer.DialContext,
		IdleConnTimeout: 90 * time.Second,
		Protocols:       new(http.Protocols),
	}
	h2.Protocols.SetUnencryptedHTTP2(true)
	rt.http1 = rt.newReverseProxy(h1)
	rt.h2c = rt.newReverseProxy(h2)
	return rt
}

func (rt *Router) newReverseProxy(tr http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport:     tr,
		FlushInterval: -1, // flush after every write: responses stream, nothing is buffered
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(ctxKey{}).(*target)
			pr.SetURL(&url.URL{Scheme: "http", Host: t.backend.Addr})
			pr.Out.Host = pr.In.Host // SetURL put the endpoint address there; the backend sees the client's host
			if t.route.RewriteHost != "" {
				pr.Out.Host = t.route.RewriteHost
			}
			pr.SetXForwarded()
			for k, v := range t.route.AppendHeaders {
				pr.Out.Header.Set(k, v)
			}
			for k, v := range t.split.AppendHeaders {
				pr.Out.Header.Set(k, v)
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			t := r.Context().Value(ctxKey{}).(*target)
			if errors.Is(err, context.Canceled) {
				rt.log.Debug("client went away", "host", r.Host, "path", r.URL.Path, "backend", t.backend.Addr)
				w.WriteHeader(499) // not seen by the client; keeps access logs honest
				return
			}
			rt.log.Warn("upstream request failed", "host", r.Host, "path", r.URL.Path, "ingress", t.route.Ingress,
				"service", t.split.Namespace+"/"+t.split.Service, "backend", t.backend.Addr, "err", err)
			http.Error(w, "upstream connect error or disconnect/reset before headers: "+err.Error(), http.StatusBadGateway)
		},
	}
}

// SetTable makes t the live routing table.
func (rt *Router) SetTable(t *Table) { rt.table.Store(t) }

// Table returns the live routing table.
func (rt *Router) Table() *Table { return rt.table.Load() }

// Handler serves one listener: internal=false is the external listener (ExternalIP rules only), internal=true the
// cluster-local one (ExternalIP and ClusterLocal rules).
func (rt *Router) Handler(internal bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := rt.table.Load().Match(r, internal)
		if route == nil {
			http.Error(w, "no KIngress rule for host "+NormalizeHost(r.Host)+" and this path/headers on this listener", http.StatusNotFound)
			return
		}
		split := route.Pick()
		if split == nil {
			http.Error(w, "KIngress "+route.Ingress+" has a path without splits", http.StatusServiceUnavailable)
			return
		}
		backends, err := rt.resolve(split.Namespace, split.Service, split.Port)
		if err != nil {
			rt.log.Info("no backend", "host", r.Host, "ingress", route.Ingress, "err", err)
			http.Error(w, "no healthy upstream: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		t := &target{backend: pickBackend(backends), route: route, split: split}
		rp := rt.http1
		if t.backend.H2C {
			rp = rt.h2c
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, t)))
	})
}

// NewServer returns an HTTP server for one listener that accepts HTTP/1.1 and HTTP/2 without TLS (prior knowledge).
func NewServer(addr string, h http.Handler) *http.Server {
	s := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 30 * time.Second, Protocols: new(http.Protocols)}
	s.Protocols.SetHTTP1(true)
	s.Protocols.SetUnencryptedHTTP2(true)
	return s
}
