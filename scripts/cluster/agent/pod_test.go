package main

// An end-to-end test of the pod runtime without an API server: a fake clientset, a real network
// namespace, veth and process (this test binary, re-executed as a tiny HTTP server). It needs root
// and iproute2, and uses its own pod CIDR (10.251.77.0/24), so it does not touch the cluster's.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
)

func TestMain(m *testing.M) {
	if os.Getenv("KFN_TEST_HELPER") == "1" {
		helperServer()
		return
	}
	os.Exit(m.Run())
}

// helperServer is the container process of the test: it prints its environment and hosts file,
// writes into its emptyDir, answers the readiness probe only with Knative's probe header, logs the
// preStop call and the SIGTERM in order.
func helperServer() {
	if os.Getenv("HELPER_MODE") == "crash" {
		fmt.Println("run and crash")
		os.Exit(3)
	}
	fmt.Printf("POD_IP=%s\n", os.Getenv("POD_IP"))
	fmt.Printf("URL=%s\n", os.Getenv("URL"))
	hosts, _ := os.ReadFile("/etc/hosts")
	fmt.Printf("HOSTS<<%s>>\n", hosts)
	tok, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/token")
	fmt.Printf("TOKEN=%s err=%v\n", tok, err)
	wd, _ := os.Getwd()
	fmt.Printf("WD=%s\n", wd)
	_ = os.WriteFile("/data/hello", []byte("from the pod"), 0o644)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	http.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("K-Network-Probe") != "queue" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	http.HandleFunc("/wait-for-drain", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Println("EVENT preStop")
		w.WriteHeader(http.StatusOK)
	})
	go func() { _ = http.ListenAndServe(":8080", nil) }()
	<-sigs
	fmt.Println("EVENT SIGTERM")
	os.Exit(0)
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 || os.Getenv("KFN_AGENT_SKIP_ROOT_TESTS") != "" {
		t.Skip("needs root (network namespaces); unset KFN_AGENT_SKIP_ROOT_TESTS")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
}

type recorder struct {
	mu       sync.Mutex
	statuses []corev1.PodStatus
}

func (r *recorder) add(p *corev1.Pod) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.statuses = append(r.statuses, *p.Status.DeepCopy())
}

func (r *recorder) waitFor(t *testing.T, what string, timeout time.Duration, ok func(corev1.PodStatus) bool) corev1.PodStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if n := len(r.statuses); n > 0 && ok(r.statuses[n-1]) {
			s := r.statuses[n-1]
			r.mu.Unlock()
			return s
		}
		r.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("timed out waiting for %s; last statuses: %+v", what, r.statuses[max(0, len(r.statuses)-2):])
	return corev1.PodStatus{}
}

func podReady(s corev1.PodStatus) bool {
	for _, c := range s.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func TestPodLifecycle(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	images := filepath.Join(dir, "images.json")
	self, _ := os.Executable()
	os.WriteFile(images, []byte(fmt.Sprintf(`{"images":[{"match":"test.local/helper:*","command":[%q,"-test.run=^$"],
		"workingDir":%q,"env":{"KFN_TEST_HELPER":"1"}}]}`, self, dir)), 0o644)

	uid := types.UID(fmt.Sprintf("7e57%04x-0000-4000-8000-000000000001", os.Getpid()&0xffff))
	grace := int64(5)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "helper", Namespace: "default", UID: uid},
		Spec: corev1.PodSpec{
			NodeName: "test-node", ServiceAccountName: "default", TerminationGracePeriodSeconds: &grace,
			Volumes: []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
					{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
				}}}},
			},
			Containers: []corev1.Container{{
				Name: "user-container", Image: "test.local/helper:dev@sha256:0000",
				Env: []corev1.EnvVar{
					{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
					{Name: "URL", Value: "http://$(POD_IP):8080"},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"},
					{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1, ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromString("http"),
						HTTPHeaders: []corev1.HTTPHeader{{Name: "K-Network-Probe", Value: "queue"}}}}},
				Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/wait-for-drain", Port: intstr.FromInt(8080)}}},
			}},
		},
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "autoscaler", Namespace: "knative-serving"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.7.7"}}
	client := fake.NewSimpleClientset(pod.DeepCopy(), svc)
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() != "token" {
			return false, nil, nil
		}
		return true, &authv1.TokenRequest{Status: authv1.TokenRequestStatus{Token: "test-token",
			ExpirationTimestamp: metav1.NewTime(time.Now().Add(time.Hour))}}, nil
	})
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = idx.Add(pod)
	ipm, _ := newIPAM("10.251.77.0/24")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dns := newDNSManager(client, "cluster.local", "")
	go dns.run(ctx)
	p := &provider{
		cfg: &config{nodeName: "test-node", nodeIP: "10.250.0.1", podCIDR: "10.251.77.0/24", imagesFile: images,
			stateDir: filepath.Join(dir, "state"), clusterDomain: "cluster.local", maxGrace: 45 * time.Second,
			shutdownGrace: 3 * time.Second, apiHost: "10.250.0.1", apiPort: "6443"},
		client: client, podLister: corev1listers.NewPodLister(idx), objects: &fakeObjects{},
		ipam: ipm, dns: dns, pods: map[string]*podRT{}, restarts: map[string]map[string]int32{},
	}
	rec := &recorder{}
	p.NotifyPods(ctx, rec.add)

	t0 := time.Now()
	if err := p.CreatePod(ctx, pod.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	rt := p.pods["default/helper"]
	defer teardownPodNetwork(rt.netns, rt.veth)
	running := rec.waitFor(t, "container running", 10*time.Second, func(s corev1.PodStatus) bool {
		return len(s.ContainerStatuses) == 1 && s.ContainerStatuses[0].State.Running != nil
	})
	t.Logf("CreatePod to process started: %.3f s", time.Since(t0).Seconds())
	if running.Phase != corev1.PodRunning || running.PodIP != "10.251.77.2" || running.HostIP != "10.250.0.1" {
		t.Errorf("running status: phase %s podIP %s hostIP %s", running.Phase, running.PodIP, running.HostIP)
	}
	ready := rec.waitFor(t, "Ready", 10*time.Second, podReady)
	t.Logf("CreatePod to Ready: %.3f s", time.Since(t0).Seconds())
	if !ready.ContainerStatuses[0].Ready {
		t.Error("container not ready in a Ready pod")
	}
	logFile := rt.logPath("user-container", 0)
	logs, _ := os.ReadFile(logFile)
	for _, want := range []string{"POD_IP=10.251.77.2\n", "URL=http://10.251.77.2:8080\n", "TOKEN=test-token err=<nil>",
		"autoscaler.knative-serving.svc.cluster.local", "10.251.77.2\thelper", "WD=" + dir} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("container output lacks %q:\n%s", want, logs)
		}
	}
	if b, err := os.ReadFile(filepath.Join(rt.dir, "volumes", "data", "hello")); err != nil || string(b) != "from the pod" {
		t.Errorf("emptyDir: %q %v", b, err)
	}
	// A Service created later shows up in the running pod's hosts file (rewritten in place).
	_, _ = client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "late", Namespace: "default"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.8.8"}}, metav1.CreateOptions{})
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("ip", "netns", "exec", rt.netns, "cat", "/etc/hosts").Output()
		if strings.Contains(string(out), "10.96.8.8\tlate.default.svc.cluster.local") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts file in the pod was not updated:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// Deletion: preStop, then SIGTERM; the status stays in order; the pod object is deleted.
	del := pod.DeepCopy()
	now := metav1.Now()
	del.DeletionTimestamp, del.DeletionGracePeriodSeconds = &now, &grace
	if err := p.DeletePod(ctx, del); err != nil {
		t.Fatal(err)
	}
	final := rec.waitFor(t, "terminal status", 15*time.Second, func(s corev1.PodStatus) bool {
		return s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed
	})
	if ts := final.ContainerStatuses[0].State.Terminated; ts == nil || ts.ExitCode != 0 {
		t.Errorf("terminated state: %+v", final.ContainerStatuses[0].State)
	}
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, err := client.CoreV1().Pods("default").Get(ctx, "helper", metav1.GetOptions{}); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the stopped pod was not deleted from the API")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The logs of the deleted pod are kept under <state-dir>/logs.
	logs, err := os.ReadFile(filepath.Join(p.cfg.stateDir, "logs", "default_helper_"+strings.TrimPrefix(rt.netns, "kfn-pod-"), "user-container", "0.log"))
	if err != nil {
		t.Fatalf("archived log: %v", err)
	}
	pre, term := strings.Index(string(logs), "EVENT preStop"), strings.Index(string(logs), "EVENT SIGTERM")
	if pre < 0 || term < 0 || pre > term {
		t.Errorf("want preStop before SIGTERM:\n%s", logs)
	}
	if err := exec.Command("ip", "netns", "exec", rt.netns, "true").Run(); err == nil {
		t.Error("the pod's network namespace still exists")
	}
	if _, err := os.Stat(rt.dir); !os.IsNotExist(err) {
		t.Errorf("the pod's state dir (volumes) must be gone: %v", err)
	}
	// Order: once Ready was sent, no status said not-ready before the deletion began.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	seenReady := false
	for i, s := range rec.statuses {
		if podReady(s) {
			seenReady = true
			continue
		}
		if seenReady && s.Phase == corev1.PodRunning && s.ContainerStatuses[0].State.Running != nil && !podReady(s) {
			// The only legitimate not-ready status while running is the one sent when stopping began.
			if i != len(rec.statuses)-2 && i != len(rec.statuses)-1 {
				t.Errorf("status %d went back to not ready before the deletion: %+v", i, s.Conditions)
			}
		}
	}
}

// testProvider builds a provider on a fake clientset holding objs, with its own pod CIDR.
func testProvider(t *testing.T, ctx context.Context, dir, cidr string, objs ...runtime.Object) (*provider, *recorder, *fake.Clientset, cache.Indexer) {
	images := filepath.Join(dir, "images.json")
	self, _ := os.Executable()
	os.WriteFile(images, []byte(fmt.Sprintf(`{"images":[{"match":"test.local/helper:*","command":[%q,"-test.run=^$"],
		"workingDir":%q,"env":{"KFN_TEST_HELPER":"1"}}]}`, self, dir)), 0o644)
	client := fake.NewSimpleClientset(objs...)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, o := range objs {
		if pod, ok := o.(*corev1.Pod); ok {
			_ = idx.Add(pod)
		}
	}
	ipm, _ := newIPAM(cidr)
	dns := newDNSManager(client, "cluster.local", "")
	go dns.run(ctx)
	p := &provider{
		cfg: &config{nodeName: "test-node", nodeIP: "10.250.0.1", podCIDR: cidr, imagesFile: images,
			stateDir: filepath.Join(dir, "state"), clusterDomain: "cluster.local", maxGrace: 45 * time.Second,
			shutdownGrace: 3 * time.Second, apiHost: "10.250.0.1", apiPort: "6443"},
		client: client, podLister: corev1listers.NewPodLister(idx), objects: &fakeObjects{},
		ipam: ipm, dns: dns, pods: map[string]*podRT{}, restarts: map[string]map[string]int32{},
	}
	rec := &recorder{}
	p.NotifyPods(ctx, rec.add)
	return p, rec, client, idx
}

func ctrStatus(s corev1.PodStatus, name string) corev1.ContainerStatus {
	for _, c := range s.ContainerStatuses {
		if c.Name == name {
			return c
		}
	}
	return corev1.ContainerStatus{}
}

// A crashing container restarts with back-off, keeps its last state and previous logs; an
// unmapped image waits with ErrImagePull naming the image file; the pod stays Pending meanwhile.
func TestRestartsAndUnmappedImage(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crashy", Namespace: "default", UID: types.UID(fmt.Sprintf("c4a5%04x-0000-4000-8000-000000000002", os.Getpid()&0xffff))},
		Spec: corev1.PodSpec{NodeName: "test-node", Containers: []corev1.Container{
			{Name: "crasher", Image: "test.local/helper:x", Env: []corev1.EnvVar{{Name: "HELPER_MODE", Value: "crash"}}},
			{Name: "ghost", Image: "registry.example/unmapped:1"},
		}},
	}
	p, rec, _, _ := testProvider(t, ctx, dir, "10.251.78.0/24", pod.DeepCopy())
	if err := p.CreatePod(ctx, pod.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	rt := p.pods["default/crashy"]
	defer rt.stop(nil, true)
	st := rec.waitFor(t, "two restarts", 15*time.Second, func(s corev1.PodStatus) bool {
		return ctrStatus(s, "crasher").RestartCount >= 2 && ctrStatus(s, "ghost").State.Waiting != nil &&
			ctrStatus(s, "ghost").State.Waiting.Reason == "ErrImagePull"
	})
	c := ctrStatus(st, "crasher")
	if lt := c.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 3 || lt.Reason != "Error" {
		t.Errorf("last state: %+v", c.LastTerminationState)
	}
	if st.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending while a container never started", st.Phase)
	}
	if g := ctrStatus(st, "ghost").State.Waiting; !strings.Contains(g.Message, p.cfg.imagesFile) {
		t.Errorf("ErrImagePull message must name the image map: %q", g.Message)
	}
	for _, previous := range []bool{false, true} {
		r, err := p.GetContainerLogs(ctx, "default", "crashy", "crasher", api.ContainerLogOpts{Previous: previous})
		if err != nil {
			t.Fatalf("logs (previous=%v): %v", previous, err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		if string(b) != "run and crash\n" {
			t.Errorf("logs (previous=%v) = %q", previous, b)
		}
	}
	if _, err := p.GetContainerLogs(ctx, "default", "crashy", "ghost", api.ContainerLogOpts{}); err == nil {
		t.Error("a container that never ran has no logs")
	}
}

// After a crash of the agent, a new run kills the processes and removes the namespaces the old
// run left, and hands back the restart counts (one more for each container that was running).
func TestCleanupPrevious(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "default", UID: types.UID(fmt.Sprintf("0f%06x-0000-4000-8000-000000000003", os.Getpid()&0xffffff))},
		Spec:       corev1.PodSpec{NodeName: "test-node", Containers: []corev1.Container{{Name: "server", Image: "test.local/helper:x"}}},
	}
	p, rec, _, _ := testProvider(t, ctx, dir, "10.251.79.0/24", pod.DeepCopy())
	if err := p.CreatePod(ctx, pod.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	rt := p.pods["default/orphan"]
	defer rt.stop(nil, true) // the test's provider lives on: stop its restart loop at the end
	rec.waitFor(t, "running", 10*time.Second, func(s corev1.PodStatus) bool { return ctrStatus(s, "server").State.Running != nil })
	rt.mu.Lock()
	pid := rt.ctrs[0].pid
	rt.mu.Unlock()
	// The agent "crashes" here: nothing is stopped. A new run cleans up.
	restarts := cleanupPrevious(p.cfg.stateDir)
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d of the earlier run is still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := exec.Command("ip", "netns", "exec", rt.netns, "true").Run(); err == nil {
		t.Error("the earlier run's network namespace still exists")
	}
	if got := restarts[string(pod.UID)]["server"]; got != 1 {
		t.Errorf("restart count handed back: %d, want 1", got)
	}
}
