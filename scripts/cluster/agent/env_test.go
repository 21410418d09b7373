package main

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := map[string]string{
		"plain":         "plain",
		"$(A)":          "alpha",
		"x-$(A)-$(B)-y": "x-alpha-beta-y",
		"$(MISSING)":    "$(MISSING)",
		"$$(A)":         "$(A)",
		"$$":            "$",
		"$(EMPTY)!":     "!",
		"$(A":           "$(A",
		"cost $5":       "cost $5",
		"$()":           "$()",
		"$(A)$(A)":      "alphaalpha",
		"trailing $":    "trailing $",
	}
	for in, want := range cases {
		if got := expandVars(in, lookup); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

type fakeObjects struct {
	cms     map[string]*corev1.ConfigMap
	secrets map[string]*corev1.Secret
}

func (f *fakeObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeObjects) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func testPodContext() podContext {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "act-1", Namespace: "knative-serving", UID: "u-1",
			Labels: map[string]string{"app": "activator"}, Annotations: map[string]string{"a/b": "c"}},
		Spec: corev1.PodSpec{ServiceAccountName: "controller", Containers: []corev1.Container{{Name: "main",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("300m"),
				corev1.ResourceMemory: resource.MustParse("60Mi")}}}}},
	}
	return podContext{pod: pod, podIP: "10.244.0.7", hostIP: "10.250.0.1", nodeName: "local-node",
		allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("24Gi")},
		apiHost:     "10.250.0.1", apiPort: "6443"}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func TestContainerEnv(t *testing.T) {
	pc := testPodContext()
	src := &fakeObjects{
		cms: map[string]*corev1.ConfigMap{"knative-serving/cfg": {ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
			Data: map[string]string{"LEVEL": "debug", "ZONE": "z1"}}},
		secrets: map[string]*corev1.Secret{"knative-serving/sec": {ObjectMeta: metav1.ObjectMeta{Name: "sec"},
			Data: map[string][]byte{"token": []byte("s3cret")}}},
	}
	tr := true
	c := &corev1.Container{Name: "main", Resources: pc.pod.Spec.Containers[0].Resources,
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}}},
		Env: []corev1.EnvVar{
			fieldEnv("POD_IP", "status.podIP"),
			fieldEnv("HOST_IP", "status.hostIP"),
			fieldEnv("POD_NAME", "metadata.name"),
			fieldEnv("NS", "metadata.namespace"),
			fieldEnv("NODE", "spec.nodeName"),
			fieldEnv("SA", "spec.serviceAccountName"),
			fieldEnv("APP", "metadata.labels['app']"),
			fieldEnv("ANN", "metadata.annotations['a/b']"),
			{Name: "URL", Value: "http://$(POD_IP):8080/$(CFG_LEVEL)/$(LATER)/$(PATH)"},
			{Name: "LATER", Value: "x"},
			{Name: "ESCAPED", Value: "$$(POD_IP)"},
			{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "MEM_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "ZONE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "ZONE"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "sec"}, Key: "token"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k", Optional: &tr}}},
			{Name: "NODE_ENV", Value: "test"},
		},
	}
	env, err := pc.containerEnv(c, map[string]string{"PATH": "/bin"}, map[string]string{"NODE_ENV": "production", "IMG": "1"}, src)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"POD_IP": "10.244.0.7", "HOST_IP": "10.250.0.1", "POD_NAME": "act-1", "NS": "knative-serving", "NODE": "local-node",
		"SA": "controller", "APP": "activator", "ANN": "c",
		// PATH comes from the base env, which $(VAR) does not see; LATER is defined after URL.
		"URL":     "http://10.244.0.7:8080/debug/$(LATER)/$(PATH)",
		"ESCAPED": "$(POD_IP)", "CPU": "300", "CPU_LIMIT": "2", "MEM_MI": "60", "ZONE": "z1", "TOKEN": "s3cret",
		"CFG_LEVEL": "debug", "NODE_ENV": "test", "IMG": "1", "PATH": "/bin",
		"KUBERNETES_SERVICE_HOST": "10.250.0.1", "KUBERNETES_SERVICE_PORT": "6443",
	}
	for k, v := range want {
		if got, ok := env.Get(k); !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := env.Get("OPT"); ok {
		t.Error("an optional ref to a missing ConfigMap must leave the variable unset")
	}
	joined := strings.Join(env.Environ(), "\n")
	if strings.Count(joined, "NODE_ENV=") != 1 {
		t.Errorf("NODE_ENV must appear once (pod env overrides image env): %s", joined)
	}
}

func TestContainerEnvErrors(t *testing.T) {
	pc := testPodContext()
	src := &fakeObjects{}
	for name, e := range map[string]corev1.EnvVar{
		"missing configmap": {Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}},
		"missing secret":    {Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "nope"}, Key: "k"}}},
		"bad fieldPath":     fieldEnv("X", "spec.bogus"),
	} {
		c := &corev1.Container{Name: "main", Env: []corev1.EnvVar{e}}
		if _, err := pc.containerEnv(c, nil, nil, src); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}

func TestDownwardFiles(t *testing.T) {
	pc := testPodContext()
	files, err := pc.downwardFiles([]corev1.DownwardAPIVolumeFile{
		{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
		{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(files["labels"].Data) != `app="activator"` || string(files["ns"].Data) != "knative-serving" || files["ns"].Mode != 0o644 {
		t.Errorf("files: %+v", files)
	}
}
