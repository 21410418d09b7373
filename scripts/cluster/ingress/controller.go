package main

import (
	"context"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"knative.dev/networking/pkg/apis/networking"
	"knative.dev/networking/pkg/apis/networking/v1alpha1"
	netclientset "knative.dev/networking/pkg/client/clientset/versioned"
	netlisters "knative.dev/networking/pkg/client/listers/networking/v1alpha1"
)

// Controller rebuilds the routing table whenever a KIngress of its class changes, swaps it into the router and
// then marks those KIngresses Ready, so Ready never precedes the rule being served.
type Controller struct {
	Class         string
	PublicDomain  string // status.publicLoadBalancer.ingress[0].domainInternal
	PrivateDomain string // status.privateLoadBalancer.ingress[0].domainInternal
	Lister        netlisters.IngressLister
	Client        netclientset.Interface
	Router        *Router
	Log           *slog.Logger

	kick chan struct{}
}

// Handler returns the informer event handler that schedules a rebuild.
func (c *Controller) Handler() cache.ResourceEventHandler {
	c.ensureKick()
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.Kick() },
		UpdateFunc: func(any, any) { c.Kick() },
		DeleteFunc: func(any) { c.Kick() },
	}
}

func (c *Controller) ensureKick() {
	if c.kick == nil {
		c.kick = make(chan struct{}, 1)
	}
}

// Kick schedules a rebuild; kicks that arrive while one is pending coalesce.
func (c *Controller) Kick() {
	c.ensureKick()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Run rebuilds on every kick until ctx ends. Failed status updates are retried after a second.
func (c *Controller) Run(ctx context.Context) {
	c.ensureKick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		if !c.Sync(ctx) {
			time.AfterFunc(time.Second, c.Kick)
		}
	}
}

func (c *Controller) owns(ing *v1alpha1.Ingress) bool {
	return ing.Annotations[networking.IngressClassAnnotationKey] == c.Class
}

// Sync builds and installs the table from the lister, then updates the status of every KIngress it serves.
// It returns false when a status update failed and should be retried.
func (c *Controller) Sync(ctx context.Context) bool {
	all, err := c.Lister.List(labels.Everything())
	if err != nil {
		c.Log.Error("listing KIngresses from the informer cache failed", "err", err)
		return false
	}
	var mine []*v1alpha1.Ingress
	for _, ing := range all {
		if c.owns(ing) && ing.DeletionTimestamp == nil {
			mine = append(mine, ing)
		}
	}
	c.Router.SetTable(BuildTable(append([]*v1alpha1.Ingress(nil), mine...)))
	ok := true
	for _, ing := range mine {
		if err := c.updateStatus(ctx, ing); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				c.Log.Debug("status update raced with a change; the next event rebuilds", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
			} else {
				c.Log.Warn("updating KIngress status failed; retrying", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
			}
			ok = false
		}
	}
	return ok
}

// DesiredStatus is the status of a KIngress whose rules are live: NetworkConfigured, LoadBalancerReady (hence
// Ready) at the observed generation, with the load balancer addresses of the two listeners' Services.
func (c *Controller) DesiredStatus(ing *v1alpha1.Ingress) *v1alpha1.IngressStatus {
	st := ing.Status.DeepCopy()
	st.InitializeConditions()
	st.ObservedGeneration = ing.Generation
	st.MarkNetworkConfigured()
	st.MarkLoadBalancerReady(
		[]v1alpha1.LoadBalancerIngressStatus{{DomainInternal: c.PublicDomain}},
		[]v1alpha1.LoadBalancerIngressStatus{{DomainInternal: c.PrivateDomain}},
	)
	return st
}

func (c *Controller) updateStatus(ctx context.Context, ing *v1alpha1.Ingress) error {
	st := c.DesiredStatus(ing)
	if equality.Semantic.DeepEqual(&ing.Status, st) {
		return nil
	}
	upd := ing.DeepCopy()
	upd.Status = *st
	_, err := c.Client.NetworkingV1alpha1().Ingresses(ing.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if err == nil {
		c.Log.Info("KIngress ready", "ingress", ing.Namespace+"/"+ing.Name, "generation", ing.Generation)
	}
	return err
}
