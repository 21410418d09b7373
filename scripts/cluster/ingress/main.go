// Command kfn-ingress is the local cluster's KIngress implementation: it stands in for Kourier's controller and
// its Envoy gateway. It watches networking.internal.knative.dev Ingresses of one ingress class, serves their rules
// on an external and a cluster-local listener, forwards to the ready endpoints of each split's Service and marks
// the KIngresses Ready once their rules are live. See README.md for what differs from Kourier.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	netclientset "knative.dev/networking/pkg/client/clientset/versioned"
	netinformers "knative.dev/networking/pkg/client/informers/externalversions"
)

type options struct {
	kubeconfig    string
	class         string
	externalAddr  string
	internalAddr  string
	publicDomain  string
	privateDomain string
	clusterDomain string
	healthAddr    string
	verbose       bool
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "path to a kubeconfig (default: $KUBECONFIG, then in-cluster config)")
	flag.StringVar(&o.class, "ingress-class", "kourier.ingress.networking.knative.dev", "serve KIngresses whose networking.knative.dev/ingress.class annotation is this")
	flag.StringVar(&o.externalAddr, "external-addr", ":8080", "listen address of the external listener (ExternalIP rules)")
	flag.StringVar(&o.internalAddr, "internal-addr", ":8081", "listen address of the cluster-local listener (ExternalIP and ClusterLocal rules)")
	flag.StringVar(&o.publicDomain, "public-domain", "kourier.kourier-system.svc.cluster.local", "domainInternal reported as the public load balancer")
	flag.StringVar(&o.privateDomain, "private-domain", "kourier-internal.kourier-system.svc.cluster.local", "domainInternal reported as the private load balancer")
	flag.StringVar(&o.clusterDomain, "cluster-domain", "cluster.local", "cluster DNS domain: an ExternalName target name.ns.svc.<domain> is routed to that Service's endpoints")
	flag.StringVar(&o.healthAddr, "health-addr", "", "if set, serve GET /healthz there: 200 once the caches are synced and the first table is live")
	flag.BoolVar(&o.verbose, "v", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(o, log); err != nil {
		log.Error("kfn-ingress stopped", "err", err)
		os.Exit(1)
	}
}

func run(o options, log *slog.Logger) error {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return fmt.Errorf("loading the kubeconfig failed (pass --kubeconfig or set KUBECONFIG): %w", err)
	}
	cfg.UserAgent = "kfn-ingress"
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	netc, err := netclientset.NewForConfig(cfg)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, o, log, kube, netc, nil)
}

// serve runs the ingress until ctx ends: informers, controller and listeners. listening, if not nil, is called with
// the bound external and internal addresses once the listeners are up (tests listen on port 0).
func serve(ctx context.Context, o options, log *slog.Logger, kube kubernetes.Interface, netc netclientset.Interface,
	listening func(external, internal net.Addr)) error {
	ctx, stop := context.WithCancel(ctx)
	defer stop()

	kf := kubeinformers.NewSharedInformerFactory(kube, 10*time.Minute)
	nf := netinformers.NewSharedInformerFactory(netc, 10*time.Minute)
	svcInf := kf.Core().V1().Services()
	esInf := kf.Discovery().V1().EndpointSlices()
	ingInf := nf.Networking().V1alpha1().Ingresses()
	// Register the informers before Start.
	svcInf.Informer()
	esInf.Informer()

	resolver := &Resolver{Services: svcInf.Lister(), EndpointSlices: esInf.Lister(), ClusterDomain: o.clusterDomain}
	router := NewRouter(resolver.Resolve, log)
	ctrl := &Controller{
		Class:         o.class,
		PublicDomain:  o.publicDomain,
		PrivateDomain: o.privateDomain,
		Lister:        ingInf.Lister(),
		Client:        netc,
		Router:        router,
		Log:           log,
	}
	if _, err := ingInf.Informer().AddEventHandler(ctrl.Handler()); err != nil {
		return err
	}

	// Listen before syncing so that a bad address fails at once; until the first table is live every host is 404.
	servers := []*http.Server{NewServer(o.externalAddr, router.Handler(false)), NewServer(o.internalAddr, router.Handler(true))}
	var ready atomic.Bool
	if o.healthAddr != "" {
		servers = append(servers, &http.Server{Addr: o.healthAddr, ReadHeaderTimeout: 10 * time.Second,
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !ready.Load() {
					http.Error(w, "informer caches not synced yet", http.StatusServiceUnavailable)
					return
				}
				fmt.Fprintln(w, "ok")
			})})
	}
	errc := make(chan error, len(servers))
	var addrs []net.Addr
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range servers {
			s.Shutdown(sctx)
		}
	}()
	for _, s := range servers {
		ln, err := net.Listen("tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("listening on %s failed (is another ingress running? pick free ports with --external-addr/--internal-addr): %w", s.Addr, err)
		}
		addrs = append(addrs, ln.Addr())
		go func() {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serving %s: %w", s.Addr, err)
			}
		}()
	}
	log.Info("listening", "external", addrs[0].String(), "internal", addrs[1].String(), "class", o.class)
	if listening != nil {
		listening(addrs[0], addrs[1])
	}

	kf.Start(ctx.Done())
	nf.Start(ctx.Done())
	for typ, ok := range kf.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			return fmt.Errorf("cache of %v did not sync; check that the apiserver answers and RBAC allows list/watch", typ)
		}
	}
	for typ, ok := range nf.WaitForCacheSync(ctx.Done()) {
		if !ok && ctx.Err() == nil {
			return fmt.Errorf("cache of %v did not sync; check that the KIngress CRD is installed and RBAC allows list/watch", typ)
		}
	}
	if !cache.WaitForCacheSync(ctx.Done(), ingInf.Informer().HasSynced) {
		if ctx.Err() != nil {
			return nil
		}
		return errors.New("KIngress cache did not sync")
	}
	if !ctrl.Sync(ctx) {
		time.AfterFunc(time.Second, ctrl.Kick)
	}
	ready.Store(true)
	log.Info("caches synced, routing table live")
	go ctrl.Run(ctx)

	select {
	case <-ctx.Done():
		log.Info("shutting down")
		return nil
	case err := <-errc:
		return err
	}
}
