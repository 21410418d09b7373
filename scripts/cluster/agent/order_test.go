package main

import (
	"math/rand"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// Statuses of one pod reach virtual-kubelet in the order of the state changes, even when many
// goroutines (prober, container loop, deletion) change the state at once and the receiver is slow:
// the prototype's race was a status computed before the Ready change arriving after it.
func TestStatusOrderUnderConcurrency(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c"}}}}
	p := &provider{cfg: &config{nodeIP: "10.250.0.1"}, podLister: corev1listers.NewPodLister(cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{}))}
	var mu sync.Mutex
	var seen []int32
	p.NotifyPods(nil, func(pp *corev1.Pod) {
		time.Sleep(time.Duration(rand.Intn(200)) * time.Microsecond) // a slow receiver
		mu.Lock()
		seen = append(seen, pp.Status.ContainerStatuses[0].RestartCount)
		mu.Unlock()
	})
	rt := newPodRT(p, pod, nil)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				rt.mu.Lock()
				rt.ctrs[0].restartCount++
				rt.sendStatus()
				rt.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 200 {
		t.Fatalf("%d statuses, want 200", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("status %d (restartCount %d) arrived after status with %d: out of order", i, seen[i], seen[i-1])
		}
	}
}
