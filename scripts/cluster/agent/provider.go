package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

type config struct {
	nodeName, nodeIP, podCIDR string
	imagesFile, stateDir      string
	clusterDomain, nameserver string
	maxGrace, shutdownGrace   time.Duration
	apiHost, apiPort          string
	allocatable               corev1.ResourceList
}

// apiObjects reads ConfigMaps and Secrets from virtual-kubelet's informer caches, and from the
// API server when the cache does not have them (yet).
type apiObjects struct {
	client     kubernetes.Interface
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister
}

func (o *apiObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, err := o.configMaps.ConfigMaps(ns).Get(name); err == nil {
		return cm, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return o.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (o *apiObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, err := o.secrets.Secrets(ns).Get(name); err == nil {
		return s, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return o.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

// provider implements virtual-kubelet's Provider and PodNotifier: each pod is a set of local
// processes in its own network namespace.
type provider struct {
	cfg       *config
	client    kubernetes.Interface
	podLister corev1listers.PodLister
	objects   objectSource
	ipam      *ipam
	dns       *dnsManager

	mu       sync.Mutex
	pods     map[string]*podRT // namespace/name
	restarts map[string]map[string]int32

	notifyMu     sync.RWMutex
	notifyFn     func(*corev1.Pod)
	shuttingDown atomic.Bool
}

func (p *provider) restoredRestarts(uid string) map[string]int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.restarts[uid]
	delete(p.restarts, uid)
	if r == nil {
		r = map[string]int32{}
	}
	return r
}

func (p *provider) notify(pod *corev1.Pod) {
	p.notifyMu.RLock()
	f := p.notifyFn
	p.notifyMu.RUnlock()
	if f != nil {
		f(pod)
	}
}

// NotifyPods is called once by virtual-kubelet with the callback that takes pod statuses.
func (p *provider) NotifyPods(_ context.Context, f func(*corev1.Pod)) {
	p.notifyMu.Lock()
	p.notifyFn = f
	p.notifyMu.Unlock()
}

// CreatePod registers the pod and sets it up in the background: it returns at once, so the
// pod workers of virtual-kubelet are never held up by a pod's start.
func (p *provider) CreatePod(_ context.Context, pod *corev1.Pod) error {
	if p.shuttingDown.Load() {
		return nil // the next run of the agent starts it
	}
	key := pod.Namespace + "/" + pod.Name
	restored := p.restoredRestarts(string(pod.UID))
	p.mu.Lock()
	if old, ok := p.pods[key]; ok {
		if old.pod.UID == pod.UID {
			p.mu.Unlock()
			return nil
		}
		// Same name, new pod (a StatefulSet replacement): the old one goes first.
		p.mu.Unlock()
		old.stop(nil, false)
		p.mu.Lock()
		if p.pods[key] == old {
			delete(p.pods, key)
		}
	}
	rt := newPodRT(p, pod, restored)
	p.pods[key] = rt
	p.mu.Unlock()
	rt.log.Info("pod assigned", "uid", pod.UID)
	rt.mu.Lock()
	rt.sendStatus()
	rt.mu.Unlock()
	go rt.run()
	return nil
}

// UpdatePod takes metadata changes (labels, annotations for the downward API). Container
// changes such as a new image are not applied to running processes.
func (p *provider) UpdatePod(_ context.Context, pod *corev1.Pod) error {
	p.mu.Lock()
	rt := p.pods[pod.Namespace+"/"+pod.Name]
	p.mu.Unlock()
	if rt == nil || rt.pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s/%s is not on this node", pod.Namespace, pod.Name)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.pod.Labels, rt.pod.Annotations = pod.Labels, pod.Annotations
	rt.pod.Spec.ActiveDeadlineSeconds = pod.Spec.ActiveDeadlineSeconds
	rt.pod.Spec.Tolerations = pod.Spec.Tolerations
	for i := range rt.pod.Spec.Containers {
		if i < len(pod.Spec.Containers) {
			rt.pod.Spec.Containers[i].Image = pod.Spec.Containers[i].Image
		}
	}
	for i := range rt.pod.Spec.InitContainers {
		if i < len(pod.Spec.InitContainers) {
			rt.pod.Spec.InitContainers[i].Image = pod.Spec.InitContainers[i].Image
		}
	}
	return nil
}

// DeletePod stops the pod in the background (preStop, SIGTERM, SIGKILL after the grace period)
// and, once every process is gone, deletes the pod object (grace 0), as the kubelet does.
func (p *provider) DeletePod(_ context.Context, pod *corev1.Pod) error {
	key := pod.Namespace + "/" + pod.Name
	p.mu.Lock()
	rt := p.pods[key]
	p.mu.Unlock()
	if rt == nil || rt.pod.UID != pod.UID {
		return errdefs.NotFoundf("pod %s is not on this node", key)
	}
	go func() {
		rt.stop(pod, false)
		p.mu.Lock()
		if p.pods[key] == rt {
			delete(p.pods, key)
		}
		p.mu.Unlock()
		if pod.DeletionTimestamp == nil || p.shuttingDown.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		opts := metav1.NewDeleteOptions(0)
		opts.Preconditions = metav1.NewUIDPreconditions(string(pod.UID)) // this pod, not a new one with its name
		err := p.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, *opts)
		if err != nil && !isGone(err) {
			rt.log.Warn("deleting the stopped pod failed; virtual-kubelet retries after the grace period", "err", err)
		}
	}()
	return nil
}

func (p *provider) GetPod(_ context.Context, ns, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	rt := p.pods[ns+"/"+name]
	p.mu.Unlock()
	if rt == nil {
		return nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	out := rt.pod.DeepCopy()
	out.Status = rt.statusPod().Status
	return out, nil
}

func (p *provider) GetPodStatus(ctx context.Context, ns, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	rts := make([]*podRT, 0, len(p.pods))
	for _, rt := range p.pods {
		rts = append(rts, rt)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(rts))
	for _, rt := range rts {
		rt.mu.Lock()
		pod := rt.pod.DeepCopy()
		pod.Status = rt.statusPod().Status
		rt.mu.Unlock()
		out = append(out, pod)
	}
	return out, nil
}

// shutdown stops every pod (grace capped by --shutdown-grace) without reporting them terminal,
// so the next run of the agent starts them again.
func (p *provider) shutdown() {
	p.shuttingDown.Store(true)
	p.mu.Lock()
	rts := make([]*podRT, 0, len(p.pods))
	for _, rt := range p.pods {
		rts = append(rts, rt)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, rt := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rt.stop(nil, true)
		}()
	}
	wg.Wait()
	slog.Info("all pods stopped", "pods", len(rts))
}

func (p *provider) findContainer(ns, name, ctr string) (*podRT, *ctrRT, error) {
	p.mu.Lock()
	rt := p.pods[ns+"/"+name]
	p.mu.Unlock()
	if rt == nil {
		return nil, nil, errdefs.NotFoundf("pod %s/%s is not on this node", ns, name)
	}
	for _, c := range append(append([]*ctrRT{}, rt.init...), rt.ctrs...) {
		if c.spec.Name == ctr {
			return rt, c, nil
		}
	}
	return nil, nil, errdefs.NotFoundf("pod %s/%s has no container %q", ns, name, ctr)
}

// GetContainerLogs serves `kubectl logs` (--tail, --limit-bytes, -f, --previous) from the log files.
func (p *provider) GetContainerLogs(ctx context.Context, ns, name, ctr string, opts api.ContainerLogOpts) (io.ReadCloser, error) {
	rt, c, err := p.findContainer(ns, name, ctr)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	restart := c.restartCount
	if c.state.Waiting != nil && c.lastState.Terminated != nil && !opts.Previous {
		restart-- // waiting to restart: the latest log is the last run's
	}
	exited := c.exited
	rt.mu.Unlock()
	if opts.Previous {
		restart--
		if c.state.Waiting != nil && c.lastState.Terminated != nil {
			restart--
		}
	}
	if restart < 0 {
		return nil, errdefs.NotFoundf("previous terminated container %q in pod %q not found", ctr, name)
	}
	path := rt.logPath(ctr, restart)
	f, err := os.Open(path)
	if err != nil {
		return nil, errdefs.NotFoundf("no logs for container %q of pod %s/%s yet", ctr, ns, name)
	}
	if opts.Tail > 0 {
		off, err := tailOffset(f, opts.Tail)
		if err != nil {
			f.Close()
			return nil, err
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	var r io.ReadCloser = f
	if opts.Follow && !opts.Previous && exited != nil {
		r = &follower{f: f, ctx: ctx, exited: exited}
	}
	if opts.LimitBytes > 0 {
		r = limitCloser{io.LimitReader(r, int64(opts.LimitBytes)), r}
	}
	return r, nil
}

type limitCloser struct {
	io.Reader
	io.Closer
}

// tailOffset returns the offset of the start of the last n lines of f.
func tailOffset(f *os.File, n int) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := fi.Size()
	const chunk = 64 * 1024
	lines := 0
	pos := size
	buf := make([]byte, chunk)
	first := true
	for pos > 0 {
		read := int64(chunk)
		if pos < read {
			read = pos
		}
		pos -= read
		if _, err := f.ReadAt(buf[:read], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		b := buf[:read]
		for i := len(b) - 1; i >= 0; i-- {
			if b[i] == '\n' {
				if first && pos+int64(i) == size-1 {
					first = false
					continue // the file's final newline ends the last line
				}
				lines++
				if lines == n {
					return pos + int64(i) + 1, nil
				}
			}
			first = false
		}
	}
	return 0, nil
}

// follower reads a log file and keeps reading new data until the container exits or the client goes.
type follower struct {
	f      *os.File
	ctx    context.Context
	exited chan struct{}
	done   bool
}

func (fl *follower) Read(b []byte) (int, error) {
	for {
		n, err := fl.f.Read(b)
		if n > 0 {
			return n, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if fl.done {
			return 0, io.EOF
		}
		select {
		case <-fl.ctx.Done():
			return 0, io.EOF
		case <-fl.exited:
			fl.done = true // one more read for what was written last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (fl *follower) Close() error { return fl.f.Close() }

// RunInContainer serves `kubectl exec` without a TTY: the command runs in the container's
// network namespace, mounts and environment.
func (p *provider) RunInContainer(ctx context.Context, ns, name, ctr string, cmd []string, attach api.AttachIO) error {
	rt, c, err := p.findContainer(ns, name, ctr)
	if err != nil {
		return err
	}
	if attach.TTY() {
		return errdefs.InvalidInput("kfn-agent does not support a TTY for exec: run kubectl exec without -t")
	}
	l, _, err := rt.prepare(&c.spec)
	if err != nil {
		return err
	}
	l.argv = cmd
	x := rt.command(ctx, l)
	if attach.Stdin() != nil {
		x.Stdin = attach.Stdin()
	}
	if w := attach.Stdout(); w != nil {
		x.Stdout = w
		defer w.Close()
	}
	if w := attach.Stderr(); w != nil {
		x.Stderr = w
		defer w.Close()
	}
	return x.Run()
}

func (p *provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return errdefs.InvalidInput("kfn-agent does not support attach: use kubectl logs -f")
}

func (p *provider) GetStatsSummary(context.Context) (*statsv1alpha1.Summary, error) {
	return &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.cfg.nodeName}}, nil
}

func (p *provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) { return nil, nil }

func (p *provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return errdefs.InvalidInput("kfn-agent does not support port-forward: pod IPs are routable from the cluster namespace")
}
