package main

import (
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/intstr"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	"knative.dev/networking/pkg/ingress"
)

// Split is one weighted backend of a route: a Service port plus the headers to set on requests sent to it.
type Split struct {
	Namespace     string
	Service       string
	Port          intstr.IntOrString
	Percent       int
	AppendHeaders map[string]string
}

// Route is one HTTPIngressPath of a KIngress rule, compiled for matching.
type Route struct {
	Ingress       string // namespace/name of the KIngress, for logs
	PathPrefix    string
	Headers       map[string]string // canonical header name -> exact value
	RewriteHost   string
	AppendHeaders map[string]string
	Splits        []Split
	total         int // sum of the split weights used by Pick
}

// Table is an immutable routing table; a new one is built on every KIngress change and swapped in atomically.
type Table struct {
	external hostRoutes // ExternalIP rules
	internal hostRoutes // ExternalIP and ClusterLocal rules
	// ready lists the KIngresses (namespace/name -> generation) whose rules this table serves.
	ready map[string]int64
}

// hostRoutes maps a lower-case host to its routes in KIngress order; wildcard hosts ("*.example.com", "*")
// are kept apart and matched by longest suffix.
type hostRoutes struct {
	exact    map[string][]*Route
	wildcard map[string][]*Route // key: suffix including the leading dot, or "" for "*"
}

func newHostRoutes() hostRoutes {
	return hostRoutes{exact: map[string][]*Route{}, wildcard: map[string][]*Route{}}
}

func (h hostRoutes) add(host string, r *Route) {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	switch {
	case host == "*":
		h.wildcard[""] = append(h.wildcard[""], r)
	case strings.HasPrefix(host, "*."):
		h.wildcard[host[1:]] = append(h.wildcard[host[1:]], r)
	default:
		h.exact[host] = append(h.exact[host], r)
	}
}

func (h hostRoutes) lookup(host string) []*Route {
	if rs, ok := h.exact[host]; ok {
		return rs
	}
	best, found := "", false
	for suffix := range h.wildcard {
		if (suffix == "" || strings.HasSuffix(host, suffix)) && (!found || len(suffix) > len(best)) {
			best, found = suffix, true
		}
	}
	if found {
		return h.wildcard[best]
	}
	return nil
}

// BuildTable compiles the KIngresses (already filtered by class) into a routing table. Rules keep the order of
// the spec (first match wins, as in Envoy's route list); KIngresses are taken in namespace/name order so that the
// result does not depend on informer order.
func BuildTable(ings []*v1alpha1.Ingress) *Table {
	sort.Slice(ings, func(i, j int) bool {
		if ings[i].Namespace != ings[j].Namespace {
			return ings[i].Namespace < ings[j].Namespace
		}
		return ings[i].Name < ings[j].Name
	})
	t := &Table{external: newHostRoutes(), internal: newHostRoutes(), ready: map[string]int64{}}
	for _, ing := range ings {
		key := ing.Namespace + "/" + ing.Name
		t.ready[key] = ing.Generation
		// Like Kourier, serve the probe routes of knative.dev/networking: a request with K-Network-Hash: override
		// gets K-Network-Hash: <hash of this KIngress> added, so a prober can tell which version is live.
		if probed := ing.DeepCopy(); insertProbe(probed) {
			ing = probed
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			hosts := rule.Hosts // as listed: Serving already writes the short cluster-local forms, Kourier adds none
			if len(hosts) == 0 {
				hosts = []string{"*"}
			}
			for i := range rule.HTTP.Paths {
				r := compileRoute(key, &rule.HTTP.Paths[i])
				for _, h := range hosts {
					t.internal.add(h, r)
					if rule.Visibility != v1alpha1.IngressVisibilityClusterLocal {
						t.external.add(h, r)
					}
				}
			}
		}
	}
	return t
}

// insertProbe adds the probe paths to every rule; it reports false (and the caller serves the spec as is) when the
// library refuses, e.g. for a rule without an http block.
func insertProbe(ing *v1alpha1.Ingress) bool {
	_, err := ingress.InsertProbe(ing)
	return err == nil
}

func compileRoute(key string, p *v1alpha1.HTTPIngressPath) *Route {
	r := &Route{
		Ingress:       key,
		PathPrefix:    p.Path,
		RewriteHost:   p.RewriteHost,
		AppendHeaders: p.AppendHeaders,
		Headers:       make(map[string]string, len(p.Headers)),
	}
	if r.PathPrefix == "" {
		r.PathPrefix = "/"
	}
	for name, m := range p.Headers {
		r.Headers[http.CanonicalHeaderKey(name)] = m.Exact
	}
	for _, s := range p.Splits {
		percent := s.Percent // a lone split without percent gets all traffic through Pick's equal-share rule
		r.Splits = append(r.Splits, Split{
			Namespace:     s.ServiceNamespace,
			Service:       s.ServiceName,
			Port:          s.ServicePort,
			Percent:       percent,
			AppendHeaders: s.AppendHeaders,
		})
		r.total += percent
	}
	return r
}

// NormalizeHost strips the port and a trailing dot from a Host header and lower-cases it.
func NormalizeHost(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// Match returns the first route of the request's host whose path prefix and header matches all hold, or nil.
// internal selects the cluster-local listener's view (ExternalIP and ClusterLocal rules).
func (t *Table) Match(r *http.Request, internal bool) *Route {
	hr := t.external
	if internal {
		hr = t.internal
	}
	path := r.URL.Path
	if path == "" {
		path = "/"
	}
	for _, route := range hr.lookup(NormalizeHost(r.Host)) {
		if !strings.HasPrefix(path, route.PathPrefix) {
			continue
		}
		ok := true
		for name, want := range route.Headers {
			// An empty exact value only asks for the header to be present, as Kourier's Envoy matcher does.
			if vs := r.Header.Values(name); len(vs) == 0 || (want != "" && vs[0] != want) {
				ok = false
				break
			}
		}
		if ok {
			return route
		}
	}
	return nil
}

// Pick chooses a split at random, weighted by percent. Splits of weight 0 are never chosen unless every split has
// weight 0, in which case they share the traffic equally. Returns nil for a route without splits.
func (r *Route) Pick() *Split {
	if len(r.Splits) == 0 {
		return nil
	}
	if r.total <= 0 {
		return &r.Splits[rand.IntN(len(r.Splits))]
	}
	n := rand.IntN(r.total)
	for i := range r.Splits {
		n -= r.Splits[i].Percent
		if n < 0 {
			return &r.Splits[i]
		}
	}
	return &r.Splits[len(r.Splits)-1]
}
