// Command kfn-agent is the local cluster's node agent: a kubelet stand-in, built on
// virtual-kubelet, that runs each pod's containers as local processes in a per-pod network
// namespace (see README.md).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const kubeletVersion = "v1.35.8"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kfn-agent:", err)
		os.Exit(1)
	}
}

type flags struct {
	kubeconfig, nodeName, nodeIP, podCIDR, images, stateDir, clusterDomain, nameserver string
	kubeletPort                                                                        int
	tlsCert, tlsKey, clientCA                                                          string
	maxGrace, shutdownGrace                                                            time.Duration
	cpu, memory, ephemeral                                                             string
	maxPods, workers                                                                   int
	verbose                                                                            bool
	taints                                                                             []corev1.Taint
}

func parseFlags(args []string) (*flags, error) {
	f := &flags{}
	fs := flag.NewFlagSet("kfn-agent", flag.ContinueOnError)
	fs.StringVar(&f.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server (default $KUBECONFIG)")
	fs.StringVar(&f.nodeName, "node-name", "local-node", "name of the Node this agent registers")
	fs.StringVar(&f.nodeIP, "node-ip", "10.250.0.1", "the node's InternalIP (also hostIP of its pods and the kubelet API address)")
	fs.StringVar(&f.podCIDR, "pod-cidr", "10.244.0.0/24", "pod CIDR of this node; .1 is the gateway on every pod veth")
	fs.StringVar(&f.images, "images", "", "JSON file mapping images to local commands (required)")
	fs.StringVar(&f.stateDir, "state-dir", "", "directory for logs, volumes and restart state (required)")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "cluster DNS domain")
	fs.StringVar(&f.nameserver, "nameserver", "127.0.0.1", "nameserver written to the pods' resolv.conf (127.0.0.1: none, names come from the hosts file)")
	fs.IntVar(&f.kubeletPort, "kubelet-port", 10250, "port of the kubelet API (logs, exec) on --node-ip")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serving certificate of the kubelet API (without it the API is not served)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "key of --tls-cert")
	fs.StringVar(&f.clientCA, "client-ca-file", "", "if set, the kubelet API requires client certificates signed by this CA")
	fs.DurationVar(&f.maxGrace, "max-grace-period", 45*time.Second, "cap on a pod's termination grace period")
	fs.DurationVar(&f.shutdownGrace, "shutdown-grace-period", 3*time.Second, "cap on the grace period when the agent itself stops")
	fs.StringVar(&f.cpu, "cpu", "2", "CPU capacity the node reports")
	fs.StringVar(&f.memory, "memory", "24Gi", "memory capacity the node reports")
	fs.StringVar(&f.ephemeral, "ephemeral-storage", "50Gi", "ephemeral-storage capacity the node reports")
	fs.IntVar(&f.maxPods, "max-pods", 110, "pod capacity the node reports")
	fs.IntVar(&f.workers, "workers", 4, "virtual-kubelet pod sync workers")
	fs.BoolVar(&f.verbose, "v", false, "debug logging")
	taints := fs.String("register-with-taints", "", "taints of the Node, key[=value]:Effect,... (e.g. a test node: kfn/test=true:NoSchedule)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if f.taints, err = parseTaints(*taints); err != nil {
		return nil, err
	}
	var missing []string
	if f.kubeconfig == "" {
		missing = append(missing, "--kubeconfig")
	}
	if f.images == "" {
		missing = append(missing, "--images")
	}
	if f.stateDir == "" {
		missing = append(missing, "--state-dir")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %v (see kfn-agent -h)", missing)
	}
	if net.ParseIP(f.nodeIP) == nil {
		return nil, fmt.Errorf("--node-ip %q is not an IP address", f.nodeIP)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	for _, q := range []string{f.cpu, f.memory, f.ephemeral} {
		if _, err := resource.ParseQuantity(q); err != nil {
			return nil, fmt.Errorf("capacity %q: %w", q, err)
		}
	}
	return f, nil
}

// nodeSpec is the Node this agent registers: Ready with the pressure conditions False, capacity,
// addresses, pod CIDR and the kubelet endpoint (virtual-kubelet's default provider sets none of these).
func nodeSpec(f *flags, alloc corev1.ResourceList) corev1.Node {
	now := metav1.Now()
	c := func(t corev1.NodeConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: s, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	kernel := ""
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = string(trimNL(b))
	}
	return corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: f.nodeName, Labels: map[string]string{
			"kubernetes.io/hostname": f.nodeName, "kubernetes.io/os": "linux", "kubernetes.io/arch": runtime.GOARCH,
			"beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": runtime.GOARCH, "type": "kfn-agent",
		}},
		Spec: corev1.NodeSpec{PodCIDR: f.podCIDR, PodCIDRs: []string{f.podCIDR}, Taints: f.taints},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodeRunning,
			Capacity:    alloc,
			Allocatable: alloc,
			Conditions: []corev1.NodeCondition{
				c(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kfn-agent is posting ready status"),
				c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kfn-agent has sufficient memory available"),
				c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kfn-agent has no disk pressure"),
				c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kfn-agent has sufficient PID available"),
				c(corev1.NodeNetworkUnavailable, corev1.ConditionFalse, "RouteCreated", "pods are routed by kfn-agent"),
			},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: f.nodeIP}, {Type: corev1.NodeHostName, Address: f.nodeName}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(f.kubeletPort)}},
			NodeInfo: corev1.NodeSystemInfo{
				KubeletVersion: kubeletVersion, ContainerRuntimeVersion: "kfn-agent://0.1", OperatingSystem: "linux",
				Architecture: runtime.GOARCH, KernelVersion: kernel, OSImage: "local processes (kfn-agent)",
			},
		},
	}
}

// parseTaints reads kubelet-style --register-with-taints: key[=value]:Effect, comma-separated.
func parseTaints(s string) ([]corev1.Taint, error) {
	var out []corev1.Taint
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		kv, effect, ok := strings.Cut(t, ":")
		e := corev1.TaintEffect(effect)
		if !ok || (e != corev1.TaintEffectNoSchedule && e != corev1.TaintEffectPreferNoSchedule && e != corev1.TaintEffectNoExecute) {
			return nil, fmt.Errorf("taint %q: want key[=value]:NoSchedule|PreferNoSchedule|NoExecute", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("taint %q has no key", t)
		}
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: e})
	}
	return out, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func run() error {
	f, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)
	vklog.L = vkslog.FromSlog(logger)

	if os.Geteuid() != 0 {
		return errors.New("must run as root (network namespaces, veth pairs and bind mounts); run it with sudo inside the cluster namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("the `ip` command (iproute2) is missing: apt-get install iproute2")
	}
	if _, err := loadImages(f.images); err != nil {
		return err
	}
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		slog.Warn("could not enable net.ipv4.ip_forward; pods may not reach each other", "err", err)
	}
	restarts := cleanupPrevious(f.stateDir)
	// virtual-kubelet builds a default client from $KUBECONFIG before ours replaces it; without
	// this it logs a misleading in-cluster configuration warning.
	_ = os.Setenv("KUBECONFIG", f.kubeconfig)

	rest, err := clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", f.kubeconfig, err)
	}
	rest.QPS, rest.Burst = 50, 100
	rest.UserAgent = "kfn-agent/" + kubeletVersion
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return err
	}
	u, err := url.Parse(rest.Host)
	if err != nil {
		return fmt.Errorf("API server address %q: %w", rest.Host, err)
	}
	apiPort := u.Port()
	if apiPort == "" {
		apiPort = "443"
	}
	alloc := corev1.ResourceList{
		corev1.ResourceCPU:              resource.MustParse(f.cpu),
		corev1.ResourceMemory:           resource.MustParse(f.memory),
		corev1.ResourceEphemeralStorage: resource.MustParse(f.ephemeral),
		corev1.ResourcePods:             *resource.NewQuantity(int64(f.maxPods), resource.DecimalSI),
	}
	ip, err := newIPAM(f.podCIDR)
	if err != nil {
		return err
	}
	cfg := &config{nodeName: f.nodeName, nodeIP: f.nodeIP, podCIDR: f.podCIDR, imagesFile: f.images, stateDir: f.stateDir,
		clusterDomain: f.clusterDomain, nameserver: f.nameserver, maxGrace: f.maxGrace, shutdownGrace: f.shutdownGrace,
		apiHost: u.Hostname(), apiPort: apiPort, allocatable: alloc}
	dns := newDNSManager(client, f.clusterDomain, f.nameserver)
	var prov *provider

	mux := http.NewServeMux()
	opts := []nodeutil.NodeOpt{
		func(c *nodeutil.NodeConfig) error {
			c.Client = client
			c.NodeSpec = nodeSpec(f, alloc)
			c.HTTPListenAddr = net.JoinHostPort(f.nodeIP, fmt.Sprint(f.kubeletPort))
			c.SkipDownwardAPIResolution = true // it cannot resolve status.podIP; the provider resolves env itself
			c.NumWorkers = f.workers
			c.InformerResyncPeriod = time.Minute
			c.Handler = mux
			return nil
		},
		nodeutil.AttachProviderRoutes(mux),
	}
	if f.tlsCert != "" {
		tlsOpts := []func(*tls.Config) error{nodeutil.WithKeyPairFromPath(f.tlsCert, f.tlsKey)}
		if f.clientCA != "" {
			tlsOpts = append(tlsOpts, nodeutil.WithCAFromPath(f.clientCA))
		}
		opts = append(opts, nodeutil.WithTLSConfig(tlsOpts...))
	} else {
		slog.Warn("no --tls-cert/--tls-key: the kubelet API (kubectl logs/exec) is not served")
	}
	n, err := nodeutil.NewNode(f.nodeName, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		prov = &provider{cfg: cfg, client: client, podLister: pc.Pods,
			objects: &apiObjects{client: client, configMaps: pc.ConfigMaps, secrets: pc.Secrets},
			ipam:    ip, dns: dns, pods: map[string]*podRT{}, restarts: restarts}
		return prov, node.NewNaiveNodeProvider(), nil
	}, opts...)
	if err != nil {
		return fmt.Errorf("set up virtual-kubelet: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go dns.run(ctx)
	errc := make(chan error, 1)
	go func() { errc <- n.Run(ctx) }()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		if err := n.WaitReady(ctx, 0); err == nil {
			slog.Info("node registered", "node", f.nodeName, "ip", f.nodeIP, "podCIDR", f.podCIDR)
		}
	}()
	select {
	case s := <-sigs:
		slog.Info("stopping: every pod gets its preStop and SIGTERM", "signal", s.String(), "grace", f.shutdownGrace)
		go func() { <-sigs; slog.Warn("second signal: exiting now"); os.Exit(1) }()
		prov.shutdown()
		cancel()
		select {
		case <-errc:
		case <-time.After(5 * time.Second):
		}
		return nil
	case err := <-errc:
		prov.shutdown()
		if err == nil {
			err = errors.New("virtual-kubelet stopped")
		}
		return fmt.Errorf("node controller: %w", err)
	}
}
