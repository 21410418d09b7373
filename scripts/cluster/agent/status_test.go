package main

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}
func waiting(r string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: r}}
}
func terminated(code int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}
}

func TestPodPhase(t *testing.T) {
	A, N, O := corev1.RestartPolicyAlways, corev1.RestartPolicyNever, corev1.RestartPolicyOnFailure
	cases := []struct {
		name     string
		policy   corev1.RestartPolicy
		ctrs     []ctrSnap
		terminal bool
		want     corev1.PodPhase
	}{
		{"creating", A, []ctrSnap{{State: waiting("ContainerCreating")}}, false, corev1.PodPending},
		{"one running one creating", A, []ctrSnap{{State: running()}, {State: waiting("ErrImagePull")}}, false, corev1.PodPending},
		{"all running", A, []ctrSnap{{State: running()}, {State: running()}}, false, corev1.PodRunning},
		{"crashloop counts as stopped", A, []ctrSnap{{State: waiting("CrashLoopBackOff"), LastState: terminated(1)}}, false, corev1.PodRunning},
		{"never, exit 0", N, []ctrSnap{{State: terminated(0)}}, false, corev1.PodSucceeded},
		{"never, exit 1", N, []ctrSnap{{State: terminated(1)}}, false, corev1.PodFailed},
		{"never, one still running", N, []ctrSnap{{State: terminated(1)}, {State: running()}}, false, corev1.PodRunning},
		{"onfailure, all ok", O, []ctrSnap{{State: terminated(0)}}, false, corev1.PodSucceeded},
		{"onfailure, failed restarts", O, []ctrSnap{{State: terminated(2)}}, false, corev1.PodRunning},
		{"deleted, all exited 0", A, []ctrSnap{{State: terminated(0)}, {State: terminated(0)}}, true, corev1.PodSucceeded},
		{"deleted, one killed", A, []ctrSnap{{State: terminated(0)}, {State: terminated(137)}}, true, corev1.PodFailed},
	}
	for _, c := range cases {
		if got := podPhase(c.policy, nil, true, c.ctrs, c.terminal); got != c.want {
			t.Errorf("%s: phase %s, want %s", c.name, got, c.want)
		}
	}
	if got := podPhase(A, []ctrSnap{{State: running()}}, false, []ctrSnap{{State: waiting("PodInitializing")}}, false); got != corev1.PodPending {
		t.Errorf("init running: %s", got)
	}
	if got := podPhase(N, []ctrSnap{{State: terminated(1)}}, false, nil, false); got != corev1.PodFailed {
		t.Errorf("init failed with Never: %s", got)
	}
}

func condOf(st corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func TestComputeStatus(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Generation: 3},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "queue-proxy"}, {Name: "user-container"}}}}
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))
	base := corev1.PodStatus{QOSClass: corev1.PodQOSBurstable, Conditions: []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t0},
		{Type: "DisruptionTarget", Status: corev1.ConditionFalse},
	}}
	s := podSnap{Pod: pod, Base: base, PodIP: "10.244.0.5", HostIP: "10.250.0.1", SandboxReady: true, InitDone: true, Now: t0,
		Containers: []ctrSnap{{Name: "queue-proxy", State: running(), Started: true}, {Name: "user-container", State: running(), Ready: true, Started: true}}}
	st := computeStatus(s)
	if st.Phase != corev1.PodRunning || st.PodIP != "10.244.0.5" || len(st.PodIPs) != 1 || st.HostIP != "10.250.0.1" || st.QOSClass != corev1.PodQOSBurstable {
		t.Fatalf("status: %+v", st)
	}
	if st.ObservedGeneration != 3 {
		t.Errorf("observedGeneration %d", st.ObservedGeneration)
	}
	if c := condOf(st, corev1.PodReady); c == nil || c.Status != corev1.ConditionFalse || c.Message != "containers with unready status: [queue-proxy]" {
		t.Errorf("Ready: %+v", c)
	}
	if c := condOf(st, "DisruptionTarget"); c == nil {
		t.Error("a condition set by someone else must be kept")
	}
	if c := condOf(st, corev1.PodInitialized); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("Initialized: %+v", c)
	}
	if len(st.ContainerStatuses) != 2 || st.ContainerStatuses[1].Ready != true || *st.ContainerStatuses[0].Started != true {
		t.Errorf("container statuses: %+v", st.ContainerStatuses)
	}

	// Both ready a minute later: Ready flips and gets the new transition time; unchanged conditions keep theirs.
	s.Prev = st.Conditions
	s.Now = t1
	s.Containers[0].Ready = true
	st2 := computeStatus(s)
	if c := condOf(st2, corev1.PodReady); c.Status != corev1.ConditionTrue || !c.LastTransitionTime.Equal(&t1) {
		t.Errorf("Ready after: %+v", c)
	}
	if c := condOf(st2, corev1.PodInitialized); !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("Initialized must keep its transition time: %+v", c)
	}
	if c := condOf(st2, corev1.PodScheduled); !c.LastTransitionTime.Equal(&t0) {
		t.Errorf("PodScheduled comes from the API server: %+v", c)
	}

	// A readiness gate that is not True keeps the pod not Ready although its containers are.
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/gate"}}
	st3 := computeStatus(s)
	if c := condOf(st3, corev1.PodReady); c.Status != corev1.ConditionFalse || c.Reason != "ReadinessGatesNotReady" {
		t.Errorf("gate: %+v", c)
	}
	if c := condOf(st3, corev1.ContainersReady); c.Status != corev1.ConditionTrue {
		t.Errorf("ContainersReady with gate: %+v", c)
	}
	s.Base.Conditions = append(s.Base.Conditions, corev1.PodCondition{Type: "example.com/gate", Status: corev1.ConditionTrue})
	if c := condOf(computeStatus(s), corev1.PodReady); c.Status != corev1.ConditionTrue {
		t.Errorf("gate True: %+v", c)
	}

	// Terminal: not ready, phase from exit codes.
	s.Terminal = true
	s.Containers[0].State, s.Containers[1].State = terminated(0), terminated(0)
	s.Containers[0].Ready, s.Containers[1].Ready = false, false
	st4 := computeStatus(s)
	if st4.Phase != corev1.PodSucceeded || condOf(st4, corev1.PodReady).Status != corev1.ConditionFalse {
		t.Errorf("terminal: %s %+v", st4.Phase, condOf(st4, corev1.PodReady))
	}
}
