package main

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ctrSnap is one container's state as the agent sees it, taken under the pod's lock.
type ctrSnap struct {
	Name, Image  string
	ContainerID  string
	State        corev1.ContainerState
	LastState    corev1.ContainerState
	RestartCount int32
	Ready        bool
	Started      bool
}

// podSnap is everything the pod status is computed from.
type podSnap struct {
	Pod          *corev1.Pod      // spec and metadata
	Base         corev1.PodStatus // the status the API server has (qosClass, conditions set by others)
	Prev         []corev1.PodCondition
	PodIP        string
	HostIP       string
	StartTime    *metav1.Time
	SandboxReady bool
	InitDone     bool
	Terminal     bool // the pod was stopped for good (deleted): no container will run again
	Init         []ctrSnap
	Containers   []ctrSnap
	Reason       string
	Message      string
	Now          metav1.Time
}

func (c ctrSnap) toStatus() corev1.ContainerStatus {
	started := c.Started
	return corev1.ContainerStatus{
		Name:                 c.Name,
		Image:                c.Image,
		ImageID:              "kfn-agent://" + stripDigest(c.Image),
		ContainerID:          c.ContainerID,
		State:                c.State,
		LastTerminationState: c.LastState,
		Ready:                c.Ready,
		Started:              &started,
		RestartCount:         c.RestartCount,
	}
}

// podPhase follows the kubelet's rules (getPhase): a container that never ran makes the pod
// Pending; one running makes it Running; when all have stopped, the restart policy decides.
func podPhase(policy corev1.RestartPolicy, init []ctrSnap, initDone bool, ctrs []ctrSnap, terminal bool) corev1.PodPhase {
	if !initDone {
		for _, c := range init {
			if t := c.State.Terminated; t != nil && t.ExitCode != 0 && policy == corev1.RestartPolicyNever {
				return corev1.PodFailed
			}
		}
		if terminal {
			return corev1.PodFailed
		}
		return corev1.PodPending
	}
	var running, waiting, stopped, succeeded int
	for _, c := range ctrs {
		switch {
		case c.State.Running != nil:
			running++
		case c.State.Terminated != nil:
			stopped++
			if c.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case c.LastState.Terminated != nil:
			stopped++
			if c.LastState.Terminated.ExitCode == 0 {
				succeeded++
			}
		default:
			waiting++
		}
	}
	if terminal && running == 0 {
		if waiting == 0 && stopped == succeeded {
			return corev1.PodSucceeded
		}
		return corev1.PodFailed
	}
	switch {
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		switch {
		case policy == corev1.RestartPolicyAlways || policy == "":
			return corev1.PodRunning
		case stopped == succeeded:
			return corev1.PodSucceeded
		case policy == corev1.RestartPolicyNever:
			return corev1.PodFailed
		default:
			return corev1.PodRunning
		}
	}
	return corev1.PodPending
}

func cond(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
	if ok {
		c.Status, c.Reason, c.Message = corev1.ConditionTrue, "", ""
	}
	return c
}

// computeStatus builds the pod status the agent reports. Conditions the agent does not own
// (readiness gates, DisruptionTarget, ...) and qosClass are kept from the API server's copy.
func computeStatus(s podSnap) corev1.PodStatus {
	st := *s.Base.DeepCopy()
	st.Phase = podPhase(s.Pod.Spec.RestartPolicy, s.Init, s.InitDone, s.Containers, s.Terminal)
	st.Reason, st.Message = s.Reason, s.Message
	st.HostIP = s.HostIP
	st.HostIPs = nil
	if s.HostIP != "" {
		st.HostIPs = []corev1.HostIP{{IP: s.HostIP}}
	}
	st.PodIP = s.PodIP
	st.PodIPs = nil
	if s.PodIP != "" {
		st.PodIPs = []corev1.PodIP{{IP: s.PodIP}}
	}
	st.StartTime = s.StartTime
	st.ObservedGeneration = s.Pod.Generation

	st.InitContainerStatuses = nil
	for _, c := range s.Init {
		st.InitContainerStatuses = append(st.InitContainerStatuses, c.toStatus())
	}
	st.ContainerStatuses = nil
	var unready []string
	for _, c := range s.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, c.toStatus())
		if !c.Ready {
			unready = append(unready, c.Name)
		}
	}
	terminalPhase := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed

	var uninit []string
	for _, c := range s.Init {
		if t := c.State.Terminated; t == nil || t.ExitCode != 0 {
			uninit = append(uninit, c.Name)
		}
	}
	initialized := cond(corev1.PodInitialized, s.InitDone, "ContainersNotInitialized",
		fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(uninit, " ")))

	ctrsReady := cond(corev1.ContainersReady, len(unready) == 0 && !terminalPhase, "ContainersNotReady",
		fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	if terminalPhase {
		ctrsReady.Reason, ctrsReady.Message = "PodCompleted", ""
	}

	// Readiness gates: conditions others set on the pod must be True too.
	var gatesMissing []string
	for _, g := range s.Pod.Spec.ReadinessGates {
		ok := false
		for _, c := range s.Base.Conditions {
			if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
				ok = true
			}
		}
		if !ok {
			gatesMissing = append(gatesMissing, string(g.ConditionType))
		}
	}
	ready := ctrsReady
	ready.Type = corev1.PodReady
	if ready.Status == corev1.ConditionTrue && len(gatesMissing) > 0 {
		ready = cond(corev1.PodReady, false, "ReadinessGatesNotReady",
			fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gatesMissing[0]))
	}

	sandbox := cond(corev1.PodReadyToStartContainers, s.SandboxReady && !terminalPhase, "", "")
	scheduled := cond(corev1.PodScheduled, true, "", "")

	own := []corev1.PodCondition{sandbox, initialized, ready, ctrsReady, scheduled}
	owned := map[corev1.PodConditionType]bool{}
	for i := range own {
		owned[own[i].Type] = true
		own[i].LastTransitionTime = s.Now
		for _, p := range append(append([]corev1.PodCondition{}, s.Prev...), s.Base.Conditions...) {
			if p.Type == own[i].Type && p.Status == own[i].Status && !p.LastTransitionTime.IsZero() {
				own[i].LastTransitionTime = p.LastTransitionTime
				break
			}
		}
		if own[i].Type == corev1.PodScheduled {
			for _, p := range s.Base.Conditions {
				if p.Type == corev1.PodScheduled {
					own[i] = p
				}
			}
		}
	}
	conds := own
	for _, c := range s.Base.Conditions {
		if !owned[c.Type] {
			conds = append(conds, c)
		}
	}
	st.Conditions = conds
	return st
}
