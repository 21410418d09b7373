package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"knative.dev/networking/pkg/apis/networking"
)

// Backend is one ready endpoint of a split's Service port.
type Backend struct {
	Addr string // host:port
	H2C  bool   // speak HTTP/2 without TLS (prior knowledge) to it
}

// Resolver finds the ready endpoints of a Service port from the informer caches, the way Kourier's EDS does:
// servicePort (number or name) -> the Service's port name -> the EndpointSlice port of that name.
type Resolver struct {
	Services       corelisters.ServiceLister
	EndpointSlices discoverylisters.EndpointSliceLister
	ClusterDomain  string // for ExternalName targets that are cluster Services; "" means cluster.local
}

// ErrNoEndpoints is returned (wrapped) when a Service exists but has no ready endpoint for the port.
type ErrNoEndpoints struct{ What string }

func (e *ErrNoEndpoints) Error() string { return e.What }

// Resolve returns the ready endpoints of namespace/name:port.
func (r *Resolver) Resolve(namespace, name string, port intstr.IntOrString) ([]Backend, error) {
	return r.resolve(namespace, name, port, 0)
}

func (r *Resolver) resolve(namespace, name string, port intstr.IntOrString, depth int) ([]Backend, error) {
	svc, err := r.Services.Services(namespace).Get(name)
	if err != nil {
		return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s not found (%v); check the KIngress split and that the Service exists", namespace, name, err)}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return r.resolveExternalName(svc, port, depth)
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (port.Type == intstr.Int && p.Port == port.IntVal) || (port.Type == intstr.String && p.Name == port.StrVal) {
			sp = p
			break
		}
	}
	if sp == nil {
		return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s has no port %s", namespace, name, port.String())}
	}
	h2c := isH2C(sp.Name, sp.AppProtocol)
	slices, err := r.EndpointSlices.EndpointSlices(namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name}))
	if err != nil {
		return nil, err
	}
	var out []Backend
	for _, es := range slices {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var target int32
		found := false
		for _, p := range es.Ports {
			pname := ""
			if p.Name != nil {
				pname = *p.Name
			}
			if pname == sp.Name && p.Port != nil {
				target, found = *p.Port, true
				if p.AppProtocol != nil && isH2C("", p.AppProtocol) {
					h2c = true
				}
				break
			}
		}
		if !found {
			continue
		}
		for _, ep := range es.Endpoints {
			// A nil Ready means ready (EndpointConditions API doc); terminating endpoints are left out, like Envoy's EDS.
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, Backend{Addr: net.JoinHostPort(a, strconv.Itoa(int(target))), H2C: h2c})
			}
		}
	}
	if len(out) == 0 {
		return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s port %s has no ready endpoints", namespace, name, port.String())}
	}
	return out, nil
}

// resolveExternalName follows an ExternalName Service, as Serving's domain mappings use (their split names the
// Route's ExternalName Service, which points at the cluster-local gateway): a name of a cluster Service
// (<name>.<namespace>.svc.<cluster domain>) resolves to that Service's endpoints, any other name is dialled as is.
func (r *Resolver) resolveExternalName(svc *corev1.Service, port intstr.IntOrString, depth int) ([]Backend, error) {
	if port.Type != intstr.Int {
		return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s is ExternalName; its KIngress split needs a numeric servicePort, got %q", svc.Namespace, svc.Name, port.StrVal)}
	}
	h2c := false
	for _, p := range svc.Spec.Ports {
		if p.Port == port.IntVal {
			h2c = isH2C(p.Name, p.AppProtocol)
		}
	}
	host := strings.TrimSuffix(strings.ToLower(svc.Spec.ExternalName), ".")
	domain := r.ClusterDomain
	if domain == "" {
		domain = "cluster.local"
	}
	if rest, ok := strings.CutSuffix(host, ".svc."+domain); ok && depth < 3 {
		if name, ns, ok := strings.Cut(rest, "."); ok && !strings.Contains(ns, ".") {
			return r.resolve(ns, name, port, depth+1)
		}
	}
	if host == "" {
		return nil, &ErrNoEndpoints{What: fmt.Sprintf("service %s/%s is ExternalName without externalName", svc.Namespace, svc.Name)}
	}
	return []Backend{{Addr: net.JoinHostPort(host, strconv.Itoa(int(port.IntVal))), H2C: h2c}}, nil
}

// isH2C tells whether a Service port is HTTP/2 without TLS: Knative names such ports "http2" (networking.
// ServicePortNameH2C), some users "h2c", and Kubernetes' standard appProtocol is "kubernetes.io/h2c".
func isH2C(portName string, appProtocol *string) bool {
	if portName == networking.ServicePortNameH2C || portName == "h2c" {
		return true
	}
	return appProtocol != nil && (*appProtocol == networking.AppProtocolH2C || *appProtocol == "h2c")
}

// pickBackend chooses one of the ready endpoints uniformly at random.
func pickBackend(bs []Backend) Backend {
	return bs[rand.IntN(len(bs))]
}
