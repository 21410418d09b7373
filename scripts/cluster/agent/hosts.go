package main

import (
	"fmt"
	"sort"
	"strings"
)

// service is what the hosts file needs to know about one Service.
type service struct {
	Name, Namespace string
	ClusterIP       string // "" or "None" for headless
	ExternalName    string
	// Endpoints are the ready addresses of a headless Service (from its EndpointSlices), with
	// the endpoint's hostname when it has one.
	Endpoints []endpoint
}

type endpoint struct {
	IP, Hostname string
}

type hostsPod struct {
	Namespace, Name, IP string
	Hostname, Subdomain string
}

func hasClusterIP(ip string) bool { return ip != "" && ip != "None" }

// serviceNames lists the names a Service answers to from a pod in podNS, longest first.
func serviceNames(name, ns, podNS, domain string) []string {
	names := []string{name + "." + ns + ".svc." + domain, name + "." + ns + ".svc", name + "." + ns}
	if ns == podNS {
		names = append(names, name)
	}
	return names
}

// clusterTarget parses an ExternalName that names a cluster Service (name.ns[.svc[.domain]][.]).
func clusterTarget(externalName, domain string) (name, ns string, ok bool) {
	h := strings.TrimSuffix(strings.ToLower(externalName), ".")
	h = strings.TrimSuffix(h, ".svc."+domain)
	h = strings.TrimSuffix(h, ".svc")
	parts := strings.Split(h, ".")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

// renderHosts writes /etc/hosts for a pod: localhost, the pod itself, and every Service under
// its cluster DNS names (ClusterIP; ready endpoints for headless Services; ExternalName Services
// under the ClusterIP of the cluster Service they name). Output is sorted, so an unchanged set of
// Services gives the same bytes.
func renderHosts(p hostsPod, domain string, svcs []service) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file (kfn-agent): cluster Services stand in for cluster DNS.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	if p.IP != "" {
		self := []string{}
		if p.Hostname != "" && p.Subdomain != "" {
			self = append(self, p.Hostname+"."+p.Subdomain+"."+p.Namespace+".svc."+domain)
		}
		host := p.Name
		if p.Hostname != "" {
			host = p.Hostname
		}
		self = append(self, host)
		fmt.Fprintf(&b, "%s\t%s\n", p.IP, strings.Join(self, " "))
	}
	byKey := map[string]*service{}
	for i := range svcs {
		byKey[svcs[i].Namespace+"/"+svcs[i].Name] = &svcs[i]
	}
	sorted := make([]*service, 0, len(svcs))
	for i := range svcs {
		sorted = append(sorted, &svcs[i])
	}
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, s := range sorted {
		names := strings.Join(serviceNames(s.Name, s.Namespace, p.Namespace, domain), " ")
		switch {
		case s.ExternalName != "":
			t := s
			for hops := 0; hops < 5 && t != nil && t.ExternalName != ""; hops++ {
				n, ns, ok := clusterTarget(t.ExternalName, domain)
				if !ok {
					t = nil
					break
				}
				t = byKey[ns+"/"+n]
			}
			if t != nil && hasClusterIP(t.ClusterIP) {
				fmt.Fprintf(&b, "%s\t%s\n", t.ClusterIP, names)
			}
		case hasClusterIP(s.ClusterIP):
			fmt.Fprintf(&b, "%s\t%s\n", s.ClusterIP, names)
		default:
			eps := append([]endpoint(nil), s.Endpoints...)
			sort.Slice(eps, func(i, j int) bool { return eps[i].IP < eps[j].IP })
			for _, e := range eps {
				fmt.Fprintf(&b, "%s\t%s\n", e.IP, names)
				if e.Hostname != "" {
					fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\n", e.IP, e.Hostname, s.Name, s.Namespace, domain)
				}
			}
		}
	}
	return b.String()
}

// renderResolvConf: the search path of a pod in namespace ns, and a nameserver on which nothing
// listens, so names the hosts file does not know fail at once instead of leaving the machine.
func renderResolvConf(ns, domain, nameserver string) string {
	if nameserver == "" {
		nameserver = "127.0.0.1"
	}
	return fmt.Sprintf("nameserver %s\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n", nameserver, ns, domain, domain, domain)
}
