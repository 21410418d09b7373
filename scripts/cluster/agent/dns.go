package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// dnsManager keeps /etc/netns/<podns>/hosts and resolv.conf of every pod in step with the
// cluster's Services (the stand-in for cluster DNS). `ip netns exec` bind-mounts these files over
// /etc/hosts and /etc/resolv.conf; hosts is rewritten in place (same inode), so running processes
// see Services created after they started.
type dnsManager struct {
	domain     string
	nameserver string
	factory    informers.SharedInformerFactory
	svcSynced  cache.InformerSynced
	epsSynced  cache.InformerSynced
	services   func() ([]*corev1.Service, error)
	slices     func() ([]*discoveryv1.EndpointSlice, error)

	syncOnce sync.Once

	mu      sync.Mutex
	pods    map[string]hostsPod // netns -> pod
	written map[string]string   // netns -> hosts content last written
	kick    chan struct{}
}

func newDNSManager(client kubernetes.Interface, domain, nameserver string) *dnsManager {
	f := informers.NewSharedInformerFactory(client, 10*time.Minute)
	svc := f.Core().V1().Services()
	eps := f.Discovery().V1().EndpointSlices()
	d := &dnsManager{domain: domain, nameserver: nameserver, factory: f,
		svcSynced: svc.Informer().HasSynced, epsSynced: eps.Informer().HasSynced,
		services: func() ([]*corev1.Service, error) { return svc.Lister().List(labels.Everything()) },
		slices:   func() ([]*discoveryv1.EndpointSlice, error) { return eps.Lister().List(labels.Everything()) },
		pods:     map[string]hostsPod{}, written: map[string]string{}, kick: make(chan struct{}, 1)}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { d.trigger() },
		UpdateFunc: func(any, any) { d.trigger() },
		DeleteFunc: func(any) { d.trigger() },
	}
	_, _ = svc.Informer().AddEventHandler(h)
	_, _ = eps.Informer().AddEventHandler(h)
	return d
}

func (d *dnsManager) trigger() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// run starts the informers and rewrites the hosts files after changes (coalesced for 20 ms).
func (d *dnsManager) run(ctx context.Context) {
	d.factory.Start(ctx.Done())
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
		}
		time.Sleep(20 * time.Millisecond)
		d.writeAll()
	}
}

// snapshot converts the informers' Services and EndpointSlices into the hosts file's input.
func (d *dnsManager) snapshot() []service {
	svcs, _ := d.services()
	slices, _ := d.slices()
	ready := map[string][]endpoint{}
	for _, s := range slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		k := s.Namespace + "/" + name
		for _, e := range s.Endpoints {
			if e.Conditions.Ready != nil && !*e.Conditions.Ready {
				continue
			}
			hn := ""
			if e.Hostname != nil {
				hn = *e.Hostname
			}
			for _, a := range e.Addresses {
				ready[k] = append(ready[k], endpoint{IP: a, Hostname: hn})
			}
		}
	}
	out := make([]service, 0, len(svcs))
	for _, s := range svcs {
		sv := service{Name: s.Name, Namespace: s.Namespace, ClusterIP: s.Spec.ClusterIP}
		if s.Spec.Type == corev1.ServiceTypeExternalName {
			sv.ExternalName = s.Spec.ExternalName
		}
		if !hasClusterIP(sv.ClusterIP) && sv.ExternalName == "" {
			sv.Endpoints = ready[s.Namespace+"/"+s.Name]
		}
		out = append(out, sv)
	}
	return out
}

// add writes a new pod's hosts and resolv.conf (waiting up to 5 s for the first Service list).
func (d *dnsManager) add(netns string, p hostsPod) error {
	// The first pods after the agent starts wait (once, at most 5 s) for the Service list; later
	// pods never wait, even if the informers cannot sync (e.g. no right to list EndpointSlices).
	d.syncOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if !cache.WaitForCacheSync(ctx.Done(), d.svcSynced) {
			slog.Warn("Services not listed within 5 s: pods' hosts files fill in when they are (check the agent's right to list/watch services)")
		}
	})
	dir := filepath.Join("/etc/netns", netns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(renderResolvConf(p.Namespace, d.domain, d.nameserver)), 0o644); err != nil {
		return err
	}
	d.mu.Lock()
	d.pods[netns] = p
	d.mu.Unlock()
	return d.write(netns, p, d.snapshot())
}

func (d *dnsManager) remove(netns string) {
	d.mu.Lock()
	delete(d.pods, netns)
	delete(d.written, netns)
	d.mu.Unlock()
}

func (d *dnsManager) writeAll() {
	svcs := d.snapshot()
	d.mu.Lock()
	pods := make(map[string]hostsPod, len(d.pods))
	for k, v := range d.pods {
		pods[k] = v
	}
	d.mu.Unlock()
	for netns, p := range pods {
		if err := d.write(netns, p, svcs); err != nil {
			slog.Warn("hosts file not written", "netns", netns, "err", err)
		}
	}
}

// write rewrites one pod's hosts file in place when its content changed.
func (d *dnsManager) write(netns string, p hostsPod, svcs []service) error {
	content := renderHosts(p, d.domain, svcs)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.pods[netns]; !ok || d.written[netns] == content {
		return nil
	}
	// os.WriteFile truncates and writes the existing file: the inode stays, so the bind mount sees it.
	if err := os.WriteFile(filepath.Join("/etc/netns", netns, "hosts"), []byte(content), 0o644); err != nil {
		return err
	}
	d.written[netns] = content
	return nil
}
