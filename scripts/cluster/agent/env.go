package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
)

// expandVars applies Kubernetes' $(VAR) syntax: $(NAME) is replaced when NAME is defined, kept
// as written when it is not, and $$ escapes a dollar ($$(X) gives the literal $(X)).
func expandVars(in string, lookup func(string) (string, bool)) string {
	if !strings.Contains(in, "$") {
		return in
	}
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] == '$' && i+1 < len(in) {
			switch in[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if end := strings.IndexByte(in[i+2:], ')'); end >= 0 {
					name := in[i+2 : i+2+end]
					if v, ok := lookup(name); ok && name != "" {
						b.WriteString(v)
					} else {
						b.WriteString(in[i : i+3+end])
					}
					i += 2 + end
					continue
				}
			}
		}
		b.WriteByte(in[i])
	}
	return b.String()
}

// objectSource reads the ConfigMaps and Secrets that env and volumes refer to; both return a
// NotFound API error for a missing object.
type objectSource interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// podContext is what the downward API can see of a pod on this node.
type podContext struct {
	pod         *corev1.Pod
	podIP       string
	hostIP      string
	nodeName    string
	allocatable corev1.ResourceList
	apiHost     string
	apiPort     string
}

// fieldValue resolves a downward-API fieldRef path (env and downwardAPI volumes).
func (pc *podContext) fieldValue(path string) (string, error) {
	m := &pc.pod.ObjectMeta
	switch path {
	case "metadata.name":
		return m.Name, nil
	case "metadata.namespace":
		return m.Namespace, nil
	case "metadata.uid":
		return string(m.UID), nil
	case "metadata.labels":
		return formatMap(m.Labels), nil
	case "metadata.annotations":
		return formatMap(m.Annotations), nil
	case "spec.nodeName":
		return pc.nodeName, nil
	case "spec.serviceAccountName":
		return pc.pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return pc.podIP, nil
	case "status.hostIP", "status.hostIPs":
		return pc.hostIP, nil
	}
	if key, ok := subscript(path, "metadata.labels"); ok {
		return m.Labels[key], nil
	}
	if key, ok := subscript(path, "metadata.annotations"); ok {
		return m.Annotations[key], nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

// subscript parses prefix['key'] (the downward API's syntax for one label or annotation).
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, "']")
}

// formatMap renders labels or annotations as the downward API volume does: key="value" lines, sorted.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// resourceValue resolves a resourceFieldRef like the kubelet: limits default to the node's
// allocatable, values are divided by the divisor (default 1) and rounded up.
func (pc *podContext) resourceValue(ref *corev1.ResourceFieldSelector, current *corev1.Container) (string, error) {
	c := current
	if ref.ContainerName != "" {
		c = nil
		for i := range pc.pod.Spec.Containers {
			if pc.pod.Spec.Containers[i].Name == ref.ContainerName {
				c = &pc.pod.Spec.Containers[i]
			}
		}
		for i := range pc.pod.Spec.InitContainers {
			if pc.pod.Spec.InitContainers[i].Name == ref.ContainerName {
				c = &pc.pod.Spec.InitContainers[i]
			}
		}
		if c == nil {
			return "", fmt.Errorf("resourceFieldRef names container %q, which the pod does not have", ref.ContainerName)
		}
	}
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok || (kind != "limits" && kind != "requests") {
		return "", fmt.Errorf("unsupported resourceFieldRef resource %q", ref.Resource)
	}
	rn := corev1.ResourceName(name)
	var q resource.Quantity
	if kind == "limits" {
		if v, ok := c.Resources.Limits[rn]; ok {
			q = v
		} else if v, ok := pc.allocatable[rn]; ok {
			q = v
		}
	} else if v, ok := c.Resources.Requests[rn]; ok {
		q = v
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	switch rn {
	case corev1.ResourceCPU:
		return fmt.Sprint(int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))), nil
	case corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return fmt.Sprint(int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))), nil
	}
	return "", fmt.Errorf("unsupported resourceFieldRef resource %q", ref.Resource)
}

// envList is an ordered environment: later Set calls replace the value but keep the first position.
type envList struct {
	keys []string
	vals map[string]string
}

func newEnvList() *envList { return &envList{vals: map[string]string{}} }

func (e *envList) Set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *envList) Get(k string) (string, bool) { v, ok := e.vals[k]; return v, ok }

func (e *envList) Environ() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

func optional(b *bool) bool { return b != nil && *b }

// containerEnv builds a container's environment the way the kubelet does: a base environment and
// the image's ENV, then KUBERNETES_SERVICE_*, then envFrom in order, then env in order, each value
// expanded with $(VAR) against what was defined before it (image ENV is not visible to $(VAR)).
func (pc *podContext) containerEnv(c *corev1.Container, base, imageEnv map[string]string, src objectSource) (*envList, error) {
	out := newEnvList()
	for _, m := range []map[string]string{base, imageEnv} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out.Set(k, m[k])
		}
	}
	// What $(VAR) may refer to: the service variables, envFrom and earlier env entries.
	visible := map[string]string{}
	set := func(k, v string) { out.Set(k, v); visible[k] = v }
	if pc.apiHost != "" {
		set("KUBERNETES_SERVICE_HOST", pc.apiHost)
		set("KUBERNETES_SERVICE_PORT", pc.apiPort)
		set("KUBERNETES_SERVICE_PORT_HTTPS", pc.apiPort)
		set("KUBERNETES_PORT", "tcp://"+pc.apiHost+":"+pc.apiPort)
		set("KUBERNETES_PORT_"+pc.apiPort+"_TCP", "tcp://"+pc.apiHost+":"+pc.apiPort)
		set("KUBERNETES_PORT_"+pc.apiPort+"_TCP_PROTO", "tcp")
		set("KUBERNETES_PORT_"+pc.apiPort+"_TCP_PORT", pc.apiPort)
		set("KUBERNETES_PORT_"+pc.apiPort+"_TCP_ADDR", pc.apiHost)
	}
	ns := pc.pod.Namespace
	for _, ef := range c.EnvFrom {
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := src.ConfigMap(ns, ef.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom configmap %q: %w", ef.ConfigMapRef.Name, err)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			s, err := src.Secret(ns, ef.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && optional(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("envFrom secret %q: %w", ef.SecretRef.Name, err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(ef.Prefix+k, data[k])
		}
	}
	lookup := func(k string) (string, bool) { v, ok := visible[k]; return v, ok }
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			set(e.Name, expandVars(e.Value, lookup))
			continue
		}
		v, skip, err := pc.envValueFrom(e.ValueFrom, c, src)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	return out, nil
}

func (pc *podContext) envValueFrom(vf *corev1.EnvVarSource, c *corev1.Container, src objectSource) (string, bool, error) {
	ns := pc.pod.Namespace
	switch {
	case vf.FieldRef != nil:
		v, err := pc.fieldValue(vf.FieldRef.FieldPath)
		return v, false, err
	case vf.ResourceFieldRef != nil:
		v, err := pc.resourceValue(vf.ResourceFieldRef, c)
		return v, false, err
	case vf.ConfigMapKeyRef != nil:
		r := vf.ConfigMapKeyRef
		cm, err := src.ConfigMap(ns, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("configmap %q: %w", r.Name, err)
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			if b, ok := cm.BinaryData[r.Key]; ok {
				return string(b), false, nil
			}
			if optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("key %q not found in configmap %q", r.Key, r.Name)
		}
		return v, false, nil
	case vf.SecretKeyRef != nil:
		r := vf.SecretKeyRef
		s, err := src.Secret(ns, r.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("secret %q: %w", r.Name, err)
		}
		v, ok := s.Data[r.Key]
		if !ok {
			if optional(r.Optional) {
				return "", true, nil
			}
			return "", false, fmt.Errorf("key %q not found in secret %q", r.Key, r.Name)
		}
		return string(v), false, nil
	}
	return "", false, fmt.Errorf("unsupported valueFrom (fileKeyRef and others are not implemented by this agent)")
}
